//! Where a ping goes: its ping token (or its service's ping key and the monitor's slug) resolved to a
//! monitor, remembered in memory so a ping costs no database read before the writer's batch.
//!
//! Every remembered fact is immutable for a monitor's life: ping tokens, slugs, kinds, service slugs and
//! service ping keys never change, and ids are never reused (`AUTOINCREMENT` on SQLite, sequences on
//! PostgreSQL). A remembered target can only go stale by its monitor being deleted, on this node or on
//! another one. So nothing trusts the cache alone: the writer loads every monitor of its batch anyway and
//! refuses a ping whose monitor is gone or no longer has the token the target was resolved with
//! ([`CoreError::NotFound`]); the sender then forgets the target and, for slug URLs, resolves it again
//! (the slug may now belong to a new monitor). Deletions on this node forget at once.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use upkeep_storage::Monitor;

use crate::{Core, CoreResult};

/// Most targets remembered per map; past that the map starts over (a cheap bound on memory that only
/// costs a database read per ping until the working set is back in).
const CAPACITY: usize = 200_000;

/// The immutable facts about a monitor that a ping needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingTarget {
    pub id: i64,
    /// `heartbeat` for monitors that take pings.
    pub kind: String,
    pub service_slug: String,
    pub slug: String,
    /// The writer checks it against the monitor row it loads.
    pub ping_token: String,
}

impl PingTarget {
    pub fn of(monitor: &Monitor) -> Self {
        Self {
            id: monitor.id,
            kind: monitor.kind.clone(),
            service_slug: monitor.service_slug.clone(),
            slug: monitor.slug.clone(),
            ping_token: monitor.ping_token.clone(),
        }
    }

    pub fn is_heartbeat(&self) -> bool {
        self.kind == "heartbeat"
    }
}

/// Resolved targets of this node: by ping token, and by `(service ping key, monitor slug)`.
#[derive(Default)]
pub struct TargetCache {
    by_token: RwLock<HashMap<String, Arc<PingTarget>>>,
    by_slug: RwLock<HashMap<(String, String), Arc<PingTarget>>>,
}

fn remember<K: std::hash::Hash + Eq>(
    map: &RwLock<HashMap<K, Arc<PingTarget>>>,
    key: K,
    target: &Arc<PingTarget>,
) {
    if let Ok(mut map) = map.write() {
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(key, target.clone());
    }
}

impl TargetCache {
    fn by_token(&self, token: &str) -> Option<Arc<PingTarget>> {
        self.by_token.read().ok()?.get(token).cloned()
    }

    fn by_slug(&self, ping_key: &str, slug: &str) -> Option<Arc<PingTarget>> {
        // The tuple key needs owned strings to look up; slug URLs are the rarer kind, so this is fine.
        let key = (ping_key.to_string(), slug.to_string());
        self.by_slug.read().ok()?.get(&key).cloned()
    }

    /// Forget everything about monitor `id` (deleted, or found gone by the writer).
    pub fn forget(&self, id: i64) {
        if let Ok(mut map) = self.by_token.write() {
            map.retain(|_, target| target.id != id);
        }
        if let Ok(mut map) = self.by_slug.write() {
            map.retain(|_, target| target.id != id);
        }
    }

    /// How many targets are remembered (tests).
    pub fn len(&self) -> usize {
        self.by_token.read().map_or(0, |map| map.len())
            + self.by_slug.read().map_or(0, |map| map.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The monitor whose ping token is `token`, from memory or else from the database.
pub async fn by_token(core: &Core, token: &str) -> CoreResult<Option<Arc<PingTarget>>> {
    let cache = core.ingest.targets();
    if let Some(target) = cache.by_token(token) {
        return Ok(Some(target));
    }
    let Some(monitor) = core.storage.monitor_by_token(token).await? else {
        return Ok(None);
    };
    let target = Arc::new(PingTarget::of(&monitor));
    remember(&cache.by_token, monitor.ping_token, &target);
    Ok(Some(target))
}

/// The monitor with slug `slug` of the service whose ping key is `ping_key`, from memory or else from the
/// database.
pub async fn by_slug(
    core: &Core,
    ping_key: &str,
    slug: &str,
) -> CoreResult<Option<Arc<PingTarget>>> {
    let cache = core.ingest.targets();
    if let Some(target) = cache.by_slug(ping_key, slug) {
        return Ok(Some(target));
    }
    let Some(monitor) = core.storage.monitor_by_ping_key(ping_key, slug).await? else {
        return Ok(None);
    };
    Ok(Some(remember_slug(core, ping_key, &monitor)))
}

/// Remember a monitor just found or created under `ping_key`.
pub fn remember_slug(core: &Core, ping_key: &str, monitor: &Monitor) -> Arc<PingTarget> {
    let target = Arc::new(PingTarget::of(monitor));
    remember(
        &core.ingest.targets().by_slug,
        (ping_key.to_string(), monitor.slug.clone()),
        &target,
    );
    target
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(id: i64) -> Arc<PingTarget> {
        Arc::new(PingTarget {
            id,
            kind: "heartbeat".into(),
            service_slug: "s".into(),
            slug: format!("m{id}"),
            ping_token: format!("t{id}"),
        })
    }

    #[test]
    fn forgetting_a_monitor_drops_all_its_keys() {
        let cache = TargetCache::default();
        remember(&cache.by_token, "t1".to_string(), &target(1));
        remember(&cache.by_token, "t2".to_string(), &target(2));
        remember(&cache.by_slug, ("k".into(), "m1".into()), &target(1));
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.by_slug("k", "m1").map(|t| t.id), Some(1));
        cache.forget(1);
        assert!(cache.by_token("t1").is_none());
        assert!(cache.by_slug("k", "m1").is_none());
        assert_eq!(cache.by_token("t2").map(|t| t.id), Some(2));
    }
}

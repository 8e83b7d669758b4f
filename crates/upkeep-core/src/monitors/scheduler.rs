//! One deadline scheduler per node for every active check: a heap of next-due times (not a timer per
//! monitor), deterministic jitter so monitors with the same interval spread out, a global concurrency
//! budget, a per-target-host limit, and hard per-check timeouts. Results go to the batching writer.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use upkeep_storage::Monitor;

use super::definition::ACTIVE_KINDS;
use super::execute::{judge, observe};
use crate::Core;

/// Checks running at once on this node.
pub const DEFAULT_CONCURRENCY: usize = 4096;
/// Checks running at once against one host.
pub const DEFAULT_PER_HOST: usize = 64;
/// How often the set of monitors is reloaded from the database.
const REFRESH: Duration = Duration::from_secs(5);

/// How late checks start, for `/metrics` and benchmarks.
#[derive(Debug, Default)]
pub struct SchedulerStats {
    /// Recent lateness samples in milliseconds (a ring of the last 100,000).
    lateness_ms: Mutex<Vec<f64>>,
    started: std::sync::atomic::AtomicU64,
    /// Monitor updates (results, pings, sweeps) the writer could not store even after retrying.
    write_failures: std::sync::atomic::AtomicU64,
}

impl SchedulerStats {
    fn record(&self, lateness: Duration) {
        if let Ok(mut samples) = self.lateness_ms.lock() {
            if samples.len() >= 100_000 {
                samples.drain(..50_000);
            }
            samples.push(lateness.as_secs_f64() * 1000.0);
        }
        self.started
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Count updates the writer gave up on.
    pub fn record_write_failures(&self, count: usize) {
        self.write_failures.fetch_add(
            u64::try_from(count).unwrap_or(u64::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    pub fn write_failures(&self) -> u64 {
        self.write_failures
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Checks started since the process began.
    pub fn checks_started(&self) -> u64 {
        self.started.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The `q` quantile of recent lateness, in milliseconds.
    pub fn lateness_quantile(&self, q: f64) -> Option<f64> {
        let mut samples = self.lateness_ms.lock().ok()?.clone();
        if samples.is_empty() {
            return None;
        }
        samples.sort_by(f64::total_cmp);
        let index = ((samples.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
        samples.get(index).copied()
    }
}

/// Stable jitter in `[0, interval)` from the monitor id (splitmix64), so restarts keep the same spread.
pub fn jitter(monitor_id: i64, interval: Duration) -> Duration {
    let mut x = (monitor_id as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    let millis = u64::try_from(interval.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    Duration::from_millis(x % millis)
}

/// The host a check talks to, for the per-host limit.
fn target_host(monitor: &Monitor) -> String {
    let settings = &monitor.settings;
    if let Some(url) = settings.get("url").and_then(|u| u.as_str()) {
        let rest = url.split("://").nth(1).unwrap_or(url);
        return rest
            .split(['/', '?', '#'])
            .next()
            .unwrap_or(rest)
            .to_string();
    }
    settings
        .get("host")
        .or_else(|| settings.get("name"))
        .and_then(|h| h.as_str())
        .unwrap_or_default()
        .to_string()
}

struct Entry {
    monitor: Arc<Monitor>,
    due: Instant,
    /// Bumped when the monitor changes, so stale heap entries are skipped.
    generation: u64,
}

pub struct CheckScheduler {
    core: Core,
    concurrency: Arc<Semaphore>,
    per_host_limit: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
    pub stats: Arc<SchedulerStats>,
}

impl CheckScheduler {
    pub fn new(core: Core, concurrency: usize, per_host_limit: usize) -> Self {
        let stats = core.check_stats.clone();
        Self {
            core,
            concurrency: Arc::new(Semaphore::new(concurrency.max(1))),
            per_host_limit: per_host_limit.max(1),
            hosts: Mutex::new(HashMap::new()),
            stats,
        }
    }

    fn host_permits(&self, host: &str) -> Arc<Semaphore> {
        let Ok(mut hosts) = self.hosts.lock() else {
            return Arc::new(Semaphore::new(self.per_host_limit));
        };
        hosts
            .entry(host.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_host_limit)))
            .clone()
    }

    /// Run until `cancel` fires.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        let mut entries: HashMap<i64, Entry> = HashMap::new();
        let mut heap: BinaryHeap<Reverse<(Instant, i64, u64)>> = BinaryHeap::new();
        let mut next_refresh = Instant::now();
        let mut running = tokio::task::JoinSet::new();
        loop {
            if Instant::now() >= next_refresh {
                self.refresh(&mut entries, &mut heap).await;
                next_refresh = Instant::now() + REFRESH;
            }
            while running.try_join_next().is_some() {}
            let wake = heap.peek().map_or(next_refresh, |Reverse((due, _, _))| {
                (*due).min(next_refresh)
            });
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep_until(wake) => {}
            }
            let now = Instant::now();
            while let Some(Reverse((due, id, generation))) = heap.peek().copied() {
                if due > now {
                    break;
                }
                heap.pop();
                let Some(entry) = entries.get_mut(&id) else {
                    continue;
                };
                if entry.generation != generation {
                    continue;
                }
                let interval = Duration::from_millis(
                    u64::try_from(entry.monitor.interval_ms)
                        .unwrap_or(60_000)
                        .max(1000),
                );
                // Next run on the monitor's own grid; if we fell a whole interval behind, skip ahead.
                let mut next = due + interval;
                if next <= now {
                    next = now + interval;
                }
                entry.due = next;
                heap.push(Reverse((next, id, generation)));
                let Ok(permit) = self.concurrency.clone().acquire_owned().await else {
                    return;
                };
                let host_permits = self.host_permits(&target_host(&entry.monitor));
                let monitor = entry.monitor.clone();
                let this = self.clone();
                running.spawn(async move {
                    let _permit = permit;
                    let Ok(_host) = host_permits.acquire_owned().await else {
                        return;
                    };
                    this.stats
                        .record(Instant::now().saturating_duration_since(due));
                    this.check(&monitor).await;
                });
            }
        }
        running.shutdown().await;
    }

    /// Bring the schedule up to date: a cheap list of `(id, updated_at)` says what changed, and only new or
    /// changed monitors are loaded (in chunks), so a node with tens of thousands of monitors does not
    /// decode them all every few seconds.
    async fn refresh(
        &self,
        entries: &mut HashMap<i64, Entry>,
        heap: &mut BinaryHeap<Reverse<(Instant, i64, u64)>>,
    ) {
        let versions = match self
            .core
            .storage
            .active_monitor_versions(&ACTIVE_KINDS)
            .await
        {
            Ok(versions) => versions,
            Err(err) => {
                tracing::warn!(error = %err, "could not reload monitors; keeping the current schedule");
                return;
            }
        };
        let changed: Vec<i64> = versions
            .iter()
            .filter(|(id, updated_at)| {
                entries
                    .get(id)
                    .is_none_or(|entry| entry.monitor.updated_at != *updated_at)
            })
            .map(|(id, _)| *id)
            .collect();
        let now = Instant::now();
        for chunk in changed.chunks(1000) {
            let monitors = match self.core.storage.monitors_by_ids(chunk).await {
                Ok(monitors) => monitors,
                Err(err) => {
                    tracing::warn!(error = %err, "could not load changed monitors; trying again at the next refresh");
                    return;
                }
            };
            for monitor in monitors {
                if monitor.paused || !ACTIVE_KINDS.contains(&monitor.kind.as_str()) {
                    continue;
                }
                let interval = Duration::from_millis(
                    u64::try_from(monitor.interval_ms)
                        .unwrap_or(60_000)
                        .max(1000),
                );
                let generation = entries
                    .get(&monitor.id)
                    .map_or(0, |entry| entry.generation + 1);
                let due = now + jitter(monitor.id, interval);
                heap.push(Reverse((due, monitor.id, generation)));
                entries.insert(
                    monitor.id,
                    Entry {
                        monitor: Arc::new(monitor),
                        due,
                        generation,
                    },
                );
            }
        }
        let active: std::collections::HashSet<i64> = versions.iter().map(|(id, _)| *id).collect();
        entries.retain(|id, _| active.contains(id));
    }

    /// Run one check now and hand its outcome to the writer.
    pub async fn check(&self, monitor: &Monitor) {
        let hard_limit = Duration::from_millis(
            monitor
                .settings
                .get("timeout_ms")
                .and_then(|t| t.as_u64())
                .unwrap_or(10_000),
        ) + Duration::from_secs(2);
        let observation = match tokio::time::timeout(hard_limit, observe(monitor)).await {
            Ok(observation) => observation,
            Err(_) => upkeep_probe::Observation {
                error: Some(format!("timed out after {}s", hard_limit.as_secs())),
                ..Default::default()
            },
        };
        let (outcome, status_code, details) = judge(monitor, &observation, self.core.now());
        if let Err(err) = self
            .core
            .ingest
            .check(&self.core, monitor.id, outcome, status_code, details)
            .await
        {
            tracing::warn!(monitor = monitor.id, error = %err, "check result not stored; the monitor's status is unchanged");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::jitter;
    use std::time::Duration;

    #[test]
    fn jitter_is_stable_and_spreads() {
        let interval = Duration::from_secs(60);
        assert_eq!(jitter(42, interval), jitter(42, interval));
        let mut per_second = [0u32; 60];
        for id in 0..6000 {
            let offset = jitter(id, interval);
            assert!(offset < interval);
            per_second[offset.as_secs() as usize] += 1;
        }
        assert!(
            per_second.iter().all(|&n| (50..=150).contains(&n)),
            "spread evenly: {per_second:?}"
        );
    }
}

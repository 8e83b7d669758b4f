//! The per-monitor figures `/metrics` exports, kept in memory so a scrape never touches the database.
//!
//! The [`MonitorExporter`] worker walks every monitor page by page once at start and then every
//! [`REFRESH_INTERVAL`], and publishes a [`MonitorMetrics`] snapshot in [`Snapshot`] (held by
//! [`Core::monitor_metrics`]). A scrape clones an `Arc` out of it and renders; nothing else.
//!
//! Two kinds of figures cost very different amounts, so they are refreshed at two cadences:
//!
//! - status, pause flag and last check duration come from the monitor rows themselves (500 monitors per
//!   query, 20 queries for 10,000 monitors) and are fresh on every 30 s pass;
//! - the 24 h uptime ratio ([`rollup::uptime`]: a monitor lookup, three watermarks and the hour, minute
//!   and raw rows covering the window, each rollup row's latency sketch decoded) and the certificate
//!   expiry (the newest result of each TLS or HTTPS monitor) cost several queries per monitor. Measured
//!   with 2,000 monitors holding a steady day of rollups (`crates/upkeep/tests/it/monitor_metrics.rs`,
//!   debug build, this 2-core machine): 2.5–3 ms per monitor on SQLite and 5.4–6.7 ms on PostgreSQL,
//!   i.e. 25–67 s for 10,000 monitors, too much for every 30 s. So they are recomputed every
//!   [`SLOW_REFRESH_INTERVAL`] (5 min) instead, spread over the passes: each 30 s pass recomputes one
//!   tenth of the monitors (by id) and carries the others over from the previous snapshot. Monitors the
//!   previous snapshot does not hold get theirs on the next pass. The certificate is kept as an expiry
//!   instant, so the seconds left stay exact between recomputations.
//!
//! At start, a first pass publishes statuses without the costly figures, and a second one computes
//! them for every monitor.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::Value;
use upkeep_storage::{Monitor, MonitorFilter, MonitorStatus, PageRequest};

use super::rollup::{self, Window};
use crate::jobs::{Worker, WorkerState};
use crate::{Core, CoreError, CoreResult, clock};

/// How often the snapshot is refreshed.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// How often each monitor's uptime ratio and certificate expiry are recomputed.
pub const SLOW_REFRESH_INTERVAL: Duration = Duration::from_secs(300);
/// Passes per [`SLOW_REFRESH_INTERVAL`]: each recomputes the slow figures of one slice of monitors.
pub const SLICES: u64 = SLOW_REFRESH_INTERVAL.as_secs() / REFRESH_INTERVAL.as_secs();
/// Monitors read per query (the storage maximum).
const PAGE: u32 = 500;
/// The window of the exported uptime ratio.
pub const UPTIME_WINDOW: Window = Window::Day;

/// What `/metrics` knows about one monitor. Only bounded values: no URL, host or name.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorSample {
    pub id: i64,
    pub service: String,
    /// One of [`super::KINDS`].
    pub kind: String,
    pub status: MonitorStatus,
    pub paused: bool,
    /// Active kinds only: the duration of the newest check.
    pub last_duration_ms: Option<i64>,
    /// TLS and HTTPS monitors whose newest result saw a certificate.
    pub certificate_expires_at: Option<Timestamp>,
    /// Successful checks over all checks in the last [`UPTIME_WINDOW`]; `None` without checks.
    pub uptime: Option<f64>,
}

impl MonitorSample {
    /// `Some(true)` when up or degraded (working), `Some(false)` when down, `None` while pending,
    /// paused or in maintenance (nothing to say about reachability).
    pub fn up(&self) -> Option<bool> {
        match self.status {
            MonitorStatus::Up | MonitorStatus::Degraded => Some(true),
            MonitorStatus::Down => Some(false),
            MonitorStatus::Pending | MonitorStatus::Paused | MonitorStatus::Maintenance => None,
        }
    }

    /// Seconds until the certificate expires at `now` (negative once it has).
    pub fn certificate_expiry_seconds(&self, now: Timestamp) -> Option<i64> {
        self.certificate_expires_at
            .map(|at| at.as_second().saturating_sub(now.as_second()))
    }
}

/// One published picture of every monitor, ordered by id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MonitorMetrics {
    /// When the pass that made it started; `None` before the first pass.
    pub refreshed_at: Option<Timestamp>,
    pub monitors: Vec<MonitorSample>,
}

impl MonitorMetrics {
    /// How many monitors have each status, every status listed (zero included).
    pub fn counts(&self) -> [(MonitorStatus, usize); 6] {
        MonitorStatus::ALL.map(|status| {
            (
                status,
                self.monitors
                    .iter()
                    .filter(|monitor| monitor.status == status)
                    .count(),
            )
        })
    }
}

#[derive(Debug, Default)]
struct Published {
    pass: u64,
    metrics: Arc<MonitorMetrics>,
}

/// The latest [`MonitorMetrics`], shared between the exporter and the scrapes.
#[derive(Debug, Default)]
pub struct Snapshot {
    published: RwLock<Published>,
    passes: std::sync::atomic::AtomicU64,
}

impl Snapshot {
    /// The latest snapshot (cheap: an `Arc` clone under a read lock).
    pub fn current(&self) -> Arc<MonitorMetrics> {
        self.published
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .metrics
            .clone()
    }

    /// Number a new pass; passes publish in this order.
    fn begin(&self) -> u64 {
        self.passes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .saturating_add(1)
    }

    /// Publish the result of pass `pass`, unless a later pass already did (a slower pass that started
    /// first never replaces newer figures).
    fn publish(&self, pass: u64, metrics: MonitorMetrics) -> bool {
        let mut published = self
            .published
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if pass <= published.pass {
            return false;
        }
        *published = Published {
            pass,
            metrics: Arc::new(metrics),
        };
        true
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefreshReport {
    pub monitors: usize,
    /// Uptime ratios computed (not carried over).
    pub uptimes: usize,
    /// Newest results read for a certificate.
    pub certificates: usize,
    /// Whether the snapshot was published (a later pass may have got there first).
    pub published: bool,
}

/// Which monitors get their uptime ratio and certificate expiry recomputed in a pass; the others keep
/// the figures of the previous snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recompute {
    /// Every monitor.
    All,
    /// Monitors whose id is `index` modulo `of`, and monitors the previous snapshot does not hold.
    Slice { index: u64, of: u64 },
    /// None: monitors the previous snapshot does not hold go without until their slice comes.
    Nothing,
}

impl Recompute {
    fn includes(self, monitor_id: i64, known: bool) -> bool {
        match self {
            Self::All => true,
            Self::Slice { index, of } => {
                !known || monitor_id.unsigned_abs() % of.max(1) == index % of.max(1)
            }
            Self::Nothing => false,
        }
    }
}

/// Whether a monitor's checks see a certificate: TLS monitors and HTTP monitors of an `https` URL.
pub fn has_certificate(monitor: &Monitor) -> bool {
    match monitor.kind.as_str() {
        "tls" => true,
        "http" => monitor
            .settings
            .get("url")
            .and_then(Value::as_str)
            .and_then(|url| url.get(..8))
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://")),
        _ => false,
    }
}

/// When the certificate seen by the monitor's newest check expires.
async fn certificate_expiry(core: &Core, monitor: &Monitor) -> CoreResult<Option<Timestamp>> {
    let newest = core
        .storage
        .list_results(monitor.id, PageRequest::new(1, None))
        .await?;
    Ok(newest.items.first().and_then(|result| {
        let seconds = result.details.get("certificate_expires_in_s")?.as_u64()?;
        Some(clock::add(result.at, Duration::from_secs(seconds)))
    }))
}

/// The 24 h uptime ratio; `None` without checks, or when the monitor was deleted meanwhile.
async fn uptime_ratio(core: &Core, monitor_id: i64) -> CoreResult<Option<f64>> {
    match rollup::uptime(core, monitor_id, UPTIME_WINDOW.duration()).await {
        Ok(figures) => Ok(figures.uptime),
        Err(CoreError::NotFound(_)) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Keeps [`Core::monitor_metrics`] fresh.
pub struct MonitorExporter {
    core: Core,
    interval: Duration,
    /// Passes made by the worker.
    passes: u64,
}

impl MonitorExporter {
    pub fn new(core: Core) -> Self {
        Self {
            core,
            interval: REFRESH_INTERVAL,
            passes: 0,
        }
    }

    /// A full pass (uptime and certificates of every monitor), published at once.
    pub async fn run_once(&self) -> CoreResult<RefreshReport> {
        self.refresh(Recompute::All).await
    }

    /// One pass over every monitor: status, pause and last duration for all, uptime ratio and
    /// certificate expiry for those `recompute` selects (carried over from the current snapshot for
    /// the others).
    pub async fn refresh(&self, recompute: Recompute) -> CoreResult<RefreshReport> {
        let core = &self.core;
        let snapshot = &core.monitor_metrics;
        let pass = snapshot.begin();
        let started = core.now();
        let previous = snapshot.current();
        let carried: HashMap<i64, &MonitorSample> = previous
            .monitors
            .iter()
            .map(|sample| (sample.id, sample))
            .collect();
        let mut report = RefreshReport::default();
        let mut monitors = Vec::with_capacity(previous.monitors.len());
        let mut cursor = None;
        loop {
            let page = core
                .storage
                .list_monitors(&MonitorFilter::default(), PageRequest::new(PAGE, cursor))
                .await?;
            for monitor in &page.items {
                let before = carried.get(&monitor.id);
                let (certificate_expires_at, uptime) =
                    if recompute.includes(monitor.id, before.is_some()) {
                        let certificate = if has_certificate(monitor) {
                            report.certificates += 1;
                            certificate_expiry(core, monitor).await?
                        } else {
                            None
                        };
                        report.uptimes += 1;
                        (certificate, uptime_ratio(core, monitor.id).await?)
                    } else {
                        before.map_or((None, None), |before| {
                            (before.certificate_expires_at, before.uptime)
                        })
                    };
                let active = super::ACTIVE_KINDS.contains(&monitor.kind.as_str());
                monitors.push(MonitorSample {
                    id: monitor.id,
                    service: monitor.service_slug.clone(),
                    kind: monitor.kind.clone(),
                    status: monitor.state.status,
                    paused: monitor.paused,
                    last_duration_ms: if active {
                        monitor.state.last_duration_ms
                    } else {
                        None
                    },
                    certificate_expires_at,
                    uptime,
                });
            }
            match page.next_cursor.and_then(|next| next.parse::<i64>().ok()) {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        report.monitors = monitors.len();
        let metrics = MonitorMetrics {
            refreshed_at: Some(started),
            monitors,
        };
        report.published = snapshot.publish(pass, metrics);
        Ok(report)
    }
}

#[async_trait::async_trait]
impl Worker for MonitorExporter {
    fn name(&self) -> String {
        "monitor-metrics".to_string()
    }

    async fn work(&mut self) -> anyhow::Result<WorkerState> {
        // Statuses first (cheap), then every costly figure, then one slice of them per pass.
        let (recompute, next) = match self.passes {
            0 => (Recompute::Nothing, WorkerState::Busy),
            1 => (Recompute::All, WorkerState::Idle),
            n => (
                Recompute::Slice {
                    index: n % SLICES,
                    of: SLICES,
                },
                WorkerState::Idle,
            ),
        };
        self.refresh(recompute).await?;
        self.passes = self.passes.saturating_add(1);
        Ok(next)
    }

    async fn wait_for_work(&mut self) {
        tokio::time::sleep(self.interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(id: i64, status: MonitorStatus) -> MonitorSample {
        MonitorSample {
            id,
            service: "api".into(),
            kind: "http".into(),
            status,
            paused: status == MonitorStatus::Paused,
            last_duration_ms: None,
            certificate_expires_at: None,
            uptime: None,
        }
    }

    #[test]
    fn an_older_pass_never_replaces_a_newer_one() {
        let snapshot = Snapshot::default();
        let first = snapshot.begin();
        let second = snapshot.begin();
        let newer = MonitorMetrics {
            monitors: vec![sample(2, MonitorStatus::Up)],
            ..MonitorMetrics::default()
        };
        assert!(snapshot.publish(second, newer.clone()));
        assert!(!snapshot.publish(first, MonitorMetrics::default()));
        assert_eq!(*snapshot.current(), newer);
    }

    #[test]
    fn slices_cover_every_monitor_once_per_cycle() {
        for id in [1_i64, 2, 9, 10, 11, 12_345] {
            let slices = (0..SLICES)
                .filter(|&index| Recompute::Slice { index, of: SLICES }.includes(id, true))
                .count();
            assert_eq!(slices, 1, "monitor {id}");
            assert!(
                Recompute::Slice {
                    index: 0,
                    of: SLICES
                }
                .includes(id, false)
            );
            assert!(Recompute::All.includes(id, true));
            assert!(!Recompute::Nothing.includes(id, false));
        }
        assert_eq!(SLICES, 10);
    }

    #[test]
    fn up_is_only_said_of_checked_monitors() {
        let up = |status| sample(1, status).up();
        assert_eq!(up(MonitorStatus::Up), Some(true));
        assert_eq!(up(MonitorStatus::Degraded), Some(true));
        assert_eq!(up(MonitorStatus::Down), Some(false));
        assert_eq!(up(MonitorStatus::Pending), None);
        assert_eq!(up(MonitorStatus::Paused), None);
        assert_eq!(up(MonitorStatus::Maintenance), None);
    }

    #[test]
    fn counts_list_every_status() {
        let metrics = MonitorMetrics {
            monitors: vec![
                sample(1, MonitorStatus::Up),
                sample(2, MonitorStatus::Up),
                sample(3, MonitorStatus::Down),
            ],
            ..MonitorMetrics::default()
        };
        let counts = metrics.counts();
        assert_eq!(counts.len(), 6);
        assert!(counts.contains(&(MonitorStatus::Up, 2)));
        assert!(counts.contains(&(MonitorStatus::Down, 1)));
        assert!(counts.contains(&(MonitorStatus::Maintenance, 0)));
    }

    #[test]
    fn certificate_seconds_count_down_from_the_expiry() {
        let now = Timestamp::from_second(1_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
        let mut with = sample(1, MonitorStatus::Up);
        with.certificate_expires_at = Some(clock::add(now, Duration::from_secs(90)));
        assert_eq!(with.certificate_expiry_seconds(now), Some(90));
        let later = clock::add(now, Duration::from_secs(100));
        assert_eq!(with.certificate_expiry_seconds(later), Some(-10));
        assert_eq!(
            sample(2, MonitorStatus::Up).certificate_expiry_seconds(now),
            None
        );
    }
}

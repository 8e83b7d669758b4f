//! History without growth: raw check results and heartbeat pings are rolled up into per-monitor minute,
//! hour and day buckets (checks, failures, min/max/sum of latency and a mergeable [`LatencySketch`]), and
//! each kind of row is kept only as long as it is useful:
//!
//! | Data | Kept | Rows per monitor at a 60 s interval |
//! |---|---|---|
//! | raw results and pings | 48 h ([`RAW_RETENTION`]) | 2,880 |
//! | minute rollups | 48 h ([`MINUTE_RETENTION`]) | 2,880 |
//! | hour rollups | 90 days ([`HOUR_RETENTION`]) | 2,160 |
//! | day rollups | 2 years ([`DAY_RETENTION`]) | 730 |
//!
//! State changes (`monitor_events`) are never pruned here. Nothing is pruned before it has been rolled up
//! into the next resolution, so a worker that falls behind delays pruning instead of losing history.
//!
//! The [`RollupWorker`] runs every minute on scheduler nodes: raw samples older than [`ROLLUP_LAG`] become
//! minute buckets, complete hours of minute buckets become hour buckets, complete UTC days of hours
//! become days. Each resolution has a watermark ("rolled up until") that moves in the same transaction as
//! the buckets it covers, and a bucket is always computed whole from its finer data and written whole, so
//! a second run (or a second node) writes nothing new. Samples that arrive for a minute already rolled up
//! (older than the lag) stay in the raw history but do not reach the rollups.
//!
//! [`uptime`] answers uptime and latency for any window from the coarsest rows that fit it, finer rows at
//! its edges and the raw samples not yet rolled up, so a year costs a few hundred rows. A monitor's SLO
//! (`settings.slo = { target, window_days }`) turns that into an error budget.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use upkeep_storage::{
    AuditContext, Monitor, MonitorChanges, RawSample, Resolution, RollupCursor, RollupRow,
};

use super::sketch::{LatencySketch, SketchError};
use crate::jobs::{Worker, WorkerState};
use crate::{Core, CoreError, CoreResult};

/// How long raw results and pings are kept (a configuration setting is still to come).
pub const RAW_RETENTION: Duration = Duration::from_secs(48 * 3_600);
/// How long minute buckets are kept.
pub const MINUTE_RETENTION: Duration = Duration::from_secs(48 * 3_600);
/// How long hour buckets are kept.
pub const HOUR_RETENTION: Duration = Duration::from_secs(90 * 86_400);
/// How long day buckets are kept.
pub const DAY_RETENTION: Duration = Duration::from_secs(730 * 86_400);
/// Raw samples younger than this are not rolled up yet: their minute may still be receiving results.
pub const ROLLUP_LAG: Duration = Duration::from_secs(60);

/// Raw samples read per step; a step ends at the last complete minute of a full page.
const RAW_PAGE: u32 = 50_000;
/// Finer rollup rows read per page while computing one coarser bucket.
const ROLLUP_PAGE: u32 = 20_000;

/// How long rows of `resolution` are kept.
pub fn retention(resolution: Resolution) -> Duration {
    match resolution {
        Resolution::Minute => MINUTE_RETENTION,
        Resolution::Hour => HOUR_RETENTION,
        Resolution::Day => DAY_RETENTION,
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn floor_to(ms: i64, width: i64) -> i64 {
    ms.div_euclid(width).saturating_mul(width)
}

fn ceil_to(ms: i64, width: i64) -> i64 {
    let floor = floor_to(ms, width);
    if floor == ms {
        ms
    } else {
        floor.saturating_add(width)
    }
}

fn timestamp(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// Running totals of one bucket (or of a whole window).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    pub checks: i64,
    pub failures: i64,
    /// Checks with a duration.
    pub timed: i64,
    pub min_ms: Option<i64>,
    pub max_ms: Option<i64>,
    pub sum_ms: i64,
    pub sketch: LatencySketch,
}

impl Totals {
    /// Widen the minimum and maximum to include `ms`.
    fn widen(&mut self, ms: i64) {
        self.min_ms = Some(self.min_ms.map_or(ms, |min| min.min(ms)));
        self.max_ms = Some(self.max_ms.map_or(ms, |max| max.max(ms)));
    }

    /// Count one raw sample.
    pub fn add_sample(&mut self, sample: &RawSample) {
        self.checks += 1;
        if !sample.success {
            self.failures += 1;
        }
        if let Some(ms) = sample.duration_ms {
            let ms = ms.max(0);
            self.timed += 1;
            self.sum_ms = self.sum_ms.saturating_add(ms);
            self.widen(ms);
            self.sketch.insert(ms as f64);
        }
    }

    /// Add a stored bucket.
    pub fn add_row(&mut self, row: &RollupRow) -> Result<(), SketchError> {
        let sketch = LatencySketch::from_bytes(&row.sketch)?;
        self.checks += row.checks;
        self.failures += row.failures;
        self.timed += row.timed;
        self.sum_ms = self.sum_ms.saturating_add(row.sum_ms);
        if let Some(min) = row.min_ms {
            self.widen(min);
        }
        if let Some(max) = row.max_ms {
            self.widen(max);
        }
        self.sketch.merge(&sketch);
        Ok(())
    }

    fn into_row(self, monitor_id: i64, resolution: Resolution, bucket_start: i64) -> RollupRow {
        RollupRow {
            monitor_id,
            resolution,
            bucket_start,
            checks: self.checks,
            failures: self.failures,
            timed: self.timed,
            min_ms: self.min_ms,
            max_ms: self.max_ms,
            sum_ms: self.sum_ms,
            sketch: self.sketch.to_bytes(),
        }
    }

    /// The latency figures, with quantiles kept inside the observed minimum and maximum.
    pub fn latency(&self) -> Latency {
        let bounded = |q: f64| {
            self.sketch.quantile(q).map(|value| {
                let low = self.min_ms.map_or(value, |min| value.max(min as f64));
                self.max_ms.map_or(low, |max| low.min(max as f64))
            })
        };
        Latency {
            samples: self.timed,
            min_ms: self.min_ms,
            max_ms: self.max_ms,
            mean_ms: (self.timed > 0).then(|| self.sum_ms as f64 / self.timed as f64),
            p50_ms: bounded(0.50),
            p95_ms: bounded(0.95),
            p99_ms: bounded(0.99),
        }
    }
}

/// Latency over a window, in milliseconds; quantiles are within 1 % of the exact ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    /// Checks with a duration (all active checks; heartbeat completions of a started run).
    pub samples: i64,
    pub min_ms: Option<i64>,
    pub max_ms: Option<i64>,
    pub mean_ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// What one pass of the rollup worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RollupReport {
    pub minute_buckets: u64,
    pub hour_buckets: u64,
    pub day_buckets: u64,
    /// Raw results and pings deleted.
    pub raw_pruned: u64,
    /// Rollup rows deleted, all resolutions.
    pub rollups_pruned: u64,
}

/// Rolls raw history up into minute, hour and day buckets and prunes each past its retention.
pub struct RollupWorker {
    core: Core,
    interval: Duration,
}

impl RollupWorker {
    pub fn new(core: Core) -> Self {
        Self {
            core,
            interval: Duration::from_secs(60),
        }
    }

    /// One pass at the core's current time: roll up everything that is due, then prune.
    pub async fn run_once(&self) -> anyhow::Result<RollupReport> {
        let now = self.core.now().as_millisecond();
        let mut report = RollupReport {
            minute_buckets: self.roll_raw(now).await?,
            ..RollupReport::default()
        };
        report.hour_buckets = self.roll_up(Resolution::Minute, Resolution::Hour).await?;
        report.day_buckets = self.roll_up(Resolution::Hour, Resolution::Day).await?;
        self.prune(now, &mut report).await?;
        if report != RollupReport::default() {
            tracing::debug!(?report, "rolled up monitor history");
        }
        Ok(report)
    }

    /// Raw samples older than the lag into minute buckets. Returns the buckets written.
    async fn roll_raw(&self, now: i64) -> anyhow::Result<u64> {
        let storage = &self.core.storage;
        let width = Resolution::Minute.millis();
        let target = floor_to(now.saturating_sub(millis(ROLLUP_LAG)), width);
        let mut mark = storage.rollup_watermark(Resolution::Minute).await?;
        let mut start = match mark {
            Some(mark) => mark,
            None => storage
                .oldest_raw_sample()
                .await?
                .map_or(target, |oldest| floor_to(oldest, width).min(target)),
        };
        let mut written = 0;
        loop {
            if start >= target {
                if mark.is_none() {
                    storage
                        .store_rollups(Resolution::Minute, &[], None, start)
                        .await?;
                }
                break;
            }
            let mut samples = storage.raw_samples(start, target, None, RAW_PAGE).await?;
            let mut end = target;
            if samples.len() >= RAW_PAGE as usize {
                let last = samples.last().map_or(start, |sample| sample.at);
                end = floor_to(last, width);
                if end <= start {
                    // One minute holds more than a page: read that minute whole.
                    end = start + width;
                    samples = storage.raw_samples(start, end, None, u32::MAX).await?;
                }
            }
            let mut buckets: BTreeMap<(i64, i64), Totals> = BTreeMap::new();
            for sample in samples.iter().filter(|sample| sample.at < end) {
                buckets
                    .entry((sample.monitor_id, floor_to(sample.at, width)))
                    .or_default()
                    .add_sample(sample);
            }
            let rows: Vec<RollupRow> = buckets
                .into_iter()
                .map(|((monitor_id, bucket), totals)| {
                    totals.into_row(monitor_id, Resolution::Minute, bucket)
                })
                .collect();
            if !storage
                .store_rollups(Resolution::Minute, &rows, mark, end)
                .await?
            {
                tracing::debug!("another node rolled these minutes up first");
                break;
            }
            written += rows.len() as u64;
            mark = Some(end);
            start = end;
        }
        Ok(written)
    }

    /// Complete buckets of `from` into buckets of `to`. Returns the buckets written.
    async fn roll_up(&self, from: Resolution, to: Resolution) -> anyhow::Result<u64> {
        let storage = &self.core.storage;
        let Some(source_mark) = storage.rollup_watermark(from).await? else {
            return Ok(0);
        };
        let width = to.millis();
        let target = floor_to(source_mark, width);
        let mut mark = storage.rollup_watermark(to).await?;
        let mut start = match mark {
            Some(mark) => mark,
            None => storage
                .oldest_rollup(from)
                .await?
                .map_or(target, |oldest| floor_to(oldest, width).min(target)),
        };
        let mut written = 0;
        loop {
            if start >= target {
                if mark.is_none() {
                    storage.store_rollups(to, &[], None, start).await?;
                }
                break;
            }
            // Skip empty stretches in one move: the next bucket that has any finer rows.
            let next = storage
                .rollups_page(from, start, target, None, 1)
                .await?
                .first()
                .map(|row| floor_to(row.bucket_start, width));
            let Some(bucket) = next else {
                storage.store_rollups(to, &[], mark, target).await?;
                break;
            };
            let end = bucket + width;
            let mut totals: BTreeMap<i64, Totals> = BTreeMap::new();
            let mut cursor = None;
            loop {
                let page = storage
                    .rollups_page(from, bucket, end, cursor, ROLLUP_PAGE)
                    .await?;
                for row in &page {
                    totals.entry(row.monitor_id).or_default().add_row(row)?;
                }
                match page.last() {
                    Some(last) if page.len() >= ROLLUP_PAGE as usize => {
                        cursor = Some(RollupCursor {
                            bucket_start: last.bucket_start,
                            monitor_id: last.monitor_id,
                        });
                    }
                    _ => break,
                }
            }
            let rows: Vec<RollupRow> = totals
                .into_iter()
                .map(|(monitor_id, totals)| totals.into_row(monitor_id, to, bucket))
                .collect();
            if !storage.store_rollups(to, &rows, mark, end).await? {
                tracing::debug!(
                    resolution = to.as_str(),
                    "another node rolled these buckets up first"
                );
                break;
            }
            written += rows.len() as u64;
            mark = Some(end);
            start = end;
        }
        Ok(written)
    }

    /// Delete what is past its retention, but never what the next resolution has not absorbed yet.
    async fn prune(&self, now: i64, report: &mut RollupReport) -> anyhow::Result<()> {
        let storage = &self.core.storage;
        let minute = storage.rollup_watermark(Resolution::Minute).await?;
        let hour = storage.rollup_watermark(Resolution::Hour).await?;
        let day = storage.rollup_watermark(Resolution::Day).await?;
        if let Some(minute) = minute {
            let before = minute.min(now.saturating_sub(millis(RAW_RETENTION)));
            report.raw_pruned = storage.prune_monitor_history(timestamp(before)).await?;
        }
        for (resolution, absorbed) in [
            (Resolution::Minute, hour),
            (Resolution::Hour, day),
            (Resolution::Day, Some(i64::MAX)),
        ] {
            if let Some(absorbed) = absorbed {
                let before = absorbed.min(now.saturating_sub(millis(retention(resolution))));
                report.rollups_pruned += storage.prune_rollups(resolution, before).await?;
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Worker for RollupWorker {
    fn name(&self) -> String {
        "monitor-rollups".to_string()
    }

    async fn work(&mut self) -> anyhow::Result<WorkerState> {
        self.run_once().await?;
        Ok(WorkerState::Idle)
    }

    async fn wait_for_work(&mut self) {
        tokio::time::sleep(self.interval).await;
    }
}

/// The uptime windows the API and pages offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Window {
    #[serde(rename = "24h")]
    Day,
    #[serde(rename = "7d")]
    Week,
    #[serde(rename = "30d")]
    Month,
    #[serde(rename = "90d")]
    Quarter,
    #[serde(rename = "365d")]
    Year,
}

impl Window {
    pub const ALL: [Window; 5] = [
        Self::Day,
        Self::Week,
        Self::Month,
        Self::Quarter,
        Self::Year,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "24h",
            Self::Week => "7d",
            Self::Month => "30d",
            Self::Quarter => "90d",
            Self::Year => "365d",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|window| window.as_str() == value)
    }

    pub fn duration(self) -> Duration {
        let days = match self {
            Self::Day => 1,
            Self::Week => 7,
            Self::Month => 30,
            Self::Quarter => 90,
            Self::Year => 365,
        };
        Duration::from_secs(days * 86_400)
    }
}

/// Uptime and latency of one monitor over a window ending now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Uptime {
    /// Where the figures start: the window's start, or slightly later when the window's first
    /// hours are only kept as whole days (a 365-day window starts at the next UTC midnight).
    pub from: Timestamp,
    pub to: Timestamp,
    pub checks: i64,
    pub failures: i64,
    /// Successful checks over all checks; `None` without any check.
    pub uptime: Option<f64>,
    pub latency: Latency,
}

/// Where one stretch of a window is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Raw,
    Rollup(Resolution),
}

/// The watermarks and how far back each kind of row is still kept, at one instant.
#[derive(Debug, Clone, Copy)]
struct Coverage {
    now: i64,
    minute: Option<i64>,
    hour: Option<i64>,
    day: Option<i64>,
}

impl Coverage {
    fn mark(&self, resolution: Resolution) -> Option<i64> {
        match resolution {
            Resolution::Minute => self.minute,
            Resolution::Hour => self.hour,
            Resolution::Day => self.day,
        }
    }

    /// The earliest instant whose rows of `source` are certainly still stored.
    fn kept_from(&self, source: Source) -> i64 {
        let kept = match source {
            Source::Raw => RAW_RETENTION,
            Source::Rollup(resolution) => retention(resolution),
        };
        self.now.saturating_sub(millis(kept))
    }

    /// Whether whole buckets of `resolution` starting at `at` can be read.
    fn bucket_usable(&self, resolution: Resolution, at: i64) -> bool {
        let width = resolution.millis();
        at % width == 0
            && at >= self.kept_from(Source::Rollup(resolution))
            && self.mark(resolution).is_some_and(|mark| at + width <= mark)
    }
}

/// Cover `[start, coverage.now)` with the coarsest rows that fit, finer ones at the edges, and raw
/// samples after the minute watermark. Returns the effective start and the stretches, in time order.
fn plan(start: i64, coverage: &Coverage) -> (i64, Vec<(Source, i64, i64)>) {
    let end = coverage.now;
    let minute_mark = coverage.minute.unwrap_or(i64::MIN);
    let mut pieces: Vec<(Source, i64, i64)> = Vec::new();
    let mut first = None;
    let mut at = start;
    while at < end {
        let piece = if coverage.bucket_usable(Resolution::Day, at) {
            let stop = coverage.day.unwrap_or(at);
            Some((
                Source::Rollup(Resolution::Day),
                floor_to(stop, Resolution::Day.millis()),
            ))
        } else if coverage.bucket_usable(Resolution::Hour, at) {
            let stop = coverage
                .hour
                .unwrap_or(at)
                .min(floor_to(at, Resolution::Day.millis()) + Resolution::Day.millis());
            Some((Source::Rollup(Resolution::Hour), stop))
        } else if coverage.bucket_usable(Resolution::Minute, at) {
            let stop = minute_mark
                .min(floor_to(at, Resolution::Hour.millis()) + Resolution::Hour.millis());
            Some((Source::Rollup(Resolution::Minute), stop))
        } else if at >= coverage.kept_from(Source::Raw) {
            let stop = if at >= minute_mark {
                end
            } else {
                end.min(floor_to(at, Resolution::Minute.millis()) + Resolution::Minute.millis())
            };
            Some((Source::Raw, stop))
        } else {
            None
        };
        match piece {
            Some((source, stop)) if stop > at => {
                first.get_or_insert(at);
                match pieces.last_mut() {
                    Some(last) if last.0 == source && last.2 == at => last.2 = stop,
                    _ => pieces.push((source, at, stop)),
                }
                at = stop;
            }
            _ => {
                // Nothing covers this instant any more: continue where something does.
                let mut next = coverage.kept_from(Source::Raw).max(at + 1);
                for resolution in Resolution::ALL {
                    let width = resolution.millis();
                    let candidate = ceil_to(
                        at.max(coverage.kept_from(Source::Rollup(resolution))),
                        width,
                    );
                    if candidate > at && coverage.bucket_usable(resolution, candidate) {
                        next = next.min(candidate);
                    }
                }
                at = next;
            }
        }
    }
    (first.unwrap_or(end), pieces)
}

/// Uptime and latency of monitor `monitor_id` over the `window` ending now.
pub async fn uptime(core: &Core, monitor_id: i64, window: Duration) -> CoreResult<Uptime> {
    super::monitor(core, monitor_id).await?;
    let now = core.now().as_millisecond();
    let storage = &core.storage;
    let coverage = Coverage {
        now,
        minute: storage.rollup_watermark(Resolution::Minute).await?,
        hour: storage.rollup_watermark(Resolution::Hour).await?,
        day: storage.rollup_watermark(Resolution::Day).await?,
    };
    let (from, pieces) = plan(now.saturating_sub(millis(window)), &coverage);
    let mut totals = Totals::default();
    for (source, start, stop) in pieces {
        match source {
            Source::Raw => {
                let samples = storage
                    .raw_samples(start, stop, Some(monitor_id), u32::MAX)
                    .await?;
                for sample in &samples {
                    totals.add_sample(sample);
                }
            }
            Source::Rollup(resolution) => {
                for row in storage.rollups(monitor_id, resolution, start, stop).await? {
                    totals
                        .add_row(&row)
                        .map_err(|err| CoreError::Internal(err.to_string()))?;
                }
            }
        }
    }
    Ok(Uptime {
        from: timestamp(from),
        to: timestamp(now),
        checks: totals.checks,
        failures: totals.failures,
        uptime: (totals.checks > 0)
            .then(|| (totals.checks - totals.failures) as f64 / totals.checks as f64),
        latency: totals.latency(),
    })
}

/// A service level objective: at least `target` of checks succeed over the last `window_days`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// e.g. `0.999` for 99.9 %.
    pub target: f64,
    pub window_days: u32,
}

impl Slo {
    /// Refuse targets outside (0, 1) and windows outside 1–365 days.
    pub fn check(&self) -> CoreResult<()> {
        if !(self.target > 0.0 && self.target < 1.0) {
            return Err(CoreError::validation(
                "target",
                "must be above 0 and below 1 (e.g. 0.999 for 99.9 %)",
            ));
        }
        if !(1..=365).contains(&self.window_days) {
            return Err(CoreError::validation(
                "window_days",
                "must be between 1 and 365",
            ));
        }
        Ok(())
    }

    pub fn window(&self) -> Duration {
        Duration::from_secs(u64::from(self.window_days) * 86_400)
    }
}

/// A monitor's SLO, when its settings hold a valid one.
pub fn slo_of(monitor: &Monitor) -> Option<Slo> {
    let slo = serde_json::from_value::<Slo>(monitor.settings.get("slo")?.clone()).ok()?;
    slo.check().is_ok().then_some(slo)
}

/// Set (or with `None`, remove) a monitor's SLO, kept in its settings next to its definition.
pub async fn set_slo(
    core: &Core,
    ctx: &AuditContext,
    monitor_id: i64,
    slo: Option<Slo>,
) -> CoreResult<Monitor> {
    let existing = super::monitor(core, monitor_id).await?;
    let mut settings = existing.settings;
    let Value::Object(map) = &mut settings else {
        return Err(CoreError::Internal(format!(
            "monitor {monitor_id} has settings that are not an object"
        )));
    };
    match slo {
        Some(slo) => {
            slo.check()?;
            let value =
                serde_json::to_value(slo).map_err(|err| CoreError::Internal(err.to_string()))?;
            map.insert("slo".to_string(), value);
        }
        None => {
            map.remove("slo");
        }
    }
    let changes = MonitorChanges {
        settings: Some(settings),
        ..MonitorChanges::default()
    };
    Ok(core
        .storage
        .update_monitor(ctx, monitor_id, changes)
        .await?)
}

/// How much failure an SLO still allows over its window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ErrorBudget {
    /// `(1 − target) × checks`.
    pub allowed_failures: f64,
    /// Failed checks so far.
    pub used: i64,
    /// `allowed_failures − used`; negative once the objective is missed.
    pub remaining: f64,
    /// `remaining / allowed_failures` (1 with nothing allowed and nothing used, 0 with failures and
    /// nothing allowed).
    pub remaining_ratio: f64,
}

impl ErrorBudget {
    pub fn new(slo: &Slo, checks: i64, failures: i64) -> Self {
        let allowed = (1.0 - slo.target) * checks as f64;
        let remaining = allowed - failures as f64;
        let remaining_ratio = if allowed > 0.0 {
            remaining / allowed
        } else if failures == 0 {
            1.0
        } else {
            0.0
        };
        Self {
            allowed_failures: allowed,
            used: failures,
            remaining,
            remaining_ratio,
        }
    }
}

/// An SLO with its figures over its own window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloStatus {
    pub slo: Slo,
    pub uptime: Uptime,
    pub error_budget: ErrorBudget,
    /// Whether the uptime over the window meets the target (true without checks).
    pub met: bool,
}

/// The SLO status of a monitor, when it has an SLO.
pub async fn slo_status(core: &Core, monitor: &Monitor) -> CoreResult<Option<SloStatus>> {
    let Some(slo) = slo_of(monitor) else {
        return Ok(None);
    };
    let figures = uptime(core, monitor.id, slo.window()).await?;
    let error_budget = ErrorBudget::new(&slo, figures.checks, figures.failures);
    Ok(Some(SloStatus {
        slo,
        met: figures.uptime.is_none_or(|uptime| uptime >= slo.target),
        error_budget,
        uptime: figures,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 86_400_000;

    fn coverage(now: i64, minute: i64, hour: i64, day: i64) -> Coverage {
        Coverage {
            now,
            minute: Some(minute),
            hour: Some(hour),
            day: Some(day),
        }
    }

    /// The stretches must tile `[from, now)` without gaps or overlaps.
    fn assert_tiles(from: i64, pieces: &[(Source, i64, i64)], now: i64) {
        let mut at = from;
        for &(source, start, stop) in pieces {
            assert_eq!(start, at, "gap or overlap before {source:?} at {start}");
            assert!(stop > start);
            at = stop;
        }
        assert_eq!(at, now);
    }

    #[test]
    fn a_day_window_uses_raw_then_finer_then_coarser_rows() {
        let now = 1_000 * DAY + 5 * HOUR + 7 * MIN + 30_000;
        let cover = coverage(
            now,
            1_000 * DAY + 5 * HOUR + 6 * MIN,
            1_000 * DAY + 5 * HOUR,
            1_000 * DAY,
        );
        let start = now - DAY;
        let (from, pieces) = plan(start, &cover);
        assert_eq!(from, start);
        assert_tiles(from, &pieces, now);
        let sources: Vec<Source> = pieces.iter().map(|piece| piece.0).collect();
        assert_eq!(
            sources,
            vec![
                Source::Raw,
                Source::Rollup(Resolution::Minute),
                Source::Rollup(Resolution::Hour),
                Source::Rollup(Resolution::Minute),
                Source::Raw,
            ]
        );
        // Hours run across midnight (there is no complete day in the window).
        assert_eq!(pieces[2].1, 999 * DAY + 6 * HOUR);
        assert_eq!(pieces[2].2, 1_000 * DAY + 5 * HOUR);
    }

    #[test]
    fn a_year_window_starts_at_the_next_kept_boundary() {
        let now = 1_000 * DAY + 5 * HOUR + 7 * MIN;
        let cover = coverage(now, now - 2 * MIN, 1_000 * DAY + 4 * HOUR, 1_000 * DAY);
        let (from, pieces) = plan(now - 365 * DAY, &cover);
        // Minutes and hours of a year ago are gone; whole days remain.
        assert_eq!(from, 636 * DAY);
        assert_tiles(from, &pieces, now);
        assert_eq!(
            pieces[0],
            (Source::Rollup(Resolution::Day), 636 * DAY, 1_000 * DAY)
        );
        // A 30-day window starts at the next whole hour.
        let (from, pieces) = plan(now - 30 * DAY, &cover);
        assert_eq!(from, 970 * DAY + 6 * HOUR);
        assert_tiles(from, &pieces, now);
    }

    #[test]
    fn without_any_rollup_only_kept_raw_samples_count() {
        let now = 10 * DAY + 123;
        let cover = Coverage {
            now,
            minute: None,
            hour: None,
            day: None,
        };
        let (from, pieces) = plan(now - 7 * DAY, &cover);
        assert_eq!(from, now - 2 * DAY);
        assert_eq!(pieces, vec![(Source::Raw, now - 2 * DAY, now)]);
    }

    #[test]
    fn totals_merge_like_the_samples_they_hold() {
        let sample = |at, success, duration_ms| RawSample {
            monitor_id: 1,
            at,
            success,
            duration_ms,
        };
        let samples = [
            sample(1, true, Some(100)),
            sample(2, false, Some(300)),
            sample(3, true, None),
            sample(4, true, Some(200)),
        ];
        let mut all = Totals::default();
        let mut first = Totals::default();
        let mut second = Totals::default();
        for (n, sample) in samples.iter().enumerate() {
            all.add_sample(sample);
            if n < 2 { &mut first } else { &mut second }.add_sample(sample);
        }
        let mut merged = Totals::default();
        assert_eq!(
            merged.add_row(&first.into_row(1, Resolution::Minute, 0)),
            Ok(())
        );
        assert_eq!(
            merged.add_row(&second.into_row(1, Resolution::Minute, 0)),
            Ok(())
        );
        assert_eq!(merged, all);
        assert_eq!((all.checks, all.failures, all.timed), (4, 1, 3));
        let latency = all.latency();
        assert_eq!(latency.min_ms, Some(100));
        assert_eq!(latency.max_ms, Some(300));
        assert_eq!(latency.mean_ms, Some(200.0));
        assert!((latency.p50_ms.unwrap_or_default() - 200.0).abs() <= 2.0);
        // Quantiles are of rank ⌊q·(n−1)⌋: with three values, p99 is the middle one.
        assert!((latency.p99_ms.unwrap_or_default() - 200.0).abs() <= 2.0);
    }

    #[test]
    fn error_budgets_follow_the_target() {
        let slo = Slo {
            target: 0.99,
            window_days: 30,
        };
        let budget = ErrorBudget::new(&slo, 1_000, 3);
        assert!((budget.allowed_failures - 10.0).abs() < 1e-9);
        assert_eq!(budget.used, 3);
        assert!((budget.remaining - 7.0).abs() < 1e-9);
        assert!((budget.remaining_ratio - 0.7).abs() < 1e-9);
        let blown = ErrorBudget::new(&slo, 1_000, 15);
        assert!((blown.remaining + 5.0).abs() < 1e-9);
        assert!((blown.remaining_ratio + 0.5).abs() < 1e-9);
        assert_eq!(ErrorBudget::new(&slo, 0, 0).remaining_ratio, 1.0);
    }

    #[test]
    fn slos_outside_their_range_are_refused() {
        for (target, window_days) in [(1.0, 30), (0.0, 30), (1.5, 30), (0.99, 0), (0.99, 400)] {
            assert!(
                Slo {
                    target,
                    window_days
                }
                .check()
                .is_err(),
                "{target} over {window_days} days"
            );
        }
        assert!(
            Slo {
                target: 0.999,
                window_days: 30
            }
            .check()
            .is_ok()
        );
    }

    #[test]
    fn windows_parse_from_their_labels() {
        for window in Window::ALL {
            assert_eq!(Window::parse(window.as_str()), Some(window));
        }
        assert_eq!(Window::parse("2w"), None);
        assert_eq!(Window::Month.duration(), Duration::from_secs(30 * 86_400));
    }

    #[test]
    fn bucket_bounds_round_toward_the_epoch_grid() {
        assert_eq!(floor_to(-1, MIN), -MIN);
        assert_eq!(floor_to(MIN + 1, MIN), MIN);
        assert_eq!(ceil_to(MIN + 1, MIN), 2 * MIN);
        assert_eq!(ceil_to(2 * MIN, MIN), 2 * MIN);
    }
}

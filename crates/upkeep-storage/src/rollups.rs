//! Monitor history rollups: per-monitor buckets of a minute, an hour and a day with counts, failures,
//! min/max/sum of latency and a mergeable latency sketch, so uptime and latency over a year cost a few
//! hundred rows instead of every raw result.
//!
//! The monitors domain computes the buckets; storage reads the raw samples and rollup rows in time order
//! and writes a batch of complete buckets together with the resolution's watermark ("rolled up until"),
//! in one transaction. A bucket is always written whole (an upsert replaces it), so running a rollup
//! twice, or on two nodes at once, writes the same rows; the watermark only moves forward from the value
//! the writer read.

use serde::Serialize;

use crate::StorageResult;

/// The width of a rollup bucket. Buckets start at multiples of their width since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    Minute,
    Hour,
    Day,
}

impl Resolution {
    pub const ALL: [Resolution; 3] = [Self::Minute, Self::Hour, Self::Day];

    /// The value stored in `monitor_rollups.resolution`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|resolution| resolution.as_str() == value)
    }

    /// Bucket width in milliseconds.
    pub fn millis(self) -> i64 {
        match self {
            Self::Minute => 60_000,
            Self::Hour => 3_600_000,
            Self::Day => 86_400_000,
        }
    }
}

/// One raw sample as the rollups see it: an active check result, or a heartbeat `success`/`fail` ping
/// (`start`, `log` and ignored pings are not checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawSample {
    pub monitor_id: i64,
    /// Epoch milliseconds.
    pub at: i64,
    pub success: bool,
    /// Check results always have one; heartbeat pings only when they complete a started run.
    pub duration_ms: Option<i64>,
}

/// One bucket of one monitor at one resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupRow {
    pub monitor_id: i64,
    pub resolution: Resolution,
    /// Epoch milliseconds, a multiple of the resolution's width.
    pub bucket_start: i64,
    pub checks: i64,
    pub failures: i64,
    /// Checks with a duration (the latency figures are over these).
    pub timed: i64,
    pub min_ms: Option<i64>,
    pub max_ms: Option<i64>,
    pub sum_ms: i64,
    /// The latency sketch, in the monitors domain's compact encoding (opaque to storage).
    pub sketch: Vec<u8>,
}

/// Where the next page of a resolution-wide read continues: after this bucket of this monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollupCursor {
    pub bucket_start: i64,
    pub monitor_id: i64,
}

#[async_trait::async_trait]
pub trait RollupStore {
    /// Raw samples with `from <= at < to` (epoch ms), of one monitor or of all, oldest first; at most
    /// `limit` (the oldest ones). Ties in `at` are in no particular order, so a caller paging by time
    /// must treat the last instant of a full page as incomplete.
    async fn raw_samples(
        &self,
        from: i64,
        to: i64,
        monitor_id: Option<i64>,
        limit: u32,
    ) -> StorageResult<Vec<RawSample>>;

    /// The time of the oldest raw sample still stored, if any.
    async fn oldest_raw_sample(&self) -> StorageResult<Option<i64>>;

    /// Up to when (exclusive, epoch ms) `resolution` has been rolled up; `None` before the first rollup.
    async fn rollup_watermark(&self, resolution: Resolution) -> StorageResult<Option<i64>>;

    /// The earliest bucket start stored at `resolution`, if any.
    async fn oldest_rollup(&self, resolution: Resolution) -> StorageResult<Option<i64>>;

    /// Rows of every monitor at `resolution` with `from <= bucket_start < to`, ordered by
    /// (`bucket_start`, `monitor_id`), continuing after `after`; at most `limit`.
    async fn rollups_page(
        &self,
        resolution: Resolution,
        from: i64,
        to: i64,
        after: Option<RollupCursor>,
        limit: u32,
    ) -> StorageResult<Vec<RollupRow>>;

    /// Write complete buckets of `resolution` (replacing rows with the same key) and move its watermark
    /// from `expected` to `upto`, in one transaction. Returns `false` and writes nothing when the
    /// watermark is no longer `expected` (another node got there first).
    async fn store_rollups(
        &self,
        resolution: Resolution,
        rows: &[RollupRow],
        expected: Option<i64>,
        upto: i64,
    ) -> StorageResult<bool>;

    /// One monitor's rows at `resolution` with `from <= bucket_start < to`, oldest first.
    async fn rollups(
        &self,
        monitor_id: i64,
        resolution: Resolution,
        from: i64,
        to: i64,
    ) -> StorageResult<Vec<RollupRow>>;

    /// Delete rows at `resolution` whose bucket starts before `before`. Returns the rows deleted.
    async fn prune_rollups(&self, resolution: Resolution, before: i64) -> StorageResult<u64>;
}

//! Monitors: their definitions, their current state (status, counters, the heartbeat deadline), the raw
//! check results and heartbeat pings, and the state-change events the incidents domain consumes.
//!
//! Writes come in batches from one writer task per node (results, pings, deadline sweeps), and each batch
//! is one transaction: a state change and the result that caused it are committed together or not at all.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{AuditContext, Page, PageRequest, StorageResult};

mod batch;
mod sort;

pub use batch::MonitorBatch;
pub use sort::{
    MAINTENANCE_RANK, MonitorSort, MonitorSortKey, OTHER_RANK, PAUSED_RANK, STATUS_RANKS, SortValue,
};

/// Where a monitor's status stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum MonitorStatus {
    /// Created, never checked (Healthchecks' "new").
    Pending,
    Up,
    /// Working but not within its conditions' comfort (e.g. a heartbeat that is late but within grace).
    Degraded,
    Down,
    Paused,
    /// Checks run but alerts are suppressed.
    Maintenance,
}

impl MonitorStatus {
    pub const ALL: [MonitorStatus; 6] = [
        Self::Pending,
        Self::Up,
        Self::Degraded,
        Self::Down,
        Self::Paused,
        Self::Maintenance,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Up => "up",
            Self::Degraded => "degraded",
            Self::Down => "down",
            Self::Paused => "paused",
            Self::Maintenance => "maintenance",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
    }
}

/// A monitor's definition and current state, as listed and shown.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Monitor {
    pub id: i64,
    pub service_id: i64,
    pub service_slug: String,
    pub name: String,
    /// Unique within the service; used in slug ping URLs.
    pub slug: String,
    /// `http`, `tcp`, `dns`, `tls`, `icmp` or `heartbeat`.
    pub kind: String,
    /// Kind-specific settings (URL, method, conditions, schedule, …) as validated by the monitors domain.
    pub settings: Value,
    /// Active checks: time between checks. Heartbeats: unused (their schedule is in `settings`).
    pub interval_ms: i64,
    pub failure_threshold: i32,
    pub success_threshold: i32,
    /// Secret part of `/ping/<token>` and `/api/push/<token>`.
    pub ping_token: String,
    /// Set when the monitor is declared in a configuration file (`upkeep apply`).
    pub managed_by: Option<String>,
    pub paused: bool,
    pub resume_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub state: MonitorState,
}

/// The part of a monitor that checks and pings change.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MonitorState {
    pub status: MonitorStatus,
    pub consecutive_failures: i32,
    pub consecutive_successes: i32,
    pub last_checked_at: Option<Timestamp>,
    pub last_change_at: Option<Timestamp>,
    /// Heartbeats: the last success or failure ping.
    pub last_ping_at: Option<Timestamp>,
    /// Heartbeats: a `/start` still waiting for its completion.
    pub last_start_at: Option<Timestamp>,
    pub last_start_rid: Option<String>,
    /// When the state must be looked at again without any ping (a heartbeat turning late or down).
    pub deadline_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub last_duration_ms: Option<i64>,
}

impl MonitorState {
    pub fn pending() -> Self {
        Self {
            status: MonitorStatus::Pending,
            consecutive_failures: 0,
            consecutive_successes: 0,
            last_checked_at: None,
            last_change_at: None,
            last_ping_at: None,
            last_start_at: None,
            last_start_rid: None,
            deadline_at: None,
            last_error: None,
            last_duration_ms: None,
        }
    }
}

/// What the batching writer reads of a monitor to apply checks, pings and deadline sweeps: the state and
/// what judges it, without names or the service join (it reads one per item of every batch).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchMonitor {
    pub id: i64,
    pub service_id: i64,
    pub kind: String,
    /// The settings as stored (JSON text); the writer parses a heartbeat's schedule out of it.
    pub settings_json: String,
    pub failure_threshold: i32,
    pub success_threshold: i32,
    pub ping_token: String,
    pub paused: bool,
    pub state: MonitorState,
}

#[derive(Debug, Clone)]
pub struct NewMonitor {
    pub service_id: i64,
    pub name: String,
    pub slug: String,
    pub kind: String,
    pub settings: Value,
    pub interval_ms: i64,
    pub failure_threshold: i32,
    pub success_threshold: i32,
    pub ping_token: String,
    pub managed_by: Option<String>,
    pub state: MonitorState,
}

#[derive(Debug, Clone, Default)]
pub struct MonitorChanges {
    pub name: Option<String>,
    pub settings: Option<Value>,
    pub interval_ms: Option<i64>,
    pub failure_threshold: Option<i32>,
    pub success_threshold: Option<i32>,
    /// Pause (`Some(true)`) or resume; `resume_at` applies with a pause.
    pub paused: Option<bool>,
    pub resume_at: Option<Option<Timestamp>>,
    /// Replace the state (e.g. back to pending on resume, or a new deadline after a schedule change).
    pub state: Option<MonitorState>,
    /// Move the monitor to another configuration file (`Some(None)`: no longer file-managed).
    pub managed_by: Option<Option<String>>,
}

#[derive(Debug, Clone, Default)]
pub struct MonitorFilter {
    pub service_id: Option<i64>,
    /// The status shown: with a [`MonitorFilter::maintenance`] scope, `maintenance` means unpaused
    /// monitors in the scope and every other status excludes them (as the status shown does).
    pub status: Option<MonitorStatus>,
    pub kind: Option<String>,
    /// Case-insensitive substring of the name or slug.
    pub search: Option<String>,
    /// Order and position (creation order by default).
    pub sort: MonitorSort,
    /// The monitors that a maintenance window covers now; worked out by the monitors domain, because
    /// recurring windows follow time zones that SQL cannot. `None` counts as no window active.
    pub maintenance: Option<MaintenanceScope>,
}

/// Monitors covered by a maintenance window that is active now: every monitor of these services, and
/// these monitors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaintenanceScope {
    pub service_ids: Vec<i64>,
    pub monitor_ids: Vec<i64>,
}

/// A status change: the event later domains (incidents) consume.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MonitorEvent {
    pub id: i64,
    pub monitor_id: i64,
    pub at: Timestamp,
    pub from_status: MonitorStatus,
    pub to_status: MonitorStatus,
    pub reason: String,
    /// Raised while a maintenance window covered the monitor: recorded, but nobody is paged for it.
    pub in_maintenance: bool,
}

#[derive(Debug, Clone)]
pub struct NewMonitorEvent {
    pub at: Timestamp,
    pub from_status: MonitorStatus,
    pub to_status: MonitorStatus,
    pub reason: String,
    /// Raised while a maintenance window covered the monitor: recorded, but nobody is paged for it.
    pub in_maintenance: bool,
}

/// One heartbeat ping as received.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HeartbeatPing {
    pub id: i64,
    pub monitor_id: i64,
    pub at: Timestamp,
    /// `success`, `start`, `fail` or `log`.
    pub kind: String,
    pub exit_status: Option<i32>,
    pub rid: Option<String>,
    /// For completions of a started run.
    pub duration_ms: Option<i64>,
    pub body: Option<String>,
    pub method: String,
    pub remote_addr: Option<String>,
    pub user_agent: Option<String>,
}

/// One active-check result.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CheckResult {
    pub id: i64,
    pub monitor_id: i64,
    pub at: Timestamp,
    pub success: bool,
    pub duration_ms: i64,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    /// Phase timings and condition outcomes.
    pub details: Value,
}

/// What one item of a write batch changes for one monitor.
#[derive(Debug, Clone)]
pub struct MonitorWrite {
    pub monitor_id: i64,
    pub state: MonitorState,
    pub event: Option<NewMonitorEvent>,
    pub ping: Option<HeartbeatPing>,
    pub result: Option<CheckResult>,
}

#[async_trait::async_trait]
pub trait MonitorStore {
    /// Conflict (field `slug`) when the service already has a monitor with that slug.
    async fn create_monitor(
        &self,
        ctx: &AuditContext,
        monitor: NewMonitor,
    ) -> StorageResult<Monitor>;
    async fn monitor_by_id(&self, id: i64) -> StorageResult<Option<Monitor>>;
    /// The monitors with these ids that exist, in no particular order (one query for a whole batch).
    async fn monitors_by_ids(&self, ids: &[i64]) -> StorageResult<Vec<Monitor>>;
    /// What the writer needs of the monitors with these ids that exist, in no particular order.
    async fn batch_monitors(&self, ids: &[i64]) -> StorageResult<Vec<BatchMonitor>>;
    async fn monitor_by_token(&self, token: &str) -> StorageResult<Option<Monitor>>;
    /// The monitor of the service with this ping key and this slug.
    async fn monitor_by_ping_key(
        &self,
        ping_key: &str,
        slug: &str,
    ) -> StorageResult<Option<Monitor>>;
    /// The id of the service whose ping key (for slug ping URLs) is `ping_key`.
    async fn service_id_by_ping_key(&self, ping_key: &str) -> StorageResult<Option<i64>>;
    /// In `filter.sort` order (creation order by default), continuing after `page.cursor`.
    async fn list_monitors(
        &self,
        filter: &MonitorFilter,
        page: PageRequest,
    ) -> StorageResult<Page<Monitor>>;
    /// `(id, updated_at)` of every unpaused monitor of one of `kinds`: the scheduler's cheap way to see
    /// what changed without loading every monitor.
    async fn active_monitor_versions(&self, kinds: &[&str])
    -> StorageResult<Vec<(i64, Timestamp)>>;
    /// Every monitor that is not paused and is of one of `kinds` (the scheduler's working set).
    async fn active_monitors(&self, kinds: &[&str]) -> StorageResult<Vec<Monitor>>;
    async fn update_monitor(
        &self,
        ctx: &AuditContext,
        id: i64,
        changes: MonitorChanges,
    ) -> StorageResult<Monitor>;
    async fn delete_monitor(&self, ctx: &AuditContext, id: i64) -> StorageResult<()>;
    /// Apply a batch of state changes with their pings, results and events in one transaction.
    async fn apply_monitor_writes(&self, writes: &[MonitorWrite]) -> StorageResult<()>;
    /// Unpaused monitors whose deadline has passed at `now`, soonest first.
    async fn due_deadlines(&self, now: Timestamp, limit: u32) -> StorageResult<Vec<Monitor>>;
    /// Paused monitors whose `resume_at` has passed.
    async fn due_resumes(&self, now: Timestamp) -> StorageResult<Vec<Monitor>>;
    /// Newest first.
    async fn list_monitor_events(
        &self,
        monitor_id: i64,
        page: PageRequest,
    ) -> StorageResult<Page<MonitorEvent>>;
    /// Newest first.
    async fn list_pings(
        &self,
        monitor_id: i64,
        page: PageRequest,
    ) -> StorageResult<Page<HeartbeatPing>>;
    /// Newest first.
    async fn list_results(
        &self,
        monitor_id: i64,
        page: PageRequest,
    ) -> StorageResult<Page<CheckResult>>;
    /// Delete raw results and pings older than `before` (state changes are kept).
    async fn prune_monitor_history(&self, before: Timestamp) -> StorageResult<u64>;
}

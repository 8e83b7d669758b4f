//! Maintenance windows: periods in which a service's monitors (or one monitor) keep being checked but the
//! state changes they raise are flagged so nobody is paged for them.
//!
//! A window is one-off (`starts_at`..`ends_at`) or recurring (a local start time, a duration, weekdays and
//! an IANA time zone, optionally `until` a time). Whether a window is active at an instant is decided by the
//! monitors domain (`upkeep_core::monitors::maintenance::active_at`); storage only keeps the definitions.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{AuditContext, Page, PageRequest, StorageResult};

/// One-off or recurring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum MaintenanceKind {
    /// From `starts_at` to `ends_at`.
    OneOff,
    /// Every listed weekday (every day when none are listed) at `start_time` in `tz`, for `duration_ms`.
    Recurring,
}

impl MaintenanceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OneOff => "one_off",
            Self::Recurring => "recurring",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "one_off" => Some(Self::OneOff),
            "recurring" => Some(Self::Recurring),
            _ => None,
        }
    }
}

/// A maintenance window of a service (all its monitors) or of one monitor.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MaintenanceWindow {
    pub id: i64,
    /// Set for a window of a whole service (exactly one of `service_id` and `monitor_id` is set).
    pub service_id: Option<i64>,
    /// The slug of `service_id`, for display.
    pub service_slug: Option<String>,
    /// Set for a window of one monitor.
    pub monitor_id: Option<i64>,
    pub title: String,
    pub kind: MaintenanceKind,
    /// One-off windows: the first instant inside the window.
    pub starts_at: Option<Timestamp>,
    /// One-off windows: the first instant after the window.
    pub ends_at: Option<Timestamp>,
    /// Recurring windows: the local start time, `HH:MM`.
    pub start_time: Option<String>,
    /// Recurring windows: how long each occurrence lasts (elapsed time).
    pub duration_ms: Option<i64>,
    /// Recurring windows: `mon` … `sun`, in week order; empty means every day.
    pub days: Vec<String>,
    /// Recurring windows: the IANA time zone `start_time` and `days` are read in.
    pub tz: Option<String>,
    /// Recurring windows: no occurrence starts at or after this instant.
    pub until: Option<Timestamp>,
    pub created_at: Timestamp,
    /// The label of the actor who created it (an email, `token upk_…`, `cli (root)`).
    pub created_by: String,
}

impl MaintenanceWindow {
    /// Whether this window covers a monitor with this id in the service with this id.
    pub fn covers(&self, monitor_id: i64, service_id: i64) -> bool {
        self.monitor_id == Some(monitor_id) || self.service_id == Some(service_id)
    }
}

/// A validated window to store (the monitors domain checks every field first).
#[derive(Debug, Clone)]
pub struct NewMaintenanceWindow {
    pub service_id: Option<i64>,
    pub monitor_id: Option<i64>,
    pub title: String,
    pub kind: MaintenanceKind,
    pub starts_at: Option<Timestamp>,
    pub ends_at: Option<Timestamp>,
    pub start_time: Option<String>,
    pub duration_ms: Option<i64>,
    pub days: Vec<String>,
    pub tz: Option<String>,
    pub until: Option<Timestamp>,
}

/// Which windows to list.
#[derive(Debug, Clone, Default)]
pub struct MaintenanceFilter {
    /// Windows of this service and of its monitors.
    pub service_id: Option<i64>,
    /// Windows that apply to this monitor: its own and its service's.
    pub monitor_id: Option<i64>,
}

#[async_trait::async_trait]
pub trait MaintenanceStore {
    /// Store a window (audited as `maintenance.create`). A service or monitor that does not exist is a
    /// conflict.
    async fn create_maintenance_window(
        &self,
        ctx: &AuditContext,
        window: NewMaintenanceWindow,
    ) -> StorageResult<MaintenanceWindow>;
    async fn maintenance_window_by_id(&self, id: i64) -> StorageResult<Option<MaintenanceWindow>>;
    /// Remove a window (audited as `maintenance.delete`); not found when there is none with this id.
    async fn delete_maintenance_window(&self, ctx: &AuditContext, id: i64) -> StorageResult<()>;
    /// Oldest first.
    async fn list_maintenance_windows(
        &self,
        filter: &MaintenanceFilter,
        page: PageRequest,
    ) -> StorageResult<Page<MaintenanceWindow>>;
    /// Every window of these monitors or of their services, in one query (the writer asks once per
    /// batch; match them to monitors with [`MaintenanceWindow::covers`]).
    async fn maintenance_for(&self, monitor_ids: &[i64]) -> StorageResult<Vec<MaintenanceWindow>>;
}

//! The storage seam of upkeep: records and use-case-shaped traits that each database backend implements.
//!
//! Domains in `upkeep-core` speak only to these traits; only the binary names a concrete backend
//! (`upkeep-storage-sqlite` or `upkeep-storage-postgres`), chosen from the database URL at run time.
//! Every mutating method takes an [`AuditContext`] and writes its audit record in the same transaction
//! as the change, so a change without its audit record can never be committed.

mod audit;
mod catalog;
mod contacts;
mod error;
mod escalation;
mod identity;
mod incidents;
mod jobs;
mod maintenance;
mod monitors;
mod page;
mod rollups;
mod schedules;

pub use audit::{Actor, ActorKind, AuditContext, AuditFilter, AuditRecord, AuditStore};
pub use catalog::{
    CatalogStore, NewService, NewTeam, Service, ServiceChanges, ServiceLink, Team, TeamChanges,
};
pub use contacts::{
    ContactMethod, ContactMethodChanges, ContactStore, NewContactMethod, NewNotificationRule,
    NotificationRule,
};
pub use error::{StorageError, StorageResult};
pub use escalation::{
    ActionLink, AttemptRecord, EscalationPolicy, EscalationStore, NewEscalationPolicy,
    NewNotification, NotificationAttempt, NotificationStatus, OutboxNotification,
    ServiceEscalation,
};
pub use identity::{
    ApiToken, IdentityStore, NewSession, NewToken, NewUser, Role, Scope, Session, User, UserChanges,
};
pub use incidents::{
    Alert, AlertSource, ChangeEvent, Incident, IncidentFilter, IncidentStatus, IncidentStore,
    IncidentTx, IncidentWork, IntegrationKey, IntegrationKind, MonitorTransition, NewAlert,
    NewChangeEvent, NewIncident, NewTimelineEntry, Severity, TimelineEntry,
};
pub use jobs::{JobCount, JobRecord, JobStore, NewJob};
pub use maintenance::{
    MaintenanceFilter, MaintenanceKind, MaintenanceStore, MaintenanceWindow, NewMaintenanceWindow,
};
pub use monitors::{
    BatchMonitor, CheckResult, HeartbeatPing, MAINTENANCE_RANK, MaintenanceScope, Monitor,
    MonitorBatch, MonitorChanges, MonitorEvent, MonitorFilter, MonitorSort, MonitorSortKey,
    MonitorState, MonitorStatus, MonitorStore, MonitorWrite, NewMonitor, NewMonitorEvent,
    OTHER_RANK, PAUSED_RANK, STATUS_RANKS, SortValue,
};
pub use page::{Page, PageRequest};
pub use rollups::{RawSample, Resolution, RollupCursor, RollupRow, RollupStore};
pub use schedules::{NewSchedule, ScheduleChanges, ScheduleRecord, ScheduleStore};

use std::sync::Arc;

/// What the operator sees about the schema: the version the database is at and the newest this binary knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SchemaStatus {
    pub database_version: i64,
    pub binary_version: i64,
}

impl SchemaStatus {
    pub fn is_current(&self) -> bool {
        self.database_version == self.binary_version
    }
}

/// Connection pool figures exported on `/metrics`.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct PoolStats {
    pub connections: u32,
    pub idle: u32,
    pub max_connections: u32,
}

/// Everything a backend provides. Implemented once per database.
#[async_trait::async_trait]
pub trait Storage:
    IdentityStore
    + AuditStore
    + CatalogStore
    + JobStore
    + MonitorStore
    + MaintenanceStore
    + RollupStore
    + IncidentStore
    + ContactStore
    + EscalationStore
    + ScheduleStore
    + Send
    + Sync
{
    /// `"sqlite"` or `"postgres"`.
    fn backend_name(&self) -> &'static str;
    /// Apply every migration this binary knows that the database has not seen.
    /// Refuses with [`StorageError::SchemaTooNew`] when the database was migrated by a newer binary.
    async fn migrate(&self) -> StorageResult<SchemaStatus>;
    async fn schema_status(&self) -> StorageResult<SchemaStatus>;
    /// A cheap round trip proving the database answers.
    async fn ping(&self) -> StorageResult<()>;
    fn pool_stats(&self) -> PoolStats;
    /// Close the pool, waiting for connections in use to be returned.
    async fn close(&self);
}

/// The handle domains hold.
pub type DynStorage = Arc<dyn Storage>;

//! Incidents: alerts from outside tools and upkeep's monitors, the incidents they open, each incident's
//! timeline, change events (deploys) on a service, and the integration keys alert sources send with.
//!
//! The rules (deduplication, grouping, attaching to an upstream incident, the lifecycle) live once in the
//! incidents domain of `upkeep-core`. They run inside one database transaction through [`IncidentTx`]:
//! the domain hands an [`IncidentWork`] to [`IncidentStore::run_incident_work`], each backend opens a write
//! transaction, gives the work its small set of primitives, and commits when the work succeeds. So an
//! alert, the incident it opens and the timeline entries describing both are committed together or not at
//! all, and the backends only differ in SQL.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    AuditContext, MonitorEvent, NewJob, NewNotification, Page, PageRequest, StorageResult,
};

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(value: &str) -> Option<Self> {
                match value { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// Where an incident (or one alert) stands.
    IncidentStatus {
        Triggered => "triggered",
        Acknowledged => "acknowledged",
        Resolved => "resolved",
    }
}

string_enum! {
    /// PagerDuty's severities, most severe first (so `min` of two is the more severe).
    Severity {
        Critical => "critical",
        Error => "error",
        Warning => "warning",
        Info => "info",
    }
}

string_enum! {
    /// Which integration an alert came through.
    AlertSource {
        Pagerduty => "pagerduty",
        Alertmanager => "alertmanager",
        Grafana => "grafana",
        Webhook => "webhook",
        Monitor => "monitor",
    }
}

string_enum! {
    /// The kinds of integration key a service has; each is the secret in one ingestion URL.
    IntegrationKind {
        Pagerduty => "pagerduty",
        Alertmanager => "alertmanager",
        Grafana => "grafana",
        Webhook => "webhook",
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Incident {
    pub id: i64,
    pub service_id: i64,
    pub service_slug: String,
    pub title: String,
    pub status: IncidentStatus,
    pub severity: Severity,
    pub assignee_user_id: Option<i64>,
    /// Alertmanager's `groupKey` (or another source's grouping key) the incident was opened for.
    pub group_key: Option<String>,
    /// Alerts ever attached (including resolved ones).
    pub alert_count: i64,
    /// Alerts not yet resolved; the incident resolves itself when this reaches 0 through alert resolves.
    pub open_alert_count: i64,
    pub created_at: Timestamp,
    pub last_alert_at: Timestamp,
    pub acknowledged_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub updated_at: Timestamp,
    /// Bumped whenever the incident's escalation must start over or stop (ack, resolve, reopen); escalation
    /// jobs carry the epoch they were scheduled in and do nothing when it no longer matches (fencing).
    pub escalation_epoch: i64,
    /// The escalation step already taken in this epoch (0: none yet); steps only move forward.
    pub escalation_step: i64,
}

#[derive(Debug, Clone)]
pub struct NewIncident {
    pub service_id: i64,
    pub title: String,
    pub severity: Severity,
    pub group_key: Option<String>,
    pub at: Timestamp,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Alert {
    pub id: i64,
    pub incident_id: i64,
    pub service_id: i64,
    pub source: AlertSource,
    /// Unique among the service's open alerts of this source.
    pub dedup_key: String,
    pub status: IncidentStatus,
    pub summary: String,
    pub severity: Severity,
    /// The source's payload as received (PagerDuty `payload`, one Alertmanager alert, …).
    pub details: Value,
    /// How many trigger events this alert absorbed (1 + duplicates).
    pub event_count: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct NewAlert {
    pub incident_id: i64,
    pub service_id: i64,
    pub source: AlertSource,
    pub dedup_key: String,
    pub summary: String,
    pub severity: Severity,
    pub details: Value,
    pub at: Timestamp,
}

/// One line of an incident's timeline.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TimelineEntry {
    pub id: i64,
    pub incident_id: i64,
    pub at: Timestamp,
    /// What happened, e.g. `incident.triggered`, `alert.added`, `alert.resolved`, `incident.acknowledged`,
    /// `note`, `change`, `notification.attempt`, `escalation.level`.
    pub kind: String,
    /// Who did it (an email, `token upk_…`, `pagerduty`, `alertmanager`, `monitor`); absent for the system.
    pub actor: Option<String>,
    pub message: String,
    pub details: Value,
}

#[derive(Debug, Clone)]
pub struct NewTimelineEntry {
    pub incident_id: i64,
    pub at: Timestamp,
    pub kind: String,
    pub actor: Option<String>,
    pub message: String,
    pub details: Value,
}

/// A change (deploy, config change) recorded on a service, e.g. from PagerDuty's `/v2/change/enqueue`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChangeEvent {
    pub id: i64,
    pub service_id: i64,
    pub summary: String,
    pub source: Option<String>,
    /// When the change happened (the event's `timestamp`, else when it was received).
    pub happened_at: Timestamp,
    pub received_at: Timestamp,
    pub links: Value,
    pub custom_details: Value,
}

#[derive(Debug, Clone)]
pub struct NewChangeEvent {
    pub service_id: i64,
    pub summary: String,
    pub source: Option<String>,
    pub happened_at: Timestamp,
    pub received_at: Timestamp,
    pub links: Value,
    pub custom_details: Value,
}

/// One integration key of a service.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IntegrationKey {
    pub service_id: i64,
    pub kind: IntegrationKind,
    pub key: String,
    pub created_at: Timestamp,
}

/// A monitor state change with what turning it into an alert needs.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorTransition {
    pub event: MonitorEvent,
    pub service_id: i64,
    pub monitor_name: String,
}

/// Which incidents to list (newest first).
#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    pub service_id: Option<i64>,
    /// Any of these statuses; empty means all.
    pub statuses: Vec<IncidentStatus>,
}

/// The primitives incident rules run with, inside one write transaction.
#[async_trait::async_trait]
pub trait IncidentTx: Send {
    /// Serialise work on one service's alerts across nodes (PostgreSQL row lock; SQLite has one writer).
    async fn lock_service(&mut self, service_id: i64) -> StorageResult<()>;
    /// The service's unresolved alert from this source with this dedup key.
    async fn open_alert(
        &mut self,
        service_id: i64,
        source: AlertSource,
        dedup_key: &str,
    ) -> StorageResult<Option<Alert>>;
    async fn insert_alert(&mut self, alert: &NewAlert) -> StorageResult<Alert>;
    /// Store `status`, `summary`, `severity`, `details`, `event_count`, `updated_at`, `resolved_at`.
    async fn update_alert(&mut self, alert: &Alert) -> StorageResult<()>;
    /// Unresolved alerts of an incident, oldest first.
    async fn open_alerts_of(&mut self, incident_id: i64) -> StorageResult<Vec<Alert>>;
    async fn incident(&mut self, id: i64) -> StorageResult<Incident>;
    /// The service's newest unresolved incident with this group key (when given), else its newest
    /// unresolved incident that received an alert at or after `active_since`.
    async fn joinable_incident(
        &mut self,
        service_id: i64,
        group_key: Option<&str>,
        active_since: Timestamp,
    ) -> StorageResult<Option<Incident>>;
    /// The oldest unresolved incident of a service this one depends on, directly or through others.
    async fn open_upstream_incident(&mut self, service_id: i64) -> StorageResult<Option<Incident>>;
    async fn insert_incident(&mut self, incident: &NewIncident) -> StorageResult<Incident>;
    /// Store every mutable field of the incident (status, severity, assignee, counts, times, epoch).
    async fn update_incident(&mut self, incident: &Incident) -> StorageResult<()>;
    async fn append_timeline(&mut self, entry: &NewTimelineEntry) -> StorageResult<()>;
    /// Queue a notification; `false` when one with the same idempotency key exists (nothing queued).
    async fn insert_notification(&mut self, notification: &NewNotification) -> StorageResult<bool>;
    /// Enqueue a job in this transaction (e.g. the first escalation step of a new incident).
    async fn enqueue_job(&mut self, job: &NewJob) -> StorageResult<()>;
    async fn audit(
        &mut self,
        ctx: &AuditContext,
        action: &str,
        target: (&str, String),
        before: Option<Value>,
        after: Option<Value>,
    ) -> StorageResult<()>;
    /// Monitor state changes after `position` (an event id), oldest first, with their monitor's service.
    async fn monitor_events_after(
        &mut self,
        position: i64,
        limit: u32,
    ) -> StorageResult<Vec<MonitorTransition>>;
    /// A named position in an event stream this work consumes (0 when never set).
    async fn cursor(&mut self, name: &str) -> StorageResult<i64>;
    async fn set_cursor(&mut self, name: &str, position: i64) -> StorageResult<()>;
}

/// Work run inside one incident transaction. It may be run again when the backend retries a transaction
/// that could not commit, so it must only talk to the database through `tx` (and reset any result it
/// collects at the start of `run`).
#[async_trait::async_trait]
pub trait IncidentWork: Send + Sync {
    async fn run(&self, tx: &mut dyn IncidentTx) -> StorageResult<()>;
}

#[async_trait::async_trait]
pub trait IncidentStore {
    /// Run `work` in one write transaction and commit it.
    async fn run_incident_work(&self, work: &dyn IncidentWork) -> StorageResult<()>;
    async fn incident_by_id(&self, id: i64) -> StorageResult<Option<Incident>>;
    /// Newest first; the cursor is the last id seen.
    async fn list_incidents(
        &self,
        filter: &IncidentFilter,
        page: PageRequest,
    ) -> StorageResult<Page<Incident>>;
    /// Oldest first.
    async fn incident_timeline(
        &self,
        incident_id: i64,
        page: PageRequest,
    ) -> StorageResult<Page<TimelineEntry>>;
    /// Oldest first.
    async fn incident_alerts(
        &self,
        incident_id: i64,
        page: PageRequest,
    ) -> StorageResult<Page<Alert>>;
    /// The service's integration keys; kinds it has none of yet get the key offered in `fresh`.
    async fn ensure_integration_keys(
        &self,
        service_id: i64,
        fresh: &[(IntegrationKind, String)],
        at: Timestamp,
    ) -> StorageResult<Vec<IntegrationKey>>;
    /// Replace one key (audited as `service.integration_key.rotate`); the old key stops working at once.
    async fn rotate_integration_key(
        &self,
        ctx: &AuditContext,
        service_id: i64,
        kind: IntegrationKind,
        key: &str,
    ) -> StorageResult<IntegrationKey>;
    /// The service an ingestion key belongs to.
    async fn service_for_integration_key(
        &self,
        kind: IntegrationKind,
        key: &str,
    ) -> StorageResult<Option<i64>>;
    async fn record_change_event(&self, event: &NewChangeEvent) -> StorageResult<ChangeEvent>;
    /// Newest first (by id); `since` keeps only changes that happened at or after it.
    async fn list_change_events(
        &self,
        service_id: i64,
        since: Option<Timestamp>,
        page: PageRequest,
    ) -> StorageResult<Page<ChangeEvent>>;
}

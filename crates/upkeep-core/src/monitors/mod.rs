//! Monitors: active checks (HTTP, TCP, DNS, TLS, ICMP) and heartbeat monitors attached to a service, their
//! state machine with confirmation thresholds, heartbeat deadlines kept in the database, and the durable
//! state-change events that the incidents domain consumes.
//!
//! Writes flow through one batching writer per node ([`ingest`]); a storage failure is retried and logged
//! and never turns into a "down".

pub mod apply;
pub mod definition;
pub mod execute;
pub mod exporter;
pub mod heartbeat;
pub mod ingest;
pub mod listing;
pub mod maintenance;
pub mod rollup;
pub mod scheduler;
pub mod sketch;
pub mod state;
pub mod sweeper;
pub mod targets;

use jiff::Timestamp;
use upkeep_storage::{AuditContext, Monitor, MonitorChanges, MonitorState, MonitorStatus};

pub use definition::{ACTIVE_KINDS, KINDS, MonitorSpec, check};
pub use heartbeat::{HeartbeatSettings, PingKind, PingSignal, Schedule};
pub use ingest::{Ingest, PingOutcome};
pub use listing::list_monitors;
pub use maintenance::{effective_status, effective_statuses};
pub use scheduler::CheckScheduler;
pub use state::{CheckOutcome, apply_check};
pub use sweeper::DeadlineSweeper;
pub use targets::PingTarget;

use crate::{Core, CoreError, CoreResult, catalog};

/// A random token in the canonical UUID form Healthchecks clients expect in `/ping/<uuid>`.
pub fn new_ping_token() -> String {
    let hex = crate::identity::random_hex(16);
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// The URL a job pings.
pub fn ping_url(core: &Core, monitor: &Monitor) -> Option<String> {
    (monitor.kind == "heartbeat")
        .then(|| format!("{}/ping/{}", core.config.base_url(), monitor.ping_token))
}

pub async fn create_monitor(
    core: &Core,
    ctx: &AuditContext,
    service_slug: &str,
    spec: &MonitorSpec,
    managed_by: Option<String>,
) -> CoreResult<Monitor> {
    let service = catalog::service(core, service_slug).await.map_err(|_| {
        CoreError::validation("service", format!("no service with slug {service_slug}"))
    })?;
    create_monitor_in(core, ctx, service.id, spec, managed_by).await
}

/// [`create_monitor`] for a service already known by id.
pub async fn create_monitor_in(
    core: &Core,
    ctx: &AuditContext,
    service_id: i64,
    spec: &MonitorSpec,
    managed_by: Option<String>,
) -> CoreResult<Monitor> {
    let checked = check(spec)?;
    let monitor = upkeep_storage::NewMonitor {
        service_id,
        name: checked.name,
        slug: checked.slug,
        kind: checked.kind,
        settings: checked.settings,
        interval_ms: checked.interval_ms,
        failure_threshold: checked.failure_threshold,
        success_threshold: checked.success_threshold,
        ping_token: new_ping_token(),
        managed_by,
        state: MonitorState::pending(),
    };
    Ok(core.storage.create_monitor(ctx, monitor).await?)
}

pub async fn monitor(core: &Core, id: i64) -> CoreResult<Monitor> {
    core.storage
        .monitor_by_id(id)
        .await?
        .ok_or_else(|| CoreError::not_found(format!("no monitor with id {id}")))
}

/// Replace a monitor's definition; a heartbeat's deadline follows its new schedule.
pub async fn update_monitor(
    core: &Core,
    ctx: &AuditContext,
    id: i64,
    spec: &MonitorSpec,
) -> CoreResult<Monitor> {
    let existing = monitor(core, id).await?;
    let checked = check(spec)?;
    if checked.kind != existing.kind {
        return Err(CoreError::validation(
            "kind",
            "the kind of a monitor cannot change; create a new monitor",
        ));
    }
    let state = match serde_json::from_value::<HeartbeatSettings>(checked.settings.clone()) {
        Ok(settings) if existing.kind == "heartbeat" => {
            let mut state = existing.state.clone();
            state.deadline_at = heartbeat::deadline(&settings, &state);
            Some(state)
        }
        _ => None,
    };
    // Settings kept beside the definition (the SLO) survive a new definition.
    let mut settings = checked.settings;
    if let (Some(slo), Some(object)) = (existing.settings.get("slo"), settings.as_object_mut()) {
        object.insert("slo".to_string(), slo.clone());
    }
    let changes = MonitorChanges {
        name: Some(checked.name),
        settings: Some(settings),
        interval_ms: Some(checked.interval_ms),
        failure_threshold: Some(checked.failure_threshold),
        success_threshold: Some(checked.success_threshold),
        state,
        ..MonitorChanges::default()
    };
    Ok(core.storage.update_monitor(ctx, id, changes).await?)
}

/// Pause: no checks, no deadlines, no alerts, optionally until `resume_at`.
pub async fn pause(
    core: &Core,
    ctx: &AuditContext,
    id: i64,
    resume_at: Option<Timestamp>,
) -> CoreResult<Monitor> {
    let existing = monitor(core, id).await?;
    if resume_at.is_some_and(|at| at <= core.now()) {
        return Err(CoreError::validation("resume_at", "must be in the future"));
    }
    let mut state = existing.state.clone();
    state.status = MonitorStatus::Paused;
    state.deadline_at = None;
    state.last_change_at = Some(ctx.at);
    let changes = MonitorChanges {
        paused: Some(true),
        resume_at: Some(resume_at),
        state: Some(state),
        ..MonitorChanges::default()
    };
    Ok(core.storage.update_monitor(ctx, id, changes).await?)
}

/// Resume: the monitor starts over as pending (a heartbeat waits for its next ping, like a new one).
pub async fn resume(core: &Core, ctx: &AuditContext, id: i64) -> CoreResult<Monitor> {
    monitor(core, id).await?;
    let mut state = MonitorState::pending();
    state.last_change_at = Some(ctx.at);
    let changes = MonitorChanges {
        paused: Some(false),
        resume_at: Some(None),
        state: Some(state),
        ..MonitorChanges::default()
    };
    Ok(core.storage.update_monitor(ctx, id, changes).await?)
}

pub async fn delete_monitor(core: &Core, ctx: &AuditContext, id: i64) -> CoreResult<()> {
    monitor(core, id).await?;
    core.storage.delete_monitor(ctx, id).await?;
    core.ingest.targets().forget(id);
    Ok(())
}

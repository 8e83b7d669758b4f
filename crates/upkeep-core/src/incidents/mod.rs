//! Incidents: alert events from integrations and from upkeep's own monitors, deduplicated and grouped
//! into incidents with a lifecycle (triggered → acknowledged → resolved, and reopen) and a timeline that
//! writes itself.
//!
//! Every change runs through [`rules`] inside one storage transaction ([`upkeep_storage::IncidentWork`]),
//! so an alert, its incident and the timeline entries describing them are committed together.

pub mod actions;
pub mod delivery;
pub mod escalation;
pub mod ingest;
pub mod integrations;
pub mod monitor_alerts;
pub mod rules;

use std::sync::Mutex;

use upkeep_storage::{
    Alert, AuditContext, Incident, IncidentFilter, IncidentTx, IncidentWork, Page, PageRequest,
    StorageResult, TimelineEntry,
};

pub use ingest::AlertIngest;
pub use rules::{AlertAction, AlertSignal, IncidentChange, SignalOutcome};

use crate::{Core, CoreError, CoreResult};

/// Longest note accepted on a timeline.
pub const MAX_NOTE_CHARS: usize = 10_000;

/// Apply an alert event from an integration; returns once it is committed.
pub async fn ingest(core: &Core, signal: AlertSignal) -> CoreResult<SignalOutcome> {
    core.alerts.submit(core, signal).await
}

pub async fn incident(core: &Core, id: i64) -> CoreResult<Incident> {
    core.storage
        .incident_by_id(id)
        .await?
        .ok_or_else(|| CoreError::not_found(format!("incident {id} not found")))
}

/// Newest first.
pub async fn list(
    core: &Core,
    filter: &IncidentFilter,
    page: PageRequest,
) -> CoreResult<Page<Incident>> {
    Ok(core.storage.list_incidents(filter, page).await?)
}

pub async fn timeline(core: &Core, id: i64, page: PageRequest) -> CoreResult<Page<TimelineEntry>> {
    incident(core, id).await?;
    Ok(core.storage.incident_timeline(id, page).await?)
}

pub async fn alerts(core: &Core, id: i64, page: PageRequest) -> CoreResult<Page<Alert>> {
    incident(core, id).await?;
    Ok(core.storage.incident_alerts(id, page).await?)
}

struct ChangeWork<'a> {
    ctx: &'a AuditContext,
    id: i64,
    change: &'a IncidentChange,
    result: Mutex<Option<Incident>>,
}

#[async_trait::async_trait]
impl IncidentWork for ChangeWork<'_> {
    async fn run(&self, tx: &mut dyn IncidentTx) -> StorageResult<()> {
        let before = tx.incident(self.id).await?;
        let changed =
            rules::change_incident(tx, self.id, self.change, &self.ctx.actor.label, self.ctx.at)
                .await?;
        let after = tx.incident(self.id).await?;
        if changed {
            let action = match self.change {
                IncidentChange::Acknowledge => "incident.acknowledge",
                IncidentChange::Resolve => "incident.resolve",
                IncidentChange::Reopen => "incident.reopen",
                IncidentChange::Note(_) => "incident.note",
                IncidentChange::Severity(_) | IncidentChange::Assign(_) => "incident.update",
            };
            tx.audit(
                self.ctx,
                action,
                ("incident", self.id.to_string()),
                serde_json::to_value(&before).ok(),
                serde_json::to_value(&after).ok(),
            )
            .await?;
        }
        if let Ok(mut result) = self.result.lock() {
            *result = Some(after);
        }
        Ok(())
    }
}

/// A person acknowledges, resolves, reopens, annotates, re-grades or assigns an incident (audited).
/// Acknowledging twice or resolving a resolved incident changes nothing and is not an error.
pub async fn change(
    core: &Core,
    ctx: &AuditContext,
    id: i64,
    change: IncidentChange,
) -> CoreResult<Incident> {
    if let IncidentChange::Note(text) = &change {
        let text = text.trim();
        if text.is_empty() {
            return Err(CoreError::validation("text", "a note needs some text"));
        }
        if text.chars().count() > MAX_NOTE_CHARS {
            return Err(CoreError::validation(
                "text",
                format!("a note holds at most {MAX_NOTE_CHARS} characters"),
            ));
        }
    }
    if let IncidentChange::Assign(Some(user_id)) = &change {
        core.storage.user_by_id(*user_id).await?.ok_or_else(|| {
            CoreError::validation("assignee_user_id", format!("no user with id {user_id}"))
        })?;
    }
    let work = ChangeWork {
        ctx,
        id,
        change: &change,
        result: Mutex::new(None),
    };
    core.storage
        .run_incident_work(&work)
        .await
        .map_err(|err| match err {
            upkeep_storage::StorageError::NotFound { .. } => {
                CoreError::not_found(format!("incident {id} not found"))
            }
            other => other.into(),
        })?;
    work.result
        .into_inner()
        .ok()
        .flatten()
        .ok_or_else(|| CoreError::Internal("incident change lost its result".into()))
}

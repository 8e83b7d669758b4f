//! The incident rules, written once and run by both backends inside one transaction: how an alert event
//! is deduplicated, which incident it joins (same group key, same service within the grouping window, or
//! an open incident of a service it depends on), and the lifecycle (acknowledge, resolve, reopen) with
//! the timeline entries that describe every step.

use std::time::Duration;

use super::escalation::steps::{EscalateIncident, IncidentAcknowledged};
use jiff::Timestamp;
use serde_json::{Value, json};
use upkeep_storage::{
    Alert, AlertSource, Incident, IncidentStatus, IncidentTx, NewAlert, NewIncident,
    NewTimelineEntry, Severity, StorageResult,
};

/// What an alert source asks for (PagerDuty's `event_action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertAction {
    Trigger,
    Acknowledge,
    Resolve,
}

/// One alert event after its source's format is parsed and its integration key resolved to a service.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertSignal {
    pub service_id: i64,
    pub source: AlertSource,
    pub action: AlertAction,
    /// Scoped per service and source: the same key from another integration is another alert.
    pub dedup_key: String,
    pub summary: String,
    pub severity: Severity,
    /// The event as received, kept on the alert.
    pub details: Value,
    /// Alerts with the same group key (Alertmanager's `groupKey`) share one incident while it is open.
    pub group_key: Option<String>,
}

/// What applying a signal did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SignalOutcome {
    /// A new alert opened a new incident.
    Opened {
        incident_id: i64,
        alert_id: i64,
    },
    /// A new alert joined an open incident of its own service.
    Grouped {
        incident_id: i64,
        alert_id: i64,
    },
    /// A new alert was attached to the open incident of a service its service depends on.
    Attached {
        incident_id: i64,
        alert_id: i64,
    },
    /// A trigger for an alert that is already open: counted, nobody paged again.
    Deduplicated {
        incident_id: i64,
        alert_id: i64,
    },
    Acknowledged {
        incident_id: i64,
        alert_id: i64,
    },
    Resolved {
        incident_id: i64,
        alert_id: i64,
        incident_resolved: bool,
    },
    /// Acknowledge or resolve for a dedup key with no open alert: dropped, as PagerDuty does.
    Unmatched,
}

impl SignalOutcome {
    /// The incident that was opened (so escalation starts), if any.
    pub fn opened_incident(&self) -> Option<i64> {
        match self {
            Self::Opened { incident_id, .. } => Some(*incident_id),
            _ => None,
        }
    }
}

fn entry(
    incident_id: i64,
    at: Timestamp,
    kind: &str,
    actor: Option<&str>,
    message: String,
    details: Value,
) -> NewTimelineEntry {
    NewTimelineEntry {
        incident_id,
        at,
        kind: kind.to_string(),
        actor: actor.map(str::to_string),
        message,
        details,
    }
}

/// Apply one alert event at `now`. A new alert joins an open incident of its service whose last alert came
/// within `group_window` (or, with a group key, the open incident of that key).
pub async fn apply_signal(
    tx: &mut dyn IncidentTx,
    signal: &AlertSignal,
    now: Timestamp,
    group_window: Duration,
) -> StorageResult<SignalOutcome> {
    tx.lock_service(signal.service_id).await?;
    let actor = Some(signal.source.as_str());
    let open = tx
        .open_alert(signal.service_id, signal.source, &signal.dedup_key)
        .await?;
    match signal.action {
        AlertAction::Trigger => match open {
            Some(alert) => deduplicate(tx, alert, signal, now).await,
            None => open_alert(tx, signal, now, group_window).await,
        },
        AlertAction::Acknowledge => {
            let Some(mut alert) = open else {
                return Ok(SignalOutcome::Unmatched);
            };
            if alert.status == IncidentStatus::Triggered {
                alert.status = IncidentStatus::Acknowledged;
                alert.updated_at = now;
                tx.update_alert(&alert).await?;
            }
            let mut incident = tx.incident(alert.incident_id).await?;
            if incident.status == IncidentStatus::Triggered {
                acknowledge_incident(tx, &mut incident, actor, now).await?;
            }
            Ok(SignalOutcome::Acknowledged {
                incident_id: incident.id,
                alert_id: alert.id,
            })
        }
        AlertAction::Resolve => {
            let Some(mut alert) = open else {
                return Ok(SignalOutcome::Unmatched);
            };
            alert.status = IncidentStatus::Resolved;
            alert.resolved_at = Some(now);
            alert.updated_at = now;
            tx.update_alert(&alert).await?;
            let mut incident = tx.incident(alert.incident_id).await?;
            incident.open_alert_count = (incident.open_alert_count - 1).max(0);
            incident.updated_at = now;
            tx.append_timeline(&entry(
                incident.id,
                now,
                "alert.resolved",
                actor,
                format!("Alert resolved: {}", alert.summary),
                json!({ "alert_id": alert.id, "dedup_key": alert.dedup_key }),
            ))
            .await?;
            let resolve_incident =
                incident.open_alert_count == 0 && incident.status != IncidentStatus::Resolved;
            if resolve_incident {
                incident.status = IncidentStatus::Resolved;
                incident.resolved_at = Some(now);
                incident.escalation_epoch += 1;
                tx.append_timeline(&entry(
                    incident.id,
                    now,
                    "incident.resolved",
                    actor,
                    "Resolved: every alert of the incident is resolved".into(),
                    Value::Null,
                ))
                .await?;
            }
            tx.update_incident(&incident).await?;
            Ok(SignalOutcome::Resolved {
                incident_id: incident.id,
                alert_id: alert.id,
                incident_resolved: resolve_incident,
            })
        }
    }
}

async fn deduplicate(
    tx: &mut dyn IncidentTx,
    mut alert: Alert,
    signal: &AlertSignal,
    now: Timestamp,
) -> StorageResult<SignalOutcome> {
    alert.event_count += 1;
    alert.summary.clone_from(&signal.summary);
    alert.severity = signal.severity;
    alert.details = signal.details.clone();
    alert.updated_at = now;
    tx.update_alert(&alert).await?;
    let mut incident = tx.incident(alert.incident_id).await?;
    incident.last_alert_at = now;
    incident.severity = incident.severity.min(signal.severity);
    incident.updated_at = now;
    tx.update_incident(&incident).await?;
    Ok(SignalOutcome::Deduplicated {
        incident_id: incident.id,
        alert_id: alert.id,
    })
}

async fn open_alert(
    tx: &mut dyn IncidentTx,
    signal: &AlertSignal,
    now: Timestamp,
    group_window: Duration,
) -> StorageResult<SignalOutcome> {
    let actor = Some(signal.source.as_str());
    let since = crate::clock::sub(now, group_window);
    let joinable = tx
        .joinable_incident(signal.service_id, signal.group_key.as_deref(), since)
        .await?;
    let (mut incident, how) = match joinable {
        Some(incident) => (incident, "grouped"),
        None => match tx.open_upstream_incident(signal.service_id).await? {
            Some(incident) => (incident, "attached"),
            None => {
                let incident = tx
                    .insert_incident(&NewIncident {
                        service_id: signal.service_id,
                        title: signal.summary.clone(),
                        severity: signal.severity,
                        group_key: signal.group_key.clone(),
                        at: now,
                    })
                    .await?;
                tx.append_timeline(&entry(
                    incident.id,
                    now,
                    "incident.triggered",
                    actor,
                    format!("Triggered by an alert from {}", signal.source),
                    Value::Null,
                ))
                .await?;
                // The first escalation step commits with the incident: it cannot be lost.
                tx.enqueue_job(
                    &EscalateIncident {
                        incident_id: incident.id,
                        epoch: incident.escalation_epoch,
                        step: 1,
                    }
                    .new_job(now),
                )
                .await?;
                (incident, "opened")
            }
        },
    };
    let alert = tx
        .insert_alert(&NewAlert {
            incident_id: incident.id,
            service_id: signal.service_id,
            source: signal.source,
            dedup_key: signal.dedup_key.clone(),
            summary: signal.summary.clone(),
            severity: signal.severity,
            details: signal.details.clone(),
            at: now,
        })
        .await?;
    incident.alert_count += 1;
    incident.open_alert_count += 1;
    incident.last_alert_at = now;
    incident.severity = incident.severity.min(signal.severity);
    incident.updated_at = now;
    tx.update_incident(&incident).await?;
    let message = match how {
        "attached" => format!(
            "Alert attached from a dependent service (it depends on {}, which has this open incident): {}",
            incident.service_slug, signal.summary
        ),
        _ => format!("Alert from {}: {}", signal.source, signal.summary),
    };
    tx.append_timeline(&entry(
        incident.id,
        now,
        "alert.added",
        actor,
        message,
        json!({
            "alert_id": alert.id,
            "dedup_key": alert.dedup_key,
            "service_id": signal.service_id,
            "severity": signal.severity,
        }),
    ))
    .await?;
    Ok(match how {
        "opened" => SignalOutcome::Opened {
            incident_id: incident.id,
            alert_id: alert.id,
        },
        "attached" => SignalOutcome::Attached {
            incident_id: incident.id,
            alert_id: alert.id,
        },
        _ => SignalOutcome::Grouped {
            incident_id: incident.id,
            alert_id: alert.id,
        },
    })
}

/// Mark a triggered incident acknowledged: escalation stops (the epoch moves on).
pub async fn acknowledge_incident(
    tx: &mut dyn IncidentTx,
    incident: &mut Incident,
    actor: Option<&str>,
    now: Timestamp,
) -> StorageResult<()> {
    incident.status = IncidentStatus::Acknowledged;
    incident.acknowledged_at = Some(now);
    incident.escalation_epoch += 1;
    incident.updated_at = now;
    tx.update_incident(incident).await?;
    // Escalation stops (the epoch moved on); the policy's acknowledgement timeout starts.
    tx.enqueue_job(
        &IncidentAcknowledged {
            incident_id: incident.id,
            epoch: incident.escalation_epoch,
        }
        .new_job(now),
    )
    .await?;
    tx.append_timeline(&entry(
        incident.id,
        now,
        "incident.acknowledged",
        actor,
        format!("Acknowledged by {}", actor.unwrap_or("the system")),
        Value::Null,
    ))
    .await
}

/// A person's change to an incident.
#[derive(Debug, Clone, PartialEq)]
pub enum IncidentChange {
    Acknowledge,
    Resolve,
    Reopen,
    Note(String),
    Severity(Severity),
    Assign(Option<i64>),
}

/// Apply a person's change; `Ok(false)` when it changed nothing (acknowledging twice).
pub async fn change_incident(
    tx: &mut dyn IncidentTx,
    incident_id: i64,
    change: &IncidentChange,
    actor: &str,
    now: Timestamp,
) -> StorageResult<bool> {
    let mut incident = tx.incident(incident_id).await?;
    let resolved = incident.status == IncidentStatus::Resolved;
    let refuse = |what: &str| {
        Err(upkeep_storage::StorageError::conflict(
            format!("incident {incident_id} is resolved; {what}"),
            Some("status"),
        ))
    };
    match change {
        IncidentChange::Acknowledge => {
            if resolved {
                return refuse("reopen it before acknowledging");
            }
            if incident.status == IncidentStatus::Acknowledged {
                return Ok(false);
            }
            for mut alert in tx.open_alerts_of(incident_id).await? {
                alert.status = IncidentStatus::Acknowledged;
                alert.updated_at = now;
                tx.update_alert(&alert).await?;
            }
            acknowledge_incident(tx, &mut incident, Some(actor), now).await?;
        }
        IncidentChange::Resolve => {
            if resolved {
                return Ok(false);
            }
            // Resolving the incident resolves its alerts, so the next trigger with the same dedup key
            // opens a new incident (PagerDuty's behaviour).
            for mut alert in tx.open_alerts_of(incident_id).await? {
                alert.status = IncidentStatus::Resolved;
                alert.resolved_at = Some(now);
                alert.updated_at = now;
                tx.update_alert(&alert).await?;
            }
            incident.status = IncidentStatus::Resolved;
            incident.resolved_at = Some(now);
            incident.open_alert_count = 0;
            incident.escalation_epoch += 1;
            tx.append_timeline(&entry(
                incident_id,
                now,
                "incident.resolved",
                Some(actor),
                format!("Resolved by {actor}"),
                Value::Null,
            ))
            .await?;
        }
        IncidentChange::Reopen => {
            if !resolved {
                return Ok(false);
            }
            incident.status = IncidentStatus::Triggered;
            incident.resolved_at = None;
            incident.acknowledged_at = None;
            incident.escalation_epoch += 1;
            incident.escalation_step = 0;
            tx.enqueue_job(
                &EscalateIncident {
                    incident_id,
                    epoch: incident.escalation_epoch,
                    step: 1,
                }
                .new_job(now),
            )
            .await?;
            tx.append_timeline(&entry(
                incident_id,
                now,
                "incident.reopened",
                Some(actor),
                format!("Reopened by {actor}"),
                Value::Null,
            ))
            .await?;
        }
        IncidentChange::Note(text) => {
            tx.append_timeline(&entry(
                incident_id,
                now,
                "note",
                Some(actor),
                text.clone(),
                Value::Null,
            ))
            .await?;
        }
        IncidentChange::Severity(severity) => {
            if incident.severity == *severity {
                return Ok(false);
            }
            tx.append_timeline(&entry(
                incident_id,
                now,
                "incident.updated",
                Some(actor),
                format!("Severity changed from {} to {severity}", incident.severity),
                Value::Null,
            ))
            .await?;
            incident.severity = *severity;
        }
        IncidentChange::Assign(user_id) => {
            if incident.assignee_user_id == *user_id {
                return Ok(false);
            }
            incident.assignee_user_id = *user_id;
            let message = match user_id {
                Some(id) => format!("Assigned to user {id} by {actor}"),
                None => format!("Unassigned by {actor}"),
            };
            tx.append_timeline(&entry(
                incident_id,
                now,
                "incident.updated",
                Some(actor),
                message,
                Value::Null,
            ))
            .await?;
        }
    }
    incident.updated_at = now;
    tx.update_incident(&incident).await?;
    Ok(true)
}

//! The notification outbox worker: claims due notifications under a lease, bundles what is due for the
//! same contact method into one message, sends it through the channel adapters (`upkeep-notify`) and
//! records every attempt — on the notification and on the incident's timeline.
//!
//! Rules:
//! - A page for an incident that was acknowledged or resolved before it went out is cancelled.
//! - At most one message per contact method per [`THROTTLE`]: pages that come due meanwhile wait and go
//!   out together as one bundled message ("a storm of alerts for one person is one message").
//! - `RetryLater` (5xx, 429, connection refused) is retried after the server's `Retry-After`, else with
//!   backoff, up to [`MAX_ATTEMPTS`]; `Failed` is final; `Ambiguous` (timed out after sending) is retried
//!   only on channels delivered at least once (webhook, email: receivers de-duplicate by idempotency key
//!   or Message-ID) and left as `ambiguous` on chat channels (at most once, so nobody is paged twice).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::{Value, json};
use upkeep_notify::{
    AmbiguityPolicy, BundledIncident, DeliveryOutcome, Notification, ambiguity_policy,
};
use upkeep_storage::{
    IncidentStatus, IncidentTx, IncidentWork, NewTimelineEntry, NotificationAttempt,
    NotificationStatus, OutboxNotification, StorageResult,
};

use crate::jobs::{Worker, WorkerState};
use crate::{Core, CoreResult};

/// One message per contact method per this long; later pages wait and are bundled.
pub const THROTTLE: Duration = Duration::from_secs(30);
/// Attempts before a notification is marked failed.
pub const MAX_ATTEMPTS: i32 = 8;
/// How long a claimed notification stays ours before another node may take it.
const LEASE: Duration = Duration::from_secs(120);
const BATCH: u32 = 100;

fn retry_backoff(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.clamp(0, 10)).unwrap_or(10);
    Duration::from_secs((5u64 << exponent).min(3_600))
}

struct TimelineWork {
    entries: Vec<NewTimelineEntry>,
}

#[async_trait::async_trait]
impl IncidentWork for TimelineWork {
    async fn run(&self, tx: &mut dyn IncidentTx) -> StorageResult<()> {
        for entry in &self.entries {
            tx.append_timeline(entry).await?;
        }
        Ok(())
    }
}

async fn record(
    core: &Core,
    notification: &OutboxNotification,
    attempt: NotificationAttempt,
    timeline: &mut Vec<NewTimelineEntry>,
) -> CoreResult<()> {
    timeline.push(NewTimelineEntry {
        incident_id: notification.incident_id,
        at: attempt.at,
        kind: "notification.attempt".into(),
        actor: None,
        message: format!(
            "{} to user {}: {} — {}",
            notification.channel_kind,
            notification
                .user_id
                .map_or_else(|| "-".to_string(), |id| id.to_string()),
            attempt.outcome,
            attempt.detail
        ),
        details: json!({
            "notification_id": notification.id,
            "outcome": attempt.outcome,
            "reason": notification.reason,
        }),
    });
    core.storage
        .record_notification_attempt(notification.id, &attempt)
        .await?;
    Ok(())
}

fn attempt(
    now: Timestamp,
    outcome: &str,
    detail: String,
    status: NotificationStatus,
    next: Option<Timestamp>,
    took: Duration,
) -> NotificationAttempt {
    NotificationAttempt {
        at: now,
        outcome: outcome.to_string(),
        detail,
        duration_ms: i64::try_from(took.as_millis()).unwrap_or(i64::MAX),
        status,
        next_attempt_at: next,
    }
}

/// Deliver what is due now; returns how many notifications were handled.
pub async fn deliver_due(core: &Core) -> CoreResult<usize> {
    let now = core.now();
    let claimed = core
        .storage
        .claim_due_notifications(now, crate::clock::add(now, LEASE), BATCH)
        .await?;
    let count = claimed.len();
    let mut by_method: BTreeMap<Option<i64>, Vec<OutboxNotification>> = BTreeMap::new();
    for notification in claimed {
        by_method
            .entry(notification.contact_method_id)
            .or_default()
            .push(notification);
    }
    let mut timeline = Vec::new();
    for (method_id, group) in by_method {
        deliver_group(core, method_id, group, now, &mut timeline).await?;
    }
    if !timeline.is_empty() {
        core.storage
            .run_incident_work(&TimelineWork { entries: timeline })
            .await?;
    }
    Ok(count)
}

async fn deliver_group(
    core: &Core,
    method_id: Option<i64>,
    group: Vec<OutboxNotification>,
    now: Timestamp,
    timeline: &mut Vec<NewTimelineEntry>,
) -> CoreResult<()> {
    // Pages for incidents no longer triggered are not sent.
    let mut live = Vec::new();
    for notification in group {
        let status = core
            .storage
            .incident_by_id(notification.incident_id)
            .await?
            .map(|incident| incident.status);
        if status == Some(IncidentStatus::Triggered) {
            live.push(notification);
        } else {
            let detail = format!(
                "not sent: the incident is {}",
                status.map_or("gone", |status| status.as_str())
            );
            let record_attempt = attempt(
                now,
                "cancelled",
                detail,
                NotificationStatus::Cancelled,
                None,
                Duration::ZERO,
            );
            record(core, &notification, record_attempt, timeline).await?;
        }
    }
    if live.is_empty() {
        return Ok(());
    }
    let Some(method_id) = method_id else {
        for notification in &live {
            let failed = attempt(
                now,
                "failed",
                "the contact method was deleted".into(),
                NotificationStatus::Failed,
                None,
                Duration::ZERO,
            );
            record(core, notification, failed, timeline).await?;
        }
        return Ok(());
    };
    // Throttle: one message per contact method per THROTTLE; the rest wait and are bundled.
    if let Some(last) = core.storage.last_delivery_to(method_id).await? {
        let free_at = crate::clock::add(last, THROTTLE);
        if free_at > now {
            for notification in &live {
                let held = attempt(
                    now,
                    "held",
                    format!(
                        "held until {free_at} to bundle with other pages (one message per {}s per contact method)",
                        THROTTLE.as_secs()
                    ),
                    NotificationStatus::Queued,
                    Some(free_at),
                    Duration::ZERO,
                );
                record(core, notification, held, timeline).await?;
            }
            return Ok(());
        }
    }
    let method = core.storage.contact_method_by_id(method_id).await?;
    let Some(method) = method else {
        for notification in &live {
            let failed = attempt(
                now,
                "failed",
                "the contact method was deleted".into(),
                NotificationStatus::Failed,
                None,
                Duration::ZERO,
            );
            record(core, notification, failed, timeline).await?;
        }
        return Ok(());
    };
    let config = match crate::contacts::channel_config(core, &method) {
        Ok(config) => config,
        Err(err) => {
            for notification in &live {
                let failed = attempt(
                    now,
                    "failed",
                    format!("the contact method's settings cannot be read: {err}"),
                    NotificationStatus::Failed,
                    None,
                    Duration::ZERO,
                );
                record(core, notification, failed, timeline).await?;
            }
            return Ok(());
        }
    };
    let message = match compose(core, &live, now).await {
        Ok(message) => message,
        Err(err) => {
            for notification in &live {
                let failed = attempt(
                    now,
                    "failed",
                    format!("the message could not be built: {err}"),
                    NotificationStatus::Failed,
                    None,
                    Duration::ZERO,
                );
                record(core, notification, failed, timeline).await?;
            }
            return Ok(());
        }
    };
    let client = core
        .outbound
        .client()
        .map_err(|err| crate::CoreError::Unavailable(format!("the outbound HTTP client: {err}")))?;
    let started = Instant::now();
    let outcome = upkeep_notify::send(client, &config, &message).await;
    let took = started.elapsed();
    let bundled = live.len() > 1;
    for notification in &live {
        let mut result = outcome_attempt(&outcome, notification, config.kind(), now, took);
        if bundled {
            result.detail = format!(
                "{} (one message bundling {} pages)",
                result.detail,
                live.len()
            );
        }
        record(core, notification, result, timeline).await?;
    }
    Ok(())
}

fn outcome_attempt(
    outcome: &DeliveryOutcome,
    notification: &OutboxNotification,
    kind: upkeep_notify::ChannelKind,
    now: Timestamp,
    took: Duration,
) -> NotificationAttempt {
    let give_up = notification.attempts + 1 >= MAX_ATTEMPTS;
    let retry = |reason: &str, after: Option<Duration>| {
        if give_up {
            attempt(
                now,
                "failed",
                format!("{reason} (gave up after {MAX_ATTEMPTS} attempts)"),
                NotificationStatus::Failed,
                None,
                took,
            )
        } else {
            let wait = after.unwrap_or_else(|| retry_backoff(notification.attempts));
            attempt(
                now,
                "retry",
                format!("{reason}; retrying in {}s", wait.as_secs()),
                NotificationStatus::Queued,
                Some(crate::clock::add(now, wait)),
                took,
            )
        }
    };
    match outcome {
        DeliveryOutcome::Delivered { detail } => attempt(
            now,
            "delivered",
            detail.clone(),
            NotificationStatus::Delivered,
            None,
            took,
        ),
        DeliveryOutcome::RetryLater { after, reason } => retry(reason, *after),
        DeliveryOutcome::Failed { reason } => attempt(
            now,
            "failed",
            reason.clone(),
            NotificationStatus::Failed,
            None,
            took,
        ),
        DeliveryOutcome::Ambiguous { reason } => match ambiguity_policy(kind) {
            AmbiguityPolicy::AtLeastOnce => retry(
                &format!("{reason} (may have arrived; the receiver de-duplicates)"),
                None,
            ),
            AmbiguityPolicy::AtMostOnce => attempt(
                now,
                "ambiguous",
                format!("{reason}; not retried on this channel so nobody is paged twice"),
                NotificationStatus::Ambiguous,
                None,
                took,
            ),
        },
    }
}

/// The message for a group: the oldest page, with the others as its bundle, and fresh action links.
async fn compose(
    core: &Core,
    live: &[OutboxNotification],
    now: Timestamp,
) -> CoreResult<Notification> {
    let Some(first) = live.first() else {
        return Err(crate::CoreError::Internal("nothing to compose".into()));
    };
    let mut message: Notification =
        serde_json::from_value(first.payload.clone()).map_err(|err| {
            crate::CoreError::Internal(format!("stored notification is invalid: {err}"))
        })?;
    let links = super::actions::create_links(core, first.incident_id, first.user_id, now).await?;
    message.acknowledge_url = Some(links.acknowledge_url);
    message.resolve_url = Some(links.resolve_url);
    for other in &live[1..] {
        let payload: Value = other.payload.clone();
        let severity = payload["severity"]
            .as_str()
            .and_then(|text| serde_json::from_value(json!(text)).ok())
            .unwrap_or(message.severity);
        message.bundle.push(BundledIncident {
            incident_id: other.incident_id,
            title: payload["title"].as_str().unwrap_or_default().to_string(),
            severity,
            url: payload["incident_url"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        });
    }
    if !message.bundle.is_empty() {
        message.idempotency_key = format!("bundle:{}:{}", first.idempotency_key, live.len());
    }
    Ok(message)
}

/// The worker that keeps delivering.
pub struct DeliveryWorker {
    core: Core,
    poll: Duration,
}

impl DeliveryWorker {
    pub fn new(core: Core) -> Self {
        Self {
            core,
            poll: Duration::from_secs(1),
        }
    }
}

#[async_trait::async_trait]
impl Worker for DeliveryWorker {
    fn name(&self) -> String {
        "notification-delivery".to_string()
    }

    async fn work(&mut self) -> anyhow::Result<WorkerState> {
        let handled = deliver_due(&self.core).await?;
        Ok(if handled >= BATCH as usize {
            WorkerState::Busy
        } else {
            WorkerState::Idle
        })
    }

    async fn wait_for_work(&mut self) {
        let _ = tokio::time::timeout(self.poll, self.core.outbox.notified()).await;
    }
}

//! The escalation jobs: one step of a policy (page a level), the acknowledgement timer, and the
//! re-trigger when an acknowledged incident is not resolved in time. Each is fenced by the incident's
//! escalation epoch and step, checked inside the transaction that acts.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use upkeep_storage::{
    Incident, IncidentStatus, IncidentTx, IncidentWork, NewJob, NewNotification, NewTimelineEntry,
    StorageResult,
};

use super::{LevelMode, LevelSpec, PolicySpec, Target, spec_of};
use crate::jobs::{Job, JobRegistry};
use crate::{Core, CoreResult};

/// Run one step of the incident's policy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EscalateIncident {
    pub incident_id: i64,
    pub epoch: i64,
    /// 1-based across repeats: step `k` is level `(k-1) % levels` of round `(k-1) / levels`.
    pub step: i64,
}

impl EscalateIncident {
    pub const KIND: &'static str = "incident.escalate";

    /// The job row for this step, enqueued inside an incident transaction.
    pub fn new_job(&self, run_at: Timestamp) -> NewJob {
        NewJob {
            kind: Self::KIND.to_string(),
            payload: json!(self),
            run_at,
            max_attempts: 20,
            dedup_key: Some(format!(
                "{}:{}:{}:{}",
                Self::KIND,
                self.incident_id,
                self.epoch,
                self.step
            )),
        }
    }
}

impl Job for EscalateIncident {
    const KIND: &'static str = EscalateIncident::KIND;
    const MAX_ATTEMPTS: i32 = 20;

    fn dedup_key(&self) -> Option<String> {
        Some(format!("{}:{}:{}", self.incident_id, self.epoch, self.step))
    }

    async fn run(&self, core: &Core) -> anyhow::Result<()> {
        run_step(core, self).await?;
        Ok(())
    }
}

/// An incident was acknowledged in `epoch`: arm its policy's acknowledgement timeout, if it has one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IncidentAcknowledged {
    pub incident_id: i64,
    pub epoch: i64,
}

impl IncidentAcknowledged {
    pub const KIND: &'static str = "incident.acknowledged";

    pub fn new_job(&self, run_at: Timestamp) -> NewJob {
        NewJob {
            kind: Self::KIND.to_string(),
            payload: json!(self),
            run_at,
            max_attempts: 20,
            dedup_key: Some(format!(
                "{}:{}:{}",
                Self::KIND,
                self.incident_id,
                self.epoch
            )),
        }
    }
}

impl Job for IncidentAcknowledged {
    const KIND: &'static str = IncidentAcknowledged::KIND;

    async fn run(&self, core: &Core) -> anyhow::Result<()> {
        let Some(incident) = core.storage.incident_by_id(self.incident_id).await? else {
            return Ok(());
        };
        if incident.escalation_epoch != self.epoch
            || incident.status != IncidentStatus::Acknowledged
        {
            return Ok(());
        }
        let Some((_, spec)) = policy_of(core, &incident).await? else {
            return Ok(());
        };
        if let Some(timeout) = spec.ack_timeout() {
            crate::jobs::enqueue_at(
                core,
                &AckTimeout {
                    incident_id: self.incident_id,
                    epoch: self.epoch,
                },
                crate::clock::add(core.now(), timeout),
            )
            .await?;
        }
        Ok(())
    }
}

/// The acknowledgement timeout ran out: if still acknowledged in the same epoch, trigger again.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AckTimeout {
    pub incident_id: i64,
    pub epoch: i64,
}

impl Job for AckTimeout {
    const KIND: &'static str = "incident.ack_timeout";

    fn dedup_key(&self) -> Option<String> {
        Some(format!("{}:{}", self.incident_id, self.epoch))
    }

    async fn run(&self, core: &Core) -> anyhow::Result<()> {
        let work = Retrigger {
            job: self.clone(),
            now: core.now(),
        };
        core.storage.run_incident_work(&work).await?;
        Ok(())
    }
}

struct Retrigger {
    job: AckTimeout,
    now: Timestamp,
}

#[async_trait::async_trait]
impl IncidentWork for Retrigger {
    async fn run(&self, tx: &mut dyn IncidentTx) -> StorageResult<()> {
        let mut incident = tx.incident(self.job.incident_id).await?;
        if incident.escalation_epoch != self.job.epoch
            || incident.status != IncidentStatus::Acknowledged
        {
            return Ok(());
        }
        incident.status = IncidentStatus::Triggered;
        incident.acknowledged_at = None;
        incident.escalation_epoch += 1;
        incident.escalation_step = 0;
        incident.updated_at = self.now;
        tx.update_incident(&incident).await?;
        tx.append_timeline(&NewTimelineEntry {
            incident_id: incident.id,
            at: self.now,
            kind: "incident.retriggered".into(),
            actor: None,
            message: "Triggered again: acknowledged but not resolved within the policy's acknowledgement timeout".into(),
            details: Value::Null,
        })
        .await?;
        tx.enqueue_job(
            &EscalateIncident {
                incident_id: incident.id,
                epoch: incident.escalation_epoch,
                step: 1,
            }
            .new_job(self.now),
        )
        .await
    }
}

/// The escalation jobs, for the node's job runner.
pub fn register(registry: JobRegistry) -> JobRegistry {
    registry
        .register::<EscalateIncident>()
        .register::<IncidentAcknowledged>()
        .register::<AckTimeout>()
}

async fn policy_of(
    core: &Core,
    incident: &Incident,
) -> CoreResult<Option<(upkeep_storage::EscalationPolicy, PolicySpec)>> {
    let settings = core.storage.service_escalation(incident.service_id).await?;
    let Some(policy_id) = settings.escalation_policy_id else {
        return Ok(None);
    };
    let Some(policy) = core.storage.escalation_policy_by_id(policy_id).await? else {
        return Ok(None);
    };
    let spec = spec_of(&policy)?;
    Ok(Some((policy, spec)))
}

/// The people a level pages now, each with why, and what kept others from being paged.
#[derive(Debug, Default)]
pub struct LevelPeople {
    pub people: Vec<(i64, String)>,
    pub problems: Vec<String>,
}

/// Resolve a level's targets at `at`. With `turn` (round-robin), only the target whose turn it is.
pub async fn level_people(
    core: &Core,
    level: &LevelSpec,
    turn: Option<usize>,
    at: Timestamp,
) -> CoreResult<LevelPeople> {
    let targets: Vec<&Target> = match (level.mode, turn) {
        (LevelMode::RoundRobin, Some(turn)) if !level.targets.is_empty() => {
            vec![&level.targets[turn % level.targets.len()]]
        }
        _ => level.targets.iter().collect(),
    };
    let mut found = LevelPeople::default();
    for target in targets {
        match target {
            Target::User(id) => match core.storage.user_by_id(*id).await? {
                Some(user) if !user.disabled => {
                    found
                        .people
                        .push((user.id, format!("named in the policy ({})", user.email)));
                }
                Some(user) => found.problems.push(format!("{} is disabled", user.email)),
                None => found.problems.push(format!("user {id} no longer exists")),
            },
            Target::Schedule(slug) => match crate::oncall::service::schedule(core, slug).await {
                Ok(schedule) => {
                    let on_call =
                        crate::oncall::service::users_on_call(core, schedule.id, at).await?;
                    if on_call.is_empty() {
                        found
                            .problems
                            .push(format!("nobody is on call for schedule {slug}"));
                    }
                    found.people.extend(on_call);
                }
                Err(_) => found
                    .problems
                    .push(format!("schedule {slug} no longer exists")),
            },
        }
    }
    // One page per person even when several targets name them.
    let mut seen = std::collections::HashSet::new();
    found.people.retain(|(id, _)| seen.insert(*id));
    Ok(found)
}

/// The message queued for one person (action links are added at delivery).
fn notification_payload(core: &Core, incident: &Incident, reason: &str, key: &str) -> Value {
    json!({
        "incident_id": incident.id,
        "title": incident.title,
        "summary": format!("{} incident on {}: {}", incident.severity, incident.service_slug, incident.title),
        "severity": incident.severity.as_str(),
        "status": "triggered",
        "service_name": incident.service_slug,
        "incident_url": format!("{}/incidents/{}", core.config.base_url(), incident.id),
        "acknowledge_url": null,
        "resolve_url": null,
        "reason": reason,
        "idempotency_key": key,
        "bundle": [],
    })
}

struct StepWork {
    job: EscalateIncident,
    now: Timestamp,
    notifications: Vec<NewNotification>,
    timeline: Vec<(String, String, Value)>,
    next: Option<(EscalateIncident, Timestamp)>,
    queued: Mutex<usize>,
}

#[async_trait::async_trait]
impl IncidentWork for StepWork {
    async fn run(&self, tx: &mut dyn IncidentTx) -> StorageResult<()> {
        let mut incident = tx.incident(self.job.incident_id).await?;
        // The fence: a later epoch (acknowledged, resolved, reopened) or a step already taken.
        if incident.status != IncidentStatus::Triggered
            || incident.escalation_epoch != self.job.epoch
            || incident.escalation_step >= self.job.step
        {
            return Ok(());
        }
        let mut queued = 0;
        for notification in &self.notifications {
            if tx.insert_notification(notification).await? {
                queued += 1;
            }
        }
        for (kind, message, details) in &self.timeline {
            tx.append_timeline(&NewTimelineEntry {
                incident_id: incident.id,
                at: self.now,
                kind: kind.clone(),
                actor: None,
                message: message.clone(),
                details: details.clone(),
            })
            .await?;
        }
        if let Some((next, at)) = &self.next {
            tx.enqueue_job(&next.new_job(*at)).await?;
        }
        incident.escalation_step = self.job.step;
        tx.update_incident(&incident).await?;
        if let Ok(mut count) = self.queued.lock() {
            *count = queued;
        }
        Ok(())
    }
}

/// Run one escalation step; returns how many notifications it queued (0 when fenced off).
pub async fn run_step(core: &Core, job: &EscalateIncident) -> CoreResult<usize> {
    let Some(incident) = core.storage.incident_by_id(job.incident_id).await? else {
        return Ok(0);
    };
    if incident.status != IncidentStatus::Triggered
        || incident.escalation_epoch != job.epoch
        || incident.escalation_step >= job.step
    {
        return Ok(0);
    }
    let now = core.now();
    let mut work = StepWork {
        job: job.clone(),
        now,
        notifications: Vec::new(),
        timeline: Vec::new(),
        next: None,
        queued: Mutex::new(0),
    };
    match policy_of(core, &incident).await? {
        None => {
            if job.step == 1 {
                work.timeline.push((
                    "escalation.none".into(),
                    format!(
                        "Nobody was paged: service {} has no escalation policy",
                        incident.service_slug
                    ),
                    Value::Null,
                ));
            }
        }
        Some((policy, spec)) => plan_step(core, &incident, &policy, &spec, &mut work).await?,
    }
    core.storage.run_incident_work(&work).await?;
    let queued = work.queued.into_inner().unwrap_or_else(|p| p.into_inner());
    if queued > 0 {
        core.outbox.notify_one();
    }
    Ok(queued)
}

async fn plan_step(
    core: &Core,
    incident: &Incident,
    policy: &upkeep_storage::EscalationPolicy,
    spec: &PolicySpec,
    work: &mut StepWork,
) -> CoreResult<()> {
    let levels = spec.levels.len().max(1) as i64;
    let index = work.job.step - 1;
    let (round, level_index) = (index / levels, (index % levels) as usize);
    if round > i64::from(spec.repeat) {
        work.timeline.push((
            "escalation.exhausted".into(),
            format!(
                "Escalation policy {} ran out of levels and repeats; nobody acknowledged",
                policy.name
            ),
            Value::Null,
        ));
        return Ok(());
    }
    let Some(level) = spec.levels.get(level_index) else {
        return Ok(());
    };
    let turn = usize::try_from(incident.id + round).unwrap_or(0);
    let people = level_people(core, level, Some(turn), work.now).await?;
    let ids: Vec<i64> = people.people.iter().map(|(id, _)| *id).collect();
    let methods = core.storage.contact_methods_for_users(&ids).await?;
    let rules = core.storage.notification_rules_for_users(&ids).await?;
    let mut paged = BTreeMap::new();
    let mut unreachable = Vec::new();
    for (user_id, why) in &people.people {
        let own_methods: Vec<_> = methods
            .iter()
            .filter(|m| m.user_id == *user_id)
            .cloned()
            .collect();
        let own_rules: Vec<_> = rules
            .iter()
            .filter(|r| r.user_id == *user_id)
            .cloned()
            .collect();
        let plan = crate::contacts::rules_or_default(*user_id, &own_methods, &own_rules);
        if plan.is_empty() {
            unreachable.push(*user_id);
            continue;
        }
        for (method_id, delay) in plan {
            let Some(method) = own_methods.iter().find(|m| m.id == method_id) else {
                continue;
            };
            let reason = format!(
                "Service {} · escalation policy {} · level {} of {}{} · {} · your rule: {} {}",
                incident.service_slug,
                policy.name,
                level_index + 1,
                levels,
                if round > 0 {
                    format!(" (repeat {round})")
                } else {
                    String::new()
                },
                why,
                method.kind,
                if delay.is_zero() {
                    "at once".to_string()
                } else {
                    format!("after {}s", delay.as_secs())
                },
            );
            let key = format!(
                "page:{}:{}:{}:{}:{}",
                incident.id, work.job.epoch, work.job.step, user_id, method.id
            );
            work.notifications.push(NewNotification {
                incident_id: incident.id,
                user_id: Some(*user_id),
                contact_method_id: Some(method.id),
                channel_kind: method.kind.clone(),
                idempotency_key: key.clone(),
                payload: notification_payload(core, incident, &reason, &key),
                reason,
                deliver_at: crate::clock::add(work.now, delay),
            });
            paged.insert(*user_id, why.clone());
        }
    }
    let mut message = format!(
        "Escalation level {} of {} (policy {}{}): ",
        level_index + 1,
        levels,
        policy.name,
        if round > 0 {
            format!(", repeat {round}")
        } else {
            String::new()
        }
    );
    if paged.is_empty() {
        message.push_str("nobody reachable");
    } else {
        let names: Vec<String> = paged
            .iter()
            .map(|(id, why)| format!("user {id} ({why})"))
            .collect();
        message.push_str(&format!("paging {}", names.join(", ")));
    }
    let mut problems = people.problems.clone();
    problems.extend(
        unreachable
            .iter()
            .map(|id| format!("user {id} has no verified contact method")),
    );
    if !problems.is_empty() {
        message.push_str(&format!("; {}", problems.join("; ")));
    }
    work.timeline.push((
        if paged.is_empty() {
            "escalation.gap".into()
        } else {
            "escalation.level".into()
        },
        message,
        json!({ "level": level_index + 1, "round": round, "step": work.job.step }),
    ));
    // Nobody reachable at this level: go on to the next one at once instead of waiting.
    let wait = if paged.is_empty() {
        Duration::ZERO
    } else {
        spec.level_delay(level_index)
    };
    work.next = Some((
        EscalateIncident {
            incident_id: incident.id,
            epoch: work.job.epoch,
            step: work.job.step + 1,
        },
        crate::clock::add(work.now, wait),
    ));
    Ok(())
}

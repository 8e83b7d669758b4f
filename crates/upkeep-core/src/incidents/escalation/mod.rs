//! Escalation policies: ordered levels of people and on-call schedules, each with a delay before the next
//! level, repeated a number of times, with notify-all or round-robin per level and an optional
//! acknowledgement timeout (an acknowledged incident not resolved in time is triggered again).
//!
//! The policy runs as durable jobs ([`steps`]): every step carries the incident's escalation epoch and
//! its step number; the step checks both inside the transaction that queues its notifications and moves
//! the incident's `escalation_step` forward, so a duplicated or retried job pages nobody twice and a
//! crash between steps resumes where it stopped.

pub mod steps;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use upkeep_storage::{
    AuditContext, EscalationPolicy, NewEscalationPolicy, Page, PageRequest, ServiceEscalation,
};

use crate::config::parse_duration;
use crate::{Core, CoreError, CoreResult};

/// Most levels a policy may have, and most repeats of the whole policy.
pub const MAX_LEVELS: usize = 20;
pub const MAX_REPEAT: u32 = 9;

/// A policy as people write it (API body, CLI file) and as it is stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    pub levels: Vec<LevelSpec>,
    /// How many times the whole policy runs again after its last level when nobody acknowledges.
    #[serde(default)]
    pub repeat: u32,
    /// An acknowledged incident not resolved within this long (e.g. `30m`) is triggered again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_timeout: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LevelSpec {
    /// How long to wait for an acknowledgement before the next level, e.g. `10m` (1m to 24h).
    pub delay: String,
    pub targets: Vec<Target>,
    #[serde(default)]
    pub mode: LevelMode,
}

/// Whom a level pages.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    /// A user by id.
    User(i64),
    /// Whoever is on call for the schedule with this slug when the level runs.
    Schedule(String),
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LevelMode {
    /// Every target at once.
    #[default]
    All,
    /// One target per run of the level, taking turns across incidents and repeats.
    RoundRobin,
}

impl PolicySpec {
    /// The delay of `level` (validated specs only).
    pub fn level_delay(&self, level: usize) -> Duration {
        self.levels
            .get(level)
            .and_then(|level| parse_duration(&level.delay).ok())
            .unwrap_or(Duration::from_secs(600))
    }

    pub fn ack_timeout(&self) -> Option<Duration> {
        self.ack_timeout
            .as_deref()
            .and_then(|text| parse_duration(text).ok())
    }
}

/// Check a policy; errors name the field, e.g. `spec.levels[1].delay`.
pub async fn validate(core: &Core, spec: &PolicySpec) -> CoreResult<()> {
    if spec.levels.is_empty() || spec.levels.len() > MAX_LEVELS {
        return Err(CoreError::validation(
            "spec.levels",
            format!("a policy needs 1 to {MAX_LEVELS} levels"),
        ));
    }
    if spec.repeat > MAX_REPEAT {
        return Err(CoreError::validation(
            "spec.repeat",
            format!("repeat at most {MAX_REPEAT} times"),
        ));
    }
    if let Some(timeout) = &spec.ack_timeout {
        let parsed = parse_duration(timeout)
            .map_err(|err| CoreError::validation("spec.ack_timeout", err))?;
        if parsed < Duration::from_secs(60) || parsed > Duration::from_secs(7 * 86_400) {
            return Err(CoreError::validation(
                "spec.ack_timeout",
                "between 1m and 7d",
            ));
        }
    }
    for (index, level) in spec.levels.iter().enumerate() {
        let field = |name: &str| format!("spec.levels[{index}].{name}");
        let delay = parse_duration(&level.delay)
            .map_err(|err| CoreError::validation(field("delay"), err))?;
        if delay < Duration::from_secs(60) || delay > Duration::from_secs(86_400) {
            return Err(CoreError::validation(field("delay"), "between 1m and 24h"));
        }
        if level.targets.is_empty() {
            return Err(CoreError::validation(
                field("targets"),
                "a level needs at least one user or schedule",
            ));
        }
        for (target_index, target) in level.targets.iter().enumerate() {
            let target_field = format!("spec.levels[{index}].targets[{target_index}]");
            match target {
                Target::User(id) => {
                    if core.storage.user_by_id(*id).await?.is_none() {
                        return Err(CoreError::validation(
                            target_field,
                            format!("no user with id {id}"),
                        ));
                    }
                }
                Target::Schedule(slug) => {
                    crate::oncall::service::schedule(core, slug)
                        .await
                        .map_err(|_| {
                            CoreError::validation(target_field, format!("no schedule {slug:?}"))
                        })?;
                }
            }
        }
    }
    Ok(())
}

/// The stored spec of a policy.
pub fn spec_of(policy: &EscalationPolicy) -> CoreResult<PolicySpec> {
    serde_json::from_value(policy.spec.clone()).map_err(|err| {
        CoreError::Internal(format!(
            "escalation policy {} has an invalid stored spec: {err}",
            policy.slug
        ))
    })
}

fn spec_value(spec: &PolicySpec) -> CoreResult<serde_json::Value> {
    serde_json::to_value(spec)
        .map_err(|err| CoreError::Internal(format!("policy spec does not serialise: {err}")))
}

pub async fn create(
    core: &Core,
    ctx: &AuditContext,
    slug: &str,
    name: &str,
    spec: &PolicySpec,
) -> CoreResult<EscalationPolicy> {
    let slug = crate::catalog::validate_slug("slug", slug)?;
    let name = if name.trim().is_empty() {
        slug.clone()
    } else {
        name.trim().to_string()
    };
    validate(core, spec).await?;
    Ok(core
        .storage
        .create_escalation_policy(
            ctx,
            NewEscalationPolicy {
                slug,
                name,
                spec: spec_value(spec)?,
            },
        )
        .await?)
}

pub async fn policy(core: &Core, slug: &str) -> CoreResult<EscalationPolicy> {
    core.storage
        .escalation_policy_by_slug(slug)
        .await?
        .ok_or_else(|| CoreError::not_found(format!("escalation policy {slug} not found")))
}

pub async fn list(core: &Core, page: PageRequest) -> CoreResult<Page<EscalationPolicy>> {
    Ok(core.storage.list_escalation_policies(page).await?)
}

pub async fn update(
    core: &Core,
    ctx: &AuditContext,
    slug: &str,
    name: Option<&str>,
    spec: &PolicySpec,
) -> CoreResult<EscalationPolicy> {
    let existing = policy(core, slug).await?;
    validate(core, spec).await?;
    let name = name
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .unwrap_or(&existing.name)
        .to_string();
    Ok(core
        .storage
        .update_escalation_policy(ctx, existing.id, &name, &spec_value(spec)?)
        .await?)
}

pub async fn delete(core: &Core, ctx: &AuditContext, slug: &str) -> CoreResult<()> {
    let existing = policy(core, slug).await?;
    Ok(core
        .storage
        .delete_escalation_policy(ctx, existing.id)
        .await?)
}

/// Point a service at a policy (or none) and set its runbook link.
pub async fn set_for_service(
    core: &Core,
    ctx: &AuditContext,
    service_slug: &str,
    policy_slug: Option<&str>,
    runbook_url: Option<String>,
) -> CoreResult<ServiceEscalation> {
    let service = crate::catalog::service(core, service_slug).await?;
    let policy_id = match policy_slug {
        Some(slug) => Some(
            policy(core, slug)
                .await
                .map_err(|_| {
                    CoreError::validation(
                        "escalation_policy",
                        format!("no escalation policy {slug:?}"),
                    )
                })?
                .id,
        ),
        None => None,
    };
    let runbook_url = runbook_url
        .map(|url| url.trim().to_string())
        .filter(|url| !url.is_empty());
    if let Some(url) = &runbook_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(CoreError::validation(
            "runbook_url",
            "must be an http:// or https:// URL",
        ));
    }
    Ok(core
        .storage
        .set_service_escalation(ctx, service.id, policy_id, runbook_url)
        .await?)
}

/// What is wrong with a policy right now: levels nobody would be paged at (no one on call, people with
/// no verified contact method). Shown on its page and in the API.
pub async fn gaps(core: &Core, policy: &EscalationPolicy) -> CoreResult<Vec<String>> {
    let spec = spec_of(policy)?;
    let now = core.now();
    let mut gaps = Vec::new();
    for (index, level) in spec.levels.iter().enumerate() {
        let people = steps::level_people(core, level, None, now).await?;
        if people.people.is_empty() {
            gaps.push(format!(
                "level {}: nobody to page ({})",
                index + 1,
                people.problems.join("; ")
            ));
            continue;
        }
        let ids: Vec<i64> = people.people.iter().map(|(id, _)| *id).collect();
        let methods = core.storage.contact_methods_for_users(&ids).await?;
        for (user_id, _) in &people.people {
            if !methods
                .iter()
                .any(|method| method.user_id == *user_id && method.verified)
            {
                gaps.push(format!(
                    "level {}: user {user_id} has no verified contact method",
                    index + 1
                ));
            }
        }
        for problem in people.problems {
            gaps.push(format!("level {}: {problem}", index + 1));
        }
    }
    Ok(gaps)
}

//! Schedules as a product feature: storing them (validated by the engine, errors naming `spec.…` fields),
//! answering "who is on call now or at T, and why", the final shifts of a range, the warnings a schedule
//! page shows (gaps with nobody on call, participants who cannot be paged), and the iCalendar feeds.
//!
//! People are referred to by user id in a spec. Creating or changing a schedule refuses ids of users that
//! do not exist; a user deleted or disabled later is flagged by [`coverage`] and is never returned by
//! [`users_on_call`], the function the escalation engine pages through.

mod evaluate;
mod feeds;

use std::collections::{BTreeMap, HashMap};

use jiff::{SignedDuration, Timestamp};
use upkeep_storage::{
    AuditContext, NewSchedule, Page, PageRequest, ScheduleChanges, ScheduleRecord, User,
};

pub use evaluate::{
    Coverage, Gap, NamedShift, OnCallNow, ParticipantIssue, ParticipantProblem, check_range,
    coverage_of, gaps, on_call_in, on_call_now, reason, shifts, shifts_in, users_on_call, warnings,
};
pub use feeds::{feed_range, my_calendar_url, schedule_feed, schedule_feed_url, user_feed};

use super::{InvalidSchedule, OverrideAction, ScheduleSpec};
use crate::identity::random_secret;
use crate::{Core, CoreError, CoreResult, catalog};

/// Longest range [`shifts`] and [`coverage`] evaluate.
pub const MAX_RANGE: SignedDuration = SignedDuration::from_hours(366 * 24);
/// How far ahead a schedule's page and API view look for gaps.
pub const WARNING_WINDOW: SignedDuration = SignedDuration::from_hours(28 * 24);
const MAX_NAME: usize = 200;
/// Letters and digits in a feed token.
const FEED_TOKEN_LEN: usize = 32;

/// A new schedule; `team` is a team slug.
#[derive(Debug, Clone)]
pub struct ScheduleInput {
    pub slug: String,
    /// Defaults to the slug.
    pub name: Option<String>,
    pub team: Option<String>,
    pub spec: ScheduleSpec,
}

/// A change; `None` keeps a field, `team: Some(None)` removes the team.
#[derive(Debug, Clone, Default)]
pub struct ScheduleUpdate {
    pub name: Option<String>,
    pub team: Option<Option<String>>,
    pub spec: Option<ScheduleSpec>,
}

/// A stored schedule with its spec read back.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSchedule {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub team_id: Option<i64>,
    /// The slug of `team_id`.
    pub team_slug: Option<String>,
    pub spec: ScheduleSpec,
    /// The secret of the schedule's feed URL ([`schedule_feed_url`]).
    pub feed_token: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Users known by id: `None` for an id no user has.
pub type People = HashMap<i64, Option<User>>;

/// What people read for a user: the name, or `user 7` when the user is gone.
pub fn display_name(people: &People, user_id: i64) -> String {
    match people.get(&user_id) {
        Some(Some(user)) => user_label(user),
        _ => format!("user {user_id}"),
    }
}

/// A user's name, or their email when the name is empty.
pub fn user_label(user: &User) -> String {
    if user.name.trim().is_empty() {
        user.email.clone()
    } else {
        user.name.clone()
    }
}

/// The engine's problems as one validation error on `spec.<field>` (the others follow in the message).
fn spec_error(invalid: InvalidSchedule) -> CoreError {
    let mut errors = invalid.errors.into_iter();
    let Some(first) = errors.next() else {
        return CoreError::validation("spec", "is not a valid schedule");
    };
    let rest: Vec<String> = errors
        .map(|error| format!("spec.{}: {}", error.field, error.message))
        .collect();
    let message = if rest.is_empty() {
        first.message
    } else {
        format!("{}; also {}", first.message, rest.join("; "))
    };
    CoreError::validation(format!("spec.{}", first.field), message)
}

/// Every user id the spec names, with the fields naming it, in field order.
fn references(spec: &ScheduleSpec) -> BTreeMap<i64, Vec<String>> {
    let mut found: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for (layer_index, layer) in spec.layers.iter().enumerate() {
        for (index, &user_id) in layer.rotation.participants.iter().enumerate() {
            found.entry(user_id).or_default().push(format!(
                "spec.layers[{layer_index}].rotation.participants[{index}]"
            ));
        }
    }
    for (index, item) in spec.overrides.iter().enumerate() {
        let path = format!("spec.overrides[{index}].action");
        let mut add = |field: &str, user_id: i64| {
            found
                .entry(user_id)
                .or_default()
                .push(format!("{path}.{field}"));
        };
        match item.action {
            OverrideAction::Add { user_id } | OverrideAction::Remove { user_id } => {
                add("user_id", user_id);
            }
            OverrideAction::Replace {
                user_id,
                with_user_id,
            } => {
                if let Some(user_id) = user_id {
                    add("user_id", user_id);
                }
                add("with_user_id", with_user_id);
            }
        }
    }
    found
}

/// Look users up by id.
pub async fn people(core: &Core, ids: &[i64]) -> CoreResult<People> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut people = People::new();
    for id in ids {
        let user = core.storage.user_by_id(id).await?;
        people.insert(id, user);
    }
    Ok(people)
}

/// Check a spec with the engine, then that every user it names exists.
async fn check_spec(core: &Core, spec: &ScheduleSpec) -> CoreResult<serde_json::Value> {
    super::validate(spec).map_err(spec_error)?;
    for (user_id, fields) in references(spec) {
        if core.storage.user_by_id(user_id).await?.is_none() {
            let field = fields.into_iter().next().unwrap_or_else(|| "spec".into());
            return Err(CoreError::validation(
                field,
                format!("no user with id {user_id}"),
            ));
        }
    }
    serde_json::to_value(spec)
        .map_err(|err| CoreError::Internal(format!("cannot store a schedule spec: {err}")))
}

fn check_name(name: Option<&str>, slug: &str) -> CoreResult<String> {
    let name = name.unwrap_or("").trim();
    if name.chars().count() > MAX_NAME {
        return Err(CoreError::validation(
            "name",
            format!("must be at most {MAX_NAME} characters"),
        ));
    }
    Ok(if name.is_empty() { slug } else { name }.to_string())
}

async fn team_id(core: &Core, slug: &str) -> CoreResult<i64> {
    core.storage
        .team_by_slug(slug)
        .await?
        .map(|team| team.id)
        .ok_or_else(|| CoreError::validation("team", format!("no team with slug {slug}")))
}

fn stored(record: ScheduleRecord) -> CoreResult<StoredSchedule> {
    let spec = serde_json::from_value(record.spec).map_err(|err| {
        CoreError::Internal(format!(
            "the stored spec of schedule {} does not read back: {err}",
            record.slug
        ))
    })?;
    Ok(StoredSchedule {
        id: record.id,
        slug: record.slug,
        name: record.name,
        team_id: record.team_id,
        team_slug: record.team_slug,
        spec,
        feed_token: record.feed_token,
        created_at: record.created_at,
        updated_at: record.updated_at,
    })
}

pub async fn create_schedule(
    core: &Core,
    ctx: &AuditContext,
    input: ScheduleInput,
) -> CoreResult<StoredSchedule> {
    let slug = catalog::validate_slug("slug", input.slug.trim())?;
    let name = check_name(input.name.as_deref(), &slug)?;
    let team_id = match input.team.as_deref() {
        Some(team) => Some(team_id(core, team).await?),
        None => None,
    };
    let spec = check_spec(core, &input.spec).await?;
    let record = core
        .storage
        .create_schedule(
            ctx,
            NewSchedule {
                slug,
                name,
                team_id,
                spec,
                feed_token: random_secret(FEED_TOKEN_LEN),
            },
        )
        .await?;
    stored(record)
}

pub async fn schedule(core: &Core, slug: &str) -> CoreResult<StoredSchedule> {
    let record = core
        .storage
        .schedule_by_slug(slug)
        .await?
        .ok_or_else(|| CoreError::not_found(format!("no schedule with slug {slug}")))?;
    stored(record)
}

pub async fn schedule_by_id(core: &Core, id: i64) -> CoreResult<StoredSchedule> {
    let record = core
        .storage
        .schedule_by_id(id)
        .await?
        .ok_or_else(|| CoreError::not_found(format!("no schedule with id {id}")))?;
    stored(record)
}

/// Oldest first.
pub async fn list_schedules(core: &Core, page: PageRequest) -> CoreResult<Page<StoredSchedule>> {
    let page = core.storage.list_schedules(page).await?;
    let items = page
        .items
        .into_iter()
        .map(stored)
        .collect::<CoreResult<Vec<_>>>()?;
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

pub async fn update_schedule(
    core: &Core,
    ctx: &AuditContext,
    slug: &str,
    update: ScheduleUpdate,
) -> CoreResult<StoredSchedule> {
    let existing = schedule(core, slug).await?;
    let name = match update.name.as_deref() {
        Some(name) => Some(check_name(Some(name), &existing.slug)?),
        None => None,
    };
    let team_id = match update.team {
        Some(Some(team)) => Some(Some(team_id(core, &team).await?)),
        Some(None) => Some(None),
        None => None,
    };
    let spec = match &update.spec {
        Some(spec) => Some(check_spec(core, spec).await?),
        None => None,
    };
    let changes = ScheduleChanges {
        name,
        team_id,
        spec,
    };
    let record = core
        .storage
        .update_schedule(ctx, existing.id, changes)
        .await?;
    stored(record)
}

pub async fn delete_schedule(core: &Core, ctx: &AuditContext, slug: &str) -> CoreResult<()> {
    let existing = schedule(core, slug).await?;
    Ok(core.storage.delete_schedule(ctx, existing.id).await?)
}

/// Give the schedule a new feed URL; the old one stops working.
pub async fn rotate_feed_token(
    core: &Core,
    ctx: &AuditContext,
    slug: &str,
) -> CoreResult<StoredSchedule> {
    let existing = schedule(core, slug).await?;
    let record = core
        .storage
        .rotate_schedule_feed_token(ctx, existing.id, &random_secret(FEED_TOKEN_LEN))
        .await?;
    stored(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oncall::{FieldError, Source};

    fn spec(json: serde_json::Value) -> ScheduleSpec {
        serde_json::from_value(json).unwrap_or_else(|err| panic!("spec: {err}"))
    }

    #[test]
    fn engine_errors_name_the_spec_field() {
        let invalid = InvalidSchedule {
            errors: vec![
                FieldError {
                    field: "layers[0].rotation.handoff_time".into(),
                    message: "\"25:00\" is not a time of day (HH:MM)".into(),
                },
                FieldError {
                    field: "time_zone".into(),
                    message: "unknown".into(),
                },
            ],
        };
        match spec_error(invalid) {
            CoreError::Validation { field, message } => {
                assert_eq!(field, "spec.layers[0].rotation.handoff_time");
                assert!(
                    message.ends_with("also spec.time_zone: unknown"),
                    "{message}"
                );
            }
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn references_list_every_field_naming_a_user() {
        let spec = spec(serde_json::json!({
            "time_zone": "UTC",
            "layers": [{"name": "A", "rotation": {"kind": "daily", "participants": [1, 2, 1],
                "start_date": "2026-01-01", "handoff_time": "09:00"}}],
            "overrides": [{"start": "2026-01-02T00:00:00Z", "end": "2026-01-03T00:00:00Z",
                "action": {"kind": "replace", "user_id": 2, "with_user_id": 3}}]
        }));
        let found = references(&spec);
        assert_eq!(
            found.get(&1).map(Vec::as_slice),
            Some(
                &[
                    "spec.layers[0].rotation.participants[0]".to_string(),
                    "spec.layers[0].rotation.participants[2]".to_string()
                ][..]
            )
        );
        assert_eq!(found.get(&2).map(Vec::len), Some(2));
        assert_eq!(
            found.get(&3).map(Vec::as_slice),
            Some(&["spec.overrides[0].action.with_user_id".to_string()][..])
        );
    }

    #[test]
    fn reasons_read_as_words() {
        let people = People::new();
        let layer = Source::Layer {
            index: 1,
            name: "Weekdays".into(),
        };
        assert_eq!(
            reason("Primary", &layer, &people),
            "schedule Primary, layer \"Weekdays\""
        );
        let replace = Source::Override {
            index: 0,
            action: OverrideAction::Replace {
                user_id: Some(7),
                with_user_id: 8,
            },
        };
        assert_eq!(
            reason("Primary", &replace, &people),
            "schedule Primary, override #1 (replaces user 7)"
        );
    }

    #[test]
    fn feeds_start_on_the_monday_of_the_week_before() {
        let at = |text: &str| text.parse::<Timestamp>().unwrap_or(Timestamp::UNIX_EPOCH);
        let (from, to) = feed_range(at("2026-03-29T01:15:00Z"));
        assert_eq!(from, at("2026-03-16T00:00:00Z"));
        assert_eq!(to, at("2026-05-25T00:00:00Z"));
        let (from, _) = feed_range(at("2026-03-30T00:00:00Z"));
        assert_eq!(from, at("2026-03-23T00:00:00Z"));
    }
}

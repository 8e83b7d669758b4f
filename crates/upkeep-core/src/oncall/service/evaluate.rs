//! Evaluating stored schedules with the engine: who is on call (with the reason in words), the final
//! shifts of a range, and the warnings (gaps, participants who cannot be paged).

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use upkeep_storage::User;

use super::{
    MAX_RANGE, People, StoredSchedule, WARNING_WINDOW, display_name, people, references, schedule,
    schedule_by_id,
};
use crate::oncall::{OverrideAction, Schedule, Source};
use crate::{Core, CoreError, CoreResult};

/// How far ahead [`on_call_in`] looks for the end of a current shift.
const UNTIL_HORIZON: SignedDuration = SignedDuration::from_hours(35 * 24);

/// Someone on call at an instant, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OnCallNow {
    pub user_id: i64,
    /// None when no user has this id any more.
    pub user: Option<User>,
    pub source: Source,
    /// E.g. `schedule Primary, layer "Weekdays"`.
    pub reason: String,
    /// When this shift ends, if within 35 days.
    pub until: Option<Timestamp>,
}

/// A final shift with the person's record and the reason in words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamedShift {
    pub user_id: i64,
    pub user: Option<User>,
    pub start: Timestamp,
    pub end: Timestamp,
    pub source: Source,
    pub reason: String,
}

/// A span with nobody on call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Gap {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// Why a participant cannot be paged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantIssue {
    /// No user has this id (deleted since the schedule was saved).
    UnknownUser,
    /// The user's account is disabled.
    DisabledUser,
}

/// A participant who cannot be paged, and every place the spec names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParticipantProblem {
    pub user_id: i64,
    pub issue: ParticipantIssue,
    /// E.g. `spec.layers[0].rotation.participants[1]`.
    pub fields: Vec<String>,
}

/// What a schedule's page warns about for `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coverage {
    pub from: Timestamp,
    pub to: Timestamp,
    pub gaps: Vec<Gap>,
    pub participants: Vec<ParticipantProblem>,
}

impl Coverage {
    pub fn is_clean(&self) -> bool {
        self.gaps.is_empty() && self.participants.is_empty()
    }
}

/// The engine's prepared form of a stored spec.
pub(super) fn engine(schedule: &StoredSchedule) -> CoreResult<Schedule> {
    Schedule::new(&schedule.spec).map_err(|invalid| {
        CoreError::Internal(format!(
            "the stored spec of schedule {} is not valid: {invalid}",
            schedule.slug
        ))
    })
}

/// Why someone is on call, in words: `schedule Primary, layer "Weekdays"`,
/// `schedule Primary, override #2 (replaces Bo)`.
pub fn reason(schedule_name: &str, source: &Source, people: &People) -> String {
    match source {
        Source::Layer { name, .. } => format!("schedule {schedule_name}, layer \"{name}\""),
        Source::Override { index, action } => {
            let what = match action {
                OverrideAction::Add { .. } => "added".to_string(),
                OverrideAction::Remove { .. } => "removed".to_string(),
                OverrideAction::Replace {
                    user_id: Some(user_id),
                    ..
                } => format!("replaces {}", display_name(people, *user_id)),
                OverrideAction::Replace { user_id: None, .. } => "replaces everyone".to_string(),
            };
            format!(
                "schedule {schedule_name}, override #{} ({what})",
                index.saturating_add(1)
            )
        }
    }
}

/// The user ids a source names besides the one on call (the replaced user), for [`reason`].
pub(super) fn named_by(source: &Source) -> Option<i64> {
    match source {
        Source::Override {
            action:
                OverrideAction::Replace {
                    user_id: Some(user_id),
                    ..
                },
            ..
        } => Some(*user_id),
        _ => None,
    }
}

/// Who is on call in `schedule` at `at`, and why.
pub async fn on_call_in(
    core: &Core,
    schedule: &StoredSchedule,
    at: Timestamp,
) -> CoreResult<Vec<OnCallNow>> {
    let engine = engine(schedule)?;
    let entries = engine.on_call_at(at);
    let horizon = at.checked_add(UNTIL_HORIZON).unwrap_or(Timestamp::MAX);
    let ahead = engine.shifts(at, horizon);
    let ids = entries
        .iter()
        .flat_map(|entry| [Some(entry.user_id), named_by(&entry.source)])
        .flatten()
        .collect::<Vec<i64>>();
    let people = people(core, &ids).await?;
    Ok(entries
        .into_iter()
        .map(|entry| {
            let until = ahead
                .iter()
                .find(|shift| {
                    shift.start == at
                        && shift.user_id == entry.user_id
                        && shift.source == entry.source
                })
                .map(|shift| shift.end)
                .filter(|end| *end < horizon);
            OnCallNow {
                user_id: entry.user_id,
                user: people.get(&entry.user_id).cloned().flatten(),
                reason: reason(&schedule.name, &entry.source, &people),
                source: entry.source,
                until,
            }
        })
        .collect())
}

/// Who is on call in the schedule `slug` at `at`, and why.
pub async fn on_call_now(core: &Core, slug: &str, at: Timestamp) -> CoreResult<Vec<OnCallNow>> {
    on_call_in(core, &schedule(core, slug).await?, at).await
}

/// The users to page for schedule `schedule_id` at `at`, each with the reason to give them, e.g.
/// `schedule Primary, layer "Weekdays"`. Users that no longer exist or are disabled are left out (the
/// schedule's page flags them). An unknown schedule id is not found.
pub async fn users_on_call(
    core: &Core,
    schedule_id: i64,
    at: Timestamp,
) -> CoreResult<Vec<(i64, String)>> {
    let schedule = schedule_by_id(core, schedule_id).await?;
    let entries = engine(&schedule)?.on_call_at(at);
    let ids = entries
        .iter()
        .flat_map(|entry| [Some(entry.user_id), named_by(&entry.source)])
        .flatten()
        .collect::<Vec<i64>>();
    let people = people(core, &ids).await?;
    Ok(entries
        .iter()
        .filter(|entry| {
            people
                .get(&entry.user_id)
                .is_some_and(|user| user.as_ref().is_some_and(|user| !user.disabled))
        })
        .map(|entry| {
            (
                entry.user_id,
                reason(&schedule.name, &entry.source, &people),
            )
        })
        .collect())
}

/// Refuse ranges that are empty, reversed or longer than [`MAX_RANGE`].
pub fn check_range(from: Timestamp, to: Timestamp) -> CoreResult<()> {
    if to <= from {
        return Err(CoreError::validation("to", "must be after from"));
    }
    if from.duration_until(to) > MAX_RANGE {
        return Err(CoreError::validation(
            "to",
            "the range may be at most 366 days long",
        ));
    }
    Ok(())
}

/// The final shifts of `schedule` overlapping `[from, to)`, clipped to it, with names and reasons.
pub async fn shifts_in(
    core: &Core,
    schedule: &StoredSchedule,
    from: Timestamp,
    to: Timestamp,
) -> CoreResult<Vec<NamedShift>> {
    check_range(from, to)?;
    let shifts = engine(schedule)?.shifts(from, to);
    let ids = shifts
        .iter()
        .flat_map(|shift| [Some(shift.user_id), named_by(&shift.source)])
        .flatten()
        .collect::<Vec<i64>>();
    let people = people(core, &ids).await?;
    Ok(shifts
        .into_iter()
        .map(|shift| NamedShift {
            user_id: shift.user_id,
            user: people.get(&shift.user_id).cloned().flatten(),
            reason: reason(&schedule.name, &shift.source, &people),
            start: shift.start,
            end: shift.end,
            source: shift.source,
        })
        .collect())
}

/// The final shifts of the schedule `slug` in `[from, to)` (at most 366 days).
pub async fn shifts(
    core: &Core,
    slug: &str,
    from: Timestamp,
    to: Timestamp,
) -> CoreResult<Vec<NamedShift>> {
    shifts_in(core, &schedule(core, slug).await?, from, to).await
}

/// The warnings for `schedule` over `[from, to)`: spans with nobody on call, and participants who
/// cannot be paged (unknown or disabled users).
pub async fn coverage_of(
    core: &Core,
    schedule: &StoredSchedule,
    from: Timestamp,
    to: Timestamp,
) -> CoreResult<Coverage> {
    check_range(from, to)?;
    let gaps = engine(schedule)?
        .gaps(from, to)
        .into_iter()
        .map(|(start, end)| Gap { start, end })
        .collect();
    let references = references(&schedule.spec);
    let ids: Vec<i64> = references.keys().copied().collect();
    let people = people(core, &ids).await?;
    let participants = references
        .into_iter()
        .filter_map(|(user_id, fields)| {
            let issue = match people.get(&user_id) {
                Some(Some(user)) if !user.disabled => return None,
                Some(Some(_)) => ParticipantIssue::DisabledUser,
                _ => ParticipantIssue::UnknownUser,
            };
            Some(ParticipantProblem {
                user_id,
                issue,
                fields,
            })
        })
        .collect();
    Ok(Coverage {
        from,
        to,
        gaps,
        participants,
    })
}

/// The gaps and unpageable participants of the schedule `slug` in `[from, to)`.
pub async fn gaps(core: &Core, slug: &str, from: Timestamp, to: Timestamp) -> CoreResult<Coverage> {
    coverage_of(core, &schedule(core, slug).await?, from, to).await
}

/// The warnings a schedule's page shows: [`coverage_of`] the next [`WARNING_WINDOW`] from `now`.
pub async fn warnings(
    core: &Core,
    schedule: &StoredSchedule,
    now: Timestamp,
) -> CoreResult<Coverage> {
    let to = now.checked_add(WARNING_WINDOW).unwrap_or(Timestamp::MAX);
    coverage_of(core, schedule, now, to).await
}

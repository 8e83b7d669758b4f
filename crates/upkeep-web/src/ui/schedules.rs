//! `/schedules`: the on-call schedules with who is on call now, and a schedule's page — who is on call
//! and why, the warnings of the next four weeks (gaps, participants who cannot be paged), a calendar of
//! those weeks drawn as SVG, the layers and overrides, and the secret feed URL. Schedules are created
//! and changed through the API or the CLI for now; the pages say so.

use askama::Template;
use axum::extract::State;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use upkeep_core::identity::Capability;
use upkeep_core::oncall::service::{
    self, Coverage, OnCallNow, ParticipantIssue, People, StoredSchedule,
};
use upkeep_core::oncall::{RotationKind, Source};

use super::error::{UiPath, UiQuery, UiResult};
use super::schedules_calendar::{self as calendar, Bar, Calendar};
use super::shell::{Page, SignedIn, html};
use super::{ListQuery, Pager, page_request};
use crate::AppState;

/// Days the calendar shows.
const CALENDAR_DAYS: usize = 28;

pub struct ScheduleRow {
    pub slug: String,
    pub name: String,
    pub team: Option<String>,
    pub time_zone: String,
    pub on_call: String,
    pub warnings: usize,
}

#[derive(Template)]
#[template(path = "schedules.html")]
struct SchedulesPage {
    page: Page,
    rows: Vec<ScheduleRow>,
    pager: Pager,
    calendar_url: String,
}

pub struct OnCallRow {
    pub name: String,
    pub email: String,
    pub reason: String,
    pub until: String,
    pub disabled: bool,
}

pub struct LayerRow {
    pub name: String,
    pub rotation: String,
    pub participants: String,
    pub restrictions: String,
}

pub struct OverrideRow {
    pub when: String,
    pub what: String,
}

#[derive(Template)]
#[template(path = "schedule.html")]
struct SchedulePage {
    page: Page,
    schedule: StoredSchedule,
    on_call: Vec<OnCallRow>,
    warnings: Vec<String>,
    calendar: String,
    layers: Vec<LayerRow>,
    overrides: Vec<OverrideRow>,
    feed_url: String,
    spec_json: String,
}

fn tz_of(schedule: &StoredSchedule) -> TimeZone {
    TimeZone::get(&schedule.spec.time_zone).unwrap_or(TimeZone::UTC)
}

/// A time as read on the schedule's clock, e.g. `Mon 30 Mar 09:00 CEST`.
fn local(tz: &TimeZone, at: Timestamp) -> String {
    at.to_zoned(tz.clone())
        .strftime("%a %d %b %H:%M %Z")
        .to_string()
}

fn name_of(people: &People, user_id: i64) -> String {
    service::display_name(people, user_id)
}

fn on_call_rows(tz: &TimeZone, entries: Vec<OnCallNow>) -> Vec<OnCallRow> {
    entries
        .into_iter()
        .map(|entry| {
            let (name, email, disabled) = match &entry.user {
                Some(user) => (service::user_label(user), user.email.clone(), user.disabled),
                None => (
                    format!("user {} (deleted)", entry.user_id),
                    String::new(),
                    false,
                ),
            };
            OnCallRow {
                name,
                email,
                reason: entry.reason,
                until: entry
                    .until
                    .map(|until| format!("until {}", local(tz, until)))
                    .unwrap_or_default(),
                disabled,
            }
        })
        .collect()
}

/// The warnings as sentences.
fn warning_lines(tz: &TimeZone, coverage: &Coverage, people: &People) -> Vec<String> {
    let mut lines: Vec<String> = coverage
        .gaps
        .iter()
        .map(|gap| {
            format!(
                "Nobody is on call from {} to {}.",
                local(tz, gap.start),
                local(tz, gap.end)
            )
        })
        .collect();
    for problem in &coverage.participants {
        let who = match problem.issue {
            ParticipantIssue::UnknownUser => format!("User {} no longer exists", problem.user_id),
            ParticipantIssue::DisabledUser => {
                format!("{} is disabled", name_of(people, problem.user_id))
            }
        };
        lines.push(format!(
            "{who} and cannot be paged (named in {}).",
            problem.fields.join(", ")
        ));
    }
    lines
}

fn rotation_text(
    kind: RotationKind,
    length_hours: Option<u32>,
    handoff: &str,
    start: &str,
) -> String {
    let every = match kind {
        RotationKind::Hourly => "every hour".to_string(),
        RotationKind::Daily => "every day".to_string(),
        RotationKind::Weekly => "every week".to_string(),
        RotationKind::Custom => format!("every {} hours", length_hours.unwrap_or(0)),
    };
    format!("{every}, handoff at {handoff}, from {start}")
}

fn layer_rows(schedule: &StoredSchedule, people: &People) -> Vec<LayerRow> {
    schedule
        .spec
        .layers
        .iter()
        .map(|layer| LayerRow {
            name: layer.name.clone(),
            rotation: rotation_text(
                layer.rotation.kind,
                layer.rotation.length_hours,
                &layer.rotation.handoff_time,
                &layer.rotation.start_date,
            ),
            participants: layer
                .rotation
                .participants
                .iter()
                .map(|&id| format!("{} (#{id})", name_of(people, id)))
                .collect::<Vec<_>>()
                .join(" → "),
            restrictions: if layer.restrictions.is_empty() {
                "always".to_string()
            } else {
                layer
                    .restrictions
                    .iter()
                    .map(|r| {
                        let days = if r.days.is_empty() {
                            "every day".to_string()
                        } else {
                            r.days.join(",")
                        };
                        format!("{days} {}–{}", r.start, r.end)
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            },
        })
        .collect()
}

fn override_rows(tz: &TimeZone, schedule: &StoredSchedule, people: &People) -> Vec<OverrideRow> {
    use upkeep_core::oncall::OverrideAction;
    schedule
        .spec
        .overrides
        .iter()
        .map(|item| OverrideRow {
            when: format!("{} – {}", local(tz, item.start), local(tz, item.end)),
            what: match item.action {
                OverrideAction::Add { user_id } => format!("adds {}", name_of(people, user_id)),
                OverrideAction::Remove { user_id } => {
                    format!("takes {} off call", name_of(people, user_id))
                }
                OverrideAction::Replace {
                    user_id: Some(user_id),
                    with_user_id,
                } => format!(
                    "{} replaces {}",
                    name_of(people, with_user_id),
                    name_of(people, user_id)
                ),
                OverrideAction::Replace {
                    user_id: None,
                    with_user_id,
                } => format!("{} is the only one on call", name_of(people, with_user_id)),
            },
        })
        .collect()
}

/// Every user id a spec names.
fn named_users(schedule: &StoredSchedule) -> Vec<i64> {
    use upkeep_core::oncall::OverrideAction;
    let mut ids: Vec<i64> = schedule
        .spec
        .layers
        .iter()
        .flat_map(|layer| layer.rotation.participants.iter().copied())
        .collect();
    for item in &schedule.spec.overrides {
        match item.action {
            OverrideAction::Add { user_id } | OverrideAction::Remove { user_id } => {
                ids.push(user_id)
            }
            OverrideAction::Replace {
                user_id,
                with_user_id,
            } => ids.extend(user_id.into_iter().chain([with_user_id])),
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

pub async fn list(
    State(state): State<AppState>,
    signed: SignedIn,
    UiQuery(query): UiQuery<ListQuery>,
) -> UiResult {
    signed.require(Capability::Read)?;
    let core = &state.core;
    let cursor = query.cursor.as_deref();
    let schedules = service::list_schedules(core, page_request(cursor)?).await?;
    let now = core.now();
    let mut rows = Vec::with_capacity(schedules.items.len());
    for schedule in schedules.items {
        let on_call = service::on_call_in(core, &schedule, now).await?;
        let warnings = service::warnings(core, &schedule, now).await?;
        let names: Vec<String> = on_call
            .iter()
            .map(|entry| {
                entry
                    .user
                    .as_ref()
                    .map_or_else(|| format!("user {}", entry.user_id), service::user_label)
            })
            .collect();
        rows.push(ScheduleRow {
            on_call: if names.is_empty() {
                "nobody".to_string()
            } else {
                names.join(", ")
            },
            warnings: warnings.gaps.len() + warnings.participants.len(),
            slug: schedule.slug,
            name: schedule.name,
            team: schedule.team_slug,
            time_zone: schedule.spec.time_zone,
        });
    }
    let calendar_url = service::my_calendar_url(core, signed.principal.user.id).await?;
    Ok(html(&SchedulesPage {
        page: signed.page("oncall"),
        rows,
        pager: Pager::new("/schedules", cursor, schedules.next_cursor),
        calendar_url,
    }))
}

pub async fn show(
    State(state): State<AppState>,
    signed: SignedIn,
    UiPath(slug): UiPath<String>,
) -> UiResult {
    signed.require(Capability::Read)?;
    let core = &state.core;
    let schedule = service::schedule(core, &slug).await?;
    let tz = tz_of(&schedule);
    let now = core.now();
    let people = service::people(core, &named_users(&schedule)).await?;
    let on_call = on_call_rows(&tz, service::on_call_in(core, &schedule, now).await?);
    let warnings = service::warnings(core, &schedule, now).await?;

    // The calendar: whole local days from today.
    let first_day = now.to_zoned(tz.clone()).date();
    let from = first_day
        .to_zoned(tz.clone())
        .map(|zoned| zoned.timestamp())
        .unwrap_or(now);
    let to = from
        .checked_add(SignedDuration::from_hours(24 * (CALENDAR_DAYS as i64 + 1)))
        .unwrap_or(now);
    let shifts = service::shifts_in(core, &schedule, from, to).await?;
    let gaps: Vec<(Timestamp, Timestamp)> = service::coverage_of(core, &schedule, from, to)
        .await?
        .gaps
        .into_iter()
        .map(|gap| (gap.start, gap.end))
        .collect();
    let bars: Vec<Bar> = shifts
        .iter()
        .map(|shift| {
            let label = shift
                .user
                .as_ref()
                .map_or_else(|| format!("user {}", shift.user_id), service::user_label);
            let why = match &shift.source {
                Source::Layer { name, .. } => format!("layer \"{name}\""),
                Source::Override { .. } => shift
                    .reason
                    .split_once(", ")
                    .map_or(shift.reason.clone(), |(_, why)| why.to_string()),
            };
            Bar {
                user_id: shift.user_id,
                title: format!(
                    "{label}: {} – {} · {why}",
                    local(&tz, shift.start),
                    local(&tz, shift.end)
                ),
                label,
                start: shift.start,
                end: shift.end,
            }
        })
        .collect();
    let svg = calendar::render(&Calendar {
        time_zone: &tz,
        first_day,
        days: CALENDAR_DAYS,
        bars: &bars,
        gaps: &gaps,
        now,
    });
    let page = SchedulePage {
        page: signed.page("oncall"),
        on_call,
        warnings: warning_lines(&tz, &warnings, &people),
        calendar: svg,
        layers: layer_rows(&schedule, &people),
        overrides: override_rows(&tz, &schedule, &people),
        feed_url: service::schedule_feed_url(core, &schedule),
        spec_json: serde_json::to_string_pretty(&schedule.spec).unwrap_or_default(),
        schedule,
    };
    Ok(html(&page))
}

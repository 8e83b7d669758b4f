//! Maintenance windows: "keep checking but suppress alerts".
//!
//! A window belongs to a service (all its monitors) or to one monitor, and is one-off (`starts_at` to
//! `ends_at`) or recurring (a local start time `HH:MM`, a duration of at most 7 days, weekdays — none means
//! every day — an IANA time zone and optionally `until`).
//!
//! While a window is active, checks and pings are applied and recorded as usual and the real up/down state
//! machine keeps running (so a monitor that is still down when the window ends is down, and one that
//! recovered is up). What changes:
//! - state changes raised while a window covers the monitor are stored with `in_maintenance = true`, so the
//!   incidents domain does not page for them (the writer flags them per batch, see [`flag_events`]);
//! - the status shown by the API and the CLI is `maintenance` ([`effective_status`]); a paused monitor shows
//!   `paused`, which wins over maintenance.
//!
//! Time rules of recurring windows ([`active_at`]), all in the window's time zone:
//! - an occurrence belongs to the local day it starts on: `23:00` for `2h` on `mon` covers Monday 23:00 to
//!   Tuesday 01:00, and `days` is matched against Monday;
//! - the duration is elapsed time: `2h` is two real hours even when the clocks change inside it;
//! - a start time that does not exist (skipped by a spring-forward change, e.g. `02:30` in Europe/Berlin on
//!   the last Sunday of March) starts at the first valid instant after it, the moment of the change (03:00
//!   local), and still lasts the full duration;
//! - a start time that exists twice (fall-back) starts at its first occurrence;
//! - no occurrence starts at or after `until`; one that started before it runs to its end.

use std::collections::HashMap;

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use upkeep_storage::{
    AuditContext, MaintenanceFilter, MaintenanceKind, MaintenanceWindow, Monitor, MonitorStatus,
    MonitorWrite, NewMaintenanceWindow, Page, PageRequest,
};

use crate::{Core, CoreError, CoreResult, catalog, config};

/// Longest occurrence of a recurring window.
pub const MAX_RECURRING: SignedDuration = SignedDuration::from_hours(7 * 24);
/// Longest one-off window; anything longer is a pause, not maintenance.
pub const MAX_ONE_OFF: SignedDuration = SignedDuration::from_hours(31 * 24);
const MAX_TITLE: usize = 200;
const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Monday),
    ("tue", Weekday::Tuesday),
    ("wed", Weekday::Wednesday),
    ("thu", Weekday::Thursday),
    ("fri", Weekday::Friday),
    ("sat", Weekday::Saturday),
    ("sun", Weekday::Sunday),
];

/// A window as a person describes it (API body, CLI flags). The kind follows from the fields given:
/// `starts_at`/`ends_at` make a one-off window, `start`/`duration` (with `days`, `tz`, `until`) a
/// recurring one.
#[derive(Debug, Clone, Default)]
pub struct WindowSpec {
    /// Slug of the service (the window covers all its monitors).
    pub service: Option<String>,
    /// Id of the one monitor the window covers.
    pub monitor: Option<i64>,
    pub title: String,
    /// One-off: RFC 3339, e.g. `2025-06-01T22:00:00Z`.
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    /// Recurring: local start time, `HH:MM`.
    pub start: Option<String>,
    /// Recurring: e.g. `2h` (at most 7 days).
    pub duration: Option<String>,
    /// Recurring: `mon` … `sun` (or full names); empty means every day.
    pub days: Vec<String>,
    /// Recurring: IANA time zone (default UTC).
    pub tz: Option<String>,
    /// Recurring: RFC 3339; no occurrence starts at or after it.
    pub until: Option<String>,
}

/// The schedule part of a window, validated (everything but its target).
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedSchedule {
    pub kind: MaintenanceKind,
    pub starts_at: Option<Timestamp>,
    pub ends_at: Option<Timestamp>,
    pub start_time: Option<String>,
    pub duration_ms: Option<i64>,
    pub days: Vec<String>,
    pub tz: Option<String>,
    pub until: Option<Timestamp>,
}

fn parse_instant(field: &str, text: &str) -> CoreResult<Timestamp> {
    text.trim().parse::<Timestamp>().map_err(|_| {
        CoreError::validation(
            field,
            format!("{text:?} is not an RFC 3339 time with an offset, e.g. 2025-06-01T22:00:00Z"),
        )
    })
}

/// `HH:MM`, 00:00 to 23:59.
pub fn parse_start(text: &str) -> Option<Time> {
    let (hour, minute) = text.trim().split_once(':')?;
    if hour.len() != 2 || minute.len() != 2 {
        return None;
    }
    let hour: i8 = hour.parse().ok()?;
    let minute: i8 = minute.parse().ok()?;
    Time::new(hour, minute, 0, 0).ok()
}

fn parse_day(text: &str) -> Option<Weekday> {
    let text = text.trim().to_ascii_lowercase();
    DAYS.iter()
        .find(|(short, weekday)| {
            text == *short || text == format!("{weekday:?}").to_ascii_lowercase()
        })
        .map(|(_, weekday)| *weekday)
}

fn short_day(weekday: Weekday) -> &'static str {
    DAYS.iter()
        .find(|(_, day)| *day == weekday)
        .map_or("mon", |(short, _)| short)
}

/// Validate the schedule of `spec` at `now`; errors name the field.
pub fn check_schedule(spec: &WindowSpec, now: Timestamp) -> CoreResult<CheckedSchedule> {
    let one_off = spec.starts_at.is_some() || spec.ends_at.is_some();
    let recurring = spec.start.is_some()
        || spec.duration.is_some()
        || !spec.days.is_empty()
        || spec.tz.is_some()
        || spec.until.is_some();
    match (one_off, recurring) {
        (true, true) => Err(CoreError::validation(
            "starts_at",
            "give either starts_at and ends_at (a one-off window) or start and duration (a recurring one), not both",
        )),
        (false, false) => Err(CoreError::validation(
            "starts_at",
            "give starts_at and ends_at for a one-off window, or start and duration for a recurring one",
        )),
        (true, false) => check_one_off(spec, now),
        (false, true) => check_recurring(spec, now),
    }
}

fn check_one_off(spec: &WindowSpec, now: Timestamp) -> CoreResult<CheckedSchedule> {
    let starts_at = match &spec.starts_at {
        Some(text) => parse_instant("starts_at", text)?,
        None => return Err(CoreError::validation("starts_at", "required with ends_at")),
    };
    let ends_at = match &spec.ends_at {
        Some(text) => parse_instant("ends_at", text)?,
        None => return Err(CoreError::validation("ends_at", "required with starts_at")),
    };
    if ends_at <= starts_at {
        return Err(CoreError::validation("ends_at", "must be after starts_at"));
    }
    if ends_at <= now {
        return Err(CoreError::validation("ends_at", "must be in the future"));
    }
    if starts_at.duration_until(ends_at) > MAX_ONE_OFF {
        return Err(CoreError::validation(
            "ends_at",
            "a one-off window lasts at most 31 days; pause the monitor for longer",
        ));
    }
    Ok(CheckedSchedule {
        kind: MaintenanceKind::OneOff,
        starts_at: Some(starts_at),
        ends_at: Some(ends_at),
        start_time: None,
        duration_ms: None,
        days: Vec::new(),
        tz: None,
        until: None,
    })
}

fn check_recurring(spec: &WindowSpec, now: Timestamp) -> CoreResult<CheckedSchedule> {
    let start = match &spec.start {
        Some(text) => parse_start(text).ok_or_else(|| {
            CoreError::validation(
                "start",
                format!("{text:?} is not a local time HH:MM between 00:00 and 23:59"),
            )
        })?,
        None => {
            return Err(CoreError::validation(
                "start",
                "required for a recurring window (local time HH:MM)",
            ));
        }
    };
    let duration = match &spec.duration {
        Some(text) => config::parse_duration(text)
            .map_err(|message| CoreError::validation("duration", message))?,
        None => {
            return Err(CoreError::validation(
                "duration",
                "required for a recurring window, e.g. 2h",
            ));
        }
    };
    let duration = SignedDuration::try_from(duration).unwrap_or(SignedDuration::MAX);
    if duration < SignedDuration::from_mins(1) {
        return Err(CoreError::validation("duration", "must be at least 1m"));
    }
    if duration > MAX_RECURRING {
        return Err(CoreError::validation("duration", "must be at most 7d"));
    }
    let mut weekdays = Vec::new();
    for day in &spec.days {
        let weekday = parse_day(day).ok_or_else(|| {
            CoreError::validation(
                "days",
                format!("{day:?} is not a weekday; use mon, tue, wed, thu, fri, sat or sun"),
            )
        })?;
        if !weekdays.contains(&weekday) {
            weekdays.push(weekday);
        }
    }
    weekdays.sort_by_key(|day| day.to_monday_zero_offset());
    let tz = spec.tz.as_deref().map_or("UTC", str::trim).to_string();
    if TimeZone::get(&tz).is_err() {
        return Err(CoreError::validation(
            "tz",
            format!("unknown time zone {tz:?}; use an IANA name such as Europe/Berlin"),
        ));
    }
    let until = spec
        .until
        .as_deref()
        .map(|text| parse_instant("until", text))
        .transpose()?;
    if until.is_some_and(|until| until <= now) {
        return Err(CoreError::validation("until", "must be in the future"));
    }
    Ok(CheckedSchedule {
        kind: MaintenanceKind::Recurring,
        starts_at: None,
        ends_at: None,
        start_time: Some(format!("{:02}:{:02}", start.hour(), start.minute())),
        duration_ms: Some(duration.as_millis() as i64),
        days: weekdays
            .into_iter()
            .map(|day| short_day(day).to_string())
            .collect(),
        tz: Some(tz),
        until,
    })
}

/// Whether `window` is active at `at` (see the module documentation for the time rules). A window whose
/// stored fields cannot be read is never active.
pub fn active_at(window: &MaintenanceWindow, at: Timestamp) -> bool {
    match window.kind {
        MaintenanceKind::OneOff => match (window.starts_at, window.ends_at) {
            (Some(starts_at), Some(ends_at)) => starts_at <= at && at < ends_at,
            _ => false,
        },
        MaintenanceKind::Recurring => recurring_active(window, at).unwrap_or(false),
    }
}

fn recurring_active(window: &MaintenanceWindow, at: Timestamp) -> Option<bool> {
    let start = parse_start(window.start_time.as_deref()?)?;
    let duration = SignedDuration::from_millis(window.duration_ms?);
    let tz = TimeZone::get(window.tz.as_deref()?).ok()?;
    let days: Vec<Weekday> = window
        .days
        .iter()
        .map(|day| parse_day(day))
        .collect::<Option<_>>()?;
    // An occurrence lasts at most 7 days, so the one covering `at` started on one of the last 8 local days
    // (one more for a clock change inside it).
    let mut date: Date = at.to_zoned(tz.clone()).date();
    for _ in 0..=8 {
        if days.is_empty() || days.contains(&date.weekday()) {
            let begin = occurrence_start(&tz, date, start)?;
            let started = begin <= at && window.until.is_none_or(|until| begin < until);
            if started && begin.checked_add(duration).is_ok_and(|end| at < end) {
                return Some(true);
            }
        }
        date = date.yesterday().ok()?;
    }
    Some(false)
}

/// The instant an occurrence starting at local `date` `time` begins: the first valid instant at or after
/// it when the clocks skip it, the earlier one when they repeat it.
fn occurrence_start(tz: &TimeZone, date: Date, time: Time) -> Option<Timestamp> {
    let local = date.to_datetime(time);
    let ambiguous = tz.to_ambiguous_zoned(local);
    match ambiguous.offset() {
        AmbiguousOffset::Gap { after, .. } => {
            // Read with the offset after the change, the local time lies before the change; the next
            // transition is the change itself, the first instant the local clock shows a valid time again.
            let probe = after.to_timestamp(local).ok()?;
            tz.following(probe)
                .next()
                .map(|transition| transition.timestamp())
        }
        AmbiguousOffset::Unambiguous { .. } | AmbiguousOffset::Fold { .. } => {
            ambiguous.compatible().ok().map(|zoned| zoned.timestamp())
        }
    }
}

/// Whether any of `windows` covers the monitor `monitor_id` of service `service_id` at `at`.
pub fn in_maintenance(
    windows: &[MaintenanceWindow],
    monitor_id: i64,
    service_id: i64,
    at: Timestamp,
) -> bool {
    windows
        .iter()
        .any(|window| window.covers(monitor_id, service_id) && active_at(window, at))
}

/// Flag the state changes of a write batch that were raised while a window covered their monitor (at the
/// event's own time). The writer calls this once per batch with the windows of the batch's monitors and
/// the service of each of them (`service_of`).
pub fn flag_events(
    writes: &mut [MonitorWrite],
    windows: &[MaintenanceWindow],
    service_of: impl Fn(i64) -> Option<i64>,
) {
    if windows.is_empty() {
        return;
    }
    for write in writes {
        let Some(event) = write.event.as_mut() else {
            continue;
        };
        if let Some(service_id) = service_of(write.monitor_id) {
            event.in_maintenance = in_maintenance(windows, write.monitor_id, service_id, event.at);
        }
    }
}

/// The status to show for `monitor` at `at`: `paused` when paused, `maintenance` while a window covers it,
/// otherwise the state machine's status.
pub fn shown_status(
    monitor: &Monitor,
    windows: &[MaintenanceWindow],
    at: Timestamp,
) -> MonitorStatus {
    if monitor.paused {
        MonitorStatus::Paused
    } else if in_maintenance(windows, monitor.id, monitor.service_id, at) {
        MonitorStatus::Maintenance
    } else {
        monitor.state.status
    }
}

/// The status shown for each of `monitors` now (one query for all of them), by monitor id.
pub async fn effective_statuses(
    core: &Core,
    monitors: &[Monitor],
) -> CoreResult<HashMap<i64, MonitorStatus>> {
    let ids: Vec<i64> = monitors
        .iter()
        .filter(|monitor| !monitor.paused)
        .map(|monitor| monitor.id)
        .collect();
    let windows = if ids.is_empty() {
        Vec::new()
    } else {
        core.storage.maintenance_for(&ids).await?
    };
    let now = core.now();
    Ok(monitors
        .iter()
        .map(|monitor| (monitor.id, shown_status(monitor, &windows, now)))
        .collect())
}

/// The status shown for `monitor` now: `maintenance` while a window covers it (paused wins).
pub async fn effective_status(core: &Core, monitor: &Monitor) -> CoreResult<MonitorStatus> {
    let statuses = effective_statuses(core, std::slice::from_ref(monitor)).await?;
    Ok(statuses
        .get(&monitor.id)
        .copied()
        .unwrap_or(monitor.state.status))
}

/// Create a window (audited as `maintenance.create`).
pub async fn create_window(
    core: &Core,
    ctx: &AuditContext,
    spec: &WindowSpec,
) -> CoreResult<MaintenanceWindow> {
    let title = spec.title.trim();
    if title.is_empty() {
        return Err(CoreError::validation("title", "must not be empty"));
    }
    if title.chars().count() > MAX_TITLE {
        return Err(CoreError::validation(
            "title",
            format!("must be at most {MAX_TITLE} characters"),
        ));
    }
    let (service_id, monitor_id) = match (&spec.service, spec.monitor) {
        (Some(_), Some(_)) => {
            return Err(CoreError::validation(
                "monitor",
                "give a service or a monitor, not both",
            ));
        }
        (None, None) => {
            return Err(CoreError::validation(
                "service",
                "give the service (all its monitors) or the monitor the window is for",
            ));
        }
        (Some(slug), None) => {
            let service = catalog::service(core, slug).await.map_err(|_| {
                CoreError::validation("service", format!("no service with slug {slug}"))
            })?;
            (Some(service.id), None)
        }
        (None, Some(id)) => {
            let monitor = core.storage.monitor_by_id(id).await?.ok_or_else(|| {
                CoreError::validation("monitor", format!("no monitor with id {id}"))
            })?;
            (None, Some(monitor.id))
        }
    };
    let schedule = check_schedule(spec, core.now())?;
    let window = NewMaintenanceWindow {
        service_id,
        monitor_id,
        title: title.to_string(),
        kind: schedule.kind,
        starts_at: schedule.starts_at,
        ends_at: schedule.ends_at,
        start_time: schedule.start_time,
        duration_ms: schedule.duration_ms,
        days: schedule.days,
        tz: schedule.tz,
        until: schedule.until,
    };
    Ok(core.storage.create_maintenance_window(ctx, window).await?)
}

pub async fn window(core: &Core, id: i64) -> CoreResult<MaintenanceWindow> {
    core.storage
        .maintenance_window_by_id(id)
        .await?
        .ok_or_else(|| CoreError::not_found(format!("no maintenance window with id {id}")))
}

/// Windows of a service (its own and its monitors') or that apply to a monitor (its own and its
/// service's), oldest first.
pub async fn list_windows(
    core: &Core,
    service: Option<&str>,
    monitor: Option<i64>,
    page: PageRequest,
) -> CoreResult<Page<MaintenanceWindow>> {
    let service_id = match service {
        Some(slug) => Some(catalog::service(core, slug).await?.id),
        None => None,
    };
    if let Some(id) = monitor {
        super::monitor(core, id).await?;
    }
    let filter = MaintenanceFilter {
        service_id,
        monitor_id: monitor,
    };
    Ok(core.storage.list_maintenance_windows(&filter, page).await?)
}

/// Delete a window (audited as `maintenance.delete`).
pub async fn delete_window(core: &Core, ctx: &AuditContext, id: i64) -> CoreResult<()> {
    window(core, id).await?;
    Ok(core.storage.delete_maintenance_window(ctx, id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instant(text: &str) -> Timestamp {
        text.parse().unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn recurring(start: &str, duration: &str, days: &[&str], tz: &str) -> MaintenanceWindow {
        let spec = WindowSpec {
            title: "t".into(),
            start: Some(start.into()),
            duration: Some(duration.into()),
            days: days.iter().map(|day| day.to_string()).collect(),
            tz: Some(tz.into()),
            ..WindowSpec::default()
        };
        let checked = check_schedule(&spec, Timestamp::UNIX_EPOCH);
        assert!(checked.is_ok(), "{checked:?}");
        window_of(checked.unwrap_or_else(|_| unreachable!()))
    }

    fn window_of(schedule: CheckedSchedule) -> MaintenanceWindow {
        MaintenanceWindow {
            id: 1,
            service_id: None,
            service_slug: None,
            monitor_id: Some(1),
            title: "t".into(),
            kind: schedule.kind,
            starts_at: schedule.starts_at,
            ends_at: schedule.ends_at,
            start_time: schedule.start_time,
            duration_ms: schedule.duration_ms,
            days: schedule.days,
            tz: schedule.tz,
            until: schedule.until,
            created_at: Timestamp::UNIX_EPOCH,
            created_by: "test".into(),
        }
    }

    fn field_of(result: CoreResult<CheckedSchedule>) -> String {
        match result {
            Err(CoreError::Validation { field, .. }) => field,
            other => format!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn a_one_off_window_includes_its_start_and_excludes_its_end() {
        let window = window_of(CheckedSchedule {
            kind: MaintenanceKind::OneOff,
            starts_at: Some(instant("2025-06-01T22:00:00Z")),
            ends_at: Some(instant("2025-06-01T23:00:00Z")),
            start_time: None,
            duration_ms: None,
            days: Vec::new(),
            tz: None,
            until: None,
        });
        assert!(!active_at(&window, instant("2025-06-01T21:59:59Z")));
        assert!(active_at(&window, instant("2025-06-01T22:00:00Z")));
        assert!(active_at(&window, instant("2025-06-01T22:59:59Z")));
        assert!(!active_at(&window, instant("2025-06-01T23:00:00Z")));
    }

    #[test]
    fn a_recurring_window_is_active_on_its_weekdays_in_its_time_zone() {
        // 2025-06-02 is a Monday; Berlin is at +02:00 in June.
        let window = recurring("23:00", "1h", &["mon", "Thursday"], "Europe/Berlin");
        assert_eq!(window.days, vec!["mon", "thu"]);
        assert!(active_at(&window, instant("2025-06-02T23:30:00+02:00")));
        assert!(active_at(&window, instant("2025-06-02T21:00:00Z")));
        assert!(!active_at(&window, instant("2025-06-02T22:59:59+02:00")));
        assert!(!active_at(&window, instant("2025-06-03T00:00:00+02:00")));
        assert!(
            !active_at(&window, instant("2025-06-03T23:30:00+02:00")),
            "not on Tuesday"
        );
        assert!(active_at(&window, instant("2025-06-05T23:30:00+02:00")));
        assert!(
            !active_at(&window, instant("2025-06-02T23:30:00Z")),
            "23:30 UTC is 01:30 in Berlin"
        );
    }

    #[test]
    fn no_days_means_every_day() {
        let window = recurring("03:00", "30m", &[], "UTC");
        for day in 1..=7 {
            let at = instant(&format!("2025-06-0{day}T03:10:00Z"));
            assert!(active_at(&window, at), "day {day}");
        }
        assert!(!active_at(&window, instant("2025-06-04T03:30:00Z")));
    }

    #[test]
    fn a_window_crossing_midnight_counts_for_the_day_it_starts() {
        let monday = recurring("23:00", "2h", &["mon"], "Europe/Berlin");
        assert!(active_at(&monday, instant("2025-06-03T00:30:00+02:00")));
        assert!(!active_at(&monday, instant("2025-06-03T01:00:00+02:00")));
        assert!(!active_at(&monday, instant("2025-06-02T00:30:00+02:00")));
        let tuesday = recurring("23:00", "2h", &["tue"], "Europe/Berlin");
        assert!(
            !active_at(&tuesday, instant("2025-06-03T00:30:00+02:00")),
            "Tuesday 00:30 belongs to Monday's occurrence"
        );
        assert!(active_at(&tuesday, instant("2025-06-04T00:30:00+02:00")));
    }

    #[test]
    fn a_long_window_covers_the_following_days() {
        let window = recurring("22:00", "3d", &["fri"], "UTC");
        // Friday 2025-06-06 22:00 to Monday 2025-06-09 22:00.
        assert!(active_at(&window, instant("2025-06-08T12:00:00Z")));
        assert!(active_at(&window, instant("2025-06-09T21:59:00Z")));
        assert!(!active_at(&window, instant("2025-06-09T22:00:00Z")));
    }

    #[test]
    fn a_start_skipped_by_spring_forward_starts_at_the_change_in_berlin() {
        // 2025-03-30: 02:00 CET jumps to 03:00 CEST (01:00 UTC); 02:30 does not exist.
        let window = recurring("02:30", "1h", &[], "Europe/Berlin");
        assert!(!active_at(&window, instant("2025-03-30T00:59:59Z")));
        assert!(
            active_at(&window, instant("2025-03-30T01:00:00Z")),
            "03:00 CEST"
        );
        assert!(active_at(&window, instant("2025-03-30T01:59:59Z")));
        assert!(
            !active_at(&window, instant("2025-03-30T02:00:00Z")),
            "lasts one real hour"
        );
        // The day before, 02:30 CET is 01:30 UTC.
        assert!(!active_at(&window, instant("2025-03-29T01:29:59Z")));
        assert!(active_at(&window, instant("2025-03-29T01:30:00Z")));
        // The day after, 02:30 CEST is 00:30 UTC.
        assert!(active_at(&window, instant("2025-03-31T00:30:00Z")));
        assert!(!active_at(&window, instant("2025-03-31T01:30:00Z")));
    }

    #[test]
    fn a_start_skipped_by_spring_forward_starts_at_the_change_in_new_york() {
        // 2025-03-09: 02:00 EST jumps to 03:00 EDT (07:00 UTC).
        let window = recurring("02:30", "30m", &["sun"], "America/New_York");
        assert!(!active_at(&window, instant("2025-03-09T06:59:59Z")));
        assert!(active_at(&window, instant("2025-03-09T07:00:00Z")));
        assert!(active_at(&window, instant("2025-03-09T07:29:59Z")));
        assert!(!active_at(&window, instant("2025-03-09T07:30:00Z")));
        // A week later 02:30 EDT is 06:30 UTC.
        assert!(active_at(&window, instant("2025-03-16T06:30:00Z")));
        assert!(!active_at(&window, instant("2025-03-16T07:00:00Z")));
    }

    #[test]
    fn a_repeated_start_on_fall_back_starts_at_its_first_occurrence() {
        // 2025-10-26 in Berlin: 02:30 happens at 00:30 UTC (CEST) and again at 01:30 UTC (CET).
        let window = recurring("02:30", "30m", &[], "Europe/Berlin");
        assert!(active_at(&window, instant("2025-10-26T00:45:00Z")));
        assert!(!active_at(&window, instant("2025-10-26T01:45:00Z")));
        // 2025-11-02 in New York: 01:30 happens at 05:30 UTC (EDT) and 06:30 UTC (EST).
        let window = recurring("01:30", "20m", &[], "America/New_York");
        assert!(active_at(&window, instant("2025-11-02T05:40:00Z")));
        assert!(!active_at(&window, instant("2025-11-02T06:40:00Z")));
    }

    #[test]
    fn until_stops_new_occurrences_but_not_a_running_one() {
        let mut window = recurring("23:00", "2h", &[], "UTC");
        window.until = Some(instant("2025-06-03T00:00:00Z"));
        assert!(active_at(&window, instant("2025-06-02T23:30:00Z")));
        assert!(active_at(&window, instant("2025-06-03T00:30:00Z")));
        assert!(!active_at(&window, instant("2025-06-03T23:30:00Z")));
    }

    #[test]
    fn unreadable_stored_windows_are_never_active() {
        let mut window = recurring("23:00", "2h", &[], "UTC");
        window.tz = Some("Mars/Olympus".into());
        assert!(!active_at(&window, instant("2025-06-02T23:30:00Z")));
    }

    #[test]
    fn paused_wins_over_maintenance_in_the_shown_status() {
        let window = recurring("00:00", "7d", &[], "UTC");
        let mut monitor = Monitor {
            id: 1,
            service_id: 9,
            service_slug: "s".into(),
            name: "m".into(),
            slug: "m".into(),
            kind: "heartbeat".into(),
            settings: serde_json::Value::Null,
            interval_ms: 60_000,
            failure_threshold: 1,
            success_threshold: 1,
            ping_token: "t".into(),
            managed_by: None,
            paused: false,
            resume_at: None,
            created_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
            state: upkeep_storage::MonitorState::pending(),
        };
        let at = instant("2025-06-02T12:00:00Z");
        let windows = vec![window];
        assert_eq!(
            shown_status(&monitor, &windows, at),
            MonitorStatus::Maintenance
        );
        assert_eq!(shown_status(&monitor, &[], at), MonitorStatus::Pending);
        monitor.paused = true;
        assert_eq!(shown_status(&monitor, &windows, at), MonitorStatus::Paused);
        let mut other = windows[0].clone();
        other.monitor_id = Some(2);
        monitor.paused = false;
        assert_eq!(
            shown_status(&monitor, &[other.clone()], at),
            MonitorStatus::Pending
        );
        other.monitor_id = None;
        other.service_id = Some(9);
        assert_eq!(
            shown_status(&monitor, &[other], at),
            MonitorStatus::Maintenance
        );
    }

    #[test]
    fn schedules_are_refused_naming_the_field() {
        let now = instant("2025-06-01T00:00:00Z");
        let one_off = |starts: &str, ends: &str| WindowSpec {
            starts_at: Some(starts.into()),
            ends_at: Some(ends.into()),
            ..WindowSpec::default()
        };
        let cases: Vec<(WindowSpec, &str)> = vec![
            (WindowSpec::default(), "starts_at"),
            (
                one_off("2025-06-02T00:00:00Z", "2025-06-01T23:00:00Z"),
                "ends_at",
            ),
            (
                one_off("2025-06-02T00:00:00Z", "2025-06-02T00:00:00Z"),
                "ends_at",
            ),
            (one_off("tomorrow", "2025-06-02T00:00:00Z"), "starts_at"),
            (
                one_off("2025-06-02T00:00:00", "2025-06-03T00:00:00Z"),
                "starts_at",
            ),
            (
                one_off("2025-05-01T00:00:00Z", "2025-05-02T00:00:00Z"),
                "ends_at",
            ),
            (
                one_off("2025-06-02T00:00:00Z", "2025-08-02T00:00:00Z"),
                "ends_at",
            ),
            (
                WindowSpec {
                    ends_at: Some("2025-06-02T00:00:00Z".into()),
                    ..WindowSpec::default()
                },
                "starts_at",
            ),
            (
                WindowSpec {
                    starts_at: Some("2025-06-02T00:00:00Z".into()),
                    ends_at: Some("2025-06-03T00:00:00Z".into()),
                    start: Some("23:00".into()),
                    ..WindowSpec::default()
                },
                "starts_at",
            ),
        ];
        let recurring = |start: &str, duration: &str, day: &str, tz: &str| WindowSpec {
            start: Some(start.into()),
            duration: Some(duration.into()),
            days: vec![day.into()],
            tz: Some(tz.into()),
            ..WindowSpec::default()
        };
        let more: Vec<(WindowSpec, &str)> = vec![
            (recurring("24:00", "1h", "mon", "UTC"), "start"),
            (recurring("9:00", "1h", "mon", "UTC"), "start"),
            (recurring("09:60", "1h", "mon", "UTC"), "start"),
            (recurring("09:00", "8d", "mon", "UTC"), "duration"),
            (recurring("09:00", "0s", "mon", "UTC"), "duration"),
            (recurring("09:00", "2 hours", "mon", "UTC"), "duration"),
            (recurring("09:00", "1h", "funday", "UTC"), "days"),
            (recurring("09:00", "1h", "mon", "Europe/Atlantis"), "tz"),
            (
                WindowSpec {
                    until: Some("2025-05-01T00:00:00Z".into()),
                    ..recurring("09:00", "1h", "mon", "UTC")
                },
                "until",
            ),
            (
                WindowSpec {
                    duration: None,
                    ..recurring("09:00", "1h", "mon", "UTC")
                },
                "duration",
            ),
        ];
        for (spec, field) in cases.into_iter().chain(more) {
            assert_eq!(field_of(check_schedule(&spec, now)), field, "{spec:?}");
        }
        let fine = recurring("09:00", "7d", "SUN", "America/New_York");
        let checked = check_schedule(&fine, now);
        assert!(
            checked
                .as_ref()
                .is_ok_and(|c| c.days == ["sun"] && c.duration_ms == Some(604_800_000)),
            "{checked:?}"
        );
        let utc = WindowSpec {
            tz: None,
            ..recurring("09:00", "1h", "mon", "UTC")
        };
        assert_eq!(
            check_schedule(&utc, now).ok().and_then(|c| c.tz).as_deref(),
            Some("UTC")
        );
    }
}

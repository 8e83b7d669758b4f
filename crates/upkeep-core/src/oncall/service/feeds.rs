//! The iCalendar feeds behind secret URLs, for calendar apps that cannot sign in: one per schedule (every
//! shift) and one per user (their shifts in every schedule). Each covers the week before the current
//! one through eight weeks ahead, starting on a Monday 00:00 UTC so events keep their `UID` between
//! fetches during a week.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span, Timestamp};

use super::evaluate::{engine, named_by};
use super::{StoredSchedule, people, reason, shifts_in, stored, user_label};
use crate::identity::random_secret;
use crate::oncall::{CalendarShift, render_calendar};
use crate::{Core, CoreResult};

/// Weeks a feed covers, from the Monday of the previous week.
const FEED_WEEKS: i64 = 10;

/// `[Monday 00:00 UTC of the week before now's week, 10 weeks later)`: one week back, at least eight
/// weeks ahead.
pub fn feed_range(now: Timestamp) -> (Timestamp, Timestamp) {
    let date = now.to_zoned(TimeZone::UTC).date();
    let back = i64::from(date.weekday().to_monday_zero_offset()) + 7;
    let from = date
        .checked_sub(Span::new().days(back))
        .ok()
        .and_then(|monday| monday.to_zoned(TimeZone::UTC).ok())
        .map(|zoned| zoned.timestamp())
        .unwrap_or(now);
    let to = from
        .checked_add(SignedDuration::from_hours(FEED_WEEKS * 7 * 24))
        .unwrap_or(Timestamp::MAX);
    (from, to)
}

/// A token as handed out: letters and digits only (anything else cannot match, so is not looked up).
fn plausible(token: &str) -> bool {
    !token.is_empty() && token.len() <= 64 && token.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The schedule's feed URL (anyone holding it can read the schedule's shifts).
pub fn schedule_feed_url(core: &Core, schedule: &StoredSchedule) -> String {
    format!(
        "{}/oncall/schedules/{}.ics",
        core.config.base_url(),
        schedule.feed_token
    )
}

/// The feed URL of `user_id`'s own shifts, made on first use.
pub async fn my_calendar_url(core: &Core, user_id: i64) -> CoreResult<String> {
    let token = core
        .storage
        .user_feed_token(user_id, &random_secret(super::FEED_TOKEN_LEN), core.now())
        .await?;
    Ok(format!(
        "{}/oncall/users/{token}.ics",
        core.config.base_url()
    ))
}

/// The calendar of the schedule whose feed token is `token`; `None` for an unknown token.
pub async fn schedule_feed(core: &Core, token: &str) -> CoreResult<Option<String>> {
    if !plausible(token) {
        return Ok(None);
    }
    let Some(record) = core.storage.schedule_by_feed_token(token).await? else {
        return Ok(None);
    };
    let schedule = stored(record)?;
    let (from, to) = feed_range(core.now());
    let shifts = shifts_in(core, &schedule, from, to).await?;
    let events: Vec<CalendarShift> = shifts
        .into_iter()
        .map(|shift| CalendarShift {
            schedule_id: schedule.id,
            schedule_name: schedule.name.clone(),
            user_id: shift.user_id,
            user_name: shift
                .user
                .as_ref()
                .map_or_else(|| format!("user {}", shift.user_id), user_label),
            start: shift.start,
            end: shift.end,
            revised_at: schedule.updated_at,
            description: Some(shift.reason),
        })
        .collect();
    Ok(Some(render_calendar(
        &format!("On call: {}", schedule.name),
        &events,
    )))
}

/// The calendar of the user whose feed token is `token`: their shifts in every schedule. `None` for an
/// unknown token or a disabled user.
pub async fn user_feed(core: &Core, token: &str) -> CoreResult<Option<String>> {
    if !plausible(token) {
        return Ok(None);
    }
    let Some(user_id) = core.storage.user_by_feed_token(token).await? else {
        return Ok(None);
    };
    let Some(user) = core
        .storage
        .user_by_id(user_id)
        .await?
        .filter(|u| !u.disabled)
    else {
        return Ok(None);
    };
    let (from, to) = feed_range(core.now());
    let mut events = Vec::new();
    let mut cursor = None;
    loop {
        let page = core
            .storage
            .list_schedules(upkeep_storage::PageRequest::new(500, cursor))
            .await?;
        for record in page.items {
            let schedule = stored(record)?;
            let mine: Vec<_> = engine(&schedule)?
                .shifts(from, to)
                .into_iter()
                .filter(|shift| shift.user_id == user_id)
                .collect();
            if mine.is_empty() {
                continue;
            }
            let named: Vec<i64> = mine
                .iter()
                .filter_map(|shift| named_by(&shift.source))
                .collect();
            let people = people(core, &named).await?;
            for shift in mine {
                events.push(CalendarShift {
                    schedule_id: schedule.id,
                    schedule_name: schedule.name.clone(),
                    user_id,
                    user_name: user_label(&user),
                    start: shift.start,
                    end: shift.end,
                    revised_at: schedule.updated_at,
                    description: Some(reason(&schedule.name, &shift.source, &people)),
                });
            }
        }
        match page.next_cursor.and_then(|next| next.parse().ok()) {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    events.sort_by_key(|event| (event.start, event.schedule_id));
    Ok(Some(render_calendar(
        &format!("On call: {}", user_label(&user)),
        &events,
    )))
}

//! The history behind a monitor's charts: its newest results or pings back to a day ago (bounded), the
//! response-time or run-duration chart of the newest of them, and 24 hourly uptime bars.

use std::future::Future;

use jiff::Timestamp;
use upkeep_core::CoreError;
use upkeep_core::storage::{
    CheckResult, HeartbeatPing, Page as ListPage, PageRequest, StorageResult,
};

use super::super::error::UiError;
use super::super::svg::{self, Bucket};

/// Points in the chart: the newest results (or timed runs).
const CHART_POINTS: usize = 200;
/// Rows of history read for the uptime bars at most (a day of checks every 30 s).
const MAX_HISTORY: usize = 3_000;
const HOUR_MS: i64 = 3_600_000;
/// Hourly bars: the last day.
pub const BARS: i64 = 24;

/// Newest-first rows back to `since`, at most [`MAX_HISTORY`] (and always the first page). Also returns
/// the time of the oldest row read when the limit stopped the reading before `since`.
pub async fn history<T, F, Fut>(
    fetch: F,
    at: impl Fn(&T) -> Timestamp,
    since: Timestamp,
) -> Result<(Vec<T>, Option<Timestamp>), UiError>
where
    F: Fn(PageRequest) -> Fut,
    Fut: Future<Output = StorageResult<ListPage<T>>>,
{
    let mut rows: Vec<T> = Vec::new();
    let mut cursor = None;
    loop {
        let page = fetch(PageRequest::new(500, cursor))
            .await
            .map_err(CoreError::from)?;
        rows.extend(page.items);
        let oldest = rows.last().map(&at);
        let next = page.next_cursor.and_then(|next| next.parse::<i64>().ok());
        match (next, oldest) {
            (Some(_), Some(oldest)) if oldest < since => return Ok((rows, None)),
            (Some(_), Some(oldest)) if rows.len() >= MAX_HISTORY => {
                return Ok((rows, Some(oldest)));
            }
            (Some(next), _) => cursor = Some(next),
            (None, _) => return Ok((rows, None)),
        }
    }
}

fn hour_label(start_ms: i64) -> String {
    let text = |ms: i64| {
        Timestamp::from_millisecond(ms)
            .map(|at| at.strftime("%H:%M").to_string())
            .unwrap_or_default()
    };
    format!("{}–{} UTC", text(start_ms), text(start_ms + HOUR_MS))
}

/// The last 24 hours (the current hour last) as hourly buckets of good and bad outcomes; `None` outcomes
/// (a heartbeat's start or log pings) do not count. Hours before `loaded_from` say their rows were not read.
pub fn hourly_buckets<T>(
    rows: &[T],
    now: Timestamp,
    loaded_from: Option<Timestamp>,
    at: impl Fn(&T) -> Timestamp,
    good: impl Fn(&T) -> Option<bool>,
    noun: &'static str,
) -> Vec<Bucket> {
    let now_ms = now.as_millisecond();
    let first = now_ms - now_ms.rem_euclid(HOUR_MS) - (BARS - 1) * HOUR_MS;
    let mut buckets: Vec<Bucket> = (0..BARS)
        .map(|index| {
            let start = first + index * HOUR_MS;
            let mut label = hour_label(start);
            if loaded_from.is_some_and(|from| start + HOUR_MS <= from.as_millisecond()) {
                label.push_str(" (older rows not loaded)");
            }
            Bucket {
                label,
                good: 0,
                bad: 0,
                noun,
            }
        })
        .collect();
    for row in rows {
        let offset = at(row).as_millisecond() - first;
        let Ok(index) = usize::try_from(offset.div_euclid(HOUR_MS)) else {
            continue;
        };
        match (buckets.get_mut(index), good(row)) {
            (Some(bucket), Some(true)) => bucket.good += 1,
            (Some(bucket), Some(false)) => bucket.bad += 1,
            _ => {}
        }
    }
    buckets
}

/// The chart, its note and the bars for an active monitor.
pub fn check_charts(
    results: &[CheckResult],
    now: Timestamp,
    loaded_from: Option<Timestamp>,
) -> [String; 4] {
    let points: Vec<(i64, f64, bool)> = results
        .iter()
        .take(CHART_POINTS)
        .rev()
        .map(|result| {
            (
                result.at.as_millisecond(),
                result.duration_ms as f64,
                !result.success,
            )
        })
        .collect();
    let failed = points.iter().filter(|point| point.2).count();
    let note = format!(
        "The last {} checks; {failed} failed (red dots).",
        points.len()
    );
    let buckets = hourly_buckets(
        results,
        now,
        loaded_from,
        |result| result.at,
        |result| Some(result.success),
        "checks up",
    );
    [
        svg::line_chart("Response time", &points, 960, 240),
        note,
        svg::status_bars(&buckets),
        bars_note(&buckets, "checks"),
    ]
}

/// The run-duration chart and the bars of a heartbeat.
pub fn ping_charts(
    pings: &[HeartbeatPing],
    now: Timestamp,
    loaded_from: Option<Timestamp>,
) -> [String; 4] {
    let points: Vec<(i64, f64, bool)> = pings
        .iter()
        .filter_map(|ping| {
            ping.duration_ms
                .map(|ms| (ping.at.as_millisecond(), ms as f64, ping.kind == "fail"))
        })
        .take(CHART_POINTS)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let note = format!(
        "Durations of the last {} timed runs (a /start, then a success or failure ping); failed runs are red dots.",
        points.len()
    );
    let buckets = hourly_buckets(
        pings,
        now,
        loaded_from,
        |ping| ping.at,
        |ping| match ping.kind.as_str() {
            "success" => Some(true),
            "fail" => Some(false),
            _ => None,
        },
        "pings OK",
    );
    [
        svg::line_chart("Run duration", &points, 960, 240),
        note,
        svg::status_bars(&buckets),
        bars_note(&buckets, "success or failure pings"),
    ]
}

fn bars_note(buckets: &[Bucket], noun: &str) -> String {
    let (good, bad) = buckets
        .iter()
        .fold((0u32, 0u32), |(good, bad), b| (good + b.good, bad + b.bad));
    match good + bad {
        0 => format!("No {noun} in the last 24 hours."),
        total => format!(
            "{good} of {total} {noun} good in the last 24 hours ({:.2} %).",
            f64::from(good) * 100.0 / f64::from(total)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn buckets_cover_the_last_24_hours_by_hour() {
        // 2023-11-14 22:13:20 UTC.
        let now = at(1_700_000_000_000);
        let rows = [
            (now, true),
            (now, false),
            (at(1_700_000_000_000 - HOUR_MS), true),
            (at(1_700_000_000_000 - 30 * HOUR_MS), false),
        ];
        let buckets = hourly_buckets(
            &rows,
            now,
            None,
            |row| row.0,
            |row| Some(row.1),
            "checks up",
        );
        assert_eq!(buckets.len(), 24);
        let last = &buckets[23];
        assert_eq!((last.good, last.bad), (1, 1));
        assert_eq!(last.label, "22:00–23:00 UTC");
        assert_eq!((buckets[22].good, buckets[22].bad), (1, 0));
        assert_eq!(buckets[0].label, "23:00–00:00 UTC");
        let counted: u32 = buckets.iter().map(|b| b.good + b.bad).sum();
        assert_eq!(counted, 3, "rows older than a day are left out");

        let partial = hourly_buckets(
            &rows,
            now,
            Some(at(1_700_000_000_000 - 2 * HOUR_MS)),
            |row| row.0,
            |row| Some(row.1),
            "checks up",
        );
        assert!(
            partial[0].label.contains("not loaded") && !partial[23].label.contains("not loaded")
        );
    }
}

//! Heartbeat (cron) monitors with the Healthchecks semantics: success, `/start`, `/fail`, `/log` and exit
//! statuses, run ids with durations, period or cron schedules with a time zone and a grace time, and the
//! deadline at which a silent job turns late, then down. Pure functions; the writer and sweeper apply them.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use upkeep_storage::{HeartbeatPing, MonitorState, MonitorStatus, NewMonitorEvent};

use super::state::transition;

/// When pings are expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    /// A ping every `period_ms`.
    Period { period_ms: i64 },
    /// A ping at every fire of a five-field cron expression, in an IANA time zone.
    Cron { cron: String, tz: String },
}

/// The `settings` of a heartbeat monitor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatSettings {
    pub schedule: Schedule,
    /// How long after the expected time (or after a `/start`) before the monitor is down.
    pub grace_ms: i64,
}

/// What a ping says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingKind {
    Success,
    Start,
    Fail,
    Log,
    /// `/ping/<uuid>/<exit-status>`: 0 is success, 1–255 failure.
    Exit(i32),
}

impl PingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success | Self::Exit(0) => "success",
            Self::Start => "start",
            Self::Fail | Self::Exit(_) => "fail",
            Self::Log => "log",
        }
    }
}

/// One received ping, before it is applied.
#[derive(Debug, Clone)]
pub struct PingSignal {
    pub kind: PingKind,
    pub at: Timestamp,
    pub rid: Option<String>,
    pub body: Option<String>,
    pub method: String,
    pub remote_addr: Option<String>,
    pub user_agent: Option<String>,
}

fn plus_ms(at: Timestamp, ms: i64) -> Timestamp {
    at.checked_add(SignedDuration::from_millis(ms))
        .unwrap_or(Timestamp::MAX)
}

/// A cron expression with its zone, as `cronexpr` takes it.
pub fn parse_cron(cron: &str, tz: &str) -> Result<cronexpr::Crontab, String> {
    if jiff::tz::TimeZone::get(tz).is_err() {
        return Err(format!(
            "unknown time zone {tz:?}; use an IANA name such as Europe/Berlin"
        ));
    }
    if cron.split_whitespace().count() != 5 {
        return Err(format!(
            "{cron:?} is not a five-field cron expression (minute hour day month weekday)"
        ));
    }
    cronexpr::parse_crontab(&format!("{cron} {tz}"))
        .map_err(|err| format!("{cron:?} is not a valid cron expression: {err}"))
}

/// Parsed cron expressions by zone, then expression: a deadline is computed on every ping and sweep, and
/// parsing (with its time-zone lookup) costs far more than finding the next fire.
type CronCache = HashMap<String, HashMap<String, Arc<cronexpr::Crontab>>>;
static CRONTABS: LazyLock<RwLock<CronCache>> = LazyLock::new(RwLock::default);
/// Distinct expressions kept; past that the cache starts over.
const CRON_CACHE_CAPACITY: usize = 4096;

/// [`parse_cron`], parsed once per expression and zone. Invalid expressions are not kept.
fn cached_cron(cron: &str, tz: &str) -> Option<Arc<cronexpr::Crontab>> {
    if let Ok(cache) = CRONTABS.read()
        && let Some(crontab) = cache.get(tz).and_then(|by_cron| by_cron.get(cron))
    {
        return Some(crontab.clone());
    }
    let crontab = Arc::new(parse_cron(cron, tz).ok()?);
    if let Ok(mut cache) = CRONTABS.write() {
        if cache.values().map(HashMap::len).sum::<usize>() >= CRON_CACHE_CAPACITY {
            cache.clear();
        }
        cache
            .entry(tz.to_string())
            .or_default()
            .insert(cron.to_string(), crontab.clone());
    }
    Some(crontab)
}

/// When the next ping is expected after a ping at `last`.
pub fn expected_after(settings: &HeartbeatSettings, last: Timestamp) -> Option<Timestamp> {
    match &settings.schedule {
        Schedule::Period { period_ms } => Some(plus_ms(last, *period_ms)),
        Schedule::Cron { cron, tz } => {
            let crontab = cached_cron(cron, tz)?;
            crontab.find_next(last).ok().map(|zoned| zoned.timestamp())
        }
    }
}

/// The next moment the state changes without any ping: turning late, turning down, or a run that started
/// and did not finish within the grace time. `None` while nothing can happen (never pinged, or down).
pub fn deadline(settings: &HeartbeatSettings, state: &MonitorState) -> Option<Timestamp> {
    let mut candidates = Vec::new();
    if let Some(started) = state.last_start_at
        && state.status != MonitorStatus::Down
    {
        candidates.push(plus_ms(started, settings.grace_ms));
    }
    if let Some(last) = state.last_ping_at
        && let Some(expected) = expected_after(settings, last)
    {
        match state.status {
            MonitorStatus::Up => candidates.push(expected),
            MonitorStatus::Degraded => candidates.push(plus_ms(expected, settings.grace_ms)),
            _ => {}
        }
    }
    candidates.into_iter().min()
}

/// Apply a ping: returns the new state (with its next deadline), the status change if any, and the ping
/// record to store.
pub fn apply_ping(
    settings: &HeartbeatSettings,
    monitor_id: i64,
    state: &MonitorState,
    signal: PingSignal,
) -> (MonitorState, Option<NewMonitorEvent>, HeartbeatPing) {
    let mut next = state.clone();
    let mut duration_ms = None;
    let to = match signal.kind {
        PingKind::Log => state.status,
        PingKind::Start => {
            next.last_start_at = Some(signal.at);
            next.last_start_rid = signal.rid.clone();
            state.status
        }
        PingKind::Success | PingKind::Fail | PingKind::Exit(_) => {
            let failed = matches!(signal.kind, PingKind::Fail)
                || matches!(signal.kind, PingKind::Exit(code) if code != 0);
            if let Some(started) = state.last_start_at {
                if signal.rid == state.last_start_rid {
                    duration_ms = Some(
                        signal
                            .at
                            .duration_since(started)
                            .as_millis()
                            .try_into()
                            .unwrap_or(i64::MAX),
                    );
                    next.last_start_at = None;
                    next.last_start_rid = None;
                } else if failed || signal.rid.is_none() {
                    next.last_start_at = None;
                    next.last_start_rid = None;
                }
            }
            next.last_ping_at = Some(signal.at);
            next.last_checked_at = Some(signal.at);
            if duration_ms.is_some() {
                next.last_duration_ms = duration_ms;
            }
            if failed {
                next.last_error = Some(match signal.kind {
                    PingKind::Exit(code) => format!("the job exited with status {code}"),
                    _ => "the job reported a failure".to_string(),
                });
                next.consecutive_failures = state.consecutive_failures.saturating_add(1);
                next.consecutive_successes = 0;
                MonitorStatus::Down
            } else {
                next.last_error = None;
                next.consecutive_successes = state.consecutive_successes.saturating_add(1);
                next.consecutive_failures = 0;
                MonitorStatus::Up
            }
        }
    };
    let (mut next, event) = transition(next, state.status, to, signal.at, || match signal.kind {
        PingKind::Exit(code) if code != 0 => format!("the job exited with status {code}"),
        PingKind::Fail => "the job reported a failure (/fail)".to_string(),
        _ => "a success ping arrived".to_string(),
    });
    next.deadline_at = deadline(settings, &next);
    let ping = HeartbeatPing {
        id: 0,
        monitor_id,
        at: signal.at,
        kind: signal.kind.as_str().to_string(),
        exit_status: match signal.kind {
            PingKind::Exit(code) => Some(code),
            _ => None,
        },
        rid: signal.rid,
        duration_ms,
        body: signal.body,
        method: signal.method,
        remote_addr: signal.remote_addr,
        user_agent: signal.user_agent,
    };
    (next, event, ping)
}

/// Look at a heartbeat whose deadline passed: late (degraded) once the expected time is past, down once
/// the grace time is past too, or down when a started run overran its grace time.
pub fn evaluate_deadline(
    settings: &HeartbeatSettings,
    state: &MonitorState,
    now: Timestamp,
) -> (MonitorState, Option<NewMonitorEvent>) {
    let mut to = state.status;
    let mut reason = String::new();
    if let Some(started) = state.last_start_at
        && now >= plus_ms(started, settings.grace_ms)
        && state.status != MonitorStatus::Down
    {
        to = MonitorStatus::Down;
        reason = format!("a run started at {started} did not finish within the grace time");
    } else if let Some(last) = state.last_ping_at
        && let Some(expected) = expected_after(settings, last)
        && matches!(state.status, MonitorStatus::Up | MonitorStatus::Degraded)
    {
        if now >= plus_ms(expected, settings.grace_ms) {
            to = MonitorStatus::Down;
            reason =
                format!("no ping since {last}; one was expected by {expected} (grace time over)");
        } else if now >= expected && state.status == MonitorStatus::Up {
            to = MonitorStatus::Degraded;
            reason = format!("late: a ping was expected by {expected}");
        }
    }
    let (mut next, event) = transition(state.clone(), state.status, to, now, || reason);
    if to == MonitorStatus::Down && state.last_start_at.is_some() {
        next.last_start_at = None;
        next.last_start_rid = None;
    }
    next.deadline_at = deadline(settings, &next);
    (next, event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_schedules_are_parsed_once_and_still_follow_their_zone() {
        let settings = HeartbeatSettings {
            schedule: Schedule::Cron {
                cron: "0 3 * * *".into(),
                tz: "Europe/Berlin".into(),
            },
            grace_ms: 0,
        };
        let last: Timestamp = "2026-01-10T12:00:00Z"
            .parse()
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let expected: Timestamp = "2026-01-11T02:00:00Z".parse().unwrap_or(Timestamp::MAX);
        assert_eq!(expected_after(&settings, last), Some(expected));
        assert_eq!(expected_after(&settings, last), Some(expected));
        let first = cached_cron("0 3 * * *", "Europe/Berlin");
        let again = cached_cron("0 3 * * *", "Europe/Berlin");
        assert!(matches!((first, again), (Some(a), Some(b)) if Arc::ptr_eq(&a, &b)));
        assert!(cached_cron("0 3 * * *", "Mars/Olympus").is_none());
        assert!(cached_cron("61 3 * * *", "UTC").is_none());
    }
}

//! A write batch as JSON text, one array per table, for PostgreSQL's one-statement-per-table writes.

use jiff::Timestamp;
use serde::Serialize;

use super::{MonitorState, MonitorWrite};

/// A batch of [`MonitorWrite`]s as JSON arrays (text), one per table, so PostgreSQL writes the whole batch
/// with one `jsonb_to_recordset` statement per table. (SQLite binds values instead: its `json_each`
/// re-serialises each row once per column read.) Times are epoch milliseconds. Only the last state of
/// each monitor is kept: writes are applied in order.
#[derive(Debug, Clone, Default)]
pub struct MonitorBatch {
    pub states: String,
    pub events: String,
    pub pings: String,
    pub results: String,
    pub has_events: bool,
    pub has_pings: bool,
    pub has_results: bool,
}

// Typed rows serialise straight to text, without building a `serde_json::Value` per row.

#[derive(Serialize)]
struct StateRow<'a> {
    id: i64,
    status: &'static str,
    consecutive_failures: i32,
    consecutive_successes: i32,
    last_checked_at: Option<i64>,
    last_change_at: Option<i64>,
    last_ping_at: Option<i64>,
    last_start_at: Option<i64>,
    last_start_rid: Option<&'a str>,
    deadline_at: Option<i64>,
    last_error: Option<&'a str>,
    last_duration_ms: Option<i64>,
}

#[derive(Serialize)]
struct EventRow<'a> {
    monitor_id: i64,
    at: i64,
    from_status: &'static str,
    to_status: &'static str,
    reason: &'a str,
    in_maintenance: bool,
}

#[derive(Serialize)]
struct PingRow<'a> {
    monitor_id: i64,
    at: i64,
    kind: &'a str,
    exit_status: Option<i32>,
    rid: Option<&'a str>,
    duration_ms: Option<i64>,
    body: Option<&'a str>,
    method: &'a str,
    remote_addr: Option<&'a str>,
    user_agent: Option<&'a str>,
}

#[derive(Serialize)]
struct ResultRow<'a> {
    monitor_id: i64,
    at: i64,
    success: bool,
    duration_ms: i64,
    status_code: Option<i32>,
    error: Option<&'a str>,
    /// The details as JSON text (stored as text on both backends).
    details_json: String,
}

fn ms(at: Option<Timestamp>) -> Option<i64> {
    at.map(Timestamp::as_millisecond)
}

fn json_text<T: Serialize>(rows: &[T]) -> String {
    // Serialising plain structs of numbers, strings and booleans cannot fail.
    serde_json::to_string(rows).unwrap_or_else(|_| "[]".to_string())
}

impl MonitorBatch {
    pub fn new(writes: &[MonitorWrite]) -> Self {
        let mut last_state: std::collections::BTreeMap<i64, &MonitorState> =
            std::collections::BTreeMap::new();
        let (mut events, mut pings, mut results) = (Vec::new(), Vec::new(), Vec::new());
        for write in writes {
            last_state.insert(write.monitor_id, &write.state);
            if let Some(event) = &write.event {
                events.push(EventRow {
                    monitor_id: write.monitor_id,
                    at: event.at.as_millisecond(),
                    from_status: event.from_status.as_str(),
                    to_status: event.to_status.as_str(),
                    reason: &event.reason,
                    in_maintenance: event.in_maintenance,
                });
            }
            if let Some(ping) = &write.ping {
                pings.push(PingRow {
                    monitor_id: write.monitor_id,
                    at: ping.at.as_millisecond(),
                    kind: &ping.kind,
                    exit_status: ping.exit_status,
                    rid: ping.rid.as_deref(),
                    duration_ms: ping.duration_ms,
                    body: ping.body.as_deref(),
                    method: &ping.method,
                    remote_addr: ping.remote_addr.as_deref(),
                    user_agent: ping.user_agent.as_deref(),
                });
            }
            if let Some(result) = &write.result {
                results.push(ResultRow {
                    monitor_id: write.monitor_id,
                    at: result.at.as_millisecond(),
                    success: result.success,
                    duration_ms: result.duration_ms,
                    status_code: result.status_code,
                    error: result.error.as_deref(),
                    details_json: result.details.to_string(),
                });
            }
        }
        let states: Vec<StateRow<'_>> = last_state
            .into_iter()
            .map(|(id, state)| StateRow {
                id,
                status: state.status.as_str(),
                consecutive_failures: state.consecutive_failures,
                consecutive_successes: state.consecutive_successes,
                last_checked_at: ms(state.last_checked_at),
                last_change_at: ms(state.last_change_at),
                last_ping_at: ms(state.last_ping_at),
                last_start_at: ms(state.last_start_at),
                last_start_rid: state.last_start_rid.as_deref(),
                deadline_at: ms(state.deadline_at),
                last_error: state.last_error.as_deref(),
                last_duration_ms: state.last_duration_ms,
            })
            .collect();
        Self {
            has_events: !events.is_empty(),
            has_pings: !pings.is_empty(),
            has_results: !results.is_empty(),
            states: json_text(&states),
            events: json_text(&events),
            pings: json_text(&pings),
            results: json_text(&results),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HeartbeatPing, MonitorStatus};
    use serde_json::Value;

    #[test]
    fn a_batch_keeps_the_last_state_per_monitor_and_every_ping() {
        let at = Timestamp::from_millisecond(1_000).unwrap_or(Timestamp::UNIX_EPOCH);
        let ping = HeartbeatPing {
            id: 0,
            monitor_id: 7,
            at,
            kind: "success".into(),
            exit_status: None,
            rid: None,
            duration_ms: None,
            body: Some("done \"ok\"".into()),
            method: "GET".into(),
            remote_addr: Some("127.0.0.1".into()),
            user_agent: None,
        };
        let mut up = MonitorState::pending();
        up.status = MonitorStatus::Up;
        up.last_ping_at = Some(at);
        let writes = [
            MonitorWrite {
                monitor_id: 7,
                state: MonitorState::pending(),
                event: None,
                ping: Some(ping.clone()),
                result: None,
            },
            MonitorWrite {
                monitor_id: 7,
                state: up,
                event: None,
                ping: Some(ping),
                result: None,
            },
        ];
        let batch = MonitorBatch::new(&writes);
        let states: Value = serde_json::from_str(&batch.states).unwrap_or_default();
        assert_eq!(states.as_array().map(Vec::len), Some(1));
        assert_eq!(states[0]["status"], "up");
        assert_eq!(states[0]["last_ping_at"], 1_000);
        assert_eq!(states[0]["deadline_at"], Value::Null);
        let pings: Value = serde_json::from_str(&batch.pings).unwrap_or_default();
        assert_eq!(pings.as_array().map(Vec::len), Some(2));
        assert_eq!(pings[1]["body"], "done \"ok\"");
        assert!(batch.has_pings && !batch.has_events && !batch.has_results);
        assert_eq!(batch.events, "[]");
    }
}

//! The state machine of active checks, as a pure function: consecutive failures or successes must reach
//! the monitor's threshold before its status flips, so one blip never pages anyone.

use jiff::Timestamp;
use upkeep_storage::{MonitorState, MonitorStatus, NewMonitorEvent};

/// What one check concluded.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckOutcome {
    pub at: Timestamp,
    pub success: bool,
    pub duration_ms: i64,
    /// Why it failed (first failing condition or the connection error).
    pub error: Option<String>,
}

/// Apply one check outcome. Returns the new state and the status-change event, if the status changed.
pub fn apply_check(
    state: &MonitorState,
    outcome: &CheckOutcome,
    failure_threshold: i32,
    success_threshold: i32,
) -> (MonitorState, Option<NewMonitorEvent>) {
    let mut next = state.clone();
    next.last_checked_at = Some(outcome.at);
    next.last_duration_ms = Some(outcome.duration_ms);
    if outcome.success {
        next.consecutive_successes = state.consecutive_successes.saturating_add(1);
        next.consecutive_failures = 0;
        next.last_error = None;
    } else {
        next.consecutive_failures = state.consecutive_failures.saturating_add(1);
        next.consecutive_successes = 0;
        next.last_error = outcome.error.clone();
    }
    let to = match state.status {
        MonitorStatus::Pending if outcome.success => MonitorStatus::Up,
        MonitorStatus::Pending | MonitorStatus::Up | MonitorStatus::Degraded
            if !outcome.success && next.consecutive_failures >= failure_threshold.max(1) =>
        {
            MonitorStatus::Down
        }
        MonitorStatus::Down
            if outcome.success && next.consecutive_successes >= success_threshold.max(1) =>
        {
            MonitorStatus::Up
        }
        MonitorStatus::Degraded if outcome.success => MonitorStatus::Up,
        unchanged => unchanged,
    };
    transition(next, state.status, to, outcome.at, || {
        match &outcome.error {
            Some(error) if !outcome.success => format!(
                "{} consecutive failed checks: {error}",
                next_failures(state)
            ),
            _ => "check succeeded".to_string(),
        }
    })
}

fn next_failures(state: &MonitorState) -> i32 {
    state.consecutive_failures.saturating_add(1)
}

/// Set the status and describe the change, when there is one.
pub fn transition(
    mut next: MonitorState,
    from: MonitorStatus,
    to: MonitorStatus,
    at: Timestamp,
    reason: impl FnOnce() -> String,
) -> (MonitorState, Option<NewMonitorEvent>) {
    if from == to {
        return (next, None);
    }
    next.status = to;
    next.last_change_at = Some(at);
    let event = NewMonitorEvent {
        at,
        from_status: from,
        to_status: to,
        reason: reason(),
        in_maintenance: false,
    };
    (next, Some(event))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_900_000_000 + second).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn check(
        state: &MonitorState,
        second: i64,
        success: bool,
    ) -> (MonitorState, Option<NewMonitorEvent>) {
        let outcome = CheckOutcome {
            at: at(second),
            success,
            duration_ms: 12,
            error: (!success).then(|| "[STATUS] (503) == 200".into()),
        };
        apply_check(state, &outcome, 3, 2)
    }

    #[test]
    fn a_new_monitor_goes_up_on_its_first_success() {
        let (state, event) = check(&MonitorState::pending(), 0, true);
        assert_eq!(state.status, MonitorStatus::Up);
        assert_eq!(
            event.map(|e| (e.from_status, e.to_status)),
            Some((MonitorStatus::Pending, MonitorStatus::Up))
        );
    }

    #[test]
    fn down_needs_the_failure_threshold_and_up_the_success_threshold() {
        let (mut state, _) = check(&MonitorState::pending(), 0, true);
        for second in 1..=2 {
            let (next, event) = check(&state, second, false);
            assert_eq!(
                next.status,
                MonitorStatus::Up,
                "failure {second} of 3 does not flip"
            );
            assert!(event.is_none());
            state = next;
        }
        let (state, event) = check(&state, 3, false);
        assert_eq!(state.status, MonitorStatus::Down);
        let event = event.map(|e| e.reason).unwrap_or_default();
        assert!(
            event.contains("3 consecutive failed checks")
                && event.contains("[STATUS] (503) == 200"),
            "{event}"
        );
        assert_eq!(state.last_error.as_deref(), Some("[STATUS] (503) == 200"));

        let (state, event) = check(&state, 4, true);
        assert_eq!(
            (state.status, event.is_none()),
            (MonitorStatus::Down, true),
            "one success is not a recovery"
        );
        let (state, event) = check(&state, 5, true);
        assert_eq!(state.status, MonitorStatus::Up);
        assert_eq!(event.map(|e| e.to_status), Some(MonitorStatus::Up));
        assert_eq!(state.last_error, None);
        assert_eq!(state.last_change_at, Some(at(5)));
    }

    #[test]
    fn a_flapping_target_never_flips_below_the_threshold() {
        let (mut state, _) = check(&MonitorState::pending(), 0, true);
        for second in 1..50 {
            let (next, event) = check(&state, second, second % 3 != 0);
            assert!(event.is_none(), "flip at {second}");
            state = next;
        }
        assert_eq!(state.status, MonitorStatus::Up);
    }

    #[test]
    fn a_new_monitor_that_fails_is_confirmed_down_after_the_threshold() {
        let (state, _) = check(&MonitorState::pending(), 0, false);
        let (state, _) = check(&state, 1, false);
        assert_eq!(state.status, MonitorStatus::Pending);
        let (state, event) = check(&state, 2, false);
        assert_eq!(
            (state.status, event.map(|e| e.from_status)),
            (MonitorStatus::Down, Some(MonitorStatus::Pending))
        );
    }
}

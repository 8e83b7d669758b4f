//! upkeep's own monitors as an alert source: each committed monitor state change is read from
//! `monitor_events` in order and turned into an alert on the monitor's service — down triggers, up
//! resolves — in the same transaction that moves the stream cursor, so a change is turned into an alert
//! exactly once, across restarts and nodes.
//!
//! Changes recorded during a maintenance window do not trigger (they still resolve an open alert);
//! `degraded` (a heartbeat late but within its grace) does not page.

use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;
use upkeep_storage::{
    AlertSource, IncidentTx, IncidentWork, MonitorStatus, MonitorTransition, Severity,
    StorageResult,
};

use super::rules::{AlertAction, AlertSignal, SignalOutcome, apply_signal};
use crate::Core;
use crate::jobs::{Worker, WorkerState};

/// The stream cursor's name in `stream_cursors`.
pub const CURSOR: &str = "monitor_events";
/// State changes read per transaction.
const BATCH: u32 = 256;

/// The dedup key of a monitor's alerts: one open alert per monitor.
pub fn dedup_key(monitor_id: i64) -> String {
    format!("monitor-{monitor_id}")
}

/// The alert a state change raises, if any.
pub fn signal_for(transition: &MonitorTransition) -> Option<AlertSignal> {
    let event = &transition.event;
    let action = match event.to_status {
        MonitorStatus::Down if !event.in_maintenance => AlertAction::Trigger,
        MonitorStatus::Up | MonitorStatus::Paused if event.from_status == MonitorStatus::Down => {
            AlertAction::Resolve
        }
        _ => return None,
    };
    Some(AlertSignal {
        service_id: transition.service_id,
        source: AlertSource::Monitor,
        action,
        dedup_key: dedup_key(event.monitor_id),
        summary: format!("{} is down: {}", transition.monitor_name, event.reason),
        severity: Severity::Critical,
        details: json!({
            "monitor_id": event.monitor_id,
            "monitor": transition.monitor_name,
            "from": event.from_status,
            "to": event.to_status,
            "reason": event.reason,
            "at": event.at,
            "event_id": event.id,
        }),
        group_key: None,
    })
}

struct ConsumeWork {
    now: jiff::Timestamp,
    group_window: Duration,
    result: Mutex<(usize, Vec<SignalOutcome>)>,
}

#[async_trait::async_trait]
impl IncidentWork for ConsumeWork {
    async fn run(&self, tx: &mut dyn IncidentTx) -> StorageResult<()> {
        let position = tx.cursor(CURSOR).await?;
        let transitions = tx.monitor_events_after(position, BATCH).await?;
        let mut outcomes = Vec::new();
        for transition in &transitions {
            if let Some(signal) = signal_for(transition) {
                outcomes.push(apply_signal(tx, &signal, self.now, self.group_window).await?);
            }
        }
        if let Some(last) = transitions.last() {
            tx.set_cursor(CURSOR, last.event.id).await?;
        }
        if let Ok(mut result) = self.result.lock() {
            *result = (transitions.len(), outcomes);
        }
        Ok(())
    }
}

/// Turn every committed state change not yet consumed into alerts; returns how many changes were read.
pub async fn consume(core: &Core) -> anyhow::Result<usize> {
    let mut total = 0;
    loop {
        let work = ConsumeWork {
            now: core.now(),
            group_window: core.config.incidents.group_window,
            result: Mutex::new((0, Vec::new())),
        };
        core.storage.run_incident_work(&work).await?;
        let (read, outcomes) = work
            .result
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if outcomes
            .iter()
            .any(|outcome| outcome.opened_incident().is_some())
        {
            core.alerts.opened.notify_waiters();
        }
        total += read;
        if read < BATCH as usize {
            return Ok(total);
        }
    }
}

/// The worker that keeps consuming monitor state changes.
pub struct MonitorAlertWorker {
    core: Core,
    poll: Duration,
}

impl MonitorAlertWorker {
    pub fn new(core: Core) -> Self {
        Self {
            core,
            poll: Duration::from_secs(1),
        }
    }
}

#[async_trait::async_trait]
impl Worker for MonitorAlertWorker {
    fn name(&self) -> String {
        "monitor-alerts".to_string()
    }

    async fn work(&mut self) -> anyhow::Result<WorkerState> {
        consume(&self.core).await?;
        Ok(WorkerState::Idle)
    }

    async fn wait_for_work(&mut self) {
        // Woken at once by this node's monitor writer; the poll catches changes committed on other nodes.
        let _ = tokio::time::timeout(self.poll, self.core.monitor_events.notified()).await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use upkeep_storage::MonitorEvent;

    fn transition(
        from: MonitorStatus,
        to: MonitorStatus,
        in_maintenance: bool,
    ) -> MonitorTransition {
        MonitorTransition {
            event: MonitorEvent {
                id: 9,
                monitor_id: 4,
                at: jiff::Timestamp::UNIX_EPOCH,
                from_status: from,
                to_status: to,
                reason: "connection refused".into(),
                in_maintenance,
            },
            service_id: 2,
            monitor_name: "api".into(),
        }
    }

    #[test]
    fn down_triggers_up_resolves_and_maintenance_only_resolves() {
        let down = signal_for(&transition(MonitorStatus::Up, MonitorStatus::Down, false)).unwrap();
        assert_eq!(down.action, AlertAction::Trigger);
        assert_eq!(down.dedup_key, "monitor-4");
        assert_eq!(down.summary, "api is down: connection refused");
        assert!(signal_for(&transition(MonitorStatus::Up, MonitorStatus::Down, true)).is_none());
        let up = signal_for(&transition(MonitorStatus::Down, MonitorStatus::Up, true)).unwrap();
        assert_eq!(up.action, AlertAction::Resolve);
        assert!(
            signal_for(&transition(
                MonitorStatus::Up,
                MonitorStatus::Degraded,
                false
            ))
            .is_none()
        );
        assert!(
            signal_for(&transition(
                MonitorStatus::Pending,
                MonitorStatus::Up,
                false
            ))
            .is_none()
        );
    }
}

//! Long-running background workers and the registry that reports their status.
//!
//! A worker does one step at a time and says whether more work is waiting; the loop around it records
//! every run and error, backs off after failures and stops when the node shuts down.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerState {
    /// Did work and may have more right away.
    Busy,
    /// Nothing to do until `wait_for_work` returns.
    Idle,
    /// Finished for good.
    Done,
}

#[async_trait::async_trait]
pub trait Worker: Send + 'static {
    fn name(&self) -> String;
    /// One step of work.
    async fn work(&mut self) -> anyhow::Result<WorkerState>;
    /// Return when there may be work again (a wake-up, or a poll interval passing).
    async fn wait_for_work(&mut self);
}

/// What the API shows about one worker.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WorkerStatus {
    pub name: String,
    pub state: WorkerState,
    pub runs: u64,
    pub errors: u64,
    pub consecutive_errors: u32,
    pub last_run_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub last_error_at: Option<Timestamp>,
}

/// The status of every worker on this node.
#[derive(Debug, Clone, Default)]
pub struct WorkerRegistry {
    statuses: Arc<Mutex<BTreeMap<String, WorkerStatus>>>,
}

impl WorkerRegistry {
    pub fn list(&self) -> Vec<WorkerStatus> {
        self.statuses
            .lock()
            .map(|map| map.values().cloned().collect())
            .unwrap_or_default()
    }

    fn update(&self, name: &str, change: impl FnOnce(&mut WorkerStatus)) {
        if let Ok(mut map) = self.statuses.lock() {
            let status = map.entry(name.to_string()).or_insert_with(|| WorkerStatus {
                name: name.to_string(),
                state: WorkerState::Idle,
                runs: 0,
                errors: 0,
                consecutive_errors: 0,
                last_run_at: None,
                last_error: None,
                last_error_at: None,
            });
            change(status);
        }
    }
}

/// Run `worker` until it is done or `cancel` fires, recording its status in `registry`.
pub fn spawn_worker<W: Worker>(
    mut worker: W,
    registry: WorkerRegistry,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let name = worker.name();
        registry.update(&name, |_| {});
        loop {
            let result = tokio::select! {
                () = cancel.cancelled() => break,
                result = worker.work() => result,
            };
            let now = Timestamp::now();
            match result {
                Ok(state) => {
                    registry.update(&name, |status| {
                        status.state = state;
                        status.runs += 1;
                        status.consecutive_errors = 0;
                        status.last_run_at = Some(now);
                    });
                    match state {
                        WorkerState::Busy => tokio::task::yield_now().await,
                        WorkerState::Idle => {
                            tokio::select! {
                                () = cancel.cancelled() => break,
                                () = worker.wait_for_work() => {}
                            }
                        }
                        WorkerState::Done => break,
                    }
                }
                Err(err) => {
                    tracing::error!(worker = name, error = %err, "worker step failed");
                    let mut failures = 0;
                    registry.update(&name, |status| {
                        status.runs += 1;
                        status.errors += 1;
                        status.consecutive_errors += 1;
                        failures = status.consecutive_errors;
                        status.last_run_at = Some(now);
                        status.last_error = Some(format!("{err:#}"));
                        status.last_error_at = Some(now);
                    });
                    let backoff = Duration::from_secs(1u64 << failures.min(6));
                    tokio::select! {
                        () = cancel.cancelled() => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                }
            }
        }
        registry.update(&name, |status| status.state = WorkerState::Done);
    })
}

//! The batching writer: pings, check results and deadline sweeps for all monitors of this node go through
//! one task that applies them in order and commits each batch in one transaction. A ping is answered only
//! after its batch is committed. When the database is unavailable the batch is retried with backoff; a
//! check result that still cannot be stored is dropped with a log line — it never marks a monitor down.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use upkeep_storage::{
    BatchMonitor, CheckResult, MaintenanceWindow, MonitorStatus, MonitorWrite, StorageError,
};

use super::heartbeat::{HeartbeatSettings, PingSignal, apply_ping, evaluate_deadline};
use super::state::{CheckOutcome, apply_check};
use super::targets::{PingTarget, TargetCache};
use crate::{Core, CoreError, CoreResult};

/// Most requests committed in one transaction.
const MAX_BATCH: usize = 512;
/// Requests waiting for the writer before senders wait too (backpressure).
const QUEUE: usize = 8192;
const RETRIES: u32 = 5;

/// What a ping did.
#[derive(Debug, Clone, PartialEq)]
pub struct PingOutcome {
    pub status: MonitorStatus,
    pub duration_ms: Option<i64>,
}

enum Request {
    Ping {
        monitor_id: i64,
        /// What the sender resolved; the writer checks it against the monitor it loads.
        target: Arc<PingTarget>,
        /// Refuse (not found) rather than record when the monitor is paused (Uptime Kuma's push).
        refuse_paused: bool,
        signal: PingSignal,
        ack: oneshot::Sender<CoreResult<PingOutcome>>,
    },
    Check {
        monitor_id: i64,
        outcome: CheckOutcome,
        details: Value,
        status_code: Option<i32>,
        ack: oneshot::Sender<CoreResult<()>>,
    },
    Sweep {
        monitor_id: i64,
        at: Timestamp,
        ack: oneshot::Sender<CoreResult<()>>,
    },
}

/// Handle to this node's writer; without a running writer (CLI, tests) requests are applied inline.
#[derive(Clone, Default)]
pub struct Ingest {
    // One `Arc` for both: every request clones the application state, and with it this handle.
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    sender: OnceLock<mpsc::Sender<Request>>,
    /// Ping tokens and slugs resolved to monitors (see [`super::targets`]).
    targets: TargetCache,
}

impl Ingest {
    /// Start the writer task for `core` (once per node).
    pub fn start(core: &Core, cancel: CancellationToken) -> tokio::task::JoinHandle<()> {
        let (sender, receiver) = mpsc::channel(QUEUE);
        let _ = core.ingest.inner.sender.set(sender);
        let core = core.clone();
        tokio::spawn(run(core, receiver, cancel))
    }

    async fn submit(&self, core: &Core, request: Request) {
        match self.inner.sender.get() {
            Some(sender) => {
                if let Err(mpsc::error::SendError(request)) = sender.send(request).await {
                    // The writer has stopped (shutdown): apply on this task instead.
                    process(core, vec![request]).await;
                }
            }
            None => process(core, vec![request]).await,
        }
    }

    /// This node's resolved ping targets.
    pub fn targets(&self) -> &TargetCache {
        &self.inner.targets
    }

    /// Apply a heartbeat ping to `target`; returns once it is committed. [`CoreError::NotFound`] when the
    /// monitor is gone (or paused, with `refuse_paused`); the target is then forgotten.
    pub async fn ping(
        &self,
        core: &Core,
        target: Arc<PingTarget>,
        refuse_paused: bool,
        signal: PingSignal,
    ) -> CoreResult<PingOutcome> {
        let (ack, answer) = oneshot::channel();
        self.submit(
            core,
            Request::Ping {
                monitor_id: target.id,
                target,
                refuse_paused,
                signal,
                ack,
            },
        )
        .await;
        answer
            .await
            .map_err(|_| CoreError::Unavailable("the monitor writer stopped".into()))?
    }

    /// Record an active check's outcome (fire and forget: the writer retries and logs).
    /// Record an active check's outcome; returns once it is committed, or with an error once the writer
    /// has given up retrying (the monitor's status is then unchanged).
    pub async fn check(
        &self,
        core: &Core,
        monitor_id: i64,
        outcome: CheckOutcome,
        status_code: Option<i32>,
        details: Value,
    ) -> CoreResult<()> {
        let (ack, answer) = oneshot::channel();
        let request = Request::Check {
            monitor_id,
            outcome,
            details,
            status_code,
            ack,
        };
        self.submit(core, request).await;
        answer
            .await
            .map_err(|_| CoreError::Unavailable("the monitor writer stopped".into()))?
    }

    /// Re-evaluate a heartbeat whose deadline passed; returns once it is committed.
    pub async fn sweep(&self, core: &Core, monitor_id: i64, at: Timestamp) -> CoreResult<()> {
        let (ack, answer) = oneshot::channel();
        self.submit(
            core,
            Request::Sweep {
                monitor_id,
                at,
                ack,
            },
        )
        .await;
        answer
            .await
            .map_err(|_| CoreError::Unavailable("the monitor writer stopped".into()))?
    }
}

async fn run(core: Core, mut receiver: mpsc::Receiver<Request>, cancel: CancellationToken) {
    loop {
        let first = tokio::select! {
            () = cancel.cancelled() => None,
            request = receiver.recv() => request,
        };
        let Some(first) = first else { break };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        process(&core, batch).await;
    }
    // Drain what was accepted before shutdown so no ping is left unanswered.
    receiver.close();
    let mut rest = Vec::new();
    while let Ok(request) = receiver.try_recv() {
        rest.push(request);
    }
    if !rest.is_empty() {
        process(&core, rest).await;
    }
}

fn heartbeat_settings(monitor: &BatchMonitor) -> CoreResult<HeartbeatSettings> {
    serde_json::from_str(&monitor.settings_json).map_err(|err| {
        CoreError::Internal(format!(
            "monitor {} has invalid heartbeat settings: {err}",
            monitor.id
        ))
    })
}

enum Ack {
    Ping(
        oneshot::Sender<CoreResult<PingOutcome>>,
        CoreResult<PingOutcome>,
    ),
    Sweep(oneshot::Sender<CoreResult<()>>, CoreResult<()>),
}

fn id_of(request: &Request) -> i64 {
    match request {
        Request::Ping { monitor_id, .. }
        | Request::Check { monitor_id, .. }
        | Request::Sweep { monitor_id, .. } => *monitor_id,
    }
}

/// A batch applied in memory, waiting for its commit.
struct Prepared {
    writes: Vec<MonitorWrite>,
    acks: Vec<Ack>,
    /// Why the batch cannot be committed (its maintenance windows were unreadable).
    refused: Option<StorageError>,
}

/// Apply a batch in order and commit it.
async fn process(core: &Core, batch: Vec<Request>) {
    if let Some(prepared) = prepare(core, batch).await {
        commit(core, prepared).await;
    }
}

/// Read the batch's monitors and apply its requests in order, in memory. `None` when the monitors could
/// not be read (every request has been answered with the error).
async fn prepare(core: &Core, batch: Vec<Request>) -> Option<Prepared> {
    // The current state of every monitor in the batch, in one query.
    let mut ids: Vec<i64> = batch.iter().map(id_of).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut monitors: HashMap<i64, BatchMonitor> = match load_with_retry(core, &ids).await {
        Ok(loaded) => loaded
            .into_iter()
            .map(|monitor| (monitor.id, monitor))
            .collect(),
        Err(err) => {
            for request in batch {
                fail(request, CoreError::Unavailable(err.to_string()));
            }
            return None;
        }
    };
    let mut writes: Vec<MonitorWrite> = Vec::with_capacity(batch.len());
    let mut acks = Vec::new();
    for request in batch {
        let monitor_id = id_of(&request);
        let Some(monitor) = monitors.get_mut(&monitor_id) else {
            if matches!(request, Request::Ping { .. }) {
                core.ingest.inner.targets.forget(monitor_id);
            }
            fail(request, CoreError::not_found("monitor not found"));
            continue;
        };
        match request {
            Request::Ping {
                target,
                refuse_paused,
                signal,
                ack,
                ..
            } => {
                if target.ping_token != monitor.ping_token || monitor.kind != "heartbeat" {
                    // Not the monitor the target was resolved to (cannot happen while ids are never
                    // reused, but a stale target must never ping another monitor).
                    core.ingest.inner.targets.forget(monitor_id);
                    let _ = ack.send(Err(CoreError::not_found("monitor not found")));
                    continue;
                }
                if monitor.paused && refuse_paused {
                    let _ = ack.send(Err(CoreError::not_found("monitor is paused")));
                    continue;
                }
                if monitor.paused {
                    // Pings to a paused monitor are kept for the record but change nothing.
                    let mut record = apply_ping_record(monitor, signal);
                    record.kind = "ignored".to_string();
                    writes.push(MonitorWrite {
                        monitor_id,
                        state: monitor.state.clone(),
                        event: None,
                        ping: Some(record),
                        result: None,
                    });
                    acks.push(Ack::Ping(
                        ack,
                        Ok(PingOutcome {
                            status: MonitorStatus::Paused,
                            duration_ms: None,
                        }),
                    ));
                    continue;
                }
                match heartbeat_settings(monitor) {
                    Ok(settings) => {
                        let (state, event, ping) =
                            apply_ping(&settings, monitor.id, &monitor.state, signal);
                        let outcome = PingOutcome {
                            status: state.status,
                            duration_ms: ping.duration_ms,
                        };
                        monitor.state = state.clone();
                        writes.push(MonitorWrite {
                            monitor_id,
                            state,
                            event,
                            ping: Some(ping),
                            result: None,
                        });
                        acks.push(Ack::Ping(ack, Ok(outcome)));
                    }
                    Err(err) => {
                        let _ = ack.send(Err(err));
                    }
                }
            }
            Request::Sweep { at, ack, .. } => match heartbeat_settings(monitor) {
                Ok(settings) => {
                    let (mut state, event) = evaluate_deadline(&settings, &monitor.state, at);
                    // A deadline that did not move forward would be found due again at once.
                    if state.deadline_at.is_some_and(|deadline| deadline <= at) && event.is_none() {
                        state.deadline_at = None;
                    }
                    monitor.state = state.clone();
                    writes.push(MonitorWrite {
                        monitor_id,
                        state,
                        event,
                        ping: None,
                        result: None,
                    });
                    acks.push(Ack::Sweep(ack, Ok(())));
                }
                Err(err) => {
                    let _ = ack.send(Err(err));
                }
            },
            Request::Check {
                outcome,
                details,
                status_code,
                ack,
                ..
            } => {
                if monitor.paused {
                    let _ = ack.send(Ok(()));
                    continue;
                }
                let (state, event) = apply_check(
                    &monitor.state,
                    &outcome,
                    monitor.failure_threshold,
                    monitor.success_threshold,
                );
                monitor.state = state.clone();
                let result = CheckResult {
                    id: 0,
                    monitor_id,
                    at: outcome.at,
                    success: outcome.success,
                    duration_ms: outcome.duration_ms,
                    status_code,
                    error: outcome.error.clone(),
                    details,
                };
                writes.push(MonitorWrite {
                    monitor_id,
                    state,
                    event,
                    ping: None,
                    result: Some(result),
                });
                acks.push(Ack::Sweep(ack, Ok(())));
            }
        }
    }
    // State changes raised while a maintenance window covers their monitor are flagged, not alerted.
    let refused = match load_windows_with_retry(core, &writes).await {
        Ok(windows) => {
            super::maintenance::flag_events(&mut writes, &windows, |id| {
                monitors.get(&id).map(|monitor| monitor.service_id)
            });
            None
        }
        Err(err) => Some(err),
    };
    Some(Prepared {
        writes,
        acks,
        refused,
    })
}

/// Commit a prepared batch and answer its requests.
async fn commit(core: &Core, prepared: Prepared) {
    let Prepared {
        writes,
        acks,
        refused,
    } = prepared;
    let committed = match refused {
        None => commit_with_retry(core, &writes).await,
        Some(err) => Err(err),
    };
    if committed.is_err() {
        core.check_stats.record_write_failures(writes.len());
    }
    for ack in acks {
        match (ack, &committed) {
            (Ack::Ping(sender, outcome), Ok(())) => {
                let _ = sender.send(outcome);
            }
            (Ack::Sweep(sender, outcome), Ok(())) => {
                let _ = sender.send(outcome);
            }
            (Ack::Ping(sender, _), Err(err)) => {
                let _ = sender.send(Err(CoreError::Unavailable(err.to_string())));
            }
            (Ack::Sweep(sender, _), Err(err)) => {
                let _ = sender.send(Err(CoreError::Unavailable(err.to_string())));
            }
        }
    }
}

fn apply_ping_record(monitor: &BatchMonitor, signal: PingSignal) -> upkeep_storage::HeartbeatPing {
    let settings = heartbeat_settings(monitor).unwrap_or(HeartbeatSettings {
        schedule: super::Schedule::Period {
            period_ms: 86_400_000,
        },
        grace_ms: 3_600_000,
    });
    apply_ping(&settings, monitor.id, &monitor.state, signal).2
}

fn fail(request: Request, err: CoreError) {
    match request {
        Request::Ping { ack, .. } => {
            let _ = ack.send(Err(err));
        }
        Request::Sweep { ack, .. } => {
            let _ = ack.send(Err(err));
        }
        Request::Check {
            monitor_id, ack, ..
        } => {
            tracing::warn!(monitor = monitor_id, error = %err, "check result not recorded");
            let _ = ack.send(Err(err));
        }
    }
}

async fn load_with_retry(core: &Core, ids: &[i64]) -> CoreResult<Vec<BatchMonitor>> {
    let mut attempt = 0;
    loop {
        match core.storage.batch_monitors(ids).await {
            Ok(monitors) => return Ok(monitors),
            Err(StorageError::Unavailable(message)) if attempt < RETRIES => {
                attempt += 1;
                tracing::warn!(attempt, %message, "database unavailable while loading a monitor; retrying");
                tokio::time::sleep(backoff(attempt)).await;
            }
            Err(err) => return Err(err.into()),
        }
    }
}

/// The maintenance windows of the monitors whose status changes in this batch (no query when none does).
async fn load_windows_with_retry(
    core: &Core,
    writes: &[MonitorWrite],
) -> Result<Vec<MaintenanceWindow>, StorageError> {
    let mut ids: Vec<i64> = writes
        .iter()
        .filter(|write| write.event.is_some())
        .map(|write| write.monitor_id)
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    ids.sort_unstable();
    ids.dedup();
    let mut attempt = 0;
    loop {
        match core.storage.maintenance_for(&ids).await {
            Ok(windows) => return Ok(windows),
            Err(StorageError::Unavailable(message)) if attempt < RETRIES => {
                attempt += 1;
                tracing::warn!(attempt, %message, "database unavailable while loading maintenance windows; retrying");
                tokio::time::sleep(backoff(attempt)).await;
            }
            Err(err) => {
                tracing::error!(error = %err, writes = writes.len(), "giving up on a batch of monitor updates (maintenance windows unreadable); statuses are unchanged");
                return Err(err);
            }
        }
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(50u64 << attempt.min(6))
}

async fn commit_with_retry(core: &Core, writes: &[MonitorWrite]) -> Result<(), StorageError> {
    let mut attempt = 0;
    loop {
        match core.storage.apply_monitor_writes(writes).await {
            Ok(()) => {
                if writes.iter().any(|write| write.event.is_some()) {
                    // State changes become alerts: wake the incidents consumer on this node.
                    core.monitor_events.notify_one();
                }
                return Ok(());
            }
            Err(err) if attempt < RETRIES => {
                attempt += 1;
                tracing::warn!(attempt, error = %err, writes = writes.len(), "could not store monitor updates; retrying");
                tokio::time::sleep(backoff(attempt)).await;
            }
            Err(err) => {
                tracing::error!(error = %err, writes = writes.len(), "giving up on a batch of monitor updates; statuses are unchanged");
                return Err(err);
            }
        }
    }
}

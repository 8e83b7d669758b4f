//! The alert writer: alert events from every integration on this node go through one task that applies
//! them in arrival order and commits each batch in one transaction. An event is answered ("accepted")
//! only after its batch is committed. When a batch cannot be committed each event is retried on its own,
//! so one event that breaks a rule cannot take its neighbours down with it.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use upkeep_storage::{IncidentTx, IncidentWork, StorageError, StorageResult};

use super::rules::{AlertSignal, SignalOutcome, apply_signal};
use crate::{Core, CoreError, CoreResult};

/// Most events committed in one transaction.
const MAX_BATCH: usize = 512;
/// Events waiting for the writer before senders wait too (backpressure, answered 503/429 upstream).
const QUEUE: usize = 8192;
/// Attempts for a batch whose database is busy or unreachable.
const RETRIES: u32 = 4;

struct Request {
    signal: AlertSignal,
    ack: oneshot::Sender<CoreResult<SignalOutcome>>,
}

/// Handle to this node's alert writer; without a running writer (CLI, tests) events are applied inline.
#[derive(Clone, Default)]
pub struct AlertIngest {
    sender: Arc<OnceLock<mpsc::Sender<Request>>>,
    /// Wakes whoever waits for new incidents (escalation, the latency benchmark).
    pub opened: Arc<Notify>,
}

impl AlertIngest {
    /// Start the writer task for `core` (once per node).
    pub fn start(core: &Core, cancel: CancellationToken) -> tokio::task::JoinHandle<()> {
        let (sender, receiver) = mpsc::channel(QUEUE);
        let _ = core.alerts.sender.set(sender);
        let core = core.clone();
        tokio::spawn(run(core, receiver, cancel))
    }

    /// Whether the writer's queue is full (the caller should answer with backpressure).
    pub fn is_saturated(&self) -> bool {
        self.sender
            .get()
            .is_some_and(|sender| sender.capacity() == 0)
    }

    /// Apply an alert event; returns once it is committed.
    pub async fn submit(&self, core: &Core, signal: AlertSignal) -> CoreResult<SignalOutcome> {
        let (ack, answer) = oneshot::channel();
        let request = Request { signal, ack };
        match self.sender.get() {
            Some(sender) => {
                if let Err(mpsc::error::SendError(request)) = sender.send(request).await {
                    process(core, vec![request]).await;
                }
            }
            None => process(core, vec![request]).await,
        }
        answer
            .await
            .map_err(|_| CoreError::Unavailable("the alert writer stopped".into()))?
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
    receiver.close();
    let mut rest = Vec::new();
    while let Ok(request) = receiver.try_recv() {
        rest.push(request);
    }
    if !rest.is_empty() {
        process(&core, rest).await;
    }
}

/// A batch of signals as one transaction's work.
struct SignalBatch<'a> {
    signals: Vec<&'a AlertSignal>,
    now: jiff::Timestamp,
    group_window: Duration,
    outcomes: Mutex<Vec<SignalOutcome>>,
}

#[async_trait::async_trait]
impl IncidentWork for SignalBatch<'_> {
    async fn run(&self, tx: &mut dyn IncidentTx) -> StorageResult<()> {
        let mut outcomes = Vec::with_capacity(self.signals.len());
        for signal in &self.signals {
            outcomes.push(apply_signal(tx, signal, self.now, self.group_window).await?);
        }
        if let Ok(mut stored) = self.outcomes.lock() {
            *stored = outcomes;
        }
        Ok(())
    }
}

/// Commit `signals` in one transaction, retrying while the database is unavailable.
async fn commit(core: &Core, signals: Vec<&AlertSignal>) -> StorageResult<Vec<SignalOutcome>> {
    let mut delay = Duration::from_millis(20);
    let mut attempt = 0;
    loop {
        let work = SignalBatch {
            signals: signals.clone(),
            now: core.now(),
            group_window: core.config.incidents.group_window,
            outcomes: Mutex::new(Vec::new()),
        };
        match core.storage.run_incident_work(&work).await {
            Ok(()) => {
                return Ok(work
                    .outcomes
                    .into_inner()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()));
            }
            Err(StorageError::Unavailable(message)) if attempt < RETRIES => {
                tracing::warn!(%message, attempt, "alert batch not committed; retrying");
                attempt += 1;
                tokio::time::sleep(delay).await;
                delay *= 4;
            }
            Err(err) => return Err(err),
        }
    }
}

async fn process(core: &Core, batch: Vec<Request>) {
    let signals: Vec<&AlertSignal> = batch.iter().map(|request| &request.signal).collect();
    let results: Vec<CoreResult<SignalOutcome>> = match commit(core, signals).await {
        Ok(outcomes) if outcomes.len() == batch.len() => outcomes.into_iter().map(Ok).collect(),
        Ok(_) => batch
            .iter()
            .map(|_| Err(CoreError::Internal("alert batch lost its outcomes".into())))
            .collect(),
        Err(err) if batch.len() == 1 => vec![Err(err.into())],
        Err(err) => {
            tracing::warn!(error = %err, size = batch.len(), "alert batch failed; applying its events one by one");
            let mut results = Vec::with_capacity(batch.len());
            for request in &batch {
                results.push(
                    commit(core, vec![&request.signal])
                        .await
                        .map_err(CoreError::from)
                        .and_then(|mut outcomes| {
                            outcomes.pop().ok_or_else(|| {
                                CoreError::Internal("alert event lost its outcome".into())
                            })
                        }),
                );
            }
            results
        }
    };
    if results
        .iter()
        .any(|result| matches!(result, Ok(outcome) if outcome.opened_incident().is_some()))
    {
        core.alerts.opened.notify_waiters();
    }
    for (request, result) in batch.into_iter().zip(results) {
        let _ = request.ack.send(result);
    }
}

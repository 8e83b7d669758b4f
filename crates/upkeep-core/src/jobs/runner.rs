//! The job runner: a worker that claims due jobs, runs each with the handler registered for its kind,
//! and records success, a retry with backoff, or a final failure.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::{Job, Worker, WorkerState, retry_delay};
use crate::Core;
use crate::clock::add;

type Handler = Arc<
    dyn Fn(Core, Value) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>> + Send + Sync,
>;

/// Maps job kinds to the code that runs them.
#[derive(Clone, Default)]
pub struct JobRegistry {
    handlers: HashMap<&'static str, Handler>,
}

impl JobRegistry {
    pub fn register<J: Job>(mut self) -> Self {
        let handler: Handler = Arc::new(|core: Core, payload: Value| {
            Box::pin(async move {
                let job: J = serde_json::from_value(payload).map_err(|err| {
                    anyhow::anyhow!("payload of {} job does not parse: {err}", J::KIND)
                })?;
                job.run(&core).await
            })
        });
        self.handlers.insert(J::KIND, handler);
        self
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        let mut kinds: Vec<_> = self.handlers.keys().copied().collect();
        kinds.sort_unstable();
        kinds
    }
}

pub struct JobRunner {
    core: Core,
    registry: JobRegistry,
    node: String,
    /// How long a claimed job is ours before another node may take it over.
    lease: Duration,
    batch: u32,
    poll: Duration,
}

impl JobRunner {
    pub fn new(core: Core, registry: JobRegistry, node: String) -> Self {
        Self {
            core,
            registry,
            node,
            lease: Duration::from_secs(300),
            batch: 16,
            poll: Duration::from_secs(5),
        }
    }

    /// Claim and run one batch of due jobs; returns how many ran.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        let now = self.core.now();
        let jobs = self
            .core
            .storage
            .claim_jobs(&self.node, now, self.lease, self.batch)
            .await?;
        let count = jobs.len();
        for job in jobs {
            let outcome = match self.registry.handlers.get(job.kind.as_str()) {
                Some(handler) if job.attempt <= job.max_attempts => {
                    handler(self.core.clone(), job.payload.clone()).await
                }
                Some(_) => Err(anyhow::anyhow!(
                    "gave up after {} attempts",
                    job.max_attempts
                )),
                None => Err(anyhow::anyhow!("no handler for job kind {}", job.kind)),
            };
            let at = self.core.now();
            match outcome {
                Ok(()) => {
                    self.core
                        .storage
                        .complete_job(job.id, job.attempt, at)
                        .await?;
                }
                Err(err) => {
                    let retry = (job.attempt < job.max_attempts
                        && self.registry.handlers.contains_key(job.kind.as_str()))
                    .then(|| add(at, retry_delay(job.attempt, job.id)));
                    tracing::warn!(job = job.id, kind = job.kind, attempt = job.attempt, error = %err, retry = retry.is_some(), "job failed");
                    self.core
                        .storage
                        .fail_job(job.id, job.attempt, &format!("{err:#}"), retry, at)
                        .await?;
                }
            }
        }
        Ok(count)
    }
}

#[async_trait::async_trait]
impl Worker for JobRunner {
    fn name(&self) -> String {
        "job-runner".to_string()
    }

    async fn work(&mut self) -> anyhow::Result<WorkerState> {
        let ran = self.run_once().await?;
        Ok(if ran > 0 {
            WorkerState::Busy
        } else {
            WorkerState::Idle
        })
    }

    async fn wait_for_work(&mut self) {
        self.core.storage.wait_for_jobs(self.poll).await;
    }
}

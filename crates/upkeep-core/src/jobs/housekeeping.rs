//! Housekeeping: deletes expired sessions and finished jobs so the database stays bounded.

use std::time::Duration;

use super::{Worker, WorkerState};
use crate::Core;
use crate::clock::sub;

/// How long finished jobs are kept for inspection.
const JOB_RETENTION: Duration = Duration::from_secs(7 * 86_400);

pub struct Housekeeping {
    core: Core,
    interval: Duration,
}

impl Housekeeping {
    pub fn new(core: Core) -> Self {
        Self {
            core,
            interval: Duration::from_secs(600),
        }
    }

    /// One pass; returns (sessions removed, jobs removed).
    pub async fn run_once(&self) -> anyhow::Result<(u64, u64)> {
        let now = self.core.now();
        let sessions = self.core.storage.delete_expired_sessions(now).await?;
        let jobs = self
            .core
            .storage
            .prune_jobs(sub(now, JOB_RETENTION))
            .await?;
        if sessions + jobs > 0 {
            tracing::info!(sessions, jobs, "housekeeping removed expired rows");
        }
        Ok((sessions, jobs))
    }
}

#[async_trait::async_trait]
impl Worker for Housekeeping {
    fn name(&self) -> String {
        "housekeeping".to_string()
    }

    async fn work(&mut self) -> anyhow::Result<WorkerState> {
        self.run_once().await?;
        Ok(WorkerState::Idle)
    }

    async fn wait_for_work(&mut self) {
        tokio::time::sleep(self.interval).await;
    }
}

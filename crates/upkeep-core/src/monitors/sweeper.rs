//! The deadline sweeper: finds heartbeats whose deadline (stored in the database, so it survives restarts
//! and is seen by every node) has passed, and turns them late or down; resumes monitors whose pause ended.

use std::time::Duration;

use crate::jobs::{Worker, WorkerState};
use crate::{Core, audit};

pub struct DeadlineSweeper {
    core: Core,
    poll: Duration,
}

impl DeadlineSweeper {
    pub fn new(core: Core) -> Self {
        Self {
            core,
            poll: Duration::from_secs(1),
        }
    }

    /// One pass; returns how many monitors were looked at.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        let now = self.core.now();
        let due = self.core.storage.due_deadlines(now, 500).await?;
        let count = due.len();
        for monitor in due {
            self.core.ingest.sweep(&self.core, monitor.id, now).await?;
        }
        for monitor in self.core.storage.due_resumes(now).await? {
            let ctx = audit::context(&self.core, audit::system_actor(), None);
            super::resume(&self.core, &ctx, monitor.id).await?;
        }
        Ok(count)
    }
}

#[async_trait::async_trait]
impl Worker for DeadlineSweeper {
    fn name(&self) -> String {
        "heartbeat-deadlines".to_string()
    }

    async fn work(&mut self) -> anyhow::Result<WorkerState> {
        let count = self.run_once().await?;
        Ok(if count >= 500 {
            WorkerState::Busy
        } else {
            WorkerState::Idle
        })
    }

    async fn wait_for_work(&mut self) {
        tokio::time::sleep(self.poll).await;
    }
}

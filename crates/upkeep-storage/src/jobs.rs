//! The durable job queue: jobs are rows, claimed under a lease, retried with backoff, never lost on restart.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

use crate::StorageResult;

#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub payload: Value,
    pub run_at: Timestamp,
    pub max_attempts: i32,
    /// When set, a job is not enqueued while another with the same key waits for its first run.
    pub dedup_key: Option<String>,
}

/// A claimed job. `attempt` is the fencing token: completion and failure must quote it.
#[derive(Debug, Clone, Serialize)]
pub struct JobRecord {
    pub id: i64,
    pub kind: String,
    pub payload: Value,
    pub attempt: i32,
    pub max_attempts: i32,
    pub run_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct JobCount {
    pub kind: String,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    pub count: i64,
}

#[async_trait::async_trait]
pub trait JobStore {
    /// Returns the job id, or `None` when a job with the same dedup key waits for its first run.
    async fn enqueue_job(&self, job: NewJob) -> StorageResult<Option<i64>>;
    /// Claim up to `limit` due jobs (queued with `run_at <= now`, or running with an expired lease)
    /// for `worker`, leasing them until `now + lease`. Each claim increments the attempt.
    async fn claim_jobs(
        &self,
        worker: &str,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> StorageResult<Vec<JobRecord>>;
    /// Mark done; `false` when the attempt no longer holds the job (its lease was taken over).
    async fn complete_job(&self, id: i64, attempt: i32, at: Timestamp) -> StorageResult<bool>;
    /// Record a failure; requeue at `retry_at`, or mark failed for good when `None`.
    async fn fail_job(
        &self,
        id: i64,
        attempt: i32,
        error: &str,
        retry_at: Option<Timestamp>,
        at: Timestamp,
    ) -> StorageResult<bool>;
    /// Wait until a job may have been enqueued (or `timeout` passes). A hint only: callers poll too.
    async fn wait_for_jobs(&self, timeout: Duration);
    async fn job_counts(&self) -> StorageResult<Vec<JobCount>>;
    /// Delete done and failed jobs last touched before `before`.
    async fn prune_jobs(&self, before: Timestamp) -> StorageResult<u64>;
}

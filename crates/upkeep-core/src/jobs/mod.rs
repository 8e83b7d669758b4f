//! Background work: durable jobs (typed structs stored as rows, retried with backoff) and long-running
//! workers whose status (last run, errors) can be listed through the API.
//!
//! A job is enqueued in the database and survives restarts; the [`runner::JobRunner`] worker claims due
//! jobs under a lease, so a crashed node's jobs are picked up again once the lease runs out.

mod housekeeping;
mod runner;
mod worker;

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use upkeep_storage::NewJob;

pub use housekeeping::Housekeeping;
pub use runner::{JobRegistry, JobRunner};
pub use worker::{Worker, WorkerRegistry, WorkerState, WorkerStatus, spawn_worker};

use crate::{Core, CoreError, CoreResult};

/// A unit of background work with its own small payload type.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Stable name stored with the job; never rename a shipped one.
    const KIND: &'static str;
    /// Attempts before the job is marked failed for good.
    const MAX_ATTEMPTS: i32 = 8;

    /// Jobs with the same key are not queued twice.
    fn dedup_key(&self) -> Option<String> {
        None
    }

    fn run(&self, core: &Core) -> impl std::future::Future<Output = anyhow::Result<()>> + Send;
}

/// Queue `job` to run now. Returns the job id, or `None` when an identical job (same dedup key) is queued.
pub async fn enqueue<J: Job>(core: &Core, job: &J) -> CoreResult<Option<i64>> {
    enqueue_at(core, job, core.now()).await
}

pub async fn enqueue_at<J: Job>(
    core: &Core,
    job: &J,
    run_at: jiff::Timestamp,
) -> CoreResult<Option<i64>> {
    let payload = serde_json::to_value(job)
        .map_err(|err| CoreError::Internal(format!("job {} does not serialise: {err}", J::KIND)))?;
    Ok(core
        .storage
        .enqueue_job(NewJob {
            kind: J::KIND.to_string(),
            payload,
            run_at,
            max_attempts: J::MAX_ATTEMPTS,
            dedup_key: job.dedup_key().map(|key| format!("{}:{key}", J::KIND)),
        })
        .await?)
}

/// Delay before retry `attempt` (1-based): 5 s doubling up to one hour, plus up to 20 % deterministic
/// jitter from the job id so retries of many jobs do not arrive together.
pub fn retry_delay(attempt: i32, job_id: i64) -> Duration {
    let exponent = u32::try_from(attempt.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    let base = 5u64.saturating_mul(1u64 << exponent).min(3_600);
    let jitter = base * u64::try_from(job_id.rem_euclid(21)).unwrap_or(0) / 100;
    Duration::from_secs(base + jitter)
}

#[cfg(test)]
mod tests {
    use super::retry_delay;
    use std::time::Duration;

    #[test]
    fn retries_back_off_and_cap() {
        assert_eq!(retry_delay(1, 0), Duration::from_secs(5));
        assert_eq!(retry_delay(2, 0), Duration::from_secs(10));
        assert_eq!(retry_delay(30, 0), Duration::from_secs(3_600));
        assert_eq!(retry_delay(1, 20), Duration::from_secs(6));
    }
}

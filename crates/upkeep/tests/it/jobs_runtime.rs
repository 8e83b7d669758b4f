//! The durable job runtime on both backends: a job runs once, a failing job is retried with backoff at
//! the time the injected clock says, and gives up after its attempts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use upkeep_core::Core;
use upkeep_core::clock::ManualClock;
use upkeep_core::config::Config;
use upkeep_core::jobs::{self, Job, JobRegistry, JobRunner};

use crate::support::databases::{TestDb, backend_tests};

backend_tests!(jobs_run_once_and_retry_with_backoff);

static RUNS: AtomicU32 = AtomicU32::new(0);
static FLAKY_RUNS: AtomicU32 = AtomicU32::new(0);

#[derive(Serialize, Deserialize)]
struct CountJob {
    name: String,
}

impl Job for CountJob {
    const KIND: &'static str = "test.count";

    fn dedup_key(&self) -> Option<String> {
        Some(self.name.clone())
    }

    async fn run(&self, _core: &Core) -> anyhow::Result<()> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[derive(Serialize, Deserialize)]
struct FlakyJob;

impl Job for FlakyJob {
    const KIND: &'static str = "test.flaky";
    const MAX_ATTEMPTS: i32 = 3;

    async fn run(&self, _core: &Core) -> anyhow::Result<()> {
        FLAKY_RUNS.fetch_add(1, Ordering::SeqCst);
        anyhow::bail!("the far end is down")
    }
}

async fn jobs_run_once_and_retry_with_backoff(db: TestDb) {
    let clock = Arc::new(ManualClock::new(
        Timestamp::from_second(1_900_000_000).expect("time"),
    ));
    let core = Core::new(db.storage.clone(), clock.clone(), Config::default());
    let registry = JobRegistry::default()
        .register::<CountJob>()
        .register::<FlakyJob>();
    let runner = JobRunner::new(core.clone(), registry, format!("test-{}", db.backend));

    let runs_before = RUNS.load(Ordering::SeqCst);
    let first = jobs::enqueue(
        &core,
        &CountJob {
            name: format!("a-{}", db.backend),
        },
    )
    .await
    .expect("enqueue");
    assert!(first.is_some());
    let duplicate = jobs::enqueue(
        &core,
        &CountJob {
            name: format!("a-{}", db.backend),
        },
    )
    .await
    .expect("enqueue");
    assert!(
        duplicate.is_none(),
        "a queued job with the same key is not queued twice"
    );
    assert_eq!(runner.run_once().await.expect("run"), 1);
    assert_eq!(RUNS.load(Ordering::SeqCst) - runs_before, 1);
    assert_eq!(
        runner.run_once().await.expect("run"),
        0,
        "a done job does not run again"
    );

    let flaky_before = FLAKY_RUNS.load(Ordering::SeqCst);
    jobs::enqueue(&core, &FlakyJob).await.expect("enqueue");
    assert_eq!(runner.run_once().await.expect("run"), 1);
    assert_eq!(
        runner.run_once().await.expect("run"),
        0,
        "the retry waits for its backoff"
    );
    clock.advance(jobs::retry_delay(1, i64::MAX) + Duration::from_secs(1));
    assert_eq!(
        runner.run_once().await.expect("run"),
        1,
        "second attempt after the backoff"
    );
    clock.advance(Duration::from_secs(3_600 * 2));
    assert_eq!(
        runner.run_once().await.expect("run"),
        1,
        "third and last attempt"
    );
    clock.advance(Duration::from_secs(3_600 * 24));
    assert_eq!(
        runner.run_once().await.expect("run"),
        0,
        "no attempts after the last"
    );
    assert_eq!(FLAKY_RUNS.load(Ordering::SeqCst) - flaky_before, 3);

    let counts = core.storage.job_counts().await.expect("counts");
    let failed = counts
        .iter()
        .find(|c| c.kind == "test.flaky" && c.status == "failed")
        .map(|c| c.count);
    assert_eq!(failed, Some(1));
    let done = counts
        .iter()
        .find(|c| c.kind == "test.count" && c.status == "done")
        .map(|c| c.count);
    assert_eq!(done, Some(1));
}

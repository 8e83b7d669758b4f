//! The durable job queue on PostgreSQL: claims are one `UPDATE … RETURNING` over rows picked with
//! `FOR UPDATE SKIP LOCKED`, so workers on several nodes never claim the same job, and enqueues wake
//! every node's runner through `NOTIFY upkeep_jobs`.

use std::time::Duration;

use jiff::Timestamp;
use sqlx::Row;
use sqlx::postgres::{PgListener, PgRow};
use tokio::time::Instant;
use upkeep_storage::{JobCount, JobRecord, JobStore, NewJob, StorageError, StorageResult};

use crate::PostgresStorage;
use crate::support::{db_err, get, millis, timestamp};

/// The `LISTEN/NOTIFY` channel that announces new jobs.
pub(crate) const JOBS_CHANNEL: &str = "upkeep_jobs";

fn job_from_row(row: &PgRow) -> StorageResult<JobRecord> {
    let payload: String = get(row, "payload_json")?;
    Ok(JobRecord {
        id: get(row, "id")?,
        kind: get(row, "kind")?,
        payload: serde_json::from_str(&payload)
            .map_err(|err| StorageError::Other(format!("stored job payload is invalid: {err}")))?,
        attempt: get(row, "attempt")?,
        max_attempts: get(row, "max_attempts")?,
        run_at: timestamp(row, "run_at")?,
    })
}

fn lease_millis(lease: Duration) -> i64 {
    i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2)
}

#[async_trait::async_trait]
impl JobStore for PostgresStorage {
    async fn enqueue_job(&self, job: NewJob) -> StorageResult<Option<i64>> {
        let id: Option<i64> = sqlx::query(
            "INSERT INTO jobs (kind, payload_json, status, attempt, max_attempts, run_at, dedup_key, created_at, updated_at)
             VALUES ($1, $2, 'queued', 0, $3, $4, $5, $4, $4)
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(&job.kind)
        .bind(job.payload.to_string())
        .bind(job.max_attempts)
        .bind(millis(job.run_at))
        .bind(&job.dedup_key)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .map(|row| get(&row, "id"))
        .transpose()?;
        if id.is_some() {
            // A hint only: workers poll too, so a lost notification merely delays the job.
            if let Err(err) = sqlx::query("SELECT pg_notify($1, '')")
                .bind(JOBS_CHANNEL)
                .execute(&self.pool)
                .await
            {
                tracing::warn!(error = %err, "could not notify workers of a new job");
            }
        }
        Ok(id)
    }

    async fn claim_jobs(
        &self,
        worker: &str,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> StorageResult<Vec<JobRecord>> {
        let now_ms = millis(now);
        let rows = sqlx::query(
            "UPDATE jobs SET status = 'running', attempt = attempt + 1, locked_by = $1, locked_until = $2, updated_at = $3
             WHERE id IN (
                SELECT id FROM jobs
                WHERE (status = 'queued' AND run_at <= $3) OR (status = 'running' AND locked_until <= $3)
                ORDER BY run_at, id LIMIT $4
                FOR UPDATE SKIP LOCKED)
             RETURNING id, kind, payload_json, attempt, max_attempts, run_at",
        )
        .bind(worker)
        .bind(now_ms.saturating_add(lease_millis(lease)))
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(job_from_row).collect()
    }

    async fn complete_job(&self, id: i64, attempt: i32, at: Timestamp) -> StorageResult<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET status = 'done', locked_by = NULL, locked_until = NULL, updated_at = $1
             WHERE id = $2 AND attempt = $3 AND status = 'running'",
        )
        .bind(millis(at))
        .bind(id)
        .bind(attempt)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn fail_job(
        &self,
        id: i64,
        attempt: i32,
        error: &str,
        retry_at: Option<Timestamp>,
        at: Timestamp,
    ) -> StorageResult<bool> {
        let status = if retry_at.is_some() {
            "queued"
        } else {
            "failed"
        };
        let done = sqlx::query(
            "UPDATE jobs SET status = $1, run_at = COALESCE($2::BIGINT, run_at), last_error = $3, locked_by = NULL, locked_until = NULL, updated_at = $4
             WHERE id = $5 AND attempt = $6 AND status = 'running'",
        )
        .bind(status)
        .bind(retry_at.map(millis))
        .bind(error)
        .bind(millis(at))
        .bind(id)
        .bind(attempt)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn wait_for_jobs(&self, timeout: Duration) {
        // `checked_add`: a huge timeout must not overflow the clock (and panic); a year is forever here.
        let now = Instant::now();
        let deadline = now
            .checked_add(timeout)
            .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600));
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            tokio::time::sleep_until(deadline).await;
            return;
        }
        // Another task already waiting holds the listener; this one then simply waits out its timeout.
        let Ok(mut guard) = tokio::time::timeout_at(deadline, self.listener.lock()).await else {
            return;
        };
        if guard.is_none() {
            match tokio::time::timeout_at(deadline, listen(&self.url)).await {
                Ok(Ok(listener)) => *guard = Some(listener),
                Ok(Err(err)) => {
                    drop(guard);
                    tracing::warn!(error = %err, "could not listen for new jobs; polling instead");
                    tokio::time::sleep_until(deadline).await;
                    return;
                }
                Err(_) => return,
            }
        }
        let Some(listener) = guard.as_mut() else {
            return;
        };
        match tokio::time::timeout_at(deadline, listener.recv()).await {
            Ok(Ok(_)) => {
                // Notifications that piled up while nobody waited say nothing more: one wake-up is enough.
                while listener.next_buffered().is_some() {}
            }
            Err(_) => {}
            Ok(Err(err)) => {
                *guard = None;
                drop(guard);
                tracing::warn!(error = %err, "lost the job listener; it is recreated on the next wait");
                tokio::time::sleep_until(deadline).await;
            }
        }
    }

    async fn job_counts(&self) -> StorageResult<Vec<JobCount>> {
        sqlx::query("SELECT kind, status, COUNT(*) AS n FROM jobs GROUP BY kind, status ORDER BY kind COLLATE \"C\", status COLLATE \"C\"")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
            .iter()
            .map(|row| {
                Ok(JobCount {
                    kind: get(row, "kind")?,
                    status: get(row, "status")?,
                    count: row.try_get("n").map_err(db_err)?,
                })
            })
            .collect()
    }

    async fn prune_jobs(&self, before: Timestamp) -> StorageResult<u64> {
        let done =
            sqlx::query("DELETE FROM jobs WHERE status IN ('done', 'failed') AND updated_at < $1")
                .bind(millis(before))
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(done.rows_affected())
    }
}

/// A listener on its own connection (outside the pool, so it never holds a pool slot or delays `close`).
async fn listen(url: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(JOBS_CHANNEL).await?;
    Ok(listener)
}

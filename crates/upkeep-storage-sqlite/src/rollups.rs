//! Monitor history rollups on SQLite: raw samples read in time order, rollup rows upserted in batches
//! together with their resolution's watermark.

use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite};
use upkeep_storage::{
    RawSample, Resolution, RollupCursor, RollupRow, RollupStore, StorageError, StorageResult,
};

use crate::SqliteStorage;
use crate::support::{db_err, get};

/// Rows per multi-row `INSERT` (10 parameters each, well under SQLite's 32,766).
const INSERT_CHUNK: usize = 500;

fn sample_from_row(row: &SqliteRow) -> StorageResult<RawSample> {
    Ok(RawSample {
        monitor_id: get(row, "monitor_id")?,
        at: get(row, "at")?,
        success: get(row, "success")?,
        duration_ms: get(row, "duration_ms")?,
    })
}

fn rollup_from_row(row: &SqliteRow) -> StorageResult<RollupRow> {
    let resolution: String = get(row, "resolution")?;
    Ok(RollupRow {
        monitor_id: get(row, "monitor_id")?,
        resolution: Resolution::parse(&resolution).ok_or_else(|| {
            StorageError::Other(format!("unknown stored rollup resolution {resolution}"))
        })?,
        bucket_start: get(row, "bucket_start")?,
        checks: get(row, "checks")?,
        failures: get(row, "failures")?,
        timed: get(row, "timed")?,
        min_ms: get(row, "min_ms")?,
        max_ms: get(row, "max_ms")?,
        sum_ms: get(row, "sum_ms")?,
        sketch: get(row, "sketch")?,
    })
}

/// The oldest `limit` of two lists that are each sorted by time.
fn merge_oldest(first: Vec<RawSample>, second: Vec<RawSample>, limit: usize) -> Vec<RawSample> {
    let mut merged = Vec::with_capacity((first.len() + second.len()).min(limit));
    let mut first = first.into_iter().peekable();
    let mut second = second.into_iter().peekable();
    while merged.len() < limit {
        let next = match (first.peek(), second.peek()) {
            (Some(a), Some(b)) if b.at < a.at => second.next(),
            (Some(_), _) => first.next(),
            (None, _) => second.next(),
        };
        match next {
            Some(sample) => merged.push(sample),
            None => break,
        }
    }
    merged
}

#[async_trait::async_trait]
impl RollupStore for SqliteStorage {
    async fn raw_samples(
        &self,
        from: i64,
        to: i64,
        monitor_id: Option<i64>,
        limit: u32,
    ) -> StorageResult<Vec<RawSample>> {
        let results = sqlx::query(
            "SELECT monitor_id, at, success, duration_ms FROM check_results
             WHERE at >= $1 AND at < $2 AND ($3 IS NULL OR monitor_id = $3) ORDER BY at LIMIT $4",
        )
        .bind(from)
        .bind(to)
        .bind(monitor_id)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        let pings = sqlx::query(
            "SELECT monitor_id, at, kind = 'success' AS success, duration_ms FROM heartbeat_pings
             WHERE at >= $1 AND at < $2 AND kind IN ('success', 'fail') AND ($3 IS NULL OR monitor_id = $3)
             ORDER BY at LIMIT $4",
        )
        .bind(from)
        .bind(to)
        .bind(monitor_id)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        let results = results
            .iter()
            .map(sample_from_row)
            .collect::<StorageResult<Vec<_>>>()?;
        let pings = pings
            .iter()
            .map(sample_from_row)
            .collect::<StorageResult<Vec<_>>>()?;
        Ok(merge_oldest(
            results,
            pings,
            usize::try_from(limit).unwrap_or(usize::MAX),
        ))
    }

    async fn oldest_raw_sample(&self) -> StorageResult<Option<i64>> {
        let row = sqlx::query(
            "SELECT (SELECT MIN(at) FROM check_results) AS results, (SELECT MIN(at) FROM heartbeat_pings) AS pings",
        )
        .fetch_one(&self.reader)
        .await
        .map_err(db_err)?;
        let results: Option<i64> = get(&row, "results")?;
        let pings: Option<i64> = get(&row, "pings")?;
        Ok(results.into_iter().chain(pings).min())
    }

    async fn rollup_watermark(&self, resolution: Resolution) -> StorageResult<Option<i64>> {
        let row = sqlx::query("SELECT upto FROM rollup_watermarks WHERE resolution = $1")
            .bind(resolution.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        match row {
            Some(row) => get(&row, "upto"),
            None => Ok(None),
        }
    }

    async fn oldest_rollup(&self, resolution: Resolution) -> StorageResult<Option<i64>> {
        let row = sqlx::query(
            "SELECT MIN(bucket_start) AS oldest FROM monitor_rollups WHERE resolution = $1",
        )
        .bind(resolution.as_str())
        .fetch_one(&self.reader)
        .await
        .map_err(db_err)?;
        get(&row, "oldest")
    }

    async fn rollups_page(
        &self,
        resolution: Resolution,
        from: i64,
        to: i64,
        after: Option<RollupCursor>,
        limit: u32,
    ) -> StorageResult<Vec<RollupRow>> {
        let after = after.unwrap_or(RollupCursor {
            bucket_start: from,
            monitor_id: i64::MIN,
        });
        // One lower bound on `bucket_start`, so the index range starts at the page, not at the oldest
        // row; with `bucket_start >= after.bucket_start`, the cursor's tie-break reduces to this OR.
        let rows = sqlx::query(
            "SELECT * FROM monitor_rollups
             WHERE resolution = $1 AND bucket_start >= $2 AND bucket_start < $3
               AND (bucket_start > $4 OR monitor_id > $5)
             ORDER BY bucket_start, monitor_id LIMIT $6",
        )
        .bind(resolution.as_str())
        .bind(from.max(after.bucket_start))
        .bind(to)
        .bind(after.bucket_start)
        .bind(after.monitor_id)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(rollup_from_row).collect()
    }

    async fn store_rollups(
        &self,
        resolution: Resolution,
        rows: &[RollupRow],
        expected: Option<i64>,
        upto: i64,
    ) -> StorageResult<bool> {
        let mut tx = self.begin_write().await?;
        let moved = sqlx::query(
            "UPDATE rollup_watermarks SET upto = $1 WHERE resolution = $2 AND upto IS $3",
        )
        .bind(upto)
        .bind(resolution.as_str())
        .bind(expected)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if moved.rows_affected() == 0 {
            tx.rollback().await.map_err(db_err)?;
            return Ok(false);
        }
        for chunk in rows.chunks(INSERT_CHUNK) {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO monitor_rollups (monitor_id, resolution, bucket_start, checks, failures, timed, min_ms, max_ms, sum_ms, sketch) ",
            );
            insert.push_values(chunk, |mut values, row| {
                values
                    .push_bind(row.monitor_id)
                    .push_bind(row.resolution.as_str())
                    .push_bind(row.bucket_start)
                    .push_bind(row.checks)
                    .push_bind(row.failures)
                    .push_bind(row.timed)
                    .push_bind(row.min_ms)
                    .push_bind(row.max_ms)
                    .push_bind(row.sum_ms)
                    .push_bind(row.sketch.as_slice());
            });
            insert.push(
                " ON CONFLICT (monitor_id, resolution, bucket_start) DO UPDATE SET checks = excluded.checks,
                  failures = excluded.failures, timed = excluded.timed, min_ms = excluded.min_ms,
                  max_ms = excluded.max_ms, sum_ms = excluded.sum_ms, sketch = excluded.sketch",
            );
            insert.build().execute(&mut *tx).await.map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn rollups(
        &self,
        monitor_id: i64,
        resolution: Resolution,
        from: i64,
        to: i64,
    ) -> StorageResult<Vec<RollupRow>> {
        let rows = sqlx::query(
            "SELECT * FROM monitor_rollups
             WHERE monitor_id = $1 AND resolution = $2 AND bucket_start >= $3 AND bucket_start < $4
             ORDER BY bucket_start",
        )
        .bind(monitor_id)
        .bind(resolution.as_str())
        .bind(from)
        .bind(to)
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(rollup_from_row).collect()
    }

    async fn prune_rollups(&self, resolution: Resolution, before: i64) -> StorageResult<u64> {
        let mut tx = self.begin_write().await?;
        let done =
            sqlx::query("DELETE FROM monitor_rollups WHERE resolution = $1 AND bucket_start < $2")
                .bind(resolution.as_str())
                .bind(before)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::merge_oldest;
    use upkeep_storage::RawSample;

    fn at(times: &[i64]) -> Vec<RawSample> {
        times
            .iter()
            .map(|&at| RawSample {
                monitor_id: 1,
                at,
                success: true,
                duration_ms: None,
            })
            .collect()
    }

    #[test]
    fn the_oldest_of_two_sorted_lists_are_kept() {
        let merged = merge_oldest(at(&[1, 4, 6]), at(&[2, 3, 9]), 4);
        let times: Vec<i64> = merged.iter().map(|sample| sample.at).collect();
        assert_eq!(times, vec![1, 2, 3, 4]);
        assert_eq!(merge_oldest(at(&[]), at(&[5]), 10).len(), 1);
    }
}

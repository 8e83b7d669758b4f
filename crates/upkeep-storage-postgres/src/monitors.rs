//! Monitors, their state, results, pings and state-change events on PostgreSQL.
//!
//! Several nodes may write at once: updates and deletes lock the monitor row first (so the audit
//! record's `before` is the row that was changed), and a write batch locks every monitor it touches in
//! id order before changing any, so two nodes' batches over the same monitors cannot deadlock.

use jiff::Timestamp;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use upkeep_storage::{
    AuditContext, BatchMonitor, CheckResult, HeartbeatPing, Monitor, MonitorBatch, MonitorChanges,
    MonitorEvent, MonitorFilter, MonitorState, MonitorStatus, MonitorStore, MonitorWrite,
    NewMonitor, Page, PageRequest, StorageError, StorageResult,
};

use crate::PostgresStorage;
use crate::support::{
    db_err, get, insert_audit, millis, opt_timestamp, snapshot, timestamp, unique_err,
};

mod batch;
mod list;

const MONITOR_SELECT: &str =
    "SELECT m.*, s.slug AS service_slug FROM monitors m JOIN services s ON s.id = m.service_id";

fn status_of(text: &str) -> StorageResult<MonitorStatus> {
    MonitorStatus::parse(text)
        .ok_or_else(|| StorageError::Other(format!("unknown stored monitor status {text}")))
}

fn json_of(text: &str, what: &str) -> StorageResult<serde_json::Value> {
    serde_json::from_str(text)
        .map_err(|err| StorageError::Other(format!("stored {what} is invalid: {err}")))
}

fn state_from_row(row: &PgRow) -> StorageResult<MonitorState> {
    Ok(MonitorState {
        status: status_of(&get::<String>(row, "status")?)?,
        consecutive_failures: get(row, "consecutive_failures")?,
        consecutive_successes: get(row, "consecutive_successes")?,
        last_checked_at: opt_timestamp(row, "last_checked_at")?,
        last_change_at: opt_timestamp(row, "last_change_at")?,
        last_ping_at: opt_timestamp(row, "last_ping_at")?,
        last_start_at: opt_timestamp(row, "last_start_at")?,
        last_start_rid: get(row, "last_start_rid")?,
        deadline_at: opt_timestamp(row, "deadline_at")?,
        last_error: get(row, "last_error")?,
        last_duration_ms: get(row, "last_duration_ms")?,
    })
}

fn monitor_from_row(row: &PgRow) -> StorageResult<Monitor> {
    Ok(Monitor {
        id: get(row, "id")?,
        service_id: get(row, "service_id")?,
        service_slug: get(row, "service_slug")?,
        name: get(row, "name")?,
        slug: get(row, "slug")?,
        kind: get(row, "kind")?,
        settings: json_of(&get::<String>(row, "settings_json")?, "monitor settings")?,
        interval_ms: get(row, "interval_ms")?,
        failure_threshold: get(row, "failure_threshold")?,
        success_threshold: get(row, "success_threshold")?,
        ping_token: get(row, "ping_token")?,
        managed_by: get(row, "managed_by")?,
        paused: get(row, "paused")?,
        resume_at: opt_timestamp(row, "resume_at")?,
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
        state: state_from_row(row)?,
    })
}

fn monitors_from_rows(rows: &[PgRow]) -> StorageResult<Vec<Monitor>> {
    rows.iter().map(monitor_from_row).collect()
}

/// The monitor, unlocked (for reads inside a transaction after a change).
/// The columns [`BatchMonitor`] needs, from `monitors` alone.
const BATCH_SELECT: &str = "SELECT id, service_id, kind, settings_json, failure_threshold, success_threshold, ping_token, paused,
    status, consecutive_failures, consecutive_successes, last_checked_at, last_change_at, last_ping_at, last_start_at,
    last_start_rid, deadline_at, last_error, last_duration_ms FROM monitors";

fn batch_monitor_from_row(row: &PgRow) -> StorageResult<BatchMonitor> {
    Ok(BatchMonitor {
        id: get(row, "id")?,
        service_id: get(row, "service_id")?,
        kind: get(row, "kind")?,
        settings_json: get(row, "settings_json")?,
        failure_threshold: get(row, "failure_threshold")?,
        success_threshold: get(row, "success_threshold")?,
        ping_token: get(row, "ping_token")?,
        paused: get(row, "paused")?,
        state: state_from_row(row)?,
    })
}

async fn fetch_monitor(conn: &mut PgConnection, id: i64) -> StorageResult<Monitor> {
    let row = sqlx::query(&format!("{MONITOR_SELECT} WHERE m.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db_err)?
        .ok_or(StorageError::NotFound { what: "monitor" })?;
    monitor_from_row(&row)
}

/// The monitor, its row locked until the transaction ends (`lock` is `NO KEY UPDATE` for a change,
/// `UPDATE` for a delete).
async fn fetch_monitor_locked(
    conn: &mut PgConnection,
    id: i64,
    lock: &str,
) -> StorageResult<Monitor> {
    let row = sqlx::query(&format!("{MONITOR_SELECT} WHERE m.id = $1 FOR {lock} OF m"))
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db_err)?
        .ok_or(StorageError::NotFound { what: "monitor" })?;
    monitor_from_row(&row)
}

async fn save_state(
    conn: &mut PgConnection,
    monitor_id: i64,
    state: &MonitorState,
) -> StorageResult<()> {
    sqlx::query(
        "UPDATE monitors SET status = $1, consecutive_failures = $2, consecutive_successes = $3, last_checked_at = $4,
            last_change_at = $5, last_ping_at = $6, last_start_at = $7, last_start_rid = $8, deadline_at = $9,
            last_error = $10, last_duration_ms = $11
         WHERE id = $12",
    )
    .bind(state.status.as_str())
    .bind(state.consecutive_failures)
    .bind(state.consecutive_successes)
    .bind(state.last_checked_at.map(millis))
    .bind(state.last_change_at.map(millis))
    .bind(state.last_ping_at.map(millis))
    .bind(state.last_start_at.map(millis))
    .bind(&state.last_start_rid)
    .bind(state.deadline_at.map(millis))
    .bind(&state.last_error)
    .bind(state.last_duration_ms)
    .bind(monitor_id)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

fn event_from_row(row: &PgRow) -> StorageResult<MonitorEvent> {
    Ok(MonitorEvent {
        id: get(row, "id")?,
        monitor_id: get(row, "monitor_id")?,
        at: timestamp(row, "at")?,
        from_status: status_of(&get::<String>(row, "from_status")?)?,
        to_status: status_of(&get::<String>(row, "to_status")?)?,
        reason: get(row, "reason")?,
        in_maintenance: get(row, "in_maintenance")?,
    })
}

fn ping_from_row(row: &PgRow) -> StorageResult<HeartbeatPing> {
    Ok(HeartbeatPing {
        id: get(row, "id")?,
        monitor_id: get(row, "monitor_id")?,
        at: timestamp(row, "at")?,
        kind: get(row, "kind")?,
        exit_status: get(row, "exit_status")?,
        rid: get(row, "rid")?,
        duration_ms: get(row, "duration_ms")?,
        body: get(row, "body")?,
        method: get(row, "method")?,
        remote_addr: get(row, "remote_addr")?,
        user_agent: get(row, "user_agent")?,
    })
}

fn result_from_row(row: &PgRow) -> StorageResult<CheckResult> {
    Ok(CheckResult {
        id: get(row, "id")?,
        monitor_id: get(row, "monitor_id")?,
        at: timestamp(row, "at")?,
        success: get(row, "success")?,
        duration_ms: get(row, "duration_ms")?,
        status_code: get(row, "status_code")?,
        error: get(row, "error")?,
        details: json_of(&get::<String>(row, "details_json")?, "check details")?,
    })
}

#[async_trait::async_trait]
impl MonitorStore for PostgresStorage {
    async fn create_monitor(
        &self,
        ctx: &AuditContext,
        monitor: NewMonitor,
    ) -> StorageResult<Monitor> {
        let mut tx = self.begin_write().await?;
        let state = &monitor.state;
        let id: i64 = sqlx::query(
            "INSERT INTO monitors (service_id, name, slug, kind, settings_json, interval_ms, failure_threshold, success_threshold,
                ping_token, managed_by, paused, created_at, updated_at, status, consecutive_failures, consecutive_successes, deadline_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, FALSE, $11, $11, $12, 0, 0, $13) RETURNING id",
        )
        .bind(monitor.service_id)
        .bind(&monitor.name)
        .bind(&monitor.slug)
        .bind(&monitor.kind)
        .bind(monitor.settings.to_string())
        .bind(monitor.interval_ms)
        .bind(monitor.failure_threshold)
        .bind(monitor.success_threshold)
        .bind(&monitor.ping_token)
        .bind(&monitor.managed_by)
        .bind(millis(ctx.at))
        .bind(state.status.as_str())
        .bind(state.deadline_at.map(millis))
        .fetch_one(&mut *tx)
        .await
        .and_then(|row| row.try_get("id"))
        .map_err(|err| {
            unique_err(
                err,
                format!(
                    "this service already has a monitor with slug {}",
                    monitor.slug
                ),
                "slug",
            )
        })?;
        let created = fetch_monitor(&mut tx, id).await?;
        insert_audit(
            &mut tx,
            ctx,
            "monitor.create",
            ("monitor", id.to_string()),
            None,
            snapshot(&created),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(created)
    }

    async fn monitor_by_id(&self, id: i64) -> StorageResult<Option<Monitor>> {
        let row = sqlx::query(&format!("{MONITOR_SELECT} WHERE m.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(monitor_from_row).transpose()
    }

    async fn monitors_by_ids(&self, ids: &[i64]) -> StorageResult<Vec<Monitor>> {
        let rows = sqlx::query(&format!("{MONITOR_SELECT} WHERE m.id = ANY($1)"))
            .bind(ids)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(monitor_from_row).collect()
    }

    async fn batch_monitors(&self, ids: &[i64]) -> StorageResult<Vec<BatchMonitor>> {
        let ids = ids;
        let rows = sqlx::query(&format!("{BATCH_SELECT} WHERE id = ANY($1)"))
            .bind(ids)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(batch_monitor_from_row).collect()
    }

    async fn monitor_by_token(&self, token: &str) -> StorageResult<Option<Monitor>> {
        let row = sqlx::query(&format!("{MONITOR_SELECT} WHERE m.ping_token = $1"))
            .bind(token)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(monitor_from_row).transpose()
    }

    async fn monitor_by_ping_key(
        &self,
        ping_key: &str,
        slug: &str,
    ) -> StorageResult<Option<Monitor>> {
        let row = sqlx::query(&format!(
            "{MONITOR_SELECT} WHERE s.ping_key = $1 AND m.slug = $2"
        ))
        .bind(ping_key)
        .bind(slug)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(monitor_from_row).transpose()
    }

    async fn service_id_by_ping_key(&self, ping_key: &str) -> StorageResult<Option<i64>> {
        let row = sqlx::query("SELECT id FROM services WHERE ping_key = $1")
            .bind(ping_key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(|row| get(row, "id")).transpose()
    }

    async fn list_monitors(
        &self,
        filter: &MonitorFilter,
        page: PageRequest,
    ) -> StorageResult<Page<Monitor>> {
        list::list(self, filter, page).await
    }

    async fn active_monitor_versions(
        &self,
        kinds: &[&str],
    ) -> StorageResult<Vec<(i64, Timestamp)>> {
        let kinds = kinds
            .iter()
            .map(|kind| kind.to_string())
            .collect::<Vec<String>>();
        let rows = sqlx::query(
            "SELECT m.id, m.updated_at FROM monitors m WHERE NOT m.paused AND m.kind = ANY($1)",
        )
        .bind(kinds)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| Ok((get(row, "id")?, timestamp(row, "updated_at")?)))
            .collect()
    }

    async fn active_monitors(&self, kinds: &[&str]) -> StorageResult<Vec<Monitor>> {
        let kinds: Vec<String> = kinds.iter().map(|kind| (*kind).to_string()).collect();
        let rows = sqlx::query(&format!(
            "{MONITOR_SELECT} WHERE NOT m.paused AND m.kind = ANY($1) ORDER BY m.id"
        ))
        .bind(kinds)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        monitors_from_rows(&rows)
    }

    async fn update_monitor(
        &self,
        ctx: &AuditContext,
        id: i64,
        changes: MonitorChanges,
    ) -> StorageResult<Monitor> {
        let mut tx = self.begin_write().await?;
        let before = fetch_monitor_locked(&mut tx, id, "NO KEY UPDATE").await?;
        sqlx::query(
            "UPDATE monitors SET name = $1, settings_json = $2, interval_ms = $3, failure_threshold = $4, success_threshold = $5,
                paused = $6, resume_at = $7, updated_at = $8, managed_by = $10 WHERE id = $9",
        )
        .bind(changes.name.as_ref().unwrap_or(&before.name))
        .bind(changes.settings.as_ref().unwrap_or(&before.settings).to_string())
        .bind(changes.interval_ms.unwrap_or(before.interval_ms))
        .bind(changes.failure_threshold.unwrap_or(before.failure_threshold))
        .bind(changes.success_threshold.unwrap_or(before.success_threshold))
        .bind(changes.paused.unwrap_or(before.paused))
        .bind(changes.resume_at.unwrap_or(before.resume_at).map(millis))
        .bind(millis(ctx.at))
        .bind(id)
        .bind(changes.managed_by.clone().unwrap_or(before.managed_by.clone()))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if let Some(state) = &changes.state {
            save_state(&mut tx, id, state).await?;
        }
        let after = fetch_monitor(&mut tx, id).await?;
        let action = match changes.paused {
            Some(true) if !before.paused => "monitor.pause",
            Some(false) if before.paused => "monitor.resume",
            _ => "monitor.update",
        };
        insert_audit(
            &mut tx,
            ctx,
            action,
            ("monitor", id.to_string()),
            snapshot(&before),
            snapshot(&after),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(after)
    }

    async fn delete_monitor(&self, ctx: &AuditContext, id: i64) -> StorageResult<()> {
        let mut tx = self.begin_write().await?;
        let before = fetch_monitor_locked(&mut tx, id, "UPDATE").await?;
        // Events, pings and results go with it (`ON DELETE CASCADE`).
        sqlx::query("DELETE FROM monitors WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_audit(
            &mut tx,
            ctx,
            "monitor.delete",
            ("monitor", id.to_string()),
            snapshot(&before),
            None,
        )
        .await?;
        tx.commit().await.map_err(db_err)
    }

    async fn apply_monitor_writes(&self, writes: &[MonitorWrite]) -> StorageResult<()> {
        if writes.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        // Lock every monitor of the batch in one order first: batches from two nodes then wait for each
        // other instead of deadlocking. The writes themselves keep the caller's order.
        let mut ids: Vec<i64> = writes.iter().map(|write| write.monitor_id).collect();
        ids.sort_unstable();
        ids.dedup();
        sqlx::query("SELECT id FROM monitors WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE")
            .bind(ids)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        batch::apply(&mut tx, &MonitorBatch::new(writes)).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn due_deadlines(&self, now: Timestamp, limit: u32) -> StorageResult<Vec<Monitor>> {
        // A plain read, not `FOR UPDATE SKIP LOCKED`: one sweeper per node reads, so several nodes may
        // see the same due deadline. The state write is idempotent: each node computes the same state
        // from the same row, and the later batch rewrites what the earlier one wrote. (Each would also
        // add its state-change event; the caller decides whether an event is still due.)
        let rows = sqlx::query(&format!(
            "{MONITOR_SELECT} WHERE m.deadline_at IS NOT NULL AND m.deadline_at <= $1 AND NOT m.paused
             ORDER BY m.deadline_at, m.id LIMIT $2"
        ))
        .bind(millis(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        monitors_from_rows(&rows)
    }

    async fn due_resumes(&self, now: Timestamp) -> StorageResult<Vec<Monitor>> {
        let rows = sqlx::query(&format!(
            "{MONITOR_SELECT} WHERE m.paused AND m.resume_at IS NOT NULL AND m.resume_at <= $1 ORDER BY m.id"
        ))
        .bind(millis(now))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        monitors_from_rows(&rows)
    }

    async fn list_monitor_events(
        &self,
        monitor_id: i64,
        page: PageRequest,
    ) -> StorageResult<Page<MonitorEvent>> {
        let rows = sqlx::query(
            "SELECT * FROM monitor_events WHERE monitor_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(monitor_id)
        .bind(page.cursor.unwrap_or(i64::MAX))
        .bind(page.fetch_limit())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let events = rows
            .iter()
            .map(event_from_row)
            .collect::<StorageResult<Vec<_>>>()?;
        Ok(Page::from_rows(events, page, |event| event.id))
    }

    async fn list_pings(
        &self,
        monitor_id: i64,
        page: PageRequest,
    ) -> StorageResult<Page<HeartbeatPing>> {
        let rows = sqlx::query(
            "SELECT * FROM heartbeat_pings WHERE monitor_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(monitor_id)
        .bind(page.cursor.unwrap_or(i64::MAX))
        .bind(page.fetch_limit())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let pings = rows
            .iter()
            .map(ping_from_row)
            .collect::<StorageResult<Vec<_>>>()?;
        Ok(Page::from_rows(pings, page, |ping| ping.id))
    }

    async fn list_results(
        &self,
        monitor_id: i64,
        page: PageRequest,
    ) -> StorageResult<Page<CheckResult>> {
        let rows = sqlx::query(
            "SELECT * FROM check_results WHERE monitor_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(monitor_id)
        .bind(page.cursor.unwrap_or(i64::MAX))
        .bind(page.fetch_limit())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let results = rows
            .iter()
            .map(result_from_row)
            .collect::<StorageResult<Vec<_>>>()?;
        Ok(Page::from_rows(results, page, |result| result.id))
    }

    async fn prune_monitor_history(&self, before: Timestamp) -> StorageResult<u64> {
        let mut tx = self.begin_write().await?;
        let results = sqlx::query("DELETE FROM check_results WHERE at < $1")
            .bind(millis(before))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let pings = sqlx::query("DELETE FROM heartbeat_pings WHERE at < $1")
            .bind(millis(before))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(results.rows_affected() + pings.rows_affected())
    }
}

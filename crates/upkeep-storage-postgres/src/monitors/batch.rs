//! A write batch on PostgreSQL: one `jsonb_to_recordset` statement per table, inside the caller's
//! transaction (which has locked the batch's monitors in id order).

use sqlx::PgConnection;
use upkeep_storage::{MonitorBatch, StorageResult};

use crate::support::db_err;

/// Write a whole batch with one statement per table (see [`MonitorBatch`]).
pub(super) async fn apply(conn: &mut PgConnection, batch: &MonitorBatch) -> StorageResult<()> {
    sqlx::query(
        "UPDATE monitors m SET status = v.status, consecutive_failures = v.consecutive_failures,
            consecutive_successes = v.consecutive_successes, last_checked_at = v.last_checked_at,
            last_change_at = v.last_change_at, last_ping_at = v.last_ping_at, last_start_at = v.last_start_at,
            last_start_rid = v.last_start_rid, deadline_at = v.deadline_at, last_error = v.last_error,
            last_duration_ms = v.last_duration_ms
         FROM jsonb_to_recordset($1::jsonb) AS v(id BIGINT, status TEXT, consecutive_failures INTEGER,
            consecutive_successes INTEGER, last_checked_at BIGINT, last_change_at BIGINT, last_ping_at BIGINT,
            last_start_at BIGINT, last_start_rid TEXT, deadline_at BIGINT, last_error TEXT, last_duration_ms BIGINT)
         WHERE m.id = v.id",
    )
    .bind(&batch.states)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    if batch.has_events {
        sqlx::query(
            "INSERT INTO monitor_events (monitor_id, at, from_status, to_status, reason, in_maintenance)
             SELECT monitor_id, at, from_status, to_status, reason, in_maintenance
             FROM jsonb_to_recordset($1::jsonb) AS v(monitor_id BIGINT, at BIGINT, from_status TEXT, to_status TEXT, reason TEXT,
                in_maintenance BOOLEAN)",
        )
        .bind(&batch.events)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    if batch.has_pings {
        sqlx::query(
            "INSERT INTO heartbeat_pings (monitor_id, at, kind, exit_status, rid, duration_ms, body, method, remote_addr, user_agent)
             SELECT monitor_id, at, kind, exit_status, rid, duration_ms, body, method, remote_addr, user_agent
             FROM jsonb_to_recordset($1::jsonb) AS v(monitor_id BIGINT, at BIGINT, kind TEXT, exit_status INTEGER, rid TEXT,
                duration_ms BIGINT, body TEXT, method TEXT, remote_addr TEXT, user_agent TEXT)",
        )
        .bind(&batch.pings)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    if batch.has_results {
        sqlx::query(
            "INSERT INTO check_results (monitor_id, at, success, duration_ms, status_code, error, details_json)
             SELECT monitor_id, at, success, duration_ms, status_code, error, details_json
             FROM jsonb_to_recordset($1::jsonb) AS v(monitor_id BIGINT, at BIGINT, success BOOLEAN, duration_ms BIGINT,
                status_code INTEGER, error TEXT, details_json TEXT)",
        )
        .bind(&batch.results)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

//! Maintenance windows on SQLite.

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use upkeep_storage::{
    AuditContext, MaintenanceFilter, MaintenanceKind, MaintenanceStore, MaintenanceWindow,
    NewMaintenanceWindow, Page, PageRequest, StorageError, StorageResult,
};

use crate::SqliteStorage;
use crate::support::{db_err, get, insert_audit, millis, opt_timestamp, snapshot, timestamp};

const WINDOW_SELECT: &str = "SELECT w.*, s.slug AS service_slug FROM maintenance_windows w LEFT JOIN services s ON s.id = w.service_id";

fn window_from_row(row: &SqliteRow) -> StorageResult<MaintenanceWindow> {
    let kind: String = get(row, "kind")?;
    let days: String = get(row, "days")?;
    Ok(MaintenanceWindow {
        id: get(row, "id")?,
        service_id: get(row, "service_id")?,
        service_slug: get(row, "service_slug")?,
        monitor_id: get(row, "monitor_id")?,
        title: get(row, "title")?,
        kind: MaintenanceKind::parse(&kind).ok_or_else(|| {
            StorageError::Other(format!("unknown stored maintenance window kind {kind}"))
        })?,
        starts_at: opt_timestamp(row, "starts_at")?,
        ends_at: opt_timestamp(row, "ends_at")?,
        start_time: get(row, "start_time")?,
        duration_ms: get(row, "duration_ms")?,
        days: days
            .split(',')
            .filter(|day| !day.is_empty())
            .map(str::to_string)
            .collect(),
        tz: get(row, "tz")?,
        until: opt_timestamp(row, "until")?,
        created_at: timestamp(row, "created_at")?,
        created_by: get(row, "created_by")?,
    })
}

async fn fetch_window(conn: &mut SqliteConnection, id: i64) -> StorageResult<MaintenanceWindow> {
    let row = sqlx::query(&format!("{WINDOW_SELECT} WHERE w.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db_err)?
        .ok_or(StorageError::NotFound {
            what: "maintenance window",
        })?;
    window_from_row(&row)
}

#[async_trait::async_trait]
impl MaintenanceStore for SqliteStorage {
    async fn create_maintenance_window(
        &self,
        ctx: &AuditContext,
        window: NewMaintenanceWindow,
    ) -> StorageResult<MaintenanceWindow> {
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO maintenance_windows (service_id, monitor_id, title, kind, starts_at, ends_at, start_time, duration_ms,
                days, tz, until, created_at, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        )
        .bind(window.service_id)
        .bind(window.monitor_id)
        .bind(&window.title)
        .bind(window.kind.as_str())
        .bind(window.starts_at.map(millis))
        .bind(window.ends_at.map(millis))
        .bind(&window.start_time)
        .bind(window.duration_ms)
        .bind(window.days.join(","))
        .bind(&window.tz)
        .bind(window.until.map(millis))
        .bind(millis(ctx.at))
        .bind(&ctx.actor.label)
        .fetch_one(&mut *tx)
        .await
        .and_then(|row| row.try_get("id"))
        .map_err(db_err)?;
        let created = fetch_window(&mut tx, id).await?;
        insert_audit(
            &mut tx,
            ctx,
            "maintenance.create",
            ("maintenance", id.to_string()),
            None,
            snapshot(&created),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(created)
    }

    async fn maintenance_window_by_id(&self, id: i64) -> StorageResult<Option<MaintenanceWindow>> {
        let row = sqlx::query(&format!("{WINDOW_SELECT} WHERE w.id = $1"))
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        row.as_ref().map(window_from_row).transpose()
    }

    async fn delete_maintenance_window(&self, ctx: &AuditContext, id: i64) -> StorageResult<()> {
        let mut tx = self.begin_write().await?;
        let before = fetch_window(&mut tx, id).await?;
        sqlx::query("DELETE FROM maintenance_windows WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_audit(
            &mut tx,
            ctx,
            "maintenance.delete",
            ("maintenance", id.to_string()),
            snapshot(&before),
            None,
        )
        .await?;
        tx.commit().await.map_err(db_err)
    }

    async fn list_maintenance_windows(
        &self,
        filter: &MaintenanceFilter,
        page: PageRequest,
    ) -> StorageResult<Page<MaintenanceWindow>> {
        let rows = sqlx::query(&format!(
            "{WINDOW_SELECT} WHERE w.id > $1
               AND ($2 IS NULL OR w.service_id = $2 OR w.monitor_id IN (SELECT id FROM monitors WHERE service_id = $2))
               AND ($3 IS NULL OR w.monitor_id = $3 OR w.service_id = (SELECT service_id FROM monitors WHERE id = $3))
             ORDER BY w.id LIMIT $4"
        ))
        .bind(page.cursor.unwrap_or(0))
        .bind(filter.service_id)
        .bind(filter.monitor_id)
        .bind(page.fetch_limit())
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        let windows = rows
            .iter()
            .map(window_from_row)
            .collect::<StorageResult<Vec<_>>>()?;
        Ok(Page::from_rows(windows, page, |window| window.id))
    }

    async fn maintenance_for(&self, monitor_ids: &[i64]) -> StorageResult<Vec<MaintenanceWindow>> {
        if monitor_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = serde_json::to_string(monitor_ids)
            .map_err(|err| StorageError::Other(err.to_string()))?;
        let rows = sqlx::query(&format!(
            "{WINDOW_SELECT} WHERE w.monitor_id IN (SELECT value FROM json_each($1))
                OR w.service_id IN (SELECT service_id FROM monitors WHERE id IN (SELECT value FROM json_each($1)))
             ORDER BY w.id"
        ))
        .bind(ids)
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(window_from_row).collect()
    }
}

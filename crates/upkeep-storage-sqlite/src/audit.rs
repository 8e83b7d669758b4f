//! Appending to and reading the audit log on SQLite (triggers refuse updates and deletes).

use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use upkeep_storage::{
    AuditContext, AuditFilter, AuditRecord, AuditStore, Page, PageRequest, StorageResult,
};

use crate::SqliteStorage;
use crate::support::{db_err, get, insert_audit, parse_json, timestamp};

fn record_from_row(row: &SqliteRow) -> StorageResult<AuditRecord> {
    Ok(AuditRecord {
        id: get(row, "id")?,
        at: timestamp(row, "at")?,
        actor_kind: get(row, "actor_kind")?,
        actor_user_id: get(row, "actor_user_id")?,
        actor_label: get(row, "actor_label")?,
        origin: get(row, "origin")?,
        action: get(row, "action")?,
        target_kind: get(row, "target_kind")?,
        target_id: get(row, "target_id")?,
        before: parse_json(get(row, "before_json")?)?,
        after: parse_json(get(row, "after_json")?)?,
    })
}

#[async_trait::async_trait]
impl AuditStore for SqliteStorage {
    async fn append_audit(
        &self,
        ctx: &AuditContext,
        action: &str,
        target_kind: &str,
        target_id: &str,
        before: Option<Value>,
        after: Option<Value>,
    ) -> StorageResult<()> {
        let mut conn = self.writer.acquire().await.map_err(db_err)?;
        insert_audit(
            &mut conn,
            ctx,
            action,
            (target_kind, target_id.to_string()),
            before,
            after,
        )
        .await
    }

    async fn list_audit(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> StorageResult<Page<AuditRecord>> {
        let rows = sqlx::query(
            "SELECT id, at, actor_kind, actor_user_id, actor_label, origin, action, target_kind, target_id, before_json, after_json
             FROM audit_log
             WHERE id < $1
               AND ($2 IS NULL OR action LIKE $2 || '%')
               AND ($3 IS NULL OR target_kind = $3)
               AND ($4 IS NULL OR target_id = $4)
               AND ($5 IS NULL OR actor_user_id = $5)
             ORDER BY id DESC LIMIT $6",
        )
        .bind(page.cursor.unwrap_or(i64::MAX))
        .bind(&filter.action_prefix)
        .bind(&filter.target_kind)
        .bind(&filter.target_id)
        .bind(filter.actor_user_id)
        .bind(page.fetch_limit())
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        let records = rows
            .iter()
            .map(record_from_row)
            .collect::<StorageResult<Vec<_>>>()?;
        Ok(Page::from_rows(records, page, |record| record.id))
    }
}

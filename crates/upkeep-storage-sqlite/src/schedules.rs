//! On-call schedules and feed tokens on SQLite.

use jiff::Timestamp;
use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use upkeep_storage::{
    AuditContext, NewSchedule, Page, PageRequest, ScheduleChanges, ScheduleRecord, ScheduleStore,
    StorageError, StorageResult,
};

use crate::SqliteStorage;
use crate::support::{db_err, get, insert_audit, millis, snapshot, timestamp, unique_err};

const SCHEDULE_SELECT: &str =
    "SELECT sc.*, t.slug AS team_slug FROM schedules sc LEFT JOIN teams t ON t.id = sc.team_id";

fn schedule_from_row(row: &SqliteRow) -> StorageResult<ScheduleRecord> {
    let spec: String = get(row, "spec_json")?;
    Ok(ScheduleRecord {
        id: get(row, "id")?,
        slug: get(row, "slug")?,
        name: get(row, "name")?,
        team_id: get(row, "team_id")?,
        team_slug: get(row, "team_slug")?,
        spec: serde_json::from_str(&spec).map_err(|err| {
            StorageError::Other(format!("stored schedule spec is invalid: {err}"))
        })?,
        feed_token: get(row, "feed_token")?,
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
    })
}

async fn fetch_schedule(conn: &mut SqliteConnection, id: i64) -> StorageResult<ScheduleRecord> {
    let row = sqlx::query(&format!("{SCHEDULE_SELECT} WHERE sc.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db_err)?
        .ok_or(StorageError::NotFound { what: "schedule" })?;
    schedule_from_row(&row)
}

fn slug_taken(slug: &str) -> String {
    format!("a schedule with slug {slug} already exists")
}

fn spec_text(spec: &Value) -> String {
    spec.to_string()
}

impl SqliteStorage {
    async fn schedule_where(
        &self,
        condition: &str,
        value: &str,
    ) -> StorageResult<Option<ScheduleRecord>> {
        let row = sqlx::query(&format!("{SCHEDULE_SELECT} WHERE {condition} = $1"))
            .bind(value)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        row.as_ref().map(schedule_from_row).transpose()
    }
}

#[async_trait::async_trait]
impl ScheduleStore for SqliteStorage {
    async fn create_schedule(
        &self,
        ctx: &AuditContext,
        schedule: NewSchedule,
    ) -> StorageResult<ScheduleRecord> {
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO schedules (slug, name, team_id, spec_json, feed_token, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        )
        .bind(&schedule.slug)
        .bind(&schedule.name)
        .bind(schedule.team_id)
        .bind(spec_text(&schedule.spec))
        .bind(&schedule.feed_token)
        .bind(millis(ctx.at))
        .fetch_one(&mut *tx)
        .await
        .and_then(|row| row.try_get("id"))
        .map_err(|err| unique_err(err, slug_taken(&schedule.slug), "slug"))?;
        let created = fetch_schedule(&mut tx, id).await?;
        insert_audit(
            &mut tx,
            ctx,
            "schedule.create",
            ("schedule", id.to_string()),
            None,
            snapshot(&created),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(created)
    }

    async fn schedule_by_slug(&self, slug: &str) -> StorageResult<Option<ScheduleRecord>> {
        self.schedule_where("sc.slug", slug).await
    }

    async fn schedule_by_id(&self, id: i64) -> StorageResult<Option<ScheduleRecord>> {
        let row = sqlx::query(&format!("{SCHEDULE_SELECT} WHERE sc.id = $1"))
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        row.as_ref().map(schedule_from_row).transpose()
    }

    async fn schedule_by_feed_token(&self, token: &str) -> StorageResult<Option<ScheduleRecord>> {
        self.schedule_where("sc.feed_token", token).await
    }

    async fn list_schedules(&self, page: PageRequest) -> StorageResult<Page<ScheduleRecord>> {
        let rows = sqlx::query(&format!(
            "{SCHEDULE_SELECT} WHERE sc.id > $1 ORDER BY sc.id LIMIT $2"
        ))
        .bind(page.cursor.unwrap_or(0))
        .bind(page.fetch_limit())
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        let schedules = rows
            .iter()
            .map(schedule_from_row)
            .collect::<StorageResult<Vec<_>>>()?;
        Ok(Page::from_rows(schedules, page, |schedule| schedule.id))
    }

    async fn update_schedule(
        &self,
        ctx: &AuditContext,
        id: i64,
        changes: ScheduleChanges,
    ) -> StorageResult<ScheduleRecord> {
        let mut tx = self.begin_write().await?;
        let before = fetch_schedule(&mut tx, id).await?;
        let team_id = changes.team_id.unwrap_or(before.team_id);
        sqlx::query(
            "UPDATE schedules SET name = $1, team_id = $2, spec_json = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(changes.name.as_ref().unwrap_or(&before.name))
        .bind(team_id)
        .bind(spec_text(changes.spec.as_ref().unwrap_or(&before.spec)))
        .bind(millis(ctx.at))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let after = fetch_schedule(&mut tx, id).await?;
        insert_audit(
            &mut tx,
            ctx,
            "schedule.update",
            ("schedule", id.to_string()),
            snapshot(&before),
            snapshot(&after),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(after)
    }

    async fn delete_schedule(&self, ctx: &AuditContext, id: i64) -> StorageResult<()> {
        let mut tx = self.begin_write().await?;
        let before = fetch_schedule(&mut tx, id).await?;
        sqlx::query("DELETE FROM schedules WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_audit(
            &mut tx,
            ctx,
            "schedule.delete",
            ("schedule", id.to_string()),
            snapshot(&before),
            None,
        )
        .await?;
        tx.commit().await.map_err(db_err)
    }

    async fn rotate_schedule_feed_token(
        &self,
        ctx: &AuditContext,
        id: i64,
        token: &str,
    ) -> StorageResult<ScheduleRecord> {
        let mut tx = self.begin_write().await?;
        let before = fetch_schedule(&mut tx, id).await?;
        sqlx::query("UPDATE schedules SET feed_token = $1, updated_at = $2 WHERE id = $3")
            .bind(token)
            .bind(millis(ctx.at))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|err| unique_err(err, "that feed token is taken".into(), "feed_token"))?;
        let after = fetch_schedule(&mut tx, id).await?;
        insert_audit(
            &mut tx,
            ctx,
            "schedule.rotate_feed_token",
            ("schedule", id.to_string()),
            snapshot(&before),
            snapshot(&after),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(after)
    }

    async fn user_feed_token(
        &self,
        user_id: i64,
        fresh: &str,
        at: Timestamp,
    ) -> StorageResult<String> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO user_feed_tokens (user_id, token, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(user_id)
        .bind(fresh)
        .bind(millis(at))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let token: String = sqlx::query("SELECT token FROM user_feed_tokens WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await
            .and_then(|row| row.try_get("token"))
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(token)
    }

    async fn user_by_feed_token(&self, token: &str) -> StorageResult<Option<i64>> {
        let row = sqlx::query("SELECT user_id FROM user_feed_tokens WHERE token = $1")
            .bind(token)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        row.as_ref().map(|row| get(row, "user_id")).transpose()
    }
}

//! Contact methods and notification rules on PostgreSQL.

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use upkeep_storage::{
    AuditContext, ContactMethod, ContactMethodChanges, ContactStore, NewContactMethod,
    NewNotificationRule, NotificationRule, StorageError, StorageResult,
};

use crate::PostgresStorage;
use crate::support::{db_err, get, insert_audit, millis, snapshot, timestamp};

fn method_from_row(row: &PgRow) -> StorageResult<ContactMethod> {
    Ok(ContactMethod {
        id: get(row, "id")?,
        user_id: get(row, "user_id")?,
        label: get(row, "label")?,
        kind: get(row, "kind")?,
        config_sealed: get(row, "config_sealed")?,
        verified: get(row, "verified")?,
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
    })
}

fn rule_from_row(row: &PgRow) -> StorageResult<NotificationRule> {
    Ok(NotificationRule {
        id: get(row, "id")?,
        user_id: get(row, "user_id")?,
        contact_method_id: get(row, "contact_method_id")?,
        delay_ms: get(row, "delay_ms")?,
        created_at: timestamp(row, "created_at")?,
    })
}

/// The contact method, its row locked until the transaction ends.
async fn fetch_method(conn: &mut PgConnection, id: i64) -> StorageResult<ContactMethod> {
    let row = sqlx::query("SELECT * FROM contact_methods WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db_err)?
        .ok_or(StorageError::NotFound {
            what: "contact method",
        })?;
    method_from_row(&row)
}

/// The rule, its row locked until the transaction ends.
async fn fetch_rule(conn: &mut PgConnection, id: i64) -> StorageResult<NotificationRule> {
    let row = sqlx::query("SELECT * FROM notification_rules WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db_err)?
        .ok_or(StorageError::NotFound {
            what: "notification rule",
        })?;
    rule_from_row(&row)
}

#[async_trait::async_trait]
impl ContactStore for PostgresStorage {
    async fn create_contact_method(
        &self,
        ctx: &AuditContext,
        method: NewContactMethod,
    ) -> StorageResult<ContactMethod> {
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO contact_methods (user_id, label, kind, config_sealed, verified, created_at, updated_at)
             VALUES ($1, $2, $3, $4, FALSE, $5, $5) RETURNING id",
        )
        .bind(method.user_id)
        .bind(&method.label)
        .bind(&method.kind)
        .bind(&method.config_sealed)
        .bind(millis(ctx.at))
        .fetch_one(&mut *tx)
        .await
        .and_then(|row| row.try_get("id"))
        .map_err(db_err)?;
        let created = fetch_method(&mut tx, id).await?;
        insert_audit(
            &mut tx,
            ctx,
            "contact_method.create",
            ("contact_method", id.to_string()),
            None,
            snapshot(&created),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(created)
    }

    async fn update_contact_method(
        &self,
        ctx: &AuditContext,
        id: i64,
        changes: ContactMethodChanges,
    ) -> StorageResult<ContactMethod> {
        let mut tx = self.begin_write().await?;
        let before = fetch_method(&mut tx, id).await?;
        sqlx::query(
            "UPDATE contact_methods SET label = COALESCE($2, label), kind = COALESCE($3, kind),
                config_sealed = COALESCE($4, config_sealed), verified = COALESCE($5, verified), updated_at = $6
             WHERE id = $1",
        )
        .bind(id)
        .bind(&changes.label)
        .bind(&changes.kind)
        .bind(&changes.config_sealed)
        .bind(changes.verified)
        .bind(millis(ctx.at))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let after = fetch_method(&mut tx, id).await?;
        insert_audit(
            &mut tx,
            ctx,
            "contact_method.update",
            ("contact_method", id.to_string()),
            snapshot(&before),
            snapshot(&after),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(after)
    }

    async fn set_contact_verified(
        &self,
        ctx: &AuditContext,
        id: i64,
        verified: bool,
    ) -> StorageResult<ContactMethod> {
        let mut tx = self.begin_write().await?;
        let before = fetch_method(&mut tx, id).await?;
        sqlx::query("UPDATE contact_methods SET verified = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(verified)
            .bind(millis(ctx.at))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let after = fetch_method(&mut tx, id).await?;
        insert_audit(
            &mut tx,
            ctx,
            "contact_method.verify",
            ("contact_method", id.to_string()),
            snapshot(&before),
            snapshot(&after),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(after)
    }

    async fn delete_contact_method(&self, ctx: &AuditContext, id: i64) -> StorageResult<()> {
        let mut tx = self.begin_write().await?;
        let before = fetch_method(&mut tx, id).await?;
        sqlx::query("DELETE FROM contact_methods WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_audit(
            &mut tx,
            ctx,
            "contact_method.delete",
            ("contact_method", id.to_string()),
            snapshot(&before),
            None,
        )
        .await?;
        tx.commit().await.map_err(db_err)
    }

    async fn contact_method_by_id(&self, id: i64) -> StorageResult<Option<ContactMethod>> {
        let row = sqlx::query("SELECT * FROM contact_methods WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(method_from_row).transpose()
    }

    async fn contact_methods_for_user(&self, user_id: i64) -> StorageResult<Vec<ContactMethod>> {
        let rows = sqlx::query("SELECT * FROM contact_methods WHERE user_id = $1 ORDER BY id")
            .bind(user_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(method_from_row).collect()
    }

    async fn contact_methods_for_users(
        &self,
        user_ids: &[i64],
    ) -> StorageResult<Vec<ContactMethod>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT * FROM contact_methods WHERE user_id = ANY($1)
             ORDER BY user_id, id",
        )
        .bind(user_ids)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(method_from_row).collect()
    }

    async fn create_notification_rule(
        &self,
        ctx: &AuditContext,
        rule: NewNotificationRule,
    ) -> StorageResult<NotificationRule> {
        let mut tx = self.begin_write().await?;
        let id: Option<i64> = sqlx::query(
            "INSERT INTO notification_rules (user_id, contact_method_id, delay_ms, created_at)
             SELECT $1::BIGINT, id, $3::BIGINT, $4::BIGINT FROM contact_methods WHERE id = $2 AND user_id = $1 RETURNING id",
        )
        .bind(rule.user_id)
        .bind(rule.contact_method_id)
        .bind(rule.delay_ms)
        .bind(millis(ctx.at))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .map(|row| row.try_get("id"))
        .transpose()
        .map_err(db_err)?;
        let id = id.ok_or_else(|| {
            StorageError::conflict(
                "the contact method does not exist or belongs to someone else",
                Some("contact_method_id"),
            )
        })?;
        let created = fetch_rule(&mut tx, id).await?;
        insert_audit(
            &mut tx,
            ctx,
            "notification_rule.create",
            ("notification_rule", id.to_string()),
            None,
            snapshot(&created),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(created)
    }

    async fn delete_notification_rule(&self, ctx: &AuditContext, id: i64) -> StorageResult<()> {
        let mut tx = self.begin_write().await?;
        let before = fetch_rule(&mut tx, id).await?;
        sqlx::query("DELETE FROM notification_rules WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_audit(
            &mut tx,
            ctx,
            "notification_rule.delete",
            ("notification_rule", id.to_string()),
            snapshot(&before),
            None,
        )
        .await?;
        tx.commit().await.map_err(db_err)
    }

    async fn notification_rule_by_id(&self, id: i64) -> StorageResult<Option<NotificationRule>> {
        let row = sqlx::query("SELECT * FROM notification_rules WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(rule_from_row).transpose()
    }

    async fn notification_rules_for_user(
        &self,
        user_id: i64,
    ) -> StorageResult<Vec<NotificationRule>> {
        let rows = sqlx::query(
            "SELECT * FROM notification_rules WHERE user_id = $1 ORDER BY delay_ms, id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(rule_from_row).collect()
    }

    async fn notification_rules_for_users(
        &self,
        user_ids: &[i64],
    ) -> StorageResult<Vec<NotificationRule>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT * FROM notification_rules WHERE user_id = ANY($1)
             ORDER BY user_id, delay_ms, id",
        )
        .bind(user_ids)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(rule_from_row).collect()
    }
}

//! Escalation policies, service escalation settings, the notification outbox and action links on PostgreSQL.

use jiff::Timestamp;
use serde_json::Value;
use sqlx::postgres::PgRow;
use upkeep_storage::{
    ActionLink, AttemptRecord, AuditContext, EscalationPolicy, EscalationStore,
    NewEscalationPolicy, NotificationAttempt, NotificationStatus, OutboxNotification, Page,
    PageRequest, ServiceEscalation, StorageError, StorageResult,
};

use crate::PostgresStorage;
use crate::support::{
    db_err, get, insert_audit, json_column, millis, opt_timestamp, snapshot, timestamp, unique_err,
};

fn policy_from_row(row: &PgRow) -> StorageResult<EscalationPolicy> {
    Ok(EscalationPolicy {
        id: get(row, "id")?,
        slug: get(row, "slug")?,
        name: get(row, "name")?,
        spec: json_column(row, "spec_json")?,
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
    })
}

fn notification_from_row(row: &PgRow) -> StorageResult<OutboxNotification> {
    let status: String = get(row, "status")?;
    Ok(OutboxNotification {
        id: get(row, "id")?,
        incident_id: get(row, "incident_id")?,
        user_id: get(row, "user_id")?,
        contact_method_id: get(row, "contact_method_id")?,
        channel_kind: get(row, "channel_kind")?,
        idempotency_key: get(row, "idempotency_key")?,
        payload: json_column(row, "payload_json")?,
        reason: get(row, "reason")?,
        status: NotificationStatus::parse(&status).ok_or_else(|| {
            StorageError::Other(format!("unknown stored notification status {status}"))
        })?,
        attempts: get(row, "attempts")?,
        next_attempt_at: timestamp(row, "next_attempt_at")?,
        last_error: get(row, "last_error")?,
        created_at: timestamp(row, "created_at")?,
        delivered_at: opt_timestamp(row, "delivered_at")?,
    })
}

fn link_from_row(row: &PgRow) -> StorageResult<ActionLink> {
    Ok(ActionLink {
        incident_id: get(row, "incident_id")?,
        user_id: get(row, "user_id")?,
        action: get(row, "action")?,
        expires_at: timestamp(row, "expires_at")?,
        used_at: opt_timestamp(row, "used_at")?,
    })
}

const SERVICE_ESCALATION: &str = "SELECT s.escalation_policy_id, p.slug AS escalation_policy_slug, s.runbook_url
     FROM services s LEFT JOIN escalation_policies p ON p.id = s.escalation_policy_id WHERE s.id = $1";

fn service_escalation_from_row(row: &PgRow) -> StorageResult<ServiceEscalation> {
    Ok(ServiceEscalation {
        escalation_policy_id: get(row, "escalation_policy_id")?,
        escalation_policy_slug: get(row, "escalation_policy_slug")?,
        runbook_url: get(row, "runbook_url")?,
    })
}

#[async_trait::async_trait]
impl EscalationStore for PostgresStorage {
    async fn create_escalation_policy(
        &self,
        ctx: &AuditContext,
        policy: NewEscalationPolicy,
    ) -> StorageResult<EscalationPolicy> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO escalation_policies (slug, name, spec_json, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $4) RETURNING *",
        )
        .bind(&policy.slug)
        .bind(&policy.name)
        .bind(policy.spec.to_string())
        .bind(millis(ctx.at))
        .fetch_one(&mut *tx)
        .await
        .map_err(|err| {
            unique_err(
                err,
                format!("an escalation policy {} exists", policy.slug),
                "slug",
            )
        })?;
        let created = policy_from_row(&row)?;
        insert_audit(
            &mut tx,
            ctx,
            "escalation_policy.create",
            ("escalation_policy", created.id.to_string()),
            None,
            snapshot(&created),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(created)
    }

    async fn escalation_policy_by_slug(
        &self,
        slug: &str,
    ) -> StorageResult<Option<EscalationPolicy>> {
        let row = sqlx::query("SELECT * FROM escalation_policies WHERE slug = $1")
            .bind(slug)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(policy_from_row).transpose()
    }

    async fn escalation_policy_by_id(&self, id: i64) -> StorageResult<Option<EscalationPolicy>> {
        let row = sqlx::query("SELECT * FROM escalation_policies WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(policy_from_row).transpose()
    }

    async fn list_escalation_policies(
        &self,
        page: PageRequest,
    ) -> StorageResult<Page<EscalationPolicy>> {
        let rows =
            sqlx::query("SELECT * FROM escalation_policies WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(page.cursor.unwrap_or(0))
                .bind(page.fetch_limit())
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?
                .iter()
                .map(policy_from_row)
                .collect::<StorageResult<Vec<_>>>()?;
        Ok(Page::from_rows(rows, page, |policy| policy.id))
    }

    async fn update_escalation_policy(
        &self,
        ctx: &AuditContext,
        id: i64,
        name: &str,
        spec: &Value,
    ) -> StorageResult<EscalationPolicy> {
        let mut tx = self.begin_write().await?;
        let before = sqlx::query("SELECT * FROM escalation_policies WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?
            .ok_or(StorageError::NotFound {
                what: "escalation policy",
            })?;
        let before = policy_from_row(&before)?;
        let row = sqlx::query(
            "UPDATE escalation_policies SET name = $2, spec_json = $3, updated_at = $4 WHERE id = $1 RETURNING *",
        )
        .bind(id)
        .bind(name)
        .bind(spec.to_string())
        .bind(millis(ctx.at))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let after = policy_from_row(&row)?;
        insert_audit(
            &mut tx,
            ctx,
            "escalation_policy.update",
            ("escalation_policy", id.to_string()),
            snapshot(&before),
            snapshot(&after),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(after)
    }

    async fn delete_escalation_policy(&self, ctx: &AuditContext, id: i64) -> StorageResult<()> {
        let mut tx = self.begin_write().await?;
        let before = sqlx::query("SELECT * FROM escalation_policies WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?
            .ok_or(StorageError::NotFound {
                what: "escalation policy",
            })?;
        let before = policy_from_row(&before)?;
        sqlx::query(
            "UPDATE services SET escalation_policy_id = NULL WHERE escalation_policy_id = $1",
        )
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query("DELETE FROM escalation_policies WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_audit(
            &mut tx,
            ctx,
            "escalation_policy.delete",
            ("escalation_policy", id.to_string()),
            snapshot(&before),
            None,
        )
        .await?;
        tx.commit().await.map_err(db_err)
    }

    async fn service_escalation(&self, service_id: i64) -> StorageResult<ServiceEscalation> {
        let row = sqlx::query(SERVICE_ESCALATION)
            .bind(service_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .ok_or(StorageError::NotFound { what: "service" })?;
        service_escalation_from_row(&row)
    }

    async fn set_service_escalation(
        &self,
        ctx: &AuditContext,
        service_id: i64,
        policy_id: Option<i64>,
        runbook_url: Option<String>,
    ) -> StorageResult<ServiceEscalation> {
        let mut tx = self.begin_write().await?;
        let before = sqlx::query(SERVICE_ESCALATION)
            .bind(service_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?
            .ok_or(StorageError::NotFound { what: "service" })?;
        let before = service_escalation_from_row(&before)?;
        sqlx::query(
            "UPDATE services SET escalation_policy_id = $2, runbook_url = $3 WHERE id = $1",
        )
        .bind(service_id)
        .bind(policy_id)
        .bind(&runbook_url)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let row = sqlx::query(SERVICE_ESCALATION)
            .bind(service_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        let after = service_escalation_from_row(&row)?;
        insert_audit(
            &mut tx,
            ctx,
            "service.escalation",
            ("service", service_id.to_string()),
            snapshot(&before),
            snapshot(&after),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(after)
    }

    async fn claim_due_notifications(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StorageResult<Vec<OutboxNotification>> {
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(
            "UPDATE notifications SET status = 'sending', locked_until = $2, updated_at = $1
             WHERE id IN (
                 SELECT id FROM notifications
                 WHERE (status = 'queued' AND next_attempt_at <= $1) OR (status = 'sending' AND locked_until <= $1)
                 ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED
             ) RETURNING *",
        )
        .bind(millis(now))
        .bind(millis(lease_until))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        let mut claimed = rows
            .iter()
            .map(notification_from_row)
            .collect::<StorageResult<Vec<_>>>()?;
        claimed.sort_by_key(|notification| (notification.next_attempt_at, notification.id));
        Ok(claimed)
    }

    async fn record_notification_attempt(
        &self,
        id: i64,
        attempt: &NotificationAttempt,
    ) -> StorageResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO notification_attempts (notification_id, at, outcome, detail, duration_ms)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(millis(attempt.at))
        .bind(&attempt.outcome)
        .bind(&attempt.detail)
        .bind(attempt.duration_ms)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let delivered = attempt.status == NotificationStatus::Delivered;
        sqlx::query(
            "UPDATE notifications SET status = $2, attempts = attempts + 1, next_attempt_at = COALESCE($3, next_attempt_at),
                locked_until = NULL, last_error = $4, updated_at = $5, delivered_at = CASE WHEN $6 THEN $5 ELSE delivered_at END
             WHERE id = $1",
        )
        .bind(id)
        .bind(attempt.status.as_str())
        .bind(attempt.next_attempt_at.map(millis))
        .bind(if delivered {
            None
        } else {
            Some(&attempt.detail)
        })
        .bind(millis(attempt.at))
        .bind(delivered)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn next_notification_due(&self) -> StorageResult<Option<Timestamp>> {
        let due: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(next_attempt_at) FROM notifications WHERE status = 'queued'",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        due.map(crate::support::from_millis).transpose()
    }

    async fn incident_notifications(
        &self,
        incident_id: i64,
        page: PageRequest,
    ) -> StorageResult<Page<OutboxNotification>> {
        let rows = sqlx::query(
            "SELECT * FROM notifications WHERE incident_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(incident_id)
        .bind(page.cursor.unwrap_or(0))
        .bind(page.fetch_limit())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .iter()
        .map(notification_from_row)
        .collect::<StorageResult<Vec<_>>>()?;
        Ok(Page::from_rows(rows, page, |notification| notification.id))
    }

    async fn notification_attempts(
        &self,
        notification_ids: &[i64],
    ) -> StorageResult<Vec<AttemptRecord>> {
        let mut records = Vec::new();
        for chunk in notification_ids.chunks(200) {
            let list = chunk
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let rows = sqlx::query(&format!(
                "SELECT * FROM notification_attempts WHERE notification_id IN ({list}) ORDER BY id"
            ))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
            for row in &rows {
                records.push(AttemptRecord {
                    id: get(row, "id")?,
                    notification_id: get(row, "notification_id")?,
                    at: timestamp(row, "at")?,
                    outcome: get(row, "outcome")?,
                    detail: get(row, "detail")?,
                    duration_ms: get(row, "duration_ms")?,
                });
            }
        }
        records.sort_by_key(|record| record.id);
        Ok(records)
    }

    async fn last_delivery_to(&self, contact_method_id: i64) -> StorageResult<Option<Timestamp>> {
        let at: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(delivered_at) FROM notifications WHERE contact_method_id = $1",
        )
        .bind(contact_method_id)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        at.map(crate::support::from_millis).transpose()
    }

    async fn create_action_link(&self, token_hash: &str, link: &ActionLink) -> StorageResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO action_links (token_hash, incident_id, user_id, action, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(link.incident_id)
        .bind(link.user_id)
        .bind(&link.action)
        .bind(millis(link.expires_at))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn action_link(&self, token_hash: &str) -> StorageResult<Option<ActionLink>> {
        let row = sqlx::query("SELECT * FROM action_links WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(link_from_row).transpose()
    }

    async fn use_action_link(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StorageResult<Option<ActionLink>> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "UPDATE action_links SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING *",
        )
        .bind(token_hash)
        .bind(millis(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        row.as_ref().map(link_from_row).transpose()
    }
}

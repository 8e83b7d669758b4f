//! Incidents, alerts, timelines, change events and integration keys on SQLite.
//!
//! Incident rules run as [`IncidentWork`] inside one `BEGIN IMMEDIATE` transaction on the single writer,
//! which already serialises them, so [`IncidentTx::lock_service`] has nothing to do here.

use jiff::Timestamp;
use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use upkeep_storage::{
    Alert, AlertSource, AuditContext, ChangeEvent, Incident, IncidentFilter, IncidentStatus,
    IncidentStore, IncidentTx, IncidentWork, IntegrationKey, IntegrationKind, MonitorEvent,
    MonitorStatus, MonitorTransition, NewAlert, NewChangeEvent, NewIncident, NewJob,
    NewNotification, NewTimelineEntry, Page, PageRequest, Severity, StorageError, StorageResult,
    TimelineEntry,
};

use crate::SqliteStorage;
use crate::support::{
    db_err, get, insert_audit, json_column, millis, opt_timestamp, snapshot, timestamp,
};

const INCIDENT_SELECT: &str =
    "SELECT i.*, s.slug AS service_slug FROM incidents i JOIN services s ON s.id = i.service_id";
const OPEN: &str = "status <> 'resolved'";

fn parse_enum<T>(value: &str, parse: fn(&str) -> Option<T>, what: &str) -> StorageResult<T> {
    parse(value).ok_or_else(|| StorageError::Other(format!("unknown stored {what} {value}")))
}

fn incident_from_row(row: &SqliteRow) -> StorageResult<Incident> {
    Ok(Incident {
        id: get(row, "id")?,
        service_id: get(row, "service_id")?,
        service_slug: get(row, "service_slug")?,
        title: get(row, "title")?,
        status: parse_enum(
            &get::<String>(row, "status")?,
            IncidentStatus::parse,
            "status",
        )?,
        severity: parse_enum(
            &get::<String>(row, "severity")?,
            Severity::parse,
            "severity",
        )?,
        assignee_user_id: get(row, "assignee_user_id")?,
        group_key: get(row, "group_key")?,
        alert_count: get(row, "alert_count")?,
        open_alert_count: get(row, "open_alert_count")?,
        created_at: timestamp(row, "created_at")?,
        last_alert_at: timestamp(row, "last_alert_at")?,
        acknowledged_at: opt_timestamp(row, "acknowledged_at")?,
        resolved_at: opt_timestamp(row, "resolved_at")?,
        updated_at: timestamp(row, "updated_at")?,
        escalation_epoch: get(row, "escalation_epoch")?,
        escalation_step: get(row, "escalation_step")?,
    })
}

fn alert_from_row(row: &SqliteRow) -> StorageResult<Alert> {
    Ok(Alert {
        id: get(row, "id")?,
        incident_id: get(row, "incident_id")?,
        service_id: get(row, "service_id")?,
        source: parse_enum(
            &get::<String>(row, "source")?,
            AlertSource::parse,
            "alert source",
        )?,
        dedup_key: get(row, "dedup_key")?,
        status: parse_enum(
            &get::<String>(row, "status")?,
            IncidentStatus::parse,
            "status",
        )?,
        summary: get(row, "summary")?,
        severity: parse_enum(
            &get::<String>(row, "severity")?,
            Severity::parse,
            "severity",
        )?,
        details: json_column(row, "details_json")?,
        event_count: get(row, "event_count")?,
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
        resolved_at: opt_timestamp(row, "resolved_at")?,
    })
}

fn timeline_from_row(row: &SqliteRow) -> StorageResult<TimelineEntry> {
    Ok(TimelineEntry {
        id: get(row, "id")?,
        incident_id: get(row, "incident_id")?,
        at: timestamp(row, "at")?,
        kind: get(row, "kind")?,
        actor: get(row, "actor")?,
        message: get(row, "message")?,
        details: json_column(row, "details_json")?,
    })
}

fn change_from_row(row: &SqliteRow) -> StorageResult<ChangeEvent> {
    Ok(ChangeEvent {
        id: get(row, "id")?,
        service_id: get(row, "service_id")?,
        summary: get(row, "summary")?,
        source: get(row, "source")?,
        happened_at: timestamp(row, "happened_at")?,
        received_at: timestamp(row, "received_at")?,
        links: json_column(row, "links_json")?,
        custom_details: json_column(row, "custom_details_json")?,
    })
}

fn key_from_row(row: &SqliteRow) -> StorageResult<IntegrationKey> {
    Ok(IntegrationKey {
        service_id: get(row, "service_id")?,
        kind: parse_enum(
            &get::<String>(row, "kind")?,
            IntegrationKind::parse,
            "integration kind",
        )?,
        key: get(row, "key")?,
        created_at: timestamp(row, "created_at")?,
    })
}

fn transition_from_row(row: &SqliteRow) -> StorageResult<MonitorTransition> {
    let status = |column: &str| -> StorageResult<MonitorStatus> {
        parse_enum(
            &get::<String>(row, column)?,
            MonitorStatus::parse,
            "monitor status",
        )
    };
    Ok(MonitorTransition {
        event: MonitorEvent {
            id: get(row, "id")?,
            monitor_id: get(row, "monitor_id")?,
            at: timestamp(row, "at")?,
            from_status: status("from_status")?,
            to_status: status("to_status")?,
            reason: get(row, "reason")?,
            in_maintenance: get(row, "in_maintenance")?,
        },
        service_id: get(row, "service_id")?,
        monitor_name: get(row, "monitor_name")?,
    })
}

/// The primitives on the writer's open transaction.
struct SqliteIncidentTx<'c> {
    conn: &'c mut SqliteConnection,
    enqueued: bool,
}

#[async_trait::async_trait]
impl IncidentTx for SqliteIncidentTx<'_> {
    async fn lock_service(&mut self, _service_id: i64) -> StorageResult<()> {
        Ok(())
    }

    async fn open_alert(
        &mut self,
        service_id: i64,
        source: AlertSource,
        dedup_key: &str,
    ) -> StorageResult<Option<Alert>> {
        let row = sqlx::query(&format!(
            "SELECT * FROM alerts WHERE service_id = $1 AND source = $2 AND dedup_key = $3 AND {OPEN}"
        ))
        .bind(service_id)
        .bind(source.as_str())
        .bind(dedup_key)
        .fetch_optional(&mut *self.conn)
        .await
        .map_err(db_err)?;
        row.as_ref().map(alert_from_row).transpose()
    }

    async fn insert_alert(&mut self, alert: &NewAlert) -> StorageResult<Alert> {
        let row = sqlx::query(
            "INSERT INTO alerts (incident_id, service_id, source, dedup_key, status, summary, severity, details_json,
                event_count, created_at, updated_at)
             VALUES ($1, $2, $3, $4, 'triggered', $5, $6, $7, 1, $8, $8) RETURNING *",
        )
        .bind(alert.incident_id)
        .bind(alert.service_id)
        .bind(alert.source.as_str())
        .bind(&alert.dedup_key)
        .bind(&alert.summary)
        .bind(alert.severity.as_str())
        .bind(alert.details.to_string())
        .bind(millis(alert.at))
        .fetch_one(&mut *self.conn)
        .await
        .map_err(db_err)?;
        alert_from_row(&row)
    }

    async fn update_alert(&mut self, alert: &Alert) -> StorageResult<()> {
        sqlx::query(
            "UPDATE alerts SET status = $2, summary = $3, severity = $4, details_json = $5, event_count = $6,
                updated_at = $7, resolved_at = $8, incident_id = $9 WHERE id = $1",
        )
        .bind(alert.id)
        .bind(alert.status.as_str())
        .bind(&alert.summary)
        .bind(alert.severity.as_str())
        .bind(alert.details.to_string())
        .bind(alert.event_count)
        .bind(millis(alert.updated_at))
        .bind(alert.resolved_at.map(millis))
        .bind(alert.incident_id)
        .execute(&mut *self.conn)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn open_alerts_of(&mut self, incident_id: i64) -> StorageResult<Vec<Alert>> {
        sqlx::query(&format!(
            "SELECT * FROM alerts WHERE incident_id = $1 AND {OPEN} ORDER BY id"
        ))
        .bind(incident_id)
        .fetch_all(&mut *self.conn)
        .await
        .map_err(db_err)?
        .iter()
        .map(alert_from_row)
        .collect()
    }

    async fn incident(&mut self, id: i64) -> StorageResult<Incident> {
        let row = sqlx::query(&format!("{INCIDENT_SELECT} WHERE i.id = $1"))
            .bind(id)
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(db_err)?
            .ok_or(StorageError::NotFound { what: "incident" })?;
        incident_from_row(&row)
    }

    async fn joinable_incident(
        &mut self,
        service_id: i64,
        group_key: Option<&str>,
        active_since: Timestamp,
    ) -> StorageResult<Option<Incident>> {
        let row = sqlx::query(&format!(
            "{INCIDENT_SELECT} WHERE i.service_id = $1 AND i.{OPEN}
               AND (($2 IS NOT NULL AND i.group_key = $2) OR ($2 IS NULL AND i.last_alert_at >= $3))
             ORDER BY i.id DESC LIMIT 1"
        ))
        .bind(service_id)
        .bind(group_key)
        .bind(millis(active_since))
        .fetch_optional(&mut *self.conn)
        .await
        .map_err(db_err)?;
        row.as_ref().map(incident_from_row).transpose()
    }

    async fn open_upstream_incident(&mut self, service_id: i64) -> StorageResult<Option<Incident>> {
        let row = sqlx::query(&format!(
            "WITH RECURSIVE upstream(id) AS (
                 SELECT depends_on_id FROM service_dependencies WHERE service_id = $1
                 UNION SELECT d.depends_on_id FROM service_dependencies d JOIN upstream u ON d.service_id = u.id
             )
             {INCIDENT_SELECT} WHERE i.service_id IN (SELECT id FROM upstream) AND i.{OPEN}
             ORDER BY i.id LIMIT 1"
        ))
        .bind(service_id)
        .fetch_optional(&mut *self.conn)
        .await
        .map_err(db_err)?;
        row.as_ref().map(incident_from_row).transpose()
    }

    async fn insert_incident(&mut self, incident: &NewIncident) -> StorageResult<Incident> {
        let id: i64 = sqlx::query(
            "INSERT INTO incidents (service_id, title, status, severity, group_key, created_at, last_alert_at, updated_at)
             VALUES ($1, $2, 'triggered', $3, $4, $5, $5, $5) RETURNING id",
        )
        .bind(incident.service_id)
        .bind(&incident.title)
        .bind(incident.severity.as_str())
        .bind(&incident.group_key)
        .bind(millis(incident.at))
        .fetch_one(&mut *self.conn)
        .await
        .and_then(|row| row.try_get("id"))
        .map_err(db_err)?;
        self.incident(id).await
    }

    async fn update_incident(&mut self, incident: &Incident) -> StorageResult<()> {
        sqlx::query(
            "UPDATE incidents SET title = $2, status = $3, severity = $4, assignee_user_id = $5, alert_count = $6,
                open_alert_count = $7, last_alert_at = $8, acknowledged_at = $9, resolved_at = $10, updated_at = $11,
                escalation_epoch = $12, escalation_step = $13 WHERE id = $1",
        )
        .bind(incident.id)
        .bind(&incident.title)
        .bind(incident.status.as_str())
        .bind(incident.severity.as_str())
        .bind(incident.assignee_user_id)
        .bind(incident.alert_count)
        .bind(incident.open_alert_count)
        .bind(millis(incident.last_alert_at))
        .bind(incident.acknowledged_at.map(millis))
        .bind(incident.resolved_at.map(millis))
        .bind(millis(incident.updated_at))
        .bind(incident.escalation_epoch)
        .bind(incident.escalation_step)
        .execute(&mut *self.conn)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn append_timeline(&mut self, entry: &NewTimelineEntry) -> StorageResult<()> {
        sqlx::query(
            "INSERT INTO incident_timeline (incident_id, at, kind, actor, message, details_json)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(entry.incident_id)
        .bind(millis(entry.at))
        .bind(&entry.kind)
        .bind(&entry.actor)
        .bind(&entry.message)
        .bind(entry.details.to_string())
        .execute(&mut *self.conn)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn insert_notification(&mut self, notification: &NewNotification) -> StorageResult<bool> {
        let done = sqlx::query(
            "INSERT INTO notifications (incident_id, user_id, contact_method_id, channel_kind, idempotency_key,
                payload_json, reason, status, attempts, next_attempt_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', 0, $8, $8, $8) ON CONFLICT DO NOTHING",
        )
        .bind(notification.incident_id)
        .bind(notification.user_id)
        .bind(notification.contact_method_id)
        .bind(&notification.channel_kind)
        .bind(&notification.idempotency_key)
        .bind(notification.payload.to_string())
        .bind(&notification.reason)
        .bind(millis(notification.deliver_at))
        .execute(&mut *self.conn)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn enqueue_job(&mut self, job: &NewJob) -> StorageResult<()> {
        let done = sqlx::query(
            "INSERT INTO jobs (kind, payload_json, status, attempt, max_attempts, run_at, dedup_key, created_at, updated_at)
             VALUES ($1, $2, 'queued', 0, $3, $4, $5, $4, $4) ON CONFLICT DO NOTHING",
        )
        .bind(&job.kind)
        .bind(job.payload.to_string())
        .bind(job.max_attempts)
        .bind(millis(job.run_at))
        .bind(&job.dedup_key)
        .execute(&mut *self.conn)
        .await
        .map_err(db_err)?;
        self.enqueued |= done.rows_affected() > 0;
        Ok(())
    }

    async fn audit(
        &mut self,
        ctx: &AuditContext,
        action: &str,
        target: (&str, String),
        before: Option<Value>,
        after: Option<Value>,
    ) -> StorageResult<()> {
        insert_audit(self.conn, ctx, action, target, before, after).await
    }

    async fn monitor_events_after(
        &mut self,
        position: i64,
        limit: u32,
    ) -> StorageResult<Vec<MonitorTransition>> {
        sqlx::query(
            "SELECT e.*, m.service_id, m.name AS monitor_name FROM monitor_events e JOIN monitors m ON m.id = e.monitor_id
             WHERE e.id > $1 ORDER BY e.id LIMIT $2",
        )
        .bind(position)
        .bind(i64::from(limit))
        .fetch_all(&mut *self.conn)
        .await
        .map_err(db_err)?
        .iter()
        .map(transition_from_row)
        .collect()
    }

    async fn cursor(&mut self, name: &str) -> StorageResult<i64> {
        let position: Option<i64> =
            sqlx::query_scalar("SELECT position FROM stream_cursors WHERE name = $1")
                .bind(name)
                .fetch_optional(&mut *self.conn)
                .await
                .map_err(db_err)?;
        Ok(position.unwrap_or(0))
    }

    async fn set_cursor(&mut self, name: &str, position: i64) -> StorageResult<()> {
        sqlx::query(
            "INSERT INTO stream_cursors (name, position) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET position = excluded.position",
        )
        .bind(name)
        .bind(position)
        .execute(&mut *self.conn)
        .await
        .map_err(db_err)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl IncidentStore for SqliteStorage {
    async fn run_incident_work(&self, work: &dyn IncidentWork) -> StorageResult<()> {
        let mut tx = self.begin_write().await?;
        let mut primitives = SqliteIncidentTx {
            conn: &mut tx,
            enqueued: false,
        };
        work.run(&mut primitives).await?;
        let enqueued = primitives.enqueued;
        tx.commit().await.map_err(db_err)?;
        if enqueued {
            self.job_signal.notify_waiters();
        }
        Ok(())
    }

    async fn incident_by_id(&self, id: i64) -> StorageResult<Option<Incident>> {
        let row = sqlx::query(&format!("{INCIDENT_SELECT} WHERE i.id = $1"))
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        row.as_ref().map(incident_from_row).transpose()
    }

    async fn list_incidents(
        &self,
        filter: &IncidentFilter,
        page: PageRequest,
    ) -> StorageResult<Page<Incident>> {
        let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        let rows = sqlx::query(&format!(
            "{INCIDENT_SELECT} WHERE i.id < $1 AND ($2 IS NULL OR i.service_id = $2)
               AND ($3 = '' OR instr($3, ',' || i.status || ',') > 0)
             ORDER BY i.id DESC LIMIT $4"
        ))
        .bind(page.cursor.unwrap_or(i64::MAX))
        .bind(filter.service_id)
        .bind(if statuses.is_empty() {
            String::new()
        } else {
            format!(",{},", statuses.join(","))
        })
        .bind(page.fetch_limit())
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?
        .iter()
        .map(incident_from_row)
        .collect::<StorageResult<Vec<_>>>()?;
        Ok(Page::from_rows(rows, page, |incident| incident.id))
    }

    async fn incident_timeline(
        &self,
        incident_id: i64,
        page: PageRequest,
    ) -> StorageResult<Page<TimelineEntry>> {
        let rows = sqlx::query(
            "SELECT * FROM incident_timeline WHERE incident_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(incident_id)
        .bind(page.cursor.unwrap_or(0))
        .bind(page.fetch_limit())
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?
        .iter()
        .map(timeline_from_row)
        .collect::<StorageResult<Vec<_>>>()?;
        Ok(Page::from_rows(rows, page, |entry| entry.id))
    }

    async fn incident_alerts(
        &self,
        incident_id: i64,
        page: PageRequest,
    ) -> StorageResult<Page<Alert>> {
        let rows = sqlx::query(
            "SELECT * FROM alerts WHERE incident_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(incident_id)
        .bind(page.cursor.unwrap_or(0))
        .bind(page.fetch_limit())
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?
        .iter()
        .map(alert_from_row)
        .collect::<StorageResult<Vec<_>>>()?;
        Ok(Page::from_rows(rows, page, |alert| alert.id))
    }

    async fn ensure_integration_keys(
        &self,
        service_id: i64,
        fresh: &[(IntegrationKind, String)],
        at: Timestamp,
    ) -> StorageResult<Vec<IntegrationKey>> {
        let existing = sqlx::query("SELECT * FROM integration_keys WHERE service_id = $1")
            .bind(service_id)
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?
            .iter()
            .map(key_from_row)
            .collect::<StorageResult<Vec<_>>>()?;
        if fresh
            .iter()
            .all(|(kind, _)| existing.iter().any(|key| key.kind == *kind))
        {
            return Ok(existing);
        }
        let mut tx = self.begin_write().await?;
        for (kind, key) in fresh {
            sqlx::query(
                "INSERT INTO integration_keys (service_id, kind, key, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (service_id, kind) DO NOTHING",
            )
            .bind(service_id)
            .bind(kind.as_str())
            .bind(key)
            .bind(millis(at))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        let keys = sqlx::query("SELECT * FROM integration_keys WHERE service_id = $1")
            .bind(service_id)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?
            .iter()
            .map(key_from_row)
            .collect::<StorageResult<Vec<_>>>()?;
        tx.commit().await.map_err(db_err)?;
        Ok(keys)
    }

    async fn rotate_integration_key(
        &self,
        ctx: &AuditContext,
        service_id: i64,
        kind: IntegrationKind,
        key: &str,
    ) -> StorageResult<IntegrationKey> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO integration_keys (service_id, kind, key, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (service_id, kind) DO UPDATE SET key = excluded.key, created_at = excluded.created_at
             RETURNING *",
        )
        .bind(service_id)
        .bind(kind.as_str())
        .bind(key)
        .bind(millis(ctx.at))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let rotated = key_from_row(&row)?;
        insert_audit(
            &mut tx,
            ctx,
            "service.integration_key.rotate",
            ("service", service_id.to_string()),
            None,
            snapshot(&serde_json::json!({ "kind": kind })),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(rotated)
    }

    async fn service_for_integration_key(
        &self,
        kind: IntegrationKind,
        key: &str,
    ) -> StorageResult<Option<i64>> {
        sqlx::query_scalar("SELECT service_id FROM integration_keys WHERE kind = $1 AND key = $2")
            .bind(kind.as_str())
            .bind(key)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)
    }

    async fn record_change_event(&self, event: &NewChangeEvent) -> StorageResult<ChangeEvent> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO change_events (service_id, summary, source, happened_at, received_at, links_json, custom_details_json)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
        )
        .bind(event.service_id)
        .bind(&event.summary)
        .bind(&event.source)
        .bind(millis(event.happened_at))
        .bind(millis(event.received_at))
        .bind(event.links.to_string())
        .bind(event.custom_details.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let change = change_from_row(&row)?;
        tx.commit().await.map_err(db_err)?;
        Ok(change)
    }

    async fn list_change_events(
        &self,
        service_id: i64,
        since: Option<Timestamp>,
        page: PageRequest,
    ) -> StorageResult<Page<ChangeEvent>> {
        let rows = sqlx::query(
            "SELECT * FROM change_events WHERE service_id = $1 AND id < $2 AND happened_at >= $3
             ORDER BY id DESC LIMIT $4",
        )
        .bind(service_id)
        .bind(page.cursor.unwrap_or(i64::MAX))
        .bind(since.map_or(i64::MIN, millis))
        .bind(page.fetch_limit())
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?
        .iter()
        .map(change_from_row)
        .collect::<StorageResult<Vec<_>>>()?;
        Ok(Page::from_rows(rows, page, |change| change.id))
    }
}

//! The PostgreSQL schema, as numbered migrations applied in order and recorded in `schema_migrations`.
//!
//! Several nodes may start at once, so every migration transaction first takes one advisory lock:
//! the first node applies a migration, the others wait and then find it recorded.

use jiff::Timestamp;
use sqlx::{PgPool, Postgres, Row, Transaction};
use upkeep_storage::{SchemaStatus, StorageError, StorageResult};

use crate::support::db_err;

/// `(version, name, SQL)`. Append only: never edit a migration that has shipped.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "foundation", FOUNDATION),
    (2, "monitors", MONITORS),
    (3, "monitor_rollups", MONITOR_ROLLUPS),
    (4, "maintenance_windows", MAINTENANCE_WINDOWS),
    (5, "incidents", INCIDENTS),
    (6, "oncall", ONCALL),
];

/// The advisory lock key that serialises migrations across nodes ("upkeep" in ASCII, then 1).
const MIGRATION_LOCK: i64 = 0x7570_6b65_6570_0001;

const FOUNDATION: &str = r#"
CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE sessions (
    id BIGSERIAL PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    user_agent TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT,
    last_used_at BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);
CREATE TABLE setup_tokens (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    token_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE login_failures (
    key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL
);
CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_user_id BIGINT,
    actor_label TEXT NOT NULL,
    origin TEXT,
    action TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT
);
CREATE INDEX audit_log_target ON audit_log(target_kind, target_id);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TABLE teams (
    id BIGSERIAL PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE services (
    id BIGSERIAL PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    team_id BIGINT REFERENCES teams(id),
    links_json TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX services_team ON services(team_id);
CREATE TABLE service_dependencies (
    service_id BIGINT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    depends_on_id BIGINT NOT NULL REFERENCES services(id),
    PRIMARY KEY (service_id, depends_on_id)
);
CREATE INDEX service_dependencies_target ON service_dependencies(depends_on_id);
CREATE TABLE jobs (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    payload_json TEXT NOT NULL,
    status TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at BIGINT NOT NULL,
    locked_by TEXT,
    locked_until BIGINT,
    last_error TEXT,
    dedup_key TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs(status, run_at);
-- Only never-claimed jobs (attempt 0): a failed job requeued for a retry must not collide with a newer duplicate.
CREATE UNIQUE INDEX jobs_dedup ON jobs(dedup_key) WHERE status = 'queued' AND attempt = 0 AND dedup_key IS NOT NULL;
"#;

/// Monitors, their state, results, pings and state-change events; services gain a `ping_key` (existing
/// services get a random 24-hex-digit key, like SQLite's `hex(randomblob(12))`).
const MONITORS: &str = r#"
ALTER TABLE services ADD COLUMN ping_key TEXT;
UPDATE services SET ping_key = substr(md5(random()::text || clock_timestamp()::text || id::text), 1, 24) WHERE ping_key IS NULL;
CREATE UNIQUE INDEX services_ping_key ON services(ping_key);
CREATE TABLE monitors (
    id BIGSERIAL PRIMARY KEY,
    service_id BIGINT NOT NULL REFERENCES services(id),
    name TEXT NOT NULL,
    slug TEXT NOT NULL,
    kind TEXT NOT NULL,
    settings_json TEXT NOT NULL,
    interval_ms BIGINT NOT NULL,
    failure_threshold INTEGER NOT NULL,
    success_threshold INTEGER NOT NULL,
    ping_token TEXT NOT NULL UNIQUE,
    managed_by TEXT,
    paused BOOLEAN NOT NULL DEFAULT FALSE,
    resume_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    consecutive_failures INTEGER NOT NULL,
    consecutive_successes INTEGER NOT NULL,
    last_checked_at BIGINT,
    last_change_at BIGINT,
    last_ping_at BIGINT,
    last_start_at BIGINT,
    last_start_rid TEXT,
    deadline_at BIGINT,
    last_error TEXT,
    last_duration_ms BIGINT,
    UNIQUE (service_id, slug)
);
CREATE INDEX monitors_deadline ON monitors(deadline_at) WHERE deadline_at IS NOT NULL;
CREATE INDEX monitors_status ON monitors(status);
CREATE TABLE monitor_events (
    id BIGSERIAL PRIMARY KEY,
    monitor_id BIGINT NOT NULL REFERENCES monitors(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX monitor_events_monitor ON monitor_events(monitor_id, id);
CREATE TABLE heartbeat_pings (
    id BIGSERIAL PRIMARY KEY,
    monitor_id BIGINT NOT NULL REFERENCES monitors(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    exit_status INTEGER,
    rid TEXT,
    duration_ms BIGINT,
    body TEXT,
    method TEXT NOT NULL,
    remote_addr TEXT,
    user_agent TEXT
);
CREATE INDEX heartbeat_pings_monitor ON heartbeat_pings(monitor_id, id);
CREATE INDEX heartbeat_pings_at ON heartbeat_pings(at);
CREATE TABLE check_results (
    id BIGSERIAL PRIMARY KEY,
    monitor_id BIGINT NOT NULL REFERENCES monitors(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    success BOOLEAN NOT NULL,
    duration_ms BIGINT NOT NULL,
    status_code INTEGER,
    error TEXT,
    details_json TEXT NOT NULL
);
CREATE INDEX check_results_monitor ON check_results(monitor_id, id);
CREATE INDEX check_results_at ON check_results(at);
"#;

/// Per-monitor minute, hour and day buckets of the raw history, and how far each resolution is rolled up.
const MONITOR_ROLLUPS: &str = r#"
CREATE TABLE monitor_rollups (
    monitor_id BIGINT NOT NULL REFERENCES monitors(id) ON DELETE CASCADE,
    resolution TEXT NOT NULL CHECK (resolution IN ('minute', 'hour', 'day')),
    bucket_start BIGINT NOT NULL,
    checks BIGINT NOT NULL,
    failures BIGINT NOT NULL,
    timed BIGINT NOT NULL,
    min_ms BIGINT,
    max_ms BIGINT,
    sum_ms BIGINT NOT NULL,
    sketch BYTEA NOT NULL,
    PRIMARY KEY (monitor_id, resolution, bucket_start)
);
CREATE INDEX monitor_rollups_time ON monitor_rollups(resolution, bucket_start, monitor_id);
CREATE TABLE rollup_watermarks (
    resolution TEXT PRIMARY KEY,
    upto BIGINT
);
INSERT INTO rollup_watermarks (resolution, upto) VALUES ('minute', NULL), ('hour', NULL), ('day', NULL);
"#;

/// Maintenance windows of a service or of one monitor (exactly one is set), and the flag on state changes
/// raised while a window was active (recorded, but nobody is paged for them).
const MAINTENANCE_WINDOWS: &str = r#"
CREATE TABLE maintenance_windows (
    id BIGSERIAL PRIMARY KEY,
    service_id BIGINT REFERENCES services(id) ON DELETE CASCADE,
    monitor_id BIGINT REFERENCES monitors(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('one_off', 'recurring')),
    starts_at BIGINT,
    ends_at BIGINT,
    start_time TEXT,
    duration_ms BIGINT,
    days TEXT NOT NULL DEFAULT '',
    tz TEXT,
    until BIGINT,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    CHECK ((service_id IS NULL) <> (monitor_id IS NULL)),
    CHECK (kind <> 'one_off' OR (starts_at IS NOT NULL AND ends_at IS NOT NULL AND ends_at > starts_at)),
    CHECK (kind <> 'recurring' OR (start_time IS NOT NULL AND duration_ms IS NOT NULL AND duration_ms > 0 AND tz IS NOT NULL))
);
CREATE INDEX maintenance_windows_service ON maintenance_windows(service_id) WHERE service_id IS NOT NULL;
CREATE INDEX maintenance_windows_monitor ON maintenance_windows(monitor_id) WHERE monitor_id IS NOT NULL;
ALTER TABLE monitor_events ADD COLUMN in_maintenance BOOLEAN NOT NULL DEFAULT FALSE;
"#;

/// Incidents, their alerts and timelines, change events, integration keys, and the positions of event
/// streams the incidents domain consumes (monitor state changes).
const INCIDENTS: &str = r#"
CREATE TABLE integration_keys (
    service_id BIGINT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    key TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (service_id, kind)
);
CREATE TABLE incidents (
    id BIGSERIAL PRIMARY KEY,
    service_id BIGINT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('triggered', 'acknowledged', 'resolved')),
    severity TEXT NOT NULL,
    assignee_user_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    group_key TEXT,
    alert_count BIGINT NOT NULL DEFAULT 0,
    open_alert_count BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    last_alert_at BIGINT NOT NULL,
    acknowledged_at BIGINT,
    resolved_at BIGINT,
    updated_at BIGINT NOT NULL,
    escalation_epoch BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX incidents_service_status ON incidents(service_id, status, id);
CREATE INDEX incidents_status ON incidents(status, id);
CREATE TABLE alerts (
    id BIGSERIAL PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    service_id BIGINT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('triggered', 'acknowledged', 'resolved')),
    summary TEXT NOT NULL,
    severity TEXT NOT NULL,
    details_json TEXT NOT NULL,
    event_count BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    resolved_at BIGINT
);
-- Deduplication: one unresolved alert per service, source and dedup key.
CREATE UNIQUE INDEX alerts_open_dedup ON alerts(service_id, source, dedup_key) WHERE status <> 'resolved';
CREATE INDEX alerts_incident ON alerts(incident_id, id);
CREATE TABLE incident_timeline (
    id BIGSERIAL PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT,
    message TEXT NOT NULL,
    details_json TEXT NOT NULL
);
CREATE INDEX incident_timeline_incident ON incident_timeline(incident_id, id);
CREATE TABLE change_events (
    id BIGSERIAL PRIMARY KEY,
    service_id BIGINT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    summary TEXT NOT NULL,
    source TEXT,
    happened_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    links_json TEXT NOT NULL,
    custom_details_json TEXT NOT NULL
);
CREATE INDEX change_events_service ON change_events(service_id, id);
CREATE TABLE stream_cursors (
    name TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);
-- State changes recorded before incidents existed are history, not alerts to raise now.
INSERT INTO stream_cursors (name, position) SELECT 'monitor_events', COALESCE(MAX(id), 0) FROM monitor_events;
"#;

/// On-call: schedules (their rotations, layers and overrides as JSON the on-call domain validates),
/// calendar feed tokens, escalation policies (services point at one), people's contact methods and
/// notification rules, the notification outbox with its attempt log, and single-use action links.
const ONCALL: &str = r#"
CREATE TABLE schedules (
    id BIGSERIAL PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    team_id BIGINT REFERENCES teams(id) ON DELETE SET NULL,
    spec_json TEXT NOT NULL,
    feed_token TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE user_feed_tokens (
    user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    token TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
CREATE TABLE escalation_policies (
    id BIGSERIAL PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    spec_json TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
ALTER TABLE services ADD COLUMN escalation_policy_id BIGINT REFERENCES escalation_policies(id) ON DELETE SET NULL;
ALTER TABLE services ADD COLUMN runbook_url TEXT;
-- The escalation step already taken in the current epoch: a duplicated or retried step job sees it and
-- does nothing, so nobody is paged twice.
ALTER TABLE incidents ADD COLUMN escalation_step BIGINT NOT NULL DEFAULT 0;
CREATE TABLE contact_methods (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- The channel settings, sealed by the core (they hold webhook URLs, tokens and passwords).
    config_sealed TEXT NOT NULL,
    verified BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX contact_methods_user ON contact_methods(user_id, id);
CREATE TABLE notification_rules (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    contact_method_id BIGINT NOT NULL REFERENCES contact_methods(id) ON DELETE CASCADE,
    delay_ms BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX notification_rules_user ON notification_rules(user_id, delay_ms);
CREATE TABLE notifications (
    id BIGSERIAL PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    user_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    contact_method_id BIGINT REFERENCES contact_methods(id) ON DELETE SET NULL,
    channel_kind TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    payload_json TEXT NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'delivered', 'failed', 'ambiguous', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX notifications_due ON notifications(status, next_attempt_at);
CREATE INDEX notifications_incident ON notifications(incident_id, id);
CREATE INDEX notifications_user ON notifications(user_id, created_at);
CREATE TABLE notification_attempts (
    id BIGSERIAL PRIMARY KEY,
    notification_id BIGINT NOT NULL REFERENCES notifications(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    duration_ms BIGINT NOT NULL
);
CREATE INDEX notification_attempts_notification ON notification_attempts(notification_id, id);
CREATE TABLE action_links (
    token_hash TEXT PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
    action TEXT NOT NULL CHECK (action IN ('acknowledge', 'resolve')),
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
"#;

fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |(version, _, _)| *version)
}

/// Open a transaction holding the migration lock until it ends.
async fn begin_locked(pool: &PgPool) -> StorageResult<Transaction<'static, Postgres>> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    Ok(tx)
}

async fn ensure_table(pool: &PgPool) -> StorageResult<()> {
    // Under the lock: two concurrent `CREATE TABLE IF NOT EXISTS` can still collide on PostgreSQL.
    let mut tx = begin_locked(pool).await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    tx.commit().await.map_err(db_err)
}

async fn current(pool: &PgPool) -> StorageResult<i64> {
    let exists: bool =
        sqlx::query("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")
            .fetch_one(pool)
            .await
            .and_then(|row| row.try_get("present"))
            .map_err(db_err)?;
    if !exists {
        return Ok(0);
    }
    sqlx::query("SELECT COALESCE(MAX(version), 0)::BIGINT AS v FROM schema_migrations")
        .fetch_one(pool)
        .await
        .and_then(|row| row.try_get("v"))
        .map_err(db_err)
}

pub(crate) async fn status(pool: &PgPool) -> StorageResult<SchemaStatus> {
    Ok(SchemaStatus {
        database_version: current(pool).await?,
        binary_version: latest(),
    })
}

/// Run one migration's statements. A bare string without arguments goes through PostgreSQL's simple
/// query protocol, which runs every statement of a multi-statement string (what `sqlx::raw_sql` does;
/// calling that here trips a "not general enough" `Send` error inside `async_trait`).
async fn run_sql(tx: &mut Transaction<'static, Postgres>, sql: &'static str) -> StorageResult<()> {
    sqlx::Executor::execute(&mut **tx, sql)
        .await
        .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn migrate(pool: &PgPool) -> StorageResult<SchemaStatus> {
    ensure_table(pool).await?;
    let database_version = current(pool).await?;
    if database_version > latest() {
        return Err(StorageError::SchemaTooNew {
            database_version,
            binary_version: latest(),
        });
    }
    for &(version, name, sql) in MIGRATIONS {
        if version <= database_version {
            continue;
        }
        let mut tx = begin_locked(pool).await?;
        // Another node may have applied it while we waited for the lock.
        let applied: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM schema_migrations WHERE version = $1")
                .bind(version)
                .fetch_one(&mut *tx)
                .await
                .and_then(|row| row.try_get("n"))
                .map_err(db_err)?;
        if applied > 0 {
            continue;
        }
        run_sql(&mut tx, sql).await?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(version)
        .bind(name)
        .bind(Timestamp::now().as_millisecond())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        tracing::info!(version, name, "applied PostgreSQL migration");
    }
    status(pool).await
}

//! The SQLite schema, as numbered migrations applied in order and recorded in `schema_migrations`.

use jiff::Timestamp;
use sqlx::{Row, SqlitePool};
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

const FOUNDATION: &str = r#"
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    user_agent TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER,
    last_used_at INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);
CREATE TABLE setup_tokens (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    token_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE login_failures (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL
);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_user_id INTEGER,
    actor_label TEXT NOT NULL,
    origin TEXT,
    action TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT
);
CREATE INDEX audit_log_target ON audit_log(target_kind, target_id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE teams (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE services (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    team_id INTEGER REFERENCES teams(id),
    links_json TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX services_team ON services(team_id);
CREATE TABLE service_dependencies (
    service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    depends_on_id INTEGER NOT NULL REFERENCES services(id),
    PRIMARY KEY (service_id, depends_on_id)
);
CREATE INDEX service_dependencies_target ON service_dependencies(depends_on_id);
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    payload_json TEXT NOT NULL,
    status TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at INTEGER NOT NULL,
    locked_by TEXT,
    locked_until INTEGER,
    last_error TEXT,
    dedup_key TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs(status, run_at);
-- Only never-claimed jobs (attempt 0): a failed job requeued for a retry must not collide with a newer duplicate.
CREATE UNIQUE INDEX jobs_dedup ON jobs(dedup_key) WHERE status = 'queued' AND attempt = 0 AND dedup_key IS NOT NULL;
"#;

const MONITORS: &str = r#"
ALTER TABLE services ADD COLUMN ping_key TEXT;
UPDATE services SET ping_key = lower(hex(randomblob(12))) WHERE ping_key IS NULL;
CREATE UNIQUE INDEX services_ping_key ON services(ping_key);
CREATE TABLE monitors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id INTEGER NOT NULL REFERENCES services(id),
    name TEXT NOT NULL,
    slug TEXT NOT NULL,
    kind TEXT NOT NULL,
    settings_json TEXT NOT NULL,
    interval_ms INTEGER NOT NULL,
    failure_threshold INTEGER NOT NULL,
    success_threshold INTEGER NOT NULL,
    ping_token TEXT NOT NULL UNIQUE,
    managed_by TEXT,
    paused BOOLEAN NOT NULL DEFAULT FALSE,
    resume_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    consecutive_failures INTEGER NOT NULL,
    consecutive_successes INTEGER NOT NULL,
    last_checked_at INTEGER,
    last_change_at INTEGER,
    last_ping_at INTEGER,
    last_start_at INTEGER,
    last_start_rid TEXT,
    deadline_at INTEGER,
    last_error TEXT,
    last_duration_ms INTEGER,
    UNIQUE (service_id, slug)
);
CREATE INDEX monitors_deadline ON monitors(deadline_at) WHERE deadline_at IS NOT NULL;
CREATE INDEX monitors_status ON monitors(status);
CREATE TABLE monitor_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    monitor_id INTEGER NOT NULL REFERENCES monitors(id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX monitor_events_monitor ON monitor_events(monitor_id, id);
CREATE TABLE heartbeat_pings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    monitor_id INTEGER NOT NULL REFERENCES monitors(id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    exit_status INTEGER,
    rid TEXT,
    duration_ms INTEGER,
    body TEXT,
    method TEXT NOT NULL,
    remote_addr TEXT,
    user_agent TEXT
);
CREATE INDEX heartbeat_pings_monitor ON heartbeat_pings(monitor_id, id);
CREATE INDEX heartbeat_pings_at ON heartbeat_pings(at);
CREATE TABLE check_results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    monitor_id INTEGER NOT NULL REFERENCES monitors(id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    success BOOLEAN NOT NULL,
    duration_ms INTEGER NOT NULL,
    status_code INTEGER,
    error TEXT,
    details_json TEXT NOT NULL
);
CREATE INDEX check_results_monitor ON check_results(monitor_id, id);
CREATE INDEX check_results_at ON check_results(at);
"#;

/// Per-monitor minute, hour and day buckets of the raw history, and how far each resolution is rolled up.
/// `WITHOUT ROWID`: the key is the row, which saves a second b-tree on the biggest table at steady state.
const MONITOR_ROLLUPS: &str = r#"
CREATE TABLE monitor_rollups (
    monitor_id INTEGER NOT NULL REFERENCES monitors(id) ON DELETE CASCADE,
    resolution TEXT NOT NULL CHECK (resolution IN ('minute', 'hour', 'day')),
    bucket_start INTEGER NOT NULL,
    checks INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    timed INTEGER NOT NULL,
    min_ms INTEGER,
    max_ms INTEGER,
    sum_ms INTEGER NOT NULL,
    sketch BLOB NOT NULL,
    PRIMARY KEY (monitor_id, resolution, bucket_start)
) WITHOUT ROWID;
CREATE INDEX monitor_rollups_time ON monitor_rollups(resolution, bucket_start, monitor_id);
CREATE TABLE rollup_watermarks (
    resolution TEXT PRIMARY KEY,
    upto INTEGER
);
INSERT INTO rollup_watermarks (resolution, upto) VALUES ('minute', NULL), ('hour', NULL), ('day', NULL);
"#;

/// Maintenance windows of a service or of one monitor (exactly one is set), and the flag on state changes
/// raised while a window was active (recorded, but nobody is paged for them).
const MAINTENANCE_WINDOWS: &str = r#"
CREATE TABLE maintenance_windows (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id INTEGER REFERENCES services(id) ON DELETE CASCADE,
    monitor_id INTEGER REFERENCES monitors(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('one_off', 'recurring')),
    starts_at INTEGER,
    ends_at INTEGER,
    start_time TEXT,
    duration_ms INTEGER,
    days TEXT NOT NULL DEFAULT '',
    tz TEXT,
    until INTEGER,
    created_at INTEGER NOT NULL,
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
    service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    key TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (service_id, kind)
);
CREATE TABLE incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('triggered', 'acknowledged', 'resolved')),
    severity TEXT NOT NULL,
    assignee_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
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
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
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
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT,
    message TEXT NOT NULL,
    details_json TEXT NOT NULL
);
CREATE INDEX incident_timeline_incident ON incident_timeline(incident_id, id);
CREATE TABLE change_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
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
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    team_id INTEGER REFERENCES teams(id) ON DELETE SET NULL,
    spec_json TEXT NOT NULL,
    feed_token TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE user_feed_tokens (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    token TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
CREATE TABLE escalation_policies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    spec_json TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
ALTER TABLE services ADD COLUMN escalation_policy_id INTEGER REFERENCES escalation_policies(id) ON DELETE SET NULL;
ALTER TABLE services ADD COLUMN runbook_url TEXT;
-- The escalation step already taken in the current epoch: a duplicated or retried step job sees it and
-- does nothing, so nobody is paged twice.
ALTER TABLE incidents ADD COLUMN escalation_step BIGINT NOT NULL DEFAULT 0;
CREATE TABLE contact_methods (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
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
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    contact_method_id INTEGER NOT NULL REFERENCES contact_methods(id) ON DELETE CASCADE,
    delay_ms BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX notification_rules_user ON notification_rules(user_id, delay_ms);
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    contact_method_id INTEGER REFERENCES contact_methods(id) ON DELETE SET NULL,
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
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id INTEGER NOT NULL REFERENCES notifications(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    duration_ms BIGINT NOT NULL
);
CREATE INDEX notification_attempts_notification ON notification_attempts(notification_id, id);
CREATE TABLE action_links (
    token_hash TEXT PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
    action TEXT NOT NULL CHECK (action IN ('acknowledge', 'resolve')),
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
"#;

fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |(version, _, _)| *version)
}

async fn ensure_table(pool: &SqlitePool) -> StorageResult<()> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    )
    .execute(pool)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn current(pool: &SqlitePool) -> StorageResult<i64> {
    let exists: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
    )
    .fetch_one(pool)
    .await
    .and_then(|row| row.try_get("n"))
    .map_err(db_err)?;
    if exists == 0 {
        return Ok(0);
    }
    sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
        .fetch_one(pool)
        .await
        .and_then(|row| row.try_get("v"))
        .map_err(db_err)
}

pub(crate) async fn status(pool: &SqlitePool) -> StorageResult<SchemaStatus> {
    Ok(SchemaStatus {
        database_version: current(pool).await?,
        binary_version: latest(),
    })
}

pub(crate) async fn migrate(pool: &SqlitePool) -> StorageResult<SchemaStatus> {
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
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?;
        // Another process may have applied it while we waited for the write lock.
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
        // sqlx runs every statement of a multi-statement string on SQLite, as its own migrator does.
        sqlx::Executor::execute(&mut *tx, sql)
            .await
            .map_err(db_err)?;
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
        tracing::info!(version, name, "applied SQLite migration");
    }
    status(pool).await
}

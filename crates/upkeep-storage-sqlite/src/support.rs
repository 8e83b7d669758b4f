//! Shared pieces of the SQLite backend: error mapping, time conversion and the audit insert.

use jiff::Timestamp;
use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use upkeep_storage::{AuditContext, StorageError, StorageResult};

/// Map a driver error; busy, locked, full and I/O failures become [`StorageError::Unavailable`].
pub(crate) fn db_err(err: sqlx::Error) -> StorageError {
    match &err {
        sqlx::Error::Database(db) => {
            // SQLITE_BUSY (5), SQLITE_LOCKED (6), SQLITE_IOERR (10), SQLITE_FULL (13), SQLITE_CANTOPEN (14).
            let primary = db
                .code()
                .and_then(|code| code.parse::<i64>().ok())
                .map(|code| code & 0xff);
            if matches!(primary, Some(5 | 6 | 10 | 13 | 14)) {
                StorageError::Unavailable(db.message().to_string())
            } else if db.is_unique_violation() || db.is_foreign_key_violation() {
                StorageError::conflict(db.message().to_string(), None)
            } else {
                StorageError::Other(db.message().to_string())
            }
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
            StorageError::Unavailable(err.to_string())
        }
        _ => StorageError::Other(err.to_string()),
    }
}

/// Map a unique-constraint failure to a conflict naming the field; anything else as [`db_err`].
pub(crate) fn unique_err(err: sqlx::Error, message: String, field: &'static str) -> StorageError {
    if let sqlx::Error::Database(db) = &err
        && db.is_unique_violation()
    {
        return StorageError::conflict(message, Some(field));
    }
    db_err(err)
}

pub(crate) fn millis(at: Timestamp) -> i64 {
    at.as_millisecond()
}

pub(crate) fn timestamp(row: &SqliteRow, column: &str) -> StorageResult<Timestamp> {
    let value: i64 = row.try_get(column).map_err(db_err)?;
    from_millis(value)
}

pub(crate) fn opt_timestamp(row: &SqliteRow, column: &str) -> StorageResult<Option<Timestamp>> {
    let value: Option<i64> = row.try_get(column).map_err(db_err)?;
    value.map(from_millis).transpose()
}

pub(crate) fn from_millis(value: i64) -> StorageResult<Timestamp> {
    Timestamp::from_millisecond(value)
        .map_err(|err| StorageError::Other(format!("stored time {value} is out of range: {err}")))
}

pub(crate) fn get<'r, T>(row: &'r SqliteRow, column: &str) -> StorageResult<T>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(column).map_err(db_err)
}

pub(crate) fn json_text(value: &Option<Value>) -> Option<String> {
    value.as_ref().map(Value::to_string)
}

pub(crate) fn parse_json(text: Option<String>) -> StorageResult<Option<Value>> {
    text.map(|text| {
        serde_json::from_str(&text)
            .map_err(|err| StorageError::Other(format!("stored JSON is invalid: {err}")))
    })
    .transpose()
}

/// A required JSON text column, parsed.
pub(crate) fn json_column(row: &SqliteRow, column: &str) -> StorageResult<Value> {
    let text: String = get(row, column)?;
    serde_json::from_str(&text)
        .map_err(|err| StorageError::Other(format!("stored {column} is invalid JSON: {err}")))
}

/// Serialise a record for an audit snapshot.
pub(crate) fn snapshot<T: serde::Serialize>(record: &T) -> Option<Value> {
    serde_json::to_value(record).ok()
}

/// Write one audit record on the change's own connection (inside its transaction).
pub(crate) async fn insert_audit(
    conn: &mut SqliteConnection,
    ctx: &AuditContext,
    action: &str,
    target: (&str, String),
    before: Option<Value>,
    after: Option<Value>,
) -> StorageResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor_kind, actor_user_id, actor_label, origin, action, target_kind, target_id, before_json, after_json)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(millis(ctx.at))
    .bind(ctx.actor.kind.as_str())
    .bind(ctx.actor.user_id)
    .bind(&ctx.actor.label)
    .bind(&ctx.origin)
    .bind(action)
    .bind(target.0)
    .bind(target.1)
    .bind(json_text(&before))
    .bind(json_text(&after))
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

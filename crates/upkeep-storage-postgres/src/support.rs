//! Shared pieces of the PostgreSQL backend: error mapping, time conversion and the audit insert.

use jiff::Timestamp;
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use upkeep_storage::{AuditContext, StorageError, StorageResult};

/// SQLSTATE codes meaning "the database cannot serve this right now" rather than "the request is wrong".
fn is_unavailable_code(code: &str) -> bool {
    // Class 08: connection exceptions; class 53: insufficient resources (disk full, out of memory,
    // too many connections); 57P01..57P03: admin/crash shutdown, cannot connect now; 40001 and 40P01:
    // serialization failure and deadlock, which succeed when retried.
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(code, "57P01" | "57P02" | "57P03" | "40001" | "40P01")
}

/// Map a driver error; lost connections, shutdowns, exhausted resources and pool timeouts become
/// [`StorageError::Unavailable`], unique and foreign-key violations [`StorageError::Conflict`].
pub(crate) fn db_err(err: sqlx::Error) -> StorageError {
    match &err {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|code| code.into_owned()).unwrap_or_default();
            if is_unavailable_code(&code) {
                StorageError::Unavailable(db.message().to_string())
            } else if code == "23505" || code == "23503" {
                StorageError::conflict(db.message().to_string(), None)
            } else {
                StorageError::Other(db.message().to_string())
            }
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StorageError::Unavailable(err.to_string()),
        _ => StorageError::Other(err.to_string()),
    }
}

/// Map a unique-constraint failure to a conflict naming the field; anything else as [`db_err`].
pub(crate) fn unique_err(err: sqlx::Error, message: String, field: &'static str) -> StorageError {
    if let sqlx::Error::Database(db) = &err
        && db.code().as_deref() == Some("23505")
    {
        return StorageError::conflict(message, Some(field));
    }
    db_err(err)
}

pub(crate) fn millis(at: Timestamp) -> i64 {
    at.as_millisecond()
}

pub(crate) fn timestamp(row: &PgRow, column: &str) -> StorageResult<Timestamp> {
    let value: i64 = row.try_get(column).map_err(db_err)?;
    from_millis(value)
}

pub(crate) fn opt_timestamp(row: &PgRow, column: &str) -> StorageResult<Option<Timestamp>> {
    let value: Option<i64> = row.try_get(column).map_err(db_err)?;
    value.map(from_millis).transpose()
}

pub(crate) fn from_millis(value: i64) -> StorageResult<Timestamp> {
    Timestamp::from_millisecond(value)
        .map_err(|err| StorageError::Other(format!("stored time {value} is out of range: {err}")))
}

pub(crate) fn get<'r, T>(row: &'r PgRow, column: &str) -> StorageResult<T>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
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
pub(crate) fn json_column(row: &PgRow, column: &str) -> StorageResult<Value> {
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
    conn: &mut PgConnection,
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

#[cfg(test)]
mod tests {
    use super::is_unavailable_code;

    #[test]
    fn transient_sqlstates_are_unavailable() {
        assert!(is_unavailable_code("08006"));
        assert!(is_unavailable_code("53100"));
        assert!(is_unavailable_code("57P01"));
        assert!(is_unavailable_code("40P01"));
        assert!(!is_unavailable_code("57014"));
        assert!(!is_unavailable_code("23505"));
        assert!(!is_unavailable_code(""));
    }
}

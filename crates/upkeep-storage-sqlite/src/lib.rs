//! The SQLite backend: upkeep's embedded default. WAL mode, one writer connection, several readers.
//!
//! Write transactions start with `BEGIN IMMEDIATE` so a second process (the CLI while `serve` runs) waits
//! on `busy_timeout` instead of failing half-way through a transaction.

mod audit;
mod catalog;
mod contacts;
mod escalation;
mod identity;
mod incidents;
mod jobs;
mod maintenance;
mod monitors;
mod rollups;
mod schedules;
mod schema;
mod support;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::Notify;
use upkeep_storage::{PoolStats, SchemaStatus, Storage, StorageError, StorageResult};

use crate::support::db_err;

const READ_CONNECTIONS: u32 = 4;

/// upkeep's storage on one SQLite file.
pub struct SqliteStorage {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Wakes the job runner in this process when a job is enqueued (SQLite has no LISTEN/NOTIFY).
    job_signal: Arc<Notify>,
}

impl SqliteStorage {
    /// Open the database named by `url` (`sqlite://path/to/file.db`, `sqlite:file.db` or `sqlite::memory:`),
    /// creating the file if its folder exists. A path into a missing folder is refused: silently creating a
    /// new, empty database elsewhere would look like lost data.
    pub async fn connect(url: &str) -> StorageResult<Self> {
        let path = database_path(url)?;
        let memory = path == ":memory:";
        if !memory {
            let file = Path::new(&path);
            let folder = file
                .parent()
                .filter(|parent| !parent.as_os_str().is_empty());
            if let Some(folder) = folder
                && !folder.is_dir()
            {
                return Err(StorageError::Unavailable(format!(
                    "the folder {} for the SQLite database {} does not exist; create it first or choose another database URL",
                    folder.display(),
                    file.display()
                )));
            }
        }
        let options = if memory {
            // A shared in-memory database, so the reader and writer pools see the same data.
            SqliteConnectOptions::from_str("sqlite:file:upkeep-memory?mode=memory&cache=shared")
                .map_err(db_err)?
        } else {
            SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true)
        }
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true);

        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await
            .map_err(db_err)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.read_only(!memory))
            .await
            .map_err(db_err)?;
        Ok(Self {
            writer,
            reader,
            job_signal: Arc::new(Notify::new()),
        })
    }

    async fn begin_write(&self) -> StorageResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_err)
    }
}

/// The file path inside a `sqlite:` URL.
fn database_path(url: &str) -> StorageResult<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| {
            StorageError::Unavailable(format!("not a SQLite URL (expected sqlite://PATH): {url}"))
        })?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() {
        return Err(StorageError::Unavailable(
            "the SQLite URL names no file (expected sqlite://PATH)".into(),
        ));
    }
    Ok(path.to_string())
}

#[async_trait::async_trait]
impl Storage for SqliteStorage {
    fn backend_name(&self) -> &'static str {
        "sqlite"
    }

    async fn migrate(&self) -> StorageResult<SchemaStatus> {
        schema::migrate(&self.writer).await
    }

    async fn schema_status(&self) -> StorageResult<SchemaStatus> {
        schema::status(&self.reader).await
    }

    async fn ping(&self) -> StorageResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    fn pool_stats(&self) -> PoolStats {
        PoolStats {
            connections: self.reader.size().saturating_add(self.writer.size()),
            idle: u32::try_from(
                // sqlx's idle counter can briefly read high while connections move; never overflow on it.
                self.reader
                    .num_idle()
                    .saturating_add(self.writer.num_idle()),
            )
            .unwrap_or(u32::MAX),
            max_connections: READ_CONNECTIONS + 1,
        }
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::database_path;

    #[test]
    fn paths_come_out_of_urls() {
        assert_eq!(
            database_path("sqlite://data/u.db").ok().as_deref(),
            Some("data/u.db")
        );
        assert_eq!(
            database_path("sqlite:///abs/u.db").ok().as_deref(),
            Some("/abs/u.db")
        );
        assert_eq!(
            database_path("sqlite:u.db?mode=rwc").ok().as_deref(),
            Some("u.db")
        );
        assert!(database_path("postgres://x").is_err());
        assert!(database_path("sqlite://").is_err());
    }
}

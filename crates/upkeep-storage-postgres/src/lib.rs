//! The PostgreSQL backend: upkeep across several nodes, coordinated through row locks,
//! `FOR UPDATE SKIP LOCKED` job leases and `LISTEN/NOTIFY`.
//!
//! One pool serves reads and writes; write transactions are plain `BEGIN` (read committed), and the
//! statements that must not race (job claims, migrations) take the locks they need themselves.

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

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use tokio::sync::Mutex;
use upkeep_storage::{PoolStats, SchemaStatus, Storage, StorageResult};

use crate::support::db_err;

const MAX_CONNECTIONS: u32 = 10;

/// upkeep's storage on one PostgreSQL database.
pub struct PostgresStorage {
    pool: PgPool,
    /// Where the job listener connects; it holds its own connection so it never takes a pool slot.
    url: String,
    /// Created on the first `wait_for_jobs` and dropped on any error (recreated on the next call).
    listener: Mutex<Option<PgListener>>,
    closed: AtomicBool,
}

impl PostgresStorage {
    /// Connect to the database named by `url` (`postgres://user:password@host:5432/dbname`).
    pub async fn connect(url: &str) -> StorageResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await
            .map_err(db_err)?;
        Ok(Self {
            pool,
            url: url.to_string(),
            listener: Mutex::new(None),
            closed: AtomicBool::new(false),
        })
    }

    async fn begin_write(&self) -> StorageResult<sqlx::Transaction<'static, sqlx::Postgres>> {
        self.pool.begin().await.map_err(db_err)
    }
}

#[async_trait::async_trait]
impl Storage for PostgresStorage {
    fn backend_name(&self) -> &'static str {
        "postgres"
    }

    async fn migrate(&self) -> StorageResult<SchemaStatus> {
        schema::migrate(&self.pool).await
    }

    async fn schema_status(&self) -> StorageResult<SchemaStatus> {
        schema::status(&self.pool).await
    }

    async fn ping(&self) -> StorageResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    fn pool_stats(&self) -> PoolStats {
        PoolStats {
            connections: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max_connections: MAX_CONNECTIONS,
        }
    }

    async fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        // A waiter holding the listener lets go at its own timeout; the listener's connection is
        // outside the pool, so closing the pool never waits for it.
        if let Ok(mut listener) = self.listener.try_lock() {
            *listener = None;
        }
        self.pool.close().await;
    }
}

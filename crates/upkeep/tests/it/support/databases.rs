//! Fresh, migrated databases for tests, on SQLite always and on PostgreSQL when
//! `UPKEEP_TEST_DATABASE_URL` names a server, so one test body checks both backends.
//!
//! Use [`backend_tests!`] to turn `async fn story(db: TestDb)` functions into one `#[tokio::test]` per
//! backend (`…::sqlite::story`, `…::postgres::story`), so a failure names its backend.

use std::sync::Arc;

use sqlx::Connection;
use upkeep_storage::Storage;
use upkeep_storage_postgres::PostgresStorage;
use upkeep_storage_sqlite::SqliteStorage;

/// The server tests create their databases on, e.g. `postgres://postgres@127.0.0.1:5432/test`.
pub const POSTGRES_URL_VAR: &str = "UPKEEP_TEST_DATABASE_URL";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The PostgreSQL server URL, if set. In CI (`CI` set) a missing URL is a failure: CI must test PostgreSQL.
pub fn postgres_server_url() -> Option<String> {
    match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{POSTGRES_URL_VAR} is not set but CI is: CI must run the storage tests on PostgreSQL \
                 (set {POSTGRES_URL_VAR}=postgres://user@host:5432/db)"
            );
            None
        }
    }
}

/// Every backend this run can test: SQLite always, PostgreSQL when [`POSTGRES_URL_VAR`] is set.
pub fn backends() -> Vec<Backend> {
    let mut backends = vec![Backend::Sqlite];
    if postgres_server_url().is_some() {
        backends.push(Backend::Postgres);
    }
    backends
}

/// A migrated database of its own for one test. PostgreSQL databases are dropped when the test
/// passes and kept (their name printed) when it fails.
pub struct TestDb {
    pub backend: Backend,
    pub storage: Arc<dyn Storage>,
    /// The URL of this database, for raw SQL or for starting the server on it.
    pub url: String,
    /// Keeps the SQLite file's folder alive.
    _dir: Option<tempfile::TempDir>,
    /// For PostgreSQL: the server URL and the database to drop afterwards.
    drop_postgres: Option<(String, String)>,
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb")
            .field("backend", &self.backend)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// A fresh migrated database on `backend`. Panics when PostgreSQL is asked for without a server URL.
pub async fn fresh_storage(backend: Backend) -> TestDb {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("create a temporary folder for SQLite");
            let url = format!("sqlite://{}", dir.path().join("upkeep.db").display());
            let storage = SqliteStorage::connect(&url).await.expect("open SQLite");
            storage.migrate().await.expect("migrate SQLite");
            TestDb {
                backend,
                storage: Arc::new(storage),
                url,
                _dir: Some(dir),
                drop_postgres: None,
            }
        }
        Backend::Postgres => {
            let server = postgres_server_url()
                .unwrap_or_else(|| panic!("{POSTGRES_URL_VAR} must be set to test PostgreSQL"));
            let name = format!("upkeep_t_{:016x}", rand::random::<u64>());
            create_database(&server, &name).await;
            let url = with_database(&server, &name);
            let storage = PostgresStorage::connect(&url)
                .await
                .unwrap_or_else(|err| panic!("connect to {url}: {err}"));
            storage.migrate().await.expect("migrate PostgreSQL");
            TestDb {
                backend,
                storage: Arc::new(storage),
                url,
                _dir: None,
                drop_postgres: Some((server, name)),
            }
        }
    }
}

/// The database for a generated per-backend test, or `None` (after saying so) when PostgreSQL is not configured.
pub async fn storage_or_skip(backend: Backend) -> Option<TestDb> {
    if !backends().contains(&backend) {
        println!("skipped: {POSTGRES_URL_VAR} not set");
        return None;
    }
    Some(fresh_storage(backend).await)
}

async fn create_database(server: &str, name: &str) {
    let mut conn = sqlx::PgConnection::connect(server)
        .await
        .unwrap_or_else(|err| panic!("connect to {POSTGRES_URL_VAR}={server}: {err}"));
    let sql = format!("CREATE DATABASE {name}");
    let mut attempts = 0;
    loop {
        attempts += 1;
        match sqlx::Executor::execute(&mut conn, sql.as_str()).await {
            Ok(_) => break,
            // Concurrent CREATE DATABASE from one template can collide briefly; try again.
            Err(err)
                if attempts < 5 && err.to_string().contains("being accessed by other users") =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(err) => panic!("create database {name} on {server}: {err}"),
        }
    }
    let _ = conn.close().await;
}

/// `url` with its database name replaced by `name`, keeping any query string.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.find('?') {
        Some(at) => url.split_at(at),
        None => (url, ""),
    };
    let authority_start = base.find("://").map_or(0, |at| at + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{base}/{name}{query}")
}

/// Run raw SQL on the test database outside the storage traits (to tamper with it, as an attacker or a
/// newer binary would). Returns the rows affected, or the driver's error message.
pub async fn raw_execute(db: &TestDb, sql: &str) -> Result<u64, String> {
    raw_execute_at(db.backend, &db.url, sql).await
}

/// [`raw_execute`] for a database known by its backend and URL (e.g. one a running server owns).
pub async fn raw_execute_at(backend: Backend, url: &str, sql: &str) -> Result<u64, String> {
    let result = match backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(url)
                .await
                .map_err(|err| err.to_string())?;
            let done = sqlx::Executor::execute(&mut conn, sql).await;
            let _ = conn.close().await;
            done.map(|done| done.rows_affected())
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(url)
                .await
                .map_err(|err| err.to_string())?;
            let done = sqlx::Executor::execute(&mut conn, sql).await;
            let _ = conn.close().await;
            done.map(|done| done.rows_affected())
        }
    };
    result.map_err(|err| err.to_string())
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((server, name)) = self.drop_postgres.take() else {
            return;
        };
        if std::thread::panicking() {
            eprintln!("kept PostgreSQL test database {name} for inspection");
            return;
        }
        // Drop runs inside the test's runtime, which cannot be blocked on; use a thread with its own.
        let dropper = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&server).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    if let Err(err) = sqlx::Executor::execute(&mut conn, sql.as_str()).await {
                        eprintln!("could not drop test database {name}: {err}");
                    }
                    let _ = conn.close().await;
                }
            });
        });
        let _ = dropper.join();
    }
}

/// Turn `async fn name(db: TestDb)` story functions of the calling module into one test per backend:
/// `sqlite::name` and `postgres::name` (the latter prints "skipped" and passes when PostgreSQL is not
/// configured, and fails when `CI` is set without it).
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = $crate::support::databases::storage_or_skip(
                        $crate::support::databases::Backend::Sqlite,
                    )
                    .await
                    {
                        super::$name(db).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = $crate::support::databases::storage_or_skip(
                        $crate::support::databases::Backend::Postgres,
                    )
                    .await
                    {
                        super::$name(db).await;
                    }
                }
            )*
        }
    };
}
pub(crate) use backend_tests;

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_names_are_replaced_in_urls() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/test?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
        assert_eq!(
            with_database("postgres://h?sslmode=require", "x"),
            "postgres://h/x?sslmode=require"
        );
    }
}

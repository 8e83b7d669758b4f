//! Picks the storage backend from the database URL: `sqlite:` for the embedded default, `postgres://` for
//! several nodes. The only place in the workspace that names a concrete backend.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use upkeep_core::config::DEFAULT_DATABASE_URL;
use upkeep_storage::{DynStorage, SchemaStatus};
use upkeep_storage_postgres::PostgresStorage;
use upkeep_storage_sqlite::SqliteStorage;

/// Open the database without touching its schema.
pub async fn open(url: &str) -> anyhow::Result<DynStorage> {
    if url.starts_with("sqlite:") {
        if url == DEFAULT_DATABASE_URL {
            // The default lives in ./upkeep-data/, created on first run. Other paths must already have
            // their folder, so a typo never silently starts an empty database somewhere else.
            std::fs::create_dir_all(Path::new("upkeep-data"))
                .context("cannot create ./upkeep-data for the database")?;
        }
        let storage = SqliteStorage::connect(url).await?;
        Ok(Arc::new(storage))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let storage = PostgresStorage::connect(url).await?;
        Ok(Arc::new(storage))
    } else {
        bail!(
            "unsupported database URL {url:?}: use sqlite://PATH or postgres://USER@HOST/DATABASE"
        )
    }
}

/// Open the database and bring its schema up to this binary's version. Refuses a schema from a newer binary.
pub async fn open_and_migrate(url: &str) -> anyhow::Result<(DynStorage, SchemaStatus)> {
    let storage = open(url).await?;
    let status = storage.migrate().await?;
    Ok((storage, status))
}

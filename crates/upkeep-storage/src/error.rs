//! Errors every backend maps its driver errors into, so domains never see a driver type.

/// A storage failure, described without driver types.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The row the caller named does not exist.
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// A uniqueness or reference rule refused the change; `field` names the column where known.
    #[error("{message}")]
    Conflict {
        message: String,
        field: Option<&'static str>,
    },
    /// The database was migrated by a newer upkeep; this binary must not touch it.
    #[error(
        "the database schema is at version {database_version} but this upkeep binary only knows up to version {binary_version}; run a newer upkeep"
    )]
    SchemaTooNew {
        database_version: i64,
        binary_version: i64,
    },
    /// The database could not be reached or is busy (locked, disk full, connection refused).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else the driver reported.
    #[error("database error: {0}")]
    Other(String),
}

pub type StorageResult<T> = Result<T, StorageError>;

impl StorageError {
    pub fn conflict(message: impl Into<String>, field: Option<&'static str>) -> Self {
        Self::Conflict {
            message: message.into(),
            field,
        }
    }
}

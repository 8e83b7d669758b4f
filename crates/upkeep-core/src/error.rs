//! Domain errors: what went wrong, in words a user can act on, without driver or HTTP types.
//!
//! Policy: validation errors name the field; not-found errors name the thing; storage failures become
//! `Unavailable` (retryable) or `Internal` (a bug), and their details are logged, not shown to clients.

use std::time::Duration;

use upkeep_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Input broke a rule; `field` names it (dotted for nested fields).
    #[error("{field}: {message}")]
    Validation { field: String, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Conflict {
        message: String,
        field: Option<String>,
    },
    /// The caller is not who they claim (bad password, unknown or revoked token).
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller is known but may not do this.
    #[error("{0}")]
    Forbidden(String),
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after: Duration,
    },
    /// The database cannot be reached or is busy; worth retrying.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected state; details are for the log only.
    #[error("{0}")]
    Internal(String),
}

pub type CoreResult<T> = Result<T, CoreError>;

impl CoreError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound(what.into())
    }
}

impl From<StorageError> for CoreError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::NotFound { what } => Self::NotFound(format!("{what} not found")),
            StorageError::Conflict { message, field } => Self::Conflict {
                message,
                field: field.map(str::to_string),
            },
            StorageError::Unavailable(message) => Self::Unavailable(message),
            err @ StorageError::SchemaTooNew { .. } => Self::Unavailable(err.to_string()),
            StorageError::Other(message) => Self::Internal(message),
        }
    }
}

//! The append-only audit log: who changed what, when, from where, with small before/after snapshots.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use crate::{Page, PageRequest, StorageResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A person in the browser.
    User,
    /// A request authenticated with an API token.
    Token,
    /// The `upkeep` command line on the server.
    Cli,
    /// upkeep itself (background work, setup).
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Token => "token",
            Self::Cli => "cli",
            Self::System => "system",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "user" => Self::User,
            "token" => Self::Token,
            "cli" => Self::Cli,
            "system" => Self::System,
            _ => return None,
        })
    }
}

/// Who is making a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    pub kind: ActorKind,
    pub user_id: Option<i64>,
    /// What a reader of the log recognises: an email, `token upk_ab12…`, `cli (root)`.
    pub label: String,
}

/// Passed to every mutating storage method: the audit record is written in the change's transaction.
#[derive(Debug, Clone)]
pub struct AuditContext {
    pub actor: Actor,
    /// The client address for HTTP requests; the host user for the CLI.
    pub origin: Option<String>,
    /// When the change happens, from the injected clock.
    pub at: Timestamp,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditRecord {
    pub id: i64,
    pub at: Timestamp,
    pub actor_kind: String,
    pub actor_user_id: Option<i64>,
    pub actor_label: String,
    pub origin: Option<String>,
    /// Dotted verb, e.g. `user.create`, `service.update`.
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action_prefix: Option<String>,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub actor_user_id: Option<i64>,
}

/// Reading the log and appending to it; there is deliberately no way to edit or delete a record.
#[async_trait::async_trait]
pub trait AuditStore {
    /// Append a record for a change that has no dedicated storage method (e.g. a failed-login lockout).
    async fn append_audit(
        &self,
        ctx: &AuditContext,
        action: &str,
        target_kind: &str,
        target_id: &str,
        before: Option<Value>,
        after: Option<Value>,
    ) -> StorageResult<()>;
    /// Newest first; the cursor continues below the given id.
    async fn list_audit(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> StorageResult<Page<AuditRecord>>;
}

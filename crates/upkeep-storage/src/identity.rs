//! Users, browser sessions, API tokens, the one-time setup token and login throttling.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{AuditContext, Page, PageRequest, StorageResult};

/// What a person may do. Ordered: each role can do everything the roles below it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Responder,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Responder, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Responder => "responder",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == value)
    }
}

/// What an API token may do, whatever its owner's role allows. Ordered like [`Role`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Read,
    Write,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Write, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == value)
    }
}

/// A person. The password hash is never part of this record, so it cannot leak into audit snapshots or JSON.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    /// Already normalised (trimmed, lower-case) by the identity domain.
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
}

#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Session {
    pub id: i64,
    pub user_id: i64,
    /// Echoed in forms and the `X-CSRF-Token` header; compared on every state-changing request.
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub token_hash: String,
    pub user_id: i64,
    pub csrf_token: String,
    pub expires_at: Timestamp,
    pub user_agent: Option<String>,
}

/// An API token as listed; only a hash of the secret is ever stored.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub user_email: String,
    pub name: String,
    /// The recognisable start of the token (`upk_ab12cd34`), enough to tell tokens apart.
    pub prefix: String,
    pub scope: Scope,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

impl ApiToken {
    pub fn is_usable_at(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|expiry| now < expiry)
    }
}

#[derive(Debug, Clone)]
pub struct NewToken {
    pub user_id: i64,
    pub name: String,
    pub prefix: String,
    pub token_hash: String,
    pub scope: Scope,
    pub expires_at: Option<Timestamp>,
}

#[async_trait::async_trait]
pub trait IdentityStore {
    async fn count_users(&self) -> StorageResult<i64>;
    /// Conflict (field `email`) when the address is taken.
    async fn create_user(&self, ctx: &AuditContext, user: NewUser) -> StorageResult<User>;
    async fn user_by_id(&self, id: i64) -> StorageResult<Option<User>>;
    async fn user_by_email(&self, email: &str) -> StorageResult<Option<User>>;
    async fn password_hash(&self, user_id: i64) -> StorageResult<Option<String>>;
    async fn list_users(&self, page: PageRequest) -> StorageResult<Page<User>>;
    async fn update_user(
        &self,
        ctx: &AuditContext,
        id: i64,
        changes: UserChanges,
    ) -> StorageResult<User>;
    /// Also ends the user's other sessions (all but `keep_session_id`).
    async fn set_password_hash(
        &self,
        ctx: &AuditContext,
        user_id: i64,
        password_hash: &str,
        keep_session_id: Option<i64>,
    ) -> StorageResult<()>;
    /// Removes the user with their sessions and tokens; audit records keep their label.
    async fn delete_user(&self, ctx: &AuditContext, id: i64) -> StorageResult<()>;

    /// Replace the one-time setup token (only one is valid at a time).
    async fn replace_setup_token(&self, token_hash: &str, at: Timestamp) -> StorageResult<()>;
    /// Consume the setup token and create the first user, atomically. `Ok(None)` when the token is
    /// wrong or used, or when a user already exists.
    async fn complete_setup(
        &self,
        ctx: &AuditContext,
        token_hash: &str,
        owner: NewUser,
    ) -> StorageResult<Option<User>>;
    async fn setup_token_valid(&self, token_hash: &str) -> StorageResult<bool>;

    async fn create_session(
        &self,
        ctx: &AuditContext,
        session: NewSession,
    ) -> StorageResult<Session>;
    /// The live session and its enabled user, if the hash names one that has not expired at `now`.
    async fn session_by_token_hash(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StorageResult<Option<(Session, User)>>;
    async fn delete_session(&self, ctx: &AuditContext, session_id: i64) -> StorageResult<()>;
    async fn delete_expired_sessions(&self, now: Timestamp) -> StorageResult<u64>;

    async fn create_token(&self, ctx: &AuditContext, token: NewToken) -> StorageResult<ApiToken>;
    /// The token (usable or not) and its owner, by the hash of the secret.
    async fn token_by_hash(&self, token_hash: &str) -> StorageResult<Option<(ApiToken, User)>>;
    async fn token_by_id(&self, id: i64) -> StorageResult<Option<ApiToken>>;
    /// Tokens of one user, or of everyone when `user_id` is `None`; oldest first.
    async fn list_tokens(
        &self,
        user_id: Option<i64>,
        page: PageRequest,
    ) -> StorageResult<Page<ApiToken>>;
    async fn revoke_token(&self, ctx: &AuditContext, id: i64) -> StorageResult<ApiToken>;
    async fn mark_token_used(&self, id: i64, at: Timestamp) -> StorageResult<()>;

    /// Count a failed login for `key` (e.g. `account:a@b.c` or `addr:10.0.0.1`) and return the failures
    /// in the current window, which starts anew when the last one is older than `window_start`.
    async fn record_login_failure(
        &self,
        key: &str,
        at: Timestamp,
        window_start: Timestamp,
    ) -> StorageResult<u32>;
    /// Failures for `key` since `window_start`.
    async fn login_failures(&self, key: &str, window_start: Timestamp) -> StorageResult<u32>;
    async fn clear_login_failures(&self, key: &str) -> StorageResult<()>;
}

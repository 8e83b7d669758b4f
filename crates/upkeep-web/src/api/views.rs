//! What the API returns: records shaped for clients (no secrets, times in RFC 3339), separate from the
//! storage records so the public contract does not move when a table does.

use jiff::Timestamp;
use serde::Serialize;
use upkeep_core::jobs::WorkerStatus;
use upkeep_core::storage::{ApiToken, AuditRecord, Page, Service, ServiceLink, Team, User};
use utoipa::ToSchema;

/// A page of results.
#[derive(Serialize, ToSchema)]
pub struct Paged<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> Paged<T> {
    pub fn from_page<R>(page: Page<R>, view: impl FnMut(R) -> T) -> Self {
        let page = page.map(view);
        Self {
            items: page.items,
            next_cursor: page.next_cursor,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub name: String,
    /// owner, admin, responder or viewer.
    pub role: String,
    pub disabled: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            email: user.email,
            name: user.name,
            role: user.role.as_str().to_string(),
            disabled: user.disabled,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TokenView {
    pub id: i64,
    pub user_id: i64,
    pub user_email: String,
    pub name: String,
    /// The first characters of the token, enough to recognise it.
    pub prefix: String,
    /// read, write or admin.
    pub scope: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<Timestamp>,
}

impl From<ApiToken> for TokenView {
    fn from(token: ApiToken) -> Self {
        Self {
            id: token.id,
            user_id: token.user_id,
            user_email: token.user_email,
            name: token.name,
            prefix: token.prefix,
            scope: token.scope.as_str().to_string(),
            created_at: token.created_at,
            expires_at: token.expires_at,
            revoked_at: token.revoked_at,
            last_used_at: token.last_used_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AuditView {
    pub id: i64,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// user, token, cli or system.
    pub actor_kind: String,
    pub actor_user_id: Option<i64>,
    pub actor_label: String,
    /// Client address or host user.
    pub origin: Option<String>,
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

impl From<AuditRecord> for AuditView {
    fn from(record: AuditRecord) -> Self {
        Self {
            id: record.id,
            at: record.at,
            actor_kind: record.actor_kind,
            actor_user_id: record.actor_user_id,
            actor_label: record.actor_label,
            origin: record.origin,
            action: record.action,
            target_kind: record.target_kind,
            target_id: record.target_id,
            before: record.before,
            after: record.after,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TeamView {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl From<Team> for TeamView {
    fn from(team: Team) -> Self {
        Self {
            id: team.id,
            slug: team.slug,
            name: team.name,
            description: team.description,
            created_at: team.created_at,
            updated_at: team.updated_at,
        }
    }
}

#[derive(Serialize, serde::Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct LinkView {
    pub title: String,
    pub url: String,
}

impl From<LinkView> for ServiceLink {
    fn from(link: LinkView) -> Self {
        Self {
            title: link.title,
            url: link.url,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ServiceView {
    /// Also the service's error-tracking project id.
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    /// Slug of the owner team.
    pub team: Option<String>,
    pub links: Vec<LinkView>,
    /// Slugs of the services this one depends on.
    pub depends_on: Vec<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl From<Service> for ServiceView {
    fn from(service: Service) -> Self {
        Self {
            id: service.id,
            slug: service.slug,
            name: service.name,
            description: service.description,
            team: service.team_slug,
            links: service
                .links
                .into_iter()
                .map(|link| LinkView {
                    title: link.title,
                    url: link.url,
                })
                .collect(),
            depends_on: service.depends_on,
            created_at: service.created_at,
            updated_at: service.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct WorkerView {
    pub name: String,
    /// busy, idle or done.
    pub state: String,
    pub runs: u64,
    pub errors: u64,
    pub consecutive_errors: u32,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_run_at: Option<Timestamp>,
    pub last_error: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_error_at: Option<Timestamp>,
}

impl From<WorkerStatus> for WorkerView {
    fn from(status: WorkerStatus) -> Self {
        let state = serde_json::to_value(status.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        Self {
            name: status.name,
            state,
            runs: status.runs,
            errors: status.errors,
            consecutive_errors: status.consecutive_errors,
            last_run_at: status.last_run_at,
            last_error: status.last_error,
            last_error_at: status.last_error_at,
        }
    }
}

/// Distinguish an absent field (`None`) from an explicit `null` (`Some(None)`).
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

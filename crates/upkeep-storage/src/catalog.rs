//! Teams and services: the hub every later feature (monitors, incidents, errors, status) hangs off.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{AuditContext, Page, PageRequest, StorageResult};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Team {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewTeam {
    pub slug: String,
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, Default)]
pub struct TeamChanges {
    pub name: Option<String>,
    pub description: Option<String>,
}

/// A link shown on the service page: repository, docs, dashboards.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ServiceLink {
    pub title: String,
    pub url: String,
}

/// A service. Its numeric `id` is also its error-tracking project id.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Service {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub team_id: Option<i64>,
    pub team_slug: Option<String>,
    pub links: Vec<ServiceLink>,
    /// Slugs of the services this one depends on, sorted.
    pub depends_on: Vec<String>,
    /// Key for heartbeat slug URLs: `/ping/<ping_key>/<monitor-slug>`.
    pub ping_key: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewService {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub team_id: Option<i64>,
    pub links: Vec<ServiceLink>,
    /// Ids of services this one depends on (already checked to exist and not to form a cycle).
    pub depends_on: Vec<i64>,
    pub ping_key: String,
}

#[derive(Debug, Clone, Default)]
pub struct ServiceChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    /// `Some(None)` removes the owner team.
    pub team_id: Option<Option<i64>>,
    pub links: Option<Vec<ServiceLink>>,
    /// Replaces the whole dependency set.
    pub depends_on: Option<Vec<i64>>,
}

#[async_trait::async_trait]
pub trait CatalogStore {
    /// Conflict (field `slug`) when taken.
    async fn create_team(&self, ctx: &AuditContext, team: NewTeam) -> StorageResult<Team>;
    async fn team_by_slug(&self, slug: &str) -> StorageResult<Option<Team>>;
    async fn list_teams(&self, page: PageRequest) -> StorageResult<Page<Team>>;
    async fn update_team(
        &self,
        ctx: &AuditContext,
        id: i64,
        changes: TeamChanges,
    ) -> StorageResult<Team>;
    /// Conflict when services still belong to the team.
    async fn delete_team(&self, ctx: &AuditContext, id: i64) -> StorageResult<()>;

    /// Conflict (field `slug`) when taken.
    async fn create_service(
        &self,
        ctx: &AuditContext,
        service: NewService,
    ) -> StorageResult<Service>;
    async fn service_by_slug(&self, slug: &str) -> StorageResult<Option<Service>>;
    async fn service_by_id(&self, id: i64) -> StorageResult<Option<Service>>;
    /// Oldest first, optionally only one team's.
    async fn list_services(
        &self,
        team_id: Option<i64>,
        page: PageRequest,
    ) -> StorageResult<Page<Service>>;
    async fn update_service(
        &self,
        ctx: &AuditContext,
        id: i64,
        changes: ServiceChanges,
    ) -> StorageResult<Service>;
    /// Conflict when other services depend on it.
    async fn delete_service(&self, ctx: &AuditContext, id: i64) -> StorageResult<()>;
    /// Every dependency edge `(service_id, depends_on_id)`, for cycle checks.
    async fn dependency_edges(&self) -> StorageResult<Vec<(i64, i64)>>;
}

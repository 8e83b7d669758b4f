//! On-call schedules as stored: a slug, a name, an optional owner team and the schedule's spec (JSON the
//! core validated and evaluates), plus the secret tokens of the iCalendar feeds (one per schedule, one
//! per user) that calendar apps fetch without signing in.
//!
//! Who is on call is computed by the core (`upkeep_core::oncall`) from the spec; storage only keeps it.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use crate::{AuditContext, Page, PageRequest, StorageResult};

/// A stored schedule. The feed token is a secret and is never serialised (so never in audit snapshots).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ScheduleRecord {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub team_id: Option<i64>,
    /// The slug of `team_id`, for display.
    pub team_slug: Option<String>,
    /// The schedule's spec (`upkeep_core::oncall::ScheduleSpec` as JSON).
    pub spec: Value,
    /// The secret in the schedule's iCalendar feed URL.
    #[serde(skip_serializing)]
    pub feed_token: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A validated schedule to store.
#[derive(Debug, Clone)]
pub struct NewSchedule {
    pub slug: String,
    pub name: String,
    pub team_id: Option<i64>,
    pub spec: Value,
    /// A fresh random secret for the feed URL.
    pub feed_token: String,
}

/// What to change; `None` leaves a field as it is, `team_id: Some(None)` removes the team.
#[derive(Debug, Clone, Default)]
pub struct ScheduleChanges {
    pub name: Option<String>,
    pub team_id: Option<Option<i64>>,
    pub spec: Option<Value>,
}

#[async_trait::async_trait]
pub trait ScheduleStore {
    /// Store a schedule (audited as `schedule.create`). A taken slug is a conflict on `slug`; a team that
    /// does not exist is a conflict.
    async fn create_schedule(
        &self,
        ctx: &AuditContext,
        schedule: NewSchedule,
    ) -> StorageResult<ScheduleRecord>;
    async fn schedule_by_slug(&self, slug: &str) -> StorageResult<Option<ScheduleRecord>>;
    async fn schedule_by_id(&self, id: i64) -> StorageResult<Option<ScheduleRecord>>;
    /// The schedule whose feed URL carries `token`.
    async fn schedule_by_feed_token(&self, token: &str) -> StorageResult<Option<ScheduleRecord>>;
    /// Oldest first.
    async fn list_schedules(&self, page: PageRequest) -> StorageResult<Page<ScheduleRecord>>;
    /// Change a schedule (audited as `schedule.update`, with before and after); not found when there is
    /// none with this id.
    async fn update_schedule(
        &self,
        ctx: &AuditContext,
        id: i64,
        changes: ScheduleChanges,
    ) -> StorageResult<ScheduleRecord>;
    /// Remove a schedule (audited as `schedule.delete`); not found when there is none with this id.
    async fn delete_schedule(&self, ctx: &AuditContext, id: i64) -> StorageResult<()>;
    /// Replace the schedule's feed token with `token` (audited as `schedule.rotate_feed_token`, without
    /// the token), so the old feed URL stops working.
    async fn rotate_schedule_feed_token(
        &self,
        ctx: &AuditContext,
        id: i64,
        token: &str,
    ) -> StorageResult<ScheduleRecord>;
    /// The user's feed token: stores `fresh` if the user has none yet, then returns the stored one (so
    /// concurrent first calls agree). A user that does not exist is a conflict.
    async fn user_feed_token(
        &self,
        user_id: i64,
        fresh: &str,
        at: Timestamp,
    ) -> StorageResult<String>;
    /// The user whose feed URL carries `token`.
    async fn user_by_feed_token(&self, token: &str) -> StorageResult<Option<i64>>;
}

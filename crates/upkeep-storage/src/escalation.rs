//! Escalation: policies (ordered levels of people and schedules, stored as JSON the incidents domain
//! validates), the policy and runbook link of each service, the notification outbox with its attempt log,
//! and single-use action links (acknowledge or resolve from the notification itself).
//!
//! Notifications are inserted by escalation steps inside the incident transaction
//! ([`crate::IncidentTx::insert_notification`]), so a step that commits has queued its pages and a step
//! that rolls back has queued none. Delivery claims due rows under a lease, like jobs.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use crate::{AuditContext, Page, PageRequest, StorageResult};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EscalationPolicy {
    pub id: i64,
    pub slug: String,
    pub name: String,
    /// Levels, repeat count and acknowledgement timeout, as validated by the incidents domain.
    pub spec: Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewEscalationPolicy {
    pub slug: String,
    pub name: String,
    pub spec: Value,
}

/// A service's escalation settings.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct ServiceEscalation {
    pub escalation_policy_id: Option<i64>,
    pub escalation_policy_slug: Option<String>,
    pub runbook_url: Option<String>,
}

/// A notification to queue (inside an escalation step's transaction).
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub incident_id: i64,
    pub user_id: Option<i64>,
    pub contact_method_id: Option<i64>,
    pub channel_kind: String,
    /// Unique: a step that runs twice cannot queue the same page twice.
    pub idempotency_key: String,
    /// The message (an `upkeep_notify::Notification` without action links; those are made at delivery).
    pub payload: Value,
    /// Why it is sent: service, policy level, schedule layer, the person's rule.
    pub reason: String,
    pub deliver_at: Timestamp,
}

/// Where a notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationStatus {
    Queued,
    Sending,
    Delivered,
    Failed,
    /// Sent but the answer never came, on a channel delivered at most once: not retried.
    Ambiguous,
    /// Not sent because the incident was acknowledged or resolved first.
    Cancelled,
}

impl NotificationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Ambiguous => "ambiguous",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::Queued,
            Self::Sending,
            Self::Delivered,
            Self::Failed,
            Self::Ambiguous,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|status| status.as_str() == value)
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OutboxNotification {
    pub id: i64,
    pub incident_id: i64,
    pub user_id: Option<i64>,
    pub contact_method_id: Option<i64>,
    pub channel_kind: String,
    pub idempotency_key: String,
    pub payload: Value,
    pub reason: String,
    pub status: NotificationStatus,
    pub attempts: i32,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
}

/// What one delivery attempt of a notification ended with.
#[derive(Debug, Clone)]
pub struct NotificationAttempt {
    pub at: Timestamp,
    /// `delivered`, `retry`, `failed`, `ambiguous` or `cancelled`.
    pub outcome: String,
    pub detail: String,
    pub duration_ms: i64,
    /// The notification's new status; `Queued` with `next_attempt_at` for a retry.
    pub status: NotificationStatus,
    pub next_attempt_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AttemptRecord {
    pub id: i64,
    pub notification_id: i64,
    pub at: Timestamp,
    pub outcome: String,
    pub detail: String,
    pub duration_ms: i64,
}

/// A single-use acknowledge/resolve link, found by the hash of its token.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ActionLink {
    pub incident_id: i64,
    pub user_id: Option<i64>,
    /// `acknowledge` or `resolve`.
    pub action: String,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

#[async_trait::async_trait]
pub trait EscalationStore {
    /// Audited as `escalation_policy.create`; a taken slug is a conflict on `slug`.
    async fn create_escalation_policy(
        &self,
        ctx: &AuditContext,
        policy: NewEscalationPolicy,
    ) -> StorageResult<EscalationPolicy>;
    async fn escalation_policy_by_slug(
        &self,
        slug: &str,
    ) -> StorageResult<Option<EscalationPolicy>>;
    async fn escalation_policy_by_id(&self, id: i64) -> StorageResult<Option<EscalationPolicy>>;
    async fn list_escalation_policies(
        &self,
        page: PageRequest,
    ) -> StorageResult<Page<EscalationPolicy>>;
    /// Replace name and spec (audited as `escalation_policy.update`).
    async fn update_escalation_policy(
        &self,
        ctx: &AuditContext,
        id: i64,
        name: &str,
        spec: &Value,
    ) -> StorageResult<EscalationPolicy>;
    /// Audited as `escalation_policy.delete`; services using it are left without a policy.
    async fn delete_escalation_policy(&self, ctx: &AuditContext, id: i64) -> StorageResult<()>;
    async fn service_escalation(&self, service_id: i64) -> StorageResult<ServiceEscalation>;
    /// Audited as `service.escalation`.
    async fn set_service_escalation(
        &self,
        ctx: &AuditContext,
        service_id: i64,
        policy_id: Option<i64>,
        runbook_url: Option<String>,
    ) -> StorageResult<ServiceEscalation>;

    /// Claim up to `limit` notifications due at `now` (queued, or sending with an expired lease), marking
    /// them `sending` until `lease_until`. Oldest due first.
    async fn claim_due_notifications(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StorageResult<Vec<OutboxNotification>>;
    /// Record an attempt and the notification's new status in one transaction.
    async fn record_notification_attempt(
        &self,
        id: i64,
        attempt: &NotificationAttempt,
    ) -> StorageResult<()>;
    /// The earliest `next_attempt_at` of a queued notification (for the delivery worker's sleep).
    async fn next_notification_due(&self) -> StorageResult<Option<Timestamp>>;
    /// An incident's notifications, oldest first.
    async fn incident_notifications(
        &self,
        incident_id: i64,
        page: PageRequest,
    ) -> StorageResult<Page<OutboxNotification>>;
    /// The attempts of these notifications, oldest first.
    async fn notification_attempts(
        &self,
        notification_ids: &[i64],
    ) -> StorageResult<Vec<AttemptRecord>>;
    /// When this contact method last had a message delivered (for throttling).
    async fn last_delivery_to(&self, contact_method_id: i64) -> StorageResult<Option<Timestamp>>;

    async fn create_action_link(&self, token_hash: &str, link: &ActionLink) -> StorageResult<()>;
    /// Look a link up without using it.
    async fn action_link(&self, token_hash: &str) -> StorageResult<Option<ActionLink>>;
    /// Mark the link used if it is unused and unexpired at `now`; `None` when it is not (single use).
    async fn use_action_link(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StorageResult<Option<ActionLink>>;
}

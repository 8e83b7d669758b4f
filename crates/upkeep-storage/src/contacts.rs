//! People's contact methods (a notification channel each, its settings sealed by the core) and their
//! notification rules (which method, how long after a page starts).
//!
//! Storage never sees channel settings in clear: `config_sealed` is an opaque string the core seals and
//! opens. It is left out of every serialisation of a [`ContactMethod`], so audit snapshots never hold it.

use jiff::Timestamp;
use serde::Serialize;

use crate::{AuditContext, StorageResult};

/// One way to reach a person: a channel kind (`webhook`, `slack`, `email`, …) and its sealed settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContactMethod {
    pub id: i64,
    pub user_id: i64,
    pub label: String,
    /// The channel kind, as `upkeep_notify::ChannelKind` names it.
    pub kind: String,
    /// The channel settings as sealed by the core (`v1:…`). Never serialised.
    #[serde(skip_serializing)]
    pub config_sealed: String,
    /// A test notification was delivered since the settings last changed.
    pub verified: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A contact method to store (the core validated and sealed the settings).
#[derive(Debug, Clone)]
pub struct NewContactMethod {
    pub user_id: i64,
    pub label: String,
    pub kind: String,
    pub config_sealed: String,
}

/// What to change on a contact method; `None` keeps the value.
#[derive(Debug, Clone, Default)]
pub struct ContactMethodChanges {
    pub label: Option<String>,
    pub kind: Option<String>,
    pub config_sealed: Option<String>,
    pub verified: Option<bool>,
}

/// "Notify me through this contact method this long after a page starts."
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotificationRule {
    pub id: i64,
    pub user_id: i64,
    pub contact_method_id: i64,
    /// Delay from the start of the page, in milliseconds (0 = at once).
    pub delay_ms: i64,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewNotificationRule {
    pub user_id: i64,
    /// Must be a contact method of `user_id`; otherwise the rule is refused as a conflict.
    pub contact_method_id: i64,
    pub delay_ms: i64,
}

#[async_trait::async_trait]
pub trait ContactStore {
    /// Store a contact method (audited as `contact_method.create`); an unknown user is a conflict.
    async fn create_contact_method(
        &self,
        ctx: &AuditContext,
        method: NewContactMethod,
    ) -> StorageResult<ContactMethod>;
    /// Change a contact method (audited as `contact_method.update`); not found when there is none.
    async fn update_contact_method(
        &self,
        ctx: &AuditContext,
        id: i64,
        changes: ContactMethodChanges,
    ) -> StorageResult<ContactMethod>;
    /// Mark a contact method verified or not (audited as `contact_method.verify`).
    async fn set_contact_verified(
        &self,
        ctx: &AuditContext,
        id: i64,
        verified: bool,
    ) -> StorageResult<ContactMethod>;
    /// Remove a contact method and its rules (audited as `contact_method.delete`).
    async fn delete_contact_method(&self, ctx: &AuditContext, id: i64) -> StorageResult<()>;
    async fn contact_method_by_id(&self, id: i64) -> StorageResult<Option<ContactMethod>>;
    /// One person's contact methods, oldest first.
    async fn contact_methods_for_user(&self, user_id: i64) -> StorageResult<Vec<ContactMethod>>;
    /// The contact methods of all these people in one query, by user then oldest first.
    async fn contact_methods_for_users(
        &self,
        user_ids: &[i64],
    ) -> StorageResult<Vec<ContactMethod>>;

    /// Store a rule (audited as `notification_rule.create`).
    async fn create_notification_rule(
        &self,
        ctx: &AuditContext,
        rule: NewNotificationRule,
    ) -> StorageResult<NotificationRule>;
    /// Remove a rule (audited as `notification_rule.delete`); not found when there is none.
    async fn delete_notification_rule(&self, ctx: &AuditContext, id: i64) -> StorageResult<()>;
    async fn notification_rule_by_id(&self, id: i64) -> StorageResult<Option<NotificationRule>>;
    /// One person's rules, shortest delay first.
    async fn notification_rules_for_user(
        &self,
        user_id: i64,
    ) -> StorageResult<Vec<NotificationRule>>;
    /// The rules of all these people in one query, by user then shortest delay first.
    async fn notification_rules_for_users(
        &self,
        user_ids: &[i64],
    ) -> StorageResult<Vec<NotificationRule>>;
}

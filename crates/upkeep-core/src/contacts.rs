//! Per-person contact methods: a notification channel each (webhook, Slack, email, …) whose settings are
//! checked when saved (every refusal names its field, e.g. `config.url`), sealed at rest with the
//! [`crate::secrets`] key, proven with a "send test" that marks the method verified, and never shown back
//! (views get [`summary`]). Also the process-wide guarded HTTP client ([`Outbound`]) every send goes through.
//!
//! People manage their own methods and rules whatever their role (a token needs write scope to change
//! them); admins may manage anyone's. The escalation engine reads them with
//! `contact_methods_for_users`/`notification_rules_for_users`, picks with [`rules_or_default`] and opens
//! settings with [`channel_config`].

mod rules;
mod settings;

use std::sync::OnceLock;

use serde_json::Value;
use upkeep_notify::{
    ChannelConfig, DeliveryOutcome, GuardedClient, IncidentStatus, Notification, OutboundError,
    OutboundPolicy, Severity,
};
use upkeep_storage::{AuditContext, ContactMethod, ContactMethodChanges, NewContactMethod, Scope};

pub use rules::{
    MAX_DELAY, create_rule, delete_rule, format_delay, list_rules, parse_delay, rule_delay,
    rules_or_default,
};
pub use settings::{kind_names, outcome_name, outcome_text, parse_kind, summary};

use crate::config::Config;
use crate::identity::{Capability, Principal, Via};
use crate::{Core, CoreError, CoreResult};

/// Contact methods one person may have.
const MAX_METHODS: usize = 20;
const MAX_LABEL: usize = 100;

/// The one guarded client for user-given URLs, built from `[outbound]` on first use and shared by every
/// send in the process (it pools connections).
#[derive(Debug)]
pub struct Outbound {
    policy: OutboundPolicy,
    client: OnceLock<GuardedClient>,
}

impl Outbound {
    pub fn new(policy: OutboundPolicy) -> Self {
        Self {
            policy,
            client: OnceLock::new(),
        }
    }

    /// The default policy with `[outbound] block_private_addresses` applied.
    pub fn from_config(config: &Config) -> Self {
        Self::new(OutboundPolicy {
            block_private_addresses: config.outbound.block_private_addresses,
            ..OutboundPolicy::default()
        })
    }

    pub fn policy(&self) -> &OutboundPolicy {
        &self.policy
    }

    /// The client; fails only when the HTTP client cannot be built at all (no TLS roots, …).
    pub fn client(&self) -> Result<&GuardedClient, OutboundError> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let built = GuardedClient::new(self.policy.clone())?;
        Ok(self.client.get_or_init(|| built))
    }
}

/// A new contact method as people send it: `config` is the channel's settings object (its `kind` may be
/// left out); a webhook without `secret` gets a generated one.
#[derive(Debug, Clone)]
pub struct ContactInput {
    /// Empty: the kind's name.
    pub label: String,
    pub kind: String,
    pub config: Value,
}

/// Changes to a contact method; `config` fields are laid over the current settings when the kind stays
/// (`null` removes an optional field) and replace them when it changes. New settings reset `verified`.
#[derive(Debug, Clone, Default)]
pub struct ContactUpdate {
    pub label: Option<String>,
    pub kind: Option<String>,
    pub config: Option<Value>,
}

/// A saved contact method and the webhook secret generated for it, shown this once.
#[derive(Debug, Clone)]
pub struct SavedContact {
    pub method: ContactMethod,
    pub generated_secret: Option<String>,
}

/// May `by` see (or, with `change`, change) `owner_id`'s contact methods? The CLI (`None`) may; a person
/// may their own (a token needs write scope to change them); others need admin.
pub(crate) fn authorize(by: Option<&Principal>, owner_id: i64, change: bool) -> CoreResult<()> {
    let Some(principal) = by else {
        return Ok(());
    };
    if principal.user.id != owner_id {
        return principal.require(Capability::Admin);
    }
    if let Via::Token {
        scope: Scope::Read, ..
    } = principal.via
        && change
    {
        return Err(CoreError::Forbidden(
            "this token's scope is read; changing contact methods needs a write token or a browser session"
                .into(),
        ));
    }
    Ok(())
}

/// `owner_id`'s contact method `id`; anyone else's is not found (so ids of others are not revealed).
pub(crate) async fn owned_method(core: &Core, owner_id: i64, id: i64) -> CoreResult<ContactMethod> {
    match core.storage.contact_method_by_id(id).await? {
        Some(method) if method.user_id == owner_id => Ok(method),
        _ => Err(CoreError::not_found("contact method not found")),
    }
}

/// The label, trimmed; empty means the kind's name.
fn clean_label(label: &str, kind: &str) -> CoreResult<String> {
    let label = label.trim();
    if label.chars().count() > MAX_LABEL {
        return Err(CoreError::validation(
            "label",
            format!("must be at most {MAX_LABEL} characters"),
        ));
    }
    if label.chars().any(char::is_control) {
        return Err(CoreError::validation("label", "must be one line of text"));
    }
    Ok(if label.is_empty() {
        kind.to_string()
    } else {
        label.to_string()
    })
}

/// Seals settings for storage. On PostgreSQL without `[secrets] key_file` this refuses, naming the setting.
pub fn seal_config(core: &Core, config: &ChannelConfig) -> CoreResult<String> {
    let text = serde_json::to_string(config)
        .map_err(|err| CoreError::Internal(format!("cannot serialise channel settings: {err}")))?;
    core.secrets.seal(&text).map_err(|err| match err {
        crate::secrets::SecretError::NotConfigured => CoreError::Conflict {
            message: err.to_string(),
            field: None,
        },
        other => CoreError::Internal(other.to_string()),
    })
}

/// The channel settings of a stored contact method, opened with the secrets key. A value sealed with
/// another key (or unreadable) is an internal error whose message says what to do.
pub fn channel_config(core: &Core, method: &ContactMethod) -> CoreResult<ChannelConfig> {
    let text = core.secrets.open(&method.config_sealed).map_err(|err| {
        CoreError::Internal(format!(
            "contact method {} ({}): {err}",
            method.id, method.label
        ))
    })?;
    serde_json::from_str(&text).map_err(|err| {
        CoreError::Internal(format!(
            "contact method {} holds settings this version cannot read: {err}",
            method.id
        ))
    })
}

/// Saves a new contact method for `owner_id` (unverified until a test is delivered).
pub async fn create_contact_method(
    core: &Core,
    ctx: &AuditContext,
    by: Option<&Principal>,
    owner_id: i64,
    input: ContactInput,
) -> CoreResult<SavedContact> {
    authorize(by, owner_id, true)?;
    let (config, generated_secret) = settings::new_settings(&input.kind, input.config)?;
    let label = clean_label(&input.label, config.kind().as_str())?;
    if core.storage.user_by_id(owner_id).await?.is_none() {
        return Err(CoreError::not_found("user not found"));
    }
    if core.storage.contact_methods_for_user(owner_id).await?.len() >= MAX_METHODS {
        return Err(CoreError::validation(
            "kind",
            format!("a person can have at most {MAX_METHODS} contact methods"),
        ));
    }
    let config_sealed = seal_config(core, &config)?;
    let method = core
        .storage
        .create_contact_method(
            ctx,
            NewContactMethod {
                user_id: owner_id,
                label,
                kind: config.kind().as_str().to_string(),
                config_sealed,
            },
        )
        .await?;
    Ok(SavedContact {
        method,
        generated_secret,
    })
}

/// Changes one of `owner_id`'s contact methods.
pub async fn update_contact_method(
    core: &Core,
    ctx: &AuditContext,
    by: Option<&Principal>,
    owner_id: i64,
    id: i64,
    update: ContactUpdate,
) -> CoreResult<SavedContact> {
    authorize(by, owner_id, true)?;
    let current = owned_method(core, owner_id, id).await?;
    let mut changes = ContactMethodChanges::default();
    let mut generated_secret = None;
    if update.config.is_some() || update.kind.is_some() {
        let opened = channel_config(core, &current);
        let changes_value = update
            .config
            .unwrap_or_else(|| Value::Object(Default::default()));
        let (next, generated) = match &opened {
            Ok(opened) => settings::merged_settings(opened, update.kind.as_deref(), changes_value)?,
            // Unreadable settings can only be replaced whole.
            Err(_) => settings::new_settings(
                update.kind.as_deref().unwrap_or(&current.kind),
                changes_value,
            )?,
        };
        generated_secret = generated;
        changes.kind = Some(next.kind().as_str().to_string());
        changes.config_sealed = Some(seal_config(core, &next)?);
        changes.verified = Some(false);
    }
    if let Some(label) = &update.label {
        let kind = changes.kind.as_deref().unwrap_or(&current.kind);
        changes.label = Some(clean_label(label, kind)?);
    }
    let method = core.storage.update_contact_method(ctx, id, changes).await?;
    Ok(SavedContact {
        method,
        generated_secret,
    })
}

/// Removes one of `owner_id`'s contact methods and the rules that use it.
pub async fn delete_contact_method(
    core: &Core,
    ctx: &AuditContext,
    by: Option<&Principal>,
    owner_id: i64,
    id: i64,
) -> CoreResult<()> {
    authorize(by, owner_id, true)?;
    owned_method(core, owner_id, id).await?;
    Ok(core.storage.delete_contact_method(ctx, id).await?)
}

/// `owner_id`'s contact methods, oldest first.
pub async fn list_contact_methods(
    core: &Core,
    by: Option<&Principal>,
    owner_id: i64,
) -> CoreResult<Vec<ContactMethod>> {
    authorize(by, owner_id, false)?;
    Ok(core.storage.contact_methods_for_user(owner_id).await?)
}

/// One contact method by id, whoever owns it (for the CLI, which acts for anyone).
pub async fn find_contact_method(core: &Core, id: i64) -> CoreResult<ContactMethod> {
    core.storage
        .contact_method_by_id(id)
        .await?
        .ok_or_else(|| CoreError::not_found("contact method not found"))
}

/// The summary views show for a stored method, or why its settings cannot be read.
pub fn stored_summary(core: &Core, method: &ContactMethod) -> String {
    match channel_config(core, method) {
        Ok(config) => summary(&config),
        Err(_) => "settings unreadable with the current secrets key".into(),
    }
}

/// The test message: says it is a test and why it was sent.
fn test_notification(core: &Core, method: &ContactMethod) -> Notification {
    let now = core.now();
    Notification {
        incident_id: 0,
        title: "Test notification from upkeep".into(),
        summary: format!(
            "This is a test of the contact method \"{}\". If you can read it, upkeep can reach you here.",
            method.label
        ),
        severity: Severity::Info,
        status: IncidentStatus::Triggered,
        service_name: "upkeep".into(),
        incident_url: format!("{}/account", core.config.base_url()),
        acknowledge_url: None,
        resolve_url: None,
        reason: format!(
            "A test of contact method {} (\"{}\") was requested",
            method.id, method.label
        ),
        idempotency_key: format!("test-{}-{}", method.id, now.as_millisecond()),
        bundle: Vec::new(),
    }
}

/// Sends a test notification through one of `owner_id`'s contact methods and says what came of it. A
/// delivered test marks the method verified; a definite failure marks it unverified. Settings that are no
/// longer valid are a validation error naming the field.
pub async fn send_test(
    core: &Core,
    ctx: &AuditContext,
    by: Option<&Principal>,
    owner_id: i64,
    id: i64,
) -> CoreResult<DeliveryOutcome> {
    authorize(by, owner_id, true)?;
    let method = owned_method(core, owner_id, id).await?;
    let config = match channel_config(core, &method) {
        Ok(config) => config,
        Err(err) => {
            return Ok(DeliveryOutcome::Failed {
                reason: err.to_string(),
            });
        }
    };
    upkeep_notify::validate(&config).map_err(|problem| {
        CoreError::validation(format!("config.{}", problem.field), problem.message)
    })?;
    let outcome = match core.outbound.client() {
        Ok(client) => upkeep_notify::send(client, &config, &test_notification(core, &method)).await,
        Err(err) => DeliveryOutcome::Failed {
            reason: err.to_string(),
        },
    };
    let verified = match &outcome {
        DeliveryOutcome::Delivered { .. } => Some(true),
        DeliveryOutcome::Failed { .. } => Some(false),
        _ => None,
    };
    if let Some(verified) = verified
        && verified != method.verified
    {
        core.storage.set_contact_verified(ctx, id, verified).await?;
    }
    Ok(outcome)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use jiff::Timestamp;
    use upkeep_storage::{Role, User};

    use super::*;

    fn principal(id: i64, role: Role, via: Via) -> Principal {
        Principal {
            user: User {
                id,
                email: "a@b.co".into(),
                name: "A".into(),
                role,
                disabled: false,
                created_at: Timestamp::UNIX_EPOCH,
                updated_at: Timestamp::UNIX_EPOCH,
            },
            via,
        }
    }

    fn session() -> Via {
        Via::Session {
            session_id: 1,
            csrf_token: "c".into(),
        }
    }

    fn token(scope: Scope) -> Via {
        Via::Token {
            token_id: 1,
            scope,
            prefix: "upk_x".into(),
        }
    }

    #[test]
    fn people_manage_their_own_and_admins_anyones() {
        let viewer = principal(1, Role::Viewer, session());
        assert!(authorize(Some(&viewer), 1, true).is_ok());
        assert!(matches!(
            authorize(Some(&viewer), 2, false),
            Err(CoreError::Forbidden(_))
        ));
        let read_token = principal(1, Role::Owner, token(Scope::Read));
        assert!(authorize(Some(&read_token), 1, false).is_ok());
        assert!(matches!(
            authorize(Some(&read_token), 1, true),
            Err(CoreError::Forbidden(_))
        ));
        let admin = principal(3, Role::Admin, token(Scope::Admin));
        assert!(authorize(Some(&admin), 1, true).is_ok());
        assert!(authorize(None, 1, true).is_ok());
    }
}

//! The notification model: what every channel renders, independent of storage and of the channel, so the
//! outbox can build it once and hand it to any channel.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// How bad an incident is (the PagerDuty Events v2 vocabulary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the incident is in its lifecycle when the notification is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentStatus {
    Triggered,
    Acknowledged,
    Resolved,
}

impl IncidentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Triggered => "triggered",
            IncidentStatus::Acknowledged => "acknowledged",
            IncidentStatus::Resolved => "resolved",
        }
    }

    /// Capitalised, for headlines: `Triggered`.
    pub fn label(self) -> &'static str {
        match self {
            IncidentStatus::Triggered => "Triggered",
            IncidentStatus::Acknowledged => "Acknowledged",
            IncidentStatus::Resolved => "Resolved",
        }
    }
}

impl fmt::Display for IncidentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One further incident in a bundled message ("12 more incidents for you: …").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundledIncident {
    pub incident_id: i64,
    pub title: String,
    pub severity: Severity,
    /// Link to the incident's page.
    pub url: String,
}

/// One message to one channel about one incident (plus, when alerts storm, a bundle of further ones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub incident_id: i64,
    pub title: String,
    /// Free text; may be empty.
    pub summary: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub service_name: String,
    /// Link to the incident's page (http or https).
    pub incident_url: String,
    /// Signed single-use acknowledge link, when the recipient may acknowledge.
    pub acknowledge_url: Option<String>,
    /// Signed single-use resolve link, when the recipient may resolve.
    pub resolve_url: Option<String>,
    /// Why this was sent to this recipient: service, rule, escalation level, schedule layer. Required: every
    /// channel shows it.
    pub reason: String,
    /// Stable across retries of the same message: the webhook `webhook-id`/`Idempotency-Key` and the email
    /// `Message-ID` are derived from it. 1 to 255 visible ASCII characters.
    pub idempotency_key: String,
    /// Further incidents bundled into this message; empty for a plain notification.
    pub bundle: Vec<BundledIncident>,
}

/// A notification that cannot be sent as it is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NotificationError {
    #[error("the notification has no reason: every notification must say why it was sent")]
    MissingReason,
    #[error("the notification has no title")]
    MissingTitle,
    #[error("the notification's idempotency key must be 1 to 255 visible ASCII characters")]
    BadIdempotencyKey,
    #[error("the notification's {field} is not an http(s) URL: {value:?}")]
    BadUrl { field: &'static str, value: String },
}

impl Notification {
    /// Checks what every channel relies on: a reason, a title, a usable idempotency key, http(s) links.
    pub fn check(&self) -> Result<(), NotificationError> {
        if self.reason.trim().is_empty() {
            return Err(NotificationError::MissingReason);
        }
        if self.title.trim().is_empty() {
            return Err(NotificationError::MissingTitle);
        }
        let key = &self.idempotency_key;
        if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(NotificationError::BadIdempotencyKey);
        }
        check_link("incident_url", &self.incident_url)?;
        if let Some(url) = &self.acknowledge_url {
            check_link("acknowledge_url", url)?;
        }
        if let Some(url) = &self.resolve_url {
            check_link("resolve_url", url)?;
        }
        for item in &self.bundle {
            check_link("bundle url", &item.url)?;
        }
        Ok(())
    }
}

fn check_link(field: &'static str, value: &str) -> Result<(), NotificationError> {
    match url::Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(()),
        _ => Err(NotificationError::BadUrl {
            field,
            value: value.to_string(),
        }),
    }
}

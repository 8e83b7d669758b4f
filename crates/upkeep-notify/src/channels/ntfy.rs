//! ntfy (<https://ntfy.sh>, self-hosted or public) push notifications, published as JSON to the server root
//! so the title, priority, click target and action buttons need no header encoding.
//!
//! Request: `POST <server_url>` (the server root), `Content-Type: application/json`, and
//! `Authorization: Bearer <access_token>` when a token is set:
//!
//! ```json
//! {"topic": "ops-pages", "title": "Triggered: Database down", "message": "<plain text: service, summary, reason, bundle>",
//!  "priority": 5, "tags": ["rotating_light", "critical", "checkout"], "click": "<incident url>",
//!  "actions": [{"action": "view", "label": "Acknowledge", "url": "…", "clear": true},
//!              {"action": "view", "label": "Resolve", "url": "…", "clear": true},
//!              {"action": "view", "label": "Open incident", "url": "…"}]}
//! ```
//!
//! Priority by severity while triggered: critical 5 (urgent), error 4, warning 3, info 2. An acknowledged or
//! resolved notice is priority 2, so a status update does not ring like a page. The first tag is an emoji
//! (`rotating_light`, `warning`, `information_source`; `eyes` when acknowledged, `white_check_mark` when
//! resolved).

use std::fmt;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{post_json, to_body};
use crate::config::{FieldError, check_http_url};
use crate::message::{IncidentStatus, Notification, Severity};
use crate::outbound::GuardedClient;
use crate::outcome::{self, DeliveryOutcome};
use crate::render::{self, truncate};

/// `{"kind": "ntfy", "server_url": "https://ntfy.sh", "topic": "ops-pages", "access_token": "tk_…"}`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NtfyConfig {
    pub server_url: String,
    pub topic: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
}

impl fmt::Debug for NtfyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NtfyConfig")
            .field("server_url", &self.server_url)
            .field("topic", &self.topic)
            .field("access_token", &self.access_token.as_ref().map(|_| "…"))
            .finish()
    }
}

pub(crate) fn validate(c: &NtfyConfig) -> Result<(), FieldError> {
    check_http_url("server_url", &c.server_url)?;
    let topic = &c.topic;
    if topic.is_empty()
        || topic.len() > 64
        || !topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(FieldError::new(
            "topic",
            "must be 1 to 64 letters, digits, - or _",
        ));
    }
    if let Some(token) = &c.access_token
        && (token.trim().is_empty() || HeaderValue::from_str(&format!("Bearer {token}")).is_err())
    {
        return Err(FieldError::new(
            "access_token",
            "must be a non-empty token without control characters",
        ));
    }
    Ok(())
}

/// ntfy priority 1..=5.
pub fn priority(n: &Notification) -> u8 {
    match (n.status, n.severity) {
        (IncidentStatus::Acknowledged | IncidentStatus::Resolved, _) => 2,
        (_, Severity::Critical) => 5,
        (_, Severity::Error) => 4,
        (_, Severity::Warning) => 3,
        (_, Severity::Info) => 2,
    }
}

fn emoji(n: &Notification) -> &'static str {
    match (n.status, n.severity) {
        (IncidentStatus::Resolved, _) => "white_check_mark",
        (IncidentStatus::Acknowledged, _) => "eyes",
        (_, Severity::Critical | Severity::Error) => "rotating_light",
        (_, Severity::Warning) => "warning",
        (_, Severity::Info) => "information_source",
    }
}

fn message(n: &Notification) -> String {
    let mut out = format!("Service: {} · Severity: {}", n.service_name, n.severity);
    if !n.summary.trim().is_empty() {
        out.push_str(&format!("\n\n{}", n.summary.trim()));
    }
    out.push_str(&format!("\n\n{}", render::reason_line(n)));
    let bundle = render::bundle_text(n);
    if !bundle.is_empty() {
        out.push_str(&format!("\n\n{bundle}"));
    }
    truncate(&out, 3800)
}

/// The whole publish body.
pub fn payload(c: &NtfyConfig, n: &Notification) -> Value {
    let mut actions = Vec::new();
    if let Some(url) = &n.acknowledge_url {
        actions.push(json!({"action": "view", "label": "Acknowledge", "url": url, "clear": true}));
    }
    if let Some(url) = &n.resolve_url {
        actions.push(json!({"action": "view", "label": "Resolve", "url": url, "clear": true}));
    }
    actions.push(json!({"action": "view", "label": "Open incident", "url": n.incident_url}));
    json!({
        "topic": c.topic,
        "title": truncate(&render::headline(n), 250),
        "message": message(n),
        "priority": priority(n),
        "tags": [emoji(n), n.severity.as_str(), n.service_name],
        "click": n.incident_url,
        "actions": actions,
    })
}

pub(crate) async fn send(
    client: &GuardedClient,
    c: &NtfyConfig,
    n: &Notification,
) -> DeliveryOutcome {
    let mut headers = HeaderMap::new();
    if let Some(token) = &c.access_token {
        match HeaderValue::from_str(&format!("Bearer {}", token.trim())) {
            Ok(mut value) => {
                value.set_sensitive(true);
                headers.insert(AUTHORIZATION, value);
            }
            Err(_) => {
                return DeliveryOutcome::Failed {
                    reason: "access_token is not a valid header value".to_string(),
                };
            }
        }
    }
    let body = to_body(&payload(c, n));
    match post_json(client, c.server_url.trim(), headers, body).await {
        Ok(response) => outcome::from_http("ntfy", &response),
        Err(error) => outcome::from_error("ntfy", error),
    }
}

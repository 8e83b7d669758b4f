//! Microsoft Teams through a Workflows ("When a Teams webhook request is received") incoming webhook, which
//! replaced the retired Office 365 connectors: one Adaptive Card 1.4 with the headline, service and severity,
//! summary, reason, bundle, and Action.OpenUrl buttons for acknowledge / resolve / the incident.
//!
//! Request: `POST <webhook_url>`, `Content-Type: application/json`:
//!
//! ```json
//! {"type": "message",
//!  "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null,
//!    "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
//!      "version": "1.4", "msteams": {"width": "Full"},
//!      "body": [
//!        {"type": "TextBlock", "text": "Triggered: Database down", "weight": "Bolder", "size": "Medium", "wrap": true, "color": "Attention"},
//!        {"type": "TextBlock", "text": "Service: checkout · Severity: critical", "wrap": true, "isSubtle": true},
//!        {"type": "TextBlock", "text": "<summary>", "wrap": true},
//!        {"type": "TextBlock", "text": "Why you got this: <reason>", "wrap": true},
//!        {"type": "TextBlock", "text": "2 more incidents for you:\n- …", "wrap": true}],
//!      "actions": [
//!        {"type": "Action.OpenUrl", "title": "Acknowledge", "url": "…"},
//!        {"type": "Action.OpenUrl", "title": "Resolve", "url": "…"},
//!        {"type": "Action.OpenUrl", "title": "Open incident", "url": "…"}]}}]}
//! ```
//!
//! The summary and bundle blocks are present only when there is a summary / a bundle. Workflows answers
//! `202 Accepted`.

use std::fmt;

use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{post_json, to_body};
use crate::config::redact_url;
use crate::message::{IncidentStatus, Notification, Severity};
use crate::outbound::GuardedClient;
use crate::outcome::{self, DeliveryOutcome};
use crate::render;

/// `{"kind": "teams", "webhook_url": "https://….logic.azure.com/workflows/…"}`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsConfig {
    pub webhook_url: String,
}

impl fmt::Debug for TeamsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TeamsConfig")
            .field("webhook_url", &redact_url(&self.webhook_url))
            .finish()
    }
}

/// Adaptive Card colour of the headline.
fn color(n: &Notification) -> &'static str {
    match (n.status, n.severity) {
        (IncidentStatus::Resolved, _) => "Good",
        (_, Severity::Critical | Severity::Error) => "Attention",
        (_, Severity::Warning) => "Warning",
        (_, Severity::Info) => "Accent",
    }
}

fn text_block(text: &str) -> Value {
    json!({"type": "TextBlock", "text": text, "wrap": true})
}

/// The whole Teams payload.
pub fn payload(n: &Notification) -> Value {
    let mut body = vec![
        json!({"type": "TextBlock", "text": render::headline(n), "weight": "Bolder", "size": "Medium",
               "wrap": true, "color": color(n)}),
        json!({"type": "TextBlock", "text": format!("Service: {} · Severity: {}", n.service_name, n.severity),
               "wrap": true, "isSubtle": true}),
    ];
    if !n.summary.trim().is_empty() {
        body.push(text_block(n.summary.trim()));
    }
    body.push(text_block(&render::reason_line(n)));
    let bundle = render::bundle_text(n);
    if !bundle.is_empty() {
        body.push(text_block(&bundle));
    }
    let mut actions = Vec::new();
    if let Some(url) = &n.acknowledge_url {
        actions.push(json!({"type": "Action.OpenUrl", "title": "Acknowledge", "url": url}));
    }
    if let Some(url) = &n.resolve_url {
        actions.push(json!({"type": "Action.OpenUrl", "title": "Resolve", "url": url}));
    }
    actions
        .push(json!({"type": "Action.OpenUrl", "title": "Open incident", "url": n.incident_url}));
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "msteams": {"width": "Full"},
                "body": body,
                "actions": actions,
            }
        }]
    })
}

pub(crate) async fn send(
    client: &GuardedClient,
    c: &TeamsConfig,
    n: &Notification,
) -> DeliveryOutcome {
    let body = to_body(&payload(n));
    match post_json(client, &c.webhook_url, HeaderMap::new(), body).await {
        Ok(response) => outcome::from_http("Microsoft Teams", &response),
        Err(error) => outcome::from_error("Microsoft Teams", error),
    }
}

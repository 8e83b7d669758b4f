//! Slack incoming webhooks: a `text` fallback (what notifications and old clients show) plus Block Kit
//! blocks with the reason and Acknowledge / Resolve / Open incident link buttons.
//!
//! Request: `POST <webhook_url>`, `Content-Type: application/json`:
//!
//! ```json
//! {"text": "Triggered: Database down [critical] (checkout)",
//!  "blocks": [
//!    {"type": "header", "text": {"type": "plain_text", "text": "Triggered: Database down"}},
//!    {"type": "section", "text": {"type": "mrkdwn", "text": "*Service:* checkout   *Severity:* critical\n<summary>"}},
//!    {"type": "context", "elements": [{"type": "mrkdwn", "text": "Why you got this: <reason>"}]},
//!    {"type": "section", "text": {"type": "mrkdwn", "text": "*2 more incidents for you:*\n• <url|#43 [warning] Disk full>\n…"}},
//!    {"type": "actions", "elements": [
//!      {"type": "button", "text": {"type": "plain_text", "text": "Acknowledge"}, "url": "…", "style": "primary", "action_id": "acknowledge"},
//!      {"type": "button", "text": {"type": "plain_text", "text": "Resolve"}, "url": "…", "action_id": "resolve"},
//!      {"type": "button", "text": {"type": "plain_text", "text": "Open incident"}, "url": "…", "action_id": "open"}]}]}
//! ```
//!
//! The bundle section is present only with a bundle; buttons only for the links given. Slack answers `200 ok`,
//! `4xx` with a reason word (`invalid_payload`, `no_service`, `channel_is_archived`) or `429` with
//! `Retry-After`.

use std::fmt;

use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{post_json, to_body};
use crate::config::redact_url;
use crate::message::Notification;
use crate::outbound::GuardedClient;
use crate::outcome::{self, DeliveryOutcome};
use crate::render::{self, truncate};

/// `{"kind": "slack", "webhook_url": "https://hooks.slack.com/services/…"}`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    pub webhook_url: String,
}

impl fmt::Debug for SlackConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackConfig")
            .field("webhook_url", &redact_url(&self.webhook_url))
            .finish()
    }
}

/// Slack's mrkdwn needs `&`, `<` and `>` escaped; everything else is literal enough.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn button(text: &str, url: &str, action_id: &str, primary: bool) -> Value {
    let mut button = json!({
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "url": url,
        "action_id": action_id,
    });
    if primary {
        button["style"] = json!("primary");
    }
    button
}

/// The whole Slack payload.
pub fn payload(n: &Notification) -> Value {
    let fallback = format!(
        "{} [{}] ({})",
        render::headline(n),
        n.severity,
        n.service_name
    );
    let mut details = format!(
        "*Service:* {}   *Severity:* {}",
        escape(&n.service_name),
        n.severity
    );
    if !n.summary.trim().is_empty() {
        details.push('\n');
        details.push_str(&escape(n.summary.trim()));
    }
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&render::headline(n), 150)}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&details, 3000)}}),
        json!({"type": "context", "elements": [
            {"type": "mrkdwn", "text": truncate(&escape(&render::reason_line(n)), 3000)}
        ]}),
    ];
    if let Some(heading) = render::bundle_heading(n) {
        let (shown, rest) = render::bundle_shown(n);
        let mut text = format!("*{heading}*");
        for b in shown {
            text.push_str(&format!(
                "\n• <{}|{}>",
                b.url,
                escape(&render::bundle_label(b)).replace('|', "¦")
            ));
        }
        if rest > 0 {
            text.push_str(&format!("\n• {}", render::bundle_rest(rest)));
        }
        blocks.push(
            json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&text, 3000)}}),
        );
    }
    let mut buttons = Vec::new();
    if let Some(url) = &n.acknowledge_url {
        buttons.push(button("Acknowledge", url, "acknowledge", true));
    }
    if let Some(url) = &n.resolve_url {
        buttons.push(button("Resolve", url, "resolve", false));
    }
    buttons.push(button("Open incident", &n.incident_url, "open", false));
    blocks.push(json!({"type": "actions", "elements": buttons}));
    json!({"text": fallback, "blocks": blocks})
}

pub(crate) async fn send(
    client: &GuardedClient,
    c: &SlackConfig,
    n: &Notification,
) -> DeliveryOutcome {
    let body = to_body(&payload(n));
    match post_json(client, &c.webhook_url, HeaderMap::new(), body).await {
        Ok(response) => outcome::from_http("Slack", &response),
        Err(error) => outcome::from_error("Slack", error),
    }
}

//! Discord channel webhooks: a short `content` line plus one embed (coloured by severity, green when resolved)
//! with the service, severity, status, the reason, the acknowledge / resolve links and the bundle as fields.
//! `allowed_mentions` is empty, so an `@everyone` in a title pings nobody.
//!
//! Request: `POST <webhook_url>`, `Content-Type: application/json`:
//!
//! ```json
//! {"content": "Triggered: Database down [critical] (checkout)",
//!  "allowed_mentions": {"parse": []},
//!  "embeds": [{"title": "Triggered: Database down", "description": "<summary>", "url": "<incident url>",
//!    "color": 14100029,
//!    "fields": [
//!      {"name": "Service", "value": "checkout", "inline": true},
//!      {"name": "Severity", "value": "critical", "inline": true},
//!      {"name": "Status", "value": "triggered", "inline": true},
//!      {"name": "Why you got this", "value": "<reason>", "inline": false},
//!      {"name": "Actions", "value": "[Acknowledge](…) · [Resolve](…) · [Open incident](…)", "inline": false},
//!      {"name": "2 more incidents for you:", "value": "[#43 [warning] Disk full](…)\n…", "inline": false}]}]}
//! ```
//!
//! `description` is present only with a summary, the bundle field only with a bundle. Markdown characters in
//! user text are escaped. Discord answers `204`, or `429` with `Retry-After` (and `retry_after` in the body).

use std::fmt;

use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{post_json, to_body};
use crate::config::redact_url;
use crate::message::{IncidentStatus, Notification, Severity};
use crate::outbound::GuardedClient;
use crate::outcome::{self, DeliveryOutcome};
use crate::render::{self, truncate};

/// `{"kind": "discord", "webhook_url": "https://discord.com/api/webhooks/…"}`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    pub webhook_url: String,
}

impl fmt::Debug for DiscordConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiscordConfig")
            .field("webhook_url", &redact_url(&self.webhook_url))
            .finish()
    }
}

/// Embed colour: red, orange, amber, blue by severity; green once resolved.
pub fn color(n: &Notification) -> u32 {
    match (n.status, n.severity) {
        (IncidentStatus::Resolved, _) => 0x2E_B6_7D,
        (_, Severity::Critical) => 0xD7_26_3D,
        (_, Severity::Error) => 0xF4_60_36,
        (_, Severity::Warning) => 0xF4_B4_00,
        (_, Severity::Info) => 0x2E_86_AB,
    }
}

/// Backslash-escapes Discord markdown so user text shows as written.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if matches!(
            ch,
            '\\' | '*' | '_' | '~' | '`' | '|' | '<' | '>' | '#' | '[' | ']'
        ) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

fn field(name: &str, value: &str, inline: bool) -> Value {
    json!({"name": truncate(name, 256), "value": truncate(value, 1024), "inline": inline})
}

/// The whole Discord payload.
pub fn payload(n: &Notification) -> Value {
    let mut fields = vec![
        field("Service", &escape(&n.service_name), true),
        field("Severity", n.severity.as_str(), true),
        field("Status", n.status.as_str(), true),
        field("Why you got this", &escape(&n.reason), false),
    ];
    let mut links = Vec::new();
    if let Some(url) = &n.acknowledge_url {
        links.push(format!("[Acknowledge]({url})"));
    }
    if let Some(url) = &n.resolve_url {
        links.push(format!("[Resolve]({url})"));
    }
    links.push(format!("[Open incident]({})", n.incident_url));
    fields.push(field("Actions", &links.join(" · "), false));
    if let Some(heading) = render::bundle_heading(n) {
        let (shown, rest) = render::bundle_shown(n);
        let mut lines: Vec<String> = shown
            .iter()
            .map(|b| format!("[{}]({})", escape(&render::bundle_label(b)), b.url))
            .collect();
        if rest > 0 {
            lines.push(render::bundle_rest(rest));
        }
        // Whole lines only, so a cut never breaks a link.
        let mut value = String::new();
        for line in lines {
            if value.chars().count() + line.chars().count() + 1 > 1000 {
                value.push_str("\n…");
                break;
            }
            if !value.is_empty() {
                value.push('\n');
            }
            value.push_str(&line);
        }
        fields.push(field(&heading, &value, false));
    }
    let mut embed = json!({
        "title": truncate(&render::headline(n), 256),
        "url": n.incident_url,
        "color": color(n),
        "fields": fields,
    });
    if !n.summary.trim().is_empty() {
        embed["description"] = json!(truncate(&escape(n.summary.trim()), 4096));
    }
    let content = format!(
        "{}: {} [{}] ({})",
        n.status.label(),
        escape(&n.title),
        n.severity,
        escape(&n.service_name)
    );
    json!({
        "content": truncate(&content, 2000),
        "allowed_mentions": {"parse": []},
        "embeds": [embed],
    })
}

pub(crate) async fn send(
    client: &GuardedClient,
    c: &DiscordConfig,
    n: &Notification,
) -> DeliveryOutcome {
    let body = to_body(&payload(n));
    let response = match post_json(client, &c.webhook_url, HeaderMap::new(), body).await {
        Ok(response) => response,
        Err(error) => return outcome::from_error("Discord", error),
    };
    let mut result = outcome::from_http("Discord", &response);
    // Discord's rate-limit answer carries the delay in the body too (seconds, fractional).
    if let DeliveryOutcome::RetryLater {
        after: after @ None,
        ..
    } = &mut result
    {
        *after = serde_json::from_slice::<Value>(&response.body)
            .ok()
            .and_then(|v| outcome::seconds_from_json(&v["retry_after"]));
    }
    result
}

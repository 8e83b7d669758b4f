//! Telegram through the Bot API `sendMessage`: an HTML-formatted message (user text escaped) with an inline
//! keyboard of URL buttons for acknowledge / resolve / the incident, and Telegram's own error shape read for
//! flood control (`retry_after`) and moved chats.
//!
//! Request: `POST {api_base_url}/bot{bot_token}/sendMessage`, `Content-Type: application/json`:
//!
//! ```json
//! {"chat_id": -1001234567890,
//!  "text": "<b>Triggered: Database down</b>\nService: checkout · Severity: critical\n\n<summary>\n\n<i>Why you got this: …</i>",
//!  "parse_mode": "HTML",
//!  "link_preview_options": {"is_disabled": true},
//!  "reply_markup": {"inline_keyboard": [
//!    [{"text": "Acknowledge", "url": "…"}, {"text": "Resolve", "url": "…"}],
//!    [{"text": "Open incident", "url": "…"}]]}}
//! ```
//!
//! `chat_id` is sent as a number when it is one (`-100…`), else as the string (`@channelname`). With a bundle
//! the text ends with the bundle lines as links. Answers: `{"ok": true, "result": {"message_id": …}}`, or
//! `{"ok": false, "error_code": 429, "description": "…", "parameters": {"retry_after": N}}`.

use std::fmt;

use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{post_json, to_body};
use crate::config::{FieldError, check_http_url};
use crate::message::Notification;
use crate::outbound::GuardedClient;
use crate::outcome::{self, DeliveryOutcome};
use crate::render::{self, truncate};

/// The public Bot API server.
pub const DEFAULT_TELEGRAM_API: &str = "https://api.telegram.org";

fn default_api_base_url() -> String {
    DEFAULT_TELEGRAM_API.to_string()
}

/// `{"kind": "telegram", "bot_token": "123456:ABC…", "chat_id": "-1001234567890"}`; `api_base_url` defaults to
/// `https://api.telegram.org` (set it for a local Bot API server).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    pub bot_token: String,
    pub chat_id: String,
    #[serde(default = "default_api_base_url")]
    pub api_base_url: String,
}

impl fmt::Debug for TelegramConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelegramConfig")
            .field("bot_token", &"…")
            .field("chat_id", &self.chat_id)
            .field("api_base_url", &self.api_base_url)
            .finish()
    }
}

pub(crate) fn validate(c: &TelegramConfig) -> Result<(), FieldError> {
    let token = c.bot_token.trim();
    let well_formed = token.split_once(':').is_some_and(|(id, secret)| {
        !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_digit())
            && !secret.is_empty()
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    });
    if !well_formed {
        return Err(FieldError::new(
            "bot_token",
            "must look like 123456789:AA… (the token @BotFather gave)",
        ));
    }
    let chat = c.chat_id.trim();
    if chat.is_empty() {
        return Err(FieldError::new("chat_id", "a chat id is required"));
    }
    if chat.chars().any(char::is_whitespace) {
        return Err(FieldError::new(
            "chat_id",
            "must be a numeric chat id (e.g. -1001234567890) or @channelname",
        ));
    }
    check_http_url("api_base_url", &c.api_base_url)?;
    Ok(())
}

/// Escapes text for Telegram's HTML parse mode.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn chat_id_value(chat_id: &str) -> Value {
    let chat_id = chat_id.trim();
    match chat_id.parse::<i64>() {
        Ok(number) => json!(number),
        Err(_) => json!(chat_id),
    }
}

/// The message text in Telegram HTML (at most about 4000 characters: user text is cut before escaping).
fn text(n: &Notification) -> String {
    let mut out = format!(
        "<b>{}</b>\nService: {} · Severity: {}",
        escape(&truncate(&render::headline(n), 300)),
        escape(&truncate(&n.service_name, 200)),
        n.severity
    );
    if !n.summary.trim().is_empty() {
        out.push_str(&format!(
            "\n\n{}",
            escape(&truncate(n.summary.trim(), 1500))
        ));
    }
    out.push_str(&format!(
        "\n\n<i>{}</i>",
        escape(&truncate(&render::reason_line(n), 500))
    ));
    if let Some(heading) = render::bundle_heading(n) {
        let (shown, rest) = render::bundle_shown(n);
        out.push_str(&format!("\n\n{heading}"));
        for b in shown {
            out.push_str(&format!(
                "\n• <a href=\"{}\">{}</a>",
                escape(&b.url),
                escape(&truncate(&render::bundle_label(b), 120))
            ));
        }
        if rest > 0 {
            out.push_str(&format!("\n• {}", render::bundle_rest(rest)));
        }
    }
    out
}

/// The whole `sendMessage` body.
pub fn payload(c: &TelegramConfig, n: &Notification) -> Value {
    let mut first_row = Vec::new();
    if let Some(url) = &n.acknowledge_url {
        first_row.push(json!({"text": "Acknowledge", "url": url}));
    }
    if let Some(url) = &n.resolve_url {
        first_row.push(json!({"text": "Resolve", "url": url}));
    }
    let mut keyboard = Vec::new();
    if !first_row.is_empty() {
        keyboard.push(Value::Array(first_row));
    }
    keyboard.push(json!([{"text": "Open incident", "url": n.incident_url}]));
    json!({
        "chat_id": chat_id_value(&c.chat_id),
        "text": text(n),
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": true},
        "reply_markup": {"inline_keyboard": keyboard},
    })
}

pub(crate) async fn send(
    client: &GuardedClient,
    c: &TelegramConfig,
    n: &Notification,
) -> DeliveryOutcome {
    let url = format!(
        "{}/bot{}/sendMessage",
        c.api_base_url.trim().trim_end_matches('/'),
        c.bot_token.trim()
    );
    let body = to_body(&payload(c, n));
    let response = match post_json(client, &url, HeaderMap::new(), body).await {
        Ok(response) => response,
        Err(error) => return outcome::from_error("Telegram", error),
    };
    let Ok(answer) = serde_json::from_slice::<Value>(&response.body) else {
        return outcome::from_http("Telegram", &response);
    };
    let status = response.status;
    let description = answer["description"].as_str().unwrap_or("no description");
    if let Some(after) = outcome::seconds_from_json(&answer["parameters"]["retry_after"]) {
        return DeliveryOutcome::RetryLater {
            after: Some(after),
            reason: format!("Telegram answered {status}: {description}"),
        };
    }
    if answer["ok"] == json!(true) && status.is_success() {
        let detail = match answer["result"]["message_id"].as_i64() {
            Some(id) => format!("Telegram accepted it as message {id}"),
            None => format!("Telegram answered {status}"),
        };
        return DeliveryOutcome::Delivered { detail };
    }
    if let Some(new_id) = answer["parameters"]["migrate_to_chat_id"].as_i64() {
        return DeliveryOutcome::Failed {
            reason: format!(
                "Telegram refused it: the group became a supergroup; set chat_id to {new_id}"
            ),
        };
    }
    match outcome::from_http("Telegram", &response) {
        DeliveryOutcome::RetryLater { after, .. } => DeliveryOutcome::RetryLater {
            after,
            reason: format!("Telegram answered {status}: {description}"),
        },
        _ => DeliveryOutcome::Failed {
            reason: format!("Telegram refused it: {status}: {description}"),
        },
    }
}

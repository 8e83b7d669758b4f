//! Generic webhooks signed per the Standard Webhooks spec (<https://www.standardwebhooks.com/>), so any
//! receiver can verify that a page came from this upkeep and de-duplicate repeats by `webhook-id`.
//!
//! Request: `POST <url>`, `Content-Type: application/json`, headers `webhook-id` and `Idempotency-Key` (both the
//! notification's idempotency key), `webhook-timestamp` (unix seconds) and `webhook-signature:
//! v1,<base64(HMAC-SHA256(secret, "{webhook-id}.{webhook-timestamp}.{body}"))>`, where the secret is the
//! bytes of the base64 after `whsec_`.
//!
//! Default body ([`default_webhook_body`]; `acknowledge_url`/`resolve_url` are `null` when absent, `bundle`
//! is `[]` without a bundle):
//!
//! ```json
//! {
//!   "type": "incident.triggered",
//!   "timestamp": "2026-05-01T12:00:00Z",
//!   "data": {
//!     "incident": {"id": 42, "title": "Database down", "summary": "…", "severity": "critical",
//!                  "status": "triggered", "url": "https://…", "acknowledge_url": "https://…",
//!                  "resolve_url": "https://…"},
//!     "service": {"name": "checkout"},
//!     "reason": "You are on call for checkout (escalation level 1, layer Primary)",
//!     "idempotency_key": "n-42-1",
//!     "bundle": [{"id": 43, "title": "…", "severity": "warning", "url": "https://…"}]
//!   }
//! }
//! ```
//!
//! `type` is `incident.triggered`, `incident.acknowledged` or `incident.resolved`; `timestamp` equals
//! `webhook-timestamp`. With `body_template` set the body is the rendered template instead (see
//! [`crate::template`]).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Sha256;
use thiserror::Error;

use super::{post_json, to_body};
use crate::config::{FieldError, check_http_url, redact_url};
use crate::message::Notification;
use crate::outbound::GuardedClient;
use crate::outcome::{self, DeliveryOutcome};
use crate::template;

const SECRET_PREFIX: &str = "whsec_";

/// `{"kind": "webhook", "url": "https://…", "secret": "whsec_…", "body_template": "{…}"}`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    /// `whsec_` followed by the base64 of 24 to 64 random bytes; see [`generate_webhook_secret`].
    pub secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_template: Option<String>,
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &redact_url(&self.url))
            .field("secret", &"…")
            .field("body_template", &self.body_template)
            .finish()
    }
}

/// A webhook secret that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WebhookSecretError {
    #[error("must start with whsec_ (use a generated secret)")]
    MissingPrefix,
    #[error("the part after whsec_ is not valid base64")]
    NotBase64,
    #[error("must hold 24 to 64 bytes of key, not {0}")]
    BadLength(usize),
}

/// A fresh secret: `whsec_` and the base64 of 32 random bytes from the operating system.
pub fn generate_webhook_secret() -> String {
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

fn secret_key(secret: &str) -> Result<Vec<u8>, WebhookSecretError> {
    let encoded = secret
        .trim()
        .strip_prefix(SECRET_PREFIX)
        .ok_or(WebhookSecretError::MissingPrefix)?;
    let key = STANDARD
        .decode(encoded)
        .map_err(|_| WebhookSecretError::NotBase64)?;
    if !(24..=64).contains(&key.len()) {
        return Err(WebhookSecretError::BadLength(key.len()));
    }
    Ok(key)
}

/// The `webhook-signature` value for one message: `v1,<base64 HMAC-SHA256>` over
/// `"{msg_id}.{timestamp}.{body}"`.
pub fn sign_webhook(
    secret: &str,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, WebhookSecretError> {
    let key = secret_key(secret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key)
        .map_err(|_| WebhookSecretError::BadLength(key.len()))?;
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The default JSON body (shape in the module documentation); `timestamp` in whole seconds.
pub fn default_webhook_body(n: &Notification, timestamp: jiff::Timestamp) -> serde_json::Value {
    let bundle: Vec<serde_json::Value> = n
        .bundle
        .iter()
        .map(|b| json!({"id": b.incident_id, "title": b.title, "severity": b.severity, "url": b.url}))
        .collect();
    json!({
        "type": format!("incident.{}", n.status),
        "timestamp": timestamp.to_string(),
        "data": {
            "incident": {
                "id": n.incident_id,
                "title": n.title,
                "summary": n.summary,
                "severity": n.severity,
                "status": n.status,
                "url": n.incident_url,
                "acknowledge_url": n.acknowledge_url,
                "resolve_url": n.resolve_url,
            },
            "service": {"name": n.service_name},
            "reason": n.reason,
            "idempotency_key": n.idempotency_key,
            "bundle": bundle,
        }
    })
}

pub(crate) fn validate(c: &WebhookConfig) -> Result<(), FieldError> {
    check_http_url("url", &c.url)?;
    secret_key(&c.secret).map_err(|e| FieldError::new("secret", e.to_string()))?;
    if let Some(body) = &c.body_template {
        template::check(body).map_err(|e| FieldError::new("body_template", e.to_string()))?;
    }
    Ok(())
}

pub(crate) async fn send(
    client: &GuardedClient,
    c: &WebhookConfig,
    n: &Notification,
) -> DeliveryOutcome {
    let now = jiff::Timestamp::now();
    let timestamp = now.as_second();
    let body = match &c.body_template {
        Some(body) => match template::render(body, n) {
            Ok(text) => text.into_bytes(),
            Err(e) => {
                return DeliveryOutcome::Failed {
                    reason: format!("body_template: {e}"),
                };
            }
        },
        None => {
            let whole_seconds = jiff::Timestamp::from_second(timestamp).unwrap_or(now);
            to_body(&default_webhook_body(n, whole_seconds))
        }
    };
    let signature = match sign_webhook(&c.secret, &n.idempotency_key, timestamp, &body) {
        Ok(signature) => signature,
        Err(e) => {
            return DeliveryOutcome::Failed {
                reason: format!("secret: {e}"),
            };
        }
    };
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("webhook-id", n.idempotency_key.clone()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature),
        ("idempotency-key", n.idempotency_key.clone()),
    ] {
        match HeaderValue::from_str(&value) {
            Ok(value) => {
                headers.insert(HeaderName::from_static(name), value);
            }
            Err(_) => {
                return DeliveryOutcome::Failed {
                    reason: format!("{name} is not a valid header value"),
                };
            }
        }
    }
    match post_json(client, &c.url, headers, body).await {
        Ok(response) => outcome::from_http("the webhook", &response),
        Err(error) => outcome::from_error("the webhook", error),
    }
}

//! Channel settings as people send them (a `kind` and a JSON object), checked with
//! `upkeep_notify::validate` so every refusal names its field (`config.url`), and the redacted one-line
//! summary views show instead of the settings.

use serde_json::{Map, Value};
use upkeep_notify::{ChannelConfig, ChannelKind, DeliveryOutcome, generate_webhook_secret};

use crate::{CoreError, CoreResult};

/// The kinds as people type them, for messages.
pub fn kind_names() -> String {
    ChannelKind::ALL
        .iter()
        .map(|kind| kind.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A channel kind by name; a validation error naming `kind` otherwise.
pub fn parse_kind(kind: &str) -> CoreResult<ChannelKind> {
    let wanted = kind.trim().to_ascii_lowercase();
    ChannelKind::ALL
        .into_iter()
        .find(|known| known.as_str() == wanted)
        .ok_or_else(|| {
            CoreError::validation(
                "kind",
                format!(
                    "{kind:?} is not a channel kind; use one of {}",
                    kind_names()
                ),
            )
        })
}

/// The settings object for `kind`: `config` must be a JSON object; a `kind` inside it must agree.
fn settings_object(kind: ChannelKind, config: Value) -> CoreResult<Map<String, Value>> {
    let Value::Object(mut object) = config else {
        return Err(CoreError::validation(
            "config",
            "must be a JSON object with the channel's settings",
        ));
    };
    match object.get("kind") {
        None => {}
        Some(Value::String(inner)) if inner.eq_ignore_ascii_case(kind.as_str()) => {}
        Some(other) => {
            return Err(CoreError::validation(
                "config.kind",
                format!("{other} does not match kind {kind}"),
            ));
        }
    }
    object.insert("kind".into(), Value::String(kind.as_str().into()));
    Ok(object)
}

/// A webhook without a secret gets a fresh one; returned so it can be shown once.
fn fill_webhook_secret(kind: ChannelKind, object: &mut Map<String, Value>) -> Option<String> {
    if kind != ChannelKind::Webhook {
        return None;
    }
    let missing = match object.get("secret") {
        None | Some(Value::Null) => true,
        Some(Value::String(text)) => text.trim().is_empty(),
        Some(_) => false,
    };
    missing.then(|| {
        let secret = generate_webhook_secret();
        object.insert("secret".into(), Value::String(secret.clone()));
        secret
    })
}

/// `missing field `url`` → `config.url`; anything else → `config`.
fn serde_field(message: &str) -> String {
    for marker in ["missing field `", "unknown field `"] {
        if let Some(rest) = message.split(marker).nth(1)
            && let Some(name) = rest.split('`').next()
        {
            return format!("config.{name}");
        }
    }
    "config".into()
}

/// Parses and checks settings; errors name the field (`config.url`, `config.to[1]`).
pub fn check(config: Value) -> CoreResult<ChannelConfig> {
    let parsed: ChannelConfig = serde_json::from_value(config).map_err(|err| {
        let message = err.to_string();
        CoreError::validation(serde_field(&message), message)
    })?;
    upkeep_notify::validate(&parsed).map_err(|problem| {
        CoreError::validation(format!("config.{}", problem.field), problem.message)
    })?;
    Ok(parsed)
}

/// New settings for `kind` from `config`; a webhook without a secret gets one (the second value).
pub fn new_settings(kind: &str, config: Value) -> CoreResult<(ChannelConfig, Option<String>)> {
    let kind = parse_kind(kind)?;
    let mut object = settings_object(kind, config)?;
    let generated = fill_webhook_secret(kind, &mut object);
    Ok((check(Value::Object(object))?, generated))
}

/// `current` with the fields of `changes` laid over it (a `null` removes an optional field), when the kind
/// stays; settings of another kind replace it whole.
pub fn merged_settings(
    current: &ChannelConfig,
    kind: Option<&str>,
    changes: Value,
) -> CoreResult<(ChannelConfig, Option<String>)> {
    let kind = match kind {
        Some(kind) => parse_kind(kind)?,
        None => current.kind(),
    };
    if kind != current.kind() {
        return new_settings(kind.as_str(), changes);
    }
    let changes = settings_object(kind, changes)?;
    let mut object = match serde_json::to_value(current) {
        Ok(Value::Object(object)) => object,
        _ => Map::new(),
    };
    for (key, value) in changes {
        if value.is_null() {
            object.remove(&key);
        } else {
            object.insert(key, value);
        }
    }
    let generated = fill_webhook_secret(kind, &mut object);
    Ok((check(Value::Object(object))?, generated))
}

/// `https://user:pw@hooks.slack.com:443/services/…` → `hooks.slack.com:443/…`.
fn redacted_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host.is_empty() {
        "…".into()
    } else {
        format!("{host}/…")
    }
}

/// What views show instead of the settings: enough to recognise the channel, none of its secrets.
pub fn summary(config: &ChannelConfig) -> String {
    match config {
        ChannelConfig::Webhook(c) => redacted_host(&c.url),
        ChannelConfig::Slack(c) => redacted_host(&c.webhook_url),
        ChannelConfig::Teams(c) => redacted_host(&c.webhook_url),
        ChannelConfig::Discord(c) => redacted_host(&c.webhook_url),
        ChannelConfig::Telegram(c) if c.api_base_url == upkeep_notify::DEFAULT_TELEGRAM_API => {
            format!("chat {}", c.chat_id)
        }
        ChannelConfig::Telegram(c) => {
            format!("chat {} via {}", c.chat_id, redacted_host(&c.api_base_url))
        }
        ChannelConfig::Ntfy(c) => redacted_host(&c.server_url),
        ChannelConfig::Email(c) => format!("{} via {}:{}", c.to.join(", "), c.host, c.port),
    }
}

/// `delivered`, `retry_later`, `failed` or `ambiguous`.
pub fn outcome_name(outcome: &DeliveryOutcome) -> &'static str {
    match outcome {
        DeliveryOutcome::Delivered { .. } => "delivered",
        DeliveryOutcome::RetryLater { .. } => "retry_later",
        DeliveryOutcome::Failed { .. } => "failed",
        DeliveryOutcome::Ambiguous { .. } => "ambiguous",
    }
}

/// The words that go with an outcome: how it was delivered, or why not.
pub fn outcome_text(outcome: &DeliveryOutcome) -> &str {
    match outcome {
        DeliveryOutcome::Delivered { detail } => detail,
        DeliveryOutcome::RetryLater { reason, .. }
        | DeliveryOutcome::Failed { reason }
        | DeliveryOutcome::Ambiguous { reason } => reason,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field(err: CoreError) -> String {
        match err {
            CoreError::Validation { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field() {
        let err = new_settings("webhook", json!({"url": "ftp://x", "secret": null})).unwrap_err();
        assert_eq!(field(err), "config.url");
        let err = new_settings("slack", json!({})).unwrap_err();
        assert_eq!(field(err), "config.webhook_url");
        let err = new_settings(
            "slack",
            json!({"webhook_url": "https://h/x", "channel": "#a"}),
        )
        .unwrap_err();
        assert_eq!(field(err), "config.channel");
        let err = new_settings("pager", json!({})).unwrap_err();
        assert_eq!(field(err), "kind");
        let err = new_settings("slack", json!({"kind": "teams"})).unwrap_err();
        assert_eq!(field(err), "config.kind");
        let err = new_settings("slack", json!("https://x")).unwrap_err();
        assert_eq!(field(err), "config");
        let email = json!({"host": "smtp.example.com", "port": 587, "security": "starttls",
                           "from": "pager@example.com", "to": ["ana@example.com", "nope"]});
        assert_eq!(
            field(new_settings("email", email).unwrap_err()),
            "config.to[1]"
        );
    }

    #[test]
    fn a_webhook_without_a_secret_gets_one() {
        let (config, secret) =
            new_settings("webhook", json!({"url": "https://example.com/h"})).unwrap();
        let secret = secret.unwrap();
        assert!(secret.starts_with("whsec_"));
        let ChannelConfig::Webhook(webhook) = &config else {
            panic!()
        };
        assert_eq!(webhook.secret, secret);
        // Changing the URL keeps the secret; switching kinds replaces everything.
        let (changed, none) =
            merged_settings(&config, None, json!({"url": "https://example.org/h"})).unwrap();
        assert!(none.is_none());
        let ChannelConfig::Webhook(changed) = changed else {
            panic!()
        };
        assert_eq!(
            (changed.url.as_str(), changed.secret),
            ("https://example.org/h", secret)
        );
        let (slack, _) = merged_settings(
            &config,
            Some("slack"),
            json!({"webhook_url": "https://hooks.slack.com/services/T/B/x"}),
        )
        .unwrap();
        assert_eq!(slack.kind(), ChannelKind::Slack);
    }

    #[test]
    fn summaries_hide_secrets() {
        let (slack, _) = new_settings(
            "slack",
            json!({"webhook_url": "https://hooks.slack.com/services/T0/B0/s3cret"}),
        )
        .unwrap();
        assert_eq!(summary(&slack), "hooks.slack.com/…");
        let (hook, _) = new_settings(
            "webhook",
            json!({"url": "https://user:pw@example.com:8443/h?token=s3cret"}),
        )
        .unwrap();
        assert_eq!(summary(&hook), "example.com:8443/…");
        let (ntfy, _) = new_settings(
            "ntfy",
            json!({"server_url": "https://ntfy.sh", "topic": "secret-topic", "access_token": "tk_x"}),
        )
        .unwrap();
        assert_eq!(summary(&ntfy), "ntfy.sh/…");
        let (email, _) = new_settings(
            "email",
            json!({"host": "smtp.example.com", "port": 587, "security": "starttls", "username": "u",
                   "password": "s3cret", "from": "pager@example.com", "to": ["ana@example.com"]}),
        )
        .unwrap();
        assert_eq!(summary(&email), "ana@example.com via smtp.example.com:587");
    }
}

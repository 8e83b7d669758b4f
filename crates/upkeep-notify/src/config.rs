//! Channel settings as they are saved (a serde enum tagged `kind`) and the save-time checks that name the
//! offending field, so a bad channel is refused when it is written rather than when a page is due.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::channels::{discord, email, ntfy, slack, teams, telegram, webhook};

/// One channel's settings. JSON/TOML form: `{"kind": "slack", "webhook_url": "https://hooks.slack.com/…"}`;
/// unknown fields are refused. `Debug` never shows secrets (webhook secrets and URLs, tokens, passwords).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ChannelConfig {
    Webhook(webhook::WebhookConfig),
    Slack(slack::SlackConfig),
    Teams(teams::TeamsConfig),
    Discord(discord::DiscordConfig),
    Telegram(telegram::TelegramConfig),
    Ntfy(ntfy::NtfyConfig),
    Email(email::EmailConfig),
}

impl ChannelConfig {
    pub fn kind(&self) -> ChannelKind {
        match self {
            ChannelConfig::Webhook(_) => ChannelKind::Webhook,
            ChannelConfig::Slack(_) => ChannelKind::Slack,
            ChannelConfig::Teams(_) => ChannelKind::Teams,
            ChannelConfig::Discord(_) => ChannelKind::Discord,
            ChannelConfig::Telegram(_) => ChannelKind::Telegram,
            ChannelConfig::Ntfy(_) => ChannelKind::Ntfy,
            ChannelConfig::Email(_) => ChannelKind::Email,
        }
    }
}

/// The kinds of channel, as named in the `kind` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Webhook,
    Slack,
    Teams,
    Discord,
    Telegram,
    Ntfy,
    Email,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 7] = [
        ChannelKind::Webhook,
        ChannelKind::Slack,
        ChannelKind::Teams,
        ChannelKind::Discord,
        ChannelKind::Telegram,
        ChannelKind::Ntfy,
        ChannelKind::Email,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Slack => "slack",
            ChannelKind::Teams => "teams",
            ChannelKind::Discord => "discord",
            ChannelKind::Telegram => "telegram",
            ChannelKind::Ntfy => "ntfy",
            ChannelKind::Email => "email",
        }
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A setting that is not acceptable, naming it (`url`, `to[1]`, `body_template`, …).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Save-time checks: URL shapes and schemes, required values, email addresses, the body template. Does not
/// connect anywhere and does not apply the outbound address policy (the send does).
pub fn validate(config: &ChannelConfig) -> Result<(), FieldError> {
    match config {
        ChannelConfig::Webhook(c) => webhook::validate(c),
        ChannelConfig::Slack(c) => check_http_url("webhook_url", &c.webhook_url).map(drop),
        ChannelConfig::Teams(c) => check_http_url("webhook_url", &c.webhook_url).map(drop),
        ChannelConfig::Discord(c) => check_http_url("webhook_url", &c.webhook_url).map(drop),
        ChannelConfig::Telegram(c) => telegram::validate(c),
        ChannelConfig::Ntfy(c) => ntfy::validate(c),
        ChannelConfig::Email(c) => email::validate(c),
    }
}

/// An absolute http(s) URL with a host.
pub(crate) fn check_http_url(field: &str, value: &str) -> Result<url::Url, FieldError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(FieldError::new(field, "a URL is required"));
    }
    let url = url::Url::parse(value)
        .map_err(|e| FieldError::new(field, format!("not a valid URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FieldError::new(
            field,
            format!("must be an http or https URL, not {}:", url.scheme()),
        ));
    }
    if !url.has_host() || url.host_str() == Some("") {
        return Err(FieldError::new(field, "the URL has no host"));
    }
    Ok(url)
}

/// `https://hooks.slack.com/…`: enough of a secret-bearing URL to recognise it in `Debug` output.
pub(crate) fn redact_url(value: &str) -> String {
    match url::Url::parse(value) {
        Ok(url) => format!("{}://{}/…", url.scheme(), url.host_str().unwrap_or("")),
        Err(_) => "…".to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn tagged_by_kind_and_unknown_fields_refused() {
        let config: ChannelConfig = serde_json::from_str(
            r#"{"kind":"slack","webhook_url":"https://hooks.slack.com/services/T/B/x"}"#,
        )
        .unwrap();
        assert_eq!(config.kind(), ChannelKind::Slack);
        let error = serde_json::from_str::<ChannelConfig>(
            r##"{"kind":"slack","webhook_url":"https://hooks.slack.com/x","channel":"#ops"}"##,
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("unknown field `channel`"),
            "{error}"
        );
        let error = serde_json::from_str::<ChannelConfig>(r#"{"kind":"pager"}"#).unwrap_err();
        assert!(
            error.to_string().contains("unknown variant `pager`"),
            "{error}"
        );
    }

    #[test]
    fn round_trips_and_defaults() {
        let config: ChannelConfig =
            serde_json::from_str(r#"{"kind":"telegram","bot_token":"1:abc","chat_id":"-100"}"#)
                .unwrap();
        let ChannelConfig::Telegram(t) = &config else {
            panic!("{config:?}")
        };
        assert_eq!(t.api_base_url, crate::DEFAULT_TELEGRAM_API);
        let back: ChannelConfig =
            serde_json::from_value(serde_json::to_value(&config).unwrap()).unwrap();
        assert_eq!(back, config);
    }

    #[test]
    fn debug_hides_secrets() {
        let config: ChannelConfig = serde_json::from_str(
            r#"{"kind":"webhook","url":"https://example.com/hook?token=s3cret","secret":"whsec_c2VjcmV0"}"#,
        )
        .unwrap();
        let text = format!("{config:?}");
        assert!(
            !text.contains("s3cret") && !text.contains("c2VjcmV0"),
            "{text}"
        );
        assert!(text.contains("example.com"), "{text}");
    }
}

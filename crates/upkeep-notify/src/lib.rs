//! upkeep's notification channels and the one guarded HTTP client for user-given URLs: this crate turns a
//! [`Notification`] into the exact request each channel expects (signed webhook, Slack, Microsoft Teams,
//! Discord, Telegram, ntfy, SMTP email), sends it, and says what came of it as a [`DeliveryOutcome`].
//!
//! It knows nothing of storage, routes or scheduling: the outbox that decides *when* to send, retries
//! [`DeliveryOutcome::RetryLater`] and records the outcome lives elsewhere and calls [`send`].
//!
//! # Using it
//!
//! ```no_run
//! # async fn demo(config: upkeep_notify::ChannelConfig, notification: upkeep_notify::Notification)
//! #     -> Result<(), upkeep_notify::OutboundError> {
//! use upkeep_notify::{GuardedClient, OutboundPolicy, send, validate};
//!
//! // Once per process: blocks private/loopback/link-local/… addresses by default.
//! let client = GuardedClient::new(OutboundPolicy::default())?;
//! // When the channel is saved: every problem names its field.
//! if let Err(problem) = validate(&config) {
//!     eprintln!("{}: {}", problem.field, problem.message);
//! }
//! // When the outbox sends:
//! let outcome = send(&client, &config, &notification).await;
//! # let _ = outcome; Ok(()) }
//! ```
//!
//! # Outcomes
//!
//! * [`DeliveryOutcome::Delivered`]: the receiver accepted it (2xx; SMTP 250 after the message data).
//! * [`DeliveryOutcome::RetryLater`]: certainly not delivered, and worth trying again: HTTP 408, 429 and 5xx
//!   (with the delay from `Retry-After`, in seconds or as an HTTP date, or Telegram's `retry_after`), a
//!   connection that could not be made (refused, reset, DNS failure, connect timeout), SMTP 4xx replies.
//! * [`DeliveryOutcome::Failed`]: certainly not delivered, and trying again will not help until someone
//!   changes something: other 4xx, redirects (they are not followed), SMTP 5xx (e.g.
//!   `SMTP server refused the login: 535 5.7.8 …`), an address the outbound policy blocks, a bad configuration.
//! * [`DeliveryOutcome::Ambiguous`]: the request went out and then the answer did not come (timeout, connection
//!   dropped): it may or may not have been delivered.
//!
//! # Ambiguity policy: what to do with an ambiguous send
//!
//! [`ambiguity_policy`] answers per channel kind. The rule: repeat an ambiguous send only where the receiver
//! can recognise the repeat, so the cost of a repeat is nothing; elsewhere a repeat is a second page to a
//! person, and a missed page is already covered by escalation (an unacknowledged incident escalates and
//! reminds), so upkeep prefers at most once there, like GoAlert does (a send whose deadline expired becomes
//! failed and is never repeated).
//!
//! | Kind | Policy | Why |
//! |---|---|---|
//! | `webhook` | at least once | every request carries `webhook-id` and `Idempotency-Key` = the idempotency key; the Standard Webhooks spec tells receivers to de-duplicate on `webhook-id` |
//! | `email` | at least once | the `Message-ID` is derived from the idempotency key, so a repeat is the *same* message (mail stores such as Gmail collapse it); a duplicate email does not ring a phone |
//! | `slack`, `teams`, `discord`, `telegram` | at most once | chat webhooks have no idempotency key: a repeat is a second message and a second push to everyone in the channel |
//! | `ntfy` | at most once | a push to phones with no de-duplication; a repeat is a second alarm |
//!
//! # Outbound safety
//!
//! Every HTTP request goes through [`GuardedClient`]: only `http`/`https`, connect and total timeouts, a cap
//! on the response bytes read, redirects never followed, no proxy from the environment, user agent
//! `upkeep/<version>`, and (by default) a refusal of private, loopback, link-local, unique-local, CGNAT,
//! unspecified, multicast and reserved addresses, checked on the addresses a name *resolves to* (so DNS
//! rebinding to 127.0.0.1 is refused) and on IP-literal URLs. The email channel applies the same address
//! policy to the SMTP server it connects to.

pub mod channels;
pub mod config;
pub mod message;
pub mod outbound;
pub mod outcome;
mod render;
pub mod template;

pub use channels::discord::DiscordConfig;
pub use channels::email::{EmailConfig, SmtpSecurity, message_id};
pub use channels::ntfy::NtfyConfig;
pub use channels::slack::SlackConfig;
pub use channels::teams::TeamsConfig;
pub use channels::telegram::{DEFAULT_TELEGRAM_API, TelegramConfig};
pub use channels::webhook::{
    WebhookConfig, WebhookSecretError, default_webhook_body, generate_webhook_secret, sign_webhook,
};
pub use config::{ChannelConfig, ChannelKind, FieldError, validate};
pub use message::{BundledIncident, IncidentStatus, Notification, NotificationError, Severity};
pub use outbound::{
    BlockedAddress, GuardedClient, OutboundError, OutboundPolicy, OutboundResponse, USER_AGENT,
};
pub use outcome::{AmbiguityPolicy, DeliveryOutcome, ambiguity_policy, parse_retry_after};

/// Sends one notification over one channel and says what came of it. Never panics and never returns an
/// error: a bad notification or configuration is [`DeliveryOutcome::Failed`] with the reason.
pub async fn send(
    client: &GuardedClient,
    config: &ChannelConfig,
    notification: &Notification,
) -> DeliveryOutcome {
    if let Err(problem) = notification.check() {
        return DeliveryOutcome::Failed {
            reason: problem.to_string(),
        };
    }
    if let Err(problem) = validate(config) {
        return DeliveryOutcome::Failed {
            reason: format!("the channel configuration is not valid: {problem}"),
        };
    }
    match config {
        ChannelConfig::Webhook(c) => channels::webhook::send(client, c, notification).await,
        ChannelConfig::Slack(c) => channels::slack::send(client, c, notification).await,
        ChannelConfig::Teams(c) => channels::teams::send(client, c, notification).await,
        ChannelConfig::Discord(c) => channels::discord::send(client, c, notification).await,
        ChannelConfig::Telegram(c) => channels::telegram::send(client, c, notification).await,
        ChannelConfig::Ntfy(c) => channels::ntfy::send(client, c, notification).await,
        ChannelConfig::Email(c) => channels::email::send(client.policy(), c, notification).await,
    }
}

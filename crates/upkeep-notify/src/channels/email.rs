//! Email over SMTP (lettre's async connection, driven step by step so every failure is known to have
//! happened before or after the message data was sent): a plain-text message with the reason and the links,
//! and a `Message-ID` derived from the idempotency key so a repeat is recognisably the same message.
//!
//! Message: `From`, `To` (every recipient), `Subject: [Triggered] [critical] Database down (checkout)`,
//! `Message-ID: <{first 32 hex digits of SHA-256(idempotency key)}.upkeep@{domain of from}>`,
//! `Auto-Submitted: auto-generated` (RFC 3834: no vacation replies), `Content-Type: text/plain;
//! charset=utf-8`, and the body: headline, service, summary, `Why you got this: …`, `Acknowledge: <url>`,
//! `Resolve: <url>`, `Incident: <url>`, then the bundle lines.
//!
//! Conversation: connect (implicit TLS with `security = "tls"`), EHLO, STARTTLS and EHLO again with
//! `security = "starttls"` (refused if the server does not offer it), AUTH PLAIN or LOGIN when a username is
//! set, MAIL FROM, RCPT TO per recipient, DATA, QUIT. The SMTP server's resolved addresses pass the same
//! outbound address policy as HTTP requests. `security = "none"` sends credentials in clear text: meant for a
//! relay on a trusted network only.

use std::error::Error as StdError;
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::FieldError;
use crate::message::Notification;
use crate::outbound::{OutboundPolicy, describe, filter_resolved, fmt_duration};
use crate::outcome::DeliveryOutcome;
use crate::render;

type SmtpError = lettre::transport::smtp::Error;

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain text (port 25 relays on a trusted network).
    None,
    /// Plain connection upgraded with STARTTLS, required (usually port 587).
    Starttls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

/// `{"kind": "email", "host": "smtp.example.com", "port": 587, "security": "starttls", "username": "…",
/// "password": "…", "from": "upkeep <pager@example.com>", "to": ["ana@example.com"]}`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// `pager@example.com` or `upkeep <pager@example.com>`.
    pub from: String,
    pub to: Vec<String>,
}

impl fmt::Debug for EmailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("from", &self.from)
            .field("to", &self.to)
            .finish()
    }
}

pub(crate) fn validate(c: &EmailConfig) -> Result<(), FieldError> {
    let host = c.host.trim();
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && (host.parse::<IpAddr>().is_ok()
            || host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'));
    if !host_ok {
        return Err(FieldError::new(
            "host",
            "must be a host name or an IP address",
        ));
    }
    if c.port == 0 {
        return Err(FieldError::new("port", "must be between 1 and 65535"));
    }
    match (&c.username, &c.password) {
        (Some(user), _) if user.trim().is_empty() => {
            return Err(FieldError::new("username", "must not be empty when set"));
        }
        (None, Some(_)) => {
            return Err(FieldError::new(
                "username",
                "is required when a password is set",
            ));
        }
        _ => {}
    }
    c.from
        .parse::<Mailbox>()
        .map_err(|e| FieldError::new("from", format!("not a valid email address ({e})")))?;
    if c.to.is_empty() {
        return Err(FieldError::new("to", "at least one recipient is required"));
    }
    for (i, to) in c.to.iter().enumerate() {
        to.parse::<Mailbox>().map_err(|e| {
            FieldError::new(
                format!("to[{i}]"),
                format!("not a valid email address ({e})"),
            )
        })?;
    }
    Ok(())
}

/// The `Message-ID` for a notification: `<{32 hex digits of SHA-256(key)}.upkeep@{domain of from}>`; the
/// same key always gives the same id.
pub fn message_id(idempotency_key: &str, from: &str) -> String {
    let digest = Sha256::digest(idempotency_key.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    let domain = from
        .parse::<Mailbox>()
        .map(|m| m.email.domain().to_string())
        .unwrap_or_else(|_| "upkeep.invalid".to_string());
    format!("<{hex}.upkeep@{domain}>")
}

/// `Auto-Submitted: auto-generated` (RFC 3834).
#[derive(Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn StdError + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_string())
    }
}

/// The message as it will be sent.
pub fn build_message(c: &EmailConfig, n: &Notification) -> Result<Message, String> {
    let from: Mailbox = c
        .from
        .parse()
        .map_err(|e| format!("from is not a valid email address: {e}"))?;
    let mut builder = Message::builder()
        .from(from)
        .subject(render::subject(n))
        .message_id(Some(message_id(&n.idempotency_key, &c.from)))
        .header(AutoSubmitted)
        .header(ContentType::TEXT_PLAIN);
    for to in &c.to {
        let to: Mailbox = to
            .parse()
            .map_err(|e| format!("{to:?} is not a valid email address: {e}"))?;
        builder = builder.to(to);
    }
    builder
        .body(format!("{}\n", render::plain_text(n)))
        .map_err(|e| format!("could not build the email: {e}"))
}

const CONNECTING: u8 = 0;
const ENVELOPE: u8 = 1;
const DATA_SENT: u8 = 2;
const ACCEPTED: u8 = 3;

pub(crate) async fn send(
    policy: &OutboundPolicy,
    c: &EmailConfig,
    n: &Notification,
) -> DeliveryOutcome {
    let message = match build_message(c, n) {
        Ok(message) => message,
        Err(reason) => return DeliveryOutcome::Failed { reason },
    };
    let phase = AtomicU8::new(CONNECTING);
    let conversation = converse(policy, c, &message, &phase);
    match tokio::time::timeout(policy.request_timeout, conversation).await {
        Ok(outcome) => outcome,
        Err(_) => {
            let limit = fmt_duration(policy.request_timeout);
            match phase.load(Ordering::SeqCst) {
                DATA_SENT => DeliveryOutcome::Ambiguous {
                    reason: format!(
                        "the SMTP server did not confirm the message within {limit} after it was sent; \
                         it may or may not have been delivered"
                    ),
                },
                ACCEPTED => DeliveryOutcome::Delivered {
                    detail: "the SMTP server accepted the message".to_string(),
                },
                _ => DeliveryOutcome::RetryLater {
                    after: None,
                    reason: format!(
                        "the SMTP conversation timed out after {limit}, before the message was sent"
                    ),
                },
            }
        }
    }
}

/// The SMTP reply of an error (`535 5.7.8 Authentication credentials invalid`), or the error in words.
fn reply(error: &SmtpError) -> String {
    match error.status() {
        Some(code) => {
            let text = error.source().map(|s| s.to_string()).unwrap_or_default();
            format!("{code} {text}").trim().to_string()
        }
        None => describe(error),
    }
}

/// Failed for a 5xx reply, retry later for a 4xx reply or a broken connection (nothing was sent yet).
fn before_data(what: &str, error: &SmtpError) -> DeliveryOutcome {
    if error.is_permanent() {
        DeliveryOutcome::Failed {
            reason: format!("SMTP server refused {what}: {}", reply(error)),
        }
    } else {
        DeliveryOutcome::RetryLater {
            after: None,
            reason: format!("SMTP server did not take {what}: {}", reply(error)),
        }
    }
}

async fn converse(
    policy: &OutboundPolicy,
    c: &EmailConfig,
    message: &Message,
    phase: &AtomicU8,
) -> DeliveryOutcome {
    let host = c.host.trim();
    let retry = |reason: String| DeliveryOutcome::RetryLater {
        after: None,
        reason,
    };
    let lookup = tokio::net::lookup_host((host, c.port));
    let mut addrs: Vec<_> = match tokio::time::timeout(policy.connect_timeout, lookup).await {
        Ok(Ok(found)) => found.collect(),
        Ok(Err(e)) => return retry(format!("could not resolve the SMTP server {host}: {e}")),
        Err(_) => return retry(format!("resolving the SMTP server {host} timed out")),
    };
    if policy.block_private_addresses {
        addrs = match filter_resolved(host, addrs) {
            Ok(allowed) => allowed,
            Err(mut blocked) => {
                if host.parse::<IpAddr>().is_ok() {
                    blocked.host = None;
                }
                return DeliveryOutcome::Failed {
                    reason: format!("SMTP server: {blocked}"),
                };
            }
        };
    }
    let tls = || {
        TlsParameters::new(host.to_string()).map_err(|e| DeliveryOutcome::Failed {
            reason: format!("could not set up TLS for {host}: {}", describe(&e)),
        })
    };
    let implicit_tls = match c.security {
        SmtpSecurity::Tls => match tls() {
            Ok(params) => Some(params),
            Err(outcome) => return outcome,
        },
        SmtpSecurity::None | SmtpSecurity::Starttls => None,
    };
    let hello = ClientId::default();
    let mut last = retry(format!("the SMTP server {host} has no address"));
    let mut connection = None;
    for addr in addrs {
        let attempt = AsyncSmtpConnection::connect_tokio1(
            addr,
            Some(policy.connect_timeout),
            &hello,
            implicit_tls.clone(),
            None,
        )
        .await;
        match attempt {
            Ok(conn) => {
                connection = Some(conn);
                break;
            }
            Err(e) if e.is_permanent() => return before_data("the connection", &e),
            Err(e) => {
                last = retry(format!(
                    "could not connect to the SMTP server {addr}: {}",
                    reply(&e)
                ))
            }
        }
    }
    let Some(mut conn) = connection else {
        return last;
    };
    if c.security == SmtpSecurity::Starttls {
        if !conn.can_starttls() {
            return DeliveryOutcome::Failed {
                reason:
                    "the SMTP server does not offer STARTTLS, which security = starttls requires"
                        .to_string(),
            };
        }
        let params = match tls() {
            Ok(params) => params,
            Err(outcome) => return outcome,
        };
        if let Err(e) = conn.starttls(params, &hello).await {
            return before_data("STARTTLS", &e);
        }
    }
    if let Some(user) = &c.username {
        let credentials = Credentials::new(user.clone(), c.password.clone().unwrap_or_default());
        if let Err(e) = conn
            .auth(&[Mechanism::Plain, Mechanism::Login], &credentials)
            .await
        {
            return match (e.is_permanent(), e.is_client()) {
                (true, _) => DeliveryOutcome::Failed {
                    reason: format!("SMTP server refused the login: {}", reply(&e)),
                },
                (false, true) => DeliveryOutcome::Failed {
                    reason: format!(
                        "SMTP server offers no login method upkeep supports (PLAIN, LOGIN): {}",
                        describe(&e)
                    ),
                },
                (false, false) => before_data("the login", &e),
            };
        }
    }

    phase.store(ENVELOPE, Ordering::SeqCst);
    let envelope = message.envelope();
    let bytes = message.formatted();
    let mut mail_options = Vec::new();
    let mut all_addresses = envelope.from().into_iter().chain(envelope.to());
    if all_addresses.any(|a| !AsRef::<str>::as_ref(a).is_ascii()) {
        if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
            return DeliveryOutcome::Failed {
                reason: "an address is not ASCII and the SMTP server does not support SMTPUTF8"
                    .to_string(),
            };
        }
        mail_options.push(MailParameter::SmtpUtfEight);
    }
    if !bytes.is_ascii() {
        if !conn.server_info().supports_feature(Extension::EightBitMime) {
            return DeliveryOutcome::Failed {
                reason: "the message is not ASCII and the SMTP server does not support 8BITMIME"
                    .to_string(),
            };
        }
        mail_options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    let sender = envelope.from().cloned();
    if let Err(e) = conn.command(Mail::new(sender, mail_options)).await {
        return before_data(&format!("the sender {}", c.from.trim()), &e);
    }
    for to in envelope.to() {
        if let Err(e) = conn.command(Rcpt::new(to.clone(), Vec::new())).await {
            return before_data(&format!("the recipient {to}"), &e);
        }
    }
    if let Err(e) = conn.command(Data).await {
        return before_data("the message", &e);
    }

    phase.store(DATA_SENT, Ordering::SeqCst);
    let accepted = match conn.message(&bytes).await {
        Ok(response) => response,
        Err(e) if e.is_permanent() => {
            return DeliveryOutcome::Failed {
                reason: format!("SMTP server refused the message: {}", reply(&e)),
            };
        }
        Err(e) if e.is_transient() => {
            return DeliveryOutcome::RetryLater {
                after: None,
                reason: format!("SMTP server did not take the message: {}", reply(&e)),
            };
        }
        Err(e) => {
            return DeliveryOutcome::Ambiguous {
                reason: format!(
                    "the SMTP exchange broke after the message was sent ({}); it may or may not have \
                     been delivered",
                    reply(&e)
                ),
            };
        }
    };
    phase.store(ACCEPTED, Ordering::SeqCst);
    let detail = format!(
        "SMTP server accepted the message: {} {}",
        accepted.code(),
        accepted.message().collect::<Vec<&str>>().join(" ")
    );
    // Politeness only: the message is already accepted.
    let _ = tokio::time::timeout(Duration::from_secs(1), conn.quit()).await;
    DeliveryOutcome::Delivered {
        detail: detail.trim().to_string(),
    }
}

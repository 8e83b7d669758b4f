//! What a delivery attempt came to, how HTTP answers and transport errors map onto that, and what to do with
//! an ambiguous send per channel kind (see the crate documentation for the rationale).

use std::time::Duration;

use crate::config::ChannelKind;
use crate::outbound::{OutboundError, OutboundResponse, fmt_duration};

/// The longest `Retry-After` honoured; longer requests are clamped to it.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// What came of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The receiver accepted the message. `detail` says how (status, message id).
    Delivered { detail: String },
    /// Certainly not delivered; try again, after `after` when the receiver said so.
    RetryLater {
        after: Option<Duration>,
        reason: String,
    },
    /// Certainly not delivered, and trying again will not help until something is changed.
    Failed { reason: String },
    /// Sent, then no answer: it may or may not have been delivered. See [`ambiguity_policy`].
    Ambiguous { reason: String },
}

impl DeliveryOutcome {
    pub fn is_delivered(&self) -> bool {
        matches!(self, DeliveryOutcome::Delivered { .. })
    }
}

/// What to do with a [`DeliveryOutcome::Ambiguous`] send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmbiguityPolicy {
    /// Send again: the receiver recognises repeats (idempotency key, Message-ID).
    AtLeastOnce,
    /// Do not send again: a repeat would be a second page to a person; escalation covers a lost one.
    AtMostOnce,
}

/// The ambiguity policy of a channel kind; the table and the reasons are in the crate documentation.
pub fn ambiguity_policy(kind: ChannelKind) -> AmbiguityPolicy {
    match kind {
        ChannelKind::Webhook | ChannelKind::Email => AmbiguityPolicy::AtLeastOnce,
        ChannelKind::Slack
        | ChannelKind::Teams
        | ChannelKind::Discord
        | ChannelKind::Telegram
        | ChannelKind::Ntfy => AmbiguityPolicy::AtMostOnce,
    }
}

/// A `Retry-After` value as a delay from `now`: delay-seconds (`120`) or an HTTP date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`; a date in the past is zero). Clamped to [`MAX_RETRY_AFTER`].
pub fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let delay = if value.bytes().all(|b| b.is_ascii_digit()) {
        Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let at = jiff::fmt::rfc2822::DateTimeParser::new()
            .parse_timestamp(value)
            .ok()?;
        let millis = at.as_millisecond().saturating_sub(now.as_millisecond());
        Duration::from_millis(u64::try_from(millis).unwrap_or(0))
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

/// A delay in seconds given as a JSON number (Telegram's and Discord's `retry_after`).
pub(crate) fn seconds_from_json(value: &serde_json::Value) -> Option<Duration> {
    let secs = value.as_f64()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(
        secs.min(MAX_RETRY_AFTER.as_secs_f64()),
    ))
}

/// The usual reading of an HTTP answer from `receiver` (`the webhook`, `Slack`, …): 2xx delivered; 408, 429
/// and 5xx retry later (after `Retry-After`); 3xx failed (redirects are not followed); other 4xx failed.
pub(crate) fn from_http(receiver: &str, response: &OutboundResponse) -> DeliveryOutcome {
    let status = response.status;
    let code = status.as_u16();
    let snippet = response.body_snippet();
    let answered = if snippet.is_empty() {
        format!("{receiver} answered {status}")
    } else {
        format!("{receiver} answered {status}: {snippet}")
    };
    if status.is_success() {
        return DeliveryOutcome::Delivered { detail: answered };
    }
    if code == 408 || code == 429 || status.is_server_error() {
        let after = response
            .header("retry-after")
            .and_then(|v| parse_retry_after(v, jiff::Timestamp::now()));
        return DeliveryOutcome::RetryLater {
            after,
            reason: answered,
        };
    }
    if status.is_redirection() {
        let location = response.header("location").unwrap_or("nowhere");
        return DeliveryOutcome::Failed {
            reason: format!(
                "{receiver} answered {status} redirecting to {location}; redirects are not followed, \
                 so the URL needs updating"
            ),
        };
    }
    DeliveryOutcome::Failed { reason: answered }
}

/// The outcome of a request that produced no response.
pub(crate) fn from_error(receiver: &str, error: OutboundError) -> DeliveryOutcome {
    match error {
        OutboundError::Connect(_) => DeliveryOutcome::RetryLater {
            after: None,
            reason: format!("{receiver}: {error}"),
        },
        OutboundError::Timeout(after) => DeliveryOutcome::Ambiguous {
            reason: format!(
                "{receiver} did not answer within {} after the request was sent; it may or may not have \
                 been delivered",
                fmt_duration(after)
            ),
        },
        OutboundError::Request(_) => DeliveryOutcome::Ambiguous {
            reason: format!("{receiver}: {error}; it may or may not have been delivered"),
        },
        OutboundError::InvalidUrl(_)
        | OutboundError::UnsupportedScheme(_)
        | OutboundError::Blocked(_)
        | OutboundError::Build(_) => DeliveryOutcome::Failed {
            reason: format!("{receiver}: {error}"),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now: jiff::Timestamp = "2015-10-21T07:20:00Z".parse().unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(480))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn every_kind_has_a_policy() {
        use AmbiguityPolicy::*;
        let expected = [
            (ChannelKind::Webhook, AtLeastOnce),
            (ChannelKind::Email, AtLeastOnce),
            (ChannelKind::Slack, AtMostOnce),
            (ChannelKind::Teams, AtMostOnce),
            (ChannelKind::Discord, AtMostOnce),
            (ChannelKind::Telegram, AtMostOnce),
            (ChannelKind::Ntfy, AtMostOnce),
        ];
        assert_eq!(expected.len(), ChannelKind::ALL.len());
        for (kind, policy) in expected {
            assert_eq!(ambiguity_policy(kind), policy, "{kind:?}");
        }
    }
}

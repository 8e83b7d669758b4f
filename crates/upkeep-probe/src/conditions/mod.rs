//! Gatus-compatible conditions that judge an [`Observation`]: `[STATUS] == 200`, `[RESPONSE_TIME] < 300`,
//! `[BODY].data[0].id == 7`, `len([BODY].items) > 0`, `[BODY] == pat(*ok*)`, `[STATUS] == any(200, 429)`,
//! `[CERTIFICATE_EXPIRATION] > 48h`, `[CONNECTED] == true`.
//!
//! A condition is `<left> <operator> <right>`, the operator surrounded by spaces and tried in the order
//! ` == `, ` != `, ` <= `, ` >= `, ` > `, ` < ` (an occurrence inside parentheses or brackets is skipped when
//! another one exists outside them, so `[BODY] != pat(* == *)` splits on `!=`). Conditions are parsed once with
//! [`Condition::parse`], which reports mistakes with the byte position where they start, and then evaluated
//! any number of times with [`Condition::evaluate`], which never panics and explains what it compared.
//!
//! Comparisons are numeric when both sides are numbers (`1.0 == 1`), otherwise exact string equality.
//! Ordering operators also accept durations (`48h`, `1h30m`, `500ms`, `7d`) and fail with an explanation when a
//! side is neither a number nor a duration.

mod compare;
mod duration;
mod eval;
mod jsonpath;
mod operator;
mod parse;
#[cfg(test)]
mod tests;
mod validate;

use std::fmt;

use crate::Observation;

/// One parsed condition, e.g. `[STATUS] == 200`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    text: String,
    left: parse::Side,
    operator: operator::Operator,
    right: parse::Side,
}

impl Condition {
    /// Parse one condition; errors say what is wrong and at which character position (0-based byte offset into
    /// the text).
    pub fn parse(text: &str) -> Result<Condition, ConditionError> {
        let parse::Parsed {
            left,
            operator,
            right,
        } = parse::parse(text)?;
        Ok(Condition {
            text: text.to_string(),
            left,
            operator,
            right,
        })
    }

    /// The original text, as given to [`Condition::parse`].
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The placeholders the condition uses, each once, in order of appearance (so a DNS check can refuse
    /// `[STATUS]`, and a check can skip reading a body nobody looks at).
    pub fn placeholders(&self) -> Vec<Placeholder> {
        let mut found = Vec::new();
        for side in [&self.left, &self.right] {
            if let Some(placeholder) = side.operand.placeholder()
                && !found.contains(&placeholder)
            {
                found.push(placeholder);
            }
        }
        found
    }

    /// Judge an observation. Never panics.
    pub fn evaluate(&self, observation: &Observation) -> ConditionResult {
        eval::evaluate(self, observation)
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Condition {
    type Err = ConditionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Condition::parse(text)
    }
}

impl serde::Serialize for Condition {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Condition {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Condition::parse(&text).map_err(|error| {
            serde::de::Error::custom(format!("invalid condition `{text}` {error}"))
        })
    }
}

/// Why a condition could not be parsed, and where (0-based byte offset into the condition's text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at position {position}: {message}")]
pub struct ConditionError {
    pub position: usize,
    pub message: String,
}

/// A value a condition can refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placeholder {
    /// `[STATUS]`: the HTTP status code.
    Status,
    /// `[RESPONSE_TIME]`: the check's total time, in whole milliseconds.
    ResponseTime,
    /// `[BODY]`, with or without a JSON path (`[BODY].data[0].id`).
    Body,
    /// `[IP]`: the address connected to.
    Ip,
    /// `[CONNECTED]`: `true` or `false`.
    Connected,
    /// `[CERTIFICATE_EXPIRATION]`: time left before the certificate expires.
    CertificateExpiration,
    /// `[DNS_RCODE]`: e.g. `NOERROR`.
    DnsRcode,
}

impl Placeholder {
    /// Every placeholder, in the order the documentation lists them.
    pub const ALL: [Placeholder; 7] = [
        Placeholder::Status,
        Placeholder::ResponseTime,
        Placeholder::Body,
        Placeholder::Ip,
        Placeholder::Connected,
        Placeholder::CertificateExpiration,
        Placeholder::DnsRcode,
    ];

    /// How the placeholder is written in a condition, e.g. `[STATUS]`.
    pub fn token(self) -> &'static str {
        match self {
            Placeholder::Status => "[STATUS]",
            Placeholder::ResponseTime => "[RESPONSE_TIME]",
            Placeholder::Body => "[BODY]",
            Placeholder::Ip => "[IP]",
            Placeholder::Connected => "[CONNECTED]",
            Placeholder::CertificateExpiration => "[CERTIFICATE_EXPIRATION]",
            Placeholder::DnsRcode => "[DNS_RCODE]",
        }
    }

    /// The placeholder named `name` (what is inside the brackets), case-insensitively like Gatus.
    fn from_name(name: &str) -> Option<Placeholder> {
        Placeholder::ALL.into_iter().find(|placeholder| {
            let token = placeholder.token();
            token[1..token.len() - 1].eq_ignore_ascii_case(name)
        })
    }
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.token())
    }
}

/// The verdict on one condition.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ConditionResult {
    /// The condition's text.
    pub condition: String,
    pub success: bool,
    /// What was compared, Gatus style, e.g. "[STATUS] (503) == 200".
    pub explanation: String,
}

/// Evaluate several; convenience.
pub fn evaluate_all(conditions: &[Condition], observation: &Observation) -> Vec<ConditionResult> {
    conditions
        .iter()
        .map(|condition| condition.evaluate(observation))
        .collect()
}

//! Checks on a parsed condition that need both sides: what a placeholder can be compared with
//! (`[STATUS]` with numbers, `[CERTIFICATE_EXPIRATION]` with durations, `[CONNECTED]` with true or false),
//! where `pat()`/`any()` may appear, and that a placeholder is used at all.

use super::compare::parse_number;
use super::duration::parse_duration;
use super::operator::Operator;
use super::parse::{Operand, Parsed, Side, error};
use super::{ConditionError, Placeholder};

/// What kind of value a side resolves to, as far as the literal on the other side is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `[STATUS]`, `len(...)`.
    Number,
    /// `[RESPONSE_TIME]`, `[CERTIFICATE_EXPIRATION]`: milliseconds or a duration.
    Duration,
    /// `[CONNECTED]`, `has(...)`.
    Bool,
    /// `[BODY]`, `[IP]`, `[DNS_RCODE]`: anything.
    Text,
}

impl Kind {
    pub(super) fn of(operand: &Operand) -> Option<Kind> {
        Some(match operand {
            Operand::Target(target) => match target.placeholder {
                Placeholder::Status => Kind::Number,
                Placeholder::ResponseTime | Placeholder::CertificateExpiration => Kind::Duration,
                Placeholder::Connected => Kind::Bool,
                Placeholder::Body | Placeholder::Ip | Placeholder::DnsRcode => Kind::Text,
            },
            Operand::Len(_) => Kind::Number,
            Operand::Has(_) => Kind::Bool,
            Operand::Pattern(_) | Operand::Any(_) | Operand::Literal(_) => return None,
        })
    }
}

pub(super) fn validate(parsed: &mut Parsed) -> Result<(), ConditionError> {
    let operator = parsed.operator;
    if parsed.left.operand.placeholder().is_none() && parsed.right.operand.placeholder().is_none() {
        let allowed = Placeholder::ALL.map(Placeholder::token).join(", ");
        return Err(error(
            0,
            format!("neither side uses a placeholder; expected one of {allowed}"),
        ));
    }
    if operator.is_ordering() {
        let function = match parsed.right.operand {
            Operand::Pattern(_) => Some("pat"),
            Operand::Any(_) => Some("any"),
            _ => None,
        };
        if let Some(function) = function {
            let message = format!(
                "{function}() only works with `==` and `!=`, not `{}`",
                operator.symbol()
            );
            return Err(error(parsed.right.position, message));
        }
    }
    check(&parsed.left, &mut parsed.right, operator)?;
    check(&parsed.right, &mut parsed.left, operator)
}

/// Check (and normalise) what `other` compares `subject` with.
fn check(subject: &Side, other: &mut Side, operator: Operator) -> Result<(), ConditionError> {
    let Some(kind) = Kind::of(&subject.operand) else {
        return Ok(());
    };
    if kind == Kind::Bool && operator.is_ordering() {
        let message = format!(
            "`{}` is true or false; compare it with `==` or `!=`",
            subject.text
        );
        return Err(error(subject.position, message));
    }
    match &mut other.operand {
        Operand::Literal(text) => check_literal(kind, subject, text, other.position, operator),
        Operand::Any(items) => items.iter_mut().try_for_each(|item| {
            check_literal(kind, subject, &mut item.text, item.position, operator)
        }),
        _ => Ok(()),
    }
}

fn check_literal(
    kind: Kind,
    subject: &Side,
    text: &mut String,
    position: usize,
    operator: Operator,
) -> Result<(), ConditionError> {
    match kind {
        Kind::Number if parse_number(text).is_none() => {
            let message = format!(
                "`{text}` is not a number; `{}` is compared with numbers",
                subject.text
            );
            Err(error(position, message))
        }
        Kind::Duration if parse_number(text).is_none() => match parse_duration(text) {
            Ok(_) => Ok(()),
            Err((offset, why)) => {
                let hint = match subject.operand.placeholder() {
                    Some(Placeholder::ResponseTime) => {
                        "milliseconds such as 300 or durations such as 1.5s"
                    }
                    _ => "durations such as 48h, 7d or 1h30m",
                };
                let message = format!(
                    "invalid duration `{text}`: {why}; `{}` is compared with {hint}",
                    subject.text
                );
                Err(error(position + offset, message))
            }
        },
        Kind::Bool => {
            let lower = text.to_ascii_lowercase();
            if lower != "true" && lower != "false" {
                let message = format!(
                    "`{text}` is not true or false; `{}` is true or false",
                    subject.text
                );
                return Err(error(position, message));
            }
            *text = lower;
            Ok(())
        }
        Kind::Text
            if operator.is_ordering()
                && parse_number(text).is_none()
                && parse_duration(text).is_err() =>
        {
            let message = format!(
                "`{text}` is neither a number nor a duration; `{}` compares numbers or durations",
                operator.symbol()
            );
            Err(error(position, message))
        }
        Kind::Number | Kind::Duration | Kind::Text => Ok(()),
    }
}

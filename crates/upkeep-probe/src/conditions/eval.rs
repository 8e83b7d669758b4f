//! Evaluating a parsed condition against an [`Observation`], with a Gatus-style explanation
//! (`[STATUS] (503) == 200`). Never panics; a value that is missing fails the condition and says why.

use std::cell::OnceCell;
use std::cmp::Ordering;

use serde_json::Value;

use super::compare::{Num, compare, glob_match, parse_number};
use super::duration::{format_duration, parse_duration};
use super::jsonpath::{self, Segment};
use super::operator::Operator;
use super::parse::{Operand, Side, Target};
use super::validate::Kind;
use super::{Condition, ConditionResult, Placeholder};
use crate::Observation;

/// At most this many characters of a resolved value (a body, say) appear in an explanation.
const MAX_SHOWN: usize = 200;

/// The observation, with its body parsed as JSON at most once and only if a condition needs it.
struct Context<'a> {
    observation: &'a Observation,
    json: OnceCell<Option<Value>>,
}

impl Context<'_> {
    /// The body as text (invalid UTF-8 replaced), trimmed like Gatus.
    fn body_text(&self) -> Option<String> {
        let body = self.observation.body.as_deref()?;
        Some(String::from_utf8_lossy(body).trim().to_string())
    }

    fn json(&self) -> Option<&Value> {
        self.json
            .get_or_init(|| serde_json::from_slice(self.observation.body.as_deref()?).ok())
            .as_ref()
    }

    /// The value at a JSON path, or why there is none. A JSON `null` counts as absent, like Gatus.
    fn lookup(&self, path: &[Segment]) -> Result<&Value, &'static str> {
        if self.observation.body.is_none() {
            return Err("no body");
        }
        let root = self.json().ok_or("body is not JSON")?;
        match jsonpath::lookup(root, path) {
            None => Err("not present"),
            Some(Value::Null) => Err("null"),
            Some(value) => Ok(value),
        }
    }
}

/// A resolved side.
enum Resolved {
    Value(Val),
    /// Why the side has no value (`no status`, `not present`, …).
    Missing(&'static str),
}

struct Val {
    /// What is compared.
    text: String,
    /// The value as a number, when the source knows it is one.
    number: Option<Num>,
    /// What the explanation shows in parentheses after the side; `None` for values written in the condition.
    shown: Option<String>,
}

impl Val {
    fn resolved(text: String) -> Resolved {
        Resolved::Value(Val {
            shown: Some(text.clone()),
            text,
            number: None,
        })
    }

    fn int(int: u128) -> Resolved {
        let text = int.to_string();
        Resolved::Value(Val {
            shown: Some(text.clone()),
            text,
            number: i128::try_from(int).ok().map(Num::Int),
        })
    }

    /// The value as a number, or, if `durations` allows, as a duration in milliseconds.
    fn number(&self, durations: bool) -> Option<Num> {
        self.number
            .or_else(|| parse_number(&self.text))
            .or_else(|| {
                durations
                    .then(|| parse_duration(&self.text).ok().map(Num::Float))
                    .flatten()
            })
    }
}

pub(super) fn evaluate(condition: &Condition, observation: &Observation) -> ConditionResult {
    let context = Context {
        observation,
        json: OnceCell::new(),
    };
    let (left, operator, right) = (&condition.left, condition.operator, &condition.right);
    let (left_value, right_value) = (
        resolve(&context, &left.operand),
        resolve(&context, &right.operand),
    );
    let explain = |note: Option<String>| {
        let note = note.map(|note| format!(" ({note})")).unwrap_or_default();
        format!(
            "{} {} {}{note}",
            describe(left, &left_value),
            operator.symbol(),
            describe(right, &right_value)
        )
    };
    let (success, note) = match (&left_value, &right_value) {
        (Resolved::Value(a), Resolved::Value(b)) => judge(a, operator, b, condition),
        _ => (false, None),
    };
    ConditionResult {
        condition: condition.text.clone(),
        success,
        explanation: explain(note),
    }
}

/// Compare two resolved sides; a note explains a comparison that could not be made.
fn judge(a: &Val, operator: Operator, b: &Val, condition: &Condition) -> (bool, Option<String>) {
    let is_duration = |side: &Side| Kind::of(&side.operand) == Some(Kind::Duration);
    let durations = is_duration(&condition.left) || is_duration(&condition.right);
    let wanted = operator == Operator::Eq;
    match &condition.right.operand {
        Operand::Pattern(pattern) => return (glob_match(pattern, &a.text) == wanted, None),
        Operand::Any(items) => {
            let found = items.iter().any(|item| {
                equal(
                    a,
                    &Val {
                        text: item.text.clone(),
                        number: None,
                        shown: None,
                    },
                    durations,
                )
            });
            return (found == wanted, None);
        }
        _ => {}
    }
    let ordering = match operator {
        Operator::Eq => return (equal(a, b, durations), None),
        Operator::Ne => return (!equal(a, b, durations), None),
        _ => match (a.number(true), b.number(true)) {
            (Some(x), Some(y)) => compare(x, y),
            (None, _) => {
                return (
                    false,
                    Some(format!("`{}` is not a number", shorten(&a.text))),
                );
            }
            (_, None) => {
                return (
                    false,
                    Some(format!("`{}` is not a number", shorten(&b.text))),
                );
            }
        },
    };
    let success = ordering.is_some_and(|ordering| match operator {
        Operator::Lt => ordering == Ordering::Less,
        Operator::Le => ordering != Ordering::Greater,
        Operator::Gt => ordering == Ordering::Greater,
        Operator::Ge => ordering != Ordering::Less,
        Operator::Eq | Operator::Ne => false,
    });
    (success, None)
}

/// Numerically when both are numbers (`1.0 == 1`), otherwise as exact strings.
fn equal(a: &Val, b: &Val, durations: bool) -> bool {
    match (a.number(durations), b.number(durations)) {
        (Some(x), Some(y)) => compare(x, y) == Some(Ordering::Equal),
        _ => a.text == b.text,
    }
}

/// A side in the explanation: as written, then its value or why it has none in parentheses.
fn describe(side: &Side, resolved: &Resolved) -> String {
    match resolved {
        Resolved::Missing(why) => format!("{} ({why})", side.text),
        Resolved::Value(Val {
            shown: Some(shown), ..
        }) => format!("{} ({})", side.text, shorten(shown)),
        Resolved::Value(Val { shown: None, .. }) => side.text.clone(),
    }
}

/// At most [`MAX_SHOWN`] characters, with control characters escaped so an explanation stays on one line.
fn shorten(text: &str) -> String {
    let mut shown = String::new();
    for (count, character) in text.chars().enumerate() {
        if count == MAX_SHOWN {
            shown.push('…');
            break;
        }
        if character.is_control() {
            shown.extend(character.escape_default());
        } else {
            shown.push(character);
        }
    }
    shown
}

fn resolve(context: &Context<'_>, operand: &Operand) -> Resolved {
    match operand {
        Operand::Literal(text) | Operand::Pattern(text) => Resolved::Value(Val {
            text: text.clone(),
            number: None,
            shown: None,
        }),
        Operand::Any(_) => Resolved::Value(Val {
            text: String::new(),
            number: None,
            shown: None,
        }),
        Operand::Target(target) => resolve_target(context, target),
        Operand::Len(target) => match length(context, target) {
            Ok(length) => Val::int(length as u128),
            Err(why) => Resolved::Missing(why),
        },
        Operand::Has(target) => Val::resolved(has(context, target).to_string()),
    }
}

fn resolve_target(context: &Context<'_>, target: &Target) -> Resolved {
    let observation = context.observation;
    let present = |value: Option<&String>, why| {
        value.map_or(Resolved::Missing(why), |v| Val::resolved(v.clone()))
    };
    match (target.placeholder, &target.path) {
        (Placeholder::Body, Some(path)) => match context.lookup(path) {
            Ok(value) => Val::resolved(jsonpath::text(value)),
            Err(why) => Resolved::Missing(why),
        },
        (Placeholder::Body, None) => context
            .body_text()
            .map_or(Resolved::Missing("no body"), Val::resolved),
        (Placeholder::Status, _) => observation
            .status
            .map_or(Resolved::Missing("no status"), |s| Val::int(s.into())),
        (Placeholder::ResponseTime, _) => Val::int(observation.response_time.as_millis()),
        (Placeholder::Ip, _) => present(observation.ip.as_ref(), "no IP"),
        (Placeholder::Connected, _) => Val::resolved(observation.connected.to_string()),
        (Placeholder::DnsRcode, _) => present(observation.dns_rcode.as_ref(), "no DNS rcode"),
        (Placeholder::CertificateExpiration, _) => {
            if observation.certificate_expired {
                return Resolved::Value(Val {
                    text: "0".to_string(),
                    number: Some(Num::Int(0)),
                    shown: Some("expired".to_string()),
                });
            }
            let Some(left) = observation.certificate_expiration else {
                return Resolved::Missing("no certificate");
            };
            let millis = left.as_millis();
            Resolved::Value(Val {
                text: millis.to_string(),
                number: i128::try_from(millis).ok().map(Num::Int),
                shown: Some(format_duration(left)),
            })
        }
    }
}

/// `len(...)`: array elements or characters; `len([BODY])` of a top-level JSON array counts its elements.
fn length(context: &Context<'_>, target: &Target) -> Result<usize, &'static str> {
    match (target.placeholder, &target.path) {
        (Placeholder::Body, Some(path)) => context.lookup(path).map(jsonpath::length),
        (Placeholder::Body, None) => Ok(match (context.body_text(), context.json()) {
            (Some(_), Some(Value::Array(elements))) => elements.len(),
            (Some(text), _) => text.chars().count(),
            (None, _) => 0,
        }),
        _ => match resolve_target(context, target) {
            Resolved::Value(value) => Ok(value.text.chars().count()),
            Resolved::Missing(why) => Err(why),
        },
    }
}

/// `has(...)`: the path exists (and is not null), the body is not empty, the value is known and not empty.
fn has(context: &Context<'_>, target: &Target) -> bool {
    match (target.placeholder, &target.path) {
        (Placeholder::Body, Some(path)) => context.lookup(path).is_ok(),
        _ => {
            matches!(resolve_target(context, target), Resolved::Value(value) if !value.text.is_empty())
        }
    }
}

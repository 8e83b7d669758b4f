//! Parsing one condition into its two sides and operator: placeholders, JSON paths, functions and literals,
//! each mistake reported with the byte position where it starts.

use super::jsonpath::{self, Segment};
use super::operator::{Operator, find_operator, missing_operator};
use super::{ConditionError, Placeholder, validate};

/// A placeholder, with its JSON path for `[BODY]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    pub(super) placeholder: Placeholder,
    /// `Some` (and never empty) only for `[BODY]` followed by `.key` or `[index]` segments.
    pub(super) path: Option<Vec<Segment>>,
}

/// One side of a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Operand {
    Target(Target),
    Len(Target),
    Has(Target),
    /// `pat(...)`: right side only.
    Pattern(String),
    /// `any(a, b, ...)`: right side only.
    Any(Vec<Item>),
    Literal(String),
}

impl Operand {
    pub(super) fn placeholder(&self) -> Option<Placeholder> {
        match self {
            Operand::Target(target) | Operand::Len(target) | Operand::Has(target) => {
                Some(target.placeholder)
            }
            Operand::Pattern(_) | Operand::Any(_) | Operand::Literal(_) => None,
        }
    }
}

/// A value listed in `any()`, with its position for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Item {
    pub(super) text: String,
    pub(super) position: usize,
}

/// One side as written (trimmed) and where it starts, with what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Side {
    pub(super) text: String,
    pub(super) position: usize,
    pub(super) operand: Operand,
}

pub(super) struct Parsed {
    pub(super) left: Side,
    pub(super) operator: Operator,
    pub(super) right: Side,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Left,
    Right,
}

pub(super) fn error(position: usize, message: impl Into<String>) -> ConditionError {
    ConditionError {
        position,
        message: message.into(),
    }
}

pub(super) fn parse(text: &str) -> Result<Parsed, ConditionError> {
    if text.trim().is_empty() {
        return Err(error(
            0,
            "the condition is empty; expected `<left> <operator> <right>`, e.g. `[STATUS] == 200`",
        ));
    }
    let Some((operator, at, length)) = find_operator(text) else {
        return Err(missing_operator(text));
    };
    let symbol = operator.symbol();
    let (left_text, left_position) = trimmed(&text[..at], 0);
    if left_text.is_empty() {
        return Err(error(
            0,
            format!("nothing on the left of `{symbol}`; expected a placeholder such as [STATUS]"),
        ));
    }
    let right_start = at + length;
    let (right_text, right_position) = trimmed(&text[right_start..], right_start);
    if right_text.is_empty() {
        return Err(error(
            right_start,
            format!("nothing on the right of `{symbol}`; expected a value to compare with"),
        ));
    }
    let left = Side {
        text: left_text.to_string(),
        position: left_position,
        operand: parse_operand(left_text, left_position, Which::Left)?,
    };
    let right = Side {
        text: right_text.to_string(),
        position: right_position,
        operand: parse_operand(right_text, right_position, Which::Right)?,
    };
    let mut parsed = Parsed {
        left,
        operator,
        right,
    };
    validate::validate(&mut parsed)?;
    Ok(parsed)
}

/// `text` without surrounding whitespace, and the position where it starts.
pub(super) fn trimmed(text: &str, base: usize) -> (&str, usize) {
    (text.trim(), base + text.len() - text.trim_start().len())
}

fn parse_operand(text: &str, position: usize, which: Which) -> Result<Operand, ConditionError> {
    if text.starts_with('[') {
        if which == Which::Right && !looks_like_placeholder(text) {
            return Ok(Operand::Literal(text.to_string()));
        }
        return parse_target(text, position).map(Operand::Target);
    }
    let Some(paren) = function_name_length(text) else {
        return Ok(Operand::Literal(text.to_string()));
    };
    let name = &text[..paren];
    match name {
        "len" | "has" => {
            let (inner, inner_position) = call_argument(text, position, paren, name)?;
            if inner.is_empty() || !inner.starts_with('[') {
                let message = format!("{name}() takes a placeholder, e.g. `{name}([BODY].items)`");
                return Err(error(inner_position, message));
            }
            let target = parse_target(inner, inner_position)?;
            Ok(if name == "len" {
                Operand::Len(target)
            } else {
                Operand::Has(target)
            })
        }
        "pat" | "any" => {
            if which == Which::Left {
                let message =
                    format!("{name}() goes on the right side, e.g. `[BODY] == {name}(...)`");
                return Err(error(position, message));
            }
            if !text.ends_with(')') {
                return Err(error(position + paren, format!("unclosed `(` in {name}()")));
            }
            let argument = &text[paren + 1..text.len() - 1];
            if name == "pat" {
                Ok(Operand::Pattern(argument.to_string()))
            } else {
                any_items(argument, position + paren + 1).map(Operand::Any)
            }
        }
        "age" => Err(error(
            position,
            "age() is a Gatus function upkeep does not support",
        )),
        _ => Err(error(
            position,
            format!("unknown function `{name}()`; expected len(), has(), pat() or any()"),
        )),
    }
}

/// On the right side, `[...]` is a placeholder only when the brackets hold a name (`[STATUS]`, `[STATSU]`);
/// otherwise (`[1,2]`, `[]`) it is a literal value.
fn looks_like_placeholder(text: &str) -> bool {
    text[1..].find(']').is_some_and(|close| {
        let name = &text[1..1 + close];
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_')
    })
}

/// The length of a function name directly followed by `(`, if `text` starts with one.
fn function_name_length(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    if !bytes
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
    {
        return None;
    }
    let length = bytes
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))?;
    (bytes[length] == b'(').then_some(length)
}

/// The trimmed text between the `(` at `paren` and its matching `)`, which must end the operand.
fn call_argument<'a>(
    text: &'a str,
    position: usize,
    paren: usize,
    name: &str,
) -> Result<(&'a str, usize), ConditionError> {
    let mut depth = 0_usize;
    let mut close = None;
    for (i, byte) in text.bytes().enumerate().skip(paren) {
        match byte {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            _ => {}
        }
    }
    let Some(close) = close else {
        return Err(error(position + paren, format!("unclosed `(` in {name}()")));
    };
    let (after, after_position) = trimmed(&text[close + 1..], position + close + 1);
    if !after.is_empty() {
        return Err(error(
            after_position,
            format!("unexpected `{after}` after {name}()"),
        ));
    }
    Ok(trimmed(&text[paren + 1..close], position + paren + 1))
}

/// A placeholder with, for `[BODY]`, an optional JSON path; `text` starts with `[`.
fn parse_target(text: &str, position: usize) -> Result<Target, ConditionError> {
    let Some(close) = text.find(']') else {
        return Err(error(position, "unclosed `[` in a placeholder"));
    };
    let name = &text[1..close];
    let Some(placeholder) = Placeholder::from_name(name) else {
        return Err(unknown_placeholder(&text[..=close], position));
    };
    let rest = &text[close + 1..];
    if rest.is_empty() {
        return Ok(Target {
            placeholder,
            path: None,
        });
    }
    let rest_position = position + close + 1;
    if placeholder != Placeholder::Body {
        if !rest.starts_with(['.', '[']) {
            let (rest, position) = trimmed(rest, rest_position);
            return Err(error(
                position,
                format!("unexpected `{rest}` after {placeholder}"),
            ));
        }
        let message = format!(
            "{placeholder} has no fields: JSON paths such as `.status` or `[0]` only apply to [BODY]"
        );
        return Err(error(rest_position, message));
    }
    let path = jsonpath::parse_path(rest, rest_position)?;
    Ok(Target {
        placeholder,
        path: Some(path),
    })
}

fn unknown_placeholder(token: &str, position: usize) -> ConditionError {
    let allowed = Placeholder::ALL.map(Placeholder::token).join(", ");
    let name = token[1..token.len() - 1].to_ascii_uppercase();
    let message = if ["DOMAIN_EXPIRATION", "HEADER", "CONTEXT"].contains(&name.as_str()) {
        format!("`{token}` is a Gatus placeholder upkeep does not support; use one of {allowed}")
    } else {
        format!("unknown placeholder `{token}`; expected one of {allowed}")
    };
    error(position, message)
}

/// The comma-separated values of `any(...)`; `base` is where `argument` starts.
fn any_items(argument: &str, base: usize) -> Result<Vec<Item>, ConditionError> {
    let mut items = Vec::new();
    let mut offset = 0;
    for piece in argument.split(',') {
        let (text, position) = trimmed(piece, base + offset);
        if text.is_empty() {
            return Err(error(
                position,
                "empty value in any(); list values separated by commas, e.g. any(200, 429)",
            ));
        }
        items.push(Item {
            text: text.to_string(),
            position,
        });
        offset += piece.len() + 1;
    }
    Ok(items)
}

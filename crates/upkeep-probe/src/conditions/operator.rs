//! Operators: the six comparisons, finding the one that splits a condition (Gatus's order, spaces required),
//! and explaining a condition that has none.

use super::ConditionError;
use super::parse::error;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Operator {
    Eq,
    Ne,
    Le,
    Ge,
    Gt,
    Lt,
}

/// The operators with their mandatory spaces, in the order Gatus tries them.
const OPERATORS: [(Operator, &str); 6] = [
    (Operator::Eq, " == "),
    (Operator::Ne, " != "),
    (Operator::Le, " <= "),
    (Operator::Ge, " >= "),
    (Operator::Gt, " > "),
    (Operator::Lt, " < "),
];

impl Operator {
    pub(super) fn symbol(self) -> &'static str {
        match self {
            Operator::Eq => "==",
            Operator::Ne => "!=",
            Operator::Le => "<=",
            Operator::Ge => ">=",
            Operator::Gt => ">",
            Operator::Lt => "<",
        }
    }

    /// `<`, `<=`, `>`, `>=`: need numbers (or durations) on both sides.
    pub(super) fn is_ordering(self) -> bool {
        !matches!(self, Operator::Eq | Operator::Ne)
    }
}

/// The first operator, in Gatus's order, preferring occurrences outside parentheses and brackets (so
/// `[BODY] != pat(* == *)` splits on `!=`); returns the operator, its position and its length with spaces.
pub(super) fn find_operator(text: &str) -> Option<(Operator, usize, usize)> {
    let mut depths = Vec::with_capacity(text.len());
    let mut depth = 0_usize;
    for byte in text.bytes() {
        depths.push(depth);
        match byte {
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    let outside = OPERATORS.iter().find_map(|&(operator, token)| {
        let at = text
            .match_indices(token)
            .map(|(at, _)| at)
            .find(|&at| depths[at] == 0)?;
        Some((operator, at, token.len()))
    });
    // Unbalanced text: split like Gatus, so the side with the unclosed bracket reports it.
    outside.or_else(|| {
        OPERATORS
            .iter()
            .find_map(|&(operator, token)| Some((operator, text.find(token)?, token.len())))
    })
}

/// The error for a condition without a spaced operator: an operator written without spaces, a lone `=`, or none.
pub(super) fn missing_operator(text: &str) -> ConditionError {
    let bytes = text.as_bytes();
    for (i, &byte) in bytes.iter().enumerate() {
        let symbol = match text.get(i..i + 2) {
            Some(two @ ("==" | "!=" | "<=" | ">=")) => two,
            _ => match byte {
                b'<' => "<",
                b'>' => ">",
                b'=' => "=",
                _ => continue,
            },
        };
        let (before, after) = (text[..i].trim(), text[i + symbol.len()..].trim());
        if before.is_empty() {
            return error(
                0,
                format!(
                    "nothing on the left of `{symbol}`; expected a placeholder such as [STATUS]"
                ),
            );
        }
        if after.is_empty() {
            return error(
                text.len(),
                format!("nothing on the right of `{symbol}`; expected a value to compare with"),
            );
        }
        if symbol == "=" {
            return error(
                i,
                format!("`=` is not an operator; write `{before} == {after}`"),
            );
        }
        return error(
            i,
            format!(
                "the operator `{symbol}` needs a space on each side: `{before} {symbol} {after}`"
            ),
        );
    }
    let start = text.len() - text.trim_start().len();
    let position = text[start..]
        .find(char::is_whitespace)
        .map_or(text.len(), |gap| start + gap);
    error(
        position,
        "missing operator; expected one of `==`, `!=`, `<=`, `>=`, `>`, `<` with a space on each side, e.g. \
         `[STATUS] == 200`",
    )
}

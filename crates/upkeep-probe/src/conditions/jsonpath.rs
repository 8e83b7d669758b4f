//! JSON paths on `[BODY]`: `.key` and `[index]` segments (`[BODY].data[0].id`, `[BODY][0]`, `[BODY].a[1][2]`),
//! parsed with positioned errors and looked up in a parsed body.

use serde_json::Value;

use super::ConditionError;
use super::parse::error;

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Segment {
    /// `.key`: a member of an object.
    Key(String),
    /// `[index]`: an element of an array.
    Index(usize),
}

/// Parse what follows `[BODY]`; `base` is the position of `path` in the condition's text.
pub(super) fn parse_path(path: &str, base: usize) -> Result<Vec<Segment>, ConditionError> {
    let bytes = path.as_bytes();
    let mut segments = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'.' => {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len() && !matches!(bytes[end], b'.' | b'[' | b']') {
                    end += 1;
                }
                if end == start {
                    let message = if end == bytes.len() {
                        "the JSON path ends with `.`; expected a key after it"
                    } else {
                        "empty key in the JSON path; expected a key after `.`"
                    };
                    return Err(error(base + i, message));
                }
                segments.push(Segment::Key(path[start..end].to_string()));
                i = end;
            }
            b'[' => {
                let Some(length) = path[i + 1..].find(']') else {
                    return Err(error(base + i, "unclosed `[` in the JSON path"));
                };
                let close = i + 1 + length;
                let inner = &path[i + 1..close];
                if inner == "*" {
                    return Err(error(
                        base + i,
                        "`[*]` (every element) is not supported; index one element such as `[0]`, or use len()",
                    ));
                }
                if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_digit()) {
                    let message =
                        format!("an array index must be a non-negative integer, not `{inner}`");
                    return Err(error(base + i + 1, message));
                }
                let Ok(index) = inner.parse::<usize>() else {
                    return Err(error(
                        base + i + 1,
                        format!("the array index `{inner}` is too large"),
                    ));
                };
                segments.push(Segment::Index(index));
                i = close + 1;
            }
            b']' => {
                return Err(error(
                    base + i,
                    "unexpected `]` in the JSON path (no matching `[`)",
                ));
            }
            _ => {
                let found: String = path[i..].chars().take(12).collect();
                let message =
                    format!("unexpected `{found}`; a JSON path continues with `.key` or `[index]`");
                return Err(error(base + i, message));
            }
        }
    }
    Ok(segments)
}

/// The value at `path`, if every step exists.
pub(super) fn lookup<'a>(root: &'a Value, path: &[Segment]) -> Option<&'a Value> {
    path.iter().try_fold(root, |value, segment| match segment {
        Segment::Key(key) => value.as_object()?.get(key),
        Segment::Index(index) => value.as_array()?.get(*index),
    })
}

/// A value as compared: strings as they are, anything else as minified JSON (`1.5`, `true`, `{"a":1}`).
pub(super) fn text(value: &Value) -> String {
    match value {
        Value::String(string) => string.clone(),
        other => other.to_string(),
    }
}

/// `len()` of a value: elements of an array, characters of a string, characters of the minified JSON otherwise.
pub(super) fn length(value: &Value) -> usize {
    match value {
        Value::Array(elements) => elements.len(),
        Value::String(string) => string.chars().count(),
        other => other.to_string().chars().count(),
    }
}

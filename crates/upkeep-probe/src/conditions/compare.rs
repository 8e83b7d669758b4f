//! The primitive comparisons: numbers (ints exactly, otherwise as floats) and `pat()` globs.

use std::cmp::Ordering;

/// A number read from a condition or an observation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    fn as_f64(self) -> f64 {
        match self {
            // Precision loss past 2^53 is accepted: such values are only compared with floats.
            Num::Int(int) => int as f64,
            Num::Float(float) => float,
        }
    }
}

/// `text` as a number: an integer (`200`, `-3`, `+7`) or a finite decimal (`1.5`, `.5`, `1e3`); nothing else
/// (no `inf`, `NaN`, hex, or surrounding spaces).
pub(super) fn parse_number(text: &str) -> Option<Num> {
    let plausible = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    if !plausible || !text.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Ok(int) = text.parse::<i128>() {
        return Some(Num::Int(int));
    }
    let float = text.parse::<f64>().ok()?;
    float.is_finite().then_some(Num::Float(float))
}

/// How `a` compares with `b`: exactly for two integers, as floats otherwise.
pub(super) fn compare(a: Num, b: Num) -> Option<Ordering> {
    match (a, b) {
        (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
        _ => a.as_f64().partial_cmp(&b.as_f64()),
    }
}

/// Whether `text` matches `pattern` as a whole, where `*` stands for any run of characters (possibly empty) and
/// everything else is literal. Linear backtracking, no recursion: safe on large bodies.
pub(super) fn glob_match(pattern: &str, text: &str) -> bool {
    // Working on bytes is exact: `*` is ASCII, and a literal UTF-8 sequence can only match at a character
    // boundary because a leading byte never equals a continuation byte.
    let (pattern, text) = (pattern.as_bytes(), text.as_bytes());
    let (mut p, mut t) = (0, 0);
    let mut last_star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            last_star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star, matched)) = last_star {
            // Let the last `*` swallow one more character and retry from there.
            last_star = Some((star, matched + 1));
            p = star + 1;
            t = matched + 1;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

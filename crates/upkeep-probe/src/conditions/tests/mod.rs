//! Tests of the condition language: parse errors with positions, every placeholder, function and operator,
//! JSON paths, explanations, and the internal pieces (durations, globs, numbers).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod errors;
mod evaluation;
mod json;
mod units;

use std::time::Duration;

use super::{Condition, ConditionError, ConditionResult};
use crate::Observation;

/// A successful HTTP check: connected, 200, 150 ms, no body.
fn observation() -> Observation {
    Observation {
        connected: true,
        status: Some(200),
        response_time: Duration::from_millis(150),
        ip: Some("127.0.0.1".to_string()),
        ..Observation::default()
    }
}

fn with_body(body: &str) -> Observation {
    Observation {
        body: Some(body.as_bytes().to_vec()),
        ..observation()
    }
}

fn judge(text: &str, observation: &Observation) -> ConditionResult {
    Condition::parse(text)
        .unwrap_or_else(|e| panic!("`{text}` should parse: {e}"))
        .evaluate(observation)
}

/// Assert success and return the explanation.
fn passes(text: &str, observation: &Observation) -> String {
    let result = judge(text, observation);
    assert!(
        result.success,
        "`{text}` should pass: {}",
        result.explanation
    );
    result.explanation
}

/// Assert failure and return the explanation.
fn fails(text: &str, observation: &Observation) -> String {
    let result = judge(text, observation);
    assert!(
        !result.success,
        "`{text}` should fail: {}",
        result.explanation
    );
    result.explanation
}

fn parse_error(text: &str) -> ConditionError {
    match Condition::parse(text) {
        Ok(condition) => panic!("`{text}` should not parse, got {condition:?}"),
        Err(error) => error,
    }
}

/// Assert a parse error at `position` whose message contains `needle`.
fn error_at(text: &str, position: usize, needle: &str) {
    let error = parse_error(text);
    assert_eq!(error.position, position, "position for `{text}`: {error}");
    assert!(
        error.message.contains(needle),
        "message for `{text}` should mention `{needle}`: {error}"
    );
}

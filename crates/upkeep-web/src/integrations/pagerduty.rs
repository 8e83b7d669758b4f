//! PagerDuty Events API v2, byte-compatible: `POST /v2/enqueue` (alert events) and `POST
//! /v2/change/enqueue` (change events), with PagerDuty's answers: `202 {"status":"success","message":
//! "Event processed","dedup_key":…}`, `400 {"status":"invalid event","message":"Event object is invalid",
//! "errors":[…]}` naming each bad field, and `429` when a routing key sends too fast.
//!
//! Deduplication is scoped per routing key (one key per service). A trigger without `dedup_key` gets a
//! generated one; acknowledge and resolve for a key with no open alert are dropped (still 202), as
//! PagerDuty does. A summary longer than 1,024 characters is cut, not refused.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use upkeep_core::incidents::{self, AlertAction, AlertSignal, integrations};
use upkeep_storage::{AlertSource, IntegrationKind, Severity};

use super::{read_limited, retry_secs};
use crate::AppState;

const MAX_SUMMARY_CHARS: usize = 1024;
const MAX_DEDUP_KEY_CHARS: usize = 255;

fn invalid(errors: Vec<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({
            "status": "invalid event",
            "message": "Event object is invalid",
            "errors": errors,
        })),
    )
        .into_response()
}

fn throttled(wait: std::time::Duration) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, retry_secs(wait))],
        axum::Json(json!({
            "status": "throttle event",
            "message": "Requests for this service are arriving too quickly. Please retry later.",
        })),
    )
        .into_response()
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "5")],
        axum::Json(json!({
            "status": "unavailable",
            "message": "The event could not be stored; retry later.",
        })),
    )
        .into_response()
}

fn text<'a>(object: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    object
        .get(field)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

/// Parse the body into a JSON object, or the `errors[]` of PagerDuty's 400.
fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, Vec<String>> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(vec!["Event object must be a JSON object".into()]),
        Err(err) => Err(vec![format!("Event object is not valid JSON: {err}")]),
    }
}

/// Check `routing_key` the way PagerDuty does, before looking it up.
fn routing_key(object: &Map<String, Value>, errors: &mut Vec<String>) -> Option<String> {
    let Some(key) = text(object, "routing_key") else {
        errors.push("'routing_key' is missing or blank".into());
        return None;
    };
    if key.chars().count() != 32 {
        errors.push("Length of 'routing_key' is incorrect (should be 32 characters)".into());
    }
    if !key.chars().all(|c| c.is_ascii_alphanumeric()) {
        errors.push("'routing_key' cannot contain non-alphanumeric characters.".into());
    }
    Some(key.to_string())
}

/// Resolve a routing key to its service, rate limited per key. `Err` is the answer to send.
async fn service_for(state: &AppState, key: &str, cost: f64) -> Result<i64, Response> {
    match integrations::service_for_key(&state.core, IntegrationKind::Pagerduty, key).await {
        Ok(Some(service_id)) => {
            state
                .integration_limits
                .events
                .take(&(IntegrationKind::Pagerduty, service_id), cost)
                .map_err(throttled)?;
            Ok(service_id)
        }
        Ok(None) => Err(invalid(vec!["Invalid routing key".into()])),
        Err(err) => {
            tracing::warn!(error = %err, "routing key lookup failed");
            Err(unavailable())
        }
    }
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// `POST /v2/enqueue`.
pub async fn enqueue(State(state): State<AppState>, body: axum::body::Body) -> Response {
    let Some(bytes) = read_limited(body).await else {
        return invalid(vec![
            "Event object is too large (the limit is 512 KB)".into(),
        ]);
    };
    let object = match parse_object(&bytes) {
        Ok(object) => object,
        Err(errors) => return invalid(errors),
    };
    let mut errors = Vec::new();
    let key = routing_key(&object, &mut errors);
    let action = match text(&object, "event_action") {
        None => {
            errors.push("'event_action' is missing or blank".into());
            None
        }
        Some("trigger") => Some(AlertAction::Trigger),
        Some("acknowledge") => Some(AlertAction::Acknowledge),
        Some("resolve") => Some(AlertAction::Resolve),
        Some(other) => {
            errors.push(format!(
                "'event_action' is invalid: {other:?} (must be trigger, acknowledge or resolve)"
            ));
            None
        }
    };
    let dedup_key = match object.get("dedup_key") {
        None | Some(Value::Null) => None,
        Some(Value::String(value)) if value.chars().count() > MAX_DEDUP_KEY_CHARS => {
            errors.push(format!(
                "Length of 'dedup_key' is too long (should be at most {MAX_DEDUP_KEY_CHARS} characters)"
            ));
            None
        }
        Some(Value::String(value)) if value.trim().is_empty() => None,
        Some(Value::String(value)) => Some(value.clone()),
        Some(_) => {
            errors.push("'dedup_key' must be a string".into());
            None
        }
    };
    let mut summary = String::new();
    let mut severity = Severity::Critical;
    if action == Some(AlertAction::Trigger) {
        match object.get("payload") {
            Some(Value::Object(payload)) => {
                match text(payload, "summary") {
                    Some(value) => summary = truncate(value, MAX_SUMMARY_CHARS),
                    None => errors.push("'payload.summary' is missing or blank".into()),
                }
                if text(payload, "source").is_none() {
                    errors.push("'payload.source' is missing or blank".into());
                }
                match text(payload, "severity") {
                    None => errors.push("'payload.severity' is missing or blank".into()),
                    Some(value) => match Severity::parse(value) {
                        Some(parsed) => severity = parsed,
                        None => errors.push(format!(
                            "'payload.severity' is invalid: {value:?} (must be critical, error, warning or info)"
                        )),
                    },
                }
                if let Some(details) = payload.get("custom_details")
                    && !(details.is_object() || details.is_null() || details.is_string())
                {
                    errors.push("'payload.custom_details' must be an object".into());
                }
            }
            _ => errors.push("'payload' is missing or not an object".into()),
        }
    } else if action.is_some() && dedup_key.is_none() {
        errors.push("'dedup_key' is missing or blank (required to acknowledge or resolve)".into());
    }
    for list in ["links", "images"] {
        if let Some(value) = object.get(list)
            && !(value.is_array() || value.is_null())
        {
            errors.push(format!("'{list}' must be an array"));
        }
    }
    let (Some(key), Some(action), true) = (key, action, errors.is_empty()) else {
        return invalid(errors);
    };
    let service_id = match service_for(&state, &key, 1.0).await {
        Ok(service_id) => service_id,
        Err(answer) => return answer,
    };
    if state.core.alerts.is_saturated() {
        return throttled(std::time::Duration::from_secs(1));
    }
    let dedup_key = dedup_key.unwrap_or_else(uuid_v4_like);
    let mut details = object;
    details.remove("routing_key");
    let signal = AlertSignal {
        service_id,
        source: AlertSource::Pagerduty,
        action,
        dedup_key: dedup_key.clone(),
        summary,
        severity,
        details: Value::Object(details),
        group_key: None,
    };
    match incidents::ingest(&state.core, signal).await {
        Ok(_) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({
                "status": "success",
                "message": "Event processed",
                "dedup_key": dedup_key,
            })),
        )
            .into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "PagerDuty event not stored");
            unavailable()
        }
    }
}

/// A random dedup key shaped like PagerDuty's (32 hex digits).
fn uuid_v4_like() -> String {
    upkeep_core::identity::random_hex(16)
}

/// `POST /v2/change/enqueue`.
pub async fn change_enqueue(State(state): State<AppState>, body: axum::body::Body) -> Response {
    let Some(bytes) = read_limited(body).await else {
        return invalid(vec![
            "Event object is too large (the limit is 512 KB)".into(),
        ]);
    };
    let object = match parse_object(&bytes) {
        Ok(object) => object,
        Err(errors) => return invalid(errors),
    };
    let mut errors = Vec::new();
    let key = routing_key(&object, &mut errors);
    let mut input = None;
    match object.get("payload") {
        Some(Value::Object(payload)) => match text(payload, "summary") {
            Some(summary) => {
                let happened_at = match text(payload, "timestamp") {
                    None => None,
                    Some(value) => match parse_time(value) {
                        Some(at) => Some(at),
                        None => {
                            errors.push(format!(
                                "'payload.timestamp' is not an ISO 8601 time: {value:?}"
                            ));
                            None
                        }
                    },
                };
                input = Some(integrations::ChangeInput {
                    summary: truncate(summary, MAX_SUMMARY_CHARS),
                    source: text(payload, "source").map(str::to_string),
                    happened_at,
                    links: object.get("links").cloned().unwrap_or(json!([])),
                    custom_details: payload.get("custom_details").cloned().unwrap_or(json!({})),
                });
            }
            None => errors.push("'payload.summary' is missing or blank".into()),
        },
        _ => errors.push("'payload' is missing or not an object".into()),
    }
    let (Some(key), Some(input), true) = (key, input, errors.is_empty()) else {
        return invalid(errors);
    };
    let service_id = match service_for(&state, &key, 1.0).await {
        Ok(service_id) => service_id,
        Err(answer) => return answer,
    };
    match integrations::record_change(&state.core, service_id, input).await {
        Ok(_) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({ "status": "success", "message": "Change event processed" })),
        )
            .into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "PagerDuty change event not stored");
            unavailable()
        }
    }
}

/// ISO 8601 as PagerDuty clients send it: RFC 3339, or with a `+0000` offset.
pub fn parse_time(value: &str) -> Option<jiff::Timestamp> {
    if let Ok(at) = value.parse::<jiff::Timestamp>() {
        return Some(at);
    }
    jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%S%.f%z", value)
        .ok()
        .and_then(|parsed| parsed.to_timestamp().ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn pagerduty_timestamps_parse_in_both_offset_forms() {
        assert!(parse_time("2015-07-17T08:42:58.315+0000").is_some());
        assert!(parse_time("2015-07-17T08:42:58Z").is_some());
        assert!(parse_time("2015-07-17T08:42:58+02:00").is_some());
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn routing_keys_are_checked_like_pagerduty() {
        let mut errors = Vec::new();
        let object = parse_object(br#"{"routing_key":"short-key!"}"#).unwrap();
        routing_key(&object, &mut errors);
        assert_eq!(
            errors,
            vec![
                "Length of 'routing_key' is incorrect (should be 32 characters)".to_string(),
                "'routing_key' cannot contain non-alphanumeric characters.".to_string(),
            ]
        );
    }
}

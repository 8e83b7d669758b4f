//! upkeep's generic JSON webhook, for tools with no better-known format: `POST /integrations/webhook/<key>`
//! with
//!
//! ```json
//! {"action": "trigger", "dedup_key": "disk-full-db1", "summary": "Disk 95% full on db1",
//!  "severity": "warning", "group_key": "db1", "details": {"used": 0.95}}
//! ```
//!
//! `action` is `trigger` (default), `acknowledge` or `resolve`; `summary` is required to trigger;
//! `dedup_key` is required to acknowledge or resolve and generated when a trigger has none; `severity` is
//! `critical` (default), `error`, `warning` or `info`. The answer is `202` with the dedup key and what
//! happened (`opened`, `grouped`, `attached`, `deduplicated`, `acknowledged`, `resolved`, `unmatched`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use upkeep_core::incidents::{self, AlertAction, AlertSignal, integrations};
use upkeep_storage::{AlertSource, IntegrationKind, Severity};

use super::{read_limited, retry_secs};
use crate::AppState;
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GenericEvent {
    #[serde(default = "trigger")]
    action: AlertAction,
    dedup_key: Option<String>,
    summary: Option<String>,
    #[serde(default = "critical")]
    severity: Severity,
    group_key: Option<String>,
    #[serde(default)]
    details: Value,
}

fn trigger() -> AlertAction {
    AlertAction::Trigger
}

fn critical() -> Severity {
    Severity::Critical
}

pub async fn webhook(
    State(state): State<AppState>,
    Path(key): Path<String>,
    body: axum::body::Body,
) -> Response {
    match handle(state, key, body).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn handle(
    state: AppState,
    key: String,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let bytes = read_limited(body).await.ok_or_else(|| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the webhook body is larger than 512 KB",
        )
    })?;
    let event: GenericEvent = crate::json::parse(&bytes)?;
    let summary = event
        .summary
        .as_deref()
        .map(str::trim)
        .filter(|summary| !summary.is_empty())
        .map(|summary| summary.chars().take(1024).collect::<String>());
    let dedup_key = event.dedup_key.filter(|key| !key.trim().is_empty());
    if let Some(key) = &dedup_key
        && key.chars().count() > 255
    {
        return Err(ApiError::validation("dedup_key", "at most 255 characters"));
    }
    let summary = match (event.action, summary) {
        (AlertAction::Trigger, None) => {
            return Err(ApiError::validation("summary", "a trigger needs a summary"));
        }
        (_, summary) => summary.unwrap_or_default(),
    };
    if event.action != AlertAction::Trigger && dedup_key.is_none() {
        return Err(ApiError::validation(
            "dedup_key",
            "acknowledge and resolve need the dedup_key of the alert",
        ));
    }
    let service_id = integrations::service_for_key(&state.core, IntegrationKind::Webhook, &key)
        .await?
        .ok_or_else(|| ApiError::not_found("no service has this webhook integration key"))?;
    if let Err(wait) = state
        .integration_limits
        .events
        .take(&(IntegrationKind::Webhook, service_id), 1.0)
    {
        let mut error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "this integration key is sending too fast; retry later",
        );
        error.retry_after = retry_secs(wait).parse().ok();
        return Err(error);
    }
    let dedup_key = dedup_key.unwrap_or_else(|| upkeep_core::identity::random_hex(16));
    let outcome = incidents::ingest(
        &state.core,
        AlertSignal {
            service_id,
            source: AlertSource::Webhook,
            action: event.action,
            dedup_key: dedup_key.clone(),
            summary,
            severity: event.severity,
            details: event.details,
            group_key: event.group_key.filter(|key| !key.is_empty()),
        },
    )
    .await?;
    let mut body = serde_json::to_value(outcome).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut body {
        map.insert("status".into(), json!("accepted"));
        map.insert("dedup_key".into(), json!(dedup_key));
    }
    Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
}

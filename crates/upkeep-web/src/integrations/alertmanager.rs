//! The Alertmanager webhook receiver (payload `version: "4"`) and Grafana's alerting webhook
//! (`version: "1"`, the same shape plus a few fields).
//!
//! Each alert is one upkeep alert, deduplicated by its `fingerprint`; the alerts of one `groupKey` share
//! one incident while it is open; `resolved` alerts resolve. Alertmanager retries only 5xx answers, so
//! backpressure and rate limits are answered with 503 and `Retry-After`, never 429. Repeated deliveries
//! (every `repeat_interval`, or from each peer of an HA pair) are idempotent: a firing alert that is
//! already open is counted, not paged again.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use upkeep_core::incidents::{self, AlertAction, AlertSignal, integrations};
use upkeep_storage::{AlertSource, IntegrationKind, Severity};

use super::{read_limited, retry_secs};
use crate::AppState;
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Message {
    version: String,
    group_key: Option<String>,
    #[serde(default)]
    alerts: Vec<AlertItem>,
    #[serde(default)]
    common_labels: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlertItem {
    status: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    fingerprint: Option<String>,
}

fn backpressure(message: &str, retry_after: String) -> Response {
    let mut error = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message);
    error.retry_after = retry_after.parse().ok();
    error.into_response()
}

/// PagerDuty's severities from an alert's `severity` label (`page` and `high` read as critical).
fn severity_of(labels: &BTreeMap<String, String>) -> Severity {
    let Some(label) = labels.get("severity") else {
        return Severity::Critical;
    };
    let label = label.to_ascii_lowercase();
    Severity::parse(&label).unwrap_or(match label.as_str() {
        "page" | "high" | "p1" | "fatal" => Severity::Critical,
        "warn" | "medium" | "low" => Severity::Warning,
        "none" | "informational" => Severity::Info,
        _ => Severity::Error,
    })
}

fn summary_of(item: &AlertItem) -> String {
    let name = item
        .labels
        .get("alertname")
        .cloned()
        .unwrap_or_else(|| "alert".to_string());
    let text = item
        .annotations
        .get("summary")
        .or_else(|| item.annotations.get("description"))
        .or_else(|| item.annotations.get("message"));
    let summary = match text {
        Some(text) => format!("{name}: {text}"),
        None => {
            let labels: Vec<String> = item
                .labels
                .iter()
                .filter(|(key, _)| key.as_str() != "alertname")
                .map(|(key, value)| format!("{key}={value}"))
                .collect();
            if labels.is_empty() {
                name
            } else {
                format!("{name} ({})", labels.join(", "))
            }
        }
    };
    summary.chars().take(1024).collect()
}

/// The alert's fingerprint, or (from senders that leave it out) a hash of its labels.
fn fingerprint_of(item: &AlertItem) -> String {
    match &item.fingerprint {
        Some(fingerprint) if !fingerprint.trim().is_empty() => fingerprint.clone(),
        _ => {
            let mut hasher = Sha256::new();
            for (key, value) in &item.labels {
                hasher.update(key.as_bytes());
                hasher.update([0]);
                hasher.update(value.as_bytes());
                hasher.update([0]);
            }
            hex_prefix(&hasher.finalize())
        }
    }
}

fn hex_prefix(digest: &[u8]) -> String {
    digest
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

pub async fn alertmanager(
    State(state): State<AppState>,
    Path(key): Path<String>,
    body: axum::body::Body,
) -> Response {
    receive(state, key, body, IntegrationKind::Alertmanager).await
}

pub async fn grafana(
    State(state): State<AppState>,
    Path(key): Path<String>,
    body: axum::body::Body,
) -> Response {
    receive(state, key, body, IntegrationKind::Grafana).await
}

async fn receive(
    state: AppState,
    key: String,
    body: axum::body::Body,
    kind: IntegrationKind,
) -> Response {
    let (source, version) = match kind {
        IntegrationKind::Grafana => (AlertSource::Grafana, "1"),
        _ => (AlertSource::Alertmanager, "4"),
    };
    let Some(bytes) = read_limited(body).await else {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the webhook body is larger than 512 KB",
        )
        .into_response();
    };
    let message: Message = match crate::json::parse(&bytes) {
        Ok(message) => message,
        Err(err) => return err.into_response(),
    };
    if message.version != version {
        return ApiError::bad_request(
            "invalid_json",
            format!(
                "version: expected \"{version}\" for the {kind} webhook, got {:?}",
                message.version
            ),
        )
        .with_field("version")
        .into_response();
    }
    let service_id = match integrations::service_for_key(&state.core, kind, &key).await {
        Ok(Some(service_id)) => service_id,
        Ok(None) => {
            return ApiError::not_found(format!("no service has this {kind} integration key"))
                .into_response();
        }
        Err(err) => {
            tracing::warn!(error = %err, "integration key lookup failed");
            return backpressure("the alert could not be stored; retry later", "5".into());
        }
    };
    let cost = (message.alerts.len().max(1) as f64).min(state.integration_limits.max_cost);
    if let Err(wait) = state
        .integration_limits
        .events
        .take(&(kind, service_id), cost)
    {
        return backpressure(
            "this integration key is sending too fast; retry later",
            retry_secs(wait),
        );
    }
    if state.core.alerts.is_saturated() {
        return backpressure("upkeep is busy; retry later", "1".into());
    }
    let group_key = message.group_key.clone().filter(|key| !key.is_empty());
    let signals: Vec<AlertSignal> = message
        .alerts
        .iter()
        .map(|item| {
            let mut labels = message.common_labels.clone();
            labels.extend(item.labels.clone());
            AlertSignal {
                service_id,
                source,
                action: if item.status == "resolved" {
                    AlertAction::Resolve
                } else {
                    AlertAction::Trigger
                },
                dedup_key: fingerprint_of(item),
                summary: summary_of(item),
                severity: severity_of(&labels),
                details: json!({
                    "labels": item.labels,
                    "annotations": item.annotations,
                    "status": item.status,
                    "group_key": message.group_key,
                }),
                group_key: group_key.clone(),
            }
        })
        .collect();
    let count = signals.len();
    // Submitted together so they land in the same batch (one transaction).
    let results = futures_util::future::join_all(
        signals
            .into_iter()
            .map(|signal| incidents::ingest(&state.core, signal)),
    )
    .await;
    if let Some(err) = results.iter().find_map(|result| result.as_ref().err()) {
        tracing::warn!(error = %err, "webhook alert not stored");
        return backpressure("the alerts could not be stored; retry later", "5".into());
    }
    (
        StatusCode::OK,
        axum::Json(json!({ "status": "success", "alerts": count })),
    )
        .into_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn item(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> AlertItem {
        AlertItem {
            status: "firing".into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            fingerprint: None,
        }
    }

    #[test]
    fn summaries_prefer_annotations_then_labels() {
        assert_eq!(
            summary_of(&item(
                &[("alertname", "HighLatency")],
                &[("summary", "p99 over 2s")]
            )),
            "HighLatency: p99 over 2s"
        );
        assert_eq!(
            summary_of(&item(&[("alertname", "Down"), ("job", "api")], &[])),
            "Down (job=api)"
        );
    }

    #[test]
    fn missing_fingerprints_come_from_the_labels() {
        let a = fingerprint_of(&item(&[("alertname", "A"), ("job", "x")], &[]));
        let b = fingerprint_of(&item(&[("job", "x"), ("alertname", "A")], &[]));
        let c = fingerprint_of(&item(&[("alertname", "A"), ("job", "y")], &[]));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 16);
    }

    #[test]
    fn severity_labels_map_to_pagerduty_severities() {
        let labels = |value: &str| BTreeMap::from([("severity".to_string(), value.to_string())]);
        assert_eq!(severity_of(&labels("warning")), Severity::Warning);
        assert_eq!(severity_of(&labels("page")), Severity::Critical);
        assert_eq!(severity_of(&labels("whatever")), Severity::Error);
        assert_eq!(severity_of(&BTreeMap::new()), Severity::Critical);
    }
}

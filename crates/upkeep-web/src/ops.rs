//! Operational endpoints for load balancers and Prometheus: `/healthz` (the process answers), `/readyz`
//! (the database answers and its schema matches this binary), both public, and `/metrics` (authenticated).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use upkeep_core::identity::Capability;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> Response {
    let storage = &state.core.storage;
    if let Err(err) = storage.ping().await {
        tracing::warn!(%err, "readiness: database does not answer");
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the database does not answer",
        )
        .into_response();
    }
    match storage.schema_status().await {
        Ok(schema) if schema.is_current() => {
            Json(json!({ "status": "ready", "database": storage.backend_name(), "schema_version": schema.database_version }))
                .into_response()
        }
        Ok(schema) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            format!("the database schema is at version {} but this binary expects {}", schema.database_version, schema.binary_version),
        )
        .into_response(),
        Err(err) => {
            tracing::warn!(%err, "readiness: schema status unknown");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", "the database schema could not be read").into_response()
        }
    }
}

/// Needs any signed-in caller with read permission (Prometheus: `authorization: {credentials: upk_…}`).
async fn metrics(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.principal.require(Capability::Read)?;
    let body = state.metrics.render(&state);
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response())
}

//! `/api/v1/monitors/{id}/uptime` and `/api/v1/monitors/{id}/slo`: uptime and latency over 24 h to
//! 365 d from the rollups, and a monitor's service level objective with its remaining error budget.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use upkeep_core::monitors::{self, rollup};
use utoipa::{IntoParams, ToSchema};

use super::{ApiPath, ApiQuery};
use crate::AppState;
use crate::auth::{Reader, Writer};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::json::ApiJson;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UptimeQuery {
    /// `24h` (default), `7d`, `30d`, `90d` or `365d`.
    pub window: Option<String>,
}

/// Latency over the window in milliseconds; quantiles are within 1 % of the exact values.
#[derive(Serialize, ToSchema)]
pub struct LatencyView {
    /// Checks with a duration.
    pub samples: i64,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub mean: Option<f64>,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

impl From<rollup::Latency> for LatencyView {
    fn from(latency: rollup::Latency) -> Self {
        Self {
            samples: latency.samples,
            min: latency.min_ms,
            max: latency.max_ms,
            mean: latency.mean_ms,
            p50: latency.p50_ms,
            p95: latency.p95_ms,
            p99: latency.p99_ms,
        }
    }
}

/// A monitor's objective: at least `target` of its checks succeed over the last `window_days`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SloBody {
    /// Between 0 and 1 exclusive, e.g. `0.999` for 99.9 %.
    pub target: f64,
    /// 1 to 365.
    pub window_days: u32,
}

/// How much failure the SLO still allows over its own window.
#[derive(Serialize, ToSchema)]
pub struct ErrorBudgetView {
    /// `(1 − target) × checks` over the SLO window.
    pub allowed_failures: f64,
    /// Failed checks over the SLO window.
    pub used: i64,
    /// `allowed_failures − used`; negative once the objective is missed.
    pub remaining: f64,
    /// `remaining / allowed_failures`.
    pub remaining_ratio: f64,
}

/// The SLO and how the monitor does against it over the SLO's window.
#[derive(Serialize, ToSchema)]
pub struct SloView {
    pub target: f64,
    pub window_days: u32,
    pub checks: i64,
    pub failures: i64,
    /// Over the SLO window; null without checks.
    pub uptime: Option<f64>,
    /// Whether the uptime meets the target (true without checks).
    pub met: bool,
}

/// Uptime and latency of one monitor over a window ending now.
#[derive(Serialize, ToSchema)]
pub struct UptimeView {
    pub monitor_id: i64,
    /// The window asked for.
    pub window: String,
    /// Where the figures start: the window's start, or the next hour or UTC day when older detail is
    /// only kept in coarser buckets.
    #[schema(value_type = String, format = DateTime)]
    pub from: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub to: Timestamp,
    pub checks: i64,
    pub failures: i64,
    /// Successful checks over all checks (0–1); null without checks.
    pub uptime: Option<f64>,
    pub latency_ms: LatencyView,
    /// Present when the monitor has an SLO.
    pub slo: Option<SloView>,
    /// Present when the monitor has an SLO; computed over the SLO's window.
    pub error_budget: Option<ErrorBudgetView>,
}

/// A monitor's SLO as stored.
#[derive(Serialize, ToSchema)]
pub struct SloSetting {
    pub monitor_id: i64,
    pub target: f64,
    pub window_days: u32,
}

/// Uptime, latency percentiles and, with an SLO, the remaining error budget.
#[utoipa::path(get, path = "/api/v1/monitors/{id}/uptime", tag = "monitors", params(("id" = i64, Path), UptimeQuery),
    responses((status = 200, body = UptimeView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn get_uptime(
    State(state): State<AppState>,
    _reader: Reader,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<UptimeQuery>,
) -> ApiResult<Json<UptimeView>> {
    let label = query.window.as_deref().unwrap_or("24h");
    let window = rollup::Window::parse(label).ok_or_else(|| {
        ApiError::validation(
            "window",
            format!("window: {label:?} is not one of 24h, 7d, 30d, 90d, 365d"),
        )
    })?;
    let monitor = monitors::monitor(&state.core, id).await?;
    let figures = rollup::uptime(&state.core, id, window.duration()).await?;
    let status = rollup::slo_status(&state.core, &monitor).await?;
    let (slo, error_budget) = match status {
        Some(status) => (
            Some(SloView {
                target: status.slo.target,
                window_days: status.slo.window_days,
                checks: status.uptime.checks,
                failures: status.uptime.failures,
                uptime: status.uptime.uptime,
                met: status.met,
            }),
            Some(ErrorBudgetView {
                allowed_failures: status.error_budget.allowed_failures,
                used: status.error_budget.used,
                remaining: status.error_budget.remaining,
                remaining_ratio: status.error_budget.remaining_ratio,
            }),
        ),
        None => (None, None),
    };
    Ok(Json(UptimeView {
        monitor_id: id,
        window: window.as_str().to_string(),
        from: figures.from,
        to: figures.to,
        checks: figures.checks,
        failures: figures.failures,
        uptime: figures.uptime,
        latency_ms: figures.latency.into(),
        slo,
        error_budget,
    }))
}

/// Set a monitor's SLO (write); it is kept in the monitor's settings.
#[utoipa::path(put, path = "/api/v1/monitors/{id}/slo", tag = "monitors", params(("id" = i64, Path)), request_body = SloBody,
    responses((status = 200, body = SloSetting), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_slo(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<SloBody>,
) -> ApiResult<Json<SloSetting>> {
    let ctx = caller.audit(&state);
    let slo = rollup::Slo {
        target: body.target,
        window_days: body.window_days,
    };
    rollup::set_slo(&state.core, &ctx, id, Some(slo)).await?;
    Ok(Json(SloSetting {
        monitor_id: id,
        target: slo.target,
        window_days: slo.window_days,
    }))
}

/// Remove a monitor's SLO (write).
#[utoipa::path(delete, path = "/api/v1/monitors/{id}/slo", tag = "monitors", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_slo(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let ctx = caller.audit(&state);
    rollup::set_slo(&state.core, &ctx, id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! `/api/v1/maintenance`: maintenance windows of a service or of one monitor. Monitors keep being checked
//! during a window; the state changes raised meanwhile are recorded with `in_maintenance` and nobody is
//! paged for them, and the monitor shows the status `maintenance`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use upkeep_core::monitors::maintenance::{self, WindowSpec};
use upkeep_core::storage::MaintenanceWindow;
use utoipa::{IntoParams, ToSchema};

use super::views::Paged;
use super::{ApiPath, ApiQuery, PageQuery};
use crate::AppState;
use crate::auth::{Reader, Writer};
use crate::error::{ApiResult, ErrorBody};
use crate::json::ApiJson;

/// A maintenance window.
#[derive(Serialize, ToSchema)]
pub struct MaintenanceView {
    pub id: i64,
    /// Slug of the service whose monitors it covers (absent for a window of one monitor).
    pub service: Option<String>,
    /// Id of the one monitor it covers (absent for a window of a service).
    pub monitor: Option<i64>,
    pub title: String,
    /// one_off or recurring.
    pub kind: String,
    /// One-off: first instant inside the window.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub starts_at: Option<Timestamp>,
    /// One-off: first instant after the window.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ends_at: Option<Timestamp>,
    /// Recurring: local start time, HH:MM.
    pub start: Option<String>,
    /// Recurring: length of each occurrence.
    pub duration_seconds: Option<f64>,
    /// Recurring: mon … sun; empty means every day.
    pub days: Vec<String>,
    /// Recurring: IANA time zone of `start` and `days`.
    pub tz: Option<String>,
    /// Recurring: no occurrence starts at or after this time.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub until: Option<Timestamp>,
    /// Whether the window is active now.
    pub active: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Who created it.
    pub created_by: String,
}

impl MaintenanceView {
    fn new(window: MaintenanceWindow, now: Timestamp) -> Self {
        let active = maintenance::active_at(&window, now);
        Self {
            id: window.id,
            service: window.service_slug,
            monitor: window.monitor_id,
            title: window.title,
            kind: window.kind.as_str().to_string(),
            starts_at: window.starts_at,
            ends_at: window.ends_at,
            start: window.start_time,
            duration_seconds: window.duration_ms.map(|ms| ms as f64 / 1000.0),
            days: window.days,
            tz: window.tz,
            until: window.until,
            active,
            created_at: window.created_at,
            created_by: window.created_by,
        }
    }
}

/// A new window: a service or a monitor, a title, and either `starts_at` + `ends_at` (one-off) or
/// `start` + `duration` with optional `days`, `tz` and `until` (recurring).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMaintenance {
    /// Slug of the service: the window covers all its monitors.
    pub service: Option<String>,
    /// Id of the one monitor the window covers.
    pub monitor: Option<i64>,
    /// What is being done, e.g. "Database upgrade" (required).
    #[serde(default)]
    pub title: String,
    /// One-off: RFC 3339, e.g. `2025-06-01T22:00:00Z`.
    pub starts_at: Option<String>,
    /// One-off: RFC 3339, after `starts_at`, at most 31 days later.
    pub ends_at: Option<String>,
    /// Recurring: local start time `HH:MM`, e.g. `23:00`.
    pub start: Option<String>,
    /// Recurring: e.g. `2h` (1m to 7d).
    pub duration: Option<String>,
    /// Recurring: weekdays (`mon` … `sun`); empty or absent means every day.
    #[serde(default)]
    pub days: Vec<String>,
    /// Recurring: IANA time zone, e.g. `Europe/Berlin` (default UTC).
    pub tz: Option<String>,
    /// Recurring: RFC 3339; no occurrence starts at or after it.
    pub until: Option<String>,
}

impl From<CreateMaintenance> for WindowSpec {
    fn from(body: CreateMaintenance) -> Self {
        WindowSpec {
            service: body.service,
            monitor: body.monitor,
            title: body.title,
            starts_at: body.starts_at,
            ends_at: body.ends_at,
            start: body.start,
            duration: body.duration,
            days: body.days,
            tz: body.tz,
            until: body.until,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MaintenanceListQuery {
    /// Windows of this service and of its monitors.
    pub service: Option<String>,
    /// Windows that apply to this monitor: its own and its service's.
    pub monitor: Option<i64>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// List maintenance windows, oldest first.
#[utoipa::path(get, path = "/api/v1/maintenance", tag = "maintenance", params(MaintenanceListQuery),
    responses((status = 200, body = Paged<MaintenanceView>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_maintenance(
    State(state): State<AppState>,
    _reader: Reader,
    ApiQuery(query): ApiQuery<MaintenanceListQuery>,
) -> ApiResult<Json<Paged<MaintenanceView>>> {
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .page()?;
    let windows =
        maintenance::list_windows(&state.core, query.service.as_deref(), query.monitor, page)
            .await?;
    let now = state.core.now();
    Ok(Json(Paged::from_page(windows, |window| {
        MaintenanceView::new(window, now)
    })))
}

/// Create a maintenance window (write).
#[utoipa::path(post, path = "/api/v1/maintenance", tag = "maintenance", request_body = CreateMaintenance,
    responses((status = 201, body = MaintenanceView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_maintenance(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiJson(body): ApiJson<CreateMaintenance>,
) -> ApiResult<(StatusCode, Json<MaintenanceView>)> {
    let ctx = caller.audit(&state);
    let window = maintenance::create_window(&state.core, &ctx, &body.into()).await?;
    Ok((
        StatusCode::CREATED,
        Json(MaintenanceView::new(window, state.core.now())),
    ))
}

/// Delete a maintenance window (write).
#[utoipa::path(delete, path = "/api/v1/maintenance/{id}", tag = "maintenance", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_maintenance(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let ctx = caller.audit(&state);
    maintenance::delete_window(&state.core, &ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! `/api/v1/monitors`: monitors of services (active checks and heartbeats), pause/resume, and their
//! state-change events, heartbeat pings and check results.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use upkeep_core::monitors::{self, MonitorSpec};
use upkeep_core::storage::{
    CheckResult, HeartbeatPing, Monitor, MonitorEvent, MonitorFilter, MonitorSort, MonitorSortKey,
    MonitorStatus, PageRequest,
};
use utoipa::{IntoParams, ToSchema};

use super::views::Paged;
use super::{ApiPath, ApiQuery, PageQuery};
use crate::AppState;
use crate::auth::{Reader, Writer};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::json::ApiJson;

/// A monitor with its current state.
#[derive(Serialize, ToSchema)]
pub struct MonitorView {
    pub id: i64,
    /// Slug of the service it belongs to.
    pub service: String,
    pub name: String,
    pub slug: String,
    /// http, tcp, dns, tls, icmp or heartbeat.
    pub kind: String,
    /// up, down, degraded, pending, paused or maintenance.
    pub status: String,
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    pub interval_seconds: f64,
    pub failure_threshold: i32,
    pub success_threshold: i32,
    /// Heartbeats: the URL the job pings.
    pub ping_url: Option<String>,
    pub paused: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resume_at: Option<Timestamp>,
    /// The configuration file that declares it, when it is managed by `upkeep apply`.
    pub managed_by: Option<String>,
    /// Heartbeats: a `/start` is waiting for its completion.
    pub started: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_checked_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_change_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_ping_at: Option<Timestamp>,
    /// When the status changes next without any ping (a heartbeat turning late or down).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub deadline_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub last_duration_ms: Option<i64>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl MonitorView {
    /// The monitor as shown: its status is `maintenance` while a window covers it (paused wins).
    pub async fn new(state: &AppState, monitor: Monitor) -> ApiResult<Self> {
        let status = monitors::effective_status(&state.core, &monitor).await?;
        Ok(Self::with_status(state, monitor, status))
    }

    /// The monitor with the status to show, computed by the caller (for whole pages at once).
    pub fn with_status(state: &AppState, monitor: Monitor, status: MonitorStatus) -> Self {
        let ping_url = monitors::ping_url(&state.core, &monitor);
        Self {
            id: monitor.id,
            service: monitor.service_slug,
            name: monitor.name,
            slug: monitor.slug,
            kind: monitor.kind,
            status: status.as_str().to_string(),
            settings: monitor.settings,
            interval_seconds: monitor.interval_ms as f64 / 1000.0,
            failure_threshold: monitor.failure_threshold,
            success_threshold: monitor.success_threshold,
            ping_url,
            paused: monitor.paused,
            resume_at: monitor.resume_at,
            managed_by: monitor.managed_by,
            started: monitor.state.last_start_at.is_some(),
            last_checked_at: monitor.state.last_checked_at,
            last_change_at: monitor.state.last_change_at,
            last_ping_at: monitor.state.last_ping_at,
            deadline_at: monitor.state.deadline_at,
            last_error: monitor.state.last_error,
            last_duration_ms: monitor.state.last_duration_ms,
            created_at: monitor.created_at,
            updated_at: monitor.updated_at,
        }
    }
}

/// A new monitor: its service and its definition.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMonitor {
    /// Slug of the service.
    pub service: String,
    #[serde(flatten)]
    #[schema(inline)]
    pub spec: SpecBody,
}

/// A monitor definition (see `upkeep monitor create --help` for the fields by kind).
#[derive(Deserialize, ToSchema)]
pub struct SpecBody {
    pub name: String,
    pub slug: Option<String>,
    pub kind: String,
    pub url: Option<String>,
    pub method: Option<String>,
    #[serde(default)]
    #[schema(value_type = Vec<Vec<String>>)]
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// e.g. `30s` (1s to 24h).
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub follow_redirects: Option<bool>,
    pub verify_tls: Option<bool>,
    /// Gatus-style conditions, e.g. `[STATUS] == 200`.
    #[serde(default)]
    pub conditions: Vec<String>,
    pub record_type: Option<String>,
    pub dns_server: Option<String>,
    pub send: Option<String>,
    pub expect: Option<String>,
    /// Heartbeats: e.g. `1d`.
    pub period: Option<String>,
    /// Heartbeats: e.g. `0 3 * * *` with `tz`.
    pub cron: Option<String>,
    pub tz: Option<String>,
    pub grace: Option<String>,
    pub failure_threshold: Option<i32>,
    pub success_threshold: Option<i32>,
}

impl From<SpecBody> for MonitorSpec {
    fn from(body: SpecBody) -> Self {
        MonitorSpec {
            name: body.name,
            slug: body.slug,
            kind: body.kind,
            url: body.url,
            method: body.method,
            headers: body.headers,
            body: body.body,
            interval: body.interval,
            timeout: body.timeout,
            follow_redirects: body.follow_redirects,
            verify_tls: body.verify_tls,
            conditions: body.conditions,
            record_type: body.record_type,
            dns_server: body.dns_server,
            send: body.send,
            expect: body.expect,
            period: body.period,
            cron: body.cron,
            tz: body.tz,
            grace: body.grace,
            failure_threshold: body.failure_threshold,
            success_threshold: body.success_threshold,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseBody {
    /// Resume by itself at this time (RFC 3339).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resume_at: Option<Timestamp>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MonitorListQuery {
    /// Only this service's monitors.
    pub service: Option<String>,
    /// Only monitors with this status, as shown (`maintenance` while a window covers the monitor).
    pub status: Option<String>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Name or slug contains this.
    pub q: Option<String>,
    /// Order: `created` (default), `name`, `status` (worst first: down, degraded, pending, up,
    /// maintenance, paused) or `last_checked` (never checked first).
    pub sort: Option<String>,
    /// `asc` (default) or `desc`.
    pub order: Option<String>,
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page, with the same `sort` and `order`.
    pub cursor: Option<String>,
}

/// List monitors, filtered, sorted and paginated.
#[utoipa::path(get, path = "/api/v1/monitors", tag = "monitors", params(MonitorListQuery),
    responses((status = 200, body = Paged<MonitorView>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_monitors(
    State(state): State<AppState>,
    _reader: Reader,
    ApiQuery(query): ApiQuery<MonitorListQuery>,
) -> ApiResult<Json<Paged<MonitorView>>> {
    let mut sort = MonitorSort::new(
        match query.sort.as_deref() {
            None => MonitorSortKey::Created,
            Some(text) => MonitorSortKey::parse(text).ok_or_else(|| {
                ApiError::validation(
                    "sort",
                    format!("sort: {text:?} is not one of created, name, status, last_checked"),
                )
            })?,
        },
        match query.order.as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(text) => {
                return Err(ApiError::validation(
                    "order",
                    format!("order: {text:?} is not asc or desc"),
                ));
            }
        },
    );
    let limit = PageQuery {
        limit: query.limit,
        cursor: None,
    }
    .page()?
    .limit;
    let cursor = match query.cursor.as_deref() {
        None | Some("") => None,
        Some(text) => Some(sort.continue_after(text).ok_or_else(|| {
            ApiError::validation(
                "cursor",
                "cursor: not a cursor from a previous page of this order",
            )
        })?),
    };
    let page = PageRequest::new(limit, cursor);
    let service_id = match &query.service {
        Some(slug) => Some(upkeep_core::catalog::service(&state.core, slug).await?.id),
        None => None,
    };
    let status = match &query.status {
        Some(text) => Some(MonitorStatus::parse(text).ok_or_else(|| {
            ApiError::validation(
                "status",
                format!("status: {text:?} is not a monitor status"),
            )
        })?),
        None => None,
    };
    let filter = MonitorFilter {
        service_id,
        status,
        kind: query.kind,
        search: query.q,
        sort,
        maintenance: None,
    };
    let monitors = monitors::list_monitors(&state.core, &filter, page).await?;
    let statuses = monitors::effective_statuses(&state.core, &monitors.items).await?;
    Ok(Json(Paged::from_page(monitors, |monitor| {
        let status = statuses
            .get(&monitor.id)
            .copied()
            .unwrap_or(monitor.state.status);
        MonitorView::with_status(&state, monitor, status)
    })))
}

/// Create a monitor (write). Heartbeats answer with their `ping_url`.
#[utoipa::path(post, path = "/api/v1/monitors", tag = "monitors", request_body = CreateMonitor,
    responses((status = 201, body = MonitorView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_monitor(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiJson(body): ApiJson<CreateMonitor>,
) -> ApiResult<(StatusCode, Json<MonitorView>)> {
    let ctx = caller.audit(&state);
    let monitor =
        monitors::create_monitor(&state.core, &ctx, &body.service, &body.spec.into(), None).await?;
    Ok((
        StatusCode::CREATED,
        Json(MonitorView::new(&state, monitor).await?),
    ))
}

/// One monitor with its state.
#[utoipa::path(get, path = "/api/v1/monitors/{id}", tag = "monitors", params(("id" = i64, Path)),
    responses((status = 200, body = MonitorView), (status = 404, body = ErrorBody)))]
pub async fn get_monitor(
    State(state): State<AppState>,
    _reader: Reader,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<MonitorView>> {
    let monitor = monitors::monitor(&state.core, id).await?;
    Ok(Json(MonitorView::new(&state, monitor).await?))
}

/// Replace a monitor's definition (write). Monitors managed by a configuration file are changed there.
#[utoipa::path(put, path = "/api/v1/monitors/{id}", tag = "monitors", params(("id" = i64, Path)), request_body = SpecBody,
    responses((status = 200, body = MonitorView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_monitor(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<SpecBody>,
) -> ApiResult<Json<MonitorView>> {
    refuse_file_managed(&state, id).await?;
    let ctx = caller.audit(&state);
    let monitor = monitors::update_monitor(&state.core, &ctx, id, &body.into()).await?;
    Ok(Json(MonitorView::new(&state, monitor).await?))
}

async fn refuse_file_managed(state: &AppState, id: i64) -> ApiResult<()> {
    let monitor = monitors::monitor(&state.core, id).await?;
    match monitor.managed_by {
        Some(file) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("this monitor is managed by {file}; change it there and run upkeep apply"),
        )),
        None => Ok(()),
    }
}

/// Delete a monitor with its history (write).
#[utoipa::path(delete, path = "/api/v1/monitors/{id}", tag = "monitors", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_monitor(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    refuse_file_managed(&state, id).await?;
    let ctx = caller.audit(&state);
    monitors::delete_monitor(&state.core, &ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pause a monitor, optionally until a time (write).
#[utoipa::path(post, path = "/api/v1/monitors/{id}/pause", tag = "monitors", params(("id" = i64, Path)), request_body = PauseBody,
    responses((status = 200, body = MonitorView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn pause_monitor(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<PauseBody>,
) -> ApiResult<Json<MonitorView>> {
    let ctx = caller.audit(&state);
    let monitor = monitors::pause(&state.core, &ctx, id, body.resume_at).await?;
    Ok(Json(MonitorView::new(&state, monitor).await?))
}

/// Resume a paused monitor (write); it starts over as pending.
#[utoipa::path(post, path = "/api/v1/monitors/{id}/resume", tag = "monitors", params(("id" = i64, Path)),
    responses((status = 200, body = MonitorView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn resume_monitor(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<MonitorView>> {
    let ctx = caller.audit(&state);
    let monitor = monitors::resume(&state.core, &ctx, id).await?;
    Ok(Json(MonitorView::new(&state, monitor).await?))
}

#[derive(Serialize, ToSchema)]
pub struct EventView {
    pub id: i64,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    pub from_status: String,
    pub to_status: String,
    pub reason: String,
}

impl From<MonitorEvent> for EventView {
    fn from(event: MonitorEvent) -> Self {
        Self {
            id: event.id,
            at: event.at,
            from_status: event.from_status.as_str().into(),
            to_status: event.to_status.as_str().into(),
            reason: event.reason,
        }
    }
}

/// Status changes of a monitor, newest first.
#[utoipa::path(get, path = "/api/v1/monitors/{id}/events", tag = "monitors", params(("id" = i64, Path), PageQuery),
    responses((status = 200, body = Paged<EventView>), (status = 404, body = ErrorBody)))]
pub async fn list_events(
    State(state): State<AppState>,
    _reader: Reader,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<Paged<EventView>>> {
    monitors::monitor(&state.core, id).await?;
    let events = state
        .core
        .storage
        .list_monitor_events(id, query.page()?)
        .await
        .map_err(upkeep_core::CoreError::from)?;
    Ok(Json(Paged::from_page(events, EventView::from)))
}

#[derive(Serialize, ToSchema)]
pub struct PingView {
    pub id: i64,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// success, start, fail, log or ignored (while paused).
    pub kind: String,
    pub exit_status: Option<i32>,
    pub rid: Option<String>,
    pub duration_ms: Option<i64>,
    pub body: Option<String>,
    pub method: String,
    pub remote_addr: Option<String>,
    pub user_agent: Option<String>,
}

impl From<HeartbeatPing> for PingView {
    fn from(ping: HeartbeatPing) -> Self {
        Self {
            id: ping.id,
            at: ping.at,
            kind: ping.kind,
            exit_status: ping.exit_status,
            rid: ping.rid,
            duration_ms: ping.duration_ms,
            body: ping.body,
            method: ping.method,
            remote_addr: ping.remote_addr,
            user_agent: ping.user_agent,
        }
    }
}

/// Heartbeat pings received, newest first.
#[utoipa::path(get, path = "/api/v1/monitors/{id}/pings", tag = "monitors", params(("id" = i64, Path), PageQuery),
    responses((status = 200, body = Paged<PingView>), (status = 404, body = ErrorBody)))]
pub async fn list_pings(
    State(state): State<AppState>,
    _reader: Reader,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<Paged<PingView>>> {
    monitors::monitor(&state.core, id).await?;
    let pings = state
        .core
        .storage
        .list_pings(id, query.page()?)
        .await
        .map_err(upkeep_core::CoreError::from)?;
    Ok(Json(Paged::from_page(pings, PingView::from)))
}

#[derive(Serialize, ToSchema)]
pub struct ResultView {
    pub id: i64,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    pub success: bool,
    pub duration_ms: i64,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    /// Phase timings and each condition's outcome.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl From<CheckResult> for ResultView {
    fn from(result: CheckResult) -> Self {
        Self {
            id: result.id,
            at: result.at,
            success: result.success,
            duration_ms: result.duration_ms,
            status_code: result.status_code,
            error: result.error,
            details: result.details,
        }
    }
}

/// Raw results of active checks, newest first (kept for the configured window).
#[utoipa::path(get, path = "/api/v1/monitors/{id}/results", tag = "monitors", params(("id" = i64, Path), PageQuery),
    responses((status = 200, body = Paged<ResultView>), (status = 404, body = ErrorBody)))]
pub async fn list_results(
    State(state): State<AppState>,
    _reader: Reader,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<Paged<ResultView>>> {
    monitors::monitor(&state.core, id).await?;
    let results = state
        .core
        .storage
        .list_results(id, query.page()?)
        .await
        .map_err(upkeep_core::CoreError::from)?;
    Ok(Json(Paged::from_page(results, ResultView::from)))
}

//! `/api/v1/incidents`: incidents with their alerts and timeline, and the lifecycle actions (acknowledge,
//! resolve, reopen, notes, severity and assignee); `/api/v1/services/{slug}/integrations` and
//! `/changes`: a service's alert-source keys and its change events (deploys).

use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use upkeep_core::catalog;
use upkeep_core::incidents::{self, IncidentChange, integrations};
use upkeep_core::storage::{
    Alert, ChangeEvent, Incident, IncidentFilter, IncidentStatus, IntegrationKind, Severity,
    TimelineEntry,
};
use utoipa::{IntoParams, ToSchema};

use super::views::Paged;
use super::{ApiPath, ApiQuery, PageQuery};
use crate::AppState;
use crate::auth::{Reader, Writer};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::json::ApiJson;

/// An incident.
#[derive(Serialize, ToSchema)]
pub struct IncidentView {
    pub id: i64,
    /// Slug of the service the incident belongs to.
    pub service: String,
    pub title: String,
    /// triggered, acknowledged or resolved.
    pub status: String,
    /// critical, error, warning or info.
    pub severity: String,
    pub assignee_user_id: Option<i64>,
    /// Alerts ever attached, and those not yet resolved.
    pub alert_count: i64,
    pub open_alert_count: i64,
    /// The grouping key it was opened for (Alertmanager's groupKey).
    pub group_key: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub acknowledged_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl From<Incident> for IncidentView {
    fn from(incident: Incident) -> Self {
        Self {
            id: incident.id,
            service: incident.service_slug,
            title: incident.title,
            status: incident.status.as_str().to_string(),
            severity: incident.severity.as_str().to_string(),
            assignee_user_id: incident.assignee_user_id,
            alert_count: incident.alert_count,
            open_alert_count: incident.open_alert_count,
            group_key: incident.group_key,
            created_at: incident.created_at,
            acknowledged_at: incident.acknowledged_at,
            resolved_at: incident.resolved_at,
            updated_at: incident.updated_at,
        }
    }
}

/// An alert of an incident.
#[derive(Serialize, ToSchema)]
pub struct AlertView {
    pub id: i64,
    pub incident_id: i64,
    pub service_id: i64,
    /// pagerduty, alertmanager, grafana, webhook or monitor.
    pub source: String,
    pub dedup_key: String,
    pub status: String,
    pub summary: String,
    pub severity: String,
    /// The event as received.
    #[schema(value_type = Object)]
    pub details: Value,
    /// Trigger events absorbed by this alert (1 + duplicates).
    pub event_count: i64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<Timestamp>,
}

impl From<Alert> for AlertView {
    fn from(alert: Alert) -> Self {
        Self {
            id: alert.id,
            incident_id: alert.incident_id,
            service_id: alert.service_id,
            source: alert.source.as_str().to_string(),
            dedup_key: alert.dedup_key,
            status: alert.status.as_str().to_string(),
            summary: alert.summary,
            severity: alert.severity.as_str().to_string(),
            details: alert.details,
            event_count: alert.event_count,
            created_at: alert.created_at,
            resolved_at: alert.resolved_at,
        }
    }
}

/// One line of an incident's timeline.
#[derive(Serialize, ToSchema)]
pub struct TimelineView {
    pub id: i64,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// e.g. incident.triggered, alert.added, alert.resolved, incident.acknowledged, note.
    pub kind: String,
    pub actor: Option<String>,
    pub message: String,
    #[schema(value_type = Object)]
    pub details: Value,
}

impl From<TimelineEntry> for TimelineView {
    fn from(entry: TimelineEntry) -> Self {
        Self {
            id: entry.id,
            at: entry.at,
            kind: entry.kind,
            actor: entry.actor,
            message: entry.message,
            details: entry.details,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncidentListQuery {
    /// Only incidents of this service.
    pub service: Option<String>,
    /// Comma-separated statuses, e.g. `triggered,acknowledged`.
    pub status: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

fn parse_statuses(text: Option<&str>) -> ApiResult<Vec<IncidentStatus>> {
    text.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            IncidentStatus::parse(part).ok_or_else(|| {
                ApiError::validation(
                    "status",
                    format!(
                        "status: unknown status {part:?} (triggered, acknowledged or resolved)"
                    ),
                )
            })
        })
        .collect()
}

/// List incidents, newest first.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents", params(IncidentListQuery),
    responses((status = 200, body = Paged<IncidentView>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_incidents(
    State(state): State<AppState>,
    _reader: Reader,
    ApiQuery(query): ApiQuery<IncidentListQuery>,
) -> ApiResult<Json<Paged<IncidentView>>> {
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .page()?;
    let service_id = match &query.service {
        Some(slug) => Some(catalog::service(&state.core, slug).await?.id),
        None => None,
    };
    let filter = IncidentFilter {
        service_id,
        statuses: parse_statuses(query.status.as_deref())?,
    };
    let incidents = incidents::list(&state.core, &filter, page).await?;
    Ok(Json(Paged::from_page(incidents, IncidentView::from)))
}

/// One incident.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents", params(("id" = i64, Path)),
    responses((status = 200, body = IncidentView), (status = 404, body = ErrorBody)))]
pub async fn get_incident(
    State(state): State<AppState>,
    _reader: Reader,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<IncidentView>> {
    Ok(Json(incidents::incident(&state.core, id).await?.into()))
}

/// Changes to an incident; absent fields stay as they are. `assignee_user_id: null` unassigns.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateIncident {
    /// critical, error, warning or info.
    pub severity: Option<String>,
    #[serde(default, deserialize_with = "super::views::present")]
    #[schema(value_type = Option<i64>)]
    pub assignee_user_id: Option<Option<i64>>,
}

/// Change an incident's severity or assignee (write).
#[utoipa::path(patch, path = "/api/v1/incidents/{id}", tag = "incidents", params(("id" = i64, Path)), request_body = UpdateIncident,
    responses((status = 200, body = IncidentView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_incident(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<UpdateIncident>,
) -> ApiResult<Json<IncidentView>> {
    let ctx = caller.audit(&state);
    let mut incident = incidents::incident(&state.core, id).await?;
    if let Some(severity) = &body.severity {
        let severity = Severity::parse(severity).ok_or_else(|| {
            ApiError::validation(
                "severity",
                format!(
                    "severity: unknown severity {severity:?} (critical, error, warning or info)"
                ),
            )
        })?;
        incident =
            incidents::change(&state.core, &ctx, id, IncidentChange::Severity(severity)).await?;
    }
    if let Some(assignee) = body.assignee_user_id {
        incident =
            incidents::change(&state.core, &ctx, id, IncidentChange::Assign(assignee)).await?;
    }
    Ok(Json(incident.into()))
}

async fn lifecycle(
    state: &AppState,
    caller: &crate::auth::Caller,
    id: i64,
    change: IncidentChange,
) -> ApiResult<Json<IncidentView>> {
    let ctx = caller.audit(state);
    Ok(Json(
        incidents::change(&state.core, &ctx, id, change)
            .await?
            .into(),
    ))
}

/// Acknowledge an incident: escalation stops (write). Acknowledging twice is not an error.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/acknowledge", tag = "incidents", params(("id" = i64, Path)),
    responses((status = 200, body = IncidentView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn acknowledge_incident(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<IncidentView>> {
    lifecycle(&state, &caller, id, IncidentChange::Acknowledge).await
}

/// Resolve an incident and its open alerts (write).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/resolve", tag = "incidents", params(("id" = i64, Path)),
    responses((status = 200, body = IncidentView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn resolve_incident(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<IncidentView>> {
    lifecycle(&state, &caller, id, IncidentChange::Resolve).await
}

/// Reopen a resolved incident (write).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/reopen", tag = "incidents", params(("id" = i64, Path)),
    responses((status = 200, body = IncidentView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn reopen_incident(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<IncidentView>> {
    lifecycle(&state, &caller, id, IncidentChange::Reopen).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    /// The note (1 to 10,000 characters).
    #[serde(default)]
    pub text: String,
}

/// Add a note to an incident's timeline (write).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/notes", tag = "incidents", params(("id" = i64, Path)), request_body = NewNote,
    responses((status = 200, body = IncidentView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_note(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<NewNote>,
) -> ApiResult<Json<IncidentView>> {
    lifecycle(&state, &caller, id, IncidentChange::Note(body.text)).await
}

/// An incident's timeline, oldest first.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/timeline", tag = "incidents", params(("id" = i64, Path), PageQuery),
    responses((status = 200, body = Paged<TimelineView>), (status = 404, body = ErrorBody)))]
pub async fn get_timeline(
    State(state): State<AppState>,
    _reader: Reader,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Paged<TimelineView>>> {
    let entries = incidents::timeline(&state.core, id, page.page()?).await?;
    Ok(Json(Paged::from_page(entries, TimelineView::from)))
}

/// An incident's alerts, oldest first.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/alerts", tag = "incidents", params(("id" = i64, Path), PageQuery),
    responses((status = 200, body = Paged<AlertView>), (status = 404, body = ErrorBody)))]
pub async fn get_alerts(
    State(state): State<AppState>,
    _reader: Reader,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Paged<AlertView>>> {
    let alerts = incidents::alerts(&state.core, id, page.page()?).await?;
    Ok(Json(Paged::from_page(alerts, AlertView::from)))
}

/// A service's alert-source integrations: the PagerDuty routing key and the webhook URLs.
#[derive(Serialize, ToSchema)]
pub struct IntegrationsView {
    /// 32-character routing key for PagerDuty Events API v2 clients.
    pub pagerduty_routing_key: String,
    /// Where PagerDuty clients send events (`/v2/enqueue` on this upkeep).
    pub pagerduty_events_url: String,
    /// Alertmanager `webhook_configs.url`.
    pub alertmanager_url: String,
    /// Grafana webhook contact point URL.
    pub grafana_url: String,
    /// Generic JSON webhook URL.
    pub webhook_url: String,
}

impl From<integrations::Integrations> for IntegrationsView {
    fn from(value: integrations::Integrations) -> Self {
        Self {
            pagerduty_routing_key: value.pagerduty_routing_key,
            pagerduty_events_url: value.pagerduty_events_url,
            alertmanager_url: value.alertmanager_url,
            grafana_url: value.grafana_url,
            webhook_url: value.webhook_url,
        }
    }
}

/// A service's integration keys and URLs (write: they let the holder raise alerts).
#[utoipa::path(get, path = "/api/v1/services/{slug}/integrations", tag = "incidents", params(("slug" = String, Path)),
    responses((status = 200, body = IntegrationsView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_integrations(
    State(state): State<AppState>,
    _writer: Writer,
    ApiPath(slug): ApiPath<String>,
) -> ApiResult<Json<IntegrationsView>> {
    let service = catalog::service(&state.core, &slug).await?;
    Ok(Json(
        integrations::integrations(&state.core, service.id)
            .await?
            .into(),
    ))
}

/// Replace one integration key (`pagerduty`, `alertmanager`, `grafana` or `webhook`); the old key stops
/// working at once (write).
#[utoipa::path(post, path = "/api/v1/services/{slug}/integrations/{kind}/rotate", tag = "incidents",
    params(("slug" = String, Path), ("kind" = String, Path)),
    responses((status = 200, body = IntegrationsView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rotate_integration(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiPath((slug, kind)): ApiPath<(String, String)>,
) -> ApiResult<Json<IntegrationsView>> {
    let kind = IntegrationKind::parse(&kind).ok_or_else(|| {
        ApiError::not_found(format!(
            "no integration kind {kind:?} (pagerduty, alertmanager, grafana or webhook)"
        ))
    })?;
    let service = catalog::service(&state.core, &slug).await?;
    let ctx = caller.audit(&state);
    Ok(Json(
        integrations::rotate(&state.core, &ctx, service.id, kind)
            .await?
            .into(),
    ))
}

/// A change event (deploy) recorded on a service.
#[derive(Serialize, ToSchema)]
pub struct ChangeView {
    pub id: i64,
    pub summary: String,
    pub source: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub happened_at: Timestamp,
    #[schema(value_type = Object)]
    pub links: Value,
    #[schema(value_type = Object)]
    pub custom_details: Value,
}

impl From<ChangeEvent> for ChangeView {
    fn from(change: ChangeEvent) -> Self {
        Self {
            id: change.id,
            summary: change.summary,
            source: change.source,
            happened_at: change.happened_at,
            links: change.links,
            custom_details: change.custom_details,
        }
    }
}

/// A service's change events, newest first.
#[utoipa::path(get, path = "/api/v1/services/{slug}/changes", tag = "incidents", params(("slug" = String, Path), PageQuery),
    responses((status = 200, body = Paged<ChangeView>), (status = 404, body = ErrorBody)))]
pub async fn list_changes(
    State(state): State<AppState>,
    _reader: Reader,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Paged<ChangeView>>> {
    let service = catalog::service(&state.core, &slug).await?;
    let changes = integrations::changes(&state.core, service.id, None, page.page()?).await?;
    Ok(Json(Paged::from_page(changes, ChangeView::from)))
}

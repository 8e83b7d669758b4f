//! `/api/v1/escalation-policies`: who is paged, in which order, how often; `/api/v1/services/{slug}/
//! escalation`: a service's policy and runbook link; `/api/v1/incidents/{id}/notifications`: every page
//! sent for an incident with its attempt log.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use upkeep_core::catalog;
use upkeep_core::incidents::{self, escalation};
use upkeep_core::storage::{EscalationPolicy, PageRequest, ServiceEscalation};
use utoipa::ToSchema;

use super::views::Paged;
use super::{ApiPath, ApiQuery, PageQuery};
use crate::AppState;
use crate::auth::{Reader, Writer};
use crate::error::{ApiResult, ErrorBody};
use crate::json::ApiJson;

/// An escalation policy, with what would keep it from paging anyone right now.
#[derive(Serialize, ToSchema)]
pub struct PolicyView {
    pub id: i64,
    pub slug: String,
    pub name: String,
    /// `levels` (each `delay`, `targets` of `{"user": id}` or `{"schedule": "slug"}`, `mode` all or
    /// round_robin), `repeat`, `ack_timeout`.
    #[schema(value_type = Object)]
    pub spec: serde_json::Value,
    /// Levels nobody would be paged at, people without a verified contact method.
    pub gaps: Vec<String>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

async fn view(state: &AppState, policy: EscalationPolicy) -> ApiResult<PolicyView> {
    let gaps = escalation::gaps(&state.core, &policy).await?;
    Ok(PolicyView {
        id: policy.id,
        slug: policy.slug,
        name: policy.name,
        spec: policy.spec,
        gaps,
        updated_at: policy.updated_at,
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePolicy {
    pub slug: String,
    #[serde(default)]
    pub name: String,
    #[schema(value_type = Object)]
    pub spec: escalation::PolicySpec,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePolicy {
    pub name: Option<String>,
    #[schema(value_type = Object)]
    pub spec: escalation::PolicySpec,
}

/// List escalation policies.
#[utoipa::path(get, path = "/api/v1/escalation-policies", tag = "escalation", params(PageQuery),
    responses((status = 200, body = Paged<PolicyView>), (status = 401, body = ErrorBody)))]
pub async fn list_policies(
    State(state): State<AppState>,
    _reader: Reader,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Paged<PolicyView>>> {
    let policies = escalation::list(&state.core, page.page()?).await?;
    let mut items = Vec::with_capacity(policies.items.len());
    for policy in policies.items {
        items.push(view(&state, policy).await?);
    }
    Ok(Json(Paged {
        items,
        next_cursor: policies.next_cursor,
    }))
}

/// Create an escalation policy (write).
#[utoipa::path(post, path = "/api/v1/escalation-policies", tag = "escalation", request_body = CreatePolicy,
    responses((status = 201, body = PolicyView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_policy(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiJson(body): ApiJson<CreatePolicy>,
) -> ApiResult<(StatusCode, Json<PolicyView>)> {
    let ctx = caller.audit(&state);
    let policy = escalation::create(&state.core, &ctx, &body.slug, &body.name, &body.spec).await?;
    Ok((StatusCode::CREATED, Json(view(&state, policy).await?)))
}

/// One escalation policy.
#[utoipa::path(get, path = "/api/v1/escalation-policies/{slug}", tag = "escalation", params(("slug" = String, Path)),
    responses((status = 200, body = PolicyView), (status = 404, body = ErrorBody)))]
pub async fn get_policy(
    State(state): State<AppState>,
    _reader: Reader,
    ApiPath(slug): ApiPath<String>,
) -> ApiResult<Json<PolicyView>> {
    let policy = escalation::policy(&state.core, &slug).await?;
    Ok(Json(view(&state, policy).await?))
}

/// Replace a policy's levels (write).
#[utoipa::path(put, path = "/api/v1/escalation-policies/{slug}", tag = "escalation", params(("slug" = String, Path)), request_body = UpdatePolicy,
    responses((status = 200, body = PolicyView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_policy(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiPath(slug): ApiPath<String>,
    ApiJson(body): ApiJson<UpdatePolicy>,
) -> ApiResult<Json<PolicyView>> {
    let ctx = caller.audit(&state);
    let policy =
        escalation::update(&state.core, &ctx, &slug, body.name.as_deref(), &body.spec).await?;
    Ok(Json(view(&state, policy).await?))
}

/// Delete a policy; services using it are left without one (write).
#[utoipa::path(delete, path = "/api/v1/escalation-policies/{slug}", tag = "escalation", params(("slug" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_policy(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiPath(slug): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let ctx = caller.audit(&state);
    escalation::delete(&state.core, &ctx, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A service's escalation policy and runbook link.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceEscalationView {
    /// Slug of the policy (null: nobody is paged for this service's incidents).
    pub escalation_policy: Option<String>,
    pub runbook_url: Option<String>,
}

impl From<ServiceEscalation> for ServiceEscalationView {
    fn from(value: ServiceEscalation) -> Self {
        Self {
            escalation_policy: value.escalation_policy_slug,
            runbook_url: value.runbook_url,
        }
    }
}

/// Set a service's escalation policy and runbook link (write).
#[utoipa::path(put, path = "/api/v1/services/{slug}/escalation", tag = "escalation", params(("slug" = String, Path)), request_body = ServiceEscalationView,
    responses((status = 200, body = ServiceEscalationView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_service_escalation(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiPath(slug): ApiPath<String>,
    ApiJson(body): ApiJson<ServiceEscalationView>,
) -> ApiResult<Json<ServiceEscalationView>> {
    let ctx = caller.audit(&state);
    let settings = escalation::set_for_service(
        &state.core,
        &ctx,
        &slug,
        body.escalation_policy.as_deref(),
        body.runbook_url,
    )
    .await?;
    Ok(Json(settings.into()))
}

/// A service's escalation policy and runbook link.
#[utoipa::path(get, path = "/api/v1/services/{slug}/escalation", tag = "escalation", params(("slug" = String, Path)),
    responses((status = 200, body = ServiceEscalationView), (status = 404, body = ErrorBody)))]
pub async fn get_service_escalation(
    State(state): State<AppState>,
    _reader: Reader,
    ApiPath(slug): ApiPath<String>,
) -> ApiResult<Json<ServiceEscalationView>> {
    let service = catalog::service(&state.core, &slug).await?;
    Ok(Json(
        state
            .core
            .storage
            .service_escalation(service.id)
            .await
            .map_err(upkeep_core::CoreError::from)?
            .into(),
    ))
}

/// One delivery attempt of a notification.
#[derive(Serialize, ToSchema)]
pub struct AttemptView {
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// delivered, retry, held, failed, ambiguous or cancelled.
    pub outcome: String,
    pub detail: String,
    pub duration_ms: i64,
}

/// A page sent (or to be sent) for an incident.
#[derive(Serialize, ToSchema)]
pub struct NotificationView {
    pub id: i64,
    pub user_id: Option<i64>,
    /// webhook, slack, teams, discord, telegram, ntfy or email.
    pub channel: String,
    /// Why it was sent: service, policy level, schedule layer, the person's rule.
    pub reason: String,
    /// queued, sending, delivered, failed, ambiguous or cancelled.
    pub status: String,
    pub attempts: Vec<AttemptView>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

/// Every notification of an incident, oldest first, with its attempt log.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/notifications", tag = "incidents", params(("id" = i64, Path)),
    responses((status = 200, body = Paged<NotificationView>), (status = 404, body = ErrorBody)))]
pub async fn list_notifications(
    State(state): State<AppState>,
    _reader: Reader,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Paged<NotificationView>>> {
    incidents::incident(&state.core, id).await?;
    let page = state
        .core
        .storage
        .incident_notifications(id, PageRequest::new(500, None))
        .await
        .map_err(upkeep_core::CoreError::from)?;
    let ids: Vec<i64> = page.items.iter().map(|n| n.id).collect();
    let attempts = state
        .core
        .storage
        .notification_attempts(&ids)
        .await
        .map_err(upkeep_core::CoreError::from)?;
    let items = page
        .items
        .into_iter()
        .map(|notification| NotificationView {
            attempts: attempts
                .iter()
                .filter(|attempt| attempt.notification_id == notification.id)
                .map(|attempt| AttemptView {
                    at: attempt.at,
                    outcome: attempt.outcome.clone(),
                    detail: attempt.detail.clone(),
                    duration_ms: attempt.duration_ms,
                })
                .collect(),
            id: notification.id,
            user_id: notification.user_id,
            channel: notification.channel_kind,
            reason: notification.reason,
            status: notification.status.as_str().to_string(),
            created_at: notification.created_at,
        })
        .collect();
    Ok(Json(Paged {
        items,
        next_cursor: page.next_cursor,
    }))
}

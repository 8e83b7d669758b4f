//! The JSON REST API under `/api/v1`. Each endpoint group is one file; every handler carries a
//! `#[utoipa::path]` and is registered with `routes!`, so the OpenAPI document and the router are built
//! from the same definitions and cannot drift.

mod audit;
mod contacts;
mod escalation;
mod incidents;
mod maintenance;
mod me;
mod monitors;
mod schedules;
mod services;
mod system;
mod teams;
mod tokens;
mod uptime;
mod users;
mod views;

use axum::Router;
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use upkeep_core::storage::PageRequest;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};

#[derive(OpenApi)]
#[openapi(
    info(title = "upkeep API", description = "Production support for small teams. Authenticate with `Authorization: Bearer upk_…` (create tokens with `upkeep token create` or on the Tokens page). Errors always have the shape `{\"error\":{\"code\",\"message\",\"field\"}}`. Lists are paginated with `limit` and `cursor`; pass `next_cursor` back as `cursor`."),
    modifiers(&Security),
    components(schemas(ErrorBody)),
    security(("bearer" = []), ("session" = []))
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("upk_…")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                upkeep_core::identity::SESSION_COOKIE,
                "Browser session; state-changing requests must also send X-CSRF-Token.",
            ))),
        );
    }
}

/// The API router and its OpenAPI document.
pub fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(me::get_me))
        .routes(routes!(me::change_password))
        .routes(routes!(
            contacts::list_my_contact_methods,
            contacts::create_my_contact_method
        ))
        .routes(routes!(
            contacts::update_my_contact_method,
            contacts::delete_my_contact_method
        ))
        .routes(routes!(contacts::test_my_contact_method))
        .routes(routes!(
            contacts::list_my_notification_rules,
            contacts::create_my_notification_rule
        ))
        .routes(routes!(contacts::delete_my_notification_rule))
        .routes(routes!(contacts::list_user_contact_methods))
        .routes(routes!(users::list_users, users::create_user))
        .routes(routes!(
            users::get_user,
            users::update_user,
            users::delete_user
        ))
        .routes(routes!(tokens::list_tokens, tokens::create_token))
        .routes(routes!(tokens::revoke_token))
        .routes(routes!(audit::list_audit))
        .routes(routes!(teams::list_teams, teams::create_team))
        .routes(routes!(
            teams::get_team,
            teams::update_team,
            teams::delete_team
        ))
        .routes(routes!(services::list_services, services::create_service))
        .routes(routes!(
            services::get_service,
            services::update_service,
            services::delete_service
        ))
        .routes(routes!(system::list_workers))
        .routes(routes!(monitors::list_monitors, monitors::create_monitor))
        .routes(routes!(
            monitors::get_monitor,
            monitors::update_monitor,
            monitors::delete_monitor
        ))
        .routes(routes!(monitors::pause_monitor))
        .routes(routes!(monitors::resume_monitor))
        .routes(routes!(monitors::list_events))
        .routes(routes!(monitors::list_pings))
        .routes(routes!(monitors::list_results))
        .routes(routes!(
            maintenance::list_maintenance,
            maintenance::create_maintenance
        ))
        .routes(routes!(maintenance::delete_maintenance))
        .routes(routes!(incidents::list_incidents))
        .routes(routes!(incidents::get_incident, incidents::update_incident))
        .routes(routes!(incidents::acknowledge_incident))
        .routes(routes!(incidents::resolve_incident))
        .routes(routes!(incidents::reopen_incident))
        .routes(routes!(incidents::add_note))
        .routes(routes!(incidents::get_timeline))
        .routes(routes!(incidents::get_alerts))
        .routes(routes!(incidents::get_integrations))
        .routes(routes!(incidents::rotate_integration))
        .routes(routes!(incidents::list_changes))
        .routes(routes!(
            escalation::list_policies,
            escalation::create_policy
        ))
        .routes(routes!(
            escalation::get_policy,
            escalation::update_policy,
            escalation::delete_policy
        ))
        .routes(routes!(
            escalation::get_service_escalation,
            escalation::set_service_escalation
        ))
        .routes(routes!(escalation::list_notifications))
        .routes(routes!(uptime::get_uptime))
        .routes(routes!(uptime::put_slo, uptime::delete_slo))
        .routes(routes!(
            schedules::list_schedules,
            schedules::create_schedule
        ))
        .routes(routes!(
            schedules::get_schedule,
            schedules::replace_schedule,
            schedules::delete_schedule
        ))
        .routes(routes!(schedules::rotate_feed))
        .routes(routes!(schedules::get_on_call))
        .routes(routes!(schedules::get_shifts))
        .routes(routes!(schedules::my_calendar))
        .split_for_parts()
}

/// The OpenAPI document alone (for `upkeep openapi` and tests).
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    routes().1
}

/// Paging parameters every list accepts.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1–500 (default 50).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        let cursor = match &self.cursor {
            Some(cursor) if !cursor.is_empty() => Some(cursor.parse::<i64>().map_err(|_| {
                ApiError::validation("cursor", "cursor: not a cursor from a previous page")
            })?),
            _ => None,
        };
        if self.limit == Some(0) || self.limit.is_some_and(|limit| limit > 500) {
            return Err(ApiError::validation(
                "limit",
                "limit: must be between 1 and 500",
            ));
        }
        Ok(PageRequest::new(self.limit.unwrap_or(50), cursor))
    }
}

/// `Query` whose parse failures use the error shape.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| Self(value))
            .map_err(|err| ApiError::bad_request("invalid_query", err.body_text()))
    }
}

/// `Path` whose parse failures use the error shape.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| Self(value))
            .map_err(|err| ApiError::bad_request("invalid_path", err.body_text()))
    }
}

/// Unknown paths: JSON 404 under `/api/`, plain 404 elsewhere.
pub async fn fallback(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError::not_found(format!("no API endpoint at {}", uri.path())).into_response()
    } else {
        (StatusCode::NOT_FOUND, "not found").into_response()
    }
}

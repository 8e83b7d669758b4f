//! `/api/v1/services`: services, the hub that monitors, incidents, errors and status components attach to.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use upkeep_core::catalog::{self, ServiceInput, ServicePatch};
use utoipa::{IntoParams, ToSchema};

use super::views::{LinkView, Paged, ServiceView};
use super::{ApiPath, ApiQuery, PageQuery};
use crate::AppState;
use crate::auth::{Reader, Writer};
use crate::error::{ApiResult, ErrorBody};
use crate::json::ApiJson;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateService {
    /// Lower-case letters, digits and dashes; used in URLs and the CLI.
    pub slug: String,
    pub name: Option<String>,
    pub description: Option<String>,
    /// Slug of the owner team.
    pub team: Option<String>,
    #[serde(default)]
    pub links: Vec<LinkView>,
    /// Slugs of services this one depends on.
    #[serde(default)]
    pub depends_on: Vec<String>,
}

/// Absent fields stay as they are; `"team": null` removes the owner team.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateService {
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde(default, deserialize_with = "super::views::present")]
    #[schema(value_type = Option<String>)]
    pub team: Option<Option<String>>,
    pub links: Option<Vec<LinkView>>,
    /// Replaces the whole set.
    pub depends_on: Option<Vec<String>>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServiceListQuery {
    /// Only this team's services.
    pub team: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// List services.
#[utoipa::path(get, path = "/api/v1/services", tag = "services", params(ServiceListQuery),
    responses((status = 200, body = Paged<ServiceView>), (status = 401, body = ErrorBody)))]
pub async fn list_services(
    State(state): State<AppState>,
    _reader: Reader,
    ApiQuery(query): ApiQuery<ServiceListQuery>,
) -> ApiResult<Json<Paged<ServiceView>>> {
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .page()?;
    let services = catalog::list_services(&state.core, query.team.as_deref(), page).await?;
    Ok(Json(Paged::from_page(services, ServiceView::from)))
}

/// Create a service (write).
#[utoipa::path(post, path = "/api/v1/services", tag = "services", request_body = CreateService,
    responses((status = 201, body = ServiceView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_service(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiJson(body): ApiJson<CreateService>,
) -> ApiResult<(StatusCode, Json<ServiceView>)> {
    let ctx = caller.audit(&state);
    let input = ServiceInput {
        slug: body.slug,
        name: body.name,
        description: body.description,
        team: body.team,
        links: body.links.into_iter().map(Into::into).collect(),
        depends_on: body.depends_on,
    };
    let service = catalog::create_service(&state.core, &ctx, input).await?;
    Ok((StatusCode::CREATED, Json(service.into())))
}

/// One service.
#[utoipa::path(get, path = "/api/v1/services/{slug}", tag = "services", params(("slug" = String, Path)),
    responses((status = 200, body = ServiceView), (status = 404, body = ErrorBody)))]
pub async fn get_service(
    State(state): State<AppState>,
    _reader: Reader,
    ApiPath(slug): ApiPath<String>,
) -> ApiResult<Json<ServiceView>> {
    Ok(Json(catalog::service(&state.core, &slug).await?.into()))
}

/// Change a service (write). Dependencies that would form a cycle are refused.
#[utoipa::path(patch, path = "/api/v1/services/{slug}", tag = "services", params(("slug" = String, Path)), request_body = UpdateService,
    responses((status = 200, body = ServiceView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_service(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiPath(slug): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateService>,
) -> ApiResult<Json<ServiceView>> {
    let ctx = caller.audit(&state);
    let patch = ServicePatch {
        name: body.name,
        description: body.description,
        team: body.team,
        links: body
            .links
            .map(|links| links.into_iter().map(Into::into).collect()),
        depends_on: body.depends_on,
    };
    Ok(Json(
        catalog::update_service(&state.core, &ctx, &slug, patch)
            .await?
            .into(),
    ))
}

/// Delete a service nothing depends on (write).
#[utoipa::path(delete, path = "/api/v1/services/{slug}", tag = "services", params(("slug" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_service(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiPath(slug): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let ctx = caller.audit(&state);
    catalog::delete_service(&state.core, &ctx, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

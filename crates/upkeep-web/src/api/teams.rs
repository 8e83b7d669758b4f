//! `/api/v1/teams`: teams that own services.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use upkeep_core::catalog::{self, TeamInput};
use utoipa::ToSchema;

use super::views::{Paged, TeamView};
use super::{ApiPath, ApiQuery, PageQuery};
use crate::AppState;
use crate::auth::{Reader, Writer};
use crate::error::{ApiResult, ErrorBody};
use crate::json::ApiJson;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTeam {
    /// Lower-case letters, digits and dashes.
    pub slug: String,
    pub name: Option<String>,
    pub description: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTeam {
    pub name: Option<String>,
    pub description: Option<String>,
}

/// List teams.
#[utoipa::path(get, path = "/api/v1/teams", tag = "teams", params(PageQuery),
    responses((status = 200, body = Paged<TeamView>), (status = 401, body = ErrorBody)))]
pub async fn list_teams(
    State(state): State<AppState>,
    _reader: Reader,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<Paged<TeamView>>> {
    let teams = catalog::list_teams(&state.core, query.page()?).await?;
    Ok(Json(Paged::from_page(teams, TeamView::from)))
}

/// Create a team (write).
#[utoipa::path(post, path = "/api/v1/teams", tag = "teams", request_body = CreateTeam,
    responses((status = 201, body = TeamView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_team(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiJson(body): ApiJson<CreateTeam>,
) -> ApiResult<(StatusCode, Json<TeamView>)> {
    let ctx = caller.audit(&state);
    let team = catalog::create_team(
        &state.core,
        &ctx,
        TeamInput {
            slug: body.slug,
            name: body.name,
            description: body.description,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(team.into())))
}

/// One team.
#[utoipa::path(get, path = "/api/v1/teams/{slug}", tag = "teams", params(("slug" = String, Path)),
    responses((status = 200, body = TeamView), (status = 404, body = ErrorBody)))]
pub async fn get_team(
    State(state): State<AppState>,
    _reader: Reader,
    ApiPath(slug): ApiPath<String>,
) -> ApiResult<Json<TeamView>> {
    Ok(Json(catalog::team(&state.core, &slug).await?.into()))
}

/// Rename or describe a team (write).
#[utoipa::path(patch, path = "/api/v1/teams/{slug}", tag = "teams", params(("slug" = String, Path)), request_body = UpdateTeam,
    responses((status = 200, body = TeamView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_team(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiPath(slug): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateTeam>,
) -> ApiResult<Json<TeamView>> {
    let ctx = caller.audit(&state);
    Ok(Json(
        catalog::update_team(&state.core, &ctx, &slug, body.name, body.description)
            .await?
            .into(),
    ))
}

/// Delete a team that owns no services (write).
#[utoipa::path(delete, path = "/api/v1/teams/{slug}", tag = "teams", params(("slug" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_team(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiPath(slug): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let ctx = caller.audit(&state);
    catalog::delete_team(&state.core, &ctx, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! `/api/v1/users`: managing people (admins; owners for owner accounts).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use upkeep_core::identity::{self, Capability, NewUserInput, UserPatch};
use upkeep_core::storage::Role;
use utoipa::ToSchema;

use super::views::{Paged, UserView};
use super::{ApiPath, ApiQuery, PageQuery};
use crate::AppState;
use crate::auth::{AdminCaller, Caller};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::json::ApiJson;

pub fn parse_role(role: &str) -> ApiResult<Role> {
    Role::parse(role).ok_or_else(|| {
        ApiError::validation(
            "role",
            format!("role: {role:?} is not one of owner, admin, responder, viewer"),
        )
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub email: String,
    pub name: Option<String>,
    /// owner, admin, responder or viewer.
    pub role: String,
    /// At least 10 characters. Omit to have one generated and returned once.
    pub password: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedUser {
    pub user: UserView,
    /// Present only when the password was generated; shown this once.
    pub generated_password: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub name: Option<String>,
    pub role: Option<String>,
    pub disabled: Option<bool>,
}

/// List people (admin).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(PageQuery),
    responses((status = 200, body = Paged<UserView>), (status = 403, body = ErrorBody)))]
pub async fn list_users(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<Paged<UserView>>> {
    let page = identity::list_users(&state.core, Some(&caller.principal), query.page()?).await?;
    Ok(Json(Paged::from_page(page, UserView::from)))
}

/// Add a person (admin; only owners may add owners).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = CreatedUser), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_user(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    ApiJson(body): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<CreatedUser>)> {
    let role = parse_role(&body.role)?;
    let generated = body.password.is_none().then(identity::generate_password);
    let password = body
        .password
        .or_else(|| generated.clone())
        .unwrap_or_default();
    let ctx = caller.audit(&state);
    let user = identity::create_user(
        &state.core,
        &ctx,
        Some(&caller.principal),
        NewUserInput {
            email: body.email,
            name: body.name,
            role,
            password,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedUser {
            user: user.into(),
            generated_password: generated,
        }),
    ))
}

/// One person (admin, or oneself).
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = UserView), (status = 404, body = ErrorBody)))]
pub async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<UserView>> {
    if caller.principal.user.id != id {
        caller.principal.require(Capability::Admin)?;
    }
    let user = state
        .core
        .storage
        .user_by_id(id)
        .await
        .map_err(upkeep_core::CoreError::from)?;
    user.map(|user| Json(user.into()))
        .ok_or_else(|| ApiError::not_found("user not found"))
}

/// Change a person's name, role or disabled flag (admin; owners for owner accounts).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)), request_body = UpdateUser,
    responses((status = 200, body = UserView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update_user(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<UpdateUser>,
) -> ApiResult<Json<UserView>> {
    let role = body.role.as_deref().map(parse_role).transpose()?;
    let ctx = caller.audit(&state);
    let user = identity::update_user(
        &state.core,
        &ctx,
        Some(&caller.principal),
        id,
        UserPatch {
            name: body.name,
            role,
            disabled: body.disabled,
        },
    )
    .await?;
    Ok(Json(user.into()))
}

/// Remove a person with their sessions and tokens (admin; owners for owner accounts).
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_user(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let ctx = caller.audit(&state);
    identity::delete_user(&state.core, &ctx, Some(&caller.principal), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

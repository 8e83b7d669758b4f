//! `/api/v1/tokens`: creating (shown once), listing and revoking API tokens.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use upkeep_core::config::parse_duration;
use upkeep_core::identity;
use upkeep_core::storage::Scope;
use utoipa::{IntoParams, ToSchema};

use super::views::{Paged, TokenView};
use super::{ApiPath, ApiQuery, PageQuery};
use crate::AppState;
use crate::auth::{Caller, Writer};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::json::ApiJson;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// What the token is for, e.g. "prometheus".
    pub name: Option<String>,
    /// read, write or admin; at most what the owner's role allows.
    pub scope: String,
    /// Lifetime such as `90d`, `12h`; omit for a token that does not expire.
    pub expires_in: Option<String>,
    /// Create for another person (admin only); defaults to the caller.
    pub user_id: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedTokenView {
    /// The secret, shown this once. Send it as `Authorization: Bearer <token>`.
    pub token: String,
    pub details: TokenView,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenListQuery {
    /// Whose tokens (admin for others); the caller's by default.
    pub user_id: Option<i64>,
    /// Every user's tokens (admin).
    pub all: Option<bool>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Create an API token.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = CreateToken,
    responses((status = 201, body = CreatedTokenView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_token(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiJson(body): ApiJson<CreateToken>,
) -> ApiResult<(StatusCode, Json<CreatedTokenView>)> {
    let scope = Scope::parse(&body.scope).ok_or_else(|| {
        ApiError::validation(
            "scope",
            format!("scope: {:?} is not one of read, write, admin", body.scope),
        )
    })?;
    let expires_in = body
        .expires_in
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|message| ApiError::validation("expires_in", format!("expires_in: {message}")))?;
    let owner = match body.user_id {
        Some(id) if id != caller.principal.user.id => state
            .core
            .storage
            .user_by_id(id)
            .await
            .map_err(upkeep_core::CoreError::from)?
            .ok_or_else(|| ApiError::validation("user_id", "user_id: no such user"))?,
        _ => caller.principal.user.clone(),
    };
    let ctx = caller.audit(&state);
    let created = identity::create_token(
        &state.core,
        &ctx,
        Some(&caller.principal),
        &owner,
        body.name.as_deref().unwrap_or(""),
        scope,
        expires_in,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedTokenView {
            token: created.secret,
            details: created.token.into(),
        }),
    ))
}

/// List API tokens: the caller's own, or (admin) another person's or everyone's.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", params(TokenListQuery),
    responses((status = 200, body = Paged<TokenView>), (status = 403, body = ErrorBody)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<TokenListQuery>,
) -> ApiResult<Json<Paged<TokenView>>> {
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .page()?;
    let user_id = if query.all == Some(true) {
        None
    } else {
        Some(query.user_id.unwrap_or(caller.principal.user.id))
    };
    let tokens = identity::list_tokens(&state.core, Some(&caller.principal), user_id, page).await?;
    Ok(Json(Paged::from_page(tokens, TokenView::from)))
}

/// Revoke a token (its owner, or an admin). Revoking twice keeps the first revocation time.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = i64, Path)),
    responses((status = 200, body = TokenView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<TokenView>> {
    let ctx = caller.audit(&state);
    let token = identity::revoke_token(&state.core, &ctx, Some(&caller.principal), id).await?;
    Ok(Json(token.into()))
}

//! `/api/v1/me`: who the caller is, and changing one's own password.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use upkeep_core::identity::{self, Via};
use utoipa::ToSchema;

use super::views::UserView;
use crate::AppState;
use crate::auth::{Caller, SessionCaller};
use crate::error::{ApiResult, ErrorBody};
use crate::json::ApiJson;

#[derive(Serialize, ToSchema)]
pub struct MeView {
    pub user: UserView,
    /// `session` or `token`.
    pub authenticated_by: String,
    /// The token's scope when authenticated by token.
    pub token_scope: Option<String>,
    /// What the caller may do: read, write or admin.
    pub capability: String,
}

/// Who is calling.
#[utoipa::path(get, path = "/api/v1/me", tag = "account",
    responses((status = 200, body = MeView), (status = 401, body = ErrorBody)))]
pub async fn get_me(caller: Caller) -> Json<MeView> {
    let capability = caller.principal.capability().as_str().to_string();
    let (authenticated_by, token_scope) = match &caller.principal.via {
        Via::Session { .. } => ("session", None),
        Via::Token { scope, .. } => ("token", Some(scope.as_str().to_string())),
    };
    Json(MeView {
        user: caller.principal.user.into(),
        authenticated_by: authenticated_by.to_string(),
        token_scope,
        capability,
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// Change the caller's password. Ends the caller's other sessions. Only in a browser session: a token
/// cannot change its owner's password.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "account", request_body = PasswordChange,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn change_password(
    State(state): State<AppState>,
    SessionCaller { caller, session_id }: SessionCaller,
    ApiJson(body): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    let ctx = caller.audit(&state);
    identity::change_password(
        &state.core,
        &ctx,
        &caller.principal.user,
        body.current_password,
        body.new_password,
        Some(session_id),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

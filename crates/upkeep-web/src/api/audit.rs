//! `/api/v1/audit`: the append-only audit log, newest first (admin). There is no way to change it.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use upkeep_core::audit;
use upkeep_core::storage::AuditFilter;
use utoipa::IntoParams;

use super::views::{AuditView, Paged};
use super::{ApiQuery, PageQuery};
use crate::AppState;
use crate::auth::AdminCaller;
use crate::error::{ApiResult, ErrorBody};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only actions starting with this, e.g. `user.` or `service.update`.
    pub action: Option<String>,
    /// Only records about this kind of thing: user, token, team, service.
    pub target_kind: Option<String>,
    /// Only records about this id or slug (with `target_kind`).
    pub target_id: Option<String>,
    /// Only changes made by this user.
    pub actor_user_id: Option<i64>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Read the audit log (admin).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Paged<AuditView>), (status = 403, body = ErrorBody)))]
pub async fn list_audit(
    State(state): State<AppState>,
    _admin: AdminCaller,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Paged<AuditView>>> {
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .page()?;
    let filter = AuditFilter {
        action_prefix: query.action,
        target_kind: query.target_kind,
        target_id: query.target_id,
        actor_user_id: query.actor_user_id,
    };
    let records = audit::list(&state.core, &filter, page).await?;
    Ok(Json(Paged::from_page(records, AuditView::from)))
}

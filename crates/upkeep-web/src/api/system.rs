//! `/api/v1/workers`: the status of this node's background workers (admin).

use axum::extract::State;
use axum::Json;
use upkeep_core::identity::Capability;

use super::views::WorkerView;
use crate::auth::Caller;
use crate::error::{ApiResult, ErrorBody};
use crate::AppState;

/// Background workers on this node: last run, errors, state.
#[utoipa::path(get, path = "/api/v1/workers", tag = "system",
    responses((status = 200, body = Vec<WorkerView>), (status = 403, body = ErrorBody)))]
pub async fn list_workers(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<WorkerView>>> {
    caller.principal.require(Capability::Admin)?;
    Ok(Json(state.core.workers.list().into_iter().map(WorkerView::from).collect()))
}

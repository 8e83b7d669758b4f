//! `/api/v1/workers`: the status of this node's background workers (admin).

use axum::Json;
use axum::extract::State;

use super::views::WorkerView;
use crate::AppState;
use crate::auth::AdminCaller;
use crate::error::{ApiResult, ErrorBody};

/// Background workers on this node: last run, errors, state.
#[utoipa::path(get, path = "/api/v1/workers", tag = "system",
    responses((status = 200, body = Vec<WorkerView>), (status = 403, body = ErrorBody)))]
pub async fn list_workers(
    State(state): State<AppState>,
    _admin: AdminCaller,
) -> ApiResult<Json<Vec<WorkerView>>> {
    Ok(Json(
        state
            .core
            .workers
            .list()
            .into_iter()
            .map(WorkerView::from)
            .collect(),
    ))
}

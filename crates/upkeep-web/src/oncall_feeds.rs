//! The on-call iCalendar feeds behind secret URLs, for calendar apps that cannot sign in:
//! `/oncall/schedules/<token>.ics` (every shift of a schedule) and `/oncall/users/<token>.ics` (one
//! person's shifts in every schedule). The token is the only credential, so an unknown one is a plain
//! 404 that says nothing about which tokens exist; a schedule's token is rotated through the API.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use upkeep_core::CoreResult;
use upkeep_core::oncall::service;

use crate::AppState;
use crate::error::ApiError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/oncall/schedules/{file}", get(schedule_feed))
        .route("/oncall/users/{file}", get(user_feed))
}

/// The token in `<token>.ics`.
fn token_of(file: &str) -> Option<&str> {
    file.strip_suffix(".ics").filter(|token| !token.is_empty())
}

fn calendar(found: CoreResult<Option<String>>) -> Response {
    match found {
        Ok(Some(body)) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
                // Calendar apps poll; a private cache for a minute is plenty.
                (header::CACHE_CONTROL, "private, max-age=60"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            body,
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "no calendar at this address").into_response(),
        Err(err) => ApiError::from(err).into_response(),
    }
}

async fn schedule_feed(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    match token_of(&file) {
        Some(token) => calendar(service::schedule_feed(&state.core, token).await),
        None => calendar(Ok(None)),
    }
}

async fn user_feed(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    match token_of(&file) {
        Some(token) => calendar(service::user_feed(&state.core, token).await),
        None => calendar(Ok(None)),
    }
}

//! `/actions/{token}`: acknowledge or resolve an incident from a link in a notification. `GET` only shows
//! what the link will do (mail scanners open links; a GET must not act), `POST` does it, once.

use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use std::net::SocketAddr;
use upkeep_core::CoreError;
use upkeep_core::incidents::actions;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/actions/{token}", get(show).post(act))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    (
        status,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{title} · upkeep</title></head><body><main><h1>{title}</h1>{body}</main></body></html>",
            title = escape(title)
        )),
    )
        .into_response()
}

async fn show(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match actions::describe(&state.core, &token).await {
        Ok((link, incident)) => {
            let verb = if link.action == "resolve" {
                "Resolve"
            } else {
                "Acknowledge"
            };
            let note = if link.used_at.is_some() {
                "<p>This link was already used.</p>".to_string()
            } else {
                format!(
                    "<form method=\"post\"><button type=\"submit\">{verb} incident {id}</button></form>",
                    id = incident.id
                )
            };
            page(
                StatusCode::OK,
                &format!("{verb}: {}", incident.title),
                &format!(
                    "<p>Incident {} on {} is {}.</p>{note}",
                    incident.id,
                    escape(&incident.service_slug),
                    incident.status
                ),
            )
        }
        Err(_) => page(
            StatusCode::NOT_FOUND,
            "Link not valid",
            "<p>This link is not valid.</p>",
        ),
    }
}

async fn act(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(token): Path<String>,
) -> Response {
    match actions::perform(&state.core, &token, Some(peer.ip().to_string())).await {
        Ok(incident) => page(
            StatusCode::OK,
            &format!("Incident {} is {}", incident.id, incident.status),
            &format!("<p>{}</p>", escape(&incident.title)),
        ),
        Err(CoreError::Conflict { message, .. }) => page(
            StatusCode::CONFLICT,
            "Link already used",
            &format!("<p>{}</p>", escape(&message)),
        ),
        Err(CoreError::NotFound(_)) => page(
            StatusCode::NOT_FOUND,
            "Link not valid",
            "<p>This link is not valid.</p>",
        ),
        Err(err) => {
            tracing::warn!(error = %err, "action link failed");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "<p>The action could not be done; try again.</p>",
            )
        }
    }
}

//! Server-rendered pages: askama templates in `templates/`, one hand-written stylesheet in `static/`, and a
//! plain HTML form for every action, so everything works without JavaScript. One file per page group;
//! [`shell`] and [`error`] hold what they share.

mod account;
mod audit;
mod cookies;
mod error;
mod escalation;
mod incidents;
mod monitors;
mod schedules;
mod schedules_calendar;
mod service_form;
mod services;
mod session;
mod shell;
mod svg;
mod teams;
mod tokens;
mod users;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use jiff::Timestamp;
use upkeep_core::storage::PageRequest;

use crate::AppState;
use error::UiError;

/// Items per page in every list.
const PAGE_SIZE: u32 = 50;

const STYLESHEET: &str = include_str!("../../static/app.css");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(session::index))
        .route("/setup", get(session::setup_form).post(session::setup))
        .route("/login", get(session::login_form).post(session::login))
        .route("/logout", post(session::logout))
        .route("/account", get(account::show))
        .route("/account/password", post(account::change_password))
        .route("/account/contact-methods", post(account::add_contact))
        .route(
            "/account/contact-methods/{id}/test",
            post(account::test_contact),
        )
        .route(
            "/account/contact-methods/{id}/delete",
            post(account::delete_contact),
        )
        .route("/account/notification-rules", post(account::add_rule))
        .route(
            "/account/notification-rules/{id}/delete",
            post(account::delete_rule),
        )
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}", post(users::update))
        .route("/users/{id}/delete", post(users::delete))
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/tokens/{id}/revoke", post(tokens::revoke))
        .route("/audit", get(audit::list))
        .route("/services", get(services::list).post(services::create))
        .route("/services/new", get(services::new_form))
        .route(
            "/services/{slug}",
            get(services::show).post(services::update),
        )
        .route("/services/{slug}/delete", post(services::delete))
        .route(
            "/services/{slug}/integrations/{kind}/rotate",
            post(services::rotate_integration),
        )
        .route(
            "/services/{slug}/escalation",
            post(services::set_escalation),
        )
        .route("/escalation", get(escalation::list))
        .route("/escalation/{slug}", get(escalation::show))
        .route("/schedules", get(schedules::list))
        .route("/schedules/{slug}", get(schedules::show))
        .route("/teams", get(teams::list).post(teams::create))
        .route("/teams/{slug}", get(teams::show))
        .route("/teams/{slug}/delete", post(teams::delete))
        .route(
            "/monitors",
            get(monitors::list).post(monitors::form::create),
        )
        .route("/monitors/new", get(monitors::form::new_form))
        .route("/monitors/{id}", get(monitors::detail::show))
        .route("/monitors/{id}/pause", post(monitors::detail::pause))
        .route("/monitors/{id}/resume", post(monitors::detail::resume))
        .route("/monitors/{id}/delete", post(monitors::detail::delete))
        .route("/incidents", get(incidents::list))
        .route("/incidents/{id}", get(incidents::detail::show))
        .route(
            "/incidents/{id}/acknowledge",
            post(incidents::detail::acknowledge),
        )
        .route("/incidents/{id}/resolve", post(incidents::detail::resolve))
        .route("/incidents/{id}/reopen", post(incidents::detail::reopen))
        .route("/incidents/{id}/notes", post(incidents::detail::add_note))
        .route_layer(axum::middleware::from_fn(error::with_error_pages))
        .route("/static/app.css", get(stylesheet))
}

async fn stylesheet() -> impl IntoResponse {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        STYLESHEET,
    )
}

/// The page of a list that `?cursor=` asks for.
fn page_request(cursor: Option<&str>) -> Result<PageRequest, UiError> {
    let cursor = match cursor {
        Some(text) if !text.is_empty() => Some(text.parse::<i64>().map_err(|_| {
            UiError::bad_request("that is not a page of this list; start again from the first page")
        })?),
        _ => None,
    };
    Ok(PageRequest::new(PAGE_SIZE, cursor))
}

/// Links to the next and the first page of a list.
pub struct Pager {
    pub next: Option<String>,
    pub first: Option<String>,
    pub next_label: &'static str,
}

impl Pager {
    /// `base` is the list's address with any filters (`/audit?action=user.`), without a cursor.
    fn new(base: &str, cursor: Option<&str>, next_cursor: Option<String>) -> Self {
        let join = if base.contains('?') { '&' } else { '?' };
        Self {
            next: next_cursor
                .map(|next| format!("{base}{join}cursor={}", shell::url_encode(&next))),
            first: cursor
                .filter(|cursor| !cursor.is_empty())
                .map(|_| base.to_string()),
            next_label: "Next page",
        }
    }

    fn older(mut self) -> Self {
        self.next_label = "Older";
        self
    }
}

/// One `<option>` of a `<select>`.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl Choice {
    fn list<'a>(values: impl IntoIterator<Item = &'a str>, current: &str) -> Vec<Self> {
        values
            .into_iter()
            .map(|value| Self {
                value: value.to_string(),
                label: value.to_string(),
                selected: value == current,
            })
            .collect()
    }
}

/// A time as people read it in a table, in UTC.
fn when(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// `?cursor=` on list pages.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct ListQuery {
    cursor: Option<String>,
}

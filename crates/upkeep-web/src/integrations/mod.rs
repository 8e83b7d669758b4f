//! Alert ingestion from the tools teams already run: PagerDuty Events API v2 (`/v2/enqueue`,
//! `/v2/change/enqueue`), Alertmanager (`version: "4"`) and Grafana (`version: "1"`) webhooks, and
//! upkeep's generic JSON webhook. Each endpoint answers only after its events are committed, and each
//! integration key has its own rate limit.

mod alertmanager;
mod limiter;
mod pagerduty;
mod webhook;

use std::time::Duration;

use axum::Router;
use axum::routing::post;

pub use limiter::KeyedLimiter;

use crate::AppState;

/// Largest event body accepted (PagerDuty's limit).
pub const EVENT_BODY_LIMIT: usize = 512 * 1024;
/// Rate limits of every integration key on this node (`[incidents] events_per_second`, `events_burst`).
pub struct IntegrationLimits {
    pub events: KeyedLimiter<(upkeep_storage::IntegrationKind, i64)>,
    /// The most one request may cost: a payload of more alerts than the burst is charged the whole burst,
    /// so a large Alertmanager group is never refused forever.
    pub max_cost: f64,
}

impl IntegrationLimits {
    pub fn new(config: &upkeep_core::config::Config) -> Self {
        let burst = f64::from(config.incidents.events_burst.max(1));
        Self {
            events: KeyedLimiter::new(f64::from(config.incidents.events_per_second), burst),
            max_cost: burst,
        }
    }
}

pub fn routes() -> Router<AppState> {
    // The body limit is enforced by each handler so that it answers in its source's error format.
    Router::new()
        .route("/v2/enqueue", post(pagerduty::enqueue))
        .route("/v2/change/enqueue", post(pagerduty::change_enqueue))
        .route(
            "/integrations/alertmanager/{key}",
            post(alertmanager::alertmanager),
        )
        .route("/integrations/grafana/{key}", post(alertmanager::grafana))
        .route("/integrations/webhook/{key}", post(webhook::webhook))
        .layer(axum::extract::DefaultBodyLimit::max(EVENT_BODY_LIMIT * 2))
}

/// Read a body of at most [`EVENT_BODY_LIMIT`] bytes; `None` when it is larger.
async fn read_limited(body: axum::body::Body) -> Option<axum::body::Bytes> {
    axum::body::to_bytes(body, EVENT_BODY_LIMIT).await.ok()
}

/// Seconds for a `Retry-After` header.
fn retry_secs(wait: Duration) -> String {
    wait.as_secs().max(1).to_string()
}

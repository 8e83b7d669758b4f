//! upkeep's HTTP layer: the JSON API under `/api/v1` (documented by an OpenAPI document generated from the
//! same route definitions), server-rendered pages, and the operational endpoints (`/healthz`, `/readyz`,
//! `/metrics`). Handlers are thin: they authenticate, parse, call a domain function and shape the answer.

mod actions;
mod api;
mod auth;
mod error;
mod integrations;
mod json;
mod metrics;
mod oncall_feeds;
mod ops;
mod ping;
mod ui;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use upkeep_core::Core;

pub use api::openapi_document;
pub use error::{ApiError, ApiResult};
pub use metrics::Metrics;

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    pub metrics: Arc<Metrics>,
    pub ping_limiter: Arc<ping::PingLimiter>,
    pub integration_limits: Arc<integrations::IntegrationLimits>,
}

impl AppState {
    pub fn new(core: Core) -> Self {
        let integration_limits = Arc::new(integrations::IntegrationLimits::new(&core.config));
        Self {
            core,
            metrics: Arc::new(Metrics::new()),
            ping_limiter: Arc::new(ping::PingLimiter::default()),
            integration_limits,
        }
    }
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let (api_router, openapi) = api::routes();
    let openapi = Arc::new(openapi);
    Router::new()
        .merge(api_router)
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || {
                let openapi = openapi.clone();
                async move { axum::Json(openapi.as_ref().clone()) }
            }),
        )
        .merge(ops::routes())
        .merge(ping::routes())
        .merge(integrations::routes())
        .merge(oncall_feeds::routes())
        .merge(actions::routes())
        .merge(ui::routes())
        .fallback(api::fallback)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(json::BODY_LIMIT))
        .with_state(state)
}

/// Serve until `shutdown` fires, then finish in-flight requests (the caller bounds how long that may take).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

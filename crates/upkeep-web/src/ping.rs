//! The push endpoints jobs and other monitors call, each speaking its anchor's contract exactly:
//! - Healthchecks: `/ping/<uuid>[/start|/fail|/log|/<exit-status>]` and `/ping/<ping-key>/<slug>[…]` with
//!   `?rid=` and `?create=1`; HEAD, GET or POST; `200 OK` text with `Ping-Body-Limit`; `404 not found`,
//!   `400 invalid url format`, `400 invalid uuid format`; bodies beyond the limit are truncated, not refused.
//! - Uptime Kuma: `/api/push/<token>?status=up|down&msg=&ping=` answering `{"ok":true}`.
//! - Gatus: `POST /api/v1/endpoints/<service>_<monitor>/external?success=&error=&duration=` with the monitor's
//!   token as `Authorization: Bearer`.
//!
//! These are authenticated by the secret in the URL (or bearer), as the anchors do. Every answer that says
//! "OK" comes after the ping is committed. Floods are limited per monitor, so one noisy job slows nobody else.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use upkeep_core::monitors::{self, MonitorSpec, PingKind, PingSignal};
use upkeep_core::storage::Monitor;
use upkeep_core::{CoreError, audit};

use crate::AppState;

/// Bytes of a ping body kept (Healthchecks' default).
pub const PING_BODY_LIMIT: usize = 10_000;
/// Largest ping request read at all; longer bodies are cut at [`PING_BODY_LIMIT`] anyway.
const PING_REQUEST_LIMIT: usize = 10 * 1024 * 1024;
/// Per-monitor burst and steady rate of accepted pings.
const BURST: f64 = 60.0;
const PER_SECOND: f64 = 10.0;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ping/{first}", any(ping_one))
        .route("/ping/{first}/{second}", any(ping_two))
        .route("/ping/{first}/{second}/{third}", any(ping_three))
        .route("/api/push/{token}", any(kuma_push))
        .route("/api/v1/endpoints/{key}/external", post(gatus_external))
        .layer(axum::extract::DefaultBodyLimit::max(PING_REQUEST_LIMIT))
}

/// A token bucket per monitor.
#[derive(Default)]
pub struct PingLimiter {
    buckets: Mutex<HashMap<i64, (f64, Instant)>>,
}

impl PingLimiter {
    fn allow(&self, monitor_id: i64) -> bool {
        let Ok(mut buckets) = self.buckets.lock() else {
            return true;
        };
        let now = Instant::now();
        let (tokens, last) = buckets.entry(monitor_id).or_insert((BURST, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * PER_SECOND).min(BURST);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Deserialize, Default)]
struct PingQuery {
    rid: Option<String>,
    create: Option<String>,
}

fn text(status: StatusCode, body: &'static str) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(index, ch)| {
            if [8, 13, 18, 23].contains(&index) {
                ch == '-'
            } else {
                ch.is_ascii_hexdigit()
            }
        })
}

/// An exit status above 255: Healthchecks answers `400 invalid url format`.
#[derive(Debug)]
struct InvalidUrlFormat;

/// `start`, `fail`, `log` or an exit status; `None` for anything else (a 404, as Healthchecks routes it).
fn action(segment: Option<&str>) -> Result<Option<PingKind>, InvalidUrlFormat> {
    Ok(Some(match segment {
        None => PingKind::Success,
        Some("start") => PingKind::Start,
        Some("fail") => PingKind::Fail,
        Some("log") => PingKind::Log,
        Some(code) if !code.is_empty() && code.chars().all(|ch| ch.is_ascii_digit()) => {
            match code.parse::<i32>() {
                Ok(code) if code <= 255 => PingKind::Exit(code),
                _ => return Err(InvalidUrlFormat),
            }
        }
        Some(_) => return Ok(None),
    }))
}

struct Received {
    method: Method,
    headers: HeaderMap,
    remote: Option<String>,
    body: Bytes,
}

impl Received {
    fn signal(&self, kind: PingKind, rid: Option<String>, at: jiff::Timestamp) -> PingSignal {
        let body = (!self.body.is_empty()).then(|| {
            let kept = &self.body[..self.body.len().min(PING_BODY_LIMIT)];
            String::from_utf8_lossy(kept).into_owned()
        });
        PingSignal {
            kind,
            at,
            rid,
            body,
            method: self.method.as_str().to_string(),
            remote_addr: self.remote.clone(),
            user_agent: self
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|ua| ua.chars().take(200).collect()),
        }
    }
}

async fn ping_one(
    state: State<AppState>,
    Path(first): Path<String>,
    query: Query<PingQuery>,
    info: ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(state, vec![first], query, info, method, headers, body).await
}

async fn ping_two(
    state: State<AppState>,
    Path((first, second)): Path<(String, String)>,
    query: Query<PingQuery>,
    info: ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(
        state,
        vec![first, second],
        query,
        info,
        method,
        headers,
        body,
    )
    .await
}

async fn ping_three(
    state: State<AppState>,
    Path((first, second, third)): Path<(String, String, String)>,
    query: Query<PingQuery>,
    info: ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(
        state,
        vec![first, second, third],
        query,
        info,
        method,
        headers,
        body,
    )
    .await
}

async fn handle(
    State(state): State<AppState>,
    segments: Vec<String>,
    Query(query): Query<PingQuery>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let rid = match query.rid {
        Some(rid) if !is_uuid(&rid) => return text(StatusCode::BAD_REQUEST, "invalid uuid format"),
        rid => rid,
    };
    let core = &state.core;
    // `/ping/<uuid>[/<action>]` or `/ping/<ping-key>/<slug>[/<action>]`.
    let (monitor, action_segment, created) = if is_uuid(&segments[0]) {
        if segments.len() > 2 {
            return text(StatusCode::NOT_FOUND, "not found");
        }
        match core.storage.monitor_by_token(&segments[0]).await {
            Ok(Some(monitor)) => (monitor, segments.get(1).cloned(), false),
            Ok(None) => return text(StatusCode::NOT_FOUND, "not found"),
            Err(err) => return unavailable(err.into()),
        }
    } else {
        let Some(slug) = segments.get(1) else {
            return text(StatusCode::NOT_FOUND, "not found");
        };
        if slug.chars().any(|ch| ch.is_ascii_uppercase()) {
            return text(StatusCode::NOT_FOUND, "not found");
        }
        match core.storage.monitor_by_ping_key(&segments[0], slug).await {
            Ok(Some(monitor)) => (monitor, segments.get(2).cloned(), false),
            Ok(None) if query.create.as_deref() == Some("1") => {
                match create_by_slug(&state, &segments[0], slug).await {
                    Ok(Some(monitor)) => (monitor, segments.get(2).cloned(), true),
                    Ok(None) => return text(StatusCode::NOT_FOUND, "not found"),
                    Err(err) => return unavailable(err),
                }
            }
            Ok(None) => return text(StatusCode::NOT_FOUND, "not found"),
            Err(err) => return unavailable(err.into()),
        }
    };
    let kind = match action(action_segment.as_deref()) {
        Ok(Some(kind)) => kind,
        Ok(None) => return text(StatusCode::NOT_FOUND, "not found"),
        Err(InvalidUrlFormat) => return text(StatusCode::BAD_REQUEST, "invalid url format"),
    };
    if monitor.kind != "heartbeat" {
        return text(StatusCode::NOT_FOUND, "not found");
    }
    if !state.ping_limiter.allow(monitor.id) {
        let mut response = text(StatusCode::TOO_MANY_REQUESTS, "rate limited");
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    }
    let received = Received {
        method,
        headers,
        remote: Some(remote.ip().to_string()),
        body,
    };
    let signal = received.signal(kind, rid, core.now());
    match core.ingest.ping(core, monitor.id, signal).await {
        Ok(_) => {
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let mut response = text(status, if created { "Created" } else { "OK" });
            response
                .headers_mut()
                .insert("ping-body-limit", HeaderValue::from(PING_BODY_LIMIT));
            response
        }
        Err(CoreError::NotFound(_)) => text(StatusCode::NOT_FOUND, "not found"),
        Err(err) => unavailable(err),
    }
}

/// `?create=1` on a slug URL: make a heartbeat monitor with the defaults (a daily ping, one hour of grace).
async fn create_by_slug(
    state: &AppState,
    ping_key: &str,
    slug: &str,
) -> Result<Option<Monitor>, CoreError> {
    let core = &state.core;
    let mut page = upkeep_core::storage::PageRequest::new(500, None);
    let service = loop {
        let services = core.storage.list_services(None, page).await?;
        if let Some(found) = services
            .items
            .into_iter()
            .find(|service| service.ping_key == ping_key)
        {
            break found;
        }
        match services.next_cursor.and_then(|cursor| cursor.parse().ok()) {
            Some(cursor) => page = upkeep_core::storage::PageRequest::new(500, Some(cursor)),
            None => return Ok(None),
        }
    };
    if upkeep_core::catalog::validate_slug("slug", slug).is_err() {
        return Ok(None);
    }
    let ctx = audit::context(core, audit::system_actor(), None);
    let spec = MonitorSpec {
        name: slug.to_string(),
        slug: Some(slug.to_string()),
        kind: "heartbeat".into(),
        ..MonitorSpec::default()
    };
    match monitors::create_monitor(core, &ctx, &service.slug, &spec, None).await {
        Ok(monitor) => Ok(Some(monitor)),
        // Created by a concurrent ping a moment ago.
        Err(CoreError::Conflict { .. }) => {
            Ok(core.storage.monitor_by_ping_key(ping_key, slug).await?)
        }
        Err(err) => Err(err),
    }
}

fn unavailable(err: CoreError) -> Response {
    tracing::error!(error = %err, "ping not recorded");
    text(StatusCode::SERVICE_UNAVAILABLE, "service unavailable")
}

#[derive(Deserialize, Default)]
struct KumaQuery {
    status: Option<String>,
    msg: Option<String>,
    ping: Option<String>,
}

/// Uptime Kuma's push URL: `status` defaults to up, anything else is down; `msg` defaults to "OK".
async fn kuma_push(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(query): Query<KumaQuery>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let not_found = || {
        (
            StatusCode::NOT_FOUND,
            Json(json!({"ok": false, "msg": "Monitor not found or not active."})),
        )
            .into_response()
    };
    let core = &state.core;
    let monitor = match core.storage.monitor_by_token(&token).await {
        Ok(Some(monitor)) if monitor.kind == "heartbeat" && !monitor.paused => monitor,
        Ok(_) => return not_found(),
        Err(err) => return unavailable(err.into()),
    };
    if let Some(ping) = &query.ping
        && ping
            .parse::<f64>()
            .map_or(true, |ms| !(0.0..=1e11).contains(&ms))
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"ok": false, "msg": "ping must be a number of milliseconds"})),
        )
            .into_response();
    }
    if !state.ping_limiter.allow(monitor.id) {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"ok": false, "msg": "Too many pushes"})),
        )
            .into_response();
    }
    let up = query.status.as_deref().is_none_or(|status| status == "up");
    let message = query.msg.unwrap_or_else(|| "OK".to_string());
    let received = Received {
        method,
        headers,
        remote: Some(remote.ip().to_string()),
        body: Bytes::from(message),
    };
    let signal = received.signal(
        if up {
            PingKind::Success
        } else {
            PingKind::Fail
        },
        None,
        core.now(),
    );
    match core.ingest.ping(core, monitor.id, signal).await {
        Ok(_) => Json(json!({"ok": true})).into_response(),
        Err(CoreError::NotFound(_)) => not_found(),
        Err(err) => unavailable(err),
    }
}

#[derive(Deserialize, Default)]
struct GatusQuery {
    success: Option<String>,
    error: Option<String>,
    duration: Option<String>,
}

/// Gatus' external endpoint push, keyed `<service-slug>_<monitor-slug>`.
async fn gatus_external(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(query): Query<GatusQuery>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let error = |status: StatusCode, message: &str| {
        (status, Json(json!({"error": message}))).into_response()
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let core = &state.core;
    let monitor = match core.storage.monitor_by_token(token.trim()).await {
        Ok(Some(monitor))
            if format!("{}_{}", monitor.service_slug, monitor.slug) == key
                && monitor.kind == "heartbeat" =>
        {
            monitor
        }
        Ok(_) => return error(StatusCode::UNAUTHORIZED, "invalid token"),
        Err(err) => return unavailable(err.into()),
    };
    let success = match query.success.as_deref() {
        Some("true") => true,
        Some("false") => false,
        _ => return error(StatusCode::BAD_REQUEST, "success must be true or false"),
    };
    if let Some(duration) = &query.duration
        && upkeep_core::config::parse_duration(duration).is_err()
        && !duration.ends_with("ms")
    {
        return error(
            StatusCode::BAD_REQUEST,
            "duration must look like 10s or 250ms",
        );
    }
    if !state.ping_limiter.allow(monitor.id) {
        return error(StatusCode::TOO_MANY_REQUESTS, "too many pushes");
    }
    let body = query.error.unwrap_or_default();
    let received = Received {
        method,
        headers,
        remote: Some(remote.ip().to_string()),
        body: Bytes::from(body),
    };
    let signal = received.signal(
        if success {
            PingKind::Success
        } else {
            PingKind::Fail
        },
        None,
        core.now(),
    );
    match core.ingest.ping(core, monitor.id, signal).await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(err) => unavailable(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_and_actions_parse_like_healthchecks() {
        assert!(is_uuid("5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278"));
        assert!(!is_uuid("5bf66975d4c74bf5bcc8b8d8a82ea278"));
        assert!(matches!(action(None), Ok(Some(PingKind::Success))));
        assert!(matches!(action(Some("0")), Ok(Some(PingKind::Exit(0)))));
        assert!(matches!(action(Some("255")), Ok(Some(PingKind::Exit(255)))));
        assert!(action(Some("256")).is_err());
        assert!(matches!(action(Some("nope")), Ok(None)));
    }

    #[test]
    fn the_limiter_allows_a_burst_then_refuses() {
        let limiter = PingLimiter::default();
        let allowed = (0..100).filter(|_| limiter.allow(1)).count();
        assert_eq!(allowed, 60);
        assert!(limiter.allow(2), "other monitors are not slowed");
    }
}

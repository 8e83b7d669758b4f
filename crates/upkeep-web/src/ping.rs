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
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use upkeep_core::monitors::{self, MonitorSpec, PingKind, PingSignal, PingTarget, targets};
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

/// The `User-Agent` of a ping, at most 200 characters (extracted alone: cloning every header per ping
/// shows up at tens of thousands of pings per second).
struct UserAgent(Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for UserAgent {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(user_agent_of(&parts.headers)))
    }
}

fn user_agent_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(200).collect())
}

struct Received {
    method: Method,
    user_agent: Option<String>,
    remote: SocketAddr,
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
            remote_addr: Some(self.remote.ip().to_string()),
            user_agent: self.user_agent.clone(),
        }
    }
}

async fn ping_one(
    state: State<AppState>,
    Path(first): Path<String>,
    query: Query<PingQuery>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    method: Method,
    UserAgent(user_agent): UserAgent,
    body: Bytes,
) -> Response {
    let received = Received {
        method,
        user_agent,
        remote,
        body,
    };
    handle(state, [&first, "", ""], 1, query, received).await
}

async fn ping_two(
    state: State<AppState>,
    Path((first, second)): Path<(String, String)>,
    query: Query<PingQuery>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    method: Method,
    UserAgent(user_agent): UserAgent,
    body: Bytes,
) -> Response {
    let received = Received {
        method,
        user_agent,
        remote,
        body,
    };
    handle(state, [&first, &second, ""], 2, query, received).await
}

async fn ping_three(
    state: State<AppState>,
    Path((first, second, third)): Path<(String, String, String)>,
    query: Query<PingQuery>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    method: Method,
    UserAgent(user_agent): UserAgent,
    body: Bytes,
) -> Response {
    let received = Received {
        method,
        user_agent,
        remote,
        body,
    };
    handle(state, [&first, &second, &third], 3, query, received).await
}

/// Resolve a slug URL's monitor, creating it with `create` (the flag says whether it was just created).
async fn resolve_slug(
    state: &AppState,
    ping_key: &str,
    slug: &str,
    create: bool,
) -> Result<Option<(Arc<PingTarget>, bool)>, CoreError> {
    if let Some(target) = targets::by_slug(&state.core, ping_key, slug).await? {
        return Ok(Some((target, false)));
    }
    if !create {
        return Ok(None);
    }
    Ok(create_by_slug(state, ping_key, slug).await?.map(|monitor| {
        (
            targets::remember_slug(&state.core, ping_key, &monitor),
            true,
        )
    }))
}

/// `segments[..count]` are the path segments after `/ping/`.
async fn handle(
    State(state): State<AppState>,
    segments: [&str; 3],
    count: usize,
    Query(query): Query<PingQuery>,
    received: Received,
) -> Response {
    let rid = match query.rid {
        Some(rid) if !is_uuid(&rid) => return text(StatusCode::BAD_REQUEST, "invalid uuid format"),
        rid => rid,
    };
    let core = &state.core;
    let create = query.create.as_deref() == Some("1");
    // `/ping/<uuid>[/<action>]` or `/ping/<ping-key>/<slug>[/<action>]`.
    let by_token = is_uuid(segments[0]);
    let (target, action_segment, created) = if by_token {
        if count > 2 {
            return text(StatusCode::NOT_FOUND, "not found");
        }
        match targets::by_token(core, segments[0]).await {
            Ok(Some(target)) => (target, (count > 1).then_some(segments[1]), false),
            Ok(None) => return text(StatusCode::NOT_FOUND, "not found"),
            Err(err) => return unavailable(err),
        }
    } else {
        if count < 2 || segments[1].chars().any(|ch| ch.is_ascii_uppercase()) {
            return text(StatusCode::NOT_FOUND, "not found");
        }
        match resolve_slug(&state, segments[0], segments[1], create).await {
            Ok(Some((target, created))) => (target, (count > 2).then_some(segments[2]), created),
            Ok(None) => return text(StatusCode::NOT_FOUND, "not found"),
            Err(err) => return unavailable(err),
        }
    };
    let kind = match action(action_segment) {
        Ok(Some(kind)) => kind,
        Ok(None) => return text(StatusCode::NOT_FOUND, "not found"),
        Err(InvalidUrlFormat) => return text(StatusCode::BAD_REQUEST, "invalid url format"),
    };
    if !target.is_heartbeat() {
        return text(StatusCode::NOT_FOUND, "not found");
    }
    if !state.ping_limiter.allow(target.id) {
        let mut response = text(StatusCode::TOO_MANY_REQUESTS, "rate limited");
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    }
    let retry_rid = (!by_token).then(|| rid.clone());
    let mut outcome = core
        .ingest
        .ping(core, target, false, received.signal(kind, rid, core.now()))
        .await;
    let mut created = created;
    if let (Err(CoreError::NotFound(_)), Some(rid)) = (&outcome, retry_rid) {
        // The remembered monitor was deleted (perhaps on another node); the slug may name a new one now.
        outcome = match resolve_slug(&state, segments[0], segments[1], create).await {
            Ok(Some((target, now_created))) if target.is_heartbeat() => {
                created = now_created;
                let signal = received.signal(kind, rid, core.now());
                core.ingest.ping(core, target, false, signal).await
            }
            Ok(_) => return text(StatusCode::NOT_FOUND, "not found"),
            Err(err) => Err(err),
        };
    }
    match outcome {
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
    let Some(service_id) = core.storage.service_id_by_ping_key(ping_key).await? else {
        return Ok(None);
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
    match monitors::create_monitor_in(core, &ctx, service_id, &spec, None).await {
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
    UserAgent(user_agent): UserAgent,
) -> Response {
    let not_found = || {
        (
            StatusCode::NOT_FOUND,
            Json(json!({"ok": false, "msg": "Monitor not found or not active."})),
        )
            .into_response()
    };
    let core = &state.core;
    // Paused monitors are refused by the writer (`refuse_paused`), which sees the current row.
    let target = match targets::by_token(core, &token).await {
        Ok(Some(target)) if target.is_heartbeat() => target,
        Ok(_) => return not_found(),
        Err(err) => return unavailable(err),
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
    if !state.ping_limiter.allow(target.id) {
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
        user_agent,
        remote,
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
    match core.ingest.ping(core, target, true, signal).await {
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
    let target = match targets::by_token(core, token.trim()).await {
        Ok(Some(target))
            if format!("{}_{}", target.service_slug, target.slug) == key
                && target.is_heartbeat() =>
        {
            target
        }
        Ok(_) => return error(StatusCode::UNAUTHORIZED, "invalid token"),
        Err(err) => return unavailable(err),
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
    if !state.ping_limiter.allow(target.id) {
        return error(StatusCode::TOO_MANY_REQUESTS, "too many pushes");
    }
    let body = query.error.unwrap_or_default();
    let received = Received {
        method,
        user_agent: user_agent_of(&headers),
        remote,
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
    match core.ingest.ping(core, target, false, signal).await {
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

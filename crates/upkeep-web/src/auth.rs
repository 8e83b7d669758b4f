//! Who is calling: an `Authorization: Bearer upk_…` token, or the session cookie. Session requests that
//! change state must also carry the session's CSRF token (`X-CSRF-Token` header for the API, a
//! `csrf_token` form field for pages), so another site cannot act with a visitor's cookie.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use upkeep_core::identity::{self, Principal, SESSION_COOKIE, Via};
use upkeep_core::storage::AuditContext;

use crate::AppState;
use crate::error::ApiError;

/// An authenticated API caller.
pub struct Caller {
    pub principal: Principal,
    pub origin: Option<String>,
}

impl Caller {
    pub fn audit(&self, state: &AppState) -> AuditContext {
        self.principal.audit(&state.core, self.origin.clone())
    }
}

/// The client address, as seen on the socket.
pub fn origin_of(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip().to_string())
}

/// The value of one cookie.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Constant-time comparison for CSRF tokens.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The signed-in person behind the session cookie, if any (no CSRF check: pages check their forms).
pub async fn session_from_parts(
    parts: &Parts,
    state: &AppState,
) -> Result<Option<Principal>, ApiError> {
    match cookie(&parts.headers, SESSION_COOKIE) {
        Some(secret) if !secret.is_empty() => {
            Ok(identity::session_principal(&state.core, secret).await?)
        }
        _ => Ok(None),
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let origin = origin_of(parts);
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let value = value.to_str().map_err(|_| {
                ApiError::unauthenticated("the Authorization header is not readable text")
            })?;
            let token = value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
                .ok_or_else(|| ApiError::unauthenticated("use Authorization: Bearer <token>"))?;
            let principal = identity::authenticate_token(&state.core, token.trim()).await?;
            return Ok(Self { principal, origin });
        }
        let principal = session_from_parts(parts, state).await?.ok_or_else(|| {
            ApiError::unauthenticated("sign in, or send Authorization: Bearer <token>")
        })?;
        let changes_state = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if changes_state {
            let Via::Session { csrf_token, .. } = &principal.via else {
                return Err(ApiError::csrf());
            };
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|value| value.to_str().ok())
                .unwrap_or("");
            if !same_secret(sent, csrf_token) {
                return Err(ApiError::csrf());
            }
        }
        Ok(Self { principal, origin })
    }
}

/// Extractors that authenticate *and* authorise before the body is read, so a caller without the
/// permission always gets 403, whatever they sent.
macro_rules! capability_extractor {
    ($(#[$doc:meta])* $name:ident, $capability:expr) => {
        $(#[$doc])*
        // Some handlers only need the check, not the caller.
        #[allow(dead_code)]
        pub struct $name(pub Caller);

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
                let caller = Caller::from_request_parts(parts, state).await?;
                caller.principal.require($capability)?;
                Ok(Self(caller))
            }
        }
    };
}

capability_extractor!(
    /// A caller allowed to read operational data.
    Reader,
    upkeep_core::identity::Capability::Read
);
capability_extractor!(
    /// A caller allowed to change operational data.
    Writer,
    upkeep_core::identity::Capability::Write
);
capability_extractor!(
    /// A caller allowed to administer people, tokens and the audit log.
    AdminCaller,
    upkeep_core::identity::Capability::Admin
);

/// A caller signed in through a browser session (never a token), with the session's id.
pub struct SessionCaller {
    pub caller: Caller,
    pub session_id: i64,
}

impl FromRequestParts<AppState> for SessionCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        match caller.principal.via {
            Via::Session { session_id, .. } => Ok(Self { caller, session_id }),
            Via::Token { .. } => Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "forbidden",
                "this can only be done from a signed-in browser session, not with a token",
            )),
        }
    }
}

//! What every page shares: the layout context ([`Page`]), the signed-in extractor that sends strangers to
//! the login form and checks the session's CSRF token, redirects and rendering a template.

use std::sync::{Arc, OnceLock};

use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use upkeep_core::identity::{Capability, Principal, Via};
use upkeep_core::storage::{AuditContext, User};

use super::error::UiError;
use crate::AppState;
use crate::auth::{origin_of, same_secret, session_from_parts};

/// The layout's context: who is signed in, the CSRF token for forms, which nav item is current and an
/// optional one-line notice about the last action.
#[derive(Clone)]
pub struct Page {
    pub user: Option<User>,
    pub csrf_token: String,
    pub nav: &'static str,
    pub notice: Option<&'static str>,
    pub admin: bool,
    pub write: bool,
}

impl Page {
    /// For pages shown to someone who is not signed in (login, setup, errors).
    pub fn anonymous() -> Self {
        Self {
            user: None,
            csrf_token: String::new(),
            nav: "",
            notice: None,
            admin: false,
            write: false,
        }
    }
}

/// Filled by [`SignedIn`] so error pages rendered after the handler still show the person's nav.
#[derive(Clone, Default)]
pub struct PageSlot(pub Arc<OnceLock<Page>>);

/// A signed-in person in the browser. Without a live session the request is answered with a redirect to
/// `/login?next=<path>` (for GET; other methods go to `/login`).
pub struct SignedIn {
    pub principal: Principal,
    pub origin: Option<String>,
    csrf_token: String,
    notice: Option<&'static str>,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let principal = match session_from_parts(parts, state).await {
            Ok(Some(principal)) => principal,
            Ok(None) => return Err(to_login(parts)),
            Err(err) => return Err(UiError::from(err).into_response()),
        };
        let Via::Session { csrf_token, .. } = &principal.via else {
            return Err(to_login(parts));
        };
        let csrf_token = csrf_token.clone();
        let notice = parts.uri.query().and_then(notice_in);
        let signed = Self {
            origin: origin_of(parts),
            principal,
            csrf_token,
            notice,
        };
        if let Some(slot) = parts.extensions.get::<PageSlot>() {
            let _ = slot.0.set(signed.page(""));
        }
        Ok(signed)
    }
}

fn to_login(parts: &Parts) -> Response {
    if parts.method != Method::GET {
        return see_other("/login");
    }
    let here = parts.uri.path_and_query().map_or("/", |path| path.as_str());
    see_other(&format!("/login?next={}", url_encode(here)))
}

impl SignedIn {
    pub fn page(&self, nav: &'static str) -> Page {
        let capability = self.principal.capability();
        Page {
            user: Some(self.principal.user.clone()),
            csrf_token: self.csrf_token.clone(),
            nav,
            notice: self.notice,
            admin: capability >= Capability::Admin,
            write: capability >= Capability::Write,
        }
    }

    pub fn audit(&self, state: &AppState) -> AuditContext {
        self.principal.audit(&state.core, self.origin.clone())
    }

    /// Every form a signed-in person posts carries the session's CSRF token.
    pub fn check_csrf(&self, sent: &str) -> Result<(), UiError> {
        if same_secret(sent, &self.csrf_token) {
            Ok(())
        } else {
            Err(UiError::csrf())
        }
    }

    pub fn require(&self, needed: Capability) -> Result<(), UiError> {
        Ok(self.principal.require(needed)?)
    }

    pub fn session_id(&self) -> Option<i64> {
        match self.principal.via {
            Via::Session { session_id, .. } => Some(session_id),
            Via::Token { .. } => None,
        }
    }
}

/// The body of forms that carry nothing but the CSRF token (delete and revoke buttons, sign out).
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct CsrfForm {
    pub csrf_token: String,
}

/// Where a request comes from, for audit records and login throttling.
pub struct Client {
    pub origin: Option<String>,
    pub user_agent: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|value| value.chars().take(300).collect());
        Ok(Self {
            origin: origin_of(parts),
            user_agent,
        })
    }
}

/// 303 See Other to a local path. Paths are built by us or checked by [`local_path`]; an unusable one
/// falls back to `/`.
pub fn see_other(location: &str) -> Response {
    let value = HeaderValue::from_str(location).unwrap_or_else(|_| HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response()
}

/// `next` when it is a path on this site (not `//host` or `/\host`, which browsers treat as another site).
pub fn local_path(next: &str) -> Option<&str> {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.bytes().all(|b| b.is_ascii_graphic());
    local.then_some(next)
}

/// Percent-encode everything but unreserved characters, for query string values.
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Render `template` as an HTML page with `status`. Pages carry per-person data and form tokens, so
/// they are never cached, and they may not be framed by other sites.
pub fn render<T: Template>(status: StatusCode, template: &T) -> Response {
    match template.render() {
        Ok(body) => {
            let headers = [
                (header::CACHE_CONTROL, "no-store"),
                (header::X_FRAME_OPTIONS, "DENY"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
                ),
            ];
            (status, headers, Html(body)).into_response()
        }
        Err(err) => {
            tracing::error!(%err, "page template failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "something went wrong on our side; it has been logged",
            )
                .into_response()
        }
    }
}

/// Render `template` with 200 OK.
pub fn html<T: Template>(template: &T) -> Response {
    render(StatusCode::OK, template)
}

/// The notice named by `?notice=<code>`: only known codes, so a link cannot put words on the page.
fn notice_in(query: &str) -> Option<&'static str> {
    let code = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("notice="))?;
    Some(match code {
        "password-changed" => "Your password was changed. Your other sessions were signed out.",
        "user-created" => "The person was added.",
        "user-updated" => "The person was updated.",
        "user-deleted" => "The person was removed, with their sessions and tokens.",
        "token-revoked" => "The token was revoked; it no longer works.",
        "service-updated" => "The service was saved.",
        "service-deleted" => "The service was deleted.",
        "team-deleted" => "The team was deleted.",
        "contact-added" => "The contact method was added. Send a test to verify it.",
        "contact-deleted" => "The contact method was removed, with its rules.",
        "rule-added" => "The notification rule was added.",
        "rule-deleted" => "The notification rule was removed.",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path("/account?x=1"), Some("/account?x=1"));
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "",
            "account",
            "/a b",
        ] {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(url_encode("/account?a=b&c"), "%2Faccount%3Fa%3Db%26c");
    }

    #[test]
    fn only_known_notices_show() {
        assert!(notice_in("notice=user-created").is_some());
        assert!(notice_in("a=1&notice=<script>").is_none());
    }
}

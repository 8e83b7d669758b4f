//! Cookies: the session cookie (HttpOnly, SameSite=Lax, `Secure` when configured) and the
//! double-submit CSRF cookie that protects the forms shown before anyone is signed in (setup, login).

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use upkeep_core::identity;

use super::error::UiError;
use crate::AppState;
use crate::auth::{cookie, same_secret};

/// Name of the double-submit cookie that protects the forms shown before anyone is signed in.
pub const CSRF_COOKIE: &str = "upkeep_csrf";
const CSRF_LEN: usize = 32;

/// The double-submit token for forms shown before sign-in: the cookie's value when it already has one.
pub struct AnonymousCsrf {
    pub token: String,
    fresh: bool,
}

impl AnonymousCsrf {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        match cookie(headers, CSRF_COOKIE) {
            Some(value)
                if value.len() == CSRF_LEN && value.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                Self {
                    token: value.to_string(),
                    fresh: false,
                }
            }
            _ => Self {
                token: random_token(),
                fresh: true,
            },
        }
    }

    /// Set the cookie on `response` when it was not there yet.
    pub fn attach(&self, state: &AppState, mut response: Response) -> Response {
        if self.fresh {
            let line = format!(
                "{CSRF_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/{}",
                self.token,
                secure(state)
            );
            append_cookie(&mut response, &line);
        }
        response
    }

    /// The posted `csrf_token` must equal the cookie.
    pub fn check(headers: &HeaderMap, sent: &str) -> Result<(), UiError> {
        match cookie(headers, CSRF_COOKIE) {
            Some(expected) if !expected.is_empty() && same_secret(sent, expected) => Ok(()),
            _ => Err(UiError::csrf()),
        }
    }
}

/// 32 random letters and digits (from the operating system's generator, via the password generator).
fn random_token() -> String {
    let mut token = identity::generate_password();
    while token.len() < CSRF_LEN {
        token.push_str(&identity::generate_password());
    }
    token.truncate(CSRF_LEN);
    token
}

fn secure(state: &AppState) -> &'static str {
    if state.core.config.auth.cookie_secure {
        "; Secure"
    } else {
        ""
    }
}

pub fn session_cookie(state: &AppState, secret: &str) -> String {
    let max_age = state.core.config.auth.session_ttl.as_secs();
    format!(
        "{}={secret}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}{}",
        identity::SESSION_COOKIE,
        secure(state)
    )
}

pub fn cleared_session_cookie(state: &AppState) -> String {
    format!(
        "{}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0{}",
        identity::SESSION_COOKIE,
        secure(state)
    )
}

pub fn append_cookie(response: &mut Response, line: &str) {
    if let Ok(value) = HeaderValue::from_str(line) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_are_long_and_random() {
        assert_eq!(random_token().len(), CSRF_LEN);
        assert_ne!(random_token(), random_token());
    }
}

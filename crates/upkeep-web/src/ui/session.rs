//! Getting in and out: first-run setup with the printed one-time link, signing in (throttled by the
//! domain) and signing out. These forms are shown before anyone is signed in, so they use a
//! double-submit cookie against cross-site posts.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use upkeep_core::identity::{self, SESSION_COOKIE};
use upkeep_core::{CoreError, audit};

use super::cookies::{AnonymousCsrf, append_cookie, cleared_session_cookie, session_cookie};
use super::error::{FormError, UiError, UiForm, UiQuery, UiResult};
use super::shell::{Client, CsrfForm, Page, SignedIn, local_path, render, see_other};
use crate::AppState;
use crate::auth::cookie;

/// `/`: the services list for people who are signed in, the login form for everyone else.
pub async fn index(State(state): State<AppState>, headers: HeaderMap) -> UiResult {
    let signed_in = match cookie(&headers, SESSION_COOKIE) {
        Some(secret) if !secret.is_empty() => identity::session_principal(&state.core, secret)
            .await?
            .is_some(),
        _ => false,
    };
    Ok(see_other(if signed_in { "/services" } else { "/login" }))
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    page: Page,
    csrf_token: String,
    token: String,
    email: String,
    name: String,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SetupForm {
    token: String,
    email: String,
    name: String,
    password: String,
    csrf_token: String,
}

fn setup_link_invalid() -> UiError {
    UiError::forbidden(
        "this setup link is no longer valid: setup is already complete (sign in instead), \
         or the server printed a newer link when it restarted",
    )
}

pub async fn setup_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    UiQuery(query): UiQuery<SetupForm>,
) -> UiResult {
    if !identity::setup_token_valid(&state.core, &query.token).await? {
        return Err(setup_link_invalid());
    }
    let csrf = AnonymousCsrf::from_headers(&headers);
    let page = SetupPage {
        page: Page::anonymous(),
        csrf_token: csrf.token.clone(),
        token: query.token,
        email: String::new(),
        name: String::new(),
        error: None,
    };
    Ok(csrf.attach(&state, render(StatusCode::OK, &page)))
}

pub async fn setup(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    UiForm(form): UiForm<SetupForm>,
) -> UiResult {
    AnonymousCsrf::check(&headers, &form.csrf_token)?;
    let ctx = audit::context(&state.core, audit::system_actor(), client.origin.clone());
    let name = Some(form.name.clone()).filter(|name| !name.trim().is_empty());
    let created = identity::complete_setup(
        &state.core,
        &ctx,
        &form.token,
        &form.email,
        name,
        form.password.clone(),
    )
    .await;
    match created {
        Ok(_) => {}
        Err(CoreError::Forbidden(_)) => return Err(setup_link_invalid()),
        Err(err) => {
            let failure = FormError::from_core(err)?;
            let page = SetupPage {
                page: Page::anonymous(),
                csrf_token: form.csrf_token,
                token: form.token,
                email: form.email,
                name: form.name,
                error: Some(failure.message),
            };
            return Ok(render(failure.status, &page));
        }
    }
    let outcome = identity::log_in(
        &state.core,
        &form.email,
        form.password,
        client.origin,
        client.user_agent,
    )
    .await?;
    let mut response = see_other("/services");
    append_cookie(&mut response, &session_cookie(&state, &outcome.secret));
    Ok(response)
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    page: Page,
    csrf_token: String,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    email: String,
    password: String,
    csrf_token: String,
    next: String,
}

pub async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    UiQuery(query): UiQuery<LoginForm>,
) -> UiResult {
    let csrf = AnonymousCsrf::from_headers(&headers);
    let next = local_path(&query.next).unwrap_or_default().to_string();
    let page = LoginPage {
        page: Page::anonymous(),
        csrf_token: csrf.token.clone(),
        email: String::new(),
        next,
        error: None,
    };
    Ok(csrf.attach(&state, render(StatusCode::OK, &page)))
}

pub async fn login(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    UiForm(form): UiForm<LoginForm>,
) -> UiResult {
    AnonymousCsrf::check(&headers, &form.csrf_token)?;
    let next = local_path(&form.next).unwrap_or("/services").to_string();
    let outcome = identity::log_in(
        &state.core,
        &form.email,
        form.password,
        client.origin,
        client.user_agent,
    )
    .await;
    let refused = |status: StatusCode, message: String| -> Response {
        let page = LoginPage {
            page: Page::anonymous(),
            csrf_token: form.csrf_token.clone(),
            email: form.email.clone(),
            next: form.next.clone(),
            error: Some(message),
        };
        render(status, &page)
    };
    match outcome {
        Ok(outcome) => {
            let mut response = see_other(&next);
            append_cookie(&mut response, &session_cookie(&state, &outcome.secret));
            Ok(response)
        }
        Err(CoreError::Unauthenticated(message)) => Ok(refused(StatusCode::UNAUTHORIZED, message)),
        Err(CoreError::RateLimited {
            message,
            retry_after,
        }) => {
            let seconds = retry_after.as_secs().max(1);
            let mut response = refused(
                StatusCode::TOO_MANY_REQUESTS,
                format!("{message} (about {} minutes)", seconds.div_ceil(60)),
            );
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            Ok(response)
        }
        Err(err) => Err(err.into()),
    }
}

pub async fn logout(
    State(state): State<AppState>,
    signed: SignedIn,
    UiForm(form): UiForm<CsrfForm>,
) -> UiResult {
    signed.check_csrf(&form.csrf_token)?;
    identity::end_session(&state.core, &signed.audit(&state), &signed.principal).await?;
    let mut response = see_other("/login");
    append_cookie(&mut response, &cleared_session_cookie(&state));
    Ok(response)
}

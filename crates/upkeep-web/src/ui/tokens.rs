//! `/tokens`: one's API tokens (admins may view everyone's), creating one (its secret shown once) and
//! revoking.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use upkeep_core::config::parse_duration;
use upkeep_core::identity::{self, Capability};
use upkeep_core::storage::{ApiToken, Scope};

use super::error::{FormError, UiForm, UiPath, UiQuery, UiResult};
use super::shell::{Page, SignedIn, html, render, see_other};
use super::{Choice, Pager, page_request, when};
use crate::AppState;

struct TokenRow {
    id: i64,
    name: String,
    prefix: String,
    owner: String,
    scope: &'static str,
    created: String,
    expires: String,
    last_used: String,
    status: &'static str,
    usable: bool,
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    page: Page,
    rows: Vec<TokenRow>,
    all: bool,
    pager: Pager,
    scopes: Vec<Choice>,
    form: TokenForm,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "token_created.html")]
struct TokenCreatedPage {
    page: Page,
    name: String,
    scope: &'static str,
    expires: Option<String>,
    secret: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TokensQuery {
    all: Option<String>,
    cursor: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TokenForm {
    name: String,
    scope: String,
    expires_in: String,
    csrf_token: String,
}

fn row(token: ApiToken, now: jiff::Timestamp) -> TokenRow {
    let (status, usable) = if token.revoked_at.is_some() {
        ("revoked", false)
    } else if !token.is_usable_at(now) {
        ("expired", false)
    } else {
        ("active", true)
    };
    TokenRow {
        id: token.id,
        scope: token.scope.as_str(),
        created: when(token.created_at),
        expires: token.expires_at.map_or_else(|| "never".to_string(), when),
        last_used: token.last_used_at.map_or_else(|| "never".to_string(), when),
        name: token.name,
        prefix: token.prefix,
        owner: token.user_email,
        status,
        usable,
    }
}

async fn tokens_page(
    state: &AppState,
    signed: &SignedIn,
    query: &TokensQuery,
    form: TokenForm,
    error: Option<FormError>,
) -> UiResult {
    let all = query
        .all
        .as_deref()
        .is_some_and(|all| all == "1" || all == "true");
    let user_id = if all {
        None
    } else {
        Some(signed.principal.user.id)
    };
    let cursor = query.cursor.as_deref();
    let tokens = identity::list_tokens(
        &state.core,
        Some(&signed.principal),
        user_id,
        page_request(cursor)?,
    )
    .await?;
    let now = state.core.now();
    let scope = if form.scope.is_empty() {
        "read"
    } else {
        form.scope.as_str()
    };
    let status = error.as_ref().map_or(StatusCode::OK, |error| error.status);
    let page = TokensPage {
        page: signed.page("tokens"),
        rows: tokens
            .items
            .into_iter()
            .map(|token| row(token, now))
            .collect(),
        all,
        pager: Pager::new(
            if all { "/tokens?all=1" } else { "/tokens" },
            cursor,
            tokens.next_cursor,
        ),
        scopes: Choice::list(["read", "write", "admin"], scope),
        error: error.map(|error| error.message),
        form: TokenForm {
            csrf_token: String::new(),
            ..form
        },
    };
    Ok(render(status, &page))
}

pub async fn list(
    State(state): State<AppState>,
    signed: SignedIn,
    UiQuery(query): UiQuery<TokensQuery>,
) -> UiResult {
    tokens_page(&state, &signed, &query, TokenForm::default(), None).await
}

pub async fn create(
    State(state): State<AppState>,
    signed: SignedIn,
    UiForm(form): UiForm<TokenForm>,
) -> UiResult {
    signed.check_csrf(&form.csrf_token)?;
    signed.require(Capability::Write)?;
    let parsed = Scope::parse(&form.scope)
        .ok_or_else(|| FormError::invalid("scope", "choose read, write or admin"))
        .and_then(|scope| {
            let expires = form.expires_in.trim();
            let expires_in = (!expires.is_empty())
                .then(|| parse_duration(expires))
                .transpose()
                .map_err(|message| FormError::invalid("expires_in", message))?;
            Ok((scope, expires_in))
        });
    let (scope, expires_in) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            return tokens_page(&state, &signed, &TokensQuery::default(), form, Some(error)).await;
        }
    };
    let ctx = signed.audit(&state);
    let owner = signed.principal.user.clone();
    let created = identity::create_token(
        &state.core,
        &ctx,
        Some(&signed.principal),
        &owner,
        &form.name,
        scope,
        expires_in,
    )
    .await;
    match created {
        Ok(created) => Ok(html(&TokenCreatedPage {
            page: signed.page("tokens"),
            name: created.token.name,
            scope: created.token.scope.as_str(),
            expires: created.token.expires_at.map(when),
            secret: created.secret,
        })),
        Err(err) => {
            tokens_page(
                &state,
                &signed,
                &TokensQuery::default(),
                form,
                Some(FormError::from_core(err)?),
            )
            .await
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RevokeForm {
    csrf_token: String,
    all: String,
}

pub async fn revoke(
    State(state): State<AppState>,
    signed: SignedIn,
    UiPath(id): UiPath<i64>,
    UiForm(form): UiForm<RevokeForm>,
) -> UiResult {
    signed.check_csrf(&form.csrf_token)?;
    signed.require(Capability::Write)?;
    identity::revoke_token(
        &state.core,
        &signed.audit(&state),
        Some(&signed.principal),
        id,
    )
    .await?;
    Ok(see_other(if form.all == "1" {
        "/tokens?all=1&notice=token-revoked"
    } else {
        "/tokens?notice=token-revoked"
    }))
}

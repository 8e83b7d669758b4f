//! `/account`: one's own profile and changing one's password.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use upkeep_core::identity;

use super::error::{FormError, UiForm, UiResult};
use super::shell::{Page, SignedIn, render, see_other};
use super::when;
use crate::AppState;

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    page: Page,
    email: String,
    name: String,
    role: &'static str,
    since: String,
    error: Option<String>,
}

fn account_page(signed: &SignedIn, error: Option<String>) -> AccountPage {
    let user = &signed.principal.user;
    AccountPage {
        page: signed.page("account"),
        email: user.email.clone(),
        name: user.name.clone(),
        role: user.role.as_str(),
        since: when(user.created_at),
        error,
    }
}

pub async fn show(signed: SignedIn) -> UiResult {
    Ok(render(StatusCode::OK, &account_page(&signed, None)))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
    csrf_token: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    signed: SignedIn,
    UiForm(form): UiForm<PasswordForm>,
) -> UiResult {
    signed.check_csrf(&form.csrf_token)?;
    let ctx = signed.audit(&state);
    let changed = identity::change_password(
        &state.core,
        &ctx,
        &signed.principal.user,
        form.current_password,
        form.new_password,
        signed.session_id(),
    )
    .await;
    match changed {
        Ok(()) => Ok(see_other("/account?notice=password-changed")),
        Err(err) => {
            let failure = FormError::from_core(err)?;
            Ok(render(
                failure.status,
                &account_page(&signed, Some(failure.message)),
            ))
        }
    }
}

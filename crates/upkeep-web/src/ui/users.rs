//! `/users`: people, their roles and access (admins; only owners may touch owners).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use upkeep_core::CoreError;
use upkeep_core::identity::{self, Capability, NewUserInput, UserPatch};
use upkeep_core::storage::Role;

use super::error::{FormError, UiForm, UiPath, UiQuery, UiResult};
use super::shell::{CsrfForm, Page, SignedIn, html, render, see_other};
use super::{Choice, ListQuery, Pager, page_request, when};
use crate::AppState;

const ROLES: [&str; 4] = ["viewer", "responder", "admin", "owner"];

struct UserRow {
    id: i64,
    email: String,
    name: String,
    disabled: bool,
    since: String,
    is_self: bool,
    roles: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    page: Page,
    rows: Vec<UserRow>,
    pager: Pager,
    roles: Vec<Choice>,
    form: NewUserForm,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewUserForm {
    email: String,
    name: String,
    role: String,
    password: String,
    csrf_token: String,
}

#[derive(Template)]
#[template(path = "user_created.html")]
struct UserCreatedPage {
    page: Page,
    email: String,
    role: &'static str,
    password: String,
}

async fn users_page(
    state: &AppState,
    signed: &SignedIn,
    cursor: Option<&str>,
    form: NewUserForm,
    error: Option<FormError>,
) -> UiResult {
    signed.require(Capability::Admin)?;
    let users =
        identity::list_users(&state.core, Some(&signed.principal), page_request(cursor)?).await?;
    let rows = users
        .items
        .into_iter()
        .map(|user| UserRow {
            id: user.id,
            is_self: user.id == signed.principal.user.id,
            roles: Choice::list(ROLES, user.role.as_str()),
            email: user.email,
            name: user.name,
            disabled: user.disabled,
            since: when(user.created_at),
        })
        .collect();
    let role = if form.role.is_empty() {
        "responder"
    } else {
        form.role.as_str()
    };
    let status = error.as_ref().map_or(StatusCode::OK, |error| error.status);
    let page = UsersPage {
        page: signed.page("users"),
        rows,
        pager: Pager::new("/users", cursor, users.next_cursor),
        roles: Choice::list(ROLES, role),
        error: error.map(|error| error.message),
        form: NewUserForm {
            password: String::new(),
            csrf_token: String::new(),
            ..form
        },
    };
    Ok(render(status, &page))
}

pub async fn list(
    State(state): State<AppState>,
    signed: SignedIn,
    UiQuery(query): UiQuery<ListQuery>,
) -> UiResult {
    users_page(
        &state,
        &signed,
        query.cursor.as_deref(),
        NewUserForm::default(),
        None,
    )
    .await
}

fn parse_role(role: &str) -> Result<Role, FormError> {
    Role::parse(role)
        .ok_or_else(|| FormError::invalid("role", "choose owner, admin, responder or viewer"))
}

pub async fn create(
    State(state): State<AppState>,
    signed: SignedIn,
    UiForm(form): UiForm<NewUserForm>,
) -> UiResult {
    signed.check_csrf(&form.csrf_token)?;
    signed.require(Capability::Admin)?;
    let role = match parse_role(&form.role) {
        Ok(role) => role,
        Err(error) => return users_page(&state, &signed, None, form, Some(error)).await,
    };
    let generated = form.password.is_empty().then(identity::generate_password);
    let password = generated.clone().unwrap_or_else(|| form.password.clone());
    let input = NewUserInput {
        email: form.email.clone(),
        name: Some(form.name.clone()).filter(|name| !name.trim().is_empty()),
        role,
        password,
    };
    let ctx = signed.audit(&state);
    match identity::create_user(&state.core, &ctx, Some(&signed.principal), input).await {
        Ok(user) => Ok(match generated {
            Some(password) => html(&UserCreatedPage {
                page: signed.page("users"),
                email: user.email,
                role: user.role.as_str(),
                password,
            }),
            None => see_other("/users?notice=user-created"),
        }),
        Err(err) => {
            users_page(
                &state,
                &signed,
                None,
                form,
                Some(FormError::from_core(err)?),
            )
            .await
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct UpdateForm {
    role: String,
    disabled: String,
    csrf_token: String,
}

pub async fn update(
    State(state): State<AppState>,
    signed: SignedIn,
    UiPath(id): UiPath<i64>,
    UiForm(form): UiForm<UpdateForm>,
) -> UiResult {
    signed.check_csrf(&form.csrf_token)?;
    signed.require(Capability::Admin)?;
    let role = match parse_role(&form.role) {
        Ok(role) => role,
        Err(error) => {
            return users_page(&state, &signed, None, NewUserForm::default(), Some(error)).await;
        }
    };
    let patch = UserPatch {
        name: None,
        role: Some(role),
        disabled: Some(form.disabled == "on"),
    };
    let ctx = signed.audit(&state);
    match identity::update_user(&state.core, &ctx, Some(&signed.principal), id, patch).await {
        Ok(_) => Ok(see_other("/users?notice=user-updated")),
        Err(err) => refuse(&state, &signed, err).await,
    }
}

pub async fn delete(
    State(state): State<AppState>,
    signed: SignedIn,
    UiPath(id): UiPath<i64>,
    UiForm(form): UiForm<CsrfForm>,
) -> UiResult {
    signed.check_csrf(&form.csrf_token)?;
    signed.require(Capability::Admin)?;
    let ctx = signed.audit(&state);
    match identity::delete_user(&state.core, &ctx, Some(&signed.principal), id).await {
        Ok(()) => Ok(see_other("/users?notice=user-deleted")),
        Err(err) => refuse(&state, &signed, err).await,
    }
}

/// A refused change to someone shown above the list (e.g. demoting the last owner: 409).
async fn refuse(state: &AppState, signed: &SignedIn, err: CoreError) -> UiResult {
    let error = FormError::from_core(err)?;
    users_page(state, signed, None, NewUserForm::default(), Some(error)).await
}

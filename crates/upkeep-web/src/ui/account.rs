//! `/account`: one's own profile, changing one's password, and how one is reached when paged: contact
//! methods (add with the kind's fields, send a test and see what came of it, delete) and notification
//! rules. Every form carries the CSRF token; any role may manage their own contact settings.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value};
use upkeep_core::contacts::{self, ContactInput};
use upkeep_core::identity;
use upkeep_core::notify::{ChannelKind, DeliveryOutcome};

use super::error::{FormError, UiForm, UiPath, UiResult};
use super::shell::{CsrfForm, Page, SignedIn, render, see_other};
use super::{Choice, when};
use crate::AppState;

struct ContactRow {
    id: i64,
    label: String,
    kind: String,
    summary: String,
    verified: bool,
}

struct RuleRow {
    id: i64,
    contact: String,
    delay: String,
}

/// What a "Send test" came to, shown above the list.
struct TestResult {
    label: String,
    delivered: bool,
    outcome: &'static str,
    text: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    page: Page,
    email: String,
    name: String,
    role: &'static str,
    since: String,
    error: Option<String>,
    contacts: Vec<ContactRow>,
    rules: Vec<RuleRow>,
    no_verified: bool,
    kinds: Vec<Choice>,
    securities: Vec<Choice>,
    form: ContactForm,
    contact_error: Option<String>,
    rule_error: Option<String>,
    test: Option<TestResult>,
    generated_secret: Option<String>,
}

/// Everything the page can show besides the profile.
#[derive(Default)]
struct Extras {
    error: Option<String>,
    form: ContactForm,
    contact_error: Option<String>,
    rule_error: Option<String>,
    test: Option<TestResult>,
    generated_secret: Option<String>,
}

async fn account_page(
    state: &AppState,
    signed: &SignedIn,
    status: StatusCode,
    extras: Extras,
) -> UiResult {
    let user = &signed.principal.user;
    let core = &state.core;
    let methods = contacts::list_contact_methods(core, Some(&signed.principal), user.id).await?;
    let rules = contacts::list_rules(core, Some(&signed.principal), user.id).await?;
    let label_of = |id: i64| {
        methods
            .iter()
            .find(|m| m.id == id)
            .map_or_else(|| format!("#{id}"), |m| m.label.clone())
    };
    let rules = rules
        .iter()
        .map(|rule| RuleRow {
            id: rule.id,
            contact: label_of(rule.contact_method_id),
            delay: contacts::format_delay(contacts::rule_delay(rule)),
        })
        .collect();
    let kind = if extras.form.kind.is_empty() {
        "webhook"
    } else {
        extras.form.kind.as_str()
    };
    let security = if extras.form.security.is_empty() {
        "starttls"
    } else {
        extras.form.security.as_str()
    };
    let page = AccountPage {
        page: signed.page("account"),
        email: user.email.clone(),
        name: user.name.clone(),
        role: user.role.as_str(),
        since: when(user.created_at),
        error: extras.error,
        no_verified: !methods.iter().any(|m| m.verified),
        contacts: methods
            .iter()
            .map(|m| ContactRow {
                id: m.id,
                label: m.label.clone(),
                kind: m.kind.clone(),
                summary: contacts::stored_summary(core, m),
                verified: m.verified,
            })
            .collect(),
        rules,
        kinds: Choice::list(ChannelKind::ALL.iter().map(|k| k.as_str()), kind),
        securities: Choice::list(["starttls", "tls", "none"], security),
        form: extras.form.without_secrets(),
        contact_error: extras.contact_error,
        rule_error: extras.rule_error,
        test: extras.test,
        generated_secret: extras.generated_secret,
    };
    Ok(render(status, &page))
}

pub async fn show(State(state): State<AppState>, signed: SignedIn) -> UiResult {
    account_page(&state, &signed, StatusCode::OK, Extras::default()).await
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
            let extras = Extras {
                error: Some(failure.message),
                ..Extras::default()
            };
            account_page(&state, &signed, failure.status, extras).await
        }
    }
}

/// The "Add a contact method" form: a kind and that kind's fields (the others are ignored).
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct ContactForm {
    kind: String,
    label: String,
    url: String,
    secret: String,
    webhook_url: String,
    bot_token: String,
    chat_id: String,
    server_url: String,
    topic: String,
    access_token: String,
    host: String,
    port: String,
    security: String,
    username: String,
    password: String,
    from: String,
    to: String,
    csrf_token: String,
}

impl ContactForm {
    /// The form to show again after a refusal: secrets are never written back into a page.
    fn without_secrets(self) -> Self {
        Self {
            secret: String::new(),
            webhook_url: String::new(),
            bot_token: String::new(),
            access_token: String::new(),
            password: String::new(),
            csrf_token: String::new(),
            ..self
        }
    }

    /// The settings object for the chosen kind; empty optional fields are left out.
    fn config(&self) -> Result<Value, FormError> {
        let mut object = Map::new();
        let mut put = |key: &str, value: &str| {
            let value = value.trim();
            if !value.is_empty() {
                object.insert(key.into(), Value::String(value.into()));
            }
        };
        match self.kind.as_str() {
            "webhook" => {
                put("url", &self.url);
                put("secret", &self.secret);
            }
            "slack" | "teams" | "discord" => put("webhook_url", &self.webhook_url),
            "telegram" => {
                put("bot_token", &self.bot_token);
                put("chat_id", &self.chat_id);
            }
            "ntfy" => {
                put("server_url", &self.server_url);
                put("topic", &self.topic);
                put("access_token", &self.access_token);
            }
            "email" => {
                put("host", &self.host);
                put("security", &self.security);
                put("username", &self.username);
                put("password", &self.password);
                put("from", &self.from);
                let port = match self.port.trim() {
                    "" => 587,
                    text => text.parse::<u16>().map_err(|_| {
                        FormError::invalid("port", "must be a number between 1 and 65535")
                    })?,
                };
                object.insert("port".into(), Value::from(port));
                let to: Vec<Value> = self
                    .to
                    .split([',', '\n'])
                    .map(str::trim)
                    .filter(|to| !to.is_empty())
                    .map(|to| Value::String(to.into()))
                    .collect();
                object.insert("to".into(), Value::Array(to));
            }
            _ => {}
        }
        Ok(Value::Object(object))
    }
}

pub async fn add_contact(
    State(state): State<AppState>,
    signed: SignedIn,
    UiForm(form): UiForm<ContactForm>,
) -> UiResult {
    signed.check_csrf(&form.csrf_token)?;
    let refused = |form: ContactForm, failure: FormError| Extras {
        form,
        contact_error: Some(failure.message),
        ..Extras::default()
    };
    let config = match form.config() {
        Ok(config) => config,
        Err(failure) => {
            let status = failure.status;
            return account_page(&state, &signed, status, refused(form, failure)).await;
        }
    };
    let input = ContactInput {
        label: form.label.clone(),
        kind: form.kind.clone(),
        config,
    };
    let ctx = signed.audit(&state);
    let me = signed.principal.user.id;
    let saved =
        contacts::create_contact_method(&state.core, &ctx, Some(&signed.principal), me, input)
            .await;
    match saved {
        Ok(saved) => match saved.generated_secret {
            // The generated signing secret is shown this once.
            Some(secret) => {
                let extras = Extras {
                    generated_secret: Some(secret),
                    ..Extras::default()
                };
                account_page(&state, &signed, StatusCode::OK, extras).await
            }
            None => Ok(see_other("/account?notice=contact-added#contacts")),
        },
        Err(err) => {
            let failure = FormError::from_core(err)?;
            let status = failure.status;
            account_page(&state, &signed, status, refused(form, failure)).await
        }
    }
}

pub async fn test_contact(
    State(state): State<AppState>,
    signed: SignedIn,
    UiPath(id): UiPath<i64>,
    UiForm(form): UiForm<CsrfForm>,
) -> UiResult {
    signed.check_csrf(&form.csrf_token)?;
    let ctx = signed.audit(&state);
    let me = signed.principal.user.id;
    let outcome = contacts::send_test(&state.core, &ctx, Some(&signed.principal), me, id).await;
    let label = state
        .core
        .storage
        .contact_method_by_id(id)
        .await
        .ok()
        .flatten()
        .map_or_else(|| format!("#{id}"), |m| m.label);
    let (delivered, name, text) = match outcome {
        Ok(outcome) => (
            matches!(outcome, DeliveryOutcome::Delivered { .. }),
            contacts::outcome_name(&outcome),
            contacts::outcome_text(&outcome).to_string(),
        ),
        Err(err) => (false, "failed", FormError::from_core(err)?.message),
    };
    let extras = Extras {
        test: Some(TestResult {
            label,
            delivered,
            outcome: name,
            text,
        }),
        ..Extras::default()
    };
    account_page(&state, &signed, StatusCode::OK, extras).await
}

pub async fn delete_contact(
    State(state): State<AppState>,
    signed: SignedIn,
    UiPath(id): UiPath<i64>,
    UiForm(form): UiForm<CsrfForm>,
) -> UiResult {
    signed.check_csrf(&form.csrf_token)?;
    let ctx = signed.audit(&state);
    let me = signed.principal.user.id;
    contacts::delete_contact_method(&state.core, &ctx, Some(&signed.principal), me, id).await?;
    Ok(see_other("/account?notice=contact-deleted#contacts"))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RuleForm {
    contact_method_id: String,
    delay: String,
    csrf_token: String,
}

pub async fn add_rule(
    State(state): State<AppState>,
    signed: SignedIn,
    UiForm(form): UiForm<RuleForm>,
) -> UiResult {
    signed.check_csrf(&form.csrf_token)?;
    let ctx = signed.audit(&state);
    let me = signed.principal.user.id;
    let created = match form.contact_method_id.trim().parse::<i64>() {
        Ok(method) => {
            contacts::create_rule(
                &state.core,
                &ctx,
                Some(&signed.principal),
                me,
                method,
                &form.delay,
            )
            .await
        }
        Err(_) => Err(upkeep_core::CoreError::validation(
            "contact_method_id",
            "choose one of your contact methods",
        )),
    };
    match created {
        Ok(_) => Ok(see_other("/account?notice=rule-added#rules")),
        Err(err) => {
            let failure = FormError::from_core(err)?;
            let extras = Extras {
                rule_error: Some(failure.message),
                ..Extras::default()
            };
            account_page(&state, &signed, failure.status, extras).await
        }
    }
}

pub async fn delete_rule(
    State(state): State<AppState>,
    signed: SignedIn,
    UiPath(id): UiPath<i64>,
    UiForm(form): UiForm<CsrfForm>,
) -> UiResult {
    signed.check_csrf(&form.csrf_token)?;
    let ctx = signed.audit(&state);
    let me = signed.principal.user.id;
    contacts::delete_rule(&state.core, &ctx, Some(&signed.principal), me, id).await?;
    Ok(see_other("/account?notice=rule-deleted#rules"))
}

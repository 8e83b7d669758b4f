//! `/monitors/new` and `POST /monitors`: the new-monitor form. Text fields become a [`MonitorSpec`] (blank
//! means "the default", conditions one per line); the domain checks it and a refusal is shown on the form
//! with the input kept and the named field marked.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use upkeep_core::identity::Capability;
use upkeep_core::monitors::{self, KINDS, MonitorSpec};
use upkeep_core::storage::PageRequest;
use upkeep_core::{Core, CoreError, catalog};

use super::super::Choice;
use super::super::error::{FormError, UiError, UiForm, UiQuery, UiResult};
use super::super::shell::{Page, SignedIn, render, see_other};
use crate::AppState;

/// How many services the service menu lists at most.
const MAX_SERVICE_CHOICES: usize = 2_000;

/// The form as posted, and as shown again when it is refused.
#[derive(Deserialize, Clone)]
#[serde(default)]
pub struct MonitorForm {
    pub service: String,
    pub name: String,
    pub slug: String,
    pub kind: String,
    pub url: String,
    pub interval: String,
    /// One condition per line.
    pub conditions: String,
    pub period: String,
    pub cron: String,
    pub tz: String,
    pub grace: String,
    pub csrf_token: String,
}

impl Default for MonitorForm {
    fn default() -> Self {
        Self {
            service: String::new(),
            name: String::new(),
            slug: String::new(),
            kind: "http".to_string(),
            url: String::new(),
            interval: "60s".to_string(),
            conditions: String::new(),
            period: String::new(),
            cron: String::new(),
            tz: "UTC".to_string(),
            grace: "1h".to_string(),
            csrf_token: String::new(),
        }
    }
}

fn given(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

impl MonitorForm {
    /// The definition asked for; fields of the other family of kinds are left out.
    pub fn spec(&self) -> MonitorSpec {
        let heartbeat = self.kind.trim() == "heartbeat";
        let active = |text: &str| if heartbeat { None } else { given(text) };
        let push = |text: &str| if heartbeat { given(text) } else { None };
        MonitorSpec {
            name: self.name.trim().to_string(),
            slug: given(&self.slug),
            kind: self.kind.trim().to_string(),
            url: active(&self.url),
            interval: active(&self.interval),
            conditions: if heartbeat {
                Vec::new()
            } else {
                self.conditions
                    .lines()
                    .map(str::trim)
                    .filter(|line| !line.is_empty())
                    .map(str::to_string)
                    .collect()
            },
            period: push(&self.period),
            cron: push(&self.cron),
            tz: push(&self.cron).and_then(|_| push(&self.tz)),
            grace: push(&self.grace),
            ..MonitorSpec::default()
        }
    }

    fn shown(self) -> Self {
        Self {
            csrf_token: String::new(),
            ..self
        }
    }
}

#[derive(Template)]
#[template(path = "monitor_new.html")]
struct NewMonitorPage {
    page: Page,
    form: MonitorForm,
    services: Vec<Choice>,
    kinds: Vec<Choice>,
    error: Option<String>,
    /// The field the error names (`cron`, `conditions`, …), to mark its input.
    error_field: String,
}

/// Every service's slug (up to a limit), with the form's current choice selected.
async fn service_choices(core: &Core, current: &str) -> Result<Vec<Choice>, UiError> {
    let mut slugs = Vec::new();
    let mut page = PageRequest::new(500, None);
    loop {
        let services = catalog::list_services(core, None, page).await?;
        slugs.extend(services.items.into_iter().map(|service| service.slug));
        match services.next_cursor.and_then(|cursor| cursor.parse().ok()) {
            Some(cursor) if slugs.len() < MAX_SERVICE_CHOICES => {
                page = PageRequest::new(500, Some(cursor));
            }
            _ => break,
        }
    }
    Ok(Choice::list(slugs.iter().map(String::as_str), current))
}

async fn new_page(
    state: &AppState,
    signed: &SignedIn,
    form: MonitorForm,
    error: Option<(FormError, String)>,
) -> UiResult {
    let services = service_choices(&state.core, &form.service).await?;
    let kinds = Choice::list(KINDS, &form.kind);
    let status = error
        .as_ref()
        .map_or(StatusCode::OK, |error| error.0.status);
    let (error, error_field) = match error {
        Some((error, field)) => (Some(error.message), field),
        None => (None, String::new()),
    };
    let page = NewMonitorPage {
        page: signed.page("monitors"),
        form: form.shown(),
        services,
        kinds,
        error,
        error_field,
    };
    Ok(render(status, &page))
}

/// `?service=<slug>` preselects the service (the link on a service's page).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewQuery {
    service: String,
}

pub async fn new_form(
    State(state): State<AppState>,
    signed: SignedIn,
    UiQuery(query): UiQuery<NewQuery>,
) -> UiResult {
    signed.require(Capability::Write)?;
    let form = MonitorForm {
        service: query.service,
        ..MonitorForm::default()
    };
    new_page(&state, &signed, form, None).await
}

pub async fn create(
    State(state): State<AppState>,
    signed: SignedIn,
    UiForm(form): UiForm<MonitorForm>,
) -> UiResult {
    signed.check_csrf(&form.csrf_token)?;
    signed.require(Capability::Write)?;
    let ctx = signed.audit(&state);
    let service = form.service.trim();
    match monitors::create_monitor(&state.core, &ctx, service, &form.spec(), None).await {
        Ok(monitor) => Ok(see_other(&format!("/monitors/{}", monitor.id))),
        Err(err) => {
            let field = match &err {
                CoreError::Validation { field, .. } => {
                    field.split('[').next().unwrap_or_default().to_string()
                }
                CoreError::Conflict { .. } => "slug".to_string(),
                _ => String::new(),
            };
            let error = FormError::from_core(err)?;
            new_page(&state, &signed, form, Some((error, field))).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_fields_mean_defaults_and_kinds_keep_their_own_fields() {
        let form = MonitorForm {
            name: " API health ".into(),
            kind: "http".into(),
            url: "https://api.example.com/health".into(),
            conditions: "[STATUS] == 200\n\n  [RESPONSE_TIME] < 300  \n".into(),
            cron: "0 3 * * *".into(),
            ..MonitorForm::default()
        };
        let spec = form.spec();
        assert_eq!(spec.name, "API health");
        assert_eq!(spec.slug, None);
        assert_eq!(
            spec.conditions,
            ["[STATUS] == 200", "[RESPONSE_TIME] < 300"]
        );
        assert_eq!((spec.cron, spec.grace, spec.tz), (None, None, None));
        assert_eq!(spec.interval.as_deref(), Some("60s"));

        let heartbeat = MonitorForm {
            kind: "heartbeat".into(),
            url: "ignored".into(),
            cron: "0 3 * * *".into(),
            tz: "Europe/Berlin".into(),
            ..MonitorForm::default()
        }
        .spec();
        assert_eq!(heartbeat.url, None);
        assert_eq!(heartbeat.interval, None);
        assert_eq!(heartbeat.cron.as_deref(), Some("0 3 * * *"));
        assert_eq!(heartbeat.tz.as_deref(), Some("Europe/Berlin"));
        assert_eq!(heartbeat.period, None);
        let period = MonitorForm {
            kind: "heartbeat".into(),
            period: "1d".into(),
            ..MonitorForm::default()
        }
        .spec();
        assert_eq!(
            period.tz, None,
            "a time zone only goes with a cron schedule"
        );
    }
}

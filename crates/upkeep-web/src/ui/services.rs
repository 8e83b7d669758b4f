//! `/services`: the catalog list, a service's page with its edit form, its open incidents and (for
//! responders and above, as they are secrets) its alert-source integration keys with their rotate
//! buttons, its escalation policy and runbook link with the form that sets them (responders and above),
//! creating and deleting services.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use upkeep_core::catalog;
use upkeep_core::identity::Capability;
use upkeep_core::incidents::{self, escalation, integrations};
use upkeep_core::storage::{
    IncidentFilter, IntegrationKind, PageRequest, Service, ServiceEscalation,
};
use upkeep_core::{CoreError, CoreResult};

use super::error::{FormError, UiError, UiForm, UiPath, UiQuery, UiResult};
use super::incidents::detail::web_link;
use super::incidents::{IncidentRow, OPEN_STATUSES};
use super::service_form::{ServiceForm, team_choices};
use super::shell::{CsrfForm, Page, SignedIn, html, render, see_other, url_encode};
use super::{Choice, ListQuery, Pager, page_request, when};
use crate::AppState;

/// Open incidents listed on a service's page; the rest are a link away.
const SERVICE_INCIDENT_ROWS: u32 = 10;
/// Escalation policies offered in a service's policy select.
const POLICY_CHOICES: usize = 1_000;

/// One line of a services table (also used on a team's page).
pub struct ServiceRow {
    pub slug: String,
    pub name: String,
    pub team: Option<String>,
    pub depends_on: Vec<String>,
}

impl From<Service> for ServiceRow {
    fn from(service: Service) -> Self {
        Self {
            slug: service.slug,
            name: service.name,
            team: service.team_slug,
            depends_on: service.depends_on,
        }
    }
}

#[derive(Template)]
#[template(path = "services.html")]
struct ServicesPage {
    page: Page,
    rows: Vec<ServiceRow>,
    pager: Pager,
}

#[derive(Template)]
#[template(path = "service_new.html")]
struct NewServicePage {
    page: Page,
    form: ServiceForm,
    teams: Vec<Choice>,
    error: Option<String>,
}

/// One line of a service's integrations: what it is, its value, and the key kind its Rotate button
/// replaces (none for the shared PagerDuty events URL).
pub struct IntegrationRow {
    pub label: &'static str,
    pub value: String,
    pub rotates: Option<&'static str>,
    pub hint: &'static str,
}

/// The integrations section's rows, in the order people set up alert sources.
fn integration_rows(keys: integrations::Integrations) -> Vec<IntegrationRow> {
    vec![
        IntegrationRow {
            label: "PagerDuty routing key",
            value: keys.pagerduty_routing_key,
            rotates: Some(IntegrationKind::Pagerduty.as_str()),
            hint: "routing_key for PagerDuty Events API v2 clients",
        },
        IntegrationRow {
            label: "PagerDuty Events URL",
            value: keys.pagerduty_events_url,
            rotates: None,
            hint: "where those clients send events, with the routing key",
        },
        IntegrationRow {
            label: "Alertmanager URL",
            value: keys.alertmanager_url,
            rotates: Some(IntegrationKind::Alertmanager.as_str()),
            hint: "webhook_configs url of an Alertmanager receiver",
        },
        IntegrationRow {
            label: "Grafana URL",
            value: keys.grafana_url,
            rotates: Some(IntegrationKind::Grafana.as_str()),
            hint: "URL of a Grafana webhook contact point",
        },
        IntegrationRow {
            label: "Webhook URL",
            value: keys.webhook_url,
            rotates: Some(IntegrationKind::Webhook.as_str()),
            hint: "POST JSON with summary and dedup_key",
        },
    ]
}

/// What the Rotate button of `kind` replaces, for the notice after rotating.
fn rotated_notice(kind: IntegrationKind) -> &'static str {
    match kind {
        IntegrationKind::Pagerduty => {
            "The PagerDuty routing key was rotated: the old key no longer works. Update the senders."
        }
        IntegrationKind::Alertmanager => {
            "The Alertmanager URL was rotated: the old URL no longer works. Update the receiver."
        }
        IntegrationKind::Grafana => {
            "The Grafana URL was rotated: the old URL no longer works. Update the contact point."
        }
        IntegrationKind::Webhook => {
            "The webhook URL was rotated: the old URL no longer works. Update the senders."
        }
    }
}

#[derive(Template)]
#[template(path = "service.html")]
struct ServicePage {
    page: Page,
    service: Service,
    updated: String,
    form: ServiceForm,
    teams: Vec<Choice>,
    error: Option<String>,
    /// Shown to responders and above only.
    integrations: Option<Vec<IntegrationRow>>,
    rotated: Option<&'static str>,
    incidents: Vec<IncidentRow>,
    more_incidents: bool,
    open_incidents_link: String,
    all_incidents_link: String,
    /// The policy's slug, linked to its page.
    policy: Option<String>,
    /// The runbook as a link (http and https only) or, when it is not one, as text.
    runbook_link: Option<String>,
    runbook_text: Option<String>,
    /// The escalation form (responders and above): the policies to choose from, "none" first.
    policies: Vec<Choice>,
    runbook_field: String,
    escalation_error: Option<String>,
}

/// The escalation form of a service's page.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EscalationForm {
    csrf_token: String,
    /// A policy's slug; empty for none.
    escalation_policy: String,
    runbook_url: String,
}

impl EscalationForm {
    fn from_settings(settings: &ServiceEscalation) -> Self {
        Self {
            csrf_token: String::new(),
            escalation_policy: settings.escalation_policy_slug.clone().unwrap_or_default(),
            runbook_url: settings.runbook_url.clone().unwrap_or_default(),
        }
    }
}

/// The escalation policies to choose from, "none" first, `current` selected.
async fn policy_choices(core: &upkeep_core::Core, current: &str) -> CoreResult<Vec<Choice>> {
    let mut choices = vec![Choice {
        value: String::new(),
        label: "none (nobody is paged)".to_string(),
        selected: current.is_empty(),
    }];
    let mut cursor = None;
    loop {
        let page = escalation::list(core, PageRequest::new(500, cursor)).await?;
        choices.extend(page.items.into_iter().map(|policy| Choice {
            selected: policy.slug == current,
            label: if policy.name == policy.slug {
                policy.slug.clone()
            } else {
                format!("{} ({})", policy.name, policy.slug)
            },
            value: policy.slug,
        }));
        cursor = match page.next_cursor {
            Some(next) if choices.len() < POLICY_CHOICES => next.parse::<i64>().ok(),
            _ => None,
        };
        if cursor.is_none() {
            return Ok(choices);
        }
    }
}

/// `?rotated=<kind>` after a Rotate button.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ServiceQuery {
    rotated: String,
}

pub async fn list(
    State(state): State<AppState>,
    signed: SignedIn,
    UiQuery(query): UiQuery<ListQuery>,
) -> UiResult {
    signed.require(Capability::Read)?;
    let cursor = query.cursor.as_deref();
    let services = catalog::list_services(&state.core, None, page_request(cursor)?).await?;
    Ok(html(&ServicesPage {
        page: signed.page("services"),
        rows: services.items.into_iter().map(ServiceRow::from).collect(),
        pager: Pager::new("/services", cursor, services.next_cursor),
    }))
}

async fn new_page(
    state: &AppState,
    signed: &SignedIn,
    form: ServiceForm,
    error: Option<FormError>,
) -> UiResult {
    let teams = team_choices(&state.core, &form.team).await?;
    let status = error.as_ref().map_or(StatusCode::OK, |error| error.status);
    let page = NewServicePage {
        page: signed.page("services"),
        form: form.shown(),
        teams,
        error: error.map(|error| error.message),
    };
    Ok(render(status, &page))
}

pub async fn new_form(State(state): State<AppState>, signed: SignedIn) -> UiResult {
    signed.require(Capability::Write)?;
    new_page(&state, &signed, ServiceForm::default(), None).await
}

pub async fn create(
    State(state): State<AppState>,
    signed: SignedIn,
    UiForm(form): UiForm<ServiceForm>,
) -> UiResult {
    signed.check_csrf(&form.csrf_token)?;
    signed.require(Capability::Write)?;
    match catalog::create_service(&state.core, &signed.audit(&state), form.input()).await {
        Ok(service) => Ok(see_other(&format!("/services/{}", service.slug))),
        Err(err) => new_page(&state, &signed, form, Some(FormError::from_core(err)?)).await,
    }
}

/// What a refused escalation form shows again.
type EscalationRefusal = (EscalationForm, FormError);

async fn service_page(
    state: &AppState,
    signed: &SignedIn,
    service: Service,
    form: Option<ServiceForm>,
    error: Option<FormError>,
    rotated: Option<IntegrationKind>,
    escalation_refusal: Option<EscalationRefusal>,
) -> UiResult {
    let form = form.unwrap_or_else(|| ServiceForm::from_service(&service));
    let settings = state
        .core
        .storage
        .service_escalation(service.id)
        .await
        .map_err(CoreError::from)?;
    let teams = team_choices(&state.core, &form.team).await?;
    let status = error
        .as_ref()
        .or(escalation_refusal.as_ref().map(|(_, error)| error))
        .map_or(StatusCode::OK, |error| error.status);
    let page = signed.page("services");
    let (escalation_form, escalation_error) = match escalation_refusal {
        Some((form, error)) => (form, Some(error.message)),
        None => (EscalationForm::from_settings(&settings), None),
    };
    let policies = if page.write {
        policy_choices(&state.core, &escalation_form.escalation_policy).await?
    } else {
        Vec::new()
    };
    let runbook_link = web_link(settings.runbook_url.clone());
    let runbook_text = settings.runbook_url.filter(|_| runbook_link.is_none());
    let integrations = if page.write {
        Some(integration_rows(
            integrations::integrations(&state.core, service.id).await?,
        ))
    } else {
        None
    };
    let open = incidents::list(
        &state.core,
        &IncidentFilter {
            service_id: Some(service.id),
            statuses: OPEN_STATUSES.to_vec(),
        },
        PageRequest::new(SERVICE_INCIDENT_ROWS, None),
    )
    .await?;
    let now = state.core.now();
    let page = ServicePage {
        page,
        updated: when(service.updated_at),
        integrations,
        rotated: rotated.map(rotated_notice),
        incidents: open
            .items
            .into_iter()
            .map(|incident| IncidentRow::new(incident, now))
            .collect(),
        more_incidents: open.next_cursor.is_some(),
        open_incidents_link: format!("/incidents?service={}", url_encode(&service.slug)),
        all_incidents_link: format!(
            "/incidents?service={}&status=all",
            url_encode(&service.slug)
        ),
        service,
        form: form.shown(),
        teams,
        error: error.map(|error| error.message),
        policy: settings.escalation_policy_slug,
        runbook_link,
        runbook_text,
        policies,
        runbook_field: escalation_form.runbook_url,
        escalation_error,
    };
    Ok(render(status, &page))
}

pub async fn show(
    State(state): State<AppState>,
    signed: SignedIn,
    UiPath(slug): UiPath<String>,
    UiQuery(query): UiQuery<ServiceQuery>,
) -> UiResult {
    signed.require(Capability::Read)?;
    let service = catalog::service(&state.core, &slug).await?;
    let rotated = IntegrationKind::parse(&query.rotated);
    service_page(&state, &signed, service, None, None, rotated, None).await
}

pub async fn update(
    State(state): State<AppState>,
    signed: SignedIn,
    UiPath(slug): UiPath<String>,
    UiForm(form): UiForm<ServiceForm>,
) -> UiResult {
    signed.check_csrf(&form.csrf_token)?;
    signed.require(Capability::Write)?;
    match catalog::update_service(&state.core, &signed.audit(&state), &slug, form.patch()).await {
        Ok(service) => Ok(see_other(&format!(
            "/services/{}?notice=service-updated",
            service.slug
        ))),
        Err(err) => {
            let error = FormError::from_core(err)?;
            let service = catalog::service(&state.core, &slug).await?;
            service_page(
                &state,
                &signed,
                service,
                Some(form),
                Some(error),
                None,
                None,
            )
            .await
        }
    }
}

pub async fn delete(
    State(state): State<AppState>,
    signed: SignedIn,
    UiPath(slug): UiPath<String>,
    UiForm(form): UiForm<CsrfForm>,
) -> UiResult {
    signed.check_csrf(&form.csrf_token)?;
    signed.require(Capability::Write)?;
    match catalog::delete_service(&state.core, &signed.audit(&state), &slug).await {
        Ok(()) => Ok(see_other("/services?notice=service-deleted")),
        Err(err) => {
            let error = FormError::from_core(err)?;
            let service = catalog::service(&state.core, &slug).await?;
            service_page(&state, &signed, service, None, Some(error), None, None).await
        }
    }
}

/// Choose the service's escalation policy (or none) and set its runbook link; a refusal (a link that is
/// not http(s)) shows the page again with the message naming the field.
pub async fn set_escalation(
    State(state): State<AppState>,
    signed: SignedIn,
    UiPath(slug): UiPath<String>,
    UiForm(form): UiForm<EscalationForm>,
) -> UiResult {
    signed.check_csrf(&form.csrf_token)?;
    signed.require(Capability::Write)?;
    let policy = Some(form.escalation_policy.trim()).filter(|slug| !slug.is_empty());
    let runbook = Some(form.runbook_url.clone());
    match escalation::set_for_service(&state.core, &signed.audit(&state), &slug, policy, runbook)
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/services/{}?notice=service-updated#escalation",
            url_encode(&slug)
        ))),
        Err(err) => {
            let error = FormError::from_core(err)?;
            let service = catalog::service(&state.core, &slug).await?;
            service_page(
                &state,
                &signed,
                service,
                None,
                None,
                None,
                Some((form, error)),
            )
            .await
        }
    }
}

/// Replace one of the service's integration keys; the old key stops working at once.
pub async fn rotate_integration(
    State(state): State<AppState>,
    signed: SignedIn,
    UiPath((slug, kind)): UiPath<(String, String)>,
    UiForm(form): UiForm<CsrfForm>,
) -> UiResult {
    signed.check_csrf(&form.csrf_token)?;
    signed.require(Capability::Write)?;
    let kind = IntegrationKind::parse(&kind)
        .ok_or_else(|| UiError::new(StatusCode::NOT_FOUND, "there is no such page"))?;
    let service = catalog::service(&state.core, &slug).await?;
    integrations::rotate(&state.core, &signed.audit(&state), service.id, kind).await?;
    Ok(see_other(&format!(
        "/services/{}?rotated={}#integrations",
        service.slug,
        kind.as_str()
    )))
}

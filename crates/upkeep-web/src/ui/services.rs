//! `/services`: the catalog list, a service's page with its edit form, creating and deleting services.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use upkeep_core::catalog;
use upkeep_core::identity::Capability;
use upkeep_core::storage::Service;

use super::error::{FormError, UiForm, UiPath, UiQuery, UiResult};
use super::service_form::{ServiceForm, team_choices};
use super::shell::{CsrfForm, Page, SignedIn, html, render, see_other};
use super::{Choice, ListQuery, Pager, page_request, when};
use crate::AppState;

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

#[derive(Template)]
#[template(path = "service.html")]
struct ServicePage {
    page: Page,
    service: Service,
    updated: String,
    form: ServiceForm,
    teams: Vec<Choice>,
    error: Option<String>,
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

async fn service_page(
    state: &AppState,
    signed: &SignedIn,
    service: Service,
    form: Option<ServiceForm>,
    error: Option<FormError>,
) -> UiResult {
    let form = form.unwrap_or_else(|| ServiceForm::from_service(&service));
    let teams = team_choices(&state.core, &form.team).await?;
    let status = error.as_ref().map_or(StatusCode::OK, |error| error.status);
    let page = ServicePage {
        page: signed.page("services"),
        updated: when(service.updated_at),
        service,
        form: form.shown(),
        teams,
        error: error.map(|error| error.message),
    };
    Ok(render(status, &page))
}

pub async fn show(
    State(state): State<AppState>,
    signed: SignedIn,
    UiPath(slug): UiPath<String>,
) -> UiResult {
    signed.require(Capability::Read)?;
    let service = catalog::service(&state.core, &slug).await?;
    service_page(&state, &signed, service, None, None).await
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
            service_page(&state, &signed, service, Some(form), Some(error)).await
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
            service_page(&state, &signed, service, None, Some(error)).await
        }
    }
}

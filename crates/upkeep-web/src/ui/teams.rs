//! `/teams`: the list with a form to add one, a team's page with its services, deleting a team.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use upkeep_core::catalog::{self, TeamInput};
use upkeep_core::identity::Capability;
use upkeep_core::storage::Team;

use super::error::{FormError, UiForm, UiPath, UiQuery, UiResult};
use super::services::ServiceRow;
use super::shell::{CsrfForm, Page, SignedIn, render, see_other};
use super::{ListQuery, Pager, page_request};
use crate::AppState;

#[derive(Template)]
#[template(path = "teams.html")]
struct TeamsPage {
    page: Page,
    rows: Vec<Team>,
    pager: Pager,
    form: TeamForm,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "team.html")]
struct TeamPage {
    page: Page,
    team: Team,
    rows: Vec<ServiceRow>,
    pager: Pager,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TeamForm {
    slug: String,
    name: String,
    description: String,
    csrf_token: String,
}

async fn teams_page(
    state: &AppState,
    signed: &SignedIn,
    cursor: Option<&str>,
    form: TeamForm,
    error: Option<FormError>,
) -> UiResult {
    signed.require(Capability::Read)?;
    let teams = catalog::list_teams(&state.core, page_request(cursor)?).await?;
    let status = error.as_ref().map_or(StatusCode::OK, |error| error.status);
    let page = TeamsPage {
        page: signed.page("teams"),
        rows: teams.items,
        pager: Pager::new("/teams", cursor, teams.next_cursor),
        form: TeamForm {
            csrf_token: String::new(),
            ..form
        },
        error: error.map(|error| error.message),
    };
    Ok(render(status, &page))
}

pub async fn list(
    State(state): State<AppState>,
    signed: SignedIn,
    UiQuery(query): UiQuery<ListQuery>,
) -> UiResult {
    teams_page(
        &state,
        &signed,
        query.cursor.as_deref(),
        TeamForm::default(),
        None,
    )
    .await
}

pub async fn create(
    State(state): State<AppState>,
    signed: SignedIn,
    UiForm(form): UiForm<TeamForm>,
) -> UiResult {
    signed.check_csrf(&form.csrf_token)?;
    signed.require(Capability::Write)?;
    let input = TeamInput {
        slug: form.slug.trim().to_string(),
        name: Some(form.name.clone()),
        description: Some(form.description.clone()),
    };
    match catalog::create_team(&state.core, &signed.audit(&state), input).await {
        Ok(team) => Ok(see_other(&format!("/teams/{}", team.slug))),
        Err(err) => {
            teams_page(
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

async fn team_page(
    state: &AppState,
    signed: &SignedIn,
    slug: &str,
    cursor: Option<&str>,
    error: Option<FormError>,
) -> UiResult {
    signed.require(Capability::Read)?;
    let team = catalog::team(&state.core, slug).await?;
    let services = catalog::list_services(&state.core, Some(slug), page_request(cursor)?).await?;
    let status = error.as_ref().map_or(StatusCode::OK, |error| error.status);
    let page = TeamPage {
        page: signed.page("teams"),
        pager: Pager::new(
            &format!("/teams/{}", team.slug),
            cursor,
            services.next_cursor,
        ),
        team,
        rows: services.items.into_iter().map(ServiceRow::from).collect(),
        error: error.map(|error| error.message),
    };
    Ok(render(status, &page))
}

pub async fn show(
    State(state): State<AppState>,
    signed: SignedIn,
    UiPath(slug): UiPath<String>,
    UiQuery(query): UiQuery<ListQuery>,
) -> UiResult {
    team_page(&state, &signed, &slug, query.cursor.as_deref(), None).await
}

pub async fn delete(
    State(state): State<AppState>,
    signed: SignedIn,
    UiPath(slug): UiPath<String>,
    UiForm(form): UiForm<CsrfForm>,
) -> UiResult {
    signed.check_csrf(&form.csrf_token)?;
    signed.require(Capability::Write)?;
    match catalog::delete_team(&state.core, &signed.audit(&state), &slug).await {
        Ok(()) => Ok(see_other("/teams?notice=team-deleted")),
        Err(err) => {
            team_page(
                &state,
                &signed,
                &slug,
                None,
                Some(FormError::from_core(err)?),
            )
            .await
        }
    }
}

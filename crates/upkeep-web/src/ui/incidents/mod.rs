//! `/incidents`: the list, newest first and keyset-paginated (one query a page), filtered by status (open
//! — triggered or acknowledged — by default, or one status, or all) and by service; an incident's page
//! with its timeline, alerts and lifecycle buttons is in [`detail`]. The rows and badges here are also
//! used by a service's page for its open incidents.

pub mod detail;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::Timestamp;
use serde::Deserialize;
use upkeep_core::catalog;
use upkeep_core::identity::Capability;
use upkeep_core::incidents;
use upkeep_core::storage::{Incident, IncidentFilter, IncidentStatus};

use super::error::{UiQuery, UiResult};
use super::monitors::{ago, exact};
use super::shell::{Page, SignedIn, render, url_encode};
use super::{Choice, Pager, page_request};
use crate::AppState;

/// The colour a status badge borrows from the monitor badges: a triggered incident reads like a monitor
/// that is down, an acknowledged one like a degraded one, a resolved one like one that is up.
pub fn status_tone(status: IncidentStatus) -> &'static str {
    match status {
        IncidentStatus::Triggered => "down",
        IncidentStatus::Acknowledged => "degraded",
        IncidentStatus::Resolved => "up",
    }
}

/// The statuses an incident counts as open with: someone still has to act.
pub const OPEN_STATUSES: [IncidentStatus; 2] =
    [IncidentStatus::Triggered, IncidentStatus::Acknowledged];

/// One line of an incidents table (the list and a service's open incidents).
pub struct IncidentRow {
    pub id: i64,
    pub status: &'static str,
    pub tone: &'static str,
    pub severity: &'static str,
    pub title: String,
    pub service: String,
    pub alert_count: i64,
    pub open_alert_count: i64,
    /// When it opened, relative, and the exact time for its tooltip.
    pub opened: (String, String),
}

impl IncidentRow {
    pub fn new(incident: Incident, now: Timestamp) -> Self {
        Self {
            id: incident.id,
            status: incident.status.as_str(),
            tone: status_tone(incident.status),
            severity: incident.severity.as_str(),
            title: incident.title,
            service: incident.service_slug,
            alert_count: incident.alert_count,
            open_alert_count: incident.open_alert_count,
            opened: (ago(incident.created_at, now), exact(incident.created_at)),
        }
    }
}

/// Which incidents the list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatusFilter {
    Open,
    Only(IncidentStatus),
    All,
}

impl StatusFilter {
    /// In the order of the quick filters above the table.
    const ALL: [StatusFilter; 5] = [
        StatusFilter::Open,
        StatusFilter::Only(IncidentStatus::Triggered),
        StatusFilter::Only(IncidentStatus::Acknowledged),
        StatusFilter::Only(IncidentStatus::Resolved),
        StatusFilter::All,
    ];

    /// `""` (the default) is open.
    fn parse(text: &str) -> Option<Self> {
        match text {
            "" | "open" => Some(Self::Open),
            "all" => Some(Self::All),
            other => IncidentStatus::parse(other).map(Self::Only),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Only(status) => status.as_str(),
            Self::All => "all",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Open => "Open",
            Self::Only(IncidentStatus::Triggered) => "Triggered",
            Self::Only(IncidentStatus::Acknowledged) => "Acknowledged",
            Self::Only(IncidentStatus::Resolved) => "Resolved",
            Self::All => "All",
        }
    }

    fn statuses(self) -> Vec<IncidentStatus> {
        match self {
            Self::Open => OPEN_STATUSES.to_vec(),
            Self::Only(status) => vec![status],
            Self::All => Vec::new(),
        }
    }

    /// The chip colour (monitor chips), none for the groups.
    fn tone(self) -> &'static str {
        match self {
            Self::Only(status) => status_tone(status),
            Self::Open | Self::All => "",
        }
    }
}

/// `?status=&service=&cursor=` on the list.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct IncidentQuery {
    status: String,
    service: String,
    cursor: Option<String>,
}

/// The list's address with `status` and the service filter, without a cursor; open (the default) is left
/// out.
fn list_address(status: &str, service: &str) -> String {
    let status = if status == "open" { "" } else { status };
    let pairs: Vec<String> = [("status", status), ("service", service)]
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| format!("{key}={}", url_encode(value)))
        .collect();
    if pairs.is_empty() {
        "/incidents".to_string()
    } else {
        format!("/incidents?{}", pairs.join("&"))
    }
}

/// A quick status filter above the table.
pub struct StatusLink {
    pub label: &'static str,
    pub tone: &'static str,
    pub href: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "incidents.html")]
struct IncidentsPage {
    page: Page,
    incidents: Vec<IncidentRow>,
    pager: Pager,
    statuses: Vec<StatusLink>,
    status_choices: Vec<Choice>,
    /// What the current filter is called in sentences ("open", "resolved", "").
    showing: &'static str,
    service: String,
    filtered: bool,
    warning: Option<String>,
    error: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    signed: SignedIn,
    UiQuery(mut query): UiQuery<IncidentQuery>,
) -> UiResult {
    signed.require(Capability::Read)?;
    query.service = query.service.trim().to_string();
    query.status = query.status.trim().to_string();
    let filter = StatusFilter::parse(&query.status);
    let mut error = None;
    if filter.is_none() {
        error = Some(format!(
            "Status: {:?} is not one of open, triggered, acknowledged, resolved or all.",
            query.status
        ));
    }
    let mut warning = None;
    let service_id = match query.service.as_str() {
        "" => None,
        slug => match catalog::service(&state.core, slug).await {
            Ok(service) => Some(service.id),
            Err(_) => {
                warning = Some(format!("There is no service {slug:?}."));
                None
            }
        },
    };
    let cursor = query.cursor.as_deref();
    let (incidents, next_cursor) = match filter {
        Some(filter) if warning.is_none() => {
            let found = incidents::list(
                &state.core,
                &IncidentFilter {
                    service_id,
                    statuses: filter.statuses(),
                },
                page_request(cursor)?,
            )
            .await?;
            let now = state.core.now();
            let rows = found
                .items
                .into_iter()
                .map(|incident| IncidentRow::new(incident, now))
                .collect();
            (rows, found.next_cursor)
        }
        _ => (Vec::new(), None),
    };
    let current: &str = match filter {
        Some(filter) => filter.as_str(),
        None => query.status.as_str(),
    };
    let statuses = StatusFilter::ALL
        .into_iter()
        .map(|each| StatusLink {
            label: each.label(),
            tone: each.tone(),
            href: list_address(each.as_str(), &query.service),
            current: filter == Some(each),
        })
        .collect();
    let status_choices = StatusFilter::ALL
        .into_iter()
        .map(|each| Choice {
            value: each.as_str().to_string(),
            label: each.label().to_string(),
            selected: filter == Some(each),
        })
        .collect();
    let showing = match filter {
        Some(StatusFilter::All) | None => "",
        Some(each) => each.as_str(),
    };
    let page = IncidentsPage {
        page: signed.page("incidents"),
        pager: Pager::new(&list_address(current, &query.service), cursor, next_cursor).older(),
        incidents,
        statuses,
        status_choices,
        showing,
        filtered: !query.service.is_empty() || filter != Some(StatusFilter::Open),
        service: query.service,
        warning,
        error,
    };
    let status = if page.error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(render(status, &page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_filters_read_back() {
        for each in StatusFilter::ALL {
            assert_eq!(StatusFilter::parse(each.as_str()), Some(each));
        }
        assert_eq!(StatusFilter::parse(""), Some(StatusFilter::Open));
        assert_eq!(StatusFilter::parse("sideways"), None);
        assert_eq!(StatusFilter::Open.statuses(), OPEN_STATUSES.to_vec());
        assert!(StatusFilter::All.statuses().is_empty());
    }

    #[test]
    fn filters_survive_paging() {
        assert_eq!(list_address("open", ""), "/incidents");
        assert_eq!(list_address("all", ""), "/incidents?status=all");
        assert_eq!(
            list_address("resolved", "a b"),
            "/incidents?status=resolved&service=a%20b"
        );
        assert_eq!(list_address("open", "api"), "/incidents?service=api");
    }
}

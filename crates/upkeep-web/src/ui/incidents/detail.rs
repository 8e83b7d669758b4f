//! `/incidents/{id}`: an incident's page — its status, severity, service, assignee and times, the
//! acknowledge, resolve and reopen buttons and the note form (responders and above), the service's
//! changes (deploys) in the hour before it opened, its timeline (oldest first), its alerts, and the
//! notifications escalation sent for it with why each was sent and every delivery attempt; the service's
//! runbook link sits under the heading.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::Value;
use upkeep_core::identity::Capability;
use upkeep_core::incidents::{self, IncidentChange, MAX_NOTE_CHARS, integrations};
use upkeep_core::storage::{
    Alert, AttemptRecord, ChangeEvent, Incident, IncidentStatus, NotificationStatus,
    OutboxNotification, PageRequest, TimelineEntry,
};
use upkeep_core::{CoreError, catalog};

use super::super::error::{FormError, UiForm, UiPath, UiQuery, UiResult};
use super::super::monitors::{ago, exact, short_time, span, truncate};
use super::super::page_request;
use super::super::shell::{CsrfForm, Page, SignedIn, render, see_other, url_encode};
use super::status_tone;
use crate::AppState;

/// Timeline entries a page shows; a longer timeline continues on the next page.
const TIMELINE_ROWS: u32 = 200;
/// Alerts a page shows.
const ALERT_ROWS: u32 = 100;
/// Change events looked at for "Changes before this incident".
const CHANGE_ROWS: u32 = 100;
/// How long before an incident opened its service's changes are shown.
const CHANGES_BEFORE: SignedDuration = SignedDuration::from_hours(1);
/// Links shown per change event.
const CHANGE_LINKS: usize = 5;
/// Notifications a page shows (the API lists them all).
const NOTIFICATION_ROWS: u32 = 200;

pub struct TimelineRow {
    pub at: String,
    pub exact: String,
    pub kind: String,
    /// The kind as a class name: `incident-acknowledged` for `incident.acknowledged`.
    pub kind_class: String,
    pub actor: Option<String>,
    pub message: String,
    pub note: bool,
}

impl From<TimelineEntry> for TimelineRow {
    fn from(entry: TimelineEntry) -> Self {
        Self {
            at: short_time(entry.at),
            exact: exact(entry.at),
            note: entry.kind == "note",
            kind_class: entry.kind.replace('.', "-"),
            kind: entry.kind,
            actor: entry.actor,
            message: entry.message,
        }
    }
}

pub struct AlertRow {
    pub source: &'static str,
    pub dedup_key: String,
    pub status: &'static str,
    pub tone: &'static str,
    pub severity: &'static str,
    pub summary: String,
    pub event_count: i64,
    pub created: (String, String),
}

impl AlertRow {
    fn new(alert: Alert, now: Timestamp) -> Self {
        Self {
            source: alert.source.as_str(),
            status: alert.status.as_str(),
            tone: status_tone(alert.status),
            severity: alert.severity.as_str(),
            created: (short_time(alert.created_at), ago(alert.created_at, now)),
            dedup_key: alert.dedup_key,
            summary: alert.summary,
            event_count: alert.event_count,
        }
    }
}

pub struct ChangeLink {
    pub href: String,
    pub text: String,
}

pub struct ChangeRow {
    pub at: String,
    pub exact: String,
    /// How long before the incident opened: `12m 5s before`.
    pub before: String,
    pub summary: String,
    pub source: Option<String>,
    pub links: Vec<ChangeLink>,
}

impl ChangeRow {
    fn new(change: ChangeEvent, opened: Timestamp) -> Self {
        let lead_ms = opened.as_millisecond() - change.happened_at.as_millisecond();
        Self {
            at: short_time(change.happened_at),
            exact: exact(change.happened_at),
            before: if lead_ms > 0 {
                format!("{} before", span(lead_ms))
            } else {
                "as it opened".to_string()
            },
            summary: change.summary,
            source: change.source.filter(|source| !source.trim().is_empty()),
            links: change_links(&change.links),
        }
    }
}

/// The web links of a change event (`[{"href": …, "text": …}]`, as PagerDuty sends them); anything that is
/// not an http(s) address is left out, so a change event cannot put a `javascript:` link on the page.
fn change_links(links: &Value) -> Vec<ChangeLink> {
    links
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|link| {
            let href = link.get("href")?.as_str()?.trim();
            let web = href.starts_with("https://") || href.starts_with("http://");
            let text = link
                .get("text")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|text| !text.is_empty())
                .unwrap_or(href);
            web.then(|| ChangeLink {
                href: href.to_string(),
                text: truncate(text, 80),
            })
        })
        .take(CHANGE_LINKS)
        .collect()
}

/// The address only when it is an http(s) link, so nothing stored can put a `javascript:` link on a page.
pub fn web_link(url: Option<String>) -> Option<String> {
    url.map(|url| url.trim().to_string())
        .filter(|url| url.starts_with("https://") || url.starts_with("http://"))
}

pub struct AttemptRow {
    pub at: String,
    pub exact: String,
    pub outcome: String,
    pub detail: String,
    pub duration_ms: i64,
}

impl From<&AttemptRecord> for AttemptRow {
    fn from(attempt: &AttemptRecord) -> Self {
        Self {
            at: short_time(attempt.at),
            exact: exact(attempt.at),
            outcome: attempt.outcome.clone(),
            detail: attempt.detail.clone(),
            duration_ms: attempt.duration_ms,
        }
    }
}

pub struct NotificationRow {
    pub id: i64,
    /// The person paged, by email.
    pub person: String,
    pub channel: String,
    pub status: &'static str,
    pub tone: &'static str,
    pub reason: String,
    pub created: String,
    pub attempts: Vec<AttemptRow>,
}

/// How a notification's status looks, in the colours of monitor and incident statuses.
fn notification_tone(status: NotificationStatus) -> &'static str {
    match status {
        NotificationStatus::Delivered => "up",
        NotificationStatus::Queued | NotificationStatus::Sending => "pending",
        NotificationStatus::Ambiguous => "degraded",
        NotificationStatus::Failed => "down",
        NotificationStatus::Cancelled => "paused",
    }
}

/// The incident's notifications, oldest first, each with its attempt log (oldest first).
async fn notifications_of(
    state: &AppState,
    incident_id: i64,
) -> Result<(Vec<NotificationRow>, bool), CoreError> {
    let storage = &state.core.storage;
    let page = storage
        .incident_notifications(incident_id, PageRequest::new(NOTIFICATION_ROWS, None))
        .await?;
    let ids: Vec<i64> = page
        .items
        .iter()
        .map(|notification| notification.id)
        .collect();
    let attempts = storage.notification_attempts(&ids).await?;
    let mut people: Vec<(i64, String)> = Vec::new();
    let mut rows = Vec::with_capacity(page.items.len());
    for notification in page.items {
        let person = person_of(state, &mut people, &notification).await?;
        let OutboxNotification {
            id,
            channel_kind,
            reason,
            status,
            created_at,
            ..
        } = notification;
        rows.push(NotificationRow {
            id,
            person,
            channel: channel_kind,
            status: status.as_str(),
            tone: notification_tone(status),
            reason,
            created: short_time(created_at),
            attempts: attempts
                .iter()
                .filter(|attempt| attempt.notification_id == id)
                .map(AttemptRow::from)
                .collect(),
        });
    }
    Ok((rows, page.next_cursor.is_some()))
}

/// The email of the person a notification went to, looked up once per person.
async fn person_of(
    state: &AppState,
    seen: &mut Vec<(i64, String)>,
    notification: &OutboxNotification,
) -> Result<String, CoreError> {
    let Some(user_id) = notification.user_id else {
        return Ok("nobody in particular".to_string());
    };
    if let Some((_, email)) = seen.iter().find(|(id, _)| *id == user_id) {
        return Ok(email.clone());
    }
    let email = match state.core.storage.user_by_id(user_id).await? {
        Some(user) => user.email,
        None => format!("user {user_id} (no longer here)"),
    };
    seen.push((user_id, email.clone()));
    Ok(email)
}

/// Links between the pages of a long timeline or alert list.
pub struct MoreLinks {
    pub first: Option<String>,
    pub next: Option<String>,
}

impl MoreLinks {
    /// `param` is the query parameter carrying this list's cursor, `anchor` the section to land on.
    fn new(id: i64, param: &str, anchor: &str, cursor: Option<i64>, next: Option<String>) -> Self {
        Self {
            first: cursor.map(|_| format!("/incidents/{id}#{anchor}")),
            next: next
                .map(|next| format!("/incidents/{id}?{param}={}#{anchor}", url_encode(&next))),
        }
    }

    pub fn any(&self) -> bool {
        self.first.is_some() || self.next.is_some()
    }
}

/// `?timeline=&alerts=`: the cursors of the timeline and the alerts.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DetailQuery {
    timeline: Option<String>,
    alerts: Option<String>,
}

/// What a refused action or note shows again on the page.
struct Refusal {
    status: StatusCode,
    note: String,
    note_error: Option<String>,
    action_error: Option<String>,
}

impl Refusal {
    fn none() -> Self {
        Self {
            status: StatusCode::OK,
            note: String::new(),
            note_error: None,
            action_error: None,
        }
    }
}

#[derive(Template)]
#[template(path = "incident.html")]
struct IncidentPage {
    page: Page,
    incident: Incident,
    status: &'static str,
    tone: &'static str,
    severity: &'static str,
    service_name: String,
    assignee: Option<String>,
    opened: (String, String),
    acknowledged: Option<(String, String)>,
    resolved: Option<(String, String)>,
    can_acknowledge: bool,
    can_resolve: bool,
    can_reopen: bool,
    changes: Vec<ChangeRow>,
    timeline: Vec<TimelineRow>,
    timeline_pages: MoreLinks,
    alerts: Vec<AlertRow>,
    alert_pages: MoreLinks,
    notifications: Vec<NotificationRow>,
    more_notifications: bool,
    runbook: Option<String>,
    note: String,
    note_limit: usize,
    note_error: Option<String>,
    action_error: Option<String>,
}

/// The service's changes from the hour before the incident opened, newest first.
async fn changes_before(
    state: &AppState,
    incident: &Incident,
) -> Result<Vec<ChangeRow>, CoreError> {
    let opened = incident.created_at;
    let since = opened.checked_sub(CHANGES_BEFORE).unwrap_or(opened);
    let mut changes: Vec<ChangeEvent> = integrations::changes(
        &state.core,
        incident.service_id,
        Some(since),
        PageRequest::new(CHANGE_ROWS, None),
    )
    .await?
    .items
    .into_iter()
    .filter(|change| change.happened_at <= opened)
    .collect();
    changes.sort_by_key(|change| std::cmp::Reverse(change.happened_at));
    Ok(changes
        .into_iter()
        .map(|change| ChangeRow::new(change, opened))
        .collect())
}

/// Who the incident is assigned to, by email (a removed person by their former id).
async fn assignee_of(state: &AppState, incident: &Incident) -> Result<Option<String>, CoreError> {
    let Some(user_id) = incident.assignee_user_id else {
        return Ok(None);
    };
    let user = state.core.storage.user_by_id(user_id).await?;
    Ok(Some(match user {
        Some(user) if user.name.trim().is_empty() => user.email,
        Some(user) => format!("{} <{}>", user.name, user.email),
        None => format!("user {user_id} (no longer here)"),
    }))
}

async fn incident_page(
    state: &AppState,
    signed: &SignedIn,
    id: i64,
    query: &DetailQuery,
    refusal: Refusal,
) -> UiResult {
    let core = &state.core;
    let incident = incidents::incident(core, id).await?;
    let timeline_cursor = page_request(query.timeline.as_deref())?.cursor;
    let alerts_cursor = page_request(query.alerts.as_deref())?.cursor;
    let timeline =
        incidents::timeline(core, id, PageRequest::new(TIMELINE_ROWS, timeline_cursor)).await?;
    let alerts = incidents::alerts(core, id, PageRequest::new(ALERT_ROWS, alerts_cursor)).await?;
    let service_name = catalog::service(core, &incident.service_slug)
        .await
        .map(|service| service.name)
        .unwrap_or_default();
    let runbook = web_link(
        core.storage
            .service_escalation(incident.service_id)
            .await
            .map_err(CoreError::from)?
            .runbook_url,
    );
    let (notifications, more_notifications) = notifications_of(state, id).await?;
    let now = core.now();
    let moment = |at: Timestamp| (exact(at), ago(at, now));
    let page = IncidentPage {
        page: signed.page("incidents"),
        status: incident.status.as_str(),
        tone: status_tone(incident.status),
        severity: incident.severity.as_str(),
        service_name,
        assignee: assignee_of(state, &incident).await?,
        opened: moment(incident.created_at),
        acknowledged: incident.acknowledged_at.map(moment),
        resolved: incident.resolved_at.map(moment),
        can_acknowledge: incident.status == IncidentStatus::Triggered,
        can_resolve: incident.status != IncidentStatus::Resolved,
        can_reopen: incident.status == IncidentStatus::Resolved,
        changes: changes_before(state, &incident).await?,
        timeline: timeline.items.into_iter().map(TimelineRow::from).collect(),
        timeline_pages: MoreLinks::new(
            id,
            "timeline",
            "timeline",
            timeline_cursor,
            timeline.next_cursor,
        ),
        alerts: alerts
            .items
            .into_iter()
            .map(|alert| AlertRow::new(alert, now))
            .collect(),
        alert_pages: MoreLinks::new(id, "alerts", "alerts", alerts_cursor, alerts.next_cursor),
        notifications,
        more_notifications,
        runbook,
        note: refusal.note,
        note_limit: MAX_NOTE_CHARS,
        note_error: refusal.note_error,
        action_error: refusal.action_error,
        incident,
    };
    Ok(render(refusal.status, &page))
}

pub async fn show(
    State(state): State<AppState>,
    signed: SignedIn,
    UiPath(id): UiPath<i64>,
    UiQuery(query): UiQuery<DetailQuery>,
) -> UiResult {
    signed.require(Capability::Read)?;
    incident_page(&state, &signed, id, &query, Refusal::none()).await
}

/// Acknowledge, resolve or reopen from the page's buttons; a refusal (acknowledging a resolved incident)
/// shows the page again with the reason.
async fn lifecycle(
    state: &AppState,
    signed: &SignedIn,
    id: i64,
    form: &CsrfForm,
    change: IncidentChange,
) -> UiResult {
    signed.check_csrf(&form.csrf_token)?;
    signed.require(Capability::Write)?;
    match incidents::change(&state.core, &signed.audit(state), id, change).await {
        Ok(_) => Ok(see_other(&format!("/incidents/{id}"))),
        Err(err) => {
            let error = FormError::from_core(err)?;
            let refusal = Refusal {
                status: error.status,
                action_error: Some(error.message),
                ..Refusal::none()
            };
            incident_page(state, signed, id, &DetailQuery::default(), refusal).await
        }
    }
}

pub async fn acknowledge(
    State(state): State<AppState>,
    signed: SignedIn,
    UiPath(id): UiPath<i64>,
    UiForm(form): UiForm<CsrfForm>,
) -> UiResult {
    lifecycle(&state, &signed, id, &form, IncidentChange::Acknowledge).await
}

pub async fn resolve(
    State(state): State<AppState>,
    signed: SignedIn,
    UiPath(id): UiPath<i64>,
    UiForm(form): UiForm<CsrfForm>,
) -> UiResult {
    lifecycle(&state, &signed, id, &form, IncidentChange::Resolve).await
}

pub async fn reopen(
    State(state): State<AppState>,
    signed: SignedIn,
    UiPath(id): UiPath<i64>,
    UiForm(form): UiForm<CsrfForm>,
) -> UiResult {
    lifecycle(&state, &signed, id, &form, IncidentChange::Reopen).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NoteForm {
    csrf_token: String,
    note: String,
}

/// Add a note to the timeline; an empty or too long note shows the form again with the reason.
pub async fn add_note(
    State(state): State<AppState>,
    signed: SignedIn,
    UiPath(id): UiPath<i64>,
    UiForm(form): UiForm<NoteForm>,
) -> UiResult {
    signed.check_csrf(&form.csrf_token)?;
    signed.require(Capability::Write)?;
    let change = IncidentChange::Note(form.note.clone());
    match incidents::change(&state.core, &signed.audit(&state), id, change).await {
        Ok(_) => Ok(see_other(&format!("/incidents/{id}#timeline"))),
        Err(CoreError::Validation { message, .. }) => {
            let error = FormError::invalid("note", message);
            let refusal = Refusal {
                status: error.status,
                note: form.note,
                note_error: Some(error.message),
                action_error: None,
            };
            incident_page(&state, &signed, id, &DetailQuery::default(), refusal).await
        }
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_web_links_of_a_change_are_shown() {
        let links = change_links(&json!([
            {"href": "https://ci.example.com/1", "text": "Build"},
            {"href": "javascript:alert(1)", "text": "Click"},
            {"href": "http://git.example.com/abc"},
            {"text": "no href"},
            "not an object"
        ]));
        let shown: Vec<(&str, &str)> = links
            .iter()
            .map(|link| (link.href.as_str(), link.text.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                ("https://ci.example.com/1", "Build"),
                ("http://git.example.com/abc", "http://git.example.com/abc"),
            ]
        );
        assert!(change_links(&Value::Null).is_empty());
    }

    #[test]
    fn only_web_runbooks_are_links() {
        assert_eq!(
            web_link(Some(" https://wiki.example.com/api ".into())).as_deref(),
            Some("https://wiki.example.com/api")
        );
        assert_eq!(web_link(Some("javascript:alert(1)".into())), None);
        assert_eq!(web_link(None), None);
    }

    #[test]
    fn more_links_keep_their_list() {
        let links = MoreLinks::new(7, "timeline", "timeline", Some(3), Some("250".into()));
        assert_eq!(links.first.as_deref(), Some("/incidents/7#timeline"));
        assert_eq!(
            links.next.as_deref(),
            Some("/incidents/7?timeline=250#timeline")
        );
        assert!(!MoreLinks::new(7, "alerts", "alerts", None, None).any());
    }
}

//! `/monitors`: the list (keyset-paginated, filtered by status, kind, service and a name search, sorted
//! by creation, name, status or last check either way), the new-monitor form ([`form`]) and a monitor's page with its charts and actions
//! ([`detail`]). Monitors declared in a configuration file are marked "managed by <file>" and cannot be
//! deleted here, as in the API.

pub mod detail;
pub mod form;
mod history;

use askama::Template;
use axum::extract::State;
use jiff::Timestamp;
use serde::Deserialize;
use upkeep_core::catalog;
use upkeep_core::identity::Capability;
use upkeep_core::monitors::{self, HeartbeatSettings, KINDS, Schedule};
use upkeep_core::storage::{
    Monitor, MonitorFilter, MonitorSort, MonitorSortKey, MonitorStatus, PageRequest,
};

use super::error::{UiError, UiQuery, UiResult};
use super::shell::{Page, SignedIn, html, url_encode};
use super::{Choice, PAGE_SIZE, Pager};
use crate::AppState;

/// Characters of an error shown in a table cell; the whole text is in the cell's tooltip.
const ERROR_CHARS: usize = 80;

/// One line of the monitors table.
pub struct MonitorRow {
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub service: String,
    pub kind: String,
    pub status: &'static str,
    pub target: String,
    /// Last check (active kinds) or last ping (heartbeats), relative, and the exact time for its tooltip.
    pub last_seen: Option<(String, String)>,
    pub last_error: Option<(String, String)>,
    pub managed_by: Option<String>,
}

impl MonitorRow {
    /// `status` is the status shown (maintenance included), see [`monitors::effective_statuses`].
    pub fn shown(monitor: Monitor, status: MonitorStatus, now: Timestamp) -> Self {
        let mut row = Self::new(monitor, now);
        row.status = status.as_str();
        row
    }

    pub fn new(monitor: Monitor, now: Timestamp) -> Self {
        let seen = if monitor.kind == "heartbeat" {
            monitor.state.last_ping_at
        } else {
            monitor.state.last_checked_at
        };
        Self {
            id: monitor.id,
            target: target_of(&monitor),
            status: monitor.state.status.as_str(),
            last_seen: seen.map(|at| (ago(at, now), exact(at))),
            last_error: monitor
                .state
                .last_error
                .map(|error| (truncate(&error, ERROR_CHARS), truncate(&error, 1_000))),
            name: monitor.name,
            slug: monitor.slug,
            service: monitor.service_slug,
            kind: monitor.kind,
            managed_by: monitor.managed_by,
        }
    }
}

/// What a monitor watches: its URL or host, or a heartbeat's schedule.
pub fn target_of(monitor: &Monitor) -> String {
    let settings = &monitor.settings;
    let text = |key: &str| settings[key].as_str().unwrap_or_default().to_string();
    match monitor.kind.as_str() {
        "http" => text("url"),
        "tcp" | "tls" => format!("{}:{}", text("host"), settings["port"]),
        "dns" => format!("{} {}", text("record_type"), text("name")),
        "heartbeat" => serde_json::from_value::<HeartbeatSettings>(settings.clone())
            .map(|settings| schedule_text(&settings))
            .unwrap_or_default(),
        _ => text("host"),
    }
}

/// `every 1d, grace 1h` or `0 3 * * * (Europe/Berlin), grace 1h`.
pub fn schedule_text(settings: &HeartbeatSettings) -> String {
    let schedule = match &settings.schedule {
        Schedule::Period { period_ms } => format!("every {}", span(*period_ms)),
        Schedule::Cron { cron, tz } => format!("{cron} ({tz})"),
    };
    format!("{schedule}, grace {}", span(settings.grace_ms))
}

/// Milliseconds as the largest whole units: `1d`, `4h 30m`, `45s`, `250ms`.
pub fn span(ms: i64) -> String {
    if ms <= 0 {
        return "0s".to_string();
    }
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    let mut rest = ms / 1_000;
    let mut parts = Vec::new();
    for (unit, seconds) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if rest >= seconds {
            parts.push(format!("{}{unit}", rest / seconds));
            rest %= seconds;
        }
    }
    parts.truncate(2);
    parts.join(" ")
}

/// How long ago `at` was, roughly: `12s ago`, `5 min ago`, `3 h ago`, `2 d ago`.
pub fn ago(at: Timestamp, now: Timestamp) -> String {
    let seconds = (now.as_millisecond() - at.as_millisecond()) / 1_000;
    match seconds {
        ..2 => "just now".to_string(),
        2..60 => format!("{seconds}s ago"),
        60..3_600 => format!("{} min ago", seconds / 60),
        3_600..172_800 => format!("{} h ago", seconds / 3_600),
        _ => format!("{} d ago", seconds / 86_400),
    }
}

/// How long until `at`: `in 40s`, `in 5 min`, `in 23 h`, `in 2 d`.
pub fn until(at: Timestamp, now: Timestamp) -> String {
    let seconds = (at.as_millisecond() - now.as_millisecond()) / 1_000;
    match seconds {
        ..60 => format!("in {}s", seconds.max(0)),
        60..3_600 => format!("in {} min", seconds / 60),
        3_600..172_800 => format!("in {} h", seconds / 3_600),
        _ => format!("in {} d", seconds / 86_400),
    }
}

/// A time in a table of recent things: `Nov 27 19:08:29` (UTC).
pub fn short_time(at: Timestamp) -> String {
    at.strftime("%b %d %H:%M:%S").to_string()
}

/// A time to the second, in UTC.
pub fn exact(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// At most `max` characters, with `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() {
        format!("{}…", head.trim_end())
    } else {
        head
    }
}

/// `?status=&kind=&service=&q=&sort=&order=&cursor=` on the list.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MonitorQuery {
    status: String,
    kind: String,
    service: String,
    q: String,
    /// `created` (also when empty), `name`, `status` or `last_checked`.
    sort: String,
    /// `asc` (also when empty) or `desc`.
    order: String,
    cursor: Option<String>,
}

/// The orders offered, with their labels.
const SORTS: [(&str, &str); 4] = [
    ("created", "created"),
    ("name", "name"),
    ("status", "status (worst first)"),
    ("last_checked", "last check / ping"),
];

impl MonitorQuery {
    /// The list's address with these filters and order, without a cursor; `status` replaces the status
    /// filter.
    fn address(&self, status: &str) -> String {
        let pairs: Vec<String> = [
            ("status", status),
            ("kind", self.kind.as_str()),
            ("service", self.service.as_str()),
            ("q", self.q.as_str()),
            ("sort", self.sort.as_str()),
            ("order", self.order.as_str()),
        ]
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| format!("{key}={}", url_encode(value)))
        .collect();
        if pairs.is_empty() {
            "/monitors".to_string()
        } else {
            format!("/monitors?{}", pairs.join("&"))
        }
    }

    fn filtered(&self) -> bool {
        !(self.status.is_empty()
            && self.kind.is_empty()
            && self.service.is_empty()
            && self.q.is_empty())
    }

    /// The order asked for, continuing after the cursor.
    fn sort(&self) -> Result<(MonitorSort, Option<i64>), UiError> {
        let key = match self.sort.as_str() {
            "" => MonitorSortKey::Created,
            text => MonitorSortKey::parse(text)
                .ok_or_else(|| UiError::bad_request(format!("{text:?} is not a sort order")))?,
        };
        let descending = match self.order.as_str() {
            "" | "asc" => false,
            "desc" => true,
            text => {
                return Err(UiError::bad_request(format!("{text:?} is not asc or desc")));
            }
        };
        let mut sort = MonitorSort::new(key, descending);
        let cursor = match self.cursor.as_deref() {
            None | Some("") => None,
            Some(text) => Some(sort.continue_after(text).ok_or_else(|| {
                UiError::bad_request(
                    "that is not a page of this list; start again from the first page",
                )
            })?),
        };
        Ok((sort, cursor))
    }
}

/// "Sorted by name, A to Z." and the like, under the table.
fn sort_note(sort: &MonitorSort) -> &'static str {
    match (sort.key, sort.descending) {
        (MonitorSortKey::Created, false) => "Sorted by creation, oldest first.",
        (MonitorSortKey::Created, true) => "Sorted by creation, newest first.",
        (MonitorSortKey::Name, false) => "Sorted by name, A to Z.",
        (MonitorSortKey::Name, true) => "Sorted by name, Z to A.",
        (MonitorSortKey::Status, false) => "Sorted by status, worst first.",
        (MonitorSortKey::Status, true) => "Sorted by status, best first.",
        (MonitorSortKey::LastChecked, false) => {
            "Sorted by last check or ping, least recent (or never) first."
        }
        (MonitorSortKey::LastChecked, true) => "Sorted by last check or ping, most recent first.",
    }
}

/// A quick filter above the table: every status, and "all".
pub struct StatusLink {
    pub label: &'static str,
    pub status: &'static str,
    pub href: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "monitors.html")]
struct MonitorsPage {
    page: Page,
    rows: Vec<MonitorRow>,
    pager: Pager,
    statuses: Vec<StatusLink>,
    status_choices: Vec<Choice>,
    kind_choices: Vec<Choice>,
    sort_choices: Vec<Choice>,
    order_choices: Vec<Choice>,
    sort_note: &'static str,
    service: String,
    q: String,
    filtered: bool,
    warning: Option<String>,
}

/// The statuses in the order people scan them, for filters.
const STATUS_ORDER: [MonitorStatus; 6] = [
    MonitorStatus::Down,
    MonitorStatus::Degraded,
    MonitorStatus::Up,
    MonitorStatus::Pending,
    MonitorStatus::Paused,
    MonitorStatus::Maintenance,
];

fn choices_with_any(values: &[&str], current: &str) -> Vec<Choice> {
    let mut choices = Choice::list([""], current);
    choices.extend(Choice::list(values.iter().copied(), current));
    if let Some(any) = choices.first_mut() {
        any.label = "any".to_string();
    }
    choices
}

pub async fn list(
    State(state): State<AppState>,
    signed: SignedIn,
    UiQuery(mut query): UiQuery<MonitorQuery>,
) -> UiResult {
    signed.require(Capability::Read)?;
    query.q = query.q.trim().to_string();
    query.service = query.service.trim().to_string();
    let status = match query.status.as_str() {
        "" => None,
        text => Some(
            MonitorStatus::parse(text)
                .ok_or_else(|| UiError::bad_request(format!("{text:?} is not a monitor status")))?,
        ),
    };
    if !query.kind.is_empty() && !KINDS.contains(&query.kind.as_str()) {
        return Err(UiError::bad_request(format!(
            "{:?} is not a monitor kind",
            query.kind
        )));
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
    let (sort, cursor_id) = query.sort()?;
    let note = sort_note(&sort);
    let (rows, next_cursor) = if warning.is_some() {
        (Vec::new(), None)
    } else {
        let filter = MonitorFilter {
            service_id,
            status,
            kind: (!query.kind.is_empty()).then(|| query.kind.clone()),
            search: (!query.q.is_empty()).then(|| query.q.clone()),
            sort,
            maintenance: None,
        };
        let page = PageRequest::new(PAGE_SIZE, cursor_id);
        let found = monitors::list_monitors(&state.core, &filter, page).await?;
        let statuses = monitors::effective_statuses(&state.core, &found.items).await?;
        let now = state.core.now();
        let rows = found
            .items
            .into_iter()
            .map(|monitor| {
                let shown = statuses
                    .get(&monitor.id)
                    .copied()
                    .unwrap_or(monitor.state.status);
                MonitorRow::shown(monitor, shown, now)
            })
            .collect();
        (rows, found.next_cursor)
    };
    let mut statuses = vec![StatusLink {
        label: "All",
        status: "",
        href: query.address(""),
        current: status.is_none(),
    }];
    statuses.extend(STATUS_ORDER.into_iter().map(|each| StatusLink {
        label: status_label(each),
        status: each.as_str(),
        href: query.address(each.as_str()),
        current: status == Some(each),
    }));
    let status_names: Vec<&str> = STATUS_ORDER.iter().map(|each| each.as_str()).collect();
    Ok(html(&MonitorsPage {
        page: signed.page("monitors"),
        pager: Pager::new(&query.address(&query.status), cursor, next_cursor),
        rows,
        statuses,
        status_choices: choices_with_any(&status_names, &query.status),
        kind_choices: choices_with_any(&KINDS, &query.kind),
        sort_choices: SORTS
            .iter()
            .map(|(value, label)| Choice {
                value: value.to_string(),
                label: label.to_string(),
                selected: *value == query.sort || (query.sort.is_empty() && *value == "created"),
            })
            .collect(),
        order_choices: [("asc", "ascending"), ("desc", "descending")]
            .iter()
            .map(|(value, label)| Choice {
                value: value.to_string(),
                label: label.to_string(),
                selected: *value == query.order || (query.order.is_empty() && *value == "asc"),
            })
            .collect(),
        sort_note: note,
        filtered: query.filtered(),
        service: query.service,
        q: query.q,
        warning,
    }))
}

pub fn status_label(status: MonitorStatus) -> &'static str {
    match status {
        MonitorStatus::Pending => "Pending",
        MonitorStatus::Up => "Up",
        MonitorStatus::Degraded => "Degraded",
        MonitorStatus::Down => "Down",
        MonitorStatus::Paused => "Paused",
        MonitorStatus::Maintenance => "Maintenance",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_as_units() {
        assert_eq!(span(86_400_000), "1d");
        assert_eq!(span(3_600_000 * 4 + 1_800_000), "4h 30m");
        assert_eq!(span(45_000), "45s");
        assert_eq!(span(250), "250ms");
        assert_eq!(span(90_061_000), "1d 1h");
    }

    #[test]
    fn times_read_relative() {
        let now = Timestamp::from_second(1_700_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
        let before = |seconds: i64| Timestamp::from_second(1_700_000_000 - seconds).unwrap_or(now);
        assert_eq!(ago(before(12), now), "12s ago");
        assert_eq!(ago(before(300), now), "5 min ago");
        assert_eq!(ago(before(7_200), now), "2 h ago");
        assert_eq!(ago(before(3 * 86_400), now), "3 d ago");
        assert_eq!(ago(before(-5), now), "just now");
        assert_eq!(until(before(-90), now), "in 1 min");
        assert_eq!(until(before(-23 * 3_600 - 5), now), "in 23 h");
    }

    #[test]
    fn long_text_is_cut() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("connection refused", 10), "connection…");
        assert_eq!(truncate("ééé", 2), "éé…");
    }

    #[test]
    fn filters_survive_paging() {
        let query = MonitorQuery {
            status: "down".into(),
            kind: "http".into(),
            q: "a b&c".into(),
            ..MonitorQuery::default()
        };
        assert_eq!(
            query.address("down"),
            "/monitors?status=down&kind=http&q=a%20b%26c"
        );
        assert_eq!(query.address(""), "/monitors?kind=http&q=a%20b%26c");
        assert_eq!(MonitorQuery::default().address(""), "/monitors");
        let sorted = MonitorQuery {
            sort: "name".into(),
            order: "desc".into(),
            ..MonitorQuery::default()
        };
        assert_eq!(
            sorted.address("up"),
            "/monitors?status=up&sort=name&order=desc"
        );
    }

    #[test]
    fn sort_and_cursor_are_read_together() {
        let query = MonitorQuery {
            sort: "last_checked".into(),
            cursor: Some("12.l1700000000000".into()),
            ..MonitorQuery::default()
        };
        let (sort, cursor) = query.sort().unwrap_or((MonitorSort::default(), None));
        assert_eq!(sort.key, MonitorSortKey::LastChecked);
        assert_eq!(cursor, Some(12));
        let stale = MonitorQuery {
            sort: "name".into(),
            cursor: Some("12".into()),
            ..MonitorQuery::default()
        };
        assert!(stale.sort().is_err());
        let bad = MonitorQuery {
            order: "sideways".into(),
            ..MonitorQuery::default()
        };
        assert!(bad.sort().is_err());
    }
}

//! `/monitors/{id}`: a monitor's page — its state and definition, the ping URL of a heartbeat, a
//! response-time (or run-duration) chart and 24 hourly uptime bars drawn as SVG on the server, the last
//! pings, the state changes — and the pause, resume and delete buttons.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use upkeep_core::identity::Capability;
use upkeep_core::monitors::{self, HeartbeatSettings};
use upkeep_core::storage::{HeartbeatPing, Monitor, MonitorEvent, PageRequest};
use upkeep_core::{CoreError, catalog};

use super::super::error::{UiError, UiForm, UiPath, UiResult};
use super::super::shell::{CsrfForm, Page, SignedIn, html, see_other};
use super::super::svg;
use super::history::{BARS, check_charts, history, ping_charts};
use super::{
    ago, exact, schedule_text, short_time, span, status_label, target_of, truncate, until,
};
use crate::AppState;

const PING_ROWS: usize = 20;
const EVENT_ROWS: u32 = 20;

pub struct PingRow {
    pub at: String,
    pub ago: String,
    pub kind: String,
    pub exit_status: String,
    pub duration: String,
    pub method: String,
    pub remote_addr: String,
    pub body: String,
    pub body_title: String,
}

impl PingRow {
    fn new(ping: &HeartbeatPing, now: Timestamp) -> Self {
        let body = ping.body.as_deref().unwrap_or_default();
        Self {
            at: short_time(ping.at),
            ago: ago(ping.at, now),
            kind: ping.kind.clone(),
            exit_status: ping.exit_status.map(|s| s.to_string()).unwrap_or_default(),
            duration: ping
                .duration_ms
                .map(|ms| svg::duration_text(ms as f64))
                .unwrap_or_default(),
            method: ping.method.clone(),
            remote_addr: ping.remote_addr.clone().unwrap_or_default(),
            body: truncate(body.lines().next().unwrap_or_default(), 60),
            body_title: truncate(body, 500),
        }
    }
}

pub struct EventRow {
    pub at: String,
    pub ago: String,
    pub from: &'static str,
    pub to: &'static str,
    pub reason: String,
}

impl EventRow {
    fn new(event: MonitorEvent, now: Timestamp) -> Self {
        Self {
            at: short_time(event.at),
            ago: ago(event.at, now),
            from: event.from_status.as_str(),
            to: event.to_status.as_str(),
            reason: event.reason,
        }
    }
}

#[derive(Template)]
#[template(path = "monitor.html")]
struct MonitorPage {
    page: Page,
    monitor: Monitor,
    status: &'static str,
    status_label: &'static str,
    since: Option<(String, String)>,
    service_name: String,
    target: String,
    heartbeat: bool,
    /// Active checks: "every 60s, timeout 10s"; heartbeats: the schedule.
    cadence: String,
    thresholds: String,
    conditions: Vec<String>,
    last_seen: Option<(String, String)>,
    deadline: Option<(String, String)>,
    resume_at: Option<String>,
    last_duration: Option<String>,
    ping_url: Option<String>,
    slug_url: Option<String>,
    curl: Vec<(String, &'static str)>,
    chart: String,
    chart_note: String,
    bars: String,
    bars_note: String,
    pings: Vec<PingRow>,
    events: Vec<EventRow>,
}

pub async fn show(
    State(state): State<AppState>,
    signed: SignedIn,
    UiPath(id): UiPath<i64>,
) -> UiResult {
    signed.require(Capability::Read)?;
    let core = &state.core;
    let monitor = monitors::monitor(core, id).await?;
    let service = catalog::service(core, &monitor.service_slug).await.ok();
    let now = core.now();
    let since = now
        .checked_sub(SignedDuration::from_hours(BARS))
        .unwrap_or(now);
    let heartbeat = monitor.kind == "heartbeat";
    let storage = &core.storage;
    let mut pings = Vec::new();
    let [chart, chart_note, bars, bars_note] = if heartbeat {
        let (rows, loaded_from) =
            history(|page| storage.list_pings(id, page), |ping| ping.at, since).await?;
        let charts = ping_charts(&rows, now, loaded_from);
        pings = rows
            .iter()
            .take(PING_ROWS)
            .map(|ping| PingRow::new(ping, now))
            .collect();
        charts
    } else {
        let (rows, loaded_from) = history(
            |page| storage.list_results(id, page),
            |result| result.at,
            since,
        )
        .await?;
        check_charts(&rows, now, loaded_from)
    };
    let events = storage
        .list_monitor_events(id, PageRequest::new(EVENT_ROWS, None))
        .await
        .map_err(CoreError::from)?
        .items
        .into_iter()
        .map(|event| EventRow::new(event, now))
        .collect();

    let ping_url = monitors::ping_url(core, &monitor);
    let slug_url = service.as_ref().filter(|_| heartbeat).map(|service| {
        format!(
            "{}/ping/{}/{}",
            core.config.base_url(),
            service.ping_key,
            monitor.slug
        )
    });
    let curl = ping_url
        .iter()
        .flat_map(|url| {
            [
                (format!("curl -fsS -m 10 --retry 5 {url}"), "success"),
                (
                    format!("curl -fsS -m 10 --retry 5 {url}/start"),
                    "a run starts",
                ),
                (
                    format!("curl -fsS -m 10 --retry 5 {url}/fail"),
                    "a run failed",
                ),
                (
                    format!("curl -fsS -m 10 --retry 5 {url}/$?"),
                    "the exit status of the last command",
                ),
            ]
        })
        .collect();
    let settings = &monitor.settings;
    let cadence = if heartbeat {
        serde_json::from_value::<HeartbeatSettings>(settings.clone())
            .map(|settings| schedule_text(&settings))
            .unwrap_or_default()
    } else {
        let timeout = settings["timeout_ms"].as_i64().unwrap_or_default();
        format!(
            "every {}, timeout {}",
            span(monitor.interval_ms),
            span(timeout)
        )
    };
    let conditions = settings["conditions"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let noun = if heartbeat { "ping" } else { "check" };
    let plural = |count: i32| if count == 1 { "" } else { "s" };
    let thresholds = format!(
        "down after {f} failed {noun}{}, up again after {s} good one{}",
        plural(monitor.failure_threshold),
        plural(monitor.success_threshold),
        f = monitor.failure_threshold,
        s = monitor.success_threshold,
    );
    let state_ = &monitor.state;
    let seen = if heartbeat {
        state_.last_ping_at
    } else {
        state_.last_checked_at
    };
    let page = MonitorPage {
        page: signed.page("monitors"),
        status: state_.status.as_str(),
        status_label: status_label(state_.status),
        since: state_.last_change_at.map(|at| (ago(at, now), exact(at))),
        service_name: service.map(|service| service.name).unwrap_or_default(),
        target: target_of(&monitor),
        heartbeat,
        cadence,
        thresholds,
        conditions,
        last_seen: seen.map(|at| (ago(at, now), exact(at))),
        deadline: state_.deadline_at.filter(|_| heartbeat).map(|at| {
            let when = if at > now {
                until(at, now)
            } else {
                format!("passed {}", ago(at, now))
            };
            (exact(at), when)
        }),
        resume_at: monitor.resume_at.map(exact),
        last_duration: state_
            .last_duration_ms
            .map(|ms| svg::duration_text(ms as f64)),
        ping_url,
        slug_url,
        curl,
        chart,
        chart_note,
        bars,
        bars_note,
        pings,
        events,
        monitor,
    };
    Ok(html(&page))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PauseForm {
    csrf_token: String,
    /// `1h`, `4h`, `1d` or empty for "until resumed".
    #[serde(rename = "for")]
    pause_for: String,
}

pub async fn pause(
    State(state): State<AppState>,
    signed: SignedIn,
    UiPath(id): UiPath<i64>,
    UiForm(form): UiForm<PauseForm>,
) -> UiResult {
    signed.check_csrf(&form.csrf_token)?;
    signed.require(Capability::Write)?;
    let hours = match form.pause_for.as_str() {
        "" | "indefinitely" => None,
        "1h" => Some(1),
        "4h" => Some(4),
        "1d" => Some(24),
        other => {
            return Err(UiError::bad_request(format!(
                "{other:?} is not one of the pause lengths offered"
            )));
        }
    };
    let ctx = signed.audit(&state);
    let resume_at =
        hours.and_then(|hours| ctx.at.checked_add(SignedDuration::from_hours(hours)).ok());
    monitors::pause(&state.core, &ctx, id, resume_at).await?;
    Ok(see_other(&format!("/monitors/{id}")))
}

pub async fn resume(
    State(state): State<AppState>,
    signed: SignedIn,
    UiPath(id): UiPath<i64>,
    UiForm(form): UiForm<CsrfForm>,
) -> UiResult {
    signed.check_csrf(&form.csrf_token)?;
    signed.require(Capability::Write)?;
    monitors::resume(&state.core, &signed.audit(&state), id).await?;
    Ok(see_other(&format!("/monitors/{id}")))
}

pub async fn delete(
    State(state): State<AppState>,
    signed: SignedIn,
    UiPath(id): UiPath<i64>,
    UiForm(form): UiForm<CsrfForm>,
) -> UiResult {
    signed.check_csrf(&form.csrf_token)?;
    signed.require(Capability::Write)?;
    let monitor = monitors::monitor(&state.core, id).await?;
    if let Some(file) = monitor.managed_by {
        return Err(UiError::new(
            StatusCode::CONFLICT,
            format!("this monitor is managed by {file}; remove it there and run upkeep apply"),
        ));
    }
    monitors::delete_monitor(&state.core, &signed.audit(&state), id).await?;
    Ok(see_other("/monitors"))
}

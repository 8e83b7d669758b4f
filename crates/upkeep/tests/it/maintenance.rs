//! Maintenance windows on both backends: checks and pings keep being applied during a window, the state
//! changes they raise are stored with `in_maintenance`, the monitor shows `maintenance` until the window
//! ends and then its real status; recurring windows follow local weekdays in their time zone; bad windows
//! are refused naming the field; viewers cannot create them; and the CLI manages them with `--json`.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use jiff::Timestamp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use upkeep_core::monitors::{self, MonitorSpec};
use upkeep_core::storage::{AuditFilter, Monitor, MonitorEvent, MonitorStatus, PageRequest, Role};
use upkeep_core::{audit, catalog};

use crate::support::databases::{TestDb, backend_tests};
use crate::support::server::TestServer;

backend_tests!(
    a_one_off_window_suppresses_alerts_but_keeps_checking,
    a_recurring_window_follows_local_weekdays_in_berlin,
    bad_windows_are_refused_naming_the_field,
    the_cli_manages_windows,
);

async fn heartbeat(server: &TestServer, service: &str, name: &str, period: &str) -> Monitor {
    let ctx = audit::context(server.core(), audit::cli_actor(), None);
    if catalog::service(server.core(), service).await.is_err() {
        catalog::create_service(
            server.core(),
            &ctx,
            catalog::ServiceInput {
                slug: service.into(),
                ..Default::default()
            },
        )
        .await
        .expect("service");
    }
    let spec = MonitorSpec {
        name: name.into(),
        kind: "heartbeat".into(),
        period: Some(period.into()),
        grace: Some("1d".into()),
        ..MonitorSpec::default()
    };
    monitors::create_monitor(server.core(), &ctx, service, &spec, None)
        .await
        .expect("monitor")
}

async fn api(
    server: &TestServer,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = server
        .client
        .request(method, server.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn shown_status(server: &TestServer, token: &str, id: i64) -> String {
    let (status, body) = api(
        server,
        token,
        Method::GET,
        &format!("/api/v1/monitors/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["status"].as_str().unwrap_or_default().to_string()
}

async fn ping(server: &TestServer, monitor: &Monitor, suffix: &str) {
    let response = server
        .client
        .get(server.url(&format!("/ping/{}{suffix}", monitor.ping_token)))
        .send()
        .await
        .expect("ping");
    assert_eq!(response.status(), StatusCode::OK);
}

async fn latest_event(server: &TestServer, id: i64) -> MonitorEvent {
    server
        .core()
        .storage
        .list_monitor_events(id, PageRequest::new(1, None))
        .await
        .expect("events")
        .items
        .into_iter()
        .next()
        .expect("an event")
}

fn rfc3339(at: Timestamp) -> String {
    at.to_string()
}

fn plus(at: Timestamp, seconds: i64) -> Timestamp {
    at.checked_add(jiff::SignedDuration::from_secs(seconds))
        .expect("time")
}

async fn a_one_off_window_suppresses_alerts_but_keeps_checking(db: TestDb) {
    let server = TestServer::start(db).await;
    let (_, token) = server.caller("owner@example.com", Role::Owner).await;
    let job = heartbeat(&server, "db", "backup", "1d").await;
    ping(&server, &job, "").await;
    assert_eq!(shown_status(&server, &token, job.id).await, "up");

    let now = server.core().now();
    let (status, window) = api(
        &server,
        &token,
        Method::POST,
        "/api/v1/maintenance",
        Some(json!({
            "monitor": job.id,
            "title": "Database upgrade",
            "starts_at": rfc3339(now),
            "ends_at": rfc3339(plus(now, 3600)),
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{window}");
    assert_eq!(window["kind"], "one_off");
    assert_eq!(window["monitor"], job.id);
    assert_eq!(window["active"], true);
    assert!(
        window["created_by"]
            .as_str()
            .is_some_and(|by| by.starts_with("owner@example.com")),
        "{window}"
    );
    assert_eq!(shown_status(&server, &token, job.id).await, "maintenance");

    // A failure during the window is applied and recorded, flagged as raised in maintenance.
    server.clock.advance(Duration::from_secs(60));
    ping(&server, &job, "/fail").await;
    let event = latest_event(&server, job.id).await;
    assert_eq!(
        (event.from_status, event.to_status, event.in_maintenance),
        (MonitorStatus::Up, MonitorStatus::Down, true)
    );
    let stored = monitors::monitor(server.core(), job.id)
        .await
        .expect("monitor");
    assert_eq!(
        stored.state.status,
        MonitorStatus::Down,
        "the state machine keeps running"
    );
    assert_eq!(shown_status(&server, &token, job.id).await, "maintenance");
    let (_, list) = api(
        &server,
        &token,
        Method::GET,
        "/api/v1/monitors?service=db",
        None,
    )
    .await;
    assert_eq!(list["items"][0]["status"], "maintenance", "{list}");

    // After the window the real status shows.
    server.clock.advance(Duration::from_secs(2 * 3600));
    assert_eq!(shown_status(&server, &token, job.id).await, "down");
    let (_, list) = api(
        &server,
        &token,
        Method::GET,
        &format!("/api/v1/maintenance?monitor={}", job.id),
        None,
    )
    .await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list["items"][0]["active"], false);

    // Outside the window, changes are not flagged.
    ping(&server, &job, "").await;
    let event = latest_event(&server, job.id).await;
    assert_eq!(
        (event.to_status, event.in_maintenance),
        (MonitorStatus::Up, false)
    );
    ping(&server, &job, "/fail").await;
    let event = latest_event(&server, job.id).await;
    assert_eq!(
        (event.to_status, event.in_maintenance),
        (MonitorStatus::Down, false)
    );

    let id = window["id"].as_i64().expect("id");
    let (status, _) = api(
        &server,
        &token,
        Method::DELETE,
        &format!("/api/v1/maintenance/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api(
        &server,
        &token,
        Method::DELETE,
        &format!("/api/v1/maintenance/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let audit = server
        .core()
        .storage
        .list_audit(
            &AuditFilter {
                action_prefix: Some("maintenance.".into()),
                ..AuditFilter::default()
            },
            PageRequest::new(10, None),
        )
        .await
        .expect("audit");
    let actions: Vec<&str> = audit
        .items
        .iter()
        .map(|record| record.action.as_str())
        .collect();
    assert_eq!(actions, ["maintenance.delete", "maintenance.create"]);
    assert_eq!(audit.items[0].target_id, id.to_string());
    server.stop().await;
}

async fn a_recurring_window_follows_local_weekdays_in_berlin(db: TestDb) {
    let server = TestServer::start(db).await;
    let (_, token) = server.caller("owner@example.com", Role::Owner).await;
    // Monday 2030-06-03, 23:30 in Berlin (+02:00 in summer).
    let monday = "2030-06-03T23:30:00+02:00"
        .parse::<Timestamp>()
        .expect("time");
    server.clock.set(plus(monday, -3600));
    let job = heartbeat(&server, "web", "deploy", "7d").await;
    let elsewhere = heartbeat(&server, "other", "deploy", "7d").await;
    ping(&server, &job, "").await;
    ping(&server, &elsewhere, "").await;

    let (status, window) = api(
        &server,
        &token,
        Method::POST,
        "/api/v1/maintenance",
        Some(json!({
            "service": "web",
            "title": "Deploys",
            "start": "23:00",
            "duration": "1h",
            "days": ["mon", "thu"],
            "tz": "Europe/Berlin",
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{window}");
    assert_eq!(window["kind"], "recurring");
    assert_eq!(window["service"], "web");
    assert_eq!(window["days"], json!(["mon", "thu"]));
    assert_eq!(window["duration_seconds"], 3600.0);
    assert_eq!(window["active"], false, "22:30 in Berlin");
    assert_eq!(shown_status(&server, &token, job.id).await, "up");

    // Monday 23:30 local: the service's monitors are in maintenance, other services' are not.
    server.clock.set(monday);
    assert_eq!(shown_status(&server, &token, job.id).await, "maintenance");
    assert_eq!(shown_status(&server, &token, elsewhere.id).await, "up");
    ping(&server, &job, "/fail").await;
    assert!(latest_event(&server, job.id).await.in_maintenance);
    ping(&server, &elsewhere, "/fail").await;
    assert!(!latest_event(&server, elsewhere.id).await.in_maintenance);
    ping(&server, &job, "").await;

    // Tuesday 23:30 local: not a listed day.
    server.clock.set(plus(monday, 86_400));
    assert_eq!(shown_status(&server, &token, job.id).await, "up");
    ping(&server, &job, "/fail").await;
    let event = latest_event(&server, job.id).await;
    assert_eq!(
        (event.to_status, event.in_maintenance),
        (MonitorStatus::Down, false)
    );

    // Thursday 23:30 local: listed again; the monitor shows maintenance though it is down.
    server.clock.set(plus(monday, 3 * 86_400));
    assert_eq!(shown_status(&server, &token, job.id).await, "maintenance");
    let (_, list) = api(
        &server,
        &token,
        Method::GET,
        "/api/v1/maintenance?service=web",
        None,
    )
    .await;
    assert_eq!(list["items"][0]["active"], true, "{list}");
    let (_, list) = api(
        &server,
        &token,
        Method::GET,
        "/api/v1/maintenance?service=other",
        None,
    )
    .await;
    assert_eq!(list["items"], json!([]));
    // Friday 00:30 local still belongs to nothing (Thursday's occurrence ended at midnight).
    server.clock.set(plus(monday, 3 * 86_400 + 3600));
    assert_eq!(shown_status(&server, &token, job.id).await, "down");
    server.stop().await;
}

async fn bad_windows_are_refused_naming_the_field(db: TestDb) {
    let server = TestServer::start(db).await;
    let (_, token) = server.caller("owner@example.com", Role::Owner).await;
    let (_, viewer) = server.caller("viewer@example.com", Role::Viewer).await;
    let job = heartbeat(&server, "db", "backup", "1d").await;
    let now = server.core().now();
    let starts = rfc3339(plus(now, 3600));
    let recurring = |field: &str, value: Value| {
        let mut body = json!({
            "service": "db", "title": "t", "start": "23:00", "duration": "1h", "tz": "Europe/Berlin",
        });
        body[field] = value;
        body
    };
    let cases = [
        (
            json!({"service": "db", "title": "t", "starts_at": starts, "ends_at": rfc3339(now)}),
            "ends_at",
        ),
        (
            json!({"service": "db", "title": "t", "starts_at": "next week", "ends_at": starts}),
            "starts_at",
        ),
        (recurring("duration", json!("8d")), "duration"),
        (recurring("tz", json!("Mars/Olympus_Mons")), "tz"),
        (recurring("start", json!("25:00")), "start"),
        (recurring("days", json!(["mon", "funday"])), "days"),
        (recurring("title", json!("  ")), "title"),
        (recurring("service", json!("missing")), "service"),
        (recurring("monitor", json!(job.id)), "monitor"),
        (
            json!({"monitor": 999_999, "title": "t", "start": "23:00", "duration": "1h"}),
            "monitor",
        ),
        (json!({"service": "db", "title": "t"}), "starts_at"),
        (
            json!({"service": "db", "start": "23:00", "duration": "1h"}),
            "title",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = api(
            &server,
            &token,
            Method::POST,
            "/api/v1/maintenance",
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            (status, answer["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{body} -> {answer}"
        );
    }

    let good = recurring("days", json!(["sat"]));
    let (status, answer) = api(
        &server,
        &viewer,
        Method::POST,
        "/api/v1/maintenance",
        Some(good.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    let (status, listed) = api(&server, &viewer, Method::GET, "/api/v1/maintenance", None).await;
    assert_eq!(
        (status, listed["items"].clone()),
        (StatusCode::OK, json!([]))
    );
    let (status, created) = api(
        &server,
        &token,
        Method::POST,
        "/api/v1/maintenance",
        Some(good),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, _) = api(
        &server,
        &viewer,
        Method::DELETE,
        &format!("/api/v1/maintenance/{}", created["id"]),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = api(
        &server,
        &token,
        Method::GET,
        "/api/v1/maintenance?service=missing",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.stop().await;
}

const BIN: &str = env!("CARGO_BIN_EXE_upkeep");

fn upkeep(url: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .args(["--database-url", url])
        .env_remove("UPKEEP_CONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("run upkeep")
}

fn json_of(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "upkeep failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "not JSON ({err}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

async fn the_cli_manages_windows(db: TestDb) {
    let url = db.url.clone();
    json_of(&upkeep(&url, &["service", "create", "api", "--json"]));
    let monitor = json_of(&upkeep(
        &url,
        &[
            "monitor",
            "create",
            "--service",
            "api",
            "--name",
            "vacuum",
            "--kind",
            "heartbeat",
            "--period",
            "1d",
            "--json",
        ],
    ));
    let monitor_id = monitor["id"].as_i64().expect("id").to_string();

    let recurring = json_of(&upkeep(
        &url,
        &[
            "maintenance",
            "create",
            "--service",
            "api",
            "--title",
            "Nightly deploys",
            "--start",
            "23:00",
            "--duration",
            "1h",
            "--days",
            "mon,thu",
            "--tz",
            "Europe/Amsterdam",
            "--json",
        ],
    ));
    assert_eq!(recurring["kind"], "recurring");
    assert_eq!(recurring["service"], "api");
    assert_eq!(recurring["days"], json!(["mon", "thu"]));
    assert_eq!(recurring["tz"], "Europe/Amsterdam");
    assert_eq!(recurring["start"], "23:00");

    // A one-off window over the monitor, running now: the monitor shows maintenance.
    let now = Timestamp::now();
    let from = rfc3339(plus(now, -60));
    let to = rfc3339(plus(now, 3600));
    let one_off = json_of(&upkeep(
        &url,
        &[
            "maintenance",
            "create",
            "--monitor",
            &monitor_id,
            "--title",
            "Upgrade",
            "--from",
            &from,
            "--to",
            &to,
            "--json",
        ],
    ));
    assert_eq!(one_off["kind"], "one_off");
    assert_eq!(one_off["active"], true);
    let shown = json_of(&upkeep(&url, &["monitor", "show", &monitor_id, "--json"]));
    assert_eq!(shown["status"], "maintenance");
    assert_eq!(
        shown["state"]["status"], "pending",
        "the stored state is untouched"
    );
    let human = upkeep(&url, &["monitor", "list"]);
    assert!(
        String::from_utf8_lossy(&human.stdout).contains("maintenance"),
        "{}",
        String::from_utf8_lossy(&human.stdout)
    );

    let listed = json_of(&upkeep(
        &url,
        &["maintenance", "list", "--service", "api", "--json"],
    ));
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
    let human = upkeep(&url, &["maintenance", "list"]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("23:00 for 1h on mon,thu (Europe/Amsterdam)") && text.contains("Upgrade"),
        "{text}"
    );

    let refused = upkeep(
        &url,
        &[
            "maintenance",
            "create",
            "--service",
            "api",
            "--title",
            "Too long",
            "--start",
            "23:00",
            "--duration",
            "8d",
            "--json",
        ],
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("duration"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let id = one_off["id"].as_i64().expect("id").to_string();
    let deleted = json_of(&upkeep(&url, &["maintenance", "delete", &id, "--json"]));
    assert_eq!(deleted["deleted"], one_off["id"]);
    let listed = json_of(&upkeep(&url, &["maintenance", "list", "--json"]));
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    let shown = json_of(&upkeep(&url, &["monitor", "show", &monitor_id, "--json"]));
    assert_eq!(shown["status"], "pending");
    drop(db);
}

//! Incidents on both backends: grouping within the window (the clock moves, nobody sleeps), attaching a
//! dependent service's alerts to its upstream incident, monitor state changes becoming alerts exactly
//! once (and not during maintenance), the lifecycle through the API with its timeline and audit, lesser
//! roles refused, and the CLI's `incident list --json`.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use upkeep_core::incidents::monitor_alerts;
use upkeep_core::monitors::{self, MonitorSpec};
use upkeep_core::storage::{AuditFilter, IncidentStatus, PageRequest, Role};
use upkeep_core::{audit, catalog, incidents};

use crate::alert_ingest::{open_incidents, post, service_with_keys};
use crate::support::databases::{TestDb, backend_tests};
use crate::support::server::TestServer;

backend_tests!(
    alerts_of_one_service_group_within_the_window,
    a_dependent_services_alerts_join_the_upstream_incident,
    monitor_state_changes_become_alerts_exactly_once,
    the_lifecycle_through_the_api_writes_the_timeline,
    the_cli_lists_and_acknowledges_incidents,
);

fn webhook(summary: &str, dedup: &str) -> Value {
    json!({"summary": summary, "dedup_key": dedup, "severity": "error"})
}

async fn alerts_of_one_service_group_within_the_window(db: TestDb) {
    let server = TestServer::start(db).await;
    let keys = service_with_keys(&server, "api").await;
    post(&server, &keys.webhook_url, webhook("5xx rate high", "a")).await;
    server.clock.advance(Duration::from_secs(120));
    let (_, body) = post(&server, &keys.webhook_url, webhook("latency high", "b")).await;
    assert_eq!(body["outcome"], "grouped", "{body}");
    assert_eq!(open_incidents(&server).await.len(), 1);
    // Ten quiet minutes later a new alert is a new incident.
    server.clock.advance(Duration::from_secs(600));
    let (_, body) = post(&server, &keys.webhook_url, webhook("disk full", "c")).await;
    assert_eq!(body["outcome"], "opened", "{body}");
    let open = open_incidents(&server).await;
    assert_eq!(open.len(), 2);
    assert_eq!((open[1].alert_count, open[0].alert_count), (2, 1));
    server.stop().await;
}

async fn a_dependent_services_alerts_join_the_upstream_incident(db: TestDb) {
    let server = TestServer::start(db).await;
    let db_keys = service_with_keys(&server, "db").await;
    let ctx = audit::context(server.core(), audit::cli_actor(), None);
    catalog::create_service(
        server.core(),
        &ctx,
        catalog::ServiceInput {
            slug: "cache".into(),
            depends_on: vec!["db".into()],
            ..Default::default()
        },
    )
    .await
    .expect("cache");
    catalog::create_service(
        server.core(),
        &ctx,
        catalog::ServiceInput {
            slug: "web".into(),
            depends_on: vec!["cache".into()],
            ..Default::default()
        },
    )
    .await
    .expect("web");
    let web_keys = service_with_keys(&server, "web").await;
    let (_, body) = post(&server, &db_keys.webhook_url, webhook("primary down", "db")).await;
    assert_eq!(body["outcome"], "opened");
    let upstream = body["incident_id"].as_i64().expect("incident id");
    // web depends on db through cache: its alert joins db's incident instead of paging separately.
    let (_, body) = post(
        &server,
        &web_keys.webhook_url,
        webhook("checkout failing", "web"),
    )
    .await;
    assert_eq!(body["outcome"], "attached", "{body}");
    assert_eq!(body["incident_id"].as_i64(), Some(upstream));
    let open = open_incidents(&server).await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].alert_count, 2);
    let timeline = incidents::timeline(server.core(), upstream, PageRequest::default())
        .await
        .expect("timeline")
        .items;
    assert!(
        timeline
            .iter()
            .any(|entry| entry.message.contains("depends on db")),
        "{timeline:?}"
    );
    // Once db's incident is resolved, web pages on its own.
    let ctx = audit::context(server.core(), audit::cli_actor(), None);
    incidents::change(
        server.core(),
        &ctx,
        upstream,
        incidents::IncidentChange::Resolve,
    )
    .await
    .expect("resolve");
    let (_, body) = post(
        &server,
        &web_keys.webhook_url,
        webhook("checkout failing", "web"),
    )
    .await;
    assert_eq!(body["outcome"], "opened", "{body}");
    server.stop().await;
}

async fn heartbeat(server: &TestServer, service: &str) -> upkeep_core::storage::Monitor {
    let ctx = audit::context(server.core(), audit::cli_actor(), None);
    service_with_keys(server, service).await;
    let spec = MonitorSpec {
        name: "nightly-backup".into(),
        kind: "heartbeat".into(),
        period: Some("1d".into()),
        grace: Some("1h".into()),
        ..MonitorSpec::default()
    };
    monitors::create_monitor(server.core(), &ctx, service, &spec, None)
        .await
        .expect("monitor")
}

async fn ping(server: &TestServer, token: &str, suffix: &str) {
    let response = server
        .client
        .get(server.url(&format!("/ping/{token}{suffix}")))
        .send()
        .await
        .expect("ping");
    assert_eq!(response.status(), StatusCode::OK);
}

async fn monitor_state_changes_become_alerts_exactly_once(db: TestDb) {
    let server = TestServer::start(db).await;
    let job = heartbeat(&server, "backups").await;
    ping(&server, &job.ping_token, "").await;
    ping(&server, &job.ping_token, "/fail").await;
    monitor_alerts::consume(server.core())
        .await
        .expect("consume");
    let open = open_incidents(&server).await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].service_slug, "backups");
    assert!(
        open[0].title.starts_with("nightly-backup is down"),
        "{}",
        open[0].title
    );
    // Consuming again (another node, a restart) raises nothing twice.
    assert_eq!(
        monitor_alerts::consume(server.core())
            .await
            .expect("consume"),
        0
    );
    let server = server.restart().await;
    monitor_alerts::consume(server.core())
        .await
        .expect("consume");
    assert_eq!(open_incidents(&server).await[0].alert_count, 1);

    // Recovery resolves it.
    ping(&server, &job.ping_token, "").await;
    monitor_alerts::consume(server.core())
        .await
        .expect("consume");
    let incident = incidents::incident(server.core(), open[0].id)
        .await
        .expect("incident");
    assert_eq!(incident.status, IncidentStatus::Resolved);

    // A failure inside a maintenance window pages nobody.
    let ctx = audit::context(server.core(), audit::cli_actor(), None);
    let now = server.core().now();
    monitors::maintenance::create_window(
        server.core(),
        &ctx,
        &monitors::maintenance::WindowSpec {
            monitor: Some(job.id),
            title: "Storage migration".into(),
            starts_at: Some(now.to_string()),
            ends_at: Some((now + jiff::SignedDuration::from_hours(1)).to_string()),
            ..Default::default()
        },
    )
    .await
    .expect("window");
    ping(&server, &job.ping_token, "/fail").await;
    monitor_alerts::consume(server.core())
        .await
        .expect("consume");
    assert!(open_incidents(&server).await.is_empty());
    server.stop().await;
}

async fn call(
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

async fn the_lifecycle_through_the_api_writes_the_timeline(db: TestDb) {
    let server = TestServer::start(db).await;
    let keys = service_with_keys(&server, "api").await;
    let (responder, token) = server.caller("oncall@example.com", Role::Responder).await;
    let (_, viewer) = server.caller("viewer@example.com", Role::Viewer).await;
    let (_, body) = post(&server, &keys.webhook_url, webhook("5xx rate high", "a")).await;
    let id = body["incident_id"].as_i64().expect("id");

    let (status, list) = call(
        &server,
        &viewer,
        Method::GET,
        "/api/v1/incidents?status=triggered",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"][0]["id"].as_i64(), Some(id), "{list}");
    assert_eq!(list["items"][0]["service"], "api");
    let (status, _) = call(
        &server,
        &viewer,
        Method::GET,
        "/api/v1/incidents?status=asleep",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // A viewer may look but not act.
    let (status, _) = call(
        &server,
        &viewer,
        Method::POST,
        &format!("/api/v1/incidents/{id}/acknowledge"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(
        &server,
        &viewer,
        Method::GET,
        "/api/v1/services/api/integrations",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, acked) = call(
        &server,
        &token,
        Method::POST,
        &format!("/api/v1/incidents/{id}/acknowledge"),
        None,
    )
    .await;
    assert_eq!(
        (status, acked["status"].clone()),
        (StatusCode::OK, json!("acknowledged"))
    );
    let (status, again) = call(
        &server,
        &token,
        Method::POST,
        &format!("/api/v1/incidents/{id}/acknowledge"),
        None,
    )
    .await;
    assert_eq!(
        (status, again["status"].clone()),
        (StatusCode::OK, json!("acknowledged"))
    );
    let (status, body) = call(
        &server,
        &token,
        Method::POST,
        &format!("/api/v1/incidents/{id}/notes"),
        Some(json!({"text": "Rolling back v1.4.3"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(
        &server,
        &token,
        Method::POST,
        &format!("/api/v1/incidents/{id}/notes"),
        Some(json!({"text": "  "})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("text"))
    );
    let (status, body) = call(
        &server,
        &token,
        Method::PATCH,
        &format!("/api/v1/incidents/{id}"),
        Some(json!({"severity": "critical", "assignee_user_id": responder.id})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["severity"].clone(), body["assignee_user_id"].as_i64()),
        (json!("critical"), Some(responder.id))
    );
    let (status, body) = call(
        &server,
        &token,
        Method::PATCH,
        &format!("/api/v1/incidents/{id}"),
        Some(json!({"severity": "meh"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("severity"))
    );
    let (status, resolved) = call(
        &server,
        &token,
        Method::POST,
        &format!("/api/v1/incidents/{id}/resolve"),
        None,
    )
    .await;
    assert_eq!(
        (
            status,
            resolved["status"].clone(),
            resolved["open_alert_count"].clone()
        ),
        (StatusCode::OK, json!("resolved"), json!(0))
    );
    let (status, body) = call(
        &server,
        &token,
        Method::POST,
        &format!("/api/v1/incidents/{id}/acknowledge"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, reopened) = call(
        &server,
        &token,
        Method::POST,
        &format!("/api/v1/incidents/{id}/reopen"),
        None,
    )
    .await;
    assert_eq!(
        (status, reopened["status"].clone()),
        (StatusCode::OK, json!("triggered"))
    );

    let (_, timeline) = call(
        &server,
        &viewer,
        Method::GET,
        &format!("/api/v1/incidents/{id}/timeline"),
        None,
    )
    .await;
    let kinds: Vec<&str> = timeline["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|entry| entry["kind"].as_str())
        .filter(|kind| !kind.starts_with("escalation."))
        .collect();
    assert_eq!(
        kinds,
        vec![
            "incident.triggered",
            "alert.added",
            "incident.acknowledged",
            "note",
            "incident.updated",
            "incident.updated",
            "incident.resolved",
            "incident.reopened"
        ]
    );
    let note = timeline["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|entry| entry["kind"] == "note")
        .expect("the note");
    assert_eq!(note["message"], "Rolling back v1.4.3");
    assert!(
        note["actor"]
            .as_str()
            .is_some_and(|actor| actor.starts_with("oncall@example.com"))
    );
    let (_, alerts) = call(
        &server,
        &viewer,
        Method::GET,
        &format!("/api/v1/incidents/{id}/alerts"),
        None,
    )
    .await;
    assert_eq!(alerts["items"][0]["status"], "resolved");
    let (status, _) = call(
        &server,
        &viewer,
        Method::GET,
        "/api/v1/incidents/999999",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Every change is audited.
    let audited = server
        .core()
        .storage
        .list_audit(
            &AuditFilter {
                target_kind: Some("incident".into()),
                ..AuditFilter::default()
            },
            PageRequest::new(50, None),
        )
        .await
        .expect("audit")
        .items;
    let actions: Vec<&str> = audited
        .iter()
        .map(|record| record.action.as_str())
        .collect();
    assert_eq!(
        actions,
        vec![
            "incident.reopen",
            "incident.resolve",
            "incident.update",
            "incident.update",
            "incident.note",
            "incident.acknowledge"
        ]
    );

    // Rotating a key stops the old one at once.
    let old = keys.webhook_url.clone();
    let (status, rotated) = call(
        &server,
        &token,
        Method::POST,
        "/api/v1/services/api/integrations/webhook/rotate",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_ne!(rotated["webhook_url"].as_str(), Some(old.as_str()));
    assert_eq!(
        rotated["pagerduty_routing_key"].as_str(),
        Some(keys.pagerduty_routing_key.as_str())
    );
    assert_eq!(
        post(&server, &old, webhook("x", "y")).await.0,
        StatusCode::NOT_FOUND
    );
    let new_url = rotated["webhook_url"].as_str().expect("url").to_string();
    assert_eq!(
        post(&server, &new_url, webhook("x", "y")).await.0,
        StatusCode::ACCEPTED
    );
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
    serde_json::from_slice(&output.stdout).expect("JSON output")
}

async fn the_cli_lists_and_acknowledges_incidents(db: TestDb) {
    let url = db.url.clone();
    let server = TestServer::start(db).await;
    let keys = service_with_keys(&server, "api").await;
    let shown = json_of(&upkeep(&url, &["service", "show", "api", "--json"]));
    assert_eq!(
        shown["integrations"]["pagerduty_routing_key"],
        json!(keys.pagerduty_routing_key)
    );
    assert_eq!(
        shown["integrations"]["webhook_url"]
            .as_str()
            .map(|u| u.contains("/integrations/webhook/")),
        Some(true)
    );
    post(&server, &keys.webhook_url, webhook("5xx rate high", "a")).await;
    let listed = json_of(&upkeep(
        &url,
        &["incident", "list", "--service", "api", "--json"],
    ));
    let first = &listed[0];
    assert_eq!(
        (
            first["status"].clone(),
            first["severity"].clone(),
            first["service"].clone(),
            first["alert_count"].clone(),
            first["title"].clone()
        ),
        (
            json!("triggered"),
            json!("error"),
            json!("api"),
            json!(1),
            json!("5xx rate high")
        )
    );
    let id = first["id"].as_i64().expect("id").to_string();
    let acked = json_of(&upkeep(&url, &["incident", "ack", &id, "--json"]));
    assert_eq!(acked["status"], "acknowledged");
    json_of(&upkeep(
        &url,
        &["incident", "note", &id, "Looking into it", "--json"],
    ));
    let shown = json_of(&upkeep(&url, &["incident", "show", &id, "--json"]));
    let note = shown["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .find(|entry| entry["kind"] == "note")
        .expect("the note");
    assert_eq!(note["message"], "Looking into it");
    assert_eq!(
        note["actor"].as_str().map(|a| a.starts_with("cli")),
        Some(true)
    );
    let resolved = json_of(&upkeep(&url, &["incident", "resolve", &id, "--json"]));
    assert_eq!(resolved["status"], "resolved");
    let bad = upkeep(&url, &["incident", "list", "--status", "sleeping"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--status"));
    let missing = upkeep(&url, &["incident", "ack", "99999"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("incident 99999 not found"));
    server.stop().await;
}

//! Alert sources on both backends: PagerDuty Events API v2 byte for byte (answers, dedup per routing key,
//! generated dedup keys, dropped acknowledge/resolve, change events, `errors[]` naming fields, the 512 KB
//! limit), Alertmanager v4 (one alert per fingerprint, one incident per groupKey, idempotent repeats, 503
//! backpressure), Grafana v1 and the generic webhook — and nothing is stored from a refused event.

use reqwest::StatusCode;
use serde_json::{Value, json};
use upkeep_core::incidents::integrations::{self, Integrations};
use upkeep_core::storage::{IncidentFilter, IncidentStatus, PageRequest};
use upkeep_core::{audit, catalog, incidents};

use crate::support::databases::{TestDb, backend_tests};
use crate::support::server::TestServer;

backend_tests!(
    pagerduty_events_are_deduplicated_per_routing_key,
    pagerduty_refuses_bad_events_like_pagerduty_and_stores_nothing,
    pagerduty_change_events_land_on_the_service,
    alertmanager_groups_by_group_key_and_is_idempotent,
    grafana_and_the_generic_webhook_raise_alerts,
    a_noisy_key_is_limited_without_slowing_the_others,
);

pub async fn service_with_keys(server: &TestServer, slug: &str) -> Integrations {
    let ctx = audit::context(server.core(), audit::cli_actor(), None);
    let service = match catalog::service(server.core(), slug).await {
        Ok(service) => service,
        Err(_) => catalog::create_service(
            server.core(),
            &ctx,
            catalog::ServiceInput {
                slug: slug.into(),
                ..Default::default()
            },
        )
        .await
        .expect("service"),
    };
    integrations::integrations(server.core(), service.id)
        .await
        .expect("integrations")
}

pub async fn post(server: &TestServer, path_or_url: &str, body: Value) -> (StatusCode, Value) {
    let url = if path_or_url.starts_with("http") {
        path_or_url.to_string()
    } else {
        server.url(path_or_url)
    };
    let response = server
        .client
        .post(url)
        .json(&body)
        .send()
        .await
        .expect("post");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn open_incidents(server: &TestServer) -> Vec<upkeep_core::storage::Incident> {
    incidents::list(
        server.core(),
        &IncidentFilter {
            service_id: None,
            statuses: vec![IncidentStatus::Triggered, IncidentStatus::Acknowledged],
        },
        PageRequest::new(500, None),
    )
    .await
    .expect("incidents")
    .items
}

async fn all_incidents(server: &TestServer) -> Vec<upkeep_core::storage::Incident> {
    incidents::list(
        server.core(),
        &IncidentFilter::default(),
        PageRequest::new(500, None),
    )
    .await
    .expect("incidents")
    .items
}

fn trigger(key: &str, dedup: Option<&str>, summary: &str) -> Value {
    let mut event = json!({
        "routing_key": key,
        "event_action": "trigger",
        "payload": {
            "summary": summary,
            "source": "db1.example.com",
            "severity": "error",
            "timestamp": "2026-11-26T08:42:58.315+0000",
            "custom_details": {"free_space": "1%"}
        },
        "links": [{"href": "https://grafana.example.com/d/1", "text": "Dashboard"}],
    });
    if let Some(dedup) = dedup {
        event["dedup_key"] = json!(dedup);
    }
    event
}

async fn pagerduty_events_are_deduplicated_per_routing_key(db: TestDb) {
    let server = TestServer::start(db).await;
    let db_keys = service_with_keys(&server, "db").await;
    let api_keys = service_with_keys(&server, "api").await;
    let key = &db_keys.pagerduty_routing_key;
    assert_eq!(key.len(), 32);

    let (status, body) = post(
        &server,
        "/v2/enqueue",
        trigger(key, Some("disk-db1"), "Disk full"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        body,
        json!({"status": "success", "message": "Event processed", "dedup_key": "disk-db1"})
    );
    // The same key again is the same alert: counted, not a second incident.
    let (status, _) = post(
        &server,
        "/v2/enqueue",
        trigger(key, Some("disk-db1"), "Disk still full"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let open = open_incidents(&server).await;
    assert_eq!(open.len(), 1);
    let incident = &open[0];
    assert_eq!(
        (incident.alert_count, incident.service_slug.as_str()),
        (1, "db")
    );
    assert_eq!(incident.title, "Disk full");
    let alerts = incidents::alerts(server.core(), incident.id, PageRequest::default())
        .await
        .expect("alerts")
        .items;
    assert_eq!(alerts[0].event_count, 2);
    assert_eq!(alerts[0].summary, "Disk still full");
    assert_eq!(
        alerts[0].details["payload"]["custom_details"]["free_space"],
        "1%"
    );

    // Dedup is per routing key: the same dedup key on another service is another incident, and an
    // acknowledge through the other key does not touch the first.
    let other = &api_keys.pagerduty_routing_key;
    post(
        &server,
        "/v2/enqueue",
        trigger(other, Some("disk-db1"), "API disk"),
    )
    .await;
    assert_eq!(open_incidents(&server).await.len(), 2);

    // A trigger without a dedup key gets a generated one.
    let (status, body) = post(&server, "/v2/enqueue", trigger(other, None, "No key")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let generated = body["dedup_key"]
        .as_str()
        .expect("generated key")
        .to_string();
    assert_eq!(generated.len(), 32);

    // Acknowledge, then resolve, through the first key.
    let ack = json!({"routing_key": key, "dedup_key": "disk-db1", "event_action": "acknowledge"});
    let (status, body) = post(&server, "/v2/enqueue", ack).await;
    assert_eq!(
        (status, body["status"].clone()),
        (StatusCode::ACCEPTED, json!("success"))
    );
    let first = incidents::incident(server.core(), incident.id)
        .await
        .expect("incident");
    assert_eq!(first.status, IncidentStatus::Acknowledged);
    let resolve = json!({"routing_key": key, "dedup_key": "disk-db1", "event_action": "resolve"});
    assert_eq!(
        post(&server, "/v2/enqueue", resolve.clone()).await.0,
        StatusCode::ACCEPTED
    );
    let first = incidents::incident(server.core(), incident.id)
        .await
        .expect("incident");
    assert_eq!(first.status, IncidentStatus::Resolved);

    // Resolve and acknowledge for a key with no open alert are dropped, still with 202.
    let (status, body) = post(&server, "/v2/enqueue", resolve).await;
    assert_eq!(
        (status, body["dedup_key"].clone()),
        (StatusCode::ACCEPTED, json!("disk-db1"))
    );
    // After a resolve, the same dedup key opens a new incident instead of reopening.
    post(
        &server,
        "/v2/enqueue",
        trigger(key, Some("disk-db1"), "Disk full again"),
    )
    .await;
    let db_incidents: Vec<_> = all_incidents(&server)
        .await
        .into_iter()
        .filter(|i| i.service_slug == "db")
        .collect();
    assert_eq!(db_incidents.len(), 2);
    assert_eq!(db_incidents[0].status, IncidentStatus::Triggered);
    assert_eq!(db_incidents[1].status, IncidentStatus::Resolved);

    // The timeline wrote itself.
    let timeline = incidents::timeline(server.core(), incident.id, PageRequest::default())
        .await
        .expect("timeline")
        .items;
    // Escalation entries are written by a background job; this test is about the alert lifecycle.
    let kinds: Vec<&str> = timeline
        .iter()
        .map(|entry| entry.kind.as_str())
        .filter(|kind| !kind.starts_with("escalation."))
        .collect();
    assert_eq!(
        kinds,
        vec![
            "incident.triggered",
            "alert.added",
            "incident.acknowledged",
            "alert.resolved",
            "incident.resolved"
        ]
    );
    let ack = timeline
        .iter()
        .find(|entry| entry.kind == "incident.acknowledged")
        .unwrap();
    assert_eq!(ack.actor.as_deref(), Some("pagerduty"));
    server.stop().await;
}

async fn pagerduty_refuses_bad_events_like_pagerduty_and_stores_nothing(db: TestDb) {
    let server = TestServer::start(db).await;
    let keys = service_with_keys(&server, "db").await;
    let key = keys.pagerduty_routing_key.clone();

    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            json!({"event_action": "trigger", "payload": {"summary": "x", "source": "h", "severity": "info"}}),
            vec!["'routing_key' is missing or blank"],
        ),
        (
            json!({"routing_key": "abc", "event_action": "trigger", "payload": {"summary": "x", "source": "h", "severity": "info"}}),
            vec!["Length of 'routing_key' is incorrect (should be 32 characters)"],
        ),
        (
            json!({"routing_key": key, "event_action": "explode"}),
            vec![
                "'event_action' is invalid: \"explode\" (must be trigger, acknowledge or resolve)",
            ],
        ),
        (
            json!({"routing_key": key, "event_action": "trigger", "payload": {"source": "h", "severity": "loud"}}),
            vec![
                "'payload.summary' is missing or blank",
                "'payload.severity' is invalid: \"loud\" (must be critical, error, warning or info)",
            ],
        ),
        (
            json!({"routing_key": key, "event_action": "resolve"}),
            vec!["'dedup_key' is missing or blank (required to acknowledge or resolve)"],
        ),
        (
            json!({"routing_key": "0123456789abcdef0123456789abcdef", "event_action": "trigger",
                   "payload": {"summary": "x", "source": "h", "severity": "info"}}),
            vec!["Invalid routing key"],
        ),
    ];
    for (event, errors) in cases {
        let (status, body) = post(&server, "/v2/enqueue", event.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{event}");
        assert_eq!(
            body,
            json!({"status": "invalid event", "message": "Event object is invalid", "errors": errors}),
            "{event}"
        );
    }
    // Not JSON at all.
    let response = server
        .client
        .post(server.url("/v2/enqueue"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["status"], "invalid event");

    // Over 512 KB: refused with the documented 400, not stored.
    let mut big = trigger(&key, Some("big"), "Big");
    big["payload"]["custom_details"] = json!({"blob": "x".repeat(600 * 1024)});
    let (status, body) = post(&server, "/v2/enqueue", big).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["errors"][0],
        "Event object is too large (the limit is 512 KB)"
    );

    // A summary over 1,024 characters is cut, not refused.
    let long = "s".repeat(2000);
    let (status, _) = post(&server, "/v2/enqueue", trigger(&key, Some("long"), &long)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let stored = all_incidents(&server).await;
    assert_eq!(stored.len(), 1, "only the valid event was stored");
    assert_eq!(stored[0].title.chars().count(), 1024);
    server.stop().await;
}

async fn pagerduty_change_events_land_on_the_service(db: TestDb) {
    let server = TestServer::start(db).await;
    let keys = service_with_keys(&server, "api").await;
    let (_, token) = server
        .caller("viewer@example.com", upkeep_core::storage::Role::Viewer)
        .await;
    let change = json!({
        "routing_key": keys.pagerduty_routing_key,
        "payload": {
            "summary": "Deployed v1.4.3",
            "source": "ci",
            "timestamp": "2026-11-26T07:00:00Z",
            "custom_details": {"commit": "abc123"}
        },
        "links": [{"href": "https://ci.example.com/1", "text": "Build"}]
    });
    let (status, body) = post(&server, "/v2/change/enqueue", change).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "success");
    let (status, body) = post(
        &server,
        "/v2/change/enqueue",
        json!({"routing_key": keys.pagerduty_routing_key, "payload": {}}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["errors"],
        json!(["'payload.summary' is missing or blank"])
    );

    let response = server
        .client
        .get(server.url("/api/v1/services/api/changes"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("changes");
    assert_eq!(response.status(), StatusCode::OK);
    let list: Value = response.json().await.expect("json");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list["items"][0]["summary"], "Deployed v1.4.3");
    assert_eq!(list["items"][0]["happened_at"], "2026-11-26T07:00:00Z");
    assert_eq!(list["items"][0]["custom_details"]["commit"], "abc123");
    assert_eq!(list["items"][0]["links"][0]["text"], "Build");
    server.stop().await;
}

fn am_alert(name: &str, fingerprint: &str, status: &str) -> Value {
    json!({
        "status": status,
        "labels": {"alertname": name, "instance": "db1:9100", "severity": "warning"},
        "annotations": {"summary": format!("{name} on db1")},
        "startsAt": "2026-11-26T08:00:00Z",
        "endsAt": if status == "resolved" { "2026-11-26T09:00:00Z" } else { "0001-01-01T00:00:00Z" },
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": fingerprint
    })
}

fn am_message(version: &str, group_key: &str, alerts: Vec<Value>) -> Value {
    let firing = alerts.iter().any(|alert| alert["status"] == "firing");
    json!({
        "version": version,
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": if firing { "firing" } else { "resolved" },
        "receiver": "upkeep",
        "groupLabels": {"alertname": "NodeDown"},
        "commonLabels": {"instance": "db1:9100"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": alerts
    })
}

async fn alertmanager_groups_by_group_key_and_is_idempotent(db: TestDb) {
    let server = TestServer::start(db).await;
    let keys = service_with_keys(&server, "db").await;
    let url = keys.alertmanager_url.clone();
    assert!(url.contains("/integrations/alertmanager/"), "{url}");
    let group = "{}:{alertname=\"NodeDown\"}";
    let firing = am_message(
        "4",
        group,
        vec![
            am_alert("NodeDown", "a1b2c3d4e5f60718", "firing"),
            am_alert("DiskFull", "0f1e2d3c4b5a6978", "firing"),
        ],
    );
    let (status, body) = post(&server, &url, firing.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let open = open_incidents(&server).await;
    assert_eq!(open.len(), 1, "one incident per groupKey");
    assert_eq!(open[0].alert_count, 2);
    assert_eq!(open[0].group_key.as_deref(), Some(group));
    assert_eq!(open[0].title, "NodeDown: NodeDown on db1");

    // Alertmanager repeats the notification (repeat_interval, or both peers of an HA pair).
    post(&server, &url, firing).await;
    let open = open_incidents(&server).await;
    assert_eq!((open.len(), open[0].alert_count), (1, 2));

    // One alert resolves, then the other: the incident resolves with the last.
    post(
        &server,
        &url,
        am_message(
            "4",
            group,
            vec![am_alert("NodeDown", "a1b2c3d4e5f60718", "resolved")],
        ),
    )
    .await;
    let incident = incidents::incident(server.core(), open[0].id)
        .await
        .expect("incident");
    assert_eq!(
        (incident.status, incident.open_alert_count),
        (IncidentStatus::Triggered, 1)
    );
    post(
        &server,
        &url,
        am_message(
            "4",
            group,
            vec![am_alert("DiskFull", "0f1e2d3c4b5a6978", "resolved")],
        ),
    )
    .await;
    let incident = incidents::incident(server.core(), open[0].id)
        .await
        .expect("incident");
    assert_eq!(incident.status, IncidentStatus::Resolved);

    // Bad input: wrong version, unknown key.
    let (status, body) = post(&server, &url, am_message("3", group, vec![])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["field"], "version");
    let unknown = server.url("/integrations/alertmanager/0123456789abcdef0123456789abcdef");
    let (status, body) = post(&server, &unknown, am_message("4", group, vec![])).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    server.stop().await;
}

async fn grafana_and_the_generic_webhook_raise_alerts(db: TestDb) {
    let server = TestServer::start(db).await;
    let keys = service_with_keys(&server, "web").await;
    let mut grafana = am_message(
        "1",
        "{}/{}:{alertname=\"HighLatency\"}",
        vec![am_alert("HighLatency", "9f8e7d6c5b4a3921", "firing")],
    );
    grafana["orgId"] = json!(1);
    grafana["state"] = json!("alerting");
    grafana["title"] = json!("[FIRING:1] HighLatency");
    grafana["message"] = json!("p99 over 2s");
    let (status, body) = post(&server, &keys.grafana_url, grafana).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The Alertmanager format is refused on the Grafana URL (version "4" is not Grafana's).
    let (status, _) = post(&server, &keys.grafana_url, am_message("4", "g", vec![])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, body) = post(
        &server,
        &keys.webhook_url,
        json!({"summary": "Queue backlog over 10k", "severity": "warning", "dedup_key": "queue"}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "accepted");
    assert_eq!(body["dedup_key"], "queue");
    assert_eq!(body["outcome"], "grouped", "{body}");

    let (status, body) = post(&server, &keys.webhook_url, json!({"severity": "warning"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "summary");
    let (status, body) = post(
        &server,
        &keys.webhook_url,
        json!({"summary": "x", "colour": "red"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("colour"))
    );
    let (status, body) = post(
        &server,
        &keys.webhook_url,
        json!({"action": "resolve", "dedup_key": "queue"}),
    )
    .await;
    assert_eq!(
        (status, body["outcome"].clone()),
        (StatusCode::ACCEPTED, json!("resolved"))
    );

    let open = open_incidents(&server).await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].alert_count, 2);
    assert_eq!(open[0].open_alert_count, 1);
    server.stop().await;
}

async fn a_noisy_key_is_limited_without_slowing_the_others(db: TestDb) {
    let server = TestServer::start_with(db, |config| {
        config.incidents.events_burst = 20;
        config.incidents.events_per_second = 1;
    })
    .await;
    let noisy = service_with_keys(&server, "noisy").await;
    let quiet = service_with_keys(&server, "quiet").await;
    let alerts: Vec<Value> = (0..15)
        .map(|i| am_alert("Flap", &format!("{i:016x}"), "firing"))
        .collect();
    let storm = am_message("4", "storm", alerts);
    let (status, _) = post(&server, &noisy.alertmanager_url, storm.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let response = server
        .client
        .post(&noisy.alertmanager_url)
        .json(&storm)
        .send()
        .await
        .expect("post");
    // Alertmanager only retries 5xx: backpressure is 503 with Retry-After, never 429.
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    // The same service's PagerDuty key is its own bucket, and so is every other service's.
    for key in [&noisy.pagerduty_routing_key, &quiet.pagerduty_routing_key] {
        let (status, _) = post(&server, "/v2/enqueue", trigger(key, Some("q"), "Other key")).await;
        assert_eq!(status, StatusCode::ACCEPTED, "another key is not slowed");
    }
    // A PagerDuty key over its rate gets PagerDuty's 429.
    let mut last = StatusCode::ACCEPTED;
    for i in 0..25 {
        let dedup = format!("p{i}");
        last = post(
            &server,
            "/v2/enqueue",
            trigger(&quiet.pagerduty_routing_key, Some(&dedup), "Flood"),
        )
        .await
        .0;
        if last != StatusCode::ACCEPTED {
            break;
        }
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    server.stop().await;
}

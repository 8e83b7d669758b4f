//! Escalation on both backends, against a real local webhook receiver, with a movable clock: levels and
//! repeats page in order with the reason in every message; acknowledging through the signed single-use
//! link stops it; a restart in the middle neither skips nor repeats a page, and a duplicated step job
//! pages nobody; a storm of incidents for one person becomes one bundled message; `Retry-After` is
//! honoured and every attempt is on the incident.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};
use upkeep_core::incidents::escalation::steps::{self, EscalateIncident};
use upkeep_core::incidents::escalation::{self, PolicySpec};
use upkeep_core::storage::{IncidentStatus, PageRequest, Role, User};
use upkeep_core::{audit, contacts, incidents};

use crate::alert_ingest::{post, service_with_keys};
use crate::support::databases::{TestDb, backend_tests};
use crate::support::server::TestServer;

backend_tests!(
    levels_and_repeats_page_in_order_until_exhausted,
    the_link_acknowledges_once_and_stops_escalation,
    a_restart_mid_escalation_neither_skips_nor_repeats,
    a_storm_for_one_person_is_one_bundled_message,
    retry_after_is_honoured_and_attempts_are_logged,
    a_refusing_channel_is_reported_on_the_incident,
    a_schedule_level_pages_whoever_is_on_call_and_the_ack_timeout_retriggers,
);

/// A webhook receiver that records what arrives per path and can refuse the first N with 503.
#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<(String, Value)>>>,
    refuse: Arc<Mutex<u32>>,
}

async fn receive(
    State(receiver): State<Receiver>,
    Path(who): Path<String>,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    assert!(headers.contains_key("webhook-signature"), "signed");
    {
        let mut refuse = receiver.refuse.lock().unwrap();
        if *refuse > 0 {
            *refuse -= 1;
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [("retry-after", "120")],
                "busy",
            )
                .into_response();
        }
    }
    let value: Value = serde_json::from_str(&body).unwrap();
    receiver.received.lock().unwrap().push((who, value));
    StatusCode::OK.into_response()
}

impl Receiver {
    async fn start() -> (Self, String) {
        let receiver = Receiver::default();
        let app = axum::Router::new()
            .route("/hook/{who}", axum::routing::post(receive))
            .route(
                "/refuse/hook/{who}",
                axum::routing::post(|| async { (StatusCode::BAD_REQUEST, "unknown channel") }),
            )
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, base)
    }

    fn for_whom(&self, who: &str) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|(to, _)| to == who)
            .map(|(_, body)| body.clone())
            .collect()
    }

    fn total(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

/// Wait (in real time, for background workers) until `check` holds.
async fn eventually<F: FnMut() -> bool>(what: &str, mut check: F) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Give background workers a moment to do anything they (wrongly) would.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(600)).await;
}

/// Webhooks go to 127.0.0.1 here, and PostgreSQL needs a configured key for sealed contact settings.
fn adjust(config: &mut upkeep_core::config::Config) {
    config.outbound.block_private_addresses = false;
    let key = std::env::temp_dir().join("upkeep-test-secrets.key");
    if !key.exists() {
        std::fs::write(&key, "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=").unwrap();
    }
    config.secrets.key_file = Some(key.display().to_string());
}

async fn start(db: TestDb) -> TestServer {
    TestServer::start_with(db, adjust).await
}

async fn person(server: &TestServer, name: &str, base: &str) -> User {
    let (user, _) = server
        .caller(&format!("{name}@example.com"), Role::Responder)
        .await;
    let ctx = audit::context(server.core(), audit::cli_actor(), None);
    let saved = contacts::create_contact_method(
        server.core(),
        &ctx,
        None,
        user.id,
        contacts::ContactInput {
            label: format!("{name}'s hook"),
            kind: "webhook".into(),
            config: json!({ "url": format!("{base}/hook/{name}") }),
        },
    )
    .await
    .expect("contact method");
    server
        .core()
        .storage
        .set_contact_verified(&ctx, saved.method.id, true)
        .await
        .expect("verified");
    user
}

async fn policy_for(server: &TestServer, service: &str, levels: Vec<Value>, repeat: u32) {
    let ctx = audit::context(server.core(), audit::cli_actor(), None);
    let spec: PolicySpec =
        serde_json::from_value(json!({ "levels": levels, "repeat": repeat })).unwrap();
    escalation::create(
        server.core(),
        &ctx,
        &format!("{service}-policy"),
        "On-call",
        &spec,
    )
    .await
    .expect("policy");
    escalation::set_for_service(
        server.core(),
        &ctx,
        service,
        Some(&format!("{service}-policy")),
        None,
    )
    .await
    .expect("assign");
}

async fn raise(server: &TestServer, service: &str, summary: &str) -> i64 {
    let keys = service_with_keys(server, service).await;
    let (status, body) = post(server, &keys.webhook_url, json!({ "summary": summary })).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body["incident_id"].as_i64().expect("incident")
}

async fn kinds(server: &TestServer, incident: i64) -> Vec<String> {
    incidents::timeline(server.core(), incident, PageRequest::new(500, None))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|entry| entry.kind)
        .collect()
}

async fn levels_and_repeats_page_in_order_until_exhausted(db: TestDb) {
    let server = start(db).await;
    let (receiver, base) = Receiver::start().await;
    let alice = person(&server, "alice", &base).await;
    let bob = person(&server, "bob", &base).await;
    service_with_keys(&server, "api").await;
    policy_for(
        &server,
        "api",
        vec![
            json!({"delay": "5m", "targets": [{"user": alice.id}]}),
            json!({"delay": "5m", "targets": [{"user": bob.id}]}),
        ],
        1,
    )
    .await;
    let incident = raise(&server, "api", "Checkout failing").await;
    eventually("alice's first page", || {
        receiver.for_whom("alice").len() == 1
    })
    .await;
    let page = &receiver.for_whom("alice")[0];
    assert_eq!(page["data"]["incident"]["id"], incident);
    let reason = page["data"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("Service api") && reason.contains("level 1 of 2"),
        "{reason}"
    );
    assert!(
        page["data"]["incident"]["acknowledge_url"]
            .as_str()
            .is_some_and(|url| url.contains("/actions/"))
    );
    settle().await;
    assert!(
        receiver.for_whom("bob").is_empty(),
        "level 2 waits for its delay"
    );

    server.clock.advance(Duration::from_secs(300));
    eventually("bob's page", || receiver.for_whom("bob").len() == 1).await;
    server.clock.advance(Duration::from_secs(300));
    eventually("the repeat to alice", || {
        receiver.for_whom("alice").len() == 2
    })
    .await;
    let reason = receiver.for_whom("alice")[1]["data"]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("repeat 1"), "{reason}");
    server.clock.advance(Duration::from_secs(300));
    eventually("the repeat to bob", || receiver.for_whom("bob").len() == 2).await;
    server.clock.advance(Duration::from_secs(300));
    let mut exhausted = false;
    for _ in 0..200 {
        if kinds(&server, incident)
            .await
            .iter()
            .any(|kind| kind == "escalation.exhausted")
        {
            exhausted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(exhausted, "the policy ran out");
    server.clock.advance(Duration::from_secs(3600));
    settle().await;
    assert_eq!(receiver.total(), 4, "nothing after the policy ran out");
    let kinds = kinds(&server, incident).await;
    assert_eq!(
        kinds
            .iter()
            .filter(|kind| *kind == "escalation.level")
            .count(),
        4
    );
    assert_eq!(
        kinds
            .iter()
            .filter(|kind| *kind == "notification.attempt")
            .count(),
        4
    );
    server.stop().await;
}

async fn the_link_acknowledges_once_and_stops_escalation(db: TestDb) {
    let server = start(db).await;
    let (receiver, base) = Receiver::start().await;
    let alice = person(&server, "alice", &base).await;
    let bob = person(&server, "bob", &base).await;
    service_with_keys(&server, "api").await;
    policy_for(
        &server,
        "api",
        vec![
            json!({"delay": "5m", "targets": [{"user": alice.id}]}),
            json!({"delay": "5m", "targets": [{"user": bob.id}]}),
        ],
        0,
    )
    .await;
    let incident = raise(&server, "api", "Checkout failing").await;
    eventually("alice's page", || receiver.for_whom("alice").len() == 1).await;
    let link = receiver.for_whom("alice")[0]["data"]["incident"]["acknowledge_url"]
        .as_str()
        .unwrap()
        .to_string();
    // Opening the link (a mail scanner does) changes nothing.
    let shown = server.client.get(&link).send().await.unwrap();
    assert_eq!(shown.status(), StatusCode::OK);
    let current = incidents::incident(server.core(), incident).await.unwrap();
    assert_eq!(current.status, IncidentStatus::Triggered);
    let acted = server.client.post(&link).send().await.unwrap();
    assert_eq!(acted.status(), StatusCode::OK);
    let current = incidents::incident(server.core(), incident).await.unwrap();
    assert_eq!(current.status, IncidentStatus::Acknowledged);
    let again = server.client.post(&link).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT, "single use");
    let timeline = incidents::timeline(server.core(), incident, PageRequest::new(500, None))
        .await
        .unwrap()
        .items;
    let ack = timeline
        .iter()
        .find(|entry| entry.kind == "incident.acknowledged")
        .unwrap();
    assert_eq!(ack.actor.as_deref(), Some("alice@example.com (link)"));

    server.clock.advance(Duration::from_secs(900));
    settle().await;
    assert!(
        receiver.for_whom("bob").is_empty(),
        "acknowledgement stopped the escalation"
    );
    server.stop().await;
}

async fn a_restart_mid_escalation_neither_skips_nor_repeats(db: TestDb) {
    let server = start(db).await;
    let (receiver, base) = Receiver::start().await;
    let alice = person(&server, "alice", &base).await;
    let bob = person(&server, "bob", &base).await;
    service_with_keys(&server, "api").await;
    policy_for(
        &server,
        "api",
        vec![
            json!({"delay": "5m", "targets": [{"user": alice.id}]}),
            json!({"delay": "5m", "targets": [{"user": bob.id}]}),
        ],
        0,
    )
    .await;
    let incident = raise(&server, "api", "Checkout failing").await;
    eventually("alice's page", || receiver.for_whom("alice").len() == 1).await;
    // A duplicated or retried step job finds the step taken and pages nobody.
    let queued = steps::run_step(
        server.core(),
        &EscalateIncident {
            incident_id: incident,
            epoch: 0,
            step: 1,
        },
    )
    .await
    .unwrap();
    assert_eq!(queued, 0);

    let server = server.restart_with(adjust).await;
    server.clock.advance(Duration::from_secs(300));
    eventually("bob's page after the restart", || {
        receiver.for_whom("bob").len() == 1
    })
    .await;
    settle().await;
    assert_eq!(
        receiver.for_whom("alice").len(),
        1,
        "alice was not paged again"
    );
    assert_eq!(receiver.for_whom("bob").len(), 1);
    server.stop().await;
}

async fn a_storm_for_one_person_is_one_bundled_message(db: TestDb) {
    let server = start(db).await;
    let (receiver, base) = Receiver::start().await;
    let alice = person(&server, "alice", &base).await;
    let mut incidents_raised = Vec::new();
    for index in 0..6 {
        let service = format!("svc{index}");
        service_with_keys(&server, &service).await;
        policy_for(
            &server,
            &service,
            vec![json!({"delay": "30m", "targets": [{"user": alice.id}]})],
            0,
        )
        .await;
    }
    incidents_raised.push(raise(&server, "svc0", "first failure").await);
    eventually("the first page", || receiver.for_whom("alice").len() == 1).await;
    for index in 1..6 {
        incidents_raised.push(raise(&server, &format!("svc{index}"), "another failure").await);
    }
    settle().await;
    assert_eq!(
        receiver.for_whom("alice").len(),
        1,
        "the rest wait for the throttle"
    );
    server.clock.advance(Duration::from_secs(31));
    eventually("the bundle", || receiver.for_whom("alice").len() == 2).await;
    let bundle = &receiver.for_whom("alice")[1];
    assert_eq!(
        bundle["data"]["bundle"].as_array().map(Vec::len),
        Some(4),
        "{bundle}"
    );
    settle().await;
    assert_eq!(
        receiver.for_whom("alice").len(),
        2,
        "six incidents, two messages"
    );
    server.stop().await;
}

async fn retry_after_is_honoured_and_attempts_are_logged(db: TestDb) {
    let server = start(db).await;
    let (receiver, base) = Receiver::start().await;
    let alice = person(&server, "alice", &base).await;
    service_with_keys(&server, "api").await;
    policy_for(
        &server,
        "api",
        vec![json!({"delay": "30m", "targets": [{"user": alice.id}]})],
        0,
    )
    .await;
    *receiver.refuse.lock().unwrap() = 1;
    let incident = raise(&server, "api", "Checkout failing").await;
    let (_, token) = server.caller("viewer@example.com", Role::Viewer).await;
    let notifications = || async {
        let response = server
            .client
            .get(server.url(&format!("/api/v1/incidents/{incident}/notifications")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        response.json::<Value>().await.unwrap()
    };
    let mut listed = Value::Null;
    for _ in 0..200 {
        listed = notifications().await;
        if listed["items"][0]["status"] == "queued"
            && listed["items"][0]["attempts"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first = &listed["items"][0]["attempts"][0];
    assert_eq!(first["outcome"], "retry", "{listed}");
    assert!(
        first["detail"]
            .as_str()
            .unwrap()
            .contains("retrying in 120s"),
        "{listed}"
    );
    assert_eq!(listed["items"][0]["status"], "queued");
    server.clock.advance(Duration::from_secs(60));
    settle().await;
    assert_eq!(receiver.total(), 0, "not before Retry-After");
    server.clock.advance(Duration::from_secs(61));
    eventually("the retry", || receiver.total() == 1).await;
    for _ in 0..200 {
        listed = notifications().await;
        if listed["items"][0]["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(listed["items"][0]["status"], "delivered", "{listed}");
    assert_eq!(
        listed["items"][0]["attempts"].as_array().map(Vec::len),
        Some(2)
    );
    assert!(
        listed["items"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("level 1 of 1")
    );
    server.stop().await;
}

async fn a_refusing_channel_is_reported_on_the_incident(db: TestDb) {
    let server = start(db).await;
    let (receiver, base) = Receiver::start().await;
    // Alice's only contact method points at an address that refuses every message.
    let alice = person(&server, "alice", &format!("{base}/refuse")).await;
    service_with_keys(&server, "api").await;
    policy_for(
        &server,
        "api",
        vec![json!({"delay": "30m", "targets": [{"user": alice.id}]})],
        0,
    )
    .await;
    let incident = raise(&server, "api", "Checkout failing").await;
    let mut failed = None;
    for _ in 0..200 {
        let timeline = incidents::timeline(server.core(), incident, PageRequest::new(500, None))
            .await
            .unwrap()
            .items;
        failed = timeline
            .into_iter()
            .find(|entry| entry.kind == "notification.attempt");
        if failed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let failed = failed.expect("an attempt on the timeline");
    assert!(failed.message.contains("failed"), "{}", failed.message);
    assert!(failed.message.contains("400"), "{}", failed.message);
    assert_eq!(receiver.total(), 0);
    server.stop().await;
}

async fn a_schedule_level_pages_whoever_is_on_call_and_the_ack_timeout_retriggers(db: TestDb) {
    let server = start(db).await;
    let (receiver, base) = Receiver::start().await;
    let alice = person(&server, "alice", &base).await;
    let ctx = audit::context(server.core(), audit::cli_actor(), None);
    let spec = serde_json::from_value(json!({
        "time_zone": "Europe/Berlin",
        "layers": [{"name": "Daily", "rotation": {"kind": "daily", "participants": [alice.id],
            "start_date": "2026-01-01", "handoff_time": "09:00"}}]
    }))
    .unwrap();
    upkeep_core::oncall::service::create_schedule(
        server.core(),
        &ctx,
        upkeep_core::oncall::service::ScheduleInput {
            slug: "primary".into(),
            name: Some("Primary".into()),
            team: None,
            spec,
        },
    )
    .await
    .expect("schedule");
    service_with_keys(&server, "api").await;
    let spec: PolicySpec = serde_json::from_value(json!({
        "levels": [{"delay": "30m", "targets": [{"schedule": "primary"}]}],
        "ack_timeout": "30m"
    }))
    .unwrap();
    escalation::create(server.core(), &ctx, "api-policy", "On-call", &spec)
        .await
        .expect("policy");
    escalation::set_for_service(server.core(), &ctx, "api", Some("api-policy"), None)
        .await
        .expect("assign");
    let incident = raise(&server, "api", "Checkout failing").await;
    eventually("the page to whoever is on call", || {
        receiver.for_whom("alice").len() == 1
    })
    .await;
    let reason = receiver.for_whom("alice")[0]["data"]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("schedule Primary"), "{reason}");
    assert!(reason.contains("Daily"), "{reason}");

    incidents::change(
        server.core(),
        &ctx,
        incident,
        incidents::IncidentChange::Acknowledge,
    )
    .await
    .expect("ack");
    settle().await;
    server.clock.advance(Duration::from_secs(29 * 60));
    settle().await;
    assert_eq!(
        incidents::incident(server.core(), incident)
            .await
            .unwrap()
            .status,
        IncidentStatus::Acknowledged
    );
    server.clock.advance(Duration::from_secs(2 * 60));
    eventually("the page after the acknowledgement timed out", || {
        receiver.for_whom("alice").len() == 2
    })
    .await;
    assert_eq!(
        incidents::incident(server.core(), incident)
            .await
            .unwrap()
            .status,
        IncidentStatus::Triggered
    );
    assert!(
        kinds(&server, incident)
            .await
            .iter()
            .any(|kind| kind == "incident.retriggered")
    );
    server.stop().await;
}

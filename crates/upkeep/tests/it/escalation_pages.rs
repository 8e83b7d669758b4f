//! The escalation pages, driven like a browser without JavaScript on both backends: the policy list and a
//! policy's page with its levels and what keeps it from paging anyone, choosing a service's policy and
//! runbook through its form (responders only), and an incident's notifications with why each was sent
//! and its delivery attempts, delivered to a real local webhook receiver.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode as AxumStatus;
use reqwest::StatusCode;
use serde_json::{Value, json};
use upkeep_core::incidents::escalation::{self, PolicySpec};
use upkeep_core::storage::{PageRequest, Role, ServiceEscalation, User};
use upkeep_core::{audit, contacts};

use crate::alert_ingest::{post, service_with_keys};
use crate::support::databases::{TestDb, backend_tests};
use crate::support::pages::Browser;
use crate::support::server::TestServer;

backend_tests!(
    the_policy_pages_show_levels_and_flag_gaps,
    responders_set_a_services_policy_and_runbook_through_the_form,
    the_incident_page_shows_notifications_with_reasons_and_attempts,
);

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

/// Text as askama writes it into a page.
fn html(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

fn assert_shows(body: &str, expected: &[String]) {
    for expected in expected {
        assert!(body.contains(expected), "{expected} missing:\n{body}");
    }
}

/// A webhook receiver that answers 200 and records who was paged.
#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<String>>>,
}

async fn receive(State(receiver): State<Receiver>, Path(who): Path<String>) -> AxumStatus {
    receiver.received.lock().unwrap().push(who);
    AxumStatus::OK
}

impl Receiver {
    async fn start() -> (Self, String) {
        let receiver = Receiver::default();
        let app = axum::Router::new()
            .route("/hook/{who}", axum::routing::post(receive))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, base)
    }
}

/// A person who can sign in, with a verified webhook contact method at `{base}/hook/{name}`.
async fn reachable(server: &TestServer, name: &str, base: &str) -> (User, String) {
    let (user, password) = server
        .user(&format!("{name}@example.com"), Role::Responder)
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
    (user, password)
}

async fn create_policy(server: &TestServer, slug: &str, name: &str, spec: Value) {
    let ctx = audit::context(server.core(), audit::cli_actor(), None);
    let spec: PolicySpec = serde_json::from_value(spec).unwrap();
    escalation::create(server.core(), &ctx, slug, name, &spec)
        .await
        .expect("policy");
}

async fn the_policy_pages_show_levels_and_flag_gaps(db: TestDb) {
    let server = start(db).await;
    let (ana, password) = reachable(&server, "ana", "http://127.0.0.1:9").await;
    let (bob, _) = server.user("bob@example.com", Role::Viewer).await;
    create_policy(
        &server,
        "default",
        "Default <on-call>",
        json!({
            "levels": [
                {"delay": "10m", "targets": [{"user": ana.id}]},
                {"delay": "15m", "targets": [{"user": bob.id}, {"user": ana.id}], "mode": "round_robin"},
            ],
            "repeat": 2,
            "ack_timeout": "30m",
        }),
    )
    .await;
    create_policy(
        &server,
        "quiet",
        "",
        json!({"levels": [{"delay": "5m", "targets": [{"user": ana.id}]}]}),
    )
    .await;
    let mut browser = Browser::signed_in(&server, "ana@example.com", &password).await;

    let list = browser.get("/escalation").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_shows(
        &list.body,
        &[
            "<a href=\"/escalation\" aria-current=\"page\">Escalation</a>".to_string(),
            "<a href=\"/escalation/default\"><code>default</code></a>".to_string(),
            html("Default <on-call>"),
            "<td>2</td>".to_string(),
            "policy-gaps\"".to_string(),
            ">1 gap</span>".to_string(),
            "upkeep escalation create".to_string(),
        ],
    );
    let quiet_row = &list.body[list.body.find("id=\"policy-quiet\"").unwrap()..];
    let quiet_row = &quiet_row[..quiet_row.find("</tr>").unwrap()];
    assert!(
        !quiet_row.contains("gap") && quiet_row.contains("<td>1</td>"),
        "{quiet_row}"
    );

    let detail = browser.get("/escalation/default").await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.body);
    assert_shows(
        &detail.body,
        &[
            "<ol class=\"levels\">".to_string(),
            "<h3>Level 1</h3>".to_string(),
            "<h3>Level 2</h3>".to_string(),
            "<li>ana@example.com</li>".to_string(),
            "<li>bob@example.com</li>".to_string(),
            "10m for an acknowledgement, then level 2".to_string(),
            "15m for an acknowledgement, then the policy starts again from level 1".to_string(),
            "one at a time, in turn (round robin)".to_string(),
            "everyone at once".to_string(),
            "2 more times after the last level".to_string(),
            "30m <span class=\"muted\">".to_string(),
            "class=\"flash flash-error policy-gaps\" role=\"alert\"".to_string(),
            "<li>Level 2: bob@example.com has no verified contact method</li>".to_string(),
            "upkeep escalation create".to_string(),
        ],
    );
    let level_one = &detail.body[detail.body.find("id=\"level-1\"").unwrap()..];
    let level_one = &level_one[..level_one.find("</li>\n").unwrap()];
    assert!(!level_one.contains("level-gap"), "{level_one}");
    assert!(
        detail
            .body
            .contains("id=\"level-2\" class=\"card level level-gap\"")
    );
    assert!(
        !detail.body.contains("method=\"post\" action=\"/escalation"),
        "policies are not edited on the page"
    );

    let missing = browser.get("/escalation/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    server.stop().await;
}

/// The stored escalation settings of the `api` service.
async fn settings(server: &TestServer) -> ServiceEscalation {
    let service = upkeep_core::catalog::service(server.core(), "api")
        .await
        .unwrap();
    server
        .core()
        .storage
        .service_escalation(service.id)
        .await
        .unwrap()
}

async fn responders_set_a_services_policy_and_runbook_through_the_form(db: TestDb) {
    let server = start(db).await;
    let (ana, password) = reachable(&server, "ana", "http://127.0.0.1:9").await;
    let (_, viewer_password) = server.user("vera@example.com", Role::Viewer).await;
    service_with_keys(&server, "api").await;
    let level = json!({"levels": [{"delay": "5m", "targets": [{"user": ana.id}]}]});
    create_policy(&server, "default", "Default", level.clone()).await;
    create_policy(&server, "nights", "Nights", level).await;
    let mut responder = Browser::signed_in(&server, "ana@example.com", &password).await;

    let before = responder.get("/services/api").await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.body);
    assert_shows(
        &before.body,
        &[
            "none: nobody is paged for this service".to_string(),
            "action=\"/services/api/escalation\"".to_string(),
            "<option value=\"\" selected>none (nobody is paged)</option>".to_string(),
            "<option value=\"default\">Default (default)</option>".to_string(),
            "<option value=\"nights\">Nights (nights)</option>".to_string(),
        ],
    );

    let forged = responder
        .post(
            "/services/api/escalation",
            &[("csrf_token", "forged"), ("escalation_policy", "default")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(settings(&server).await.escalation_policy_slug, None);

    let saved = responder
        .submit(
            "/services/api",
            "/services/api/escalation",
            &[
                ("escalation_policy", "default"),
                (
                    "runbook_url",
                    "https://wiki.example.com/runbooks/api?x=1&y=2",
                ),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let stored = settings(&server).await;
    assert_eq!(stored.escalation_policy_slug.as_deref(), Some("default"));
    assert_eq!(
        stored.runbook_url.as_deref(),
        Some("https://wiki.example.com/runbooks/api?x=1&y=2")
    );
    let after = responder.get(saved.location.as_deref().unwrap()).await;
    assert_eq!(after.status, StatusCode::OK);
    assert_shows(
        &after.body,
        &[
            "<a href=\"/escalation/default\">default</a>".to_string(),
            "<a href=\"https://wiki.example.com/runbooks/api?x=1&#38;y=2\" rel=\"noopener noreferrer\">".to_string(),
            "<option value=\"default\" selected>".to_string(),
            "value=\"https://wiki.example.com/runbooks/api?x=1&#38;y=2\"".to_string(),
        ],
    );

    let refused = responder
        .submit(
            "/services/api",
            "/services/api/escalation",
            &[
                ("escalation_policy", "nights"),
                ("runbook_url", "javascript:alert(1)"),
            ],
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert_shows(
        &refused.body,
        &[
            "Runbook url: must be an http:// or https:// URL".to_string(),
            "value=\"javascript:alert(1)\" aria-invalid=\"true\"".to_string(),
            "<option value=\"nights\" selected>".to_string(),
        ],
    );
    assert!(!refused.body.contains("href=\"javascript:"));
    assert_eq!(
        settings(&server).await.escalation_policy_slug.as_deref(),
        Some("default"),
        "a refused form changes nothing"
    );

    let unknown = responder
        .submit(
            "/services/api",
            "/services/api/escalation",
            &[("escalation_policy", "nope"), ("runbook_url", "")],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unknown
            .body
            .contains("Escalation policy: no escalation policy")
    );

    let cleared = responder
        .submit(
            "/services/api",
            "/services/api/escalation",
            &[("escalation_policy", ""), ("runbook_url", "")],
        )
        .await;
    assert_eq!(cleared.status, StatusCode::SEE_OTHER, "{}", cleared.body);
    let stored = settings(&server).await;
    assert_eq!(stored.escalation_policy_slug, None);
    assert_eq!(stored.runbook_url, None);

    let ctx = audit::context(server.core(), audit::cli_actor(), None);
    escalation::set_for_service(
        server.core(),
        &ctx,
        "api",
        Some("nights"),
        Some("https://wiki.example.com/api".into()),
    )
    .await
    .unwrap();
    let mut viewer = Browser::signed_in(&server, "vera@example.com", &viewer_password).await;
    let shown = viewer.get("/services/api").await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_shows(
        &shown.body,
        &[
            "<a href=\"/escalation/nights\">nights</a>".to_string(),
            "<a href=\"https://wiki.example.com/api\" rel=\"noopener noreferrer\">".to_string(),
        ],
    );
    assert!(!shown.body.contains("action=\"/services/api/escalation\""));
    let token = shown.csrf_token();
    let refused = viewer
        .post(
            "/services/api/escalation",
            &[("csrf_token", token.as_str()), ("escalation_policy", "")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(
        settings(&server).await.escalation_policy_slug.as_deref(),
        Some("nights")
    );
    server.stop().await;
}

async fn the_incident_page_shows_notifications_with_reasons_and_attempts(db: TestDb) {
    let server = start(db).await;
    let (receiver, base) = Receiver::start().await;
    let (ana, password) = reachable(&server, "ana", &base).await;
    let keys = service_with_keys(&server, "api").await;
    create_policy(
        &server,
        "default",
        "Default",
        json!({"levels": [{"delay": "5m", "targets": [{"user": ana.id}]}]}),
    )
    .await;
    let ctx = audit::context(server.core(), audit::cli_actor(), None);
    escalation::set_for_service(
        server.core(),
        &ctx,
        "api",
        Some("default"),
        Some("https://wiki.example.com/api".into()),
    )
    .await
    .unwrap();
    let mut browser = Browser::signed_in(&server, "ana@example.com", &password).await;

    let (status, body) = post(
        &server,
        &keys.webhook_url,
        json!({"summary": "5xx rate high"}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["incident_id"].as_i64().expect("incident");
    let path = format!("/incidents/{id}");

    let mut page = browser.get(&path).await;
    for _ in 0..100 {
        if page.body.contains("attempt-delivered") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        page = browser.get(&path).await;
    }
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("attempt-delivered"),
        "no delivered attempt within 10 s:\n{}",
        page.body
    );
    assert_eq!(receiver.received.lock().unwrap().as_slice(), ["ana"]);

    let notifications = server
        .core()
        .storage
        .incident_notifications(id, PageRequest::new(10, None))
        .await
        .unwrap()
        .items;
    assert_eq!(notifications.len(), 1);
    let notification = &notifications[0];
    assert!(!notification.reason.is_empty());
    assert_shows(
        &page.body,
        &[
            "<section id=\"notifications\">".to_string(),
            format!("id=\"notification-{}\"", notification.id),
            "<h3>ana@example.com <span class=\"muted\">via</span> <code>webhook</code>".to_string(),
            "mstatus mstatus-up notification-delivered\">delivered</span>".to_string(),
            format!("<strong>Why:</strong> {}", html(&notification.reason)),
            "<td><code>delivered</code></td>".to_string(),
            "<strong>Runbook:</strong> <a href=\"https://wiki.example.com/api\" rel=\"noopener noreferrer\">".to_string(),
        ],
    );
    let attempts = server
        .core()
        .storage
        .notification_attempts(&[notification.id])
        .await
        .unwrap();
    assert!(!attempts.is_empty());
    for attempt in &attempts {
        assert!(
            page.body
                .contains(&format!("<td>{}</td>", html(&attempt.detail))),
            "attempt detail {} missing",
            attempt.detail
        );
    }
    server.stop().await;
}

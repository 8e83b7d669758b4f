//! The incident pages, driven like a browser without JavaScript on both backends: the list with its status
//! and service filters and pages, an incident's page with its timeline, alerts and the changes before it,
//! acknowledging, noting, resolving and reopening through the forms, what viewers may not see or do, and
//! a service's integration keys with their rotate buttons.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use upkeep_core::incidents::integrations::{self, ChangeInput, Integrations};
use upkeep_core::incidents::{self, AlertAction, AlertSignal, IncidentChange};
use upkeep_core::storage::{AlertSource, IncidentStatus, Role, Severity};
use upkeep_core::{audit, catalog, clock};

use crate::alert_ingest::{post, service_with_keys};
use crate::support::databases::{TestDb, backend_tests};
use crate::support::pages::Browser;
use crate::support::server::TestServer;

backend_tests!(
    the_list_shows_open_incidents_and_filters_them,
    the_list_shows_fifty_incidents_a_page,
    the_detail_page_shows_the_timeline_alerts_and_changes_before,
    responders_acknowledge_note_resolve_and_reopen_through_the_forms,
    viewers_see_no_buttons_and_are_refused,
    the_service_page_shows_integration_keys_to_responders_only,
    rotating_a_key_through_the_form_replaces_it,
);

/// The server without workers, so nothing but the tests changes incidents.
async fn start(db: TestDb) -> TestServer {
    TestServer::start_with(db, |config| config.roles.workers = false).await
}

fn webhook(summary: &str, dedup: &str) -> Value {
    json!({"summary": summary, "dedup_key": dedup, "severity": "error"})
}

/// Raise an alert through the service's generic webhook; returns its incident's id.
async fn raise(server: &TestServer, keys: &Integrations, summary: &str, dedup: &str) -> i64 {
    let (status, body) = post(server, &keys.webhook_url, webhook(summary, dedup)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body["incident_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no incident in {body}"))
}

/// Change an incident as the CLI would (not through the pages under test).
async fn change(server: &TestServer, id: i64, change: IncidentChange) {
    let ctx = audit::context(server.core(), audit::cli_actor(), None);
    incidents::change(server.core(), &ctx, id, change)
        .await
        .expect("change incident");
}

async fn status_of(server: &TestServer, id: i64) -> IncidentStatus {
    incidents::incident(server.core(), id)
        .await
        .expect("incident")
        .status
}

/// The rows of the incidents table on a page.
fn rows(body: &str) -> usize {
    body.matches("<tr id=\"incident-").count()
}

fn has_row(body: &str, id: i64) -> bool {
    body.contains(&format!("<tr id=\"incident-{id}\">"))
}

/// The pager's link to older incidents, unescaped (askama writes `&` as `&#38;`).
fn next_link(body: &str) -> Option<String> {
    let pager = &body[body.find("<nav class=\"pager\"")?..];
    let pager = &pager[..pager.find("</nav>")?];
    pager
        .split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|link| link.replace("&#38;", "&").replace("&amp;", "&"))
        .find(|link| link.contains("cursor="))
}

fn action_form(id: i64, action: &str) -> String {
    format!("action=\"/incidents/{id}/{action}\"")
}

async fn the_list_shows_open_incidents_and_filters_them(db: TestDb) {
    let server = start(db).await;
    let (_, password) = server.user("vera@example.com", Role::Viewer).await;
    let api = service_with_keys(&server, "api").await;
    let database = service_with_keys(&server, "db").await;
    let mut browser = Browser::signed_in(&server, "vera@example.com", &password).await;

    let empty = browser.get("/incidents").await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.body);
    assert!(empty.body.contains("No open incidents."), "{}", empty.body);
    assert!(
        empty
            .body
            .contains("<a href=\"/incidents\" aria-current=\"page\">Incidents</a>"),
        "the nav links the list and marks it current:\n{}",
        empty.body
    );

    let resolved = raise(&server, &api, "5xx rate high", "a").await;
    change(&server, resolved, IncidentChange::Resolve).await;
    server.clock.advance(Duration::from_secs(3_600));
    let triggered = raise(&server, &api, "latency <high>", "b").await;
    raise(&server, &api, "latency still high", "c").await;
    let acknowledged = raise(&server, &database, "primary down", "d").await;
    change(&server, acknowledged, IncidentChange::Acknowledge).await;

    let open = browser.get("/incidents").await;
    assert_eq!(open.status, StatusCode::OK);
    assert_eq!(rows(&open.body), 2, "{}", open.body);
    assert!(has_row(&open.body, triggered) && has_row(&open.body, acknowledged));
    assert!(!has_row(&open.body, resolved));
    for expected in [
        "mstatus mstatus-down incident-triggered\">triggered<".to_string(),
        "mstatus mstatus-degraded incident-acknowledged\">acknowledged<".to_string(),
        "badge severity-error\">error<".to_string(),
        format!("<a href=\"/incidents/{triggered}\">latency &#60;high&#62;</a>"),
        "<a href=\"/services/db\">db</a>".to_string(),
        "title=\"2 not resolved\">2</td>".to_string(),
        "just now".to_string(),
        "Newest first".to_string(),
    ] {
        assert!(
            open.body.contains(&expected),
            "{expected} missing:\n{}",
            open.body
        );
    }
    let newest = open.body.find(&format!("incident-{acknowledged}\""));
    let older = open.body.find(&format!("incident-{triggered}\""));
    assert!(newest < older, "newest first");

    let past = browser.get("/incidents?status=resolved").await;
    assert_eq!(rows(&past.body), 1);
    assert!(has_row(&past.body, resolved) && past.body.contains("incident-resolved\">resolved<"));
    assert_eq!(rows(&browser.get("/incidents?status=all").await.body), 3);
    let acked = browser.get("/incidents?status=acknowledged").await;
    assert_eq!(rows(&acked.body), 1);
    assert!(has_row(&acked.body, acknowledged));
    let of_db = browser.get("/incidents?service=db").await;
    assert_eq!(rows(&of_db.body), 1);
    assert!(has_row(&of_db.body, acknowledged));
    assert!(
        of_db
            .body
            .contains("href=\"/incidents?status=all&#38;service=db\""),
        "the status chips keep the service:\n{}",
        of_db.body
    );
    let of_api = browser.get("/incidents?service=api&status=all").await;
    assert_eq!(rows(&of_api.body), 2);
    assert!(
        browser
            .get("/incidents?service=db&status=resolved")
            .await
            .body
            .contains("No resolved incidents for db.")
    );

    let unknown = browser.get("/incidents?service=nope").await;
    assert_eq!(unknown.status, StatusCode::OK);
    assert!(unknown.body.contains("There is no service") && rows(&unknown.body) == 0);
    let sideways = browser.get("/incidents?status=sideways").await;
    assert_eq!(sideways.status, StatusCode::BAD_REQUEST);
    assert!(
        sideways
            .body
            .contains("Status: &#34;sideways&#34; is not one of open"),
        "the refused filter names its field:\n{}",
        sideways.body
    );
    assert!(sideways.body.contains("<select name=\"status\">"));
    assert_eq!(
        browser.get("/incidents?cursor=abc").await.status,
        StatusCode::BAD_REQUEST
    );
    server.stop().await;
}

async fn the_list_shows_fifty_incidents_a_page(db: TestDb) {
    let server = start(db).await;
    let (_, password) = server.user("vera@example.com", Role::Viewer).await;
    service_with_keys(&server, "api").await;
    let service = catalog::service(server.core(), "api")
        .await
        .expect("service");
    let mut ids = Vec::new();
    for n in 0..51 {
        let outcome = incidents::ingest(
            server.core(),
            AlertSignal {
                service_id: service.id,
                source: AlertSource::Webhook,
                action: AlertAction::Trigger,
                dedup_key: format!("alert-{n}"),
                summary: format!("Alert number {n}"),
                severity: Severity::Warning,
                details: Value::Null,
                group_key: None,
            },
        )
        .await
        .expect("ingest");
        ids.push(outcome.opened_incident().expect("a new incident each time"));
        // Past the grouping window, so the next alert opens an incident of its own.
        server.clock.advance(Duration::from_secs(600));
    }
    let mut browser = Browser::signed_in(&server, "vera@example.com", &password).await;
    let first = browser.get("/incidents?service=api").await;
    assert_eq!(rows(&first.body), 50, "{}", first.body);
    assert!(has_row(&first.body, ids[50]) && !has_row(&first.body, ids[0]));
    let next = next_link(&first.body).expect("a link to older incidents");
    assert!(next.starts_with("/incidents?service=api&cursor="), "{next}");
    let second = browser.get(&next).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(rows(&second.body), 1);
    assert!(has_row(&second.body, ids[0]));
    assert!(next_link(&second.body).is_none());
    assert!(second.body.contains(">First page</a>"));
    server.stop().await;
}

async fn the_detail_page_shows_the_timeline_alerts_and_changes_before(db: TestDb) {
    let server = start(db).await;
    let (_, password) = server.user("vera@example.com", Role::Viewer).await;
    let keys = service_with_keys(&server, "api").await;
    let service = catalog::service(server.core(), "api")
        .await
        .expect("service");
    let change_at = |summary: &str, ago_secs: u64, links: Value| {
        let happened_at = clock::sub(server.core().now(), Duration::from_secs(ago_secs));
        ChangeInput {
            summary: summary.into(),
            source: Some("ci".into()),
            happened_at: Some(happened_at),
            links,
            custom_details: json!({}),
        }
    };
    for input in [
        change_at("Deployed v1.4.2", 2 * 3_600, json!([])),
        change_at(
            "Deployed v1.4.3 <canary>",
            20 * 60,
            json!([
                {"href": "https://ci.example.com/builds/1", "text": "Build 1"},
                {"href": "javascript:alert(1)", "text": "Sneaky"}
            ]),
        ),
    ] {
        integrations::record_change(server.core(), service.id, input)
            .await
            .expect("change");
    }
    let id = raise(&server, &keys, "5xx rate high", "a").await;
    raise(&server, &keys, "5xx rate high", "a").await;
    server.clock.advance(Duration::from_secs(60));
    raise(&server, &keys, "latency high", "b").await;
    server.clock.advance(Duration::from_secs(60));
    integrations::record_change(
        server.core(),
        service.id,
        change_at("Rolled back to v1.4.2", 0, json!([])),
    )
    .await
    .expect("change");

    let mut browser = Browser::signed_in(&server, "vera@example.com", &password).await;
    let detail = browser.get(&format!("/incidents/{id}")).await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.body);
    for expected in [
        "mstatus mstatus-down mstatus-large incident-triggered\">triggered<",
        "5xx rate high",
        "<a href=\"/services/api\">api</a>",
        "<span class=\"muted\">nobody</span>",
        "<dt>Acknowledged</dt>",
        // The timeline, oldest first, every entry with its time, kind, actor and message.
        "<code>incident.triggered</code></td>\n    <td>webhook</td>\n    <td>Triggered by an alert from webhook</td>",
        "<code>alert.added</code></td>\n    <td>webhook</td>\n    <td>Alert from webhook: 5xx rate high</td>",
        "Alert from webhook: latency high",
        // The alerts, with the duplicate counted.
        "<td><code>a</code></td>",
        "<td><code>b</code></td>",
        "<td class=\"event-count\">2</td>",
        "<td class=\"event-count\">1</td>",
        // Changes in the hour before it opened, and only those.
        "Changes before this incident",
        "Deployed v1.4.3 &#60;canary&#62;",
        "20m before",
        "<a href=\"https://ci.example.com/builds/1\" rel=\"noopener noreferrer\">Build 1</a>",
    ] {
        assert!(
            detail.body.contains(expected),
            "{expected} missing:\n{}",
            detail.body
        );
    }
    assert!(
        detail.body.find("incident.triggered") < detail.body.find("latency high"),
        "the timeline reads oldest first"
    );
    for absent in [
        "Deployed v1.4.2",
        "Rolled back",
        "javascript:",
        "Sneaky",
        "Add a note",
    ] {
        assert!(
            !detail.body.contains(absent),
            "{absent} shown:\n{}",
            detail.body
        );
    }

    let quiet = raise(
        &server,
        &service_with_keys(&server, "db").await,
        "disk full",
        "d",
    )
    .await;
    let quiet_page = browser.get(&format!("/incidents/{quiet}")).await;
    assert!(
        quiet_page
            .body
            .contains("No changes were recorded on db in the hour before this incident opened."),
        "{}",
        quiet_page.body
    );
    assert_eq!(
        browser.get("/incidents/999999").await.status,
        StatusCode::NOT_FOUND
    );
    let not_a_number = browser.get("/incidents/abc").await;
    assert_eq!(not_a_number.status, StatusCode::NOT_FOUND);
    assert!(
        not_a_number.body.contains("vera@example.com"),
        "the error page keeps the nav"
    );
    assert_eq!(
        browser
            .get(&format!("/incidents/{id}?timeline=x"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    server.stop().await;
}

async fn responders_acknowledge_note_resolve_and_reopen_through_the_forms(db: TestDb) {
    let server = start(db).await;
    let (_, password) = server.user("rita@example.com", Role::Responder).await;
    let keys = service_with_keys(&server, "api").await;
    let id = raise(&server, &keys, "5xx rate high", "a").await;
    let page = format!("/incidents/{id}");
    let mut browser = Browser::signed_in(&server, "rita@example.com", &password).await;

    let detail = browser.get(&page).await;
    for action in ["acknowledge", "resolve", "notes"] {
        assert!(
            detail.body.contains(&action_form(id, action)),
            "{action} form missing:\n{}",
            detail.body
        );
    }
    assert!(!detail.body.contains(&action_form(id, "reopen")));

    let no_token = browser
        .post(&format!("{page}/acknowledge"), &[("csrf_token", "forged")])
        .await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    assert_eq!(status_of(&server, id).await, IncidentStatus::Triggered);

    let acked = browser
        .submit(&page, &format!("{page}/acknowledge"), &[])
        .await;
    assert_eq!(acked.status, StatusCode::SEE_OTHER, "{}", acked.body);
    assert_eq!(acked.location.as_deref(), Some(page.as_str()));
    assert_eq!(status_of(&server, id).await, IncidentStatus::Acknowledged);
    let detail = browser.get(&page).await;
    assert!(
        detail
            .body
            .contains("incident-acknowledged\">acknowledged<")
            && detail.body.contains(
                "<code>incident.acknowledged</code></td>\n    <td>rita@example.com</td>\n    <td>Acknowledged by rita@example.com</td>"
            ),
        "{}",
        detail.body
    );
    assert!(!detail.body.contains(&action_form(id, "acknowledge")));
    assert!(detail.body.contains(&action_form(id, "resolve")));

    let empty = browser
        .submit(&page, &format!("{page}/notes"), &[("note", "   ")])
        .await;
    assert_eq!(
        empty.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        empty.body
    );
    assert!(
        empty.body.contains("Note: a note needs some text")
            && empty.body.contains("aria-invalid=\"true\""),
        "the refused note names its field:\n{}",
        empty.body
    );
    let long = "x".repeat(10_001);
    let too_long = browser
        .submit(&page, &format!("{page}/notes"), &[("note", &long)])
        .await;
    assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        too_long.body.contains("Note: a note holds at most") && too_long.body.contains(&long),
        "the note is kept for another try"
    );
    let noted = browser
        .submit(
            &page,
            &format!("{page}/notes"),
            &[("note", "Rolled back <b>v1.4.3</b>\nerrors dropping")],
        )
        .await;
    assert_eq!(noted.status, StatusCode::SEE_OTHER, "{}", noted.body);
    assert_eq!(
        noted.location.as_deref(),
        Some(format!("{page}#timeline").as_str())
    );
    let detail = browser.get(&page).await;
    assert!(
        detail.body.contains(
            "<code>note</code></td>\n    <td>rita@example.com</td>\n    <td class=\"description\">Rolled back &#60;b&#62;v1.4.3&#60;/b&#62;\nerrors dropping</td>"
        ),
        "the note is on the timeline, escaped:\n{}",
        detail.body
    );

    let resolved = browser.submit(&page, &format!("{page}/resolve"), &[]).await;
    assert_eq!(resolved.status, StatusCode::SEE_OTHER, "{}", resolved.body);
    assert_eq!(status_of(&server, id).await, IncidentStatus::Resolved);
    let detail = browser.get(&page).await;
    assert!(detail.body.contains("incident-resolved\">resolved<"));
    assert!(detail.body.contains("Resolved by rita@example.com"));
    assert!(detail.body.contains(&action_form(id, "reopen")));
    assert!(!detail.body.contains(&action_form(id, "resolve")));
    assert!(!detail.body.contains(&action_form(id, "acknowledge")));
    assert!(
        detail.body.contains("<td><code>a</code></td>")
            && detail
                .body
                .contains("incident-resolved\">resolved</span></td>"),
        "resolving resolves the alerts"
    );

    // A stale page's Acknowledge button on a resolved incident: refused with the reason, on the page.
    let stale = browser
        .submit(&page, &format!("{page}/acknowledge"), &[])
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    assert!(
        stale.body.contains("reopen it before acknowledging")
            && stale.body.contains("flash flash-error"),
        "{}",
        stale.body
    );

    let reopened = browser.submit(&page, &format!("{page}/reopen"), &[]).await;
    assert_eq!(reopened.status, StatusCode::SEE_OTHER);
    assert_eq!(status_of(&server, id).await, IncidentStatus::Triggered);
    let detail = browser.get(&page).await;
    assert!(detail.body.contains("Reopened by rita@example.com"));
    assert!(detail.body.contains(&action_form(id, "acknowledge")));

    let missing = browser
        .submit(&page, "/incidents/999999/acknowledge", &[])
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    server.stop().await;
}

async fn viewers_see_no_buttons_and_are_refused(db: TestDb) {
    let server = start(db).await;
    let (_, password) = server.user("vera@example.com", Role::Viewer).await;
    let keys = service_with_keys(&server, "api").await;
    let id = raise(&server, &keys, "5xx rate high", "a").await;
    let page = format!("/incidents/{id}");
    let mut viewer = Browser::signed_in(&server, "vera@example.com", &password).await;

    let detail = viewer.get(&page).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(detail.body.contains("5xx rate high") && detail.body.contains("alert.added"));
    for action in ["acknowledge", "resolve", "reopen", "notes"] {
        assert!(
            !detail.body.contains(&action_form(id, action)),
            "a viewer sees the {action} form:\n{}",
            detail.body
        );
    }
    assert!(!detail.body.contains("<textarea"));

    for (action, fields) in [
        ("acknowledge", vec![]),
        ("resolve", vec![]),
        ("reopen", vec![]),
        ("notes", vec![("note", "sneaky")]),
    ] {
        let refused = viewer
            .submit(&page, &format!("{page}/{action}"), &fields)
            .await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{action}: {}",
            refused.body
        );
    }
    assert_eq!(status_of(&server, id).await, IncidentStatus::Triggered);
    let timeline = incidents::timeline(server.core(), id, Default::default())
        .await
        .expect("timeline");
    assert!(
        timeline.items.iter().all(|entry| entry.kind != "note"),
        "no note was added"
    );
    server.stop().await;
}

async fn the_service_page_shows_integration_keys_to_responders_only(db: TestDb) {
    let server = start(db).await;
    let (_, responder_password) = server.user("rita@example.com", Role::Responder).await;
    let (_, viewer_password) = server.user("vera@example.com", Role::Viewer).await;
    let keys = service_with_keys(&server, "api").await;
    let open = raise(&server, &keys, "5xx rate high", "a").await;
    server.clock.advance(Duration::from_secs(3_600));
    let closed = raise(&server, &keys, "disk full", "b").await;
    change(&server, closed, IncidentChange::Resolve).await;

    let mut responder = Browser::signed_in(&server, "rita@example.com", &responder_password).await;
    let shown = responder.get("/services/api").await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    for expected in [
        "<section class=\"card integrations\" id=\"integrations\">".to_string(),
        format!("<code>{}</code>", keys.pagerduty_routing_key),
        format!("<code>{}</code>", keys.pagerduty_events_url),
        format!("<code>{}</code>", keys.alertmanager_url),
        format!("<code>{}</code>", keys.grafana_url),
        format!("<code>{}</code>", keys.webhook_url),
    ] {
        assert!(
            shown.body.contains(&expected),
            "{expected} missing:\n{}",
            shown.body
        );
    }
    for kind in ["pagerduty", "alertmanager", "grafana", "webhook"] {
        assert!(
            shown.body.contains(&format!(
                "action=\"/services/api/integrations/{kind}/rotate\""
            )),
            "no rotate button for {kind}"
        );
    }
    assert!(has_row(&shown.body, open) && !has_row(&shown.body, closed));
    assert!(
        shown
            .body
            .contains("href=\"/incidents?service=api&#38;status=all\"")
    );

    let mut viewer = Browser::signed_in(&server, "vera@example.com", &viewer_password).await;
    let hidden = viewer.get("/services/api").await;
    assert_eq!(hidden.status, StatusCode::OK);
    assert!(has_row(&hidden.body, open), "viewers see open incidents");
    for secret in [
        "id=\"integrations\"",
        "/rotate",
        keys.pagerduty_routing_key.as_str(),
        keys.alertmanager_url.as_str(),
        keys.grafana_url.as_str(),
        keys.webhook_url.as_str(),
    ] {
        assert!(
            !hidden.body.contains(secret),
            "a viewer sees {secret}:\n{}",
            hidden.body
        );
    }
    let refused = viewer
        .submit(
            "/services/api",
            "/services/api/integrations/webhook/rotate",
            &[],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(service_with_keys(&server, "api").await, keys);
    server.stop().await;
}

async fn rotating_a_key_through_the_form_replaces_it(db: TestDb) {
    let server = start(db).await;
    let (_, password) = server.user("rita@example.com", Role::Responder).await;
    let before = service_with_keys(&server, "api").await;
    let mut browser = Browser::signed_in(&server, "rita@example.com", &password).await;

    let forged = browser
        .post(
            "/services/api/integrations/webhook/rotate",
            &[("csrf_token", "forged")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(service_with_keys(&server, "api").await, before);

    let rotated = browser
        .submit(
            "/services/api",
            "/services/api/integrations/webhook/rotate",
            &[],
        )
        .await;
    assert_eq!(rotated.status, StatusCode::SEE_OTHER, "{}", rotated.body);
    assert_eq!(
        rotated.location.as_deref(),
        Some("/services/api?rotated=webhook#integrations")
    );
    let after = service_with_keys(&server, "api").await;
    assert_ne!(after.webhook_url, before.webhook_url);
    assert_eq!(
        after.pagerduty_routing_key, before.pagerduty_routing_key,
        "only the rotated key changes"
    );
    let page = browser.get("/services/api?rotated=webhook").await;
    assert!(
        page.body.contains("The webhook URL was rotated")
            && page
                .body
                .contains(&format!("<code>{}</code>", after.webhook_url))
            && !page.body.contains(&before.webhook_url),
        "{}",
        page.body
    );
    let (status, _) = post(&server, &before.webhook_url, webhook("x", "y")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the old URL stops working");
    raise(&server, &after, "x", "y").await;

    let pagerduty = browser
        .submit(
            "/services/api",
            "/services/api/integrations/pagerduty/rotate",
            &[],
        )
        .await;
    assert_eq!(pagerduty.status, StatusCode::SEE_OTHER);
    let last = service_with_keys(&server, "api").await;
    assert_ne!(last.pagerduty_routing_key, before.pagerduty_routing_key);
    assert_eq!(last.webhook_url, after.webhook_url);

    assert_eq!(
        browser
            .submit(
                "/services/api",
                "/services/api/integrations/sms/rotate",
                &[]
            )
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        browser
            .submit(
                "/services/api",
                "/services/nope/integrations/webhook/rotate",
                &[]
            )
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // An unknown `rotated` says nothing.
    let plain = browser.get("/services/api?rotated=%3Cscript%3E").await;
    assert_eq!(plain.status, StatusCode::OK);
    assert!(!plain.body.contains("was rotated"));
    server.stop().await;
}

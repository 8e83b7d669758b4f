//! The monitor pages, driven like a browser without JavaScript on both backends: creating monitors through
//! the form, the filtered and paginated list, a heartbeat's ping URL and pings table, pause and resume,
//! the server-rendered charts, escaping, and what viewers may not do. Sorting is in [`sorting`].

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use upkeep_core::monitors::{self, CheckOutcome, MonitorSpec};
use upkeep_core::storage::{Monitor, MonitorStatus, PageRequest, Role};
use upkeep_core::{audit, catalog};

use crate::support::databases::{TestDb, backend_tests};
use crate::support::pages::{Answer, Browser};
use crate::support::server::TestServer;

mod sorting;

backend_tests!(
    writers_create_monitors_through_the_form_and_ping_them,
    viewers_see_monitors_but_cannot_change_them,
    pause_resume_and_delete_through_the_forms,
    the_detail_page_charts_results_as_svg,
    monitor_names_are_escaped_everywhere,
    the_list_shows_fifty_monitors_a_page,
);

/// The server without workers, so no active check runs by itself: results come from the tests.
async fn start(db: TestDb) -> TestServer {
    TestServer::start_with(db, |config| config.roles.workers = false).await
}

async fn service(server: &TestServer, slug: &str) {
    let ctx = audit::context(server.core(), audit::cli_actor(), None);
    catalog::create_service(
        server.core(),
        &ctx,
        catalog::ServiceInput {
            slug: slug.into(),
            ..Default::default()
        },
    )
    .await
    .expect("service");
}

async fn monitor(
    server: &TestServer,
    service: &str,
    spec: MonitorSpec,
    managed_by: Option<&str>,
) -> Monitor {
    let ctx = audit::context(server.core(), audit::cli_actor(), None);
    monitors::create_monitor(
        server.core(),
        &ctx,
        service,
        &spec,
        managed_by.map(str::to_string),
    )
    .await
    .expect("monitor")
}

fn http_spec(name: &str) -> MonitorSpec {
    MonitorSpec {
        name: name.into(),
        kind: "http".into(),
        // Nothing listens on the discard port (and no checks run in these tests).
        url: Some("http://127.0.0.1:9/health".into()),
        interval: Some("1h".into()),
        ..MonitorSpec::default()
    }
}

async fn status(server: &TestServer, id: i64) -> MonitorStatus {
    monitors::monitor(server.core(), id)
        .await
        .expect("monitor")
        .state
        .status
}

/// `/monitors/<id>` from a 303's `Location`.
fn created_id(answer: &Answer) -> i64 {
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let location = answer.location.as_deref().expect("a Location");
    location
        .strip_prefix("/monitors/")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("not a monitor page: {location}"))
}

/// The rows of the monitors table on a page.
fn rows(body: &str) -> usize {
    body.matches("<tr id=\"monitor-").count()
}

/// The pager's next-page link, unescaped (askama writes `&` as `&#38;`).
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

fn escaped(body: &str, raw: &str) -> bool {
    let lt = raw.replace('<', "&lt;").replace('>', "&gt;");
    let numeric = raw.replace('<', "&#60;").replace('>', "&#62;");
    !body.contains(raw) && (body.contains(&lt) || body.contains(&numeric))
}

async fn writers_create_monitors_through_the_form_and_ping_them(db: TestDb) {
    let server = start(db).await;
    let (_, password) = server.user("rita@example.com", Role::Responder).await;
    service(&server, "api").await;
    let mut browser = Browser::signed_in(&server, "rita@example.com", &password).await;

    let list = browser.get("/monitors").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(list.body.contains("No monitors yet") && list.body.contains("href=\"/monitors/new\""));
    let form = browser.get("/monitors/new?service=api").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(
        form.body.contains("<option value=\"api\" selected>"),
        "{}",
        form.body
    );
    let service_page = browser.get("/services/api").await;
    assert!(service_page.body.contains("href=\"/monitors?service=api\""));

    let http = browser
        .submit(
            "/monitors/new",
            "/monitors",
            &[
                ("service", "api"),
                ("name", "API health"),
                ("kind", "http"),
                ("url", "http://127.0.0.1:9/health"),
                ("interval", "30s"),
                ("conditions", "[STATUS] == 200\r\n[RESPONSE_TIME] < 300\r\n"),
            ],
        )
        .await;
    let http_id = created_id(&http);
    let created = monitors::monitor(server.core(), http_id)
        .await
        .expect("http");
    assert_eq!(
        (created.kind.as_str(), created.interval_ms),
        ("http", 30_000)
    );
    assert_eq!(
        created.settings["conditions"],
        json!(["[STATUS] == 200", "[RESPONSE_TIME] < 300"])
    );
    let heartbeat = browser
        .submit(
            "/monitors/new",
            "/monitors",
            &[
                ("service", "api"),
                ("name", "Nightly backup"),
                ("kind", "heartbeat"),
                ("url", ""),
                ("period", "1d"),
                ("cron", ""),
                ("tz", "UTC"),
                ("grace", "2h"),
            ],
        )
        .await;
    let heartbeat_id = created_id(&heartbeat);

    let list = browser.get("/monitors").await;
    assert_eq!(rows(&list.body), 2, "{}", list.body);
    for expected in [
        "API health",
        "Nightly backup",
        "mstatus mstatus-pending\">pending<",
        "http://127.0.0.1:9/health",
        "every 1d, grace 2h",
        "Sorted by creation",
    ] {
        assert!(
            list.body.contains(expected),
            "{expected} missing:\n{}",
            list.body
        );
    }
    let filtered = browser.get("/monitors?status=pending&kind=heartbeat").await;
    assert_eq!(filtered.status, StatusCode::OK);
    assert_eq!(rows(&filtered.body), 1);
    assert!(filtered.body.contains("Nightly backup") && !filtered.body.contains("API health"));
    let searched = browser.get("/monitors?q=HEALTH&service=api").await;
    assert!(searched.body.contains("API health") && !searched.body.contains("Nightly backup"));
    assert_eq!(rows(&browser.get("/monitors?status=down").await.body), 0);
    let unknown = browser.get("/monitors?service=nope").await;
    assert!(unknown.body.contains("There is no service") && rows(&unknown.body) == 0);
    assert_eq!(
        browser.get("/monitors?status=sideways").await.status,
        StatusCode::BAD_REQUEST
    );

    let detail = browser.get(&format!("/monitors/{heartbeat_id}")).await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.body);
    let token = monitors::monitor(server.core(), heartbeat_id)
        .await
        .expect("heartbeat")
        .ping_token;
    let ping_url = server.url(&format!("/ping/{token}"));
    for expected in [
        format!("<code class=\"copy\">{ping_url}</code>"),
        format!("curl -fsS -m 10 --retry 5 {ping_url}/start"),
        format!("curl -fsS -m 10 --retry 5 {ping_url}/$?"),
        "No pings yet".to_string(),
    ] {
        assert!(
            detail.body.contains(&expected),
            "{expected} missing:\n{}",
            detail.body
        );
    }

    let ping = server.client.get(&ping_url).send().await.expect("ping");
    assert_eq!(ping.status(), StatusCode::OK);
    let detail = browser.get(&format!("/monitors/{heartbeat_id}")).await;
    assert!(
        detail
            .body
            .contains("mstatus mstatus-up mstatus-large\">up<"),
        "{}",
        detail.body
    );
    assert!(detail.body.contains("<table class=\"pings\">"));
    assert!(detail.body.contains("ping-success\">success<") && detail.body.contains("127.0.0.1"));
    assert!(
        detail
            .body
            .contains("pending</span> → <span class=\"mstatus mstatus-up\">up")
    );
    assert_eq!(status(&server, heartbeat_id).await, MonitorStatus::Up);

    let bad = browser
        .submit(
            "/monitors/new",
            "/monitors",
            &[
                ("service", "api"),
                ("name", "Bad cron job"),
                ("kind", "heartbeat"),
                ("cron", "61 * * * *"),
                ("tz", "Europe/Berlin"),
                ("grace", "1h"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(bad.body.contains("Cron: "), "{}", bad.body);
    assert!(
        bad.body.contains("value=\"Bad cron job\"")
            && bad
                .body
                .contains("value=\"61 * * * *\" placeholder=\"0 3 * * *\" aria-invalid=\"true\"")
            && bad.body.contains("value=\"Europe/Berlin\""),
        "the input is kept and the field marked:\n{}",
        bad.body
    );
    let bad_condition = browser
        .submit(
            "/monitors/new",
            "/monitors",
            &[
                ("service", "api"),
                ("name", "Typo"),
                ("kind", "http"),
                ("url", "https://x.example"),
                ("conditions", "[STATUS] == 200\n[STATSU] == 200"),
            ],
        )
        .await;
    assert_eq!(bad_condition.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad_condition.body.contains("Conditions[1]: "),
        "{}",
        bad_condition.body
    );
    let page = monitors::list_monitors(
        server.core(),
        &Default::default(),
        PageRequest::new(10, None),
    )
    .await
    .expect("list");
    assert_eq!(page.items.len(), 2, "refused monitors are not created");
    assert_eq!(status(&server, http_id).await, MonitorStatus::Pending);
    server.stop().await;
}

async fn viewers_see_monitors_but_cannot_change_them(db: TestDb) {
    let server = start(db).await;
    let (_, password) = server.user("vera@example.com", Role::Viewer).await;
    service(&server, "api").await;
    let existing = monitor(&server, "api", http_spec("API health"), None).await;
    let mut viewer = Browser::signed_in(&server, "vera@example.com", &password).await;

    let list = viewer.get("/monitors").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("API health") && list.body.contains("href=\"/monitors\""));
    assert!(!list.body.contains("New monitor"), "{}", list.body);
    assert_eq!(
        viewer.get("/monitors/new").await.status,
        StatusCode::FORBIDDEN
    );
    let created = viewer
        .submit(
            "/monitors",
            "/monitors",
            &[
                ("service", "api"),
                ("name", "Sneaky"),
                ("kind", "http"),
                ("url", "https://x.example"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::FORBIDDEN, "{}", created.body);

    let detail = viewer.get(&format!("/monitors/{}", existing.id)).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(!detail.body.contains("/pause\"") && !detail.body.contains("/delete\""));
    let paused = viewer
        .submit(
            "/monitors",
            &format!("/monitors/{}/pause", existing.id),
            &[("for", "")],
        )
        .await;
    assert_eq!(paused.status, StatusCode::FORBIDDEN);
    assert_eq!(status(&server, existing.id).await, MonitorStatus::Pending);
    let page = monitors::list_monitors(
        server.core(),
        &Default::default(),
        PageRequest::new(10, None),
    )
    .await
    .expect("list");
    assert_eq!(page.items.len(), 1, "nothing was created");
    assert_eq!(
        viewer.get("/monitors/999999").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        viewer.get("/monitors/abc").await.status,
        StatusCode::NOT_FOUND
    );
    server.stop().await;
}

async fn pause_resume_and_delete_through_the_forms(db: TestDb) {
    let server = start(db).await;
    let (_, password) = server.user("rita@example.com", Role::Responder).await;
    service(&server, "api").await;
    let watched = monitor(&server, "api", http_spec("API health"), None).await;
    let managed = monitor(
        &server,
        "api",
        http_spec("From a file"),
        Some("monitors/api.toml"),
    )
    .await;
    let mut browser = Browser::signed_in(&server, "rita@example.com", &password).await;
    let page = format!("/monitors/{}", watched.id);

    let paused = browser
        .submit(&page, &format!("{page}/pause"), &[("for", "4h")])
        .await;
    assert_eq!(paused.status, StatusCode::SEE_OTHER, "{}", paused.body);
    assert_eq!(paused.location.as_deref(), Some(page.as_str()));
    let now = server.core().now();
    let stored = monitors::monitor(server.core(), watched.id)
        .await
        .expect("monitor");
    assert_eq!(stored.state.status, MonitorStatus::Paused);
    let resume_at = stored.resume_at.expect("resumes by itself");
    let hours = (resume_at.as_second() - now.as_second()) as f64 / 3_600.0;
    assert!((3.9..=4.1).contains(&hours), "{hours}");
    let shown = browser.get(&page).await;
    assert!(shown.body.contains("mstatus-paused") && shown.body.contains("resumes at"));
    assert!(shown.body.contains("/resume\"") && !shown.body.contains("/pause\""));
    let list = browser.get("/monitors?status=paused").await;
    assert!(list.body.contains("API health") && !list.body.contains("From a file"));

    let resumed = browser.submit(&page, &format!("{page}/resume"), &[]).await;
    assert_eq!(resumed.status, StatusCode::SEE_OTHER);
    assert_eq!(status(&server, watched.id).await, MonitorStatus::Pending);
    let indefinitely = browser
        .submit(&page, &format!("{page}/pause"), &[("for", "")])
        .await;
    assert_eq!(indefinitely.status, StatusCode::SEE_OTHER);
    let stored = monitors::monitor(server.core(), watched.id)
        .await
        .expect("monitor");
    assert!(stored.paused && stored.resume_at.is_none());
    assert!(browser.get(&page).await.body.contains("until resumed"));
    let odd = browser
        .submit(&page, &format!("{page}/pause"), &[("for", "1y")])
        .await;
    assert_eq!(odd.status, StatusCode::BAD_REQUEST);

    let managed_page = format!("/monitors/{}", managed.id);
    let shown = browser.get(&managed_page).await;
    assert!(
        shown
            .body
            .contains("Managed by <code>monitors/api.toml</code>"),
        "{}",
        shown.body
    );
    assert!(
        !shown.body.contains("/delete\""),
        "file-managed monitors have no delete button"
    );
    assert!(
        browser
            .get("/monitors")
            .await
            .body
            .contains("managed by monitors/api.toml")
    );
    let refused = browser
        .submit(&managed_page, &format!("{managed_page}/delete"), &[])
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(refused.body.contains("managed by monitors/api.toml"));
    let forged = browser
        .post(&format!("{page}/delete"), &[("csrf_token", "forged")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let deleted = browser.submit(&page, &format!("{page}/delete"), &[]).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert_eq!(deleted.location.as_deref(), Some("/monitors"));
    assert_eq!(browser.get(&page).await.status, StatusCode::NOT_FOUND);
    assert!(monitors::monitor(server.core(), managed.id).await.is_ok());
    server.stop().await;
}

async fn the_detail_page_charts_results_as_svg(db: TestDb) {
    let server = start(db).await;
    let (_, password) = server.user("rita@example.com", Role::Responder).await;
    service(&server, "api").await;
    let watched = monitor(&server, "api", http_spec("API health"), None).await;
    let mut browser = Browser::signed_in(&server, "rita@example.com", &password).await;
    let page = format!("/monitors/{}", watched.id);

    let empty = browser.get(&page).await;
    assert!(empty.body.contains("No data yet") && !empty.body.contains("<polyline"));

    let core = server.core();
    let now = core.now();
    let points = [
        (50, 120, true),
        (40, 95, true),
        (30, 2_000, false),
        (20, 2_000, false),
        (10, 130, true),
        (0, 110, true),
    ];
    for (minutes_ago, duration_ms, success) in points {
        let at = upkeep_core::clock::sub(now, Duration::from_secs(minutes_ago * 60));
        let outcome = CheckOutcome {
            at,
            success,
            duration_ms,
            error: (!success).then(|| "timed out <after 2s>".to_string()),
        };
        core.ingest
            .check(core, watched.id, outcome, success.then_some(200), json!({}))
            .await
            .expect("the result is stored");
    }
    let mut stored = 0;
    for _ in 0..100 {
        stored = core
            .storage
            .list_results(watched.id, PageRequest::new(50, None))
            .await
            .expect("results")
            .items
            .len();
        if stored >= points.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stored, points.len(), "the writer stored every result");

    let detail = browser.get(&page).await;
    assert_eq!(detail.status, StatusCode::OK);
    let body = &detail.body;
    let start = body.find("<svg class=\"chart\"").expect("a chart");
    let end = start + body[start..].find("</svg>").expect("end of the chart");
    let chart = &body[start..end];
    assert!(
        chart.contains("role=\"img\"") && chart.contains("aria-label=\"Response time: 6 points")
    );
    assert!(
        chart.contains("<polyline class=\"chart-line\" points=\""),
        "{chart}"
    );
    assert_eq!(
        chart.matches("<circle class=\"chart-fail\"").count(),
        2,
        "{chart}"
    );
    assert!(
        chart.contains("<title>") && chart.contains("UTC: 2 s, failed"),
        "{chart}"
    );
    assert!(
        chart.contains(">2 s<") && chart.contains(">1 s<"),
        "y axis labels: {chart}"
    );
    assert!(body.contains("The last 6 checks; 2 failed"));
    let bars = &body[body.find("<svg class=\"bars\"").expect("uptime bars")..];
    let bars = &bars[..bars.find("</svg>").expect("end of the bars")];
    assert_eq!(bars.matches("<rect class=\"bar ").count(), 24, "{bars}");
    assert!(
        bars.contains("checks up</title>") && bars.contains("no data</title>"),
        "{bars}"
    );
    assert!(
        body.contains("4 of 6 checks good in the last 24 hours"),
        "{body}"
    );
    assert!(
        body.contains("<table class=\"events\">"),
        "state changes are listed"
    );
    server.stop().await;
}

async fn monitor_names_are_escaped_everywhere(db: TestDb) {
    let server = start(db).await;
    let (_, password) = server.user("rita@example.com", Role::Responder).await;
    service(&server, "api").await;
    let mut browser = Browser::signed_in(&server, "rita@example.com", &password).await;
    let created = browser
        .submit(
            "/monitors/new",
            "/monitors",
            &[
                ("service", "api"),
                ("name", "<b>x</b>"),
                ("slug", "bold"),
                ("kind", "http"),
                ("url", "http://127.0.0.1:9/?q=<i>y</i>"),
            ],
        )
        .await;
    let id = created_id(&created);
    for path in [
        format!("/monitors/{id}"),
        "/monitors".to_string(),
        "/monitors?q=%3Cb%3E".to_string(),
    ] {
        let page = browser.get(&path).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(escaped(&page.body, "<b>x</b>"), "{path}: {}", page.body);
        assert!(escaped(&page.body, "<i>y</i>"), "{path}: {}", page.body);
    }
    let refused = browser
        .submit(
            "/monitors/new",
            "/monitors",
            &[
                ("service", "api"),
                ("name", "<script>z</script>"),
                ("kind", "http"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        escaped(&refused.body, "<script>z</script>"),
        "{}",
        refused.body
    );
    server.stop().await;
}

async fn the_list_shows_fifty_monitors_a_page(db: TestDb) {
    let server = start(db).await;
    let (_, password) = server.user("rita@example.com", Role::Viewer).await;
    service(&server, "api").await;
    for n in 0..120 {
        monitor(&server, "api", http_spec(&format!("Check {n:03}")), None).await;
    }
    let mut browser = Browser::signed_in(&server, "rita@example.com", &password).await;
    let first = browser.get("/monitors?kind=http").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(rows(&first.body), 50);
    assert!(first.body.contains("Check 000") && !first.body.contains("Check 050"));
    let next = next_link(&first.body).expect("a next-page link keeping the filter");
    let second = browser.get(&next).await;
    assert_eq!(rows(&second.body), 50);
    assert!(second.body.contains("Check 050") && second.body.contains("First page"));
    let third = browser
        .get(&next_link(&second.body).expect("a third page"))
        .await;
    assert_eq!(rows(&third.body), 20);
    assert!(third.body.contains("Check 119") && !third.body.contains("cursor="));
    assert_eq!(
        browser.get("/monitors?cursor=nonsense").await.status,
        StatusCode::BAD_REQUEST
    );
    server.stop().await;
}

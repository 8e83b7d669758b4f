//! Heartbeat monitors over real HTTP, on both backends: the Healthchecks pinging API answer by answer,
//! run durations with `rid`, exit statuses, slug URLs with `create=1`, late then down from deadlines that
//! survive a restart, the Uptime Kuma and Gatus push URLs, per-monitor flood limits, and ping targets
//! remembered in memory that never outlive their monitor.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use upkeep_core::monitors::{self, DeadlineSweeper, MonitorSpec};
use upkeep_core::storage::{Monitor, MonitorStatus, PageRequest};
use upkeep_core::{audit, catalog};

use crate::support::databases::{TestDb, backend_tests};
use crate::support::server::TestServer;

backend_tests!(
    pings_follow_the_healthchecks_contract,
    silence_turns_late_then_down_across_a_restart,
    kuma_and_gatus_pushes_are_pings_too,
    remembered_ping_targets_follow_deletes_and_pauses,
);

const RID: &str = "6c3cbc3b-3c59-4a0f-8d4d-0d2f4d3f7a11";

async fn heartbeat(
    server: &TestServer,
    service: &str,
    name: &str,
    period: &str,
    grace: &str,
) -> Monitor {
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
        grace: Some(grace.into()),
        ..MonitorSpec::default()
    };
    monitors::create_monitor(server.core(), &ctx, service, &spec, None)
        .await
        .expect("monitor")
}

async fn state(server: &TestServer, id: i64) -> Monitor {
    monitors::monitor(server.core(), id).await.expect("monitor")
}

async fn hit(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
) -> (StatusCode, String, reqwest::header::HeaderMap) {
    let response = server
        .client
        .request(method, server.url(path))
        .send()
        .await
        .expect("ping");
    let status = response.status();
    let headers = response.headers().clone();
    (status, response.text().await.unwrap_or_default(), headers)
}

async fn get(server: &TestServer, path: &str) -> (StatusCode, String) {
    let (status, body, _) = hit(server, reqwest::Method::GET, path).await;
    (status, body)
}

async fn pings_follow_the_healthchecks_contract(db: TestDb) {
    let server = TestServer::start(db).await;
    let job = heartbeat(&server, "db", "Nightly backup", "1d", "1h").await;
    let token = job.ping_token.clone();
    assert_eq!(job.state.status, MonitorStatus::Pending);

    let (status, body, headers) =
        hit(&server, reqwest::Method::GET, &format!("/ping/{token}")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "OK"));
    assert_eq!(
        headers.get("ping-body-limit").and_then(|v| v.to_str().ok()),
        Some("10000")
    );
    assert_eq!(
        headers
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("*")
    );
    let after = state(&server, job.id).await;
    assert_eq!(after.state.status, MonitorStatus::Up);
    let expected = after
        .state
        .last_ping_at
        .expect("pinged")
        .checked_add(jiff::SignedDuration::from_hours(24))
        .expect("time");
    assert_eq!(
        after.state.deadline_at,
        Some(expected),
        "turns late when the next ping is due"
    );

    // A run: /start with a run id, then the completion with the same id 90 s later.
    assert_eq!(
        get(&server, &format!("/ping/{token}/start?rid={RID}"))
            .await
            .0,
        StatusCode::OK
    );
    assert!(state(&server, job.id).await.state.last_start_at.is_some());
    server.clock.advance(Duration::from_secs(90));
    assert_eq!(
        get(&server, &format!("/ping/{token}?rid={RID}")).await.0,
        StatusCode::OK
    );
    let pings = server
        .core()
        .storage
        .list_pings(job.id, PageRequest::new(10, None))
        .await
        .expect("pings");
    assert_eq!(pings.items[0].duration_ms, Some(90_000));
    assert_eq!(pings.items[0].rid.as_deref(), Some(RID));
    assert!(state(&server, job.id).await.state.last_start_at.is_none());

    // Exit statuses: 0 is success, 1..255 failure, more is a bad URL.
    assert_eq!(
        get(&server, &format!("/ping/{token}/1")).await.0,
        StatusCode::OK
    );
    let failed = state(&server, job.id).await;
    assert_eq!(failed.state.status, MonitorStatus::Down);
    assert_eq!(
        failed.state.last_error.as_deref(),
        Some("the job exited with status 1")
    );
    assert_eq!(
        get(&server, &format!("/ping/{token}/0")).await.0,
        StatusCode::OK
    );
    assert_eq!(state(&server, job.id).await.state.status, MonitorStatus::Up);
    assert_eq!(
        get(&server, &format!("/ping/{token}/256")).await,
        (StatusCode::BAD_REQUEST, "invalid url format".into())
    );
    assert_eq!(
        get(&server, &format!("/ping/{token}?rid=not-a-uuid")).await,
        (StatusCode::BAD_REQUEST, "invalid uuid format".into())
    );
    assert_eq!(
        get(&server, &format!("/ping/{token}/bogus")).await,
        (StatusCode::NOT_FOUND, "not found".into())
    );
    assert_eq!(
        get(&server, "/ping/00000000-0000-4000-a000-000000000000").await,
        (StatusCode::NOT_FOUND, "not found".into())
    );
    // /fail and /log.
    assert_eq!(
        get(&server, &format!("/ping/{token}/fail")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        state(&server, job.id).await.state.status,
        MonitorStatus::Down
    );
    assert_eq!(
        get(&server, &format!("/ping/{token}/log")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        state(&server, job.id).await.state.status,
        MonitorStatus::Down,
        "/log changes nothing"
    );

    // HEAD and POST work; a long body is kept up to the limit, not refused.
    assert_eq!(
        hit(&server, reqwest::Method::HEAD, &format!("/ping/{token}"))
            .await
            .0,
        StatusCode::OK
    );
    let long = "x".repeat(25_000);
    let response = server
        .client
        .post(server.url(&format!("/ping/{token}")))
        .body(long)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::OK);
    let pings = server
        .core()
        .storage
        .list_pings(job.id, PageRequest::new(10, None))
        .await
        .expect("pings");
    assert_eq!(pings.items[0].body.as_deref().map(str::len), Some(10_000));
    assert_eq!(pings.items[0].method, "POST");
    assert_eq!(pings.items[1].method, "HEAD");

    // Slug URLs: /ping/<ping-key>/<slug>, and create=1 provisions a monitor with 201.
    let service = catalog::service(server.core(), "db")
        .await
        .expect("service");
    let key = &service.ping_key;
    assert_eq!(
        get(&server, &format!("/ping/{key}/nightly-backup")).await,
        (StatusCode::OK, "OK".into())
    );
    assert_eq!(
        get(&server, &format!("/ping/{key}/nightly-backup/start"))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        get(&server, &format!("/ping/{key}/new-job")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&server, &format!("/ping/{key}/Nightly-Backup")).await.0,
        StatusCode::NOT_FOUND,
        "slugs are lower-case"
    );
    assert_eq!(
        get(&server, &format!("/ping/{key}/new-job?create=1")).await,
        (StatusCode::CREATED, "Created".into())
    );
    let created = server
        .core()
        .storage
        .monitor_by_ping_key(key, "new-job")
        .await
        .expect("lookup")
        .expect("created");
    assert_eq!(
        (created.kind.as_str(), created.state.status),
        ("heartbeat", MonitorStatus::Up)
    );
    assert_eq!(
        get(&server, &format!("/ping/{key}/new-job?create=1"))
            .await
            .0,
        StatusCode::OK,
        "exists now"
    );
    assert_eq!(
        get(&server, "/ping/not-a-key/new-job?create=1").await.0,
        StatusCode::NOT_FOUND
    );

    // A flood on one monitor is limited; others are not slowed.
    let mut limited = 0;
    for _ in 0..200 {
        if get(&server, &format!("/ping/{token}/log")).await.0 == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
        }
    }
    assert!(limited > 0, "a flood is rate limited");
    assert_eq!(
        get(&server, &format!("/ping/{}", created.ping_token))
            .await
            .0,
        StatusCode::OK
    );

    // The API shows the monitor with its ping URL; events record each change.
    let (_, api_token) = server
        .caller("viewer@example.com", upkeep_core::storage::Role::Viewer)
        .await;
    let response = server
        .client
        .get(server.url(&format!("/api/v1/monitors/{}", job.id)))
        .bearer_auth(&api_token)
        .send()
        .await
        .expect("GET");
    let view: Value = response.json().await.expect("json");
    assert_eq!(view["ping_url"], format!("{}/ping/{token}", server.base));
    assert_eq!(
        view["status"], "up",
        "the HEAD ping after /fail was a success"
    );
    let events = server
        .core()
        .storage
        .list_monitor_events(job.id, PageRequest::new(50, None))
        .await
        .expect("events");
    let changes: Vec<(&str, &str)> = events
        .items
        .iter()
        .rev()
        .map(|e| (e.from_status.as_str(), e.to_status.as_str()))
        .collect();
    assert_eq!(
        changes,
        [
            ("pending", "up"),
            ("up", "down"),
            ("down", "up"),
            ("up", "down"),
            ("down", "up")
        ]
    );
    server.stop().await;
}

async fn silence_turns_late_then_down_across_a_restart(db: TestDb) {
    let server = TestServer::start(db).await;
    let job = heartbeat(&server, "db", "vacuum", "1h", "10m").await;
    assert_eq!(
        get(&server, &format!("/ping/{}", job.ping_token)).await.0,
        StatusCode::OK
    );

    let sweeper = DeadlineSweeper::new(server.core().clone());
    server.clock.advance(Duration::from_secs(59 * 60));
    sweeper.run_once().await.expect("sweep");
    assert_eq!(
        state(&server, job.id).await.state.status,
        MonitorStatus::Up,
        "not due yet"
    );
    server.clock.advance(Duration::from_secs(61));
    sweeper.run_once().await.expect("sweep");
    let late = state(&server, job.id).await;
    assert_eq!(
        late.state.status,
        MonitorStatus::Degraded,
        "late within the grace time"
    );

    // Restart: the deadline lives in the database, so the new process still turns it down on time.
    let server = server.restart().await;
    server.clock.advance(Duration::from_secs(10 * 60));
    DeadlineSweeper::new(server.core().clone())
        .run_once()
        .await
        .expect("sweep");
    let down = state(&server, job.id).await;
    assert_eq!(down.state.status, MonitorStatus::Down);
    assert_eq!(
        down.state.deadline_at, None,
        "nothing more can happen until a ping"
    );
    let events = server
        .core()
        .storage
        .list_monitor_events(job.id, PageRequest::new(10, None))
        .await
        .expect("events");
    assert!(
        events.items[0].reason.contains("grace time over"),
        "{}",
        events.items[0].reason
    );
    assert_eq!(events.items[1].to_status, MonitorStatus::Degraded);

    // A run that starts and never finishes is down once the grace time passes.
    assert_eq!(
        get(&server, &format!("/ping/{}", job.ping_token)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        get(&server, &format!("/ping/{}/start", job.ping_token))
            .await
            .0,
        StatusCode::OK
    );
    server.clock.advance(Duration::from_secs(11 * 60));
    DeadlineSweeper::new(server.core().clone())
        .run_once()
        .await
        .expect("sweep");
    let overran = state(&server, job.id).await;
    assert_eq!(overran.state.status, MonitorStatus::Down);
    let events = server
        .core()
        .storage
        .list_monitor_events(job.id, PageRequest::new(1, None))
        .await
        .expect("events");
    assert!(
        events.items[0].reason.contains("did not finish"),
        "{}",
        events.items[0].reason
    );

    // Paused monitors ignore pings and never go down.
    let ctx = audit::context(server.core(), audit::cli_actor(), None);
    monitors::pause(server.core(), &ctx, job.id, None)
        .await
        .expect("pause");
    assert_eq!(
        get(&server, &format!("/ping/{}", job.ping_token)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        state(&server, job.id).await.state.status,
        MonitorStatus::Paused
    );
    server.stop().await;
}

async fn kuma_and_gatus_pushes_are_pings_too(db: TestDb) {
    let server = TestServer::start(db).await;
    let job = heartbeat(&server, "edge", "cdn purge", "5m", "1m").await;

    let response = server
        .client
        .get(server.url(&format!(
            "/api/push/{}?status=up&msg=fine&ping=12.5",
            job.ping_token
        )))
        .send()
        .await
        .expect("push");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.expect("json"),
        serde_json::json!({"ok": true})
    );
    assert_eq!(state(&server, job.id).await.state.status, MonitorStatus::Up);
    let response = server
        .client
        .post(server.url(&format!(
            "/api/push/{}?status=down&msg=disk%20full",
            job.ping_token
        )))
        .send()
        .await
        .expect("push");
    assert_eq!(response.status(), StatusCode::OK);
    let down = state(&server, job.id).await;
    assert_eq!(down.state.status, MonitorStatus::Down);
    let pings = server
        .core()
        .storage
        .list_pings(job.id, PageRequest::new(1, None))
        .await
        .expect("pings");
    assert_eq!(pings.items[0].body.as_deref(), Some("disk full"));
    let response = server
        .client
        .get(server.url("/api/push/nope"))
        .send()
        .await
        .expect("push");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        response.json::<Value>().await.expect("json"),
        serde_json::json!({"ok": false, "msg": "Monitor not found or not active."})
    );

    let path = format!(
        "/api/v1/endpoints/edge_{}/external?success=true&duration=250ms",
        job.slug
    );
    let response = server
        .client
        .post(server.url(&path))
        .bearer_auth(&job.ping_token)
        .send()
        .await
        .expect("push");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(state(&server, job.id).await.state.status, MonitorStatus::Up);
    let response = server
        .client
        .post(server.url(&path))
        .bearer_auth("wrong")
        .send()
        .await
        .expect("push");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let bad = format!("/api/v1/endpoints/edge_{}/external?success=maybe", job.slug);
    let response = server
        .client
        .post(server.url(&bad))
        .bearer_auth(&job.ping_token)
        .send()
        .await
        .expect("push");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    server.stop().await;
}

/// Pings resolve their token or slug from memory; a monitor deleted behind this node's back (as another
/// node would) must answer 404, a slug must reach the monitor that holds it now, and Uptime Kuma's push
/// still refuses paused monitors.
async fn remembered_ping_targets_follow_deletes_and_pauses(db: TestDb) {
    let server = TestServer::start(db).await;
    let job = heartbeat(&server, "jobs", "nightly", "1d", "1h").await;
    let ctx = audit::context(server.core(), audit::cli_actor(), None);
    let key = catalog::service(server.core(), "jobs")
        .await
        .expect("service")
        .ping_key;
    let by_token = format!("/ping/{}", job.ping_token);
    let by_slug = format!("/ping/{key}/nightly");
    assert_eq!(get(&server, &by_token).await.0, StatusCode::OK);
    assert_eq!(get(&server, &by_slug).await.0, StatusCode::OK);

    // Deleted straight in storage, so this node still remembers both addresses.
    server
        .core()
        .storage
        .delete_monitor(&ctx, job.id)
        .await
        .expect("delete");
    assert_eq!(get(&server, &by_token).await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&server, &by_token).await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&server, &by_slug).await.0, StatusCode::NOT_FOUND);
    // The slug is free again: create=1 makes a new monitor, which gets the ping.
    assert_eq!(
        get(&server, &format!("{by_slug}?create=1")).await,
        (StatusCode::CREATED, "Created".into())
    );
    let again = server
        .core()
        .storage
        .monitor_by_ping_key(&key, "nightly")
        .await
        .expect("lookup")
        .expect("created");
    assert_ne!(again.id, job.id);
    assert_eq!(get(&server, &by_slug).await.0, StatusCode::OK);
    let pings = server
        .core()
        .storage
        .list_pings(again.id, PageRequest::new(10, None))
        .await
        .expect("pings");
    assert_eq!(
        pings.items.len(),
        2,
        "both slug pings reached the new monitor"
    );

    // Deleting through the domain forgets at once.
    let other = heartbeat(&server, "jobs", "hourly", "1h", "5m").await;
    let other_url = format!("/ping/{}", other.ping_token);
    assert_eq!(get(&server, &other_url).await.0, StatusCode::OK);
    monitors::delete_monitor(server.core(), &ctx, other.id)
        .await
        .expect("delete");
    assert_eq!(get(&server, &other_url).await.0, StatusCode::NOT_FOUND);

    // Uptime Kuma's push refuses a paused monitor and records nothing; Healthchecks' ping records it.
    let push = format!("/api/push/{}?status=up", again.ping_token);
    assert_eq!(get(&server, &push).await.0, StatusCode::OK);
    monitors::pause(server.core(), &ctx, again.id, None)
        .await
        .expect("pause");
    let (status, body) = get(&server, &push).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("json"),
        serde_json::json!({"ok": false, "msg": "Monitor not found or not active."})
    );
    let count = async || {
        server
            .core()
            .storage
            .list_pings(again.id, PageRequest::new(50, None))
            .await
            .expect("pings")
            .items
            .len()
    };
    assert_eq!(count().await, 3);
    assert_eq!(get(&server, &by_slug).await.0, StatusCode::OK);
    assert_eq!(count().await, 4, "kept for the record while paused");
    monitors::resume(server.core(), &ctx, again.id)
        .await
        .expect("resume");
    assert_eq!(get(&server, &push).await.0, StatusCode::OK);
    server.stop().await;
}

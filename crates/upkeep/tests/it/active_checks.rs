//! Active checks against real local targets, on both backends: conditions judged on a live HTTP server,
//! down only after the failure threshold, recovery after the success threshold, results with timings, a
//! TCP check, and the node's scheduler picking up a new monitor by itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use upkeep_core::monitors::{self, CheckScheduler, MonitorSpec};
use upkeep_core::storage::{MonitorStatus, PageRequest};
use upkeep_core::{audit, catalog};

use crate::support::databases::{TestDb, backend_tests};
use crate::support::server::TestServer;

backend_tests!(
    http_checks_confirm_down_and_recovery,
    the_scheduler_runs_new_monitors_by_itself
);

/// A target whose answer the test controls: `status` 200 gives `{"ok":true}`, anything else an error page.
async fn target(status: Arc<AtomicU16>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new().route(
        "/health",
        axum::routing::get(move || {
            let status = status.clone();
            async move {
                let code = status.load(Ordering::SeqCst);
                let body = if code == 200 {
                    r#"{"ok":true}"#
                } else {
                    r#"{"ok":false}"#
                };
                (
                    axum::http::StatusCode::from_u16(code).unwrap_or(axum::http::StatusCode::OK),
                    body,
                )
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/health")
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

async fn http_checks_confirm_down_and_recovery(db: TestDb) {
    // Workers off: this test runs each check itself, so nothing else checks in between.
    let server = TestServer::start_with(db, |config| config.roles.workers = false).await;
    service(&server, "api").await;
    let status = Arc::new(AtomicU16::new(200));
    let url = target(status.clone()).await;
    let ctx = audit::context(server.core(), audit::cli_actor(), None);
    let spec = MonitorSpec {
        name: "health".into(),
        kind: "http".into(),
        url: Some(url),
        interval: Some("1s".into()),
        conditions: vec![
            "[STATUS] == 200".into(),
            "[BODY].ok == true".into(),
            "[RESPONSE_TIME] < 2000".into(),
        ],
        failure_threshold: Some(2),
        success_threshold: Some(2),
        ..MonitorSpec::default()
    };
    let monitor = monitors::create_monitor(server.core(), &ctx, "api", &spec, None)
        .await
        .expect("monitor");
    let checks = CheckScheduler::new(server.core().clone(), 16, 4);
    let current = || async {
        monitors::monitor(server.core(), monitor.id)
            .await
            .expect("monitor")
    };

    checks.check(&current().await).await;
    assert_eq!(current().await.state.status, MonitorStatus::Up);

    status.store(503, Ordering::SeqCst);
    checks.check(&current().await).await;
    assert_eq!(
        current().await.state.status,
        MonitorStatus::Up,
        "one failure is below the threshold"
    );
    checks.check(&current().await).await;
    let down = current().await;
    assert_eq!(down.state.status, MonitorStatus::Down);
    let error = down.state.last_error.unwrap_or_default();
    assert!(error.contains("[STATUS] (503) == 200"), "{error}");

    status.store(200, Ordering::SeqCst);
    checks.check(&current().await).await;
    assert_eq!(
        current().await.state.status,
        MonitorStatus::Down,
        "one success is below the threshold"
    );
    checks.check(&current().await).await;
    assert_eq!(current().await.state.status, MonitorStatus::Up);

    let results = server
        .core()
        .storage
        .list_results(monitor.id, PageRequest::new(10, None))
        .await
        .expect("results");
    assert_eq!(results.items.len(), 5);
    let latest = &results.items[0];
    assert!(latest.success);
    assert_eq!(latest.status_code, Some(200));
    let timings = &latest.details["timings_ms"];
    assert!(
        timings["connect"].as_f64().is_some() && timings["first_byte"].as_f64().is_some(),
        "{timings}"
    );
    assert_eq!(
        latest.details["conditions"].as_array().map(Vec::len),
        Some(3)
    );
    let failed = &results.items[2];
    assert_eq!((failed.success, failed.status_code), (false, Some(503)));

    let events = server
        .core()
        .storage
        .list_monitor_events(monitor.id, PageRequest::new(10, None))
        .await
        .expect("events");
    let changes: Vec<(MonitorStatus, MonitorStatus)> = events
        .items
        .iter()
        .rev()
        .map(|e| (e.from_status, e.to_status))
        .collect();
    assert_eq!(
        changes,
        [
            (MonitorStatus::Pending, MonitorStatus::Up),
            (MonitorStatus::Up, MonitorStatus::Down),
            (MonitorStatus::Down, MonitorStatus::Up)
        ]
    );

    // TCP: a listener that accepts is up; a closed port is a failure with a reason.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let open = listener.local_addr().expect("addr");
    tokio::spawn(async move { while listener.accept().await.is_ok() {} });
    let tcp = MonitorSpec {
        name: "db port".into(),
        kind: "tcp".into(),
        url: Some(open.to_string()),
        failure_threshold: Some(1),
        ..MonitorSpec::default()
    };
    let tcp = monitors::create_monitor(server.core(), &ctx, "api", &tcp, None)
        .await
        .expect("tcp monitor");
    checks.check(&tcp).await;
    assert_eq!(
        monitors::monitor(server.core(), tcp.id)
            .await
            .expect("monitor")
            .state
            .status,
        MonitorStatus::Up
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let refused = MonitorSpec {
        name: "gone".into(),
        kind: "tcp".into(),
        url: Some(closed.to_string()),
        failure_threshold: Some(1),
        ..MonitorSpec::default()
    };
    let refused = monitors::create_monitor(server.core(), &ctx, "api", &refused, None)
        .await
        .expect("tcp monitor");
    checks.check(&refused).await;
    let refused = monitors::monitor(server.core(), refused.id)
        .await
        .expect("monitor");
    assert_eq!(refused.state.status, MonitorStatus::Down);
    assert!(
        refused
            .state
            .last_error
            .unwrap_or_default()
            .contains("refused")
    );
    server.stop().await;
}

async fn the_scheduler_runs_new_monitors_by_itself(db: TestDb) {
    let server = TestServer::start(db).await;
    service(&server, "web").await;
    let status = Arc::new(AtomicU16::new(200));
    let url = target(status).await;
    let ctx = audit::context(server.core(), audit::cli_actor(), None);
    let spec = MonitorSpec {
        name: "home".into(),
        kind: "http".into(),
        url: Some(url),
        interval: Some("1s".into()),
        ..MonitorSpec::default()
    };
    let monitor = monitors::create_monitor(server.core(), &ctx, "web", &spec, None)
        .await
        .expect("monitor");
    // The scheduler reloads monitors every few seconds and checks each once per interval; wait for two
    // results, bounded, rather than sleeping a fixed time.
    let started = Instant::now();
    loop {
        let results = server
            .core()
            .storage
            .list_results(monitor.id, PageRequest::new(10, None))
            .await
            .expect("results");
        if results.items.len() >= 2 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the scheduler never checked the new monitor"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        monitors::monitor(server.core(), monitor.id)
            .await
            .expect("monitor")
            .state
            .status,
        MonitorStatus::Up
    );
    server.stop().await;
}

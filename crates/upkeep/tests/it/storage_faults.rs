//! A database that refuses writes must never turn into a "down": the writer retries, logs and counts the
//! failure, and the monitor keeps its last known status. The fault is a real one, made by the database
//! itself (a trigger that aborts every insert of a check result), on both backends.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use upkeep_core::monitors::{self, CheckScheduler, MonitorSpec};
use upkeep_core::storage::{MonitorStatus, PageRequest};
use upkeep_core::{audit, catalog};

use crate::support::databases::{Backend, TestDb, backend_tests, raw_execute_at};
use crate::support::server::TestServer;

backend_tests!(a_refusing_database_never_marks_a_monitor_down);

async fn target(status: Arc<AtomicU16>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let status = status.clone();
            async move {
                axum::http::StatusCode::from_u16(status.load(Ordering::SeqCst))
                    .unwrap_or(axum::http::StatusCode::OK)
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/")
}

async fn break_writes(backend: Backend, url: &str) {
    let sql = match backend {
        Backend::Sqlite => "CREATE TRIGGER refuse_results BEFORE INSERT ON check_results BEGIN SELECT RAISE(ABORT, 'disk full (simulated by the test)'); END;",
        Backend::Postgres => {
            "CREATE FUNCTION refuse_results() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk full (simulated by the test)'; END $$ LANGUAGE plpgsql;
             CREATE TRIGGER refuse_results BEFORE INSERT ON check_results FOR EACH ROW EXECUTE FUNCTION refuse_results();"
        }
    };
    raw_execute_at(backend, url, sql)
        .await
        .expect("install the failing trigger");
}

async fn repair_writes(backend: Backend, url: &str) {
    let sql = match backend {
        Backend::Sqlite => "DROP TRIGGER refuse_results;",
        Backend::Postgres => {
            "DROP TRIGGER refuse_results ON check_results; DROP FUNCTION refuse_results();"
        }
    };
    raw_execute_at(backend, url, sql)
        .await
        .expect("remove the failing trigger");
}

async fn a_refusing_database_never_marks_a_monitor_down(db: TestDb) {
    let (backend, url) = (db.backend, db.url.clone());
    let server = TestServer::start_with(db, |config| config.roles.workers = false).await;
    let ctx = audit::context(server.core(), audit::cli_actor(), None);
    catalog::create_service(
        server.core(),
        &ctx,
        catalog::ServiceInput {
            slug: "api".into(),
            ..Default::default()
        },
    )
    .await
    .expect("service");
    let status = Arc::new(AtomicU16::new(200));
    let spec = MonitorSpec {
        name: "health".into(),
        kind: "http".into(),
        url: Some(target(status.clone()).await),
        conditions: vec!["[STATUS] == 200".into()],
        failure_threshold: Some(2),
        ..MonitorSpec::default()
    };
    let monitor = monitors::create_monitor(server.core(), &ctx, "api", &spec, None)
        .await
        .expect("monitor");
    let checks = CheckScheduler::new(server.core().clone(), 4, 4);
    let current = || async {
        monitors::monitor(server.core(), monitor.id)
            .await
            .expect("monitor")
    };
    checks.check(&current().await).await;
    assert_eq!(current().await.state.status, MonitorStatus::Up);

    // The target fails and, at the same time, the database refuses every check result.
    break_writes(backend, &url).await;
    status.store(503, Ordering::SeqCst);
    for _ in 0..3 {
        checks.check(&current().await).await;
    }
    let during = current().await;
    assert_eq!(
        during.state.status,
        MonitorStatus::Up,
        "a storage failure never turns into down"
    );
    assert!(
        server.core().check_stats.write_failures() >= 3,
        "the failures are counted"
    );

    // The database recovers: checks are stored again and the real outage is confirmed as usual.
    repair_writes(backend, &url).await;
    for _ in 0..2 {
        checks.check(&current().await).await;
    }
    assert_eq!(current().await.state.status, MonitorStatus::Down);
    let results = server
        .core()
        .storage
        .list_results(monitor.id, PageRequest::new(10, None))
        .await
        .expect("results");
    assert_eq!(
        results.items.len(),
        3,
        "one before the fault, two after it; none of the refused ones"
    );
    server.stop().await;
}

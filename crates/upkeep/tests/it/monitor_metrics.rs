//! `/metrics` per-monitor figures on both backends: status, pause, response time, certificate expiry and
//! 24 h uptime of an up HTTPS monitor, a down one and a paused one, counts per status, label values
//! escaped, exactly one series per monitor and metric with no URL in sight; last, what a refresh of the
//! in-memory snapshot costs with 2,000 monitors holding a steady day of rollups (figures printed).
//!
//! The server runs without the workers and scheduler roles, so no check or rollup happens by itself:
//! results come from the tests through the monitor writer, and the exporter is driven with `run_once`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use upkeep_core::monitors::exporter::{MonitorExporter, Recompute, SLICES};
use upkeep_core::monitors::sketch::LatencySketch;
use upkeep_core::monitors::{self, CheckOutcome, MonitorSpec};
use upkeep_core::storage::{Monitor, MonitorStatus, NewService, Resolution, Role, RollupRow};
use upkeep_core::{audit, catalog, clock, identity};

use crate::support::databases::{TestDb, backend_tests};
use crate::support::server::TestServer;

backend_tests!(
    monitors_export_status_response_time_certificate_and_uptime,
    label_values_are_escaped,
    one_series_per_monitor_and_no_urls,
    a_refresh_of_two_thousand_monitors_is_cheap_enough,
);

/// The server without workers or scheduler: no check and no rollup runs by itself.
async fn start(db: TestDb) -> TestServer {
    TestServer::start_with(db, |config| {
        config.roles.workers = false;
        config.roles.scheduler = false;
    })
    .await
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

async fn monitor(server: &TestServer, service: &str, spec: MonitorSpec) -> Monitor {
    let ctx = audit::context(server.core(), audit::cli_actor(), None);
    monitors::create_monitor(server.core(), &ctx, service, &spec, None)
        .await
        .expect("monitor")
}

fn spec(name: &str, kind: &str, url: Option<&str>) -> MonitorSpec {
    MonitorSpec {
        name: name.into(),
        kind: kind.into(),
        url: url.map(str::to_string),
        interval: (kind != "heartbeat").then(|| "1h".into()),
        ..MonitorSpec::default()
    }
}

/// Store one check result `minutes_ago` before the server's clock (returns once committed).
async fn result(
    server: &TestServer,
    id: i64,
    minutes_ago: u64,
    success: bool,
    duration_ms: i64,
    details: serde_json::Value,
) {
    let core = server.core();
    let at = clock::sub(core.now(), Duration::from_secs(minutes_ago * 60));
    let outcome = CheckOutcome {
        at,
        success,
        duration_ms,
        error: (!success).then(|| "connection refused".to_string()),
    };
    core.ingest
        .check(core, id, outcome, success.then_some(200), details)
        .await
        .expect("the result is stored");
}

async fn status(server: &TestServer, id: i64) -> MonitorStatus {
    monitors::monitor(server.core(), id)
        .await
        .expect("monitor")
        .state
        .status
}

/// `/metrics` as a viewer (a read token) sees it.
async fn scrape(server: &TestServer, token: &str) -> String {
    let response = server
        .client
        .get(server.url("/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.expect("text")
}

/// One sample line, parsed: name, labels (unescaped) and value.
#[derive(Debug, Clone, PartialEq)]
struct Series {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parse the text format strictly enough that a bad escape or a stray line feed in a label value
/// fails the test: every line is a comment or `name{labels} value` with well-formed quoted values.
fn parse(text: &str) -> Vec<Series> {
    let mut series = Vec::new();
    for line in text.lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        assert!(!line.is_empty(), "an empty line in:\n{text}");
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let name = &line[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line:?}"
        );
        let mut labels = BTreeMap::new();
        let mut rest = &line[name_end..];
        if let Some(inner) = rest.strip_prefix('{') {
            let mut chars = inner.char_indices();
            loop {
                let (key_start, first) = chars.next().unwrap_or_else(|| panic!("{line:?}"));
                if first == '}' {
                    rest = &inner[key_start + 1..];
                    break;
                }
                let mut key = String::from(first);
                loop {
                    let (_, c) = chars.next().unwrap_or_else(|| panic!("{line:?}"));
                    if c == '=' {
                        break;
                    }
                    key.push(c);
                }
                assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line:?}");
                let mut value = String::new();
                loop {
                    match chars.next().unwrap_or_else(|| panic!("{line:?}")) {
                        (_, '"') => break,
                        (_, '\\') => match chars.next().map(|(_, c)| c) {
                            Some('\\') => value.push('\\'),
                            Some('"') => value.push('"'),
                            Some('n') => value.push('\n'),
                            other => panic!("bad escape {other:?} in {line:?}"),
                        },
                        (_, c) => value.push(c),
                    }
                }
                assert!(labels.insert(key, value).is_none(), "{line:?}");
                if let Some((_, ',')) = chars.clone().next() {
                    chars.next();
                }
            }
        }
        let value = rest
            .strip_prefix(' ')
            .unwrap_or_else(|| panic!("no value in {line:?}"));
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            number => number
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        series.push(Series {
            name: name.to_string(),
            labels,
            value,
        });
    }
    series
}

/// The value of the series `name` with exactly these labels.
fn value(series: &[Series], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let wanted: BTreeMap<String, String> = labels
        .iter()
        .map(|(key, value)| ((*key).to_string(), (*value).to_string()))
        .collect();
    let found: Vec<f64> = series
        .iter()
        .filter(|s| s.name == name && s.labels == wanted)
        .map(|s| s.value)
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?} appears twice");
    found.first().copied()
}

/// The labels of a monitor of service `api`.
fn labels<'a>(id: &'a str, kind: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("monitor_id", id), ("service", "api"), ("kind", kind)]
}

/// `labels` with the uptime window.
fn windowed<'a>(labels: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut labels = labels.to_vec();
    labels.push(("window", "24h"));
    labels
}

fn close(got: Option<f64>, want: f64) -> bool {
    got.is_some_and(|got| (got - want).abs() < 1e-9)
}

async fn monitors_export_status_response_time_certificate_and_uptime(db: TestDb) {
    let server = start(db).await;
    let (_, token) = server.caller("vera@example.com", Role::Viewer).await;
    service(&server, "api").await;
    let web = monitor(
        &server,
        "api",
        spec("Web", "http", Some("https://web.example.test/health")),
    )
    .await;
    let database = monitor(
        &server,
        "api",
        MonitorSpec {
            failure_threshold: Some(2),
            ..spec("Database", "tcp", Some("127.0.0.1:9"))
        },
    )
    .await;
    let old = monitor(
        &server,
        "api",
        spec("Old", "http", Some("http://127.0.0.1:9/old")),
    )
    .await;
    let nightly = monitor(&server, "api", spec("Nightly", "heartbeat", None)).await;

    // Web: one failure (not enough to flip), then three successes; the newest saw a 10-day certificate.
    let ten_days = 10 * 86_400;
    result(&server, web.id, 4, false, 300, json!({})).await;
    result(&server, web.id, 3, true, 120, json!({})).await;
    result(&server, web.id, 2, true, 110, json!({})).await;
    let details = json!({
        "timings_ms": { "total": 95.0 },
        "certificate_expires_in_s": ten_days,
    });
    result(&server, web.id, 1, true, 95, details).await;
    // Database: two failures, down.
    result(&server, database.id, 2, false, 2_000, json!({})).await;
    result(&server, database.id, 1, false, 2_000, json!({})).await;
    // Old: one success, then paused.
    result(&server, old.id, 5, true, 50, json!({})).await;
    let ctx = audit::context(server.core(), audit::cli_actor(), None);
    monitors::pause(server.core(), &ctx, old.id, None)
        .await
        .expect("pause");
    assert_eq!(status(&server, web.id).await, MonitorStatus::Up);
    assert_eq!(status(&server, database.id).await, MonitorStatus::Down);
    assert_eq!(status(&server, old.id).await, MonitorStatus::Paused);
    assert_eq!(status(&server, nightly.id).await, MonitorStatus::Pending);

    let report = MonitorExporter::new(server.core().clone())
        .run_once()
        .await
        .expect("refresh");
    assert_eq!(report.monitors, 4);
    assert_eq!(report.certificates, 1, "only the https monitor has one");
    assert!(report.published);

    let text = scrape(&server, &token).await;
    for metric in [
        "upkeep_monitors",
        "upkeep_monitor_up",
        "upkeep_monitor_paused",
        "upkeep_monitor_response_seconds",
        "upkeep_monitor_certificate_expiry_seconds",
        "upkeep_monitor_uptime_ratio",
    ] {
        assert!(text.contains(&format!("# HELP {metric} ")), "HELP {metric}");
        assert!(
            text.contains(&format!("# TYPE {metric} gauge\n")),
            "TYPE {metric}"
        );
    }
    let series = parse(&text);
    let id = |m: &Monitor| m.id.to_string();
    let (web_id, database_id, old_id, nightly_id) =
        (id(&web), id(&database), id(&old), id(&nightly));
    let web_labels = labels(&web_id, "http");
    let database_labels = labels(&database_id, "tcp");
    let old_labels = labels(&old_id, "http");
    let nightly_labels = labels(&nightly_id, "heartbeat");

    // Up, down, and nothing said of a paused or pending monitor.
    assert_eq!(value(&series, "upkeep_monitor_up", &web_labels), Some(1.0));
    assert_eq!(
        value(&series, "upkeep_monitor_up", &database_labels),
        Some(0.0)
    );
    assert_eq!(value(&series, "upkeep_monitor_up", &old_labels), None);
    assert_eq!(value(&series, "upkeep_monitor_up", &nightly_labels), None);
    assert_eq!(
        value(&series, "upkeep_monitor_paused", &old_labels),
        Some(1.0)
    );
    for others in [&web_labels, &database_labels, &nightly_labels] {
        assert_eq!(value(&series, "upkeep_monitor_paused", others), Some(0.0));
    }

    // The newest check's duration; none for a heartbeat.
    assert!(close(
        value(&series, "upkeep_monitor_response_seconds", &web_labels),
        0.095
    ));
    assert!(close(
        value(&series, "upkeep_monitor_response_seconds", &database_labels),
        2.0
    ));
    assert!(close(
        value(&series, "upkeep_monitor_response_seconds", &old_labels),
        0.05
    ));
    assert_eq!(
        value(&series, "upkeep_monitor_response_seconds", &nightly_labels),
        None
    );

    // Ten days from the newest check, one minute ago.
    assert_eq!(
        value(
            &series,
            "upkeep_monitor_certificate_expiry_seconds",
            &web_labels
        ),
        Some((ten_days - 60) as f64)
    );
    assert_eq!(
        series
            .iter()
            .filter(|s| s.name == "upkeep_monitor_certificate_expiry_seconds")
            .count(),
        1
    );

    // Uptime over 24 h, from the raw results (nothing is rolled up yet).
    let web_window = windowed(&web_labels);
    let database_window = windowed(&database_labels);
    let old_window = windowed(&old_labels);
    let nightly_window = windowed(&nightly_labels);
    assert!(close(
        value(&series, "upkeep_monitor_uptime_ratio", &web_window),
        0.75
    ));
    assert!(close(
        value(&series, "upkeep_monitor_uptime_ratio", &database_window),
        0.0
    ));
    assert!(close(
        value(&series, "upkeep_monitor_uptime_ratio", &old_window),
        1.0
    ));
    assert_eq!(
        value(&series, "upkeep_monitor_uptime_ratio", &nightly_window),
        None,
        "no checks, no ratio"
    );

    // Counts per status, all six listed.
    let counts: BTreeMap<&str, f64> = series
        .iter()
        .filter(|s| s.name == "upkeep_monitors")
        .map(|s| (s.labels["status"].as_str(), s.value))
        .collect();
    let expected: BTreeMap<&str, f64> = [
        ("pending", 1.0),
        ("up", 1.0),
        ("degraded", 0.0),
        ("down", 1.0),
        ("paused", 1.0),
        ("maintenance", 0.0),
    ]
    .into_iter()
    .collect();
    assert_eq!(counts, expected);

    // The snapshot is what a scrape sees: a new result shows only after the next refresh (unless the
    // server's own exporter, 30 s after its start passes, happened to refresh in between).
    let background_passes = || {
        server
            .core()
            .workers
            .list()
            .into_iter()
            .find(|worker| worker.name == "monitor-metrics")
            .map_or(0, |worker| worker.runs)
    };
    let passes_before = background_passes();
    result(&server, database.id, 0, true, 40, json!({})).await;
    let again = parse(&scrape(&server, &token).await);
    if passes_before <= 2 && background_passes() <= 2 {
        assert!(close(
            value(&again, "upkeep_monitor_response_seconds", &database_labels),
            2.0
        ));
    }
    MonitorExporter::new(server.core().clone())
        .refresh(Recompute::Nothing)
        .await
        .expect("refresh");
    let refreshed = parse(&scrape(&server, &token).await);
    assert!(close(
        value(
            &refreshed,
            "upkeep_monitor_response_seconds",
            &database_labels
        ),
        0.04
    ));
    // Uptime not recomputed in a pass is carried over from the previous snapshot.
    assert!(close(
        value(&refreshed, "upkeep_monitor_uptime_ratio", &database_window),
        0.0
    ));
    server.stop().await;
}

async fn label_values_are_escaped(db: TestDb) {
    let server = start(db).await;
    let (_, token) = server.caller("vera@example.com", Role::Viewer).await;
    // Slugs are validated today; a database written by hand (or by an older version) may still hold
    // anything, and the exposition must stay well-formed.
    let slug = "we\"ird\\slug\nx";
    let ctx = audit::context(server.core(), audit::cli_actor(), None);
    server
        .core()
        .storage
        .create_service(
            &ctx,
            NewService {
                slug: slug.into(),
                name: "Weird".into(),
                description: String::new(),
                team_id: None,
                links: Vec::new(),
                depends_on: Vec::new(),
                ping_key: identity::random_hex(12),
            },
        )
        .await
        .expect("service");
    let weird = monitor(&server, slug, spec("Weird", "tcp", Some("127.0.0.1:9"))).await;
    result(&server, weird.id, 1, true, 7, json!({})).await;
    MonitorExporter::new(server.core().clone())
        .run_once()
        .await
        .expect("refresh");
    let text = scrape(&server, &token).await;
    let escaped = format!(
        "upkeep_monitor_up{{monitor_id=\"{}\",service=\"we\\\"ird\\\\slug\\nx\",kind=\"tcp\"}} 1\n",
        weird.id
    );
    assert!(text.contains(&escaped), "{escaped:?} not in:\n{text}");
    // Parsed back, the value is the slug itself, on every per-monitor metric.
    let series = parse(&text);
    let mine: Vec<&Series> = series
        .iter()
        .filter(|s| s.labels.get("monitor_id") == Some(&weird.id.to_string()))
        .collect();
    assert_eq!(mine.len(), 4, "up, paused, response time, uptime: {mine:?}");
    assert!(mine.iter().all(|s| s.labels["service"] == slug));
    server.stop().await;
}

async fn one_series_per_monitor_and_no_urls(db: TestDb) {
    let server = start(db).await;
    let (_, token) = server.caller("vera@example.com", Role::Viewer).await;
    let services = ["api", "billing", "search"];
    for slug in services {
        service(&server, slug).await;
    }
    let kinds: [(&str, Option<&str>); 7] = [
        (
            "http",
            Some("https://secret-{n}.example.test/path?token=abc"),
        ),
        ("http", Some("http://secret-{n}.example.test/")),
        ("tcp", Some("secret-{n}.example.test:5432")),
        ("dns", Some("secret-{n}.example.test")),
        ("tls", Some("secret-{n}.example.test:443")),
        ("icmp", Some("secret-{n}.example.test")),
        ("heartbeat", None),
    ];
    let mut created = Vec::new();
    for n in 0..21 {
        let (kind, url) = kinds[n % kinds.len()];
        let url = url.map(|url| url.replace("{n}", &n.to_string()));
        let name = format!("Monitor number {n}");
        let made = monitor(
            &server,
            services[n % services.len()],
            spec(&name, kind, url.as_deref()),
        )
        .await;
        if n % 2 == 0 && kind != "heartbeat" {
            let details = json!({ "certificate_expires_in_s": 86_400 });
            result(&server, made.id, 1, n % 4 == 0, 10, details).await;
        }
        created.push(made);
    }
    let ctx = audit::context(server.core(), audit::cli_actor(), None);
    monitors::pause(server.core(), &ctx, created[3].id, None)
        .await
        .expect("pause");
    MonitorExporter::new(server.core().clone())
        .run_once()
        .await
        .expect("refresh");
    let text = scrape(&server, &token).await;
    assert!(!text.contains("example.test"), "a URL leaked:\n{text}");
    assert!(!text.contains("Monitor number"), "a name leaked:\n{text}");

    let series = parse(&text);
    let per_monitor: Vec<&Series> = series
        .iter()
        .filter(|s| s.name.starts_with("upkeep_monitor_") && s.labels.contains_key("monitor_id"))
        .collect();
    let mut by_metric: BTreeMap<&str, Vec<&Series>> = BTreeMap::new();
    for s in &per_monitor {
        let keys: BTreeSet<&str> = s.labels.keys().map(String::as_str).collect();
        let allowed: BTreeSet<&str> = if s.name == "upkeep_monitor_uptime_ratio" {
            ["monitor_id", "service", "kind", "window"].into()
        } else {
            ["monitor_id", "service", "kind"].into()
        };
        assert_eq!(keys, allowed, "labels of {s:?}");
        by_metric.entry(s.name.as_str()).or_default().push(s);
    }
    for (metric, list) in &by_metric {
        let ids: BTreeSet<&str> = list
            .iter()
            .map(|s| s.labels["monitor_id"].as_str())
            .collect();
        assert_eq!(ids.len(), list.len(), "{metric}: one series per monitor");
        assert!(list.len() <= created.len(), "{metric}");
    }
    // Every monitor has exactly one pause series: the cardinality is the number of monitors.
    assert_eq!(by_metric["upkeep_monitor_paused"].len(), created.len());
    let all_ids: BTreeSet<String> = per_monitor
        .iter()
        .map(|s| s.labels["monitor_id"].clone())
        .collect();
    let expected: BTreeSet<String> = created.iter().map(|m| m.id.to_string()).collect();
    assert_eq!(all_ids, expected);
    // Certificates only for the https and tls monitors that have a result.
    let with_certificate: BTreeSet<&str> = by_metric["upkeep_monitor_certificate_expiry_seconds"]
        .iter()
        .map(|s| s.labels["kind"].as_str())
        .collect();
    assert!(
        with_certificate.is_subset(&["http", "tls"].into()),
        "{with_certificate:?}"
    );
    let total: f64 = series
        .iter()
        .filter(|s| s.name == "upkeep_monitors")
        .map(|s| s.value)
        .sum();
    assert_eq!(total, created.len() as f64);
    server.stop().await;
}

const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

fn floor_to(ms: i64, width: i64) -> i64 {
    ms.div_euclid(width) * width
}

/// 2,000 monitors with the rollups a steady day at a 60 s interval leaves (hour buckets in the middle of
/// the 24 h window, minute buckets at its edges): what a full pass (uptime and certificates), a pass with
/// nothing recomputed, the worker's usual pass (a tenth recomputed)
/// and a scrape cost. The figures are printed for the exporter's documentation.
async fn a_refresh_of_two_thousand_monitors_is_cheap_enough(db: TestDb) {
    const MONITORS: usize = 2_000;
    let backend = db.backend;
    let server = start(db).await;
    let (_, token) = server.caller("vera@example.com", Role::Viewer).await;
    service(&server, "api").await;
    let started = Instant::now();
    let mut ids = Vec::with_capacity(MONITORS);
    for n in 0..MONITORS {
        let url = format!("https://target-{n}.example.test/");
        let made = monitor(&server, "api", spec(&format!("m{n}"), "http", Some(&url))).await;
        ids.push(made.id);
    }
    let creating = started.elapsed();

    let now = server.core().now().as_millisecond();
    let window_start = now - DAY;
    let hour_mark = floor_to(now, HOUR);
    let minute_mark = floor_to(now - MINUTE, MINUTE);
    let mut sketch = LatencySketch::new();
    for ms in [80.0, 95.0, 120.0] {
        sketch.insert(ms);
    }
    let sketch = sketch.to_bytes();
    let row = |monitor_id: i64, resolution: Resolution, bucket_start: i64, checks: i64| RollupRow {
        monitor_id,
        resolution,
        bucket_start,
        checks,
        failures: i64::from(monitor_id % 10 == 0),
        timed: checks,
        min_ms: Some(80),
        max_ms: Some(120),
        sum_ms: 95 * checks,
        sketch: sketch.clone(),
    };
    let mut hours = Vec::new();
    let mut minutes = Vec::new();
    for &id in &ids {
        let mut at = floor_to(window_start, HOUR);
        while at < hour_mark {
            hours.push(row(id, Resolution::Hour, at, 60));
            at += HOUR;
        }
        let mut at = floor_to(window_start, MINUTE);
        while at < floor_to(window_start, HOUR) + HOUR {
            minutes.push(row(id, Resolution::Minute, at, 1));
            at += MINUTE;
        }
        let mut at = hour_mark;
        while at < minute_mark {
            minutes.push(row(id, Resolution::Minute, at, 1));
            at += MINUTE;
        }
    }
    let storage = &server.core().storage;
    assert!(
        storage
            .store_rollups(Resolution::Hour, &hours, None, hour_mark)
            .await
            .expect("hours")
    );
    assert!(
        storage
            .store_rollups(Resolution::Minute, &minutes, None, minute_mark)
            .await
            .expect("minutes")
    );
    assert!(
        storage
            .store_rollups(Resolution::Day, &[], None, floor_to(now, DAY))
            .await
            .expect("days")
    );
    // The newest result of each monitor, with its certificate, all at once so the writer batches them.
    let mut stored = tokio::task::JoinSet::new();
    for &id in &ids {
        let core = server.core().clone();
        stored.spawn(async move {
            let outcome = CheckOutcome {
                at: core.now(),
                success: true,
                duration_ms: 90,
                error: None,
            };
            let details = json!({ "certificate_expires_in_s": 30 * 86_400 });
            core.ingest
                .check(&core, id, outcome, Some(200), details)
                .await
        });
    }
    while let Some(done) = stored.join_next().await {
        done.expect("the task ends").expect("the result is stored");
    }
    let seeding = started.elapsed() - creating;

    let exporter = MonitorExporter::new(server.core().clone());
    let full_started = Instant::now();
    let full = exporter.run_once().await.expect("full pass");
    let full_took = full_started.elapsed();
    assert_eq!(full.monitors, MONITORS);
    assert_eq!(full.uptimes, MONITORS);
    assert_eq!(full.certificates, MONITORS);

    let fast_started = Instant::now();
    let fast = exporter
        .refresh(Recompute::Nothing)
        .await
        .expect("fast pass");
    let fast_took = fast_started.elapsed();
    assert_eq!(
        (fast.monitors, fast.uptimes, fast.certificates),
        (MONITORS, 0, 0)
    );

    let slice_started = Instant::now();
    let slice = exporter
        .refresh(Recompute::Slice {
            index: 0,
            of: SLICES,
        })
        .await
        .expect("a pass with one slice");
    let slice_took = slice_started.elapsed();
    assert_eq!(slice.monitors, MONITORS);
    assert!(
        slice.uptimes > 0 && slice.uptimes < MONITORS / 5,
        "{slice:?}"
    );

    let scrape_started = Instant::now();
    let text = scrape(&server, &token).await;
    let scrape_took = scrape_started.elapsed();
    let series = parse(&text);
    let first = ids[1].to_string();
    let ratio = value(
        &series,
        "upkeep_monitor_uptime_ratio",
        &[
            ("monitor_id", &first),
            ("service", "api"),
            ("kind", "http"),
            ("window", "24h"),
        ],
    )
    .expect("an uptime ratio");
    assert!(ratio > 0.0 && ratio <= 1.0, "{ratio}");
    assert_eq!(
        series
            .iter()
            .filter(|s| s.name == "upkeep_monitor_uptime_ratio")
            .count(),
        MONITORS
    );
    eprintln!(
        "monitor exporter on {backend}: {MONITORS} monitors ({} hour and {} minute rollup rows; created in {creating:.1?}, seeded in {seeding:.1?}): \
         full pass {full_took:.2?} ({:.2} ms per monitor, {:.1} s for 10,000), fast pass {fast_took:.2?}, pass with a tenth recomputed {slice_took:.2?}, \
         scrape {scrape_took:.2?} ({} bytes)",
        hours.len(),
        minutes.len(),
        full_took.as_secs_f64() * 1000.0 / MONITORS as f64,
        full_took.as_secs_f64() * 10_000.0 / MONITORS as f64,
        text.len(),
    );
    server.stop().await;
}

//! History without growth, on both backends: three days of raw results and heartbeat pings rolled up
//! into minute, hour and day buckets by the real worker under a manual clock; counts, failures and
//! latency quantiles checked against the raw data; uptime over 24 h and 7 d; running twice (and on two
//! workers at once) changes nothing; retention prunes raw data and fine buckets but keeps what covers
//! them; the SLO error budget over HTTP. Last, the steady-state database size per monitor on SQLite
//! (figures printed; see `BENCHMARKS.md`).

use std::sync::Arc;

use jiff::Timestamp;
use reqwest::StatusCode;
use serde_json::{Value, json};
use upkeep_core::clock::ManualClock;
use upkeep_core::config::Config;
use upkeep_core::monitors::rollup::{self, RollupReport, RollupWorker};
use upkeep_core::monitors::{self, CheckOutcome, MonitorSpec, apply_check};
use upkeep_core::storage::{
    CheckResult, HeartbeatPing, Monitor, MonitorState, MonitorWrite, Resolution, Role, RollupRow,
};
use upkeep_core::{Core, audit, catalog};

use crate::support::databases::{self, Backend, TestDb, backend_tests};
use crate::support::server::TestServer;

backend_tests!(
    three_days_roll_up_into_minutes_hours_and_days,
    uptime_and_the_slo_error_budget_over_http,
);

const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

/// A UTC midnight, so day buckets line up with the generated days.
const DAY0: i64 = 20_800 * DAY;

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).expect("a valid test time")
}

/// One generated sample, the ground truth the rollups are checked against.
#[derive(Debug, Clone, Copy)]
struct Truth {
    at: i64,
    success: bool,
    duration_ms: Option<i64>,
}

/// A small deterministic generator (no flakes, no extra crate).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 11) as f64) / ((1u64 << 53) as f64)
    }
}

/// Checks, failures and sorted durations of the samples with `from <= at < to`.
fn expected(truth: &[Truth], from: i64, to: i64) -> (i64, i64, Vec<i64>) {
    let inside: Vec<&Truth> = truth
        .iter()
        .filter(|sample| sample.at >= from && sample.at < to)
        .collect();
    let failures = inside.iter().filter(|sample| !sample.success).count();
    let mut durations: Vec<i64> = inside.iter().filter_map(|s| s.duration_ms).collect();
    durations.sort_unstable();
    (inside.len() as i64, failures as i64, durations)
}

/// The value of rank ⌊q·(n−1)⌋, which the sketch promises to approximate within 1 %.
fn exact_quantile(sorted: &[i64], q: f64) -> f64 {
    sorted[(q * (sorted.len() - 1) as f64).floor() as usize] as f64
}

fn assert_within_one_percent(what: &str, got: Option<f64>, want: f64) {
    let got = got.unwrap_or_else(|| panic!("{what}: no value"));
    assert!(
        (got - want).abs() <= want * 0.01 + 1e-9,
        "{what}: {got} is not within 1 % of {want}"
    );
}

/// A row's figures must equal the raw samples of its bucket, quantiles within 1 %.
fn assert_row_matches(row: &RollupRow, truth: &[Truth]) {
    let width = row.resolution.millis();
    let (checks, failures, durations) = expected(truth, row.bucket_start, row.bucket_start + width);
    let what = format!(
        "{} bucket at {}",
        row.resolution.as_str(),
        ts(row.bucket_start)
    );
    assert_eq!(row.checks, checks, "{what}: checks");
    assert_eq!(row.failures, failures, "{what}: failures");
    assert_eq!(row.timed, durations.len() as i64, "{what}: timed");
    assert_eq!(row.min_ms, durations.first().copied(), "{what}: min");
    assert_eq!(row.max_ms, durations.last().copied(), "{what}: max");
    assert_eq!(row.sum_ms, durations.iter().sum::<i64>(), "{what}: sum");
    let sketch =
        upkeep_core::monitors::sketch::LatencySketch::from_bytes(&row.sketch).expect("sketch");
    assert_eq!(
        sketch.count(),
        durations.len() as u64,
        "{what}: sketch count"
    );
    if !durations.is_empty() {
        for q in [0.5, 0.95, 0.99] {
            assert_within_one_percent(
                &format!("{what} p{}", q * 100.0),
                sketch.quantile(q),
                exact_quantile(&durations, q),
            );
        }
    }
}

async fn service(core: &Core, slug: &str) {
    let ctx = audit::context(core, audit::cli_actor(), None);
    catalog::create_service(
        core,
        &ctx,
        catalog::ServiceInput {
            slug: slug.into(),
            ..Default::default()
        },
    )
    .await
    .expect("service");
}

async fn monitor(core: &Core, service: &str, spec: MonitorSpec) -> Monitor {
    let ctx = audit::context(core, audit::cli_actor(), None);
    monitors::create_monitor(core, &ctx, service, &spec, None)
        .await
        .expect("monitor")
}

fn http_spec(name: &str) -> MonitorSpec {
    MonitorSpec {
        name: name.into(),
        kind: "http".into(),
        url: Some(format!(
            "https://{}.example.test/health",
            name.to_lowercase()
        )),
        interval: Some("60s".into()),
        ..MonitorSpec::default()
    }
}

fn heartbeat_spec(name: &str) -> MonitorSpec {
    MonitorSpec {
        name: name.into(),
        kind: "heartbeat".into(),
        period: Some("15m".into()),
        grace: Some("5m".into()),
        ..MonitorSpec::default()
    }
}

/// What the HTTP check engine stores as a result's details (phase timings and condition outcomes).
fn details(duration_ms: i64, status: i32) -> Value {
    let total = duration_ms as f64;
    json!({
        "timings_ms": {"dns": 1.4, "connect": total * 0.2, "tls": total * 0.3, "first_byte": total * 0.9, "total": total},
        "conditions": [{"condition": "[STATUS] == 200", "success": status == 200, "explanation": format!("[STATUS] ({status}) == 200")}],
        "ip": "10.20.30.40",
        "certificate_expires_in_s": 6_912_000,
        "dns_rcode": null,
        "error": null,
    })
}

fn check_write(monitor_id: i64, truth: &Truth) -> MonitorWrite {
    let duration_ms = truth.duration_ms.unwrap_or_default();
    let status = if truth.success { 200 } else { 503 };
    MonitorWrite {
        monitor_id,
        state: MonitorState::pending(),
        event: None,
        ping: None,
        result: Some(CheckResult {
            id: 0,
            monitor_id,
            at: ts(truth.at),
            success: truth.success,
            duration_ms,
            status_code: Some(status),
            error: (!truth.success).then(|| "[STATUS] (503) == 200".to_string()),
            details: details(duration_ms, status),
        }),
    }
}

fn ping_write(monitor_id: i64, at: i64, kind: &str, duration_ms: Option<i64>) -> MonitorWrite {
    MonitorWrite {
        monitor_id,
        state: MonitorState::pending(),
        event: None,
        ping: Some(HeartbeatPing {
            id: 0,
            monitor_id,
            at: ts(at),
            kind: kind.to_string(),
            exit_status: (kind == "fail").then_some(1),
            rid: duration_ms.map(|_| "5a1c7f5e-0000-4000-a000-000000000001".to_string()),
            duration_ms,
            body: Some("backup done".to_string()),
            method: "POST".to_string(),
            remote_addr: Some("10.0.0.9".to_string()),
            user_agent: Some("curl/8.5.0".to_string()),
        }),
        result: None,
    }
}

async fn write_all(core: &Core, writes: Vec<MonitorWrite>) {
    for batch in writes.chunks(500) {
        core.storage
            .apply_monitor_writes(batch)
            .await
            .expect("write a batch");
    }
}

/// A check every minute from `from` to `to` (exclusive), with a long-tailed latency and a failure
/// (a 10 s timeout) every 53rd check.
fn checks_between(rng: &mut Lcg, from: i64, to: i64) -> Vec<Truth> {
    let mut truth = Vec::new();
    let mut at = from;
    let mut n = 0u64;
    while at < to {
        n += 1;
        let failed = n.is_multiple_of(53);
        let duration = if failed {
            10_000
        } else {
            40 + (900.0 * rng.next().powi(3)) as i64 + (rng.next() * 20.0) as i64
        };
        truth.push(Truth {
            at,
            success: !failed,
            duration_ms: Some(duration),
        });
        at += MINUTE;
    }
    truth
}

/// Heartbeat runs every 15 minutes: `/start`, then success (or every 7th run fail) with the run's
/// duration; every 5th run a plain success ping without a start (no duration); a `/log` now and then.
/// Returns the writes and the samples that count as checks.
fn heartbeat_runs(
    rng: &mut Lcg,
    monitor_id: i64,
    from: i64,
    to: i64,
) -> (Vec<MonitorWrite>, Vec<Truth>) {
    let mut writes = Vec::new();
    let mut truth = Vec::new();
    let mut at = from;
    let mut run = 0u64;
    // Every run completes (at most 62 s after it starts) before `to`.
    while at + 62_000 < to {
        run += 1;
        if run.is_multiple_of(5) {
            writes.push(ping_write(monitor_id, at, "success", None));
            truth.push(Truth {
                at,
                success: true,
                duration_ms: None,
            });
        } else {
            let duration = 2_000 + (rng.next() * 60_000.0) as i64;
            let kind = if run.is_multiple_of(7) {
                "fail"
            } else {
                "success"
            };
            writes.push(ping_write(monitor_id, at, "start", None));
            let done = at + duration;
            writes.push(ping_write(monitor_id, done, kind, Some(duration)));
            truth.push(Truth {
                at: done,
                success: kind == "success",
                duration_ms: Some(duration),
            });
        }
        if run.is_multiple_of(3) {
            writes.push(ping_write(monitor_id, at + 1_000, "log", None));
        }
        at += 15 * MINUTE;
    }
    (writes, truth)
}

async fn all_rows(core: &Core, monitor_id: i64, resolution: Resolution) -> Vec<RollupRow> {
    core.storage
        .rollups(monitor_id, resolution, i64::MIN, i64::MAX)
        .await
        .expect("rollups")
}

async fn raw_count(core: &Core, monitor_id: i64, from: i64, to: i64) -> usize {
    core.storage
        .raw_samples(from, to, Some(monitor_id), u32::MAX)
        .await
        .expect("raw samples")
        .len()
}

async fn three_days_roll_up_into_minutes_hours_and_days(db: TestDb) {
    // "Now" is three days, an hour and a half after a UTC midnight.
    let now = DAY0 + 3 * DAY + 90 * MINUTE + 30_000;
    let clock = Arc::new(ManualClock::new(ts(DAY0)));
    let core = Core::new(db.storage.clone(), clock.clone(), Config::default());
    service(&core, "billing").await;
    let http = monitor(&core, "billing", http_spec("Checkout")).await;
    let cron = monitor(&core, "billing", heartbeat_spec("Nightly backup")).await;

    let mut rng = Lcg(2024);
    // Checks up to 15 s before now: the last minute is not rolled up yet (it is the raw tail).
    let http_truth = checks_between(&mut rng, DAY0 + 15_000, now - 15_000);
    let (ping_writes, cron_truth) = heartbeat_runs(&mut rng, cron.id, DAY0 + 120_000, now - 60_000);
    let mut writes: Vec<MonitorWrite> = http_truth
        .iter()
        .map(|truth| check_write(http.id, truth))
        .collect();
    writes.extend(ping_writes);
    write_all(&core, writes).await;

    clock.set(ts(now));
    let worker = RollupWorker::new(core.clone());
    let report = worker.run_once().await.expect("roll up");
    let minute_mark = now - 30_000 - MINUTE; // the last whole minute older than the lag
    assert_eq!(
        core.storage
            .rollup_watermark(Resolution::Minute)
            .await
            .expect("watermark"),
        Some(minute_mark)
    );
    assert_eq!(
        core.storage
            .rollup_watermark(Resolution::Hour)
            .await
            .expect("watermark"),
        Some(DAY0 + 3 * DAY + HOUR)
    );
    assert_eq!(
        core.storage
            .rollup_watermark(Resolution::Day)
            .await
            .expect("watermark"),
        Some(DAY0 + 3 * DAY)
    );
    assert!(report.minute_buckets > 4_000, "{report:?}");
    assert_eq!(report.hour_buckets, 2 * (3 * 24 + 1), "{report:?}");
    assert_eq!(report.day_buckets, 2 * 3, "{report:?}");

    // Minute buckets: only the last 48 h are kept, one check each, matching the raw data.
    let kept_from = now - 48 * HOUR;
    let minutes = all_rows(&core, http.id, Resolution::Minute).await;
    let first_kept = (kept_from + MINUTE - 1) / MINUTE * MINUTE;
    assert_eq!(
        minutes.first().map(|row| row.bucket_start),
        Some(first_kept)
    );
    assert_eq!(minutes.len() as i64, (minute_mark - first_kept) / MINUTE);
    for row in &minutes {
        assert_eq!(row.checks, 1);
        assert_row_matches(row, &http_truth);
    }

    // Hour buckets: all 73 complete hours, each matching the raw data.
    let hours = all_rows(&core, http.id, Resolution::Hour).await;
    assert_eq!(hours.len(), 73);
    assert_eq!(hours[0].bucket_start, DAY0);
    for row in &hours {
        assert_row_matches(row, &http_truth);
    }
    assert_eq!(hours[1].checks, 60);

    // Day buckets: three whole UTC days.
    let days = all_rows(&core, http.id, Resolution::Day).await;
    let starts: Vec<i64> = days.iter().map(|row| row.bucket_start).collect();
    assert_eq!(starts, vec![DAY0, DAY0 + DAY, DAY0 + 2 * DAY]);
    for row in &days {
        assert_row_matches(row, &http_truth);
    }
    assert_eq!(days[1].checks, 1_440);
    assert!(days[1].failures >= 27, "{:?}", days[1]);

    // The heartbeat: success and fail pings are checks; start and log pings are not; durations only
    // where a run was started.
    let cron_hours = all_rows(&core, cron.id, Resolution::Hour).await;
    assert_eq!(cron_hours.len(), 73);
    for row in &cron_hours {
        assert_row_matches(row, &cron_truth);
    }
    for row in &all_rows(&core, cron.id, Resolution::Day).await {
        assert_row_matches(row, &cron_truth);
    }

    // Uptime over 24 h and 7 d equals what the raw data says; quantiles within 1 %.
    for (window, from) in [
        (rollup::Window::Day, now - DAY),
        (rollup::Window::Week, i64::MIN),
    ] {
        for (monitor_id, truth) in [(http.id, &http_truth), (cron.id, &cron_truth)] {
            let figures = rollup::uptime(&core, monitor_id, window.duration())
                .await
                .expect("uptime");
            let (checks, failures, durations) = expected(truth, from, now);
            let what = format!("monitor {monitor_id} over {}", window.as_str());
            assert_eq!(figures.checks, checks, "{what}: checks");
            assert_eq!(figures.failures, failures, "{what}: failures");
            let ratio = figures.uptime.expect("uptime ratio");
            assert!(
                (ratio - (checks - failures) as f64 / checks as f64).abs() < 1e-12,
                "{what}"
            );
            assert_eq!(figures.latency.samples, durations.len() as i64, "{what}");
            assert_eq!(figures.latency.min_ms, durations.first().copied(), "{what}");
            assert_eq!(figures.latency.max_ms, durations.last().copied(), "{what}");
            let mean = durations.iter().sum::<i64>() as f64 / durations.len() as f64;
            assert!(
                (figures.latency.mean_ms.expect("mean") - mean).abs() < 1e-6,
                "{what}"
            );
            for (q, got) in [
                (0.5, figures.latency.p50_ms),
                (0.95, figures.latency.p95_ms),
                (0.99, figures.latency.p99_ms),
            ] {
                assert_within_one_percent(
                    &format!("{what} p{}", q * 100.0),
                    got,
                    exact_quantile(&durations, q),
                );
            }
        }
    }
    // The 24 h window starts exactly 24 h ago (raw data reaches that far back).
    let day = rollup::uptime(&core, http.id, rollup::Window::Day.duration())
        .await
        .expect("uptime");
    assert_eq!(day.from, ts(now - DAY));
    assert_eq!(day.to, ts(now));

    // Retention: raw samples older than 48 h are gone, younger ones kept; hours and days kept.
    assert_eq!(raw_count(&core, http.id, i64::MIN, kept_from).await, 0);
    let (young, _, _) = expected(&http_truth, kept_from, now);
    assert_eq!(
        raw_count(&core, http.id, kept_from, now).await as i64,
        young
    );
    assert!(report.raw_pruned > 0, "{report:?}");

    // Idempotence: a second pass at the same time writes and deletes nothing.
    let mut before = Vec::new();
    for resolution in Resolution::ALL {
        for id in [http.id, cron.id] {
            before.push(all_rows(&core, id, resolution).await);
        }
    }
    let again = worker.run_once().await.expect("roll up again");
    assert_eq!(again, RollupReport::default());
    clock.set(ts(now + 20_000));
    assert_eq!(
        worker.run_once().await.expect("roll up within the minute"),
        RollupReport::default()
    );
    let mut after = Vec::new();
    for resolution in Resolution::ALL {
        for id in [http.id, cron.id] {
            after.push(all_rows(&core, id, resolution).await);
        }
    }
    assert_eq!(before, after);

    // Two workers at once (two scheduler nodes) write each new bucket once.
    let later = now + 10 * MINUTE;
    let more = checks_between(&mut rng, now - 15_000, later - 2 * MINUTE);
    write_all(
        &core,
        more.iter()
            .map(|truth| check_write(http.id, truth))
            .collect(),
    )
    .await;
    let mut http_truth = http_truth;
    http_truth.extend(more);
    clock.set(ts(later));
    let other = RollupWorker::new(core.clone());
    let (first, second) = tokio::join!(worker.run_once(), other.run_once());
    let (first, second) = (first.expect("first worker"), second.expect("second worker"));
    assert_eq!(first.minute_buckets + second.minute_buckets, 10);
    let recent = core
        .storage
        .rollups(http.id, Resolution::Minute, minute_mark, later)
        .await
        .expect("rollups");
    assert_eq!(recent.len(), 10);
    for row in &recent {
        assert_eq!(row.checks, 1);
        assert_row_matches(row, &http_truth);
    }

    // 91 days on: minutes and raw data are gone, hours of the first days too, days remain, and the
    // year's uptime still counts every check.
    let much_later = now + 91 * DAY;
    clock.set(ts(much_later));
    worker.run_once().await.expect("roll up 91 days later");
    assert!(
        all_rows(&core, http.id, Resolution::Minute)
            .await
            .is_empty()
    );
    assert_eq!(raw_count(&core, http.id, i64::MIN, i64::MAX).await, 0);
    let hours = all_rows(&core, http.id, Resolution::Hour).await;
    assert!(
        hours
            .iter()
            .all(|row| row.bucket_start >= much_later - 90 * DAY),
        "old hours are pruned"
    );
    let days = all_rows(&core, http.id, Resolution::Day).await;
    assert_eq!(days.len(), 4);
    for row in &days {
        assert_row_matches(row, &http_truth);
    }
    let year = rollup::uptime(&core, http.id, rollup::Window::Year.duration())
        .await
        .expect("uptime");
    let (checks, failures, _) = expected(&http_truth, i64::MIN, i64::MAX);
    assert_eq!((year.checks, year.failures), (checks, failures));
}

async fn send(
    server: &TestServer,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = server
        .client
        .request(method, server.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("send");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn uptime_and_the_slo_error_budget_over_http(db: TestDb) {
    let server = TestServer::start(db).await;
    let core = server.core().clone();
    let (_, writer) = server.caller("sre@example.com", Role::Responder).await;
    let (_, viewer) = server.caller("viewer@example.com", Role::Viewer).await;
    service(&core, "shop").await;
    let api = monitor(&core, "shop", http_spec("Shop API")).await;

    // Two days of checks, one a minute, from the server's start on (its rollup worker has already run
    // once, so earlier samples would be older than its watermark); 20 of them failed.
    let start = core.now().as_millisecond() + 1_000;
    let now = start + 2 * DAY + 2 * MINUTE;
    let mut truth = Vec::new();
    let mut at = start;
    let mut n = 0;
    while at < start + 2 * DAY {
        n += 1;
        truth.push(Truth {
            at,
            success: n % 144 != 0,
            duration_ms: Some(100 + n % 50),
        });
        at += MINUTE;
    }
    write_all(
        &core,
        truth
            .iter()
            .map(|sample| check_write(api.id, sample))
            .collect(),
    )
    .await;
    server.clock.set(ts(now));
    RollupWorker::new(core.clone())
        .run_once()
        .await
        .expect("roll up");

    let path = format!("/api/v1/monitors/{}/slo", api.id);
    let (status, body) = send(
        &server,
        &writer,
        "PUT",
        &path,
        Some(json!({"target": 0.99, "window_days": 30})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["target"], 0.99);
    assert_eq!(body["window_days"], 30);
    // The SLO sits in the settings next to the definition, which is unchanged.
    let (_, shown) = send(
        &server,
        &viewer,
        "GET",
        &format!("/api/v1/monitors/{}", api.id),
        None,
    )
    .await;
    assert_eq!(
        shown["settings"]["slo"],
        json!({"target": 0.99, "window_days": 30})
    );
    assert_eq!(shown["settings"]["url"], api.settings["url"]);

    let uptime = format!("/api/v1/monitors/{}/uptime", api.id);
    let (status, body) = send(
        &server,
        &viewer,
        "GET",
        &format!("{uptime}?window=30d"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (checks, failures, durations) = expected(&truth, i64::MIN, i64::MAX);
    assert_eq!(body["window"], "30d");
    assert_eq!(body["checks"], checks);
    assert_eq!(body["failures"], failures);
    let ratio = body["uptime"].as_f64().expect("ratio");
    assert!((ratio - (checks - failures) as f64 / checks as f64).abs() < 1e-12);
    assert_within_one_percent(
        "p95",
        body["latency_ms"]["p95"].as_f64(),
        exact_quantile(&durations, 0.95),
    );
    assert_eq!(body["slo"]["target"], 0.99);
    assert_eq!(body["slo"]["checks"], checks);
    assert_eq!(body["slo"]["met"], true);
    // 1 % of the checks may fail; 20 did.
    let allowed = 0.01 * checks as f64;
    let budget = &body["error_budget"];
    assert_eq!(failures, 20);
    assert!(
        (budget["allowed_failures"].as_f64().expect("allowed") - allowed).abs() < 1e-6,
        "{budget}"
    );
    assert_eq!(budget["used"], 20);
    assert!(
        (budget["remaining"].as_f64().expect("remaining") - (allowed - 20.0)).abs() < 1e-6,
        "{budget}"
    );
    assert!(
        (budget["remaining_ratio"].as_f64().expect("ratio") - (allowed - 20.0) / allowed).abs()
            < 1e-9,
        "{budget}"
    );

    // A stricter objective is missed: the budget is overdrawn.
    let (status, _) = send(
        &server,
        &writer,
        "PUT",
        &path,
        Some(json!({"target": 0.999, "window_days": 7})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = send(&server, &viewer, "GET", &uptime, None).await;
    assert_eq!(body["window"], "24h");
    assert_eq!(body["slo"]["met"], false);
    let remaining = body["error_budget"]["remaining"]
        .as_f64()
        .expect("remaining");
    assert!(
        (remaining - (0.001 * checks as f64 - 20.0)).abs() < 1e-6,
        "{body}"
    );
    assert!(
        body["error_budget"]["remaining_ratio"]
            .as_f64()
            .expect("ratio")
            < 0.0
    );

    // Bad input names its field.
    for (bad, field) in [
        (json!({"target": 1.5, "window_days": 30}), "target"),
        (json!({"target": 0.99, "window_days": 0}), "window_days"),
        (
            json!({"target": 0.99, "window_days": 30, "extra": 1}),
            "extra",
        ),
    ] {
        let (status, body) = send(&server, &writer, "PUT", &path, Some(bad.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_eq!(body["error"]["field"], field, "{bad}: {body}");
    }
    let (status, body) = send(
        &server,
        &viewer,
        "GET",
        &format!("{uptime}?window=2w"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "window");
    let (status, _) = send(
        &server,
        &viewer,
        "GET",
        "/api/v1/monitors/999999/uptime",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(
        &server,
        &viewer,
        "PUT",
        &path,
        Some(json!({"target": 0.9, "window_days": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Removing the SLO removes the budget.
    let (status, _) = send(&server, &writer, "DELETE", &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, body) = send(&server, &viewer, "GET", &uptime, None).await;
    assert_eq!(body["slo"], Value::Null);
    assert_eq!(body["error_budget"], Value::Null);
    assert_eq!(body["checks"], expected(&truth, now - DAY, now).0);
    server.stop().await;
}

/// Steady-state database size per monitor on SQLite. Writes 48 h of one-a-minute HTTP results (with the
/// details the check engine stores) for `UPKEEP_SIZE_MONITORS` monitors (default 10) through the storage
/// write path, runs the rollup worker, measures bytes per stored row of each kind with `dbstat`, and
/// extrapolates to the retention rules. Run it with
/// `UPKEEP_SIZE_MONITORS=100 cargo nextest run -p upkeep --test it steady_state_size --no-capture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_state_size_per_monitor_on_sqlite() {
    let count: i64 = std::env::var("UPKEEP_SIZE_MONITORS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(10);
    let db = databases::fresh_storage(Backend::Sqlite).await;
    let clock = Arc::new(ManualClock::new(ts(DAY0)));
    let core = Core::new(db.storage.clone(), clock.clone(), Config::default());
    service(&core, "fleet").await;
    let mut fleet = Vec::new();
    for n in 0..count {
        fleet.push(monitor(&core, "fleet", http_spec(&format!("Target {n}"))).await);
    }

    // 48 h and 2 minutes of checks, one a minute per monitor, through the state machine.
    let end = DAY0 + 2 * DAY + 2 * MINUTE;
    let mut rng = Lcg(99);
    let mut states: Vec<MonitorState> = fleet.iter().map(|m| m.state.clone()).collect();
    let mut at = DAY0;
    let mut batch = Vec::new();
    let mut results = 0u64;
    while at < end {
        for (index, monitor) in fleet.iter().enumerate() {
            let offset = (monitor.id * 977) % MINUTE;
            let failed = rng.next() < 0.002;
            let duration = 40 + (900.0 * rng.next().powi(3)) as i64;
            let outcome = CheckOutcome {
                at: ts(at + offset),
                success: !failed,
                duration_ms: if failed { 10_000 } else { duration },
                error: failed.then(|| "[STATUS] (503) == 200".to_string()),
            };
            let (state, event) = apply_check(&states[index], &outcome, 3, 2);
            states[index] = state.clone();
            let truth = Truth {
                at: at + offset,
                success: outcome.success,
                duration_ms: Some(outcome.duration_ms),
            };
            let mut write = check_write(monitor.id, &truth);
            write.state = state;
            write.event = event;
            batch.push(write);
            results += 1;
        }
        if batch.len() >= 2_000 {
            core.storage
                .apply_monitor_writes(&batch)
                .await
                .expect("write");
            batch.clear();
        }
        at += MINUTE;
    }
    core.storage
        .apply_monitor_writes(&batch)
        .await
        .expect("write");
    clock.set(ts(end));
    let started = std::time::Instant::now();
    let report = RollupWorker::new(core.clone())
        .run_once()
        .await
        .expect("roll up");
    let rollup_time = started.elapsed();

    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db.url)
        .await
        .expect("open the file");
    let scalar = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql);
    let page_size = scalar("PRAGMA page_size")
        .fetch_one(&mut conn)
        .await
        .expect("page size");
    let pages = scalar("PRAGMA page_count")
        .fetch_one(&mut conn)
        .await
        .expect("pages");
    let free = scalar("PRAGMA freelist_count")
        .fetch_one(&mut conn)
        .await
        .expect("free pages");
    let bytes_of = |names: &'static str| {
        sqlx::query_scalar::<_, i64>(
            "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name IN (SELECT value FROM json_each($1))",
        )
        .bind(names)
    };
    let raw_bytes = bytes_of(r#"["check_results","check_results_monitor","check_results_at"]"#)
        .fetch_one(&mut conn)
        .await
        .expect("dbstat (SQLite built with SQLITE_ENABLE_DBSTAT_VTAB)");
    let rollup_bytes = bytes_of(r#"["monitor_rollups","monitor_rollups_time"]"#)
        .fetch_one(&mut conn)
        .await
        .expect("dbstat");
    let raw_rows = scalar("SELECT COUNT(*) FROM check_results")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    let rollup_rows = scalar("SELECT COUNT(*) FROM monitor_rollups")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    let sketch_all: f64 = sqlx::query_scalar("SELECT AVG(length(sketch)) FROM monitor_rollups")
        .fetch_one(&mut conn)
        .await
        .expect("average sketch");
    let mut per_row = Vec::new();
    for resolution in Resolution::ALL {
        let sketch: Option<f64> = sqlx::query_scalar(
            "SELECT AVG(length(sketch)) FROM monitor_rollups WHERE resolution = $1",
        )
        .bind(resolution.as_str())
        .fetch_one(&mut conn)
        .await
        .expect("average sketch");
        // The table's bytes per row, corrected by how much this resolution's sketches differ.
        let bytes =
            rollup_bytes as f64 / rollup_rows as f64 + sketch.unwrap_or(sketch_all) - sketch_all;
        per_row.push((resolution, bytes));
    }
    let raw_per_row = raw_bytes as f64 / raw_rows as f64;
    let kept_rows = |resolution: Resolution| {
        (rollup::retention(resolution).as_millis() as i64 / resolution.millis()) as f64
    };
    let raw_steady = raw_per_row * kept_rows(Resolution::Minute);
    let mut steady = raw_steady;
    println!(
        "monitors: {count}; results written: {results}; rollup pass: {rollup_time:?} ({report:?})"
    );
    println!(
        "file now: {} bytes ({} pages of {page_size}, {free} free) = {:.0} bytes per monitor",
        pages * page_size,
        pages,
        (pages * page_size) as f64 / count as f64
    );
    println!(
        "raw result: {raw_per_row:.0} bytes per row (table + indexes) x 2880 = {raw_steady:.0} bytes per monitor"
    );
    for (resolution, bytes) in &per_row {
        let rows = kept_rows(*resolution);
        steady += bytes * rows;
        println!(
            "{} rollup: {bytes:.0} bytes per row x {rows} = {:.0} bytes per monitor",
            resolution.as_str(),
            bytes * rows
        );
    }
    println!(
        "steady state: {:.0} bytes ({:.2} MiB) per monitor at a 60 s interval",
        steady,
        steady / 1_048_576.0
    );
    assert!(raw_rows as u64 <= results);
    assert!(steady > 0.0);
    drop(db);
}

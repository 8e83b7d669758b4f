//! Prometheus exposition for `/metrics`: HTTP request counts and latency histograms by route template
//! (bounded labels), database pool figures, worker errors and build info, and per-monitor figures from the
//! in-memory snapshot the monitor exporter keeps (no database work per scrape). Hand-written because the
//! format is small and this keeps the hot path to one short lock.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    durations: BTreeMap<(String, String), Histogram>,
}

pub struct Metrics {
    inner: Mutex<Inner>,
    started: Instant,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            started: Instant::now(),
        }
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        if let Ok(mut inner) = self.inner.lock() {
            *inner
                .requests
                .entry((method.to_string(), route.to_string(), status))
                .or_default() += 1;
            let histogram = inner
                .durations
                .entry((method.to_string(), route.to_string()))
                .or_default();
            histogram.count += 1;
            histogram.sum += seconds;
            for (index, bound) in BUCKETS.iter().enumerate() {
                if seconds <= *bound {
                    histogram.counts[index] += 1;
                }
            }
        }
    }

    /// The exposition text, with the live figures from `state`.
    pub fn render(&self, state: &AppState) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP upkeep_build_info Build of the running upkeep.\n# TYPE upkeep_build_info gauge"
        );
        let _ = writeln!(
            out,
            "upkeep_build_info{{version=\"{}\",backend=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION"),
            state.core.storage.backend_name()
        );
        let _ = writeln!(
            out,
            "# HELP upkeep_uptime_seconds Seconds since this process started serving.\n# TYPE upkeep_uptime_seconds gauge"
        );
        let _ = writeln!(
            out,
            "upkeep_uptime_seconds {:.3}",
            self.started.elapsed().as_secs_f64()
        );
        let pool = state.core.storage.pool_stats();
        let _ = writeln!(
            out,
            "# HELP upkeep_db_pool_connections Open database connections.\n# TYPE upkeep_db_pool_connections gauge"
        );
        let _ = writeln!(out, "upkeep_db_pool_connections {}", pool.connections);
        let _ = writeln!(
            out,
            "# HELP upkeep_db_pool_idle_connections Idle database connections.\n# TYPE upkeep_db_pool_idle_connections gauge"
        );
        let _ = writeln!(out, "upkeep_db_pool_idle_connections {}", pool.idle);
        let _ = writeln!(
            out,
            "# HELP upkeep_db_pool_max_connections Configured maximum database connections.\n# TYPE upkeep_db_pool_max_connections gauge"
        );
        let _ = writeln!(
            out,
            "upkeep_db_pool_max_connections {}",
            pool.max_connections
        );
        let workers = state.core.workers.list();
        let _ = writeln!(
            out,
            "# HELP upkeep_worker_errors_total Failed steps per background worker.\n# TYPE upkeep_worker_errors_total counter"
        );
        for worker in &workers {
            let _ = writeln!(
                out,
                "upkeep_worker_errors_total{{worker=\"{}\"}} {}",
                worker.name, worker.errors
            );
        }
        let checks = &state.core.check_stats;
        let _ = writeln!(
            out,
            "# HELP upkeep_checks_started_total Active checks started on this node.\n# TYPE upkeep_checks_started_total counter"
        );
        let _ = writeln!(
            out,
            "upkeep_checks_started_total {}",
            checks.checks_started()
        );
        let _ = writeln!(
            out,
            "# HELP upkeep_monitor_write_failures_total Monitor updates that could not be stored after retries (statuses left unchanged).\n# TYPE upkeep_monitor_write_failures_total counter"
        );
        let _ = writeln!(
            out,
            "upkeep_monitor_write_failures_total {}",
            checks.write_failures()
        );
        let _ = writeln!(
            out,
            "# HELP upkeep_check_lateness_seconds How late recent active checks started after their due time.\n# TYPE upkeep_check_lateness_seconds summary"
        );
        for quantile in [0.5, 0.99, 1.0] {
            if let Some(ms) = checks.lateness_quantile(quantile) {
                let _ = writeln!(
                    out,
                    "upkeep_check_lateness_seconds{{quantile=\"{quantile}\"}} {:.6}",
                    ms / 1000.0
                );
            }
        }
        render_monitors(&mut out, state);
        let Ok(inner) = self.inner.lock() else {
            return out;
        };
        let _ = writeln!(
            out,
            "# HELP upkeep_http_requests_total HTTP requests by method, route template and status.\n# TYPE upkeep_http_requests_total counter"
        );
        for ((method, route, status), count) in &inner.requests {
            let _ = writeln!(
                out,
                "upkeep_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP upkeep_http_request_duration_seconds HTTP request latency by method and route template.\n# TYPE upkeep_http_request_duration_seconds histogram"
        );
        for ((method, route), histogram) in &inner.durations {
            let labels = format!("method=\"{method}\",route=\"{route}\"");
            for (bound, count) in BUCKETS.iter().zip(histogram.counts.iter()) {
                let _ = writeln!(
                    out,
                    "upkeep_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "upkeep_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                histogram.count
            );
            let _ = writeln!(
                out,
                "upkeep_http_request_duration_seconds_sum{{{labels}}} {:.6}",
                histogram.sum
            );
            let _ = writeln!(
                out,
                "upkeep_http_request_duration_seconds_count{{{labels}}} {}",
                histogram.count
            );
        }
        out
    }
}

/// A label value in the text format: backslash, double quote and line feed escaped.
fn escape_label(value: &str) -> Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return Cow::Borrowed(value);
    }
    let mut escaped = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

/// The per-monitor section, from the exporter's snapshot.
///
/// Labels are `monitor_id`, `service` and `kind` only: one series per monitor and metric, never a URL,
/// host or name. Status is two 0/1 gauges rather than a one-hot `status` label over six values (which
/// would multiply the series by six): `upkeep_monitor_up` exists only while the monitor is checked
/// (up or degraded: 1, down: 0; absent while pending, paused or in maintenance) and
/// `upkeep_monitor_paused` exists for every monitor. `upkeep_monitors{status}` counts each status.
fn render_monitors(out: &mut String, state: &AppState) {
    let snapshot = state.core.monitor_metrics.current();
    // Before the exporter's first pass there is nothing to say (zero counts would be wrong).
    let Some(refreshed_at) = snapshot.refreshed_at else {
        return;
    };
    let now = state.core.now();
    let _ = writeln!(
        out,
        "# HELP upkeep_monitors Monitors by status.\n# TYPE upkeep_monitors gauge"
    );
    for (status, count) in snapshot.counts() {
        let _ = writeln!(
            out,
            "upkeep_monitors{{status=\"{}\"}} {count}",
            status.as_str()
        );
    }
    let _ = writeln!(
        out,
        "# HELP upkeep_monitor_metrics_age_seconds Age of the per-monitor figures below.\n# TYPE upkeep_monitor_metrics_age_seconds gauge"
    );
    let age = now.duration_since(refreshed_at).as_secs_f64().max(0.0);
    let _ = writeln!(out, "upkeep_monitor_metrics_age_seconds {age:.3}");
    let labels: Vec<String> = snapshot
        .monitors
        .iter()
        .map(|monitor| {
            format!(
                "monitor_id=\"{}\",service=\"{}\",kind=\"{}\"",
                monitor.id,
                escape_label(&monitor.service),
                escape_label(&monitor.kind)
            )
        })
        .collect();
    let monitors = || snapshot.monitors.iter().zip(labels.iter());
    let _ = writeln!(
        out,
        "# HELP upkeep_monitor_up Whether a checked monitor works (1: up or degraded) or not (0: down); absent while pending, paused or in maintenance.\n# TYPE upkeep_monitor_up gauge"
    );
    for (monitor, labels) in monitors() {
        if let Some(up) = monitor.up() {
            let _ = writeln!(out, "upkeep_monitor_up{{{labels}}} {}", u8::from(up));
        }
    }
    let _ = writeln!(
        out,
        "# HELP upkeep_monitor_paused Whether a monitor is paused (1) or not (0).\n# TYPE upkeep_monitor_paused gauge"
    );
    for (monitor, labels) in monitors() {
        let _ = writeln!(
            out,
            "upkeep_monitor_paused{{{labels}}} {}",
            u8::from(monitor.paused)
        );
    }
    let _ = writeln!(
        out,
        "# HELP upkeep_monitor_response_seconds Duration of the newest active check.\n# TYPE upkeep_monitor_response_seconds gauge"
    );
    for (monitor, labels) in monitors() {
        if let Some(ms) = monitor.last_duration_ms {
            let _ = writeln!(
                out,
                "upkeep_monitor_response_seconds{{{labels}}} {:.3}",
                ms as f64 / 1000.0
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP upkeep_monitor_certificate_expiry_seconds Seconds until the certificate seen by the newest check expires (negative once expired); TLS and HTTPS monitors.\n# TYPE upkeep_monitor_certificate_expiry_seconds gauge"
    );
    for (monitor, labels) in monitors() {
        if let Some(seconds) = monitor.certificate_expiry_seconds(now) {
            let _ = writeln!(
                out,
                "upkeep_monitor_certificate_expiry_seconds{{{labels}}} {seconds}"
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP upkeep_monitor_uptime_ratio Successful checks over all checks in the window (from rollups, recomputed every 5 minutes).\n# TYPE upkeep_monitor_uptime_ratio gauge"
    );
    let window = upkeep_core::monitors::exporter::UPTIME_WINDOW.as_str();
    for (monitor, labels) in monitors() {
        if let Some(ratio) = monitor.uptime {
            let _ = writeln!(
                out,
                "upkeep_monitor_uptime_ratio{{{labels},window=\"{window}\"}} {ratio}"
            );
        }
    }
}

/// Middleware recording every request under its route template (unmatched paths share one label).
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |path| path.as_str().to_string());
    let response = next.run(request).await;
    state.metrics.observe(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::escape_label;

    #[test]
    fn label_values_escape_backslash_quote_and_newline() {
        assert_eq!(escape_label("api"), "api");
        assert_eq!(escape_label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    }
}

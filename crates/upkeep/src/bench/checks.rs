//! `upkeep bench checks`: many HTTP monitors at one interval against a local target that answers over
//! fresh connections (each check opens its own). Reports how late checks start (p50/p99 from the
//! server's `/metrics`), the server's CPU use and memory, and the checks per second it ran.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;

use super::support::{Installation, create_monitors};
use crate::cli::Output;

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[arg(long, default_value_t = 10_000)]
    pub monitors: usize,
    /// Interval of every monitor, e.g. 60s.
    #[arg(long, default_value = "60s")]
    pub interval: String,
    /// How long to measure after the first full interval, e.g. 120s.
    #[arg(long, default_value = "120s")]
    pub measure: String,
    #[arg(long = "bench-database-url")]
    pub database_url: Option<String>,
}

#[derive(Serialize)]
struct Report {
    backend: String,
    monitors: usize,
    interval_s: f64,
    checks_per_second: f64,
    lateness_p50_ms: f64,
    lateness_p99_ms: f64,
    lateness_max_ms: f64,
    cpu_cores: f64,
    rss_mib: f64,
    measured_s: f64,
}

/// A target that answers every request with a small JSON body.
async fn start_target() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app =
        axum::Router::new().route("/health", axum::routing::get(|| async { r#"{"ok":true}"# }));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}/health"))
}

async fn metric(client: &reqwest::Client, install: &Installation, name: &str) -> Option<f64> {
    let text = client
        .get(format!("{}/metrics", install.base))
        .bearer_auth(&install.token)
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find(|line| line.starts_with(name))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

pub async fn run(args: CheckArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let interval = upkeep_core::config::parse_duration(&args.interval)
        .map_err(|m| anyhow::anyhow!("--interval: {m}"))?;
    let measure = upkeep_core::config::parse_duration(&args.measure)
        .map_err(|m| anyhow::anyhow!("--measure: {m}"))?;
    let target = start_target().await?;
    let install = Installation::start(args.database_url.clone()).await?;
    eprintln!("creating {} HTTP monitors against {target}", args.monitors);
    create_monitors(&install, args.monitors, |i| {
        serde_json::json!({"service": "bench", "name": format!("target {i}"), "kind": "http",
            "url": format!("{target}?monitor={i}"), "interval": args.interval, "conditions": ["[STATUS] == 200"]})
    })
    .await?;
    // One interval to load and spread the monitors, then measure from a clean slate.
    eprintln!("warming up for one interval ({interval:?})");
    tokio::time::sleep(interval + Duration::from_secs(6)).await;
    let client = reqwest::Client::new();
    let started_checks = metric(&client, &install, "upkeep_checks_started_total")
        .await
        .unwrap_or(0.0);
    let cpu_before = install.cpu_seconds();
    let started = Instant::now();
    eprintln!("measuring for {measure:?}");
    tokio::time::sleep(measure).await;
    let measured = started.elapsed().as_secs_f64();
    let cpu = (install.cpu_seconds() - cpu_before) / measured;
    let checks = metric(&client, &install, "upkeep_checks_started_total")
        .await
        .unwrap_or(0.0)
        - started_checks;
    let quantile = |q: &str| {
        let client = client.clone();
        let name = format!("upkeep_check_lateness_seconds{{quantile=\"{q}\"}}");
        let install = &install;
        async move { metric(&client, install, &name).await.unwrap_or(f64::NAN) * 1000.0 }
    };
    let (p50, p99, max) = (
        quantile("0.5").await,
        quantile("0.99").await,
        quantile("1").await,
    );
    let rss_mib = install.rss_mib();
    let backend = install.backend().to_string();
    install.stop().await?;

    let report = Report {
        backend,
        monitors: args.monitors,
        interval_s: interval.as_secs_f64(),
        checks_per_second: checks / measured,
        lateness_p50_ms: p50,
        lateness_p99_ms: p99,
        lateness_max_ms: max,
        cpu_cores: cpu,
        rss_mib,
        measured_s: measured,
    };
    out.print(&report, || {
        format!(
            "backend        {}\nmonitors       {} HTTP at {}s ({:.0} checks/s measured over {:.0} s)\nlateness       p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (recent checks)\nserver CPU     {:.2} cores\nserver memory  {:.1} MiB RSS",
            report.backend,
            report.monitors,
            report.interval_s,
            report.checks_per_second,
            report.measured_s,
            report.lateness_p50_ms,
            report.lateness_p99_ms,
            report.lateness_max_ms,
            report.cpu_cores,
            report.rss_mib
        )
    });
    Ok(ExitCode::SUCCESS)
}

//! `upkeep bench api`: start-up time (spawn to `/readyz`), idle memory, authenticated `GET /api/v1/me`
//! requests per second with latency percentiles, memory under load, and SIGTERM-to-exit time.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;

use super::support::{Installation, percentile};
use crate::cli::Output;

#[derive(Args, Debug)]
pub struct ApiArgs {
    /// How long to send requests, e.g. 10s.
    #[arg(long, default_value = "10s")]
    pub duration: String,
    /// Concurrent connections.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Benchmark against this (empty) database instead of a fresh SQLite file.
    #[arg(long = "bench-database-url")]
    pub database_url: Option<String>,
}

#[derive(Serialize)]
struct Report {
    backend: String,
    startup_ms: f64,
    idle_rss_mib: f64,
    requests: u64,
    errors: u64,
    requests_per_second: f64,
    latency_p50_ms: f64,
    latency_p99_ms: f64,
    loaded_rss_mib: f64,
    shutdown_ms: f64,
    concurrency: usize,
    duration_s: f64,
}

pub async fn run(args: ApiArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let duration = upkeep_core::config::parse_duration(&args.duration)
        .map_err(|m| anyhow::anyhow!("--duration: {m}"))?;
    let install = Installation::start(args.database_url.clone()).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss_mib = install.rss_mib();

    eprintln!(
        "sending authenticated GET /api/v1/me for {duration:?} over {} connections",
        args.concurrency
    );
    let client = Arc::new(
        reqwest::Client::builder()
            .pool_max_idle_per_host(args.concurrency)
            .build()?,
    );
    let stop_at = Instant::now() + duration;
    let load_started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let client = client.clone();
        let url = format!("{}/api/v1/me", install.base);
        let token = install.token.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < stop_at {
                let sent = Instant::now();
                match client.get(&url).bearer_auth(&token).send().await {
                    Ok(response) if response.status().is_success() => {
                        let _ = response.bytes().await;
                        latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mut task_latencies, task_errors) = task.await?;
        latencies.append(&mut task_latencies);
        errors += task_errors;
    }
    let elapsed = load_started.elapsed().as_secs_f64();
    let loaded_rss_mib = install.rss_mib();
    latencies.sort_by(f64::total_cmp);
    let backend = install.backend().to_string();
    let startup_ms = install.startup.as_secs_f64() * 1000.0;
    let shutdown_ms = install.stop().await?.as_secs_f64() * 1000.0;

    let report = Report {
        backend,
        startup_ms,
        idle_rss_mib,
        requests: latencies.len() as u64,
        errors,
        requests_per_second: latencies.len() as f64 / elapsed,
        latency_p50_ms: percentile(&latencies, 0.50),
        latency_p99_ms: percentile(&latencies, 0.99),
        loaded_rss_mib,
        shutdown_ms,
        concurrency: args.concurrency,
        duration_s: elapsed,
    };
    out.print(&report, || {
        format!(
            "backend            {}\nstart-up           {:.0} ms (spawn to /readyz)\nidle memory        {:.1} MiB RSS\nGET /api/v1/me     {:.0} requests/s over {} connections ({} requests, {} errors)\nlatency            p50 {:.2} ms, p99 {:.2} ms\nmemory under load  {:.1} MiB RSS\nshutdown           {:.0} ms from SIGTERM to exit",
            report.backend,
            report.startup_ms,
            report.idle_rss_mib,
            report.requests_per_second,
            report.concurrency,
            report.requests,
            report.errors,
            report.latency_p50_ms,
            report.latency_p99_ms,
            report.loaded_rss_mib,
            report.shutdown_ms,
        )
    });
    Ok(ExitCode::SUCCESS)
}

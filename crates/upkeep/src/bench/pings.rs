//! `upkeep bench pings`: heartbeat pings accepted per second. Every `200 OK` is sent only after the ping
//! is committed, so accepted = committed. Pings are spread over many monitors, as many jobs would send
//! them (each monitor alone is rate limited). The default client writes pre-built requests over
//! keep-alive connections from one thread ([`super::rawload`]), so the figure is mostly the server's;
//! `--client reqwest` is the general-purpose client the first figures were taken with.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;

use super::rawload;
use super::support::{Installation, create_monitors, percentile, process_cpu_seconds};
use crate::cli::Output;

#[derive(Args, Debug)]
pub struct PingArgs {
    /// Heartbeat monitors to spread the pings over.
    #[arg(long, default_value_t = 5000)]
    pub monitors: usize,
    /// How long to send pings, e.g. 10s.
    #[arg(long, default_value = "10s")]
    pub duration: String,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    #[arg(long = "bench-database-url")]
    pub database_url: Option<String>,
    /// Load generator: `raw` (pre-built requests, one thread) or `reqwest` (a general-purpose client on
    /// this process's runtime, heavier on the shared cores).
    #[arg(long, default_value = "raw", value_parser = ["raw", "reqwest"])]
    pub client: String,
}

#[derive(Serialize)]
struct Report {
    backend: String,
    monitors: usize,
    accepted: u64,
    refused: u64,
    pings_per_second: f64,
    latency_p50_ms: f64,
    latency_p99_ms: f64,
    rss_mib: f64,
    /// CPU the server used while measured, in cores (user + system time over wall time).
    server_cpu_cores: f64,
    /// CPU this process (the load generator) used meanwhile, in cores.
    client_cpu_cores: f64,
    concurrency: usize,
    client: String,
    duration_s: f64,
}

pub async fn run(args: PingArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let duration = upkeep_core::config::parse_duration(&args.duration)
        .map_err(|m| anyhow::anyhow!("--duration: {m}"))?;
    let install = Installation::start(args.database_url.clone()).await?;
    eprintln!("creating {} heartbeat monitors", args.monitors);
    let monitors = create_monitors(&install, args.monitors, |i| {
        serde_json::json!({"service": "bench", "name": format!("job {i}"), "kind": "heartbeat", "period": "1h"})
    })
    .await?;
    let urls: Arc<Vec<String>> = Arc::new(
        monitors
            .iter()
            .filter_map(|m| m["ping_url"].as_str().map(str::to_string))
            .collect(),
    );

    eprintln!(
        "pinging for {duration:?} over {} connections ({} client)",
        args.concurrency, args.client
    );
    let cpu_before = install.cpu_seconds();
    let client_before = process_cpu_seconds("self");
    let (mut latencies, refused, elapsed) = if args.client == "raw" {
        let addr: std::net::SocketAddr = install
            .base
            .trim_start_matches("http://")
            .parse()
            .map_err(|err| anyhow::anyhow!("bad server address {}: {err}", install.base))?;
        let requests: Vec<Vec<u8>> = urls
            .iter()
            .map(|url| {
                let path = url.find("/ping/").map_or(url.as_str(), |at| &url[at..]);
                rawload::get_request(&addr.to_string(), path)
            })
            .collect();
        let (requests, connections) = (Arc::new(requests), args.concurrency);
        let result = tokio::task::spawn_blocking(move || {
            rawload::run(addr, requests, connections, duration)
        })
        .await??;
        (result.latencies_ms, result.refused, result.elapsed)
    } else {
        reqwest_load(&urls, args.concurrency, duration).await?
    };
    let cpu = install.cpu_seconds() - cpu_before;
    let client_cpu = process_cpu_seconds("self") - client_before;
    let elapsed = elapsed.as_secs_f64();

    latencies.sort_by(f64::total_cmp);
    let rss_mib = install.rss_mib();
    let backend = install.backend().to_string();
    tokio::time::sleep(Duration::from_millis(200)).await;
    install.stop().await?;

    let report = Report {
        backend,
        monitors: urls.len(),
        accepted: latencies.len() as u64,
        refused,
        pings_per_second: latencies.len() as f64 / elapsed,
        latency_p50_ms: percentile(&latencies, 0.5),
        latency_p99_ms: percentile(&latencies, 0.99),
        rss_mib,
        server_cpu_cores: cpu / elapsed,
        client_cpu_cores: client_cpu / elapsed,
        concurrency: args.concurrency,
        client: args.client.clone(),
        duration_s: elapsed,
    };
    out.print(&report, || {
        format!(
            "backend        {}\npings          {:.0} accepted and committed per second ({} accepted, {} refused, {} monitors, {} connections, {} client)\nlatency        p50 {:.2} ms, p99 {:.2} ms\nserver         {:.2} cores, {:.1} MiB RSS\nclient         {:.2} cores",
            report.backend,
            report.pings_per_second,
            report.accepted,
            report.refused,
            report.monitors,
            report.concurrency,
            report.client,
            report.latency_p50_ms,
            report.latency_p99_ms,
            report.server_cpu_cores,
            report.rss_mib,
            report.client_cpu_cores
        )
    });
    Ok(ExitCode::SUCCESS)
}

/// The first load generator: reqwest on this process's runtime, `concurrency` keep-alive connections.
async fn reqwest_load(
    urls: &Arc<Vec<String>>,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<(Vec<f64>, u64, Duration)> {
    let client = Arc::new(
        reqwest::Client::builder()
            .pool_max_idle_per_host(concurrency)
            .build()?,
    );
    let stop_at = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency.max(1) {
        let client = client.clone();
        let urls = urls.clone();
        let step = concurrency.max(1);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut refused = 0u64;
            let mut index = worker;
            while Instant::now() < stop_at {
                let url = &urls[index % urls.len()];
                index += step;
                let sent = Instant::now();
                match client.get(url).send().await {
                    Ok(response) if response.status().is_success() => {
                        let _ = response.bytes().await;
                        latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                    }
                    _ => refused += 1,
                }
            }
            (latencies, refused)
        }));
    }
    let mut latencies = Vec::new();
    let mut refused = 0;
    for task in tasks {
        let (mut task_latencies, task_refused) = task.await?;
        latencies.append(&mut task_latencies);
        refused += task_refused;
    }
    Ok((latencies, refused, started.elapsed()))
}

//! `upkeep bench events`: PagerDuty Events API v2 triggers accepted per second. Every `202` is sent only
//! after the event is committed (alert, incident and timeline rows), so accepted = committed. Events are
//! spread over many services (each routing key is rate limited on its own, like PagerDuty's), each with a
//! unique dedup key, so every event stores a new alert.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use serde::Serialize;
use serde_json::json;

use super::rawload;
use super::support::{Installation, percentile};
use crate::cli::Output;

#[derive(Args, Debug)]
pub struct EventArgs {
    /// Services (routing keys) to spread the events over.
    #[arg(long, default_value_t = 100)]
    pub services: usize,
    /// How long to send events, e.g. 10s.
    #[arg(long, default_value = "10s")]
    pub duration: String,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    #[arg(long = "bench-database-url")]
    pub database_url: Option<String>,
}

#[derive(Serialize)]
struct Report {
    backend: String,
    services: usize,
    accepted: u64,
    refused: u64,
    events_per_second: f64,
    latency_p50_ms: f64,
    latency_p99_ms: f64,
    rss_mib: f64,
    server_cpu_cores: f64,
    concurrency: usize,
    duration_s: f64,
}

/// `POST <path>` with a JSON body, as bytes.
fn post_request(host: &str, path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nhost: {host}\r\nuser-agent: upkeep-bench\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn routing_keys(install: &Installation, services: usize) -> anyhow::Result<Vec<String>> {
    let client = reqwest::Client::new();
    let mut keys = Vec::with_capacity(services);
    for index in 0..services {
        let slug = format!("svc-{index}");
        let created = client
            .post(format!("{}/api/v1/services", install.base))
            .bearer_auth(&install.token)
            .json(&json!({ "slug": slug }))
            .send()
            .await?;
        if !created.status().is_success() {
            anyhow::bail!("creating service {slug} failed: {}", created.text().await?);
        }
        let integrations: serde_json::Value = client
            .get(format!(
                "{}/api/v1/services/{slug}/integrations",
                install.base
            ))
            .bearer_auth(&install.token)
            .send()
            .await?
            .json()
            .await?;
        let key = integrations["pagerduty_routing_key"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no routing key for {slug}: {integrations}"))?;
        keys.push(key.to_string());
    }
    Ok(keys)
}

pub async fn run(args: EventArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let duration = upkeep_core::config::parse_duration(&args.duration)
        .map_err(|m| anyhow::anyhow!("--duration: {m}"))?;
    let install = Installation::start(args.database_url.clone()).await?;
    eprintln!("creating {} services", args.services);
    let keys = routing_keys(&install, args.services.max(1)).await?;
    let addr: std::net::SocketAddr = install
        .base
        .trim_start_matches("http://")
        .parse()
        .map_err(|err| anyhow::anyhow!("bad server address {}: {err}", install.base))?;
    // Enough distinct events that none repeats within the run at 40,000/s.
    let count = (duration.as_secs_f64() * 40_000.0) as usize + 1;
    eprintln!("building {count} events");
    let requests: Vec<Vec<u8>> = (0..count)
        .map(|index| {
            let key = &keys[index % keys.len()];
            let body = json!({
                "routing_key": key,
                "event_action": "trigger",
                "dedup_key": format!("bench-{index}"),
                "payload": {
                    "summary": format!("Disk {index} is 95% full"),
                    "source": "db1.example.com",
                    "severity": "warning",
                    "custom_details": {"free": "5%"}
                }
            })
            .to_string();
            post_request(&addr.to_string(), "/v2/enqueue", &body)
        })
        .collect();
    eprintln!(
        "sending for {duration:?} over {} connections",
        args.concurrency
    );
    let cpu_before = install.cpu_seconds();
    let requests = Arc::new(requests);
    let connections = args.concurrency;
    let result =
        tokio::task::spawn_blocking(move || rawload::run(addr, requests, connections, duration))
            .await??;
    let cpu = install.cpu_seconds() - cpu_before;
    let elapsed = result.elapsed.as_secs_f64();
    let mut latencies = result.latencies_ms;
    latencies.sort_by(f64::total_cmp);
    let rss_mib = install.rss_mib();
    let backend = install.backend().to_string();
    install.stop().await?;
    let report = Report {
        backend,
        services: keys.len(),
        accepted: latencies.len() as u64,
        refused: result.refused,
        events_per_second: latencies.len() as f64 / elapsed,
        latency_p50_ms: percentile(&latencies, 0.5),
        latency_p99_ms: percentile(&latencies, 0.99),
        rss_mib,
        server_cpu_cores: cpu / elapsed,
        concurrency: args.concurrency,
        duration_s: elapsed,
    };
    out.print(&report, || {
        format!(
            "backend        {}\nevents         {:.0} accepted and committed per second ({} accepted, {} refused, {} routing keys, {} connections)\nlatency        p50 {:.2} ms, p99 {:.2} ms\nserver         {:.2} cores, {:.1} MiB RSS",
            report.backend,
            report.events_per_second,
            report.accepted,
            report.refused,
            report.services,
            report.concurrency,
            report.latency_p50_ms,
            report.latency_p99_ms,
            report.server_cpu_cores,
            report.rss_mib
        )
    });
    Ok(ExitCode::SUCCESS)
}

//! `upkeep bench`: starts this very binary as `upkeep serve` on a fresh database and measures what
//! `BENCHMARKS.md` reports: start-up time (spawn to `/readyz` answering), idle memory (RSS), authenticated
//! `GET /api/v1/me` requests per second with latency percentiles, and SIGTERM-to-exit time.

use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde::Serialize;
use tokio::process::{Child, Command};

use crate::cli::Output;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// How long to send requests, e.g. 10s.
    #[arg(long, default_value = "10s")]
    pub duration: String,
    /// Concurrent connections.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Benchmark against this database instead of a fresh SQLite file (it must be empty or an upkeep database).
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

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

async fn admin_command(exe: &std::path::Path, url: &str, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new(exe)
        .args(args)
        .arg("--database-url")
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .await?;
    if !output.status.success() {
        bail!(
            "upkeep {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

async fn wait_ready(client: &reqwest::Client, base: &str, child: &mut Child) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            bail!("upkeep serve exited early with {status}");
        }
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("upkeep serve did not become ready within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

pub async fn run(args: BenchArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let duration = upkeep_core::config::parse_duration(&args.duration)
        .map_err(|m| anyhow::anyhow!("--duration: {m}"))?;
    let exe = std::env::current_exe().context("cannot find the upkeep binary")?;
    let scratch = std::env::temp_dir().join(format!("upkeep-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}/upkeep.db", scratch.display()));
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;

    // Prepare the account first so start-up is measured on an installation that has a user.
    admin_command(&exe, &url, &["migrate"]).await?;
    let email = format!("bench-{}@example.com", std::process::id());
    admin_command(
        &exe,
        &url,
        &["user", "create", "--email", &email, "--role", "admin"],
    )
    .await?;
    let token_json = admin_command(
        &exe,
        &url,
        &[
            "token", "create", "--user", &email, "--scope", "read", "--json",
        ],
    )
    .await?;
    let token: serde_json::Value = serde_json::from_str(&token_json)?;
    let token = token["token"]
        .as_str()
        .context("token create printed no token")?
        .to_string();

    eprintln!("starting upkeep serve on {base} ({url})");
    let started = Instant::now();
    let mut child = Command::new(&exe)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            &url,
        ])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    wait_ready(&client, &base, &mut child).await?;
    let startup_ms = started.elapsed().as_secs_f64() * 1000.0;
    let pid = child.id().context("upkeep serve has no pid")?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss_mib = rss_mib(pid);

    eprintln!(
        "sending authenticated GET /api/v1/me for {duration:?} over {} connections",
        args.concurrency
    );
    let client = Arc::new(client);
    let stop_at = Instant::now() + duration;
    let load_started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let client = client.clone();
        let url = format!("{base}/api/v1/me");
        let token = token.clone();
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
    let loaded_rss_mib = rss_mib(pid);
    latencies.sort_by(f64::total_cmp);

    let stopping = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await?;
    if !status.success() {
        bail!("could not send SIGTERM to upkeep serve");
    }
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .context("upkeep serve did not stop within 30 s of SIGTERM")??;
    let shutdown_ms = stopping.elapsed().as_secs_f64() * 1000.0;
    if args.database_url.is_none() {
        let _ = std::fs::remove_dir_all(&scratch);
    }

    let report = Report {
        backend: if url.starts_with("sqlite:") {
            "sqlite".into()
        } else {
            "postgres".into()
        },
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
            "backend            {}\nstart-up           {:.0} ms (spawn to /readyz)\nidle memory        {:.1} MiB RSS\nGET /api/v1/me     {:.0} requests/s over {} connections ({} requests, {} errors)\nlatency            p50 {:.2} ms, p99 {:.2} ms\nmemory under load  {:.1} MiB RSS\nshutdown           {:.0} ms from SIGTERM to exit ({exit})",
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

//! `upkeep bench paging`: how long from a monitor confirming down to the first page arriving at a webhook.
//! Each trial has its own service, escalation policy, person and webhook contact method (one message per
//! contact method per 30 s would otherwise bundle the trials). A heartbeat monitor is pinged up, then
//! `/fail`; its answer comes after the state change is committed, and the clock stops when the page
//! reaches a webhook receiver in this process. Run with `UPKEEP_OUTBOUND_BLOCK_PRIVATE_ADDRESSES=false`,
//! because the receiver listens on 127.0.0.1.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::support::{Installation, admin_command, percentile};
use crate::cli::Output;

#[derive(Args, Debug)]
pub struct PagingArgs {
    /// Trials (each a monitor going down and a page arriving).
    #[arg(long, default_value_t = 100)]
    pub trials: usize,
    #[arg(long = "bench-database-url")]
    pub database_url: Option<String>,
}

#[derive(Serialize)]
struct Report {
    backend: String,
    trials: usize,
    latency_p50_ms: f64,
    latency_p99_ms: f64,
    latency_max_ms: f64,
}

/// When each incident's first page arrived.
#[derive(Clone, Default)]
struct Arrivals {
    seen: Arc<Mutex<HashMap<String, Instant>>>,
    arrived: Arc<Notify>,
}

async fn receive(
    axum::extract::State(arrivals): axum::extract::State<Arrivals>,
    axum::extract::Path(trial): axum::extract::Path<String>,
    body: String,
) -> axum::http::StatusCode {
    let at = Instant::now();
    let page: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    if page["type"] == "incident.triggered"
        && let Ok(mut seen) = arrivals.seen.lock()
    {
        seen.entry(trial).or_insert(at);
        arrivals.arrived.notify_waiters();
    }
    axum::http::StatusCode::OK
}

struct Trial {
    slug: String,
    ping_url: String,
}

async fn prepare(
    install: &Installation,
    exe: &std::path::Path,
    hook_base: &str,
    index: usize,
) -> anyhow::Result<Trial> {
    let client = reqwest::Client::new();
    let slug = format!("paging-{index}");
    let email = format!("oncall-{index}@example.com");
    let api = |path: &str| format!("{}{path}", install.base);
    let created = client
        .post(api("/api/v1/services"))
        .bearer_auth(&install.token)
        .json(&json!({ "slug": slug }))
        .send()
        .await?;
    if !created.status().is_success() {
        bail!("creating {slug}: {}", created.text().await?);
    }
    let user: Value = client
        .post(api("/api/v1/users"))
        .bearer_auth(&install.token)
        .json(&json!({ "email": email, "role": "responder" }))
        .send()
        .await?
        .json()
        .await?;
    let user_id = user["user"]["id"].as_i64().context("user id")?;
    let contact = admin_command(
        exe,
        &install.url,
        &[
            "contact",
            "add",
            "--user",
            &email,
            "--kind",
            "webhook",
            "--settings",
            &json!({ "url": format!("{hook_base}/hook/{slug}") }).to_string(),
            "--json",
        ],
    )
    .await?;
    let contact: Value = serde_json::from_str(&contact)?;
    let contact_id = contact["id"]
        .as_i64()
        .or_else(|| contact["contact_method"]["id"].as_i64())
        .with_context(|| format!("contact add printed no id: {contact}"))?;
    admin_command(
        exe,
        &install.url,
        &[
            "contact",
            "rule",
            "add",
            "--user",
            &email,
            "--contact",
            &contact_id.to_string(),
            "--delay",
            "0",
        ],
    )
    .await?;
    let policy = json!({"levels": [{"delay": "10m", "targets": [{"user": user_id}]}]});
    let answer = client
        .post(api("/api/v1/escalation-policies"))
        .bearer_auth(&install.token)
        .json(&json!({ "slug": slug, "spec": policy }))
        .send()
        .await?;
    if !answer.status().is_success() {
        bail!("creating the policy of {slug}: {}", answer.text().await?);
    }
    let answer = client
        .put(api(&format!("/api/v1/services/{slug}/escalation")))
        .bearer_auth(&install.token)
        .json(&json!({ "escalation_policy": slug, "runbook_url": null }))
        .send()
        .await?;
    if !answer.status().is_success() {
        bail!("assigning the policy of {slug}: {}", answer.text().await?);
    }
    let monitor: Value = client
        .post(api("/api/v1/monitors"))
        .bearer_auth(&install.token)
        .json(&json!({"service": slug, "name": "job", "kind": "heartbeat", "period": "1h"}))
        .send()
        .await?
        .json()
        .await?;
    let ping_url = monitor["ping_url"]
        .as_str()
        .with_context(|| format!("no ping URL: {monitor}"))?;
    let path = ping_url
        .find("/ping/")
        .map_or(ping_url, |at| &ping_url[at..]);
    Ok(Trial {
        slug,
        ping_url: format!("{}{path}", install.base),
    })
}

pub async fn run(args: PagingArgs, out: &Output) -> anyhow::Result<ExitCode> {
    if std::env::var("UPKEEP_OUTBOUND_BLOCK_PRIVATE_ADDRESSES").as_deref() != Ok("false") {
        bail!(
            "run with UPKEEP_OUTBOUND_BLOCK_PRIVATE_ADDRESSES=false: the webhook receiver listens on 127.0.0.1"
        );
    }
    let exe = std::env::current_exe().context("cannot find the upkeep binary")?;
    let arrivals = Arrivals::default();
    let app = axum::Router::new()
        .route("/hook/{trial}", axum::routing::post(receive))
        .with_state(arrivals.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook_base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let install = Installation::start(args.database_url.clone()).await?;
    eprintln!("preparing {} trials", args.trials);
    let mut trials = Vec::with_capacity(args.trials);
    for index in 0..args.trials {
        trials.push(prepare(&install, &exe, &hook_base, index).await?);
    }
    let client = reqwest::Client::new();
    for trial in &trials {
        let up = client.get(&trial.ping_url).send().await?;
        if !up.status().is_success() {
            bail!("ping of {} failed: {}", trial.slug, up.status());
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    eprintln!("measuring");
    let mut latencies = Vec::with_capacity(trials.len());
    for trial in &trials {
        let down = client
            .get(format!("{}/fail", trial.ping_url))
            .send()
            .await?;
        if !down.status().is_success() {
            bail!("fail ping of {} failed: {}", trial.slug, down.status());
        }
        let confirmed = Instant::now();
        let deadline = confirmed + Duration::from_secs(10);
        loop {
            let arrived = arrivals
                .seen
                .lock()
                .ok()
                .and_then(|seen| seen.get(&trial.slug).copied());
            if let Some(at) = arrived {
                latencies.push(at.saturating_duration_since(confirmed).as_secs_f64() * 1000.0);
                break;
            }
            if Instant::now() > deadline {
                bail!("no page arrived for {} within 10 s", trial.slug);
            }
            let _ =
                tokio::time::timeout(Duration::from_millis(20), arrivals.arrived.notified()).await;
        }
    }
    latencies.sort_by(f64::total_cmp);
    let backend = install.backend().to_string();
    install.stop().await?;
    let report = Report {
        backend,
        trials: latencies.len(),
        latency_p50_ms: percentile(&latencies, 0.5),
        latency_p99_ms: percentile(&latencies, 0.99),
        latency_max_ms: latencies.last().copied().unwrap_or(0.0),
    };
    out.print(&report, || {
        format!(
            "backend        {}\npaging         monitor confirmed down → first webhook page: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} trials)",
            report.backend,
            report.latency_p50_ms,
            report.latency_p99_ms,
            report.latency_max_ms,
            report.trials
        )
    });
    Ok(ExitCode::SUCCESS)
}

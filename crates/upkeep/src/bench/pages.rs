//! `upkeep bench pages`: how long the monitor list page takes to render with many monitors, signed in
//! through the real login form (CSRF cookie and all), measured at the client.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use super::support::{Installation, create_monitors, percentile};
use crate::cli::Output;

#[derive(Args, Debug)]
pub struct PageArgs {
    #[arg(long, default_value_t = 10_000)]
    pub monitors: usize,
    /// Requests per page measured.
    #[arg(long, default_value_t = 50)]
    pub requests: usize,
    #[arg(long = "bench-database-url")]
    pub database_url: Option<String>,
}

#[derive(Serialize)]
struct Timing {
    page: String,
    p50_ms: f64,
    p99_ms: f64,
    bytes: usize,
}

#[derive(Serialize)]
struct Report {
    backend: String,
    monitors: usize,
    pages: Vec<Timing>,
}

fn cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.split(';')
                .next()
                .and_then(|pair| pair.strip_prefix(&format!("{name}=")))
                .map(str::to_string)
        })
}

/// Sign in through `/login` and return the `Cookie` header value of the session.
async fn sign_in(client: &reqwest::Client, install: &Installation) -> anyhow::Result<String> {
    let form = client.get(format!("{}/login", install.base)).send().await?;
    let csrf_cookie = cookie(&form, "upkeep_csrf").context("the login page set no CSRF cookie")?;
    let html = form.text().await?;
    let csrf = html
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("the login form has no csrf_token")?
        .to_string();
    let response = client
        .post(format!("{}/login", install.base))
        .header("cookie", format!("upkeep_csrf={csrf_cookie}"))
        .form(&[
            ("email", install.email.as_str()),
            ("password", install.password.as_str()),
            ("csrf_token", csrf.as_str()),
            ("next", "/monitors"),
        ])
        .send()
        .await?;
    let session = cookie(&response, "upkeep_session").context("signing in gave no session")?;
    Ok(format!("upkeep_session={session}"))
}

pub async fn run(args: PageArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let install = Installation::start(args.database_url.clone()).await?;
    eprintln!("creating {} monitors", args.monitors);
    create_monitors(&install, args.monitors, |i| {
        serde_json::json!({"service": "bench", "name": format!("target {i}"), "kind": "heartbeat", "period": "1h"})
    })
    .await?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let session = sign_in(&client, &install).await?;
    let last_page_cursor = (args.monitors.saturating_sub(50)).to_string();
    let pages = [
        ("/monitors".to_string(), "first page"),
        (
            "/monitors?status=pending&kind=heartbeat".to_string(),
            "filtered by status and kind",
        ),
        (
            format!("/monitors?q=target+{}", args.monitors / 2),
            "search by name",
        ),
        (format!("/monitors?cursor={last_page_cursor}"), "last page"),
        (
            "/monitors?sort=name&order=desc".to_string(),
            "sorted by name",
        ),
        ("/monitors?sort=status".to_string(), "sorted by status"),
        (
            "/monitors?sort=last_checked&order=desc".to_string(),
            "sorted by last check",
        ),
        ("/monitors?status=maintenance".to_string(), "in maintenance"),
    ];
    let mut timings = Vec::new();
    for (path, label) in pages {
        let mut samples = Vec::with_capacity(args.requests);
        let mut bytes = 0;
        for _ in 0..args.requests.max(1) {
            let started = Instant::now();
            let response = client
                .get(format!("{}{path}", install.base))
                .header("cookie", &session)
                .send()
                .await?;
            anyhow::ensure!(
                response.status().is_success(),
                "{path} answered {}",
                response.status()
            );
            bytes = response.bytes().await?.len();
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        samples.sort_by(f64::total_cmp);
        timings.push(Timing {
            page: format!("{label} ({path})"),
            p50_ms: percentile(&samples, 0.5),
            p99_ms: percentile(&samples, 0.99),
            bytes,
        });
    }
    let backend = install.backend().to_string();
    install.stop().await?;
    let report = Report {
        backend,
        monitors: args.monitors,
        pages: timings,
    };
    out.print(&report, || {
        let mut lines = vec![format!(
            "backend   {}\nmonitors  {}",
            report.backend, report.monitors
        )];
        for timing in &report.pages {
            lines.push(format!(
                "{:<70} p50 {:.1} ms, p99 {:.1} ms ({} bytes)",
                timing.page, timing.p50_ms, timing.p99_ms, timing.bytes
            ));
        }
        lines.join("\n")
    });
    Ok(ExitCode::SUCCESS)
}

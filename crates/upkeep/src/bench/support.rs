//! The pieces every benchmark shares: a fresh installation, `upkeep serve` as a child process, its
//! memory and CPU as the kernel reports them, and percentiles.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

/// A fresh database with an admin and an admin-scoped token, and the server running on it.
pub struct Installation {
    pub url: String,
    pub base: String,
    pub token: String,
    pub email: String,
    pub password: String,
    pub child: Child,
    pub pid: u32,
    pub startup: Duration,
    scratch: Option<PathBuf>,
}

pub async fn admin_command(
    exe: &std::path::Path,
    url: &str,
    args: &[&str],
) -> anyhow::Result<String> {
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

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

impl Installation {
    /// Prepare a database (`database_url`, or a fresh SQLite file) and start `upkeep serve` on it.
    pub async fn start(database_url: Option<String>) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot find the upkeep binary")?;
        let scratch = std::env::temp_dir().join(format!("upkeep-bench-{}", std::process::id()));
        std::fs::create_dir_all(&scratch)?;
        let url = database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}/upkeep.db", scratch.display()));
        admin_command(&exe, &url, &["migrate"]).await?;
        let email = format!("bench-{}@example.com", std::process::id());
        let user = admin_command(
            &exe,
            &url,
            &[
                "user", "create", "--email", &email, "--role", "admin", "--json",
            ],
        )
        .await?;
        let user: serde_json::Value = serde_json::from_str(&user)?;
        let password = user["generated_password"]
            .as_str()
            .context("user create printed no password")?
            .to_string();
        let token_json = admin_command(
            &exe,
            &url,
            &[
                "token", "create", "--user", &email, "--scope", "admin", "--json",
            ],
        )
        .await?;
        let token: serde_json::Value = serde_json::from_str(&token_json)?;
        let token = token["token"]
            .as_str()
            .context("token create printed no token")?
            .to_string();

        let port = free_port()?;
        let base = format!("http://127.0.0.1:{port}");
        eprintln!("starting upkeep serve on {base} ({url})");
        let started = Instant::now();
        // `BENCH_SERVER_WRAPPER="valgrind --tool=callgrind"` runs the server under a profiler (not an
        // `UPKEEP_` variable: those are configuration, and unknown ones are refused).
        let wrapper = std::env::var("BENCH_SERVER_WRAPPER").unwrap_or_default();
        let mut wrapper = wrapper.split_whitespace();
        let mut command = match wrapper.next() {
            Some(program) => {
                let mut command = Command::new(program);
                command.args(wrapper).arg(&exe);
                command
            }
            None => Command::new(&exe),
        };
        let mut child = command
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
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                bail!("upkeep serve exited early with {status}");
            }
            if let Ok(response) = client.get(format!("{base}/readyz")).send().await
                && response.status().is_success()
            {
                break;
            }
            if Instant::now() > deadline {
                bail!("upkeep serve did not become ready within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let startup = started.elapsed();
        let pid = child.id().context("upkeep serve has no pid")?;
        Ok(Self {
            url,
            base,
            token,
            email,
            password,
            child,
            pid,
            startup,
            scratch: database_url.is_none().then_some(scratch),
        })
    }

    pub fn backend(&self) -> &'static str {
        if self.url.starts_with("sqlite:") {
            "sqlite"
        } else {
            "postgres"
        }
    }

    pub fn rss_mib(&self) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid))
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

    /// CPU seconds (user + system) the server has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        process_cpu_seconds(&self.pid.to_string())
    }

    /// SIGTERM and wait; returns how long the exit took.
    pub async fn stop(mut self) -> anyhow::Result<Duration> {
        let stopping = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .await?;
        if !status.success() {
            bail!("could not send SIGTERM to upkeep serve");
        }
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .context("upkeep serve did not stop within 30 s of SIGTERM")??;
        let took = stopping.elapsed();
        if let Some(scratch) = &self.scratch {
            let _ = std::fs::remove_dir_all(scratch);
        }
        Ok(took)
    }
}

/// CPU seconds (user + system) that process `pid` (or `self`) has used so far, from `/proc/<pid>/stat`.
pub fn process_cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15 (1-based).
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

pub fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Create `count` monitors through the API with `body(i)`, `concurrency` at a time; returns their JSON.
pub async fn create_monitors(
    install: &Installation,
    count: usize,
    body: impl Fn(usize) -> serde_json::Value,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let client = reqwest::Client::new();
    let service = serde_json::json!({"slug": "bench"});
    let response = client
        .post(format!("{}/api/v1/services", install.base))
        .bearer_auth(&install.token)
        .json(&service)
        .send()
        .await?;
    if !response.status().is_success() && response.status() != reqwest::StatusCode::CONFLICT {
        bail!(
            "creating the bench service failed: {}",
            response.text().await.unwrap_or_default()
        );
    }
    let mut created = Vec::with_capacity(count);
    let bodies: Vec<serde_json::Value> = (0..count).map(body).collect();
    for chunk in bodies.chunks(32) {
        let requests = chunk.iter().map(|body| {
            client
                .post(format!("{}/api/v1/monitors", install.base))
                .bearer_auth(&install.token)
                .json(body)
                .send()
        });
        for response in futures_util::future::join_all(requests).await {
            let response = response?;
            if !response.status().is_success() {
                bail!(
                    "creating a monitor failed: {}",
                    response.text().await.unwrap_or_default()
                );
            }
            created.push(response.json::<serde_json::Value>().await?);
        }
        if created.len() % 1000 == 0 {
            eprintln!("  {} of {count} monitors created", created.len());
        }
    }
    Ok(created)
}

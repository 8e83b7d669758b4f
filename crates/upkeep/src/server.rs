//! Running `upkeep serve`: open and migrate the database, offer first-run setup, serve HTTP, run the
//! background workers, and on SIGTERM stop taking requests, finish in-flight ones and stop workers within
//! the configured shutdown timeout.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use upkeep_core::Core;
use upkeep_core::clock::Clock;
use upkeep_core::config::Config;
use upkeep_core::identity;
use upkeep_core::jobs::{Housekeeping, JobRegistry, JobRunner, spawn_worker};
use upkeep_core::monitors::scheduler::{DEFAULT_CONCURRENCY, DEFAULT_PER_HOST};
use upkeep_core::monitors::{CheckScheduler, DeadlineSweeper, Ingest};
use upkeep_web::AppState;

/// A started server.
pub struct Running {
    pub addr: SocketAddr,
    pub core: Core,
    /// The one-time setup URL, when nobody has an account yet.
    pub setup_url: Option<String>,
    /// The active-check scheduler, when this node runs workers.
    pub scheduler: Option<Arc<CheckScheduler>>,
    shutdown: CancellationToken,
    http: JoinHandle<std::io::Result<()>>,
    workers: Vec<JoinHandle<()>>,
}

impl Running {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop accepting requests, let in-flight ones finish and stop the workers, all within the
    /// configured shutdown timeout; then close the database.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let deadline = self.core.config.shutdown_timeout;
        let drained = tokio::time::timeout(deadline, async {
            let http = self.http.await;
            for worker in self.workers {
                let _ = worker.await;
            }
            http
        })
        .await;
        let result = match drained {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(err))) => Err(anyhow::Error::from(err).context("HTTP server failed")),
            Ok(Err(err)) => Err(anyhow::Error::from(err).context("HTTP server task failed")),
            Err(_) => {
                tracing::warn!(timeout = ?deadline, "shutdown timeout reached; abandoning in-flight work");
                Ok(())
            }
        };
        self.core.storage.close().await;
        result
    }

    /// Wait until the HTTP server ends by itself (it only does on error) or `signal` fires.
    pub async fn run_until(
        self,
        signal: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        signal.await;
        tracing::info!("shutting down");
        self.stop().await
    }
}

fn node_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|name| name.trim().to_string())
        .unwrap_or_else(|_| "node".into());
    format!("{host}-{}", std::process::id())
}

/// Open the database, migrate, bind and start everything this node's roles ask for.
pub async fn start(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Running> {
    let (storage, schema) = crate::backend::open_and_migrate(&config.database_url).await?;
    tracing::info!(
        backend = storage.backend_name(),
        database = config.redacted_database_url(),
        schema = schema.database_version,
        "database ready"
    );
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let mut config = config;
    config.listen = addr;
    let core = Core::new(storage, clock, config);
    let shutdown = CancellationToken::new();

    let setup_url = identity::ensure_setup_token(&core)
        .await?
        .map(|token| format!("{}/setup?token={token}", core.config.base_url()));

    let mut workers = Vec::new();
    // The monitor writer runs on every node that accepts pings or runs checks.
    workers.push(Ingest::start(&core, shutdown.clone()));
    // The alert writer runs on every node that accepts alert events.
    workers.push(upkeep_core::incidents::AlertIngest::start(
        &core,
        shutdown.clone(),
    ));
    let mut scheduler = None;
    if core.config.roles.workers {
        let checks = Arc::new(CheckScheduler::new(
            core.clone(),
            DEFAULT_CONCURRENCY,
            DEFAULT_PER_HOST,
        ));
        workers.push(tokio::spawn(checks.clone().run(shutdown.clone())));
        scheduler = Some(checks);
        let registry = upkeep_core::incidents::escalation::steps::register(JobRegistry::default());
        workers.push(spawn_worker(
            JobRunner::new(core.clone(), registry, node_name()),
            core.workers.clone(),
            shutdown.clone(),
        ));
    }
    if core.config.roles.scheduler {
        workers.push(spawn_worker(
            Housekeeping::new(core.clone()),
            core.workers.clone(),
            shutdown.clone(),
        ));
        workers.push(spawn_worker(
            upkeep_core::incidents::delivery::DeliveryWorker::new(core.clone()),
            core.workers.clone(),
            shutdown.clone(),
        ));
        workers.push(spawn_worker(
            upkeep_core::incidents::monitor_alerts::MonitorAlertWorker::new(core.clone()),
            core.workers.clone(),
            shutdown.clone(),
        ));
        workers.push(spawn_worker(
            DeadlineSweeper::new(core.clone()),
            core.workers.clone(),
            shutdown.clone(),
        ));
        workers.push(spawn_worker(
            upkeep_core::monitors::rollup::RollupWorker::new(core.clone()),
            core.workers.clone(),
            shutdown.clone(),
        ));
    }
    if core.config.roles.api {
        // The per-monitor figures of `/metrics`, kept in memory on every node that serves it.
        workers.push(spawn_worker(
            upkeep_core::monitors::exporter::MonitorExporter::new(core.clone()),
            core.workers.clone(),
            shutdown.clone(),
        ));
    }
    let http = if core.config.roles.api {
        tokio::spawn(upkeep_web::serve(
            listener,
            AppState::new(core.clone()),
            shutdown.clone(),
        ))
    } else {
        drop(listener);
        let stopped = shutdown.clone();
        tokio::spawn(async move {
            stopped.cancelled().await;
            Ok(())
        })
    };
    Ok(Running {
        addr,
        core,
        setup_url,
        scheduler,
        shutdown,
        http,
        workers,
    })
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn termination() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(err) => {
                    tracing::warn!(%err, "cannot listen for SIGTERM; only Ctrl-C stops upkeep");
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

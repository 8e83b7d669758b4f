//! upkeep's domains as modules of one crate, because they share transactions and types.
//!
//! Each domain is a module of free functions taking a [`Core`] (the storage handle, the injected clock and
//! the configuration). The web layer and the CLI call these functions; neither talks to storage directly
//! for anything that changes data.

pub mod audit;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod contacts;
mod error;
pub mod identity;
pub mod incidents;
pub mod jobs;
pub mod monitors;
pub mod oncall;
pub mod secrets;

use std::sync::Arc;

pub use error::{CoreError, CoreResult};
pub use upkeep_notify as notify;
pub use upkeep_storage as storage;

use clock::Clock;
use config::Config;
use jobs::WorkerRegistry;
use upkeep_storage::DynStorage;

/// The handle every domain function takes. Cheap to clone.
#[derive(Clone)]
pub struct Core {
    pub storage: DynStorage,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<Config>,
    pub workers: WorkerRegistry,
    /// This node's monitor writer (pings, check results, deadline sweeps).
    pub ingest: monitors::Ingest,
    /// How late active checks start on this node.
    pub check_stats: Arc<monitors::scheduler::SchedulerStats>,
    /// The per-monitor figures `/metrics` renders, refreshed by the monitor exporter.
    pub monitor_metrics: Arc<monitors::exporter::Snapshot>,
    /// This node's alert writer (events from every integration).
    pub alerts: incidents::AlertIngest,
    /// Signalled when monitor state changes were committed on this node, so they become alerts at once.
    pub monitor_events: Arc<tokio::sync::Notify>,
    /// Signalled when notifications were queued on this node, so delivery starts at once.
    pub outbox: Arc<tokio::sync::Notify>,
    /// The key that seals stored secrets (contact-method settings), loaded on first use.
    pub secrets: Arc<secrets::Secrets>,
    /// The one guarded HTTP client for user-given URLs (`[outbound]`), built on first use.
    pub outbound: Arc<contacts::Outbound>,
}

impl Core {
    pub fn new(storage: DynStorage, clock: Arc<dyn Clock>, config: Config) -> Self {
        let key_source = secrets::KeySource::from_config(&config, storage.backend_name());
        let outbound = contacts::Outbound::from_config(&config);
        Self {
            storage,
            clock,
            config: Arc::new(config),
            workers: WorkerRegistry::default(),
            ingest: monitors::Ingest::default(),
            check_stats: Arc::default(),
            monitor_metrics: Arc::default(),
            alerts: incidents::AlertIngest::default(),
            monitor_events: Arc::default(),
            outbox: Arc::default(),
            secrets: Arc::new(secrets::Secrets::new(key_source)),
            outbound: Arc::new(outbound),
        }
    }

    pub fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }
}

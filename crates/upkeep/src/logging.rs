//! Logs through `tracing` to stderr: human-readable by default, one JSON object per line with
//! `--log-format json`. `RUST_LOG` overrides the configured level.

use tracing_subscriber::EnvFilter;
use upkeep_core::config::{LogConfig, LogFormat};

pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match config.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
    // A second init (tests starting several servers) keeps the first subscriber.
    let _ = result;
}

//! `upkeep bench`: measurements that `BENCHMARKS.md` reports, each against this very binary started as
//! `upkeep serve` on a fresh database, from a load generator in this process on the same machine.
//! - `api`: start-up time, idle memory, authenticated `GET /api/v1/me` throughput and SIGTERM time;
//! - `pings`: heartbeat pings accepted and committed per second;
//! - `checks`: thousands of HTTP monitors at a 60 s interval: lateness, CPU and memory;
//! - `pages`: the monitor list page's render time with thousands of monitors;
//! - `events`: PagerDuty events accepted and committed per second;
//! - `paging`: from a monitor confirming down to the first webhook page.

mod api;
mod checks;
mod events;
mod pages;
mod paging;
mod pings;
mod rawload;
mod support;

use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::cli::Output;

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub which: BenchKind,
}

#[derive(Subcommand, Debug)]
pub enum BenchKind {
    /// Start-up, idle memory and authenticated API requests per second.
    #[command(
        after_help = "Example:\n  cargo run --release -- bench api --duration 10s --concurrency 32"
    )]
    Api(api::ApiArgs),
    /// Heartbeat pings accepted and committed per second.
    #[command(
        after_help = "Example:\n  cargo run --release -- bench pings --monitors 5000 --duration 10s"
    )]
    Pings(pings::PingArgs),
    /// Many HTTP monitors at one interval: check lateness, CPU and memory of the server.
    #[command(
        after_help = "Example:\n  cargo run --release -- bench checks --monitors 10000 --interval 60s --measure 120s"
    )]
    Checks(checks::CheckArgs),
    /// PagerDuty Events API v2 triggers accepted and committed per second.
    #[command(
        after_help = "Example:\n  cargo run --release -- bench events --services 100 --duration 10s"
    )]
    Events(events::EventArgs),
    /// Latency from a monitor confirming down to the first page arriving at a webhook.
    #[command(
        after_help = "Example:\n  UPKEEP_OUTBOUND_BLOCK_PRIVATE_ADDRESSES=false cargo run --release -- bench paging --trials 100"
    )]
    Paging(paging::PagingArgs),
    /// The monitor list page's render time with many monitors.
    #[command(after_help = "Example:\n  cargo run --release -- bench pages --monitors 10000")]
    Pages(pages::PageArgs),
}

pub async fn run(args: BenchArgs, out: &Output) -> anyhow::Result<ExitCode> {
    match args.which {
        BenchKind::Api(args) => api::run(args, out).await,
        BenchKind::Pings(args) => pings::run(args, out).await,
        BenchKind::Checks(args) => checks::run(args, out).await,
        BenchKind::Pages(args) => pages::run(args, out).await,
        BenchKind::Events(args) => events::run(args, out).await,
        BenchKind::Paging(args) => paging::run(args, out).await,
    }
}

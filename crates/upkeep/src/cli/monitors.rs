//! `upkeep monitor …`: creating, listing, pausing and removing monitors from the command line.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use upkeep_core::config::{Config, parse_duration};
use upkeep_core::monitors::{self, MonitorSpec};
use upkeep_core::storage::{Monitor, MonitorFilter, MonitorStatus};
use upkeep_core::{Core, audit, catalog};

use super::core_for_cli;
use super::output::{Output, all_pages, table};

#[derive(Subcommand)]
pub enum MonitorCommand {
    /// Create a monitor. Heartbeats print the URL the job must ping.
    #[command(
        after_help = "Examples:\n  upkeep monitor create --service api --name health --kind http --url https://api.example.com/health --interval 30s --condition '[STATUS] == 200' --condition '[RESPONSE_TIME] < 300'\n  upkeep monitor create --service db --name backup --kind heartbeat --cron '0 3 * * *' --tz Europe/Berlin --grace 1h\n  upkeep monitor create --service db --name vacuum --kind heartbeat --period 1d --grace 1h --json"
    )]
    Create(Box<CreateArgs>),
    /// List monitors.
    #[command(after_help = "Example:\n  upkeep monitor list --service api --status down")]
    List {
        #[arg(long)]
        service: Option<String>,
        /// up, down, degraded, pending, paused or maintenance.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        kind: Option<String>,
    },
    /// Show a monitor with its status.
    #[command(after_help = "Example:\n  upkeep monitor show 12 --json")]
    Show { id: i64 },
    /// Pause a monitor (no checks, no alerts), optionally for a while.
    #[command(after_help = "Example:\n  upkeep monitor pause 12 --for 2h")]
    Pause {
        id: i64,
        /// Resume by itself after this long, e.g. 2h.
        #[arg(long = "for")]
        duration: Option<String>,
    },
    /// Resume a paused monitor.
    #[command(after_help = "Example:\n  upkeep monitor resume 12")]
    Resume { id: i64 },
    /// Delete a monitor and its history.
    #[command(after_help = "Example:\n  upkeep monitor delete 12")]
    Delete { id: i64 },
}

#[derive(Args)]
pub struct CreateArgs {
    /// Slug of the service the monitor belongs to.
    #[arg(long)]
    service: String,
    #[arg(long)]
    name: String,
    /// http, tcp, dns, tls, icmp or heartbeat.
    #[arg(long, value_parser = ["http", "tcp", "dns", "tls", "icmp", "heartbeat"])]
    kind: String,
    #[arg(long)]
    slug: Option<String>,
    /// Target: an http(s) URL, host:port (tcp, tls) or a host name (dns, icmp).
    #[arg(long)]
    url: Option<String>,
    #[arg(long)]
    method: Option<String>,
    /// Time between checks, 1s to 24h (default 60s).
    #[arg(long)]
    interval: Option<String>,
    #[arg(long)]
    timeout: Option<String>,
    /// A Gatus-style condition (repeatable), e.g. '[STATUS] == 200'.
    #[arg(long = "condition")]
    conditions: Vec<String>,
    /// DNS record type.
    #[arg(long)]
    record_type: Option<String>,
    /// Heartbeats: expect a ping every PERIOD, e.g. 1d.
    #[arg(long, conflicts_with = "cron")]
    period: Option<String>,
    /// Heartbeats: expect a ping at every fire of this cron expression.
    #[arg(long)]
    cron: Option<String>,
    /// Time zone of --cron, e.g. Europe/Berlin (default UTC).
    #[arg(long)]
    tz: Option<String>,
    /// Heartbeats: how late a ping may be before the monitor is down (default 1h).
    #[arg(long)]
    grace: Option<String>,
    /// Failed checks in a row before the monitor is down (default 3).
    #[arg(long)]
    failure_threshold: Option<i32>,
    /// Successful checks in a row before it is up again (default 2).
    #[arg(long)]
    success_threshold: Option<i32>,
    /// Do not verify TLS certificates.
    #[arg(long)]
    insecure: bool,
    /// Do not follow redirects.
    #[arg(long)]
    no_follow_redirects: bool,
}

fn describe(core: &Core, monitor: &Monitor) -> Value {
    let mut value = serde_json::to_value(monitor).unwrap_or(Value::Null);
    value["status"] = json!(monitor.state.status.as_str());
    value["ping_url"] = json!(monitors::ping_url(core, monitor));
    value
}

/// The record of `describe` with the status shown now (`maintenance` while a window covers it).
fn describe_as(core: &Core, monitor: &Monitor, status: MonitorStatus) -> Value {
    let mut value = describe(core, monitor);
    value["status"] = json!(status.as_str());
    value
}

fn human(core: &Core, monitor: &Monitor, status: MonitorStatus) -> String {
    let mut lines = vec![
        format!(
            "{} ({}/{}), id {}",
            monitor.name, monitor.service_slug, monitor.slug, monitor.id
        ),
        format!("kind: {}", monitor.kind),
        format!("status: {}", status.as_str()),
    ];
    if let Some(url) = monitors::ping_url(core, monitor) {
        lines.push(format!("ping URL: {url}"));
    }
    if let Some(error) = &monitor.state.last_error {
        lines.push(format!("last error: {error}"));
    }
    if let Some(deadline) = monitor.state.deadline_at {
        lines.push(format!("next deadline: {deadline}"));
    }
    lines.join("\n")
}

pub async fn monitor(
    command: MonitorCommand,
    config: &Config,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let core = core_for_cli(config).await?;
    let ctx = audit::context(&core, audit::cli_actor(), None);
    match command {
        MonitorCommand::Create(args) => {
            let spec = MonitorSpec {
                name: args.name,
                slug: args.slug,
                kind: args.kind,
                url: args.url,
                method: args.method,
                interval: args.interval,
                timeout: args.timeout,
                conditions: args.conditions,
                record_type: args.record_type,
                period: args.period,
                cron: args.cron,
                tz: args.tz,
                grace: args.grace,
                failure_threshold: args.failure_threshold,
                success_threshold: args.success_threshold,
                verify_tls: args.insecure.then_some(false),
                follow_redirects: args.no_follow_redirects.then_some(false),
                ..MonitorSpec::default()
            };
            let monitor = monitors::create_monitor(&core, &ctx, &args.service, &spec, None).await?;
            out.print(&describe(&core, &monitor), || {
                match monitors::ping_url(&core, &monitor) {
                    Some(url) => format!(
                        "created monitor {} (id {})\nping URL: {url}",
                        monitor.slug, monitor.id
                    ),
                    None => format!("created monitor {} (id {})", monitor.slug, monitor.id),
                }
            });
        }
        MonitorCommand::List {
            service,
            status,
            kind,
        } => {
            let service_id = match &service {
                Some(slug) => Some(catalog::service(&core, slug).await?.id),
                None => None,
            };
            let status = status
                .as_deref()
                .map(|s| MonitorStatus::parse(s).with_context(|| format!("unknown status {s}")))
                .transpose()?;
            let filter = MonitorFilter {
                service_id,
                status,
                kind,
                search: None,
                ..MonitorFilter::default()
            };
            let list = all_pages(|page| monitors::list_monitors(&core, &filter, page)).await?;
            let statuses = monitors::effective_statuses(&core, &list).await?;
            let status_of = |monitor: &Monitor| {
                statuses
                    .get(&monitor.id)
                    .copied()
                    .unwrap_or(monitor.state.status)
            };
            let values: Vec<Value> = list
                .iter()
                .map(|monitor| describe_as(&core, monitor, status_of(monitor)))
                .collect();
            out.print(&values, || {
                table(
                    &["ID", "SERVICE", "SLUG", "KIND", "STATUS", "LAST ERROR"],
                    list.iter()
                        .map(|m| {
                            vec![
                                m.id.to_string(),
                                m.service_slug.clone(),
                                m.slug.clone(),
                                m.kind.clone(),
                                status_of(m).as_str().into(),
                                m.state.last_error.clone().unwrap_or_default(),
                            ]
                        })
                        .collect(),
                )
            });
        }
        MonitorCommand::Show { id } => {
            let monitor = monitors::monitor(&core, id).await?;
            let status = monitors::effective_status(&core, &monitor).await?;
            out.print(&describe_as(&core, &monitor, status), || {
                human(&core, &monitor, status)
            });
        }
        MonitorCommand::Pause { id, duration } => {
            let resume_at = duration
                .as_deref()
                .map(|text| {
                    parse_duration(text).map_err(|message| anyhow::anyhow!("--for: {message}"))
                })
                .transpose()?
                .map(|span| upkeep_core::clock::add(core.now(), span));
            let monitor = monitors::pause(&core, &ctx, id, resume_at).await?;
            out.print(&describe(&core, &monitor), || match resume_at {
                Some(at) => format!("paused monitor {} until {at}", monitor.id),
                None => format!("paused monitor {}", monitor.id),
            });
        }
        MonitorCommand::Resume { id } => {
            let monitor = monitors::resume(&core, &ctx, id).await?;
            out.print(&describe(&core, &monitor), || {
                format!("resumed monitor {}", monitor.id)
            });
        }
        MonitorCommand::Delete { id } => {
            monitors::delete_monitor(&core, &ctx, id).await?;
            out.print(&json!({ "deleted": id }), || {
                format!("deleted monitor {id}")
            });
        }
    }
    core.storage.close().await;
    Ok(ExitCode::SUCCESS)
}

//! `upkeep maintenance …`: maintenance windows of a service or a monitor from the command line. Checks keep
//! running during a window; state changes are recorded but nobody is paged for them.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use upkeep_core::config::Config;
use upkeep_core::monitors::maintenance::{self, WindowSpec};
use upkeep_core::storage::{MaintenanceKind, MaintenanceWindow};
use upkeep_core::{Core, audit};

use super::core_for_cli;
use super::output::{Output, all_pages, table};

#[derive(Subcommand)]
pub enum MaintenanceCommand {
    /// Create a one-off (--from/--to) or recurring (--start/--duration) maintenance window.
    #[command(
        after_help = "Examples:\n  upkeep maintenance create --service api --title \"Database upgrade\" --from 2025-06-01T22:00:00Z --to 2025-06-01T23:30:00Z\n  upkeep maintenance create --service api --title \"Nightly deploys\" --start 23:00 --duration 1h --days mon,thu --tz Europe/Amsterdam --json\n  upkeep maintenance create --monitor 12 --title \"Weekly reboot\" --start 04:00 --duration 30m --days sun --tz America/New_York --until 2025-12-31T00:00:00Z"
    )]
    Create(Box<CreateArgs>),
    /// List maintenance windows.
    #[command(
        after_help = "Examples:\n  upkeep maintenance list\n  upkeep maintenance list --service api --json\n  upkeep maintenance list --monitor 12"
    )]
    List {
        /// Windows of this service and of its monitors.
        #[arg(long)]
        service: Option<String>,
        /// Windows that apply to this monitor (its own and its service's).
        #[arg(long)]
        monitor: Option<i64>,
    },
    /// Delete a maintenance window.
    #[command(after_help = "Example:\n  upkeep maintenance delete 3")]
    Delete { id: i64 },
}

#[derive(Args)]
pub struct CreateArgs {
    /// Slug of the service: the window covers all its monitors.
    #[arg(long, conflicts_with = "monitor", required_unless_present = "monitor")]
    service: Option<String>,
    /// Id of the one monitor the window covers.
    #[arg(long)]
    monitor: Option<i64>,
    #[arg(long)]
    title: String,
    /// One-off: start (RFC 3339), e.g. 2025-06-01T22:00:00Z.
    #[arg(long, requires = "to", conflicts_with_all = ["start", "duration", "days", "tz", "until"])]
    from: Option<String>,
    /// One-off: end (RFC 3339).
    #[arg(long, requires = "from")]
    to: Option<String>,
    /// Recurring: local start time HH:MM.
    #[arg(long, requires = "duration")]
    start: Option<String>,
    /// Recurring: how long each occurrence lasts, e.g. 1h (at most 7d).
    #[arg(long, requires = "start")]
    duration: Option<String>,
    /// Recurring: weekdays, e.g. mon,thu (default every day).
    #[arg(long, value_delimiter = ',')]
    days: Vec<String>,
    /// Recurring: IANA time zone of --start and --days, e.g. Europe/Amsterdam (default UTC).
    #[arg(long)]
    tz: Option<String>,
    /// Recurring: no occurrence starts at or after this time (RFC 3339).
    #[arg(long)]
    until: Option<String>,
}

/// `90m` → `1h30m`.
fn duration_text(ms: i64) -> String {
    let mut rest = ms / 1000;
    let mut text = String::new();
    for (unit, seconds) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if rest >= seconds {
            text.push_str(&format!("{}{unit}", rest / seconds));
            rest %= seconds;
        }
    }
    if text.is_empty() { "0s".into() } else { text }
}

fn target(window: &MaintenanceWindow) -> String {
    match (&window.service_slug, window.monitor_id) {
        (Some(slug), _) => format!("service {slug}"),
        (None, Some(id)) => format!("monitor {id}"),
        (None, None) => "-".into(),
    }
}

fn when(window: &MaintenanceWindow) -> String {
    match window.kind {
        MaintenanceKind::OneOff => format!(
            "{} to {}",
            window
                .starts_at
                .map(|at| at.to_string())
                .unwrap_or_default(),
            window.ends_at.map(|at| at.to_string()).unwrap_or_default()
        ),
        MaintenanceKind::Recurring => {
            let days = if window.days.is_empty() {
                "every day".to_string()
            } else {
                window.days.join(",")
            };
            let mut text = format!(
                "{} for {} on {days} ({})",
                window.start_time.as_deref().unwrap_or("?"),
                duration_text(window.duration_ms.unwrap_or(0)),
                window.tz.as_deref().unwrap_or("UTC")
            );
            if let Some(until) = window.until {
                text.push_str(&format!(" until {until}"));
            }
            text
        }
    }
}

/// The window as the API shows it.
fn describe(core: &Core, window: &MaintenanceWindow) -> Value {
    json!({
        "id": window.id,
        "service": window.service_slug,
        "monitor": window.monitor_id,
        "title": window.title,
        "kind": window.kind.as_str(),
        "starts_at": window.starts_at,
        "ends_at": window.ends_at,
        "start": window.start_time,
        "duration_seconds": window.duration_ms.map(|ms| ms as f64 / 1000.0),
        "days": window.days,
        "tz": window.tz,
        "until": window.until,
        "active": maintenance::active_at(window, core.now()),
        "created_at": window.created_at,
        "created_by": window.created_by,
    })
}

pub async fn maintenance(
    command: MaintenanceCommand,
    config: &Config,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let core = core_for_cli(config).await?;
    let ctx = audit::context(&core, audit::cli_actor(), None);
    match command {
        MaintenanceCommand::Create(args) => {
            let spec = WindowSpec {
                service: args.service,
                monitor: args.monitor,
                title: args.title,
                starts_at: args.from,
                ends_at: args.to,
                start: args.start,
                duration: args.duration,
                days: args.days,
                tz: args.tz,
                until: args.until,
            };
            let window = maintenance::create_window(&core, &ctx, &spec).await?;
            out.print(&describe(&core, &window), || {
                format!(
                    "created maintenance window {} for {}: {}",
                    window.id,
                    target(&window),
                    when(&window)
                )
            });
        }
        MaintenanceCommand::List { service, monitor } => {
            let list = all_pages(|page| {
                maintenance::list_windows(&core, service.as_deref(), monitor, page)
            })
            .await?;
            let values: Vec<Value> = list.iter().map(|window| describe(&core, window)).collect();
            let now = core.now();
            out.print(&values, || {
                table(
                    &["ID", "FOR", "TITLE", "WHEN", "ACTIVE"],
                    list.iter()
                        .map(|window| {
                            vec![
                                window.id.to_string(),
                                target(window),
                                window.title.clone(),
                                when(window),
                                if maintenance::active_at(window, now) {
                                    "yes".into()
                                } else {
                                    "no".into()
                                },
                            ]
                        })
                        .collect(),
                )
            });
        }
        MaintenanceCommand::Delete { id } => {
            maintenance::delete_window(&core, &ctx, id).await?;
            out.print(&json!({ "deleted": id }), || {
                format!("deleted maintenance window {id}")
            });
        }
    }
    core.storage.close().await;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::duration_text;

    #[test]
    fn durations_read_like_they_are_typed() {
        assert_eq!(duration_text(3_600_000), "1h");
        assert_eq!(duration_text(5_400_000), "1h30m");
        assert_eq!(duration_text(604_800_000), "7d");
        assert_eq!(duration_text(0), "0s");
    }
}

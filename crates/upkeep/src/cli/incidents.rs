//! `upkeep incident …`: list incidents and acknowledge, resolve or annotate one from the command line.

use std::process::ExitCode;

use clap::Subcommand;
use serde::Serialize;
use upkeep_core::config::Config;
use upkeep_core::incidents::{self, IncidentChange};
use upkeep_core::storage::{Incident, IncidentFilter, IncidentStatus, PageRequest, TimelineEntry};
use upkeep_core::{Core, audit, catalog};

use super::core_for_cli;
use super::output::{Output, all_pages, table};

/// Most incidents `list` prints.
const LIST_LIMIT: u32 = 200;

#[derive(Subcommand)]
pub enum IncidentCommand {
    /// List incidents, newest first.
    #[command(
        after_help = "Examples:\n  upkeep incident list\n  upkeep incident list --service api --status triggered,acknowledged --json"
    )]
    List {
        /// Only this service's incidents.
        #[arg(long)]
        service: Option<String>,
        /// Comma-separated statuses: triggered, acknowledged, resolved.
        #[arg(long, value_delimiter = ',')]
        status: Vec<String>,
    },
    /// Show an incident with its timeline.
    #[command(after_help = "Example:\n  upkeep incident show 42 --json")]
    Show { id: i64 },
    /// Acknowledge an incident (escalation stops).
    #[command(after_help = "Example:\n  upkeep incident ack 42")]
    Ack { id: i64 },
    /// Resolve an incident and its open alerts.
    #[command(after_help = "Example:\n  upkeep incident resolve 42")]
    Resolve { id: i64 },
    /// Reopen a resolved incident.
    #[command(after_help = "Example:\n  upkeep incident reopen 42")]
    Reopen { id: i64 },
    /// Add a note to an incident's timeline.
    #[command(after_help = "Example:\n  upkeep incident note 42 \"Rolled back to v1.4.2\"")]
    Note { id: i64, text: String },
}

/// One incident as `list --json` prints it.
#[derive(Serialize)]
struct IncidentLine {
    id: i64,
    status: IncidentStatus,
    severity: String,
    service: String,
    alert_count: i64,
    open_alert_count: i64,
    title: String,
    created_at: jiff::Timestamp,
}

impl From<&Incident> for IncidentLine {
    fn from(incident: &Incident) -> Self {
        Self {
            id: incident.id,
            status: incident.status,
            severity: incident.severity.as_str().to_string(),
            service: incident.service_slug.clone(),
            alert_count: incident.alert_count,
            open_alert_count: incident.open_alert_count,
            title: incident.title.clone(),
            created_at: incident.created_at,
        }
    }
}

fn describe(incident: &Incident) -> String {
    format!(
        "incident {} [{}] {} — {}\nservice: {}\nalerts: {} ({} open)\nopened: {}",
        incident.id,
        incident.status,
        incident.severity,
        incident.title,
        incident.service_slug,
        incident.alert_count,
        incident.open_alert_count,
        incident.created_at
    )
}

fn describe_timeline(entries: &[TimelineEntry]) -> String {
    entries
        .iter()
        .map(|entry| {
            format!(
                "  {}  {:<22} {}{}",
                entry.at,
                entry.kind,
                entry.message,
                entry
                    .actor
                    .as_deref()
                    .map(|actor| format!(" ({actor})"))
                    .unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn list(
    core: &Core,
    service: Option<String>,
    status: Vec<String>,
) -> anyhow::Result<Vec<Incident>> {
    let service_id = match service {
        Some(slug) => Some(catalog::service(core, &slug).await?.id),
        None => None,
    };
    let statuses = status
        .iter()
        .map(|text| {
            IncidentStatus::parse(text.trim()).ok_or_else(|| {
                anyhow::anyhow!(
                    "--status: unknown status {text:?} (triggered, acknowledged or resolved)"
                )
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let filter = IncidentFilter {
        service_id,
        statuses,
    };
    Ok(
        incidents::list(core, &filter, PageRequest::new(LIST_LIMIT, None))
            .await?
            .items,
    )
}

pub async fn incident(
    command: IncidentCommand,
    config: &Config,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let core = core_for_cli(config).await?;
    let ctx = audit::context(&core, audit::cli_actor(), None);
    let change = |id: i64, change: IncidentChange| {
        let core = core.clone();
        let ctx = ctx.clone();
        async move { incidents::change(&core, &ctx, id, change).await }
    };
    match command {
        IncidentCommand::List { service, status } => {
            let found = list(&core, service, status).await?;
            let lines: Vec<IncidentLine> = found.iter().map(IncidentLine::from).collect();
            out.print(&lines, || {
                table(
                    &["ID", "STATUS", "SEVERITY", "SERVICE", "ALERTS", "TITLE"],
                    lines
                        .iter()
                        .map(|line| {
                            vec![
                                line.id.to_string(),
                                line.status.to_string(),
                                line.severity.clone(),
                                line.service.clone(),
                                line.alert_count.to_string(),
                                line.title.clone(),
                            ]
                        })
                        .collect(),
                )
            });
        }
        IncidentCommand::Show { id } => {
            let found = incidents::incident(&core, id).await?;
            let timeline = all_pages(|page| incidents::timeline(&core, id, page)).await?;
            out.print(
                &serde_json::json!({ "incident": found, "timeline": timeline }),
                || {
                    format!(
                        "{}\ntimeline:\n{}",
                        describe(&found),
                        describe_timeline(&timeline)
                    )
                },
            );
        }
        IncidentCommand::Ack { id } => {
            let done = change(id, IncidentChange::Acknowledge).await?;
            out.print(&done, || describe(&done));
        }
        IncidentCommand::Resolve { id } => {
            let done = change(id, IncidentChange::Resolve).await?;
            out.print(&done, || describe(&done));
        }
        IncidentCommand::Reopen { id } => {
            let done = change(id, IncidentChange::Reopen).await?;
            out.print(&done, || describe(&done));
        }
        IncidentCommand::Note { id, text } => {
            let done = change(id, IncidentChange::Note(text)).await?;
            out.print(&done, || format!("note added to incident {}", done.id));
        }
    }
    core.storage.close().await;
    Ok(ExitCode::SUCCESS)
}

//! `serve`, `migrate`, `config check` and `audit list`: running and inspecting an installation.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Subcommand;
use upkeep_core::audit;
use upkeep_core::clock::SystemClock;
use upkeep_core::config::{self, Config};
use upkeep_core::storage::{AuditFilter, PageRequest};

use super::output::{Output, table};
use super::{GlobalArgs, core_for_cli};

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Report every problem in the configuration file and environment, with its line.
    #[command(after_help = "Example:\n  upkeep config check --config upkeep.toml")]
    Check,
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Newest audit records first.
    #[command(after_help = "Example:\n  upkeep audit list --action service. --limit 20")]
    List {
        /// Only actions starting with this, e.g. user. or service.update
        #[arg(long)]
        action: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

pub async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    let running = crate::server::start(config, Arc::new(SystemClock)).await?;
    println!("upkeep is listening on {}", running.core.config.base_url());
    if let Some(url) = &running.setup_url {
        println!(
            "No account exists yet. Open this one-time link to create the owner account:\n  {url}"
        );
    }
    running.run_until(crate::server::termination()).await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn migrate(config: &Config, out: &Output) -> anyhow::Result<ExitCode> {
    let (storage, status) = crate::backend::open_and_migrate(&config.database_url).await?;
    storage.close().await;
    out.print(&status, || {
        format!(
            "database schema is at version {} (current)",
            status.database_version
        )
    });
    Ok(ExitCode::SUCCESS)
}

pub fn config(
    command: ConfigCommand,
    global: &GlobalArgs,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let ConfigCommand::Check = command;
    let env = std::env::vars().collect();
    let mut problems = match &global.config {
        Some(path) => config::check_file(path),
        None => Vec::new(),
    };
    problems.extend(config::check_env(&env));
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    out.print(
        &serde_json::json!({ "ok": problems.is_empty(), "problems": lines }),
        || {
            if problems.is_empty() {
                match &global.config {
                    Some(path) => format!("{}: no problems found", path.display()),
                    None => "no configuration file given (--config); environment has no problems"
                        .to_string(),
                }
            } else {
                lines.join("\n")
            }
        },
    );
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub async fn audit(
    command: AuditCommand,
    config: &Config,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let AuditCommand::List { action, limit } = command;
    let core = core_for_cli(config).await?;
    let filter = AuditFilter {
        action_prefix: action,
        ..AuditFilter::default()
    };
    let page = audit::list(&core, &filter, PageRequest::new(limit, None)).await?;
    out.print(&page.items, || {
        table(
            &["AT", "ACTOR", "ACTION", "TARGET", "FROM"],
            page.items
                .iter()
                .map(|r| {
                    vec![
                        r.at.to_string(),
                        r.actor_label.clone(),
                        r.action.clone(),
                        format!("{} {}", r.target_kind, r.target_id),
                        r.origin.clone().unwrap_or_default(),
                    ]
                })
                .collect(),
        )
    });
    core.storage.close().await;
    Ok(ExitCode::SUCCESS)
}

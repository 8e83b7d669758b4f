//! `upkeep escalation …`: escalation policies from the command line, and which policy a service uses.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;
use upkeep_core::config::Config;
use upkeep_core::incidents::escalation::{self, PolicySpec};
use upkeep_core::storage::PageRequest;
use upkeep_core::{audit, catalog};

use super::core_for_cli;
use super::output::{Output, table};

#[derive(Subcommand)]
pub enum EscalationCommand {
    /// Create a policy from JSON levels.
    #[command(
        after_help = "Example:\n  upkeep escalation create default --name \"Default\" --spec '{\"levels\":[{\"delay\":\"10m\",\"targets\":[{\"schedule\":\"primary\"}]},{\"delay\":\"15m\",\"targets\":[{\"user\":1}]}],\"repeat\":1,\"ack_timeout\":\"30m\"}' --json"
    )]
    Create {
        slug: String,
        #[arg(long, default_value = "")]
        name: String,
        /// The policy as JSON (`levels`, `repeat`, `ack_timeout`).
        #[arg(long, conflicts_with = "file", required_unless_present = "file")]
        spec: Option<String>,
        /// Read the JSON policy from this file.
        #[arg(long)]
        file: Option<std::path::PathBuf>,
    },
    /// List policies with what keeps them from paging anyone.
    #[command(after_help = "Example:\n  upkeep escalation list --json")]
    List,
    /// Show a policy.
    #[command(after_help = "Example:\n  upkeep escalation show default --json")]
    Show { slug: String },
    /// Delete a policy; services using it page nobody until given another.
    #[command(after_help = "Example:\n  upkeep escalation delete default")]
    Delete { slug: String },
    /// Set the policy (and runbook link) of a service.
    #[command(
        after_help = "Example:\n  upkeep escalation assign api --policy default --runbook https://wiki.example.com/api"
    )]
    Assign {
        service: String,
        /// The policy's slug; leave out to page nobody.
        #[arg(long)]
        policy: Option<String>,
        #[arg(long)]
        runbook: Option<String>,
    },
}

fn read_spec(spec: Option<String>, file: Option<std::path::PathBuf>) -> anyhow::Result<PolicySpec> {
    let text = match (spec, file) {
        (Some(text), _) => text,
        (None, Some(path)) => std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?,
        (None, None) => anyhow::bail!("--spec or --file is required"),
    };
    let mut deserializer = serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|err| anyhow::anyhow!("--spec: {}: {}", err.path(), err.inner()))
}

pub async fn escalation(
    command: EscalationCommand,
    config: &Config,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let core = core_for_cli(config).await?;
    let ctx = audit::context(&core, audit::cli_actor(), None);
    match command {
        EscalationCommand::Create {
            slug,
            name,
            spec,
            file,
        } => {
            let spec = read_spec(spec, file)?;
            let policy = escalation::create(&core, &ctx, &slug, &name, &spec).await?;
            let gaps = escalation::gaps(&core, &policy).await?;
            out.print(&json!({ "policy": policy, "gaps": gaps }), || {
                format!(
                    "created escalation policy {} (id {})",
                    policy.slug, policy.id
                )
            });
        }
        EscalationCommand::List => {
            let policies = escalation::list(&core, PageRequest::new(500, None))
                .await?
                .items;
            let mut rows = Vec::new();
            let mut listed = Vec::new();
            for policy in policies {
                let gaps = escalation::gaps(&core, &policy).await?;
                rows.push(vec![
                    policy.slug.clone(),
                    policy.name.clone(),
                    gaps.len().to_string(),
                ]);
                listed.push(json!({ "policy": policy, "gaps": gaps }));
            }
            out.print(&listed, || table(&["SLUG", "NAME", "GAPS"], rows));
        }
        EscalationCommand::Show { slug } => {
            let policy = escalation::policy(&core, &slug).await?;
            let gaps = escalation::gaps(&core, &policy).await?;
            out.print(&json!({ "policy": policy, "gaps": gaps }), || {
                format!(
                    "{} ({})\n{}\ngaps: {}",
                    policy.name,
                    policy.slug,
                    serde_json::to_string_pretty(&policy.spec).unwrap_or_default(),
                    if gaps.is_empty() {
                        "none".to_string()
                    } else {
                        gaps.join("; ")
                    }
                )
            });
        }
        EscalationCommand::Delete { slug } => {
            escalation::delete(&core, &ctx, &slug).await?;
            out.print(&json!({ "deleted": slug }), || {
                format!("deleted escalation policy {slug}")
            });
        }
        EscalationCommand::Assign {
            service,
            policy,
            runbook,
        } => {
            catalog::service(&core, &service).await?;
            let settings =
                escalation::set_for_service(&core, &ctx, &service, policy.as_deref(), runbook)
                    .await?;
            out.print(&settings, || {
                format!(
                    "{service}: escalation policy {}, runbook {}",
                    settings.escalation_policy_slug.as_deref().unwrap_or("none"),
                    settings.runbook_url.as_deref().unwrap_or("none")
                )
            });
        }
    }
    core.storage.close().await;
    Ok(ExitCode::SUCCESS)
}

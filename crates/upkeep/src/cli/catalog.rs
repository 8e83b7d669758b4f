//! `upkeep team …` and `upkeep service …`: the service catalogue from the command line.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;
use upkeep_core::catalog::{self, ServiceInput, ServicePatch, TeamInput};
use upkeep_core::config::Config;
use upkeep_core::incidents::{self, integrations::Integrations};
use upkeep_core::storage::{IntegrationKind, Service, ServiceLink};
use upkeep_core::{Core, audit};

use super::core_for_cli;
use super::output::{Output, all_pages, table};

#[derive(Subcommand)]
pub enum TeamCommand {
    /// Create a team.
    #[command(after_help = "Example:\n  upkeep team create platform --name \"Platform team\"")]
    Create {
        slug: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// List teams.
    #[command(after_help = "Example:\n  upkeep team list --json")]
    List,
    /// Show a team and its services.
    #[command(after_help = "Example:\n  upkeep team show platform")]
    Show { slug: String },
    /// Delete a team that owns no services.
    #[command(after_help = "Example:\n  upkeep team delete platform")]
    Delete { slug: String },
}

#[derive(Subcommand)]
pub enum ServiceCommand {
    /// Create a service.
    #[command(
        after_help = "Example:\n  upkeep service create api --name \"Public API\" --team platform --depends-on db --link repo=https://git.example.com/api"
    )]
    Create {
        slug: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// Slug of the owner team.
        #[arg(long)]
        team: Option<String>,
        /// A service this one depends on (repeatable).
        #[arg(long = "depends-on")]
        depends_on: Vec<String>,
        /// A link as TITLE=URL (repeatable).
        #[arg(long = "link")]
        links: Vec<String>,
    },
    /// List services.
    #[command(after_help = "Example:\n  upkeep service list --team platform --json")]
    List {
        #[arg(long)]
        team: Option<String>,
    },
    /// Show a service.
    #[command(after_help = "Example:\n  upkeep service show api --json")]
    Show { slug: String },
    /// Change a service.
    #[command(
        after_help = "Example:\n  upkeep service update api --team payments --depends-on db --depends-on cache"
    )]
    Update {
        slug: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// New owner team (use --no-team to remove it).
        #[arg(long, conflicts_with = "no_team")]
        team: Option<String>,
        #[arg(long)]
        no_team: bool,
        /// Replace the dependencies (repeatable).
        #[arg(long = "depends-on")]
        depends_on: Vec<String>,
        /// Remove every dependency.
        #[arg(long, conflicts_with = "depends_on")]
        no_dependencies: bool,
    },
    /// Delete a service nothing depends on.
    #[command(after_help = "Example:\n  upkeep service delete api")]
    Delete { slug: String },
    /// Replace one of the service's integration keys; the old key stops working at once.
    #[command(after_help = "Example:\n  upkeep service rotate-key api --kind pagerduty --json")]
    RotateKey {
        slug: String,
        /// pagerduty, alertmanager, grafana or webhook.
        #[arg(long)]
        kind: String,
    },
}

/// A service with its alert-source integrations, as `show --json` prints it.
fn with_integrations(service: &Service, integrations: &Integrations) -> serde_json::Value {
    let mut value = serde_json::to_value(service).unwrap_or_default();
    if let serde_json::Value::Object(map) = &mut value {
        map.insert(
            "integrations".into(),
            serde_json::to_value(integrations).unwrap_or_default(),
        );
    }
    value
}

fn describe_integrations(integrations: &Integrations) -> String {
    [
        format!(
            "pagerduty routing key: {}",
            integrations.pagerduty_routing_key
        ),
        format!(
            "pagerduty events url: {}",
            integrations.pagerduty_events_url
        ),
        format!("alertmanager url: {}", integrations.alertmanager_url),
        format!("grafana url: {}", integrations.grafana_url),
        format!("webhook url: {}", integrations.webhook_url),
    ]
    .join("\n")
}

fn parse_link(text: &str) -> anyhow::Result<ServiceLink> {
    let (title, url) = text
        .split_once('=')
        .with_context(|| format!("--link {text:?}: use TITLE=URL"))?;
    Ok(ServiceLink {
        title: title.to_string(),
        url: url.to_string(),
    })
}

fn describe(service: &Service) -> String {
    let mut lines = vec![
        format!("{} ({})", service.name, service.slug),
        format!("id: {}", service.id),
        format!("team: {}", service.team_slug.as_deref().unwrap_or("-")),
        format!(
            "depends on: {}",
            if service.depends_on.is_empty() {
                "-".to_string()
            } else {
                service.depends_on.join(", ")
            }
        ),
    ];
    if !service.description.is_empty() {
        lines.push(format!("description: {}", service.description));
    }
    for link in &service.links {
        lines.push(format!("link: {} {}", link.title, link.url));
    }
    lines.join("\n")
}

async fn all_services(core: &Core, team: Option<&str>) -> anyhow::Result<Vec<Service>> {
    all_pages(|page| catalog::list_services(core, team, page)).await
}

pub async fn team(command: TeamCommand, config: &Config, out: &Output) -> anyhow::Result<ExitCode> {
    let core = core_for_cli(config).await?;
    let ctx = audit::context(&core, audit::cli_actor(), None);
    match command {
        TeamCommand::Create {
            slug,
            name,
            description,
        } => {
            let team = catalog::create_team(
                &core,
                &ctx,
                TeamInput {
                    slug,
                    name,
                    description,
                },
            )
            .await?;
            out.print(&team, || {
                format!("created team {} ({})", team.slug, team.name)
            });
        }
        TeamCommand::List => {
            let teams = all_pages(|page| catalog::list_teams(&core, page)).await?;
            out.print(&teams, || {
                table(
                    &["SLUG", "NAME"],
                    teams
                        .iter()
                        .map(|t| vec![t.slug.clone(), t.name.clone()])
                        .collect(),
                )
            });
        }
        TeamCommand::Show { slug } => {
            let team = catalog::team(&core, &slug).await?;
            let services = all_services(&core, Some(&slug)).await?;
            let slugs: Vec<&str> = services.iter().map(|s| s.slug.as_str()).collect();
            out.print(&json!({ "team": team, "services": slugs }), || {
                format!(
                    "{} ({})\nservices: {}",
                    team.name,
                    team.slug,
                    if slugs.is_empty() {
                        "-".to_string()
                    } else {
                        slugs.join(", ")
                    }
                )
            });
        }
        TeamCommand::Delete { slug } => {
            catalog::delete_team(&core, &ctx, &slug).await?;
            out.print(&json!({ "deleted": slug }), || {
                format!("deleted team {slug}")
            });
        }
    }
    core.storage.close().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn service(
    command: ServiceCommand,
    config: &Config,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let core = core_for_cli(config).await?;
    let ctx = audit::context(&core, audit::cli_actor(), None);
    match command {
        ServiceCommand::Create {
            slug,
            name,
            description,
            team,
            depends_on,
            links,
        } => {
            let links = links
                .iter()
                .map(|link| parse_link(link))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let service = catalog::create_service(
                &core,
                &ctx,
                ServiceInput {
                    slug,
                    name,
                    description,
                    team,
                    links,
                    depends_on,
                },
            )
            .await?;
            out.print(&service, || {
                format!("created service {} (id {})", service.slug, service.id)
            });
        }
        ServiceCommand::List { team } => {
            let services = all_services(&core, team.as_deref()).await?;
            out.print(&services, || {
                table(
                    &["ID", "SLUG", "NAME", "TEAM", "DEPENDS ON"],
                    services
                        .iter()
                        .map(|s| {
                            vec![
                                s.id.to_string(),
                                s.slug.clone(),
                                s.name.clone(),
                                s.team_slug.clone().unwrap_or_default(),
                                s.depends_on.join(","),
                            ]
                        })
                        .collect(),
                )
            });
        }
        ServiceCommand::Show { slug } => {
            let service = catalog::service(&core, &slug).await?;
            let integrations = incidents::integrations::integrations(&core, service.id).await?;
            out.print(&with_integrations(&service, &integrations), || {
                format!(
                    "{}\n{}",
                    describe(&service),
                    describe_integrations(&integrations)
                )
            });
        }
        ServiceCommand::RotateKey { slug, kind } => {
            let kind = IntegrationKind::parse(&kind).ok_or_else(|| {
                anyhow::anyhow!(
                    "--kind: unknown integration {kind:?} (pagerduty, alertmanager, grafana or webhook)"
                )
            })?;
            let service = catalog::service(&core, &slug).await?;
            let integrations =
                incidents::integrations::rotate(&core, &ctx, service.id, kind).await?;
            out.print(&with_integrations(&service, &integrations), || {
                format!(
                    "rotated the {kind} key of {slug}\n{}",
                    describe_integrations(&integrations)
                )
            });
        }
        ServiceCommand::Update {
            slug,
            name,
            description,
            team,
            no_team,
            depends_on,
            no_dependencies,
        } => {
            let patch = ServicePatch {
                name,
                description,
                team: if no_team { Some(None) } else { team.map(Some) },
                links: None,
                depends_on: if no_dependencies {
                    Some(Vec::new())
                } else if depends_on.is_empty() {
                    None
                } else {
                    Some(depends_on)
                },
            };
            let service = catalog::update_service(&core, &ctx, &slug, patch).await?;
            out.print(&service, || describe(&service));
        }
        ServiceCommand::Delete { slug } => {
            catalog::delete_service(&core, &ctx, &slug).await?;
            out.print(&json!({ "deleted": slug }), || {
                format!("deleted service {slug}")
            });
        }
    }
    core.storage.close().await;
    Ok(ExitCode::SUCCESS)
}

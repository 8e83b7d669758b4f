//! The command line: `serve` plus the commands that administer the same installation (`user`, `token`,
//! `team`, `service`, `migrate`, `config`, …). They read the same configuration and database as `serve`,
//! also while it runs, and print JSON with `--json`.

mod accounts;
mod admin;
mod apply;
mod catalog;
mod contacts;
mod escalation;
mod incidents;
mod maintenance;
mod monitors;
mod output;
mod schedules;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use upkeep_core::config::{self, Config, LogFormat};

pub use output::Output;

#[derive(Parser)]
#[command(
    name = "upkeep",
    version,
    about = "Production support for small teams, in one binary.",
    after_help = "Examples:\n  upkeep serve\n  upkeep serve --database-url postgres://postgres@127.0.0.1:5432/upkeep\n  upkeep user create --email ana@example.com --role owner\n  upkeep service create api --name \"Public API\" --team platform"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Clone)]
pub struct GlobalArgs {
    /// Configuration file (TOML). Also UPKEEP_CONFIG.
    #[arg(long, global = true, env = "UPKEEP_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://PATH (default sqlite://upkeep-data/upkeep.db) or postgres://…
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// Log format: text or json.
    #[arg(long, global = true, value_parser = ["text", "json"])]
    pub log_format: Option<String>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run upkeep: web UI, API and background work.
    #[command(
        after_help = "Examples:\n  upkeep serve\n  upkeep serve --listen 0.0.0.0:8080 --database-url postgres://postgres@127.0.0.1:5432/upkeep"
    )]
    Serve {
        /// Address to listen on (default 127.0.0.1:8080). Also UPKEEP_LISTEN.
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Bring the database schema up to this binary's version.
    #[command(
        after_help = "Example:\n  upkeep migrate --database-url postgres://postgres@127.0.0.1:5432/upkeep"
    )]
    Migrate,
    /// Manage people.
    #[command(subcommand)]
    User(accounts::UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(accounts::TokenCommand),
    /// Manage teams.
    #[command(subcommand)]
    Team(catalog::TeamCommand),
    /// Manage services.
    #[command(subcommand)]
    Service(catalog::ServiceCommand),
    /// Manage monitors (active checks and heartbeats).
    #[command(subcommand)]
    Monitor(Box<monitors::MonitorCommand>),
    /// Escalation policies: who is paged, in which order; which policy a service uses.
    #[command(subcommand)]
    Escalation(escalation::EscalationCommand),
    /// Incidents: list, show, acknowledge, resolve, reopen, add notes.
    #[command(subcommand)]
    Incident(incidents::IncidentCommand),
    /// Manage maintenance windows (checks continue, nobody is paged).
    #[command(subcommand)]
    Maintenance(maintenance::MaintenanceCommand),
    /// Manage people's contact methods and notification rules (how they are paged).
    #[command(subcommand)]
    Contact(contacts::ContactCommand),
    /// On-call schedules: create from a JSON spec, who is on call now or at a time, shifts.
    #[command(subcommand)]
    Schedule(schedules::ScheduleCommand),
    /// Reconcile monitors declared in [[monitor]] tables of a file or folder (config as code).
    Apply(apply::ApplyArgs),
    /// Read the audit log.
    #[command(subcommand)]
    Audit(admin::AuditCommand),
    /// Check the configuration.
    #[command(subcommand)]
    Config(admin::ConfigCommand),
    /// Print the OpenAPI document of the REST API.
    #[command(after_help = "Example:\n  upkeep openapi > openapi.json")]
    Openapi,
    /// Measure start-up time, idle memory and API throughput on this machine.
    #[command(after_help = "Example:\n  cargo run --release -- bench --duration 10s")]
    Bench(crate::bench::BenchArgs),
}

/// Load the configuration: defaults, file, environment, then flags.
pub fn load_config(global: &GlobalArgs) -> Result<Config, String> {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let mut config = config::load(global.config.as_deref(), &env).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        format!("the configuration has problems:\n  {}", lines.join("\n  "))
    })?;
    if let Some(url) = &global.database_url {
        config.database_url = url.clone();
    }
    if let Some(format) = &global.log_format {
        config.log.format = if format == "json" {
            LogFormat::Json
        } else {
            LogFormat::Text
        };
    }
    Ok(config)
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = Output {
        json: cli.global.json,
    };
    let config = match load_config(&cli.global) {
        Ok(config) => config,
        Err(message) => {
            // `config check` reports problems itself, in full.
            if matches!(cli.command, Command::Config(_)) {
                Config::default()
            } else {
                eprintln!("error: {message}");
                return ExitCode::from(2);
            }
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli, config, &out));
    match result {
        Ok(code) => code,
        Err(err) => {
            out.error(&err);
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, mut config: Config, out: &Output) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { listen } => {
            if let Some(listen) = listen {
                config.listen = listen;
            }
            crate::logging::init(&config.log);
            admin::serve(config).await
        }
        Command::Migrate => admin::migrate(&config, out).await,
        Command::User(command) => accounts::user(command, &config, out).await,
        Command::Token(command) => accounts::token(command, &config, out).await,
        Command::Team(command) => catalog::team(command, &config, out).await,
        Command::Service(command) => catalog::service(command, &config, out).await,
        Command::Monitor(command) => monitors::monitor(*command, &config, out).await,
        Command::Escalation(command) => escalation::escalation(command, &config, out).await,
        Command::Incident(command) => incidents::incident(command, &config, out).await,
        Command::Maintenance(command) => maintenance::maintenance(command, &config, out).await,
        Command::Contact(command) => contacts::contact(command, &config, out).await,
        Command::Schedule(command) => schedules::schedule(command, &config, out).await,
        Command::Apply(args) => apply::apply(args, &config, out).await,
        Command::Audit(command) => admin::audit(command, &config, out).await,
        Command::Config(command) => admin::config(command, &cli.global, out),
        Command::Openapi => {
            println!(
                "{}",
                serde_json::to_string_pretty(&upkeep_web::openapi_document())?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(args) => crate::bench::run(args, out).await,
    }
}

/// Open and migrate the database for an administrative command.
pub(crate) async fn core_for_cli(config: &Config) -> anyhow::Result<upkeep_core::Core> {
    let (storage, _) = crate::backend::open_and_migrate(&config.database_url).await?;
    Ok(upkeep_core::Core::new(
        storage,
        std::sync::Arc::new(upkeep_core::clock::SystemClock),
        config.clone(),
    ))
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// Every runnable command (a leaf of the tree) shows an example in its `--help`.
    #[test]
    fn every_command_has_an_example() {
        fn walk(command: &clap::Command, path: String, missing: &mut Vec<String>) {
            let leaves: Vec<_> = command
                .get_subcommands()
                .filter(|sub| sub.get_name() != "help")
                .collect();
            if leaves.is_empty() {
                let help = command
                    .get_after_help()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                if !help.contains("Example") {
                    missing.push(path);
                }
                return;
            }
            for sub in leaves {
                walk(sub, format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "upkeep".into(), &mut missing);
        assert!(
            missing.is_empty(),
            "commands without an example: {missing:?}"
        );
    }
}

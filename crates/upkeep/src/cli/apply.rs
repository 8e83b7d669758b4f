//! `upkeep apply PATH`: reconcile the monitors declared in `[[monitor]]` tables of a TOML file (the
//! configuration file itself, or any other) or of every `*.toml` file in a folder. `--dry-run` prints the
//! plan; without it the plan is carried out, and nothing changes unless every declaration is valid.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use serde_json::json;
use upkeep_core::audit;
use upkeep_core::config::Config;
use upkeep_core::monitors::MonitorSpec;
use upkeep_core::monitors::apply::{self, ApplyProblem, Change, Declared};

use super::core_for_cli;
use super::output::Output;

#[derive(Args)]
#[command(
    after_help = "Example file (monitors.toml):\n  [[monitor]]\n  service = \"api\"\n  name = \"health\"\n  kind = \"http\"\n  url = \"https://api.example.com/health\"\n  interval = \"30s\"\n  conditions = [\"[STATUS] == 200\", \"[RESPONSE_TIME] < 300\"]\n\n  [[monitor]]\n  service = \"db\"\n  name = \"backup\"\n  kind = \"heartbeat\"\n  cron = \"0 3 * * *\"\n  tz = \"Europe/Berlin\"\n  grace = \"1h\"\n\nExamples:\n  upkeep apply monitors.toml --dry-run\n  upkeep apply monitors/"
)]
pub struct ApplyArgs {
    /// A TOML file with [[monitor]] tables, or a folder of them.
    path: PathBuf,
    /// Print what would change and change nothing.
    #[arg(long)]
    dry_run: bool,
}

fn files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot read the folder {}", path.display()))?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|file| file.extension().is_some_and(|ext| ext == "toml"))
            .collect();
        files.sort();
        if files.is_empty() {
            bail!("{} holds no *.toml files", path.display());
        }
        Ok(files)
    } else if path.is_file() {
        Ok(vec![path.to_path_buf()])
    } else {
        bail!("{} does not exist", path.display())
    }
}

/// Read one file's `[[monitor]]` tables; problems are collected, not fatal.
fn read(file: &Path, declared: &mut Vec<Declared>, problems: &mut Vec<ApplyProblem>) {
    let source = file.display().to_string();
    let located = |index: usize, name: &str, field: &str, message: String| ApplyProblem {
        source: source.clone(),
        index,
        name: name.to_string(),
        field: field.to_string(),
        message,
    };
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(err) => return problems.push(located(0, "-", "file", format!("cannot read: {err}"))),
    };
    let table: toml::Table = match text.parse() {
        Ok(table) => table,
        Err(err) => {
            return problems.push(located(0, "-", "file", format!("not valid TOML: {err}")));
        }
    };
    let Some(monitors) = table.get("monitor") else {
        return problems.push(located(
            0,
            "-",
            "monitor",
            "no [[monitor]] tables in this file".into(),
        ));
    };
    let Some(monitors) = monitors.as_array() else {
        return problems.push(located(0, "-", "monitor", "use [[monitor]] tables".into()));
    };
    for (position, item) in monitors.iter().enumerate() {
        let index = position + 1;
        let Some(fields) = item.as_table() else {
            problems.push(located(index, "-", "monitor", "not a table".into()));
            continue;
        };
        let mut fields = fields.clone();
        let name = fields
            .get("name")
            .and_then(|v| v.as_str())
            .unwrap_or("-")
            .to_string();
        let service = match fields.remove("service") {
            Some(toml::Value::String(service)) => service,
            _ => {
                problems.push(located(
                    index,
                    &name,
                    "service",
                    "every monitor needs service = \"<service slug>\"".into(),
                ));
                continue;
            }
        };
        match toml::Value::Table(fields).try_into::<MonitorSpec>() {
            Ok(spec) => declared.push(Declared {
                source: source.clone(),
                index,
                service,
                spec,
            }),
            Err(err) => {
                let message = err.message().to_string();
                let field = message.split('`').nth(1).unwrap_or("monitor").to_string();
                problems.push(located(index, &name, &field, message));
            }
        }
    }
}

pub async fn apply(args: ApplyArgs, config: &Config, out: &Output) -> anyhow::Result<ExitCode> {
    let files = files(&args.path)?;
    let scope = if args.path.is_dir() {
        apply::Scope::Folder(args.path.display().to_string())
    } else {
        apply::Scope::Files(
            files
                .iter()
                .map(|file| file.display().to_string())
                .collect(),
        )
    };
    let mut declared = Vec::new();
    let mut problems = Vec::new();
    for file in &files {
        read(file, &mut declared, &mut problems);
    }
    let core = core_for_cli(config).await?;
    if problems.is_empty() {
        match apply::plan(&core, declared, &scope).await? {
            Ok(plan) => {
                if !args.dry_run {
                    let ctx = audit::context(&core, audit::cli_actor(), None);
                    apply::execute(&core, &ctx, &plan).await?;
                }
                let verb = if args.dry_run { "would" } else { "did" };
                out.print(&json!({ "dry_run": args.dry_run, "changes": plan.changes, "unchanged": plan.unchanged }), || {
                    let mut lines: Vec<String> = plan
                        .changes
                        .iter()
                        .map(|change| match change {
                            Change::Create { service, slug, source } => format!("+ create {service}/{slug} ({source})"),
                            Change::Update { service, slug, fields, .. } => format!("~ update {service}/{slug} ({})", fields.join(", ")),
                            Change::Delete { service, slug, source, .. } => format!("- delete {service}/{slug} (no longer in {source})"),
                        })
                        .collect();
                    lines.push(format!("{verb}: {} change(s), {} unchanged", plan.changes.len(), plan.unchanged));
                    lines.join("\n")
                });
                core.storage.close().await;
                return Ok(ExitCode::SUCCESS);
            }
            Err(found) => problems = found,
        }
    }
    core.storage.close().await;
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    if out.json {
        eprintln!(
            "{}",
            json!({ "error": { "message": "nothing was applied", "problems": problems } })
        );
    } else {
        eprintln!(
            "error: nothing was applied; fix these and run again:\n  {}",
            lines.join("\n  ")
        );
    }
    Ok(ExitCode::FAILURE)
}

//! `upkeep schedule …`: on-call schedules from the command line — create and change them from a JSON spec
//! (a file or inline), list them, show one with who is on call now and its warnings, ask who is on call
//! at a time, list the final shifts, and rotate the secret feed URL.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use clap::{Args, Subcommand};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use upkeep_core::config::Config;
use upkeep_core::oncall::ScheduleSpec;
use upkeep_core::oncall::service::{
    self, Coverage, NamedShift, OnCallNow, ScheduleInput, ScheduleUpdate, StoredSchedule,
};
use upkeep_core::{Core, audit};

use super::core_for_cli;
use super::output::{Output, all_pages, table};

#[derive(Subcommand)]
pub enum ScheduleCommand {
    /// Create a schedule from a JSON spec (time_zone, layers, overrides).
    #[command(
        after_help = "Examples:\n  upkeep schedule create primary --name Primary --team platform --file primary.json\n  upkeep schedule create night --spec '{\"time_zone\":\"Europe/Berlin\",\"layers\":[{\"name\":\"Nights\",\"rotation\":{\"kind\":\"weekly\",\"participants\":[1,2],\"start_date\":\"2026-01-05\",\"handoff_time\":\"09:00\"},\"restrictions\":[{\"start\":\"18:00\",\"end\":\"09:00\"}]}]}' --json"
    )]
    Create(SpecArgs),
    /// Change a schedule's name, team or spec.
    #[command(
        after_help = "Examples:\n  upkeep schedule update primary --file primary.json\n  upkeep schedule update primary --name \"Primary (EU)\" --no-team"
    )]
    Update(SpecArgs),
    /// List schedules with who is on call now.
    #[command(after_help = "Examples:\n  upkeep schedule list\n  upkeep schedule list --json")]
    List,
    /// Show a schedule: who is on call now and why, warnings for the next four weeks, the feed URL.
    #[command(after_help = "Example:\n  upkeep schedule show primary --json")]
    Show { slug: String },
    /// Who is on call now, or at --at, and why.
    #[command(
        after_help = "Examples:\n  upkeep schedule oncall primary\n  upkeep schedule oncall primary --at 2026-03-29T03:00:00+02:00 --json"
    )]
    Oncall {
        slug: String,
        /// RFC 3339 time (default now).
        #[arg(long)]
        at: Option<String>,
    },
    /// The final shifts between --from and --to (default: the next 7 days).
    #[command(
        after_help = "Example:\n  upkeep schedule shifts primary --from 2026-03-23T00:00:00Z --to 2026-04-06T00:00:00Z"
    )]
    Shifts {
        slug: String,
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
    },
    /// Give the schedule a new secret feed URL (the old one stops working).
    #[command(after_help = "Example:\n  upkeep schedule rotate-feed primary")]
    RotateFeed { slug: String },
    /// Delete a schedule.
    #[command(after_help = "Example:\n  upkeep schedule delete primary")]
    Delete { slug: String },
}

#[derive(Args)]
pub struct SpecArgs {
    slug: String,
    /// Name shown on pages and in notifications (default: the slug).
    #[arg(long)]
    name: Option<String>,
    /// Slug of the owner team.
    #[arg(long, conflicts_with = "no_team")]
    team: Option<String>,
    /// Remove the owner team (update only).
    #[arg(long)]
    no_team: bool,
    /// The spec as a JSON file (`-` reads stdin).
    #[arg(long, conflicts_with = "spec")]
    file: Option<PathBuf>,
    /// The spec as inline JSON.
    #[arg(long)]
    spec: Option<String>,
}

/// Read the spec from `--file` or `--spec`; a problem names its field (`spec.layers[0].rotation.kind`).
fn read_spec(args: &SpecArgs) -> anyhow::Result<Option<ScheduleSpec>> {
    let text = match (&args.file, &args.spec) {
        (Some(path), _) if path.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read the spec from stdin")?;
            text
        }
        (Some(path), _) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the spec file {}", path.display()))?,
        (None, Some(text)) => text.clone(),
        (None, None) => return Ok(None),
    };
    let mut deserializer = serde_json::Deserializer::from_str(&text);
    let spec = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let field = if path == "." {
            "spec".to_string()
        } else {
            format!("spec.{path}")
        };
        anyhow!("{field}: {}", err.into_inner())
    })?;
    Ok(Some(spec))
}

fn parse_time(flag: &str, text: &str) -> anyhow::Result<Timestamp> {
    text.trim().parse().map_err(|_| {
        anyhow!("{flag}: {text:?} is not an RFC 3339 time with an offset, e.g. 2026-03-29T09:00:00+02:00")
    })
}

fn on_call_json(entries: &[OnCallNow]) -> Vec<Value> {
    entries
        .iter()
        .map(|entry| {
            json!({
                "user_id": entry.user_id,
                "name": entry.user.as_ref().map(|user| &user.name),
                "email": entry.user.as_ref().map(|user| &user.email),
                "disabled": entry.user.as_ref().is_some_and(|user| user.disabled),
                "reason": entry.reason,
                "source": entry.source,
                "until": entry.until,
            })
        })
        .collect()
}

fn shift_json(shift: &NamedShift) -> Value {
    json!({
        "user_id": shift.user_id,
        "name": shift.user.as_ref().map(|user| &user.name),
        "email": shift.user.as_ref().map(|user| &user.email),
        "start": shift.start,
        "end": shift.end,
        "reason": shift.reason,
        "source": shift.source,
    })
}

fn warnings_json(coverage: &Coverage) -> Value {
    json!({
        "from": coverage.from,
        "to": coverage.to,
        "gaps": coverage.gaps,
        "participants": coverage.participants,
    })
}

fn who(entries: &[OnCallNow]) -> String {
    if entries.is_empty() {
        return "nobody".into();
    }
    entries
        .iter()
        .map(|entry| {
            let name = entry
                .user
                .as_ref()
                .map_or_else(|| format!("user {}", entry.user_id), service::user_label);
            format!("{name} ({})", entry.reason)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The schedule as the API shows it, with who is on call now and the warnings.
async fn describe(core: &Core, schedule: &StoredSchedule) -> anyhow::Result<(Value, String)> {
    let now = core.now();
    let on_call = service::on_call_in(core, schedule, now).await?;
    let warnings = service::warnings(core, schedule, now).await?;
    let value = json!({
        "id": schedule.id,
        "slug": schedule.slug,
        "name": schedule.name,
        "team": schedule.team_slug,
        "spec": schedule.spec,
        "feed_url": service::schedule_feed_url(core, schedule),
        "on_call_now": on_call_json(&on_call),
        "warnings": warnings_json(&warnings),
        "created_at": schedule.created_at,
        "updated_at": schedule.updated_at,
    });
    let mut text = format!(
        "{} ({}), {} layer(s) in {}\non call now: {}",
        schedule.slug,
        schedule.name,
        schedule.spec.layers.len(),
        schedule.spec.time_zone,
        who(&on_call)
    );
    for gap in &warnings.gaps {
        text.push_str(&format!(
            "\nwarning: nobody on call from {} to {}",
            gap.start, gap.end
        ));
    }
    for problem in &warnings.participants {
        text.push_str(&format!(
            "\nwarning: user {} cannot be paged ({:?}, in {})",
            problem.user_id,
            problem.issue,
            problem.fields.join(", ")
        ));
    }
    text.push_str(&format!(
        "\nfeed: {}",
        service::schedule_feed_url(core, schedule)
    ));
    Ok((value, text))
}

pub async fn schedule(
    command: ScheduleCommand,
    config: &Config,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let core = core_for_cli(config).await?;
    let ctx = audit::context(&core, audit::cli_actor(), None);
    match command {
        ScheduleCommand::Create(args) => {
            let spec =
                read_spec(&args)?.ok_or_else(|| anyhow!("give the spec with --file or --spec"))?;
            let input = ScheduleInput {
                slug: args.slug.clone(),
                name: args.name.clone(),
                team: args.team.clone(),
                spec,
            };
            let created = service::create_schedule(&core, &ctx, input).await?;
            let (value, text) = describe(&core, &created).await?;
            out.print(&value, || format!("created schedule {text}"));
        }
        ScheduleCommand::Update(args) => {
            let update = ScheduleUpdate {
                name: args.name.clone(),
                team: if args.no_team {
                    Some(None)
                } else {
                    args.team.clone().map(Some)
                },
                spec: read_spec(&args)?,
            };
            let updated = service::update_schedule(&core, &ctx, &args.slug, update).await?;
            let (value, text) = describe(&core, &updated).await?;
            out.print(&value, || format!("updated schedule {text}"));
        }
        ScheduleCommand::List => {
            let schedules = all_pages(|page| service::list_schedules(&core, page)).await?;
            let now = core.now();
            let mut values = Vec::new();
            let mut rows = Vec::new();
            for schedule in &schedules {
                let on_call = service::on_call_in(&core, schedule, now).await?;
                values.push(json!({
                    "id": schedule.id,
                    "slug": schedule.slug,
                    "name": schedule.name,
                    "team": schedule.team_slug,
                    "time_zone": schedule.spec.time_zone,
                    "on_call_now": on_call_json(&on_call),
                }));
                rows.push(vec![
                    schedule.slug.clone(),
                    schedule.name.clone(),
                    schedule.spec.time_zone.clone(),
                    who(&on_call),
                ]);
            }
            out.print(&values, || {
                table(&["SLUG", "NAME", "TIME ZONE", "ON CALL NOW"], rows)
            });
        }
        ScheduleCommand::Show { slug } => {
            let schedule = service::schedule(&core, &slug).await?;
            let (value, text) = describe(&core, &schedule).await?;
            out.print(&value, || text);
        }
        ScheduleCommand::Oncall { slug, at } => {
            let at = match at {
                Some(text) => parse_time("--at", &text)?,
                None => core.now(),
            };
            let on_call = service::on_call_now(&core, &slug, at).await?;
            out.print(
                &json!({ "schedule": slug, "at": at, "on_call": on_call_json(&on_call) }),
                || format!("on call for {slug} at {at}: {}", who(&on_call)),
            );
        }
        ScheduleCommand::Shifts { slug, from, to } => {
            let from = match from {
                Some(text) => parse_time("--from", &text)?,
                None => core.now(),
            };
            let to = match to {
                Some(text) => parse_time("--to", &text)?,
                None => from
                    .checked_add(SignedDuration::from_hours(7 * 24))
                    .map_err(|_| anyhow!("--from is too far in the future"))?,
            };
            let shifts = service::shifts(&core, &slug, from, to).await?;
            let values: Vec<Value> = shifts.iter().map(shift_json).collect();
            out.print(
                &json!({ "schedule": slug, "from": from, "to": to, "shifts": values }),
                || {
                    table(
                        &["START", "END", "WHO", "WHY"],
                        shifts
                            .iter()
                            .map(|shift| {
                                vec![
                                    shift.start.to_string(),
                                    shift.end.to_string(),
                                    shift.user.as_ref().map_or_else(
                                        || format!("user {}", shift.user_id),
                                        service::user_label,
                                    ),
                                    shift.reason.clone(),
                                ]
                            })
                            .collect(),
                    )
                },
            );
        }
        ScheduleCommand::RotateFeed { slug } => {
            let schedule = service::rotate_feed_token(&core, &ctx, &slug).await?;
            let url = service::schedule_feed_url(&core, &schedule);
            out.print(&json!({ "schedule": slug, "feed_url": url }), || {
                format!("new feed URL of {slug}: {url}")
            });
        }
        ScheduleCommand::Delete { slug } => {
            service::delete_schedule(&core, &ctx, &slug).await?;
            out.print(&json!({ "deleted": slug }), || {
                format!("deleted schedule {slug}")
            });
        }
    }
    core.storage.close().await;
    Ok(ExitCode::SUCCESS)
}

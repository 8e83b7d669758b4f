//! `upkeep contact …`: people's contact methods (a notification channel each, its settings checked and
//! stored encrypted) and notification rules, from the command line, for anyone. Output never shows the
//! channel secrets, only a redacted summary.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use serde_json::{Value, json};
use upkeep_core::config::Config;
use upkeep_core::contacts::{self, ContactInput};
use upkeep_core::notify::DeliveryOutcome;
use upkeep_core::storage::{ContactMethod, NotificationRule};
use upkeep_core::{Core, audit, identity};

use super::core_for_cli;
use super::output::{Output, table};

#[derive(Subcommand)]
pub enum ContactCommand {
    /// Add a contact method for a person. The settings are checked now; a webhook without "secret" gets a
    /// generated one, printed once.
    #[command(
        after_help = "Examples:\n  upkeep contact add --user ana@example.com --kind webhook --label \"Pager bridge\" --settings '{\"url\":\"https://example.com/hook\"}'\n  upkeep contact add --user ana@example.com --kind slack --settings '{\"webhook_url\":\"https://hooks.slack.com/services/T/B/x\"}'\n  upkeep contact add --user ana@example.com --kind email --label Mail --settings '{\"host\":\"smtp.example.com\",\"port\":587,\"security\":\"starttls\",\"username\":\"pager\",\"password\":\"…\",\"from\":\"pager@example.com\",\"to\":[\"ana@example.com\"]}' --json"
    )]
    Add {
        /// Email of the person.
        #[arg(long)]
        user: String,
        /// webhook, slack, teams, discord, telegram, ntfy or email.
        #[arg(long)]
        kind: String,
        /// What it is; defaults to the kind.
        #[arg(long, default_value = "")]
        label: String,
        /// The channel's settings as a JSON object (named --settings because --config names the
        /// configuration file).
        #[arg(long)]
        settings: String,
    },
    /// List a person's contact methods (secrets never shown).
    #[command(
        after_help = "Examples:\n  upkeep contact list --user ana@example.com\n  upkeep contact list --user ana@example.com --json"
    )]
    List {
        /// Email of the person.
        #[arg(long)]
        user: String,
    },
    /// Send a test notification through a contact method; marks it verified when delivered. Exits 1 when
    /// the test was not delivered.
    #[command(after_help = "Example:\n  upkeep contact test 3")]
    Test { id: i64 },
    /// Remove a contact method and its rules.
    #[command(after_help = "Example:\n  upkeep contact delete 3")]
    Delete { id: i64 },
    /// Notification rules: which contact method, how long after a page starts.
    #[command(subcommand)]
    Rule(RuleCommand),
}

#[derive(Subcommand)]
pub enum RuleCommand {
    /// Add a rule: notify through a contact method this long after a page starts.
    #[command(
        after_help = "Examples:\n  upkeep contact rule add --user ana@example.com --contact 3 --delay 0\n  upkeep contact rule add --user ana@example.com --contact 4 --delay 5m"
    )]
    Add {
        #[arg(long)]
        user: String,
        /// The contact method's id.
        #[arg(long)]
        contact: i64,
        /// 0 (at once), 5m, 1h30m, … at most 24h.
        #[arg(long)]
        delay: String,
    },
    /// List a person's rules (without rules, every verified method is notified at once).
    #[command(after_help = "Example:\n  upkeep contact rule list --user ana@example.com --json")]
    List {
        #[arg(long)]
        user: String,
    },
    /// Remove a rule.
    #[command(after_help = "Example:\n  upkeep contact rule delete 7")]
    Delete { id: i64 },
}

fn describe(core: &Core, method: &ContactMethod) -> Value {
    json!({
        "id": method.id,
        "user_id": method.user_id,
        "label": method.label,
        "kind": method.kind,
        "summary": contacts::stored_summary(core, method),
        "verified": method.verified,
        "created_at": method.created_at,
        "updated_at": method.updated_at,
    })
}

fn describe_rule(rule: &NotificationRule) -> Value {
    let delay = contacts::rule_delay(rule);
    json!({
        "id": rule.id,
        "user_id": rule.user_id,
        "contact_method_id": rule.contact_method_id,
        "delay": contacts::format_delay(delay),
        "delay_seconds": delay.as_secs(),
        "created_at": rule.created_at,
    })
}

fn describe_outcome(outcome: &DeliveryOutcome) -> Value {
    let mut value = json!({ "outcome": contacts::outcome_name(outcome) });
    let key = if outcome.is_delivered() {
        "detail"
    } else {
        "reason"
    };
    value[key] = json!(contacts::outcome_text(outcome));
    if let DeliveryOutcome::RetryLater {
        after: Some(after), ..
    } = outcome
    {
        value["retry_after_seconds"] = json!(after.as_secs());
    }
    value
}

pub async fn contact(
    command: ContactCommand,
    config: &Config,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let core = core_for_cli(config).await?;
    let result = run(&core, command, out).await;
    core.storage.close().await;
    result
}

async fn run(core: &Core, command: ContactCommand, out: &Output) -> anyhow::Result<ExitCode> {
    let ctx = audit::context(core, audit::cli_actor(), None);
    match command {
        ContactCommand::Add {
            user,
            kind,
            label,
            settings,
        } => {
            let owner = identity::user_by_email(core, &user).await?;
            let config: Value = serde_json::from_str(&settings).context(
                "--settings is not valid JSON (expected an object of the channel's settings)",
            )?;
            let input = ContactInput {
                label,
                kind,
                config,
            };
            let saved = contacts::create_contact_method(core, &ctx, None, owner.id, input).await?;
            let mut value = describe(core, &saved.method);
            if let Some(secret) = &saved.generated_secret {
                value["generated_webhook_secret"] = json!(secret);
            }
            out.print(&value, || {
                let mut text = format!(
                    "added contact method {} ({} {}) for {}; run `upkeep contact test {}` to verify it",
                    saved.method.id,
                    saved.method.kind,
                    contacts::stored_summary(core, &saved.method),
                    owner.email,
                    saved.method.id
                );
                if let Some(secret) = &saved.generated_secret {
                    text.push_str(&format!("\nwebhook signing secret (shown once): {secret}"));
                }
                text
            });
        }
        ContactCommand::List { user } => {
            let owner = identity::user_by_email(core, &user).await?;
            let methods = contacts::list_contact_methods(core, None, owner.id).await?;
            let values: Vec<Value> = methods.iter().map(|m| describe(core, m)).collect();
            out.print(&values, || {
                table(
                    &["ID", "KIND", "LABEL", "WHERE", "VERIFIED"],
                    methods
                        .iter()
                        .map(|m| {
                            vec![
                                m.id.to_string(),
                                m.kind.clone(),
                                m.label.clone(),
                                contacts::stored_summary(core, m),
                                if m.verified { "yes" } else { "no" }.to_string(),
                            ]
                        })
                        .collect(),
                )
            });
        }
        ContactCommand::Test { id } => {
            let method = contacts::find_contact_method(core, id).await?;
            let outcome = contacts::send_test(core, &ctx, None, method.user_id, id).await?;
            out.print(&describe_outcome(&outcome), || {
                format!(
                    "test of contact method {id}: {} — {}",
                    contacts::outcome_name(&outcome),
                    contacts::outcome_text(&outcome)
                )
            });
            if !outcome.is_delivered() {
                return Ok(ExitCode::FAILURE);
            }
        }
        ContactCommand::Delete { id } => {
            let method = contacts::find_contact_method(core, id).await?;
            contacts::delete_contact_method(core, &ctx, None, method.user_id, id).await?;
            out.print(&json!({ "deleted": id }), || {
                format!("deleted contact method {id}")
            });
        }
        ContactCommand::Rule(RuleCommand::Add {
            user,
            contact,
            delay,
        }) => {
            let owner = identity::user_by_email(core, &user).await?;
            let rule = contacts::create_rule(core, &ctx, None, owner.id, contact, &delay).await?;
            out.print(&describe_rule(&rule), || {
                format!(
                    "added rule {}: contact method {} after {}",
                    rule.id,
                    rule.contact_method_id,
                    contacts::format_delay(contacts::rule_delay(&rule))
                )
            });
        }
        ContactCommand::Rule(RuleCommand::List { user }) => {
            let owner = identity::user_by_email(core, &user).await?;
            let rules = contacts::list_rules(core, None, owner.id).await?;
            let values: Vec<Value> = rules.iter().map(describe_rule).collect();
            out.print(&values, || {
                table(
                    &["ID", "CONTACT", "AFTER"],
                    rules
                        .iter()
                        .map(|r| {
                            vec![
                                r.id.to_string(),
                                r.contact_method_id.to_string(),
                                contacts::format_delay(contacts::rule_delay(r)),
                            ]
                        })
                        .collect(),
                )
            });
        }
        ContactCommand::Rule(RuleCommand::Delete { id }) => {
            let rule = core
                .storage
                .notification_rule_by_id(id)
                .await
                .map_err(upkeep_core::CoreError::from)?
                .ok_or_else(|| upkeep_core::CoreError::not_found("notification rule not found"))?;
            contacts::delete_rule(core, &ctx, None, rule.user_id, id).await?;
            out.print(&json!({ "deleted": id }), || {
                format!("deleted notification rule {id}")
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

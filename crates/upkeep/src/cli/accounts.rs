//! `upkeep user …` and `upkeep token …`: people and API tokens, administered on the server.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::json;
use upkeep_core::config::{Config, parse_duration};
use upkeep_core::identity::{self, NewUserInput, UserPatch};
use upkeep_core::storage::{Role, Scope};
use upkeep_core::{Core, audit};

use super::core_for_cli;
use super::output::{Output, all_pages, table};

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a person. The password is read from stdin with --password-stdin, otherwise generated and printed once.
    #[command(
        after_help = "Examples:\n  upkeep user create --email ana@example.com --role owner\n  echo 'a long passphrase' | upkeep user create --email bo@example.com --role viewer --password-stdin"
    )]
    Create {
        #[arg(long)]
        email: String,
        /// owner, admin, responder or viewer.
        #[arg(long, value_parser = ["owner", "admin", "responder", "viewer"])]
        role: String,
        #[arg(long)]
        name: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List people.
    #[command(after_help = "Example:\n  upkeep user list --json")]
    List,
    /// Show one person.
    #[command(after_help = "Example:\n  upkeep user show ana@example.com")]
    Show { email: String },
    /// Change a person's role, name or disabled flag.
    #[command(after_help = "Example:\n  upkeep user update bo@example.com --role responder")]
    Update {
        email: String,
        #[arg(long, value_parser = ["owner", "admin", "responder", "viewer"])]
        role: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// Disable (true) or enable (false) sign-in.
        #[arg(long)]
        disabled: Option<bool>,
    },
    /// Set a new password (read from stdin with --password-stdin, otherwise generated and printed once).
    #[command(after_help = "Example:\n  upkeep user set-password ana@example.com")]
    SetPassword {
        email: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Remove a person with their sessions and tokens.
    #[command(after_help = "Example:\n  upkeep user delete bo@example.com")]
    Delete { email: String },
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a person; the token is printed once.
    #[command(
        after_help = "Examples:\n  upkeep token create --user ana@example.com --scope read --expires 90d\n  upkeep token create --user ana@example.com --scope admin --name ci --json"
    )]
    Create {
        /// Email of the token's owner.
        #[arg(long)]
        user: String,
        /// read, write or admin.
        #[arg(long, value_parser = ["read", "write", "admin"])]
        scope: String,
        /// Lifetime such as 90d or 12h; without it the token does not expire.
        #[arg(long)]
        expires: Option<String>,
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List tokens (all, or one person's).
    #[command(after_help = "Example:\n  upkeep token list --user ana@example.com")]
    List {
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a token by id.
    #[command(after_help = "Example:\n  upkeep token revoke 3")]
    Revoke { id: i64 },
}

fn read_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if !from_stdin {
        return Ok((identity::generate_password(), true));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from stdin")?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        bail!("--password-stdin was given but standard input was empty");
    }
    Ok((password, false))
}

fn parse_role(role: &str) -> anyhow::Result<Role> {
    Role::parse(role).with_context(|| format!("unknown role {role}"))
}

pub async fn user(command: UserCommand, config: &Config, out: &Output) -> anyhow::Result<ExitCode> {
    let core = core_for_cli(config).await?;
    let ctx = || audit::context(&core, audit::cli_actor(), None);
    match command {
        UserCommand::Create {
            email,
            role,
            name,
            password_stdin,
        } => {
            let (password, generated) = read_password(password_stdin)?;
            let input = NewUserInput {
                email,
                name,
                role: parse_role(&role)?,
                password: password.clone(),
            };
            let user = identity::create_user(&core, &ctx(), None, input).await?;
            let shown = generated.then_some(password);
            out.print(
                &json!({ "user": user, "generated_password": shown }),
                || {
                    let mut text = format!(
                        "created {} ({}) with id {}",
                        user.email,
                        user.role.as_str(),
                        user.id
                    );
                    if let Some(password) = &shown {
                        text.push_str(&format!("\npassword (shown once): {password}"));
                    }
                    text
                },
            );
        }
        UserCommand::List => {
            let users = all_users(&core).await?;
            out.print(&users, || {
                table(
                    &["ID", "EMAIL", "NAME", "ROLE", "DISABLED"],
                    users
                        .iter()
                        .map(|u| {
                            vec![
                                u.id.to_string(),
                                u.email.clone(),
                                u.name.clone(),
                                u.role.as_str().into(),
                                u.disabled.to_string(),
                            ]
                        })
                        .collect(),
                )
            });
        }
        UserCommand::Show { email } => {
            let user = identity::user_by_email(&core, &email).await?;
            out.print(&user, || {
                format!(
                    "{} <{}>\nid: {}\nrole: {}\ndisabled: {}",
                    user.name,
                    user.email,
                    user.id,
                    user.role.as_str(),
                    user.disabled
                )
            });
        }
        UserCommand::Update {
            email,
            role,
            name,
            disabled,
        } => {
            let user = identity::user_by_email(&core, &email).await?;
            let role = role.as_deref().map(parse_role).transpose()?;
            let user = identity::update_user(
                &core,
                &ctx(),
                None,
                user.id,
                UserPatch {
                    name,
                    role,
                    disabled,
                },
            )
            .await?;
            out.print(&user, || {
                format!(
                    "updated {} ({}, disabled: {})",
                    user.email,
                    user.role.as_str(),
                    user.disabled
                )
            });
        }
        UserCommand::SetPassword {
            email,
            password_stdin,
        } => {
            let user = identity::user_by_email(&core, &email).await?;
            let (password, generated) = read_password(password_stdin)?;
            identity::reset_password(&core, &ctx(), user.id, password.clone()).await?;
            let shown = generated.then_some(password);
            out.print(
                &json!({ "user": user.email, "generated_password": shown }),
                || match &shown {
                    Some(password) => {
                        format!("new password for {} (shown once): {password}", user.email)
                    }
                    None => format!("password changed for {}", user.email),
                },
            );
        }
        UserCommand::Delete { email } => {
            let user = identity::user_by_email(&core, &email).await?;
            identity::delete_user(&core, &ctx(), None, user.id).await?;
            out.print(&json!({ "deleted": user.email }), || {
                format!("deleted {}", user.email)
            });
        }
    }
    core.storage.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn all_users(core: &Core) -> anyhow::Result<Vec<upkeep_core::storage::User>> {
    all_pages(|page| identity::list_users(core, None, page)).await
}

pub async fn token(
    command: TokenCommand,
    config: &Config,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let core = core_for_cli(config).await?;
    let ctx = audit::context(&core, audit::cli_actor(), None);
    match command {
        TokenCommand::Create {
            user,
            scope,
            expires,
            name,
        } => {
            let owner = identity::user_by_email(&core, &user).await?;
            let scope = Scope::parse(&scope).with_context(|| format!("unknown scope {scope}"))?;
            let expires_in = expires
                .as_deref()
                .map(parse_duration)
                .transpose()
                .map_err(|message| anyhow::anyhow!("--expires: {message}"))?;
            let created =
                identity::create_token(&core, &ctx, None, &owner, &name, scope, expires_in).await?;
            out.print(&json!({ "token": created.secret, "details": created.token }), || {
                let expiry = created.token.expires_at.map_or_else(|| "never".to_string(), |at| at.to_string());
                format!(
                    "{}\n(shown once; id {}, scope {}, expires {expiry}. Use it as: Authorization: Bearer <token>)",
                    created.secret,
                    created.token.id,
                    created.token.scope.as_str()
                )
            });
        }
        TokenCommand::List { user } => {
            let user_id = match user {
                Some(email) => Some(identity::user_by_email(&core, &email).await?.id),
                None => None,
            };
            let tokens =
                all_pages(|page| identity::list_tokens(&core, None, user_id, page)).await?;
            let now = core.now();
            out.print(&tokens, || {
                table(
                    &["ID", "PREFIX", "USER", "NAME", "SCOPE", "STATE", "EXPIRES"],
                    tokens
                        .iter()
                        .map(|t| {
                            let state = if t.revoked_at.is_some() {
                                "revoked"
                            } else if t.is_usable_at(now) {
                                "active"
                            } else {
                                "expired"
                            };
                            vec![
                                t.id.to_string(),
                                t.prefix.clone(),
                                t.user_email.clone(),
                                t.name.clone(),
                                t.scope.as_str().into(),
                                state.into(),
                                t.expires_at
                                    .map_or_else(|| "never".into(), |at| at.to_string()),
                            ]
                        })
                        .collect(),
                )
            });
        }
        TokenCommand::Revoke { id } => {
            let token = identity::revoke_token(&core, &ctx, None, id).await?;
            out.print(&token, || {
                format!("revoked token {} ({})", token.id, token.prefix)
            });
        }
    }
    core.storage.close().await;
    Ok(ExitCode::SUCCESS)
}

//! upkeep's settings: defaults, then the TOML file, then `UPKEEP_…` environment variables (with `…_FILE`
//! variants for secrets), then command-line flags. `upkeep config check` reports every problem with its line.
//!
//! The list of settings lives in [`settings`]; the file checker ([`file`]) and the environment reader
//! ([`env`]) both work from it, so a setting is added in one place.

mod env;
mod file;
mod settings;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_env;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// Where the embedded SQLite database lives when no URL is given.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://upkeep-data/upkeep.db";

/// `UPKEEP_…` variables that are not settings, so the environment check does not call them unknown.
pub const NON_SETTING_ENV_VARS: &[&str] =
    &["UPKEEP_CONFIG", "UPKEEP_TEST_DATABASE_URL", "UPKEEP_BIN"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `upkeep=debug,sqlx=warn`.
    pub level: String,
}

/// Which parts of `serve` run on this node.
#[derive(Debug, Clone, Copy)]
pub struct Roles {
    pub api: bool,
    pub workers: bool,
    pub scheduler: bool,
}

/// Alert ingestion and grouping.
#[derive(Debug, Clone)]
pub struct IncidentsConfig {
    /// Alerts of one service within this long of its open incident's last alert join that incident.
    pub group_window: Duration,
    /// Sustained alert events per second accepted from one integration key.
    pub events_per_second: u32,
    /// Events one integration key may send at once above the sustained rate.
    pub events_burst: u32,
}

/// Where the key that seals stored secrets (contact-method settings) comes from.
#[derive(Debug, Clone, Default)]
pub struct SecretsConfig {
    /// A file holding a 32-byte key as base64 or hex. Unset: generated next to a SQLite database;
    /// required with PostgreSQL.
    pub key_file: Option<String>,
}

/// Requests to user-given URLs (notification channels).
#[derive(Debug, Clone)]
pub struct OutboundConfig {
    /// Refuse private, loopback and link-local addresses.
    pub block_private_addresses: bool,
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub session_ttl: Duration,
    /// Mark the session cookie `Secure` (set when upkeep is served over HTTPS).
    pub cookie_secure: bool,
    pub login_max_failures_per_account: u32,
    pub login_max_failures_per_address: u32,
    pub login_window: Duration,
}

/// `Debug` is written by hand so a password in `database_url` never reaches a log.
#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: String,
    /// The address people use to reach upkeep, for links it prints (setup URL, notifications).
    pub public_url: Option<String>,
    pub log: LogConfig,
    pub roles: Roles,
    pub shutdown_timeout: Duration,
    pub auth: AuthConfig,
    pub incidents: IncidentsConfig,
    pub secrets: SecretsConfig,
    pub outbound: OutboundConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: DEFAULT_DATABASE_URL.to_string(),
            public_url: None,
            log: LogConfig {
                format: LogFormat::Text,
                level: "info".to_string(),
            },
            roles: Roles {
                api: true,
                workers: true,
                scheduler: true,
            },
            shutdown_timeout: Duration::from_secs(10),
            auth: AuthConfig {
                session_ttl: Duration::from_secs(14 * 86_400),
                cookie_secure: false,
                login_max_failures_per_account: 5,
                login_max_failures_per_address: 20,
                login_window: Duration::from_secs(15 * 60),
            },
            incidents: IncidentsConfig {
                group_window: Duration::from_secs(5 * 60),
                events_per_second: 200,
                events_burst: 1_000,
            },
            secrets: SecretsConfig::default(),
            outbound: OutboundConfig {
                block_private_addresses: true,
            },
        }
    }
}

impl Config {
    /// The base URL for links upkeep prints.
    pub fn base_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.listen),
        }
    }

    /// `database_url` with any password replaced by `***`, for logs and error messages.
    pub fn redacted_database_url(&self) -> String {
        redact_url(&self.database_url)
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured so a new field cannot be forgotten here.
        let Config {
            listen,
            database_url: _,
            public_url,
            log,
            roles,
            shutdown_timeout,
            auth,
            incidents,
            secrets,
            outbound,
        } = self;
        f.debug_struct("Config")
            .field("listen", listen)
            .field("database_url", &self.redacted_database_url())
            .field("public_url", public_url)
            .field("log", log)
            .field("roles", roles)
            .field("shutdown_timeout", shutdown_timeout)
            .field("auth", auth)
            .field("incidents", incidents)
            .field("secrets", secrets)
            .field("outbound", outbound)
            .finish()
    }
}

/// Replace the password of `scheme://user:password@host/…` and any `password=` query parameter with `***`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let (head, rest) = url.split_at(scheme_end);
    let mut out = head.to_string();
    // The last `@` ends the user information; a password may itself contain `@`, `/` or `?`.
    let rest = match rest.rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..colon]);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            &rest[at..]
        }
        None => rest,
    };
    let Some(query_start) = rest.find('?') else {
        out.push_str(rest);
        return out;
    };
    out.push_str(&rest[..=query_start]);
    let params: Vec<String> = rest[query_start + 1..]
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((name, _)) if name.eq_ignore_ascii_case("password") => format!("{name}=***"),
            _ => param.to_string(),
        })
        .collect();
    out.push_str(&params.join("&"));
    out
}

/// One thing wrong with the configuration, located where possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The file (or `environment`) the problem is in.
    pub source: String,
    /// 1-based line in the file, when the problem is in the file.
    pub line: Option<usize>,
    /// Dotted key, e.g. `auth.session_ttl`; for the environment, the variable name. Empty when the
    /// problem is with the file as a whole (unreadable, not valid TOML).
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Parse `30s`, `15m`, `12h`, `90d`, `2w` (or a combination like `1h30m`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration; use e.g. 30s, 15m, 12h, 90d".into());
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for ch in text.chars() {
        if ch.is_ascii_digit() {
            number.push(ch);
            continue;
        }
        let unit = match ch {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            _ => {
                return Err(format!(
                    "unknown unit '{ch}' in duration {text:?}; use s, m, h, d or w"
                ));
            }
        };
        let value: u64 = number
            .parse()
            .map_err(|_| format!("missing number before '{ch}' in duration {text:?}"))?;
        total = total.saturating_add(value.saturating_mul(unit));
        number.clear();
    }
    if !number.is_empty() {
        return Err(format!("duration {text:?} needs a unit (s, m, h, d or w)"));
    }
    Ok(Duration::from_secs(total))
}

/// Load the configuration: defaults, then `path` if given, then `env` (the process environment).
///
/// Every problem in the file and the environment is reported, not only the first.
pub fn load(
    path: Option<&Path>,
    env: &BTreeMap<String, String>,
) -> Result<Config, Vec<ConfigProblem>> {
    let mut config = Config::default();
    let mut problems = Vec::new();
    if let Some(path) = path {
        problems.extend(file::apply_file(path, &mut config));
    }
    problems.extend(env::apply_env(env, &mut config));
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(problems)
    }
}

/// Check a configuration file on its own (no environment), returning every problem in line order.
pub fn check_file(path: &Path) -> Vec<ConfigProblem> {
    file::apply_file(path, &mut Config::default())
}

/// Check configuration text as if read from a file named `source`, returning every problem in line order.
pub fn check_str(source: &str, text: &str) -> Vec<ConfigProblem> {
    file::apply_text(source, text, &mut Config::default())
}

/// Check the `UPKEEP_…` variables in `env` on their own (no file).
pub fn check_env(env: &BTreeMap<String, String>) -> Vec<ConfigProblem> {
    env::apply_env(env, &mut Config::default())
}

/// The environment variable for each setting (e.g. `UPKEEP_AUTH_SESSION_TTL`), paired with its dotted
/// file key (`auth.session_ttl`). Every variable also has a `…_FILE` form.
pub fn env_var_names() -> Vec<(String, String)> {
    settings::SETTINGS
        .iter()
        .filter_map(|setting| setting.env_name().map(|name| (name, setting.dotted())))
        .collect()
}

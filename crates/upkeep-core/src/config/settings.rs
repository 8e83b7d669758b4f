//! The one list of settings upkeep knows — file key, section, type, checks and where the value goes in
//! [`Config`] — which the file checker, the environment reader and the tests all work from.

use std::net::SocketAddr;
use std::time::Duration;

use super::{Config, LogFormat, parse_duration};

/// Durations longer than this are refused, so arithmetic on timestamps cannot overflow.
const MAX_DURATION_SECS: u64 = 3_650 * 86_400;
/// The largest value a count setting accepts.
const MAX_COUNT: i64 = 1_000_000;

type Place<T> = fn(&mut Config) -> &mut T;
type Check = fn(&str) -> Result<(), String>;

/// What a setting holds and where it is stored.
pub(super) enum Field {
    /// The file format version; must be 1 and is not stored.
    Version,
    Addr(Place<SocketAddr>),
    Text(Place<String>, Check),
    OptionalText(Place<Option<String>>, Check),
    Duration(Place<Duration>),
    Format(Place<LogFormat>),
    Flag(Place<bool>),
    Count(Place<u32>),
}

pub(super) struct Setting {
    /// The `[section]` the key lives in, `None` for top-level keys.
    pub section: Option<&'static str>,
    pub key: &'static str,
    /// A sample value as written in TOML, for "expected …" messages.
    pub example: &'static str,
    pub field: Field,
}

/// The `[section]` tables a file may have, in the order they are documented.
pub(super) const SECTIONS: &[&str] = &["log", "roles", "auth", "incidents", "secrets", "outbound"];

pub(super) static SETTINGS: &[Setting] = &[
    Setting {
        section: None,
        key: "version",
        example: "1",
        field: Field::Version,
    },
    Setting {
        section: None,
        key: "listen",
        example: "\"127.0.0.1:8080\"",
        field: Field::Addr(|c| &mut c.listen),
    },
    Setting {
        section: None,
        key: "database_url",
        example: "\"sqlite://upkeep-data/upkeep.db\"",
        field: Field::Text(|c| &mut c.database_url, check_database_url),
    },
    Setting {
        section: None,
        key: "public_url",
        example: "\"https://upkeep.example.com\"",
        field: Field::OptionalText(|c| &mut c.public_url, check_public_url),
    },
    Setting {
        section: None,
        key: "shutdown_timeout",
        example: "\"10s\"",
        field: Field::Duration(|c| &mut c.shutdown_timeout),
    },
    Setting {
        section: Some("log"),
        key: "format",
        example: "\"text\"",
        field: Field::Format(|c| &mut c.log.format),
    },
    Setting {
        section: Some("log"),
        key: "level",
        example: "\"info\"",
        field: Field::Text(|c| &mut c.log.level, check_log_level),
    },
    Setting {
        section: Some("roles"),
        key: "api",
        example: "true",
        field: Field::Flag(|c| &mut c.roles.api),
    },
    Setting {
        section: Some("roles"),
        key: "workers",
        example: "true",
        field: Field::Flag(|c| &mut c.roles.workers),
    },
    Setting {
        section: Some("roles"),
        key: "scheduler",
        example: "true",
        field: Field::Flag(|c| &mut c.roles.scheduler),
    },
    Setting {
        section: Some("auth"),
        key: "session_ttl",
        example: "\"14d\"",
        field: Field::Duration(|c| &mut c.auth.session_ttl),
    },
    Setting {
        section: Some("auth"),
        key: "cookie_secure",
        example: "false",
        field: Field::Flag(|c| &mut c.auth.cookie_secure),
    },
    Setting {
        section: Some("auth"),
        key: "login_max_failures_per_account",
        example: "5",
        field: Field::Count(|c| &mut c.auth.login_max_failures_per_account),
    },
    Setting {
        section: Some("auth"),
        key: "login_max_failures_per_address",
        example: "20",
        field: Field::Count(|c| &mut c.auth.login_max_failures_per_address),
    },
    Setting {
        section: Some("auth"),
        key: "login_window",
        example: "\"15m\"",
        field: Field::Duration(|c| &mut c.auth.login_window),
    },
    Setting {
        section: Some("incidents"),
        key: "group_window",
        example: "\"5m\"",
        field: Field::Duration(|c| &mut c.incidents.group_window),
    },
    Setting {
        section: Some("incidents"),
        key: "events_per_second",
        example: "200",
        field: Field::Count(|c| &mut c.incidents.events_per_second),
    },
    Setting {
        section: Some("incidents"),
        key: "events_burst",
        example: "1000",
        field: Field::Count(|c| &mut c.incidents.events_burst),
    },
    Setting {
        section: Some("secrets"),
        key: "key_file",
        example: "\"/etc/upkeep/secret.key\"",
        field: Field::OptionalText(|c| &mut c.secrets.key_file, check_key_file),
    },
    Setting {
        section: Some("outbound"),
        key: "block_private_addresses",
        example: "true",
        field: Field::Flag(|c| &mut c.outbound.block_private_addresses),
    },
];

/// A value as it arrived, before it is checked against the setting's type.
#[derive(Clone, Copy)]
pub(super) enum Raw<'a> {
    Text(&'a str),
    Int(i64),
    Bool(bool),
    /// A TOML value of another type (float, array, …), named for messages.
    Other(&'static str),
}

impl Raw<'_> {
    fn describe(self) -> String {
        match self {
            Raw::Text(_) => "a string".to_string(),
            Raw::Int(_) => "an integer".to_string(),
            Raw::Bool(_) => "a boolean".to_string(),
            Raw::Other(name) => with_article(name),
        }
    }
}

/// `integer` → `an integer`, `table` → `a table`.
pub(super) fn with_article(name: &str) -> String {
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {name}")
}

impl Setting {
    /// `auth.session_ttl`, or `listen` for top-level keys.
    pub fn dotted(&self) -> String {
        match self.section {
            Some(section) => format!("{section}.{}", self.key),
            None => self.key.to_string(),
        }
    }

    /// `UPKEEP_<SECTION>_<KEY>` upper-cased; `None` for settings that only make sense in a file.
    pub fn env_name(&self) -> Option<String> {
        if matches!(self.field, Field::Version) {
            return None;
        }
        Some(format!(
            "UPKEEP_{}",
            self.dotted().replace('.', "_").to_ascii_uppercase()
        ))
    }

    /// What a value for this setting looks like, for "expected …, found …" messages.
    pub fn expected(&self) -> String {
        match self.field {
            Field::Version => "the integer 1".to_string(),
            Field::Flag(_) => "true or false".to_string(),
            Field::Count(_) => format!("a whole number like {}", self.example),
            Field::Format(_) => "\"text\" or \"json\"".to_string(),
            _ => format!("a string like {}", self.example),
        }
    }

    /// Check `raw` against this setting and store it in `config`; the error is a message for the user.
    pub fn apply(&self, config: &mut Config, raw: Raw<'_>) -> Result<(), String> {
        match (&self.field, raw) {
            (Field::Version, Raw::Int(1)) => {}
            (Field::Version, Raw::Int(other)) => {
                return Err(format!(
                    "unsupported version {other}; this upkeep reads version 1"
                ));
            }
            (Field::Addr(place), Raw::Text(text)) => *place(config) = parse_addr(text)?,
            (Field::Text(place, check), Raw::Text(text)) => {
                check(text)?;
                *place(config) = text.to_string();
            }
            (Field::OptionalText(place, check), Raw::Text(text)) => {
                check(text)?;
                *place(config) = Some(text.to_string());
            }
            (Field::Duration(place), Raw::Text(text)) => {
                *place(config) = parse_bounded_duration(text)?
            }
            (Field::Format(place), Raw::Text(text)) => *place(config) = parse_log_format(text)?,
            (Field::Flag(place), Raw::Bool(value)) => *place(config) = value,
            (Field::Count(place), Raw::Int(value)) => *place(config) = check_count(value)?,
            (_, raw) => {
                return Err(format!(
                    "expected {}, found {}",
                    self.expected(),
                    raw.describe()
                ));
            }
        }
        Ok(())
    }

    /// Like [`Setting::apply`] for the text of an environment variable: flags accept `true`, `false`,
    /// `1` and `0`, counts a decimal number.
    pub fn apply_text(&self, config: &mut Config, text: &str) -> Result<(), String> {
        let raw = match self.field {
            Field::Flag(_) => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Raw::Bool(true),
                "false" | "0" => Raw::Bool(false),
                _ => return Err(format!("expected true, false, 1 or 0, found {text:?}")),
            },
            Field::Count(_) => match text.trim().parse::<i64>() {
                Ok(value) => Raw::Int(value),
                Err(_) => {
                    return Err(format!(
                        "expected a whole number like {}, found {text:?}",
                        self.example
                    ));
                }
            },
            _ => Raw::Text(text),
        };
        self.apply(config, raw)
    }
}

fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    text.trim().parse().map_err(|_| {
        format!("{text:?} is not an address and port like \"127.0.0.1:8080\" or \"[::]:8080\"")
    })
}

fn parse_bounded_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err(format!("duration {text:?} must be at least 1s"));
    }
    if duration.as_secs() > MAX_DURATION_SECS {
        return Err(format!("duration {text:?} is too long; the most is 3650d"));
    }
    Ok(duration)
}

fn parse_log_format(text: &str) -> Result<LogFormat, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(format!(
            "unknown log format {text:?}; use \"text\" or \"json\""
        )),
    }
}

fn check_count(value: i64) -> Result<u32, String> {
    match u32::try_from(value) {
        Ok(count) if count >= 1 && i64::from(count) <= MAX_COUNT => Ok(count),
        _ => Err(format!(
            "{value} is out of range; use a whole number from 1 to {MAX_COUNT}"
        )),
    }
}

/// The value is not repeated in the message: a database URL may hold a password.
fn check_database_url(text: &str) -> Result<(), String> {
    let lower = text.to_ascii_lowercase();
    if ["sqlite:", "postgres://", "postgresql://"]
        .iter()
        .any(|prefix| lower.starts_with(prefix))
    {
        Ok(())
    } else {
        Err(
            "must start with sqlite: (e.g. sqlite://upkeep-data/upkeep.db) or postgres:// \
             (e.g. postgres://upkeep@localhost/upkeep)"
                .to_string(),
        )
    }
}

fn check_public_url(text: &str) -> Result<(), String> {
    let lower = text.to_ascii_lowercase();
    let host = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    match host {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(()),
        Some(_) => Err(format!("{text:?} has no host name")),
        None => Err(format!("{text:?} must start with http:// or https://")),
    }
}

/// Only the shape is checked here; the file is read when a secret is first sealed or opened.
fn check_key_file(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        Err("empty path; name a file holding a 32-byte key as base64 or hex".to_string())
    } else {
        Ok(())
    }
}

const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "off"];
const LEVEL_NAMES: &str = "trace, debug, info, warn, error or off";

/// A light check of a `tracing` filter such as `info` or `upkeep=debug,sqlx=warn`: catches a misspelt
/// level (which the filter would silently read as a target name) without re-implementing the syntax.
fn check_log_level(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("empty log level; use e.g. \"info\" or \"upkeep=debug,sqlx=warn\"".to_string());
    }
    for directive in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        // Span and field filters (`[span{field=value}]`) are left to the filter itself.
        if directive.contains(['[', '{']) {
            continue;
        }
        let (target, level) = match directive.rsplit_once('=') {
            Some((target, level)) => (Some(target), level),
            None if directive.contains("::") => continue,
            None => (None, directive),
        };
        let level = level.trim();
        let lower = level.to_ascii_lowercase();
        if !LEVELS.contains(&lower.as_str()) && !matches!(level, "0" | "1" | "2" | "3" | "4" | "5")
        {
            return Err(match target {
                Some(target) => {
                    format!("unknown level {level:?} for {target:?}; use {LEVEL_NAMES}")
                }
                None => format!("unknown level {level:?}; use {LEVEL_NAMES}, or target=level"),
            });
        }
    }
    Ok(())
}

/// The candidate closest to `word` by edit distance, when close enough to be a likely misspelling.
pub(super) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    let limit = (word.chars().count() / 5).max(2);
    candidates
        .into_iter()
        .map(|candidate| {
            (
                edit_distance(&word, &candidate.to_ascii_lowercase()),
                candidate,
            )
        })
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

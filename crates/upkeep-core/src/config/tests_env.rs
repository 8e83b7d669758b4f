//! Tests of the environment layer (`UPKEEP_…`, `…_FILE`, unknown variables) and of `upkeep.example.toml`,
//! which must stay loadable and complete as the settings change.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use super::settings::SETTINGS;
use super::*;

const EXAMPLE: &str = include_str!("../../../../upkeep.example.toml");

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn file_with(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

fn keys(problems: &[ConfigProblem]) -> Vec<&str> {
    problems.iter().map(|p| p.key.as_str()).collect()
}

#[test]
fn environment_overrides_the_file() {
    let file = file_with(
        "listen = \"0.0.0.0:9000\"\n[log]\nlevel = \"debug\"\n[auth]\nsession_ttl = \"1d\"\n",
    );
    let vars = env(&[
        ("UPKEEP_LISTEN", "127.0.0.1:7000"),
        ("UPKEEP_AUTH_SESSION_TTL", "2h"),
        ("UPKEEP_ROLES_WORKERS", "0"),
        ("UPKEEP_ROLES_API", "TRUE"),
        ("UPKEEP_AUTH_COOKIE_SECURE", "1"),
        ("UPKEEP_AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS", "7"),
        ("UPKEEP_LOG_FORMAT", "json"),
        ("UPKEEP_PUBLIC_URL", "http://upkeep.lan"),
        ("PATH", "/usr/bin"),
    ]);
    let config = load(Some(file.path()), &vars).unwrap();
    assert_eq!(config.listen.to_string(), "127.0.0.1:7000");
    assert_eq!(
        config.log.level, "debug",
        "file value kept where the environment is silent"
    );
    assert_eq!(config.log.format, LogFormat::Json);
    assert_eq!(config.auth.session_ttl, Duration::from_secs(7_200));
    assert!(!config.roles.workers && config.roles.api && config.auth.cookie_secure);
    assert_eq!(config.auth.login_max_failures_per_address, 7);
    assert_eq!(config.public_url.as_deref(), Some("http://upkeep.lan"));
}

#[test]
fn a_file_variant_reads_the_value_from_a_file() {
    let secret = file_with("postgres://upkeep:hunter2@db/upkeep\n");
    let path = secret.path().to_str().unwrap();
    let config = load(None, &env(&[("UPKEEP_DATABASE_URL_FILE", path)])).unwrap();
    assert_eq!(config.database_url, "postgres://upkeep:hunter2@db/upkeep");
    assert!(!format!("{config:?}").contains("hunter2"));
}

#[test]
fn file_variant_problems() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let missing = missing.to_str().unwrap();
    let bad = file_with("mysql://u:hunter2@h/db\n");
    let problems = check_env(&env(&[
        ("UPKEEP_DATABASE_URL_FILE", bad.path().to_str().unwrap()),
        ("UPKEEP_LOG_LEVEL_FILE", missing),
        ("UPKEEP_LISTEN", "127.0.0.1:1"),
        ("UPKEEP_LISTEN_FILE", missing),
    ]));
    assert_eq!(
        keys(&problems),
        vec![
            "UPKEEP_LISTEN",
            "UPKEEP_DATABASE_URL_FILE",
            "UPKEEP_LOG_LEVEL_FILE"
        ]
    );
    assert!(
        problems[0]
            .message
            .contains("both UPKEEP_LISTEN and UPKEEP_LISTEN_FILE")
    );
    assert!(problems[1].message.contains("must start with sqlite:"));
    assert!(!problems[1].message.contains("hunter2"));
    assert!(problems[2].message.contains("cannot read"));
    assert!(
        problems
            .iter()
            .all(|p| p.source == "environment" && p.line.is_none())
    );
}

#[test]
fn bad_environment_values_are_reported() {
    let problems = check_env(&env(&[
        ("UPKEEP_ROLES_API", "yes"),
        ("UPKEEP_AUTH_LOGIN_MAX_FAILURES_PER_ACCOUNT", "many"),
        ("UPKEEP_AUTH_LOGIN_WINDOW", "15"),
        ("UPKEEP_LOG_FORMAT", "xml"),
        ("UPKEEP_LISTEN", ""),
    ]));
    assert_eq!(
        keys(&problems),
        vec![
            "UPKEEP_LISTEN",
            "UPKEEP_LOG_FORMAT",
            "UPKEEP_ROLES_API",
            "UPKEEP_AUTH_LOGIN_MAX_FAILURES_PER_ACCOUNT",
            "UPKEEP_AUTH_LOGIN_WINDOW",
        ]
    );
    assert_eq!(
        problems[2].message,
        "expected true, false, 1 or 0, found \"yes\""
    );
    assert_eq!(
        problems[3].message,
        "expected a whole number like 5, found \"many\""
    );
}

#[test]
fn unknown_upkeep_variables_are_reported_with_a_suggestion() {
    let problems = check_env(&env(&[
        ("UPKEEP_DATABSE_URL", "sqlite::memory:"),
        ("UPKEEP_SESSION_TTL", "1d"),
        ("UPKEEP_LOG_LEVL_FILE", "/dev/null"),
        ("UPKEEP_VERSION", "1"),
        ("UPKEEP_FROBNICATE", "1"),
        ("UPKEEP_CONFIG", "upkeep.toml"),
        ("UPKEEP_TEST_DATABASE_URL", "postgres://localhost/test"),
        ("UPKEEP_BIN", "target/debug/upkeep"),
        ("UPKEEPER", "not ours"),
    ]));
    let message = |key: &str| {
        problems
            .iter()
            .find(|p| p.key == key)
            .unwrap()
            .message
            .as_str()
    };
    assert_eq!(problems.len(), 5, "{problems:#?}");
    assert_eq!(
        message("UPKEEP_DATABSE_URL"),
        "unknown setting; did you mean UPKEEP_DATABASE_URL?"
    );
    assert_eq!(
        message("UPKEEP_SESSION_TTL"),
        "unknown setting; did you mean UPKEEP_AUTH_SESSION_TTL?"
    );
    assert_eq!(
        message("UPKEEP_LOG_LEVL_FILE"),
        "unknown setting; did you mean UPKEEP_LOG_LEVEL_FILE?"
    );
    assert!(message("UPKEEP_FROBNICATE").starts_with("unknown setting"));
    assert!(message("UPKEEP_VERSION").starts_with("unknown setting"));
}

#[test]
fn file_and_environment_problems_are_reported_together() {
    let file = file_with("[auth]\nsession_ttl = 5\n");
    let problems = load(Some(file.path()), &env(&[("UPKEEP_LISTEN", "nowhere")])).unwrap_err();
    assert_eq!(keys(&problems), vec!["auth.session_ttl", "UPKEEP_LISTEN"]);
    assert_eq!(problems[0].line, Some(2));
}

#[test]
fn every_setting_has_the_documented_environment_name() {
    let names: Vec<String> = env_var_names().into_iter().map(|(name, _)| name).collect();
    for expected in [
        "UPKEEP_LISTEN",
        "UPKEEP_DATABASE_URL",
        "UPKEEP_PUBLIC_URL",
        "UPKEEP_SHUTDOWN_TIMEOUT",
        "UPKEEP_LOG_FORMAT",
        "UPKEEP_LOG_LEVEL",
        "UPKEEP_ROLES_API",
        "UPKEEP_ROLES_WORKERS",
        "UPKEEP_ROLES_SCHEDULER",
        "UPKEEP_AUTH_SESSION_TTL",
        "UPKEEP_AUTH_COOKIE_SECURE",
        "UPKEEP_AUTH_LOGIN_MAX_FAILURES_PER_ACCOUNT",
        "UPKEEP_AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS",
        "UPKEEP_AUTH_LOGIN_WINDOW",
        "UPKEEP_SECRETS_KEY_FILE",
        "UPKEEP_OUTBOUND_BLOCK_PRIVATE_ADDRESSES",
    ] {
        assert!(
            names.iter().any(|name| name == expected),
            "{expected} missing from {names:?}"
        );
    }
    assert_eq!(names.len(), SETTINGS.len() - 1, "every setting but version");
}

/// `UPKEEP_SECRETS_KEY_FILE` is a setting of its own (not the `_FILE` form of a `UPKEEP_SECRETS_KEY`), and
/// its `_FILE` form works like every other.
#[test]
fn the_secrets_key_file_variable_is_a_setting() {
    let config = load(
        None,
        &env(&[("UPKEEP_SECRETS_KEY_FILE", "/run/upkeep.key")]),
    )
    .unwrap();
    assert_eq!(config.secrets.key_file.as_deref(), Some("/run/upkeep.key"));
    let config = load(
        None,
        &env(&[("UPKEEP_OUTBOUND_BLOCK_PRIVATE_ADDRESSES", "0")]),
    )
    .unwrap();
    assert!(!config.outbound.block_private_addresses);
    assert!(Config::default().outbound.block_private_addresses);
    let problems = load(None, &env(&[("UPKEEP_SECRETS_KEY_FILE", " ")])).unwrap_err();
    assert_eq!(keys(&problems), vec!["UPKEEP_SECRETS_KEY_FILE"]);
}

/// The example with every `# key = value` and `# [section]` line uncommented.
fn uncommented_example() -> String {
    EXAMPLE
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest) if looks_like_setting(rest) => rest,
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn looks_like_setting(text: &str) -> bool {
    let is_key =
        |key: &str| !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_');
    match text.split_once(" = ") {
        Some((key, _)) => is_key(key),
        None => text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .is_some_and(is_key),
    }
}

#[test]
fn the_example_file_uncommented_loads_and_matches_the_defaults() {
    let text = uncommented_example();
    let file = file_with(&text);
    let mut config = load(Some(file.path()), &BTreeMap::new()).unwrap_or_else(|problems| {
        panic!("upkeep.example.toml has problems: {problems:#?}\n{text}");
    });
    assert_eq!(
        config.public_url.as_deref(),
        Some("https://upkeep.example.com")
    );
    config.public_url = None;
    assert_eq!(
        config.secrets.key_file.as_deref(),
        Some("/etc/upkeep/secret.key")
    );
    config.secrets.key_file = None;
    assert_eq!(
        format!("{config:?}"),
        format!("{:?}", Config::default()),
        "example defaults drifted"
    );
    // As shipped, everything is commented out.
    assert_eq!(check_str("upkeep.example.toml", EXAMPLE), vec![]);
}

#[test]
fn the_example_file_mentions_every_setting() {
    let document: toml_edit::DocumentMut = uncommented_example().parse().unwrap();
    for setting in SETTINGS {
        let present = match setting.section {
            Some(section) => document
                .get(section)
                .and_then(|table| table.get(setting.key))
                .is_some(),
            None => document.get(setting.key).is_some(),
        };
        assert!(present, "upkeep.example.toml lacks `{}`", setting.dotted());
        let line = format!("# {} = ", setting.key);
        let position = EXAMPLE.find(&line).unwrap();
        let explanation = EXAMPLE[..position].lines().last().unwrap_or_default();
        assert!(
            explanation.contains("Default:"),
            "`{}` lacks a `Default:` line",
            setting.dotted()
        );
    }
    assert!(EXAMPLE.contains("_FILE") && EXAMPLE.contains("UPKEEP_<SECTION>_<KEY>"));
}

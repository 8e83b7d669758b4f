//! Tests of defaults, durations, the TOML file checker and password masking.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use super::*;

fn no_env() -> BTreeMap<String, String> {
    BTreeMap::new()
}

fn file_with(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

/// `(line, key)` of each problem, for compact assertions.
fn located(problems: &[ConfigProblem]) -> Vec<(Option<usize>, &str)> {
    problems.iter().map(|p| (p.line, p.key.as_str())).collect()
}

#[test]
fn parse_duration_reads_each_unit_and_combinations() {
    assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
    assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
    assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(43_200)));
    assert_eq!(parse_duration("90d"), Ok(Duration::from_secs(90 * 86_400)));
    assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(2 * 604_800)));
    assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5_400)));
    assert_eq!(parse_duration(" 10s "), Ok(Duration::from_secs(10)));
    assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
}

#[test]
fn parse_duration_rejects_malformed_text() {
    assert!(parse_duration("").unwrap_err().contains("empty"));
    assert!(parse_duration("   ").unwrap_err().contains("empty"));
    assert!(parse_duration("10").unwrap_err().contains("needs a unit"));
    assert!(parse_duration("1h30").unwrap_err().contains("needs a unit"));
    assert!(
        parse_duration("5y")
            .unwrap_err()
            .contains("unknown unit 'y'")
    );
    assert!(parse_duration("m").unwrap_err().contains("missing number"));
    assert!(
        parse_duration("-5s")
            .unwrap_err()
            .contains("unknown unit '-'")
    );
}

#[test]
fn parse_duration_saturates_instead_of_overflowing() {
    assert!(parse_duration("99999999999999999999w").is_err());
    assert_eq!(
        parse_duration("9999999999999999999w"),
        Ok(Duration::from_secs(u64::MAX))
    );
}

#[test]
fn no_file_and_no_environment_gives_the_defaults() {
    let config = load(None, &no_env()).unwrap();
    assert_eq!(format!("{config:?}"), format!("{:?}", Config::default()));
    assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
    assert_eq!(config.base_url(), "http://127.0.0.1:8080");
}

#[test]
fn file_overrides_every_default() {
    let file = file_with(
        r#"
version = 1
listen = "0.0.0.0:9000"
database_url = "postgres://upkeep@db/upkeep"
public_url = "https://upkeep.example.com/"
shutdown_timeout = "30s"
[log]
format = "json"
level = "upkeep=debug,sqlx=warn"
[roles]
api = false
workers = false
scheduler = false
[auth]
session_ttl = "1d"
cookie_secure = true
login_max_failures_per_account = 3
login_max_failures_per_address = 50
login_window = "1h"
"#,
    );
    let config = load(Some(file.path()), &no_env()).unwrap();
    assert_eq!(config.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(config.database_url, "postgres://upkeep@db/upkeep");
    assert_eq!(config.base_url(), "https://upkeep.example.com");
    assert_eq!(config.shutdown_timeout, Duration::from_secs(30));
    assert_eq!(config.log.format, LogFormat::Json);
    assert_eq!(config.log.level, "upkeep=debug,sqlx=warn");
    assert!(!config.roles.api && !config.roles.workers && !config.roles.scheduler);
    assert_eq!(config.auth.session_ttl, Duration::from_secs(86_400));
    assert!(config.auth.cookie_secure);
    assert_eq!(config.auth.login_max_failures_per_account, 3);
    assert_eq!(config.auth.login_max_failures_per_address, 50);
    assert_eq!(config.auth.login_window, Duration::from_secs(3_600));
}

#[test]
fn inline_tables_and_dotted_keys_are_read_too() {
    let text = "log = { format = \"json\" }\nauth.session_ttl = \"2h\"\n";
    let mut config = Config::default();
    assert_eq!(file::apply_text("t.toml", text, &mut config), vec![]);
    assert_eq!(config.log.format, LogFormat::Json);
    assert_eq!(config.auth.session_ttl, Duration::from_secs(7_200));
}

#[test]
fn every_problem_in_a_file_is_reported_with_its_line() {
    let text = r#"version = 2
listen = "localhost"
colour = "blue"

[log]
format = "xml"
level = "verbose"

[auth]
sesion_ttl = "14d"
login_window = 15
cookie_secure = "yes"
login_max_failures_per_account = 0
login_max_failures_per_address = 1.5

[roles]
api = 1
"#;
    let problems = check_str("upkeep.toml", text);
    assert_eq!(
        located(&problems),
        vec![
            (Some(1), "version"),
            (Some(2), "listen"),
            (Some(3), "colour"),
            (Some(6), "log.format"),
            (Some(7), "log.level"),
            (Some(10), "auth.sesion_ttl"),
            (Some(11), "auth.login_window"),
            (Some(12), "auth.cookie_secure"),
            (Some(13), "auth.login_max_failures_per_account"),
            (Some(14), "auth.login_max_failures_per_address"),
            (Some(17), "roles.api"),
        ],
        "{problems:#?}"
    );
    assert!(problems.iter().all(|p| p.source == "upkeep.toml"));
    let message = |key: &str| &problems.iter().find(|p| p.key == key).unwrap().message;
    assert!(message("version").contains("unsupported version 2"));
    assert!(message("colour").contains("expected one of: version, listen, database_url"));
    assert!(message("colour").contains("[auth]"));
    assert_eq!(
        message("auth.sesion_ttl"),
        "unknown key `sesion_ttl` in [auth] (did you mean `session_ttl`?); expected one of: session_ttl, \
         cookie_secure, login_max_failures_per_account, login_max_failures_per_address, login_window"
    );
    assert_eq!(
        message("auth.login_window"),
        "expected a string like \"15m\", found an integer"
    );
    assert_eq!(
        message("auth.cookie_secure"),
        "expected true or false, found a string"
    );
    assert!(message("auth.login_max_failures_per_account").contains("out of range"));
    assert_eq!(
        message("auth.login_max_failures_per_address"),
        "expected a whole number like 20, found a float"
    );
    assert!(message("log.level").contains("unknown level \"verbose\""));
}

#[test]
fn a_section_that_is_not_a_table_is_a_problem() {
    let problems = check_str(
        "u.toml",
        "version = 1\nauth = \"on\"\n[[roles]]\napi = true\n",
    );
    assert_eq!(
        located(&problems),
        vec![(Some(2), "auth"), (Some(3), "roles")]
    );
    assert_eq!(
        problems[0].message,
        "expected a table [auth], found a string"
    );
    assert_eq!(
        problems[1].message,
        "expected a table [roles], found an array of tables"
    );
}

#[test]
fn values_are_checked() {
    let bad = [
        (
            "database_url = \"mysql://u:secret@h/db\"",
            "must start with sqlite:",
        ),
        (
            "public_url = \"upkeep.example.com\"",
            "must start with http:// or https://",
        ),
        ("public_url = \"https://\"", "no host name"),
        ("shutdown_timeout = \"0s\"", "at least 1s"),
        ("shutdown_timeout = \"100000d\"", "too long"),
        ("shutdown_timeout = \"10\"", "needs a unit"),
        (
            "[auth]\nlogin_max_failures_per_account = 1000001",
            "out of range",
        ),
        (
            "[auth]\nlogin_max_failures_per_account = -3",
            "out of range",
        ),
        ("[log]\nlevel = \"\"", "empty log level"),
        (
            "[log]\nlevel = \"upkeep=loud\"",
            "unknown level \"loud\" for \"upkeep\"",
        ),
        (
            "[log]\nlevel = \"info,upkeep\"",
            "unknown level \"upkeep\"; use trace",
        ),
    ];
    for (text, expected) in bad {
        let problems = check_str("u.toml", text);
        assert_eq!(problems.len(), 1, "{text}: {problems:?}");
        assert!(
            problems[0].message.contains(expected),
            "{text}: {problems:?}"
        );
        assert!(
            !problems[0].message.contains("secret"),
            "{text}: {problems:?}"
        );
    }
    let good = [
        "database_url = \"sqlite::memory:\"",
        "database_url = \"postgresql://localhost/upkeep\"",
        "listen = \"[::]:80\"",
        "[log]\nlevel = \"warn,upkeep::jobs=trace,my_crate=INFO,3\"",
        "[log]\nlevel = \"upkeep[request{id=1}]=debug\"",
    ];
    for text in good {
        assert_eq!(check_str("u.toml", text), vec![], "{text}");
    }
}

#[test]
fn a_syntax_error_is_one_problem_with_its_line() {
    let problems = check_str(
        "u.toml",
        "version = 1\n\n[auth]\nsession_ttl = \"14d\nlogin_window = \"15m\"\n",
    );
    assert_eq!(located(&problems), vec![(Some(4), "")]);
    assert!(
        problems[0].message.starts_with("not valid TOML"),
        "{problems:?}"
    );
    assert!(!problems[0].message.contains('\n'));

    let duplicate = check_str(
        "u.toml",
        "listen = \"127.0.0.1:1\"\nlisten = \"127.0.0.1:2\"\n",
    );
    assert_eq!(located(&duplicate), vec![(Some(2), "")]);
    assert_eq!(
        duplicate[0].to_string(),
        format!("u.toml:2: {}", duplicate[0].message)
    );
}

#[test]
fn a_missing_file_is_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.toml");
    let problems = check_file(&path);
    assert_eq!(located(&problems), vec![(None, "")]);
    assert_eq!(problems[0].source, path.display().to_string());
    assert!(load(Some(&path), &no_env()).is_err());
}

#[test]
fn problems_display_with_source_line_and_key() {
    let problem = ConfigProblem {
        source: "upkeep.toml".into(),
        line: Some(3),
        key: "auth.session_ttl".into(),
        message: "bad".into(),
    };
    assert_eq!(problem.to_string(), "upkeep.toml:3: auth.session_ttl: bad");
    let env = ConfigProblem {
        source: "environment".into(),
        line: None,
        key: "UPKEEP_X".into(),
        ..problem
    };
    assert_eq!(env.to_string(), "environment: UPKEEP_X: bad");
}

#[test]
fn debug_and_redacted_url_hide_the_database_password() {
    let config = Config {
        database_url: "postgres://upkeep:s3cr3t@db.internal:5432/upkeep?sslmode=require".into(),
        ..Config::default()
    };
    let debug = format!("{config:?}");
    assert!(!debug.contains("s3cr3t"), "{debug}");
    assert!(
        debug.contains("postgres://upkeep:***@db.internal:5432/upkeep?sslmode=require"),
        "{debug}"
    );
    assert_eq!(
        config.redacted_database_url(),
        "postgres://upkeep:***@db.internal:5432/upkeep?sslmode=require"
    );
    let pretty = format!("{config:#?}");
    assert!(!pretty.contains("s3cr3t") && pretty.contains("session_ttl"));

    assert_eq!(
        redact_url("postgres://u:p@ss/w@rd@h/db"),
        "postgres://u:***@h/db"
    );
    assert_eq!(
        redact_url("postgres://u@h/db?password=x&sslmode=disable"),
        "postgres://u@h/db?password=***&sslmode=disable"
    );
    assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
    assert_eq!(redact_url(DEFAULT_DATABASE_URL), DEFAULT_DATABASE_URL);
    assert_eq!(redact_url("sqlite::memory:"), "sqlite::memory:");
}

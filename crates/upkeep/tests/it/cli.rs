//! The `upkeep` binary as a person runs it: administering the installation (also while `serve` runs),
//! `--json` output, clear errors with non-zero exits, `config check`, schema refusal and SIGTERM.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::databases::{TestDb, backend_tests, raw_execute};

backend_tests!(
    administers_people_tokens_and_services,
    refuses_a_schema_from_a_newer_binary,
    manages_monitors,
    applies_monitors_declared_in_files,
);

const BIN: &str = env!("CARGO_BIN_EXE_upkeep");

fn upkeep(url: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .args(["--database-url", url])
        .env_remove("UPKEEP_CONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("run upkeep")
}

fn json_of(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "upkeep failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "not JSON ({err}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

async fn administers_people_tokens_and_services(db: TestDb) {
    let url = db.url.clone();
    let created = json_of(&upkeep(
        &url,
        &[
            "user",
            "create",
            "--email",
            "Ana@Example.com",
            "--role",
            "owner",
            "--json",
        ],
    ));
    assert_eq!(created["user"]["email"], "ana@example.com");
    assert!(
        created["generated_password"]
            .as_str()
            .is_some_and(|p| p.len() >= 20)
    );

    // A password from stdin.
    let mut child = Command::new(BIN)
        .args([
            "user",
            "create",
            "--email",
            "bo@example.com",
            "--role",
            "viewer",
            "--password-stdin",
            "--json",
            "--database-url",
            &url,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"a long enough passphrase\n")
        .expect("write");
    let output = child.wait_with_output().expect("wait");
    assert_eq!(json_of(&output)["generated_password"], Value::Null);

    let token = json_of(&upkeep(
        &url,
        &[
            "token",
            "create",
            "--user",
            "ana@example.com",
            "--scope",
            "admin",
            "--expires",
            "90d",
            "--json",
        ],
    ));
    assert!(token["token"].as_str().unwrap_or("").starts_with("upk_"));
    assert_eq!(token["details"]["scope"], "admin");
    let listed = json_of(&upkeep(&url, &["token", "list", "--json"]));
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert!(
        !listed
            .to_string()
            .contains(token["token"].as_str().unwrap_or("-")),
        "secrets are not listed"
    );

    json_of(&upkeep(&url, &["team", "create", "platform", "--json"]));
    json_of(&upkeep(&url, &["service", "create", "db", "--json"]));
    let api = json_of(&upkeep(
        &url,
        &[
            "service",
            "create",
            "api",
            "--name",
            "Public API",
            "--team",
            "platform",
            "--depends-on",
            "db",
            "--link",
            "repo=https://git.example.com/api",
            "--json",
        ],
    ));
    assert_eq!(api["team_slug"], "platform");
    let shown = json_of(&upkeep(&url, &["service", "show", "api", "--json"]));
    assert_eq!(shown["depends_on"], serde_json::json!(["db"]));
    assert_eq!(shown["links"][0]["title"], "repo");
    let list = json_of(&upkeep(&url, &["service", "list", "--json"]));
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    let human = upkeep(&url, &["service", "list"]);
    assert!(String::from_utf8_lossy(&human.stdout).contains("Public API"));

    // Bad input: a message naming what is wrong and a non-zero exit, nothing changed.
    let bad = upkeep(&url, &["service", "create", "Bad Slug"]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("slug"), "{}", stderr(&bad));
    let bad = upkeep(&url, &["service", "create", "web", "--team", "nope"]);
    assert!(
        stderr(&bad).contains("no team with slug nope"),
        "{}",
        stderr(&bad)
    );
    let bad = upkeep(&url, &["service", "delete", "db"]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("depend on db"), "{}", stderr(&bad));
    let bad = upkeep(
        &url,
        &[
            "user",
            "create",
            "--email",
            "ana@example.com",
            "--role",
            "viewer",
        ],
    );
    assert!(stderr(&bad).contains("already exists"), "{}", stderr(&bad));
    let bad = upkeep(
        &url,
        &[
            "token",
            "create",
            "--user",
            "bo@example.com",
            "--scope",
            "write",
        ],
    );
    assert!(
        stderr(&bad).contains("viewer cannot hold a write token"),
        "{}",
        stderr(&bad)
    );
    let bad = upkeep(&url, &["--json", "service", "show", "missing"]);
    let error: Value = serde_json::from_slice(&bad.stderr).expect("JSON error on stderr");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("missing")
    );
    assert_eq!(
        json_of(&upkeep(&url, &["service", "list", "--json"]))
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // Every change above is in the audit log, attributed to the CLI.
    let audit = json_of(&upkeep(&url, &["audit", "list", "--json"]));
    let actions: Vec<&str> = audit
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["action"].as_str())
        .collect();
    for action in [
        "user.create",
        "token.create",
        "team.create",
        "service.create",
    ] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
    assert!(
        audit[0]["actor_label"]
            .as_str()
            .unwrap_or("")
            .starts_with("cli (")
    );
}

async fn refuses_a_schema_from_a_newer_binary(db: TestDb) {
    raw_execute(&db, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from the future', 0)").await.expect("insert");
    let output = upkeep(&db.url, &["migrate"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("version 999"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("newer upkeep"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_sqlite_path_into_a_missing_folder_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/no/such/folder/upkeep.db", dir.path().display());
    let output = upkeep(&url, &["migrate"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("does not exist"),
        "{}",
        stderr(&output)
    );
    assert!(!dir.path().join("no").exists(), "nothing was created");
}

#[test]
fn every_command_has_help_with_an_example() {
    for command in [
        &["serve"][..],
        &["migrate"],
        &["user", "create"],
        &["user", "list"],
        &["token", "create"],
        &["token", "revoke"],
        &["team", "create"],
        &["service", "create"],
        &["service", "show"],
        &["config", "check"],
        &["audit", "list"],
    ] {
        let output = Command::new(BIN)
            .args(command)
            .arg("--help")
            .output()
            .expect("run");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && text.contains("Example"),
            "upkeep {} --help: {text}",
            command.join(" ")
        );
    }
}

#[test]
fn config_check_reports_every_problem_with_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("upkeep.toml");
    std::fs::write(
        &path,
        "listen = \"not an address\"\n\n[auth]\nsesion_ttl = \"14d\"\nlogin_window = 5\n",
    )
    .expect("write");
    let output = Command::new(BIN)
        .args(["config", "check", "--config"])
        .arg(&path)
        .env_remove("UPKEEP_CONFIG")
        .output()
        .expect("run");
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("upkeep.toml:1: listen"), "{text}");
    assert!(
        text.contains("upkeep.toml:4:") && text.contains("sesion_ttl"),
        "{text}"
    );
    assert!(text.contains("upkeep.toml:5: auth.login_window"), "{text}");

    std::fs::write(&path, "listen = \"127.0.0.1:9999\"\n").expect("write");
    let output = Command::new(BIN)
        .args(["config", "check", "--config"])
        .arg(&path)
        .env_remove("UPKEEP_CONFIG")
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    // Monitors may be declared in the configuration file itself, for `upkeep apply`.
    std::fs::write(&path, "listen = \"127.0.0.1:9999\"\n\n[[monitor]]\nservice = \"api\"\nname = \"health\"\nkind = \"heartbeat\"\n").expect("write");
    let output = Command::new(BIN)
        .args(["config", "check", "--config"])
        .arg(&path)
        .env_remove("UPKEEP_CONFIG")
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let db = format!("sqlite://{}/upkeep.db", dir.path().display());
    let plan = upkeep(&db, &["apply", &path.display().to_string(), "--dry-run"]);
    assert!(
        stderr(&plan).contains("no service with slug api"),
        "apply reads the same file: {}",
        stderr(&plan)
    );
    // `serve` refuses a broken file instead of starting with defaults.
    std::fs::write(&path, "listen = 5\n").expect("write");
    let output = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .expect("run");
    assert!(!output.status.success());
    assert!(stderr(&output).contains("listen"), "{}", stderr(&output));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

#[test]
fn serve_prints_the_setup_link_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--log-format",
            "json",
        ])
        .current_dir(dir.path())
        .env_remove("UPKEEP_CONFIG")
        .env_remove("UPKEEP_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let started = Instant::now();
    assert!(
        probe::healthz_answers(port, started),
        "upkeep serve answered /healthz"
    );
    assert!(
        dir.path().join("upkeep-data/upkeep.db").exists(),
        "the default database is in ./upkeep-data"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let stopping = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(15),
            "upkeep did not stop within 15 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "exit status {exit}");
    let output = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("http://127.0.0.1:{port}/setup?token=")),
        "{stdout}"
    );
    let logs = String::from_utf8_lossy(&output.stderr);
    let first = logs.lines().next().unwrap_or("");
    assert!(
        serde_json::from_str::<Value>(first).is_ok(),
        "--log-format json logs JSON lines: {first}"
    );
    assert!(logs.contains("shutting down"));
}

mod probe {
    //! A tiny blocking probe, so this process test needs no runtime.
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};

    pub fn healthz_answers(port: u16, started: Instant) -> bool {
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                let _ = stream.write_all(
                    b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                );
                let mut answer = String::new();
                let _ = stream.read_to_string(&mut answer);
                if answer.starts_with("HTTP/1.1 200") {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

async fn manages_monitors(db: TestDb) {
    let url = db.url.clone();
    json_of(&upkeep(&url, &["service", "create", "db", "--json"]));
    let service = json_of(&upkeep(&url, &["service", "show", "db", "--json"]));
    let ping_key = service["ping_key"].as_str().unwrap_or("");
    assert!(ping_key.len() >= 20, "services have a ping key: {service}");

    let created = json_of(&upkeep(
        &url,
        &[
            "monitor",
            "create",
            "--service",
            "db",
            "--name",
            "Nightly backup",
            "--kind",
            "heartbeat",
            "--cron",
            "0 3 * * *",
            "--tz",
            "Europe/Berlin",
            "--grace",
            "1h",
            "--json",
        ],
    ));
    let id = created["id"].as_i64().expect("id");
    let ping_url = created["ping_url"].as_str().unwrap_or("");
    assert!(
        ping_url.starts_with("http://127.0.0.1:8080/ping/")
            && ping_url.len() == "http://127.0.0.1:8080/ping/".len() + 36,
        "{ping_url}"
    );
    assert_eq!(created["status"], "pending");
    assert_eq!(created["settings"]["schedule"]["tz"], "Europe/Berlin");
    let human = upkeep(
        &url,
        &[
            "monitor",
            "create",
            "--service",
            "db",
            "--name",
            "vacuum",
            "--kind",
            "heartbeat",
            "--period",
            "1d",
        ],
    );
    assert!(
        String::from_utf8_lossy(&human.stdout).contains("ping URL: http://"),
        "heartbeats print their ping URL"
    );

    let http = json_of(&upkeep(
        &url,
        &[
            "monitor",
            "create",
            "--service",
            "db",
            "--name",
            "health",
            "--kind",
            "http",
            "--url",
            "http://127.0.0.1:9/health",
            "--interval",
            "1s",
            "--condition",
            "[STATUS] == 200",
            "--json",
        ],
    ));
    assert_eq!(http["interval_ms"], 1000);
    assert_eq!(http["ping_url"], serde_json::Value::Null);

    let shown = json_of(&upkeep(
        &url,
        &["monitor", "show", &id.to_string(), "--json"],
    ));
    assert_eq!(shown["status"], "pending");
    let paused = json_of(&upkeep(
        &url,
        &["monitor", "pause", &id.to_string(), "--for", "2h", "--json"],
    ));
    assert_eq!(
        (paused["status"].as_str(), paused["paused"].as_bool()),
        (Some("paused"), Some(true))
    );
    assert!(paused["resume_at"].is_string());
    let resumed = json_of(&upkeep(
        &url,
        &["monitor", "resume", &id.to_string(), "--json"],
    ));
    assert_eq!(resumed["status"], "pending");
    let listed = json_of(&upkeep(
        &url,
        &["monitor", "list", "--service", "db", "--json"],
    ));
    assert_eq!(listed.as_array().map(Vec::len), Some(3));

    // Bad definitions are refused with the field named, and change nothing.
    let bad = upkeep(
        &url,
        &[
            "monitor",
            "create",
            "--service",
            "db",
            "--name",
            "x",
            "--kind",
            "heartbeat",
            "--cron",
            "61 * * * *",
        ],
    );
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("cron:"), "{}", stderr(&bad));
    let bad = upkeep(
        &url,
        &[
            "monitor",
            "create",
            "--service",
            "db",
            "--name",
            "x",
            "--kind",
            "heartbeat",
            "--cron",
            "0 3 * * *",
            "--tz",
            "Mars/Base",
        ],
    );
    assert!(stderr(&bad).contains("tz:"), "{}", stderr(&bad));
    let bad = upkeep(
        &url,
        &[
            "monitor",
            "create",
            "--service",
            "db",
            "--name",
            "x",
            "--kind",
            "http",
            "--url",
            "http://x",
            "--condition",
            "[STATUS] = 200",
        ],
    );
    assert!(
        stderr(&bad).contains("conditions[0]") && stderr(&bad).contains("position"),
        "{}",
        stderr(&bad)
    );
    let bad = upkeep(
        &url,
        &[
            "monitor",
            "create",
            "--service",
            "db",
            "--name",
            "x",
            "--kind",
            "http",
            "--url",
            "http://x",
            "--interval",
            "0.5s",
        ],
    );
    assert!(stderr(&bad).contains("interval"), "{}", stderr(&bad));
    assert_eq!(
        json_of(&upkeep(&url, &["monitor", "list", "--json"]))
            .as_array()
            .map(Vec::len),
        Some(3)
    );

    let deleted = upkeep(&url, &["monitor", "delete", &id.to_string()]);
    assert!(deleted.status.success());
    let audit = json_of(&upkeep(
        &url,
        &["audit", "list", "--action", "monitor.", "--json"],
    ));
    let actions: Vec<&str> = audit
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["action"].as_str())
        .collect();
    assert_eq!(
        actions[..4],
        [
            "monitor.delete",
            "monitor.resume",
            "monitor.pause",
            "monitor.create"
        ]
    );
}

fn write(path: &std::path::Path, text: &str) {
    std::fs::write(path, text).expect("write");
}

async fn applies_monitors_declared_in_files(db: TestDb) {
    let url = db.url.clone();
    json_of(&upkeep(&url, &["service", "create", "api", "--json"]));
    json_of(&upkeep(&url, &["service", "create", "db", "--json"]));
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = dir.path().join("monitors");
    std::fs::create_dir(&folder).expect("mkdir");
    let folder_arg = folder.display().to_string();
    let a = folder.join("a.toml");
    let b = folder.join("b.toml");
    let health = "[[monitor]]\nservice = \"api\"\nname = \"health\"\nkind = \"http\"\nurl = \"http://127.0.0.1:9/health\"\ninterval = \"30s\"\nconditions = [\"[STATUS] == 200\"]\n";
    let backup = "\n[[monitor]]\nservice = \"db\"\nname = \"backup\"\nkind = \"heartbeat\"\ncron = \"0 3 * * *\"\ntz = \"Europe/Berlin\"\ngrace = \"1h\"\n";
    write(&a, &format!("{health}{backup}"));
    write(
        &b,
        "[[monitor]]\nservice = \"db\"\nname = \"port\"\nkind = \"tcp\"\nurl = \"127.0.0.1:5432\"\n",
    );

    let plan = json_of(&upkeep(
        &url,
        &["apply", &folder_arg, "--dry-run", "--json"],
    ));
    let actions: Vec<&str> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["action"].as_str())
        .collect();
    assert_eq!(actions, ["create", "create", "create"]);
    assert_eq!(
        json_of(&upkeep(&url, &["monitor", "list", "--json"]))
            .as_array()
            .map(Vec::len),
        Some(0),
        "a dry run changes nothing"
    );

    let applied = json_of(&upkeep(&url, &["apply", &folder_arg, "--json"]));
    assert_eq!(applied["changes"].as_array().map(Vec::len), Some(3));
    let monitors = json_of(&upkeep(&url, &["monitor", "list", "--json"]));
    assert_eq!(monitors.as_array().map(Vec::len), Some(3));
    assert!(monitors.as_array().expect("list").iter().all(|m| {
        m["managed_by"]
            .as_str()
            .is_some_and(|f| f.starts_with(&folder_arg))
    }));
    let again = json_of(&upkeep(&url, &["apply", &folder_arg, "--json"]));
    assert_eq!(
        (
            again["changes"].as_array().map(Vec::len),
            again["unchanged"].as_u64()
        ),
        (Some(0), Some(3)),
        "applying twice is a no-op"
    );

    // One bad monitor: nothing is applied, and the problem names the file, the monitor and the field.
    write(
        &a,
        &format!(
            "{}{backup}\n[[monitor]]\nservice = \"db\"\nname = \"broken\"\nkind = \"heartbeat\"\ncron = \"61 * * * *\"\n",
            health.replace("30s", "10s")
        ),
    );
    let refused = upkeep(&url, &["apply", &folder_arg]);
    assert!(!refused.status.success());
    let message = stderr(&refused);
    assert!(
        message.contains("a.toml: monitor #3 (broken): cron:"),
        "{message}"
    );
    let health_now = json_of(&upkeep(
        &url,
        &["monitor", "list", "--service", "api", "--json"],
    ));
    assert_eq!(
        health_now[0]["interval_ms"], 30_000,
        "the valid change in the same file was not applied either"
    );
    let unknown = folder.join("c.toml");
    write(
        &unknown,
        "[[monitor]]\nservice = \"api\"\nname = \"x\"\nkind = \"http\"\nurl = \"http://x\"\nintreval = \"5s\"\n",
    );
    let refused = upkeep(&url, &["apply", &folder_arg]);
    assert!(
        stderr(&refused).contains("c.toml: monitor #1 (x): intreval:"),
        "{}",
        stderr(&refused)
    );
    std::fs::remove_file(&unknown).expect("rm");

    // Fix the file and remove b.toml: one update, one delete.
    write(&a, &format!("{}{backup}", health.replace("30s", "10s")));
    std::fs::remove_file(&b).expect("rm");
    let applied = json_of(&upkeep(&url, &["apply", &folder_arg, "--json"]));
    let actions: Vec<&str> = applied["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["action"].as_str())
        .collect();
    assert_eq!(actions, ["update", "delete"]);
    let monitors = json_of(&upkeep(&url, &["monitor", "list", "--json"]));
    assert_eq!(monitors.as_array().map(Vec::len), Some(2));
    let health_now = json_of(&upkeep(
        &url,
        &["monitor", "list", "--service", "api", "--json"],
    ));
    assert_eq!(health_now[0]["interval_ms"], 10_000);

    // A monitor made by hand is not taken over by a file with the same slug.
    json_of(&upkeep(
        &url,
        &[
            "monitor",
            "create",
            "--service",
            "api",
            "--name",
            "manual",
            "--kind",
            "heartbeat",
            "--json",
        ],
    ));
    write(
        &b,
        "[[monitor]]\nservice = \"api\"\nname = \"manual\"\nkind = \"heartbeat\"\n",
    );
    let refused = upkeep(&url, &["apply", &folder_arg]);
    assert!(
        stderr(&refused).contains("was not created from a file"),
        "{}",
        stderr(&refused)
    );
}

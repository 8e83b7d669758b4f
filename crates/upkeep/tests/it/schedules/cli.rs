//! `upkeep schedule …` as a person runs it: a bad spec refused naming the field, then create, who is on
//! call at a time across the spring-forward night (`--json`), list, show and delete.

use std::process::Command;

use serde_json::{Value, json};

use crate::support::databases::{TestDb, backend_tests};

backend_tests!(cli_story);

const BIN: &str = env!("CARGO_BIN_EXE_upkeep");

fn upkeep(url: &str, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .args(["--database-url", url])
        .env_remove("UPKEEP_CONFIG")
        .output()
        .expect("run upkeep")
}

fn json_of(output: &std::process::Output) -> Value {
    assert!(
        output.status.success(),
        "upkeep failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}

async fn cli_story(db: TestDb) {
    let url = db.url.clone();
    let mut ids = Vec::new();
    for email in ["ana@example.com", "bo@example.com"] {
        let made = json_of(&upkeep(
            &url,
            &[
                "user",
                "create",
                "--email",
                email,
                "--role",
                "responder",
                "--json",
            ],
        ));
        ids.push(made["user"]["id"].as_i64().expect("id"));
    }
    let spec = json!({"time_zone": "Europe/Berlin", "layers": [{"name": "Primary", "rotation": {"kind": "daily",
        "participants": ids, "start_date": "2026-03-23", "handoff_time": "02:30"}}]})
    .to_string();
    let bad = spec.replace("02:30", "2:30pm");
    let refused = upkeep(
        &url,
        &["schedule", "create", "primary", "--spec", &bad, "--json"],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("spec.layers[0].rotation.handoff_time"),
        "{stderr}"
    );

    let created = json_of(&upkeep(
        &url,
        &[
            "schedule", "create", "primary", "--name", "Primary", "--spec", &spec, "--json",
        ],
    ));
    assert_eq!(created["slug"], "primary");
    assert!(
        created["feed_url"]
            .as_str()
            .is_some_and(|u| u.contains("/oncall/schedules/"))
    );

    let answer = json_of(&upkeep(
        &url,
        &[
            "schedule",
            "oncall",
            "primary",
            "--at",
            "2026-03-29T01:15:00Z",
            "--json",
        ],
    ));
    assert_eq!(answer["at"], "2026-03-29T01:15:00Z");
    assert_eq!(answer["on_call"][0]["name"], "ana");
    assert_eq!(
        answer["on_call"][0]["reason"],
        "schedule Primary, layer \"Primary\""
    );
    assert_eq!(answer["on_call"][0]["until"], "2026-03-30T00:30:00Z");

    let list = json_of(&upkeep(&url, &["schedule", "list", "--json"]));
    assert_eq!(list[0]["slug"], "primary");
    let shown = json_of(&upkeep(&url, &["schedule", "show", "primary", "--json"]));
    assert_eq!(shown["spec"]["layers"][0]["name"], "Primary");
    let human = upkeep(
        &url,
        &[
            "schedule",
            "oncall",
            "primary",
            "--at",
            "2026-03-29T00:45:00Z",
        ],
    );
    assert!(String::from_utf8_lossy(&human.stdout).contains("bo (schedule Primary"));
    let deleted = json_of(&upkeep(&url, &["schedule", "delete", "primary", "--json"]));
    assert_eq!(deleted["deleted"], "primary");
}

//! `upkeep contact …` as an operator runs it: add (a webhook without a secret gets one, printed once),
//! list without secrets, test against a local receiver, rules, delete; the key file and the outbound policy
//! come from `UPKEEP_SECRETS_KEY_FILE` and `UPKEEP_OUTBOUND_BLOCK_PRIVATE_ADDRESSES`.

use std::process::{Command, Output, Stdio};

use reqwest::StatusCode;
use serde_json::{Value, json};
use upkeep_core::secrets::SecretBox;

use super::harness::Receiver;
use crate::support::databases::{TestDb, backend_tests};

backend_tests!(the_cli_manages_contact_methods);

const BIN: &str = env!("CARGO_BIN_EXE_upkeep");

async fn upkeep(url: &str, key_file: &str, args: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .args(["--database-url", url])
        .env_remove("UPKEEP_CONFIG")
        .env("UPKEEP_SECRETS_KEY_FILE", key_file)
        .env("UPKEEP_OUTBOUND_BLOCK_PRIVATE_ADDRESSES", "false")
        .stdin(Stdio::null());
    tokio::task::spawn_blocking(move || command.output().expect("run upkeep"))
        .await
        .expect("join")
}

fn json_of(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "upkeep failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}

async fn the_cli_manages_contact_methods(db: TestDb) {
    let url = db.url.clone();
    let dir = tempfile::tempdir().expect("folder");
    let key_file = dir.path().join("secret.key");
    std::fs::write(&key_file, SecretBox::generate().expect("key").1).expect("write key");
    let key = key_file.display().to_string();
    let run = |args: Vec<String>| {
        let (url, key) = (url.clone(), key.clone());
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            upkeep(&url, &key, &args).await
        }
    };
    let words = |text: &str| text.split(' ').map(str::to_string).collect::<Vec<_>>();
    json_of(
        &run(words(
            "user create --email ana@example.com --role viewer --json",
        ))
        .await,
    );

    let mut add =
        words("contact add --user ana@example.com --kind webhook --label Bridge --json --settings");
    add.push(json!({"url": "http://127.0.0.1:9/hook"}).to_string());
    let added = json_of(&run(add).await);
    let secret = added["generated_webhook_secret"]
        .as_str()
        .expect("secret")
        .to_string();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(added["summary"], "127.0.0.1:9/…");
    let id = added["id"].as_i64().expect("id");

    let mut bad = words("contact add --user ana@example.com --kind slack --settings");
    bad.push("{}".into());
    let refused = run(bad).await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("config.webhook_url"), "{stderr}");

    let listed = json_of(&run(words("contact list --user ana@example.com --json")).await);
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert!(!listed.to_string().contains(&secret[6..]));

    // The CLI has no update command: replace it with one pointing at a live receiver, same secret.
    let receiver = Receiver::start(&secret, StatusCode::OK, "ok").await;
    json_of(&run(words(&format!("contact delete {id} --json"))).await);
    let mut add =
        words("contact add --user ana@example.com --kind webhook --label Bridge --json --settings");
    add.push(json!({"url": receiver.url, "secret": secret}).to_string());
    let id = json_of(&run(add).await)["id"].as_i64().expect("id");
    let tested = json_of(&run(words(&format!("contact test {id} --json"))).await);
    assert_eq!(tested["outcome"], "delivered", "{tested}");
    assert!(receiver.seen()[0].signature_ok);
    let listed = json_of(&run(words("contact list --user ana@example.com --json")).await);
    assert_eq!(listed[0]["verified"], true);

    let rule = json_of(
        &run(words(&format!(
            "contact rule add --user ana@example.com --contact {id} --delay 5m --json"
        )))
        .await,
    );
    assert_eq!(rule["delay"], "5m");
    let rules = json_of(&run(words("contact rule list --user ana@example.com --json")).await);
    assert_eq!(rules[0]["contact_method_id"], id);
    let human = run(words("contact list --user ana@example.com")).await;
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("Bridge") && text.contains("yes"), "{text}");
    json_of(
        &run(words(&format!(
            "contact rule delete {} --json",
            rules[0]["id"]
        )))
        .await,
    );
    json_of(&run(words(&format!("contact delete {id} --json"))).await);
    let gone = run(words(&format!("contact test {id}"))).await;
    assert!(!gone.status.success());
}

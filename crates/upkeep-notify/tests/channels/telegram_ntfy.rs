//! Telegram's Bot API and ntfy: exact requests (path with the bot token, HTML escaping, inline keyboards;
//! ntfy priorities, actions and the bearer token) and their answers (Telegram's `retry_after`, refusals).

use std::time::Duration;

use serde_json::json;
use upkeep_notify::{
    ChannelConfig, DEFAULT_TELEGRAM_API, DeliveryOutcome, IncidentStatus, NtfyConfig, Severity,
    TelegramConfig, send, validate,
};

use crate::support::{REASON, Reply, TestServer, bundled, client, notification};

const TOKEN: &str = "123456:ABC-def_ghi";

fn telegram(server: &TestServer, chat_id: &str) -> ChannelConfig {
    ChannelConfig::Telegram(TelegramConfig {
        bot_token: TOKEN.to_string(),
        chat_id: chat_id.to_string(),
        api_base_url: server.url("/"),
    })
}

#[tokio::test]
async fn telegram_sends_escaped_html_with_url_buttons() {
    let server = TestServer::start(
        Reply::ok().json(json!({"ok": true, "result": {"message_id": 777, "chat": {"id": -1001}}})),
    )
    .await;
    let mut n = notification();
    n.title = "Latency > 2s for <api> & co".to_string();
    let outcome = send(&client(), &telegram(&server, "-1001234567890"), &n).await;
    assert_eq!(
        outcome,
        DeliveryOutcome::Delivered {
            detail: "Telegram accepted it as message 777".to_string()
        }
    );
    let request = server.only_request();
    request.assert_json_post(&format!("/bot{TOKEN}/sendMessage"));
    assert_eq!(
        request.json(),
        json!({
            "chat_id": -1001234567890_i64,
            "text": format!(
                "<b>Triggered: Latency &gt; 2s for &lt;api&gt; &amp; co</b>\n\
                 Service: checkout · Severity: critical\n\n\
                 Primary stopped answering\n\n\
                 <i>Why you got this: {REASON}</i>"
            ),
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": true},
            "reply_markup": {"inline_keyboard": [
                [{"text": "Acknowledge", "url": "https://upkeep.example/a/ack42"},
                 {"text": "Resolve", "url": "https://upkeep.example/a/res42"}],
                [{"text": "Open incident", "url": "https://upkeep.example/incidents/42"}],
            ]},
        })
    );
}

#[tokio::test]
async fn telegram_channel_names_stay_strings_and_bundles_are_links() {
    let server =
        TestServer::start(Reply::ok().json(json!({"ok": true, "result": {"message_id": 1}}))).await;
    let mut n = bundled();
    n.acknowledge_url = None;
    n.resolve_url = None;
    assert!(
        send(&client(), &telegram(&server, "@ops_pages"), &n)
            .await
            .is_delivered()
    );
    let body = server.only_request().json();
    assert_eq!(body["chat_id"], json!("@ops_pages"));
    assert!(
        body["text"].as_str().unwrap().ends_with(
            "\n\n2 more incidents for you:\n\
             • <a href=\"https://upkeep.example/incidents/43\">#43 [warning] Disk almost full</a>\n\
             • <a href=\"https://upkeep.example/incidents/44\">#44 [error] Queue backlog</a>"
        ),
        "{body}"
    );
    assert_eq!(
        body["reply_markup"],
        json!({"inline_keyboard": [[{"text": "Open incident", "url": "https://upkeep.example/incidents/42"}]]})
    );
}

#[tokio::test]
async fn telegram_flood_control_waits_retry_after() {
    let server = TestServer::start(Reply::status(429).json(json!({
        "ok": false, "error_code": 429, "description": "Too Many Requests: retry after 5",
        "parameters": {"retry_after": 5}
    })))
    .await;
    assert_eq!(
        send(&client(), &telegram(&server, "42"), &notification()).await,
        DeliveryOutcome::RetryLater {
            after: Some(Duration::from_secs(5)),
            reason: "Telegram answered 429 Too Many Requests: Too Many Requests: retry after 5"
                .to_string()
        }
    );
}

#[tokio::test]
async fn telegram_refusals_fail_with_telegrams_words() {
    let server = TestServer::start(Reply::status(400).json(json!({
        "ok": false, "error_code": 400, "description": "Bad Request: chat not found"
    })))
    .await;
    assert_eq!(
        send(&client(), &telegram(&server, "42"), &notification()).await,
        DeliveryOutcome::Failed {
            reason: "Telegram refused it: 400 Bad Request: Bad Request: chat not found".to_string()
        }
    );
    let server = TestServer::start(Reply::status(400).json(json!({
        "ok": false, "error_code": 400, "description": "Bad Request: group chat was upgraded to a supergroup chat",
        "parameters": {"migrate_to_chat_id": -1009876}
    })))
    .await;
    assert_eq!(
        send(&client(), &telegram(&server, "42"), &notification()).await,
        DeliveryOutcome::Failed {
            reason: "Telegram refused it: the group became a supergroup; set chat_id to -1009876"
                .to_string()
        }
    );
}

#[test]
fn telegram_settings_are_validated() {
    let with = |token: &str, chat: &str| {
        validate(&ChannelConfig::Telegram(TelegramConfig {
            bot_token: token.to_string(),
            chat_id: chat.to_string(),
            api_base_url: DEFAULT_TELEGRAM_API.to_string(),
        }))
    };
    assert_eq!(with(TOKEN, "-100123"), Ok(()));
    assert_eq!(with(TOKEN, "@ops").map_err(|e| e.field), Ok(()));
    let error = with(TOKEN, "  ").unwrap_err();
    assert_eq!(
        (error.field.as_str(), error.message.as_str()),
        ("chat_id", "a chat id is required")
    );
    assert_eq!(with("abc", "1").unwrap_err().field, "bot_token");
    assert_eq!(with("123:abc/../x", "1").unwrap_err().field, "bot_token");
}

fn ntfy(server: &TestServer, token: Option<&str>) -> ChannelConfig {
    ChannelConfig::Ntfy(NtfyConfig {
        server_url: server.url("/"),
        topic: "ops-pages".to_string(),
        access_token: token.map(str::to_string),
    })
}

#[tokio::test]
async fn ntfy_publishes_json_to_the_root_with_priority_actions_and_token() {
    let server =
        TestServer::start(Reply::ok().json(json!({"id": "abc", "event": "message"}))).await;
    let outcome = send(&client(), &ntfy(&server, Some("tk_secret")), &bundled()).await;
    assert!(outcome.is_delivered(), "{outcome:?}");
    let request = server.only_request();
    request.assert_json_post("/");
    assert_eq!(request.header("authorization"), Some("Bearer tk_secret"));
    assert_eq!(
        request.json(),
        json!({
            "topic": "ops-pages",
            "title": "Triggered: Database down",
            "message": format!(
                "Service: checkout · Severity: critical\n\n\
                 Primary stopped answering\n\n\
                 Why you got this: {REASON}\n\n\
                 2 more incidents for you:\n\
                 - #43 [warning] Disk almost full: https://upkeep.example/incidents/43\n\
                 - #44 [error] Queue backlog: https://upkeep.example/incidents/44"
            ),
            "priority": 5,
            "tags": ["rotating_light", "critical", "checkout"],
            "click": "https://upkeep.example/incidents/42",
            "actions": [
                {"action": "view", "label": "Acknowledge", "url": "https://upkeep.example/a/ack42", "clear": true},
                {"action": "view", "label": "Resolve", "url": "https://upkeep.example/a/res42", "clear": true},
                {"action": "view", "label": "Open incident", "url": "https://upkeep.example/incidents/42"},
            ],
        })
    );
}

#[tokio::test]
async fn ntfy_priority_follows_severity_and_status_updates_are_quiet() {
    let server = TestServer::start(Reply::ok()).await;
    let cases = [
        (
            Severity::Critical,
            IncidentStatus::Triggered,
            5,
            "rotating_light",
        ),
        (
            Severity::Error,
            IncidentStatus::Triggered,
            4,
            "rotating_light",
        ),
        (Severity::Warning, IncidentStatus::Triggered, 3, "warning"),
        (
            Severity::Info,
            IncidentStatus::Triggered,
            2,
            "information_source",
        ),
        (Severity::Critical, IncidentStatus::Acknowledged, 2, "eyes"),
        (
            Severity::Critical,
            IncidentStatus::Resolved,
            2,
            "white_check_mark",
        ),
    ];
    for (severity, status, _, _) in cases {
        let mut n = notification();
        n.severity = severity;
        n.status = status;
        assert!(
            send(&client(), &ntfy(&server, None), &n)
                .await
                .is_delivered()
        );
    }
    let requests = server.requests();
    assert_eq!(requests.len(), cases.len());
    for (request, (_, _, priority, emoji)) in requests.iter().zip(cases) {
        assert_eq!(request.header("authorization"), None);
        let body = request.json();
        assert_eq!(body["priority"], json!(priority), "{body}");
        assert_eq!(body["tags"][0], json!(emoji), "{body}");
    }
}

#[test]
fn ntfy_settings_are_validated() {
    let with = |url: &str, topic: &str, token: Option<&str>| {
        validate(&ChannelConfig::Ntfy(NtfyConfig {
            server_url: url.to_string(),
            topic: topic.to_string(),
            access_token: token.map(str::to_string),
        }))
        .map_err(|e| e.field)
    };
    assert_eq!(with("https://ntfy.sh", "ops-pages", Some("tk_x")), Ok(()));
    assert_eq!(with("ntfy.sh", "ops", None), Err("server_url".to_string()));
    assert_eq!(
        with("https://ntfy.sh", "ops pages", None),
        Err("topic".to_string())
    );
    assert_eq!(with("https://ntfy.sh", "", None), Err("topic".to_string()));
    assert_eq!(
        with("https://ntfy.sh", "ops", Some("")),
        Err("access_token".to_string())
    );
}

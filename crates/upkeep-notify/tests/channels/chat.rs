//! Slack, Microsoft Teams and Discord webhooks: the whole JSON each one receives, and how their answers read.

use std::time::Duration;

use serde_json::json;
use upkeep_notify::{
    ChannelConfig, DeliveryOutcome, DiscordConfig, IncidentStatus, SlackConfig, TeamsConfig, send,
    validate,
};

use crate::support::{REASON, Reply, TestServer, bundled, client, notification};

#[tokio::test]
async fn slack_gets_a_fallback_text_and_blocks_with_the_reason_and_buttons() {
    let server = TestServer::start(Reply::ok().body("ok")).await;
    let config = ChannelConfig::Slack(SlackConfig {
        webhook_url: server.url("/services/T000/B000/XXXX"),
    });
    let mut n = bundled();
    n.summary = "Primary <db-1> & replica lagging".to_string();
    let outcome = send(&client(), &config, &n).await;
    assert_eq!(
        outcome,
        DeliveryOutcome::Delivered {
            detail: "Slack answered 200 OK: ok".to_string()
        }
    );
    let request = server.only_request();
    request.assert_json_post("/services/T000/B000/XXXX");
    assert_eq!(
        request.json(),
        json!({
            "text": "Triggered: Database down [critical] (checkout)",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": "Triggered: Database down"}},
                {"type": "section", "text": {"type": "mrkdwn",
                    "text": "*Service:* checkout   *Severity:* critical\nPrimary &lt;db-1&gt; &amp; replica lagging"}},
                {"type": "context", "elements": [
                    {"type": "mrkdwn", "text": format!("Why you got this: {REASON}")}]},
                {"type": "section", "text": {"type": "mrkdwn", "text":
                    "*2 more incidents for you:*\n\
                     • <https://upkeep.example/incidents/43|#43 [warning] Disk almost full>\n\
                     • <https://upkeep.example/incidents/44|#44 [error] Queue backlog>"}},
                {"type": "actions", "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "Acknowledge"},
                     "url": "https://upkeep.example/a/ack42", "action_id": "acknowledge", "style": "primary"},
                    {"type": "button", "text": {"type": "plain_text", "text": "Resolve"},
                     "url": "https://upkeep.example/a/res42", "action_id": "resolve"},
                    {"type": "button", "text": {"type": "plain_text", "text": "Open incident"},
                     "url": "https://upkeep.example/incidents/42", "action_id": "open"},
                ]},
            ]
        })
    );
}

#[tokio::test]
async fn slack_refusals_fail_and_rate_limits_wait() {
    let server = TestServer::start(Reply::status(404).body("no_service")).await;
    let config = ChannelConfig::Slack(SlackConfig {
        webhook_url: server.url("/services/x"),
    });
    assert_eq!(
        send(&client(), &config, &notification()).await,
        DeliveryOutcome::Failed {
            reason: "Slack answered 404 Not Found: no_service".to_string()
        }
    );
    let server = TestServer::start(Reply::status(429).header("retry-after", "30")).await;
    let config = ChannelConfig::Slack(SlackConfig {
        webhook_url: server.url("/services/x"),
    });
    assert_eq!(
        send(&client(), &config, &notification()).await,
        DeliveryOutcome::RetryLater {
            after: Some(Duration::from_secs(30)),
            reason: "Slack answered 429 Too Many Requests".to_string()
        }
    );
}

#[tokio::test]
async fn teams_gets_an_adaptive_card_with_open_url_actions() {
    let server = TestServer::start(Reply::status(202)).await;
    let config = ChannelConfig::Teams(TeamsConfig {
        webhook_url: server.url("/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=s"),
    });
    let outcome = send(&client(), &config, &bundled()).await;
    assert_eq!(
        outcome,
        DeliveryOutcome::Delivered {
            detail: "Microsoft Teams answered 202 Accepted".to_string()
        }
    );
    let request = server.only_request();
    request.assert_json_post("/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=s");
    assert_eq!(
        request.json(),
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "msteams": {"width": "Full"},
                    "body": [
                        {"type": "TextBlock", "text": "Triggered: Database down", "weight": "Bolder",
                         "size": "Medium", "wrap": true, "color": "Attention"},
                        {"type": "TextBlock", "text": "Service: checkout · Severity: critical",
                         "wrap": true, "isSubtle": true},
                        {"type": "TextBlock", "text": "Primary stopped answering", "wrap": true},
                        {"type": "TextBlock", "text": format!("Why you got this: {REASON}"), "wrap": true},
                        {"type": "TextBlock", "wrap": true, "text":
                            "2 more incidents for you:\n\
                             - #43 [warning] Disk almost full: https://upkeep.example/incidents/43\n\
                             - #44 [error] Queue backlog: https://upkeep.example/incidents/44"},
                    ],
                    "actions": [
                        {"type": "Action.OpenUrl", "title": "Acknowledge", "url": "https://upkeep.example/a/ack42"},
                        {"type": "Action.OpenUrl", "title": "Resolve", "url": "https://upkeep.example/a/res42"},
                        {"type": "Action.OpenUrl", "title": "Open incident", "url": "https://upkeep.example/incidents/42"},
                    ],
                }
            }]
        })
    );
}

#[tokio::test]
async fn discord_gets_an_embed_coloured_by_severity_with_mentions_disabled() {
    let server = TestServer::start(Reply::status(204)).await;
    let config = ChannelConfig::Discord(DiscordConfig {
        webhook_url: server.url("/api/webhooks/123/token"),
    });
    let mut n = notification();
    n.title = "Database down @everyone".to_string();
    n.resolve_url = None;
    let outcome = send(&client(), &config, &n).await;
    assert_eq!(
        outcome,
        DeliveryOutcome::Delivered {
            detail: "Discord answered 204 No Content".to_string()
        }
    );
    let request = server.only_request();
    request.assert_json_post("/api/webhooks/123/token");
    assert_eq!(
        request.json(),
        json!({
            "content": "Triggered: Database down @everyone [critical] (checkout)",
            "allowed_mentions": {"parse": []},
            "embeds": [{
                "title": "Triggered: Database down @everyone",
                "description": "Primary stopped answering",
                "url": "https://upkeep.example/incidents/42",
                "color": 0xD7263D,
                "fields": [
                    {"name": "Service", "value": "checkout", "inline": true},
                    {"name": "Severity", "value": "critical", "inline": true},
                    {"name": "Status", "value": "triggered", "inline": true},
                    {"name": "Why you got this", "value": REASON, "inline": false},
                    {"name": "Actions", "inline": false, "value":
                        "[Acknowledge](https://upkeep.example/a/ack42) · \
                         [Open incident](https://upkeep.example/incidents/42)"},
                ],
            }],
        })
    );
}

#[tokio::test]
async fn discord_resolved_is_green_and_bundles_are_listed() {
    let server = TestServer::start(Reply::status(204)).await;
    let config = ChannelConfig::Discord(DiscordConfig {
        webhook_url: server.url("/api/webhooks/1/t"),
    });
    let mut n = bundled();
    n.status = IncidentStatus::Resolved;
    assert!(send(&client(), &config, &n).await.is_delivered());
    let body = server.only_request().json();
    let embed = &body["embeds"][0];
    assert_eq!(embed["color"], json!(0x2EB67D));
    assert_eq!(embed["title"], json!("Resolved: Database down"));
    assert_eq!(
        embed["fields"][5],
        json!({"name": "2 more incidents for you:", "inline": false, "value":
            "[\\#43 \\[warning\\] Disk almost full](https://upkeep.example/incidents/43)\n\
             [\\#44 \\[error\\] Queue backlog](https://upkeep.example/incidents/44)"})
    );
}

#[tokio::test]
async fn discord_rate_limit_delay_is_read_from_the_body_without_a_header() {
    let server = TestServer::start(Reply::status(429).json(
        json!({"message": "You are being rate limited.", "retry_after": 1.5, "global": false}),
    ))
    .await;
    let config = ChannelConfig::Discord(DiscordConfig {
        webhook_url: server.url("/api/webhooks/1/t"),
    });
    let outcome = send(&client(), &config, &notification()).await;
    let DeliveryOutcome::RetryLater { after, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(after, Some(Duration::from_millis(1500)));
}

#[test]
fn chat_webhook_urls_are_validated() {
    let slack = |url: &str| {
        validate(&ChannelConfig::Slack(SlackConfig {
            webhook_url: url.to_string(),
        }))
    };
    assert_eq!(slack("https://hooks.slack.com/services/T/B/x"), Ok(()));
    let error = slack("javascript:alert(1)").unwrap_err();
    assert_eq!(error.field, "webhook_url");
    assert_eq!(
        error.message,
        "must be an http or https URL, not javascript:"
    );
    assert_eq!(slack("").unwrap_err().message, "a URL is required");
    let error = validate(&ChannelConfig::Teams(TeamsConfig {
        webhook_url: "hooks".to_string(),
    }))
    .unwrap_err();
    assert_eq!(error.field, "webhook_url");
    let error = validate(&ChannelConfig::Discord(DiscordConfig {
        webhook_url: "ftp://discord.com/api/webhooks/1/t".to_string(),
    }))
    .unwrap_err();
    assert_eq!(error.field, "webhook_url");
}

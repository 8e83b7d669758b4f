//! The signed webhook: exact headers and body, the Standard Webhooks signature checked with an independent
//! HMAC, body templates, and the HTTP answers that decide the outcome (Retry-After, 5xx, 4xx, redirects,
//! silence, refusal).

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use upkeep_notify::{
    ChannelConfig, DeliveryOutcome, GuardedClient, OutboundPolicy, WebhookConfig,
    generate_webhook_secret, send, sign_webhook, validate,
};

use crate::support::{
    REASON, Reply, TestServer, bundled, client, closed_port, hang_up_server, local_policy,
    notification, silent_server,
};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn webhook(url: String) -> ChannelConfig {
    ChannelConfig::Webhook(WebhookConfig {
        url,
        secret: SECRET.to_string(),
        body_template: None,
    })
}

/// The signature computed here, from the spec, not with the crate's code.
fn expected_signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn sends_a_signed_standard_webhook_with_the_documented_body() {
    let server = TestServer::start(Reply::ok().body("thanks")).await;
    let n = bundled();
    let before = jiff::Timestamp::now().as_second();
    let outcome = send(
        &client(),
        &webhook(server.url("/hooks/upkeep?team=ops")),
        &n,
    )
    .await;
    assert_eq!(
        outcome,
        DeliveryOutcome::Delivered {
            detail: "the webhook answered 200 OK: thanks".to_string()
        }
    );

    let request = server.only_request();
    request.assert_json_post("/hooks/upkeep?team=ops");
    assert_eq!(request.header("webhook-id"), Some("notif-42-1-ana"));
    assert_eq!(request.header("idempotency-key"), Some("notif-42-1-ana"));
    let timestamp = request.header("webhook-timestamp").unwrap();
    let seconds: i64 = timestamp.parse().unwrap();
    assert!((before..=before + 5).contains(&seconds), "{seconds}");
    assert_eq!(
        request.header("webhook-signature").unwrap(),
        expected_signature(SECRET, "notif-42-1-ana", timestamp, &request.body)
    );

    let iso = jiff::Timestamp::from_second(seconds).unwrap().to_string();
    assert_eq!(
        request.json(),
        json!({
            "type": "incident.triggered",
            "timestamp": iso,
            "data": {
                "incident": {
                    "id": 42,
                    "title": "Database down",
                    "summary": "Primary stopped answering",
                    "severity": "critical",
                    "status": "triggered",
                    "url": "https://upkeep.example/incidents/42",
                    "acknowledge_url": "https://upkeep.example/a/ack42",
                    "resolve_url": "https://upkeep.example/a/res42",
                },
                "service": {"name": "checkout"},
                "reason": REASON,
                "idempotency_key": "notif-42-1-ana",
                "bundle": [
                    {"id": 43, "title": "Disk almost full", "severity": "warning",
                     "url": "https://upkeep.example/incidents/43"},
                    {"id": 44, "title": "Queue backlog", "severity": "error",
                     "url": "https://upkeep.example/incidents/44"},
                ],
            }
        })
    );
}

#[test]
fn signature_matches_the_standard_webhooks_test_vector() {
    let body = br#"{"test": 2432232314}"#;
    assert_eq!(
        sign_webhook(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap(),
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
}

#[test]
fn generated_secrets_are_fresh_whsec_keys() {
    let one = generate_webhook_secret();
    let two = generate_webhook_secret();
    assert_ne!(one, two);
    let key = STANDARD
        .decode(one.strip_prefix("whsec_").unwrap())
        .unwrap();
    assert_eq!(key.len(), 32);
    assert!(sign_webhook(&one, "id", 1, b"{}").is_ok());
}

#[tokio::test]
async fn body_template_is_filled_in_with_escaped_values_and_signed() {
    let server = TestServer::start(Reply::status(204)).await;
    let mut n = notification();
    n.title = "Database \"main\" down\nagain".to_string();
    n.resolve_url = None;
    let config = ChannelConfig::Webhook(WebhookConfig {
        url: server.url("/mattermost"),
        secret: SECRET.to_string(),
        body_template: Some(
            r#"{"text": "{{ incident.title }} ({{incident.severity}})", "id": {{incident.id}},
                "why": "{{reason}}", "ack": "{{incident.acknowledge_url}}", "resolve": "{{incident.resolve_url}}"}"#
                .to_string(),
        ),
    });
    assert_eq!(validate(&config), Ok(()));
    let outcome = send(&client(), &config, &n).await;
    assert!(outcome.is_delivered(), "{outcome:?}");

    let request = server.only_request();
    request.assert_json_post("/mattermost");
    assert_eq!(
        request.json(),
        json!({"text": "Database \"main\" down\nagain (critical)", "id": 42, "why": REASON,
               "ack": "https://upkeep.example/a/ack42", "resolve": ""})
    );
    let timestamp = request.header("webhook-timestamp").unwrap();
    assert_eq!(
        request.header("webhook-signature").unwrap(),
        expected_signature(SECRET, "notif-42-1-ana", timestamp, &request.body)
    );
}

#[test]
fn validation_names_the_field() {
    let with = |url: &str, secret: &str, template: Option<&str>| {
        validate(&ChannelConfig::Webhook(WebhookConfig {
            url: url.to_string(),
            secret: secret.to_string(),
            body_template: template.map(str::to_string),
        }))
    };
    let ok_url = "https://example.com/hook";
    assert_eq!(with(ok_url, SECRET, None), Ok(()));
    assert_eq!(
        with("ftp://example.com/x", SECRET, None).unwrap_err().field,
        "url"
    );
    assert_eq!(with("not a url", SECRET, None).unwrap_err().field, "url");
    let error = with(ok_url, "hunter2", None).unwrap_err();
    assert_eq!(error.field, "secret");
    assert!(error.message.contains("whsec_"), "{error}");
    assert_eq!(
        with(ok_url, "whsec_c2hvcnQ=", None).unwrap_err().field,
        "secret"
    );
    let error = with(ok_url, SECRET, Some(r#"{"t": "{{incident.titel}}"}"#)).unwrap_err();
    assert_eq!(error.field, "body_template");
    assert!(
        error
            .message
            .starts_with("unknown placeholder {{incident.titel}}"),
        "{error}"
    );
    let error = with(ok_url, SECRET, Some(r#"{"t": {{incident.title}}}"#)).unwrap_err();
    assert_eq!(error.field, "body_template");
    assert!(error.message.contains("not valid JSON"), "{error}");
}

#[tokio::test]
async fn retry_after_in_seconds_is_honoured() {
    let server = TestServer::start(Reply::status(429).header("retry-after", "7")).await;
    let outcome = send(&client(), &webhook(server.url("/")), &notification()).await;
    assert_eq!(
        outcome,
        DeliveryOutcome::RetryLater {
            after: Some(Duration::from_secs(7)),
            reason: "the webhook answered 429 Too Many Requests".to_string()
        }
    );
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(120);
    let date = jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_rfc9110_string(&at)
        .unwrap();
    assert!(date.ends_with(" GMT"), "{date}");
    let server = TestServer::start(Reply::status(503).header("retry-after", &date)).await;
    let outcome = send(&client(), &webhook(server.url("/")), &notification()).await;
    let DeliveryOutcome::RetryLater {
        after: Some(after),
        reason,
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert!(
        (Duration::from_secs(117)..=Duration::from_secs(120)).contains(&after),
        "{after:?}"
    );
    assert_eq!(reason, "the webhook answered 503 Service Unavailable");
}

#[tokio::test]
async fn server_errors_retry_and_client_errors_fail() {
    let server = TestServer::start(Reply::status(500).body("boom")).await;
    let outcome = send(&client(), &webhook(server.url("/")), &notification()).await;
    assert_eq!(
        outcome,
        DeliveryOutcome::RetryLater {
            after: None,
            reason: "the webhook answered 500 Internal Server Error: boom".to_string()
        }
    );

    let server = TestServer::start(Reply::status(400).body("missing field `text`")).await;
    let outcome = send(&client(), &webhook(server.url("/")), &notification()).await;
    assert_eq!(
        outcome,
        DeliveryOutcome::Failed {
            reason: "the webhook answered 400 Bad Request: missing field `text`".to_string()
        }
    );

    let server = TestServer::start(Reply::status(408)).await;
    let outcome = send(&client(), &webhook(server.url("/")), &notification()).await;
    assert!(
        matches!(outcome, DeliveryOutcome::RetryLater { .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let server =
        TestServer::start(Reply::status(301).header("location", "http://127.0.0.1:1/elsewhere"))
            .await;
    let outcome = send(&client(), &webhook(server.url("/old")), &notification()).await;
    assert_eq!(
        outcome,
        DeliveryOutcome::Failed {
            reason: "the webhook answered 301 Moved Permanently redirecting to \
                     http://127.0.0.1:1/elsewhere; redirects are not followed, so the URL needs updating"
                .to_string()
        }
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_server_that_never_answers_is_ambiguous_after_the_timeout() {
    let addr = silent_server().await;
    let client = GuardedClient::new(OutboundPolicy {
        request_timeout: Duration::from_millis(300),
        ..local_policy()
    })
    .unwrap();
    let started = Instant::now();
    let outcome = send(
        &client,
        &webhook(format!("http://{addr}/")),
        &notification(),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        outcome,
        DeliveryOutcome::Ambiguous {
            reason:
                "the webhook did not answer within 300ms after the request was sent; it may or may \
                     not have been delivered"
                    .to_string()
        }
    );
}

#[tokio::test]
async fn a_refused_connection_is_retried_later() {
    let addr = closed_port().await;
    let outcome = send(
        &client(),
        &webhook(format!("http://{addr}/")),
        &notification(),
    )
    .await;
    let DeliveryOutcome::RetryLater {
        after: None,
        reason,
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert!(
        reason.starts_with("the webhook: could not connect: ") && reason.contains("refused"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_server_that_hangs_up_after_reading_the_request_is_ambiguous() {
    let addr = hang_up_server().await;
    let outcome = send(
        &client(),
        &webhook(format!("http://{addr}/")),
        &notification(),
    )
    .await;
    let DeliveryOutcome::Ambiguous { reason } = &outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        reason.starts_with("the webhook: the request failed after it was sent: ")
            && reason.ends_with("; it may or may not have been delivered"),
        "{reason}"
    );
}

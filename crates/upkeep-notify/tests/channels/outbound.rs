//! The guarded client on its own: the private-address block (IP literals and names that resolve to
//! loopback), schemes, and the response-size cap.

use std::net::IpAddr;
use std::time::Duration;

use serde_json::json;
use upkeep_notify::outbound::{HeaderMap, Method};
use upkeep_notify::{
    BlockedAddress, ChannelConfig, DeliveryOutcome, GuardedClient, NtfyConfig, OutboundError,
    OutboundPolicy, WebhookConfig, send,
};

use crate::support::{Reply, TestServer, client, local_policy, notification};

fn guarded() -> GuardedClient {
    let policy = OutboundPolicy {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        ..OutboundPolicy::default()
    };
    assert!(policy.block_private_addresses, "blocking is the default");
    GuardedClient::new(policy).unwrap()
}

#[test]
fn defaults_are_sensible() {
    let policy = OutboundPolicy::default();
    assert!(policy.block_private_addresses);
    assert_eq!(policy.connect_timeout, Duration::from_secs(5));
    assert_eq!(policy.request_timeout, Duration::from_secs(15));
    assert_eq!(policy.max_response_bytes, 64 * 1024);
}

#[tokio::test]
async fn loopback_is_refused_as_a_literal_and_through_a_name() {
    let server = TestServer::start(Reply::ok()).await;
    let port = server.addr.port();
    let client = guarded();
    let loopback: IpAddr = "127.0.0.1".parse().unwrap();

    let error = client
        .execute(Method::POST, &server.url("/"), HeaderMap::new(), None)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        OutboundError::Blocked(BlockedAddress {
            host: None,
            ip: loopback,
            category: "loopback"
        })
    );
    assert_eq!(
        error.to_string(),
        "refused to connect to 127.0.0.1: 127.0.0.1 is a loopback address, and the outbound policy \
         blocks private addresses"
    );

    // A name that resolves to loopback (what DNS rebinding does) is refused on its resolved address.
    let error = client
        .execute(
            Method::GET,
            &format!("http://localhost:{port}/"),
            HeaderMap::new(),
            None,
        )
        .await
        .unwrap_err();
    let OutboundError::Blocked(blocked) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(blocked.host.as_deref(), Some("localhost"));
    assert_eq!(blocked.category, "loopback");
    assert!(blocked.ip.is_loopback());
    assert!(
        error
            .to_string()
            .starts_with("refused to connect to localhost ("),
        "{error}"
    );

    // Through a channel: a clear, permanent failure.
    let config = ChannelConfig::Webhook(WebhookConfig {
        url: format!("http://localhost:{port}/hook"),
        secret: upkeep_notify::generate_webhook_secret(),
        body_template: None,
    });
    let outcome = send(&client, &config, &notification()).await;
    let DeliveryOutcome::Failed { reason } = &outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        reason.starts_with("the webhook: refused to connect to localhost (")
            && reason.contains("is a loopback address"),
        "{reason}"
    );
    let config = ChannelConfig::Ntfy(NtfyConfig {
        server_url: format!("http://[::1]:{port}/"),
        topic: "pages".to_string(),
        access_token: None,
    });
    let outcome = send(&client, &config, &notification()).await;
    assert_eq!(
        outcome,
        DeliveryOutcome::Failed {
            reason: "ntfy: refused to connect to ::1: ::1 is a loopback address, and the outbound \
                     policy blocks private addresses"
                .to_string()
        }
    );

    assert!(server.requests().is_empty(), "nothing reached the server");
}

#[tokio::test]
async fn other_private_literals_are_refused_before_connecting() {
    let client = guarded();
    for url in [
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.1.1/",
        "http://[fd00::1]/",
        "http://0.0.0.0/",
        "http://0x7f000001/",
        "http://[::ffff:127.0.0.1]/",
    ] {
        let error = client.check_url(url).unwrap_err();
        assert!(
            matches!(error, OutboundError::Blocked(_)),
            "{url}: {error:?}"
        );
    }
    assert!(client.check_url("https://example.com/hook").is_ok());
    assert!(client.check_url("https://93.184.215.14/hook").is_ok());
}

#[test]
fn only_http_and_https() {
    let client = client();
    for url in [
        "ftp://example.com/",
        "file:///etc/passwd",
        "gopher://example.com/",
    ] {
        let error = client.check_url(url).unwrap_err();
        assert!(
            matches!(error, OutboundError::UnsupportedScheme(_)),
            "{url}: {error:?}"
        );
    }
    assert_eq!(
        client
            .check_url("ftp://example.com/")
            .unwrap_err()
            .to_string(),
        "only http and https URLs are allowed, not ftp:"
    );
    assert!(matches!(
        client.check_url("not a url"),
        Err(OutboundError::InvalidUrl(_))
    ));
}

#[tokio::test]
async fn response_bodies_are_capped() {
    let big = "x".repeat(1024 * 1024);
    let server = TestServer::start(Reply::ok().body(big)).await;
    let client = GuardedClient::new(OutboundPolicy {
        max_response_bytes: 1000,
        ..local_policy()
    })
    .unwrap();
    let response = client
        .execute(Method::GET, &server.url("/big"), HeaderMap::new(), None)
        .await
        .unwrap();
    assert_eq!(response.status.as_u16(), 200);
    assert_eq!(response.body.len(), 1000);
    assert!(response.truncated);

    let server = TestServer::start(Reply::ok().json(json!({"ok": true}))).await;
    let response = client
        .execute(Method::GET, &server.url("/small"), HeaderMap::new(), None)
        .await
        .unwrap();
    assert_eq!(response.body, br#"{"ok":true}"#);
    assert!(!response.truncated);
    assert_eq!(
        server.only_request().header("user-agent"),
        Some(upkeep_notify::USER_AGENT)
    );
}

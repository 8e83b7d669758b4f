//! Email through a real SMTP conversation with the test server: envelope, headers, body, the stable
//! Message-ID, a refused login, STARTTLS required but missing, the address block, silence and refusal.

use std::collections::BTreeMap;
use std::time::Duration;

use sha2::{Digest, Sha256};
use upkeep_notify::{
    ChannelConfig, DeliveryOutcome, EmailConfig, OutboundPolicy, SmtpSecurity, message_id, send,
    validate,
};

use crate::smtp_server::{Auth, SmtpServer};
use crate::support::{REASON, bundled, closed_port, local_policy, notification, silent_server};

fn email(host: &str, port: u16) -> EmailConfig {
    EmailConfig {
        host: host.to_string(),
        port,
        security: SmtpSecurity::None,
        username: Some("upkeep".to_string()),
        password: Some("s3cret".to_string()),
        from: "upkeep <pager@upkeep.example>".to_string(),
        to: vec![
            "ana@example.com".to_string(),
            "Bo <bo@example.com>".to_string(),
        ],
    }
}

/// Headers (unfolded, by lower-case name) and body of a raw message.
fn parse(data: &str) -> (BTreeMap<String, String>, String) {
    let (head, body) = data.split_once("\r\n\r\n").unwrap();
    let mut headers = BTreeMap::new();
    let mut last = String::new();
    for line in head.split("\r\n") {
        if line.starts_with(' ') || line.starts_with('\t') {
            let value: &mut String = headers.get_mut(&last).unwrap();
            value.push(' ');
            value.push_str(line.trim());
        } else {
            let (name, value) = line.split_once(':').unwrap();
            last = name.to_ascii_lowercase();
            headers.insert(last.clone(), value.trim().to_string());
        }
    }
    (headers, body.to_string())
}

#[tokio::test]
async fn email_goes_through_a_real_smtp_conversation() {
    let server = SmtpServer::start(Auth::Accept).await;
    let client = crate::support::client();
    let config = ChannelConfig::Email(email("127.0.0.1", server.port));
    let outcome = send(&client, &config, &bundled()).await;
    assert_eq!(
        outcome,
        DeliveryOutcome::Delivered {
            detail: "SMTP server accepted the message: 250 2.0.0 Ok: queued as TEST1".to_string()
        }
    );

    let session = server.only_session();
    assert_eq!(session.ehlo.len(), 1);
    assert_eq!(
        session.login,
        Some(("upkeep".to_string(), "s3cret".to_string()))
    );
    assert_eq!(session.mail_from.as_deref(), Some("pager@upkeep.example"));
    assert_eq!(session.rcpt_to, ["ana@example.com", "bo@example.com"]);
    assert!(session.quit);

    let (headers, body) = parse(session.data.as_deref().unwrap());
    assert_eq!(
        headers["subject"],
        "[Triggered] [critical] Database down (checkout)"
    );
    assert!(
        headers["from"].contains("<pager@upkeep.example>"),
        "{headers:?}"
    );
    assert!(
        headers["to"].contains("ana@example.com") && headers["to"].contains("<bo@example.com>"),
        "{headers:?}"
    );
    let digest = Sha256::digest(b"notif-42-1-ana");
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    let expected_id = format!("<{hex}.upkeep@upkeep.example>");
    assert_eq!(headers["message-id"], expected_id);
    assert_eq!(
        message_id("notif-42-1-ana", "upkeep <pager@upkeep.example>"),
        expected_id
    );
    assert_eq!(headers["auto-submitted"], "auto-generated");
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(headers["content-transfer-encoding"], "7bit");
    assert!(headers.contains_key("date"), "{headers:?}");
    assert_eq!(
        body,
        format!(
            "Triggered: Database down [critical]\r\n\
             Service: checkout\r\n\
             \r\n\
             Primary stopped answering\r\n\
             \r\n\
             Why you got this: {REASON}\r\n\
             \r\n\
             Acknowledge: https://upkeep.example/a/ack42\r\n\
             Resolve: https://upkeep.example/a/res42\r\n\
             Incident: https://upkeep.example/incidents/42\r\n\
             \r\n\
             2 more incidents for you:\r\n\
             - #43 [warning] Disk almost full: https://upkeep.example/incidents/43\r\n\
             - #44 [error] Queue backlog: https://upkeep.example/incidents/44\r\n"
        )
    );

    // A repeat of the same notification is the same message.
    assert!(send(&client, &config, &bundled()).await.is_delivered());
    let sessions = server.sessions();
    let (again, _) = parse(sessions[1].data.as_deref().unwrap());
    assert_eq!(again["message-id"], expected_id);
}

#[tokio::test]
async fn a_refused_login_fails_with_the_servers_words() {
    let server = SmtpServer::start(Auth::Refuse).await;
    let config = ChannelConfig::Email(email("127.0.0.1", server.port));
    let outcome = send(&crate::support::client(), &config, &notification()).await;
    assert_eq!(
        outcome,
        DeliveryOutcome::Failed {
            reason: "SMTP server refused the login: 535 5.7.8 Authentication credentials invalid"
                .to_string()
        }
    );
    let session = server.only_session();
    assert_eq!(
        session.login,
        Some(("upkeep".to_string(), "s3cret".to_string()))
    );
    assert_eq!(session.mail_from, None);
    assert_eq!(session.data, None);
}

#[tokio::test]
async fn starttls_is_required_when_configured() {
    let server = SmtpServer::start(Auth::Accept).await;
    let mut config = email("127.0.0.1", server.port);
    config.security = SmtpSecurity::Starttls;
    let outcome = send(
        &crate::support::client(),
        &ChannelConfig::Email(config),
        &notification(),
    )
    .await;
    assert_eq!(
        outcome,
        DeliveryOutcome::Failed {
            reason: "the SMTP server does not offer STARTTLS, which security = starttls requires"
                .to_string()
        }
    );
    assert_eq!(
        server.only_session().login,
        None,
        "no password in clear text"
    );
}

#[tokio::test]
async fn smtp_servers_on_private_addresses_are_blocked_by_default() {
    let server = SmtpServer::start(Auth::Accept).await;
    let client = upkeep_notify::GuardedClient::new(OutboundPolicy::default()).unwrap();
    let outcome = send(
        &client,
        &ChannelConfig::Email(email("127.0.0.1", server.port)),
        &notification(),
    )
    .await;
    assert_eq!(
        outcome,
        DeliveryOutcome::Failed {
            reason:
                "SMTP server: refused to connect to 127.0.0.1: 127.0.0.1 is a loopback address, \
                     and the outbound policy blocks private addresses"
                    .to_string()
        }
    );
    let outcome = send(
        &client,
        &ChannelConfig::Email(email("localhost", server.port)),
        &notification(),
    )
    .await;
    let DeliveryOutcome::Failed { reason } = &outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        reason.starts_with("SMTP server: refused to connect to localhost ("),
        "{reason}"
    );
    assert!(server.sessions().is_empty());
}

#[tokio::test]
async fn silent_or_absent_smtp_servers_are_retried_later() {
    let addr = silent_server().await;
    let client = upkeep_notify::GuardedClient::new(OutboundPolicy {
        request_timeout: Duration::from_millis(300),
        ..local_policy()
    })
    .unwrap();
    let outcome = send(
        &client,
        &ChannelConfig::Email(email("127.0.0.1", addr.port())),
        &notification(),
    )
    .await;
    assert_eq!(
        outcome,
        DeliveryOutcome::RetryLater {
            after: None,
            reason: "the SMTP conversation timed out after 300ms, before the message was sent"
                .to_string()
        }
    );

    let addr = closed_port().await;
    let outcome = send(
        &client,
        &ChannelConfig::Email(email("127.0.0.1", addr.port())),
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
        reason.starts_with(&format!("could not connect to the SMTP server {addr}: ")),
        "{reason}"
    );
}

#[test]
fn email_settings_are_validated() {
    let check = |change: &dyn Fn(&mut EmailConfig)| {
        let mut config = email("smtp.example.com", 587);
        change(&mut config);
        validate(&ChannelConfig::Email(config)).map_err(|e| e.field)
    };
    assert_eq!(check(&|_| {}), Ok(()));
    assert_eq!(
        check(&|c| c.to.push("not an address".to_string())),
        Err("to[2]".to_string())
    );
    assert_eq!(check(&|c| c.to.clear()), Err("to".to_string()));
    assert_eq!(
        check(&|c| c.from = "pager@".to_string()),
        Err("from".to_string())
    );
    assert_eq!(
        check(&|c| c.host = " ".to_string()),
        Err("host".to_string())
    );
    assert_eq!(
        check(&|c| c.host = "smtp example".to_string()),
        Err("host".to_string())
    );
    assert_eq!(check(&|c| c.port = 0), Err("port".to_string()));
    assert_eq!(check(&|c| c.username = None), Err("username".to_string()));
    let error = validate(&ChannelConfig::Email(EmailConfig {
        to: vec!["ana@example.com".to_string(), "bo@".to_string()],
        ..email("smtp.example.com", 587)
    }))
    .unwrap_err();
    assert_eq!(error.field, "to[1]");
    assert!(
        error.message.starts_with("not a valid email address"),
        "{error}"
    );
}

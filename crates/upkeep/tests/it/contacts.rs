//! Contact methods and notification rules through the API, against local receivers: a webhook server on
//! 127.0.0.1 that checks the `webhook-signature` header, and an SMTP server that refuses the login. Settings
//! are refused at save naming the field, sealed at rest, never shown back, and only their owner may touch
//! them.

mod cli;
mod harness;
mod page;
mod smtp;
mod storage;

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use upkeep_core::contacts;
use upkeep_core::notify::{DeliveryOutcome, generate_webhook_secret};
use upkeep_core::secrets::{SecretBox, Secrets};
use upkeep_core::storage::Role;
use upkeep_core::{CoreError, audit};

use crate::support::databases::{Backend, TestDb, backend_tests};
use crate::support::server::TestServer;
use harness::{Receiver, api, create, sealed_values, start, test_method, webhook};

backend_tests!(
    a_webhook_test_is_signed_and_marks_the_method_verified,
    bad_settings_are_refused_when_saved_naming_the_field,
    a_receiver_answering_400_is_reported_as_failed,
    an_smtp_server_refusing_the_login_is_reported_with_its_535,
    settings_are_sealed_at_rest_and_never_shown,
    without_a_key_file_sqlite_generates_one_and_postgres_refuses,
    another_person_cannot_touch_my_contact_methods,
    a_wrong_key_is_an_error_not_a_panic,
    notification_rules_through_the_api,
);

async fn a_webhook_test_is_signed_and_marks_the_method_verified(db: TestDb) {
    let setup = start(db).await;
    let server = &setup.server;
    let (_, ana) = server.caller("ana@example.com", Role::Responder).await;
    let secret = generate_webhook_secret();
    let receiver = Receiver::start(&secret, StatusCode::NO_CONTENT, "").await;

    let method = create(server, &ana, webhook(&receiver.url, &secret)).await;
    assert_eq!(method["kind"], "webhook");
    assert_eq!(method["verified"], false);
    let port = receiver
        .url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    assert_eq!(method["summary"], format!("127.0.0.1:{port}/…"));

    let outcome = test_method(server, &ana, &method["id"]).await;
    assert_eq!(outcome["outcome"], "delivered", "{outcome}");
    assert_eq!(outcome["verified"], true);
    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].signature_ok, "the receiver checked the signature");
    assert_eq!(seen[0].body["type"], "incident.triggered");
    let reason = seen[0].body["data"]["reason"].as_str().unwrap();
    assert!(reason.contains("test"), "every message says why: {reason}");

    let (_, list) = api(
        server,
        &ana,
        Method::GET,
        "/api/v1/me/contact-methods",
        None,
    )
    .await;
    assert_eq!(list["items"][0]["verified"], true);

    // New settings must be proven again.
    let path = format!("/api/v1/me/contact-methods/{}", method["id"]);
    let change = json!({"label": "Bridge 2", "config": {"url": format!("{}?v=2", receiver.url)}});
    let (status, changed) = api(server, &ana, Method::PATCH, &path, Some(change)).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["contact_method"]["verified"], false);
    assert_eq!(changed["contact_method"]["label"], "Bridge 2");
    let outcome = test_method(server, &ana, &method["id"]).await;
    assert_eq!(
        outcome["outcome"], "delivered",
        "the secret was kept: {outcome}"
    );
    setup.stop().await;
}

async fn bad_settings_are_refused_when_saved_naming_the_field(db: TestDb) {
    let setup = start(db).await;
    let server = &setup.server;
    let (_, ana) = server.caller("ana@example.com", Role::Responder).await;
    let secret = generate_webhook_secret();
    let path = "/api/v1/me/contact-methods";
    for (body, field) in [
        (webhook("not a url", &secret), "config.url"),
        (webhook("ftp://example.com/x", &secret), "config.url"),
        (webhook("https://example.com/x", "plain"), "config.secret"),
        (json!({"kind": "slack", "config": {}}), "config.webhook_url"),
        (json!({"kind": "pager", "config": {}}), "kind"),
        (
            json!({"kind": "email", "config": {"host": "smtp.example.com", "port": 587, "security": "starttls",
                   "from": "pager@example.com", "to": ["ana@example.com", "not an address"]}}),
            "config.to[1]",
        ),
    ] {
        let (status, error) = api(server, &ana, Method::POST, path, Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert_eq!(error["error"]["field"], field, "{error}");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{error}"
        );
    }
    let (_, list) = api(server, &ana, Method::GET, path, None).await;
    assert_eq!(list["items"], json!([]), "nothing was stored");

    // A webhook without a secret gets one, shown this once.
    let body = json!({"kind": "webhook", "config": {"url": "https://example.com/hook"}});
    let (status, created) = api(server, &ana, Method::POST, path, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let generated = created["generated_webhook_secret"].as_str().unwrap();
    assert!(generated.starts_with("whsec_"));
    assert_eq!(created["contact_method"]["label"], "webhook");
    let (_, list) = api(server, &ana, Method::GET, path, None).await;
    assert!(!list.to_string().contains(generated));
    setup.stop().await;
}

async fn a_receiver_answering_400_is_reported_as_failed(db: TestDb) {
    let setup = start(db).await;
    let server = &setup.server;
    let (_, ana) = server.caller("ana@example.com", Role::Responder).await;
    let secret = generate_webhook_secret();
    let receiver = Receiver::start(&secret, StatusCode::BAD_REQUEST, "unknown hook id").await;
    let method = create(server, &ana, webhook(&receiver.url, &secret)).await;
    let outcome = test_method(server, &ana, &method["id"]).await;
    assert_eq!(outcome["outcome"], "failed", "{outcome}");
    let reason = outcome["reason"].as_str().unwrap();
    assert!(
        reason.contains("400") && reason.contains("unknown hook id"),
        "{reason}"
    );
    assert_eq!(outcome["verified"], false);
    assert_eq!(receiver.seen().len(), 1);
    setup.stop().await;
}

async fn an_smtp_server_refusing_the_login_is_reported_with_its_535(db: TestDb) {
    let setup = start(db).await;
    let server = &setup.server;
    let (_, ana) = server.caller("ana@example.com", Role::Responder).await;
    let smtp = smtp::RefusingSmtp::start().await;
    let body = json!({"label": "Mail", "kind": "email", "config": {
        "host": "127.0.0.1", "port": smtp.port, "security": "none", "username": "pager",
        "password": "wrong-password", "from": "upkeep <pager@example.com>", "to": ["ana@example.com"]}});
    let method = create(server, &ana, body).await;
    assert_eq!(
        method["summary"],
        format!("ana@example.com via 127.0.0.1:{}", smtp.port)
    );
    let outcome = test_method(server, &ana, &method["id"]).await;
    assert_eq!(
        outcome,
        json!({"outcome": "failed", "detail": null, "reason":
            "SMTP server refused the login: 535 5.7.8 Authentication credentials invalid",
            "retry_after_seconds": null, "verified": false})
    );
    assert_eq!(smtp.logins(), 1);
    setup.stop().await;
}

async fn settings_are_sealed_at_rest_and_never_shown(db: TestDb) {
    let setup = start(db).await;
    let (server, backend, url) = (&setup.server, setup.backend, setup.url.as_str());
    let (_, ana) = server.caller("ana@example.com", Role::Responder).await;
    let (_, admin) = server.caller("admin@example.com", Role::Admin).await;
    let secret = generate_webhook_secret();
    let hook_url = "https://hooks.example.com/services/T0/B0/marker-8d1f";
    let method = create(server, &ana, webhook(hook_url, &secret)).await;
    assert_eq!(method["summary"], "hooks.example.com/…");

    let sealed = sealed_values(backend, url).await;
    assert_eq!(sealed.len(), 1);
    assert!(sealed[0].starts_with("v1:"), "{}", sealed[0]);
    for clear in ["marker-8d1f", "hooks.example.com", &secret[6..], "webhook"] {
        assert!(
            !sealed[0].contains(clear),
            "{clear} is in clear: {}",
            sealed[0]
        );
    }
    // Neither the API views nor the audit log show the settings or their sealed form.
    let (_, ana_view) = api(
        server,
        &ana,
        Method::GET,
        "/api/v1/me/contact-methods",
        None,
    )
    .await;
    let (_, audit) = api(server, &admin, Method::GET, "/api/v1/audit", None).await;
    let ana_id = method["user_id"].as_i64().unwrap();
    let admin_path = format!("/api/v1/users/{ana_id}/contact-methods");
    let (_, admin_view) = api(server, &admin, Method::GET, &admin_path, None).await;
    assert_eq!(admin_view["items"][0]["summary"], "hooks.example.com/…");
    assert!(
        audit.to_string().contains("contact_method.create"),
        "{audit}"
    );
    for shown in [&ana_view, &audit, &admin_view] {
        let text = shown.to_string();
        for hidden in [
            "marker-8d1f",
            &secret[6..],
            &sealed[0][3..20],
            "config_sealed",
        ] {
            assert!(!text.contains(hidden), "{hidden} shown in {text}");
        }
    }
    setup.stop().await;
}

async fn without_a_key_file_sqlite_generates_one_and_postgres_refuses(db: TestDb) {
    let (backend, url) = (db.backend, db.url.clone());
    let server = TestServer::start(db).await;
    let (_, ana) = server.caller("ana@example.com", Role::Responder).await;
    let body = webhook("https://example.com/hook", &generate_webhook_secret());
    let path = "/api/v1/me/contact-methods";
    let (status, answer) = api(&server, &ana, Method::POST, path, Some(body)).await;
    match backend {
        Backend::Postgres => {
            assert_eq!(status, StatusCode::CONFLICT, "{answer}");
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(
                message.contains("UPKEEP_SECRETS_KEY_FILE") && message.contains("key_file"),
                "{message}"
            );
        }
        Backend::Sqlite => {
            assert_eq!(status, StatusCode::CREATED, "{answer}");
            let db_file = url.strip_prefix("sqlite://").unwrap();
            let key = std::path::Path::new(db_file).with_file_name("secret.key");
            let metadata = std::fs::metadata(&key).expect("secret.key next to the database");
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
            assert!(SecretBox::load(&key).is_ok());
        }
    }
    server.stop().await;
}

async fn another_person_cannot_touch_my_contact_methods(db: TestDb) {
    let setup = start(db).await;
    let server = &setup.server;
    let (ana_user, ana) = server.caller("ana@example.com", Role::Responder).await;
    let (_, bo) = server.caller("bo@example.com", Role::Responder).await;
    let (_, viewer) = server.caller("vi@example.com", Role::Viewer).await;
    let (_, admin) = server.caller("admin@example.com", Role::Admin).await;
    let method = create(
        server,
        &ana,
        webhook("https://example.com/h", &generate_webhook_secret()),
    )
    .await;
    let mine = format!("/api/v1/me/contact-methods/{}", method["id"]);

    for (verb, path, body) in [
        (
            Method::PATCH,
            mine.clone(),
            Some(json!({"label": "mine now"})),
        ),
        (Method::DELETE, mine.clone(), None),
        (Method::POST, format!("{mine}/test"), None),
    ] {
        let (status, answer) = api(server, &bo, verb.clone(), &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{verb} {path}: {answer}");
    }
    let rule = json!({"contact_method_id": method["id"], "delay": "0"});
    let (status, answer) = api(
        server,
        &bo,
        Method::POST,
        "/api/v1/me/notification-rules",
        Some(rule),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["field"], "contact_method_id");
    let (_, bos) = api(server, &bo, Method::GET, "/api/v1/me/contact-methods", None).await;
    assert_eq!(bos["items"], json!([]));

    // Reading someone else's is for admins.
    let theirs = format!("/api/v1/users/{}/contact-methods", ana_user.id);
    let (status, _) = api(server, &bo, Method::GET, &theirs, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, listed) = api(server, &admin, Method::GET, &theirs, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["items"][0]["id"], method["id"]);
    let (status, _) = api(
        server,
        &admin,
        Method::GET,
        "/api/v1/users/999999/contact-methods",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A viewer reads their own with any token; changing needs write scope or the browser session.
    let (status, _) = api(
        server,
        &viewer,
        Method::GET,
        "/api/v1/me/contact-methods",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let body = webhook("https://example.com/v", &generate_webhook_secret());
    let (status, answer) = api(
        server,
        &viewer,
        Method::POST,
        "/api/v1/me/contact-methods",
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");

    let (_, still) = api(
        server,
        &ana,
        Method::GET,
        "/api/v1/me/contact-methods",
        None,
    )
    .await;
    assert_eq!(still["items"][0]["label"], "Bridge");
    setup.stop().await;
}

async fn a_wrong_key_is_an_error_not_a_panic(db: TestDb) {
    let setup = start(db).await;
    let server = &setup.server;
    let (ana_user, ana) = server.caller("ana@example.com", Role::Responder).await;
    let method = create(
        server,
        &ana,
        webhook("https://example.com/h", &generate_webhook_secret()),
    )
    .await;
    let id = method["id"].as_i64().unwrap();
    let stored = server
        .core()
        .storage
        .contact_method_by_id(id)
        .await
        .unwrap()
        .unwrap();
    assert!(contacts::channel_config(server.core(), &stored).is_ok());

    // The same database read with another key.
    let mut other = server.core().clone();
    other.secrets = Arc::new(Secrets::with_box(SecretBox::generate().unwrap().0));
    let err = contacts::channel_config(&other, &stored).unwrap_err();
    assert!(
        matches!(&err, CoreError::Internal(message) if message.contains("cannot be opened with the current secrets key")),
        "{err:?}"
    );
    assert!(contacts::stored_summary(&other, &stored).contains("unreadable"));
    let ctx = audit::context(&other, audit::cli_actor(), None);
    let outcome = contacts::send_test(&other, &ctx, None, ana_user.id, id)
        .await
        .unwrap();
    assert!(
        matches!(&outcome, DeliveryOutcome::Failed { reason } if reason.contains("secrets key")),
        "{outcome:?}"
    );
    setup.stop().await;
}

async fn notification_rules_through_the_api(db: TestDb) {
    let setup = start(db).await;
    let server = &setup.server;
    let (ana_user, ana) = server.caller("ana@example.com", Role::Responder).await;
    let first = create(
        server,
        &ana,
        webhook("https://example.com/1", &generate_webhook_secret()),
    )
    .await;
    let second = create(
        server,
        &ana,
        webhook("https://example.com/2", &generate_webhook_secret()),
    )
    .await;
    let rules = "/api/v1/me/notification-rules";
    let add = |id: &Value, delay: &str| json!({"contact_method_id": id, "delay": delay});

    let (status, later) = api(
        server,
        &ana,
        Method::POST,
        rules,
        Some(add(&second["id"], "5m")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{later}");
    assert_eq!(
        (later["delay"].as_str(), later["delay_seconds"].as_u64()),
        (Some("5m"), Some(300))
    );
    let (status, now) = api(
        server,
        &ana,
        Method::POST,
        rules,
        Some(add(&first["id"], "0")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{now}");
    let (status, twice) = api(
        server,
        &ana,
        Method::POST,
        rules,
        Some(add(&first["id"], "0s")),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{twice}");
    let (status, long) = api(
        server,
        &ana,
        Method::POST,
        rules,
        Some(add(&first["id"], "25h")),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{long}");
    assert_eq!(long["error"]["field"], "delay");

    let (_, listed) = api(server, &ana, Method::GET, rules, None).await;
    let delays: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["delay"].as_str().unwrap())
        .collect();
    assert_eq!(delays, vec!["0s", "5m"]);

    // What the escalation engine reads and picks.
    let storage = &server.core().storage;
    let methods = storage
        .contact_methods_for_users(&[ana_user.id])
        .await
        .unwrap();
    let stored_rules = storage
        .notification_rules_for_users(&[ana_user.id])
        .await
        .unwrap();
    let (a, b) = (
        first["id"].as_i64().unwrap(),
        second["id"].as_i64().unwrap(),
    );
    assert_eq!(
        contacts::rules_or_default(ana_user.id, &methods, &stored_rules),
        vec![
            (a, std::time::Duration::ZERO),
            (b, std::time::Duration::from_secs(300))
        ]
    );

    // Removing a method removes its rules; removing a rule twice is not found.
    let path = format!("/api/v1/me/contact-methods/{b}");
    let (status, _) = api(server, &ana, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, listed) = api(server, &ana, Method::GET, rules, None).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let path = format!("{rules}/{}", now["id"]);
    let (status, _) = api(server, &ana, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api(server, &ana, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    setup.stop().await;
}

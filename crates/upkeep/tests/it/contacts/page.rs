//! The "Contact methods" section of the Account page, driven like a browser without JavaScript, by a
//! viewer (the lowest role manages their own contact settings).

use reqwest::StatusCode;
use upkeep_core::notify::generate_webhook_secret;
use upkeep_core::storage::Role;

use super::harness::{Receiver, start};
use crate::support::databases::{TestDb, backend_tests};
use crate::support::pages::Browser;

backend_tests!(a_viewer_manages_their_contact_methods_on_the_account_page);

const WARNING: &str = "id=\"no-verified-contact\"";

async fn a_viewer_manages_their_contact_methods_on_the_account_page(db: TestDb) {
    let setup = start(db).await;
    let server = &setup.server;
    let (viewer, password) = server.user("vi@example.com", Role::Viewer).await;
    let mut browser = Browser::signed_in(server, &viewer.email, &password).await;

    let page = browser.get("/account").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Contact methods"), "{}", page.body);
    assert!(
        page.body.contains(WARNING),
        "nobody can page a person without a verified method"
    );

    // Refused settings stay on the form, naming the field, and never echo secrets.
    let secret = generate_webhook_secret();
    let bad = browser
        .submit(
            "/account",
            "/account/contact-methods",
            &[
                ("kind", "webhook"),
                ("label", "Bridge"),
                ("url", "nope"),
                ("secret", &secret),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(bad.body.contains("Config.url"), "{}", bad.body);
    assert!(!bad.body.contains(&secret));

    // Without the form's CSRF token nothing happens.
    let forged = browser
        .post(
            "/account/contact-methods",
            &[
                ("kind", "webhook"),
                ("url", "https://example.com/h"),
                ("secret", &secret),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let receiver = Receiver::start(&secret, StatusCode::OK, "ok").await;
    let added = browser
        .submit(
            "/account",
            "/account/contact-methods",
            &[
                ("kind", "webhook"),
                ("label", "Bridge"),
                ("url", &receiver.url),
                ("secret", &secret),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let methods = server
        .core()
        .storage
        .contact_methods_for_user(viewer.id)
        .await
        .unwrap();
    assert_eq!(methods.len(), 1);
    let id = methods[0].id;
    let page = browser.get("/account").await;
    assert!(page.body.contains("Bridge") && page.body.contains("not verified"));
    assert!(!page.body.contains(&receiver.url) && !page.body.contains(&secret));
    assert!(page.body.contains(WARNING));

    let tested = browser
        .submit(
            "/account",
            &format!("/account/contact-methods/{id}/test"),
            &[],
        )
        .await;
    assert_eq!(tested.status, StatusCode::OK, "{}", tested.body);
    assert!(
        tested.body.contains("id=\"test-outcome\""),
        "{}",
        tested.body
    );
    assert!(
        tested.body.contains("<strong>delivered</strong>"),
        "{}",
        tested.body
    );
    assert!(!tested.body.contains(WARNING), "the method is verified now");
    assert_eq!(receiver.seen().len(), 1);
    assert!(receiver.seen()[0].signature_ok);

    let rule = browser
        .submit(
            "/account",
            "/account/notification-rules",
            &[("contact_method_id", &id.to_string()), ("delay", "5m")],
        )
        .await;
    assert_eq!(rule.status, StatusCode::SEE_OTHER, "{}", rule.body);
    let page = browser.get("/account").await;
    assert!(page.body.contains("<td>5m</td>"), "{}", page.body);
    let too_long = browser
        .submit(
            "/account",
            "/account/notification-rules",
            &[("contact_method_id", &id.to_string()), ("delay", "2d")],
        )
        .await;
    assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(too_long.body.contains("Delay:"), "{}", too_long.body);

    let deleted = browser
        .submit(
            "/account",
            &format!("/account/contact-methods/{id}/delete"),
            &[],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    let page = browser.get("/account").await;
    assert!(page.body.contains("No contact methods yet."));
    assert!(page.body.contains("No rules"), "its rule went with it");
    assert!(page.body.contains(WARNING));
    setup.stop().await;
}

//! Storage conformance for contact methods and notification rules: the same stories on every backend,
//! against the storage traits only.

use jiff::Timestamp;
use upkeep_storage::{
    Actor, ActorKind, AuditContext, AuditFilter, ContactMethodChanges, NewContactMethod,
    NewNotificationRule, NewUser, PageRequest, Role, StorageError, User,
};

use crate::support::databases::{TestDb, backend_tests};

backend_tests!(contact_methods_story, notification_rules_story);

fn cli(seconds: i64) -> AuditContext {
    AuditContext {
        actor: Actor {
            kind: ActorKind::Cli,
            user_id: None,
            label: "cli (root)".into(),
        },
        origin: Some("root".into()),
        at: Timestamp::from_second(1_800_000_000 + seconds).expect("time"),
    }
}

async fn person(db: &TestDb, email: &str) -> User {
    db.storage
        .create_user(
            &cli(0),
            NewUser {
                email: email.into(),
                name: email.into(),
                role: Role::Viewer,
                password_hash: "x".into(),
            },
        )
        .await
        .expect("create user")
}

fn method(user: &User, label: &str, sealed: &str) -> NewContactMethod {
    NewContactMethod {
        user_id: user.id,
        label: label.into(),
        kind: "webhook".into(),
        config_sealed: sealed.into(),
    }
}

async fn contact_methods_story(db: TestDb) {
    let store = &db.storage;
    let ana = person(&db, "ana@example.com").await;
    let bo = person(&db, "bo@example.com").await;

    let first = store
        .create_contact_method(&cli(10), method(&ana, "Hook", "v1:sealed-ana-1"))
        .await
        .expect("create");
    assert_eq!(
        (first.user_id, first.label.as_str(), first.kind.as_str()),
        (ana.id, "Hook", "webhook")
    );
    assert_eq!(first.config_sealed, "v1:sealed-ana-1");
    assert!(!first.verified);
    assert_eq!(first.created_at, cli(10).at);
    let second = store
        .create_contact_method(&cli(11), method(&ana, "Mail", "v1:sealed-ana-2"))
        .await
        .expect("create");
    let bos = store
        .create_contact_method(&cli(12), method(&bo, "Bo", "v1:sealed-bo"))
        .await
        .expect("create");
    let unknown_user = store
        .create_contact_method(
            &cli(13),
            NewContactMethod {
                user_id: 999_999,
                ..method(&ana, "x", "v1:x")
            },
        )
        .await;
    assert!(
        matches!(unknown_user, Err(StorageError::Conflict { .. })),
        "{unknown_user:?}"
    );

    // Reads: by id, per person, and for several people at once (by person, oldest first).
    assert_eq!(
        store.contact_method_by_id(first.id).await.expect("read"),
        Some(first.clone())
    );
    assert_eq!(
        store.contact_method_by_id(999_999).await.expect("read"),
        None
    );
    let anas = store.contact_methods_for_user(ana.id).await.expect("list");
    assert_eq!(
        anas.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![first.id, second.id]
    );
    let both = store
        .contact_methods_for_users(&[bo.id, ana.id, 424_242])
        .await
        .expect("list");
    let mut expected = vec![(ana.id, first.id), (ana.id, second.id), (bo.id, bos.id)];
    expected.sort();
    assert_eq!(
        both.iter().map(|m| (m.user_id, m.id)).collect::<Vec<_>>(),
        expected
    );
    assert!(
        store
            .contact_methods_for_users(&[])
            .await
            .expect("empty")
            .is_empty()
    );

    // Changes keep what is not named; verification has its own call.
    let changed = store
        .update_contact_method(
            &cli(20),
            first.id,
            ContactMethodChanges {
                label: Some("Renamed".into()),
                ..ContactMethodChanges::default()
            },
        )
        .await
        .expect("update");
    assert_eq!(
        (changed.label.as_str(), changed.config_sealed.as_str()),
        ("Renamed", "v1:sealed-ana-1")
    );
    assert_eq!(changed.updated_at, cli(20).at);
    let verified = store
        .set_contact_verified(&cli(21), first.id, true)
        .await
        .expect("verify");
    assert!(verified.verified);
    let resealed = store
        .update_contact_method(
            &cli(22),
            first.id,
            ContactMethodChanges {
                kind: Some("slack".into()),
                config_sealed: Some("v1:new".into()),
                verified: Some(false),
                ..ContactMethodChanges::default()
            },
        )
        .await
        .expect("update");
    assert_eq!(
        (
            resealed.kind.as_str(),
            resealed.config_sealed.as_str(),
            resealed.verified
        ),
        ("slack", "v1:new", false)
    );
    assert!(matches!(
        store
            .update_contact_method(&cli(23), 999_999, ContactMethodChanges::default())
            .await,
        Err(StorageError::NotFound { .. })
    ));

    store
        .delete_contact_method(&cli(30), second.id)
        .await
        .expect("delete");
    assert_eq!(
        store.contact_method_by_id(second.id).await.expect("read"),
        None
    );
    assert!(matches!(
        store.delete_contact_method(&cli(31), second.id).await,
        Err(StorageError::NotFound { .. })
    ));

    // Every change is audited, and no snapshot holds the sealed settings.
    let audit = store
        .list_audit(
            &AuditFilter {
                target_kind: Some("contact_method".into()),
                ..AuditFilter::default()
            },
            PageRequest::new(100, None),
        )
        .await
        .expect("audit");
    let mut actions: Vec<&str> = audit.items.iter().map(|r| r.action.as_str()).collect();
    actions.sort_unstable();
    assert_eq!(
        actions,
        vec![
            "contact_method.create",
            "contact_method.create",
            "contact_method.create",
            "contact_method.delete",
            "contact_method.update",
            "contact_method.update",
            "contact_method.verify",
        ]
    );
    for record in &audit.items {
        let text = format!("{:?} {:?}", record.before, record.after);
        assert!(
            !text.contains("sealed") && !text.contains("v1:"),
            "{}: {text}",
            record.action
        );
    }
    let created = audit
        .items
        .iter()
        .find(|r| r.action == "contact_method.create" && r.target_id == first.id.to_string())
        .and_then(|r| r.after.clone())
        .expect("create record");
    assert_eq!(created["label"], "Hook");
    assert_eq!(created["verified"], false);
}

async fn notification_rules_story(db: TestDb) {
    let store = &db.storage;
    let ana = person(&db, "ana@example.com").await;
    let bo = person(&db, "bo@example.com").await;
    let hook = store
        .create_contact_method(&cli(1), method(&ana, "Hook", "v1:a"))
        .await
        .expect("create");
    let mail = store
        .create_contact_method(&cli(2), method(&ana, "Mail", "v1:b"))
        .await
        .expect("create");
    let bos = store
        .create_contact_method(&cli(3), method(&bo, "Bo", "v1:c"))
        .await
        .expect("create");
    let rule = |user: &User, contact_method_id: i64, delay_ms: i64| NewNotificationRule {
        user_id: user.id,
        contact_method_id,
        delay_ms,
    };
    let later = store
        .create_notification_rule(&cli(10), rule(&ana, mail.id, 300_000))
        .await
        .expect("rule");
    let at_once = store
        .create_notification_rule(&cli(11), rule(&ana, hook.id, 0))
        .await
        .expect("rule");
    let bo_rule = store
        .create_notification_rule(&cli(12), rule(&bo, bos.id, 60_000))
        .await
        .expect("rule");
    assert_eq!(
        (later.user_id, later.contact_method_id, later.delay_ms),
        (ana.id, mail.id, 300_000)
    );
    assert_eq!(later.created_at, cli(10).at);

    // A rule may only use its person's own contact methods.
    let foreign = store
        .create_notification_rule(&cli(13), rule(&ana, bos.id, 0))
        .await;
    assert!(
        matches!(
            foreign,
            Err(StorageError::Conflict {
                field: Some("contact_method_id"),
                ..
            })
        ),
        "{foreign:?}"
    );

    let anas = store
        .notification_rules_for_user(ana.id)
        .await
        .expect("list");
    assert_eq!(
        anas.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![at_once.id, later.id],
        "shortest delay first"
    );
    let both = store
        .notification_rules_for_users(&[ana.id, bo.id])
        .await
        .expect("list");
    let mut expected = vec![
        (ana.id, at_once.id),
        (ana.id, later.id),
        (bo.id, bo_rule.id),
    ];
    expected.sort_by_key(|&(user, _)| user);
    assert_eq!(
        both.iter().map(|r| (r.user_id, r.id)).collect::<Vec<_>>(),
        expected
    );
    assert!(
        store
            .notification_rules_for_users(&[])
            .await
            .expect("empty")
            .is_empty()
    );
    assert_eq!(
        store.notification_rule_by_id(later.id).await.expect("read"),
        Some(later.clone())
    );

    store
        .delete_notification_rule(&cli(20), later.id)
        .await
        .expect("delete");
    assert!(matches!(
        store.delete_notification_rule(&cli(21), later.id).await,
        Err(StorageError::NotFound { .. })
    ));
    // Removing a contact method removes its rules.
    store
        .delete_contact_method(&cli(22), hook.id)
        .await
        .expect("delete");
    assert!(
        store
            .notification_rules_for_user(ana.id)
            .await
            .expect("list")
            .is_empty()
    );
    let audit = store
        .list_audit(
            &AuditFilter {
                target_kind: Some("notification_rule".into()),
                ..AuditFilter::default()
            },
            PageRequest::new(100, None),
        )
        .await
        .expect("audit");
    assert_eq!(audit.items.len(), 4, "three creations and one deletion");
}

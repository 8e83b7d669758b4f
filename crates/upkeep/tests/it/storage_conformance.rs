//! The storage conformance suite: one set of stories, written against the storage traits only, that every
//! backend must pass, so SQLite and PostgreSQL behave the same to the domains above them.
//!
//! Time is always passed in (`at(seconds)`), never read from a clock, and nothing sleeps.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::json;
use upkeep_storage::{
    Actor, ActorKind, AuditContext, AuditFilter, AuditRecord, JobCount, NewJob, NewService,
    NewSession, NewTeam, NewToken, NewUser, PageRequest, Role, Scope, ServiceChanges, ServiceLink,
    Storage, StorageError, TeamChanges, User, UserChanges,
};

use crate::support::databases::{TestDb, backend_tests, raw_execute};

backend_tests!(
    migrate_is_idempotent_and_reports_the_schema,
    a_newer_schema_is_refused,
    users_story,
    audit_log_lists_newest_first_with_filters,
    audit_log_is_append_only,
    setup_creates_the_owner_exactly_once,
    sessions_story,
    tokens_story,
    login_failures_story,
    teams_and_services_story,
    jobs_story,
    concurrent_claims_never_overlap,
);

// ---------------------------------------------------------------------------------------------------------
// Helpers

/// A fixed instant plus `seconds`.
fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).expect("a valid test time")
}

fn audit_ctx(
    kind: ActorKind,
    user_id: Option<i64>,
    label: &str,
    origin: Option<&str>,
    at: Timestamp,
) -> AuditContext {
    AuditContext {
        actor: Actor {
            kind,
            user_id,
            label: label.to_string(),
        },
        origin: origin.map(str::to_string),
        at,
    }
}

/// The command line on the server.
fn cli(at: Timestamp) -> AuditContext {
    audit_ctx(ActorKind::Cli, None, "cli (root)", Some("root"), at)
}

/// A person in the browser.
fn as_user(user: &User, at: Timestamp) -> AuditContext {
    audit_ctx(
        ActorKind::User,
        Some(user.id),
        &user.email,
        Some("10.0.0.7"),
        at,
    )
}

fn new_user(email: &str, role: Role) -> NewUser {
    NewUser {
        email: email.to_string(),
        name: format!("Name of {email}"),
        role,
        password_hash: format!("hash-of-{email}"),
    }
}

fn new_job(kind: &str, run_at: Timestamp, dedup_key: Option<&str>) -> NewJob {
    NewJob {
        kind: kind.to_string(),
        payload: json!({ "kind": kind, "n": 1 }),
        run_at,
        max_attempts: 3,
        dedup_key: dedup_key.map(str::to_string),
    }
}

fn cursor(next: &Option<String>) -> Option<i64> {
    next.as_ref()
        .map(|cursor| cursor.parse().expect("cursors are ids"))
}

/// Every audit record about one target, newest first.
async fn audit_of(storage: &Arc<dyn Storage>, kind: &str, id: &str) -> Vec<AuditRecord> {
    let filter = AuditFilter {
        target_kind: Some(kind.to_string()),
        target_id: Some(id.to_string()),
        ..AuditFilter::default()
    };
    storage
        .list_audit(&filter, PageRequest::new(500, None))
        .await
        .expect("list audit")
        .items
}

fn actions(records: &[AuditRecord]) -> Vec<&str> {
    records
        .iter()
        .map(|record| record.action.as_str())
        .collect()
}

fn is_conflict_on(err: &StorageError, wanted: Option<&str>) -> bool {
    matches!(err, StorageError::Conflict { field, .. } if *field == wanted)
}

// ---------------------------------------------------------------------------------------------------------
// Schema

async fn migrate_is_idempotent_and_reports_the_schema(db: TestDb) {
    let storage = &db.storage;
    assert_eq!(storage.backend_name(), db.backend.name());
    let status = storage.schema_status().await.expect("schema status");
    assert!(
        status.is_current(),
        "{}: freshly migrated schema is current: {status:?}",
        db.backend
    );
    assert!(status.binary_version >= 1);

    let again = storage.migrate().await.expect("second migrate");
    assert_eq!(
        again, status,
        "{}: migrating twice changes nothing",
        db.backend
    );
    let third = storage.migrate().await.expect("third migrate");
    assert_eq!(third, status);

    storage.ping().await.expect("ping");
    let pool = storage.pool_stats();
    assert!(
        pool.max_connections >= 1 && pool.connections <= pool.max_connections,
        "{pool:?}"
    );
    // The schema works: an empty database answers.
    assert_eq!(storage.count_users().await.expect("count users"), 0);
}

async fn a_newer_schema_is_refused(db: TestDb) {
    let storage = &db.storage;
    let status = storage.schema_status().await.expect("schema status");
    raw_execute(
        &db,
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (1000000, 'from the future', 0)",
    )
    .await
    .expect("pretend a newer upkeep migrated this database");

    match storage.migrate().await {
        Err(StorageError::SchemaTooNew {
            database_version,
            binary_version,
        }) => {
            assert_eq!(database_version, 1_000_000);
            assert_eq!(binary_version, status.binary_version);
        }
        other => panic!(
            "{}: migrate on a newer schema must be refused, got {other:?}",
            db.backend
        ),
    }
    let now = storage.schema_status().await.expect("schema status");
    assert_eq!(now.database_version, 1_000_000);
    assert!(!now.is_current());
}

// ---------------------------------------------------------------------------------------------------------
// Users and the audit log

async fn users_story(db: TestDb) {
    let storage = &db.storage;
    let b = db.backend;
    assert_eq!(storage.count_users().await.expect("count"), 0);

    let mut users = Vec::new();
    for (i, email) in [
        "a@example.com",
        "b@example.com",
        "c@example.com",
        "d@example.com",
        "e@example.com",
    ]
    .into_iter()
    .enumerate()
    {
        let role = if i == 0 { Role::Owner } else { Role::Viewer };
        let user = storage
            .create_user(&cli(at(i as i64)), new_user(email, role))
            .await
            .expect("create user");
        assert_eq!(user.email, email);
        assert_eq!(user.name, format!("Name of {email}"));
        assert_eq!(user.role, role);
        assert!(!user.disabled);
        assert_eq!(user.created_at, at(i as i64));
        assert_eq!(user.updated_at, at(i as i64));
        users.push(user);
    }
    assert_eq!(storage.count_users().await.expect("count"), 5);

    // The address is taken: a conflict naming the field, and nothing written.
    let err = storage
        .create_user(&cli(at(9)), new_user("b@example.com", Role::Admin))
        .await
        .expect_err("duplicate email");
    assert!(is_conflict_on(&err, Some("email")), "{b}: {err:?}");
    assert_eq!(storage.count_users().await.expect("count"), 5);

    let b_user = &users[1];
    assert_eq!(
        storage.user_by_id(b_user.id).await.expect("by id").as_ref(),
        Some(b_user)
    );
    assert_eq!(
        storage
            .user_by_email("b@example.com")
            .await
            .expect("by email")
            .as_ref(),
        Some(b_user)
    );
    assert_eq!(
        storage
            .user_by_email("nobody@example.com")
            .await
            .expect("by email"),
        None
    );
    assert_eq!(storage.user_by_id(i64::MAX).await.expect("by id"), None);

    // Pagination: 2 + 2 + 1, oldest first, cursor absent on the last page.
    let first = storage
        .list_users(PageRequest::new(2, None))
        .await
        .expect("page 1");
    assert_eq!(first.items, users[0..2].to_vec(), "{b}");
    assert_eq!(cursor(&first.next_cursor), Some(users[1].id));
    let second = storage
        .list_users(PageRequest::new(2, cursor(&first.next_cursor)))
        .await
        .expect("page 2");
    assert_eq!(second.items, users[2..4].to_vec(), "{b}");
    assert_eq!(cursor(&second.next_cursor), Some(users[3].id));
    let third = storage
        .list_users(PageRequest::new(2, cursor(&second.next_cursor)))
        .await
        .expect("page 3");
    assert_eq!(third.items, users[4..5].to_vec(), "{b}");
    assert_eq!(third.next_cursor, None, "{b}: no cursor on the last page");
    let exact = storage
        .list_users(PageRequest::new(5, None))
        .await
        .expect("all");
    assert_eq!(exact.items.len(), 5);
    assert_eq!(
        exact.next_cursor, None,
        "{b}: a full last page has no cursor"
    );

    // Update: only the named fields change.
    let owner = users[0].clone();
    let updated = storage
        .update_user(
            &as_user(&owner, at(100)),
            b_user.id,
            UserChanges {
                name: Some("Bea".into()),
                role: Some(Role::Admin),
                disabled: None,
            },
        )
        .await
        .expect("update user");
    assert_eq!(updated.name, "Bea");
    assert_eq!(updated.role, Role::Admin);
    assert_eq!(updated.email, b_user.email);
    assert!(!updated.disabled);
    assert_eq!(updated.created_at, b_user.created_at);
    assert_eq!(updated.updated_at, at(100));
    assert_eq!(
        storage.user_by_id(b_user.id).await.expect("by id").as_ref(),
        Some(&updated)
    );
    let err = storage
        .update_user(&cli(at(100)), i64::MAX, UserChanges::default())
        .await
        .expect_err("missing user");
    assert!(matches!(err, StorageError::NotFound { .. }), "{b}: {err:?}");

    // Password hashes are kept apart from the record.
    assert_eq!(
        storage
            .password_hash(b_user.id)
            .await
            .expect("hash")
            .as_deref(),
        Some("hash-of-b@example.com")
    );
    storage
        .set_password_hash(&as_user(&owner, at(110)), b_user.id, "new-hash", None)
        .await
        .expect("set hash");
    assert_eq!(
        storage
            .password_hash(b_user.id)
            .await
            .expect("hash")
            .as_deref(),
        Some("new-hash")
    );
    assert_eq!(storage.password_hash(i64::MAX).await.expect("hash"), None);
    let err = storage
        .set_password_hash(&cli(at(110)), i64::MAX, "x", None)
        .await
        .expect_err("missing user");
    assert!(matches!(err, StorageError::NotFound { .. }), "{b}: {err:?}");

    storage
        .delete_user(&as_user(&owner, at(120)), b_user.id)
        .await
        .expect("delete user");
    assert_eq!(storage.user_by_id(b_user.id).await.expect("by id"), None);
    assert_eq!(
        storage
            .user_by_email("b@example.com")
            .await
            .expect("by email"),
        None
    );
    assert_eq!(storage.password_hash(b_user.id).await.expect("hash"), None);
    assert_eq!(storage.count_users().await.expect("count"), 4);
    let err = storage
        .delete_user(&cli(at(121)), b_user.id)
        .await
        .expect_err("already deleted");
    assert!(matches!(err, StorageError::NotFound { .. }), "{b}: {err:?}");

    // Every change left its record, newest first, in the change's own words.
    let records = audit_of(storage, "user", &b_user.id.to_string()).await;
    assert_eq!(
        actions(&records),
        [
            "user.delete",
            "user.password_change",
            "user.update",
            "user.create"
        ],
        "{b}"
    );
    let [delete, password, update, create] = &records[..] else {
        unreachable!()
    };
    assert!(delete.id > password.id && password.id > update.id && update.id > create.id);

    assert_eq!(create.actor_kind, "cli");
    assert_eq!(create.actor_label, "cli (root)");
    assert_eq!(create.actor_user_id, None);
    assert_eq!(create.origin.as_deref(), Some("root"));
    assert_eq!(create.at, at(1));
    assert_eq!(create.target_kind, "user");
    assert_eq!(create.before, None);
    let after = create.after.as_ref().expect("create has an after snapshot");
    assert_eq!(after["email"], "b@example.com");
    assert_eq!(after["role"], "viewer");
    assert!(
        after.get("password_hash").is_none(),
        "{b}: no password hash in audit snapshots"
    );

    assert_eq!(update.actor_kind, "user");
    assert_eq!(update.actor_label, "a@example.com");
    assert_eq!(update.actor_user_id, Some(owner.id));
    assert_eq!(update.origin.as_deref(), Some("10.0.0.7"));
    assert_eq!(update.at, at(100));
    assert_eq!(
        update.before.as_ref().map(|v| v["name"].clone()),
        Some(json!("Name of b@example.com"))
    );
    assert_eq!(
        update.after.as_ref().map(|v| v["name"].clone()),
        Some(json!("Bea"))
    );
    assert_eq!(
        update.after.as_ref().map(|v| v["role"].clone()),
        Some(json!("admin"))
    );

    assert_eq!(
        password.before, None,
        "{b}: a password change records no snapshot"
    );
    assert_eq!(password.after, None);
    assert_eq!(password.at, at(110));

    assert_eq!(
        delete.before.as_ref().map(|v| v["name"].clone()),
        Some(json!("Bea"))
    );
    assert_eq!(delete.after, None);
    assert_eq!(delete.at, at(120));

    // The refused duplicate wrote nothing.
    let creates = storage
        .list_audit(
            &AuditFilter {
                action_prefix: Some("user.create".into()),
                ..AuditFilter::default()
            },
            PageRequest::new(500, None),
        )
        .await
        .expect("list audit");
    assert_eq!(
        creates.items.len(),
        5,
        "{b}: one user.create per created user"
    );
}

async fn audit_log_lists_newest_first_with_filters(db: TestDb) {
    let storage = &db.storage;
    let b = db.backend;
    let alice = storage
        .create_user(&cli(at(0)), new_user("alice@example.com", Role::Owner))
        .await
        .expect("create user");
    let alice_ctx = as_user(&alice, at(10));
    let appended = [
        ("monitor.create", "monitor", "1"),
        ("monitor.update", "monitor", "1"),
        ("monitor.create", "monitor", "2"),
        ("login.lockout", "user", "alice@example.com"),
    ];
    for (i, (action, kind, id)) in appended.iter().enumerate() {
        let ctx = AuditContext {
            at: at(10 + i as i64),
            ..alice_ctx.clone()
        };
        storage
            .append_audit(&ctx, action, kind, id, Some(json!({ "i": i })), None)
            .await
            .expect("append audit");
    }
    // One record by someone else.
    storage
        .append_audit(
            &cli(at(20)),
            "monitor.delete",
            "monitor",
            "2",
            None,
            Some(json!([1, 2])),
        )
        .await
        .expect("append audit");

    let everything = storage
        .list_audit(&AuditFilter::default(), PageRequest::new(500, None))
        .await
        .expect("all");
    assert_eq!(
        actions(&everything.items),
        [
            "monitor.delete",
            "login.lockout",
            "monitor.create",
            "monitor.update",
            "monitor.create",
            "user.create"
        ],
        "{b}: newest first"
    );
    assert!(
        everything
            .items
            .windows(2)
            .all(|pair| pair[0].id > pair[1].id)
    );
    assert_eq!(
        everything.items[0].after,
        Some(json!([1, 2])),
        "{b}: JSON snapshots round-trip"
    );
    assert_eq!(everything.items[1].before, Some(json!({ "i": 3 })));

    // Pages of two, newest first, continuing below the cursor.
    let mut seen = Vec::new();
    let mut next = None;
    loop {
        let page = storage
            .list_audit(&AuditFilter::default(), PageRequest::new(2, next))
            .await
            .expect("page");
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|record| record.id));
        next = cursor(&page.next_cursor);
        if next.is_none() {
            break;
        }
    }
    assert_eq!(
        seen,
        everything
            .items
            .iter()
            .map(|record| record.id)
            .collect::<Vec<_>>(),
        "{b}"
    );

    let filtered = |filter: AuditFilter| {
        let storage = Arc::clone(storage);
        async move {
            let page = storage
                .list_audit(&filter, PageRequest::new(500, None))
                .await
                .expect("filtered");
            page.items
                .iter()
                .map(|record| {
                    format!(
                        "{} {}:{}",
                        record.action, record.target_kind, record.target_id
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        filtered(AuditFilter {
            action_prefix: Some("monitor.".into()),
            ..AuditFilter::default()
        })
        .await,
        [
            "monitor.delete monitor:2",
            "monitor.create monitor:2",
            "monitor.update monitor:1",
            "monitor.create monitor:1"
        ],
        "{b}: action prefix"
    );
    assert_eq!(
        filtered(AuditFilter {
            action_prefix: Some("monitor.create".into()),
            target_id: Some("2".into()),
            ..AuditFilter::default()
        })
        .await,
        ["monitor.create monitor:2"],
        "{b}: filters combine"
    );
    assert_eq!(
        filtered(AuditFilter {
            target_kind: Some("user".into()),
            ..AuditFilter::default()
        })
        .await,
        [
            "login.lockout user:alice@example.com",
            &format!("user.create user:{}", alice.id)
        ],
        "{b}: target kind"
    );
    assert_eq!(
        filtered(AuditFilter {
            actor_user_id: Some(alice.id),
            ..AuditFilter::default()
        })
        .await
        .len(),
        4,
        "{b}: actor"
    );
    assert!(
        filtered(AuditFilter {
            action_prefix: Some("incident.".into()),
            ..AuditFilter::default()
        })
        .await
        .is_empty()
    );
}

async fn audit_log_is_append_only(db: TestDb) {
    let storage = &db.storage;
    let b = db.backend;
    let user = storage
        .create_user(&cli(at(0)), new_user("x@example.com", Role::Owner))
        .await
        .expect("create user");
    let before = audit_of(storage, "user", &user.id.to_string()).await;
    assert_eq!(actions(&before), ["user.create"]);

    let update = raw_execute(
        &db,
        "UPDATE audit_log SET action = 'forged', actor_label = 'nobody'",
    )
    .await;
    let err = update.expect_err("updating the audit log must fail");
    assert!(err.contains("append-only"), "{b}: {err}");
    let delete = raw_execute(&db, "DELETE FROM audit_log").await;
    let err = delete.expect_err("deleting from the audit log must fail");
    assert!(err.contains("append-only"), "{b}: {err}");

    assert_eq!(
        audit_of(storage, "user", &user.id.to_string()).await,
        before,
        "{b}: the record is untouched"
    );
    // Appending still works.
    storage
        .append_audit(
            &cli(at(1)),
            "user.note",
            "user",
            &user.id.to_string(),
            None,
            None,
        )
        .await
        .expect("append");
    assert_eq!(
        actions(&audit_of(storage, "user", &user.id.to_string()).await),
        ["user.note", "user.create"]
    );
}

// ---------------------------------------------------------------------------------------------------------
// Setup, sessions, tokens, login throttling

async fn setup_creates_the_owner_exactly_once(db: TestDb) {
    let storage = &db.storage;
    let b = db.backend;
    let system = audit_ctx(ActorKind::System, None, "setup", Some("203.0.113.9"), at(5));

    assert!(
        !storage.setup_token_valid("first").await.expect("valid"),
        "{b}: no token yet"
    );
    storage
        .replace_setup_token("first", at(0))
        .await
        .expect("replace");
    assert!(storage.setup_token_valid("first").await.expect("valid"));
    assert!(!storage.setup_token_valid("other").await.expect("valid"));

    // Replacing invalidates the old token.
    storage
        .replace_setup_token("second", at(1))
        .await
        .expect("replace");
    assert!(
        !storage.setup_token_valid("first").await.expect("valid"),
        "{b}: only one token at a time"
    );
    assert!(storage.setup_token_valid("second").await.expect("valid"));

    let refused = storage
        .complete_setup(&system, "first", new_user("owner@example.com", Role::Owner))
        .await
        .expect("complete with an old token");
    assert_eq!(refused, None, "{b}: a replaced token does not work");
    let refused = storage
        .complete_setup(&system, "wrong", new_user("owner@example.com", Role::Owner))
        .await
        .expect("complete with a wrong token");
    assert_eq!(refused, None);
    assert_eq!(storage.count_users().await.expect("count"), 0);
    assert!(
        storage.setup_token_valid("second").await.expect("valid"),
        "{b}: failed attempts keep the token"
    );

    let owner = storage
        .complete_setup(
            &system,
            "second",
            new_user("owner@example.com", Role::Owner),
        )
        .await
        .expect("complete setup")
        .expect("the right token creates the owner");
    assert_eq!(owner.email, "owner@example.com");
    assert_eq!(owner.role, Role::Owner);
    assert_eq!(owner.created_at, at(5));
    assert_eq!(storage.count_users().await.expect("count"), 1);
    assert!(
        !storage.setup_token_valid("second").await.expect("valid"),
        "{b}: the token is used up"
    );

    let again = storage
        .complete_setup(
            &system,
            "second",
            new_user("intruder@example.com", Role::Owner),
        )
        .await
        .expect("complete again");
    assert_eq!(again, None, "{b}: the same token works once");
    assert_eq!(storage.count_users().await.expect("count"), 1);

    // A new token once a user exists is not valid and creates nobody.
    storage
        .replace_setup_token("third", at(10))
        .await
        .expect("replace");
    assert!(
        !storage.setup_token_valid("third").await.expect("valid"),
        "{b}: setup is over once a user exists"
    );
    let late = storage
        .complete_setup(&system, "third", new_user("late@example.com", Role::Owner))
        .await
        .expect("complete late");
    assert_eq!(late, None);
    assert_eq!(storage.count_users().await.expect("count"), 1);

    let records = audit_of(storage, "user", &owner.id.to_string()).await;
    assert_eq!(actions(&records), ["user.create"], "{b}");
    assert_eq!(records[0].actor_kind, "system");
    assert_eq!(records[0].actor_label, "setup");
    assert_eq!(records[0].origin.as_deref(), Some("203.0.113.9"));
}

fn new_session(user: &User, hash: &str, expires_at: Timestamp) -> NewSession {
    NewSession {
        token_hash: hash.to_string(),
        user_id: user.id,
        csrf_token: format!("csrf-{hash}"),
        expires_at,
        user_agent: Some("test-browser".into()),
    }
}

async fn sessions_story(db: TestDb) {
    let storage = &db.storage;
    let b = db.backend;
    let ann = storage
        .create_user(&cli(at(0)), new_user("ann@example.com", Role::Admin))
        .await
        .expect("user");
    let bob = storage
        .create_user(&cli(at(0)), new_user("bob@example.com", Role::Viewer))
        .await
        .expect("user");

    let session = storage
        .create_session(&as_user(&ann, at(10)), new_session(&ann, "s1", at(3600)))
        .await
        .expect("create session");
    assert_eq!(session.user_id, ann.id);
    assert_eq!(session.csrf_token, "csrf-s1");
    assert_eq!(session.created_at, at(10));
    assert_eq!(session.expires_at, at(3600));

    let (found, user) = storage
        .session_by_token_hash("s1", at(20))
        .await
        .expect("lookup")
        .expect("a live session is found");
    assert_eq!(found.id, session.id);
    assert_eq!(found.csrf_token, "csrf-s1");
    assert_eq!(found.created_at, at(10));
    assert_eq!(found.expires_at, at(3600));
    assert_eq!(user, ann);
    assert!(
        storage
            .session_by_token_hash("s1", at(3599))
            .await
            .expect("lookup")
            .is_some()
    );
    assert!(
        storage
            .session_by_token_hash("s1", at(3600))
            .await
            .expect("lookup")
            .is_none(),
        "{b}: expired at expires_at"
    );
    assert!(
        storage
            .session_by_token_hash("nope", at(20))
            .await
            .expect("lookup")
            .is_none()
    );

    // Expired sessions are swept; live ones stay.
    storage
        .create_session(&as_user(&bob, at(10)), new_session(&bob, "short", at(60)))
        .await
        .expect("session");
    assert_eq!(
        storage
            .delete_expired_sessions(at(59))
            .await
            .expect("sweep"),
        0
    );
    assert_eq!(
        storage
            .delete_expired_sessions(at(61))
            .await
            .expect("sweep"),
        1,
        "{b}"
    );
    assert!(
        storage
            .session_by_token_hash("short", at(30))
            .await
            .expect("lookup")
            .is_none(),
        "{b}: swept for good"
    );
    assert!(
        storage
            .session_by_token_hash("s1", at(61))
            .await
            .expect("lookup")
            .is_some()
    );

    // Logging out.
    storage
        .delete_session(&as_user(&ann, at(70)), session.id)
        .await
        .expect("logout");
    assert!(
        storage
            .session_by_token_hash("s1", at(71))
            .await
            .expect("lookup")
            .is_none()
    );
    let records = audit_of(storage, "user", &ann.id.to_string()).await;
    assert_eq!(
        actions(&records),
        ["user.logout", "user.login", "user.create"],
        "{b}"
    );
    assert_eq!(records[1].at, at(10));

    // A password change ends every other session.
    let keep = storage
        .create_session(&as_user(&bob, at(100)), new_session(&bob, "keep", at(9000)))
        .await
        .expect("s");
    storage
        .create_session(
            &as_user(&bob, at(100)),
            new_session(&bob, "other", at(9000)),
        )
        .await
        .expect("s");
    storage
        .set_password_hash(&as_user(&bob, at(110)), bob.id, "bob-new", Some(keep.id))
        .await
        .expect("change password");
    assert!(
        storage
            .session_by_token_hash("keep", at(120))
            .await
            .expect("lookup")
            .is_some(),
        "{b}: kept"
    );
    assert!(
        storage
            .session_by_token_hash("other", at(120))
            .await
            .expect("lookup")
            .is_none(),
        "{b}: ended"
    );

    // Disabling a user ends their sessions, and a disabled user's session is never accepted.
    storage
        .create_session(&as_user(&bob, at(130)), new_session(&bob, "more", at(9000)))
        .await
        .expect("s");
    let disabled = storage
        .update_user(
            &as_user(&ann, at(140)),
            bob.id,
            UserChanges {
                disabled: Some(true),
                ..UserChanges::default()
            },
        )
        .await
        .expect("disable");
    assert!(disabled.disabled);
    for hash in ["keep", "more"] {
        assert!(
            storage
                .session_by_token_hash(hash, at(150))
                .await
                .expect("lookup")
                .is_none(),
            "{b}: {hash} ended"
        );
    }
    storage
        .create_session(
            &as_user(&bob, at(160)),
            new_session(&bob, "while-disabled", at(9000)),
        )
        .await
        .expect("s");
    assert!(
        storage
            .session_by_token_hash("while-disabled", at(170))
            .await
            .expect("lookup")
            .is_none(),
        "{b}: a disabled user's session is refused"
    );
    storage
        .update_user(
            &as_user(&ann, at(180)),
            bob.id,
            UserChanges {
                disabled: Some(false),
                ..UserChanges::default()
            },
        )
        .await
        .expect("enable");
    assert!(
        storage
            .session_by_token_hash("keep", at(190))
            .await
            .expect("lookup")
            .is_none(),
        "{b}: re-enabling does not revive ended sessions"
    );

    // Deleting a user removes their sessions.
    storage
        .create_session(&as_user(&ann, at(200)), new_session(&ann, "last", at(9000)))
        .await
        .expect("s");
    storage
        .delete_user(&cli(at(210)), ann.id)
        .await
        .expect("delete");
    assert!(
        storage
            .session_by_token_hash("last", at(220))
            .await
            .expect("lookup")
            .is_none(),
        "{b}"
    );
}

fn new_token(user: &User, name: &str, scope: Scope, expires_at: Option<Timestamp>) -> NewToken {
    NewToken {
        user_id: user.id,
        name: name.to_string(),
        prefix: format!("upk_{name}"),
        token_hash: format!("hash-{name}"),
        scope,
        expires_at,
    }
}

async fn tokens_story(db: TestDb) {
    let storage = &db.storage;
    let b = db.backend;
    let ann = storage
        .create_user(&cli(at(0)), new_user("ann@example.com", Role::Admin))
        .await
        .expect("user");
    let bob = storage
        .create_user(&cli(at(0)), new_user("bob@example.com", Role::Viewer))
        .await
        .expect("user");

    let ci = storage
        .create_token(
            &as_user(&ann, at(10)),
            new_token(&ann, "ci", Scope::Write, None),
        )
        .await
        .expect("create token");
    assert_eq!(ci.user_id, ann.id);
    assert_eq!(ci.user_email, "ann@example.com");
    assert_eq!(ci.name, "ci");
    assert_eq!(ci.prefix, "upk_ci");
    assert_eq!(ci.scope, Scope::Write);
    assert_eq!(ci.created_at, at(10));
    assert_eq!(
        (ci.expires_at, ci.revoked_at, ci.last_used_at),
        (None, None, None)
    );
    assert!(ci.is_usable_at(at(1_000_000)));

    let short = storage
        .create_token(
            &as_user(&ann, at(20)),
            new_token(&ann, "short", Scope::Read, Some(at(100))),
        )
        .await
        .expect("create token");
    let bobs = storage
        .create_token(
            &as_user(&bob, at(30)),
            new_token(&bob, "bobs", Scope::Admin, None),
        )
        .await
        .expect("create token");
    assert_eq!(short.expires_at, Some(at(100)));
    assert!(short.is_usable_at(at(99)));
    assert!(
        !short.is_usable_at(at(100)),
        "{b}: an expired token is not usable"
    );

    let (found, owner) = storage
        .token_by_hash("hash-ci")
        .await
        .expect("by hash")
        .expect("found");
    assert_eq!(found, ci);
    assert_eq!(owner, ann);
    let (found, owner) = storage
        .token_by_hash("hash-bobs")
        .await
        .expect("by hash")
        .expect("found");
    assert_eq!((found, owner), (bobs.clone(), bob.clone()));
    assert!(
        storage
            .token_by_hash("hash-nope")
            .await
            .expect("by hash")
            .is_none()
    );
    assert_eq!(
        storage.token_by_id(short.id).await.expect("by id").as_ref(),
        Some(&short)
    );
    assert_eq!(storage.token_by_id(i64::MAX).await.expect("by id"), None);

    // Per user and for everyone, oldest first, paginated.
    let anns = storage
        .list_tokens(Some(ann.id), PageRequest::new(50, None))
        .await
        .expect("list");
    assert_eq!(anns.items, vec![ci.clone(), short.clone()], "{b}");
    assert_eq!(anns.next_cursor, None);
    let all = storage
        .list_tokens(None, PageRequest::new(2, None))
        .await
        .expect("list");
    assert_eq!(all.items, vec![ci.clone(), short.clone()], "{b}");
    let rest = storage
        .list_tokens(None, PageRequest::new(2, cursor(&all.next_cursor)))
        .await
        .expect("list");
    assert_eq!(rest.items, vec![bobs.clone()], "{b}");
    assert_eq!(rest.next_cursor, None);

    // Revoking stamps the first revocation time and makes the token unusable.
    let revoked = storage
        .revoke_token(&as_user(&ann, at(50)), ci.id)
        .await
        .expect("revoke");
    assert_eq!(revoked.revoked_at, Some(at(50)));
    assert!(!revoked.is_usable_at(at(51)), "{b}");
    let again = storage
        .revoke_token(&as_user(&ann, at(60)), ci.id)
        .await
        .expect("revoke again");
    assert_eq!(
        again.revoked_at,
        Some(at(50)),
        "{b}: revoking twice keeps the first time"
    );
    let (by_hash, _) = storage
        .token_by_hash("hash-ci")
        .await
        .expect("by hash")
        .expect("still found");
    assert_eq!(
        by_hash.revoked_at,
        Some(at(50)),
        "{b}: a revoked token is still found, marked"
    );
    let err = storage
        .revoke_token(&cli(at(60)), i64::MAX)
        .await
        .expect_err("missing token");
    assert!(matches!(err, StorageError::NotFound { .. }), "{b}: {err:?}");

    storage
        .mark_token_used(short.id, at(70))
        .await
        .expect("mark used");
    assert_eq!(
        storage
            .token_by_id(short.id)
            .await
            .expect("by id")
            .and_then(|t| t.last_used_at),
        Some(at(70))
    );

    let records = audit_of(storage, "token", &ci.id.to_string()).await;
    assert_eq!(
        actions(&records),
        ["token.revoke", "token.revoke", "token.create"],
        "{b}"
    );
    let first_revoke = &records[1];
    assert_eq!(
        first_revoke
            .before
            .as_ref()
            .map(|v| v["revoked_at"].is_null()),
        Some(true)
    );
    assert_eq!(
        first_revoke
            .after
            .as_ref()
            .map(|v| v["revoked_at"].is_null()),
        Some(false)
    );
    assert_eq!(records[2].before, None);
    assert_eq!(
        records[2].after.as_ref().map(|v| v["name"].clone()),
        Some(json!("ci"))
    );
    assert!(
        records[2]
            .after
            .as_ref()
            .is_some_and(|v| v.get("token_hash").is_none()),
        "{b}: no secret hash in audit snapshots"
    );

    // A deleted user's tokens go with them.
    storage
        .delete_user(&cli(at(80)), bob.id)
        .await
        .expect("delete bob");
    assert_eq!(
        storage.token_by_id(bobs.id).await.expect("by id"),
        None,
        "{b}"
    );
    assert!(
        storage
            .token_by_hash("hash-bobs")
            .await
            .expect("by hash")
            .is_none()
    );
}

async fn login_failures_story(db: TestDb) {
    let storage = &db.storage;
    let b = db.backend;
    let key = "account:ann@example.com";
    let window = 900;
    // Three failures inside the window count up.
    for (i, second) in [0, 10, 20].into_iter().enumerate() {
        let n = storage
            .record_login_failure(key, at(second), at(second - window))
            .await
            .expect("record failure");
        assert_eq!(n, i as u32 + 1, "{b}");
    }
    assert_eq!(
        storage
            .login_failures(key, at(20 - window))
            .await
            .expect("failures"),
        3
    );
    assert_eq!(
        storage
            .login_failures("addr:10.0.0.1", at(20 - window))
            .await
            .expect("failures"),
        0
    );
    // A window that starts after the last failure sees none.
    assert_eq!(
        storage.login_failures(key, at(20)).await.expect("failures"),
        0,
        "{b}"
    );

    // Once the window has passed, counting starts anew.
    let n = storage
        .record_login_failure(key, at(2000), at(2000 - window))
        .await
        .expect("record failure");
    assert_eq!(n, 1, "{b}: the window passed");
    let n = storage
        .record_login_failure(key, at(2001), at(2001 - window))
        .await
        .expect("record failure");
    assert_eq!(n, 2);
    assert_eq!(
        storage
            .login_failures(key, at(2001 - window))
            .await
            .expect("failures"),
        2
    );

    // Keys are independent; clearing one leaves the other.
    storage
        .record_login_failure("addr:10.0.0.1", at(2001), at(2001 - window))
        .await
        .expect("record");
    storage.clear_login_failures(key).await.expect("clear");
    assert_eq!(
        storage.login_failures(key, at(0)).await.expect("failures"),
        0,
        "{b}"
    );
    assert_eq!(
        storage
            .login_failures("addr:10.0.0.1", at(0))
            .await
            .expect("failures"),
        1
    );
    storage
        .clear_login_failures("never-failed")
        .await
        .expect("clearing an unknown key is fine");
    let n = storage
        .record_login_failure(key, at(2002), at(2002 - window))
        .await
        .expect("record failure");
    assert_eq!(n, 1, "{b}: cleared keys start from one");
}

// ---------------------------------------------------------------------------------------------------------
// Teams and services

fn new_service(slug: &str, team_id: Option<i64>, depends_on: Vec<i64>) -> NewService {
    NewService {
        slug: slug.to_string(),
        name: format!("The {slug}"),
        description: format!("What {slug} does"),
        team_id,
        links: vec![ServiceLink {
            title: "Repository".into(),
            url: format!("https://git.example.com/{slug}"),
        }],
        depends_on,
    }
}

async fn teams_and_services_story(db: TestDb) {
    let storage = &db.storage;
    let b = db.backend;
    let admin = cli(at(0));

    // Teams.
    let payments = storage
        .create_team(
            &admin,
            NewTeam {
                slug: "payments".into(),
                name: "Payments".into(),
                description: "Money in".into(),
            },
        )
        .await
        .expect("create team");
    assert_eq!(
        (payments.slug.as_str(), payments.name.as_str()),
        ("payments", "Payments")
    );
    assert_eq!(payments.created_at, at(0));
    let search = storage
        .create_team(
            &cli(at(1)),
            NewTeam {
                slug: "search".into(),
                name: "Search".into(),
                description: String::new(),
            },
        )
        .await
        .expect("create team");
    let err = storage
        .create_team(
            &admin,
            NewTeam {
                slug: "payments".into(),
                name: "Other".into(),
                description: String::new(),
            },
        )
        .await
        .expect_err("duplicate team slug");
    assert!(is_conflict_on(&err, Some("slug")), "{b}: {err:?}");
    assert_eq!(
        storage
            .team_by_slug("payments")
            .await
            .expect("by slug")
            .as_ref(),
        Some(&payments)
    );
    assert_eq!(storage.team_by_slug("nope").await.expect("by slug"), None);
    let teams = storage
        .list_teams(PageRequest::new(1, None))
        .await
        .expect("teams");
    assert_eq!(teams.items, vec![payments.clone()]);
    let teams = storage
        .list_teams(PageRequest::new(1, cursor(&teams.next_cursor)))
        .await
        .expect("teams");
    assert_eq!(teams.items, vec![search.clone()]);
    assert_eq!(teams.next_cursor, None, "{b}");

    let renamed = storage
        .update_team(
            &cli(at(5)),
            payments.id,
            TeamChanges {
                name: Some("Payments & Billing".into()),
                description: None,
            },
        )
        .await
        .expect("update team");
    assert_eq!(renamed.name, "Payments & Billing");
    assert_eq!(renamed.description, "Money in");
    assert_eq!(renamed.updated_at, at(5));
    let err = storage
        .update_team(&admin, i64::MAX, TeamChanges::default())
        .await
        .expect_err("missing team");
    assert!(matches!(err, StorageError::NotFound { .. }), "{b}: {err:?}");

    // Services and their dependencies.
    let db_svc = storage
        .create_service(&cli(at(10)), new_service("db", Some(payments.id), vec![]))
        .await
        .expect("svc");
    assert_eq!(db_svc.team_id, Some(payments.id));
    assert_eq!(db_svc.team_slug.as_deref(), Some("payments"));
    assert_eq!(db_svc.links[0].url, "https://git.example.com/db");
    assert!(db_svc.depends_on.is_empty());
    assert_eq!(db_svc.created_at, at(10));
    let cache = storage
        .create_service(&cli(at(11)), new_service("cache", None, vec![]))
        .await
        .expect("svc");
    assert_eq!((cache.team_id, cache.team_slug.clone()), (None, None));
    let auth_db = storage
        .create_service(&cli(at(12)), new_service("auth-db", None, vec![]))
        .await
        .expect("svc");
    let api = storage
        .create_service(
            &cli(at(13)),
            new_service(
                "api",
                Some(payments.id),
                vec![db_svc.id, cache.id, auth_db.id],
            ),
        )
        .await
        .expect("svc");
    assert_eq!(
        api.depends_on,
        ["auth-db", "cache", "db"],
        "{b}: dependencies come back as sorted slugs"
    );
    let err = storage
        .create_service(&cli(at(14)), new_service("cache", None, vec![]))
        .await
        .expect_err("duplicate service slug");
    assert!(is_conflict_on(&err, Some("slug")), "{b}: {err:?}");

    assert_eq!(
        storage
            .service_by_slug("api")
            .await
            .expect("by slug")
            .as_ref(),
        Some(&api)
    );
    assert_eq!(
        storage.service_by_id(api.id).await.expect("by id").as_ref(),
        Some(&api)
    );
    assert_eq!(
        storage.service_by_slug("nope").await.expect("by slug"),
        None
    );
    assert_eq!(storage.service_by_id(i64::MAX).await.expect("by id"), None);

    let all = storage
        .list_services(None, PageRequest::new(50, None))
        .await
        .expect("list");
    assert_eq!(
        all.items,
        vec![db_svc.clone(), cache.clone(), auth_db.clone(), api.clone()],
        "{b}: oldest first"
    );
    let owned = storage
        .list_services(Some(payments.id), PageRequest::new(1, None))
        .await
        .expect("list");
    assert_eq!(owned.items, vec![db_svc.clone()]);
    let owned = storage
        .list_services(
            Some(payments.id),
            PageRequest::new(1, cursor(&owned.next_cursor)),
        )
        .await
        .expect("list");
    assert_eq!(owned.items, vec![api.clone()], "{b}: one team's services");
    assert_eq!(owned.next_cursor, None);
    assert!(
        storage
            .list_services(Some(search.id), PageRequest::default())
            .await
            .expect("list")
            .items
            .is_empty()
    );

    let mut edges = storage.dependency_edges().await.expect("edges");
    edges.sort_unstable();
    assert_eq!(
        edges,
        vec![
            (api.id, db_svc.id),
            (api.id, cache.id),
            (api.id, auth_db.id)
        ],
        "{b}"
    );

    // Deletion is refused while something still needs the row.
    let err = storage
        .delete_service(&cli(at(20)), db_svc.id)
        .await
        .expect_err("api depends on db");
    assert!(is_conflict_on(&err, None), "{b}: {err:?}");
    assert!(
        err.to_string().contains("api"),
        "{b}: the message names the dependents: {err}"
    );
    assert!(
        storage
            .service_by_id(db_svc.id)
            .await
            .expect("by id")
            .is_some()
    );
    let err = storage
        .delete_team(&cli(at(20)), payments.id)
        .await
        .expect_err("payments owns services");
    assert!(is_conflict_on(&err, None), "{b}: {err:?}");
    assert!(
        storage
            .team_by_slug("payments")
            .await
            .expect("by slug")
            .is_some()
    );

    // Updating: an empty change set changes nothing but the time; `Some(None)` removes the team.
    let untouched = storage
        .update_service(&cli(at(30)), api.id, ServiceChanges::default())
        .await
        .expect("noop");
    assert_eq!(
        (untouched.name.as_str(), untouched.team_id),
        (api.name.as_str(), api.team_id)
    );
    assert_eq!(untouched.depends_on, api.depends_on);
    assert_eq!(untouched.links, api.links);
    let moved = storage
        .update_service(
            &cli(at(31)),
            api.id,
            ServiceChanges {
                name: Some("Public API".into()),
                team_id: Some(None),
                links: Some(vec![]),
                depends_on: Some(vec![cache.id]),
                ..ServiceChanges::default()
            },
        )
        .await
        .expect("update service");
    assert_eq!(moved.name, "Public API");
    assert_eq!(moved.description, api.description);
    assert_eq!(
        (moved.team_id, moved.team_slug.clone()),
        (None, None),
        "{b}: team removed"
    );
    assert!(moved.links.is_empty());
    assert_eq!(moved.depends_on, ["cache"], "{b}: dependencies replaced");
    assert_eq!(moved.updated_at, at(31));
    assert_eq!(moved.created_at, api.created_at);
    let to_search = storage
        .update_service(
            &cli(at(32)),
            cache.id,
            ServiceChanges {
                team_id: Some(Some(search.id)),
                ..ServiceChanges::default()
            },
        )
        .await
        .expect("update service");
    assert_eq!(to_search.team_slug.as_deref(), Some("search"));
    let err = storage
        .update_service(&admin, i64::MAX, ServiceChanges::default())
        .await
        .expect_err("missing");
    assert!(matches!(err, StorageError::NotFound { .. }), "{b}: {err:?}");
    let mut edges = storage.dependency_edges().await.expect("edges");
    edges.sort_unstable();
    assert_eq!(edges, vec![(api.id, cache.id)], "{b}");

    // Now nothing depends on db: it can go, and then payments owns nothing and can go too.
    storage
        .delete_service(&cli(at(40)), db_svc.id)
        .await
        .expect("delete db");
    assert_eq!(storage.service_by_slug("db").await.expect("by slug"), None);
    storage
        .delete_team(&cli(at(41)), payments.id)
        .await
        .expect("delete payments");
    assert_eq!(
        storage.team_by_slug("payments").await.expect("by slug"),
        None
    );
    // Deleting a service takes its own dependency edges with it.
    storage
        .delete_service(&cli(at(42)), api.id)
        .await
        .expect("delete api");
    assert!(
        storage.dependency_edges().await.expect("edges").is_empty(),
        "{b}"
    );
    let err = storage
        .delete_service(&cli(at(43)), api.id)
        .await
        .expect_err("already deleted");
    assert!(matches!(err, StorageError::NotFound { .. }), "{b}: {err:?}");
    let err = storage
        .delete_team(&cli(at(43)), payments.id)
        .await
        .expect_err("already deleted");
    assert!(matches!(err, StorageError::NotFound { .. }), "{b}: {err:?}");

    // The audit trail names teams and services by slug.
    let records = audit_of(storage, "team", "payments").await;
    assert_eq!(
        actions(&records),
        ["team.delete", "team.update", "team.create"],
        "{b}"
    );
    assert_eq!(
        records[1].before.as_ref().map(|v| v["name"].clone()),
        Some(json!("Payments"))
    );
    assert_eq!(
        records[1].after.as_ref().map(|v| v["name"].clone()),
        Some(json!("Payments & Billing"))
    );
    let records = audit_of(storage, "service", "api").await;
    assert_eq!(
        actions(&records),
        [
            "service.delete",
            "service.update",
            "service.update",
            "service.create"
        ],
        "{b}"
    );
    assert_eq!(records[0].after, None);
    assert_eq!(records[3].before, None);
    assert_eq!(
        records[3].after.as_ref().map(|v| v["depends_on"].clone()),
        Some(json!(["auth-db", "cache", "db"]))
    );
    assert_eq!(
        records[1].after.as_ref().map(|v| v["team_id"].clone()),
        Some(json!(null))
    );
}

// ---------------------------------------------------------------------------------------------------------
// Jobs

fn counts(list: &[JobCount]) -> Vec<(String, String, i64)> {
    list.iter()
        .map(|c| (c.kind.clone(), c.status.clone(), c.count))
        .collect()
}

async fn jobs_story(db: TestDb) {
    let storage = &db.storage;
    let b = db.backend;
    let lease = Duration::from_secs(30);

    let email = storage
        .enqueue_job(new_job("email", at(0), None))
        .await
        .expect("enqueue")
        .expect("an id");
    let report = storage
        .enqueue_job(new_job("report", at(100), Some("daily")))
        .await
        .expect("enqueue")
        .expect("an id");
    assert_ne!(email, report);
    assert_eq!(
        storage
            .enqueue_job(new_job("report", at(100), Some("daily")))
            .await
            .expect("enqueue"),
        None,
        "{b}: a queued job with the same dedup key exists"
    );

    // Only due jobs are claimed; each claim is attempt + 1.
    let claimed = storage
        .claim_jobs("w1", at(0), lease, 10)
        .await
        .expect("claim");
    assert_eq!(
        claimed.iter().map(|job| job.id).collect::<Vec<_>>(),
        [email],
        "{b}: report is not due yet"
    );
    let job = &claimed[0];
    assert_eq!(
        (job.kind.as_str(), job.attempt, job.max_attempts),
        ("email", 1, 3)
    );
    assert_eq!(job.payload, json!({ "kind": "email", "n": 1 }));
    assert_eq!(job.run_at, at(0));
    assert!(
        storage
            .claim_jobs("w2", at(29), lease, 10)
            .await
            .expect("claim")
            .is_empty(),
        "{b}: leased"
    );

    // The lease ran out: another worker takes it over with a new attempt, and the old attempt is stale.
    let taken = storage
        .claim_jobs("w2", at(30), lease, 10)
        .await
        .expect("claim");
    assert_eq!(
        taken
            .iter()
            .map(|job| (job.id, job.attempt))
            .collect::<Vec<_>>(),
        [(email, 2)],
        "{b}"
    );
    assert!(
        !storage
            .complete_job(email, 1, at(31))
            .await
            .expect("complete"),
        "{b}: stale attempt"
    );
    assert!(
        !storage
            .fail_job(email, 1, "late", None, at(31))
            .await
            .expect("fail"),
        "{b}: stale attempt"
    );
    assert!(
        storage
            .complete_job(email, 2, at(32))
            .await
            .expect("complete")
    );
    assert!(
        !storage
            .complete_job(email, 2, at(33))
            .await
            .expect("complete"),
        "{b}: done already"
    );
    assert!(
        storage
            .claim_jobs("w1", at(99), lease, 10)
            .await
            .expect("claim")
            .is_empty(),
        "{b}: done stays done"
    );

    // Once the deduplicated job runs, the same key may be queued again.
    let running = storage
        .claim_jobs("w1", at(100), lease, 10)
        .await
        .expect("claim");
    assert_eq!(
        running.iter().map(|job| job.id).collect::<Vec<_>>(),
        [report]
    );
    let next_report = storage
        .enqueue_job(new_job("report", at(1000), Some("daily")))
        .await
        .expect("enqueue")
        .expect("the key is free once the first job runs");

    // Failures: retry later, then give up. The retry is requeued even though a newer job with its
    // dedup key is queued (deduplication is about enqueueing, not retries), and that newer job still
    // keeps further duplicates out.
    assert!(
        storage
            .fail_job(report, 1, "boom", Some(at(200)), at(101))
            .await
            .expect("requeue a retry next to a queued duplicate")
    );
    assert_eq!(
        storage
            .enqueue_job(new_job("report", at(100), Some("daily")))
            .await
            .expect("enqueue"),
        None,
        "{b}: the queued duplicate still holds the key"
    );
    assert!(
        storage
            .claim_jobs("w1", at(199), lease, 10)
            .await
            .expect("claim")
            .is_empty(),
        "{b}: retry not due"
    );
    let retried = storage
        .claim_jobs("w1", at(200), lease, 10)
        .await
        .expect("claim");
    assert_eq!(
        retried
            .iter()
            .map(|job| (job.id, job.attempt))
            .collect::<Vec<_>>(),
        [(report, 2)],
        "{b}"
    );
    assert_eq!(
        retried[0].run_at,
        at(200),
        "{b}: requeued at the retry time"
    );
    assert!(
        storage
            .fail_job(report, 2, "boom again", None, at(201))
            .await
            .expect("fail")
    );
    assert!(
        !storage
            .complete_job(report, 2, at(202))
            .await
            .expect("complete"),
        "{b}: failed for good"
    );

    let ordered = storage
        .claim_jobs("w1", at(5000), lease, 10)
        .await
        .expect("claim");
    assert_eq!(
        ordered.iter().map(|job| job.id).collect::<Vec<_>>(),
        [next_report],
        "{b}: failed jobs stay failed"
    );

    // A batch is claimed in run_at order, up to the limit.
    let later = storage
        .enqueue_job(new_job("email", at(400), None))
        .await
        .expect("enqueue")
        .expect("id");
    let sooner = storage
        .enqueue_job(new_job("email", at(300), None))
        .await
        .expect("enqueue")
        .expect("id");
    let third = storage
        .enqueue_job(new_job("email", at(500), None))
        .await
        .expect("enqueue")
        .expect("id");
    let batch = storage
        .claim_jobs("w3", at(600), lease, 2)
        .await
        .expect("claim");
    assert_eq!(
        batch.iter().map(|job| job.id).collect::<Vec<_>>(),
        [sooner, later],
        "{b}"
    );

    assert_eq!(
        counts(&storage.job_counts().await.expect("counts")),
        [
            ("email".to_string(), "done".to_string(), 1),
            ("email".to_string(), "queued".to_string(), 1),
            ("email".to_string(), "running".to_string(), 2),
            ("report".to_string(), "failed".to_string(), 1),
            ("report".to_string(), "running".to_string(), 1),
        ],
        "{b}"
    );
    let _ = third;

    // Pruning removes finished jobs last touched before the cut-off, nothing else.
    assert_eq!(
        storage.prune_jobs(at(32)).await.expect("prune"),
        0,
        "{b}: nothing finished before 32"
    );
    assert_eq!(
        storage.prune_jobs(at(202)).await.expect("prune"),
        2,
        "{b}: done at 32, failed at 201"
    );
    assert_eq!(
        counts(&storage.job_counts().await.expect("counts")),
        [
            ("email".to_string(), "queued".to_string(), 1),
            ("email".to_string(), "running".to_string(), 2),
            ("report".to_string(), "running".to_string(), 1),
        ],
        "{b}"
    );
    assert_eq!(
        storage.prune_jobs(at(1_000_000)).await.expect("prune"),
        0,
        "{b}: queued and running stay"
    );

    // Waiting is a hint that returns by the timeout (and never panics).
    storage.wait_for_jobs(Duration::from_millis(10)).await;
}

async fn concurrent_claims_never_overlap(db: TestDb) {
    let b = db.backend;
    let mut enqueued = BTreeSet::new();
    for i in 0..50 {
        let id = db
            .storage
            .enqueue_job(new_job("bulk", at(i), None))
            .await
            .expect("enqueue")
            .expect("an id");
        enqueued.insert(id);
    }

    let start = Arc::new(tokio::sync::Barrier::new(2));
    let workers = ["w1", "w2"].map(|worker| {
        let storage = Arc::clone(&db.storage);
        let start = Arc::clone(&start);
        tokio::spawn(async move {
            start.wait().await;
            let mut mine = Vec::new();
            loop {
                let jobs = storage
                    .claim_jobs(worker, at(100), Duration::from_secs(300), 2)
                    .await
                    .expect("claim");
                if jobs.is_empty() {
                    break;
                }
                for job in jobs {
                    assert_eq!(job.attempt, 1, "claimed twice: {job:?}");
                    assert!(
                        storage
                            .complete_job(job.id, job.attempt, at(101))
                            .await
                            .expect("complete")
                    );
                    mine.push(job.id);
                }
            }
            mine
        })
    });
    let mut claims = Vec::new();
    for worker in workers {
        claims.push(worker.await.expect("worker task"));
    }

    let all: Vec<i64> = claims.concat();
    let distinct: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(
        all.len(),
        distinct.len(),
        "{b}: a job was claimed by both workers: {claims:?}"
    );
    assert_eq!(
        distinct, enqueued,
        "{b}: every job was claimed exactly once"
    );
    assert_eq!(
        counts(&db.storage.job_counts().await.expect("counts")),
        [("bulk".to_string(), "done".to_string(), 50)],
        "{b}"
    );
}

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
    Session, Storage, StorageError, StorageResult, TeamChanges, User, UserChanges,
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
    an_enqueue_wakes_a_waiting_worker,
);

type Store = Arc<dyn Storage>;

// ---------------------------------------------------------------------------------------------------------
// Helpers

/// A fixed instant plus `seconds`.
fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).expect("a valid test time")
}

fn audit_ctx(kind: ActorKind, user_id: Option<i64>, label: &str, at: Timestamp) -> AuditContext {
    let origin = match kind {
        ActorKind::Cli => "root",
        _ => "10.0.0.7",
    };
    AuditContext {
        actor: Actor {
            kind,
            user_id,
            label: label.to_string(),
        },
        origin: Some(origin.to_string()),
        at,
    }
}

/// The command line on the server (origin `root`).
fn cli(seconds: i64) -> AuditContext {
    audit_ctx(ActorKind::Cli, None, "cli (root)", at(seconds))
}

/// A person in the browser (origin `10.0.0.7`).
fn as_user(user: &User, seconds: i64) -> AuditContext {
    audit_ctx(ActorKind::User, Some(user.id), &user.email, at(seconds))
}

fn new_user(email: &str, role: Role) -> NewUser {
    NewUser {
        email: email.to_string(),
        name: format!("Name of {email}"),
        role,
        password_hash: format!("hash-of-{email}"),
    }
}

async fn create_user(storage: &Store, email: &str, role: Role, seconds: i64) -> User {
    let ctx = cli(seconds);
    storage
        .create_user(&ctx, new_user(email, role))
        .await
        .expect("create user")
}

fn cursor(next: &Option<String>) -> Option<i64> {
    next.as_ref()
        .map(|cursor| cursor.parse().expect("cursors are ids"))
}

fn page(limit: u32, next: &Option<String>) -> PageRequest {
    PageRequest::new(limit, cursor(next))
}

/// Every audit record about one target, newest first.
async fn audit_of(storage: &Store, kind: &str, id: &str) -> Vec<AuditRecord> {
    let filter = AuditFilter {
        target_kind: Some(kind.to_string()),
        target_id: Some(id.to_string()),
        ..AuditFilter::default()
    };
    let records = storage
        .list_audit(&filter, PageRequest::new(500, None))
        .await;
    records.expect("list audit").items
}

fn actions(records: &[AuditRecord]) -> Vec<&str> {
    records
        .iter()
        .map(|record| record.action.as_str())
        .collect()
}

/// One field of an audit snapshot (`before` or `after`), or `None` when there is no snapshot.
fn field(snapshot: &Option<serde_json::Value>, name: &str) -> Option<serde_json::Value> {
    snapshot.as_ref().map(|value| value[name].clone())
}

fn is_conflict_on(err: &StorageError, wanted: Option<&str>) -> bool {
    matches!(err, StorageError::Conflict { field, .. } if *field == wanted)
}

fn is_not_found<T: std::fmt::Debug>(result: StorageResult<T>) -> bool {
    matches!(result, Err(StorageError::NotFound { .. }))
}

// ---------------------------------------------------------------------------------------------------------
// Schema

async fn migrate_is_idempotent_and_reports_the_schema(db: TestDb) {
    let (storage, b) = (&db.storage, db.backend);
    assert_eq!(storage.backend_name(), b.name());
    let status = storage.schema_status().await.expect("schema status");
    assert!(
        status.is_current(),
        "{b}: fresh schema is current: {status:?}"
    );
    assert!(status.binary_version >= 1);

    let again = storage.migrate().await.expect("second migrate");
    assert_eq!(again, status, "{b}: migrating twice changes nothing");
    assert_eq!(storage.migrate().await.expect("third migrate"), status);

    storage.ping().await.expect("ping");
    let pool = storage.pool_stats();
    assert!(pool.max_connections >= 1, "{b}: {pool:?}");
    assert!(pool.connections <= pool.max_connections, "{b}: {pool:?}");
    // The tables exist: an empty database answers.
    assert_eq!(storage.count_users().await.expect("count users"), 0);
}

async fn a_newer_schema_is_refused(db: TestDb) {
    let (storage, b) = (&db.storage, db.backend);
    let status = storage.schema_status().await.expect("schema status");
    let newer = "INSERT INTO schema_migrations (version, name, applied_at) \
                 VALUES (1000000, 'from the future', 0)";
    raw_execute(&db, newer)
        .await
        .expect("pretend a newer upkeep migrated this database");

    match storage.migrate().await {
        Err(StorageError::SchemaTooNew {
            database_version,
            binary_version,
        }) => {
            assert_eq!(database_version, 1_000_000, "{b}");
            assert_eq!(binary_version, status.binary_version, "{b}");
        }
        other => panic!("{b}: migrate on a newer schema must be refused, got {other:?}"),
    }
    let now = storage.schema_status().await.expect("schema status");
    assert_eq!(now.database_version, 1_000_000, "{b}");
    assert!(!now.is_current());
}

// ---------------------------------------------------------------------------------------------------------
// Users and the audit log

async fn users_story(db: TestDb) {
    let (storage, b) = (&db.storage, db.backend);
    assert_eq!(storage.count_users().await.expect("count"), 0);

    let emails = ["a@x.test", "b@x.test", "c@x.test", "d@x.test", "e@x.test"];
    let mut users = Vec::new();
    for (i, email) in (0..).zip(emails) {
        let role = if i == 0 { Role::Owner } else { Role::Viewer };
        let user = create_user(storage, email, role, i).await;
        assert_eq!(user.email, email);
        assert_eq!(user.name, format!("Name of {email}"));
        assert_eq!(user.role, role);
        assert!(!user.disabled);
        assert_eq!((user.created_at, user.updated_at), (at(i), at(i)));
        users.push(user);
    }
    assert_eq!(storage.count_users().await.expect("count"), 5);
    let owner = users[0].clone();
    let bea = users[1].clone();

    // The address is taken: a conflict naming the field, and nothing written.
    let err = storage
        .create_user(&cli(9), new_user("b@x.test", Role::Admin))
        .await;
    let err = err.expect_err("duplicate email");
    assert!(is_conflict_on(&err, Some("email")), "{b}: {err:?}");
    assert_eq!(storage.count_users().await.expect("count"), 5);

    assert_eq!(
        storage.user_by_id(bea.id).await.expect("by id"),
        Some(bea.clone())
    );
    assert_eq!(
        storage.user_by_email("b@x.test").await.expect("by email"),
        Some(bea.clone())
    );
    assert_eq!(
        storage
            .user_by_email("nobody@x.test")
            .await
            .expect("by email"),
        None
    );
    assert_eq!(storage.user_by_id(i64::MAX).await.expect("by id"), None);

    // Pagination: 2 + 2 + 1, oldest first, no cursor on the last page.
    let first = storage
        .list_users(PageRequest::new(2, None))
        .await
        .expect("page 1");
    assert_eq!(first.items, users[0..2], "{b}");
    assert_eq!(cursor(&first.next_cursor), Some(users[1].id));
    let second = storage
        .list_users(page(2, &first.next_cursor))
        .await
        .expect("page 2");
    assert_eq!(second.items, users[2..4], "{b}");
    assert_eq!(cursor(&second.next_cursor), Some(users[3].id));
    let third = storage
        .list_users(page(2, &second.next_cursor))
        .await
        .expect("page 3");
    assert_eq!(third.items, users[4..5], "{b}");
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
    let changes = UserChanges {
        name: Some("Bea".into()),
        role: Some(Role::Admin),
        disabled: None,
    };
    let updated = storage
        .update_user(&as_user(&owner, 100), bea.id, changes)
        .await;
    let updated = updated.expect("update user");
    assert_eq!((updated.name.as_str(), updated.role), ("Bea", Role::Admin));
    assert_eq!(updated.email, bea.email);
    assert!(!updated.disabled);
    assert_eq!(
        (updated.created_at, updated.updated_at),
        (bea.created_at, at(100))
    );
    assert_eq!(
        storage.user_by_id(bea.id).await.expect("by id"),
        Some(updated.clone())
    );
    let missing = storage
        .update_user(&cli(100), i64::MAX, UserChanges::default())
        .await;
    assert!(is_not_found(missing), "{b}");

    // Password hashes are kept apart from the record.
    let hash = storage.password_hash(bea.id).await.expect("hash");
    assert_eq!(hash.as_deref(), Some("hash-of-b@x.test"));
    let ctx = as_user(&owner, 110);
    storage
        .set_password_hash(&ctx, bea.id, "new-hash", None)
        .await
        .expect("set hash");
    let hash = storage.password_hash(bea.id).await.expect("hash");
    assert_eq!(hash.as_deref(), Some("new-hash"), "{b}");
    assert_eq!(storage.password_hash(i64::MAX).await.expect("hash"), None);
    let missing = storage
        .set_password_hash(&cli(110), i64::MAX, "x", None)
        .await;
    assert!(is_not_found(missing), "{b}");

    storage
        .delete_user(&as_user(&owner, 120), bea.id)
        .await
        .expect("delete user");
    assert_eq!(
        storage.user_by_id(bea.id).await.expect("by id"),
        None,
        "{b}"
    );
    assert_eq!(
        storage.user_by_email("b@x.test").await.expect("by email"),
        None
    );
    assert_eq!(storage.password_hash(bea.id).await.expect("hash"), None);
    assert_eq!(storage.count_users().await.expect("count"), 4);
    assert!(
        is_not_found(storage.delete_user(&cli(121), bea.id).await),
        "{b}"
    );

    // Every change left its record, newest first, in the change's own words.
    let records = audit_of(storage, "user", &bea.id.to_string()).await;
    let expected = [
        "user.delete",
        "user.password_change",
        "user.update",
        "user.create",
    ];
    assert_eq!(actions(&records), expected, "{b}");
    let [delete, password, update, create] = &records[..] else {
        unreachable!("four records")
    };
    assert!(delete.id > password.id && password.id > update.id && update.id > create.id);

    assert_eq!(
        (create.actor_kind.as_str(), create.actor_label.as_str()),
        ("cli", "cli (root)")
    );
    assert_eq!(
        (create.actor_user_id, create.origin.as_deref()),
        (None, Some("root"))
    );
    assert_eq!((create.at, create.target_kind.as_str()), (at(1), "user"));
    assert_eq!(create.before, None, "{b}");
    assert_eq!(
        field(&create.after, "email"),
        Some(json!("b@x.test")),
        "{b}"
    );
    assert_eq!(field(&create.after, "role"), Some(json!("viewer")));
    let after = create.after.as_ref().expect("an after snapshot");
    assert!(
        after.get("password_hash").is_none(),
        "{b}: no password hash in audit snapshots"
    );

    assert_eq!(
        (update.actor_kind.as_str(), update.actor_label.as_str()),
        ("user", "a@x.test")
    );
    assert_eq!(update.actor_user_id, Some(owner.id));
    assert_eq!(update.origin.as_deref(), Some("10.0.0.7"));
    assert_eq!(update.at, at(100));
    assert_eq!(
        field(&update.before, "name"),
        Some(json!("Name of b@x.test")),
        "{b}"
    );
    assert_eq!(field(&update.after, "name"), Some(json!("Bea")), "{b}");
    assert_eq!(field(&update.after, "role"), Some(json!("admin")));

    assert_eq!(
        (&password.before, &password.after),
        (&None, &None),
        "{b}: no snapshot"
    );
    assert_eq!(password.at, at(110));

    assert_eq!(field(&delete.before, "name"), Some(json!("Bea")), "{b}");
    assert_eq!((&delete.after, delete.at), (&None, at(120)));

    // The refused duplicate wrote nothing.
    let creates = AuditFilter {
        action_prefix: Some("user.create".into()),
        ..AuditFilter::default()
    };
    let creates = storage
        .list_audit(&creates, PageRequest::new(500, None))
        .await;
    assert_eq!(
        creates.expect("list").items.len(),
        5,
        "{b}: one record per created user"
    );
}

async fn audit_log_lists_newest_first_with_filters(db: TestDb) {
    let (storage, b) = (&db.storage, db.backend);
    let alice = create_user(storage, "alice@x.test", Role::Owner, 0).await;
    let appended = [
        ("monitor.create", "monitor", "1"),
        ("monitor.update", "monitor", "1"),
        ("monitor.create", "monitor", "2"),
        ("login.lockout", "user", "alice@x.test"),
    ];
    for (i, (action, kind, id)) in (0..).zip(appended) {
        let ctx = as_user(&alice, 10 + i);
        let before = Some(json!({ "i": i }));
        let appended = storage
            .append_audit(&ctx, action, kind, id, before, None)
            .await;
        appended.expect("append audit");
    }
    // One record by someone else.
    let after = Some(json!([1, 2]));
    let ctx = cli(20);
    let appended = storage.append_audit(&ctx, "monitor.delete", "monitor", "2", None, after);
    appended.await.expect("append audit");

    let all = AuditFilter::default();
    let everything = storage
        .list_audit(&all, PageRequest::new(500, None))
        .await
        .expect("all");
    let expected = [
        "monitor.delete",
        "login.lockout",
        "monitor.create",
        "monitor.update",
        "monitor.create",
        "user.create",
    ];
    assert_eq!(actions(&everything.items), expected, "{b}: newest first");
    assert!(
        everything
            .items
            .windows(2)
            .all(|pair| pair[0].id > pair[1].id)
    );
    assert_eq!(
        everything.items[0].after,
        Some(json!([1, 2])),
        "{b}: snapshots round-trip"
    );
    assert_eq!(everything.items[1].before, Some(json!({ "i": 3 })));
    assert_eq!(everything.items[1].actor_user_id, Some(alice.id));
    assert_eq!(everything.items[1].at, at(13));

    // Pages of two, newest first, continuing below the cursor.
    let mut seen = Vec::new();
    let mut next = None;
    loop {
        let page = storage
            .list_audit(&all, page(2, &next))
            .await
            .expect("page");
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|record| record.id));
        next = page.next_cursor;
        if next.is_none() {
            break;
        }
    }
    let ids: Vec<i64> = everything.items.iter().map(|record| record.id).collect();
    assert_eq!(seen, ids, "{b}: pages add up to the whole log");

    let filtered = async |filter: AuditFilter| -> Vec<String> {
        let page = storage
            .list_audit(&filter, PageRequest::new(500, None))
            .await;
        let items = page.expect("filtered").items;
        let describe = |r: &AuditRecord| format!("{} {}:{}", r.action, r.target_kind, r.target_id);
        items.iter().map(describe).collect()
    };
    let monitors = filtered(AuditFilter {
        action_prefix: Some("monitor.".into()),
        ..AuditFilter::default()
    });
    let expected = [
        "monitor.delete monitor:2",
        "monitor.create monitor:2",
        "monitor.update monitor:1",
        "monitor.create monitor:1",
    ];
    assert_eq!(monitors.await, expected, "{b}: action prefix");
    let combined = filtered(AuditFilter {
        action_prefix: Some("monitor.create".into()),
        target_id: Some("2".into()),
        ..AuditFilter::default()
    });
    assert_eq!(
        combined.await,
        ["monitor.create monitor:2"],
        "{b}: filters combine"
    );
    let users = filtered(AuditFilter {
        target_kind: Some("user".into()),
        ..AuditFilter::default()
    });
    let expected = [
        "login.lockout user:alice@x.test".to_string(),
        format!("user.create user:{}", alice.id),
    ];
    assert_eq!(users.await, expected, "{b}: target kind");
    let by_alice = filtered(AuditFilter {
        actor_user_id: Some(alice.id),
        ..AuditFilter::default()
    });
    assert_eq!(by_alice.await.len(), 4, "{b}: actor");
    let none = filtered(AuditFilter {
        action_prefix: Some("incident.".into()),
        ..AuditFilter::default()
    });
    assert!(none.await.is_empty(), "{b}");
}

async fn audit_log_is_append_only(db: TestDb) {
    let (storage, b) = (&db.storage, db.backend);
    let user = create_user(storage, "x@x.test", Role::Owner, 0).await;
    let target = user.id.to_string();
    let before = audit_of(storage, "user", &target).await;
    assert_eq!(actions(&before), ["user.create"]);

    let forged = "UPDATE audit_log SET action = 'forged', actor_label = 'nobody'";
    let err = raw_execute(&db, forged)
        .await
        .expect_err("updating the audit log must fail");
    assert!(err.contains("append-only"), "{b}: {err}");
    let err = raw_execute(&db, "DELETE FROM audit_log").await;
    let err = err.expect_err("deleting from the audit log must fail");
    assert!(err.contains("append-only"), "{b}: {err}");

    assert_eq!(
        audit_of(storage, "user", &target).await,
        before,
        "{b}: untouched"
    );
    // Appending still works.
    let ctx = cli(1);
    let appended = storage.append_audit(&ctx, "user.note", "user", &target, None, None);
    appended.await.expect("append");
    let now = audit_of(storage, "user", &target).await;
    assert_eq!(actions(&now), ["user.note", "user.create"], "{b}");
}

// ---------------------------------------------------------------------------------------------------------
// Setup, sessions, tokens, login throttling

async fn setup_creates_the_owner_exactly_once(db: TestDb) {
    let (storage, b) = (&db.storage, db.backend);
    let system = audit_ctx(ActorKind::System, None, "setup", at(5));
    let valid = async |hash: &str| storage.setup_token_valid(hash).await.expect("valid");
    let complete = async |hash: &str, email: &str| {
        let owner = new_user(email, Role::Owner);
        storage
            .complete_setup(&system, hash, owner)
            .await
            .expect("complete setup")
    };

    assert!(!valid("first").await, "{b}: no token yet");
    storage
        .replace_setup_token("first", at(0))
        .await
        .expect("replace");
    assert!(valid("first").await, "{b}");
    assert!(!valid("other").await);

    // Replacing invalidates the old token.
    storage
        .replace_setup_token("second", at(1))
        .await
        .expect("replace");
    assert!(!valid("first").await, "{b}: only one token at a time");
    assert!(valid("second").await);

    assert_eq!(
        complete("first", "owner@x.test").await,
        None,
        "{b}: replaced token"
    );
    assert_eq!(
        complete("wrong", "owner@x.test").await,
        None,
        "{b}: wrong token"
    );
    assert_eq!(storage.count_users().await.expect("count"), 0);
    assert!(valid("second").await, "{b}: failed attempts keep the token");

    let owner = complete("second", "owner@x.test").await;
    let owner = owner.expect("the right token creates the owner");
    assert_eq!(
        (owner.email.as_str(), owner.role),
        ("owner@x.test", Role::Owner)
    );
    assert_eq!(owner.created_at, at(5));
    assert_eq!(storage.count_users().await.expect("count"), 1);
    assert!(!valid("second").await, "{b}: the token is used up");

    assert_eq!(
        complete("second", "intruder@x.test").await,
        None,
        "{b}: works once"
    );
    assert_eq!(storage.count_users().await.expect("count"), 1);

    // A new token once a user exists is not valid and creates nobody.
    storage
        .replace_setup_token("third", at(10))
        .await
        .expect("replace");
    assert!(
        !valid("third").await,
        "{b}: setup is over once a user exists"
    );
    assert_eq!(complete("third", "late@x.test").await, None, "{b}");
    assert_eq!(storage.count_users().await.expect("count"), 1);

    let records = audit_of(storage, "user", &owner.id.to_string()).await;
    assert_eq!(actions(&records), ["user.create"], "{b}");
    assert_eq!(
        (
            records[0].actor_kind.as_str(),
            records[0].actor_label.as_str()
        ),
        ("system", "setup")
    );
}

async fn login(storage: &Store, user: &User, hash: &str, seconds: i64, expires: i64) -> Session {
    let session = NewSession {
        token_hash: hash.to_string(),
        user_id: user.id,
        csrf_token: format!("csrf-{hash}"),
        expires_at: at(expires),
        user_agent: Some("test-browser".into()),
    };
    let created = storage
        .create_session(&as_user(user, seconds), session)
        .await;
    created.expect("create session")
}

/// Whether the session with this hash is accepted at `seconds`.
async fn live(storage: &Store, hash: &str, seconds: i64) -> bool {
    let found = storage.session_by_token_hash(hash, at(seconds)).await;
    found.expect("session lookup").is_some()
}

async fn sessions_story(db: TestDb) {
    let (storage, b) = (&db.storage, db.backend);
    let ann = create_user(storage, "ann@x.test", Role::Admin, 0).await;
    let bob = create_user(storage, "bob@x.test", Role::Viewer, 0).await;

    let session = login(storage, &ann, "s1", 10, 3600).await;
    assert_eq!(
        (session.user_id, session.csrf_token.as_str()),
        (ann.id, "csrf-s1")
    );
    assert_eq!((session.created_at, session.expires_at), (at(10), at(3600)));

    let found = storage
        .session_by_token_hash("s1", at(20))
        .await
        .expect("lookup");
    let (found, user) = found.expect("a live session is found");
    assert_eq!(
        (found.id, found.csrf_token.as_str()),
        (session.id, "csrf-s1"),
        "{b}"
    );
    assert_eq!(
        (found.created_at, found.expires_at),
        (at(10), at(3600)),
        "{b}"
    );
    assert_eq!(user, ann, "{b}");
    assert!(live(storage, "s1", 3599).await, "{b}");
    assert!(
        !live(storage, "s1", 3600).await,
        "{b}: expired at expires_at"
    );
    assert!(!live(storage, "nope", 20).await, "{b}");

    // Expired sessions are swept; live ones stay.
    login(storage, &bob, "short", 10, 60).await;
    assert_eq!(
        storage
            .delete_expired_sessions(at(59))
            .await
            .expect("sweep"),
        0,
        "{b}"
    );
    assert_eq!(
        storage
            .delete_expired_sessions(at(61))
            .await
            .expect("sweep"),
        1,
        "{b}"
    );
    assert!(!live(storage, "short", 30).await, "{b}: swept for good");
    assert!(live(storage, "s1", 61).await, "{b}");

    // Logging out.
    storage
        .delete_session(&as_user(&ann, 70), session.id)
        .await
        .expect("logout");
    assert!(!live(storage, "s1", 71).await, "{b}");
    let records = audit_of(storage, "user", &ann.id.to_string()).await;
    assert_eq!(
        actions(&records),
        ["user.logout", "user.login", "user.create"],
        "{b}"
    );
    assert_eq!((records[0].at, records[1].at), (at(70), at(10)));

    // A password change ends every other session.
    let keep = login(storage, &bob, "keep", 100, 9000).await;
    login(storage, &bob, "other", 100, 9000).await;
    let ctx = as_user(&bob, 110);
    let changed = storage.set_password_hash(&ctx, bob.id, "h", Some(keep.id));
    changed.await.expect("change password");
    assert!(
        live(storage, "keep", 120).await,
        "{b}: the current session stays"
    );
    assert!(
        !live(storage, "other", 120).await,
        "{b}: other sessions end"
    );

    // Disabling a user ends their sessions, and a disabled user's session is never accepted.
    login(storage, &bob, "more", 130, 9000).await;
    let disable = |disabled| UserChanges {
        disabled: Some(disabled),
        ..UserChanges::default()
    };
    let disabled = storage
        .update_user(&as_user(&ann, 140), bob.id, disable(true))
        .await;
    assert!(disabled.expect("disable").disabled);
    assert!(!live(storage, "keep", 150).await, "{b}: ended by disabling");
    assert!(!live(storage, "more", 150).await, "{b}: ended by disabling");
    login(storage, &bob, "while-disabled", 160, 9000).await;
    assert!(
        !live(storage, "while-disabled", 170).await,
        "{b}: disabled users are refused"
    );
    let enabled = storage
        .update_user(&as_user(&ann, 180), bob.id, disable(false))
        .await;
    assert!(!enabled.expect("enable").disabled);
    assert!(
        !live(storage, "keep", 190).await,
        "{b}: re-enabling revives no ended session"
    );

    // Deleting a user removes their sessions.
    login(storage, &ann, "last", 200, 9000).await;
    storage
        .delete_user(&cli(210), ann.id)
        .await
        .expect("delete");
    assert!(!live(storage, "last", 220).await, "{b}");
}

async fn create_token(
    storage: &Store,
    user: &User,
    name: &str,
    scope: Scope,
    expires: Option<i64>,
) -> upkeep_storage::ApiToken {
    let token = NewToken {
        user_id: user.id,
        name: name.to_string(),
        prefix: format!("upk_{name}"),
        token_hash: format!("hash-{name}"),
        scope,
        expires_at: expires.map(at),
    };
    let created = storage.create_token(&as_user(user, 10), token).await;
    created.expect("create token")
}

async fn tokens_story(db: TestDb) {
    let (storage, b) = (&db.storage, db.backend);
    let ann = create_user(storage, "ann@x.test", Role::Admin, 0).await;
    let bob = create_user(storage, "bob@x.test", Role::Viewer, 0).await;

    let ci = create_token(storage, &ann, "ci", Scope::Write, None).await;
    assert_eq!((ci.user_id, ci.user_email.as_str()), (ann.id, "ann@x.test"));
    assert_eq!(
        (ci.name.as_str(), ci.prefix.as_str(), ci.scope),
        ("ci", "upk_ci", Scope::Write)
    );
    assert_eq!(ci.created_at, at(10));
    assert_eq!(
        (ci.expires_at, ci.revoked_at, ci.last_used_at),
        (None, None, None)
    );
    assert!(ci.is_usable_at(at(1_000_000)));

    let short = create_token(storage, &ann, "short", Scope::Read, Some(100)).await;
    let bobs = create_token(storage, &bob, "bobs", Scope::Admin, None).await;
    assert_eq!(short.expires_at, Some(at(100)), "{b}");
    assert!(short.is_usable_at(at(99)));
    assert!(
        !short.is_usable_at(at(100)),
        "{b}: an expired token is not usable"
    );

    let found = storage.token_by_hash("hash-ci").await.expect("by hash");
    assert_eq!(found, Some((ci.clone(), ann.clone())), "{b}");
    let found = storage.token_by_hash("hash-bobs").await.expect("by hash");
    assert_eq!(found, Some((bobs.clone(), bob.clone())), "{b}");
    assert_eq!(
        storage.token_by_hash("hash-nope").await.expect("by hash"),
        None
    );
    assert_eq!(
        storage.token_by_id(short.id).await.expect("by id"),
        Some(short.clone())
    );
    assert_eq!(storage.token_by_id(i64::MAX).await.expect("by id"), None);

    // Per user and for everyone, oldest first, paginated.
    let anns = storage
        .list_tokens(Some(ann.id), PageRequest::new(50, None))
        .await;
    let anns = anns.expect("list");
    assert_eq!(anns.items, [ci.clone(), short.clone()], "{b}");
    assert_eq!(anns.next_cursor, None);
    let all = storage
        .list_tokens(None, PageRequest::new(2, None))
        .await
        .expect("list");
    assert_eq!(all.items, [ci.clone(), short.clone()], "{b}");
    let rest = storage
        .list_tokens(None, page(2, &all.next_cursor))
        .await
        .expect("list");
    assert_eq!(rest.items, std::slice::from_ref(&bobs), "{b}");
    assert_eq!(rest.next_cursor, None);

    // Revoking stamps the first revocation time and makes the token unusable.
    let revoked = storage
        .revoke_token(&as_user(&ann, 50), ci.id)
        .await
        .expect("revoke");
    assert_eq!(revoked.revoked_at, Some(at(50)), "{b}");
    assert!(!revoked.is_usable_at(at(51)), "{b}");
    let again = storage
        .revoke_token(&as_user(&ann, 60), ci.id)
        .await
        .expect("revoke");
    assert_eq!(
        again.revoked_at,
        Some(at(50)),
        "{b}: revoking twice keeps the first time"
    );
    let found = storage.token_by_hash("hash-ci").await.expect("by hash");
    let (found, _) = found.expect("a revoked token is still found");
    assert_eq!(found.revoked_at, Some(at(50)), "{b}");
    assert!(
        is_not_found(storage.revoke_token(&cli(60), i64::MAX).await),
        "{b}"
    );

    storage
        .mark_token_used(short.id, at(70))
        .await
        .expect("mark used");
    let used = storage.token_by_id(short.id).await.expect("by id");
    assert_eq!(
        used.and_then(|token| token.last_used_at),
        Some(at(70)),
        "{b}"
    );

    let records = audit_of(storage, "token", &ci.id.to_string()).await;
    assert_eq!(
        actions(&records),
        ["token.revoke", "token.revoke", "token.create"],
        "{b}"
    );
    let first_revoke = &records[1];
    assert_eq!(
        field(&first_revoke.before, "revoked_at"),
        Some(json!(null)),
        "{b}"
    );
    assert_ne!(
        field(&first_revoke.after, "revoked_at"),
        Some(json!(null)),
        "{b}"
    );
    assert!(first_revoke.after.is_some());
    assert_eq!(records[2].before, None);
    assert_eq!(field(&records[2].after, "name"), Some(json!("ci")), "{b}");
    let snapshot = records[2].after.as_ref().expect("a snapshot");
    assert!(
        snapshot.get("token_hash").is_none(),
        "{b}: no secret hash in audit snapshots"
    );

    // A deleted user's tokens go with them.
    storage
        .delete_user(&cli(80), bob.id)
        .await
        .expect("delete bob");
    assert_eq!(
        storage.token_by_id(bobs.id).await.expect("by id"),
        None,
        "{b}"
    );
    assert_eq!(
        storage.token_by_hash("hash-bobs").await.expect("by hash"),
        None
    );
}

async fn login_failures_story(db: TestDb) {
    let (storage, b) = (&db.storage, db.backend);
    let key = "account:ann@x.test";
    let window = 900;
    // Each failure in the window counts, with the window starting `window` seconds before it.
    let fail = async |key: &str, second: i64| {
        let counted = storage.record_login_failure(key, at(second), at(second - window));
        counted.await.expect("record failure")
    };
    let count = async |key: &str, window_start: i64| {
        storage
            .login_failures(key, at(window_start))
            .await
            .expect("failures")
    };

    assert_eq!(fail(key, 0).await, 1, "{b}");
    assert_eq!(fail(key, 10).await, 2, "{b}");
    assert_eq!(fail(key, 20).await, 3, "{b}");
    assert_eq!(count(key, 20 - window).await, 3, "{b}");
    assert_eq!(count("addr:10.0.0.1", 20 - window).await, 0, "{b}");
    // A window that starts at the last failure sees none.
    assert_eq!(count(key, 20).await, 0, "{b}");

    // Once the window has passed, counting starts anew.
    assert_eq!(fail(key, 2000).await, 1, "{b}: the window passed");
    assert_eq!(fail(key, 2001).await, 2, "{b}");
    assert_eq!(count(key, 2001 - window).await, 2, "{b}");

    // Keys are independent; clearing one leaves the other.
    assert_eq!(fail("addr:10.0.0.1", 2001).await, 1);
    storage.clear_login_failures(key).await.expect("clear");
    assert_eq!(count(key, 0).await, 0, "{b}");
    assert_eq!(count("addr:10.0.0.1", 0).await, 1, "{b}");
    storage
        .clear_login_failures("never-failed")
        .await
        .expect("clear an unknown key");
    assert_eq!(
        fail(key, 2002).await,
        1,
        "{b}: a cleared key starts from one"
    );
}

// ---------------------------------------------------------------------------------------------------------
// Teams and services

fn new_team(slug: &str, name: &str, description: &str) -> NewTeam {
    NewTeam {
        slug: slug.into(),
        name: name.into(),
        description: description.into(),
    }
}

fn new_service(slug: &str, team_id: Option<i64>, depends_on: Vec<i64>) -> NewService {
    NewService {
        slug: slug.to_string(),
        name: format!("The {slug}"),
        description: format!("What {slug} does"),
        team_id,
        links: vec![ServiceLink {
            title: "Repository".into(),
            url: format!("https://git.x.test/{slug}"),
        }],
        depends_on,
        ping_key: format!("key-{slug}"),
    }
}

async fn teams_and_services_story(db: TestDb) {
    let (storage, b) = (&db.storage, db.backend);

    // Teams.
    let payments = storage
        .create_team(&cli(0), new_team("payments", "Payments", "Money in"))
        .await;
    let payments = payments.expect("create team");
    assert_eq!(
        (payments.slug.as_str(), payments.name.as_str()),
        ("payments", "Payments")
    );
    assert_eq!((payments.created_at, payments.updated_at), (at(0), at(0)));
    let search = storage
        .create_team(&cli(1), new_team("search", "Search", ""))
        .await;
    let search = search.expect("create team");
    let taken = storage
        .create_team(&cli(2), new_team("payments", "Other", ""))
        .await;
    let err = taken.expect_err("duplicate team slug");
    assert!(is_conflict_on(&err, Some("slug")), "{b}: {err:?}");
    let found = storage.team_by_slug("payments").await.expect("by slug");
    assert_eq!(found, Some(payments.clone()), "{b}");
    assert_eq!(storage.team_by_slug("nope").await.expect("by slug"), None);
    let teams = storage
        .list_teams(PageRequest::new(1, None))
        .await
        .expect("teams");
    assert_eq!(teams.items, std::slice::from_ref(&payments), "{b}");
    let teams = storage
        .list_teams(page(1, &teams.next_cursor))
        .await
        .expect("teams");
    assert_eq!(teams.items, std::slice::from_ref(&search), "{b}");
    assert_eq!(teams.next_cursor, None, "{b}");

    let rename = TeamChanges {
        name: Some("Payments & Billing".into()),
        description: None,
    };
    let renamed = storage.update_team(&cli(5), payments.id, rename).await;
    let renamed = renamed.expect("update team");
    assert_eq!(renamed.name, "Payments & Billing", "{b}");
    assert_eq!(renamed.description, "Money in", "{b}");
    assert_eq!((renamed.created_at, renamed.updated_at), (at(0), at(5)));
    let missing = storage
        .update_team(&cli(5), i64::MAX, TeamChanges::default())
        .await;
    assert!(is_not_found(missing), "{b}");

    // Services and their dependencies.
    let create = async |seconds: i64, service: NewService| {
        storage.create_service(&cli(seconds), service).await
    };
    let db_svc = create(10, new_service("db", Some(payments.id), vec![]))
        .await
        .expect("svc");
    assert_eq!(db_svc.team_id, Some(payments.id), "{b}");
    assert_eq!(db_svc.team_slug.as_deref(), Some("payments"), "{b}");
    assert_eq!(db_svc.links[0].url, "https://git.x.test/db");
    assert!(db_svc.depends_on.is_empty());
    assert_eq!(db_svc.created_at, at(10));
    let cache = create(11, new_service("cache", None, vec![]))
        .await
        .expect("svc");
    assert_eq!(
        (cache.team_id, cache.team_slug.clone()),
        (None, None),
        "{b}"
    );
    let auth_db = create(12, new_service("auth-db", None, vec![]))
        .await
        .expect("svc");
    let deps = vec![db_svc.id, cache.id, auth_db.id];
    let api = create(13, new_service("api", Some(payments.id), deps))
        .await
        .expect("svc");
    assert_eq!(
        api.depends_on,
        ["auth-db", "cache", "db"],
        "{b}: sorted dependency slugs"
    );
    let taken = create(14, new_service("cache", None, vec![])).await;
    let err = taken.expect_err("duplicate service slug");
    assert!(is_conflict_on(&err, Some("slug")), "{b}: {err:?}");

    assert_eq!(
        storage.service_by_slug("api").await.expect("by slug"),
        Some(api.clone())
    );
    assert_eq!(
        storage.service_by_id(api.id).await.expect("by id"),
        Some(api.clone())
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
    let expected = [db_svc.clone(), cache.clone(), auth_db.clone(), api.clone()];
    assert_eq!(all.items, expected, "{b}: oldest first");
    let owned = storage
        .list_services(Some(payments.id), PageRequest::new(1, None))
        .await;
    let owned = owned.expect("list");
    assert_eq!(owned.items, std::slice::from_ref(&db_svc), "{b}");
    let owned = storage
        .list_services(Some(payments.id), page(1, &owned.next_cursor))
        .await;
    let owned = owned.expect("list");
    assert_eq!(
        owned.items,
        std::slice::from_ref(&api),
        "{b}: one team's services"
    );
    assert_eq!(owned.next_cursor, None);
    let none = storage
        .list_services(Some(search.id), PageRequest::default())
        .await;
    assert!(none.expect("list").items.is_empty(), "{b}");

    let mut edges = storage.dependency_edges().await.expect("edges");
    edges.sort_unstable();
    let expected = vec![
        (api.id, db_svc.id),
        (api.id, cache.id),
        (api.id, auth_db.id),
    ];
    assert_eq!(edges, expected, "{b}");

    // Deletion is refused while something still needs the row.
    let refused = storage.delete_service(&cli(20), db_svc.id).await;
    let err = refused.expect_err("api depends on db");
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
            .is_some(),
        "{b}"
    );
    let refused = storage.delete_team(&cli(20), payments.id).await;
    let err = refused.expect_err("payments owns services");
    assert!(is_conflict_on(&err, None), "{b}: {err:?}");
    assert!(
        storage
            .team_by_slug("payments")
            .await
            .expect("by slug")
            .is_some(),
        "{b}"
    );

    // Updating: an empty change set changes nothing but the time; `Some(None)` removes the team.
    let noop = storage
        .update_service(&cli(30), api.id, ServiceChanges::default())
        .await;
    let noop = noop.expect("noop update");
    assert_eq!(
        (noop.name.as_str(), noop.team_id),
        (api.name.as_str(), api.team_id),
        "{b}"
    );
    assert_eq!(
        (&noop.depends_on, &noop.links),
        (&api.depends_on, &api.links),
        "{b}"
    );
    assert_eq!(noop.updated_at, at(30));
    let changes = ServiceChanges {
        name: Some("Public API".into()),
        team_id: Some(None),
        links: Some(vec![]),
        depends_on: Some(vec![cache.id]),
        ..ServiceChanges::default()
    };
    let moved = storage
        .update_service(&cli(31), api.id, changes)
        .await
        .expect("update");
    assert_eq!(moved.name, "Public API", "{b}");
    assert_eq!(moved.description, api.description, "{b}");
    assert_eq!(
        (moved.team_id, moved.team_slug.clone()),
        (None, None),
        "{b}: team removed"
    );
    assert!(moved.links.is_empty(), "{b}");
    assert_eq!(moved.depends_on, ["cache"], "{b}: dependencies replaced");
    assert_eq!(
        (moved.created_at, moved.updated_at),
        (api.created_at, at(31))
    );
    let to_search = ServiceChanges {
        team_id: Some(Some(search.id)),
        ..ServiceChanges::default()
    };
    let to_search = storage.update_service(&cli(32), cache.id, to_search).await;
    assert_eq!(
        to_search.expect("update").team_slug.as_deref(),
        Some("search"),
        "{b}"
    );
    let missing = storage
        .update_service(&cli(32), i64::MAX, ServiceChanges::default())
        .await;
    assert!(is_not_found(missing), "{b}");
    let edges = storage.dependency_edges().await.expect("edges");
    assert_eq!(edges, [(api.id, cache.id)], "{b}");

    // Now nothing depends on db: it can go, then payments owns nothing and can go too.
    storage
        .delete_service(&cli(40), db_svc.id)
        .await
        .expect("delete db");
    assert_eq!(
        storage.service_by_slug("db").await.expect("by slug"),
        None,
        "{b}"
    );
    storage
        .delete_team(&cli(41), payments.id)
        .await
        .expect("delete payments");
    assert_eq!(
        storage.team_by_slug("payments").await.expect("by slug"),
        None,
        "{b}"
    );
    // Deleting a service takes its own dependency edges with it.
    storage
        .delete_service(&cli(42), api.id)
        .await
        .expect("delete api");
    assert!(
        storage.dependency_edges().await.expect("edges").is_empty(),
        "{b}"
    );
    assert!(
        is_not_found(storage.delete_service(&cli(43), api.id).await),
        "{b}"
    );
    assert!(
        is_not_found(storage.delete_team(&cli(43), payments.id).await),
        "{b}"
    );

    // The audit trail names teams and services by slug.
    let records = audit_of(storage, "team", "payments").await;
    assert_eq!(
        actions(&records),
        ["team.delete", "team.update", "team.create"],
        "{b}"
    );
    assert_eq!(
        field(&records[1].before, "name"),
        Some(json!("Payments")),
        "{b}"
    );
    assert_eq!(
        field(&records[1].after, "name"),
        Some(json!("Payments & Billing")),
        "{b}"
    );
    let records = audit_of(storage, "service", "api").await;
    let expected = [
        "service.delete",
        "service.update",
        "service.update",
        "service.create",
    ];
    assert_eq!(actions(&records), expected, "{b}");
    assert_eq!(
        (&records[0].after, &records[3].before),
        (&None, &None),
        "{b}"
    );
    let created_deps = field(&records[3].after, "depends_on");
    assert_eq!(created_deps, Some(json!(["auth-db", "cache", "db"])), "{b}");
    assert_eq!(
        field(&records[1].after, "team_id"),
        Some(json!(null)),
        "{b}"
    );
    assert_eq!(
        field(&records[1].before, "team_slug"),
        Some(json!("payments")),
        "{b}"
    );
}

// ---------------------------------------------------------------------------------------------------------
// Jobs

const LEASE: Duration = Duration::from_secs(30);

async fn enqueue(storage: &Store, kind: &str, run_at: i64, dedup_key: Option<&str>) -> Option<i64> {
    let job = NewJob {
        kind: kind.to_string(),
        payload: json!({ "kind": kind, "n": 1 }),
        run_at: at(run_at),
        max_attempts: 3,
        dedup_key: dedup_key.map(str::to_string),
    };
    storage.enqueue_job(job).await.expect("enqueue")
}

/// Claim for `worker` at `seconds` with [`LEASE`]; `(id, attempt)` pairs, by id.
async fn claim(storage: &Store, worker: &str, seconds: i64, limit: u32) -> Vec<(i64, i32)> {
    let claimed = storage.claim_jobs(worker, at(seconds), LEASE, limit).await;
    let mut claimed: Vec<_> = claimed
        .expect("claim")
        .iter()
        .map(|j| (j.id, j.attempt))
        .collect();
    claimed.sort_unstable();
    claimed
}

fn counts(list: &[JobCount]) -> Vec<(&str, &str, i64)> {
    list.iter()
        .map(|c| (c.kind.as_str(), c.status.as_str(), c.count))
        .collect()
}

async fn jobs_story(db: TestDb) {
    let (storage, b) = (&db.storage, db.backend);
    let complete = async |id: i64, attempt: i32, seconds: i64| {
        storage
            .complete_job(id, attempt, at(seconds))
            .await
            .expect("complete")
    };
    let fail = async |id: i64, attempt: i32, retry_at: Option<i64>, seconds: i64| {
        let failed = storage.fail_job(id, attempt, "boom", retry_at.map(at), at(seconds));
        failed.await.expect("fail")
    };

    let email = enqueue(storage, "email", 0, None).await.expect("an id");
    let report = enqueue(storage, "report", 100, Some("daily"))
        .await
        .expect("an id");
    assert_ne!(email, report);
    let duplicate = enqueue(storage, "report", 100, Some("daily")).await;
    assert_eq!(
        duplicate, None,
        "{b}: a queued job with the same dedup key exists"
    );

    // Only due jobs are claimed; each claim is attempt + 1.
    let claimed = storage
        .claim_jobs("w1", at(0), LEASE, 10)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1, "{b}: only email is due: {claimed:?}");
    let job = &claimed[0];
    assert_eq!(
        (job.id, job.kind.as_str(), job.attempt, job.max_attempts),
        (email, "email", 1, 3)
    );
    assert_eq!(job.payload, json!({ "kind": "email", "n": 1 }), "{b}");
    assert_eq!(job.run_at, at(0));
    assert_eq!(
        claim(storage, "w2", 29, 10).await,
        [],
        "{b}: leased until 30"
    );

    // The lease ran out: another worker takes it over with a new attempt; the old attempt is stale.
    assert_eq!(
        claim(storage, "w2", 30, 10).await,
        [(email, 2)],
        "{b}: lease expired"
    );
    assert!(!complete(email, 1, 31).await, "{b}: stale attempt");
    assert!(!fail(email, 1, None, 31).await, "{b}: stale attempt");
    assert!(complete(email, 2, 32).await, "{b}");
    assert!(!complete(email, 2, 33).await, "{b}: done already");
    assert_eq!(
        claim(storage, "w1", 99, 10).await,
        [],
        "{b}: done stays done"
    );

    // Once the deduplicated job runs, the same key may be queued again.
    assert_eq!(claim(storage, "w1", 100, 10).await, [(report, 1)], "{b}");
    let next_report = enqueue(storage, "report", 1000, Some("daily")).await;
    let next_report = next_report.expect("the key is free once the first job runs");

    // Failures: retry later, then give up. The retry is requeued even though a newer job with its
    // dedup key is queued (deduplication is about enqueueing, not retries), and that newer job still
    // keeps further duplicates out.
    assert!(
        fail(report, 1, Some(200), 101).await,
        "{b}: requeued next to a queued duplicate"
    );
    let duplicate = enqueue(storage, "report", 100, Some("daily")).await;
    assert_eq!(
        duplicate, None,
        "{b}: the queued duplicate still holds the key"
    );
    assert_eq!(
        claim(storage, "w1", 199, 10).await,
        [],
        "{b}: retry not due yet"
    );
    let retried = storage
        .claim_jobs("w1", at(200), LEASE, 10)
        .await
        .expect("claim");
    let retried: Vec<_> = retried
        .iter()
        .map(|j| (j.id, j.attempt, j.run_at))
        .collect();
    assert_eq!(
        retried,
        [(report, 2, at(200))],
        "{b}: requeued at the retry time"
    );
    assert!(fail(report, 2, None, 201).await, "{b}");
    assert!(!complete(report, 2, 202).await, "{b}: failed for good");
    let later = claim(storage, "w1", 5000, 10).await;
    assert_eq!(later, [(next_report, 1)], "{b}: failed jobs stay failed");

    // A batch takes the earliest due jobs, up to the limit.
    let last = enqueue(storage, "email", 400, None).await.expect("an id");
    let first = enqueue(storage, "email", 300, None).await.expect("an id");
    enqueue(storage, "email", 500, None).await.expect("an id");
    let batch = claim(storage, "w3", 600, 2).await;
    let mut expected = [(first, 1), (last, 1)];
    expected.sort_unstable();
    assert_eq!(batch, expected, "{b}: the two earliest");

    let expected = [
        ("email", "done", 1),
        ("email", "queued", 1),
        ("email", "running", 2),
        ("report", "failed", 1),
        ("report", "running", 1),
    ];
    assert_eq!(
        counts(&storage.job_counts().await.expect("counts")),
        expected,
        "{b}"
    );

    // Pruning removes finished jobs last touched before the cut-off, nothing else.
    assert_eq!(
        storage.prune_jobs(at(32)).await.expect("prune"),
        0,
        "{b}: none before 32"
    );
    assert_eq!(
        storage.prune_jobs(at(202)).await.expect("prune"),
        2,
        "{b}: done and failed"
    );
    let expected = [
        ("email", "queued", 1),
        ("email", "running", 2),
        ("report", "running", 1),
    ];
    assert_eq!(
        counts(&storage.job_counts().await.expect("counts")),
        expected,
        "{b}"
    );
    let prune_all = storage.prune_jobs(at(1_000_000)).await.expect("prune");
    assert_eq!(prune_all, 0, "{b}: queued and running jobs stay");

    // Waiting is only a hint: it returns by its timeout (and never panics).
    storage.wait_for_jobs(Duration::from_millis(10)).await;
}

async fn concurrent_claims_never_overlap(db: TestDb) {
    let b = db.backend;
    let mut enqueued = BTreeSet::new();
    for i in 0..50 {
        enqueued.insert(enqueue(&db.storage, "bulk", i, None).await.expect("an id"));
    }

    let start = Arc::new(tokio::sync::Barrier::new(2));
    let workers = ["w1", "w2"].map(|worker| {
        let storage = Arc::clone(&db.storage);
        let start = Arc::clone(&start);
        tokio::spawn(async move {
            start.wait().await;
            let mut mine = Vec::new();
            loop {
                let lease = Duration::from_secs(300);
                let jobs = storage.claim_jobs(worker, at(100), lease, 2).await;
                let jobs = jobs.expect("claim");
                if jobs.is_empty() {
                    break;
                }
                for job in jobs {
                    assert_eq!(job.attempt, 1, "claimed twice: {job:?}");
                    let done = storage.complete_job(job.id, job.attempt, at(101)).await;
                    assert!(
                        done.expect("complete"),
                        "completed by someone else: {job:?}"
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

    let all = claims.concat();
    let distinct: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(
        all.len(),
        distinct.len(),
        "{b}: a job was claimed twice: {claims:?}"
    );
    assert_eq!(
        distinct, enqueued,
        "{b}: every job was claimed exactly once"
    );
    let counted = db.storage.job_counts().await.expect("counts");
    assert_eq!(counts(&counted), [("bulk", "done", 50)], "{b}");
}

async fn an_enqueue_wakes_a_waiting_worker(db: TestDb) {
    let b = db.backend;
    // Nothing enqueued: the wait ends at its timeout.
    db.storage.wait_for_jobs(Duration::from_millis(20)).await;

    let storage = Arc::clone(&db.storage);
    let mut waiter = tokio::spawn(async move {
        storage.wait_for_jobs(Duration::from_secs(600)).await;
    });
    // The waiter may not be listening yet when the first job arrives (the wake-up is only a hint),
    // so keep enqueueing until it wakes; it must wake long before its own timeout.
    let woke = tokio::time::timeout(Duration::from_secs(60), async {
        for i in 0.. {
            enqueue(&db.storage, "wake", i, None).await.expect("an id");
            if tokio::time::timeout(Duration::from_millis(100), &mut waiter)
                .await
                .is_ok()
            {
                return i;
            }
        }
        unreachable!("the loop only ends by returning")
    })
    .await;
    assert!(
        woke.is_ok(),
        "{b}: enqueueing never woke the waiting worker"
    );
}

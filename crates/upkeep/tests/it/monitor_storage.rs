//! Conformance stories for monitor storage: written against the `MonitorStore` and `CatalogStore` traits
//! only, run on SQLite and (when configured) PostgreSQL, so both backends keep monitors the same way.
//!
//! Time is always passed in (`at(seconds)`), never read from a clock, and nothing sleeps.

use std::sync::Arc;

use jiff::Timestamp;
use serde_json::json;
use upkeep_storage::{
    Actor, ActorKind, AuditContext, AuditFilter, AuditRecord, CheckResult, HeartbeatPing, Monitor,
    MonitorChanges, MonitorEvent, MonitorFilter, MonitorState, MonitorStatus, MonitorWrite,
    NewMonitor, NewMonitorEvent, NewService, Page, PageRequest, Service, Storage, StorageError,
};

use crate::support::databases::{TestDb, backend_tests};

mod sorting;

backend_tests!(
    monitors_are_created_and_found,
    monitors_are_listed_with_filters_and_pages,
    active_monitors_are_the_unpaused_ones_of_the_kinds_asked,
    updates_pauses_and_resumes_are_audited,
    a_write_batch_saves_state_and_history,
    a_failing_write_batch_commits_nothing,
    due_deadlines_and_resumes,
    pruning_keeps_state_changes,
    deleting_a_monitor_takes_its_history,
    a_service_with_monitors_cannot_be_deleted,
);

type Store = Arc<dyn Storage>;

// ---------------------------------------------------------------------------------------------------------
// Helpers

/// A fixed instant plus `seconds`.
fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).expect("a valid test time")
}

/// The command line on the server (origin `root`).
fn cli(seconds: i64) -> AuditContext {
    AuditContext {
        actor: Actor {
            kind: ActorKind::Cli,
            user_id: None,
            label: "cli (root)".to_string(),
        },
        origin: Some("root".to_string()),
        at: at(seconds),
    }
}

fn cursor(next: &Option<String>) -> Option<i64> {
    next.as_ref()
        .map(|cursor| cursor.parse().expect("cursors are ids"))
}

fn page(limit: u32, next: &Option<String>) -> PageRequest {
    PageRequest::new(limit, cursor(next))
}

fn all() -> PageRequest {
    PageRequest::new(500, None)
}

/// Every audit record about one monitor, newest first.
async fn audit_of(storage: &Store, monitor_id: i64) -> Vec<AuditRecord> {
    let filter = AuditFilter {
        target_kind: Some("monitor".to_string()),
        target_id: Some(monitor_id.to_string()),
        ..AuditFilter::default()
    };
    let records = storage.list_audit(&filter, all()).await;
    records.expect("list audit").items
}

fn actions(records: &[AuditRecord]) -> Vec<&str> {
    records
        .iter()
        .map(|record| record.action.as_str())
        .collect()
}

/// The audit snapshot a record would carry for `monitor`.
fn snapshot_of(monitor: &Monitor) -> Option<serde_json::Value> {
    Some(serde_json::to_value(monitor).expect("serialise a monitor"))
}

fn ids(monitors: &[Monitor]) -> Vec<i64> {
    monitors.iter().map(|monitor| monitor.id).collect()
}

async fn create_service(storage: &Store, slug: &str, ping_key: &str, seconds: i64) -> Service {
    let service = NewService {
        slug: slug.to_string(),
        name: format!("The {slug}"),
        description: format!("What {slug} does"),
        team_id: None,
        links: vec![],
        depends_on: vec![],
        ping_key: ping_key.to_string(),
    };
    storage
        .create_service(&cli(seconds), service)
        .await
        .expect("create service")
}

fn new_monitor(service: &Service, name: &str, slug: &str, kind: &str) -> NewMonitor {
    NewMonitor {
        service_id: service.id,
        name: name.to_string(),
        slug: slug.to_string(),
        kind: kind.to_string(),
        settings: json!({ "url": format!("https://{slug}.x.test/health"), "method": "GET" }),
        interval_ms: 60_000,
        failure_threshold: 3,
        success_threshold: 2,
        ping_token: format!("token-{}-{slug}", service.slug),
        managed_by: None,
        state: MonitorState::pending(),
    }
}

async fn create_monitor(
    storage: &Store,
    service: &Service,
    name: &str,
    slug: &str,
    kind: &str,
    seconds: i64,
) -> Monitor {
    storage
        .create_monitor(&cli(seconds), new_monitor(service, name, slug, kind))
        .await
        .expect("create monitor")
}

fn state(status: MonitorStatus, seconds: i64) -> MonitorState {
    MonitorState {
        status,
        consecutive_failures: i32::from(status == MonitorStatus::Down),
        consecutive_successes: i32::from(status == MonitorStatus::Up),
        last_checked_at: Some(at(seconds)),
        last_change_at: Some(at(seconds)),
        ..MonitorState::pending()
    }
}

fn only_state(monitor_id: i64, state: MonitorState) -> MonitorWrite {
    MonitorWrite {
        monitor_id,
        state,
        event: None,
        ping: None,
        result: None,
    }
}

fn event(from: MonitorStatus, to: MonitorStatus, seconds: i64, reason: &str) -> NewMonitorEvent {
    NewMonitorEvent {
        at: at(seconds),
        from_status: from,
        to_status: to,
        reason: reason.to_string(),
        in_maintenance: false,
    }
}

/// A ping as a write carries it (`id` and `monitor_id` are assigned by the store).
fn ping(kind: &str, seconds: i64) -> HeartbeatPing {
    HeartbeatPing {
        id: 0,
        monitor_id: 0,
        at: at(seconds),
        kind: kind.to_string(),
        exit_status: None,
        rid: None,
        duration_ms: None,
        body: None,
        method: "GET".to_string(),
        remote_addr: Some("10.0.0.9".to_string()),
        user_agent: None,
    }
}

/// A check result as a write carries it (`id` and `monitor_id` are assigned by the store).
fn result(success: bool, seconds: i64) -> CheckResult {
    CheckResult {
        id: 0,
        monitor_id: 0,
        at: at(seconds),
        success,
        duration_ms: 100 + seconds,
        status_code: Some(if success { 200 } else { 503 }),
        error: (!success).then(|| "status 503".to_string()),
        details: json!({ "phases": { "connect_ms": 3, "ttfb_ms": seconds } }),
    }
}

async fn apply(storage: &Store, writes: &[MonitorWrite]) {
    storage
        .apply_monitor_writes(writes)
        .await
        .expect("apply monitor writes");
}

async fn monitor(storage: &Store, id: i64) -> Monitor {
    storage
        .monitor_by_id(id)
        .await
        .expect("monitor by id")
        .expect("the monitor exists")
}

async fn list(storage: &Store, filter: MonitorFilter, request: PageRequest) -> Page<Monitor> {
    storage
        .list_monitors(&filter, request)
        .await
        .expect("list monitors")
}

/// Every page of a newest-first list, walked `limit` at a time; returns the pages' `at` seconds.
async fn walk<T>(
    limit: u32,
    at_of: impl Fn(&T) -> Timestamp,
    fetch: impl AsyncFn(PageRequest) -> Page<T>,
) -> Vec<Vec<i64>> {
    let mut pages = Vec::new();
    let mut next = None;
    loop {
        let page = fetch(page(limit, &next)).await;
        pages.push(
            page.items
                .iter()
                .map(|item| at_of(item).as_second() - 1_800_000_000)
                .collect(),
        );
        next = page.next_cursor;
        if next.is_none() {
            return pages;
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Stories

async fn monitors_are_created_and_found(db: TestDb) {
    let (storage, b) = (&db.storage, db.backend);
    let checkout = create_service(storage, "checkout", "0123456789abcdef01234567", 0).await;
    assert_eq!(checkout.ping_key, "0123456789abcdef01234567", "{b}");
    let search = create_service(storage, "search", "fedcba9876543210fedcba98", 1).await;

    let mut api = new_monitor(&checkout, "Checkout API", "api", "http");
    api.managed_by = Some("upkeep.toml".to_string());
    let api = storage.create_monitor(&cli(10), api).await;
    let api = api.expect("create http monitor");
    assert!(api.id > 0, "{b}");
    assert_eq!(
        (api.service_id, api.service_slug.as_str()),
        (checkout.id, "checkout"),
        "{b}"
    );
    assert_eq!(
        (api.name.as_str(), api.slug.as_str(), api.kind.as_str()),
        ("Checkout API", "api", "http"),
        "{b}"
    );
    assert_eq!(
        api.settings,
        json!({ "url": "https://api.x.test/health", "method": "GET" }),
        "{b}"
    );
    assert_eq!(
        (
            api.interval_ms,
            api.failure_threshold,
            api.success_threshold
        ),
        (60_000, 3, 2),
        "{b}"
    );
    assert_eq!(api.ping_token, "token-checkout-api", "{b}");
    assert_eq!(api.managed_by.as_deref(), Some("upkeep.toml"), "{b}");
    assert_eq!((api.paused, api.resume_at), (false, None), "{b}");
    assert_eq!((api.created_at, api.updated_at), (at(10), at(10)), "{b}");
    assert_eq!(api.state, MonitorState::pending(), "{b}");

    // A heartbeat starts with its first deadline.
    let mut nightly = new_monitor(&checkout, "Nightly backup", "nightly", "heartbeat");
    nightly.state.deadline_at = Some(at(3_600));
    let nightly = storage.create_monitor(&cli(11), nightly).await;
    let nightly = nightly.expect("create heartbeat monitor");
    assert_eq!(nightly.kind, "heartbeat", "{b}");
    assert_eq!(nightly.state.status, MonitorStatus::Pending, "{b}");
    assert_eq!(nightly.state.deadline_at, Some(at(3_600)), "{b}");

    // Slugs are unique within a service, not across services.
    let mut taken = new_monitor(&checkout, "Another API", "api", "tcp");
    taken.ping_token = "token-other".to_string();
    let err = storage.create_monitor(&cli(12), taken).await;
    let err = err.expect_err("duplicate slug in one service");
    assert!(
        matches!(
            err,
            StorageError::Conflict {
                field: Some("slug"),
                ..
            }
        ),
        "{b}: {err:?}"
    );
    let search_api = create_monitor(storage, &search, "Search API", "api", "http", 13).await;
    assert_eq!(search_api.service_slug, "search", "{b}");

    // A monitor needs an existing service.
    let mut orphan = new_monitor(&checkout, "Orphan", "orphan", "http");
    orphan.service_id = i64::MAX;
    let err = storage.create_monitor(&cli(14), orphan).await;
    let err = err.expect_err("a monitor of a missing service");
    assert!(
        !matches!(
            err,
            StorageError::Conflict {
                field: Some("slug"),
                ..
            }
        ),
        "{b}: not a slug conflict: {err:?}"
    );

    // Found by id, by token and by the service's ping key with the slug.
    assert_eq!(
        storage.monitor_by_id(api.id).await.expect("by id"),
        Some(api.clone()),
        "{b}"
    );
    assert_eq!(
        storage.monitor_by_id(i64::MAX).await.expect("by id"),
        None,
        "{b}"
    );
    let by_token = storage.monitor_by_token("token-checkout-nightly").await;
    assert_eq!(by_token.expect("by token"), Some(nightly.clone()), "{b}");
    let by_token = storage.monitor_by_token("token-nope").await;
    assert_eq!(by_token.expect("by token"), None, "{b}");
    let by_key = storage
        .monitor_by_ping_key(&checkout.ping_key, "nightly")
        .await;
    assert_eq!(by_key.expect("by key"), Some(nightly.clone()), "{b}");
    let by_key = storage.monitor_by_ping_key(&search.ping_key, "api").await;
    assert_eq!(by_key.expect("by key"), Some(search_api.clone()), "{b}");
    let by_key = storage
        .monitor_by_ping_key(&search.ping_key, "nightly")
        .await;
    assert_eq!(by_key.expect("by key"), None, "{b}: another service's key");
    let by_key = storage
        .monitor_by_ping_key("not-a-ping-key", "nightly")
        .await;
    assert_eq!(by_key.expect("by key"), None, "{b}: a wrong key");
    let by_key = storage
        .monitor_by_ping_key(&checkout.ping_key, "missing")
        .await;
    assert_eq!(by_key.expect("by key"), None, "{b}: a wrong slug");

    // The creation is audited with the monitor as created.
    let records = audit_of(storage, api.id).await;
    assert_eq!(actions(&records), ["monitor.create"], "{b}");
    let record = &records[0];
    assert_eq!(
        (
            record.at,
            record.actor_kind.as_str(),
            record.target_kind.as_str()
        ),
        (at(10), "cli", "monitor"),
        "{b}"
    );
    assert_eq!(record.before, None, "{b}");
    assert_eq!(record.after, snapshot_of(&api), "{b}");
    // The refused duplicate left no record behind.
    let filter = AuditFilter {
        action_prefix: Some("monitor.".to_string()),
        ..AuditFilter::default()
    };
    let creates = storage.list_audit(&filter, all()).await.expect("audit");
    assert_eq!(creates.items.len(), 3, "{b}: three monitors created");
}

async fn monitors_are_listed_with_filters_and_pages(db: TestDb) {
    let (storage, b) = (&db.storage, db.backend);
    let checkout = create_service(storage, "checkout", "key-checkout", 0).await;
    let search = create_service(storage, "search", "key-search", 1).await;
    let api = create_monitor(storage, &checkout, "Checkout API", "api", "http", 10).await;
    let backup = create_monitor(
        storage,
        &checkout,
        "Nightly Backup",
        "nightly-backup",
        "heartbeat",
        11,
    )
    .await;
    let search_api = create_monitor(storage, &search, "Search API", "search-api", "http", 12).await;
    let indexer = create_monitor(storage, &search, "Indexer", "indexer", "heartbeat", 13).await;
    let basket = create_monitor(storage, &checkout, "Basket page", "cart", "http", 14).await;
    apply(
        storage,
        &[
            only_state(api.id, state(MonitorStatus::Up, 20)),
            only_state(search_api.id, state(MonitorStatus::Down, 20)),
            only_state(basket.id, state(MonitorStatus::Up, 20)),
        ],
    )
    .await;

    let listed = async |filter: MonitorFilter| ids(&list(storage, filter, all()).await.items);
    let everything = list(storage, MonitorFilter::default(), all()).await;
    assert_eq!(
        ids(&everything.items),
        [api.id, backup.id, search_api.id, indexer.id, basket.id],
        "{b}: oldest first"
    );
    assert_eq!(everything.next_cursor, None, "{b}");
    assert_eq!(
        everything.items[0],
        monitor(storage, api.id).await,
        "{b}: listed as found"
    );
    assert_eq!(everything.items[0].state.status, MonitorStatus::Up, "{b}");

    let by_service = MonitorFilter {
        service_id: Some(checkout.id),
        ..MonitorFilter::default()
    };
    assert_eq!(
        listed(by_service).await,
        [api.id, backup.id, basket.id],
        "{b}: service"
    );
    let by_status = |status| MonitorFilter {
        status: Some(status),
        ..MonitorFilter::default()
    };
    assert_eq!(
        listed(by_status(MonitorStatus::Up)).await,
        [api.id, basket.id],
        "{b}: up"
    );
    assert_eq!(
        listed(by_status(MonitorStatus::Pending)).await,
        [backup.id, indexer.id],
        "{b}: pending"
    );
    assert_eq!(
        listed(by_status(MonitorStatus::Down)).await,
        [search_api.id],
        "{b}: down"
    );
    assert!(
        listed(by_status(MonitorStatus::Paused)).await.is_empty(),
        "{b}: paused"
    );
    let by_kind = |kind: &str| MonitorFilter {
        kind: Some(kind.to_string()),
        ..MonitorFilter::default()
    };
    assert_eq!(
        listed(by_kind("heartbeat")).await,
        [backup.id, indexer.id],
        "{b}: heartbeat"
    );
    assert!(listed(by_kind("dns")).await.is_empty(), "{b}: dns");
    let by_search = |text: &str| MonitorFilter {
        search: Some(text.to_string()),
        ..MonitorFilter::default()
    };
    assert_eq!(
        listed(by_search("api")).await,
        [api.id, search_api.id],
        "{b}: name and slug"
    );
    assert_eq!(
        listed(by_search("API")).await,
        [api.id, search_api.id],
        "{b}: any case"
    );
    assert_eq!(
        listed(by_search("checkout a")).await,
        [api.id],
        "{b}: a name substring in another case"
    );
    assert_eq!(
        listed(by_search("BACKUP")).await,
        [backup.id],
        "{b}: upper-case search of a mixed-case name"
    );
    assert_eq!(
        listed(by_search("cart")).await,
        [basket.id],
        "{b}: by slug only"
    );
    assert_eq!(
        listed(by_search("CART")).await,
        [basket.id],
        "{b}: slug in another case"
    );
    assert!(
        listed(by_search("nothing")).await.is_empty(),
        "{b}: no match"
    );

    // Filters combine.
    let combined = MonitorFilter {
        service_id: Some(checkout.id),
        kind: Some("http".to_string()),
        ..MonitorFilter::default()
    };
    assert_eq!(listed(combined).await, [api.id, basket.id], "{b}");
    let combined = MonitorFilter {
        service_id: Some(search.id),
        status: Some(MonitorStatus::Down),
        search: Some("Search".to_string()),
        kind: Some("http".to_string()),
        ..MonitorFilter::default()
    };
    assert_eq!(listed(combined).await, [search_api.id], "{b}");
    let combined = MonitorFilter {
        service_id: Some(search.id),
        status: Some(MonitorStatus::Up),
        ..MonitorFilter::default()
    };
    assert!(listed(combined).await.is_empty(), "{b}");

    // Pages.
    let first = list(storage, MonitorFilter::default(), PageRequest::new(2, None)).await;
    assert_eq!(ids(&first.items), [api.id, backup.id], "{b}");
    let second = list(
        storage,
        MonitorFilter::default(),
        page(2, &first.next_cursor),
    )
    .await;
    assert_eq!(ids(&second.items), [search_api.id, indexer.id], "{b}");
    let third = list(
        storage,
        MonitorFilter::default(),
        page(2, &second.next_cursor),
    )
    .await;
    assert_eq!(ids(&third.items), [basket.id], "{b}");
    assert_eq!(third.next_cursor, None, "{b}");
    let mut http = Vec::new();
    let mut next = None;
    loop {
        let one = list(storage, by_kind("http"), page(1, &next)).await;
        http.extend(ids(&one.items));
        next = one.next_cursor;
        if next.is_none() {
            break;
        }
    }
    assert_eq!(
        http,
        [api.id, search_api.id, basket.id],
        "{b}: filtered pages"
    );
}

async fn active_monitors_are_the_unpaused_ones_of_the_kinds_asked(db: TestDb) {
    let (storage, b) = (&db.storage, db.backend);
    let service = create_service(storage, "checkout", "key-checkout", 0).await;
    let api = create_monitor(storage, &service, "API", "api", "http", 1).await;
    let paused = create_monitor(storage, &service, "Paused", "paused", "http", 2).await;
    let heartbeat = create_monitor(storage, &service, "Cron", "cron", "heartbeat", 3).await;
    let port = create_monitor(storage, &service, "Port", "port", "tcp", 4).await;
    let pause = MonitorChanges {
        paused: Some(true),
        ..MonitorChanges::default()
    };
    storage
        .update_monitor(&cli(5), paused.id, pause)
        .await
        .expect("pause");

    let active = async |kinds: &[&str]| {
        ids(&storage
            .active_monitors(kinds)
            .await
            .expect("active monitors"))
    };
    assert_eq!(active(&["http"]).await, [api.id], "{b}");
    assert_eq!(
        active(&["http", "heartbeat"]).await,
        [api.id, heartbeat.id],
        "{b}"
    );
    assert_eq!(
        active(&["tcp", "http", "heartbeat"]).await,
        [api.id, heartbeat.id, port.id],
        "{b}"
    );
    assert!(active(&["dns"]).await.is_empty(), "{b}");
    assert!(active(&[]).await.is_empty(), "{b}: no kinds, no monitors");
    let found = storage.active_monitors(&["http"]).await.expect("active");
    assert_eq!(
        found,
        [monitor(storage, api.id).await],
        "{b}: whole monitors"
    );
}

async fn updates_pauses_and_resumes_are_audited(db: TestDb) {
    let (storage, b) = (&db.storage, db.backend);
    let service = create_service(storage, "checkout", "key-checkout", 0).await;
    let created = create_monitor(storage, &service, "Checkout API", "api", "http", 10).await;

    // An edit changes what it names and nothing else.
    let edit = MonitorChanges {
        name: Some("Checkout API (v2)".to_string()),
        settings: Some(json!({ "url": "https://api.x.test/v2/health", "method": "HEAD" })),
        interval_ms: Some(30_000),
        failure_threshold: Some(5),
        success_threshold: Some(1),
        ..MonitorChanges::default()
    };
    let edited = storage.update_monitor(&cli(20), created.id, edit).await;
    let edited = edited.expect("edit monitor");
    assert_eq!(edited.name, "Checkout API (v2)", "{b}");
    assert_eq!(edited.settings["method"], "HEAD", "{b}");
    assert_eq!(
        (
            edited.interval_ms,
            edited.failure_threshold,
            edited.success_threshold
        ),
        (30_000, 5, 1),
        "{b}"
    );
    assert_eq!(
        (edited.created_at, edited.updated_at),
        (at(10), at(20)),
        "{b}"
    );
    assert_eq!(
        (
            edited.slug.as_str(),
            edited.kind.as_str(),
            edited.ping_token.as_str()
        ),
        ("api", "http", created.ping_token.as_str()),
        "{b}"
    );
    assert_eq!(
        (edited.paused, edited.resume_at, &edited.state),
        (false, None, &created.state),
        "{b}"
    );
    assert_eq!(monitor(storage, created.id).await, edited, "{b}: stored");

    // A pause with a resume time, putting the state to paused.
    let pause = MonitorChanges {
        paused: Some(true),
        resume_at: Some(Some(at(90))),
        state: Some(MonitorState {
            status: MonitorStatus::Paused,
            ..MonitorState::pending()
        }),
        ..MonitorChanges::default()
    };
    let paused = storage.update_monitor(&cli(30), created.id, pause).await;
    let paused = paused.expect("pause");
    assert_eq!(
        (paused.paused, paused.resume_at, paused.state.status),
        (true, Some(at(90)), MonitorStatus::Paused),
        "{b}"
    );
    assert_eq!(paused.name, "Checkout API (v2)", "{b}: kept");

    // Pausing what is paused is an ordinary update (here: a new resume time only).
    let later = MonitorChanges {
        paused: Some(true),
        resume_at: Some(Some(at(120))),
        ..MonitorChanges::default()
    };
    let later = storage.update_monitor(&cli(35), created.id, later).await;
    let later = later.expect("move the resume time");
    assert_eq!(
        (later.paused, later.resume_at, later.state.status),
        (true, Some(at(120)), MonitorStatus::Paused),
        "{b}: state kept when not given"
    );

    // A resume clearing the resume time and putting the state back to pending with a deadline.
    let resume = MonitorChanges {
        paused: Some(false),
        resume_at: Some(None),
        state: Some(MonitorState {
            deadline_at: Some(at(200)),
            ..MonitorState::pending()
        }),
        ..MonitorChanges::default()
    };
    let resumed = storage.update_monitor(&cli(40), created.id, resume).await;
    let resumed = resumed.expect("resume");
    assert_eq!((resumed.paused, resumed.resume_at), (false, None), "{b}");
    assert_eq!(
        (resumed.state.status, resumed.state.deadline_at),
        (MonitorStatus::Pending, Some(at(200))),
        "{b}"
    );
    assert_eq!(resumed.updated_at, at(40), "{b}");

    // Resuming what runs is an ordinary update too.
    let noop = MonitorChanges {
        paused: Some(false),
        ..MonitorChanges::default()
    };
    let same = storage.update_monitor(&cli(45), created.id, noop).await;
    let same = same.expect("resume a running monitor");
    assert_eq!(
        (same.paused, &same.state, same.updated_at),
        (false, &resumed.state, at(45)),
        "{b}"
    );

    let missing = storage
        .update_monitor(&cli(50), i64::MAX, MonitorChanges::default())
        .await;
    assert!(
        matches!(missing, Err(StorageError::NotFound { .. })),
        "{b}: {missing:?}"
    );

    // Each change is audited with the monitor before and after it, newest first.
    let records = audit_of(storage, created.id).await;
    assert_eq!(
        actions(&records),
        [
            "monitor.update",
            "monitor.resume",
            "monitor.update",
            "monitor.pause",
            "monitor.update",
            "monitor.create"
        ],
        "{b}"
    );
    let steps = [&created, &edited, &paused, &later, &resumed, &same];
    for (record, pair) in records.iter().rev().skip(1).zip(steps.windows(2)) {
        assert_eq!(
            record.before,
            snapshot_of(pair[0]),
            "{b}: {}",
            record.action
        );
        assert_eq!(record.after, snapshot_of(pair[1]), "{b}: {}", record.action);
        assert_eq!(record.target_id, created.id.to_string(), "{b}");
    }
    assert_eq!(
        records[3].after.as_ref().expect("after")["paused"],
        true,
        "{b}"
    );
    assert_eq!(
        records[1].before.as_ref().expect("before")["paused"],
        true,
        "{b}"
    );
    assert_eq!(
        records[1].after.as_ref().expect("after")["paused"],
        false,
        "{b}"
    );
}

async fn a_write_batch_saves_state_and_history(db: TestDb) {
    let (storage, b) = (&db.storage, db.backend);
    let service = create_service(storage, "checkout", "key-checkout", 0).await;
    let http = create_monitor(storage, &service, "API", "api", "http", 1).await;
    let cron = create_monitor(storage, &service, "Cron", "cron", "heartbeat", 2).await;
    storage
        .apply_monitor_writes(&[])
        .await
        .expect("an empty batch");

    // One batch over two monitors: the first check of `api` (twice), the first ping of `cron`.
    let http_up = MonitorState {
        last_duration_ms: Some(110),
        ..state(MonitorStatus::Up, 100)
    };
    let http_failing = MonitorState {
        consecutive_failures: 1,
        consecutive_successes: 0,
        last_checked_at: Some(at(160)),
        last_error: Some("status 503".to_string()),
        last_duration_ms: Some(260),
        ..http_up.clone()
    };
    let cron_up = MonitorState {
        status: MonitorStatus::Up,
        consecutive_successes: 1,
        last_change_at: Some(at(101)),
        last_ping_at: Some(at(101)),
        last_start_at: Some(at(90)),
        last_start_rid: Some("run-7".to_string()),
        deadline_at: Some(at(3_701)),
        ..MonitorState::pending()
    };
    let full_ping = HeartbeatPing {
        exit_status: Some(0),
        rid: Some("run-7".to_string()),
        duration_ms: Some(11_000),
        body: Some("backup done: 3 GB".to_string()),
        method: "POST".to_string(),
        user_agent: Some("curl/8.5".to_string()),
        ..ping("success", 101)
    };
    apply(
        storage,
        &[
            MonitorWrite {
                monitor_id: http.id,
                state: http_up.clone(),
                event: Some(event(
                    MonitorStatus::Pending,
                    MonitorStatus::Up,
                    100,
                    "first success",
                )),
                ping: None,
                result: Some(result(true, 100)),
            },
            MonitorWrite {
                monitor_id: cron.id,
                state: cron_up.clone(),
                event: Some(event(
                    MonitorStatus::Pending,
                    MonitorStatus::Up,
                    101,
                    "first ping",
                )),
                ping: Some(full_ping.clone()),
                result: None,
            },
            MonitorWrite {
                monitor_id: http.id,
                state: http_failing.clone(),
                event: None,
                ping: None,
                result: Some(result(false, 160)),
            },
        ],
    )
    .await;

    // The last state of each monitor is saved; its definition is untouched.
    let saved = monitor(storage, http.id).await;
    assert_eq!(saved.state, http_failing, "{b}");
    assert_eq!(
        (saved.name.as_str(), saved.updated_at),
        ("API", http.updated_at),
        "{b}"
    );
    assert_eq!(monitor(storage, cron.id).await.state, cron_up, "{b}");

    let results = storage.list_results(http.id, all()).await.expect("results");
    assert_eq!(results.next_cursor, None, "{b}");
    let expected: Vec<CheckResult> = [result(false, 160), result(true, 100)]
        .into_iter()
        .zip(&results.items)
        .map(|(wanted, got)| CheckResult {
            id: got.id,
            monitor_id: http.id,
            ..wanted
        })
        .collect();
    assert_eq!(results.items, expected, "{b}: newest first, as written");
    assert!(results.items[0].id > results.items[1].id, "{b}");
    let events = storage
        .list_monitor_events(http.id, all())
        .await
        .expect("events");
    assert_eq!(events.items.len(), 1, "{b}");
    let first = &events.items[0];
    assert_eq!(
        (
            first.monitor_id,
            first.at,
            first.from_status,
            first.to_status,
            first.reason.as_str()
        ),
        (
            http.id,
            at(100),
            MonitorStatus::Pending,
            MonitorStatus::Up,
            "first success"
        ),
        "{b}"
    );
    let pings = storage.list_pings(cron.id, all()).await.expect("pings");
    assert_eq!(pings.items.len(), 1, "{b}");
    let stored = &pings.items[0];
    assert_eq!(
        *stored,
        HeartbeatPing {
            id: stored.id,
            monitor_id: cron.id,
            ..full_ping
        },
        "{b}"
    );
    assert!(stored.id > 0, "{b}");
    assert!(
        storage
            .list_pings(http.id, all())
            .await
            .expect("pings")
            .items
            .is_empty(),
        "{b}"
    );
    assert!(
        storage
            .list_results(cron.id, all())
            .await
            .expect("results")
            .items
            .is_empty(),
        "{b}"
    );
    let cron_events = storage.list_monitor_events(cron.id, all()).await;
    assert_eq!(cron_events.expect("events").items.len(), 1, "{b}");

    // More history, then every list walked a page at a time, newest first.
    let mut writes = Vec::new();
    for n in 0..4 {
        let seconds = 200 + n * 60;
        let (from, to) = if n % 2 == 0 {
            (MonitorStatus::Up, MonitorStatus::Down)
        } else {
            (MonitorStatus::Down, MonitorStatus::Up)
        };
        writes.push(MonitorWrite {
            monitor_id: http.id,
            state: state(to, seconds),
            event: Some(event(from, to, seconds, "threshold reached")),
            ping: None,
            result: Some(result(to == MonitorStatus::Up, seconds)),
        });
        writes.push(MonitorWrite {
            monitor_id: cron.id,
            state: cron_up.clone(),
            event: None,
            ping: Some(ping(
                if n % 2 == 0 { "start" } else { "success" },
                seconds + 1,
            )),
            result: None,
        });
    }
    apply(storage, &writes).await;

    let seconds_of_result = |item: &CheckResult| item.at;
    let results = walk(2, seconds_of_result, async |request| {
        storage
            .list_results(http.id, request)
            .await
            .expect("results")
    })
    .await;
    assert_eq!(
        results,
        [vec![380, 320], vec![260, 200], vec![160, 100]],
        "{b}"
    );
    let events = walk(
        3,
        |item: &MonitorEvent| item.at,
        async |request| {
            storage
                .list_monitor_events(http.id, request)
                .await
                .expect("events")
        },
    )
    .await;
    assert_eq!(events, [vec![380, 320, 260], vec![200, 100]], "{b}");
    let pings = walk(
        4,
        |item: &HeartbeatPing| item.at,
        async |request| storage.list_pings(cron.id, request).await.expect("pings"),
    )
    .await;
    assert_eq!(pings, [vec![381, 321, 261, 201], vec![101]], "{b}");
    assert_eq!(
        monitor(storage, http.id).await.state,
        state(MonitorStatus::Up, 380),
        "{b}"
    );
}

async fn a_failing_write_batch_commits_nothing(db: TestDb) {
    let (storage, b) = (&db.storage, db.backend);
    let service = create_service(storage, "checkout", "key-checkout", 0).await;
    let http = create_monitor(storage, &service, "API", "api", "http", 1).await;
    let cron = create_monitor(storage, &service, "Cron", "cron", "heartbeat", 2).await;

    // The first two writes are fine; the third pings a monitor that does not exist.
    let batch = [
        MonitorWrite {
            monitor_id: http.id,
            state: state(MonitorStatus::Down, 100),
            event: Some(event(
                MonitorStatus::Pending,
                MonitorStatus::Down,
                100,
                "refused",
            )),
            ping: None,
            result: Some(result(false, 100)),
        },
        MonitorWrite {
            monitor_id: cron.id,
            state: state(MonitorStatus::Up, 100),
            event: None,
            ping: Some(ping("success", 100)),
            result: None,
        },
        MonitorWrite {
            monitor_id: i64::MAX,
            state: state(MonitorStatus::Up, 100),
            event: None,
            ping: Some(ping("success", 100)),
            result: None,
        },
    ];
    let err = storage.apply_monitor_writes(&batch).await;
    let err = err.expect_err("a ping for a missing monitor");
    assert!(
        !matches!(err, StorageError::Unavailable(_)),
        "{b}: a refused write, not an outage: {err:?}"
    );

    assert_eq!(
        monitor(storage, http.id).await,
        http,
        "{b}: state untouched"
    );
    assert_eq!(
        monitor(storage, cron.id).await,
        cron,
        "{b}: state untouched"
    );
    let results = storage.list_results(http.id, all()).await.expect("results");
    assert!(results.items.is_empty(), "{b}: no result kept");
    let events = storage
        .list_monitor_events(http.id, all())
        .await
        .expect("events");
    assert!(events.items.is_empty(), "{b}: no event kept");
    let pings = storage.list_pings(cron.id, all()).await.expect("pings");
    assert!(pings.items.is_empty(), "{b}: no ping kept");

    // The same batch without the bad write goes through whole.
    apply(storage, &batch[..2]).await;
    assert_eq!(
        monitor(storage, http.id).await.state,
        state(MonitorStatus::Down, 100),
        "{b}"
    );
    let pings = storage.list_pings(cron.id, all()).await.expect("pings");
    assert_eq!(pings.items.len(), 1, "{b}");
}

async fn due_deadlines_and_resumes(db: TestDb) {
    let (storage, b) = (&db.storage, db.backend);
    let service = create_service(storage, "checkout", "key-checkout", 0).await;
    let with_deadline = async |slug: &str, deadline: Option<i64>, seconds: i64| {
        let mut new = new_monitor(&service, slug, slug, "heartbeat");
        new.state.deadline_at = deadline.map(at);
        let created = storage.create_monitor(&cli(seconds), new).await;
        created.expect("create monitor")
    };
    let a = with_deadline("a", Some(100), 1).await;
    let soonest = with_deadline("soonest", Some(50), 2).await;
    let late = with_deadline("late", Some(200), 3).await;
    let paused = with_deadline("paused", Some(10), 4).await;
    let none = with_deadline("none", None, 5).await;
    let exact = with_deadline("exact", None, 6).await;
    // A deadline set by a write rather than at creation.
    apply(
        storage,
        &[only_state(
            exact.id,
            MonitorState {
                deadline_at: Some(at(150)),
                ..MonitorState::pending()
            },
        )],
    )
    .await;
    let pause = MonitorChanges {
        paused: Some(true),
        resume_at: Some(Some(at(300))),
        ..MonitorChanges::default()
    };
    let paused = storage.update_monitor(&cli(7), paused.id, pause).await;
    let paused = paused.expect("pause");
    assert_eq!(paused.state.deadline_at, Some(at(10)), "{b}: kept");

    let due = async |seconds: i64, limit: u32| {
        ids(&storage
            .due_deadlines(at(seconds), limit)
            .await
            .expect("due deadlines"))
    };
    assert_eq!(
        due(150, 10).await,
        [soonest.id, a.id, exact.id],
        "{b}: soonest first, the deadline itself included"
    );
    assert_eq!(due(150, 2).await, [soonest.id, a.id], "{b}: limit");
    assert_eq!(due(149, 10).await, [soonest.id, a.id], "{b}");
    assert!(due(49, 10).await.is_empty(), "{b}: nothing due yet");
    assert_eq!(
        due(10_000, 10).await,
        [soonest.id, a.id, exact.id, late.id],
        "{b}: never the paused one nor one without a deadline"
    );
    let found = storage.due_deadlines(at(50), 10).await.expect("due");
    assert_eq!(found, [monitor(storage, soonest.id).await], "{b}");
    // A sweep that moves the deadline on takes the monitor out of the due set.
    apply(
        storage,
        &[only_state(
            soonest.id,
            MonitorState {
                deadline_at: Some(at(1_000)),
                ..state(MonitorStatus::Down, 60)
            },
        )],
    )
    .await;
    assert_eq!(due(150, 10).await, [a.id, exact.id], "{b}");
    assert!(!due(1_000_000, 10).await.contains(&none.id), "{b}");

    // Resumes: paused monitors whose resume time has come.
    let pause_until = async |id: i64, resume: Option<i64>| {
        let pause = MonitorChanges {
            paused: Some(true),
            resume_at: Some(resume.map(at)),
            ..MonitorChanges::default()
        };
        storage
            .update_monitor(&cli(8), id, pause)
            .await
            .expect("pause")
    };
    let forever = pause_until(a.id, None).await;
    let soon = pause_until(late.id, Some(100)).await;
    // A resume time on a running monitor does not make it due.
    let running = MonitorChanges {
        resume_at: Some(Some(at(50))),
        ..MonitorChanges::default()
    };
    let running = storage.update_monitor(&cli(9), exact.id, running).await;
    assert!(!running.expect("set a resume time").paused, "{b}");

    let resumes = async |seconds: i64| {
        let mut found = ids(&storage.due_resumes(at(seconds)).await.expect("due resumes"));
        found.sort_unstable();
        found
    };
    assert!(resumes(99).await.is_empty(), "{b}");
    assert_eq!(resumes(100).await, [soon.id], "{b}");
    assert_eq!(resumes(299).await, [soon.id], "{b}");
    let mut both = vec![paused.id, soon.id];
    both.sort_unstable();
    assert_eq!(resumes(300).await, both, "{b}");
    assert!(
        !resumes(1_000_000).await.contains(&forever.id),
        "{b}: paused without a resume time stays paused"
    );
}

async fn pruning_keeps_state_changes(db: TestDb) {
    let (storage, b) = (&db.storage, db.backend);
    let service = create_service(storage, "checkout", "key-checkout", 0).await;
    let http = create_monitor(storage, &service, "API", "api", "http", 1).await;
    let cron = create_monitor(storage, &service, "Cron", "cron", "heartbeat", 2).await;
    let mut writes = Vec::new();
    for seconds in [100, 200, 300] {
        writes.push(MonitorWrite {
            monitor_id: http.id,
            state: state(MonitorStatus::Up, seconds),
            event: Some(event(
                MonitorStatus::Down,
                MonitorStatus::Up,
                seconds,
                "recovered",
            )),
            ping: None,
            result: Some(result(true, seconds)),
        });
    }
    for seconds in [100, 250] {
        writes.push(MonitorWrite {
            monitor_id: cron.id,
            state: state(MonitorStatus::Up, seconds),
            event: None,
            ping: Some(ping("success", seconds)),
            result: None,
        });
    }
    apply(storage, &writes).await;

    // Strictly older than `before` goes: the result and the ping at 100; the result at 200 stays.
    let pruned = storage.prune_monitor_history(at(200)).await;
    assert_eq!(pruned.expect("prune"), 2, "{b}");
    let results = storage.list_results(http.id, all()).await.expect("results");
    let kept: Vec<Timestamp> = results.items.iter().map(|item| item.at).collect();
    assert_eq!(kept, [at(300), at(200)], "{b}");
    let pings = storage.list_pings(cron.id, all()).await.expect("pings");
    let kept: Vec<Timestamp> = pings.items.iter().map(|item| item.at).collect();
    assert_eq!(kept, [at(250)], "{b}");
    let events = storage
        .list_monitor_events(http.id, all())
        .await
        .expect("events");
    assert_eq!(events.items.len(), 3, "{b}: state changes are kept");
    assert_eq!(events.items[2].at, at(100), "{b}");
    assert_eq!(
        monitor(storage, http.id).await.state,
        state(MonitorStatus::Up, 300),
        "{b}: state untouched"
    );

    let again = storage.prune_monitor_history(at(200)).await;
    assert_eq!(again.expect("prune again"), 0, "{b}");
    let everything = storage.prune_monitor_history(at(10_000)).await;
    assert_eq!(everything.expect("prune everything"), 3, "{b}");
    let events = storage.list_monitor_events(http.id, all()).await;
    assert_eq!(events.expect("events").items.len(), 3, "{b}");
}

async fn deleting_a_monitor_takes_its_history(db: TestDb) {
    let (storage, b) = (&db.storage, db.backend);
    let service = create_service(storage, "checkout", "key-checkout", 0).await;
    let doomed = create_monitor(storage, &service, "Doomed", "doomed", "heartbeat", 1).await;
    let kept = create_monitor(storage, &service, "Kept", "kept", "heartbeat", 2).await;
    let mut writes = Vec::new();
    for id in [doomed.id, kept.id] {
        writes.push(MonitorWrite {
            monitor_id: id,
            state: state(MonitorStatus::Up, 100),
            event: Some(event(
                MonitorStatus::Pending,
                MonitorStatus::Up,
                100,
                "first ping",
            )),
            ping: Some(ping("success", 100)),
            result: Some(result(true, 100)),
        });
    }
    apply(storage, &writes).await;
    let before = monitor(storage, doomed.id).await;

    storage
        .delete_monitor(&cli(10), doomed.id)
        .await
        .expect("delete monitor");
    assert_eq!(
        storage.monitor_by_id(doomed.id).await.expect("by id"),
        None,
        "{b}"
    );
    assert_eq!(
        storage
            .monitor_by_token(&doomed.ping_token)
            .await
            .expect("by token"),
        None,
        "{b}"
    );
    let pings = storage.list_pings(doomed.id, all()).await.expect("pings");
    assert!(pings.items.is_empty(), "{b}: pings deleted");
    let results = storage
        .list_results(doomed.id, all())
        .await
        .expect("results");
    assert!(results.items.is_empty(), "{b}: results deleted");
    let events = storage.list_monitor_events(doomed.id, all()).await;
    assert!(
        events.expect("events").items.is_empty(),
        "{b}: events deleted"
    );

    // The other monitor keeps everything.
    let pings = storage.list_pings(kept.id, all()).await.expect("pings");
    assert_eq!(pings.items.len(), 1, "{b}");
    let results = storage.list_results(kept.id, all()).await.expect("results");
    assert_eq!(results.items.len(), 1, "{b}");
    let events = storage.list_monitor_events(kept.id, all()).await;
    assert_eq!(events.expect("events").items.len(), 1, "{b}");

    // The deletion is audited with the monitor as it was.
    let records = audit_of(storage, doomed.id).await;
    assert_eq!(
        actions(&records),
        ["monitor.delete", "monitor.create"],
        "{b}"
    );
    assert_eq!(records[0].at, at(10), "{b}");
    assert_eq!(records[0].before, snapshot_of(&before), "{b}");
    assert_eq!(records[0].after, None, "{b}");

    let again = storage.delete_monitor(&cli(11), doomed.id).await;
    assert!(
        matches!(again, Err(StorageError::NotFound { .. })),
        "{b}: {again:?}"
    );
    // The slug is free again.
    create_monitor(storage, &service, "Doomed again", "doomed", "http", 12).await;
}

async fn a_service_with_monitors_cannot_be_deleted(db: TestDb) {
    let (storage, b) = (&db.storage, db.backend);
    let service = create_service(storage, "checkout", "key-checkout", 0).await;
    let api = create_monitor(storage, &service, "API", "api", "http", 1).await;

    let refused = storage.delete_service(&cli(10), service.id).await;
    let err = refused.expect_err("a service with monitors");
    assert!(
        matches!(err, StorageError::Conflict { .. } | StorageError::Other(_)),
        "{b}: {err:?}"
    );
    assert_eq!(
        storage.service_by_id(service.id).await.expect("by id"),
        Some(service.clone()),
        "{b}: the service is still there"
    );
    assert_eq!(monitor(storage, api.id).await, api, "{b}: and its monitor");
    let filter = AuditFilter {
        action_prefix: Some("service.delete".to_string()),
        ..AuditFilter::default()
    };
    let deletes = storage.list_audit(&filter, all()).await.expect("audit");
    assert!(
        deletes.items.is_empty(),
        "{b}: no audit record of a refused delete"
    );

    // Without its monitors it goes.
    storage
        .delete_monitor(&cli(11), api.id)
        .await
        .expect("delete monitor");
    storage
        .delete_service(&cli(12), service.id)
        .await
        .expect("delete the empty service");
    assert_eq!(
        storage.service_by_id(service.id).await.expect("by id"),
        None,
        "{b}"
    );
}

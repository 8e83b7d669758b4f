//! Conformance stories for sorted monitor lists: every order, both ways, walked a page at a time on both
//! backends, must give exactly the order worked out here in Rust; the maintenance scope drives the
//! `maintenance` status filter and rank. Also the two lookups of the ping path: `service_id_by_ping_key`
//! and the writer's `batch_monitors`.

use upkeep_storage::{
    BatchMonitor, MaintenanceScope, Monitor, MonitorChanges, MonitorFilter, MonitorSort,
    MonitorSortKey, MonitorState, MonitorStatus, PageRequest,
};

use super::{Store, apply, cli, create_monitor, create_service, ids, only_state, state};
use crate::support::databases::{TestDb, backend_tests};

backend_tests!(
    sorted_lists_page_in_every_order,
    the_maintenance_scope_decides_the_maintenance_status,
    the_ping_path_finds_services_and_batch_monitors,
);

/// Every page of `filter`'s order, `limit` at a time, each cursor read back as the API reads it.
async fn walk(storage: &Store, filter: &MonitorFilter, limit: u32) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut filter = filter.clone();
    let mut cursor = None;
    loop {
        let page = storage
            .list_monitors(&filter, PageRequest::new(limit, cursor))
            .await
            .expect("list monitors");
        assert!(page.items.len() <= limit as usize);
        seen.extend(ids(&page.items));
        let Some(next) = page.next_cursor else {
            return seen;
        };
        let mut sort = MonitorSort::new(filter.sort.key, filter.sort.descending);
        cursor = Some(sort.continue_after(&next).expect("a cursor of this order"));
        filter.sort = sort;
    }
}

fn sorted(key: MonitorSortKey, descending: bool) -> MonitorFilter {
    MonitorFilter {
        sort: MonitorSort::new(key, descending),
        ..MonitorFilter::default()
    }
}

fn rank(monitor: &Monitor, covered: &[i64]) -> i64 {
    if monitor.paused {
        5
    } else if covered.contains(&monitor.id) {
        4
    } else {
        match monitor.state.status {
            MonitorStatus::Down => 0,
            MonitorStatus::Degraded => 1,
            MonitorStatus::Pending => 2,
            MonitorStatus::Up => 3,
            _ => 6,
        }
    }
}

/// Monitors with tied and distinct names, every status, paused, and checked at tied, distinct or no times.
async fn fixture(storage: &Store) -> Vec<Monitor> {
    let web = create_service(storage, "web", "key-web", 0).await;
    let jobs = create_service(storage, "jobs", "key-jobs", 1).await;
    let specs = [
        (&web, "beta", "b1"),
        (&web, "Alpha", "a1"),
        (&jobs, "gamma", "g1"),
        (&jobs, "alpha", "a2"),
        (&web, "Delta", "d1"),
        (&jobs, "beta", "b2"),
        (&web, "epsilon", "e1"),
    ];
    let mut created = Vec::new();
    for (index, (service, name, slug)) in specs.into_iter().enumerate() {
        created.push(create_monitor(storage, service, name, slug, "http", 10 + index as i64).await);
    }
    let id = |index: usize| created[index].id;
    let states = [
        (id(0), state(MonitorStatus::Up, 100)),
        (id(1), state(MonitorStatus::Down, 50)),
        (id(2), state(MonitorStatus::Up, 100)),
        (id(3), state(MonitorStatus::Degraded, 70)),
        (id(5), state(MonitorStatus::Down, 90)),
    ];
    let writes: Vec<_> = states
        .into_iter()
        .map(|(monitor_id, state)| only_state(monitor_id, state))
        .collect();
    apply(storage, &writes).await;
    let paused = MonitorState {
        status: MonitorStatus::Paused,
        ..state(MonitorStatus::Paused, 60)
    };
    let changes = MonitorChanges {
        paused: Some(true),
        state: Some(paused),
        ..MonitorChanges::default()
    };
    storage
        .update_monitor(&cli(200), id(6), changes)
        .await
        .expect("pause");
    let mut all = Vec::new();
    for monitor in &created {
        all.push(
            storage
                .monitor_by_id(monitor.id)
                .await
                .expect("monitor by id")
                .expect("exists"),
        );
    }
    all
}

async fn sorted_lists_page_in_every_order(db: TestDb) {
    let (storage, b) = (&db.storage, db.backend);
    let monitors = fixture(storage).await;
    for key in MonitorSortKey::ALL {
        for descending in [false, true] {
            let mut expected = monitors.clone();
            expected.sort_by(|x, y| {
                let by_key = match key {
                    MonitorSortKey::Created => x.id.cmp(&y.id),
                    MonitorSortKey::Name => x.name.to_lowercase().cmp(&y.name.to_lowercase()),
                    MonitorSortKey::Status => rank(x, &[]).cmp(&rank(y, &[])),
                    MonitorSortKey::LastChecked => {
                        let at = |m: &Monitor| {
                            m.state.last_checked_at.map_or(-1, |t| t.as_millisecond())
                        };
                        at(x).cmp(&at(y))
                    }
                };
                by_key.then(x.id.cmp(&y.id))
            });
            if descending {
                expected.reverse();
            }
            for limit in [1, 2, 3, 500] {
                assert_eq!(
                    walk(storage, &sorted(key, descending), limit).await,
                    ids(&expected),
                    "{b}: {} {} by {limit}",
                    key.as_str(),
                    if descending { "desc" } else { "asc" },
                );
            }
        }
    }

    // Sorting and filters combine.
    let down_by_name = MonitorFilter {
        status: Some(MonitorStatus::Down),
        ..sorted(MonitorSortKey::Name, true)
    };
    assert_eq!(
        walk(storage, &down_by_name, 1).await,
        [monitors[5].id, monitors[1].id],
        "{b}: down, Z to A"
    );

    // The cursor carries the sort value: a row that changes after its page was shown does not move the
    // place where the next page starts.
    let by_check = sorted(MonitorSortKey::LastChecked, false);
    let first = storage
        .list_monitors(&by_check, PageRequest::new(3, None))
        .await
        .expect("first page");
    let last_shown = first.items.last().expect("a full page").clone();
    apply(
        storage,
        &[only_state(last_shown.id, state(MonitorStatus::Up, 10_000))],
    )
    .await;
    let mut sort = by_check.sort.clone();
    let cursor = sort
        .continue_after(first.next_cursor.as_deref().expect("more pages"))
        .expect("a cursor of this order");
    let rest = storage
        .list_monitors(
            &MonitorFilter {
                sort,
                ..MonitorFilter::default()
            },
            PageRequest::new(500, Some(cursor)),
        )
        .await
        .expect("the rest");
    let mut shown = ids(&first.items);
    shown.extend(ids(&rest.items));
    assert_eq!(
        shown.len(),
        monitors.len() + 1,
        "{b}: only the moved row twice"
    );
    assert_eq!(rest.items.last().map(|m| m.id), Some(last_shown.id), "{b}");
}

async fn the_maintenance_scope_decides_the_maintenance_status(db: TestDb) {
    let (storage, b) = (&db.storage, db.backend);
    let monitors = fixture(storage).await;
    let web = monitors[0].service_id;
    // A window on the web service (monitors 0, 1, 4 and paused 6) and one on monitor 2 of jobs.
    let scope = MaintenanceScope {
        service_ids: vec![web],
        monitor_ids: vec![monitors[2].id],
    };
    let covered = [
        monitors[0].id,
        monitors[1].id,
        monitors[2].id,
        monitors[4].id,
    ];
    let with = |status: MonitorStatus| MonitorFilter {
        status: Some(status),
        maintenance: Some(scope.clone()),
        ..MonitorFilter::default()
    };
    let listed = async |filter: MonitorFilter| walk(storage, &filter, 2).await;
    assert_eq!(
        listed(with(MonitorStatus::Maintenance)).await,
        covered,
        "{b}: covered and not paused"
    );
    assert!(
        listed(with(MonitorStatus::Up)).await.is_empty(),
        "{b}: both up ones are covered"
    );
    assert_eq!(
        listed(with(MonitorStatus::Down)).await,
        [monitors[5].id],
        "{b}"
    );
    assert_eq!(
        listed(with(MonitorStatus::Degraded)).await,
        [monitors[3].id],
        "{b}"
    );
    assert_eq!(
        listed(with(MonitorStatus::Paused)).await,
        [monitors[6].id],
        "{b}: paused wins"
    );
    // Without a scope nothing is in maintenance.
    let unscoped = MonitorFilter {
        status: Some(MonitorStatus::Maintenance),
        ..MonitorFilter::default()
    };
    assert!(listed(unscoped).await.is_empty(), "{b}");

    // The status order ranks covered monitors as maintenance, after up and before paused.
    let mut expected = monitors.clone();
    expected.sort_by_key(|monitor| (rank(monitor, &covered), monitor.id));
    let by_status = MonitorFilter {
        maintenance: Some(scope.clone()),
        ..sorted(MonitorSortKey::Status, false)
    };
    assert_eq!(listed(by_status).await, ids(&expected), "{b}: worst first");
}

async fn the_ping_path_finds_services_and_batch_monitors(db: TestDb) {
    let (storage, b) = (&db.storage, db.backend);
    let monitors = fixture(storage).await;
    let found = storage.service_id_by_ping_key("key-web").await;
    assert_eq!(
        found.expect("by ping key"),
        Some(monitors[0].service_id),
        "{b}"
    );
    let missing = storage.service_id_by_ping_key("key-nope").await;
    assert_eq!(missing.expect("by ping key"), None, "{b}");

    // The writer's view of a monitor is the full record's, minus names and the service join.
    let wanted = [monitors[6].id, monitors[1].id, 999_999];
    let mut batch = storage
        .batch_monitors(&wanted)
        .await
        .expect("batch monitors");
    batch.sort_by_key(|monitor| monitor.id);
    let expected: Vec<BatchMonitor> = [&monitors[1], &monitors[6]]
        .into_iter()
        .map(|monitor| BatchMonitor {
            id: monitor.id,
            service_id: monitor.service_id,
            kind: monitor.kind.clone(),
            settings_json: monitor.settings.to_string(),
            failure_threshold: monitor.failure_threshold,
            success_threshold: monitor.success_threshold,
            ping_token: monitor.ping_token.clone(),
            paused: monitor.paused,
            state: monitor.state.clone(),
        })
        .collect();
    let parsed = |monitor: &BatchMonitor| {
        serde_json::from_str::<serde_json::Value>(&monitor.settings_json).expect("settings")
    };
    assert_eq!(batch.len(), 2, "{b}: the missing id is left out");
    for (got, want) in batch.iter().zip(&expected) {
        assert_eq!(parsed(got), parsed(want), "{b}");
        let same_settings = BatchMonitor {
            settings_json: want.settings_json.clone(),
            ..got.clone()
        };
        assert_eq!(&same_settings, want, "{b}");
    }
}

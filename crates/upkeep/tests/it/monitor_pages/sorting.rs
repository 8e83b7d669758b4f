//! Sorted monitor lists over HTTP on both backends: the API's `sort` and `order` with cursors that keep
//! the order, the list page's sort form and pager, and the `maintenance` status (not stored: worked out
//! from the windows active now) as a filter and in the table.

use reqwest::StatusCode;
use serde_json::Value;
use upkeep_core::audit;
use upkeep_core::monitors::{self, MonitorSpec, maintenance::WindowSpec};
use upkeep_core::storage::{MonitorState, MonitorStatus, MonitorWrite, Role};

use super::{http_spec, monitor, next_link, rows, service, start};
use crate::support::databases::{TestDb, backend_tests};
use crate::support::pages::Browser;
use crate::support::server::TestServer;

backend_tests!(lists_sort_and_show_maintenance_in_the_api_and_the_page);

/// Every page of `/api/v1/monitors?<query>`, one monitor at a time; returns the names in order.
async fn api_names(server: &TestServer, token: &str, query: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = server.url(&format!("/api/v1/monitors?limit=1&{query}"));
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let response = server
            .client
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status(), StatusCode::OK, "{query}");
        let page: Value = response.json().await.expect("json");
        names.extend(
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|item| item["name"].as_str().unwrap_or_default().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return names,
        }
    }
}

async fn refused(server: &TestServer, token: &str, query: &str) -> Value {
    let url = server.url(&format!("/api/v1/monitors?{query}"));
    let response = server
        .client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("GET");
    assert_eq!(
        response.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "{query}"
    );
    response.json().await.expect("json")
}

async fn lists_sort_and_show_maintenance_in_the_api_and_the_page(db: TestDb) {
    let server = start(db).await;
    let (_, password) = server.user("rita@example.com", Role::Viewer).await;
    let (_, token) = server.caller("vic@example.com", Role::Viewer).await;
    service(&server, "api").await;
    service(&server, "jobs").await;
    let core = server.core();
    let beta = monitor(&server, "api", http_spec("beta"), None).await;
    let alpha = monitor(&server, "api", http_spec("Alpha"), None).await;
    let gamma = monitor(&server, "jobs", http_spec("gamma"), None).await;
    let delta = monitor(&server, "jobs", http_spec("delta"), None).await;
    let now = core.now();
    let state = |status| MonitorState {
        status,
        last_checked_at: Some(now),
        ..MonitorState::pending()
    };
    let writes: Vec<MonitorWrite> = [
        (beta.id, MonitorStatus::Up),
        (alpha.id, MonitorStatus::Down),
        (gamma.id, MonitorStatus::Up),
    ]
    .into_iter()
    .map(|(monitor_id, status)| MonitorWrite {
        monitor_id,
        state: state(status),
        event: None,
        ping: None,
        result: None,
    })
    .collect();
    core.storage
        .apply_monitor_writes(&writes)
        .await
        .expect("states");
    let ctx = audit::context(core, audit::cli_actor(), None);
    monitors::pause(core, &ctx, delta.id, None)
        .await
        .expect("pause");
    // A window over the jobs service, running now: gamma shows maintenance; paused delta stays paused.
    let window = WindowSpec {
        service: Some("jobs".into()),
        title: "Migration".into(),
        starts_at: Some(
            now.checked_sub(jiff::SignedDuration::from_mins(5))
                .unwrap_or(now)
                .to_string(),
        ),
        ends_at: Some(
            now.checked_add(jiff::SignedDuration::from_hours(1))
                .unwrap_or(now)
                .to_string(),
        ),
        ..WindowSpec::default()
    };
    monitors::maintenance::create_window(core, &ctx, &window)
        .await
        .expect("window");

    // The API, one monitor a page, in every order asked.
    let names = |list: &[&str]| list.iter().map(|name| name.to_string()).collect::<Vec<_>>();
    assert_eq!(
        api_names(&server, &token, "").await,
        names(&["beta", "Alpha", "gamma", "delta"])
    );
    assert_eq!(
        api_names(&server, &token, "sort=name").await,
        names(&["Alpha", "beta", "delta", "gamma"])
    );
    assert_eq!(
        api_names(&server, &token, "sort=name&order=desc").await,
        names(&["gamma", "delta", "beta", "Alpha"])
    );
    assert_eq!(
        api_names(&server, &token, "sort=status").await,
        names(&["Alpha", "beta", "gamma", "delta"]),
        "down, up, maintenance, paused"
    );
    assert_eq!(
        api_names(&server, &token, "sort=created&order=desc").await,
        names(&["delta", "gamma", "Alpha", "beta"])
    );
    assert_eq!(
        api_names(&server, &token, "status=maintenance").await,
        names(&["gamma"])
    );
    assert_eq!(
        api_names(&server, &token, "status=up").await,
        names(&["beta"])
    );
    assert_eq!(
        api_names(&server, &token, "status=paused").await,
        names(&["delta"])
    );
    assert_eq!(
        refused(&server, &token, "sort=size").await["error"]["field"],
        "sort"
    );
    assert_eq!(
        refused(&server, &token, "order=up").await["error"]["field"],
        "order"
    );
    assert_eq!(
        refused(&server, &token, "sort=name&cursor=12").await["error"]["field"],
        "cursor",
        "a creation-order cursor is not a cursor of the name order"
    );

    // The page: the sort form, a pager that keeps the order, the maintenance status in the table.
    let mut browser = Browser::signed_in(&server, "rita@example.com", &password).await;
    let page = browser.get("/monitors?sort=name&order=desc").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(rows(&page.body), 4);
    let order: Vec<usize> = ["gamma", "delta", "beta", "Alpha"]
        .iter()
        .map(|name| page.body.find(&format!(">{name}</a>")).expect(name))
        .collect();
    assert!(
        order.windows(2).all(|pair| pair[0] < pair[1]),
        "{}",
        page.body
    );
    assert!(page.body.contains("Sorted by name, Z to A."));
    assert!(page.body.contains("<option value=\"name\" selected>"));
    assert!(page.body.contains("mstatus-maintenance"), "{}", page.body);
    let only = browser.get("/monitors?status=maintenance").await;
    assert_eq!(rows(&only.body), 1);
    assert!(only.body.contains(">gamma</a>"));
    for n in 0..60 {
        let spec = MonitorSpec {
            name: format!("zz {n:02}"),
            ..http_spec("x")
        };
        monitor(&server, "api", spec, None).await;
    }
    let first = browser.get("/monitors?sort=name&order=desc").await;
    assert!(first.body.contains(">zz 59</a>") && !first.body.contains(">Alpha</a>"));
    let next = next_link(&first.body).expect("a next-page link");
    assert!(
        next.contains("sort=name") && next.contains("order=desc"),
        "{next}"
    );
    let second = browser.get(&next).await;
    assert_eq!(rows(&second.body), 14);
    assert!(second.body.contains(">Alpha</a>") && !second.body.contains(">zz 59</a>"));
    assert_eq!(
        browser.get("/monitors?sort=name&cursor=3").await.status,
        StatusCode::BAD_REQUEST
    );
    server.stop().await;
}

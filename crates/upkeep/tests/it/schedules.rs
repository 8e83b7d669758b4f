//! On-call schedules as a person uses them: created over the API (two layers in Europe/Berlin, overrides),
//! who is on call now and at a time with the clock moved (across the spring-forward night of 2026-03-29
//! and New York's fall-back night of 2026-11-01), why, the gaps and unpageable people flagged, bad specs
//! refused naming the field, the iCalendar feeds read back by a real parser, and the pages (the CLI in
//! [`cli`]).

use icalendar::{CalendarDateTime, Component, DatePerhapsTime};
use jiff::Timestamp;
use reqwest::StatusCode;
use serde_json::{Value, json};
use upkeep_core::audit;
use upkeep_core::identity::{self, UserPatch};
use upkeep_core::oncall::service;
use upkeep_core::storage::{Role, Scope};

use crate::support::databases::{TestDb, backend_tests};
use crate::support::pages::Browser;
use crate::support::server::TestServer;

mod cli;

backend_tests!(schedule_story);

fn ts(text: &str) -> Timestamp {
    text.parse().expect("a test time")
}

async fn api(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let mut request = server
        .client
        .request(method, server.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("send");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get(server: &TestServer, path: &str, token: &str) -> Value {
    let (status, body) = api(server, reqwest::Method::GET, path, token, None).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

/// Two layers in Berlin: everyone takes a day in turn, handing off at 02:30 (a time the night of
/// 2026-03-29 skips), and Cy covers weekday office hours above that. Bo is off for two hours on
/// Saturday (nobody covers), and Di stands in for Ana on Sunday late morning.
fn platform_spec(ana: i64, bo: i64, cy: i64, di: i64) -> Value {
    json!({
        "time_zone": "Europe/Berlin",
        "layers": [
            {"name": "Around the clock", "rotation": {"kind": "daily", "participants": [ana, bo],
                "start_date": "2026-03-23", "handoff_time": "02:30"}, "restrictions": []},
            {"name": "Weekdays", "rotation": {"kind": "weekly", "participants": [cy],
                "start_date": "2026-03-23", "handoff_time": "09:00"},
             "restrictions": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]}
        ],
        "overrides": [
            {"start": "2026-03-28T06:00:00Z", "end": "2026-03-28T08:00:00Z",
             "action": {"kind": "remove", "user_id": bo}},
            {"start": "2026-03-29T10:00:00Z", "end": "2026-03-29T12:00:00Z",
             "action": {"kind": "replace", "user_id": ana, "with_user_id": di}}
        ]
    })
}

/// (name, reason, until) of everyone on call in an answer.
fn on_call(answer: &Value) -> Vec<(String, String, Value)> {
    answer["on_call"]
        .as_array()
        .or_else(|| answer["on_call_now"].as_array())
        .expect("on_call")
        .iter()
        .map(|entry| {
            (
                entry["name"].as_str().unwrap_or("?").to_string(),
                entry["reason"].as_str().unwrap_or("?").to_string(),
                entry["until"].clone(),
            )
        })
        .collect()
}

fn entry(name: &str, reason: &str, until: &str) -> (String, String, Value) {
    (name.into(), reason.into(), json!(until))
}

async fn schedule_story(db: TestDb) {
    let server = TestServer::start(db).await;
    server.clock.set(ts("2026-03-26T12:00:00Z"));
    let (owner, owner_password) = server.user("owner@example.com", Role::Owner).await;
    let token = server.token(&owner, Scope::Admin).await;
    let (_, viewer) = server.caller("viewer@example.com", Role::Viewer).await;
    let mut ids = Vec::new();
    for name in ["ana", "bo", "cy", "di"] {
        ids.push(
            server
                .user(&format!("{name}@example.com"), Role::Responder)
                .await
                .0,
        );
    }
    let [ana, bo, cy, di] = [ids[0].id, ids[1].id, ids[2].id, ids[3].id];
    let spec = platform_spec(ana, bo, cy, di);
    let body = json!({"slug": "platform", "name": "Platform", "spec": spec});

    // A viewer may read but not create.
    let (status, refused) = api(
        &server,
        reqwest::Method::POST,
        "/api/v1/schedules",
        &viewer,
        Some(&body),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");

    // Bad specs are refused whole, naming the field.
    let bad = |path: &str, value: Value| {
        let mut spec = spec.clone();
        let pointer = spec.pointer_mut(path).expect("a field of the spec");
        *pointer = value;
        json!({"slug": "bad", "spec": spec})
    };
    for (body, field) in [
        (
            bad("/layers/0/rotation/handoff_time", json!("25:00")),
            "spec.layers[0].rotation.handoff_time",
        ),
        (
            bad("/layers/0/rotation/kind", json!("yearly")),
            "spec.layers[0].rotation.kind",
        ),
        (
            bad("/layers/0/rotation/participants/1", json!(999_999)),
            "spec.layers[0].rotation.participants[1]",
        ),
        (bad("/time_zone", json!("Mars/Olympus")), "spec.time_zone"),
        (
            bad("/overrides/1/end", json!("2026-03-29T09:00:00Z")),
            "spec.overrides[1].end",
        ),
    ] {
        let (status, answer) = api(
            &server,
            reqwest::Method::POST,
            "/api/v1/schedules",
            &token,
            Some(&body),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {answer}"
        );
        assert_eq!(answer["error"]["field"], field, "{answer}");
    }

    let (status, created) = api(
        &server,
        reqwest::Method::POST,
        "/api/v1/schedules",
        &token,
        Some(&body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["spec"], spec);
    let feed_url = created["feed_url"].as_str().expect("feed url").to_string();
    assert!(
        feed_url.starts_with(&format!("{}/oncall/schedules/", server.base)),
        "{feed_url}"
    );

    // Thursday 13:00 in Berlin: Cy's weekday window wins over the daily layer, until 17:00.
    let weekdays = "schedule Platform, layer \"Weekdays\"";
    let now = get(&server, "/api/v1/schedules/platform/oncall", &viewer).await;
    assert_eq!(
        on_call(&now),
        [entry("cy", weekdays, "2026-03-26T16:00:00Z")]
    );
    let view = get(&server, "/api/v1/schedules/platform", &viewer).await;
    assert_eq!(on_call(&view), on_call(&now));
    assert_eq!(
        view["warnings"]["gaps"],
        json!([{"start": "2026-03-28T06:00:00Z", "end": "2026-03-28T08:00:00Z"}]),
        "Bo's two hours off on Saturday are flagged: {view}"
    );
    assert_eq!(view["warnings"]["participants"], json!([]));

    // The night the clocks spring forward: 02:30 does not exist, so Bo hands over to Ana at 03:00 CEST.
    let around = "schedule Platform, layer \"Around the clock\"";
    let before = get(
        &server,
        "/api/v1/schedules/platform/oncall?at=2026-03-29T00:45:00Z",
        &viewer,
    )
    .await;
    assert_eq!(
        on_call(&before),
        [entry("bo", around, "2026-03-29T01:00:00Z")]
    );
    server.clock.set(ts("2026-03-29T01:15:00Z"));
    let after = get(&server, "/api/v1/schedules/platform/oncall", &viewer).await;
    assert_eq!(after["at"], "2026-03-29T01:15:00Z");
    // Her shift runs to 02:30 CEST on Monday, but Di stands in for her from 10:00Z (an override).
    assert_eq!(
        on_call(&after),
        [entry("ana", around, "2026-03-29T10:00:00Z")]
    );

    // The override, with its why.
    let swapped = get(
        &server,
        "/api/v1/schedules/platform/oncall?at=2026-03-29T11:00:00%2B00:00",
        &viewer,
    )
    .await;
    assert_eq!(
        on_call(&swapped),
        [entry(
            "di",
            "schedule Platform, override #2 (replaces ana)",
            "2026-03-29T12:00:00Z"
        )]
    );
    assert_eq!(swapped["on_call"][0]["source"]["type"], "override");
    let (status, answer) = api(
        &server,
        reqwest::Method::GET,
        "/api/v1/schedules/platform/oncall?at=tomorrow",
        &viewer,
        None,
    )
    .await;
    assert_eq!(
        (status, &answer["error"]["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("at"))
    );

    // The final shifts of the weekend: the gap, the short spring-forward shift, the override.
    let shifts = get(
        &server,
        "/api/v1/schedules/platform/shifts?from=2026-03-28T00:00:00Z&to=2026-03-30T00:00:00Z",
        &viewer,
    )
    .await;
    let got: Vec<(String, String, String)> = shifts["shifts"]
        .as_array()
        .expect("shifts")
        .iter()
        .map(|s| {
            let text = |key: &str| s[key].as_str().unwrap_or("?").to_string();
            (text("name"), text("start"), text("end"))
        })
        .collect();
    let want = [
        ("ana", "2026-03-28T00:00:00Z", "2026-03-28T01:30:00Z"),
        ("bo", "2026-03-28T01:30:00Z", "2026-03-28T06:00:00Z"),
        ("bo", "2026-03-28T08:00:00Z", "2026-03-29T01:00:00Z"),
        ("ana", "2026-03-29T01:00:00Z", "2026-03-29T10:00:00Z"),
        ("di", "2026-03-29T10:00:00Z", "2026-03-29T12:00:00Z"),
        ("ana", "2026-03-29T12:00:00Z", "2026-03-30T00:00:00Z"),
    ]
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()));
    assert_eq!(got, want);
    let (status, answer) = api(
        &server,
        reqwest::Method::GET,
        "/api/v1/schedules/platform/shifts?from=2026-01-01T00:00:00Z&to=2028-01-01T00:00:00Z",
        &viewer,
        None,
    )
    .await;
    assert_eq!(
        (status, &answer["error"]["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("to"))
    );

    // The escalation engine's question, with the reason it will give.
    let monday = ts("2026-03-30T08:00:00Z");
    let paged =
        service::users_on_call(server.core(), created["id"].as_i64().expect("id"), monday).await;
    assert_eq!(paged.expect("users on call"), [(cy, weekdays.to_string())]);

    // The schedule's feed, read back by a real iCalendar parser.
    let response = server.client.get(&feed_url).send().await.expect("feed");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/calendar; charset=utf-8"
    );
    let calendar: icalendar::Calendar = response
        .text()
        .await
        .expect("text")
        .parse()
        .expect("iCalendar");
    let events: Vec<(String, i64, i64, String)> = calendar
        .components
        .iter()
        .filter_map(|component| component.as_event())
        .map(|event| {
            let seconds = |value: Option<DatePerhapsTime>| match value {
                Some(DatePerhapsTime::DateTime(CalendarDateTime::Utc(at))) => at.timestamp(),
                other => panic!("not a UTC time: {other:?}"),
            };
            (
                event.get_summary().unwrap_or_default().to_string(),
                seconds(event.get_start()),
                seconds(event.get_end()),
                event.get_description().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let di_event = (
        "On call: Platform (di)".to_string(),
        ts("2026-03-29T10:00:00Z").as_second(),
        ts("2026-03-29T12:00:00Z").as_second(),
        "schedule Platform, override #2 (replaces ana)".to_string(),
    );
    assert!(events.contains(&di_event), "{events:?}");
    // From the first shift (Monday 23 March) to at least eight weeks ahead.
    assert_eq!(
        events.first().map(|e| e.1),
        Some(ts("2026-03-23T01:30:00Z").as_second())
    );
    assert!(
        events
            .last()
            .is_some_and(|e| e.2 >= ts("2026-05-24T00:00:00Z").as_second())
    );
    let missing = server
        .client
        .get(server.url("/oncall/schedules/nope.ics"))
        .send()
        .await
        .expect("x");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // Ana's own feed: only her shifts.
    let ana_token = server.token(&ids[0], Scope::Read).await;
    let mine = get(&server, "/api/v1/me/calendar", &ana_token).await;
    let url = mine["url"].as_str().expect("url");
    assert_eq!(
        get(&server, "/api/v1/me/calendar", &ana_token).await["url"],
        url,
        "stable"
    );
    let text = server
        .client
        .get(url)
        .send()
        .await
        .expect("feed")
        .text()
        .await
        .expect("text");
    let calendar: icalendar::Calendar = text.parse().expect("iCalendar");
    let summaries: Vec<&str> = calendar
        .components
        .iter()
        .filter_map(|component| component.as_event())
        .filter_map(|event| event.get_summary())
        .collect();
    assert!(
        !summaries.is_empty() && summaries.iter().all(|s| *s == "On call: Platform (ana)"),
        "{summaries:?}"
    );

    // Rotating the feed token retires the old URL.
    let (status, rotated) = api(
        &server,
        reqwest::Method::POST,
        "/api/v1/schedules/platform/rotate-feed",
        &token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let gone = server.client.get(&feed_url).send().await.expect("x");
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);

    // People who cannot be paged are flagged and left out of pages.
    let ctx = audit::context(server.core(), audit::cli_actor(), None);
    let patch = UserPatch {
        disabled: Some(true),
        ..UserPatch::default()
    };
    identity::update_user(server.core(), &ctx, None, cy, patch)
        .await
        .expect("disable cy");
    identity::delete_user(server.core(), &ctx, None, di)
        .await
        .expect("delete di");
    let view = get(&server, "/api/v1/schedules/platform", &viewer).await;
    assert_eq!(
        view["warnings"]["participants"],
        json!([
            {"user_id": cy, "issue": "disabled_user", "fields": ["spec.layers[1].rotation.participants[0]"]},
            {"user_id": di, "issue": "unknown_user", "fields": ["spec.overrides[1].action.with_user_id"]}
        ])
    );
    let paged =
        service::users_on_call(server.core(), created["id"].as_i64().expect("id"), monday).await;
    assert_eq!(paged.expect("users on call"), []);

    // Replacing the spec: a bad one is refused, a good one applies.
    let (status, answer) = api(&server, reqwest::Method::PUT, "/api/v1/schedules/platform", &token,
        Some(&json!({"name": "Platform", "spec": {"time_zone": "Europe/Berlin", "layers": [{"name": "x",
            "rotation": {"kind": "daily", "participants": [], "start_date": "2026-03-23", "handoff_time": "09:00"}}]}}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(
        answer["error"]["field"],
        "spec.layers[0].rotation.participants"
    );

    // New York falls back on 2026-11-01: a 01:30 handoff happens at its first occurrence (EDT).
    server.clock.set(ts("2026-10-30T12:00:00Z"));
    let ny = json!({"slug": "ny", "spec": {"time_zone": "America/New_York", "layers": [{"name": "Nights",
        "rotation": {"kind": "daily", "participants": [ana, bo], "start_date": "2026-10-31", "handoff_time": "01:30"}}]}});
    let (status, answer) = api(
        &server,
        reqwest::Method::POST,
        "/api/v1/schedules",
        &token,
        Some(&ny),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let nights = "schedule ny, layer \"Nights\"";
    let early = get(
        &server,
        "/api/v1/schedules/ny/oncall?at=2026-11-01T05:15:00Z",
        &viewer,
    )
    .await;
    assert_eq!(
        on_call(&early),
        [entry("ana", nights, "2026-11-01T05:30:00Z")]
    );
    server.clock.set(ts("2026-11-01T05:45:00Z"));
    let late = get(&server, "/api/v1/schedules/ny/oncall", &viewer).await;
    // The next 01:30 is EST: 06:30Z, so Bo's shift lasts 25 hours.
    assert_eq!(
        on_call(&late),
        [entry("bo", nights, "2026-11-02T06:30:00Z")]
    );

    // The pages: the list, and the schedule with who is on call, the warnings and the calendar.
    server.clock.set(ts("2026-03-26T12:00:00Z"));
    let mut browser = Browser::signed_in(&server, "owner@example.com", &owner_password).await;
    let list = browser.get("/schedules").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.body.contains("href=\"/schedules/platform\"") && list.body.contains("/oncall/users/")
    );
    let page = browser.get("/schedules/platform").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for expected in [
        "Weekdays",
        "Nobody is on call from Sat 28 Mar 07:00 CET to Sat 28 Mar 09:00 CET.",
        "<svg class=\"oncall-calendar\"",
        "class=\"gap\"",
        "cannot be paged",
        "/oncall/schedules/",
        "API or the command line",
    ] {
        assert!(
            page.body.contains(expected),
            "{expected} missing:\n{}",
            page.body
        );
    }

    let (status, _) = api(
        &server,
        reqwest::Method::DELETE,
        "/api/v1/schedules/ny",
        &token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api(
        &server,
        reqwest::Method::GET,
        "/api/v1/schedules/ny",
        &viewer,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.stop().await;
}

//! The JSON API over real HTTP, on both backends: authentication and scopes, the one error shape,
//! services and teams, people and tokens, CSRF on session requests, audit records, and operations.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use upkeep_core::identity;
use upkeep_core::storage::{Role, Scope};

use crate::support::databases::{TestDb, backend_tests};
use crate::support::server::TestServer;

backend_tests!(
    tokens_are_checked_and_scopes_cap_roles,
    errors_have_one_shape,
    services_and_teams_round_trip,
    people_are_managed_by_admins_only,
    tokens_are_created_listed_and_revoked,
    session_requests_need_the_csrf_token,
    operations_endpoints_answer,
);

async fn get(server: &TestServer, token: &str, path: &str) -> (StatusCode, Value) {
    let response = server
        .client
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn send(
    server: &TestServer,
    method: reqwest::Method,
    token: &str,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    let response = server
        .client
        .request(method, server.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("send");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post(server: &TestServer, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    send(server, reqwest::Method::POST, token, path, body).await
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

async fn tokens_are_checked_and_scopes_cap_roles(db: TestDb) {
    let server = TestServer::start(db).await;
    let (owner, admin_token) = server.caller("owner@example.com", Role::Owner).await;
    let read_token = server.token(&owner, Scope::Read).await;

    let (status, me) = get(&server, &admin_token, "/api/v1/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["user"]["email"], "owner@example.com");
    assert_eq!(me["authenticated_by"], "token");
    assert_eq!(me["capability"], "admin");

    // A read token cannot write, whatever its owner's role.
    let (status, body) = post(
        &server,
        &read_token,
        "/api/v1/teams",
        json!({"slug": "core"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(code(&body), "forbidden");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("scope is read")
    );
    let (status, _) = get(&server, &read_token, "/api/v1/teams").await;
    assert_eq!(status, StatusCode::OK);

    // A viewer cannot manage people, even with a token.
    let (_, viewer_token) = server.caller("viewer@example.com", Role::Viewer).await;
    let (status, body) = get(&server, &viewer_token, "/api/v1/users").await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
    let (status, _) = post(
        &server,
        &viewer_token,
        "/api/v1/services",
        json!({"slug": "x"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A responder can write operational data but not read the audit log.
    let (_, responder_token) = server
        .caller("responder@example.com", Role::Responder)
        .await;
    let (status, _) = post(
        &server,
        &responder_token,
        "/api/v1/services",
        json!({"slug": "x"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = get(&server, &responder_token, "/api/v1/audit").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // No credentials, a malformed header, an unknown token.
    let response = server
        .client
        .get(server.url("/api/v1/me"))
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = server
        .client
        .get(server.url("/api/v1/me"))
        .header("authorization", "Basic eDp5")
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let (status, body) = get(&server, "upk_notarealtoken", "/api/v1/me").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );

    // Revoked and expired tokens are refused; time moves by the clock, not by sleeping.
    let (status, created) = post(
        &server,
        &admin_token,
        "/api/v1/tokens",
        json!({"scope": "read", "expires_in": "1h"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let short = created["token"].as_str().expect("token").to_string();
    assert_eq!(get(&server, &short, "/api/v1/me").await.0, StatusCode::OK);
    server.clock.advance(Duration::from_secs(3601));
    let (status, body) = get(&server, &short, "/api/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("expired"),
        "{body}"
    );

    let id = server
        .core()
        .storage
        .token_by_hash(&identity::hash_secret(&read_token))
        .await
        .expect("lookup")
        .expect("token")
        .0
        .id;
    let (status, _) = send(
        &server,
        reqwest::Method::DELETE,
        &admin_token,
        &format!("/api/v1/tokens/{id}"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = get(&server, &read_token, "/api/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("revoked"),
        "{body}"
    );
    server.stop().await;
}

async fn errors_have_one_shape(db: TestDb) {
    let server = TestServer::start(db).await;
    let (_, token) = server.caller("owner@example.com", Role::Owner).await;
    let raw = |body: &'static str, content_type: &'static str| {
        server
            .client
            .post(server.url("/api/v1/teams"))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    let response = raw(r#"{"slug": "#, "application/json").await.expect("post");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("json");
    assert_eq!(code(&body), "invalid_json");

    let response = raw(r#"{"slug": "a", "colour": "red"}"#, "application/json")
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        (code(&body), body["error"]["field"].as_str()),
        ("validation_failed", Some("colour"))
    );

    let response = raw(r#"{"slug": 7}"#, "application/json")
        .await
        .expect("post");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["field"], "slug");

    let response = raw(r#"{"slug": "a"}"#, "text/plain").await.expect("post");
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body: Value = response.json().await.expect("json");
    assert_eq!(code(&body), "unsupported_media_type");

    let (status, body) = post(
        &server,
        &token,
        "/api/v1/teams",
        json!({"slug": "Not A Slug"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("slug"))
    );
    assert_eq!(
        post(&server, &token, "/api/v1/teams", json!({"slug": "core"}))
            .await
            .0,
        StatusCode::CREATED
    );
    let (status, body) = post(&server, &token, "/api/v1/teams", json!({"slug": "core"})).await;
    assert_eq!(
        (status, code(&body), body["error"]["field"].as_str()),
        (StatusCode::CONFLICT, "conflict", Some("slug"))
    );

    let big = format!(r#"{{"slug": "{}"}}"#, "a".repeat(2 * 1024 * 1024));
    // Its own client: the server answers 413 without reading the body and closes that connection, which
    // a shared pool might otherwise hand to the next request.
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/teams"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let (status, body) = get(&server, &token, "/api/v1/no-such-thing").await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let (status, body) = get(&server, &token, "/api/v1/services/missing").await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let (status, body) = get(&server, &token, "/api/v1/services?cursor=zzz").await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("cursor"))
    );
    let (status, body) = get(&server, &token, "/api/v1/users/abc").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_path")
    );
    // Nothing accepted before the bad requests was lost.
    let (_, teams) = get(&server, &token, "/api/v1/teams").await;
    assert_eq!(teams["items"].as_array().map(Vec::len), Some(1));
    server.stop().await;
}

async fn services_and_teams_round_trip(db: TestDb) {
    let server = TestServer::start(db).await;
    let (_, token) = server.caller("owner@example.com", Role::Owner).await;
    assert_eq!(
        post(
            &server,
            &token,
            "/api/v1/teams",
            json!({"slug": "platform", "name": "Platform"})
        )
        .await
        .0,
        StatusCode::CREATED
    );
    assert_eq!(
        post(&server, &token, "/api/v1/services", json!({"slug": "db"}))
            .await
            .0,
        StatusCode::CREATED
    );
    let (status, api) = post(
        &server,
        &token,
        "/api/v1/services",
        json!({"slug": "api", "name": "Public API", "team": "platform", "depends_on": ["db"],
               "links": [{"title": "repo", "url": "https://git.example.com/api"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{api}");
    assert_eq!(api["team"], "platform");
    assert_eq!(api["depends_on"], json!(["db"]));
    assert_eq!(api["links"][0]["url"], "https://git.example.com/api");
    assert!(api["id"].as_i64().is_some_and(|id| id > 0));

    // A dependency back onto api would close a cycle.
    let (status, body) = send(
        &server,
        reqwest::Method::PATCH,
        &token,
        "/api/v1/services/db",
        json!({"depends_on": ["api"]}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("depends_on")),
        "{body}"
    );
    let (status, body) = post(
        &server,
        &token,
        "/api/v1/services",
        json!({"slug": "web", "depends_on": ["nope"]}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("depends_on"))
    );
    let (status, body) = post(
        &server,
        &token,
        "/api/v1/services",
        json!({"slug": "web", "links": [{"title": "x", "url": "javascript:alert(1)"}]}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("links[0].url"))
    );

    // Deleting what others depend on, or a team that owns services, is refused.
    let (status, body) = send(
        &server,
        reqwest::Method::DELETE,
        &token,
        "/api/v1/services/db",
        json!({}),
    )
    .await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "conflict"));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("api")
    );
    let (status, _) = send(
        &server,
        reqwest::Method::DELETE,
        &token,
        "/api/v1/teams/platform",
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // `"team": null` removes the owner; absent fields stay.
    let (status, patched) = send(
        &server,
        reqwest::Method::PATCH,
        &token,
        "/api/v1/services/api",
        json!({"team": null, "description": "edge"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["team"], Value::Null);
    assert_eq!(patched["name"], "Public API");
    assert_eq!(patched["depends_on"], json!(["db"]));

    // Pagination: limit and cursor walk every service once.
    for slug in ["s1", "s2", "s3"] {
        post(&server, &token, "/api/v1/services", json!({"slug": slug})).await;
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/services?limit=2".to_string();
    loop {
        let (status, page) = get(&server, &token, &path).await;
        assert_eq!(status, StatusCode::OK);
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .filter_map(|s| s["slug"].as_str().map(str::to_string)),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/services?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ["db", "api", "s1", "s2", "s3"]);

    // The audit log recorded who changed what, from where, with before and after.
    let (status, audit) = get(
        &server,
        &token,
        "/api/v1/audit?target_kind=service&target_id=api",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let records = audit["items"].as_array().expect("items");
    let actions: Vec<&str> = records
        .iter()
        .filter_map(|r| r["action"].as_str())
        .collect();
    assert_eq!(actions, ["service.update", "service.create"]);
    let update = &records[0];
    assert_eq!(update["actor_kind"], "token");
    assert!(
        update["actor_label"]
            .as_str()
            .unwrap_or("")
            .starts_with("owner@example.com (token upk_")
    );
    assert_eq!(update["origin"], "127.0.0.1");
    assert_eq!(update["before"]["team_slug"], "platform");
    assert_eq!(update["after"]["team_slug"], Value::Null);
    server.stop().await;
}

async fn people_are_managed_by_admins_only(db: TestDb) {
    let server = TestServer::start(db).await;
    let (owner, owner_token) = server.caller("owner@example.com", Role::Owner).await;
    let (_, admin_token) = server.caller("admin@example.com", Role::Admin).await;

    let (status, created) = post(
        &server,
        &admin_token,
        "/api/v1/users",
        json!({"email": "New@Example.com", "role": "responder"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["user"]["email"], "new@example.com");
    let generated = created["generated_password"]
        .as_str()
        .expect("generated password")
        .to_string();
    assert!(generated.len() >= 20);
    let outcome = identity::log_in(server.core(), "new@example.com", generated, None, None).await;
    assert!(outcome.is_ok(), "the generated password signs in");

    // Only owners make owners; the last owner cannot be demoted.
    let (status, _) = post(
        &server,
        &admin_token,
        "/api/v1/users",
        json!({"email": "o2@example.com", "role": "owner", "password": "long enough pw"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = send(
        &server,
        reqwest::Method::PATCH,
        &owner_token,
        &format!("/api/v1/users/{}", owner.id),
        json!({"role": "admin"}),
    )
    .await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "conflict"));
    let (status, body) = post(
        &server,
        &admin_token,
        "/api/v1/users",
        json!({"email": "x@example.com", "role": "boss"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("role"))
    );
    let (status, body) = post(
        &server,
        &admin_token,
        "/api/v1/users",
        json!({"email": "x@example.com", "role": "viewer", "password": "short"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("password"))
    );
    let (status, body) = post(
        &server,
        &admin_token,
        "/api/v1/users",
        json!({"email": "new@example.com", "role": "viewer"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::CONFLICT, Some("email"))
    );

    // Disabling a person stops their tokens.
    let new_id = created["user"]["id"].as_i64().expect("id");
    let new_user = server
        .core()
        .storage
        .user_by_id(new_id)
        .await
        .expect("lookup")
        .expect("user");
    let new_token = server.token(&new_user, Scope::Write).await;
    assert_eq!(
        get(&server, &new_token, "/api/v1/me").await.0,
        StatusCode::OK
    );
    let (status, _) = send(
        &server,
        reqwest::Method::PATCH,
        &admin_token,
        &format!("/api/v1/users/{new_id}"),
        json!({"disabled": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        get(&server, &new_token, "/api/v1/me").await.0,
        StatusCode::UNAUTHORIZED
    );

    let (status, users) = get(&server, &admin_token, "/api/v1/users?limit=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(users["items"].as_array().map(Vec::len), Some(2));
    assert!(users["next_cursor"].is_string());
    assert!(
        users["items"][0].get("password_hash").is_none(),
        "no hashes in answers"
    );

    let (status, _) = send(
        &server,
        reqwest::Method::DELETE,
        &admin_token,
        &format!("/api/v1/users/{new_id}"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, audit) = get(&server, &owner_token, "/api/v1/audit?action=user.").await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|r| r["action"].as_str())
        .collect();
    assert!(
        actions.starts_with(&["user.delete", "user.update"]),
        "{actions:?}"
    );
    assert!(actions.contains(&"user.create"));
    server.stop().await;
}

async fn tokens_are_created_listed_and_revoked(db: TestDb) {
    let server = TestServer::start(db).await;
    let (_, admin_token) = server.caller("admin@example.com", Role::Admin).await;
    let (viewer, viewer_token) = server.caller("viewer@example.com", Role::Viewer).await;

    // A viewer can hold read tokens only.
    let (status, body) = post(
        &server,
        &viewer_token,
        "/api/v1/tokens",
        json!({"scope": "read"}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a read-capable caller cannot create tokens: {body}"
    );
    let (status, body) = post(
        &server,
        &admin_token,
        "/api/v1/tokens",
        json!({"scope": "admin", "user_id": viewer.id}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("scope"))
    );
    let (status, body) = post(
        &server,
        &admin_token,
        "/api/v1/tokens",
        json!({"scope": "read", "user_id": viewer.id, "name": "grafana"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body["token"].as_str().unwrap_or("").starts_with("upk_"));
    assert_eq!(body["details"]["user_email"], "viewer@example.com");
    assert_eq!(body["details"]["prefix"].as_str().map(str::len), Some(12));
    let (status, body) = post(
        &server,
        &admin_token,
        "/api/v1/tokens",
        json!({"scope": "read", "expires_in": "soon"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("expires_in"))
    );

    let (_, own) = get(&server, &viewer_token, "/api/v1/tokens").await;
    assert_eq!(own["items"].as_array().map(Vec::len), Some(2));
    assert!(
        own.to_string()
            .find("upk_")
            .is_some_and(|_| !own.to_string().contains(&viewer_token)),
        "secrets are never listed"
    );
    let (status, _) = get(&server, &viewer_token, "/api/v1/tokens?all=true").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, everyone) = get(&server, &admin_token, "/api/v1/tokens?all=true").await;
    assert_eq!(everyone["items"].as_array().map(Vec::len), Some(3));
    server.stop().await;
}

async fn session_requests_need_the_csrf_token(db: TestDb) {
    let server = TestServer::start(db).await;
    let (_, password) = server.user("ana@example.com", Role::Admin).await;
    let login = identity::log_in(
        server.core(),
        "ana@example.com",
        password.clone(),
        None,
        None,
    )
    .await
    .expect("log in");
    let identity::Via::Session { csrf_token, .. } =
        identity::session_principal(server.core(), &login.secret)
            .await
            .expect("lookup")
            .expect("session")
            .via
    else {
        panic!("a session principal");
    };
    let cookie = format!("upkeep_session={}", login.secret);

    let response = server
        .client
        .get(server.url("/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("GET");
    let me: Value = response.json().await.expect("json");
    assert_eq!(me["authenticated_by"], "session");

    let without = server
        .client
        .post(server.url("/api/v1/teams"))
        .header("cookie", &cookie)
        .json(&json!({"slug": "t1"}))
        .send()
        .await
        .expect("post");
    assert_eq!(without.status(), StatusCode::FORBIDDEN);
    let body: Value = without.json().await.expect("json");
    assert_eq!(code(&body), "csrf_failed");
    let wrong = server
        .client
        .post(server.url("/api/v1/teams"))
        .header("cookie", &cookie)
        .header("x-csrf-token", "x".repeat(32))
        .json(&json!({"slug": "t1"}))
        .send()
        .await
        .expect("post");
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert!(
        server
            .core()
            .storage
            .team_by_slug("t1")
            .await
            .expect("lookup")
            .is_none(),
        "refused requests change nothing"
    );
    let right = server
        .client
        .post(server.url("/api/v1/teams"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf_token)
        .json(&json!({"slug": "t1"}))
        .send()
        .await
        .expect("post");
    assert_eq!(right.status(), StatusCode::CREATED);

    // Password change from the session keeps this session and ends the others.
    let other = identity::log_in(
        server.core(),
        "ana@example.com",
        password.clone(),
        None,
        None,
    )
    .await
    .expect("second session");
    let change = server
        .client
        .post(server.url("/api/v1/me/password"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf_token)
        .json(&json!({"current_password": password, "new_password": "a brand new passphrase"}))
        .send()
        .await
        .expect("post");
    assert_eq!(change.status(), StatusCode::NO_CONTENT);
    assert!(
        identity::session_principal(server.core(), &login.secret)
            .await
            .expect("lookup")
            .is_some()
    );
    assert!(
        identity::session_principal(server.core(), &other.secret)
            .await
            .expect("lookup")
            .is_none()
    );
    let (_, token) = server.caller("b@example.com", Role::Admin).await;
    let (status, _) = post(
        &server,
        &token,
        "/api/v1/me/password",
        json!({"current_password": "x", "new_password": "yyyyyyyyyyyy"}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "tokens cannot change passwords"
    );
    server.stop().await;
}

async fn operations_endpoints_answer(db: TestDb) {
    let server = TestServer::start(db).await;
    let health = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("GET");
    assert_eq!(health.status(), StatusCode::OK);
    let ready: Value = server
        .client
        .get(server.url("/readyz"))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert_eq!(ready["status"], "ready");

    let response = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("GET");
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "metrics need a token"
    );
    let (_, token) = server.caller("owner@example.com", Role::Owner).await;
    get(&server, &token, "/api/v1/me").await;
    let text = server
        .client
        .get(server.url("/metrics"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("text");
    assert!(text.contains("upkeep_build_info{version="), "{text}");
    assert!(
        text.contains(
            r#"upkeep_http_requests_total{method="GET",route="/api/v1/me",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"upkeep_http_request_duration_seconds_bucket{method="GET",route="/api/v1/me",le="+Inf"} 1"#));
    assert!(text.contains("upkeep_db_pool_connections"));

    let (status, workers) = get(&server, &token, "/api/v1/workers").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = workers
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|w| w["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "heartbeat-deadlines",
            "housekeeping",
            "job-runner",
            "monitor-alerts",
            "monitor-metrics",
            "monitor-rollups",
            "notification-delivery"
        ]
    );

    let doc: Value = server
        .client
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v1/me"]["get"].is_object());
    server.stop().await;
}

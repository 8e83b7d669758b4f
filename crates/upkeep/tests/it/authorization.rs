//! Every API operation refuses callers without credentials and callers whose role or token scope is
//! lower than the operation needs. The table below must name every operation of the OpenAPI document, so
//! a new endpoint cannot ship without its authorisation being tested.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use upkeep_core::storage::{Role, Scope};

use crate::support::databases::{TestDb, backend_tests};
use crate::support::server::TestServer;

backend_tests!(lesser_callers_are_refused_everywhere);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Needs {
    /// Any signed-in caller (the answer is about themselves).
    Anyone,
    Read,
    Write,
    Admin,
    /// Only a browser session, never a token.
    Session,
    /// Any role, about themselves; a token needs write scope (a viewer uses the browser session).
    SelfWrite,
}

const OPERATIONS: &[(&str, &str, Needs)] = &[
    ("GET", "/api/v1/me", Needs::Anyone),
    ("POST", "/api/v1/me/password", Needs::Session),
    ("GET", "/api/v1/me/contact-methods", Needs::Anyone),
    ("POST", "/api/v1/me/contact-methods", Needs::SelfWrite),
    ("PATCH", "/api/v1/me/contact-methods/{id}", Needs::SelfWrite),
    (
        "DELETE",
        "/api/v1/me/contact-methods/{id}",
        Needs::SelfWrite,
    ),
    (
        "POST",
        "/api/v1/me/contact-methods/{id}/test",
        Needs::SelfWrite,
    ),
    ("GET", "/api/v1/me/notification-rules", Needs::Anyone),
    ("POST", "/api/v1/me/notification-rules", Needs::SelfWrite),
    (
        "DELETE",
        "/api/v1/me/notification-rules/{id}",
        Needs::SelfWrite,
    ),
    ("GET", "/api/v1/users/{id}/contact-methods", Needs::Admin),
    ("GET", "/api/v1/users", Needs::Admin),
    ("POST", "/api/v1/users", Needs::Admin),
    ("GET", "/api/v1/users/{id}", Needs::Admin),
    ("PATCH", "/api/v1/users/{id}", Needs::Admin),
    ("DELETE", "/api/v1/users/{id}", Needs::Admin),
    ("GET", "/api/v1/tokens", Needs::Anyone),
    ("POST", "/api/v1/tokens", Needs::Write),
    ("DELETE", "/api/v1/tokens/{id}", Needs::Write),
    ("GET", "/api/v1/audit", Needs::Admin),
    ("GET", "/api/v1/workers", Needs::Admin),
    ("GET", "/api/v1/teams", Needs::Read),
    ("POST", "/api/v1/teams", Needs::Write),
    ("GET", "/api/v1/teams/{slug}", Needs::Read),
    ("PATCH", "/api/v1/teams/{slug}", Needs::Write),
    ("DELETE", "/api/v1/teams/{slug}", Needs::Write),
    ("GET", "/api/v1/services", Needs::Read),
    ("POST", "/api/v1/services", Needs::Write),
    ("GET", "/api/v1/services/{slug}", Needs::Read),
    ("PATCH", "/api/v1/services/{slug}", Needs::Write),
    ("DELETE", "/api/v1/services/{slug}", Needs::Write),
    ("GET", "/api/v1/monitors", Needs::Read),
    ("POST", "/api/v1/monitors", Needs::Write),
    ("GET", "/api/v1/monitors/{id}", Needs::Read),
    ("PUT", "/api/v1/monitors/{id}", Needs::Write),
    ("DELETE", "/api/v1/monitors/{id}", Needs::Write),
    ("POST", "/api/v1/monitors/{id}/pause", Needs::Write),
    ("POST", "/api/v1/monitors/{id}/resume", Needs::Write),
    ("GET", "/api/v1/monitors/{id}/events", Needs::Read),
    ("GET", "/api/v1/monitors/{id}/pings", Needs::Read),
    ("GET", "/api/v1/monitors/{id}/results", Needs::Read),
    ("GET", "/api/v1/monitors/{id}/uptime", Needs::Read),
    ("PUT", "/api/v1/monitors/{id}/slo", Needs::Write),
    ("DELETE", "/api/v1/monitors/{id}/slo", Needs::Write),
    ("GET", "/api/v1/maintenance", Needs::Read),
    ("POST", "/api/v1/maintenance", Needs::Write),
    ("DELETE", "/api/v1/maintenance/{id}", Needs::Write),
    ("GET", "/api/v1/incidents", Needs::Read),
    ("GET", "/api/v1/incidents/{id}", Needs::Read),
    ("PATCH", "/api/v1/incidents/{id}", Needs::Write),
    ("POST", "/api/v1/incidents/{id}/acknowledge", Needs::Write),
    ("POST", "/api/v1/incidents/{id}/resolve", Needs::Write),
    ("POST", "/api/v1/incidents/{id}/reopen", Needs::Write),
    ("POST", "/api/v1/incidents/{id}/notes", Needs::Write),
    ("GET", "/api/v1/incidents/{id}/timeline", Needs::Read),
    ("GET", "/api/v1/incidents/{id}/alerts", Needs::Read),
    ("GET", "/api/v1/services/{slug}/integrations", Needs::Write),
    (
        "POST",
        "/api/v1/services/{slug}/integrations/{kind}/rotate",
        Needs::Write,
    ),
    ("GET", "/api/v1/services/{slug}/changes", Needs::Read),
    ("GET", "/api/v1/escalation-policies", Needs::Read),
    ("POST", "/api/v1/escalation-policies", Needs::Write),
    ("GET", "/api/v1/escalation-policies/{slug}", Needs::Read),
    ("PUT", "/api/v1/escalation-policies/{slug}", Needs::Write),
    ("DELETE", "/api/v1/escalation-policies/{slug}", Needs::Write),
    ("GET", "/api/v1/services/{slug}/escalation", Needs::Read),
    ("PUT", "/api/v1/services/{slug}/escalation", Needs::Write),
    ("GET", "/api/v1/incidents/{id}/notifications", Needs::Read),
    ("GET", "/api/v1/schedules", Needs::Read),
    ("POST", "/api/v1/schedules", Needs::Write),
    ("GET", "/api/v1/schedules/{slug}", Needs::Read),
    ("PUT", "/api/v1/schedules/{slug}", Needs::Write),
    ("DELETE", "/api/v1/schedules/{slug}", Needs::Write),
    ("POST", "/api/v1/schedules/{slug}/rotate-feed", Needs::Write),
    ("GET", "/api/v1/schedules/{slug}/oncall", Needs::Read),
    ("GET", "/api/v1/schedules/{slug}/shifts", Needs::Read),
    ("GET", "/api/v1/me/calendar", Needs::Anyone),
];

#[test]
fn the_table_names_every_documented_operation() {
    let doc = serde_json::to_value(upkeep_web::openapi_document()).expect("serialise");
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("item").keys() {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    for (method, path) in &documented {
        assert!(
            OPERATIONS.iter().any(|(m, p, _)| m == method && p == path),
            "{method} {path} has no row in the authorisation table"
        );
    }
    assert_eq!(
        documented.len(),
        OPERATIONS.len(),
        "the table names operations that no longer exist"
    );
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "999999")
        .replace("{slug}", "missing")
        .replace("{kind}", "pagerduty")
}

async fn call(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let method = Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = server
        .client
        .request(method.clone(), server.url(&concrete(path)));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if method != Method::GET {
        request = request
            .header("content-type", "application/json")
            .body("{}");
    }
    let response = request.send().await.expect("send");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn lesser_callers_are_refused_everywhere(db: TestDb) {
    let server = TestServer::start(db).await;
    let (owner, _) = server.user("owner@example.com", Role::Owner).await;
    let owner_read = server.token(&owner, Scope::Read).await;
    let owner_write = server.token(&owner, Scope::Write).await;
    let owner_admin = server.token(&owner, Scope::Admin).await;
    let (_, viewer) = server.caller("viewer@example.com", Role::Viewer).await;
    let (_, responder) = server
        .caller("responder@example.com", Role::Responder)
        .await;

    for &(method, path, needs) in OPERATIONS {
        let (status, body) = call(&server, method, path, None).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} without credentials: {body}"
        );
        assert_eq!(body["error"]["code"], "unauthenticated", "{method} {path}");

        let lesser: Vec<(&str, &String)> = match needs {
            Needs::Anyone | Needs::Read => Vec::new(),
            Needs::Write => vec![("viewer role", &viewer), ("read scope", &owner_read)],
            Needs::Admin => vec![
                ("viewer role", &viewer),
                ("responder role", &responder),
                ("write scope", &owner_write),
            ],
            Needs::Session => vec![("admin token", &owner_admin)],
            Needs::SelfWrite => vec![("read scope", &owner_read)],
        };
        for (who, token) in lesser {
            let (status, body) = call(&server, method, path, Some(token)).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{method} {path} as {who}: {body}"
            );
        }
        // The weakest caller the table allows gets past authorisation (any answer but 401/403).
        let allowed = match needs {
            Needs::Anyone | Needs::Read => Some(&viewer),
            Needs::Write | Needs::SelfWrite => Some(&responder),
            Needs::Admin => Some(&owner_admin),
            Needs::Session => None,
        };
        if let Some(token) = allowed {
            let (status, body) = call(&server, method, path, Some(token)).await;
            assert!(
                status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                "{method} {path} as the weakest allowed caller got {status}: {body}"
            );
        }
    }
    server.stop().await;
}

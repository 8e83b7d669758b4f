//! What the contact stories share: a server that may reach 127.0.0.1 (with a key file on PostgreSQL), a
//! webhook receiver that checks signatures, and small API helpers.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;
use upkeep_core::notify::sign_webhook;
use upkeep_core::secrets::SecretBox;

use crate::support::databases::{Backend, TestDb};
use crate::support::server::TestServer;

/// A running server that may reach 127.0.0.1, with a key file on PostgreSQL (where one is required).
/// Hold it for the whole test: it owns the key file's folder.
pub struct Setup {
    pub server: TestServer,
    pub backend: Backend,
    pub url: String,
    _key_dir: tempfile::TempDir,
}

impl Setup {
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

pub async fn start(db: TestDb) -> Setup {
    let key_dir = tempfile::tempdir().expect("temporary folder");
    let key_file = (db.backend == Backend::Postgres).then(|| {
        let path = key_dir.path().join("secret.key");
        let (_, key) = SecretBox::generate().expect("key");
        std::fs::write(&path, key).expect("write the key file");
        path.display().to_string()
    });
    let (backend, url) = (db.backend, db.url.clone());
    let server = TestServer::start_with(db, move |config| {
        config.outbound.block_private_addresses = false;
        config.secrets.key_file = key_file;
    })
    .await;
    Setup {
        server,
        backend,
        url,
        _key_dir: key_dir,
    }
}

/// One request a receiver saw, and whether its signature checked out.
#[derive(Debug, Clone)]
pub struct Seen {
    pub signature_ok: bool,
    pub body: Value,
}

/// A webhook receiver on 127.0.0.1 that checks the Standard Webhooks signature with `secret` (401 when
/// it does not match) and otherwise answers `status` with `answer`.
pub struct Receiver {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Receiver {
    pub async fn start(secret: &str, status: StatusCode, answer: &'static str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let (record, secret) = (seen.clone(), secret.to_string());
        let status = axum::http::StatusCode::from_u16(status.as_u16()).expect("status");
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (record, secret) = (record.clone(), secret.clone());
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string()
                    };
                    let timestamp = header("webhook-timestamp").parse::<i64>().unwrap_or(0);
                    let expected = sign_webhook(&secret, &header("webhook-id"), timestamp, &body);
                    let signature_ok = expected.ok() == Some(header("webhook-signature"));
                    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    record.lock().unwrap().push(Seen { signature_ok, body });
                    if signature_ok {
                        (status, answer)
                    } else {
                        (axum::http::StatusCode::UNAUTHORIZED, "bad signature")
                    }
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{addr}/hook"),
            seen,
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

pub async fn api(
    server: &TestServer,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = server
        .client
        .request(method, server.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("send");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub fn webhook(url: &str, secret: &str) -> Value {
    json!({"label": "Bridge", "kind": "webhook", "config": {"url": url, "secret": secret}})
}

pub async fn create(server: &TestServer, token: &str, body: Value) -> Value {
    let (status, created) = api(
        server,
        token,
        Method::POST,
        "/api/v1/me/contact-methods",
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["contact_method"].clone()
}

pub async fn test_method(server: &TestServer, token: &str, id: &Value) -> Value {
    let path = format!("/api/v1/me/contact-methods/{id}/test");
    let (status, outcome) = api(server, token, Method::POST, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    outcome
}

/// Every `config_sealed` value, read straight from the database.
pub async fn sealed_values(backend: Backend, url: &str) -> Vec<String> {
    let sql = "SELECT config_sealed FROM contact_methods ORDER BY id";
    match backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(url).await.expect("open");
            sqlx::query_scalar(sql).fetch_all(&mut conn).await
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(url).await.expect("open");
            sqlx::query_scalar(sql).fetch_all(&mut conn).await
        }
    }
    .expect("read config_sealed")
}

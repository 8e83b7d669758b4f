//! Shared test plumbing: a recording HTTP server on 127.0.0.1 that answers what each test tells it, a
//! server that accepts and never answers, the notification fixtures and a client with the address block off.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use upkeep_notify::{
    BundledIncident, GuardedClient, IncidentStatus, Notification, OutboundPolicy, Severity,
};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    /// Path and query.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// Asserts a JSON POST to `path` from upkeep.
    pub fn assert_json_post(&self, path: &str) {
        assert_eq!(self.method, Method::POST);
        assert_eq!(self.path, path);
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert_eq!(self.header("user-agent"), Some(upkeep_notify::USER_AGENT));
        assert!(upkeep_notify::USER_AGENT.starts_with("upkeep/"));
    }
}

/// What the server answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn ok() -> Self {
        Self::status(200)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    pub fn json(self, value: Value) -> Self {
        self.header("content-type", "application/json")
            .body(value.to_string())
    }
}

#[derive(Clone)]
struct Shared {
    reply: Reply,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

/// A real HTTP server on 127.0.0.1 that records every request and answers `reply`.
pub struct TestServer {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl TestServer {
    pub async fn start(reply: Reply) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared {
            reply,
            requests: requests.clone(),
        };
        let app = Router::new().fallback(record).with_state(shared);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, requests }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The one request the server received.
    pub fn only_request(&self) -> Recorded {
        let requests = self.requests();
        assert_eq!(requests.len(), 1, "{requests:#?}");
        requests.into_iter().next().unwrap()
    }
}

async fn record(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    shared.requests.lock().unwrap().push(Recorded {
        method,
        path,
        headers,
        body: body.to_vec(),
    });
    let reply = shared.reply;
    let mut response = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    for (name, value) in reply.headers {
        response.headers_mut().insert(
            axum::http::HeaderName::try_from(name).unwrap(),
            value.parse().unwrap(),
        );
    }
    response
}

/// A server that accepts connections, reads the request and never answers.
pub async fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = vec![0u8; 64 * 1024];
            let _ = stream.read(&mut buf).await;
            held.push(stream);
        }
    });
    addr
}

/// A server that reads the request and closes the connection without a word.
pub async fn hang_up_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = vec![0u8; 64 * 1024];
            let _ = stream.read(&mut buf).await;
            drop(stream);
        }
    });
    addr
}

/// An address nothing listens on (connections are refused).
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// Short timeouts, private addresses allowed (the test servers are on 127.0.0.1).
pub fn local_policy() -> OutboundPolicy {
    OutboundPolicy {
        block_private_addresses: false,
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        max_response_bytes: 64 * 1024,
    }
}

pub fn client() -> GuardedClient {
    GuardedClient::new(local_policy()).unwrap()
}

pub const REASON: &str = "On call: checkout, level 1, layer Weekdays";

pub fn notification() -> Notification {
    Notification {
        incident_id: 42,
        title: "Database down".to_string(),
        summary: "Primary stopped answering".to_string(),
        severity: Severity::Critical,
        status: IncidentStatus::Triggered,
        service_name: "checkout".to_string(),
        incident_url: "https://upkeep.example/incidents/42".to_string(),
        acknowledge_url: Some("https://upkeep.example/a/ack42".to_string()),
        resolve_url: Some("https://upkeep.example/a/res42".to_string()),
        reason: REASON.to_string(),
        idempotency_key: "notif-42-1-ana".to_string(),
        bundle: Vec::new(),
    }
}

/// [`notification`] with two further incidents bundled.
pub fn bundled() -> Notification {
    Notification {
        bundle: vec![
            BundledIncident {
                incident_id: 43,
                title: "Disk almost full".to_string(),
                severity: Severity::Warning,
                url: "https://upkeep.example/incidents/43".to_string(),
            },
            BundledIncident {
                incident_id: 44,
                title: "Queue backlog".to_string(),
                severity: Severity::Error,
                url: "https://upkeep.example/incidents/44".to_string(),
            },
        ],
        ..notification()
    }
}

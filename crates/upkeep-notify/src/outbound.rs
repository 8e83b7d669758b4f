//! The one HTTP client for requests to user-given URLs (webhooks, chat webhooks, ntfy servers, …): it is
//! where timeouts, the response-size cap, the redirect rule and the private-address block live, so no
//! channel can forget one of them.

pub mod address;

use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
pub use reqwest::header::HeaderMap;
pub use reqwest::{Method, StatusCode};
use thiserror::Error;
use url::{Host, Url};

/// `upkeep/<version>`, the user agent of every outbound request.
pub const USER_AGENT: &str = concat!("upkeep/", env!("CARGO_PKG_VERSION"));

/// What outbound requests may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// Refuse private, loopback, link-local, unique-local, CGNAT, unspecified, multicast and reserved
    /// addresses (see [`address::blocked_category`]), checked on resolved addresses and IP literals.
    /// On by default; turn it off only where upkeep is meant to reach an internal network.
    pub block_private_addresses: bool,
    /// Time allowed to resolve and connect (and for the TLS handshake).
    pub connect_timeout: Duration,
    /// Time allowed for the whole request, from connecting to the last byte of the response read.
    pub request_timeout: Duration,
    /// Response body bytes read at most; the rest is dropped unread.
    pub max_response_bytes: usize,
}

impl Default for OutboundPolicy {
    /// Block private addresses, 5 s to connect, 15 s in all, 64 KiB of response body.
    fn default() -> Self {
        Self {
            block_private_addresses: true,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            max_response_bytes: 64 * 1024,
        }
    }
}

/// An address the outbound policy refused to connect to.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "refused to connect to {}: {ip} is a {category} address, and the outbound policy blocks private addresses",
    host.as_ref().map_or_else(|| ip.to_string(), |host| format!("{host} ({ip})"))
)]
pub struct BlockedAddress {
    /// The name that resolved to `ip`; `None` for an IP-literal URL.
    pub host: Option<String>,
    pub ip: IpAddr,
    /// `loopback`, `private`, `link-local`, … (see [`address::blocked_category`]).
    pub category: &'static str,
}

/// Why an outbound request did not produce a response. The wording never contains the URL (chat webhook URLs
/// and bot tokens are secrets).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OutboundError {
    #[error("not a valid URL: {0}")]
    InvalidUrl(String),
    #[error("only http and https URLs are allowed, not {0}:")]
    UnsupportedScheme(String),
    #[error(transparent)]
    Blocked(#[from] BlockedAddress),
    /// Nothing was sent: resolving, connecting or the TLS handshake failed.
    #[error("could not connect: {0}")]
    Connect(String),
    /// The request was sent (or may have been) and no complete answer came in time.
    #[error("no answer within {}", fmt_duration(*.0))]
    Timeout(Duration),
    /// The request was sent (or may have been) and then the exchange broke.
    #[error("the request failed after it was sent: {0}")]
    Request(String),
    #[error("could not build the HTTP client: {0}")]
    Build(String),
}

/// A response, with its body read up to the policy's cap.
#[derive(Debug, Clone)]
pub struct OutboundResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// At most `max_response_bytes`.
    pub body: Vec<u8>,
    /// The body was longer than `max_response_bytes` and was cut.
    pub truncated: bool,
}

impl OutboundResponse {
    /// A header's value, when it is present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The start of the body as one line of text (for messages): at most 200 characters.
    pub fn body_snippet(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
        crate::render::truncate(&line, 200)
    }
}

/// The guarded HTTP client. Cheap to clone; build one per process (it pools connections).
#[derive(Debug, Clone)]
pub struct GuardedClient {
    client: reqwest::Client,
    policy: OutboundPolicy,
}

impl GuardedClient {
    pub fn new(policy: OutboundPolicy) -> Result<Self, OutboundError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(policy.connect_timeout)
            .timeout(policy.request_timeout)
            // A redirect is answered as a failure naming the new location: following it would need every
            // hop re-checked, and a receiver that moved should be updated, not chased.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy from the environment would resolve names itself, past the address check.
            .no_proxy()
            .pool_idle_timeout(Duration::from_secs(30));
        if policy.block_private_addresses {
            builder = builder.dns_resolver(Arc::new(PolicyResolver));
        }
        let client = builder
            .build()
            .map_err(|e| OutboundError::Build(describe(&e.without_url())))?;
        Ok(Self { client, policy })
    }

    pub fn policy(&self) -> &OutboundPolicy {
        &self.policy
    }

    /// Parses `url` and checks what can be checked before connecting: the scheme, a host, and an IP-literal
    /// host against the address policy. Names are checked when they resolve.
    pub fn check_url(&self, url: &str) -> Result<Url, OutboundError> {
        let parsed = Url::parse(url).map_err(|e| OutboundError::InvalidUrl(e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(OutboundError::UnsupportedScheme(
                parsed.scheme().to_string(),
            ));
        }
        let ip = match parsed.host() {
            None => return Err(OutboundError::InvalidUrl("the URL has no host".to_string())),
            Some(Host::Domain(_)) => None,
            Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        };
        if let (true, Some(ip)) = (self.policy.block_private_addresses, ip)
            && let Some(category) = address::blocked_category(ip)
        {
            return Err(BlockedAddress {
                host: None,
                ip,
                category,
            }
            .into());
        }
        Ok(parsed)
    }

    /// Sends one request and reads the response body up to the cap.
    pub async fn execute(
        &self,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: Option<Vec<u8>>,
    ) -> Result<OutboundResponse, OutboundError> {
        let url = self.check_url(url)?;
        let mut request = self.client.request(method, url).headers(headers);
        if let Some(body) = body {
            request = request.body(body);
        }
        let mut response = request.send().await.map_err(|e| self.map_error(e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let cap = self.policy.max_response_bytes;
        let mut body = Vec::new();
        let mut truncated = false;
        // A body that breaks off or times out after the status line still leaves a definite answer: the
        // status. What was read so far is kept.
        while let Ok(Some(chunk)) = response.chunk().await {
            let room = cap - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(OutboundResponse {
            status,
            headers,
            body,
            truncated,
        })
    }

    fn map_error(&self, error: reqwest::Error) -> OutboundError {
        let error = error.without_url();
        if let Some(blocked) = find_blocked(&error) {
            return OutboundError::Blocked(blocked);
        }
        if error.is_connect() {
            OutboundError::Connect(describe(&error))
        } else if error.is_timeout() {
            OutboundError::Timeout(self.policy.request_timeout)
        } else if error.is_builder() {
            OutboundError::InvalidUrl(describe(&error))
        } else {
            OutboundError::Request(describe(&error))
        }
    }
}

/// Resolves names with the system resolver and drops the addresses the policy blocks; when none is left the
/// lookup fails with [`BlockedAddress`]. Connections only ever go to the addresses returned here, so a name
/// that resolves to 127.0.0.1 (DNS rebinding) never reaches it.
struct PolicyResolver;

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed = filter_resolved(&host, found)?;
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok::<Addrs, Box<dyn StdError + Send + Sync>>(addrs)
        })
    }
}

/// The addresses of `host` the policy allows; an error naming the first refused one when none is allowed.
pub(crate) fn filter_resolved(
    host: &str,
    found: Vec<SocketAddr>,
) -> Result<Vec<SocketAddr>, BlockedAddress> {
    let (allowed, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = found
        .into_iter()
        .partition(|a| address::blocked_category(a.ip()).is_none());
    match refused.first() {
        Some(first) if allowed.is_empty() => Err(BlockedAddress {
            host: Some(host.to_string()),
            ip: first.ip(),
            category: address::blocked_category(first.ip()).unwrap_or("private"),
        }),
        _ => Ok(allowed),
    }
}

fn find_blocked(error: &(dyn StdError + 'static)) -> Option<BlockedAddress> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(blocked) = e.downcast_ref::<BlockedAddress>() {
            return Some(blocked.clone());
        }
        current = e.source();
    }
    None
}

/// An error and its causes as one line, without reqwest's and hyper's generic wrappers.
pub(crate) fn describe(error: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = current {
        let text = e.to_string();
        let generic = text == "error sending request"
            || text.starts_with("client error (")
            || text == "builder error";
        if !generic && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    if parts.is_empty() {
        error.to_string()
    } else {
        parts.join(": ")
    }
}

/// `15s`, `500ms`, `1.5s`.
pub(crate) fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(1000) {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

//! The HTTP(S) check: one fresh connection per check (no pooling, so every result includes the real
//! resolution, connect and TLS cost), HTTP/1.1 via hyper over a socket connected here so each phase is timed,
//! redirects followed up to [`MAX_REDIRECTS`], the body kept up to a limit.

use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use url::Url;

use crate::Observation;
use crate::net::{self, AddressFilter};
use crate::tls::{self, Alpn};

/// How many redirects a check follows before giving up.
pub const MAX_REDIRECTS: usize = 10;

/// The default `User-Agent`.
pub const USER_AGENT: &str = concat!("upkeep/", env!("CARGO_PKG_VERSION"));

/// An HTTP(S) check.
#[derive(Debug, Clone)]
pub struct HttpCheck {
    pub url: String,
    /// `GET` when empty.
    pub method: String,
    /// Sent after the defaults (`Host`, `User-Agent: upkeep/<version>`, `Accept: */*`, `Connection: close`); a
    /// header named here replaces the default of the same name.
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// Hard limit on the whole check, redirects included.
    pub timeout: Duration,
    pub follow_redirects: bool,
    /// `false` accepts any certificate (expiry is still reported).
    pub verify_tls: bool,
    /// Keep at most this many bytes of the body; the rest is not read.
    pub max_body_bytes: usize,
    /// Extra trust anchors (DER or PEM), e.g. a private CA, on top of Mozilla's roots.
    pub ca_certs: Vec<Vec<u8>>,
    /// Outbound address filter, applied to every hop; `None` allows every address.
    pub allow: Option<AddressFilter>,
}

impl Default for HttpCheck {
    fn default() -> Self {
        Self {
            url: String::new(),
            method: "GET".to_string(),
            headers: Vec::new(),
            body: None,
            timeout: Duration::from_secs(10),
            follow_redirects: true,
            verify_tls: true,
            max_body_bytes: 64 * 1024,
            ca_certs: Vec::new(),
            allow: None,
        }
    }
}

impl HttpCheck {
    /// A `GET` of `url` with the defaults (10 s timeout, redirects followed, TLS verified, 64 KiB of body).
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }
}

/// Runs an HTTP(S) check.
///
/// Fills `connected` (a TCP connection was established), `ip` (the peer), `status`, `body` (at most
/// `max_body_bytes`), `certificate_expiration`/`certificate_expired` for HTTPS, and `timings`: DNS (only when a
/// name was looked up), connect, TLS, first byte (response head received) and total, each measured from the
/// start of the check. With redirects, the fields describe the last hop (its phases still measured from the
/// start of the whole check). `error` says why a check could not complete: `timed out after 10s`,
/// `connection refused`, a TLS verification failure with its reasons, …
pub async fn check_http(check: &HttpCheck) -> Observation {
    let start = Instant::now();
    let mut obs = Observation::default();
    let outcome = tokio::time::timeout(check.timeout, run_http(check, start, &mut obs)).await;
    net::finish(start, check.timeout, obs, outcome)
}

struct Hop {
    url: Url,
    method: Method,
    headers: HeaderMap,
    body: Option<Bytes>,
}

async fn run_http(check: &HttpCheck, start: Instant, obs: &mut Observation) -> Result<(), String> {
    let url =
        Url::parse(check.url.trim()).map_err(|e| format!("invalid URL {:?}: {e}", check.url))?;
    let method = match check.method.trim() {
        "" => Method::GET,
        m => Method::from_bytes(m.to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("invalid HTTP method {m:?}"))?,
    };
    let mut hop = Hop {
        url,
        method,
        headers: user_headers(&check.headers)?,
        body: check.body.clone().map(Bytes::from),
    };
    let mut redirects = 0;
    loop {
        let Some(next) = fetch(check, &hop, start, obs).await? else {
            return Ok(());
        };
        if redirects == MAX_REDIRECTS {
            return Err(format!("stopped after {MAX_REDIRECTS} redirects"));
        }
        redirects += 1;
        hop = next;
    }
}

/// One request on a fresh connection. `Ok(Some(next))` when it answered with a redirect to follow.
async fn fetch(
    check: &HttpCheck,
    hop: &Hop,
    start: Instant,
    obs: &mut Observation,
) -> Result<Option<Hop>, String> {
    // Each hop reports on itself only.
    *obs = Observation::default();
    let url = &hop.url;
    let https = match url.scheme() {
        "http" => false,
        "https" => true,
        other => {
            return Err(format!(
                "unsupported URL scheme {other:?}: use http or https"
            ));
        }
    };
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_string(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return Err(format!("URL {url} has no host")),
    };
    let port = url
        .port_or_known_default()
        .ok_or_else(|| format!("URL {url} has no port"))?;
    let request = build_request(hop)?;

    let addrs = net::resolve(&host, port, check.allow.as_ref(), start, obs).await?;
    let tcp = net::connect(&addrs, start, obs).await?;
    // `_driver` keeps the connection task alive until the body has been read.
    let (response, _driver) = if https {
        let server_name = tls::server_name(&host)?;
        let stream = tls::handshake(tcp, server_name.clone(), Alpn::Http11, start, obs).await?;
        let problem = tls::inspect(&stream, &server_name, &check.ca_certs, obs)?;
        if let Some(problem) = problem.filter(|_| check.verify_tls) {
            // Verified before any request byte is sent.
            return Err(problem);
        }
        exchange(stream, request, start, obs).await?
    } else {
        exchange(tcp, request, start, obs).await?
    };

    let status = response.status();
    if check.follow_redirects
        && status.is_redirection()
        && let Some(next) = redirect(hop, status, response.headers())?
    {
        return Ok(Some(next));
    }
    read_body(response, check.max_body_bytes, obs).await?;
    Ok(None)
}

/// Sends the request over `io` and waits for the response head. The returned guard keeps the connection task
/// running; drop it once the body has been read.
async fn exchange<IO>(
    io: IO,
    request: Request<Full<Bytes>>,
    start: Instant,
    obs: &mut Observation,
) -> Result<(Response<Incoming>, AbortOnDrop), String>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("HTTP connection failed: {}", net::error_chain(&e)))?;
    // The connection task reads and writes the socket; it ends when the response is done or the check
    // (and with it this guard) is dropped.
    let driver = AbortOnDrop(tokio::spawn(async move {
        let _ = conn.await;
    }));
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("HTTP request failed: {}", net::error_chain(&e)))?;
    obs.timings.first_byte = Some(start.elapsed());
    obs.status = Some(response.status().as_u16());
    Ok((response, driver))
}

async fn read_body(
    response: Response<Incoming>,
    limit: usize,
    obs: &mut Observation,
) -> Result<(), String> {
    let mut body = response.into_body();
    let mut kept: Vec<u8> = Vec::new();
    obs.body = Some(Vec::new());
    while kept.len() < limit {
        let Some(frame) = body.frame().await else {
            break;
        };
        let frame = frame.map_err(|e| {
            obs.body = Some(kept.clone());
            format!("error reading the response body: {}", net::error_chain(&e))
        })?;
        if let Ok(data) = frame.into_data() {
            let room = limit - kept.len();
            kept.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
    obs.body = Some(kept);
    Ok(())
}

fn build_request(hop: &Hop) -> Result<Request<Full<Bytes>>, String> {
    let url = &hop.url;
    let target = &url[url::Position::BeforePath..url::Position::AfterQuery];
    let target = if target.is_empty() { "/" } else { target };
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        (None, _) => return Err(format!("URL {url} has no host")),
    };
    let mut headers = HeaderMap::new();
    let defaults = [
        (header::HOST, host.as_str()),
        (header::USER_AGENT, USER_AGENT),
        (header::ACCEPT, "*/*"),
        (header::CONNECTION, "close"),
    ];
    for (name, value) in defaults {
        if !hop.headers.contains_key(&name) {
            let value =
                HeaderValue::from_str(value).map_err(|_| format!("invalid host in URL {url}"))?;
            headers.insert(name, value);
        }
    }
    for (name, value) in &hop.headers {
        headers.append(name.clone(), value.clone());
    }
    let mut request = Request::builder()
        .method(hop.method.clone())
        .uri(target)
        .body(Full::new(hop.body.clone().unwrap_or_default()))
        .map_err(|e| format!("invalid request for {url}: {e}"))?;
    *request.headers_mut() = headers;
    Ok(request)
}

fn user_headers(pairs: &[(String, String)]) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| format!("invalid header name {name:?}"))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| format!("invalid value for header {name}"))?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// The next hop for a redirect response, or `None` when it has no usable `Location` (then the 3xx is the
/// final answer).
fn redirect(hop: &Hop, status: StatusCode, headers: &HeaderMap) -> Result<Option<Hop>, String> {
    let Some(location) = headers.get(header::LOCATION) else {
        return Ok(None);
    };
    let location = location
        .to_str()
        .map_err(|_| "redirect with an unreadable Location header".to_string())?;
    let url = hop
        .url
        .join(location)
        .map_err(|e| format!("redirect to an invalid location {location:?}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("redirect to unsupported URL {url}"));
    }
    let (method, body, keep_body) = match status.as_u16() {
        // 307/308 repeat the request as it was.
        307 | 308 => (hop.method.clone(), hop.body.clone(), true),
        // 303, and 301/302 after a POST (as browsers do), turn into a GET without body.
        303 if hop.method != Method::HEAD => (Method::GET, None, false),
        301 | 302 if hop.method == Method::POST => (Method::GET, None, false),
        301..=303 => (hop.method.clone(), hop.body.clone(), true),
        _ => return Ok(None),
    };
    let mut headers = hop.headers.clone();
    if !keep_body {
        headers.remove(header::CONTENT_TYPE);
        headers.remove(header::CONTENT_LENGTH);
    }
    if url.origin() != hop.url.origin() {
        // Credentials are for the origin they were configured for.
        headers.remove(header::AUTHORIZATION);
        headers.remove(header::COOKIE);
        headers.remove(header::PROXY_AUTHORIZATION);
    }
    // The Host of the next hop comes from its URL.
    headers.remove(header::HOST);
    Ok(Some(Hop {
        url,
        method,
        headers,
        body,
    }))
}

/// Aborts the connection task when dropped (check finished, failed or timed out).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

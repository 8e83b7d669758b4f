//! The check executors against real servers on 127.0.0.1: HTTP(S) with test certificates made here, TCP, a tiny
//! DNS responder, and ICMP to the loopback address.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, MX, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use upkeep_probe::{
    AddressFilter, DnsCheck, HttpCheck, ICMP_NOT_PERMITTED, IcmpCheck, TcpCheck, TlsCheck,
    check_dns, check_http, check_icmp, check_tcp, check_tls,
};

const DAY: u64 = 86_400;

// --- a small HTTP/1.1 server writing canned responses --------------------------------------------------------

#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    head: String,
    body: Vec<u8>,
}

type Handler = Arc<dyn Fn(&Req) -> Vec<u8> + Send + Sync>;

fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Option<Req> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut first = head.lines().next()?.split_whitespace();
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Req {
        method,
        path,
        head,
        body,
    })
}

async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    handler: Handler,
    seen: Arc<Mutex<Vec<Req>>>,
) {
    if let Some(req) = read_request(&mut stream).await {
        let bytes = handler(&req);
        seen.lock().unwrap().push(req);
        let _ = stream.write_all(&bytes).await;
        let _ = stream.shutdown().await;
    }
}

/// Serves plain HTTP; returns the address and the requests seen.
async fn serve_http(handler: Handler) -> (SocketAddr, Arc<Mutex<Vec<Req>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(answer(stream, handler.clone(), seen2.clone()));
        }
    });
    (addr, seen)
}

/// Serves HTTPS with the given certificate chain and key.
async fn serve_https(cert: &TestCert, handler: Handler) -> SocketAddr {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            cert.chain.clone(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key.clone())),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let handler = handler.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(stream).await {
                    answer(tls, handler, seen).await;
                }
            });
        }
    });
    addr
}

/// A port nothing listens on.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

fn ok_handler() -> Handler {
    Arc::new(|_: &Req| response("200 OK", &[("content-type", "text/plain")], b"ok"))
}

// --- test certificates ---------------------------------------------------------------------------------------

struct TestCert {
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
    /// The issuing CA's certificate (DER) when not self-signed.
    ca: Option<Vec<u8>>,
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn params(names: &[&str], from_unix: u64, until_unix: u64) -> rcgen::CertificateParams {
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + Duration::from_secs(from_unix);
    params.not_after = epoch + Duration::from_secs(until_unix);
    params
}

fn self_signed(names: &[&str], from_unix: u64, until_unix: u64) -> TestCert {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params(names, from_unix, until_unix)
        .self_signed(&key)
        .unwrap();
    TestCert {
        chain: vec![cert.der().clone()],
        key: key.serialize_der(),
        ca: None,
    }
}

fn ca_signed(names: &[&str], from_unix: u64, until_unix: u64) -> TestCert {
    let now = now_unix();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = params(&[], now - DAY, now + 365 * DAY);
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "upkeep test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params(names, from_unix, until_unix)
        .signed_by(&key, &ca)
        .unwrap();
    TestCert {
        chain: vec![cert.der().clone()],
        key: key.serialize_der(),
        ca: Some(ca.der().to_vec()),
    }
}

fn days(d: Option<Duration>) -> f64 {
    d.expect("certificate_expiration").as_secs_f64() / DAY as f64
}

// --- HTTP ------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn http_status_body_ip_timings_and_json() {
    let (addr, seen) = serve_http(Arc::new(|req: &Req| {
        assert_eq!(req.path, "/health?x=1");
        response(
            "200 OK",
            &[("content-type", "application/json")],
            br#"{"status":"UP","data":[{"id":7},{"id":8}]}"#,
        )
    }))
    .await;
    let obs = check_http(&HttpCheck::get(format!("http://{addr}/health?x=1"))).await;
    assert_eq!(obs.error, None);
    assert!(obs.connected);
    assert_eq!(obs.status, Some(200));
    assert_eq!(obs.ip.as_deref(), Some("127.0.0.1"));
    let json: serde_json::Value = serde_json::from_slice(obs.body.as_deref().unwrap()).unwrap();
    assert_eq!(json["data"][0]["id"], 7);
    assert_eq!(json["status"], "UP");

    let t = obs.timings;
    assert_eq!(t.dns, None, "no lookup for an IP literal");
    assert_eq!(t.tls, None);
    let connect = t.connect.unwrap();
    let first_byte = t.first_byte.unwrap();
    assert!(connect <= first_byte && first_byte <= t.total, "{t:?}");
    assert_eq!(obs.response_time, t.total);

    let req = seen.lock().unwrap()[0].clone();
    assert_eq!(req.method, "GET");
    let head = req.head.to_ascii_lowercase();
    assert!(
        head.contains(&format!("user-agent: upkeep/{}", env!("CARGO_PKG_VERSION"))),
        "{head}"
    );
    assert!(head.contains(&format!("host: {addr}")), "{head}");
}

#[tokio::test]
async fn http_by_name_times_the_lookup() {
    let (addr, _) = serve_http(ok_handler()).await;
    let obs = check_http(&HttpCheck::get(format!(
        "http://localhost:{}/",
        addr.port()
    )))
    .await;
    assert_eq!(obs.error, None);
    assert_eq!(obs.status, Some(200));
    let t = obs.timings;
    let (dns, connect, first_byte) = (t.dns.unwrap(), t.connect.unwrap(), t.first_byte.unwrap());
    assert!(
        dns <= connect && connect <= first_byte && first_byte <= t.total,
        "{t:?}"
    );
}

#[tokio::test]
async fn http_method_headers_body_and_truncation() {
    let (addr, seen) = serve_http(Arc::new(|_: &Req| {
        response("201 Created", &[], &[b'x'; 1000])
    }))
    .await;
    let check = HttpCheck {
        url: format!("http://{addr}/items"),
        method: "post".into(),
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("User-Agent".into(), "custom-agent".into()),
        ],
        body: Some(r#"{"a":1}"#.into()),
        max_body_bytes: 10,
        ..HttpCheck::default()
    };
    let obs = check_http(&check).await;
    assert_eq!(obs.error, None);
    assert_eq!(obs.status, Some(201));
    assert_eq!(obs.body.as_deref(), Some(&b"xxxxxxxxxx"[..]));
    let req = seen.lock().unwrap()[0].clone();
    assert_eq!(req.method, "POST");
    assert_eq!(req.body, br#"{"a":1}"#);
    let head = req.head.to_ascii_lowercase();
    assert!(
        head.contains("user-agent: custom-agent") && !head.contains("upkeep/"),
        "{head}"
    );
    assert!(head.contains("content-type: application/json"), "{head}");
}

fn redirect_handler() -> Handler {
    Arc::new(|req: &Req| match req.path.as_str() {
        "/start" => response("302 Found", &[("location", "/middle")], b"to middle"),
        "/middle" => response(
            "301 Moved Permanently",
            &[("location", "final?done=1")],
            b"",
        ),
        "/final?done=1" => response("200 OK", &[], b"arrived"),
        "/loop" => response("302 Found", &[("location", "/loop")], b""),
        _ => response("404 Not Found", &[], b"nope"),
    })
}

#[tokio::test]
async fn http_redirects_followed() {
    let (addr, seen) = serve_http(redirect_handler()).await;
    let obs = check_http(&HttpCheck::get(format!("http://{addr}/start"))).await;
    assert_eq!(obs.error, None);
    assert_eq!(obs.status, Some(200));
    assert_eq!(obs.body.as_deref(), Some(&b"arrived"[..]));
    assert_eq!(
        seen.lock().unwrap().len(),
        3,
        "one fresh connection per hop"
    );
}

#[tokio::test]
async fn http_redirects_not_followed() {
    let (addr, _) = serve_http(redirect_handler()).await;
    let check = HttpCheck {
        follow_redirects: false,
        ..HttpCheck::get(format!("http://{addr}/start"))
    };
    let obs = check_http(&check).await;
    assert_eq!(obs.error, None);
    assert_eq!(obs.status, Some(302));
    assert_eq!(obs.body.as_deref(), Some(&b"to middle"[..]));
}

#[tokio::test]
async fn http_redirect_loop_stops() {
    let (addr, seen) = serve_http(redirect_handler()).await;
    let obs = check_http(&HttpCheck::get(format!("http://{addr}/loop"))).await;
    assert_eq!(obs.error.as_deref(), Some("stopped after 10 redirects"));
    assert_eq!(obs.status, Some(302));
    assert_eq!(seen.lock().unwrap().len(), 11);
}

#[tokio::test]
async fn http_slow_server_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = read_request(&mut stream).await;
                tokio::time::sleep(Duration::from_secs(30)).await;
            });
        }
    });
    let check = HttpCheck {
        timeout: Duration::from_millis(300),
        ..HttpCheck::get(format!("http://{addr}/"))
    };
    let started = Instant::now();
    let obs = check_http(&check).await;
    let took = started.elapsed();
    assert_eq!(obs.error.as_deref(), Some("timed out after 300ms"));
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(600),
        "{took:?}"
    );
    assert!(obs.connected, "the connection itself succeeded");
    assert_eq!(obs.status, None);
    assert!(obs.timings.connect.is_some());
    assert!(obs.response_time >= Duration::from_millis(300));
}

#[tokio::test]
async fn http_connection_refused() {
    let port = closed_port().await;
    let obs = check_http(&HttpCheck::get(format!("http://127.0.0.1:{port}/"))).await;
    assert!(!obs.connected);
    assert_eq!(obs.error.as_deref(), Some("connection refused"));
    assert_eq!(obs.status, None);
    assert_eq!(obs.ip.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn http_bad_input_is_an_error_not_a_panic() {
    let obs = check_http(&HttpCheck::get("not a url")).await;
    assert!(obs.error.unwrap().starts_with("invalid URL"));
    let obs = check_http(&HttpCheck::get("ftp://127.0.0.1/")).await;
    assert!(obs.error.unwrap().contains("unsupported URL scheme"));
    let check = HttpCheck {
        headers: vec![("bad header".into(), "x".into())],
        ..HttpCheck::get("http://127.0.0.1:1/")
    };
    assert!(
        check_http(&check)
            .await
            .error
            .unwrap()
            .contains("invalid header name")
    );
}

#[tokio::test]
async fn http_address_filter_refuses_before_connecting() {
    let (addr, seen) = serve_http(ok_handler()).await;
    let check = HttpCheck {
        allow: Some(AddressFilter::new(|ip| !ip.is_loopback())),
        ..HttpCheck::get(format!("http://{addr}/"))
    };
    let obs = check_http(&check).await;
    assert!(!obs.connected);
    let error = obs.error.unwrap();
    assert!(
        error.contains("127.0.0.1") && error.contains("not allowed"),
        "{error}"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(seen.lock().unwrap().is_empty());
}

// --- HTTPS -----------------------------------------------------------------------------------------------------

#[tokio::test]
async fn https_without_verification_reports_expiry() {
    let now = now_unix();
    let cert = self_signed(&["localhost"], now - DAY, now + 30 * DAY);
    let addr = serve_https(&cert, ok_handler()).await;
    let check = HttpCheck {
        verify_tls: false,
        ..HttpCheck::get(format!("https://localhost:{}/", addr.port()))
    };
    let obs = check_http(&check).await;
    assert_eq!(obs.error, None);
    assert_eq!(obs.status, Some(200));
    assert_eq!(obs.body.as_deref(), Some(&b"ok"[..]));
    let left = days(obs.certificate_expiration);
    assert!((29.9..=30.0).contains(&left), "{left}");
    assert!(!obs.certificate_expired);
    let t = obs.timings;
    let (connect, tls, first_byte) = (t.connect.unwrap(), t.tls.unwrap(), t.first_byte.unwrap());
    assert!(
        connect <= tls && tls <= first_byte && first_byte <= t.total,
        "{t:?}"
    );
}

#[tokio::test]
async fn https_verification_names_the_unknown_issuer() {
    let now = now_unix();
    let cert = self_signed(&["localhost"], now - DAY, now + 30 * DAY);
    let requests = Arc::new(Mutex::new(0usize));
    let counter = requests.clone();
    let addr = serve_https(
        &cert,
        Arc::new(move |_: &Req| {
            *counter.lock().unwrap() += 1;
            response("200 OK", &[], b"ok")
        }),
    )
    .await;
    let obs = check_http(&HttpCheck::get(format!(
        "https://localhost:{}/",
        addr.port()
    )))
    .await;
    let error = obs.error.unwrap();
    assert!(error.contains("unknown issuer"), "{error}");
    assert_eq!(obs.status, None);
    assert!(
        obs.certificate_expiration.is_some(),
        "expiry is reported even for an untrusted certificate"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        *requests.lock().unwrap(),
        0,
        "no request is sent over an unverified connection"
    );
}

#[tokio::test]
async fn https_verified_with_a_private_ca() {
    let now = now_unix();
    let cert = ca_signed(&["localhost"], now - DAY, now + 10 * DAY);
    let addr = serve_https(&cert, ok_handler()).await;
    let check = HttpCheck {
        ca_certs: vec![cert.ca.clone().unwrap()],
        ..HttpCheck::get(format!("https://localhost:{}/", addr.port()))
    };
    let obs = check_http(&check).await;
    assert_eq!(obs.error, None);
    assert_eq!(obs.status, Some(200));
    let left = days(obs.certificate_expiration);
    assert!((9.9..=10.0).contains(&left), "{left}");
}

#[tokio::test]
async fn https_expired_certificate() {
    let now = now_unix();
    let cert = ca_signed(&["localhost"], now - 400 * DAY, now - 30 * DAY);
    let addr = serve_https(&cert, ok_handler()).await;
    let url = format!("https://localhost:{}/", addr.port());
    let check = HttpCheck {
        ca_certs: vec![cert.ca.clone().unwrap()],
        ..HttpCheck::get(url.clone())
    };
    let obs = check_http(&check).await;
    assert!(obs.certificate_expired);
    assert_eq!(obs.certificate_expiration, None);
    let error = obs.error.unwrap();
    assert!(error.contains("expired"), "{error}");

    // Without verification the request goes through, and the expiry is still visible.
    let obs = check_http(&HttpCheck {
        verify_tls: false,
        ..HttpCheck::get(url)
    })
    .await;
    assert_eq!(obs.error, None);
    assert_eq!(obs.status, Some(200));
    assert!(obs.certificate_expired);
}

// --- TLS -------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn tls_check_valid_certificate() {
    let now = now_unix();
    let cert = ca_signed(&["localhost"], now - DAY, now + 20 * DAY);
    let addr = serve_https(&cert, ok_handler()).await;
    let check = TlsCheck {
        ca_certs: vec![cert.ca.clone().unwrap()],
        ..TlsCheck::new("localhost", addr.port())
    };
    let obs = check_tls(&check).await;
    assert_eq!(obs.error, None);
    assert!(obs.connected);
    let left = days(obs.certificate_expiration);
    assert!((19.9..=20.0).contains(&left), "{left}");
    assert!(obs.timings.tls.is_some());
}

#[tokio::test]
async fn tls_check_name_mismatch() {
    let now = now_unix();
    let cert = ca_signed(&["localhost"], now - DAY, now + 20 * DAY);
    let addr = serve_https(&cert, ok_handler()).await;
    let check = TlsCheck {
        server_name: Some("wrong.example.com".into()),
        ca_certs: vec![cert.ca.clone().unwrap()],
        ..TlsCheck::new("127.0.0.1", addr.port())
    };
    let obs = check_tls(&check).await;
    let error = obs.error.unwrap();
    assert!(
        error.contains("name mismatch") && error.contains("localhost"),
        "{error}"
    );
    assert!(error.contains("wrong.example.com"), "{error}");
    assert!(
        !error.contains("unknown issuer"),
        "the chain itself is trusted: {error}"
    );
    let left = days(obs.certificate_expiration);
    assert!((19.9..=20.0).contains(&left), "{left}");
}

#[tokio::test]
async fn tls_check_self_signed_reports_issuer_and_name() {
    let now = now_unix();
    let cert = self_signed(&["localhost"], now - DAY, now + 5 * DAY);
    let addr = serve_https(&cert, ok_handler()).await;
    let check = TlsCheck {
        server_name: Some("other.test".into()),
        ..TlsCheck::new("127.0.0.1", addr.port())
    };
    let obs = check_tls(&check).await;
    let error = obs.error.unwrap();
    assert!(
        error.contains("unknown issuer") && error.contains("name mismatch"),
        "{error}"
    );
    assert!(days(obs.certificate_expiration) > 4.9);
}

#[tokio::test]
async fn tls_check_expired_certificate() {
    let now = now_unix();
    let cert = self_signed(&["localhost"], now - 100 * DAY, now - DAY);
    let addr = serve_https(&cert, ok_handler()).await;
    let obs = check_tls(&TlsCheck::new("localhost", addr.port())).await;
    assert!(obs.certificate_expired);
    assert_eq!(obs.certificate_expiration, None);
    let error = obs.error.unwrap();
    assert!(error.contains("certificate expired on"), "{error}");
}

#[tokio::test]
async fn tls_check_against_plain_tcp_fails_cleanly() {
    // A server that speaks first, and not TLS.
    let addr = serve_tcp_banner().await;
    let check = TlsCheck {
        timeout: Duration::from_secs(2),
        ..TlsCheck::new("127.0.0.1", addr.port())
    };
    let obs = check_tls(&check).await;
    assert!(obs.connected);
    let error = obs.error.unwrap();
    assert!(error.starts_with("TLS handshake failed"), "{error}");
}

// --- TCP -------------------------------------------------------------------------------------------------------

async fn serve_tcp_banner() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = stream.write_all(b"+READY\r\n").await;
                let mut buf = [0u8; 64];
                if let Ok(n) = stream.read(&mut buf).await
                    && &buf[..n] == b"PING\r\n"
                {
                    let _ = stream.write_all(b"+PONG\r\n").await;
                }
                tokio::time::sleep(Duration::from_secs(5)).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn tcp_connect() {
    let addr = serve_tcp_banner().await;
    let obs = check_tcp(&TcpCheck::new("127.0.0.1", addr.port())).await;
    assert_eq!(obs.error, None);
    assert!(obs.connected);
    assert_eq!(obs.ip.as_deref(), Some("127.0.0.1"));
    assert!(obs.timings.connect.unwrap() <= obs.timings.total);
}

#[tokio::test]
async fn tcp_send_expect() {
    let addr = serve_tcp_banner().await;
    let check = TcpCheck {
        send: Some(b"PING\r\n".to_vec()),
        expect: Some(b"PONG".to_vec()),
        ..TcpCheck::new("127.0.0.1", addr.port())
    };
    let obs = check_tcp(&check).await;
    assert_eq!(obs.error, None);
    let body = String::from_utf8(obs.body.unwrap()).unwrap();
    assert!(body.contains("+PONG"), "{body:?}");
    assert!(obs.timings.first_byte.is_some());
}

#[tokio::test]
async fn tcp_expect_missing_times_out_with_what_was_read() {
    let addr = serve_tcp_banner().await;
    let check = TcpCheck {
        expect: Some(b"NEVER".to_vec()),
        timeout: Duration::from_millis(300),
        ..TcpCheck::new("127.0.0.1", addr.port())
    };
    let started = Instant::now();
    let obs = check_tcp(&check).await;
    assert!(started.elapsed() < Duration::from_millis(600));
    assert_eq!(
        obs.error.as_deref(),
        Some("timed out after 300ms waiting for the expected bytes")
    );
    assert_eq!(obs.body.as_deref(), Some(&b"+READY\r\n"[..]));
    assert!(obs.connected);
}

#[tokio::test]
async fn tcp_refused() {
    let port = closed_port().await;
    let obs = check_tcp(&TcpCheck::new("127.0.0.1", port)).await;
    assert!(!obs.connected);
    assert_eq!(obs.error.as_deref(), Some("connection refused"));
}

#[tokio::test]
async fn tcp_unresolvable_host() {
    let obs = check_tcp(&TcpCheck::new("no-such-host.invalid", 80)).await;
    assert!(!obs.connected);
    let error = obs.error.unwrap();
    assert!(
        error.starts_with("could not resolve no-such-host.invalid"),
        "{error}"
    );
}

// --- DNS -------------------------------------------------------------------------------------------------------

fn dns_answer(query: &Message, truncate: bool) -> Message {
    let mut reply = Message::new();
    reply
        .set_id(query.id())
        .set_message_type(MessageType::Response)
        .set_op_code(query.op_code())
        .set_recursion_desired(query.recursion_desired())
        .set_recursion_available(true);
    let Some(q) = query.queries().first() else {
        reply.set_response_code(ResponseCode::FormErr);
        return reply;
    };
    reply.add_query(q.clone());
    let name = q.name().clone();
    let owner = name.to_string();
    match (owner.as_str(), q.query_type()) {
        ("www.example.test.", RecordType::A) => {
            reply.add_answer(Record::from_rdata(name, 60, RData::A(A::new(10, 1, 2, 3))));
        }
        ("example.test.", RecordType::MX) => {
            let exchange = Name::from_ascii("mail.example.test.").unwrap();
            reply.add_answer(Record::from_rdata(
                name.clone(),
                60,
                RData::MX(MX::new(10, exchange)),
            ));
            let exchange = Name::from_ascii("backup.example.test.").unwrap();
            reply.add_answer(Record::from_rdata(
                name,
                60,
                RData::MX(MX::new(20, exchange)),
            ));
        }
        ("big.example.test.", RecordType::TXT) if truncate => {
            reply.set_truncated(true);
        }
        ("big.example.test.", RecordType::TXT) => {
            reply.add_answer(Record::from_rdata(
                name,
                60,
                RData::TXT(TXT::new(vec!["v=spf1 -all".into()])),
            ));
        }
        ("servfail.example.test.", _) => {
            reply.set_response_code(ResponseCode::ServFail);
        }
        _ => {
            reply.set_response_code(ResponseCode::NXDomain);
        }
    }
    reply
}

/// A DNS responder on UDP and TCP (same port); UDP answers for `big.example.test.` come back truncated.
async fn serve_dns() -> SocketAddr {
    let (udp, tcp) = loop {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap();
        if let Ok(tcp) = TcpListener::bind(addr).await {
            break (udp, tcp);
        }
    };
    let addr = udp.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, from)) = udp.recv_from(&mut buf).await {
            if let Ok(query) = Message::from_vec(&buf[..n]) {
                let reply = dns_answer(&query, true).to_vec().unwrap();
                let _ = udp.send_to(&reply, from).await;
            }
        }
    });
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = tcp.accept().await {
            tokio::spawn(async move {
                let len = stream.read_u16().await.unwrap();
                let mut buf = vec![0u8; usize::from(len)];
                stream.read_exact(&mut buf).await.unwrap();
                let query = Message::from_vec(&buf).unwrap();
                let reply = dns_answer(&query, false).to_vec().unwrap();
                let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(&reply);
                let _ = stream.write_all(&framed).await;
            });
        }
    });
    addr
}

fn dns(name: &str, record_type: &str, server: SocketAddr) -> DnsCheck {
    DnsCheck {
        server,
        timeout: Duration::from_secs(2),
        ..DnsCheck::new(name, record_type)
    }
}

#[tokio::test]
async fn dns_a_record() {
    let server = serve_dns().await;
    let obs = check_dns(&dns("www.example.test", "A", server)).await;
    assert_eq!(obs.error, None);
    assert!(obs.connected);
    assert_eq!(obs.dns_rcode.as_deref(), Some("NOERROR"));
    assert_eq!(obs.body.as_deref(), Some(&b"10.1.2.3"[..]));
    assert_eq!(obs.ip.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn dns_nxdomain_and_servfail() {
    let server = serve_dns().await;
    let obs = check_dns(&dns("missing.example.test", "a", server)).await;
    assert_eq!(obs.error, None, "a negative answer is an answer");
    assert!(obs.connected);
    assert_eq!(obs.dns_rcode.as_deref(), Some("NXDOMAIN"));
    assert_eq!(obs.body.as_deref(), Some(&b""[..]));
    let obs = check_dns(&dns("servfail.example.test", "AAAA", server)).await;
    assert_eq!(obs.dns_rcode.as_deref(), Some("SERVFAIL"));
}

#[tokio::test]
async fn dns_mx_answers_one_per_line() {
    let server = serve_dns().await;
    let obs = check_dns(&dns("example.test.", "MX", server)).await;
    assert_eq!(obs.error, None);
    let body = String::from_utf8(obs.body.unwrap()).unwrap();
    assert_eq!(body, "10 mail.example.test.\n20 backup.example.test.");
}

#[tokio::test]
async fn dns_truncated_answer_retried_over_tcp() {
    let server = serve_dns().await;
    let obs = check_dns(&dns("big.example.test", "TXT", server)).await;
    assert_eq!(obs.error, None);
    assert_eq!(obs.dns_rcode.as_deref(), Some("NOERROR"));
    assert_eq!(obs.body.as_deref(), Some(&b"v=spf1 -all"[..]));
}

#[tokio::test]
async fn dns_silent_server_times_out() {
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let server = silent.local_addr().unwrap();
    let check = DnsCheck {
        timeout: Duration::from_millis(300),
        ..dns("www.example.test", "A", server)
    };
    let started = Instant::now();
    let obs = check_dns(&check).await;
    assert!(started.elapsed() < Duration::from_millis(600));
    assert!(!obs.connected);
    assert_eq!(obs.error.as_deref(), Some("timed out after 300ms"));
    assert_eq!(obs.dns_rcode, None);
    drop(silent);
}

#[tokio::test]
async fn dns_unsupported_record_type() {
    let obs = check_dns(&dns(
        "example.test",
        "HINFO",
        "127.0.0.1:9".parse().unwrap(),
    ))
    .await;
    assert!(obs.error.unwrap().contains("unsupported DNS record type"));
}

// --- ICMP ------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn icmp_loopback_answers_or_says_why_not() {
    let check = IcmpCheck {
        timeout: Duration::from_secs(2),
        ..IcmpCheck::new("127.0.0.1")
    };
    let obs = check_icmp(&check).await;
    eprintln!(
        "icmp: connected={} rtt={:?} error={:?}",
        obs.connected, obs.response_time, obs.error
    );
    match obs.error.as_deref() {
        None => {
            assert!(obs.connected);
            assert_eq!(obs.ip.as_deref(), Some("127.0.0.1"));
            assert!(obs.response_time < Duration::from_secs(1));
        }
        Some(error) => {
            assert_eq!(error, ICMP_NOT_PERMITTED);
            assert!(!obs.connected);
        }
    }
}

//! TLS for the probes: the TLS certificate check, and the handshake and certificate inspection the HTTPS check
//! shares with it.
//!
//! Every handshake completes with a verifier that accepts any certificate (it still checks the handshake
//! signatures, so the peer must hold the certificate's key). The chain and the host name are verified
//! afterwards, before any application data is sent. That way one handshake yields both the certificate's
//! expiry (even of an expired or untrusted certificate) and, when it is not valid, the reasons why. Session
//! resumption is off so every check pays, and measures, a full handshake. Trust roots are Mozilla's
//! (`webpki-roots`), plus any CA certificates the check brings.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::Observation;
use crate::net::{self, AddressFilter};

/// A TLS certificate check (`tls://host:port` in Gatus terms): connects, completes a handshake and reports the
/// leaf certificate's time to expiry, with an error when the chain is not valid for the host name.
#[derive(Debug, Clone)]
pub struct TlsCheck {
    pub host: String,
    pub port: u16,
    /// The name to send (SNI) and to verify the certificate against; `host` when `None`.
    pub server_name: Option<String>,
    pub timeout: Duration,
    /// Extra trust anchors (DER or PEM), e.g. a private CA, on top of Mozilla's roots.
    pub ca_certs: Vec<Vec<u8>>,
    /// Outbound address filter; `None` allows every address.
    pub allow: Option<AddressFilter>,
}

impl TlsCheck {
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            server_name: None,
            timeout: Duration::from_secs(10),
            ca_certs: Vec::new(),
            allow: None,
        }
    }
}

/// Runs a TLS certificate check. `certificate_expiration` / `certificate_expired` describe the leaf certificate
/// whenever the handshake completes; `error` says why the certificate is not valid for the name (expired,
/// unknown issuer, name mismatch, …), or why the handshake failed.
pub async fn check_tls(check: &TlsCheck) -> Observation {
    let start = Instant::now();
    let mut obs = Observation::default();
    let outcome = tokio::time::timeout(check.timeout, run_tls(check, start, &mut obs)).await;
    net::finish(start, check.timeout, obs, outcome)
}

async fn run_tls(check: &TlsCheck, start: Instant, obs: &mut Observation) -> Result<(), String> {
    let name = check.server_name.as_deref().unwrap_or(&check.host);
    let server_name = server_name(name)?;
    let addrs = net::resolve(&check.host, check.port, check.allow.as_ref(), start, obs).await?;
    let tcp = net::connect(&addrs, start, obs).await?;
    let tls = handshake(tcp, server_name.clone(), Alpn::None, start, obs).await?;
    match inspect(&tls, &server_name, &check.ca_certs, obs)? {
        None => Ok(()),
        Some(problem) => Err(problem),
    }
}

/// Which ALPN protocols to offer.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alpn {
    None,
    Http11,
}

pub(crate) fn server_name(name: &str) -> Result<ServerName<'static>, String> {
    let bare = match net::parse_ip_literal(name) {
        Some(ip) => return Ok(ServerName::IpAddress(ip.into())),
        None => name,
    };
    ServerName::try_from(bare.to_string()).map_err(|_| format!("invalid TLS server name {name:?}"))
}

/// Completes a TLS handshake over `tcp` (accepting any certificate, see the module docs), recording the TLS
/// phase.
pub(crate) async fn handshake(
    tcp: TcpStream,
    server_name: ServerName<'static>,
    alpn: Alpn,
    start: Instant,
    obs: &mut Observation,
) -> Result<TlsStream<TcpStream>, String> {
    let config = client_config(alpn)?;
    match TlsConnector::from(config).connect(server_name, tcp).await {
        Ok(stream) => {
            obs.timings.tls = Some(start.elapsed());
            Ok(stream)
        }
        Err(e) => Err(format!("TLS handshake failed: {}", net::io_error_text(&e))),
    }
}

/// Records the leaf certificate's expiry in `obs` and verifies the chain and the name. `Ok(Some(problem))`
/// when the certificate is not valid for `server_name`.
pub(crate) fn inspect(
    tls: &TlsStream<TcpStream>,
    server_name: &ServerName<'static>,
    ca_certs: &[Vec<u8>],
    obs: &mut Observation,
) -> Result<Option<String>, String> {
    let (_, conn) = tls.get_ref();
    let chain = conn.peer_certificates().unwrap_or(&[]);
    let Some(leaf) = chain.first() else {
        return Ok(Some("the server sent no certificate".to_string()));
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let not_after = not_after_unix(leaf);
    if let Some(not_after) = not_after {
        record_expiry(not_after, now, obs);
    }
    let roots = roots(ca_certs)?;
    Ok(verify(
        leaf,
        &chain[1..],
        server_name,
        &roots,
        now,
        not_after,
    ))
}

fn record_expiry(not_after: i64, now: Duration, obs: &mut Observation) {
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    if not_after > now {
        obs.certificate_expiration = Some(Duration::from_secs(not_after.abs_diff(now)));
        obs.certificate_expired = false;
    } else {
        obs.certificate_expiration = None;
        obs.certificate_expired = true;
    }
}

/// Every reason the certificate is not valid for the name, or `None` when it is.
fn verify(
    leaf: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    server_name: &ServerName<'static>,
    roots: &RootCertStore,
    now: Duration,
    not_after: Option<i64>,
) -> Option<String> {
    let parsed = match ParsedCertificate::try_from(leaf) {
        Ok(parsed) => parsed,
        Err(e) => return Some(format!("the certificate could not be parsed: {e}")),
    };
    let mut problems: Vec<String> = Vec::new();
    let now_secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    let expired = not_after.is_some_and(|t| t <= now_secs);
    if let Some(t) = not_after.filter(|_| expired) {
        problems.push(format!("certificate expired on {}", fmt_unix(t)));
    }
    let algs = provider().signature_verification_algorithms.all;
    if let Err(e) = verify_server_cert_signed_by_trust_anchor(
        &parsed,
        roots,
        intermediates,
        UnixTime::since_unix_epoch(now),
        algs,
    ) {
        let is_expiry = matches!(
            e,
            rustls::Error::InvalidCertificate(
                CertificateError::Expired | CertificateError::ExpiredContext { .. }
            )
        );
        if !(expired && is_expiry) {
            problems.push(chain_problem(&e));
        }
    }
    if let Err(e) = verify_server_name(&parsed, server_name) {
        problems.push(name_problem(&e, server_name));
    }
    if problems.is_empty() {
        None
    } else {
        Some(format!(
            "TLS certificate is not valid for {}: {}",
            server_name.to_str(),
            problems.join("; ")
        ))
    }
}

fn chain_problem(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => {
                "unknown issuer (self-signed, or signed by a CA that is not trusted)".to_string()
            }
            CertificateError::Expired => "certificate expired".to_string(),
            CertificateError::ExpiredContext { not_after, .. } => format!(
                "certificate expired on {}",
                fmt_unix(i64::try_from(not_after.as_secs()).unwrap_or(i64::MAX))
            ),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "certificate is not valid yet".to_string()
            }
            CertificateError::Revoked => "certificate revoked".to_string(),
            CertificateError::BadSignature => "bad certificate signature".to_string(),
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                "certificate is not meant for TLS server authentication".to_string()
            }
            CertificateError::BadEncoding => "certificate is malformed".to_string(),
            other => format!("invalid certificate: {other}"),
        },
        other => other.to_string(),
    }
}

fn name_problem(e: &rustls::Error, expected: &ServerName<'static>) -> String {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
            presented,
            ..
        }) if !presented.is_empty() => format!(
            "name mismatch: the certificate is for {}, not {}",
            presented
                .iter()
                .map(|p| presented_name(p))
                .collect::<Vec<_>>()
                .join(", "),
            expected.to_str()
        ),
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => format!(
            "name mismatch: the certificate is not for {}",
            expected.to_str()
        ),
        other => format!("name check failed: {other}"),
    }
}

/// `DnsName("example.com")` (how rustls lists the names a certificate presents) → `example.com`.
fn presented_name(presented: &str) -> &str {
    match (presented.find('('), presented.rfind(')')) {
        (Some(open), Some(close)) if open < close => presented[open + 1..close].trim_matches('"'),
        _ => presented,
    }
}

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// Mozilla's roots (built once), plus `extra` when given.
fn roots(extra: &[Vec<u8>]) -> Result<Arc<RootCertStore>, String> {
    static DEFAULT: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    let default = DEFAULT
        .get_or_init(|| {
            Arc::new(RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            })
        })
        .clone();
    if extra.is_empty() {
        return Ok(default);
    }
    let mut store = RootCertStore::clone(&default);
    for bytes in extra {
        let certs: Vec<CertificateDer<'static>> = if bytes.trim_ascii_start().starts_with(b"-----")
        {
            CertificateDer::pem_slice_iter(bytes)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("invalid CA certificate (PEM): {e}"))?
        } else {
            vec![CertificateDer::from(bytes.clone())]
        };
        for cert in certs {
            store
                .add(cert)
                .map_err(|e| format!("invalid CA certificate: {e}"))?;
        }
    }
    Ok(Arc::new(store))
}

fn client_config(alpn: Alpn) -> Result<Arc<ClientConfig>, String> {
    static PLAIN: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    static HTTP11: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    let cell = match alpn {
        Alpn::None => &PLAIN,
        Alpn::Http11 => &HTTP11,
    };
    cell.get_or_init(|| build_client_config(alpn)).clone()
}

fn build_client_config(alpn: Alpn) -> Result<Arc<ClientConfig>, String> {
    let provider = provider();
    let verifier = Arc::new(AcceptAnyCertificate {
        algs: provider.signature_verification_algorithms,
    });
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.resumption = Resumption::disabled();
    if alpn == Alpn::Http11 {
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
    }
    Ok(Arc::new(config))
}

/// Accepts any certificate during the handshake; verification happens afterwards in [`inspect`]. Handshake
/// signatures are still checked against the presented certificate's key.
#[derive(Debug)]
struct AcceptAnyCertificate {
    algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

// --- a small DER reader: just enough to find a certificate's notAfter ---------------------------------------

/// One DER element: (tag, contents, rest).
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The certificate's `notAfter` as seconds since the Unix epoch.
pub(crate) fn not_after_unix(cert_der: &[u8]) -> Option<i64> {
    const SEQUENCE: u8 = 0x30;
    let (tag, cert, _) = der_element(cert_der)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, tbs, _) = der_element(cert)?;
    if tag != SEQUENCE {
        return None;
    }
    let mut rest = tbs;
    // version [0] EXPLICIT (optional)
    let (tag, _, after) = der_element(rest)?;
    if tag == 0xa0 {
        rest = after;
    }
    // serialNumber, signature, issuer
    for _ in 0..3 {
        rest = der_element(rest)?.2;
    }
    let (tag, validity, _) = der_element(rest)?;
    if tag != SEQUENCE {
        return None;
    }
    let (_, _, after_not_before) = der_element(validity)?;
    let (tag, not_after, _) = der_element(after_not_before)?;
    parse_time(tag, not_after)
}

fn parse_time(tag: u8, text: &[u8]) -> Option<i64> {
    const UTC_TIME: u8 = 0x17;
    const GENERALIZED_TIME: u8 = 0x18;
    let (year, rest) = match tag {
        UTC_TIME => {
            let yy = digits(text.get(..2)?)?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &text[2..])
        }
        GENERALIZED_TIME => (digits(text.get(..4)?)?, &text[4..]),
        _ => return None,
    };
    if rest.len() != 11 || rest[10] != b'Z' {
        return None;
    }
    let month = digits(&rest[0..2])?;
    let day = digits(&rest[2..4])?;
    let hour = digits(&rest[4..6])?;
    let minute = digits(&rest[6..8])?;
    let second = digits(&rest[8..10])?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

fn digits(text: &[u8]) -> Option<i64> {
    text.iter().try_fold(0i64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-05-01 12:00:00 UTC` for a Unix time.
fn fmt_unix(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(fmt_unix(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(fmt_unix(951_782_400 + 3661), "2000-02-29 01:01:01 UTC");
        let t = days_from_civil(2049, 12, 31) * 86_400;
        assert_eq!(fmt_unix(t), "2049-12-31 00:00:00 UTC");
    }

    #[test]
    fn asn1_times() {
        assert_eq!(parse_time(0x17, b"700101000000Z"), Some(0));
        assert_eq!(
            parse_time(0x17, b"491231235959Z"),
            Some(days_from_civil(2049, 12, 31) * 86_400 + 86_399)
        );
        assert_eq!(
            parse_time(0x18, b"20500101000000Z"),
            Some(days_from_civil(2050, 1, 1) * 86_400)
        );
        assert_eq!(parse_time(0x18, b"20500101000000"), None);
        assert_eq!(parse_time(0x17, b"70010100000Z"), None);
    }

    #[test]
    fn presented_names_read_plainly() {
        assert_eq!(presented_name("DnsName(\"localhost\")"), "localhost");
        assert_eq!(presented_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(presented_name("plain"), "plain");
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert_eq!(not_after_unix(b""), None);
        assert_eq!(not_after_unix(&[0x30, 0x82, 0xff]), None);
        assert_eq!(not_after_unix(&[0x30, 0x03, 0x02, 0x01, 0x00]), None);
    }
}

//! Plumbing shared by the check executors: name resolution and connecting with phase timings, the outbound
//! address filter hook, the hard-timeout wrapper and turning I/O errors into words a person can act on.

use std::error::Error as StdError;
use std::fmt;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use crate::Observation;

/// Decides whether a check may connect to an address (`true` = allowed).
///
/// Checks that take one (`HttpCheck::allow`, `TcpCheck::allow`, `TlsCheck::allow`, `IcmpCheck::allow`) apply it
/// to every address a host name resolves to, and to every redirect hop; an address it refuses is never
/// connected to, and when none is left the check fails with an error naming the refused address. `None` allows
/// everything. This is the hook for an outbound-request guard (e.g. blocking private ranges).
#[derive(Clone)]
pub struct AddressFilter(Arc<dyn Fn(IpAddr) -> bool + Send + Sync>);

impl AddressFilter {
    pub fn new(allow: impl Fn(IpAddr) -> bool + Send + Sync + 'static) -> Self {
        Self(Arc::new(allow))
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        (self.0)(ip)
    }
}

impl fmt::Debug for AddressFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AddressFilter(..)")
    }
}

/// Completes an observation after its check ran under a hard timeout (`tokio::time::timeout` around the whole
/// check): fills in the error and the total time. The check writes what it learns into the observation as it
/// goes, so a timeout still reports the phases that completed (connected, ip, timings).
pub(crate) fn finish(
    start: Instant,
    timeout: Duration,
    mut obs: Observation,
    outcome: Result<Result<(), String>, tokio::time::error::Elapsed>,
) -> Observation {
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(error)) => obs.error = Some(error),
        Err(_) => obs.error = Some(format!("timed out after {}", fmt_duration(timeout))),
    }
    let total = start.elapsed();
    obs.response_time = total;
    obs.timings.total = total;
    obs
}

/// `10s`, `300ms`, `1.5s`, `2m`, `1m30s`: the way people write timeouts.
pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return format!("{}µs", d.as_micros());
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if !ms.is_multiple_of(1000) {
        return format!("{}s", trim_float(d.as_secs_f64()));
    }
    let secs = d.as_secs();
    match (secs / 3600, secs % 3600 / 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, 0) => format!("{h}h{m}m"),
        (h, m, s) => format!("{h}h{m}m{s}s"),
    }
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A host as written in a URL or a check: IPv6 literals may come bracketed.
pub(crate) fn parse_ip_literal(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

/// Resolves `host` (a name or an IP literal), recording the DNS phase when a lookup was needed, and applies
/// the address filter.
pub(crate) async fn resolve(
    host: &str,
    port: u16,
    allow: Option<&AddressFilter>,
    start: Instant,
    obs: &mut Observation,
) -> Result<Vec<SocketAddr>, String> {
    let addrs: Vec<SocketAddr> = match parse_ip_literal(host) {
        Some(ip) => vec![SocketAddr::new(ip, port)],
        None => {
            if host.is_empty() {
                return Err("no host to connect to".to_string());
            }
            let found = tokio::net::lookup_host((host, port)).await;
            obs.timings.dns = Some(start.elapsed());
            match found {
                Ok(found) => found.collect(),
                Err(e) => {
                    return Err(format!(
                        "could not resolve {host}: {}",
                        resolve_error_text(&e)
                    ));
                }
            }
        }
    };
    if addrs.is_empty() {
        return Err(format!("could not resolve {host}: no addresses"));
    }
    let Some(filter) = allow else {
        return Ok(addrs);
    };
    let (allowed, refused): (Vec<SocketAddr>, Vec<SocketAddr>) =
        addrs.into_iter().partition(|a| filter.allows(a.ip()));
    match (allowed.is_empty(), refused.first()) {
        (true, Some(first)) => {
            let ip = first.ip();
            obs.ip = Some(ip.to_string());
            Err(if parse_ip_literal(host).is_some() {
                format!("address {ip} is not allowed by the outbound address policy")
            } else {
                format!("address {ip} of {host} is not allowed by the outbound address policy")
            })
        }
        _ => Ok(allowed),
    }
}

fn resolve_error_text(e: &io::Error) -> String {
    let text = e.to_string();
    // getaddrinfo's wording ("failed to lookup address information: Name or service not known") is long;
    // keep its specific part.
    match text.strip_prefix("failed to lookup address information: ") {
        Some(rest) => rest.to_string(),
        None => text,
    }
}

/// Connects to the first address that accepts, in order, recording the connect phase, `ip` and `connected`.
pub(crate) async fn connect(
    addrs: &[SocketAddr],
    start: Instant,
    obs: &mut Observation,
) -> Result<TcpStream, String> {
    let mut first_error: Option<io::Error> = None;
    for addr in addrs {
        obs.ip = Some(addr.ip().to_string());
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                obs.timings.connect = Some(start.elapsed());
                obs.connected = true;
                // Small request/response exchanges: do not wait for Nagle.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => {
                if first_error.is_none() {
                    first_error = Some(e);
                }
            }
        }
    }
    Err(match first_error {
        Some(e) => io_error_text(&e),
        None => "no address to connect to".to_string(),
    })
}

/// Words for an I/O error, without the `(os error 111)` noise for the common cases.
pub(crate) fn io_error_text(e: &io::Error) -> String {
    use io::ErrorKind as K;
    let fixed = match e.kind() {
        K::ConnectionRefused => "connection refused",
        K::ConnectionReset => "connection reset by peer",
        K::ConnectionAborted => "connection aborted",
        K::TimedOut => "connection timed out",
        K::HostUnreachable => "host unreachable",
        K::NetworkUnreachable => "network unreachable",
        K::AddrNotAvailable => "address not available",
        K::BrokenPipe => "connection closed by peer (broken pipe)",
        K::UnexpectedEof => "connection closed by peer",
        K::PermissionDenied => "permission denied",
        _ => "",
    };
    if !fixed.is_empty() {
        return fixed.to_string();
    }
    // An io::Error wrapping another error (rustls, hyper) describes itself through its inner error.
    match e.get_ref() {
        Some(inner) => error_chain(inner),
        None => e.to_string(),
    }
}

/// An error and its sources joined with `: `, skipping repeats (many errors print their source themselves).
pub(crate) fn error_chain(e: &(dyn StdError + 'static)) -> String {
    if let Some(io) = e.downcast_ref::<io::Error>()
        && (io.get_ref().is_none() || io.kind() != io::ErrorKind::Other)
    {
        return io_error_text(io);
    }
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = match s.downcast_ref::<io::Error>() {
            Some(io) => io_error_text(io),
            None => s.to_string(),
        };
        if !part.is_empty() && !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// A random number good enough for DNS query ids and ICMP identifiers (not for secrets): the standard
/// library's randomly keyed SipHash over the clock and a counter.
pub(crate) fn random_u64() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    hasher.write_u64(nanos);
    hasher.finish()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_config() {
        assert_eq!(fmt_duration(Duration::from_secs(10)), "10s");
        assert_eq!(fmt_duration(Duration::from_millis(300)), "300ms");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(fmt_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(fmt_duration(Duration::from_secs(7200)), "2h");
    }

    #[test]
    fn refused_reads_plainly() {
        let e = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(io_error_text(&e), "connection refused");
    }

    #[test]
    fn ip_literals() {
        assert_eq!(parse_ip_literal("[::1]"), Some("::1".parse().unwrap()));
        assert_eq!(
            parse_ip_literal("127.0.0.1"),
            Some("127.0.0.1".parse().unwrap())
        );
        assert_eq!(parse_ip_literal("localhost"), None);
    }
}

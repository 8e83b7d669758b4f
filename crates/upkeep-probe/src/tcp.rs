//! The TCP check: connect, optionally send bytes, optionally read until expected bytes appear.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::Observation;
use crate::net::{self, AddressFilter};

/// The most a TCP check reads while waiting for its expected bytes.
pub const TCP_MAX_READ: usize = 64 * 1024;

/// A TCP check.
#[derive(Debug, Clone)]
pub struct TcpCheck {
    pub host: String,
    pub port: u16,
    pub timeout: Duration,
    /// Written once connected.
    pub send: Option<Vec<u8>>,
    /// Read until these bytes appear (the check fails if the peer closes first, or on timeout).
    pub expect: Option<Vec<u8>>,
    /// Outbound address filter; `None` allows every address.
    pub allow: Option<AddressFilter>,
}

impl TcpCheck {
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            timeout: Duration::from_secs(10),
            send: None,
            expect: None,
            allow: None,
        }
    }
}

/// Runs a TCP check: `connected`, `ip`, timings (DNS when looked up, connect, first byte read), and `body` = the
/// bytes read while waiting for `expect` (at most [`TCP_MAX_READ`]), also when the check fails.
pub async fn check_tcp(check: &TcpCheck) -> Observation {
    let start = Instant::now();
    let mut obs = Observation::default();
    let outcome = tokio::time::timeout(check.timeout, run_tcp(check, start, &mut obs)).await;
    let timed_out = outcome.is_err();
    let mut obs = net::finish(start, check.timeout, obs, outcome);
    if timed_out
        && obs.connected
        && check.expect.is_some()
        && let Some(error) = obs.error.as_mut()
    {
        error.push_str(" waiting for the expected bytes");
    }
    obs
}

async fn run_tcp(check: &TcpCheck, start: Instant, obs: &mut Observation) -> Result<(), String> {
    let addrs = net::resolve(&check.host, check.port, check.allow.as_ref(), start, obs).await?;
    let mut stream = net::connect(&addrs, start, obs).await?;
    if let Some(send) = check.send.as_deref().filter(|s| !s.is_empty()) {
        stream
            .write_all(send)
            .await
            .map_err(|e| format!("could not send: {}", net::io_error_text(&e)))?;
        stream
            .flush()
            .await
            .map_err(|e| format!("could not send: {}", net::io_error_text(&e)))?;
    }
    let Some(expect) = check.expect.as_deref().filter(|e| !e.is_empty()) else {
        return Ok(());
    };
    let mut buf = vec![0u8; 4096];
    loop {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("could not read: {}", net::io_error_text(&e)))?;
        if n == 0 {
            return Err("connection closed before the expected bytes were received".to_string());
        }
        if obs.timings.first_byte.is_none() {
            obs.timings.first_byte = Some(start.elapsed());
        }
        let read = obs.body.get_or_insert_with(Vec::new);
        let room = TCP_MAX_READ.saturating_sub(read.len());
        read.extend_from_slice(&buf[..n.min(room)]);
        if contains(read, expect) {
            return Ok(());
        }
        if read.len() >= TCP_MAX_READ {
            return Err(format!(
                "the expected bytes did not appear in the first {TCP_MAX_READ} bytes read"
            ));
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

//! upkeep's probe network stack: the checks that reach out to a target (HTTP(S), TCP, DNS, TLS certificate,
//! ICMP) and report what they saw as an [`Observation`], and the Gatus condition language
//! (`[STATUS] == 200`, `[BODY].data[0].id == 7`, …) that judges an observation.
//!
//! This crate knows nothing of storage, scheduling or HTTP serving: it is pure infrastructure, testable on
//! its own against local servers.

pub mod conditions;
pub mod dns;
pub mod http;
pub mod icmp;
pub mod net;
pub mod tcp;
pub mod tls;

pub use dns::{DnsCheck, check_dns, system_dns_server};
pub use http::{HttpCheck, check_http};
pub use icmp::{ICMP_NOT_PERMITTED, IcmpCheck, check_icmp};
pub use net::AddressFilter;
pub use tcp::{TcpCheck, check_tcp};
pub use tls::{TlsCheck, check_tls};

use std::time::Duration;

/// Everything a check saw, in the terms the condition placeholders use.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    /// `[CONNECTED]`: a connection (or DNS answer) was obtained.
    pub connected: bool,
    /// `[STATUS]`: HTTP status code.
    pub status: Option<u16>,
    /// `[RESPONSE_TIME]`: total time of the check.
    pub response_time: Duration,
    /// `[BODY]`: the response body (HTTP), the answers joined by newlines (DNS), or what a TCP check read.
    pub body: Option<Vec<u8>>,
    /// `[IP]`: the address connected to.
    pub ip: Option<String>,
    /// `[CERTIFICATE_EXPIRATION]`: time until the peer certificate expires (negative when expired: `None` then
    /// and `certificate_expired` set).
    pub certificate_expiration: Option<Duration>,
    pub certificate_expired: bool,
    /// `[DNS_RCODE]`: e.g. `NOERROR`, `NXDOMAIN`.
    pub dns_rcode: Option<String>,
    /// Phase timings where the check kind has them.
    pub timings: Timings,
    /// Why the check could not complete (timeout, refused, TLS failure), in words a person can act on.
    pub error: Option<String>,
}

/// Phase timings of one check, each measured from the start of the check.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Timings {
    pub dns: Option<Duration>,
    pub connect: Option<Duration>,
    pub tls: Option<Duration>,
    pub first_byte: Option<Duration>,
    pub total: Duration,
}

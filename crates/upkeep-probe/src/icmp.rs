//! The ICMP check: one echo request, timed until its reply.
//!
//! It uses an unprivileged ping socket (`SOCK_DGRAM` + `IPPROTO_ICMP`, allowed for the groups in
//! `net.ipv4.ping_group_range`) and falls back to a raw socket (needs `CAP_NET_RAW`). When the process may open
//! neither, the check reports [`ICMP_NOT_PERMITTED`].

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

use crate::Observation;
use crate::net::{self, AddressFilter};

/// The error of an ICMP check when the process may not open ping sockets.
pub const ICMP_NOT_PERMITTED: &str = "ICMP ping is not permitted for this process: allow it with sysctl \
     net.ipv4.ping_group_range=\"0 2147483647\" or CAP_NET_RAW";

/// An ICMP ping check.
#[derive(Debug, Clone)]
pub struct IcmpCheck {
    pub host: String,
    pub timeout: Duration,
    /// Outbound address filter; `None` allows every address.
    pub allow: Option<AddressFilter>,
}

impl IcmpCheck {
    pub fn new(host: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            timeout: Duration::from_secs(10),
            allow: None,
        }
    }
}

/// Runs an ICMP check: `connected` = an echo reply came back, `ip` = the address pinged, `response_time` = the
/// round trip (plus name resolution when a name was looked up; `timings.dns` tells that part).
pub async fn check_icmp(check: &IcmpCheck) -> Observation {
    let start = Instant::now();
    let mut obs = Observation::default();
    let outcome = tokio::time::timeout(check.timeout, run_icmp(check, start, &mut obs)).await;
    net::finish(start, check.timeout, obs, outcome)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Ping socket: the kernel sets the identifier and checksum, and delivers only our replies, without the IP
    /// header.
    Dgram,
    /// Raw socket: we see every ICMP packet (with the IPv4 header) and must match our identifier.
    Raw,
}

async fn run_icmp(check: &IcmpCheck, start: Instant, obs: &mut Observation) -> Result<(), String> {
    let addrs = net::resolve(&check.host, 0, check.allow.as_ref(), start, obs).await?;
    let Some(ip) = addrs.first().map(SocketAddr::ip) else {
        return Err(format!("could not resolve {}", check.host));
    };
    obs.ip = Some(ip.to_string());
    let (socket, kind) = open(ip)?;

    let nonce = net::random_u64();
    let ident = (nonce >> 16) as u16;
    let seq = nonce as u16;
    let mut payload = *b"upkeep-ping-0123456789ab";
    payload[12..20].copy_from_slice(&nonce.to_be_bytes());
    let request = echo_request(ip, ident, seq, &payload);

    socket
        .send_to(&request, SocketAddr::new(ip, 0))
        .await
        .map_err(|e| format!("could not send the echo request: {}", send_error_text(&e)))?;
    let mut buf = vec![0u8; 2048];
    loop {
        let (n, from) = socket
            .recv_from(&mut buf)
            .await
            .map_err(|e| format!("no echo reply: {}", net::io_error_text(&e)))?;
        if from.ip() != ip {
            continue;
        }
        match parse_reply(&buf[..n], ip, kind, ident, seq, &payload) {
            Reply::Echo => {
                obs.timings.first_byte = Some(start.elapsed());
                obs.connected = true;
                return Ok(());
            }
            Reply::Unreachable(code) => {
                return Err(format!("destination unreachable (ICMP code {code})"));
            }
            Reply::Other => {}
        }
    }
}

fn open(ip: IpAddr) -> Result<(UdpSocket, Kind), String> {
    let (domain, protocol) = match ip {
        IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4),
        IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6),
    };
    let (socket, kind) = match Socket::new(domain, Type::DGRAM, Some(protocol)) {
        Ok(socket) => (socket, Kind::Dgram),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            match Socket::new(domain, Type::RAW, Some(protocol)) {
                Ok(socket) => (socket, Kind::Raw),
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                    return Err(ICMP_NOT_PERMITTED.to_string());
                }
                Err(e) => return Err(format!("could not open an ICMP socket: {e}")),
            }
        }
        Err(e) => return Err(format!("could not open an ICMP socket: {e}")),
    };
    socket
        .set_nonblocking(true)
        .map_err(|e| format!("could not set up the ICMP socket: {e}"))?;
    let socket = UdpSocket::from_std(std::net::UdpSocket::from(socket))
        .map_err(|e| format!("could not set up the ICMP socket: {e}"))?;
    Ok((socket, kind))
}

fn send_error_text(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::PermissionDenied => ICMP_NOT_PERMITTED.to_string(),
        _ => net::io_error_text(e),
    }
}

fn echo_request(ip: IpAddr, ident: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let kind = if ip.is_ipv4() { 8 } else { 128 };
    let mut packet = Vec::with_capacity(8 + payload.len());
    packet.extend_from_slice(&[kind, 0, 0, 0]);
    packet.extend_from_slice(&ident.to_be_bytes());
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(payload);
    if ip.is_ipv4() {
        // ICMPv6 checksums cover a pseudo-header; the kernel fills them in.
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    packet
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

enum Reply {
    Echo,
    Unreachable(u8),
    Other,
}

fn parse_reply(
    packet: &[u8],
    ip: IpAddr,
    kind: Kind,
    ident: u16,
    seq: u16,
    payload: &[u8],
) -> Reply {
    // Raw IPv4 sockets deliver the IP header too.
    let icmp = if ip.is_ipv4() && kind == Kind::Raw {
        match packet.first() {
            Some(first) => packet.get(usize::from(first & 0x0f) * 4..).unwrap_or(&[]),
            None => &[],
        }
    } else {
        packet
    };
    if icmp.len() < 8 {
        return Reply::Other;
    }
    let (echo_reply, unreachable) = if ip.is_ipv4() { (0, 3) } else { (129, 1) };
    let got_ident = u16::from_be_bytes([icmp[4], icmp[5]]);
    let got_seq = u16::from_be_bytes([icmp[6], icmp[7]]);
    let ours = |got_ident: u16| kind == Kind::Dgram || got_ident == ident;
    if icmp[0] == echo_reply {
        if ours(got_ident) && got_seq == seq && &icmp[8..] == payload {
            return Reply::Echo;
        }
        return Reply::Other;
    }
    if icmp[0] == unreachable && kind == Kind::Raw && ip.is_ipv4() {
        // The error quotes our request: IP header, then the first 8 bytes of our ICMP header.
        let quoted = &icmp[8..];
        if let Some(first) = quoted.first() {
            let start = usize::from(first & 0x0f) * 4;
            if let Some(orig) = quoted.get(start..start + 8) {
                let orig_ident = u16::from_be_bytes([orig[4], orig[5]]);
                let orig_seq = u16::from_be_bytes([orig[6], orig[7]]);
                if orig[0] == 8 && orig_ident == ident && orig_seq == seq {
                    return Reply::Unreachable(icmp[1]);
                }
            }
        }
    }
    Reply::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_an_echo_request_verifies() {
        let ip = IpAddr::from([127, 0, 0, 1]);
        let packet = echo_request(ip, 0x1234, 7, b"abc");
        assert_eq!(checksum(&packet), 0);
    }

    #[test]
    fn replies_are_matched() {
        let ip = IpAddr::from([127, 0, 0, 1]);
        let mut reply = echo_request(ip, 0x1234, 7, b"abcd");
        reply[0] = 0;
        assert!(matches!(
            parse_reply(&reply, ip, Kind::Dgram, 1, 7, b"abcd"),
            Reply::Echo
        ));
        assert!(matches!(
            parse_reply(&reply, ip, Kind::Dgram, 1, 8, b"abcd"),
            Reply::Other
        ));
        let mut raw = vec![0x45; 1];
        raw.extend_from_slice(&[0; 19]);
        raw.extend_from_slice(&reply);
        assert!(matches!(
            parse_reply(&raw, ip, Kind::Raw, 0x1234, 7, b"abcd"),
            Reply::Echo
        ));
        assert!(matches!(
            parse_reply(&raw, ip, Kind::Raw, 0x4321, 7, b"abcd"),
            Reply::Other
        ));
    }
}

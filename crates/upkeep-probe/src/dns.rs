//! The DNS check: one query to a given server over UDP (retried over TCP when the answer is truncated),
//! reporting the response code and the answers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::Observation;
use crate::net;

/// The record types a DNS check may ask for.
pub const DNS_RECORD_TYPES: &[&str] =
    &["A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "PTR", "SRV"];

/// A DNS check.
#[derive(Debug, Clone)]
pub struct DnsCheck {
    /// The name to query. For `PTR`, an IP address is turned into its reverse name.
    pub name: String,
    /// One of [`DNS_RECORD_TYPES`] (case-insensitive).
    pub record_type: String,
    /// The server to ask; see [`system_dns_server`].
    pub server: SocketAddr,
    pub timeout: Duration,
}

impl DnsCheck {
    /// A query to the system's resolver ([`system_dns_server`]) with a 10 s timeout.
    pub fn new(name: impl Into<String>, record_type: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            record_type: record_type.into(),
            server: system_dns_server(),
            timeout: Duration::from_secs(10),
        }
    }
}

/// The first `nameserver` of `/etc/resolv.conf`, else `1.1.1.1:53` (read once).
pub fn system_dns_server() -> SocketAddr {
    static SERVER: OnceLock<SocketAddr> = OnceLock::new();
    *SERVER.get_or_init(|| {
        std::fs::read_to_string("/etc/resolv.conf")
            .ok()
            .and_then(|text| first_nameserver(&text))
            .unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(1, 1, 1, 1)), 53))
    })
}

fn first_nameserver(resolv_conf: &str) -> Option<SocketAddr> {
    resolv_conf.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        if words.next()? != "nameserver" {
            return None;
        }
        // Drop an IPv6 zone (`fe80::1%eth0`): SocketAddr cannot carry it by name.
        let addr = words.next()?.split('%').next()?;
        IpAddr::from_str(addr)
            .ok()
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

/// Runs a DNS check: `connected` = the server answered; `dns_rcode` = `NOERROR`, `NXDOMAIN`, `SERVFAIL`, …;
/// `body` = the answers of the asked type, one per line (`93.184.216.34`, `10 mail.example.com.`, TXT strings
/// joined); `ip` = the server. A negative answer (`NXDOMAIN`) is not an error: conditions judge it.
pub async fn check_dns(check: &DnsCheck) -> Observation {
    let start = Instant::now();
    let mut obs = Observation::default();
    let outcome = tokio::time::timeout(check.timeout, run_dns(check, start, &mut obs)).await;
    net::finish(start, check.timeout, obs, outcome)
}

async fn run_dns(check: &DnsCheck, start: Instant, obs: &mut Observation) -> Result<(), String> {
    let record_type = record_type(&check.record_type)?;
    let name = query_name(&check.name, record_type)?;
    let id = (net::random_u64() & 0xffff) as u16;
    let mut query = Message::new();
    query
        .set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(name, record_type));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    query.set_edns(edns);
    let bytes = query
        .to_vec()
        .map_err(|e| format!("could not encode the DNS query: {e}"))?;

    obs.ip = Some(check.server.ip().to_string());
    let mut response = query_udp(check.server, &bytes, id).await?;
    if response.truncated() {
        response = query_tcp(check.server, &bytes, id).await?;
    }
    obs.timings.first_byte = Some(start.elapsed());
    obs.connected = true;
    obs.dns_rcode = Some(rcode_name(u16::from(response.response_code())));
    let answers: Vec<String> = response
        .answers()
        .iter()
        .filter(|r| r.record_type() == record_type)
        .map(|r| r.data().to_string())
        .collect();
    obs.body = Some(answers.join("\n").into_bytes());
    Ok(())
}

fn record_type(text: &str) -> Result<RecordType, String> {
    let upper = text.trim().to_ascii_uppercase();
    if !DNS_RECORD_TYPES.contains(&upper.as_str()) {
        return Err(format!(
            "unsupported DNS record type {text:?}: use one of {}",
            DNS_RECORD_TYPES.join(", ")
        ));
    }
    RecordType::from_str(&upper).map_err(|_| format!("unsupported DNS record type {text:?}"))
}

fn query_name(text: &str, record_type: RecordType) -> Result<Name, String> {
    let text = text.trim();
    if record_type == RecordType::PTR
        && let Some(ip) = net::parse_ip_literal(text)
    {
        return Ok(Name::from(ip));
    }
    let mut name = Name::from_utf8(text).map_err(|e| format!("invalid DNS name {text:?}: {e}"))?;
    // Names in checks are absolute: no search domains.
    name.set_fqdn(true);
    Ok(name)
}

async fn query_udp(server: SocketAddr, query: &[u8], id: u16) -> Result<Message, String> {
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|e| format!("could not open a UDP socket: {}", net::io_error_text(&e)))?;
    socket.connect(server).await.map_err(|e| {
        format!(
            "could not reach DNS server {server}: {}",
            net::io_error_text(&e)
        )
    })?;
    socket.send(query).await.map_err(|e| {
        format!(
            "could not send to DNS server {server}: {}",
            net::io_error_text(&e)
        )
    })?;
    // Answers are limited to the 1232 bytes advertised with EDNS; leave room for servers that overshoot.
    let mut buf = vec![0u8; 4096];
    loop {
        let n = socket.recv(&mut buf).await.map_err(|e| {
            format!(
                "no answer from DNS server {server}: {}",
                net::io_error_text(&e)
            )
        })?;
        // Ignore what is not the answer to this query (stray or spoofed datagrams).
        if let Ok(message) = Message::from_vec(&buf[..n])
            && message.id() == id
            && message.message_type() == MessageType::Response
        {
            return Ok(message);
        }
    }
}

async fn query_tcp(server: SocketAddr, query: &[u8], id: u16) -> Result<Message, String> {
    let error = |e: std::io::Error| {
        format!(
            "DNS over TCP to {server} failed: {}",
            net::io_error_text(&e)
        )
    };
    let mut stream = TcpStream::connect(server).await.map_err(error)?;
    let len = u16::try_from(query.len()).map_err(|_| "DNS query too long".to_string())?;
    let mut framed = Vec::with_capacity(query.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(query);
    stream.write_all(&framed).await.map_err(error)?;
    let len = stream.read_u16().await.map_err(error)?;
    let mut buf = vec![0u8; usize::from(len)];
    stream.read_exact(&mut buf).await.map_err(error)?;
    let message =
        Message::from_vec(&buf).map_err(|e| format!("unreadable DNS answer from {server}: {e}"))?;
    if message.id() != id {
        return Err(format!("DNS server {server} answered another query"));
    }
    Ok(message)
}

/// The mnemonic of a response code, as `dig` and Gatus print it.
pub fn rcode_name(code: u16) -> String {
    let name = match code {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        16 => "BADVERS",
        17 => "BADKEY",
        18 => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        22 => "BADTRUNC",
        23 => "BADCOOKIE",
        other => return format!("RCODE{other}"),
    };
    name.to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf() {
        let text = "# generated\nsearch example.com\nnameserver 127.0.0.53\nnameserver 8.8.8.8\n";
        assert_eq!(
            first_nameserver(text),
            Some("127.0.0.53:53".parse().unwrap())
        );
        assert_eq!(
            first_nameserver("nameserver fe80::1%eth0\n"),
            Some("[fe80::1]:53".parse().unwrap())
        );
        assert_eq!(first_nameserver("options ndots:5\n"), None);
    }

    #[test]
    fn reverse_names_for_ptr() {
        let name = query_name("10.1.2.3", RecordType::PTR).unwrap();
        assert_eq!(name.to_string(), "3.2.1.10.in-addr.arpa.");
        let name = query_name("example.com", RecordType::A).unwrap();
        assert_eq!(name.to_string(), "example.com.");
    }

    #[test]
    fn record_types() {
        assert_eq!(record_type("mx").unwrap(), RecordType::MX);
        assert!(record_type("HINFO").unwrap_err().contains("unsupported"));
        assert_eq!(rcode_name(3), "NXDOMAIN");
    }
}

//! Which IP addresses an outbound request to a user-given URL may not reach (private, loopback, link-local,
//! …), kept apart from the client so the email channel and other callers apply the very same list.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why `ip` is blocked when private addresses are blocked (`"loopback"`, `"private"`, …), or `None` when it
/// is an ordinary public address.
///
/// Blocked: IPv4 `0.0.0.0/8` (unspecified), `10/8`, `172.16/12`, `192.168/16` (private), `100.64/10`
/// (CGNAT shared), `127/8` (loopback), `169.254/16` (link-local, incl. cloud metadata), `192.0.0/24` (IETF
/// protocol assignments), `198.18/15` (benchmarking), `224/4` (multicast), `240/4` and `255.255.255.255`
/// (reserved, broadcast); IPv6 `::` (unspecified), `::1` (loopback), `fe80::/10` (link-local), `fec0::/10`
/// (site-local), `fc00::/7` (unique-local), `ff00::/8` (multicast), and IPv4 addresses embedded in IPv6
/// (`::ffff:a.b.c.d`, `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) judged as the IPv4 address.
pub fn blocked_category(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_category(v4),
        IpAddr::V6(v6) => v6_category(v6),
    }
}

fn v4_category(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        (0, _, _) => Some("unspecified"),
        (10, _, _) => Some("private"),
        (100, 64..=127, _) => Some("shared (CGNAT)"),
        (127, _, _) => Some("loopback"),
        (169, 254, _) => Some("link-local"),
        (172, 16..=31, _) => Some("private"),
        (192, 0, 0) => Some("reserved"),
        (192, 168, _) => Some("private"),
        (198, 18..=19, _) => Some("reserved"),
        (224..=239, _, _) => Some("multicast"),
        (240..=255, _, _) => Some("reserved"),
        _ => None,
    }
}

fn v6_category(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    let segments = ip.segments();
    let first = segments[0];
    if first & 0xffc0 == 0xfe80 {
        return Some("link-local");
    }
    if first & 0xffc0 == 0xfec0 {
        return Some("site-local");
    }
    if first & 0xfe00 == 0xfc00 {
        return Some("unique-local");
    }
    if first & 0xff00 == 0xff00 {
        return Some("multicast");
    }
    embedded_v4(&ip).and_then(v4_category)
}

/// The IPv4 address inside an IPv4-mapped, IPv4-compatible, NAT64 (`64:ff9b::/96`) or 6to4 address.
fn embedded_v4(ip: &Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let from = |hi: u16, lo: u16| {
        Ipv4Addr::new(
            (hi >> 8) as u8,
            (hi & 0xff) as u8,
            (lo >> 8) as u8,
            (lo & 0xff) as u8,
        )
    };
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] | [0, 0, 0, 0, 0, 0, hi, lo] => Some(from(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(from(hi, lo)),
        [0x2002, hi, lo, ..] => Some(from(hi, lo)),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn category(text: &str) -> Option<&'static str> {
        blocked_category(text.parse().unwrap())
    }

    #[test]
    fn private_and_special_ranges_are_blocked() {
        for (ip, want) in [
            ("0.0.0.0", "unspecified"),
            ("10.1.2.3", "private"),
            ("100.64.0.1", "shared (CGNAT)"),
            ("100.127.255.255", "shared (CGNAT)"),
            ("127.0.0.1", "loopback"),
            ("127.8.9.10", "loopback"),
            ("169.254.169.254", "link-local"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "reserved"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("fe80::1", "link-local"),
            ("fd00::1", "unique-local"),
            ("fc00::1", "unique-local"),
            ("ff02::1", "multicast"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
            ("2002:7f00:1::", "loopback"),
        ] {
            assert_eq!(category(ip), Some(want), "{ip}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.0.1",
            "172.32.0.1",
            "192.169.0.1",
            "2606:4700::1111",
            "2001:db8::1",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(category(ip), None, "{ip}");
        }
    }
}

//! Which client a request comes from, for the limits that count per client: the peer of the
//! connection, unless that peer is a configured trusted proxy, in which case the address the
//! proxy says it forwards (`X-Forwarded-For`, else `Forwarded`). Anyone can write those headers,
//! so they are believed only from a trusted proxy, and only their rightmost entries, which that
//! proxy appended itself.
//!
//! Addresses are also grouped into the unit a limit counts: one IPv4 address, or one IPv6 /64
//! (what one subscriber is given; counting single IPv6 addresses would let one phone line take
//! 2^64 budgets).

use std::net::{IpAddr, Ipv6Addr};

use axum::http::HeaderMap;

use crate::config::{TrustedProxy, canonical};

/// The unit a per-client limit counts: the IPv4 address, or the IPv6 /64 it is in.
pub(crate) fn bucket(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrustedProxies(Vec<TrustedProxy>);

impl TrustedProxies {
    /// The given proxies (none: every peer is the client itself).
    pub(crate) fn new(proxies: Vec<TrustedProxy>) -> Self {
        TrustedProxies(proxies)
    }

    /// Whether `ip` is a trusted proxy.
    pub(crate) fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|p| p.contains(ip))
    }

    /// The client a request from `peer` with these headers comes from.
    pub(crate) fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded = forwarded_for(headers, "x-forwarded-for", parse_xff_entry)
            .or_else(|| forwarded_for(headers, "forwarded", parse_forwarded_entry));
        let Some(chain) = forwarded else {
            return peer;
        };
        // Right to left: the first address that is not itself a trusted proxy is the client
        // the trusted chain saw. An entry that does not parse ends the walk: what is left of it
        // was written by someone not trusted, so the last trusted hop counts as the client.
        let mut client = peer;
        for entry in chain.iter().rev() {
            match entry {
                Some(ip) if self.trusts(*ip) => client = *ip,
                Some(ip) => return *ip,
                None => return client,
            }
        }
        client
    }
}

/// Every entry of every `name` header, in order (several header lines are one list); `None`
/// when there is no such header or one is not text.
fn forwarded_for(
    headers: &HeaderMap,
    name: &str,
    parse: fn(&str) -> Option<IpAddr>,
) -> Option<Vec<Option<IpAddr>>> {
    let mut entries = Vec::new();
    for value in headers.get_all(name) {
        let text = value.to_str().ok()?;
        entries.extend(text.split(',').map(|e| parse(e.trim()).map(canonical)));
    }
    (!entries.is_empty()).then_some(entries)
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:80`).
fn parse_xff_entry(entry: &str) -> Option<IpAddr> {
    parse_node(entry)
}

/// A `Forwarded` element (RFC 7239): `for=` among `;`-separated pairs.
fn parse_forwarded_entry(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("for")
            .then(|| parse_node(value.trim().trim_matches('"')))?
    })
}

/// An address with or without a port, IPv6 in brackets or bare.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok());
    }
    let (ip, port) = node.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    ip.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|p| p.parse().unwrap()).collect())
    }

    #[test]
    fn forwarding_headers_count_only_from_a_trusted_proxy() {
        let none = proxies(&[]);
        let xff = headers(&[("x-forwarded-for", "6.6.6.6")]);
        assert_eq!(none.client(ip("10.0.0.5"), &xff), ip("10.0.0.5"), "untrusted peer");
        let proxy = proxies(&["10.0.0.0/8"]);
        assert_eq!(proxy.client(ip("10.0.0.5"), &xff), ip("6.6.6.6"));
        assert_eq!(proxy.client(ip("192.0.2.1"), &xff), ip("192.0.2.1"), "not the proxy");
        assert_eq!(proxy.client(ip("10.0.0.5"), &HeaderMap::new()), ip("10.0.0.5"));
    }

    #[test]
    fn the_rightmost_untrusted_entry_is_the_client() {
        let p = proxies(&["10.0.0.1", "10.0.0.2"]);
        // The client wrote "1.1.1.1" itself; the proxies appended what they saw.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.7, 10.0.0.2")]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("203.0.113.7"));
        let h = headers(&[("x-forwarded-for", "1.1.1.1"), ("x-forwarded-for", "203.0.113.9:443")]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("203.0.113.9"), "several lines, a port");
        let h = headers(&[("x-forwarded-for", "garbage, 10.0.0.2")]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("10.0.0.2"), "stops at what does not parse");
        let h = headers(&[("forwarded", "for=1.1.1.1, for=\"[2001:db8::7]:4711\";proto=https")]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("2001:db8::7"));
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn limits_count_ipv4_addresses_and_ipv6_subnets() {
        assert_eq!(bucket(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
        assert_eq!(bucket(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
        assert_eq!(bucket(ip("2001:db8:1:2:ffff::1")), bucket(ip("2001:db8:1:2::9")));
        assert_ne!(bucket(ip("2001:db8:1:3::1")), bucket(ip("2001:db8:1:2::1")));
        assert!(proxies(&["::ffff:10.0.0.1"]).trusts(ip("10.0.0.1")), "mapped is IPv4");
        assert!("nonsense".parse::<TrustedProxy>().is_err());
        assert!("10.1.2.3/33".parse::<TrustedProxy>().is_err());
        assert!("10.1.2.3/8".parse::<TrustedProxy>().unwrap().contains(ip("10.200.0.1")));
    }
}

//! Caps on the connections open at once: in all, so the server never runs out of file
//! descriptors (a server at its descriptor limit cannot accept anyone, `/healthz` included), and
//! per client address, so one client (or a few) cannot take every place. A connection past a
//! cap is closed as soon as it is accepted: it costs the server one accept and one close. One
//! address is held to at most a quarter of all places, so even when the descriptor limit
//! lowers the total, a few addresses cannot take every place.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::http::client_addr;
use fieldsync_core::poison::Recover;

/// File descriptors kept for everything but client connections: the SQLite files of the
/// writer and readers (with their WAL and shared-memory files), the listeners, the blob files
/// being read or written, the standard streams.
const RESERVED_FDS: u64 = 128;

/// Why a connection was closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The server holds as many connections as it may.
    Total,
    /// This client address holds as many connections as one address may.
    Address,
}

#[derive(Debug, Default)]
struct Open {
    all: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// Counts open connections against the caps.
#[derive(Debug)]
pub(crate) struct ConnectionCaps {
    total: usize,
    per_address: usize,
    open: Mutex<Open>,
    refused_total: AtomicU64,
    refused_address: AtomicU64,
}

impl ConnectionCaps {
    /// Caps of `total` connections (lowered to what the process's file descriptor limit allows)
    /// and `per_address` per client address.
    pub(crate) fn new(total: usize, per_address: usize) -> Self {
        let allowed = fd_limit().map_or(usize::MAX, connections_within);
        let effective = total.min(allowed).max(1);
        if effective < total {
            tracing::warn!(
                configured = total,
                effective,
                "the file descriptor limit (ulimit -n) leaves room for fewer connections than \
                 configured; raise it to serve more"
            );
        }
        // One address never takes more than a quarter of the places, whatever the total ends
        // up being: the others keep room to be served.
        let per_address_effective = per_address.min(effective / 4).max(1);
        if per_address_effective < per_address {
            tracing::warn!(
                configured = per_address,
                effective = per_address_effective,
                "connections per address lowered to a quarter of the connections in all"
            );
        }
        ConnectionCaps {
            total: effective,
            per_address: per_address_effective,
            open: Mutex::new(Open::default()),
            refused_total: AtomicU64::new(0),
            refused_address: AtomicU64::new(0),
        }
    }

    /// The cap on all connections in force.
    pub(crate) fn total(&self) -> usize {
        self.total
    }

    /// Admits a connection from `peer` unless a cap is reached. A trusted proxy carries many
    /// clients' connections, so it is held only to the total.
    pub(crate) fn admit(
        self: &Arc<Self>,
        peer: IpAddr,
        trusted_proxy: bool,
    ) -> Result<Permit, Refused> {
        let mut open = self.open.lock().recover();
        if open.all >= self.total {
            self.refused_total.fetch_add(1, Ordering::Relaxed);
            return Err(Refused::Total);
        }
        let address = (!trusted_proxy).then(|| client_addr::bucket(peer));
        if let Some(a) = address {
            let n = open.by_address.entry(a).or_default();
            if *n >= self.per_address {
                self.refused_address.fetch_add(1, Ordering::Relaxed);
                return Err(Refused::Address);
            }
            *n += 1;
        }
        open.all += 1;
        Ok(Permit { caps: self.clone(), address })
    }

    /// Connections open now.
    pub(crate) fn open(&self) -> usize {
        self.open.lock().recover().all
    }

    /// Connections closed at once so far: over the total cap, over an address's cap.
    pub(crate) fn refused(&self) -> (u64, u64) {
        (self.refused_total.load(Ordering::Relaxed), self.refused_address.load(Ordering::Relaxed))
    }

    fn release(&self, address: Option<IpAddr>) {
        let mut open = self.open.lock().recover();
        open.all = open.all.saturating_sub(1);
        if let Some(a) = address
            && let Some(n) = open.by_address.get_mut(&a)
        {
            *n -= 1;
            if *n == 0 {
                open.by_address.remove(&a);
            }
        }
    }
}

/// A connection's place under the caps, given back when it is dropped.
#[derive(Debug)]
pub(crate) struct Permit {
    caps: Arc<ConnectionCaps>,
    address: Option<IpAddr>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.caps.release(self.address);
    }
}

/// Connections that fit under a descriptor limit of `fds`: each may hold its socket and a blob
/// file, besides the reserved descriptors.
fn connections_within(fds: u64) -> usize {
    usize::try_from(fds.saturating_sub(RESERVED_FDS) / 2).unwrap_or(usize::MAX).max(16)
}

/// The soft limit on open file descriptors (`ulimit -n`), from `/proc/self/limits` (Linux);
/// `None` where it cannot be read or is unlimited.
fn fd_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_fd_limit(&limits)
}

fn parse_fd_limit(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files").split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_all_connections_and_each_address_and_frees_places() {
        let caps = Arc::new(ConnectionCaps::new(3, 2));
        assert_eq!(caps.per_address, 1, "a quarter of the total at most, at least one");
        let caps = Arc::new(ConnectionCaps { per_address: 2, ..ConnectionCaps::new(3, 2) });
        let (a, b, c) =
            ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap(), "10.0.0.3".parse().unwrap());
        let a1 = caps.admit(a, false).unwrap();
        let _a2 = caps.admit(a, false).unwrap();
        assert_eq!(caps.admit(a, false).unwrap_err(), Refused::Address);
        let _b1 = caps.admit(b, false).unwrap();
        assert_eq!(caps.admit(c, false).unwrap_err(), Refused::Total);
        assert_eq!((caps.open(), caps.refused()), (3, (1, 1)));
        drop(a1);
        let _a3 = caps.admit(a, false).unwrap();
        assert_eq!(caps.admit(c, true).unwrap_err(), Refused::Total, "proxies too");
    }

    #[test]
    fn a_trusted_proxy_is_held_only_to_the_total() {
        let caps = Arc::new(ConnectionCaps::new(10, 1));
        assert_eq!(ConnectionCaps::new(10_000, 256).per_address, 256);
        assert_eq!(ConnectionCaps::new(400, 256).per_address, 100);
        let proxy = "10.0.0.9".parse().unwrap();
        let held: Vec<_> = (0..5).map(|_| caps.admit(proxy, true).unwrap()).collect();
        assert_eq!(caps.open(), held.len());
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let _one = caps.admit(v6, false).unwrap();
        let same_subnet = "2001:db8::2".parse().unwrap();
        assert_eq!(caps.admit(same_subnet, false).unwrap_err(), Refused::Address);
    }

    #[test]
    fn the_total_fits_under_the_descriptor_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(parse_fd_limit(limits), Some(1024));
        assert_eq!(connections_within(1024), 448);
        assert_eq!(connections_within(100), 16);
        assert_eq!(parse_fd_limit("Max open files  unlimited unlimited files"), None);
    }
}

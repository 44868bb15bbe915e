//! What one connection and one request may cost, and the connection counts `/metrics`
//! reports.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use ipnet::IpNet;

/// What one connection and one request may cost.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request head (431 above).
    pub max_header_bytes: usize,
    /// Largest request body (413 above).
    pub max_body_bytes: u64,
    /// An idle persistent connection is closed silently after this long.
    pub idle_timeout: Duration,
    /// A request must be received within this long (408).
    pub request_timeout: Duration,
    /// Writing an answer may make no progress for this long, then the connection is
    /// closed (a client that stopped reading).
    pub write_idle_timeout: Duration,
    /// Open connections beyond this are answered 503 and closed.
    pub max_connections: usize,
    /// Open connections one client address may hold (0: no cap); past it, 503. IPv6
    /// addresses count by their /64, which one client usually holds whole.
    pub max_connections_per_address: usize,
    /// Peers exempt from the per-address cap: reverse proxies, which carry many clients.
    pub trusted_proxies: Vec<IpNet>,
    /// How long shutdown waits for in-flight requests.
    pub drain_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 64 * 1024,
            max_body_bytes: 64 * 1024 * 1024,
            idle_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            write_idle_timeout: Duration::from_secs(30),
            max_connections: 512,
            max_connections_per_address: 128,
            trusted_proxies: Vec::new(),
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// Connection counts for `/metrics`.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    /// Connections being served now.
    pub open: AtomicU64,
    /// Connections refused because the server held `max_connections`.
    pub refused_at_limit: AtomicU64,
    /// Connections refused because their address held its share.
    pub refused_per_address: AtomicU64,
}

//! The accept loop: connection caps (in all and per client address), per-connection
//! tasks, graceful shutdown.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ipnet::IpNet;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

use super::connection;
use super::limits::{ConnectionStats, Limits};
use super::response::{BodyFraming, Response};
use super::service::Service;
use super::wire::Stream;

/// Open connections by client address, against the per-address cap.
struct PerAddress {
    cap: usize,
    exempt: Vec<IpNet>,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection counted against its address; gives the slot back when dropped.
struct AddressSlot {
    key: IpAddr,
    table: Arc<PerAddress>,
}

impl PerAddress {
    /// Counts a connection from `peer`, or refuses it (`None`: no slot needed).
    fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Option<AddressSlot>, ()> {
        let peer = canonical(peer);
        if self.cap == 0 || self.exempt.iter().any(|net| net.contains(&peer)) {
            return Ok(None);
        }
        let key = match peer {
            IpAddr::V6(v6) => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
            v4 => v4,
        };
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(key).or_default();
        if *count >= self.cap {
            return Err(());
        }
        *count += 1;
        Ok(Some(AddressSlot {
            key,
            table: self.clone(),
        }))
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self
            .table
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// What a connection runs over once accepted: plain TCP here; TLS wraps the socket in
/// its handshake. Runs in the connection's own task, so a slow handshake delays no one.
pub trait Transport: Send + Sync + 'static {
    /// Turns an accepted socket into the stream the connection speaks HTTP over.
    fn open(&self, socket: TcpStream) -> impl Future<Output = io::Result<Box<dyn Stream>>> + Send;
}

/// HTTP straight over the socket.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainTcp;

impl Transport for PlainTcp {
    async fn open(&self, socket: TcpStream) -> io::Result<Box<dyn Stream>> {
        Ok(Box::new(socket))
    }
}

/// Serves `listener` over plain TCP; see [`serve_over`].
pub async fn serve<S: Service>(
    listener: TcpListener,
    service: Arc<S>,
    limits: Limits,
    stats: Arc<ConnectionStats>,
    shutdown: impl Future<Output = ()>,
) {
    serve_over(
        listener,
        Arc::new(PlainTcp),
        service,
        limits,
        stats,
        shutdown,
    )
    .await;
}

/// Serves `listener` until `shutdown` resolves, then stops accepting, lets in-flight
/// requests finish (idle connections close at once; streamed bodies end) and returns.
pub async fn serve_over<T: Transport, S: Service>(
    listener: TcpListener,
    transport: Arc<T>,
    service: Arc<S>,
    limits: Limits,
    stats: Arc<ConnectionStats>,
    shutdown: impl Future<Output = ()>,
) {
    let limits = Arc::new(limits);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    let per_address = Arc::new(PerAddress {
        cap: limits.max_connections_per_address,
        exempt: limits.trusted_proxies.clone(),
        open: Mutex::new(HashMap::new()),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let next_id = AtomicU64::new(1);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut shutdown => break,
        };
        let (socket, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                // Out of descriptors and the like: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        // The address's share first: one that holds it must not also take the last
        // free slots of the server.
        let Ok(slot) = per_address.admit(peer.ip()) else {
            stats.refused_per_address.fetch_add(1, Ordering::Relaxed);
            refuse(
                socket,
                "Service Unavailable: too many connections from your address",
                &refusals,
            );
            continue;
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            stats.refused_at_limit.fetch_add(1, Ordering::Relaxed);
            refuse(
                socket,
                "Service Unavailable: connection limit reached",
                &refusals,
            );
            continue;
        };
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        let open = OpenConnection::count(stats.clone());
        let (transport, service, limits, stop) = (
            transport.clone(),
            service.clone(),
            limits.clone(),
            stop_rx.clone(),
        );
        let task = async move {
            let _ = socket.set_nodelay(true);
            let opened = tokio::time::timeout(limits.request_timeout, transport.open(socket));
            match opened.await {
                Ok(Ok(stream)) => connection::run(stream, peer, id, service, limits, stop).await,
                Ok(Err(error)) => tracing::debug!(peer = %peer, %error, "connection not opened"),
                Err(_) => tracing::debug!(peer = %peer, "connection not opened in time"),
            }
            drop((open, slot, permit));
        };
        TASK_BYTES.store(std::mem::size_of_val(&task), Ordering::Relaxed);
        tokio::spawn(task);
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.drain_timeout, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("shutdown: some connections were still busy after the drain timeout");
    }
}

/// The size of one connection's task state (its future), as last spawned.
static TASK_BYTES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The memory one connection's task holds whatever it does (for `/metrics`).
pub fn connection_task_bytes() -> usize {
    TASK_BYTES.load(Ordering::Relaxed)
}

/// A connection counted in [`ConnectionStats::open`] until dropped (also when its task
/// panics).
struct OpenConnection(Arc<ConnectionStats>);

impl OpenConnection {
    fn count(stats: Arc<ConnectionStats>) -> Self {
        stats.open.fetch_add(1, Ordering::Relaxed);
        OpenConnection(stats)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Refused connections answered at once at most; past it, one more is closed without an
/// answer, so that a flood of refused connections cannot hold descriptors either.
const MAX_REFUSALS: usize = 64;

/// Answers a connection past a cap with 503 (a task that holds its socket for at most a
/// second), or closes it at once when [`MAX_REFUSALS`] answers are under way.
fn refuse(stream: TcpStream, why: &'static str, refusals: &Arc<Semaphore>) {
    let Ok(permit) = refusals.clone().try_acquire_owned() else {
        drop(stream);
        return;
    };
    tokio::spawn(async move {
        answer_refusal(stream, why).await;
        drop(permit);
    });
}

/// Writes the 503 and closes, reading briefly what the client sent so the close does not
/// reset the answer away.
async fn answer_refusal(mut stream: TcpStream, why: &'static str) {
    let response = Response::text(503, why)
        .with_header("Retry-After", "1")
        .closing();
    let mut out = Vec::new();
    response.write_head(&mut out, BodyFraming::Length, true, false);
    out.extend_from_slice(response.full_body());
    let exchange = async {
        stream.write_all(&out).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), exchange).await;
}

//! The accept loop: connection cap, per-connection tasks, graceful shutdown.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

use super::body::Body;
use super::connection;
use super::request::Request;
use super::response::Response;

/// What one connection and one request may cost.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request head (431 above).
    pub max_header_bytes: usize,
    /// Largest request body (413 above).
    pub max_body_bytes: u64,
    /// An idle persistent connection is closed silently after this long.
    pub idle_timeout: Duration,
    /// A request must be received (and its response written) within this long (408).
    pub request_timeout: Duration,
    /// Open connections beyond this are answered 503 and closed.
    pub max_connections: usize,
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
            max_connections: 512,
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// What answers requests. The body is read only if the service asks for it, after it
/// has checked the head.
pub trait Service: Send + Sync + 'static {
    /// Answers one request.
    fn call(&self, request: &Request, body: &mut Body<'_>)
        -> impl Future<Output = Response> + Send;
}

/// Serves `listener` until `shutdown` resolves, then stops accepting, lets in-flight
/// requests finish (idle connections close at once) and returns.
pub async fn serve<S: Service>(
    listener: TcpListener,
    service: Arc<S>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let limits = Arc::new(limits);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let next_id = AtomicU64::new(1);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                // Out of descriptors and the like: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tokio::spawn(refuse_over_capacity(stream));
            continue;
        };
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        let task = connection::run(
            stream,
            peer,
            id,
            service.clone(),
            limits.clone(),
            stop_rx.clone(),
        );
        tokio::spawn(async move {
            task.await;
            drop(permit);
        });
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

/// Answers a connection past the cap with 503 and closes it, reading briefly what the
/// client sent so the close does not reset the answer away.
async fn refuse_over_capacity(mut stream: TcpStream) {
    let response = Response::text(503, "Service Unavailable: connection limit reached")
        .with_header("Retry-After", "1")
        .closing();
    let mut out = Vec::new();
    response.write_head(&mut out, true, false);
    out.extend_from_slice(&response.body);
    let exchange = async {
        stream.write_all(&out).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), exchange).await;
}

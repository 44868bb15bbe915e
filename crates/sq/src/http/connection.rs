//! One client connection: read heads, frame bodies, call the service, write responses,
//! in order, for as long as the connection is persistent.

use std::io::Write;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::watch;

use super::body::Body;
use super::head::{read_head, HeadError};
use super::limits::Limits;
use super::request::{Method, Version};
use super::response::{reason, BodyFraming, ByteStream, Payload, Response};
use super::service::Service;
use super::wire::{Stream, Wire, WireError};
use crate::clock;

/// Bodies up to this size are copied into the head's buffer and sent with one plain write.
const COPY_BODY_UP_TO: usize = 16 * 1024;

/// How a response is to go out.
struct Sending {
    /// Close the connection after it.
    close: bool,
    /// Echo `Connection: keep-alive` (an HTTP/1.0 client asked for it).
    keep_alive_echo: bool,
    /// Headers only (a HEAD request).
    omit_body: bool,
    /// The client speaks HTTP/1.1 (chunked streams) rather than 1.0 (close-delimited).
    version_11: bool,
}

/// Serves one connection until it closes, the peer goes away or shutdown is signalled.
pub(crate) async fn run<S: Service>(
    stream: Box<dyn Stream>,
    peer: SocketAddr,
    connection_id: u64,
    service: Arc<S>,
    limits: Arc<Limits>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut wire = Wire::new(stream, limits);
    let mut out = Vec::new();
    loop {
        if wire.buf.is_empty() {
            // An idle connection holds no buffer: it takes one when bytes arrive.
            wire.release_buffer();
            out = Vec::new();
            // Idle between requests: close silently on timeout, EOF or shutdown.
            if *shutdown.borrow() {
                return;
            }
            tokio::select! {
                arrived = wire.await_request() => if !arrived { return },
                _ = shutdown.changed() => return,
            }
        }
        // Boxed, so the state of a request being served is allocated only while it is:
        // an idle connection's task stays small.
        let exchange = exchange(
            &mut wire,
            &mut out,
            peer,
            connection_id,
            &*service,
            &mut shutdown,
        );
        if !Box::pin(exchange).await {
            return;
        }
    }
}

/// Reads one request, answers it, and says whether the connection goes on.
async fn exchange<S: Service>(
    wire: &mut Wire,
    out: &mut Vec<u8>,
    peer: SocketAddr,
    connection_id: u64,
    service: &S,
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    wire.deadline = clock::now() + wire.limits.request_timeout;

    let head = match read_head(wire, peer, connection_id).await {
        Ok(head) => head,
        Err(HeadError::Gone) => return false,
        Err(HeadError::Reject(status)) => {
            let response = Response::text(status, reason(status)).closing();
            let how = Sending {
                close: true,
                keep_alive_echo: false,
                omit_body: false,
                version_11: true,
            };
            let _ = send(wire, out, response, &how, shutdown).await;
            wire.close().await;
            return false;
        }
    };
    let mut body = Body::new(wire, head.framing, head.expect_continue);
    let call = AssertUnwindSafe(service.call(&head.request, &mut body)).catch_unwind();
    let mut response = match call.await {
        Ok(response) => response,
        Err(_) => {
            tracing::error!(peer = %peer, "request handler panicked; answered 500");
            Response::text(500, "Internal Server Error").closing()
        }
    };
    // An unread body is drained to keep the connection, unless the client is still
    // waiting for `100 Continue` (then it may never send it) or the read fails.
    if !body.is_finished() && (body.awaits_continue() || body.drain().await.is_err()) {
        response.close = true;
    }
    let version_11 = head.request.version == Version::Http11;
    let close = response.close
        || !head.keep_alive
        || *shutdown.borrow()
        || response.framing(version_11) == BodyFraming::UntilClose;
    let how = Sending {
        close,
        keep_alive_echo: head.keep_alive && !version_11 && !close,
        omit_body: head.request.method == Method::Head,
        version_11,
    };
    let sent = send(wire, out, response, &how, shutdown).await;
    if sent.is_err() || close {
        wire.close().await;
        return false;
    }
    true
}

/// Writes a response (without its body for HEAD requests).
async fn send(
    wire: &mut Wire,
    out: &mut Vec<u8>,
    response: Response,
    how: &Sending,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), WireError> {
    out.clear();
    let framing = response.framing(how.version_11);
    response.write_head(out, framing, how.close, how.keep_alive_echo);
    let body = if how.omit_body {
        Payload::Full(Bytes::new())
    } else {
        response.body
    };
    match body {
        Payload::Full(body) => {
            // A small body is cheaper copied behind the head than written as its own part.
            let separate = body.len() > COPY_BODY_UP_TO;
            if !separate {
                out.extend_from_slice(&body);
            }
            let bytes = std::mem::take(out);
            let result = wire.write(&bytes, if separate { &body } else { &[] }).await;
            *out = bytes;
            result?;
            wire.flush().await.map_err(|_| WireError::Closed)
        }
        Payload::Stream(chunks) => {
            let head = std::mem::take(out);
            let result = send_stream(wire, &head, chunks, framing, shutdown).await;
            *out = head;
            result
        }
    }
}

/// Writes `head`, then each chunk as it comes, until the stream ends, fails or shutdown
/// is signalled. Chunked framing puts each chunk's trailing CRLF in front of the next
/// size line, so one chunk costs one vectored write.
async fn send_stream(
    wire: &mut Wire,
    head: &[u8],
    mut chunks: ByteStream,
    framing: BodyFraming,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), WireError> {
    let chunked = framing == BodyFraming::Chunked;
    wire.write(head, &[]).await?;
    let mut wrote_chunk = false;
    let mut prefix = Vec::with_capacity(24);
    loop {
        let next = AssertUnwindSafe(chunks.next()).catch_unwind();
        let chunk = tokio::select! {
            next = next => next,
            // Shutdown ends the body cleanly: an endless feed must not hold the drain.
            _ = shutdown.changed() => Ok(None),
        };
        let chunk = match chunk {
            Ok(Some(Ok(chunk))) => chunk,
            Ok(None) => break,
            Ok(Some(Err(error))) => {
                tracing::warn!(%error, "a streamed body failed; the connection closes");
                return Err(WireError::Closed);
            }
            Err(_) => {
                tracing::error!("a streamed body panicked; the connection closes");
                return Err(WireError::Closed);
            }
        };
        if chunk.is_empty() {
            continue; // An empty chunk would end a chunked body.
        }
        if chunked {
            prefix.clear();
            if wrote_chunk {
                prefix.extend_from_slice(b"\r\n");
            }
            let _ = write!(prefix, "{:x}\r\n", chunk.len());
            wire.write(&prefix, &chunk).await?;
        } else {
            wire.write(&chunk, &[]).await?;
        }
        wrote_chunk = true;
    }
    if chunked {
        let end: &[u8] = if wrote_chunk {
            b"\r\n0\r\n\r\n"
        } else {
            b"0\r\n\r\n"
        };
        wire.write(end, &[]).await?;
    }
    wire.flush().await.map_err(|_| WireError::Closed)
}

//! One client connection: read heads, frame bodies, call the service, write responses,
//! in order, for as long as the connection is persistent.

use std::io::IoSlice;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use bytes::{Buf, BytesMut};
use futures_util::FutureExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{timeout, timeout_at, Instant};

use super::body::{Body, Framing};
use super::request::{Method, Request, Version};
use super::response::{reason, Response};
use super::server::{Limits, Service};

/// Header lines one request may carry; more is answered 431 like an oversized head.
const MAX_HEADERS: usize = 256;
/// Bodies up to this size are copied into the head's buffer and sent with one plain write.
const COPY_BODY_UP_TO: usize = 16 * 1024;

/// A connection's socket and read buffer, with the deadline of the request being read.
pub(crate) struct Conn {
    stream: TcpStream,
    pub(crate) buf: BytesMut,
    pub(crate) limits: Arc<Limits>,
    deadline: Instant,
}

/// Why reading stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// The request deadline passed.
    Timeout,
    /// End of stream or a socket error.
    Closed,
}

impl Conn {
    /// Reads more bytes into the buffer before the request deadline.
    pub(crate) async fn fill(&mut self) -> Result<usize, ReadError> {
        if self.buf.capacity() - self.buf.len() < 4096 {
            self.buf.reserve(16 * 1024);
        }
        match timeout_at(self.deadline, self.stream.read_buf(&mut self.buf)).await {
            Err(_) => Err(ReadError::Timeout),
            Ok(Ok(0)) | Ok(Err(_)) => Err(ReadError::Closed),
            Ok(Ok(n)) => Ok(n),
        }
    }

    /// Writes bytes before the request deadline.
    pub(crate) async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), ReadError> {
        self.write_parts(bytes, &[]).await
    }

    /// Writes `first` then `second` before the request deadline, with vectored writes:
    /// a large body goes out without being copied behind its head.
    async fn write_parts(&mut self, first: &[u8], second: &[u8]) -> Result<(), ReadError> {
        let stream = &mut self.stream;
        let write = async move {
            if second.is_empty() {
                return stream.write_all(first).await;
            }
            let (mut first, mut second) = (first, second);
            while !first.is_empty() || !second.is_empty() {
                let parts = [IoSlice::new(first), IoSlice::new(second)];
                let written = stream.write_vectored(&parts).await?;
                if written == 0 {
                    return Err(std::io::ErrorKind::WriteZero.into());
                }
                let from_first = written.min(first.len());
                first = &first[from_first..];
                second = &second[written - from_first..];
            }
            Ok::<(), std::io::Error>(())
        };
        match timeout_at(self.deadline, write).await {
            Err(_) => Err(ReadError::Timeout),
            Ok(Err(_)) => Err(ReadError::Closed),
            Ok(Ok(())) => Ok(()),
        }
    }
}

/// A head that could not become a request, with the status it answers (if any).
enum HeadError {
    /// Answer with this status and close.
    Reject(u16),
    /// Close without answering.
    Gone,
}

/// The parts of a head that decide framing and persistence.
struct Head {
    request: Request,
    framing: Framing,
    expect_continue: bool,
    keep_alive: bool,
}

/// Serves one connection until it closes, the peer goes away or shutdown is signalled.
pub(crate) async fn run<S: Service>(
    stream: TcpStream,
    peer: SocketAddr,
    connection_id: u64,
    service: Arc<S>,
    limits: Arc<Limits>,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let mut conn = Conn {
        stream,
        buf: BytesMut::with_capacity(8 * 1024),
        deadline: Instant::now() + limits.request_timeout,
        limits,
    };
    let mut out = Vec::with_capacity(1024);
    loop {
        if conn.buf.is_empty() {
            // Idle between requests: close silently on timeout, EOF or shutdown.
            if *shutdown.borrow() {
                return;
            }
            let idle = conn.limits.idle_timeout;
            tokio::select! {
                read = timeout(idle, conn.stream.read_buf(&mut conn.buf)) => match read {
                    Ok(Ok(n)) if n > 0 => {}
                    _ => return,
                },
                _ = shutdown.changed() => return,
            }
        }
        conn.deadline = Instant::now() + conn.limits.request_timeout;

        let head = match read_head(&mut conn, peer, connection_id).await {
            Ok(head) => head,
            Err(HeadError::Gone) => return,
            Err(HeadError::Reject(status)) => {
                let response = Response::text(status, reason(status)).closing();
                let _ = send(&mut conn, &mut out, &response, false, false, false).await;
                return;
            }
        };
        let is_head = head.request.method == Method::Head;
        let mut body = Body::new(&mut conn, head.framing, head.expect_continue);
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
        let close = response.close || !head.keep_alive || *shutdown.borrow();
        let echo = head.keep_alive && head.request.version == Version::Http10;
        let sent = send(
            &mut conn,
            &mut out,
            &response,
            close,
            echo && !close,
            is_head,
        )
        .await;
        if sent.is_err() || close {
            let _ = conn.stream.shutdown().await;
            return;
        }
    }
}

/// Writes a response (without its body for HEAD requests).
async fn send(
    conn: &mut Conn,
    out: &mut Vec<u8>,
    response: &Response,
    close: bool,
    keep_alive_echo: bool,
    omit_body: bool,
) -> Result<(), ReadError> {
    out.clear();
    response.write_head(out, close || response.close, keep_alive_echo);
    let body: &[u8] = if omit_body { &[] } else { &response.body };
    // A small body is cheaper copied behind the head than written as its own part.
    let separate = body.len() > COPY_BODY_UP_TO;
    if !separate {
        out.extend_from_slice(body);
    }
    conn.deadline = Instant::now() + conn.limits.request_timeout;
    let bytes = std::mem::take(out);
    let result = conn
        .write_parts(&bytes, if separate { body } else { &[] })
        .await;
    *out = bytes;
    result
}

/// Reads and checks one request head: size, syntax, version, framing.
async fn read_head(
    conn: &mut Conn,
    peer: SocketAddr,
    connection_id: u64,
) -> Result<Head, HeadError> {
    let max_header = conn.limits.max_header_bytes;
    loop {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed.parse(&conn.buf) {
            Ok(httparse::Status::Complete(len)) => {
                if len > max_header {
                    return Err(HeadError::Reject(431));
                }
                let head = build_head(&parsed, peer, connection_id, conn.limits.max_body_bytes)?;
                conn.buf.advance(len);
                return Ok(head);
            }
            Ok(httparse::Status::Partial) => {
                if conn.buf.len() > max_header {
                    return Err(HeadError::Reject(431));
                }
            }
            Err(httparse::Error::TooManyHeaders) => return Err(HeadError::Reject(431)),
            Err(httparse::Error::Version) => {
                return Err(HeadError::Reject(if names_http_version(&conn.buf) {
                    505
                } else {
                    400
                }))
            }
            Err(_) => return Err(HeadError::Reject(400)),
        }
        match conn.fill().await {
            Ok(_) => {}
            Err(ReadError::Timeout) => return Err(HeadError::Reject(408)),
            Err(ReadError::Closed) => return Err(HeadError::Gone),
        }
    }
}

/// Whether the request line is `METHOD TARGET HTTP/…`, so that an unsupported version
/// is told apart from a malformed line.
fn names_http_version(buf: &[u8]) -> bool {
    let line_end = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    let line = &buf[..line_end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    fields.len() == 3 && fields[2].starts_with(b"HTTP/")
}

fn build_head(
    parsed: &httparse::Request<'_, '_>,
    peer: SocketAddr,
    connection_id: u64,
    max_body: u64,
) -> Result<Head, HeadError> {
    let version = match parsed.version {
        Some(0) => Version::Http10,
        Some(1) => Version::Http11,
        _ => return Err(HeadError::Reject(505)),
    };
    let method = Method::from_token(parsed.method.unwrap_or_default());
    let target = parsed.path.unwrap_or_default().to_owned();
    let headers: Vec<(String, Vec<u8>)> = parsed
        .headers
        .iter()
        .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
        .collect();

    let mut content_length: Option<u64> = None;
    let mut transfer_codings: Vec<String> = Vec::new();
    let mut expect_continue = false;
    let mut connection_close = false;
    let mut connection_keep_alive = false;
    for (name, value) in &headers {
        match name.as_str() {
            "content-length" => {
                for piece in value.split(|&b| b == b',') {
                    let length = parse_decimal(trim(piece)).ok_or(HeadError::Reject(400))?;
                    if content_length.is_some_and(|known| known != length) {
                        return Err(HeadError::Reject(400));
                    }
                    content_length = Some(length);
                }
            }
            "transfer-encoding" => {
                for piece in value.split(|&b| b == b',') {
                    let coding = String::from_utf8_lossy(trim(piece)).to_ascii_lowercase();
                    if !coding.is_empty() {
                        transfer_codings.push(coding);
                    }
                }
            }
            "expect" => expect_continue |= trim(value).eq_ignore_ascii_case(b"100-continue"),
            "connection" => {
                for token in value.split(|&b| b == b',') {
                    let token = trim(token);
                    connection_close |= token.eq_ignore_ascii_case(b"close");
                    connection_keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
            _ => {}
        }
    }
    let has_transfer_encoding = headers.iter().any(|(n, _)| n == "transfer-encoding");
    let framing = if has_transfer_encoding {
        // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing
        // (a proxy may have framed it otherwise: request smuggling).
        if content_length.is_some() || version == Version::Http10 {
            return Err(HeadError::Reject(400));
        }
        if transfer_codings != ["chunked"] {
            return Err(HeadError::Reject(501));
        }
        Framing::Chunked
    } else {
        let length = content_length.unwrap_or(0);
        if length > max_body {
            return Err(HeadError::Reject(413));
        }
        Framing::Length(length)
    };
    let keep_alive = match version {
        Version::Http11 => !connection_close,
        Version::Http10 => connection_keep_alive && !connection_close,
    };
    Ok(Head {
        request: Request {
            method,
            target,
            version,
            headers,
            peer,
            connection_id,
        },
        framing,
        expect_continue: expect_continue && version == Version::Http11,
        keep_alive,
    })
}

/// `bytes` without leading and trailing spaces and tabs (header-value whitespace).
pub fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// A non-empty run of ASCII digits that fits a `u64`.
fn parse_decimal(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    bytes.iter().try_fold(0u64, |acc, &b| {
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_lengths() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"123"), Some(123));
        assert_eq!(parse_decimal(b""), None);
        assert_eq!(parse_decimal(b"-1"), None);
        assert_eq!(parse_decimal(b"1 2"), None);
        assert_eq!(parse_decimal(b"99999999999999999999999"), None);
    }

    #[test]
    fn version_field_detection() {
        assert!(names_http_version(b"GET / HTTP/2.0\r\n"));
        assert!(names_http_version(b"GET / HTTP/1.2\r\nHost: x"));
        assert!(!names_http_version(b"GET / FOO\r\n"));
        assert!(!names_http_version(b"GET /a b HTTP/1.1\r\n"));
    }

    #[test]
    fn trimming_spaces_and_tabs() {
        assert_eq!(trim(b" \tchunked \t"), b"chunked");
        assert_eq!(trim(b"   "), b"");
    }
}

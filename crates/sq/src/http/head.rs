//! Request heads: read from the wire within the limits, checked for version and framing
//! (the parts of RFC 9112 the contract pins), and turned into a [`Request`].

use std::net::SocketAddr;

use bytes::Buf;

use super::body::Framing;
use super::request::{Method, Request, Version};
use super::wire::{Wire, WireError};

/// Header lines one request may carry; more is answered 431 like an oversized head.
const MAX_HEADERS: usize = 256;

/// A head that could not become a request, with the status it answers (if any).
pub(crate) enum HeadError {
    /// Answer with this status and close.
    Reject(u16),
    /// Close without answering.
    Gone,
}

/// The parts of a head that decide framing and persistence.
pub(crate) struct Head {
    pub(crate) request: Request,
    pub(crate) framing: Framing,
    pub(crate) expect_continue: bool,
    pub(crate) keep_alive: bool,
}

/// Reads and checks one request head: size, syntax, version, framing.
pub(crate) async fn read_head(
    conn: &mut Wire,
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
            Err(WireError::Timeout) => return Err(HeadError::Reject(408)),
            Err(WireError::Closed) => return Err(HeadError::Gone),
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

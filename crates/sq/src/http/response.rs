//! Responses and their wire form. A body is whole (sent with `Content-Length`) or a
//! stream of chunks produced while it is written (sent chunked on HTTP/1.1 and
//! close-delimited on 1.0): feeds, exports and forwarded answers need not fit in memory.

use std::fmt;
use std::io;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::Stream;

/// `text/plain; charset=utf-8`, the type of every SQ body except JSON exports.
pub const TEXT_PLAIN: &str = "text/plain; charset=utf-8";
/// `application/json`
pub const APPLICATION_JSON: &str = "application/json";

/// Chunks of a body produced while it is written. An error ends the body early: the
/// connection closes without the final chunk, so the client sees a truncated answer
/// rather than a complete one.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// A response body.
pub enum Payload {
    /// All of it, known before the head is written.
    Full(Bytes),
    /// Produced while it is written; its length is not known in advance.
    Stream(ByteStream),
}

impl Payload {
    /// The whole body, when it is not a stream.
    pub fn full(&self) -> Option<&Bytes> {
        match self {
            Payload::Full(bytes) => Some(bytes),
            Payload::Stream(_) => None,
        }
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Payload::Full(bytes) => f.debug_tuple("Full").field(&bytes.len()).finish(),
            Payload::Stream(_) => f.write_str("Stream"),
        }
    }
}

/// How the body's end is marked on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    /// `Content-Length` (or no body at all for 1xx and 204).
    Length,
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Neither: the body ends when the connection closes (a stream to an HTTP/1.0 client).
    UntilClose,
}

/// A response: status, a few extra headers and a body.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The `Content-Type`; `None` for 1xx and 204.
    pub content_type: Option<&'static str>,
    /// Further headers, in order.
    pub headers: Vec<(&'static str, String)>,
    /// The body (omitted on the wire for HEAD, keeping its headers).
    pub body: Payload,
    /// Whether the connection must close after this response.
    pub close: bool,
}

impl Response {
    /// A `text/plain` response.
    pub fn text(status: u16, body: impl Into<Bytes>) -> Self {
        Response {
            status,
            content_type: Some(TEXT_PLAIN),
            headers: Vec::new(),
            body: Payload::Full(body.into()),
            close: false,
        }
    }

    /// A response of another content type.
    pub fn typed(status: u16, content_type: &'static str, body: impl Into<Bytes>) -> Self {
        Response {
            content_type: Some(content_type),
            ..Self::text(status, body)
        }
    }

    /// A response without body or content type (204).
    pub fn empty(status: u16) -> Self {
        Response {
            content_type: None,
            ..Self::text(status, Bytes::new())
        }
    }

    /// A response whose body is produced while it is written.
    pub fn stream(status: u16, content_type: &'static str, body: ByteStream) -> Self {
        Response {
            status,
            content_type: Some(content_type),
            headers: Vec::new(),
            body: Payload::Stream(body),
            close: false,
        }
    }

    /// The whole body; empty for a stream (tests and logs).
    pub fn full_body(&self) -> &[u8] {
        self.body.full().map_or(&[], |bytes| &bytes[..])
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Marks the connection to close after this response.
    pub fn closing(mut self) -> Self {
        self.close = true;
        self
    }

    /// How this body's end is marked when sent to a client of `version_11`.
    pub(crate) fn framing(&self, version_11: bool) -> BodyFraming {
        match (&self.body, version_11) {
            (Payload::Full(_), _) => BodyFraming::Length,
            (Payload::Stream(_), true) => BodyFraming::Chunked,
            (Payload::Stream(_), false) => BodyFraming::UntilClose,
        }
    }

    /// Appends the status line and headers to `out`. `keep_alive_echo` adds
    /// `Connection: keep-alive` (HTTP/1.0 clients that asked for it).
    pub(crate) fn write_head(
        &self,
        out: &mut Vec<u8>,
        framing: BodyFraming,
        close: bool,
        keep_alive_echo: bool,
    ) {
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(self.status.to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(reason(self.status).as_bytes());
        out.extend_from_slice(b"\r\nAccess-Control-Allow-Origin: *\r\n");
        if let Some(content_type) = self.content_type {
            out.extend_from_slice(b"Content-Type: ");
            out.extend_from_slice(content_type.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        let has_body = !(100..200).contains(&self.status) && self.status != 204;
        match (framing, &self.body) {
            (BodyFraming::Length, Payload::Full(body)) if has_body => {
                out.extend_from_slice(b"Content-Length: ");
                out.extend_from_slice(body.len().to_string().as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            (BodyFraming::Chunked, _) if has_body => {
                out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
            }
            _ => {}
        }
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if close {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if keep_alive_echo {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// The standard reason phrase of a status code.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        507 => "Insufficient Storage",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(response: &Response, close: bool, echo: bool) -> String {
        let mut out = Vec::new();
        response.write_head(&mut out, response.framing(true), close, echo);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_response_head() {
        let r = Response::text(200, "Inserted 5 bytes");
        assert_eq!(
            head(&r, false, false),
            "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Length: 16\r\n\r\n"
        );
    }

    #[test]
    fn no_content_has_neither_length_nor_type() {
        let r = Response::empty(204).with_header("Access-Control-Max-Age", "86400");
        assert_eq!(
            head(&r, true, false),
            "HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: *\r\n\
             Access-Control-Max-Age: 86400\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn keep_alive_is_echoed_when_asked() {
        let r = Response::text(404, "Not Found");
        assert!(head(&r, false, true).ends_with("Connection: keep-alive\r\n\r\n"));
    }

    #[test]
    fn a_stream_is_chunked_on_1_1_and_close_delimited_on_1_0() {
        let empty = futures_util::stream::empty::<io::Result<Bytes>>();
        let r = Response::stream(200, TEXT_PLAIN, Box::pin(empty));
        assert_eq!(r.framing(true), BodyFraming::Chunked);
        assert_eq!(r.framing(false), BodyFraming::UntilClose);
        let mut chunked = Vec::new();
        r.write_head(&mut chunked, BodyFraming::Chunked, false, false);
        let chunked = String::from_utf8(chunked).unwrap();
        assert!(chunked.contains("Transfer-Encoding: chunked\r\n"));
        assert!(!chunked.contains("Content-Length"));
        let mut until_close = Vec::new();
        r.write_head(&mut until_close, BodyFraming::UntilClose, true, false);
        let until_close = String::from_utf8(until_close).unwrap();
        assert!(!until_close.contains("Transfer-Encoding"));
        assert!(!until_close.contains("Content-Length"));
        assert!(until_close.ends_with("Connection: close\r\n\r\n"));
    }
}

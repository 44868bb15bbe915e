//! Request bodies: `Content-Length` and chunked framing, read on demand.

use bytes::{Buf, BytesMut};

use super::wire::{Wire, WireError};

/// How a request body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `Content-Length` bytes remain.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
}

/// Why a body could not be read. Each one closes the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// The body grew past the configured limit (413).
    TooLarge,
    /// The request was not completely received in time (408).
    Timeout,
    /// Broken chunked framing (400).
    Malformed,
    /// The peer went away or the socket failed.
    Closed,
}

impl BodyError {
    /// The status code this error answers with, if an answer is still possible.
    pub fn status(self) -> Option<u16> {
        match self {
            Self::TooLarge => Some(413),
            Self::Timeout => Some(408),
            Self::Malformed => Some(400),
            Self::Closed => None,
        }
    }
}

impl From<WireError> for BodyError {
    fn from(error: WireError) -> Self {
        match error {
            WireError::Timeout => Self::Timeout,
            WireError::Closed => Self::Closed,
        }
    }
}

/// Where the chunked decoder stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk's data with this many bytes left.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// Reading trailer lines until the empty one.
    Trailers,
}

/// A request body, read lazily so that the head can be checked first (and
/// `100 Continue` sent only then).
pub struct Body<'c> {
    conn: &'c mut Wire,
    framing: Framing,
    chunk: ChunkState,
    continue_pending: bool,
    received: u64,
    finished: bool,
}

impl<'c> Body<'c> {
    pub(crate) fn new(conn: &'c mut Wire, framing: Framing, expect_continue: bool) -> Self {
        let finished = framing == Framing::Length(0);
        Body {
            conn,
            framing,
            chunk: ChunkState::Size,
            continue_pending: expect_continue && !finished,
            received: 0,
            finished,
        }
    }

    /// Reads the whole body (sending `100 Continue` first if the client asked for it).
    pub async fn read_all(&mut self) -> Result<BytesMut, BodyError> {
        // Reserve what was declared, but only up to a bound: a client that declares a
        // large body and sends nothing must not pin that much memory.
        const MAX_UPFRONT: u64 = 1024 * 1024;
        let mut out = BytesMut::new();
        if let Framing::Length(n) = self.framing {
            out.reserve(usize::try_from(n.min(MAX_UPFRONT)).unwrap_or(0));
        }
        self.read_with(|chunk| out.extend_from_slice(chunk)).await?;
        Ok(out)
    }

    /// Whether the whole body has been consumed.
    pub(crate) fn is_finished(&self) -> bool {
        self.finished
    }

    /// Whether the client still waits for `100 Continue` before sending the body.
    pub(crate) fn awaits_continue(&self) -> bool {
        self.continue_pending
    }

    /// Reads and discards what is left of the body.
    pub(crate) async fn drain(&mut self) -> Result<(), BodyError> {
        self.read_with(|_| {}).await
    }

    async fn read_with(&mut self, mut sink: impl FnMut(&[u8])) -> Result<(), BodyError> {
        if self.finished {
            return Ok(());
        }
        if self.continue_pending {
            self.continue_pending = false;
            self.conn
                .write(b"HTTP/1.1 100 Continue\r\n\r\n", &[])
                .await
                .map_err(|_| BodyError::Closed)?;
        }
        match self.framing {
            Framing::Length(total) => self.read_length(total, &mut sink).await?,
            Framing::Chunked => self.read_chunked(&mut sink).await?,
        }
        self.finished = true;
        Ok(())
    }

    async fn read_length(
        &mut self,
        total: u64,
        sink: &mut impl FnMut(&[u8]),
    ) -> Result<(), BodyError> {
        while self.received < total {
            if self.conn.buf.is_empty() {
                self.conn.fill().await?;
            }
            let want = usize::try_from(total - self.received).unwrap_or(usize::MAX);
            let take = want.min(self.conn.buf.len());
            sink(&self.conn.buf[..take]);
            self.conn.buf.advance(take);
            self.received += take as u64;
        }
        Ok(())
    }

    async fn read_chunked(&mut self, sink: &mut impl FnMut(&[u8])) -> Result<(), BodyError> {
        let max_body = self.conn.limits.max_body_bytes;
        let max_line = self.conn.limits.max_header_bytes;
        loop {
            match self.chunk {
                ChunkState::Size => match httparse::parse_chunk_size(&self.conn.buf) {
                    Ok(httparse::Status::Complete((used, 0))) => {
                        self.conn.buf.advance(used);
                        self.chunk = ChunkState::Trailers;
                    }
                    Ok(httparse::Status::Complete((used, size))) => {
                        if self.received.saturating_add(size) > max_body {
                            return Err(BodyError::TooLarge);
                        }
                        self.conn.buf.advance(used);
                        self.chunk = ChunkState::Data(size);
                    }
                    Ok(httparse::Status::Partial) => {
                        if self.conn.buf.len() > max_line {
                            return Err(BodyError::Malformed);
                        }
                        self.conn.fill().await?;
                    }
                    Err(_) => return Err(BodyError::Malformed),
                },
                ChunkState::Data(left) => {
                    if self.conn.buf.is_empty() {
                        self.conn.fill().await?;
                    }
                    let take = usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .min(self.conn.buf.len());
                    sink(&self.conn.buf[..take]);
                    self.conn.buf.advance(take);
                    self.received += take as u64;
                    let left = left - take as u64;
                    self.chunk = if left == 0 {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left)
                    };
                }
                ChunkState::DataEnd => {
                    if self.conn.buf.len() < 2 {
                        self.conn.fill().await?;
                        continue;
                    }
                    if &self.conn.buf[..2] != b"\r\n" {
                        return Err(BodyError::Malformed);
                    }
                    self.conn.buf.advance(2);
                    self.chunk = ChunkState::Size;
                }
                ChunkState::Trailers => match find_crlf(&self.conn.buf) {
                    Some(0) => {
                        self.conn.buf.advance(2);
                        return Ok(());
                    }
                    // Trailers are ignored.
                    Some(end) => self.conn.buf.advance(end + 2),
                    None => {
                        if self.conn.buf.len() > max_line {
                            return Err(BodyError::Malformed);
                        }
                        self.conn.fill().await?;
                    }
                },
            }
        }
    }
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|w| w == b"\r\n")
}

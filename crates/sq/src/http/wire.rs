//! One connection's byte stream: a read buffer filled before a deadline, and writes that
//! fail once the peer stops taking bytes for too long. Any stream will do — plain TCP now,
//! TLS next — behind one boxed trait object, so nothing above this file is generic over it.

use std::io::{self, IoSlice};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{timeout, timeout_at};

use super::limits::Limits;

/// Bytes an idle connection's first read of a request takes (on the stack of its task);
/// the rest of the request goes to a buffer taken then.
const FIRST_READ: usize = 1024;
/// The read buffer a request is given.
const READ_BUFFER: usize = 8 * 1024;
use crate::clock::{self, Instant};

/// A byte stream a connection can run over.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

/// Why reading or writing stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WireError {
    /// The deadline (reading) or the write-idle timeout passed.
    Timeout,
    /// End of stream or a socket error.
    Closed,
}

/// Bytes of read buffer all connections hold now.
static BUFFER_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Bytes of read buffer all connections hold now (for `/metrics`).
pub fn buffer_bytes() -> usize {
    BUFFER_BYTES.load(Ordering::Relaxed)
}

/// A connection's stream and read buffer, with the deadline of the request being read.
pub(crate) struct Wire {
    stream: Box<dyn Stream>,
    pub(crate) buf: BytesMut,
    /// The buffer capacity counted in [`BUFFER_BYTES`] at the last look.
    counted: usize,
    pub(crate) limits: Arc<Limits>,
    /// Reads of the current request must finish before this.
    pub(crate) deadline: Instant,
}

impl Wire {
    pub(crate) fn new(stream: Box<dyn Stream>, limits: Arc<Limits>) -> Self {
        Wire {
            stream,
            buf: BytesMut::new(),
            counted: 0,
            deadline: clock::now() + limits.request_timeout,
            limits,
        }
    }

    /// Gives the read buffer back (between requests, when it holds nothing).
    pub(crate) fn release_buffer(&mut self) {
        if self.buf.is_empty() {
            self.buf = BytesMut::new();
        }
        self.count_buffer();
    }

    /// Brings [`BUFFER_BYTES`] up to date with this buffer's capacity.
    fn count_buffer(&mut self) {
        let now = self.buf.capacity();
        if now > self.counted {
            BUFFER_BYTES.fetch_add(now - self.counted, Ordering::Relaxed);
        } else {
            BUFFER_BYTES.fetch_sub(self.counted - now, Ordering::Relaxed);
        }
        self.counted = now;
    }

    /// Waits up to the idle timeout for the first bytes of a next request; false when the
    /// peer went away or stayed silent. The wait reads into the stack, so an idle
    /// connection holds no buffer of its own.
    pub(crate) async fn await_request(&mut self) -> bool {
        let idle = self.limits.idle_timeout;
        let mut first = [0u8; FIRST_READ];
        match timeout(idle, self.stream.read(&mut first)).await {
            Ok(Ok(n)) if n > 0 => {
                self.buf.reserve(READ_BUFFER.max(n));
                self.buf.extend_from_slice(&first[..n]);
                self.count_buffer();
                true
            }
            _ => false,
        }
    }

    /// Reads more bytes into the buffer before the request deadline.
    pub(crate) async fn fill(&mut self) -> Result<usize, WireError> {
        if self.buf.capacity() - self.buf.len() < 4096 {
            self.buf.reserve(16 * 1024);
        }
        let read = timeout_at(self.deadline, self.stream.read_buf(&mut self.buf)).await;
        self.count_buffer();
        match read {
            Err(_) => Err(WireError::Timeout),
            Ok(Ok(0)) | Ok(Err(_)) => Err(WireError::Closed),
            Ok(Ok(n)) => Ok(n),
        }
    }

    /// Writes `first` then `second` (with vectored writes: a large body goes out without
    /// being copied behind its head). Each write must make progress within the
    /// write-idle timeout.
    pub(crate) async fn write(&mut self, first: &[u8], second: &[u8]) -> Result<(), WireError> {
        let idle = self.limits.write_idle_timeout;
        let (mut first, mut second) = (first, second);
        while !first.is_empty() || !second.is_empty() {
            let parts = [IoSlice::new(first), IoSlice::new(second)];
            let written = match timeout(idle, self.stream.write_vectored(&parts)).await {
                Err(_) => return Err(WireError::Timeout),
                Ok(Err(_)) | Ok(Ok(0)) => return Err(WireError::Closed),
                Ok(Ok(n)) => n,
            };
            let from_first = written.min(first.len());
            first = &first[from_first..];
            second = &second[written - from_first..];
        }
        Ok(())
    }

    /// Flushes and shuts the write side down (a clean end of the connection).
    pub(crate) async fn close(&mut self) {
        let _ = timeout(self.limits.write_idle_timeout, self.stream.shutdown()).await;
    }

    /// Flushes what is buffered in the stream (TLS keeps a buffer; TCP none).
    pub(crate) async fn flush(&mut self) -> io::Result<()> {
        self.stream.flush().await
    }
}

impl Drop for Wire {
    fn drop(&mut self) {
        BUFFER_BYTES.fetch_sub(self.counted, Ordering::Relaxed);
    }
}

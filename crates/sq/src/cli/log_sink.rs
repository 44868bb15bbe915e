//! Where log lines go: a shared buffer that a background thread writes out in large chunks.
//!
//! A server at tens of thousands of requests per second writes as many access-log lines.
//! Writing each one costs a syscall on the request path; handing each one to a writer
//! thread over a channel (tracing-appender) costs a wake-up and a context switch per
//! line, which measured as a third of select throughput and most of its tail latency.
//! Here a line is appended to a buffer under a short lock; the writer thread is woken
//! only when the buffer has grown past [`FLUSH_AT`], and otherwise writes whatever is
//! there every [`FLUSH_EVERY`] — the approach of nginx's `access_log … buffer= flush=`.
//! Nothing is dropped: when the output cannot keep up and the buffer reaches
//! [`BLOCK_AT`], writers wait for room.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// Buffered bytes that wake the writer thread early.
const FLUSH_AT: usize = 64 * 1024;
/// Buffered bytes beyond which writers wait for the writer thread.
const BLOCK_AT: usize = 8 * 1024 * 1024;
/// The longest a line waits in the buffer.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// The longest the flusher waits at exit for the output to take the last lines.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

struct State {
    pending: Vec<u8>,
    /// The writer thread has been woken for the current buffer: a wake is a syscall, so
    /// one per buffer, not one per line while the thread gets going.
    woken: bool,
    closed: bool,
    /// The writer thread has written everything and stopped.
    finished: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when the buffer passes [`FLUSH_AT`] or the sink closes.
    filled: Condvar,
    /// Signalled after every write-out, for writers waiting at [`BLOCK_AT`].
    drained: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves only bytes behind; keep logging.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The writing end: cheap to clone, one per subscriber.
#[derive(Clone)]
pub struct LogSink {
    shared: Arc<Shared>,
}

/// Owns the writer thread; dropping it writes out what is buffered and stops the thread.
pub struct LogFlusher {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// The longest the drop waits for the output to take the last lines.
    shutdown_wait: Duration,
}

/// Starts a writer thread that writes buffered lines to `output`.
pub fn start<W: Write + Send + 'static>(output: W) -> std::io::Result<(LogSink, LogFlusher)> {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            pending: Vec::with_capacity(FLUSH_AT * 2),
            woken: false,
            closed: false,
            finished: false,
        }),
        filled: Condvar::new(),
        drained: Condvar::new(),
    });
    let thread = std::thread::Builder::new().name("sq-log".into()).spawn({
        let shared = shared.clone();
        move || write_out(&shared, output)
    })?;
    Ok((
        LogSink {
            shared: shared.clone(),
        },
        LogFlusher {
            shared,
            thread: Some(thread),
            shutdown_wait: SHUTDOWN_WAIT,
        },
    ))
}

/// The writer thread: swap the buffer out under the lock, write it without the lock.
fn write_out<W: Write>(shared: &Shared, mut output: W) {
    let mut chunk = Vec::with_capacity(FLUSH_AT * 2);
    loop {
        let closed = {
            let mut state = shared.lock();
            if state.pending.len() < FLUSH_AT && !state.closed {
                state = shared
                    .filled
                    .wait_timeout(state, FLUSH_EVERY)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            std::mem::swap(&mut state.pending, &mut chunk);
            state.woken = false;
            state.closed
        };
        if !chunk.is_empty() {
            // A log that cannot be written has nowhere to report it; the lines are lost.
            let _ = output.write_all(&chunk).and_then(|()| output.flush());
            chunk.clear();
            shared.drained.notify_all();
        }
        if closed {
            let mut state = shared.lock();
            if state.pending.is_empty() {
                state.finished = true;
                shared.drained.notify_all();
                return;
            }
        }
    }
}

impl LogSink {
    fn append(&self, bytes: &[u8]) {
        let mut state = self.shared.lock();
        while state.pending.len() >= BLOCK_AT && !state.closed {
            state = self
                .shared
                .drained
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.pending.extend_from_slice(bytes);
        let wake = state.pending.len() >= FLUSH_AT && !state.woken;
        state.woken |= wake;
        drop(state);
        if wake {
            self.shared.filled.notify_one();
        }
    }
}

/// Each `write` is appended whole: tracing hands over one formatted event per call.
impl Write for LogSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.append(bytes);
        Ok(bytes.len())
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.append(bytes);
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogSink {
    type Writer = LogSink;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Drop for LogFlusher {
    /// Waits for the buffered lines to be written, but not for ever: an output that
    /// stopped taking them (a stuck pipe) must not keep the process from exiting.
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.closed = true;
        self.shared.filled.notify_one();
        let deadline = std::time::Instant::now() + self.shutdown_wait;
        while !state.finished {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return;
            }
            state = self
                .shared
                .drained
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        drop(state);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// An output the test can read back, counting how many writes reached it.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let mut inner = self.0.lock().unwrap();
            inner.0.extend_from_slice(bytes);
            inner.1 += 1;
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// tracing formats an event completely, then writes it with one `write_all`: each
    /// such write must reach the output whole, in the order it was made.
    #[test]
    fn every_line_is_written_whole_and_in_order_by_the_time_the_flusher_is_dropped() {
        let output = Captured::default();
        let (sink, flusher) = start(output.clone()).unwrap();
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let mut sink = sink.clone();
                std::thread::spawn(move || {
                    for i in 0..20_000 {
                        sink.write_all(format!("writer {w} line {i}\n").as_bytes())
                            .unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        drop(flusher);
        let (bytes, writes) = output.0.lock().unwrap().clone();
        let text = String::from_utf8(bytes).unwrap();
        let mut next = [0u32; 4];
        for line in text.lines() {
            let (w, i) = line
                .strip_prefix("writer ")
                .and_then(|rest| rest.split_once(" line "))
                .and_then(|(w, i)| Some((w.parse::<usize>().ok()?, i.parse::<u32>().ok()?)))
                .unwrap_or_else(|| panic!("torn line {line:?}"));
            assert_eq!(i, next[w], "writer {w} out of order");
            next[w] += 1;
        }
        assert_eq!(next, [20_000; 4]);
        // 80,000 lines of ~20 bytes reach the output in chunks, not line by line.
        assert!(writes < 1_000, "{writes} writes");
    }

    /// An output that takes nothing until the test opens the gate.
    struct Gated {
        gate: Arc<Mutex<()>>,
        inner: Captured,
    }

    impl Write for Gated {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let _open = self.gate.lock().unwrap();
            self.inner.write(bytes)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn writers_wait_when_the_output_falls_behind_and_nothing_is_lost() {
        let gate = Arc::new(Mutex::new(()));
        let closed = gate.lock().unwrap();
        let output = Captured::default();
        let (mut sink, flusher) = start(Gated {
            gate: gate.clone(),
            inner: output.clone(),
        })
        .unwrap();
        let line = [b'x'; 1023]
            .iter()
            .chain(b"\n")
            .copied()
            .collect::<Vec<u8>>();
        let lines = BLOCK_AT / line.len() * 3;
        let appended = Arc::new(AtomicUsize::new(0));
        let writer = std::thread::spawn({
            let appended = appended.clone();
            move || {
                for _ in 0..lines {
                    sink.write_all(&line).unwrap();
                    appended.fetch_add(1024, Ordering::SeqCst);
                }
            }
        });
        // The writer thread fills the chunk the output is stuck on (at most a full buffer,
        // if the writer thread was slow to take it), then the buffer.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while appended.load(Ordering::SeqCst) < BLOCK_AT {
            assert!(std::time::Instant::now() < deadline, "writer never got far");
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(50));
        let held = appended.load(Ordering::SeqCst);
        let held_back = !writer.is_finished();
        // Open the gate before asserting: a failure must not leave the flusher stuck.
        drop(closed);
        assert!(held_back, "the writer was never held back");
        assert!(
            held <= 2 * BLOCK_AT + 1024,
            "{held} bytes buffered past the limit"
        );
        writer.join().unwrap();
        drop(flusher);
        assert_eq!(output.0.lock().unwrap().0.len(), lines * 1024);
    }

    #[test]
    fn a_stuck_output_does_not_keep_the_process_from_exiting() {
        let gate = Arc::new(Mutex::new(()));
        let _closed = gate.lock().unwrap();
        let (mut sink, mut flusher) = start(Gated {
            gate: gate.clone(),
            inner: Captured::default(),
        })
        .unwrap();
        sink.write_all(&vec![b'x'; FLUSH_AT * 2]).unwrap();
        sink.write_all(b"one more line\n").unwrap();
        flusher.shutdown_wait = Duration::from_millis(100);
        // Dropped on another thread, so that a drop that never returns fails the test
        // instead of hanging it.
        let (dropped, returned) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            drop(flusher);
            let _ = dropped.send(());
        });
        assert!(
            returned.recv_timeout(Duration::from_secs(60)).is_ok(),
            "the drop waited for the stuck output"
        );
    }

    #[test]
    fn a_quiet_buffer_is_written_out_without_waiting_for_more() {
        let output = Captured::default();
        let (mut sink, _flusher) = start(output.clone()).unwrap();
        writeln!(sink, "just one line").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while output.0.lock().unwrap().0.is_empty() {
            assert!(std::time::Instant::now() < deadline, "line never written");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(output.0.lock().unwrap().0, b"just one line\n");
    }
}

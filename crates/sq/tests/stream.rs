//! Streamed response bodies over the real HTTP loop: chunked on HTTP/1.1, close-delimited
//! on 1.0, produced only as fast as the client reads (bounded memory), cut off when the
//! client stops reading, and ended by graceful shutdown.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sq::http::{serve, Body, ConnectionStats, Limits, Request, Response, Service, TEXT_PLAIN};

/// 64 KiB chunks of a pattern a reader can check.
const CHUNK: usize = 64 * 1024;
/// The large stream's length: 100 MiB.
const LARGE: usize = 1600 * CHUNK;

fn chunk(index: usize) -> Bytes {
    Bytes::from(vec![b'a' + (index % 26) as u8; CHUNK])
}

/// Answers `/large` with 100 MiB made chunk by chunk, `/endless` with chunks for ever,
/// `/broken` with one chunk and then an error, anything else with a whole body. Counts
/// the chunks it has made.
#[derive(Default)]
struct Streams {
    made: Arc<AtomicUsize>,
}

impl Service for Streams {
    async fn call(&self, request: &Request, _body: &mut Body<'_>) -> Response {
        let chunks = match request.path() {
            "/large" => LARGE / CHUNK,
            "/endless" => usize::MAX,
            "/broken" => {
                let parts = vec![Ok(chunk(0)), Err(io::Error::other("the source failed"))];
                return Response::stream(
                    200,
                    TEXT_PLAIN,
                    Box::pin(futures_util::stream::iter(parts)),
                );
            }
            _ => return Response::text(200, "whole"),
        };
        let made = self.made.clone();
        let body = futures_util::stream::iter((0..chunks).map(move |i| {
            made.fetch_add(1, Ordering::Relaxed);
            Ok(chunk(i))
        }));
        Response::stream(200, TEXT_PLAIN, Box::pin(body))
    }
}

struct Server {
    runtime: tokio::runtime::Runtime,
    port: u16,
    stats: Arc<ConnectionStats>,
    made: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Server {
    fn start(limits: Limits) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let stats = Arc::new(ConnectionStats::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let service = Streams::default();
        let made = service.made.clone();
        let task = runtime.spawn(serve(
            listener,
            Arc::new(service),
            limits,
            stats.clone(),
            async {
                let _ = stopped.await;
            },
        ));
        Server {
            runtime,
            port,
            stats,
            made,
            stop: Some(stop),
            task: Some(task),
        }
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream
    }

    /// Signals shutdown and waits for `serve` to return (at most `within`).
    fn shut_down(&mut self, within: Duration) {
        let _ = self.stop.take().unwrap().send(());
        let task = self.task.take().unwrap();
        self.runtime
            .block_on(async { tokio::time::timeout(within, task).await })
            .expect("serve returned after shutdown")
            .unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Sends `request` on a new connection and reads the answer's head.
fn ask(server: &Server, request: &[u8]) -> (BufReader<TcpStream>, String) {
    let mut stream = server.connect();
    stream.write_all(request).unwrap();
    let mut reader = BufReader::with_capacity(CHUNK, stream);
    let head = read_head(&mut reader);
    (reader, head)
}

/// Sends `request` on the connection `reader` reads, keeping what it has buffered (bytes
/// sent past an answer must show up in the next read, not be dropped).
fn ask_again(reader: &mut BufReader<TcpStream>, request: &[u8]) -> String {
    reader.get_mut().write_all(request).unwrap();
    read_head(reader)
}

/// Reads a head up to its blank line.
fn read_head(reader: &mut impl BufRead) -> String {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            return head;
        }
        head.push_str(&line);
        if line == "\r\n" {
            return head;
        }
    }
}

/// Reads one chunk of a chunked body: `Some(data)`, or `None` for the last chunk.
fn read_chunk(reader: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut size_line = String::new();
    if reader.read_line(&mut size_line)? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let size = usize::from_str_radix(size_line.trim_end(), 16)
        .map_err(|_| io::Error::other(format!("bad size line {size_line:?}")))?;
    let mut data = vec![0; size + 2];
    reader.read_exact(&mut data)?;
    if &data[size..] != b"\r\n" {
        return Err(io::Error::other("chunk not followed by CRLF"));
    }
    data.truncate(size);
    Ok((size > 0).then_some(data))
}

#[test]
fn a_hundred_megabytes_reach_a_slow_reader_in_bounded_memory() {
    let server = Server::start(Limits::default());
    let (mut reader, head) = ask(&server, b"GET /large HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("Transfer-Encoding: chunked\r\n"), "{head}");
    assert!(!head.contains("Content-Length"), "{head}");

    let mut received = 0;
    let mut expected_fill = 0;
    let mut pending = Vec::new();
    let mut reads = 0u64;
    let mut max_ahead = 0;
    while let Some(data) = read_chunk(&mut reader).unwrap() {
        pending.extend_from_slice(&data);
        // Chunks on the wire need not match the service's; check whole pattern chunks.
        while pending.len() >= CHUNK {
            let expected = b'a' + (expected_fill % 26) as u8;
            assert!(pending[..CHUNK].iter().all(|&b| b == expected));
            pending.drain(..CHUNK);
            expected_fill += 1;
        }
        received += data.len();
        // What was made and not yet read is what sits in memory and socket buffers: it
        // must stay bounded however far the body has gone.
        let ahead = server.made.load(Ordering::Relaxed) * CHUNK - received;
        max_ahead = max_ahead.max(ahead);
        reads += 1;
        // A slow reader: the server must wait for it instead of buffering ahead.
        if reads % 8 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    assert_eq!(received, LARGE);
    assert!(pending.is_empty());

    // The connection stays usable after the last chunk.
    let head = ask_again(&mut reader, b"GET /whole HTTP/1.1\r\n\r\n");
    assert!(head.contains("Content-Length: 5\r\n"), "{head}");
    let mut body = [0; 5];
    reader.read_exact(&mut body).unwrap();
    assert_eq!(&body, b"whole");
    assert!(
        max_ahead < 16 * 1024 * 1024,
        "the server made {max_ahead} bytes more than the client had read"
    );
}

#[test]
fn an_http_1_0_client_gets_a_close_delimited_body() {
    let server = Server::start(Limits::default());
    let mut stream = server.connect();
    stream.write_all(b"GET /whole HTTP/1.0\r\n\r\n").unwrap();
    let mut whole = String::new();
    stream.read_to_string(&mut whole).unwrap();
    assert!(whole.ends_with("\r\n\r\nwhole"), "{whole}");

    let request = b"GET /large HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    let (mut reader, head) = ask(&server, request);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("Connection: close\r\n"), "{head}");
    assert!(!head.contains("Transfer-Encoding"), "{head}");
    assert!(!head.contains("Content-Length"), "{head}");
    // Counted, not kept: 100 MiB need not sit in the test's memory.
    let length = io::copy(&mut reader, &mut io::sink()).unwrap();
    assert_eq!(
        length, LARGE as u64,
        "the body ends where the connection does"
    );
}

#[test]
fn head_of_a_stream_sends_headers_only_and_keeps_the_connection() {
    let server = Server::start(Limits::default());
    let (mut reader, head) = ask(&server, b"HEAD /endless HTTP/1.1\r\n\r\n");
    assert!(head.contains("Transfer-Encoding: chunked\r\n"), "{head}");
    let next = ask_again(&mut reader, b"GET /whole HTTP/1.1\r\n\r\n");
    assert!(
        next.starts_with("HTTP/1.1 200 OK\r\n"),
        "no body came first: {next}"
    );
    assert!(next.contains("Content-Length: 5\r\n"), "{next}");
}

#[test]
fn a_failing_stream_ends_without_the_last_chunk() {
    let server = Server::start(Limits::default());
    let (mut reader, head) = ask(&server, b"GET /broken HTTP/1.1\r\n\r\n");
    assert!(head.contains("Transfer-Encoding: chunked\r\n"), "{head}");
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    // The first chunk arrived, then the connection closed: no terminating chunk (nor the
    // CRLF that would precede it) tells the client the body was whole.
    let mut expected = format!("{CHUNK:x}\r\n").into_bytes();
    expected.extend_from_slice(&chunk(0));
    assert!(rest == expected, "{} bytes after the head", rest.len());
}

#[test]
fn a_client_that_stops_reading_is_disconnected() {
    let limits = Limits {
        write_idle_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let server = Server::start(limits);
    let (reader, head) = ask(&server, b"GET /endless HTTP/1.1\r\n\r\n");
    // The connection is being served (and counted) once its head has come.
    assert!(head.contains("Transfer-Encoding: chunked\r\n"), "{head}");
    assert_eq!(server.stats.open.load(Ordering::Relaxed), 1);
    // Read no more: the socket buffers fill, then writes stop making progress.
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.stats.open.load(Ordering::Relaxed) > 0 {
        assert!(
            Instant::now() < deadline,
            "a stalled reader kept its connection"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(reader);
}

#[test]
fn shutdown_ends_an_endless_stream() {
    let limits = Limits {
        drain_timeout: Duration::from_secs(600),
        ..Limits::default()
    };
    let mut server = Server::start(limits);
    let (mut reader, head) = ask(&server, b"GET /endless HTTP/1.1\r\n\r\n");
    assert!(head.contains("Transfer-Encoding: chunked\r\n"), "{head}");
    assert!(read_chunk(&mut reader).unwrap().is_some());

    let client = std::thread::spawn(move || {
        let mut chunks = 0u64;
        while read_chunk(&mut reader)?.is_some() {
            chunks += 1;
        }
        // The last chunk came: the body ended cleanly. Then the connection closes.
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest)?;
        Ok::<_, io::Error>((chunks, rest))
    });
    // Shutdown must not wait for the drain timeout: the stream is ended instead.
    server.shut_down(Duration::from_secs(60));
    let (_, rest) = client.join().unwrap().expect("a clean end of the body");
    assert!(rest.is_empty());
}

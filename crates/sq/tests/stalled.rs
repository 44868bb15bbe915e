//! Readers that ask for a large document and stop reading: one rendering per document
//! version is shared by all of them, so sixty of them pin one copy, not sixty, and the
//! memory held for answers not yet sent is bounded across all connections.

mod common;

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

const DOC_MB: usize = 20;

/// The value of one sample in the `/metrics` text, if present.
fn metric(s: &Server, sample: &str) -> Option<f64> {
    let text = s.get("/metrics").text();
    text.lines()
        .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
}

fn wait_for(what: &str, mut probe: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !probe() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A connection that asks for `target` and then reads nothing.
fn stalled_reader(s: &Server, target: &str) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let server: std::net::SocketAddr = format!("127.0.0.1:{}", s.port).parse().unwrap();
    socket.connect(&server.into()).unwrap();
    let mut stream: TcpStream = socket.into();
    stream
        .write_all(&build_request(
            "GET",
            target,
            &[("Connection", "close")],
            None,
        ))
        .unwrap();
    stream
}

/// Uploads a document of `DOC_MB` one-MiB scrolls and returns its canonical length.
fn upload(s: &Server, name: &str, fill: u8) -> usize {
    let mut stream = s.connect();
    let mut replies = BufReader::new(stream.try_clone().unwrap());
    let scroll = vec![fill; 1 << 20];
    for c in 1..=DOC_MB {
        stream
            .write_all(&build_request(
                "POST",
                &format!("/api/v2/update?p={name}&c={c}"),
                &[],
                Some(&scroll),
            ))
            .unwrap();
        read_reply(&mut replies)
            .unwrap()
            .expect(200, "Updated 1048576 bytes");
    }
    DOC_MB * (1 << 20) + DOC_MB - 1
}

#[test]
fn sixty_stalled_readers_share_one_rendering() {
    let s = Server::start(&["--max-response-mb", "64", "--idle-checkpoint-secs", "0"]);
    let size = upload(&s, "big", b'a');
    // One reader that reads it all: the document is resident, its rendering freed again.
    let whole = s.get("/api/v2/get?p=big");
    assert_eq!(whole.body.len(), size);
    drop(whole);
    let baseline = rss_bytes(s.pid());

    let readers: Vec<TcpStream> = (0..60)
        .map(|_| stalled_reader(&s, "/api/v2/get?p=big"))
        .collect();
    wait_for("60 answers under way", || {
        metric(
            &s,
            "sq_requests_total{tenant=\"default\",verb=\"get\",status=\"200\"}",
        ) == Some(61.0)
    });
    let held = rss_bytes(s.pid()).saturating_sub(baseline);
    let response_bytes = metric(&s, "sq_response_bytes").unwrap();
    eprintln!(
        "stalled: 60 readers of a {DOC_MB} MiB document: RSS grew {} MiB; {} MiB of bodies held",
        held >> 20,
        response_bytes as u64 >> 20
    );
    assert_eq!(
        response_bytes as usize, size,
        "one shared body, counted once"
    );
    // Each with its own copy this would be 1.2 GB; one copy and some buffers here.
    assert!(
        held < 2 * (size as u64),
        "RSS grew {} MiB with 60 stalled readers",
        held >> 20
    );

    // Readers that finish get the whole document; the memory goes with the last.
    let mut first = readers.into_iter().next().unwrap();
    let mut received = Vec::new();
    first.read_to_end(&mut received).unwrap_or_default();
    assert!(received.len() > size, "{}", received.len());
    assert!(received.ends_with(&[b'a'; 1024]));
}

/// With the budget held by readers of one document, a request for another large body
/// waits, then gets 503 with Retry-After; small answers are still served.
#[test]
fn past_the_budget_new_large_bodies_are_refused_for_a_moment() {
    let s = Server::start(&["--max-response-mb", "16", "--idle-checkpoint-secs", "0"]);
    upload(&s, "one", b'1');
    upload(&s, "two", b'2');
    let readers: Vec<TcpStream> = (0..3)
        .map(|_| stalled_reader(&s, "/api/v2/get?p=one"))
        .collect();
    wait_for("the answers under way", || {
        metric(&s, "sq_response_bytes").is_some_and(|held| held > 0.0)
    });
    let refused = s.get("/api/v2/get?p=two");
    refused.expect(
        503,
        "Service Unavailable: too many large answers are being sent; try again",
    );
    assert_eq!(refused.header("Retry-After"), Some("1"));
    let status = s.get("/api/v2/status?p=two");
    assert_eq!(status.status, 200);
    assert!(
        status.text().ends_with(&format!(
            "\nPhext Size: {}\nScrolls: {DOC_MB}",
            DOC_MB * (1 << 20) + DOC_MB - 1
        )),
        "{}",
        status.text()
    );
    drop(readers);
    wait_for("the held bodies to go", || {
        metric(&s, "sq_response_bytes") == Some(0.0)
    });
    assert_eq!(s.get("/api/v2/get?p=two").status, 200);
}

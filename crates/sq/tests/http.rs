//! The HTTP layer: persistence, pipelining, HTTP/1.0, chunked bodies, 100-continue,
//! limits, timeouts, the connection cap and graceful shutdown.

mod common;

use std::io::{BufReader, Read, Write};
use std::time::Duration;

use common::*;

fn read_all(stream: &mut std::net::TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    out
}

#[test]
fn sequential_keep_alive_on_one_connection() {
    let s = Server::start(&[]);
    let stream = s.connect();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    for i in 0..20 {
        writer
            .write_all(&build_request(
                "GET",
                &format!("/api/v2/insert?c=1&s={i}"),
                &[],
                None,
            ))
            .unwrap();
        let reply = read_reply(&mut reader).unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("Connection"), None);
    }
    writer
        .write_all(&build_request("GET", "/api/v2/select?c=1", &[], None))
        .unwrap();
    read_reply(&mut reader)
        .unwrap()
        .expect(200, "012345678910111213141516171819");
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let s = Server::start(&[]);
    let mut batch = Vec::new();
    for i in 0..50 {
        batch.extend(build_request(
            "POST",
            &format!("/api/v2/update?c={}", i + 1),
            &[],
            Some(format!("v{i}").as_bytes()),
        ));
    }
    for i in 0..50 {
        batch.extend(build_request(
            "GET",
            &format!("/api/v2/select?c={}", i + 1),
            &[],
            None,
        ));
    }
    batch.extend(build_request(
        "GET",
        "/api/v2/version",
        &[("Connection", "close")],
        None,
    ));
    let mut stream = s.connect();
    stream.write_all(&batch).unwrap();
    let mut reader = BufReader::new(stream);
    for i in 0..50 {
        read_reply(&mut reader)
            .unwrap()
            .expect(200, &format!("Updated {} bytes", format!("v{i}").len()));
    }
    for i in 0..50 {
        read_reply(&mut reader)
            .unwrap()
            .expect(200, &format!("v{i}"));
    }
    let last = read_reply(&mut reader).unwrap();
    assert_eq!(last.header("Connection"), Some("close"));
    assert!(
        read_reply(&mut reader).is_none(),
        "the server closed after Connection: close"
    );
}

#[test]
fn http_1_0_keeps_the_last_parameter_intact() {
    let s = Server::start(&[]);
    let mut stream = s.connect();
    stream
        .write_all(b"GET /api/v2/update?p=old&c=1.1.1/1.1.1/1.1.7 HTTP/1.0\r\n\r\n")
        .unwrap();
    let reply = read_reply(&mut BufReader::new(&mut stream)).unwrap();
    reply.expect(200, "Updated 0 bytes");
    assert_eq!(reply.header("Connection"), Some("close"));
    assert!(
        read_all(&mut stream).is_empty(),
        "HTTP/1.0 closes by default"
    );
    s.get("/api/v2/update?p=old&c=1.1.1/1.1.1/1.1.7&s=seven")
        .expect(200, "Updated 5 bytes");
    let mut stream = s.connect();
    stream
        .write_all(b"GET /api/v2/select?p=old&c=1.1.1/1.1.1/1.1.7 HTTP/1.0\r\n\r\n")
        .unwrap();
    read_reply(&mut BufReader::new(&mut stream))
        .unwrap()
        .expect(200, "seven");
}

#[test]
fn http_1_0_keep_alive_is_echoed() {
    let s = Server::start(&[]);
    let stream = s.connect();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    for _ in 0..3 {
        writer
            .write_all(b"GET /api/v2/version HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap();
        let reply = read_reply(&mut reader).unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("Connection"), Some("keep-alive"));
    }
}

#[test]
fn chunked_upload_with_trailers() {
    let s = Server::start(&[]);
    let mut stream = s.connect();
    stream
        .write_all(
            b"POST /api/v2/update?c=2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
              5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\nX-Trailer: ignored\r\n\r\n\
              GET /api/v2/select?c=2 HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        .unwrap();
    let mut reader = BufReader::new(stream);
    read_reply(&mut reader)
        .unwrap()
        .expect(200, "Updated 12 bytes");
    read_reply(&mut reader).unwrap().expect(200, "hello world!");
}

#[test]
fn bytes_after_the_body_are_the_next_request() {
    let s = Server::start(&[]);
    let mut request = build_request("POST", "/api/v2/update?c=3", &[], Some(b"exact"));
    request.extend_from_slice(b"GET /api/v2/select?c=3 HTTP/1.1\r\n\r\n");
    let mut stream = s.connect();
    stream.write_all(&request).unwrap();
    let mut reader = BufReader::new(stream);
    read_reply(&mut reader)
        .unwrap()
        .expect(200, "Updated 5 bytes");
    read_reply(&mut reader).unwrap().expect(200, "exact");
}

#[test]
fn expect_continue_comes_only_after_the_checks() {
    let s = Server::start(&[]);
    let mut stream = s.connect();
    stream
        .write_all(b"POST /api/v2/update?c=4 HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 25];
    stream.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(b"body").unwrap();
    read_reply(&mut BufReader::new(&mut stream))
        .unwrap()
        .expect(200, "Updated 4 bytes");

    // A refused head gets its final answer at once, no 100, and the connection closes.
    let mut stream = s.connect();
    stream
        .write_all(b"POST /api/v2/update?p=..&c=4 HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        .unwrap();
    let reply = read_reply(&mut BufReader::new(&mut stream)).unwrap();
    reply.expect(403, "Forbidden: Invalid phext path");
    assert_eq!(reply.header("Connection"), Some("close"));
}

#[test]
fn framing_errors() {
    let s = Server::start(&["--max-body", "1000", "--max-header", "2048"]);
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"GET /api/v2/version HTTP/2.0\r\n\r\n".to_vec(), 505, "HTTP Version Not Supported"),
        (b"GET /api/v2/version HTTP/1.2\r\n\r\n".to_vec(), 505, "HTTP Version Not Supported"),
        (b"GARBAGE\r\n\r\n".to_vec(), 400, "Bad Request"),
        (
            b"POST /api/v2/update HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
            400,
            "Bad Request",
        ),
        (
            b"POST /api/v2/update?c=1 HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n".to_vec(),
            400,
            "Bad Request",
        ),
        (
            b"POST /api/v2/update?c=1 HTTP/1.0\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc".to_vec(),
            400,
            "Bad Request",
        ),
        (b"POST /api/v2/update HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec(), 501, "Not Implemented"),
        (
            b"POST /api/v2/update HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n".to_vec(),
            501,
            "Not Implemented",
        ),
        (b"POST /api/v2/update HTTP/1.1\r\nContent-Length: x\r\n\r\n".to_vec(), 400, "Bad Request"),
        (
            b"POST /api/v2/update HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n".to_vec(),
            400,
            "Bad Request",
        ),
        (b"POST /api/v2/update HTTP/1.1\r\nContent-Length: 1001\r\n\r\n".to_vec(), 413, "Payload Too Large"),
        (
            format!("GET /api/v2/version HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(4096)).into_bytes(),
            431,
            "Request Header Fields Too Large",
        ),
    ];
    for (request, status, body) in cases {
        let mut stream = s.connect();
        stream.write_all(&request).unwrap();
        let reply = read_reply(&mut BufReader::new(&mut stream)).unwrap();
        reply.expect(status, body);
        assert_eq!(reply.header("Connection"), Some("close"), "{status}");
        assert_eq!(reply.header("Access-Control-Allow-Origin"), Some("*"));
        assert_eq!(
            reply.header("Content-Type"),
            Some("text/plain; charset=utf-8")
        );
    }
    // Chunked data is counted while it is read.
    let mut stream = s.connect();
    let mut request =
        b"POST /api/v2/update?c=1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..3 {
        request.extend_from_slice(format!("1f4\r\n{}\r\n", "x".repeat(500)).as_bytes());
    }
    stream.write_all(&request).unwrap();
    read_reply(&mut BufReader::new(&mut stream))
        .unwrap()
        .expect(413, "Payload Too Large");
    s.get("/api/v2/select?c=1").expect(200, "");
    // Nothing of the refused HTTP/1.0 chunked uploads was stored.
    s.get("/api/v2/get").expect(200, "");
}

#[test]
fn slow_requests_time_out_and_idle_connections_close_silently() {
    let s = Server::start(&["--request-timeout", "1", "--idle-timeout", "1"]);
    let mut stream = s.connect();
    stream
        .write_all(b"GET /api/v2/version HTTP/1.1\r\nHost:")
        .unwrap();
    let reply = read_reply(&mut BufReader::new(&mut stream)).unwrap();
    reply.expect(408, "Request Timeout");
    assert_eq!(reply.header("Connection"), Some("close"));

    let mut idle = s.connect();
    assert!(
        read_all(&mut idle).is_empty(),
        "an idle connection closes without a word"
    );
    s.get("/api/v2/version")
        .expect(200, env!("CARGO_PKG_VERSION"));
}

#[test]
fn the_connection_cap_answers_503() {
    // All from one address: the per-address cap is off to see the server's own.
    let s = Server::start(&[
        "--max-connections",
        "2",
        "--max-connections-per-address",
        "0",
    ]);
    let held: Vec<_> = (0..2).map(|_| s.connect()).collect();
    // Make sure both are accepted before the third arrives.
    for mut stream in held.iter().map(|s| s.try_clone().unwrap()) {
        stream
            .write_all(&build_request("GET", "/api/v2/version", &[], None))
            .unwrap();
        assert_eq!(read_reply(&mut BufReader::new(stream)).unwrap().status, 200);
    }
    let reply = s.get("/api/v2/version");
    reply.expect(503, "Service Unavailable: connection limit reached");
    assert_eq!(reply.header("Retry-After"), Some("1"));
    assert_eq!(reply.header("Connection"), Some("close"));
    drop(held);
    // Capacity comes back once the held connections close.
    let mut answered = false;
    for _ in 0..50 {
        if s.get("/api/v2/version").status == 200 {
            answered = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(answered);
}

#[test]
fn sigterm_drains_and_exits_cleanly() {
    let mut s = Server::start(&[]);
    let idle = s.connect();
    s.get("/api/v2/update?c=1&s=kept")
        .expect(200, "Updated 4 bytes");
    let status = s.terminate();
    assert!(status.success(), "{status:?}");
    drop(idle);
    assert_eq!(std::fs::read(s.dir.join(".phext")).unwrap(), b"kept");
}

/// A connection from a chosen loopback address (127.0.0.0/8 is all ours).
fn connect_from(s: &Server, source: &str) -> std::net::TcpStream {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let source: std::net::SocketAddr = format!("{source}:0").parse().unwrap();
    socket.bind(&source.into()).unwrap();
    let server: std::net::SocketAddr = format!("127.0.0.1:{}", s.port).parse().unwrap();
    socket.connect(&server.into()).unwrap();
    let stream: std::net::TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
}

/// One request on `stream`, kept open.
fn exchange(stream: &std::net::TcpStream, target: &str) -> Reply {
    let mut send = stream.try_clone().unwrap();
    send.write_all(&build_request("GET", target, &[], None))
        .unwrap();
    read_reply(&mut BufReader::new(stream.try_clone().unwrap())).unwrap()
}

/// No single address can take every connection slot: past its share it gets 503 while
/// other addresses (and trusted proxies, which carry many clients) are still served.
#[test]
fn one_address_cannot_take_every_connection() {
    let s = Server::start(&[
        "--max-connections",
        "8",
        "--max-connections-per-address",
        "3",
        "--trust-proxy",
        "127.0.0.3,10.0.0.0/8",
    ]);
    let hog: Vec<_> = (0..3).map(|_| connect_from(&s, "127.0.0.2")).collect();
    for stream in &hog {
        exchange(stream, "/api/v2/version").expect(200, env!("CARGO_PKG_VERSION"));
    }
    let refused = exchange(&connect_from(&s, "127.0.0.2"), "/api/v2/version");
    refused.expect(
        503,
        "Service Unavailable: too many connections from your address",
    );
    assert_eq!(refused.header("Retry-After"), Some("1"));
    assert_eq!(refused.header("Connection"), Some("close"));
    // Another client is served, and so are four connections of a trusted proxy.
    exchange(&connect_from(&s, "127.0.0.1"), "/api/v2/version")
        .expect(200, env!("CARGO_PKG_VERSION"));
    let proxy: Vec<_> = (0..4).map(|_| connect_from(&s, "127.0.0.3")).collect();
    for stream in &proxy {
        exchange(stream, "/api/v2/version").expect(200, env!("CARGO_PKG_VERSION"));
    }
    let metrics = exchange(&connect_from(&s, "127.0.0.4"), "/metrics").text();
    assert!(
        metrics.contains("sq_connections_refused_total{reason=\"per_address\"} 1\n"),
        "{metrics}"
    );
    assert!(metrics.contains("sq_connections_refused_total{reason=\"limit\"} 0\n"));
    // A slot comes back when its connection closes.
    drop(hog);
    let mut served = false;
    for _ in 0..100 {
        if exchange(&connect_from(&s, "127.0.0.2"), "/api/v2/version").status == 200 {
            served = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(served, "the address never got its slots back");
}

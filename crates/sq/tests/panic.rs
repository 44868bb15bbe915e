//! A panic in a handler is caught: that request gets 500 and its connection closes;
//! the server and every other connection carry on.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use sq::http::{serve, Body, Limits, Request, Response, Service};

struct Panicky;

impl Service for Panicky {
    async fn call(&self, request: &Request, _body: &mut Body<'_>) -> Response {
        if request.path() == "/panic" {
            panic!("a handler bug");
        }
        Response::text(200, "fine")
    }
}

fn exchange(port: u16, request: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        head.push_str(&line);
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    let mut body = String::new();
    reader.read_to_string(&mut body).unwrap();
    head + &body
}

#[test]
fn a_handler_panic_becomes_a_500() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(serve(
        listener,
        Arc::new(Panicky),
        Limits::default(),
        Arc::default(),
        async {
            let _ = stopped.await;
        },
    ));

    let reply = exchange(port, "GET /panic HTTP/1.1\r\n\r\n");
    assert!(
        reply.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
        "{reply}"
    );
    assert!(reply.contains("Connection: close\r\n"), "{reply}");
    assert!(reply.ends_with("\r\n\r\nInternal Server Error"), "{reply}");
    for _ in 0..3 {
        let reply = exchange(port, "GET /ok HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert!(
            reply.starts_with("HTTP/1.1 200 OK\r\n") && reply.ends_with("fine"),
            "{reply}"
        );
    }
    let _ = stop.send(());
    runtime.block_on(server).unwrap();
}

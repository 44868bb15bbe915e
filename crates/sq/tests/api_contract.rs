//! The verbs of the v2 contract over real HTTP: the worked example (§9), every verb's
//! exact body, methods, HEAD, query decoding and text rules.

mod common;

use common::*;

const TOKEN: &str = "tok-alice";

fn multi() -> Server {
    Server::start_with(
        |dir| {
            write_config(
                &dir.join("tenants.json"),
                None,
                &[(TOKEN, "alice", "data/alice")],
            )
        },
        &["--config", "tenants.json"],
    )
}

fn auth() -> [(&'static str, &'static str); 1] {
    [("Authorization", TOKEN)]
}

#[test]
fn worked_example() {
    let mut s = multi();
    let get = |t: &str| s.get_with(t, &auth());
    let post = |t: &str, b: &[u8]| s.request("POST", t, &auth(), Some(b));

    get("/api/v2/insert?p=notes&c=1.1.1/1.1.1/1.1.2&s=Hello+World%21")
        .expect(200, "Inserted 12 bytes");
    get("/api/v2/insert?p=notes&c=1.1.1/1.1.1/1.1.2&s=%20again").expect(200, "Inserted 6 bytes");
    get("/api/v2/select?p=notes&c=1.1.1/1.1.1/1.1.2").expect(200, "Hello World! again");
    post(
        "/api/v2/insert?p=notes&c=1.1.1/1.1.1/1.2.1",
        b"line one\nline two +%41",
    )
    .expect(200, "Inserted 22 bytes");
    get("/api/v2/update?p=notes&c=1.1.1/1.1.1/1.1.2&s=replaced").expect(200, "Updated 8 bytes");
    post(
        "/api/v2/update?p=notes&c=2.1.1/1.1.1/1.1.1",
        b"posted update",
    )
    .expect(200, "Updated 13 bytes");
    get("/api/v2/toc?p=notes").expect(
        200,
        "* 1.1.1/1.1.1/1.1.2: replaced\n* 1.1.1/1.1.1/1.2.1: line one...\n* 2.1.1/1.1.1/1.1.1: posted update\n",
    );
    get("/api/v2/checksum?p=notes").expect(200, "0c9c37dc20e176e20a7cf187aefe2782");
    get("/api/v2/status?p=notes").expect(
        200,
        "Hosting: notes.phext\nConnection ID: 0\nPhext Size: 46\nScrolls: 3",
    );
    let document = b"\x17replaced\x18line one\nline two +%41\x01posted update";
    let got = get("/api/v2/get?p=notes");
    assert_eq!((got.status, got.body.as_slice()), (200, &document[..]));
    assert_eq!(
        got.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );

    let delta = post(
        "/api/v2/delta?p=notes",
        b"1.1.1/1.1.1/1.1.2: 00000000000000000000000000000000\n1.1.1/1.1.1/1.2.1: ffffffffffffffffffffffffffffffff\n5.5.5/5.5.5/5.5.5: 0123",
    );
    let mut expected = document.to_vec();
    for (byte, count) in [
        (0x01u8, 3),
        (0x1F, 4),
        (0x1E, 4),
        (0x1D, 4),
        (0x1C, 4),
        (0x1A, 4),
        (0x19, 4),
        (0x18, 4),
        (0x17, 4),
    ] {
        expected.extend(std::iter::repeat_n(byte, count));
    }
    expected.extend_from_slice(b"---sq:Scroll-Missing---");
    assert_eq!(delta.body.len(), 104);
    assert_eq!((delta.status, delta.body), (200, expected));

    get("/api/v2/delete?p=notes&c=1.1.1/1.1.1/1.2.1").expect(200, "Removed 22 bytes");
    get("/api/v2/delete?p=notes&c=9.9.9/9.9.9/9.9.9").expect(200, "Removed 0 bytes");
    let delta = post(
        "/api/v2/delta?p=notes",
        b"1.1.1/1.1.1/1.1.2: 5ea053415bf09d1e4f2b3ca22528884a\n1.1.1/1.1.1/1.1.1: 99aa06d3014798d86001c324468d497f",
    );
    assert_eq!(
        (delta.status, delta.body.as_slice()),
        (200, &b"---sq:Scroll-Missing---\x01posted update"[..])
    );
    let delta = get("/api/v2/delta?p=notes&s=1.1.1/1.1.1/1.1.2:+5ea053415bf09d1e4f2b3ca22528884a%0A2.1.1/1.1.1/1.1.1:+0");
    assert_eq!(
        (delta.status, delta.body.as_slice()),
        (200, &b"\x01posted update"[..])
    );

    let json = get("/api/v2/json-export?p=notes");
    json.expect(
        200,
        "[\n   { \"coord\": \"1.1.1/1.1.1/1.1.2\", \"scroll\": \"replaced\" }\n,   { \"coord\": \"2.1.1/1.1.1/1.1.1\", \"scroll\": \"posted update\" }\n]\n",
    );
    assert_eq!(json.header("Content-Type"), Some("application/json"));
    post("/api/v2/where?p=notes", b"some text to hash").expect(
        200,
        "Calculated coordinate 1.1.1/1.1.1/1.1.1 for input (algo=xor, limit=100).",
    );
    post("/api/v2/where?p=notes&algo=checksum", b"some text to hash").expect(
        200,
        "Calculated coordinate 448.470.909/424.192.723/938.427.631 for input (algo=checksum, limit=100).",
    );

    get("/api/v2/update?p=dz&c=1.1.1/1.1.1/1.1.2&s=").expect(200, "Updated 0 bytes");
    get("/api/v2/update?p=dz&c=1.1.1/1.1.1/1.1.3&s=x").expect(200, "Updated 1 bytes");
    let delta = get("/api/v2/delta?p=dz");
    assert_eq!(delta.body, b"\x17\x17x");

    get("/api/v2/select?p=../bob/notes").expect(403, "Forbidden: Invalid phext path");
    get("/api/v2/update?p=n&c=x1y.1.1/1.1.1/1.1.4&s=v")
        .expect(400, "Bad Request: invalid coordinate 'x1y.1.1/1.1.1/1.1.4'");
    s.get("/api/v2/select?p=notes").expect(401, "Unauthorized");

    // After a clean shutdown every write is in the .phext file, in canonical form.
    assert!(s.terminate().success());
    let stored = std::fs::read(s.dir.join("data/alice/notes.phext")).unwrap();
    assert_eq!(stored, b"\x17replaced\x01posted update");
}

#[test]
fn empty_documents_and_absent_scrolls() {
    let s = Server::start(&[]);
    s.get("/api/v2/select?p=none&c=5").expect(200, "");
    s.get("/api/v2/toc?p=none").expect(200, "");
    s.get("/api/v2/checksum")
        .expect(200, "99aa06d3014798d86001c324468d497f");
    s.get("/api/v2/get?p=none").expect(200, "");
    s.get("/api/v2/json-export?p=none").expect(200, "[\n]\n");
    s.get("/api/v2/load?p=none")
        .expect(200, "Loaded none.phext");
    s.get("/api/v2/load").expect(200, "Loaded .phext");
    let status = s.get("/api/v2/status").text();
    assert!(
        status.starts_with("Hosting: .phext\nConnection ID: "),
        "{status}"
    );
    assert!(status.ends_with("\nPhext Size: 0\nScrolls: 0"), "{status}");
    s.get("/api/v2/version?p=../../etc")
        .expect(200, env!("CARGO_PKG_VERSION"));
    // Only the journal and its lock, made at start-up: reads create nothing.
    assert_eq!(
        files_under(&s.dir),
        [".sq.journal", ".sq.journal.lock"],
        "reads create nothing"
    );
}

#[test]
fn default_document_short_forms_and_methods() {
    let mut s = Server::start(&[]);
    s.post("/api/v2/insert?c=5", b"five")
        .expect(200, "Inserted 4 bytes");
    s.get("/api/v2/select?c=1.1.1/1.1.1/1.1.5")
        .expect(200, "five");
    s.get("/api/v2/update?c=2.3&s=x")
        .expect(200, "Updated 1 bytes");
    s.get("/api/v2/select?c=2.1.1/1.1.1/1.1.3").expect(200, "x");
    s.get("/api/v2/update?c=1;1;1;1;1;1;1;2;1&s=y")
        .expect(200, "Updated 1 bytes");
    s.get("/api/v2/select?c=1.1.1%2F1.1.1%2F1.2.1")
        .expect(200, "y");
    s.get("/api/v2/update?c=7.1.1/3.1.1&s=z")
        .expect(200, "Updated 1 bytes");
    s.get("/api/v2/select?c=7.1.1/3.1.1/1.1.1").expect(200, "z");
    s.get("/api/v2/update?c=1.1.1/1.1.2/1990.9.9&s=year")
        .expect(200, "Updated 4 bytes");
    s.request("PUT", "/api/v2/update?c=3", &[], Some(b"put body"))
        .expect(200, "Updated 8 bytes");
    s.request("DELETE", "/api/v2/delete?c=3", &[], None)
        .expect(200, "Removed 8 bytes");
    s.request("POST", "/api/v2/delete?c=5", &[], None)
        .expect(200, "Removed 4 bytes");

    // The wrong method: 404 for GET/HEAD/POST, 400 for PUT/DELETE, 400 for unknown.
    s.post("/api/v2/select", b"").expect(404, "Not Found");
    s.get("/api/v2/where").expect(404, "Not Found");
    s.request("PUT", "/api/v2/select", &[], None)
        .expect(400, "Bad Request");
    s.request("DELETE", "/api/v2/toc", &[], None)
        .expect(400, "Bad Request");
    s.request("get", "/api/v2/select", &[], None)
        .expect(400, "Bad Request");
    s.request("PATCH", "/api/v2/update", &[], None)
        .expect(400, "Bad Request");
    for path in [
        "/api/v2/selectX",
        "/api/v2/version.json",
        "/api/v2/select/",
        "/",
        "/select/1",
        "/api/v2/reload",
    ] {
        s.get(path).expect(404, "Not Found");
    }
    s.post("/api/v2/reload", b"").expect(404, "Not Found");
    assert!(s.terminate().success());
    assert!(
        s.dir.join(".phext").is_file(),
        "no p means the default document .phext"
    );
}

#[test]
fn text_sources_and_rules() {
    let s = Server::start(&[]);
    // POST: body, else content (even empty), else s.
    s.post("/api/v2/update?c=1&content=from+content&s=from+s", b"")
        .expect(200, "Updated 12 bytes");
    s.get("/api/v2/select?c=1").expect(200, "from content");
    s.post("/api/v2/update?c=1&s=from+s", b"")
        .expect(200, "Updated 6 bytes");
    s.post("/api/v2/update?c=1&content=&s=ignored", b"")
        .expect(200, "Updated 0 bytes");
    s.post("/api/v2/update?c=2&content=ignored", b"p=x&c=y&content=z")
        .expect(200, "Updated 17 bytes");
    s.get("/api/v2/select?c=2").expect(200, "p=x&c=y&content=z");
    // GET uses s and ignores a body.
    s.request("GET", "/api/v2/update?c=3&s=query", &[], Some(b"body"))
        .expect(200, "Updated 5 bytes");
    s.get("/api/v2/select?c=3").expect(200, "query");
    // Duplicates: the last wins; + is a space; bad % stays literal.
    s.get("/api/v2/update?c=4&s=first&s=a+b%2B100%")
        .expect(200, "Updated 8 bytes");
    s.get("/api/v2/select?c=4").expect(200, "a b+100%");
    // Text rules.
    s.get("/api/v2/update?c=5&s=%FF")
        .expect(400, "Bad Request: text is not valid UTF-8");
    s.post("/api/v2/insert?c=5", b"\xc3\x28")
        .expect(400, "Bad Request: text is not valid UTF-8");
    for delimiter in [
        "%01", "%17", "%18", "%19", "%1A", "%1C", "%1D", "%1E", "%1F",
    ] {
        s.get(&format!("/api/v2/update?c=5&s=a{delimiter}b"))
            .expect(
                400,
                "Bad Request: scroll text contains a phext delimiter byte",
            );
    }
    s.get("/api/v2/select?c=5").expect(200, "");
    s.get("/api/v2/update?c=5&s=lf%0Acr%0Dtab%09nul%00esc%1B")
        .expect(200, "Updated 18 bytes");
    s.get("/api/v2/select?c=5")
        .expect(200, "lf\ncr\rtab\tnul\0esc\x1b");
    // where accepts delimiters; limit and algo rules.
    s.post("/api/v2/where?limit=1", b"a\x01b\x1Fc").expect(
        200,
        "Calculated coordinate 0.3.0/0.0.0/0.0.0 for input (algo=xor, limit=1).",
    );
    s.post("/api/v2/where?limit=x&algo=CHECKSUM", b"abc")
        .expect(
            200,
            "Calculated coordinate 1.1.1/1.1.1/1.1.1 for input (algo=xor, limit=100).",
        );
    s.post("/api/v2/where?p=../x", b"abc")
        .expect(403, "Forbidden: Invalid phext path");
}

#[test]
fn head_never_mutates_and_carries_the_get_length() {
    let s = Server::start(&[]);
    s.get("/api/v2/update?c=1&s=hello")
        .expect(200, "Updated 5 bytes");
    for (target, length) in [
        ("/api/v2/insert?c=1&s=abcde", "16"),
        ("/api/v2/update?c=1&s=xyz", "15"),
        ("/api/v2/delete?c=1", "15"),
        ("/api/v2/select?c=1", "5"),
    ] {
        let mut stream = s.connect();
        use std::io::Write;
        stream
            .write_all(&build_request("HEAD", target, &[], None))
            .unwrap();
        let reply = read_reply_head(&mut std::io::BufReader::new(stream)).unwrap();
        assert_eq!(reply.status, 200, "{target}");
        assert_eq!(reply.header("Content-Length"), Some(length), "{target}");
    }
    s.get("/api/v2/select?c=1").expect(200, "hello");
    s.get("/api/v2/toc")
        .expect(200, "* 1.1.1/1.1.1/1.1.1: hello\n");
}

#[test]
fn response_headers() {
    let s = Server::start(&[]);
    let reply = s.get("/api/v2/version");
    assert_eq!(reply.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(
        reply.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(reply.header("Content-Length"), Some("5"));
    let reply = s.get("/api/v2/nothing");
    assert_eq!(reply.header("Access-Control-Allow-Origin"), Some("*"));
    let preflight = s.request("OPTIONS", "/anything/at/all", &[], None);
    assert_eq!(preflight.status, 204);
    assert!(preflight.body.is_empty());
    assert_eq!(
        preflight.header("Access-Control-Allow-Methods"),
        Some("GET, POST, PUT, DELETE, OPTIONS")
    );
    assert_eq!(
        preflight.header("Access-Control-Allow-Headers"),
        Some("Authorization, X-SQ-API-Key, Content-Type")
    );
    assert_eq!(preflight.header("Access-Control-Max-Age"), Some("86400"));
    assert_eq!(preflight.header("Content-Length"), None);
    assert_eq!(preflight.header("Content-Type"), None);
}

#[test]
fn json_export_is_valid_json() {
    let s = Server::start(&[]);
    s.get("/api/v2/update?c=2&s=q%22b%5Cn%0Ar%0Dt%09%00%07%1B%C3%BC")
        .expect(200, "Updated 15 bytes");
    s.get("/api/v2/update?c=1&s=first")
        .expect(200, "Updated 5 bytes");
    let reply = s.get("/api/v2/json-export");
    let parsed: serde_json::Value = serde_json::from_slice(&reply.body).expect("valid JSON");
    assert_eq!(parsed[0]["coord"], "1.1.1/1.1.1/1.1.1");
    assert_eq!(parsed[1]["scroll"], "q\"b\\n\nr\rt\t\u{0}\u{7}\u{1b}ü");
    assert!(
        files_under(&s.dir).iter().all(|f| !f.ends_with(".json")),
        "no side file"
    );
}

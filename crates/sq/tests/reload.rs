//! Config reload: the endpoint's authorization, atomic swaps, broken files, SIGHUP, and
//! a 500-tenant config made by `sq tenants generate`.

mod common;

use std::io::{BufReader, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

fn config(dir: &Path, admin: Option<&str>, tenants: &[(&str, &str, &str)]) {
    write_config(&dir.join("tenants.json"), admin, tenants);
}

fn start(admin: Option<&str>) -> Server {
    Server::start_with(
        |dir| {
            config(
                dir,
                admin,
                &[
                    ("alice-token", "alice", "data/alice"),
                    ("bob-token", "bob", "data/bob"),
                ],
            )
        },
        &["--config", "tenants.json"],
    )
}

fn as_(token: &str) -> [(&str, &str); 1] {
    [("Authorization", token)]
}

#[test]
fn reload_adds_and_revokes_tenants() {
    let mut s = start(None);
    s.get_with("/api/v2/update?c=1&s=bob+was+here", &as_("bob-token"))
        .expect(200, "Updated 12 bytes");
    config(
        &s.dir,
        None,
        &[
            ("alice-token", "alice", "data/alice"),
            ("carol-token", "carol", "data/carol"),
        ],
    );
    s.post("/api/v2/reload", b"")
        .expect(200, "Reloaded 2 tenants");
    s.get_with("/api/v2/version", &as_("carol-token"))
        .expect(200, env!("CARGO_PKG_VERSION"));
    s.get_with("/api/v2/version", &as_("alice-token"))
        .expect(200, env!("CARGO_PKG_VERSION"));
    s.get_with("/api/v2/version", &as_("bob-token"))
        .expect(401, "Unauthorized");
    assert!(s.dir.join("data/carol").is_dir());
    assert!(s.terminate().success());
    assert_eq!(
        std::fs::read(s.dir.join("data/bob/.phext")).unwrap(),
        b"bob was here",
        "data stays"
    );
}

#[test]
fn a_broken_config_keeps_the_old_one() {
    let s = start(None);
    std::fs::write(s.dir.join("tenants.json"), b"{\"tenants\": {").unwrap();
    let reply = s.post("/api/v2/reload", b"");
    assert_eq!(reply.status, 500);
    assert!(
        reply
            .text()
            .starts_with("Reload failed: invalid JSON: EOF while parsing"),
        "{}",
        reply.text()
    );
    s.get_with("/api/v2/version", &as_("bob-token"))
        .expect(200, env!("CARGO_PKG_VERSION"));

    config(
        &s.dir,
        None,
        &[("t1-secret", "x", "shared"), ("t2-secret", "y", "shared")],
    );
    let reply = s.post("/api/v2/reload", b"");
    assert_eq!(reply.status, 500);
    assert!(
        reply
            .text()
            .contains("tenants 'x' and 'y' share the data directory"),
        "{}",
        reply.text()
    );
    assert!(!reply.text().contains("secret"), "no token in the reason");
    s.get_with("/api/v2/version", &as_("alice-token"))
        .expect(200, env!("CARGO_PKG_VERSION"));
    s.get_with("/api/v2/version", &as_("t1-secret"))
        .expect(401, "Unauthorized");
}

#[test]
fn reload_authorization() {
    let s = start(Some("admin-secret"));
    s.post("/api/v2/reload", b"").expect(401, "Unauthorized");
    s.request("POST", "/api/v2/reload", &as_("alice-token"), Some(b""))
        .expect(401, "Unauthorized");
    s.request(
        "POST",
        "/api/v2/reload",
        &[("X-SQ-API-Key", "admin-secret")],
        Some(b""),
    )
    .expect(200, "Reloaded 2 tenants");
    s.request(
        "POST",
        "/api/v2/reload",
        &[("Authorization", "Bearer admin-secret")],
        Some(b""),
    )
    .expect(200, "Reloaded 2 tenants");
    for proxy in ["Forwarded", "X-Forwarded-For", "X-Real-IP"] {
        s.request(
            "POST",
            "/api/v2/reload",
            &[("Authorization", "admin-secret"), (proxy, "203.0.113.9")],
            Some(b""),
        )
        .expect(
            403,
            "Forbidden: Reload endpoint only accessible from localhost",
        );
    }
    s.request(
        "POST",
        "/api/v2/reload",
        &[
            ("Authorization", "alice-token"),
            ("Authorization", "admin-secret"),
        ],
        Some(b""),
    )
    .expect(400, "Bad Request: more than one credential");
    // GET follows the normal order: authentication, then 404.
    s.get("/api/v2/reload").expect(401, "Unauthorized");
    s.get_with("/api/v2/reload", &as_("alice-token"))
        .expect(404, "Not Found");

    let open = start(None);
    open.request(
        "POST",
        "/api/v2/reload",
        &[("X-Real-IP", "127.0.0.1")],
        Some(b""),
    )
    .expect(
        403,
        "Forbidden: Reload endpoint only accessible from localhost",
    );
    open.post("/api/v2/reload", b"")
        .expect(200, "Reloaded 2 tenants");
}

#[test]
fn reload_does_not_wait_for_idle_connections() {
    let s = Server::start_with(
        |dir| config(dir, None, &[("alice-token", "alice", "data/alice")]),
        &["--config", "tenants.json", "--idle-timeout", "300"],
    );
    let _idle = s.connect();
    let mut stream = s.connect();
    // Far shorter than the idle timeout: a reload that waited for the idle socket fails here.
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
        .write_all(&build_request("POST", "/api/v2/reload", &[], Some(b"")))
        .unwrap();
    read_reply(&mut BufReader::new(stream))
        .expect("reload answered")
        .expect(200, "Reloaded 1 tenants");
}

#[test]
fn sighup_reloads() {
    let s = start(None);
    config(&s.dir, None, &[("dave-token", "dave", "data/dave")]);
    signal(s.pid(), libc::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.get_with("/api/v2/version", &as_("dave-token")).status != 200 {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reload the config"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    s.get_with("/api/v2/version", &as_("alice-token"))
        .expect(401, "Unauthorized");
}

#[test]
fn disabled_tenants_are_refused() {
    let s = Server::start_with(
        |dir| {
            std::fs::write(
                dir.join("tenants.json"),
                r#"{"tenants": {"on-token": {"name": "on", "data_dir": "on"},
                                "off-token": {"name": "off", "data_dir": "off", "enabled": false}}}"#,
            )
            .unwrap()
        },
        &["--config", "tenants.json"],
    );
    s.get_with("/api/v2/select", &as_("off-token"))
        .expect(403, "Forbidden: tenant disabled");
    s.get_with("/api/v2/select", &as_("on-token"))
        .expect(200, "");
}

#[test]
fn five_hundred_tenants_from_the_generator() {
    let temp = tempfile::tempdir().unwrap();
    let tokens = generate_tenants(temp.path(), 500);
    assert_eq!(tokens.len(), 500);
    assert!(tokens
        .iter()
        .all(|(_, t)| t.len() == 39 && t.starts_with("pmb-v1-")));
    // Running it again never overwrites the file.
    let again = sq_command(temp.path())
        .args([
            "tenants",
            "generate",
            "--count",
            "1",
            "--data-root",
            "data",
            "--out",
            "tenants.json",
        ])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));

    let mut s = Server::start_in(temp.path(), &["--config", "tenants.json"]);
    let picked = [&tokens[0], &tokens[249], &tokens[499]];
    for (name, token) in picked {
        s.get_with(&format!("/api/v2/update?p=hello&c=1&s={name}"), &as_(token))
            .expect(200, &format!("Updated {} bytes", name.len()));
    }
    s.post("/api/v2/reload", b"")
        .expect(200, "Reloaded 500 tenants");
    assert!(s.terminate().success());
    for (name, _) in picked {
        let stored = temp.path().join("data").join(name).join("hello.phext");
        assert_eq!(std::fs::read_to_string(stored).unwrap(), *name);
    }
}

#[test]
fn config_warnings_name_the_tenant_and_field() {
    let temp = tempfile::tempdir().unwrap();
    std::fs::write(
        temp.path().join("tenants.json"),
        r#"{"tenants": {"tok": {"name": "erin", "data_dir": "erin", "comment": "vip", "tier": "gold"}}}"#,
    )
    .unwrap();
    let log = temp.path().join("log");
    let mut s = Server::start_logging(temp.path(), &["--config", "tenants.json"], &log, "warn");
    s.get_with("/api/v2/version", &as_("tok"))
        .expect(200, env!("CARGO_PKG_VERSION"));
    // Log lines are buffered; a clean stop writes them all out.
    assert!(s.terminate().success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("tenant 'erin': unknown field \"comment\" ignored"),
        "{text}"
    );
    assert!(
        text.contains("tenant 'erin': unknown field \"tier\" ignored"),
        "{text}"
    );
}

/// A token with surrounding whitespace can never be presented (header values are
/// trimmed): refused at start-up and in a reload, naming the tenant, never the token.
#[test]
fn tokens_no_request_can_present_are_refused() {
    let temp = tempfile::tempdir().unwrap();
    std::fs::write(
        temp.path().join("padded.json"),
        r#"{"tenants": [{"name": "pad", "token": "  padded-token\t", "data_dir": "p"}]}"#,
    )
    .unwrap();
    let output = sq_command(temp.path())
        .args(["host", "0", "--config", "padded.json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("tenant 'pad': the token has leading or trailing whitespace"),
        "{stderr}"
    );
    assert!(!stderr.contains("padded-token"), "{stderr}");

    let s = start(None);
    config(
        &s.dir,
        None,
        &[
            ("alice-token", "alice", "data/alice"),
            (" bob-token", "bob", "data/bob"),
        ],
    );
    let reply = s.post("/api/v2/reload", b"");
    assert_eq!(reply.status, 500);
    assert!(
        reply.text().starts_with(
            "Reload failed: tenant 'bob': the token has leading or trailing whitespace"
        ),
        "{}",
        reply.text()
    );
    s.get_with("/api/v2/version", &as_("bob-token"))
        .expect(200, env!("CARGO_PKG_VERSION"));
}

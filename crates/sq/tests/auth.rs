//! Authentication in every mode, every header form and rejection, and tenant isolation.

mod common;

use common::*;

fn two_tenants() -> Server {
    Server::start_with(
        |dir| {
            write_config(
                &dir.join("tenants.json"),
                None,
                &[
                    ("alice:colon:token", "alice", "data/alice"),
                    ("alice-second-key", "alice", "data/alice"),
                    ("bob-token", "bob", "data/bob"),
                ],
            )
        },
        &["--config", "tenants.json"],
    )
}

#[test]
fn every_header_form_authenticates() {
    let s = two_tenants();
    let forms: [(&str, &str); 6] = [
        ("Authorization", "alice:colon:token"),
        ("authorization", "  alice:colon:token\t"),
        ("Authorization", "Bearer alice:colon:token"),
        ("AUTHORIZATION", "bearer \t alice:colon:token"),
        ("Authorization", "BEARER alice:colon:token"),
        ("X-SQ-API-Key", "alice:colon:token"),
    ];
    for (name, value) in forms {
        s.get_with("/api/v2/version", &[(name, value)])
            .expect(200, env!("CARGO_PKG_VERSION"));
    }
    // Both headers may name the same token.
    s.get_with(
        "/api/v2/status",
        &[
            ("Authorization", "Bearer bob-token"),
            ("X-SQ-API-Key", "bob-token"),
        ],
    )
    .expect(
        200,
        "Hosting: .phext\nConnection ID: 0\nPhext Size: 0\nScrolls: 0",
    );
}

/// Contract §10.17: a credential is never chosen from several.
#[test]
fn more_than_one_credential_is_a_bad_request() {
    let s = two_tenants();
    let several: [&[(&str, &str)]; 5] = [
        &[("Authorization", "wrong"), ("Authorization", "bob-token")],
        &[
            ("Authorization", "bob-token"),
            ("Authorization", "bob-token"),
        ],
        &[("Authorization", "wrong"), ("X-SQ-API-Key", "bob-token")],
        &[
            ("X-SQ-API-Key", "bob-token"),
            ("Authorization", "Bearer alice-second-key"),
        ],
        &[("X-SQ-API-Key", "bob-token"), ("x-sq-api-key", "bob-token")],
    ];
    for headers in several {
        s.get_with("/api/v2/update?p=n&c=1&s=chosen", headers)
            .expect(400, "Bad Request: more than one credential");
    }
    for token in ["bob-token", "alice-second-key"] {
        s.get_with("/api/v2/select?p=n&c=1", &[("Authorization", token)])
            .expect(200, "");
    }
    let key = Server::start(&["--key", "single:key"]);
    key.get_with(
        "/api/v2/version",
        &[("Authorization", "other"), ("X-SQ-API-Key", "single:key")],
    )
    .expect(400, "Bad Request: more than one credential");
}

#[test]
fn rejections() {
    let s = two_tenants();
    let rejected: [&[(&str, &str)]; 7] = [
        &[],
        &[("Authorization", "nope")],
        &[("Authorization", "Basic YWxpY2U6eA==")],
        &[("Authorization", "Bearer")],
        &[("Authorization", "Bearer alice")],
        &[("X-SQ-API-Key", "Bearer alice:colon:token")],
        &[("Authorization", "Token alice:colon:token")],
    ];
    for headers in rejected {
        let reply = s.get_with("/api/v2/status", headers);
        reply.expect(401, "Unauthorized");
        assert_eq!(
            reply.header("WWW-Authenticate"),
            Some("Bearer"),
            "{headers:?}"
        );
    }
    // Preflight needs no token.
    assert_eq!(
        s.request("OPTIONS", "/api/v2/select", &[], None).status,
        204
    );
}

#[test]
fn tenants_are_isolated_and_keys_of_one_tenant_share_state() {
    let mut s = two_tenants();
    let alice = [("Authorization", "alice:colon:token")];
    let alice2 = [("X-SQ-API-Key", "alice-second-key")];
    let bob = [("Authorization", "Bearer bob-token")];
    s.get_with(
        "/api/v2/update?p=notes&c=1.1.1/1.1.1/1.1.2&s=alice+secret",
        &alice,
    )
    .expect(200, "Updated 12 bytes");
    s.get_with(
        "/api/v2/update?p=notes&c=1.1.1/1.1.1/1.1.2&s=bob+data",
        &bob,
    )
    .expect(200, "Updated 8 bytes");
    s.get_with("/api/v2/select?p=notes&c=1.1.1/1.1.1/1.1.2", &alice)
        .expect(200, "alice secret");
    s.get_with("/api/v2/select?p=notes&c=1.1.1/1.1.1/1.1.2", &alice2)
        .expect(200, "alice secret");
    s.get_with("/api/v2/select?p=notes&c=1.1.1/1.1.1/1.1.2", &bob)
        .expect(200, "bob data");
    s.get_with("/api/v2/toc?p=notes", &bob)
        .expect(200, "* 1.1.1/1.1.1/1.1.2: bob data\n");
    assert!(s.terminate().success());
    assert_eq!(
        std::fs::read(s.dir.join("data/alice/notes.phext")).unwrap(),
        b"\x17alice secret"
    );
    assert_eq!(
        std::fs::read(s.dir.join("data/bob/notes.phext")).unwrap(),
        b"\x17bob data"
    );
}

#[test]
fn single_tenant_key_mode() {
    let s = Server::start(&["--key", "single:key"]);
    s.get("/api/v2/version").expect(401, "Unauthorized");
    s.get_with("/api/v2/version", &[("Authorization", "other")])
        .expect(401, "Unauthorized");
    s.get_with("/api/v2/version", &[("Authorization", "single:key")])
        .expect(200, env!("CARGO_PKG_VERSION"));
    s.get_with("/api/v2/version", &[("X-SQ-API-Key", "single:key")])
        .expect(200, env!("CARGO_PKG_VERSION"));
    // Connection ID is the sequence number of the connection: one per request here.
    let id = |reply: Reply| -> u64 {
        let text = reply.text();
        assert!(
            text.starts_with("Hosting: .phext\nConnection ID: "),
            "{text}"
        );
        assert!(text.ends_with("\nPhext Size: 0\nScrolls: 0"), "{text}");
        text.lines().nth(1).unwrap()["Connection ID: ".len()..]
            .parse()
            .unwrap()
    };
    let first = id(s.get_with("/api/v2/status", &[("Authorization", "single:key")]));
    let second = id(s.get_with("/api/v2/status", &[("Authorization", "bearer single:key")]));
    assert_eq!(second, first + 1);
}

#[test]
fn open_mode_ignores_credentials() {
    let s = Server::start(&[]);
    s.get_with("/api/v2/version", &[("Authorization", "anything")])
        .expect(200, env!("CARGO_PKG_VERSION"));
}

#[test]
fn tokens_never_reach_the_logs() {
    let temp = tempfile::tempdir().unwrap();
    write_config(
        &temp.path().join("tenants.json"),
        None,
        &[("very-secret-token-123", "carol", "data/carol")],
    );
    let log = temp.path().join("server.log");
    let mut server =
        Server::start_logging(temp.path(), &["--config", "tenants.json"], &log, "debug");
    server
        .get_with(
            "/api/v2/update?c=1&s=x",
            &[("Authorization", "very-secret-token-123")],
        )
        .expect(200, "Updated 1 bytes");
    server
        .get_with(
            "/api/v2/select",
            &[("Authorization", "very-secret-token-wrong")],
        )
        .expect(401, "Unauthorized");
    assert!(server.terminate().success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("carol"), "the tenant is named in the logs");
    assert!(
        !text.contains("very-secret-token"),
        "a token leaked into the logs"
    );
}

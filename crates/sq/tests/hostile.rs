//! Hostile names and coordinates: a clear 4xx, and nothing written anywhere.

mod common;

use common::*;

/// Alice and Bob, after `setup` placed files in the working directory.
fn server_with(setup: impl FnOnce(&std::path::Path)) -> Server {
    Server::start_with(
        |dir| {
            write_config(
                &dir.join("tenants.json"),
                None,
                &[
                    ("alice-token", "alice", "data/alice"),
                    ("bob-token", "bob", "data/bob"),
                ],
            );
            std::fs::create_dir_all(dir.join("data/alice")).unwrap();
            std::fs::create_dir_all(dir.join("data/bob")).unwrap();
            setup(dir);
        },
        &["--config", "tenants.json"],
    )
}

fn server() -> Server {
    server_with(|dir| std::fs::write(dir.join("data/bob/notes.phext"), b"bob's").unwrap())
}

const ALICE: [(&str, &str); 1] = [("Authorization", "alice-token")];

#[test]
fn hostile_names_are_forbidden_and_write_nothing() {
    let s = server();
    let before = files_under(&s.dir);
    let long = "n".repeat(129);
    let names = [
        ".x",
        "..",
        "a..b",
        "../bob/notes",
        "%2e%2e%2fbob%2fnotes",
        "%2E%2E",
        "sub/dir",
        "sub%2Fdir",
        "back%5Cslash",
        "a%00b",
        "a%20b",
        "a+b",
        "%C3%A9",
        &long,
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "..%2F..%2Fdata%2Fbob%2Fnotes",
        ".phext",
        "a%0Ab",
        "~",
        "x%FF",
    ];
    for name in names {
        for verb in [
            "select",
            "insert",
            "update",
            "delete",
            "toc",
            "checksum",
            "status",
            "get",
            "load",
            "delta",
            "json-export",
        ] {
            let target = format!("/api/v2/{verb}?p={name}&c=1&s=evil");
            s.get_with(&target, &ALICE)
                .expect(403, "Forbidden: Invalid phext path");
        }
        s.request(
            "POST",
            &format!("/api/v2/where?p={name}"),
            &ALICE,
            Some(b"x"),
        )
        .expect(403, "Forbidden: Invalid phext path");
        s.request(
            "POST",
            &format!("/api/v2/update?p={name}&c=1"),
            &ALICE,
            Some(b"evil"),
        )
        .expect(403, "Forbidden: Invalid phext path");
    }
    assert_eq!(files_under(&s.dir), before, "nothing was written");
    s.get_with("/api/v2/select?p=notes", &[("Authorization", "bob-token")])
        .expect(200, "bob's");
}

#[test]
fn hostile_coordinates_are_bad_requests_and_write_nothing() {
    let s = server();
    let before = files_under(&s.dir);
    let coordinates = [
        ("abc", "abc"),
        ("x1y.1.1/1.1.1/1.1.4", "x1y.1.1/1.1.1/1.1.4"),
        ("1,1,2", "1,1,2"),
        ("%201", " 1"),
        ("+1", " 1"),
        ("-1", "-1"),
        ("1.1.1/1.1.1/1.1.1/9.9", "1.1.1/1.1.1/1.1.1/9.9"),
        ("1.1.1/1.1.1/1.1.1/", "1.1.1/1.1.1/1.1.1/"),
        ("1..1", "1..1"),
        ("0.1.1/1.1.1/1.1.1", "0.1.1/1.1.1/1.1.1"),
        ("1.1.1/1.1.1/1.1.10000", "1.1.1/1.1.1/1.1.10000"),
        ("18446744073709551616", "18446744073709551616"),
        ("1.1.1-1.1.1-1.1.5", "1.1.1-1.1.1-1.1.5"),
        ("%D9%A1", "١"),
        ("1%00", "1\u{0}"),
    ];
    for (sent, decoded) in coordinates {
        for verb in ["select", "insert", "update", "delete"] {
            let target = format!("/api/v2/{verb}?p=notes&c={sent}&s=evil");
            s.get_with(&target, &ALICE)
                .expect(400, &format!("Bad Request: invalid coordinate '{decoded}'"));
        }
    }
    // Other verbs ignore c without validating it.
    s.get_with("/api/v2/toc?p=notes&c=garbage", &ALICE)
        .expect(200, "");
    assert_eq!(files_under(&s.dir), before, "nothing was written");
}

#[test]
fn the_coordinate_maximum_is_configurable() {
    let s = Server::start(&["--max-coordinate", "99999"]);
    s.get("/api/v2/update?c=1.1.1/1.1.1/1.1.10000&s=far")
        .expect(200, "Updated 3 bytes");
    s.get("/api/v2/update?c=1.1.1/1.1.1/1.1.100000&s=far")
        .expect(
            400,
            "Bad Request: invalid coordinate '1.1.1/1.1.1/1.1.100000'",
        );
}

#[test]
fn documents_beyond_the_maximum_still_load() {
    let s = Server::start_with(
        |dir| {
            let mut doc = vec![0x17u8; 10_000];
            doc.extend_from_slice(b"far away");
            std::fs::write(dir.join(".phext"), doc).unwrap();
        },
        &[],
    );
    s.get("/api/v2/toc")
        .expect(200, "* 1.1.1/1.1.1/1.1.10001: far away\n");
    s.get("/api/v2/select?c=1.1.1/1.1.1/1.1.10001").expect(
        400,
        "Bad Request: invalid coordinate '1.1.1/1.1.1/1.1.10001'",
    );
}

/// A symlink (or any other non-regular file) inside a tenant directory is never followed:
/// `alice/link.phext -> ../bob/secret.phext` must not let alice read or write bob's data.
#[test]
fn links_and_special_files_in_a_tenant_directory_are_refused() {
    let s = server_with(|dir| {
        let (alice, bob) = (dir.join("data/alice"), dir.join("data/bob"));
        std::fs::write(bob.join("secret.phext"), b"bob's secret").unwrap();
        std::os::unix::fs::symlink("../bob/secret.phext", alice.join("link.phext")).unwrap();
        std::fs::write(alice.join("logged.phext"), b"alice's own").unwrap();
        std::os::unix::fs::symlink("../bob/secret.phext", alice.join("logged.phext.wal")).unwrap();
        std::fs::create_dir(alice.join("folder.phext")).unwrap();
    });
    for doc in ["link", "logged", "folder"] {
        for verb in [
            "select",
            "get",
            "toc",
            "checksum",
            "status",
            "json-export",
            "load",
        ] {
            s.get_with(&format!("/api/v2/{verb}?p={doc}&c=1"), &ALICE)
                .expect(
                    403,
                    &format!("Forbidden: stored document {doc}.phext is not a regular file"),
                );
        }
        s.request(
            "POST",
            &format!("/api/v2/update?p={doc}&c=1"),
            &ALICE,
            Some(b"overwrite"),
        )
        .expect(
            403,
            &format!("Forbidden: stored document {doc}.phext is not a regular file"),
        );
    }
    let alice = s.dir.join("data/alice");
    assert!(std::fs::symlink_metadata(alice.join("link.phext"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read(s.dir.join("data/bob/secret.phext")).unwrap(),
        b"bob's secret"
    );
    assert_eq!(
        std::fs::read(alice.join("logged.phext")).unwrap(),
        b"alice's own"
    );
    // Other documents of the tenant are unaffected.
    s.get_with("/api/v2/update?p=notes&c=1&s=fine", &ALICE)
        .expect(200, "Updated 4 bytes");
}

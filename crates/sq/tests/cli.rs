//! The command line: start-up errors exit 1 with a usage line; version and help.

mod common;

use std::process::Output;

use common::*;

fn sq(dir: &std::path::Path, args: &[&str]) -> Output {
    sq_command(dir).args(args).output().unwrap()
}

#[test]
fn startup_errors_exit_1_with_a_usage_line() {
    let temp = tempfile::tempdir().unwrap();
    std::fs::write(temp.path().join("bad.json"), "{ not json").unwrap();
    std::fs::write(
        temp.path().join("shared.json"),
        r#"{"tenants": {"a": {"name": "one", "data_dir": "d"}, "b": {"name": "two", "data_dir": "d"}}}"#,
    )
    .unwrap();
    let cases: [&[&str]; 17] = [
        &["host"],
        &["host", "notaport"],
        &["host", "0", "--bogus"],
        &["host", "0", "--key"],
        &["host", "0", "--key", ""],
        &["host", "0", "--key", " padded"],
        &["host", "0", "--config", "bad.json"],
        &["host", "0", "--config", "missing.json"],
        &["host", "0", "--config", "shared.json"],
        &["host", "0", "--config", "bad.json", "--key", "k"],
        &["host", "0", "--config", "bad.json", "--data-dir", "d"],
        &["host", "0", "--bind", "not-an-address"],
        &["host", "0", "--workers", "0"],
        &["host", "0", "--workers", "many"],
        &["host", "0", "--max-body", "2000000000"],
        &["host", "0", "--trust-proxy", "proxy.example"],
        &["host", "0", "--idle-checkpoint-secs", "-1"],
    ];
    for args in cases {
        let output = sq(temp.path(), args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.to_lowercase().contains("usage"),
            "{args:?}: {stderr}"
        );
    }
    let shared =
        String::from_utf8_lossy(&sq(temp.path(), &["host", "0", "--config", "shared.json"]).stderr)
            .into_owned();
    assert!(
        shared.contains("tenants 'one' and 'two' share the data directory"),
        "{shared}"
    );
}

#[test]
fn a_port_in_use_is_a_startup_error() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port().to_string();
    let temp = tempfile::tempdir().unwrap();
    let output = sq(temp.path(), &["host", &port]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot bind"));
}

#[test]
fn version_and_help() {
    let temp = tempfile::tempdir().unwrap();
    let version = sq(temp.path(), &["version"]);
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        env!("CARGO_PKG_VERSION")
    );
    for args in [
        &["--help"][..],
        &["host", "--help"],
        &["tenants", "generate", "--help"],
    ] {
        let help = sq(temp.path(), args);
        assert!(help.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&help.stdout).contains("Usage"),
            "{args:?}"
        );
    }
}

#[test]
fn workers_sets_the_number_of_request_threads() {
    for workers in ["1", "3"] {
        let s = Server::start(&["--workers", workers]);
        let metrics = s.get("/metrics");
        assert_eq!(metrics.status, 200);
        let line = format!("sq_worker_threads {workers}\n");
        assert!(metrics.text().contains(&line), "{}", metrics.text());
    }
}

#[test]
fn flags_come_in_any_order_and_the_data_dir_is_created() {
    let mut s = Server::start(&[
        "--data-dir",
        "deep/new/dir",
        "--key",
        "k",
        "--bind",
        "127.0.0.1",
    ]);
    s.get_with("/api/v2/update?c=1&s=x", &[("Authorization", "k")])
        .expect(200, "Updated 1 bytes");
    assert!(s.terminate().success());
    assert!(s.dir.join("deep/new/dir/.phext").is_file());
}

#[test]
fn a_second_server_on_the_same_data_refuses_to_start() {
    let first = Server::start(&["--data-dir", "shared"]);
    let output = sq(&first.dir, &["host", "0", "--data-dir", "shared"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("in use by another SQ process"), "{stderr}");
    first
        .get("/api/v2/version")
        .expect(200, env!("CARGO_PKG_VERSION"));
}

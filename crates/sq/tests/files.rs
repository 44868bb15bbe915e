//! File descriptors under a tight limit: many new documents over many tenants never turn
//! into failed writes, and `/metrics` shows the budget.

mod common;

use std::io::{BufReader, Write};

use common::*;

#[test]
fn six_hundred_new_documents_under_a_256_file_limit() {
    let temp = tempfile::tempdir().unwrap();
    let tokens: Vec<String> = generate_tenants(temp.path(), 20)
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    // An operator, to read /metrics.
    let config = temp.path().join("tenants.json");
    let mut root: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    root["admin_key"] = "admin-secret".into();
    std::fs::write(&config, root.to_string()).unwrap();
    let server = Server::start_with_open_file_limit(
        temp.path(),
        &["--config", "tenants.json", "--idle-checkpoint-secs", "0"],
        256,
    );
    let stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let mut send = stream.try_clone().unwrap();
    let mut replies = BufReader::new(stream);
    let mut ask = |method: &str, target: &str, token: &str, body: Option<&[u8]>| {
        send.write_all(&build_request(
            method,
            target,
            &[("Authorization", token)],
            body,
        ))
        .unwrap();
        read_reply(&mut replies).unwrap()
    };
    for d in 0..600 {
        let token = &tokens[d % 20];
        let text = format!("document {d}");
        ask(
            "POST",
            &format!("/api/v2/update?p=doc{d}&c=1"),
            token,
            Some(text.as_bytes()),
        )
        .expect(200, &format!("Updated {} bytes", text.len()));
    }
    for d in 0..600 {
        ask(
            "GET",
            &format!("/api/v2/select?p=doc{d}&c=1"),
            &tokens[d % 20],
            None,
        )
        .expect(200, &format!("document {d}"));
    }
    let metrics = server.get_with("/metrics", &[("Authorization", "Bearer admin-secret")]);
    assert_eq!(metrics.status, 200, "{}", metrics.text());
    let value = |name: &str| -> f64 {
        let text = metrics.text();
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} in /metrics"));
        line[name.len() + 1..].parse().unwrap()
    };
    assert_eq!(value("sq_open_files_limit"), 256.0);
    assert_eq!(value("sq_open_log_files_budget"), 96.0);
    assert!(value("sq_open_log_files") <= 96.0);
    assert!(value("sq_open_files") < 256.0);
}

//! 10,000 tenants in one process: 2,000 of them write a 10 KB document each, and the
//! server's resident memory stays within the configured budget.

mod common;

use std::io::{BufReader, Write};
use std::time::Instant;

use common::*;

const BUDGET_MB: u64 = 2;

#[test]
fn ten_thousand_tenants_within_the_memory_budget() {
    let temp = tempfile::tempdir().unwrap();
    let tokens: Vec<String> = generate_tenants(temp.path(), 10_000)
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    assert_eq!(tokens.len(), 10_000);

    let started = Instant::now();
    let budget = BUDGET_MB.to_string();
    let server = Server::start_in(
        temp.path(),
        &["--config", "tenants.json", "--max-resident-mb", &budget],
    );
    let startup = started.elapsed();
    let baseline = rss_bytes(server.pid());

    // 2,000 tenants, 10 KB each (a scroll of 100 lines), over 4 keep-alive connections.
    let document: Vec<u8> = (0..100)
        .flat_map(|i| format!("{:<99}\n", format!("scroll {i}")).into_bytes())
        .collect();
    let port = server.port;
    std::thread::scope(|scope| {
        for lane in 0..4 {
            let (tokens, document) = (&tokens, &document);
            scope.spawn(move || {
                let stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                let mut send = stream.try_clone().unwrap();
                let mut replies = BufReader::new(stream);
                for t in (lane..2000).step_by(4) {
                    let headers = [("Authorization", tokens[t].as_str())];
                    send.write_all(&build_request(
                        "POST",
                        "/api/v2/update?p=doc&c=1",
                        &headers,
                        Some(document),
                    ))
                    .unwrap();
                    read_reply(&mut replies)
                        .unwrap()
                        .expect(200, "Updated 10000 bytes");
                }
            });
        }
    });
    let after = rss_bytes(server.pid());
    let grown = after.saturating_sub(baseline);
    eprintln!(
        "scale: start-up with 10,000 tenants {startup:?}; RSS {} MiB at start, {} MiB after 2,000 x 10 KB \
         (grew {} MiB; budget {BUDGET_MB} MiB; the data written is 20 MB)",
        baseline >> 20,
        after >> 20,
        grown >> 20
    );
    // Without eviction the process grows by about 22 MiB here; allow the budget plus
    // what 2,000 touched tenants, the blocking pool and the allocator keep regardless.
    assert!(
        grown < (BUDGET_MB + 10) << 20,
        "resident memory grew {} MiB",
        grown >> 20
    );

    // Evicted documents come back on demand.
    for t in [0usize, 777, 1999] {
        let reply = server.get_with(
            "/api/v2/select?p=doc&c=1",
            &[("Authorization", tokens[t].as_str())],
        );
        assert_eq!(reply.body.len(), 10_000, "tenant {t}");
        assert!(reply.text().starts_with("scroll 0 "));
    }
    let untouched = server.get_with(
        "/api/v2/status?p=doc",
        &[("Authorization", tokens[9999].as_str())],
    );
    untouched.expect(
        200,
        "Hosting: doc.phext\nConnection ID: 0\nPhext Size: 0\nScrolls: 0",
    );
}

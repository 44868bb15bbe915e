//! SIGKILL under write load: after a restart every acknowledged write is there, and
//! every stored file parses. Checkpoints and evictions happen during the run too.

mod common;

use std::io::{BufReader, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;

const TENANTS: usize = 4;
const WRITERS: usize = 8;

fn token(tenant: usize) -> String {
    format!("crash-token-{tenant}")
}

fn start(dir: &Path) -> Server {
    Server::start_in(
        dir,
        &[
            "--config",
            "tenants.json",
            "--checkpoint-kb",
            "8",
            "--max-resident-mb",
            "1",
        ],
    )
}

/// What one writer got acknowledged.
struct Acked {
    appends: usize,
    last_update: Option<usize>,
}

/// Appends `w:i;` to its own scroll and overwrites another with `i`, on one keep-alive
/// connection, until the server dies or `stop` is set.
fn writer(port: u16, round: usize, w: usize, stop: Arc<AtomicBool>) -> Acked {
    let mut acked = Acked {
        appends: 0,
        last_update: None,
    };
    let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return acked;
    };
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut send = stream.try_clone().expect("clone");
    let mut replies = BufReader::new(stream);
    let auth = token(w % TENANTS);
    let headers = [("Authorization", auth.as_str())];
    for i in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let append = build_request(
            "GET",
            &format!("/api/v2/insert?p=crash{round}&c={}&s={w}:{i};", w + 1),
            &headers,
            None,
        );
        if send.write_all(&append).is_err() {
            break;
        }
        match read_reply(&mut replies) {
            Some(reply) if reply.status == 200 => acked.appends = i + 1,
            _ => break,
        }
        let update = build_request(
            "GET",
            &format!("/api/v2/update?p=crash{round}&c={}&s={i}", 100 + w),
            &headers,
            None,
        );
        if send.write_all(&update).is_err() {
            break;
        }
        match read_reply(&mut replies) {
            Some(reply) if reply.status == 200 => acked.last_update = Some(i),
            _ => break,
        }
    }
    acked
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let temp = tempfile::tempdir().unwrap();
    let tenants: Vec<(String, String, String)> = (0..TENANTS)
        .map(|t| (token(t), format!("t{t}"), format!("data/t{t}")))
        .collect();
    let refs: Vec<(&str, &str, &str)> = tenants
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    write_config(&temp.path().join("tenants.json"), None, &refs);

    let mut history: Vec<Vec<Acked>> = Vec::new();
    for round in 0..3 {
        let mut server = start(temp.path());
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (port, stop) = (server.port, stop.clone());
                std::thread::spawn(move || writer(port, round, w, stop))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(1500));
        server.kill();
        stop.store(true, Ordering::Relaxed);
        let acked: Vec<Acked> = writers.into_iter().map(|w| w.join().unwrap()).collect();
        assert!(
            acked.iter().map(|a| a.appends).sum::<usize>() > 0,
            "round {round}: nothing was written"
        );
        history.push(acked);

        // Restart and check this round and every earlier one.
        let server = start(temp.path());
        for (earlier, acked) in history.iter().enumerate() {
            for (w, acked) in acked.iter().enumerate() {
                let headers = [("Authorization", token(w % TENANTS))];
                let headers: Vec<(&str, &str)> =
                    headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
                let text = server
                    .get_with(
                        &format!("/api/v2/select?p=crash{earlier}&c={}", w + 1),
                        &headers,
                    )
                    .text();
                let expected: String = (0..acked.appends).map(|i| format!("{w}:{i};")).collect();
                assert!(
                    text.starts_with(&expected),
                    "round {earlier} writer {w}: lost acknowledged appends"
                );
                let extra = &text[expected.len()..];
                assert!(
                    extra.is_empty() || extra == format!("{w}:{};", acked.appends),
                    "round {earlier} writer {w}: unexpected tail {extra:?}"
                );
                let value = server
                    .get_with(
                        &format!("/api/v2/select?p=crash{earlier}&c={}", 100 + w),
                        &headers,
                    )
                    .text();
                if let Some(last) = acked.last_update {
                    assert!(
                        value == last.to_string() || value == (last + 1).to_string(),
                        "round {earlier} writer {w}: {value} after {last}"
                    );
                }
            }
        }
        drop(server);
    }
    // Every stored checkpoint is a valid phext, and checkpoints did happen under load.
    let mut checkpoints = 0;
    for tenant in 0..TENANTS {
        for entry in std::fs::read_dir(temp.path().join(format!("data/t{tenant}"))).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "phext") {
                let bytes = std::fs::read(&path).unwrap();
                assert!(
                    phext::Document::parse(&bytes).is_ok(),
                    "{} does not parse",
                    path.display()
                );
                checkpoints += 1;
            }
        }
    }
    assert!(checkpoints > 0, "no checkpoint was written during the run");
}

//! Durability and storage behaviour over HTTP: concurrent appends, restarts, corrupt
//! files, and the on-disk form.

mod common;

use std::sync::Arc;

use common::*;

#[test]
fn five_hundred_concurrent_appends_are_all_kept() {
    // 500 clients, all from 127.0.0.1: no per-address cap.
    let s = Arc::new(Server::start(&["--max-connections-per-address", "0"]));
    let workers: Vec<_> = (0..500)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || s.get("/api/v2/insert?p=counter&c=7&s=x").status)
        })
        .collect();
    let statuses: Vec<u16> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    assert!(statuses.iter().all(|&status| status == 200), "{statuses:?}");
    s.get("/api/v2/select?p=counter&c=7")
        .expect(200, &"x".repeat(500));
    let Ok(mut s) = Arc::try_unwrap(s) else {
        panic!("workers still hold the server")
    };
    assert!(s.terminate().success());
    let on_disk = std::fs::read(s.dir.join("counter.phext")).unwrap();
    assert_eq!(on_disk.len(), 6 + 500, "six scroll breaks, then the text");
}

#[test]
fn data_survives_a_restart() {
    let temp = tempfile::tempdir().unwrap();
    {
        let mut s = Server::start_in(temp.path(), &["--data-dir", "store"]);
        s.get("/api/v2/update?p=diary&c=2.1&s=remember+me")
            .expect(200, "Updated 11 bytes");
        s.get("/api/v2/update?p=diary&c=1&s=first")
            .expect(200, "Updated 5 bytes");
        assert!(s.terminate().success());
    }
    let s = Server::start_in(temp.path(), &["--data-dir", "store"]);
    s.get("/api/v2/select?p=diary&c=2.1")
        .expect(200, "remember me");
    s.get("/api/v2/toc?p=diary").expect(
        200,
        "* 1.1.1/1.1.1/1.1.1: first\n* 2.1.1/1.1.1/1.1.1: remember me\n",
    );
    assert_eq!(
        std::fs::read(temp.path().join("store/diary.phext")).unwrap(),
        b"first\x01remember me",
        "the file is the canonical phext"
    );
}

#[test]
fn existing_files_are_served_canonically() {
    let s = Server::start_with(
        |dir| {
            std::fs::copy(
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../../testdata/corpus/world.phext"
                ),
                dir.join("world.phext"),
            )
            .map(|_| ())
            .unwrap()
        },
        &[],
    );
    let original = std::fs::read(s.dir.join("world.phext")).unwrap();
    let canonical = phext::normalize(&original).unwrap();
    assert_eq!(s.get("/api/v2/get?p=world").body, canonical);
    assert_eq!(
        s.get("/api/v2/checksum?p=world").text(),
        phext::checksum(&canonical)
    );
    assert!(s
        .get("/api/v2/toc?p=world")
        .text()
        .contains("* 5.80.42/3.4.17/8.4.5: "));
}

#[test]
fn a_corrupt_file_is_refused_and_never_overwritten() {
    let bad = b"valid start\x17\xff\xfe not utf-8".to_vec();
    let s = Server::start_with(
        |dir| std::fs::write(dir.join("broken.phext"), &bad).unwrap(),
        &[],
    );
    let expected = "Internal Server Error: stored document broken.phext is not valid phext";
    s.get("/api/v2/select?p=broken&c=1").expect(500, expected);
    s.get("/api/v2/update?p=broken&c=1&s=overwrite")
        .expect(500, expected);
    s.get("/api/v2/toc?p=broken").expect(500, expected);
    s.get("/api/v2/load?p=broken").expect(500, expected);
    assert_eq!(std::fs::read(s.dir.join("broken.phext")).unwrap(), bad);
    // Other documents are unaffected, and once the file is repaired `load` picks it up.
    s.get("/api/v2/update?p=fine&c=1&s=ok")
        .expect(200, "Updated 2 bytes");
    std::fs::write(s.dir.join("broken.phext"), b"repaired").unwrap();
    s.get("/api/v2/load?p=broken")
        .expect(200, "Loaded broken.phext");
    s.get("/api/v2/select?p=broken&c=1").expect(200, "repaired");
}

#[test]
fn load_rereads_the_file() {
    let s = Server::start(&[]);
    s.get("/api/v2/update?p=doc&c=1&s=cached")
        .expect(200, "Updated 6 bytes");
    std::fs::write(s.dir.join("doc.phext"), b"edited by hand\x17second").unwrap();
    s.get("/api/v2/select?p=doc&c=1").expect(200, "cached");
    s.get("/api/v2/load?p=doc").expect(200, "Loaded doc.phext");
    s.get("/api/v2/select?p=doc&c=2").expect(200, "second");
}

#[test]
fn a_failed_write_changes_nothing() {
    // Files may not grow past 64 KiB: a larger write fails in the kernel (EFBIG).
    let temp = tempfile::tempdir().unwrap();
    {
        let s = Server::start_with_file_limit(temp.path(), &[], 64 * 1024);
        s.get("/api/v2/update?p=doc&c=1&s=before")
            .expect(200, "Updated 6 bytes");
        let big = "b".repeat(100 * 1024);
        s.post("/api/v2/update?p=doc&c=2", big.as_bytes())
            .expect(500, "Internal Server Error");
        s.post("/api/v2/insert?p=doc&c=1", big.as_bytes())
            .expect(500, "Internal Server Error");
        s.get("/api/v2/select?p=doc&c=1").expect(200, "before");
        s.get("/api/v2/select?p=doc&c=2").expect(200, "");
        s.get("/api/v2/update?p=doc&c=3&s=after")
            .expect(200, "Updated 5 bytes");
        // Killed: nothing is checkpointed, recovery must rely on the log alone.
    }
    let s = Server::start_in(temp.path(), &[]);
    s.get("/api/v2/get?p=doc")
        .expect(200, "before\x17\x17after");
    let leftovers: Vec<String> = files_under(temp.path())
        .into_iter()
        .filter(|f| f.contains(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temp files left behind: {leftovers:?}"
    );
}

#[test]
fn large_bodies_come_back_byte_for_byte() {
    // Past the size where a body is sent as its own part of a vectored write.
    let s = Server::start(&[]);
    let text: String = (0..200_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    s.post("/api/v2/update?p=big&c=1.1.1/1.1.1/1.1.2", text.as_bytes())
        .expect(200, "Updated 200000 bytes");
    s.get("/api/v2/select?p=big&c=1.1.1/1.1.1/1.1.2")
        .expect(200, &text);
    let whole = s.get("/api/v2/get?p=big");
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body, [b"\x17".as_slice(), text.as_bytes()].concat());
}

/// The id of a process that has exited.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

/// A kill during a checkpoint leaves its temp file behind; the next server removes such
/// files when it first uses the directory, and nothing else.
#[test]
fn temp_files_a_crash_left_are_removed() {
    let pid = dead_pid();
    let stale = [
        format!(".notes.phext.tmp-{pid}-0"),
        format!(".notes.phext.wal.tmp-{pid}-3"),
        format!("..phext.tmp-{pid}-7"),
    ];
    let kept = [
        ".notes.phext.tmp-abc".to_owned(),
        format!("notes.phext.tmp-{pid}-1"),
        format!(".notes.txt.tmp-{pid}-1"),
        "keep.txt".to_owned(),
    ];
    let s = Server::start_with(
        |dir| {
            let data = dir.join("store");
            std::fs::create_dir(&data).unwrap();
            for name in stale.iter().chain(&kept) {
                std::fs::write(data.join(name), vec![b'x'; 4096]).unwrap();
            }
        },
        &["--data-dir", "store"],
    );
    s.get("/api/v2/select?p=notes&c=1").expect(200, "");
    let mut left: Vec<String> = std::fs::read_dir(s.dir.join("store"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with(".sq.journal"))
        .collect();
    left.sort();
    let mut expected = kept.to_vec();
    expected.sort();
    assert_eq!(left, expected);
}

/// The same beside a multi-tenant config: temp files of admin edits.
#[test]
fn temp_files_of_config_edits_are_removed_at_start() {
    let pid = dead_pid();
    let stale = format!(".tenants.json.tmp-{pid}-2");
    let s = Server::start_with(
        |dir| {
            write_config(&dir.join("tenants.json"), None, &[("t", "a", "data/a")]);
            std::fs::write(dir.join(&stale), b"{\"tenants\": {").unwrap();
            std::fs::write(dir.join(format!(".sq.journal.tmp-{pid}-0")), b"").unwrap();
        },
        &["--config", "tenants.json"],
    );
    s.get_with("/api/v2/version", &[("Authorization", "t")])
        .expect(200, env!("CARGO_PKG_VERSION"));
    let names: Vec<String> = std::fs::read_dir(&s.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.contains(".tmp-")),
        "stale temp files left: {names:?}"
    );
}

/// Contract §10.18: a document that stops changing is checkpointed within seconds, so a
/// copy of a running server's directory (or any phext tool) sees every write.
#[test]
fn an_idle_document_reaches_its_phext_file_within_seconds() {
    let s = Server::start(&["--idle-checkpoint-secs", "1"]);
    s.get("/api/v2/update?p=idle&c=1&s=written")
        .expect(200, "Updated 7 bytes");
    s.get("/api/v2/insert?p=idle&c=2&s=+and+more")
        .expect(200, "Inserted 9 bytes");
    let (phext, wal) = (s.dir.join("idle.phext"), s.dir.join("idle.phext.wal"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::read(&phext).ok().as_deref() != Some(&b"written\x17 and more"[..])
        || wal.exists()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the .phext file never caught up with the log"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    s.get("/api/v2/select?p=idle&c=2").expect(200, " and more");
}

/// Writes that a killed server left only in a log reach the `.phext` file soon after the
/// next start, even if nobody asks for the document.
#[test]
fn logs_left_by_a_crash_are_checkpointed_after_the_next_start() {
    let temp = tempfile::tempdir().unwrap();
    let mut first = Server::start_in(temp.path(), &["--idle-checkpoint-secs", "0"]);
    first
        .get("/api/v2/update?p=left&c=1&s=from+before+the+crash")
        .expect(200, "Updated 21 bytes");
    first
        .get("/api/v2/update?c=2&s=default")
        .expect(200, "Updated 7 bytes");
    first.kill();
    assert!(temp.path().join("left.phext.wal").exists());
    assert!(!temp.path().join("left.phext").exists());
    let _second = Server::start_in(temp.path(), &["--idle-checkpoint-secs", "1"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let left = std::fs::read(temp.path().join("left.phext")).ok();
        let default = std::fs::read(temp.path().join(".phext")).ok();
        if left.as_deref() == Some(&b"from before the crash"[..])
            && default.as_deref() == Some(&b"\x17default"[..])
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the logs were never folded in: {left:?} {default:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

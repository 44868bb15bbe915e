//! The storage engine against its own files: recovery, torn and corrupt logs, faults,
//! group commit, checkpoints and eviction.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use phext::Coordinate;

use super::*;
use crate::log::format::{self, Base};
use crate::log::local::disk::faulty::{Faults, FaultyDisk};
use crate::log::local::journal;
use crate::log::{Body, Position, Record};

fn c(s: &str) -> Coordinate {
    s.parse().unwrap()
}

fn name(s: &str) -> DocName {
    DocName::parse(s.as_bytes()).unwrap()
}

fn settings() -> StoreSettings {
    StoreSettings::default()
}

/// Opens a store; a store dropped just before may still have a detached commit task
/// holding its journal lock, so let the runtime finish it (boundedly).
async fn open_store(settings: StoreSettings) -> Store {
    try_open_store(settings).await.unwrap()
}

/// Opens a store once the previous one has let go of the journal lock.
async fn try_open_store(settings: StoreSettings) -> std::io::Result<Store> {
    for _ in 0..200 {
        match Store::new(settings.clone()) {
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await
            }
            opened => return opened,
        }
    }
    panic!("the journal lock was never released")
}

/// A temporary directory with an empty `data` directory in it.
fn temp_with_data() -> (tempfile::TempDir, std::path::PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    (temp, data)
}

async fn select(dir: &Directory, doc: &str, at: &str) -> String {
    let at = c(at);
    dir.read(&name(doc), |d| d.select(&at).to_owned())
        .await
        .unwrap()
}

async fn bytes(dir: &Directory, doc: &str) -> Vec<u8> {
    dir.read(&name(doc), phext::Document::to_bytes)
        .await
        .unwrap()
}

fn update(at: &str, text: &str) -> Edit {
    Edit::Update(c(at), text.into())
}

#[tokio::test]
async fn writes_survive_a_crash_through_the_log() {
    let temp = tempfile::tempdir().unwrap();
    {
        let store = open_store(settings()).await;
        let dir = store.directory(temp.path());
        dir.write(&name("doc"), &update("1", "one"), None)
            .await
            .unwrap();
        dir.write(&name("doc"), &Edit::Insert(c("1"), " more".into()), None)
            .await
            .unwrap();
        dir.write(&name("doc"), &update("2.1", "two"), None)
            .await
            .unwrap();
        dir.write(&name("doc"), &Edit::Delete(c("2.1")), None)
            .await
            .unwrap();
        dir.write(&name("doc"), &update("3", "three"), None)
            .await
            .unwrap();
        // Dropped without a checkpoint: as after SIGKILL, only the log has the writes.
    }
    assert!(!temp.path().join("doc.phext").exists());
    assert!(temp.path().join("doc.phext.wal").exists());
    let store = open_store(settings()).await;
    let dir = store.directory(temp.path());
    assert_eq!(bytes(&dir, "doc").await, b"one more\x17\x17three");
}

#[tokio::test]
async fn a_checkpoint_folds_the_log_into_the_phext_file() {
    let temp = tempfile::tempdir().unwrap();
    let store = open_store(StoreSettings {
        checkpoint_bytes: 200,
        ..settings()
    })
    .await;
    let dir = store.directory(temp.path());
    for i in 0..20 {
        dir.write(
            &name("doc"),
            &update(&format!("{}", i + 1), "some scroll text"),
            None,
        )
        .await
        .unwrap();
    }
    let on_disk = std::fs::read(temp.path().join("doc.phext")).unwrap();
    let doc = phext::Document::parse(&on_disk).unwrap();
    assert!(
        doc.len() >= 10,
        "checkpoints happened along the way: {}",
        doc.len()
    );
    store.checkpoint_all().await;
    assert_eq!(
        std::fs::read(temp.path().join("doc.phext")).unwrap(),
        bytes(&dir, "doc").await
    );
    assert!(
        !temp.path().join("doc.phext.wal").exists(),
        "the log is gone after a checkpoint"
    );
}

fn write_log(path: &Path, base: &[u8], edits: &[Edit]) -> Vec<usize> {
    let mut log = format::header(Base::of(base), 1, Position::default());
    let mut ends = Vec::new();
    for (n, edit) in (1..).zip(edits) {
        let record = Record {
            seq: n,
            version: n,
            time_ms: 0,
            body: Body::Edit(edit.clone()),
        };
        format::encode(&record, &mut log);
        ends.push(log.len());
    }
    std::fs::write(path, &log).unwrap();
    ends
}

#[tokio::test]
async fn a_torn_tail_is_discarded_and_cut_off() {
    let temp = tempfile::tempdir().unwrap();
    std::fs::write(temp.path().join("doc.phext"), b"base").unwrap();
    let log = temp.path().join("doc.phext.wal");
    let ends = write_log(
        &log,
        b"base",
        &[update("2", "kept"), update("3", "torn away")],
    );
    // Tear the last record in half, as a crash mid-append would.
    let torn_len = (ends[0] + ends[1]) / 2;
    let file = std::fs::OpenOptions::new().write(true).open(&log).unwrap();
    file.set_len(torn_len as u64).unwrap();
    drop(file);

    let store = open_store(settings()).await;
    let dir = store.directory(temp.path());
    assert_eq!(bytes(&dir, "doc").await, b"base\x17kept");
    assert_eq!(
        std::fs::metadata(&log).unwrap().len(),
        torn_len as u64,
        "opening a document writes nothing"
    );
    dir.write(&name("doc"), &update("4", "after"), None)
        .await
        .unwrap();
    let format::Contents::Records {
        records, discarded, ..
    } = format::decode(&std::fs::read(&log).unwrap())
    else {
        panic!("a log");
    };
    assert_eq!(discarded, 0, "the torn tail was cut off before the append");
    assert_eq!(records.len(), 2);
    drop(dir);
    drop(store);
    let store = Store::new(settings()).unwrap();
    assert_eq!(
        bytes(&store.directory(temp.path()), "doc").await,
        b"base\x17kept\x17\x17after"
    );
}

#[tokio::test]
async fn a_corrupt_record_ends_replay() {
    let temp = tempfile::tempdir().unwrap();
    let log = temp.path().join("doc.phext.wal");
    let ends = write_log(
        &log,
        b"",
        &[
            update("1", "good"),
            update("2", "flipped"),
            update("3", "after"),
        ],
    );
    let mut raw = std::fs::read(&log).unwrap();
    raw[ends[0] + 20] ^= 0xFF;
    std::fs::write(&log, &raw).unwrap();
    let store = open_store(settings()).await;
    assert_eq!(bytes(&store.directory(temp.path()), "doc").await, b"good");
}

#[tokio::test]
async fn a_log_already_folded_in_is_not_replayed_twice() {
    let temp = tempfile::tempdir().unwrap();
    // The checkpoint already holds the append; the log still names the older base.
    std::fs::write(temp.path().join("doc.phext"), b"ab").unwrap();
    write_log(
        &temp.path().join("doc.phext.wal"),
        b"a",
        &[Edit::Insert(c("1"), "b".into())],
    );
    let store = open_store(settings()).await;
    assert_eq!(bytes(&store.directory(temp.path()), "doc").await, b"ab");
    assert!(!temp.path().join("doc.phext.wal").exists());
}

#[tokio::test]
async fn corrupt_files_are_refused_and_never_written() {
    let temp = tempfile::tempdir().unwrap();
    std::fs::write(temp.path().join("bad.phext"), b"\xff\xfe").unwrap();
    write_log(
        &temp.path().join("bad.phext.wal"),
        b"\xff\xfe",
        &[update("1", "x")],
    );
    std::fs::write(
        temp.path().join("foreign.phext.wal"),
        b"something else entirely, not a log",
    )
    .unwrap();
    let store = open_store(settings()).await;
    let dir = store.directory(temp.path());
    for doc in ["bad", "foreign"] {
        assert!(matches!(
            dir.read(&name(doc), |_| ()).await,
            Err(StoreError::Corrupt { .. })
        ));
        assert!(matches!(
            dir.write(&name(doc), &update("1", "y"), None).await,
            Err(StoreError::Corrupt { .. })
        ));
    }
    store.checkpoint_all().await;
    assert_eq!(
        std::fs::read(temp.path().join("bad.phext")).unwrap(),
        b"\xff\xfe"
    );
    assert!(!temp.path().join("foreign.phext").exists());
    assert_eq!(
        std::fs::read(temp.path().join("foreign.phext.wal")).unwrap(),
        b"something else entirely, not a log"
    );
}

#[tokio::test]
async fn disk_full_refuses_the_write_and_leaves_no_trace() {
    let temp = tempfile::tempdir().unwrap();
    let disk = FaultyDisk::default();
    let store = Store::with_disk(settings(), Arc::new(disk.clone())).unwrap();
    let dir = store.directory(temp.path());
    dir.write(&name("doc"), &update("1", "before"), None)
        .await
        .unwrap();

    disk.faults.lock().unwrap().append = Some(libc::ENOSPC);
    let refused = dir.write(&name("doc"), &update("1", "refused"), None).await;
    assert!(matches!(refused, Err(StoreError::NoSpace)), "{refused:?}");
    assert_eq!(
        select(&dir, "doc", "1").await,
        "before",
        "reads keep working"
    );

    disk.faults.lock().unwrap().append = None;
    disk.faults.lock().unwrap().sync = Some(libc::EIO);
    let refused = dir
        .write(&name("doc"), &update("2", "also refused"), None)
        .await;
    assert!(matches!(refused, Err(StoreError::Io(_))), "{refused:?}");

    disk.faults.lock().unwrap().sync = None;
    dir.write(&name("doc"), &update("3", "after"), None)
        .await
        .unwrap();
    drop(dir);
    drop(store);
    // After a crash, only what was acknowledged is there.
    let store = Store::new(settings()).unwrap();
    assert_eq!(
        bytes(&store.directory(temp.path()), "doc").await,
        b"before\x17\x17after"
    );
}

#[tokio::test]
async fn a_failed_checkpoint_keeps_every_write_in_the_log() {
    let temp = tempfile::tempdir().unwrap();
    let disk = FaultyDisk::default();
    let store = Store::with_disk(
        StoreSettings {
            checkpoint_bytes: 1,
            ..settings()
        },
        Arc::new(disk.clone()),
    )
    .unwrap();
    let dir = store.directory(temp.path());
    dir.write(&name("doc"), &update("1", "first"), None)
        .await
        .unwrap();
    disk.faults.lock().unwrap().checkpoint = Some(libc::ENOSPC);
    // The checkpoint after this write fails; the write itself is durable in the log.
    dir.write(&name("doc"), &update("2", "second"), None)
        .await
        .unwrap();
    drop(dir);
    drop(store);
    let store = Store::new(settings()).unwrap();
    assert_eq!(
        bytes(&store.directory(temp.path()), "doc").await,
        b"first\x17second"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_share_syncs() {
    // Batch: 200 writers to 200 documents in 10 tenant directories share filesystem syncs.
    // Always: 200 writers to one document sync one by one.
    for (mode, documents) in [(SyncMode::Batch, 200), (SyncMode::Always, 1)] {
        let temp = tempfile::tempdir().unwrap();
        let disk = FaultyDisk::default();
        let store = Arc::new(
            Store::with_disk(
                StoreSettings {
                    sync: mode,
                    ..settings()
                },
                Arc::new(disk.clone()),
            )
            .unwrap(),
        );
        let dirs: Vec<_> = (0..10)
            .map(|i| {
                let path = temp.path().join(format!("tenant{i}"));
                std::fs::create_dir(&path).unwrap();
                store.directory(&path)
            })
            .collect();
        let writers: Vec<_> = (0..200)
            .map(|i| {
                let dir = dirs[(i % documents) % 10].clone();
                let doc = format!("doc{}", i % documents);
                tokio::spawn(async move {
                    dir.write(&name(&doc), &Edit::Insert(c("1"), "x".into()), None)
                        .await
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap().unwrap();
        }
        let total: usize = futures_util::future::join_all((0..documents).map(|d| {
            let dir = dirs[d % 10].clone();
            async move {
                dir.read(&name(&format!("doc{d}")), |doc| doc.select(&c("1")).len())
                    .await
                    .unwrap()
            }
        }))
        .await
        .into_iter()
        .sum();
        assert_eq!(total, 200, "{mode:?}: every write applied once");
        let syncs = disk.syncs.load(Ordering::Relaxed);
        match mode {
            SyncMode::Batch => assert!(syncs < 100, "{mode:?}: {syncs} syncs for 200 writes"),
            _ => assert_eq!(syncs, 200, "{mode:?}"),
        }
    }
}

#[tokio::test]
async fn eviction_keeps_memory_in_budget_and_documents_come_back() {
    let temp = tempfile::tempdir().unwrap();
    let store = Arc::new(
        open_store(StoreSettings {
            max_resident_bytes: 64 * 1024,
            ..settings()
        })
        .await,
    );
    let text = "y".repeat(2000);
    let dirs: Vec<_> = (0..40)
        .map(|i| {
            let path = temp.path().join(format!("t{i}"));
            std::fs::create_dir(&path).unwrap();
            store.directory(&path)
        })
        .collect();
    for (i, dir) in dirs.iter().enumerate() {
        for k in 1..=5 {
            dir.write(
                &name("doc"),
                &update(&k.to_string(), &format!("{i}-{k}-{text}")),
                None,
            )
            .await
            .unwrap();
        }
        store
            .evict_to(store.shared.settings.max_resident_bytes)
            .await;
        assert!(
            store.resident_bytes() <= 64 * 1024,
            "after tenant {i}: {}",
            store.resident_bytes()
        );
    }
    for (i, dir) in dirs.iter().enumerate() {
        assert_eq!(select(dir, "doc", "5").await, format!("{i}-5-{text}"));
        store
            .evict_to(store.shared.settings.max_resident_bytes)
            .await;
    }
    // Evicted documents were checkpointed: their logs are gone.
    let logs = (0..40)
        .filter(|i| temp.path().join(format!("t{i}/doc.phext.wal")).exists())
        .count();
    assert!(logs < 40, "{logs} logs left");
}

#[tokio::test]
async fn quotas_refuse_growth_past_the_limit_and_nothing_else() {
    let temp = tempfile::tempdir().unwrap();
    std::fs::write(temp.path().join("old.phext"), "o".repeat(600)).unwrap();
    let store = open_store(settings()).await;
    let dir = store.directory(temp.path());
    let quota = Some(1000);
    // 600 bytes already on disk (found by one scan); 300 more fit, 200 after that do not.
    dir.write(&name("doc"), &update("1", &"a".repeat(300)), quota)
        .await
        .unwrap();
    assert_eq!(dir.usage().await.unwrap(), 900);
    let refused = dir
        .write(&name("doc"), &Edit::Insert(c("1"), "b".repeat(200)), quota)
        .await;
    assert!(
        matches!(refused, Err(StoreError::QuotaExceeded)),
        "{refused:?}"
    );
    assert_eq!(
        select(&dir, "doc", "1").await,
        "a".repeat(300),
        "nothing was written"
    );
    // Shrinking and same-size writes are always allowed, even at the limit.
    dir.write(&name("doc"), &update("1", &"c".repeat(300)), quota)
        .await
        .unwrap();
    dir.write(&name("old"), &Edit::Delete(c("1")), quota)
        .await
        .unwrap();
    assert_eq!(dir.usage().await.unwrap(), 300);
    dir.write(&name("doc"), &Edit::Insert(c("2"), "d".repeat(600)), quota)
        .await
        .unwrap();
    assert_eq!(
        dir.usage().await.unwrap(),
        901,
        "a scroll break and the text"
    );
    // Without a quota, nothing is refused.
    dir.write(&name("doc"), &Edit::Insert(c("2"), "e".repeat(5000)), None)
        .await
        .unwrap();
}

fn journaled(temp: &Path) -> StoreSettings {
    StoreSettings {
        journal: Some(temp.join("sq.journal")),
        ..settings()
    }
}

#[tokio::test]
async fn the_journal_restores_log_tails_a_crash_lost() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    {
        let store = open_store(journaled(temp.path())).await;
        let dir = store.directory(&data);
        dir.write(&name("doc"), &update("1", "one"), None)
            .await
            .unwrap();
        dir.write(&name("doc"), &Edit::Insert(c("1"), "+two".into()), None)
            .await
            .unwrap();
        dir.write(&name("other"), &update("5", "five"), None)
            .await
            .unwrap();
    }
    // The logs were never synced themselves: as if power failed, cut them to their headers.
    for log in ["doc.phext.wal", "other.phext.wal"] {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(data.join(log))
            .unwrap();
        file.set_len(format::HEADER_LEN as u64).unwrap();
    }
    let store = open_store(journaled(temp.path())).await;
    let dir = store.directory(&data);
    assert_eq!(bytes(&dir, "doc").await, b"one+two");
    assert_eq!(select(&dir, "other", "5").await, "five");
    // Replayed, then started over in place: the space stays, no entry checks any more.
    let journal_bytes = std::fs::read(temp.path().join("sq.journal")).unwrap();
    assert!(journal_bytes.len() as u64 > journal::HEADER_LEN);
    assert!(journal::entries(&journal_bytes).is_empty());
}

#[tokio::test]
async fn journal_entries_for_folded_or_replaced_logs_are_skipped() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let journal_bytes = {
        let store = open_store(journaled(temp.path())).await;
        let dir = store.directory(&data);
        dir.write(&name("doc"), &Edit::Insert(c("1"), "a".into()), None)
            .await
            .unwrap();
        let journal = std::fs::read(temp.path().join("sq.journal")).unwrap();
        // A checkpoint folds the append in and removes the log.
        store.checkpoint_all().await;
        journal
    };
    // A crash left the old journal behind: its entry names a log that no longer exists.
    std::fs::write(temp.path().join("sq.journal"), &journal_bytes).unwrap();
    {
        let store = open_store(journaled(temp.path())).await;
        assert_eq!(
            bytes(&store.directory(&data), "doc").await,
            b"a",
            "not appended twice"
        );
    }
    // Same again with a new log at the same path (another id): still skipped.
    {
        let store = open_store(journaled(temp.path())).await;
        let dir = store.directory(&data);
        dir.write(&name("doc"), &update("2", "b"), None)
            .await
            .unwrap();
    }
    std::fs::write(temp.path().join("sq.journal"), &journal_bytes).unwrap();
    let store = open_store(journaled(temp.path())).await;
    assert_eq!(bytes(&store.directory(&data), "doc").await, b"a\x17b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_group_commits_writers_to_many_documents() {
    let temp = tempfile::tempdir().unwrap();
    let disk = FaultyDisk::default();
    let store = Store::with_disk(journaled(temp.path()), Arc::new(disk.clone())).unwrap();
    let dirs: Vec<_> = (0..10)
        .map(|i| {
            let path = temp.path().join(format!("tenant{i}"));
            std::fs::create_dir(&path).unwrap();
            store.directory(&path)
        })
        .collect();
    let writers: Vec<_> = (0..200)
        .map(|i| {
            let dir = dirs[i % 10].clone();
            tokio::spawn(async move {
                dir.write(&name(&format!("doc{i}")), &update("1", "x"), None)
                    .await
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap().unwrap();
    }
    let syncs = disk.syncs.load(Ordering::Relaxed);
    assert!(syncs < 100, "{syncs} syncs for 200 writes to 200 documents");
}

#[tokio::test]
async fn a_failed_journal_write_refuses_and_leaves_no_trace() {
    let (temp, data) = temp_with_data();
    let disk = FaultyDisk::default();
    {
        let store = Store::with_disk(journaled(temp.path()), Arc::new(disk.clone())).unwrap();
        let dir = store.directory(&data);
        dir.write(&name("doc"), &update("1", "kept"), None)
            .await
            .unwrap();
        // The journal's sync fails once; wiping the refused entry out succeeds.
        *disk.faults.lock().unwrap() = Faults {
            sync: Some(libc::ENOSPC),
            sync_failures_left: Some(1),
            ..Faults::default()
        };
        let refused = dir.write(&name("doc"), &update("2", "refused"), None).await;
        assert!(matches!(refused, Err(StoreError::NoSpace)), "{refused:?}");
        assert_eq!(select(&dir, "doc", "2").await, "");
        dir.write(&name("doc"), &update("3", "after"), None)
            .await
            .unwrap();
    }
    let store = open_store(journaled(temp.path())).await;
    assert_eq!(
        bytes(&store.directory(&data), "doc").await,
        b"kept\x17\x17after"
    );
}

#[tokio::test]
async fn a_journal_write_that_cannot_be_wiped_out_refuses_writes_until_restart() {
    let (temp, data) = temp_with_data();
    let disk = FaultyDisk::default();
    {
        let store = Store::with_disk(journaled(temp.path()), Arc::new(disk.clone())).unwrap();
        let dir = store.directory(&data);
        dir.write(&name("doc"), &update("1", "kept"), None)
            .await
            .unwrap();
        disk.faults.lock().unwrap().sync = Some(libc::EIO);
        let refused = dir.write(&name("doc"), &update("2", "refused"), None).await;
        assert!(refused.is_err());
        disk.faults.lock().unwrap().sync = None;
        let after = dir.write(&name("doc"), &update("3", "after"), None).await;
        let message = after.unwrap_err().to_string();
        assert!(message.contains("restart SQ"), "{message}");
    }
    let store = open_store(journaled(temp.path())).await;
    let dir = store.directory(&data);
    assert_eq!(
        bytes(&dir, "doc").await,
        b"kept",
        "the refused write stays out"
    );
    dir.write(&name("doc"), &update("3", "after"), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn recovery_syncs_the_logs_a_journal_vouched_for_before_emptying_it() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    {
        let store = open_store(journaled(temp.path())).await;
        let dir = store.directory(&data);
        dir.write(&name("doc"), &update("1", "one"), None)
            .await
            .unwrap();
        // The process dies here: the log is complete, but maybe only in the page cache.
        std::mem::forget(store);
    }
    let journal_lock = temp.path().join("sq.journal.lock");
    let _ = std::fs::remove_file(&journal_lock);
    let disk = FaultyDisk::default();
    let store = Store::with_disk(journaled(temp.path()), Arc::new(disk.clone())).unwrap();
    assert!(
        disk.syncs.load(Ordering::Relaxed) >= 1,
        "the intact log was not synced before the journal was emptied"
    );
    assert_eq!(bytes(&store.directory(&data), "doc").await, b"one");
}

#[tokio::test]
async fn a_journal_that_cannot_grow_refuses_writes_until_there_is_room_again() {
    let (temp, data) = temp_with_data();
    let disk = FaultyDisk::default();
    {
        let store = Store::with_disk(journaled(temp.path()), Arc::new(disk.clone())).unwrap();
        let dir = store.directory(&data);
        // The journal starts as a bare header: the first group has to grow it. When its
        // sync fails, the space it grew into is given back.
        *disk.faults.lock().unwrap() = Faults {
            sync: Some(libc::ENOSPC),
            sync_failures_left: Some(1),
            ..Faults::default()
        };
        let refused = dir.write(&name("doc"), &update("1", "refused"), None).await;
        assert!(matches!(refused, Err(StoreError::NoSpace)), "{refused:?}");
        let journal = std::fs::metadata(temp.path().join("sq.journal")).unwrap();
        assert_eq!(journal.len(), journal::HEADER_LEN);
        // With no room at all, nothing lands.
        disk.faults.lock().unwrap().grow = Some(libc::ENOSPC);
        let refused = dir.write(&name("doc"), &update("1", "refused"), None).await;
        assert!(matches!(refused, Err(StoreError::NoSpace)), "{refused:?}");
        let again = dir.write(&name("doc"), &update("2", "again"), None).await;
        assert!(matches!(again, Err(StoreError::NoSpace)), "{again:?}");
        disk.faults.lock().unwrap().grow = None;
        dir.write(&name("doc"), &update("3", "room again"), None)
            .await
            .unwrap();
    }
    let store = open_store(journaled(temp.path())).await;
    assert_eq!(
        bytes(&store.directory(&data), "doc").await,
        b"\x17\x17room again"
    );
}

#[tokio::test]
async fn a_damaged_journal_header_stops_start_up() {
    let temp = tempfile::tempdir().unwrap();
    {
        let store = open_store(journaled(temp.path())).await;
        let data = temp.path().join("data");
        std::fs::create_dir(&data).unwrap();
        store
            .directory(&data)
            .write(&name("doc"), &update("1", "x"), None)
            .await
            .unwrap();
    }
    let path = temp.path().join("sq.journal");
    let mut journal = std::fs::read(&path).unwrap();
    journal[12] ^= 0x40;
    std::fs::write(&path, &journal).unwrap();
    let refused = try_open_store(journaled(temp.path())).await;
    let message = refused.err().expect("start-up refused").to_string();
    assert!(message.contains("journal header"), "{message}");
    assert_eq!(std::fs::read(&path).unwrap(), journal, "left as it was");
}

#[tokio::test]
async fn a_full_journal_starts_over_after_syncing_every_log() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    {
        let store = open_store(StoreSettings {
            journal_max_bytes: 500,
            ..journaled(temp.path())
        })
        .await;
        let dir = store.directory(&data);
        for i in 1..=30 {
            dir.write(&name("doc"), &update(&i.to_string(), "some text"), None)
                .await
                .unwrap();
        }
        let file = std::fs::read(temp.path().join("sq.journal")).unwrap();
        let live = journal::entries(&file).len();
        assert!(live < 10, "{live} entries: it never started over");
        assert!(
            file.len() as u64 <= journal::HEADER_LEN + journal::EXTEND_BY,
            "journal is {} bytes: it grew instead of being reused",
            file.len()
        );
    }
    let store = open_store(journaled(temp.path())).await;
    let dir = store.directory(&data);
    assert_eq!(dir.read(&name("doc"), |d| d.len()).await.unwrap(), 30);
}

#[tokio::test]
async fn small_views_are_kept_until_the_document_changes_and_charged_meanwhile() {
    let temp = tempfile::tempdir().unwrap();
    let store = open_store(settings()).await;
    let dir = store.directory(temp.path());
    dir.write(&name("doc"), &update("1", "one"), None)
        .await
        .unwrap();
    let toc = || async { dir.read_view(&name("doc"), View::Toc).await.unwrap() };
    let before = store.resident_bytes();
    let first = toc().await;
    assert_eq!(first, "* 1.1.1/1.1.1/1.1.1: one\n");
    assert_eq!(
        store.resident_bytes(),
        before + 25,
        "the kept view is charged"
    );
    assert_eq!(toc().await.as_ptr(), first.as_ptr(), "rendered once");
    // Another view is its own.
    let checksum = dir.read_view(&name("doc"), View::Checksum).await.unwrap();
    assert_eq!(checksum.len(), 32);

    dir.write(&name("doc"), &update("2", "two"), None)
        .await
        .unwrap();
    let second = toc().await;
    assert_eq!(
        second,
        "* 1.1.1/1.1.1/1.1.1: one\n* 1.1.1/1.1.1/1.1.2: two\n"
    );
    assert_ne!(second.as_ptr(), first.as_ptr(), "an edit drops it");

    store.evict_to(0).await;
    assert_eq!(
        store.resident_bytes(),
        0,
        "unloading releases the views too"
    );
}

/// A large view is one allocation shared by every reader of a version, charged to the
/// view budget while any answer holds it, and freed with the last.
#[tokio::test]
async fn large_views_are_shared_by_their_readers_and_charged_while_held() {
    let temp = tempfile::tempdir().unwrap();
    let store = open_store(settings()).await;
    let dir = store.directory(temp.path());
    let text = "x".repeat(100_000);
    dir.write(&name("doc"), &update("1", &text), None)
        .await
        .unwrap();
    let first = dir.read_view(&name("doc"), View::Bytes).await.unwrap();
    let second = dir.read_view(&name("doc"), View::Bytes).await.unwrap();
    assert_eq!(
        first.as_ptr(),
        second.as_ptr(),
        "one rendering for both readers"
    );
    assert_eq!(store.view_bytes(), 100_000);
    let scroll = dir
        .read_view(&name("doc"), View::Scroll(c("1")))
        .await
        .unwrap();
    let again = dir
        .read_view(&name("doc"), View::Scroll(c("1")))
        .await
        .unwrap();
    assert_eq!(scroll.as_ptr(), again.as_ptr());
    assert_eq!(store.view_bytes(), 200_000);
    drop((first, scroll, again));
    assert_eq!(store.view_bytes(), 100_000, "held by the second answer");
    // A write makes a new version; the old view lives on with its holder.
    dir.write(&name("doc"), &Edit::Insert(c("1"), "y".into()), None)
        .await
        .unwrap();
    let newer = dir.read_view(&name("doc"), View::Bytes).await.unwrap();
    assert_eq!(newer.len(), 100_001);
    assert_eq!(&second[..], text.as_bytes(), "the old answer is unchanged");
    drop((second, newer));
    assert_eq!(store.view_bytes(), 0);
    // A costly view is kept with its document (charged to the resident budget), even
    // once no answer holds it.
    let resident = store.resident_bytes();
    let json = dir.read_view(&name("doc"), View::Json).await.unwrap();
    let kept_ptr = json.as_ptr();
    assert_eq!(store.resident_bytes(), resident + json.len() as u64);
    drop(json);
    assert_eq!(store.view_bytes(), 0);
    let again = dir.read_view(&name("doc"), View::Json).await.unwrap();
    assert_eq!(again.as_ptr(), kept_ptr, "not rendered again");
}

/// With the view budget spent by answers still held, a request that needs a new large
/// view waits for room, then is refused; one that finds its view already rendered is
/// served, and so is everything once the held answers go.
#[tokio::test]
async fn the_view_budget_bounds_what_held_answers_pin() {
    let temp = tempfile::tempdir().unwrap();
    let store = open_store(StoreSettings {
        max_view_bytes: 250_000,
        view_wait: std::time::Duration::from_millis(100),
        ..settings()
    })
    .await;
    let dir = store.directory(temp.path());
    for doc in ["a", "b", "c"] {
        dir.write(&name(doc), &update("1", &"x".repeat(100_000)), None)
            .await
            .unwrap();
    }
    let held_a = dir.read_view(&name("a"), View::Bytes).await.unwrap();
    let held_b = dir.read_view(&name("b"), View::Json).await.unwrap();
    assert!(store.view_bytes() >= 200_000);
    let refused = dir.read_view(&name("c"), View::Bytes).await;
    assert!(
        matches!(refused, Err(StoreError::Unavailable { .. })),
        "{refused:?}"
    );
    let refused = dir.read_charged(&name("c"), |doc| doc.to_bytes()).await;
    assert!(
        matches!(refused, Err(StoreError::Unavailable { .. })),
        "{refused:?}"
    );
    let shared = dir.read_view(&name("a"), View::Bytes).await.unwrap();
    assert_eq!(
        shared.as_ptr(),
        held_a.as_ptr(),
        "an existing view needs no room"
    );
    // Small answers never wait.
    assert_eq!(
        dir.read_view(&name("c"), View::Checksum)
            .await
            .unwrap()
            .len(),
        32
    );
    drop((held_a, held_b, shared));
    assert_eq!(store.view_bytes(), 0);
    assert_eq!(
        dir.read_view(&name("c"), View::Bytes).await.unwrap().len(),
        100_000
    );
}

/// A removed tenant's directory is detached before its files move: requests still under
/// way with its handle must not load, write or recreate anything at the old path, where
/// a new tenant may start.
#[tokio::test]
async fn a_detached_directory_is_never_touched_again() {
    let (temp, data) = temp_with_data();
    let store = open_store(settings()).await;
    let old = store.directory(&data);
    old.write(&name("doc"), &update("1", "old owner"), None)
        .await
        .unwrap();
    store
        .detach(&TenantId::for_name(&data.to_string_lossy()), &data)
        .await;
    let archived = temp.path().join("archived");
    std::fs::rename(&data, &archived).unwrap();
    std::fs::create_dir(&data).unwrap();

    let write = old.write(&name("doc"), &update("1", "late"), None).await;
    assert!(matches!(write, Err(StoreError::Gone)), "{write:?}");
    let read = old.read(&name("doc"), |d| d.len()).await;
    assert!(matches!(read, Err(StoreError::Gone)), "{read:?}");
    let other = old.write(&name("other"), &update("1", "late"), None).await;
    assert!(matches!(other, Err(StoreError::Gone)), "{other:?}");
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0);

    let fresh = store.directory(&data);
    assert_eq!(select(&fresh, "doc", "1").await, "");
    assert_eq!(
        std::fs::read(archived.join("doc.phext")).unwrap(),
        b"old owner"
    );
}

/// A reload that gives a tenant a new data directory: requests under way keep the old
/// one until it is detached, new ones get the new one, and detaching the old one leaves
/// the new one alone.
#[tokio::test]
async fn a_tenant_moved_to_another_directory_is_served_from_there() {
    let (temp, first) = temp_with_data();
    let second = temp.path().join("second");
    std::fs::create_dir(&second).unwrap();
    let store = open_store(settings()).await;
    let id = TenantId::parse("alice").unwrap();
    let old = store.tenant(&id, &first);
    assert!(
        Arc::ptr_eq(&old, &store.tenant(&id, &first)),
        "one state per tenant"
    );
    old.write(&name("doc"), &update("1", "first"), None)
        .await
        .unwrap();

    let new = store.tenant(&id, &second);
    assert!(!Arc::ptr_eq(&old, &new));
    new.write(&name("doc"), &update("1", "second"), None)
        .await
        .unwrap();
    assert_eq!(
        select(&old, "doc", "1").await,
        "first",
        "still served until detached"
    );
    store.detach(&id, &first).await;
    let late = old.write(&name("doc"), &update("1", "late"), None).await;
    assert!(matches!(late, Err(StoreError::Gone)), "{late:?}");
    assert_eq!(std::fs::read(first.join("doc.phext")).unwrap(), b"first");
    assert_eq!(select(&new, "doc", "1").await, "second");
    assert!(Arc::ptr_eq(&new, &store.tenant(&id, &second)));
}

/// A reload that renames a tenant but keeps its directory keeps one state for it: two
/// would write the same files.
#[tokio::test]
async fn a_renamed_tenant_keeps_the_state_of_its_directory() {
    let (_temp, data) = temp_with_data();
    let store = open_store(settings()).await;
    let (before, after) = (
        TenantId::parse("before").unwrap(),
        TenantId::parse("after").unwrap(),
    );
    let old = store.tenant(&before, &data);
    old.write(&name("doc"), &update("1", "kept"), None)
        .await
        .unwrap();
    let renamed = store.tenant(&after, &data);
    assert!(Arc::ptr_eq(&old, &renamed));
    // Retiring the old name touches nothing: the directory is the new name's now.
    store.detach(&before, &data).await;
    renamed
        .write(&name("doc"), &update("2", "more"), None)
        .await
        .unwrap();
    assert_eq!(select(&renamed, "doc", "1").await, "kept");
}

/// Two tenants that swap directories in one reload: each directory keeps its one state,
/// and retiring the old pairs closes neither.
#[tokio::test]
async fn tenants_swapping_directories_keep_one_state_per_directory() {
    let (temp, first) = temp_with_data();
    let second = temp.path().join("second");
    std::fs::create_dir(&second).unwrap();
    let store = open_store(settings()).await;
    let (a, b) = (TenantId::parse("a").unwrap(), TenantId::parse("b").unwrap());
    let (a_first, b_second) = (store.tenant(&a, &first), store.tenant(&b, &second));
    let a_second = store.tenant(&a, &second);
    let b_first = store.tenant(&b, &first);
    assert!(
        Arc::ptr_eq(&a_first, &b_first),
        "the first directory's one state"
    );
    assert!(
        Arc::ptr_eq(&b_second, &a_second),
        "the second directory's one state"
    );
    store.detach(&a, &first).await;
    store.detach(&b, &second).await;
    for (directory, text) in [(&b_first, "first"), (&a_second, "second")] {
        directory
            .write(&name("doc"), &update("1", text), None)
            .await
            .unwrap();
        assert_eq!(select(directory, "doc", "1").await, text);
    }
}

/// A refused write that could not be cut back out of the log (its sync failed, then the
/// truncation) is never replayed: the document is checkpointed before it is let go of.
#[tokio::test]
async fn a_refused_write_left_in_the_log_is_never_replayed() {
    let temp = tempfile::tempdir().unwrap();
    let settings = StoreSettings {
        sync: SyncMode::Always,
        idle_checkpoint: None,
        ..settings()
    };
    let disk = FaultyDisk::default();
    let store = Store::with_disk(settings.clone(), Arc::new(disk.clone())).unwrap();
    let dir = store.directory(temp.path());
    dir.write(&name("doc"), &update("1", "kept"), None)
        .await
        .unwrap();
    store.checkpoint_all().await;
    *disk.faults.lock().unwrap() = Faults {
        sync: Some(libc::EIO),
        truncate: Some(libc::EIO),
        ..Faults::default()
    };
    let refused = dir.write(&name("doc"), &update("2", "refused"), None).await;
    assert!(refused.is_err(), "{refused:?}");
    *disk.faults.lock().unwrap() = Faults::default();
    store.evict_to(0).await;
    drop((dir, store));

    let store = Store::new(settings).unwrap();
    let dir = store.directory(temp.path());
    assert_eq!(select(&dir, "doc", "1").await, "kept");
    assert_eq!(
        select(&dir, "doc", "2").await,
        "",
        "the refused write stays refused"
    );
}

/// Log files stay within their budget however many documents are written: the least
/// recently used is closed and reopened at its next write, and nothing is lost.
#[tokio::test]
async fn open_log_files_stay_within_their_budget() {
    let temp = tempfile::tempdir().unwrap();
    let settings = StoreSettings {
        max_open_logs: 4,
        idle_checkpoint: None,
        ..settings()
    };
    let store = open_store(settings.clone()).await;
    let dir = store.directory(temp.path());
    for round in 0..2 {
        for i in 0..20 {
            dir.write(
                &name(&format!("d{i}")),
                &update(&format!("{}", round + 1), "x"),
                None,
            )
            .await
            .unwrap();
            let (open, budget) = store.open_log_files().unwrap();
            assert_eq!(budget, 4);
            assert!(open <= 4, "{open} log files open");
        }
    }
    drop((dir, store));
    let store = open_store(settings).await;
    let dir = store.directory(temp.path());
    for i in 0..20 {
        let doc = format!("d{i}");
        assert_eq!(select(&dir, &doc, "1").await, "x");
        assert_eq!(select(&dir, &doc, "2").await, "x");
    }
    assert_eq!(store.open_log_files(), Some((0, 4)), "reading opens no log");
}

/// Polls `probe` every 20 ms for up to 10 s.
async fn eventually(what: &str, mut probe: impl FnMut() -> bool) {
    for _ in 0..500 {
        if probe() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_document_is_checkpointed_after_its_last_write() {
    let (_temp, data) = temp_with_data();
    let store = Arc::new(
        open_store(StoreSettings {
            idle_checkpoint: Some(std::time::Duration::from_millis(200)),
            ..settings()
        })
        .await,
    );
    tokio::spawn(store.clone().run_idle_checkpoints());
    let dir = store.directory(&data);
    let (phext, wal) = (data.join("doc.phext"), data.join("doc.phext.wal"));
    for text in ["first", "second"] {
        dir.write(&name("doc"), &update("1", text), None)
            .await
            .unwrap();
        dir.write(&name("doc"), &update("2", "x"), None)
            .await
            .unwrap();
        let expected = format!("{text}\x17x");
        eventually("the .phext to hold every write", || {
            std::fs::read(&phext).ok().as_deref() == Some(expected.as_bytes()) && !wal.exists()
        })
        .await;
    }
    assert_eq!(select(&dir, "doc", "1").await, "second");
}

/// Opens a store on `disk` once the previous one has let go of the journal lock.
async fn open_store_on(settings: StoreSettings, disk: &FaultyDisk) -> Store {
    for _ in 0..200 {
        match Store::with_disk(settings.clone(), Arc::new(disk.clone())) {
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await
            }
            opened => return opened.unwrap(),
        }
    }
    panic!("the journal lock was never released")
}

/// A disk with no free block at all.
fn full() -> Faults {
    Faults {
        append: Some(libc::ENOSPC),
        grow: Some(libc::ENOSPC),
        replace: Some(libc::ENOSPC),
        ..Faults::default()
    }
}

/// Start-up after a crash on a full disk: recovery needs no space it does not free, reads
/// are served, writes answer "no space" until there is room, then work without a restart.
#[tokio::test]
async fn a_full_disk_does_not_stop_start_up() {
    let (temp, data) = temp_with_data();
    {
        let store = open_store(journaled(temp.path())).await;
        let dir = store.directory(&data);
        dir.write(&name("doc"), &update("1", "kept"), None)
            .await
            .unwrap();
        dir.write(&name("other"), &update("1", "also kept"), None)
            .await
            .unwrap();
        // Dropped without a checkpoint, as after SIGKILL.
    }
    let disk = FaultyDisk::default();
    *disk.faults.lock().unwrap() = full();
    {
        let store = open_store_on(journaled(temp.path()), &disk).await;
        let dir = store.directory(&data);
        assert_eq!(select(&dir, "doc", "1").await, "kept");
        assert_eq!(select(&dir, "other", "1").await, "also kept");
        let refused = dir.write(&name("doc"), &update("2", "no room"), None).await;
        assert!(matches!(refused, Err(StoreError::NoSpace)), "{refused:?}");
        let refused = dir.write(&name("new"), &update("1", "no room"), None).await;
        assert!(matches!(refused, Err(StoreError::NoSpace)), "{refused:?}");
        *disk.faults.lock().unwrap() = Faults::default();
        dir.write(&name("doc"), &update("2", "room again"), None)
            .await
            .unwrap();
    }
    let store = open_store(journaled(temp.path())).await;
    let dir = store.directory(&data);
    assert_eq!(bytes(&dir, "doc").await, b"kept\x17room again");
    assert_eq!(bytes(&dir, "new").await, b"");
}

/// With no journal yet and no room to create it, the server starts; the journal is
/// created by the first write that finds room.
#[tokio::test]
async fn a_journal_without_room_is_created_by_the_first_write_that_fits() {
    let (temp, data) = temp_with_data();
    let disk = FaultyDisk::default();
    *disk.faults.lock().unwrap() = full();
    let settings = journaled(temp.path());
    {
        let store = open_store_on(settings.clone(), &disk).await;
        assert!(!temp.path().join("sq.journal").exists());
        let dir = store.directory(&data);
        let refused = dir.write(&name("doc"), &update("1", "no room"), None).await;
        assert!(matches!(refused, Err(StoreError::NoSpace)), "{refused:?}");
        *disk.faults.lock().unwrap() = Faults::default();
        dir.write(&name("doc"), &update("1", "fits"), None)
            .await
            .unwrap();
        assert!(temp.path().join("sq.journal").exists());
    }
    let store = open_store(settings).await;
    assert_eq!(select(&store.directory(&data), "doc", "1").await, "fits");
}

/// An idle checkpoint that fails (a full disk) is tried again later, not given up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_idle_checkpoint_is_tried_again() {
    let (temp, data) = temp_with_data();
    let disk = FaultyDisk::default();
    disk.faults.lock().unwrap().checkpoint = Some(libc::ENOSPC);
    let store = Arc::new(
        open_store_on(
            StoreSettings {
                idle_checkpoint: Some(std::time::Duration::from_millis(50)),
                ..journaled(temp.path())
            },
            &disk,
        )
        .await,
    );
    tokio::spawn(store.clone().run_idle_checkpoints());
    let dir = store.directory(&data);
    dir.write(&name("doc"), &update("1", "kept"), None)
        .await
        .unwrap();
    // Let a few tries fail.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!data.join("doc.phext").exists());
    disk.faults.lock().unwrap().checkpoint = None;
    let phext = data.join("doc.phext");
    eventually("the idle checkpoint to succeed once there is room", || {
        std::fs::read(&phext).ok().as_deref() == Some(&b"kept"[..])
    })
    .await;
}

/// A journal entry whose log has since become a link (placed by hand or a restore) does
/// not stop start-up; the link is neither followed nor written, and the document refuses.
#[tokio::test]
async fn a_journal_entry_for_a_linked_log_is_skipped() {
    let (temp, data) = temp_with_data();
    {
        let store = open_store(journaled(temp.path())).await;
        let dir = store.directory(&data);
        dir.write(&name("doc"), &update("1", "journaled"), None)
            .await
            .unwrap();
    }
    let elsewhere = temp.path().join("elsewhere");
    std::fs::rename(data.join("doc.phext.wal"), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, data.join("doc.phext.wal")).unwrap();
    let before = std::fs::read(&elsewhere).unwrap();
    let store = open_store(journaled(temp.path())).await;
    let read = store.directory(&data).read(&name("doc"), |d| d.len()).await;
    assert!(
        matches!(read, Err(StoreError::NotRegular { .. })),
        "{read:?}"
    );
    assert_eq!(std::fs::read(&elsewhere).unwrap(), before);
}

//! The log format in files, through the store: logs written by the previous release,
//! batches cut by a crash at every byte, records and versions this build does not know,
//! and the counters a checkpoint keeps.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use phext::Coordinate;

use super::disk::faulty::FaultyDisk;
use super::disk::RealDisk;
use super::LocalLogs;
use crate::log::format::{self, Base};
use crate::log::{Body, Position, Record, TenantLog};
use crate::{DocName, Edit, Store, StoreError, StoreSettings, SyncMode};

fn c(s: &str) -> Coordinate {
    s.parse().unwrap()
}

fn doc(s: &str) -> DocName {
    DocName::parse(s.as_bytes()).unwrap()
}

fn settings() -> StoreSettings {
    StoreSettings {
        idle_checkpoint: None,
        ..StoreSettings::default()
    }
}

async fn text(store: &Store, dir: &Path, name: &str, at: &str) -> Result<String, StoreError> {
    store
        .directory(dir)
        .read(&doc(name), |d| d.select(&c(at)).to_owned())
        .await
}

/// The tenant's records with their (seq, version), through a log of its own.
async fn numbers(dir: &Path) -> Vec<(String, u64, u64)> {
    let logs = LocalLogs::open(Arc::new(RealDisk), SyncMode::Batch, None, 64).unwrap();
    logs.tenant(dir.to_path_buf())
        .scan(0)
        .await
        .unwrap()
        .into_iter()
        .map(|(name, r)| (name.as_str().to_owned(), r.seq, r.version))
        .collect()
}

/// The files of the tenant directory, by name, with their bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    found.sort();
    found
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/v2-logs")
}

#[tokio::test]
async fn logs_of_the_previous_release_load_and_are_rewritten_at_the_next_checkpoint() {
    // Written by SQ 1.0.0 over HTTP and left behind by a SIGKILL (testdata/v2-logs).
    let temp = tempfile::tempdir().unwrap();
    for file in ["based.phext", "based.phext.wal", "logonly.phext.wal"] {
        std::fs::copy(fixtures().join(file), temp.path().join(file)).unwrap();
    }
    let before = files(temp.path());
    let store = Store::new(settings()).unwrap();
    let dir = temp.path();
    assert_eq!(
        text(&store, dir, "based", "1.1.1/1.1.1/1.1.1")
            .await
            .unwrap(),
        "from the log"
    );
    assert_eq!(
        text(&store, dir, "based", "1.1.2/1.1.1/1.1.1")
            .await
            .unwrap(),
        "series two"
    );
    assert_eq!(
        text(&store, dir, "logonly", "1").await.unwrap(),
        "only in the log"
    );
    assert_eq!(
        text(&store, dir, "logonly", "3.1.1/1.1.1/1.1.1")
            .await
            .unwrap(),
        "line one\nline two"
    );
    assert_eq!(files(dir), before, "reading changes no byte");

    // The first write folds the old log into the checkpoint, then logs in version 3.
    store
        .directory(dir)
        .write(&doc("based"), &Edit::Update(c("2"), "new".into()), None)
        .await
        .unwrap();
    let log = std::fs::read(dir.join("based.phext.wal")).unwrap();
    assert_eq!(&log[..8], b"SQWAL03\n");
    assert_eq!(
        numbers(dir).await,
        [("based".into(), 1, 3)],
        "the two old records were versions 1 and 2"
    );
    store.checkpoint_all().await;
    assert!(!dir.join("based.phext.wal").exists());
    assert!(!dir.join("logonly.phext.wal").exists());
    let marker = std::fs::read(dir.join("logonly.phext.checkpoint")).unwrap();
    let (_, covered) = format::marker::decode(&marker).unwrap();
    assert_eq!(covered, Position { seq: 0, version: 2 });
    drop(store);

    let store = Store::new(settings()).unwrap();
    assert_eq!(text(&store, dir, "based", "2").await.unwrap(), "new");
    assert_eq!(
        text(&store, dir, "logonly", "1").await.unwrap(),
        "only in the log"
    );
}

fn record(seq: u64, version: u64, body: Body) -> Record {
    Record {
        seq,
        version,
        time_ms: 0,
        body,
    }
}

#[tokio::test]
async fn a_crash_anywhere_inside_a_batch_leaves_all_of_it_or_none() {
    let mut log = format::header(Base::of(b""), 1, Position::default());
    format::encode(
        &record(1, 1, Body::Edit(Edit::Update(c("1"), "before".into()))),
        &mut log,
    );
    let batch_starts = log.len();
    let batch = Body::Batch(vec![
        Edit::Update(c("2"), "two".into()),
        Edit::Update(c("3"), "three".into()),
        Edit::Delete(c("1")),
    ]);
    format::encode(&record(2, 2, batch), &mut log);
    let temp = tempfile::tempdir().unwrap();
    for cut in batch_starts..=log.len() {
        let dir = temp.path().join(format!("cut-{cut}"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("doc.phext.wal"), &log[..cut]).unwrap();
        let store = Store::new(settings()).unwrap();
        let seen = (
            text(&store, &dir, "doc", "1").await.unwrap(),
            text(&store, &dir, "doc", "2").await.unwrap(),
            text(&store, &dir, "doc", "3").await.unwrap(),
        );
        let expected = if cut == log.len() {
            (String::new(), "two".into(), "three".into())
        } else {
            ("before".into(), String::new(), String::new())
        };
        assert_eq!(seen, expected, "cut at byte {cut}");
    }
}

/// A log whose second record has kind `kind`, its checksum intact.
fn log_with_kind(kind: u8) -> Vec<u8> {
    let mut log = format::header(Base::of(b"kept"), 1, Position::default());
    format::encode(
        &record(1, 1, Body::Edit(Edit::Insert(c("1"), "!".into()))),
        &mut log,
    );
    let start = log.len();
    format::encode(
        &record(2, 2, Body::Edit(Edit::Insert(c("1"), "?".into()))),
        &mut log,
    );
    let payload = start + 12;
    log[payload + 24] = kind;
    let checksum = xxhash_rust::xxh3::xxh3_64(&log[payload..]);
    log[start + 4..payload].copy_from_slice(&checksum.to_le_bytes());
    log
}

#[tokio::test]
async fn a_record_of_unknown_kind_or_a_newer_log_is_refused_and_left_byte_identical() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    std::fs::write(dir.join("unknown.phext"), b"kept").unwrap();
    std::fs::write(dir.join("unknown.phext.wal"), log_with_kind(77)).unwrap();
    let mut newer = log_with_kind(1);
    newer[5..7].copy_from_slice(b"07");
    std::fs::write(dir.join("newer.phext"), b"kept").unwrap();
    std::fs::write(dir.join("newer.phext.wal"), &newer).unwrap();
    let before = files(dir);

    let store = Store::new(settings()).unwrap();
    let directory = store.directory(dir);
    for (name, words) in [
        ("unknown", "unknown.phext.wal holds a record of kind 77"),
        ("newer", "newer.phext.wal is log format version 7"),
    ] {
        for _ in 0..2 {
            match text(&store, dir, name, "1").await {
                Err(StoreError::Corrupt { reason, .. }) => {
                    assert!(reason.contains(words), "{reason}")
                }
                other => panic!("{name}: {other:?}"),
            }
            let write = directory
                .write(&doc(name), &Edit::Update(c("2"), "x".into()), None)
                .await;
            assert!(
                matches!(write, Err(StoreError::Corrupt { .. })),
                "{write:?}"
            );
            directory.reload(&doc(name)).await.unwrap_err();
        }
    }
    store.checkpoint_all().await;
    store.evict_to(0).await;
    // Another document of the tenant is served and numbered as usual.
    directory
        .write(&doc("other"), &Edit::Update(c("1"), "fine".into()), None)
        .await
        .unwrap();
    store.checkpoint_all().await;
    let after: Vec<_> = files(dir)
        .into_iter()
        .filter(|(name, _)| !name.starts_with("other."))
        .collect();
    assert_eq!(after, before, "every byte as it was");
}

#[tokio::test]
async fn versions_go_on_after_checkpoints_restarts_and_a_checkpoint_that_failed() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let write = |store: &Store, at: &'static str| {
        let directory = store.directory(dir);
        async move {
            directory
                .write(&doc("doc"), &Edit::Update(c(at), at.into()), None)
                .await
                .unwrap();
        }
    };
    let store = Store::new(settings()).unwrap();
    write(&store, "1").await;
    write(&store, "2").await;
    store.checkpoint_all().await;
    assert!(!dir.join("doc.phext.wal").exists());
    drop(store);

    // The marker kept the counters although the log is gone.
    let disk = FaultyDisk::default();
    let store = Store::with_disk(settings(), Arc::new(disk.clone())).unwrap();
    write(&store, "3").await;
    assert_eq!(numbers(dir).await, [("doc".into(), 3, 3)]);
    // The marker is written, then the `.phext` fails: the log still holds version 3.
    disk.faults.lock().unwrap().checkpoint = Some(libc::EIO);
    store.checkpoint_all().await;
    assert!(dir.join("doc.phext.wal").exists());
    drop(store);

    let store = Store::new(settings()).unwrap();
    assert_eq!(text(&store, dir, "doc", "3").await.unwrap(), "3");
    write(&store, "4").await;
    assert_eq!(
        numbers(dir).await,
        [("doc".into(), 3, 3), ("doc".into(), 4, 4)]
    );
}

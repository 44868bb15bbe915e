//! The contract every [`TenantLog`] keeps, run against each implementation: the local
//! files and the in-memory log. A "restart" is a new log over the same storage.

use std::sync::Arc;

use phext::Coordinate;

use super::local::disk::faulty::FaultyDisk;
use super::local::LocalLogs;
use super::memory::{MemoryFaults, MemoryTenantLog};
use super::{Body, Position, Record, TenantLog};
use crate::edit::Edit;
use crate::name::DocName;
use crate::{Directory, Store, StoreError, StoreSettings, SyncMode};

/// One implementation under test.
struct Backend {
    /// A log over the same storage as every other this backend made (a restart).
    open: Box<dyn Fn() -> Arc<dyn TenantLog>>,
    /// Makes appends fail (true) or work again (false).
    fail_appends: Box<dyn Fn(bool)>,
    _dir: Option<tempfile::TempDir>,
}

fn local() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let disk = FaultyDisk::default();
    let faults = disk.faults.clone();
    Backend {
        open: Box::new(move || {
            let logs = LocalLogs::open(Arc::new(disk.clone()), SyncMode::Batch, None, 64).unwrap();
            Arc::new(logs.tenant(path.clone()))
        }),
        fail_appends: Box::new(move |fail| {
            faults.lock().unwrap().append = fail.then_some(libc::EIO);
        }),
        _dir: Some(dir),
    }
}

fn memory() -> Backend {
    let log = MemoryTenantLog::new();
    let faults = log.clone();
    Backend {
        open: Box::new(move || Arc::new(log.clone())),
        fail_appends: Box::new(move |fail| {
            faults.set_faults(MemoryFaults {
                failed_appends: if fail { u32::MAX } else { 0 },
                ..MemoryFaults::default()
            })
        }),
        _dir: None,
    }
}

fn backends() -> [(&'static str, Backend); 2] {
    [("local", local()), ("memory", memory())]
}

fn c(s: &str) -> Coordinate {
    s.parse().unwrap()
}

fn doc(name: &str) -> DocName {
    DocName::parse(name.as_bytes()).unwrap()
}

fn edit(seq: u64, version: u64, at: &str, text: &str) -> Record {
    Record {
        seq,
        version,
        time_ms: 1_000 + seq,
        body: Body::Edit(Edit::Update(c(at), text.into())),
    }
}

#[tokio::test]
async fn an_unknown_document_opens_empty() {
    for (which, backend) in backends() {
        let log = (backend.open)();
        let opened = log.open(&doc("new")).await.unwrap();
        assert!(opened.checkpoint.is_empty(), "{which}");
        assert_eq!(opened.covered, Position::default(), "{which}");
        assert!(opened.tail.is_empty(), "{which}");
        assert!(opened.log.is_empty(), "{which}");
        assert!(log.list().await.unwrap().is_empty(), "{which}");
        assert_eq!(log.last_seq().await.unwrap(), 0, "{which}");
    }
}

#[tokio::test]
async fn appended_records_come_back_in_order_after_a_restart() {
    for (which, backend) in backends() {
        let log = (backend.open)();
        let mut a = log.open(&doc("a")).await.unwrap().log;
        let mut b = log.open(&doc("b")).await.unwrap().log;
        a.append(&[edit(1, 1, "1", "one"), edit(2, 2, "2", "two")])
            .await
            .unwrap();
        b.append(&[edit(3, 1, "1", "b-one")]).await.unwrap();
        let batch = Record {
            seq: 4,
            version: 3,
            time_ms: 9,
            body: Body::Batch(vec![Edit::Insert(c("3"), "x".into()), Edit::Delete(c("1"))]),
        };
        a.append(std::slice::from_ref(&batch)).await.unwrap();
        assert!(!a.is_empty(), "{which}");
        drop((a, b, log));

        let log = (backend.open)();
        let opened = log.open(&doc("a")).await.unwrap();
        assert_eq!(
            opened.tail,
            vec![
                edit(1, 1, "1", "one"),
                edit(2, 2, "2", "two"),
                batch.clone()
            ],
            "{which}"
        );
        assert_eq!(log.last_seq().await.unwrap(), 4, "{which}");
        assert_eq!(
            log.list().await.unwrap(),
            vec![doc("a"), doc("b")],
            "{which}"
        );
        assert_eq!(
            log.with_records().await.unwrap(),
            vec![doc("a"), doc("b")],
            "{which}"
        );
        let scanned = log.scan(2).await.unwrap();
        let seqs: Vec<(String, u64)> = scanned
            .iter()
            .map(|(name, r)| (name.as_str().to_owned(), r.seq))
            .collect();
        assert_eq!(
            seqs,
            [("a".into(), 2), ("b".into(), 3), ("a".into(), 4)],
            "{which}: the tenant's records in sequence order"
        );
        let sizes = log.sizes().await.unwrap();
        assert!(
            sizes
                .iter()
                .any(|(name, size)| name == &doc("a") && *size > 0),
            "{which}: {sizes:?}"
        );
    }
}

#[tokio::test]
async fn a_checkpoint_covers_its_records_and_the_counters_survive_retention() {
    for (which, backend) in backends() {
        let log = (backend.open)();
        let mut a = log.open(&doc("a")).await.unwrap().log;
        a.append(&[edit(5, 1, "1", "one"), edit(6, 2, "1", "two")])
            .await
            .unwrap();
        let covered = Position { seq: 6, version: 2 };
        a.checkpoint(b"two".to_vec(), covered).await.unwrap();
        assert!(a.is_empty(), "{which}: nothing beyond the checkpoint");
        // Before retention lets the records go, a restart still sees only what follows.
        let reopened = (backend.open)().open(&doc("a")).await.unwrap();
        assert_eq!(reopened.checkpoint, b"two", "{which}");
        assert_eq!(reopened.covered, covered, "{which}");
        assert!(reopened.tail.is_empty(), "{which}");
        drop(reopened);

        a.forget_through(covered).await.unwrap();
        a.append(&[edit(7, 3, "2", "after")]).await.unwrap();
        drop((a, log));

        let log = (backend.open)();
        let opened = log.open(&doc("a")).await.unwrap();
        assert_eq!(opened.checkpoint, b"two", "{which}");
        assert_eq!(opened.covered, covered, "{which}");
        assert_eq!(opened.tail, vec![edit(7, 3, "2", "after")], "{which}");
        assert_eq!(log.last_seq().await.unwrap(), 7, "{which}");
        drop(opened);

        // Checkpointed and forgotten: numbering still goes on from the checkpoint.
        let mut a = log.open(&doc("a")).await.unwrap().log;
        let all = Position { seq: 7, version: 3 };
        a.checkpoint(b"two\x17after".to_vec(), all).await.unwrap();
        a.forget_through(all).await.unwrap();
        drop(a);
        let log = (backend.open)();
        assert_eq!(log.last_seq().await.unwrap(), 7, "{which}");
        assert!(log.with_records().await.unwrap().is_empty(), "{which}");
        assert!(log.scan(1).await.unwrap().is_empty(), "{which}");
        assert_eq!(log.list().await.unwrap(), vec![doc("a")], "{which}");
    }
}

#[tokio::test]
async fn a_failed_append_leaves_no_trace() {
    for (which, backend) in backends() {
        let log = (backend.open)();
        let mut a = log.open(&doc("a")).await.unwrap().log;
        a.append(&[edit(1, 1, "1", "kept")]).await.unwrap();
        (backend.fail_appends)(true);
        assert!(
            a.append(&[edit(2, 2, "1", "refused")]).await.is_err(),
            "{which}"
        );
        (backend.fail_appends)(false);
        a.append(&[edit(3, 2, "2", "later")]).await.unwrap();
        drop((a, log));
        let opened = (backend.open)().open(&doc("a")).await.unwrap();
        assert_eq!(
            opened.tail,
            vec![edit(1, 1, "1", "kept"), edit(3, 2, "2", "later")],
            "{which}"
        );
    }
}

/// A store whose one tenant lives in `log`.
fn store_over(log: Arc<dyn TenantLog>) -> (Store, Arc<Directory>) {
    struct One(Arc<dyn TenantLog>);
    impl crate::placement::Placement for One {
        fn place(&self, _: &crate::TenantId, _: &std::path::Path) -> crate::placement::Placed {
            crate::placement::Placed::Here(self.0.clone())
        }
    }
    let settings = StoreSettings {
        idle_checkpoint: None,
        ..StoreSettings::default()
    };
    let store = Store::with_placement(settings, Arc::new(One(log)));
    let id = crate::TenantId::parse("tenant").unwrap();
    let directory = store.tenant(&id, std::path::Path::new("/tenant"));
    (store, directory)
}

async fn text(directory: &Directory, name: &str, at: &str) -> Option<String> {
    directory
        .read(&doc(name), |d| d.get(&c(at)).map(str::to_owned))
        .await
        .unwrap()
}

#[tokio::test]
async fn the_store_numbers_versions_per_document_and_sequence_per_tenant() {
    for (which, backend) in backends() {
        let (store, directory) = store_over((backend.open)());
        for (name, at, body) in [("a", "1", "a1"), ("b", "1", "b1"), ("a", "2", "a2")] {
            directory
                .write(&doc(name), &Edit::Update(c(at), body.into()), None)
                .await
                .unwrap();
        }
        // An update that changes nothing is not logged.
        directory
            .write(&doc("a"), &Edit::Update(c("2"), "a2".into()), None)
            .await
            .unwrap();
        let log = (backend.open)();
        let scanned: Vec<(String, u64, u64)> = log
            .scan(0)
            .await
            .unwrap()
            .into_iter()
            .map(|(name, r)| (name.as_str().to_owned(), r.seq, r.version))
            .collect();
        assert_eq!(
            scanned,
            [("a".into(), 1, 1), ("b".into(), 2, 1), ("a".into(), 3, 2)],
            "{which}"
        );
        store.checkpoint_all().await;
        drop((store, directory));

        // After a restart, versions and sequence numbers go on where they were.
        let (store, directory) = store_over((backend.open)());
        assert_eq!(text(&directory, "a", "2").await.as_deref(), Some("a2"));
        directory
            .write(&doc("a"), &Edit::Update(c("3"), "a3".into()), None)
            .await
            .unwrap();
        let next: Vec<(u64, u64)> = (backend.open)()
            .scan(0)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, r)| (r.seq, r.version))
            .collect();
        assert_eq!(next, [(4, 3)], "{which}");
        drop((store, directory));
    }
}

#[tokio::test]
async fn the_store_refuses_a_failed_write_and_serves_the_rest() {
    for (which, backend) in backends() {
        let (store, directory) = store_over((backend.open)());
        let write = |at: &'static str, body: &'static str| {
            let directory = directory.clone();
            async move {
                directory
                    .write(&doc("a"), &Edit::Update(c(at), body.into()), None)
                    .await
            }
        };
        write("1", "kept").await.unwrap();
        (backend.fail_appends)(true);
        assert!(write("2", "refused").await.is_err(), "{which}: refused");
        assert_eq!(text(&directory, "a", "2").await, None, "{which}");
        (backend.fail_appends)(false);
        write("3", "later").await.unwrap();
        drop((store, directory));
        let (_store, directory) = store_over((backend.open)());
        assert_eq!(text(&directory, "a", "1").await.as_deref(), Some("kept"));
        assert_eq!(text(&directory, "a", "2").await, None, "{which}");
        assert_eq!(text(&directory, "a", "3").await.as_deref(), Some("later"));
    }
}

#[tokio::test]
async fn a_fenced_log_refuses_writes_as_fenced() {
    let log = MemoryTenantLog::new();
    let (_store, directory) = store_over(Arc::new(log.clone()));
    log.set_faults(MemoryFaults {
        fenced: true,
        ..MemoryFaults::default()
    });
    assert!(matches!(
        directory
            .write(&doc("a"), &Edit::Update(c("1"), "x".into()), None)
            .await,
        Err(StoreError::Fenced)
    ));
    assert!(log.held_records(&doc("a")).is_empty());
}

//! The shared journal: one file that makes every document's newest log records durable
//! with a single `fdatasync` per group of writers, the way Redis's append-only file does.
//!
//! A write appends its records to its document's log (no sync) and an entry naming that
//! log (path, log id, offset) with the same records to the journal, and waits for the
//! journal's group commit. On start-up, entries are replayed into the document logs (a
//! crash may have lost their unsynced tails), the logs synced, and the journal emptied.
//! When the journal grows past its limit, one `syncfs` per filesystem makes every log
//! durable and the journal starts over.
//!
//! ```text
//! entry    payload length u32 LE | xxh3-64 of payload u64 LE | payload
//! payload  path length u16 LE | log path (UTF-8) | log id u64 LE | offset u64 LE | records
//! ```

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;
use xxhash_rust::xxh3::xxh3_64;

use super::commit::Committer;
use super::disk::{Disk, LogFile};
use super::wal;

type Waiter = oneshot::Sender<Result<(), (io::ErrorKind, String)>>;

struct Open {
    file: Option<Box<dyn LogFile>>,
    len: u64,
    /// A failed append could not be cut back out: refuse until restart.
    broken: bool,
}

/// The journal file and its group commit.
pub(crate) struct Journal {
    /// Held open with an exclusive lock: a second server on the same data would
    /// interleave its writes with ours.
    _lock: std::fs::File,
    path: PathBuf,
    max_bytes: u64,
    disk: Arc<dyn Disk>,
    committer: Arc<Committer>,
    queue: Mutex<Vec<(Vec<u8>, Waiter)>>,
    open: tokio::sync::Mutex<Open>,
}

/// Encodes one entry.
pub(crate) fn entry(log_path: &Path, log_id: u64, offset: u64, records: &[u8]) -> Vec<u8> {
    let path = log_path.to_string_lossy();
    let mut payload = Vec::with_capacity(2 + path.len() + 16 + records.len());
    payload.extend_from_slice(&(path.len().min(usize::from(u16::MAX)) as u16).to_le_bytes());
    payload.extend_from_slice(path.as_bytes());
    payload.extend_from_slice(&log_id.to_le_bytes());
    payload.extend_from_slice(&offset.to_le_bytes());
    payload.extend_from_slice(records);
    let mut out = Vec::with_capacity(12 + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&xxh3_64(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

struct Entry<'a> {
    path: PathBuf,
    log_id: u64,
    offset: u64,
    records: &'a [u8],
}

/// Every intact entry, in order; decoding stops at the first torn or damaged one (it was
/// never acknowledged).
fn entries(bytes: &[u8]) -> Vec<Entry<'_>> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while let Some(head) = bytes.get(at..at + 12) {
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let checksum = u64::from_le_bytes(head[4..12].try_into().unwrap_or_default());
        let Some(payload) = bytes.get(at + 12..at + 12 + len) else {
            break;
        };
        if xxh3_64(payload) != checksum || payload.len() < 2 {
            break;
        }
        let path_len = u16::from_le_bytes([payload[0], payload[1]]) as usize;
        let Some(path) = payload
            .get(2..2 + path_len)
            .and_then(|p| std::str::from_utf8(p).ok())
        else {
            break;
        };
        let Some(fixed) = payload.get(2 + path_len..2 + path_len + 16) else {
            break;
        };
        out.push(Entry {
            path: PathBuf::from(path),
            log_id: u64::from_le_bytes(fixed[..8].try_into().unwrap_or_default()),
            offset: u64::from_le_bytes(fixed[8..].try_into().unwrap_or_default()),
            records: &payload[2 + path_len + 16..],
        });
        at += 12 + len;
    }
    out
}

/// Replays the journal at `path` into the document logs it names, makes them durable,
/// and empties the journal. Entries for logs that are gone (checkpointed) or were
/// replaced (another log id) are skipped. Returns how many entries were replayed.
pub(crate) fn recover(disk: &dyn Disk, path: &Path) -> io::Result<usize> {
    let Some(bytes) = disk.read(path)? else {
        disk.replace(path, b"")?;
        return Ok(0);
    };
    let mut logs: HashMap<PathBuf, Option<(Vec<u8>, bool)>> = HashMap::new();
    let mut replayed = 0;
    for entry in entries(&bytes) {
        if !logs.contains_key(&entry.path) {
            let content = disk.read(&entry.path)?.map(|content| (content, false));
            logs.insert(entry.path.clone(), content);
        }
        let Some(Some((content, dirty))) = logs.get_mut(&entry.path) else {
            continue;
        };
        if wal::log_id(content) != Some(entry.log_id) {
            continue;
        }
        let start = usize::try_from(entry.offset).unwrap_or(usize::MAX);
        let Some(end) = start.checked_add(entry.records.len()) else {
            continue;
        };
        if start < wal::HEADER_LEN || start > content.len() {
            continue;
        }
        if content.get(start..end) != Some(entry.records) {
            content.truncate(start);
            content.extend_from_slice(entry.records);
            *dirty = true;
        }
        replayed += 1;
    }
    for (log_path, content) in &logs {
        if let Some((content, true)) = content {
            disk.replace(log_path, content)?;
        }
    }
    if replayed > 0 {
        tracing::info!(
            entries = replayed,
            "replayed the journal into the document logs"
        );
    }
    disk.replace(path, b"")?;
    Ok(replayed)
}

impl Journal {
    /// Recovers and opens the journal at `path`.
    pub(crate) fn open(
        path: PathBuf,
        max_bytes: u64,
        disk: Arc<dyn Disk>,
        committer: Arc<Committer>,
    ) -> io::Result<Journal> {
        // A separate file: the journal itself is replaced (renamed over) on recovery, and a
        // lock on a replaced inode would guard nothing.
        let mut lock_path = path.clone().into_os_string();
        lock_path.push(".lock");
        let lock = lock_exclusively(Path::new(&lock_path))?;
        recover(&*disk, &path)?;
        let file = disk.open_log(&path)?;
        Ok(Journal {
            _lock: lock,
            path,
            max_bytes,
            disk,
            committer,
            queue: Mutex::new(Vec::new()),
            open: tokio::sync::Mutex::new(Open {
                file: Some(file),
                len: 0,
                broken: false,
            }),
        })
    }

    /// Returns once `entry` is durable (sharing the sync with everyone waiting).
    pub(crate) async fn commit(self: &Arc<Self>, entry: Vec<u8>) -> io::Result<()> {
        let (waiter, done) = oneshot::channel();
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((entry, waiter));
        // Detached, so a writer going away cannot strand the others.
        let journal = self.clone();
        tokio::spawn(async move {
            let mut open = journal.open.lock().await;
            journal.flush(&mut open).await;
        });
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err((kind, message))) => Err(io::Error::new(kind, message)),
            Err(_) => Err(io::Error::other("journal commit abandoned")),
        }
    }

    async fn flush(&self, open: &mut Open) {
        loop {
            let batch =
                std::mem::take(&mut *self.queue.lock().unwrap_or_else(PoisonError::into_inner));
            if batch.is_empty() {
                return;
            }
            let (bytes, waiters): (Vec<Vec<u8>>, Vec<Waiter>) = batch.into_iter().unzip();
            let result = self.append(open, bytes.concat()).await;
            let shared = result.map_err(|e| (kind_of(&e), e.to_string()));
            for waiter in waiters {
                let _ = waiter.send(shared.clone());
            }
            if open.len > self.max_bytes {
                if let Err(error) = self.rotate(open).await {
                    tracing::error!(%error, "journal rotation failed; it keeps growing until the next try");
                }
            }
        }
    }

    async fn append(&self, open: &mut Open, bytes: Vec<u8>) -> io::Result<()> {
        if open.broken {
            return Err(io::Error::other(
                "the journal could not be repaired after a failed write; restart SQ",
            ));
        }
        let before = open.len;
        let added = bytes.len() as u64;
        let result = self
            .with_file(open, move |file| {
                let written = file.append(&bytes).and_then(|()| file.sync());
                if let Err(error) = written {
                    // Cut the failed entries back out so they are never replayed.
                    return Err((error, file.truncate(before).is_ok()));
                }
                Ok(())
            })
            .await;
        match result {
            Ok(()) => {
                open.len += added;
                Ok(())
            }
            Err((error, repaired)) => {
                if !repaired {
                    tracing::error!(%error, "a failed journal write could not be cut back; refusing writes");
                    open.broken = true;
                }
                Err(error)
            }
        }
    }

    /// Makes every document log durable, then starts the journal over.
    async fn rotate(&self, open: &mut Open) -> io::Result<()> {
        self.committer.sync_all().await?;
        self.with_file(open, |file| file.truncate(0).map_err(|e| (e, true)))
            .await
            .map_err(|(e, _)| e)?;
        open.len = 0;
        tracing::debug!(path = %self.path.display(), "journal rotated");
        Ok(())
    }

    async fn with_file(
        &self,
        open: &mut Open,
        work: impl FnOnce(&mut Box<dyn LogFile>) -> Result<(), (io::Error, bool)> + Send + 'static,
    ) -> Result<(), (io::Error, bool)> {
        let Some(mut file) = open.file.take() else {
            return Err((io::Error::other("journal not open"), false));
        };
        let joined = tokio::task::spawn_blocking(move || {
            let result = work(&mut file);
            (file, result)
        })
        .await;
        match joined {
            Ok((file, result)) => {
                open.file = Some(file);
                result
            }
            Err(join) => {
                // The file handle is lost with the task: reopen it for the next write.
                open.file = self.disk.open_log(&self.path).ok();
                Err((io::Error::other(join.to_string()), false))
            }
        }
    }
}

/// Opens (creating) `path` and takes an exclusive advisory lock on it, or fails at once.
fn lock_exclusively(path: &Path) -> io::Result<std::fs::File> {
    use std::os::fd::AsRawFd;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    // SAFETY: flock only reads the descriptor, which `file` keeps open.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            format!("{} is in use by another SQ process", path.display()),
        ));
    }
    Ok(file)
}

fn kind_of(error: &io::Error) -> io::ErrorKind {
    match error.raw_os_error() {
        Some(code) if code == libc::ENOSPC || code == libc::EDQUOT => io::ErrorKind::StorageFull,
        _ => error.kind(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_process_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sq.journal");
        let held = lock_exclusively(&path).unwrap();
        let second = lock_exclusively(&path).unwrap_err();
        assert!(
            second.to_string().contains("in use by another SQ process"),
            "{second}"
        );
        drop(held);
        assert!(lock_exclusively(&path).is_ok());
    }

    #[test]
    fn entries_round_trip_and_stop_at_a_torn_tail() {
        let mut bytes = entry(Path::new("/d/a.phext.wal"), 7, 40, b"records-one");
        bytes.extend(entry(Path::new("/d/b.phext.wal"), 9, 52, b"two"));
        let whole = bytes.len();
        bytes.extend(entry(Path::new("/d/c.phext.wal"), 1, 40, b"torn"));
        bytes.truncate(whole + 10);
        let found = entries(&bytes);
        assert_eq!(found.len(), 2);
        assert_eq!(
            (found[0].log_id, found[0].offset, found[0].records),
            (7, 40, &b"records-one"[..])
        );
        assert_eq!(found[1].path, PathBuf::from("/d/b.phext.wal"));
    }
}

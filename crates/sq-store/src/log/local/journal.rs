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
//! The journal is written in place, like PostgreSQL's recycled WAL segments: the file is
//! grown ahead of the entries with zeros ([`EXTEND_BY`] at a time) and, on starting over,
//! is overwritten from the top instead of truncated. A sync then writes only the entries'
//! blocks; appending would also write the inode and allocation metadata on every sync,
//! which measured 1.6x slower per sync on ext4. What is left from before in the file is
//! told apart by a random nonce in the header, chosen at every start-over, which seeds
//! every entry's checksum: decoding stops at the first entry that does not check under
//! the current nonce, and text a client wrote cannot forge one (it cannot know the nonce).
//!
//! ```text
//! header   "SQJNL002" | nonce u64 LE | xxh3-64 of the previous 16 bytes u64 LE
//! entry    payload length u32 LE | xxh3-64 of payload seeded with the nonce u64 LE | payload
//! payload  path length u16 LE | log path (bytes) | log id u64 LE | offset u64 LE | records
//! ```
//!
//! A journal without the header (written by earlier builds) is decoded from offset 0 with
//! seed 0.

use std::collections::{HashMap, HashSet};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use tokio::sync::oneshot;
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use super::commit::Committer;
use super::disk::{Disk, FsSync, InPlaceFile};
use crate::log::format;

type Waiter = oneshot::Sender<Result<(), (io::ErrorKind, String)>>;

const MAGIC: &[u8; 8] = b"SQJNL002";
/// Length of the header.
pub(crate) const HEADER_LEN: u64 = 24;
/// The file grows ahead of its entries by this much zeroed space at a time.
pub(crate) const EXTEND_BY: u64 = 1024 * 1024;

/// A header for entries checked under `nonce`.
fn header(nonce: u64) -> [u8; HEADER_LEN as usize] {
    let mut out = [0u8; HEADER_LEN as usize];
    out[..8].copy_from_slice(MAGIC);
    out[8..16].copy_from_slice(&nonce.to_le_bytes());
    let checksum = xxh3_64(&out[..16]);
    out[16..].copy_from_slice(&checksum.to_le_bytes());
    out
}

/// Where entries start and the seed of their checksums; `None` for a damaged header,
/// which only a crash while starting over leaves, when every entry was already synced
/// into its log.
fn layout(bytes: &[u8]) -> Option<(usize, u64)> {
    if !bytes.starts_with(MAGIC) {
        return Some((0, 0));
    }
    let head = bytes.get(..HEADER_LEN as usize)?;
    let nonce = u64::from_le_bytes(head[8..16].try_into().ok()?);
    let stored = u64::from_le_bytes(head[16..].try_into().ok()?);
    (xxh3_64(&head[..16]) == stored).then_some((head.len(), nonce))
}

/// What only the syncer thread touches: the file and where the next entries go.
struct Writer {
    /// The open journal; `None` until it could be created (start-up on a full disk).
    file: Option<Box<dyn InPlaceFile>>,
    /// Where the next entry goes.
    end: u64,
    /// The file's length: zeroed (or left-over) space past `end` is written in place.
    allocated: u64,
    /// Seeds the checksums of entries since the last start-over.
    nonce: u64,
    /// A failed write could not be wiped out: refuse until restart.
    broken: bool,
    max_bytes: u64,
    path: PathBuf,
    disk: Arc<dyn Disk>,
    committer: Arc<Committer>,
}

/// The journal file and its group commit. Writers queue their entries; one thread takes
/// everything queued, writes it, syncs once, answers everyone, and takes the next group
/// at once — the whole cycle off the async workers, with no hand-off between syncs.
pub(crate) struct Journal {
    queue: Arc<SharedQueue>,
    syncer: Option<std::thread::JoinHandle<()>>,
    /// Held open with an exclusive lock: a second server on the same data would
    /// interleave its writes with ours. Released after the syncer has finished.
    _lock: std::fs::File,
}

struct SharedQueue {
    state: Mutex<Queue>,
    /// Signalled when entries arrive for an idle syncer, or when the journal closes.
    filled: Condvar,
}

/// Entries waiting for the next group commit.
#[derive(Default)]
struct Queue {
    entries: Vec<(LogEntry, Waiter)>,
    /// Their encoded size, to write the group with one allocation.
    bytes: usize,
    /// The syncer is waiting for entries: only then does a writer wake it (a syscall).
    idle: bool,
    closed: bool,
}

impl SharedQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One entry before encoding: its checksum seed is known only when it is written.
pub(crate) struct LogEntry {
    log_path: PathBuf,
    log_id: u64,
    offset: u64,
    records: Vec<u8>,
}

impl LogEntry {
    /// The entry for `records` appended at `offset` to the log at `log_path`.
    pub(crate) fn new(log_path: &Path, log_id: u64, offset: u64, records: Vec<u8>) -> LogEntry {
        LogEntry {
            log_path: log_path.to_owned(),
            log_id,
            offset,
            records,
        }
    }

    fn path_bytes(&self) -> &[u8] {
        let path = self.log_path.as_os_str().as_encoded_bytes();
        &path[..path.len().min(usize::from(u16::MAX))]
    }

    /// The length of the encoded entry.
    fn encoded_len(&self) -> usize {
        12 + 2 + self.path_bytes().len() + 16 + self.records.len()
    }

    /// Appends the encoded entry, its checksum seeded with `nonce`.
    fn encode(&self, nonce: u64, out: &mut Vec<u8>) {
        let path = self.path_bytes();
        let start = out.len();
        out.extend_from_slice(&[0; 12]);
        out.extend_from_slice(&(path.len() as u16).to_le_bytes());
        out.extend_from_slice(path);
        out.extend_from_slice(&self.log_id.to_le_bytes());
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.records);
        let payload_len = (out.len() - start - 12) as u32;
        let checksum = xxh3_64_with_seed(&out[start + 12..], nonce);
        out[start..start + 4].copy_from_slice(&payload_len.to_le_bytes());
        out[start + 4..start + 12].copy_from_slice(&checksum.to_le_bytes());
    }
}

pub(crate) struct Entry<'a> {
    path: PathBuf,
    log_id: u64,
    offset: u64,
    records: &'a [u8],
}

/// Every intact entry, in order; decoding stops at the first torn, damaged or left-over
/// one (it was never acknowledged, or was synced into its log before the start-over).
pub(crate) fn entries(bytes: &[u8]) -> Vec<Entry<'_>> {
    let mut out = Vec::new();
    let Some((mut at, seed)) = layout(bytes) else {
        return out;
    };
    while let Some(head) = bytes.get(at..at + 12) {
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let checksum = u64::from_le_bytes(head[4..12].try_into().unwrap_or_default());
        let Some(payload) = bytes.get(at + 12..at + 12 + len) else {
            break;
        };
        if xxh3_64_with_seed(payload, seed) != checksum || payload.len() < 2 {
            break;
        }
        let path_len = u16::from_le_bytes([payload[0], payload[1]]) as usize;
        let Some(path) = payload.get(2..2 + path_len) else {
            break;
        };
        let Some(fixed) = payload.get(2 + path_len..2 + path_len + 16) else {
            break;
        };
        out.push(Entry {
            path: PathBuf::from(std::ffi::OsStr::from_bytes(path)),
            log_id: u64::from_le_bytes(fixed[..8].try_into().unwrap_or_default()),
            offset: u64::from_le_bytes(fixed[8..].try_into().unwrap_or_default()),
            records: &payload[2 + path_len + 16..],
        });
        at += 12 + len;
    }
    out
}

/// A document log as recovery found it, and where the journal's entries first differ
/// from what the file holds.
struct Patched {
    content: Vec<u8>,
    from: Option<usize>,
}

/// The journal's bytes (empty if absent), refusing a damaged header.
fn read_checked(disk: &dyn Disk, path: &Path) -> io::Result<Vec<u8>> {
    let bytes = disk.read(path)?.unwrap_or_default();
    if bytes.starts_with(MAGIC) && layout(&bytes).is_none() {
        // Headers are written whole (a rename, or one sector in place): this is damage,
        // and the entries behind it may be the only copy of acknowledged writes.
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the journal header of {} is damaged; writes acknowledged since it last \
                 started over may be only in it. Move the file aside to start without it",
                path.display()
            ),
        ));
    }
    Ok(bytes)
}

/// Replays the entries of `bytes` into the logs they name and makes those logs durable.
fn replay(disk: &dyn Disk, path: &Path, bytes: &[u8]) -> io::Result<usize> {
    let mut logs: HashMap<PathBuf, Option<Patched>> = HashMap::new();
    let mut replayed = 0;
    let found = entries(bytes);
    if found.is_empty() && !bytes.is_empty() && !bytes.starts_with(MAGIC) {
        tracing::warn!(path = %path.display(), "the journal holds no readable entry");
    }
    for entry in found {
        if !logs.contains_key(&entry.path) {
            let content = match disk.read(&entry.path) {
                Ok(content) => content.map(|content| Patched {
                    content,
                    from: None,
                }),
                // A link or special file where the log was: never followed or written;
                // the document refuses to be served until an operator looks at it.
                Err(error) if super::disk::NotRegularFile::is(&error) => {
                    tracing::warn!(path = %entry.path.display(), "a journal entry names a log that is not a regular file; skipped");
                    None
                }
                Err(error) => return Err(error),
            };
            logs.insert(entry.path.clone(), content);
        }
        let Some(Some(log)) = logs.get_mut(&entry.path) else {
            continue;
        };
        if format::log_id(&log.content) != Some(entry.log_id) {
            continue;
        }
        let start = usize::try_from(entry.offset).unwrap_or(usize::MAX);
        let Some(end) = start.checked_add(entry.records.len()) else {
            continue;
        };
        let header_len = format::header_len(&log.content).unwrap_or(usize::MAX);
        if start < header_len || start > log.content.len() {
            continue;
        }
        if log.content.get(start..end) != Some(entry.records) {
            log.content.truncate(start);
            log.content.extend_from_slice(entry.records);
            log.from = Some(log.from.map_or(start, |from| from.min(start)));
        }
        replayed += 1;
    }
    // Logs that needed no patch are complete, but perhaps only in the page cache of a
    // process that died, and the journal that vouches for them is about to go: one
    // filesystem sync for each filesystem they are on.
    let mut filesystems: HashMap<u64, Arc<dyn FsSync>> = HashMap::new();
    let mut dirs_seen = HashSet::new();
    for (log_path, log) in &logs {
        match log {
            Some(Patched {
                content,
                from: Some(from),
            }) => patch_in_place(disk, log_path, content, *from)?,
            Some(_) => {
                let dir = log_path.parent().unwrap_or(Path::new("."));
                if dirs_seen.insert(dir) {
                    let (device, handle) = disk.filesystem(dir)?;
                    filesystems.entry(device).or_insert(handle);
                }
            }
            None => {}
        }
    }
    for handle in filesystems.values() {
        handle.sync()?;
    }
    if replayed > 0 {
        tracing::info!(
            entries = replayed,
            "replayed the journal into the document logs"
        );
    }
    Ok(replayed)
}

/// Makes the log at `path` hold `content`, which agrees with the file before `from`:
/// only the part from there is written (a crash meanwhile leaves the journal to redo it).
fn patch_in_place(disk: &dyn Disk, path: &Path, content: &[u8], from: usize) -> io::Result<()> {
    let mut file = disk.open_in_place(path)?;
    file.write_at(from as u64, &content[from..])?;
    if file.len()? > content.len() as u64 {
        file.truncate(content.len() as u64)?;
    }
    file.sync()
}

/// Starts the journal file over under `nonce`: the header is written in place when the
/// file is long enough (within one sector, so whole; needs no free space), else the file
/// is created with it.
fn start_over_file(disk: &dyn Disk, path: &Path, len: usize, nonce: u64) -> io::Result<()> {
    if len < HEADER_LEN as usize {
        return disk.replace(path, &header(nonce));
    }
    let mut file = disk.open_in_place(path)?;
    file.write_at(0, &header(nonce))?;
    file.sync()
}

fn is_no_space(error: &io::Error) -> bool {
    kind_of(error) == io::ErrorKind::StorageFull
}

impl Journal {
    /// Recovers the journal at `path` and starts its syncer thread.
    ///
    /// Recovery replays every entry into the document log it names (entries for logs that
    /// are gone, checkpointed, or replaced by another log id are skipped), makes those logs
    /// durable, and starts the journal over under a new nonce. It needs no free space
    /// unless a log lost its tail (a power cut): logs are patched in place from where they
    /// differ, and the header is written in place.
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
        // Ours now: a temp file of an earlier server's start-over can go.
        if let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str()))
        {
            if let Err(error) = super::disk::remove_stale_temp_files(dir, |t| t == name) {
                tracing::warn!(%error, "cannot look for stale temp files of the journal");
            }
        }
        let bytes = read_checked(&*disk, &path)?;
        replay(&*disk, &path, &bytes)?;
        let nonce = rand::random();
        // A journal that cannot even be created on a full disk is created by the first
        // write that finds room: reads are served meanwhile.
        let file = match start_over_file(&*disk, &path, bytes.len(), nonce) {
            Ok(()) => Some(disk.open_in_place(&path)?),
            Err(error) if is_no_space(&error) => {
                tracing::warn!(path = %path.display(), %error, "no room to create the journal; writes wait for room");
                None
            }
            Err(error) => return Err(error),
        };
        drop(bytes);
        let allocated = match &file {
            Some(file) => file.len()?,
            None => 0,
        };
        let mut writer = Writer {
            file,
            end: HEADER_LEN,
            allocated,
            nonce,
            broken: false,
            max_bytes,
            path,
            disk,
            committer,
        };
        let queue = Arc::new(SharedQueue {
            state: Mutex::new(Queue::default()),
            filled: Condvar::new(),
        });
        let syncer = std::thread::Builder::new()
            .name("sq-journal".into())
            .spawn({
                let queue = queue.clone();
                move || writer.run(&queue)
            })?;
        Ok(Journal {
            queue,
            syncer: Some(syncer),
            _lock: lock,
        })
    }

    /// Returns once `entry` is durable (sharing the sync with everyone waiting).
    pub(crate) async fn commit(&self, entry: LogEntry) -> io::Result<()> {
        if entry.encoded_len() - 12 > u32::MAX as usize {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the edits of one commit are too large for a journal entry",
            ));
        }
        let (waiter, done) = oneshot::channel();
        let wake = {
            let mut queue = self.queue.lock();
            if queue.closed {
                return Err(io::Error::other("the journal is closed"));
            }
            queue.bytes += entry.encoded_len();
            queue.entries.push((entry, waiter));
            std::mem::take(&mut queue.idle)
        };
        if wake {
            self.queue.filled.notify_one();
        }
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err((kind, message))) => Err(io::Error::new(kind, message)),
            Err(_) => Err(io::Error::other("journal commit abandoned")),
        }
    }
}

impl Drop for Journal {
    /// Writes what is queued, then stops the syncer.
    fn drop(&mut self) {
        self.queue.lock().closed = true;
        self.queue.filled.notify_one();
        if let Some(syncer) = self.syncer.take() {
            let _ = syncer.join();
        }
    }
}

impl Writer {
    /// The syncer thread: group after group until the journal closes and nothing is left.
    fn run(&mut self, queue: &SharedQueue) {
        loop {
            let (batch, size) = {
                let mut state = queue.lock();
                while state.entries.is_empty() && !state.closed {
                    state.idle = true;
                    state = queue
                        .filled
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                if state.entries.is_empty() {
                    return;
                }
                state.idle = false;
                (
                    std::mem::take(&mut state.entries),
                    std::mem::take(&mut state.bytes),
                )
            };
            // No panic is expected here; if one came, the writers of this group would be
            // answered (their senders dropped) and later ones refused, not left waiting.
            let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.commit_group(batch, size)
            }));
            if handled.is_err() {
                tracing::error!("the journal syncer panicked; refusing writes");
                self.broken = true;
            }
        }
    }

    fn commit_group(&mut self, batch: Vec<(LogEntry, Waiter)>, size: usize) {
        let mut bytes = Vec::with_capacity(size);
        let mut waiters = Vec::with_capacity(batch.len());
        for (entry, waiter) in batch {
            entry.encode(self.nonce, &mut bytes);
            waiters.push(waiter);
        }
        let shared = self
            .append(&bytes)
            .map_err(|e| (kind_of(&e), e.to_string()));
        for waiter in waiters {
            let _ = waiter.send(shared.clone());
        }
        if self.end > self.max_bytes {
            self.start_over();
        }
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::other(
                "the journal could not be repaired after a failed write; restart SQ",
            ));
        }
        self.file()?;
        let (at, allocated) = (self.end, self.allocated);
        let file = self.file()?;
        let added = bytes.len() as u64;
        let grows = at + added > allocated;
        if grows {
            // Zeroes ahead of the entries, so that the syncs until the next extension
            // write data blocks only. Only an optimisation: a disk that refuses the room
            // may still take the entries themselves.
            let from = allocated.max(at + added);
            let to = from.max(allocated + EXTEND_BY);
            let zeros = vec![0u8; usize::try_from(to - from).unwrap_or(0)];
            let _ = file.write_at(from, &zeros);
        }
        let written = file.write_at(at, bytes).and_then(|()| file.sync());
        if let Err(error) = written {
            if self.wipe(at, added).is_err() {
                tracing::error!(%error, "a failed journal write could not be wiped out; refusing writes");
                self.broken = true;
            }
            return Err(error);
        }
        self.end += added;
        if grows {
            let len = self.file.as_ref().and_then(|file| file.len().ok());
            self.allocated = len.unwrap_or(self.end).max(self.end);
        }
        Ok(())
    }

    /// The open journal, created first if start-up found no room for it.
    fn file(&mut self) -> io::Result<&mut Box<dyn InPlaceFile>> {
        if self.file.is_none() {
            self.disk.replace(&self.path, &header(self.nonce))?;
            let file = self.disk.open_in_place(&self.path)?;
            self.allocated = file.len()?;
            self.end = HEADER_LEN;
            self.file = Some(file);
            tracing::info!(path = %self.path.display(), "journal created");
        }
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("the journal is not open"))
    }

    /// Takes a failed group out of the file, so that it is never replayed, nor read on
    /// into once a shorter group is written over it: space the file grew into for it is
    /// given back (which needs no free space, unlike writing there), and the part inside
    /// the space the file already had is overwritten with zeros.
    fn wipe(&mut self, at: u64, len: u64) -> io::Result<()> {
        let had = self.allocated;
        let file = self.file()?;
        if file.len()? > had {
            file.truncate(had)?;
        }
        let end = (at + len).min(had);
        if end > at {
            let zeros = vec![0u8; usize::try_from(end - at).unwrap_or(0)];
            file.write_at(at, &zeros)?;
        }
        file.sync()
    }

    /// Makes every document log durable, then starts the journal over from the top under
    /// a new nonce: what the file holds from before no longer checks.
    fn start_over(&mut self) {
        if let Err(error) = self.committer.sync_all_now() {
            tracing::error!(%error, "the document logs could not be synced to start the journal over; it keeps growing until the next try");
            return;
        }
        let nonce = rand::random();
        let rewritten = self
            .file()
            .and_then(|file| file.write_at(0, &header(nonce)).and_then(|()| file.sync()));
        if let Err(error) = rewritten {
            // The header on disk may now be either one, so no entry can be trusted to check.
            tracing::error!(%error, "the journal header could not be rewritten; refusing writes");
            self.broken = true;
            return;
        }
        self.nonce = nonce;
        self.end = HEADER_LEN;
        tracing::debug!(path = %self.path.display(), "journal started over");
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

    fn encoded(nonce: u64, path: &str, log_id: u64, offset: u64, records: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        LogEntry::new(Path::new(path), log_id, offset, records.to_vec()).encode(nonce, &mut out);
        out
    }

    #[test]
    fn entries_round_trip_and_stop_at_a_torn_tail() {
        let mut bytes = header(42).to_vec();
        bytes.extend(encoded(42, "/d/a.phext.wal", 7, 40, b"records-one"));
        bytes.extend(encoded(42, "/d/b.phext.wal", 9, 52, b"two"));
        let whole = bytes.len();
        bytes.extend(encoded(42, "/d/c.phext.wal", 1, 40, b"torn"));
        bytes.truncate(whole + 10);
        let found = entries(&bytes);
        assert_eq!(found.len(), 2);
        assert_eq!(
            (found[0].log_id, found[0].offset, found[0].records),
            (7, 40, &b"records-one"[..])
        );
        assert_eq!(found[1].path, PathBuf::from("/d/b.phext.wal"));
    }

    #[test]
    fn decoding_stops_at_zeros_and_at_entries_from_before_a_start_over() {
        let mut bytes = header(1).to_vec();
        bytes.extend(encoded(1, "/d/a.phext.wal", 7, 40, b"old"));
        bytes.extend(encoded(1, "/d/a.phext.wal", 7, 43, b"older"));
        bytes.extend([0u8; 64]);
        assert_eq!(entries(&bytes).len(), 2);
        // Started over under nonce 2: one new entry, exactly as long as the first old one.
        let new = encoded(2, "/d/b.phext.wal", 8, 40, b"new");
        bytes[..24].copy_from_slice(&header(2));
        bytes[24..24 + new.len()].copy_from_slice(&new);
        let found = entries(&bytes);
        assert_eq!(
            found.len(),
            1,
            "the second old entry is not read as current"
        );
        assert_eq!(found[0].records, b"new");
    }

    #[test]
    fn paths_are_kept_as_bytes() {
        let path = Path::new(std::ffi::OsStr::from_bytes(b"/d/caf\xe9/a.phext.wal"));
        let entry = LogEntry::new(path, 7, 40, b"x".to_vec());
        let mut bytes = header(6).to_vec();
        entry.encode(6, &mut bytes);
        assert_eq!(bytes.len(), 24 + entry.encoded_len());
        let found = entries(&bytes);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path, path);
    }

    #[test]
    fn a_damaged_header_holds_no_entries() {
        let mut bytes = header(5).to_vec();
        bytes.extend(encoded(5, "/d/a.phext.wal", 7, 40, b"x"));
        bytes[9] ^= 1;
        assert!(entries(&bytes).is_empty());
    }

    #[test]
    fn a_journal_without_a_header_is_read_with_seed_zero() {
        let mut bytes = encoded(0, "/d/a.phext.wal", 7, 40, b"legacy");
        bytes.extend(encoded(0, "/d/a.phext.wal", 7, 46, b"two"));
        assert_eq!(entries(&bytes).len(), 2);
    }

    /// Records carry client text: an entry spelled out inside them must not become a
    /// current entry when a start-over leaves it in the file, or a client could write
    /// into another tenant's log.
    #[test]
    fn an_entry_written_as_text_is_not_replayed() {
        let forged = encoded(0, "/other/tenant.phext.wal", 1, 40, b"evil");
        let mut bytes = header(3).to_vec();
        bytes.extend(encoded(3, "/d/a.phext.wal", 7, 40, &forged));
        let host = encoded(4, "/d/a.phext.wal", 7, 40, b"");
        // After a start-over, a new entry ends exactly where the forged one starts.
        let forged_at = bytes.len() - forged.len();
        let mut after = header(4).to_vec();
        let filler = forged_at - 24 - host.len();
        after.extend(encoded(4, "/d/a.phext.wal", 7, 40, &vec![b'f'; filler]));
        assert_eq!(after.len(), forged_at);
        bytes[..forged_at].copy_from_slice(&after);
        let found = entries(&bytes);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path, PathBuf::from("/d/a.phext.wal"));
    }
}

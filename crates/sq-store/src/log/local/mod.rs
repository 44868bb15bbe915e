//! The local log: a tenant's documents as files in its data directory.
//!
//! Per document `<name>.phext` (the canonical checkpoint, readable by any phext tool),
//! `<name>.phext.wal` (the records after it, in [`format`]) and `<name>.phext.checkpoint`
//! (a one-line marker: which checkpoint it is and the sequence number and version it
//! covers). A group commit is appended to the log and made durable by the shared journal
//! (`--sync batch`, one `fdatasync` for every document of every tenant), by one
//! filesystem-wide sync shared the same way (no journal), or by its own `fdatasync`
//! (`--sync always`).
//!
//! A checkpoint writes the marker, then the `.phext` (each: temp file, fsync, rename),
//! then syncs the directory once, which makes both renames durable. A crash before the
//! `.phext`'s rename leaves a marker for a checkpoint that did not happen: the log still
//! extends the old `.phext` and is replayed, and the counters are the later of the
//! marker's and the log's. A crash after it but before the log is removed leaves a log
//! whose base no longer matches: already folded in, discarded instead of replayed twice,
//! its last record written to the marker first in case the marker's rename was lost.

mod commit;
pub(crate) mod disk;
pub(crate) mod journal;
mod open_files;

#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};

use async_trait::async_trait;

use self::commit::Committer;
use self::disk::{remove_stale_temp_files, Disk, LogFile, NotRegularFile};
use self::journal::{Journal, LogEntry};
pub use self::open_files::OpenFiles;
use self::open_files::Slot;
use super::format::{self, marker, Base, Contents};
use super::{DocumentLog, Opened, Position, Record, TenantLog};
use crate::name::DocName;
use crate::{StoreError, SyncMode};

/// Appends up to this size are written on the async worker (a copy into the page cache);
/// larger ones, and every sync, go to the blocking pool.
const INLINE_APPEND: usize = 16 * 1024;
const LOG_SUFFIX: &str = ".wal";
const MARKER_SUFFIX: &str = ".checkpoint";

/// What every local log of a store shares: the disk, the sync mode and the group commit.
pub struct LocalLogs {
    disk: Arc<dyn Disk>,
    sync: SyncMode,
    journal: Option<Arc<Journal>>,
    committer: Arc<Committer>,
    open_files: Arc<OpenFiles>,
}

impl LocalLogs {
    /// Logs on `disk`; with a journal path, the journal is replayed first (start-up
    /// recovery) and then group-commits every write.
    pub fn open(
        disk: Arc<dyn Disk>,
        sync: SyncMode,
        journal: Option<(PathBuf, u64)>,
        max_open_logs: usize,
    ) -> io::Result<Arc<Self>> {
        let committer = Arc::new(Committer::default());
        let journal = match journal {
            Some((path, max_bytes)) => Some(Arc::new(Journal::open(
                path,
                max_bytes,
                disk.clone(),
                committer.clone(),
            )?)),
            None => None,
        };
        Ok(Arc::new(LocalLogs {
            disk,
            sync,
            journal,
            committer,
            open_files: OpenFiles::new(max_open_logs),
        }))
    }

    /// The open log files and their budget.
    pub fn open_files(&self) -> &OpenFiles {
        &self.open_files
    }

    /// The log of the tenant whose data directory is `dir` (absolute, already created).
    pub fn tenant(self: &Arc<Self>, dir: PathBuf) -> LocalTenantLog {
        // Opened now, before any write here, so the sync handle reports every error.
        let device = match self.disk.filesystem(&dir) {
            Ok((device, handle)) => {
                self.committer.register(device, handle);
                Some(device)
            }
            Err(error) => {
                tracing::warn!(dir = %dir.display(), %error, "no filesystem-wide sync; each write syncs its own log");
                None
            }
        };
        LocalTenantLog(Arc::new(TenantFiles {
            dir,
            device,
            logs: self.clone(),
            swept: Once::new(),
        }))
    }
}

/// A tenant's log in its data directory.
pub struct LocalTenantLog(Arc<TenantFiles>);

/// The directory and what its documents' logs share.
struct TenantFiles {
    dir: PathBuf,
    /// The filesystem the directory is on, registered for group commit.
    device: Option<u64>,
    logs: Arc<LocalLogs>,
    /// Stale temp files are removed once, before the first document is read.
    swept: Once,
}

/// The files of one document.
#[derive(Clone)]
struct Paths {
    file_name: String,
    checkpoint: PathBuf,
    marker: PathBuf,
    log: PathBuf,
}

impl Paths {
    fn of(dir: &Path, name: &DocName) -> Self {
        let file_name = name.file_name();
        Paths {
            checkpoint: dir.join(&file_name),
            marker: dir.join(format!("{file_name}{MARKER_SUFFIX}")),
            log: dir.join(format!("{file_name}{LOG_SUFFIX}")),
            file_name,
        }
    }

    fn log_name(&self) -> String {
        format!("{}{LOG_SUFFIX}", self.file_name)
    }

    fn corrupt(&self, reason: String) -> StoreError {
        StoreError::Corrupt {
            file: self.file_name.clone(),
            reason,
        }
    }
}

/// Runs blocking file work off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|join| {
            Err(StoreError::Io(io::Error::other(format!(
                "storage task failed: {join}"
            ))))
        })
}

/// An I/O error as the store reports it: a refused non-regular file names the file.
fn io_error(file: &str) -> impl Fn(io::Error) -> StoreError + '_ {
    move |error| {
        if NotRegularFile::is(&error) {
            StoreError::NotRegular {
                file: file.to_owned(),
            }
        } else {
            StoreError::from_io(error)
        }
    }
}

impl TenantFiles {
    /// Removes the temp files of checkpoints, markers and new logs that a crash left
    /// behind, once per directory and process, before its first document is opened (so
    /// none of ours can be under way). Blocking.
    fn sweep_once(&self) {
        self.swept.call_once(|| {
            let is_document = |target: &str| {
                target.ends_with(".phext")
                    || target.ends_with(".phext.wal")
                    || target.ends_with(".phext.checkpoint")
            };
            match remove_stale_temp_files(&self.dir, is_document) {
                Ok(0) => {}
                Ok(removed) => {
                    tracing::info!(dir = %self.dir.display(), removed, "removed temp files a crash left behind")
                }
                Err(error) => {
                    tracing::warn!(dir = %self.dir.display(), %error, "cannot look for stale temp files")
                }
            }
        });
    }

    /// Every document file name in the directory, by what it holds (blocking).
    fn files(&self) -> io::Result<HashMap<DocName, DocFiles>> {
        let mut found: HashMap<DocName, DocFiles> = HashMap::new();
        for entry in std::fs::read_dir(&self.dir)?.flatten() {
            let file = entry.file_name();
            let Some(file) = file.to_str() else { continue };
            let (stem, kind) = if let Some(stem) = file.strip_suffix(".phext.wal") {
                (stem, 1)
            } else if let Some(stem) = file.strip_suffix(".phext.checkpoint") {
                (stem, 2)
            } else if let Some(stem) = file.strip_suffix(".phext") {
                (stem, 0)
            } else {
                continue;
            };
            let Ok(name) = DocName::parse(stem.as_bytes()) else {
                continue;
            };
            let files = found.entry(name).or_default();
            match kind {
                0 => files.checkpoint = true,
                1 => files.log = true,
                _ => files.marker = true,
            }
        }
        Ok(found)
    }

    /// The records of every log in the directory, with their documents (blocking).
    fn all_records(&self) -> Result<Vec<(DocName, Record)>, StoreError> {
        let mut all = Vec::new();
        for (name, files) in self.files().map_err(StoreError::from_io)? {
            if !files.log {
                continue;
            }
            let Some(bytes) = self.read_log(&Paths::of(&self.dir, &name))? else {
                continue;
            };
            if let Contents::Records { records, .. } = format::decode(&bytes) {
                all.extend(records.into_iter().map(|record| (name.clone(), record)));
            }
        }
        Ok(all)
    }
}

#[derive(Default)]
struct DocFiles {
    checkpoint: bool,
    log: bool,
    marker: bool,
}

#[async_trait]
impl TenantLog for LocalTenantLog {
    async fn open(&self, name: &DocName) -> Result<Opened, StoreError> {
        let me = self.0.clone();
        let paths = Paths::of(&self.0.dir, name);
        blocking(move || {
            me.sweep_once();
            me.recover(paths)
        })
        .await
    }

    async fn list(&self) -> Result<Vec<DocName>, StoreError> {
        let me = self.0.clone();
        blocking(move || {
            let files = me.files().map_err(StoreError::from_io)?;
            let names: BTreeSet<DocName> = files
                .into_iter()
                .filter(|(_, f)| f.checkpoint || f.log)
                .map(|(name, _)| name)
                .collect();
            Ok(names.into_iter().collect())
        })
        .await
    }

    async fn sizes(&self) -> Result<Vec<(DocName, u64)>, StoreError> {
        let me = self.0.clone();
        blocking(move || {
            let mut sizes = Vec::new();
            for (name, files) in me.files().map_err(StoreError::from_io)? {
                let paths = Paths::of(&me.dir, &name);
                let mut size = 0;
                for (present, path) in [
                    (files.checkpoint, &paths.checkpoint),
                    (files.log, &paths.log),
                ] {
                    if present {
                        size += std::fs::symlink_metadata(path).map_or(0, |m| m.len());
                    }
                }
                sizes.push((name, size));
            }
            Ok(sizes)
        })
        .await
    }

    async fn with_records(&self) -> Result<Vec<DocName>, StoreError> {
        let me = self.0.clone();
        blocking(move || {
            let files = me.files().map_err(StoreError::from_io)?;
            let mut names: Vec<DocName> = files
                .into_iter()
                .filter(|(_, f)| f.log)
                .map(|(name, _)| name)
                .collect();
            names.sort();
            Ok(names)
        })
        .await
    }

    async fn scan(&self, from: u64) -> Result<Vec<(DocName, Record)>, StoreError> {
        let me = self.0.clone();
        blocking(move || {
            let mut records: Vec<(DocName, Record)> = me
                .all_records()?
                .into_iter()
                .filter(|(_, record)| record.seq >= from && record.seq > 0)
                .collect();
            records.sort_by_key(|(_, record)| record.seq);
            Ok(records)
        })
        .await
    }

    async fn last_seq(&self) -> Result<u64, StoreError> {
        let me = self.0.clone();
        blocking(move || me.scan_last_seq()).await
    }
}

impl TenantFiles {
    /// The highest sequence number in any log, log header or marker (blocking).
    fn scan_last_seq(&self) -> Result<u64, StoreError> {
        let mut last = 0;
        for (name, files) in self.files().map_err(StoreError::from_io)? {
            let paths = Paths::of(&self.dir, &name);
            // A marker that cannot be read keeps its document from being served, not
            // the tenant from numbering its other writes.
            if files.marker {
                if let Ok(Some((_, covered))) = self.read_marker(&paths) {
                    last = last.max(covered.seq);
                }
            }
            if !files.log {
                continue;
            }
            if let Some(bytes) = self.read_log(&paths)? {
                if let Contents::Records {
                    covered, records, ..
                } = format::decode(&bytes)
                {
                    let newest = records.iter().map(|r| r.seq).max().unwrap_or(0);
                    last = last.max(covered.seq).max(newest);
                }
            }
        }
        Ok(last)
    }

    /// A document's log for a tenant-wide look (its numbers, a scan). One that is not a
    /// regular file is skipped: that document refuses to be served, the others are not
    /// held up by it.
    fn read_log(&self, paths: &Paths) -> Result<Option<Vec<u8>>, StoreError> {
        match self.logs.disk.read(&paths.log) {
            Ok(bytes) => Ok(bytes),
            Err(error) if NotRegularFile::is(&error) => Ok(None),
            Err(error) => Err(StoreError::from_io(error)),
        }
    }

    fn read_marker(&self, paths: &Paths) -> Result<Option<(Base, Position)>, StoreError> {
        let Some(bytes) = self
            .logs
            .disk
            .read(&paths.marker)
            .map_err(io_error(&paths.file_name))?
        else {
            return Ok(None);
        };
        match marker::decode(&bytes) {
            Some(found) => Ok(Some(found)),
            None => Err(paths.corrupt(format!(
                "{}{MARKER_SUFFIX} is not a checkpoint marker; it is left untouched",
                paths.file_name
            ))),
        }
    }

    /// Reads the checkpoint, its marker and its log (blocking). Writes nothing but the
    /// removal of a log already folded in; a torn tail is cut at the next append.
    fn recover(self: Arc<Self>, paths: Paths) -> Result<Opened, StoreError> {
        let disk = &self.logs.disk;
        let checkpoint = disk
            .read(&paths.checkpoint)
            .map_err(io_error(&paths.file_name))?
            .unwrap_or_default();
        let base = Base::of(&checkpoint);
        let marked = self.read_marker(&paths)?;
        // A marker of another checkpoint (a crash before the `.phext` was replaced, or a
        // file put there by hand) still tells how far the counters went: never go back.
        let known = marked.map(|(_, covered)| covered).unwrap_or_default();
        let mut log = LocalDocumentLog {
            tenant: self.clone(),
            paths: paths.clone(),
            exists: false,
            slot: self.logs.open_files.slot(),
            len: 0,
            header_len: format::HEADER_LEN as u64,
            log_id: 0,
            base,
            covered: known,
            legacy: false,
            cut_to: None,
            broken: false,
        };
        let Some(log_bytes) = disk.read(&paths.log).map_err(io_error(&paths.file_name))? else {
            return Ok(Opened {
                checkpoint,
                covered: known,
                tail: Vec::new(),
                log: Box::new(log),
            });
        };
        match format::decode(&log_bytes) {
            Contents::Foreign => {
                Err(paths.corrupt(format!("{} is not an SQ write-ahead log", paths.log_name())))
            }
            Contents::Refused(refusal) => Err(paths.corrupt(refusal.describe(&paths.log_name()))),
            Contents::Records {
                base: of,
                covered,
                records,
                ..
            } if of != base => {
                tracing::info!(file = %paths.file_name, "discarding a log already folded into the checkpoint");
                // Everything in it is in the checkpoint, so its last record is where the
                // checkpoint left the counters, should the marker be older (a crash
                // before the marker's rename was durable): the marker learns it before
                // the log, its only other record, goes.
                let folded = records.iter().fold(known.later(covered), |at, record| {
                    at.later(record.position())
                });
                if folded != known || marked.is_none_or(|(of, _)| of != base) {
                    disk.replace(&paths.marker, &marker::encode(base, folded))
                        .map_err(io_error(&paths.file_name))?;
                }
                disk.remove(&paths.log)
                    .map_err(io_error(&paths.file_name))?;
                let known = folded;
                log.covered = known;
                Ok(Opened {
                    checkpoint,
                    covered: known,
                    tail: Vec::new(),
                    log: Box::new(log),
                })
            }
            Contents::Records {
                log_id,
                covered,
                mut records,
                valid_len,
                discarded,
                legacy,
                ..
            } => {
                let covered = if legacy {
                    // Version 2 counted nothing: its records follow what the marker knew.
                    for record in &mut records {
                        record.version += known.version;
                    }
                    known
                } else {
                    // A marker ahead of the log (`--sync off` lost the log's tail after a
                    // checkpoint that did not happen) still holds numbers once handed out.
                    known.later(covered)
                };
                if discarded > 0 {
                    tracing::warn!(file = %paths.file_name, replayed = records.len(), discarded_bytes = discarded, "log had a torn or corrupt tail (never acknowledged); cutting it off");
                    log.cut_to = Some(valid_len);
                } else if !records.is_empty() {
                    tracing::info!(file = %paths.file_name, replayed = records.len(), "replayed the log");
                }
                // Opened at the first append: a document only read holds no descriptor.
                log.exists = true;
                log.len = valid_len;
                log.header_len =
                    format::header_len(&log_bytes).unwrap_or(format::HEADER_LEN) as u64;
                log.log_id = log_id;
                log.covered = covered;
                log.legacy = legacy;
                Ok(Opened {
                    checkpoint,
                    covered,
                    tail: records,
                    log: Box::new(log),
                })
            }
        }
    }
}

/// One document's files, held under its engine lock.
struct LocalDocumentLog {
    tenant: Arc<TenantFiles>,
    paths: Paths,
    /// Whether the document has a log file of its own (extending its checkpoint).
    exists: bool,
    /// The log file while it is open (it may be closed to keep within the budget).
    slot: Arc<Slot>,
    /// Bytes of the log that count: its header and intact records.
    len: u64,
    header_len: u64,
    /// The open log's id (the journal tells logs at one path apart by it).
    log_id: u64,
    /// The checkpoint the log extends.
    base: Base,
    /// Where that checkpoint left the counters.
    covered: Position,
    /// The log is in format version 2: checkpoint before appending.
    legacy: bool,
    /// A torn tail to cut before the next append.
    cut_to: Option<u64>,
    /// A failed append could not be cut back out of the log: refuse appends until the
    /// document is opened again.
    broken: bool,
}

impl LocalDocumentLog {
    /// Runs blocking work on the open log, off the async workers.
    async fn with_file(
        &mut self,
        work: impl FnOnce(&mut Box<dyn LogFile>) -> io::Result<()> + Send + 'static,
    ) -> io::Result<()> {
        let (slot, open) = (self.slot.clone(), self.opener());
        tokio::task::spawn_blocking(move || work(slot.get(open)?.file()?))
            .await
            .map_err(|join| io::Error::other(format!("storage task failed: {join}")))?
    }

    /// Opens the existing log file (when its slot was closed to keep within the budget).
    fn opener(&self) -> impl FnOnce() -> io::Result<Box<dyn LogFile>> + Send + 'static {
        let (disk, path) = (self.tenant.logs.disk.clone(), self.paths.log.clone());
        move || disk.open_log(&path)
    }

    /// Creates the log (a header extending the checkpoint) or cuts its torn tail.
    async fn prepare(&mut self) -> io::Result<()> {
        if !self.exists {
            let log_id: u64 = rand::random();
            let header = format::header(self.base, log_id, self.covered);
            let disk = self.tenant.logs.disk.clone();
            let path = self.paths.log.clone();
            // A file still open is the log this one replaces.
            self.slot.close();
            tokio::task::spawn_blocking(move || disk.replace(&path, &header))
                .await
                .map_err(|join| io::Error::other(format!("storage task failed: {join}")))??;
            self.exists = true;
            self.len = format::HEADER_LEN as u64;
            self.header_len = self.len;
            self.log_id = log_id;
        }
        if let Some(len) = self.cut_to {
            self.with_file(move |file| file.truncate(len)).await?;
            self.cut_to = None;
        }
        Ok(())
    }

    /// Appends encoded records and makes them durable per the sync mode. On failure the
    /// log is cut back to where it was, so nothing refused is ever replayed.
    async fn append_bytes(&mut self, bytes: Vec<u8>) -> io::Result<()> {
        self.prepare().await?;
        let logs = self.tenant.logs.clone();
        let device = self.tenant.device;
        // Batch mode commits through the shared journal when there is one (one sync for
        // every document), else through a filesystem-wide sync; a directory whose
        // filesystem is unknown syncs its own log.
        let batch = logs.sync == SyncMode::Batch && device.is_some();
        let journal = logs.journal.as_ref().filter(|_| batch);
        let group = device.filter(|_| batch && journal.is_none());
        let sync_file = match logs.sync {
            SyncMode::Off => false,
            SyncMode::Always => true,
            SyncMode::Batch => !batch,
        };
        let before = self.len;
        let added = bytes.len() as u64;
        let journaled =
            journal.map(|_| LogEntry::new(&self.paths.log, self.log_id, before, bytes.clone()));
        let mut result = if sync_file || bytes.len() > INLINE_APPEND || !self.slot.is_open() {
            self.with_file(move |file| {
                file.append(&bytes)?;
                if sync_file {
                    file.sync()?;
                }
                Ok(())
            })
            .await
        } else {
            // A small append only copies into the page cache: cheaper here than a trip to
            // the blocking pool. The sync that makes it durable runs there.
            let open = self.opener();
            self.slot
                .get(open)
                .and_then(|mut held| held.file()?.append(&bytes))
        };
        if let (Ok(()), Some(journal), Some(entry)) = (&result, journal, journaled) {
            result = journal.commit(entry).await;
        } else if let (Ok(()), Some(device)) = (&result, group) {
            result = logs.committer.sync(device).await;
        }
        match result {
            Ok(()) => {
                self.len += added;
                Ok(())
            }
            Err(error) => {
                if self
                    .with_file(move |file| file.truncate(before))
                    .await
                    .is_err()
                {
                    tracing::error!(file = %self.paths.file_name, %error, "a failed write could not be cut from the log; refusing writes until reload");
                    self.broken = true;
                }
                Err(error)
            }
        }
    }
}

#[async_trait]
impl DocumentLog for LocalDocumentLog {
    async fn append(&mut self, records: &[Record]) -> Result<(), StoreError> {
        if self.broken {
            return Err(StoreError::Io(io::Error::other(
                "the log could not be repaired after a failed write; reload the document",
            )));
        }
        if self.legacy {
            return Err(StoreError::Io(io::Error::other(
                "the log is in an earlier format: checkpoint before appending",
            )));
        }
        if !records.iter().all(format::fits) {
            return Err(StoreError::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a record is too large for the log (over 1 GiB, or a key over 64 KiB)",
            )));
        }
        let mut bytes = Vec::new();
        for record in records {
            format::encode(record, &mut bytes);
        }
        self.append_bytes(bytes).await.map_err(StoreError::from_io)
    }

    fn len(&self) -> u64 {
        if self.exists {
            self.len.saturating_sub(self.header_len)
        } else {
            0
        }
    }

    fn needs_checkpoint(&self) -> bool {
        // A refused append that could not be cut back out is still in the file: only a
        // checkpoint (a new base) keeps it from being replayed.
        self.legacy || self.broken
    }

    async fn checkpoint(&mut self, bytes: Vec<u8>, covered: Position) -> Result<(), StoreError> {
        let base = Base::of(&bytes);
        let disk = self.tenant.logs.disk.clone();
        let paths = self.paths.clone();
        blocking(move || {
            let fail = io_error(&paths.file_name);
            // The `.phext`'s directory sync makes the marker's rename durable too.
            disk.replace_then(&paths.marker, &marker::encode(base, covered))
                .map_err(&fail)?;
            disk.replace(&paths.checkpoint, &bytes).map_err(&fail)
        })
        .await?;
        // The old log's base no longer matches: even if removing it fails, it is never
        // replayed, and the next append starts a new one.
        self.base = base;
        self.covered = covered;
        self.exists = false;
        self.slot.close();
        self.len = 0;
        self.legacy = false;
        self.cut_to = None;
        self.broken = false;
        Ok(())
    }

    async fn forget_through(&mut self, _covered: Position) -> Result<(), StoreError> {
        if self.exists {
            // Records after the checkpoint: nothing is forgotten.
            return Ok(());
        }
        let disk = self.tenant.logs.disk.clone();
        let paths = self.paths.clone();
        // Lazily: a log a crash brings back no longer matches the checkpoint and is
        // discarded (its counters still read) when the document is next opened.
        blocking(move || {
            disk.remove_lazily(&paths.log)
                .map_err(io_error(&paths.file_name))
        })
        .await
    }
}

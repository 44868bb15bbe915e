//! One document: its resident state, its write-ahead log, group commit, checkpoints,
//! recovery and eviction.
//!
//! Locks, always taken in this order: `engine` (a tokio mutex held by whoever touches
//! the files or changes the resident state), then `resident` (readers take it briefly),
//! then `queue`. Edits reach the resident document only after they are durable, so no
//! reader ever sees a write that could still fail.

use std::collections::HashSet;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};

use bytes::Bytes;
use phext::{Coordinate, Document};
use tokio::sync::oneshot;

use super::directory::DirState;
use super::disk::LogFile;
use super::edit::{Edit, EditOutcome};
use super::views::{Kept, View, LARGE};
use super::wal::{self, Base, Contents};
use super::{Shared, StoreError, SyncMode};
use tokio::time::Instant;

/// Memory a resident document is charged beyond its text, per scroll (map node, key,
/// string header) and per document.
const SCROLL_OVERHEAD: u64 = 96;
/// Appends up to this size are written on the async worker (a copy into the page cache);
/// larger ones, and every sync, go to the blocking pool.
const INLINE_APPEND: usize = 16 * 1024;
const DOCUMENT_OVERHEAD: u64 = 512;

enum Resident {
    Unloaded,
    Loaded(Document),
    /// The checkpoint or its log is unreadable; neither file is ever written.
    Corrupt(String),
}

struct Pending {
    edit: Edit,
    /// The writer's storage quota in bytes, if it has one.
    quota: Option<u64>,
    reply: oneshot::Sender<Result<EditOutcome, StoreError>>,
}

/// What only the holder of the engine lock may touch.
#[derive(Default)]
struct Engine {
    /// The open log, if the document has one.
    log: Option<Box<dyn LogFile>>,
    /// Bytes in the log file (header and records).
    log_len: u64,
    /// The checkpoint the resident state was recovered from or last written to.
    base: Option<Base>,
    /// The open log's id (see the journal).
    log_id: u64,
    /// Bytes charged to the memory budget for the resident document.
    charged: u64,
    /// A failed write could not be cut back out of the log: refuse writes until reload.
    broken: bool,
}

/// A document's handle, shared by every request for it.
pub struct DocHandle {
    file_name: String,
    /// The filesystem whose shared sync commits this document's writes, if known.
    device: Option<u64>,
    checkpoint_path: PathBuf,
    log_path: PathBuf,
    shared: Arc<Shared>,
    /// The directory's accounting and state.
    dir: Arc<DirState>,
    resident: RwLock<Resident>,
    /// Views of the resident state kept for its version: filled under the read lock and
    /// cleared under the write lock, so never stale.
    views: Mutex<Vec<Kept>>,
    /// Held while a view is rendered, so concurrent readers share one rendering instead
    /// of making a copy each.
    rendering: tokio::sync::Mutex<()>,
    queue: Mutex<Vec<Pending>>,
    engine: tokio::sync::Mutex<Engine>,
    last_used: AtomicU64,
    /// This handle, for announcing itself to the idle checkpointer.
    me: Weak<DocHandle>,
    /// When a write last changed the log.
    last_write: Mutex<Option<Instant>>,
    /// Announced to the idle checkpointer and not yet checkpointed by it.
    idle_announced: AtomicBool,
}

/// What recovery found on disk.
enum Recovered {
    Loaded {
        doc: Document,
        base: Base,
        log: Option<(Box<dyn LogFile>, u64)>,
        log_id: u64,
    },
    Corrupt(String),
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs blocking file work off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|join| Err(io::Error::other(format!("storage task failed: {join}"))))
}

impl DocHandle {
    pub(crate) fn new(
        shared: Arc<Shared>,
        dir: Arc<DirState>,
        path: &std::path::Path,
        file_name: String,
        device: Option<u64>,
        me: Weak<DocHandle>,
    ) -> Self {
        DocHandle {
            me,
            last_write: Mutex::new(None),
            idle_announced: AtomicBool::new(false),
            dir,
            device,
            checkpoint_path: path.join(&file_name),
            log_path: path.join(format!("{file_name}.wal")),
            file_name,
            shared,
            resident: RwLock::new(Resident::Unloaded),
            views: Mutex::new(Vec::new()),
            rendering: tokio::sync::Mutex::new(()),
            queue: Mutex::new(Vec::new()),
            engine: tokio::sync::Mutex::new(Engine::default()),
            last_used: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let tick = self.shared.tick.fetch_add(1, Ordering::Relaxed);
        self.last_used.store(tick, Ordering::Relaxed);
    }

    /// When the document was last used, on the store's clock.
    pub(crate) fn last_used(&self) -> u64 {
        self.last_used.load(Ordering::Relaxed)
    }

    /// Whether the document is in memory.
    pub(crate) fn is_resident(&self) -> bool {
        !matches!(
            *self.resident.read().unwrap_or_else(PoisonError::into_inner),
            Resident::Unloaded
        )
    }

    fn corrupt(&self, reason: &str) -> StoreError {
        StoreError::Corrupt {
            file: self.file_name.clone(),
            reason: reason.to_owned(),
        }
    }

    /// Runs `read` on the current, durable state (loading it first if needed).
    pub async fn read<R>(&self, read: impl FnOnce(&Document) -> R) -> Result<R, StoreError> {
        self.touch();
        {
            let state = self.resident.read().unwrap_or_else(PoisonError::into_inner);
            match &*state {
                Resident::Loaded(doc) => return Ok(read(doc)),
                Resident::Corrupt(reason) => return Err(self.corrupt(reason)),
                Resident::Unloaded => {}
            }
        }
        let mut engine = self.engine.lock().await;
        self.ensure_loaded(&mut engine).await?;
        let state = self.resident.read().unwrap_or_else(PoisonError::into_inner);
        match &*state {
            Resident::Loaded(doc) => Ok(read(doc)),
            Resident::Corrupt(reason) => Err(self.corrupt(reason)),
            Resident::Unloaded => Err(StoreError::Io(io::Error::other("document not loaded"))),
        }
    }

    /// A view of the current state (see [`super::views`]): rendered once per version and
    /// shared by every reader of that version; a large one counts against the view budget
    /// while answers hold it, and a new one may be refused with [`StoreError::Unavailable`] when
    /// the budget is spent.
    pub async fn read_view(&self, view: View) -> Result<Bytes, StoreError> {
        let found = self
            .read(|doc| {
                let estimate = view.estimate(doc);
                // A small scroll is cheaper copied than looked up.
                if matches!(view, View::Scroll(_)) && estimate < LARGE {
                    return Ok(Bytes::from(view.render(doc)));
                }
                self.kept_view(view).ok_or(estimate)
            })
            .await?;
        let estimate = match found {
            Ok(body) => return Ok(body),
            Err(estimate) => estimate,
        };
        // Room first (a small view needs none), then the one rendering: readers that wait
        // for room hold up nobody else's view.
        let reservation = if estimate >= LARGE {
            Some(self.shared.views.reserve(estimate).await?)
        } else {
            None
        };
        let _one_rendering = self.rendering.lock().await;
        self.read(move |doc| {
            if let Some(body) = self.kept_view(view) {
                return body;
            }
            let rendered = self.shared.views.view(view.render(doc));
            let mut views = lock(&self.views);
            if view.is_kept() {
                self.shared.budget.adjust(0, rendered.len() as u64);
                views.push(Kept::Kept(view, rendered.clone()));
            } else {
                views.retain(Kept::is_alive);
                views.push(Kept::Shared(view, Arc::downgrade(&rendered)));
            }
            match reservation {
                Some(reservation) => rendered.body_reserved(reservation),
                None => rendered.body(),
            }
        })
        .await
    }

    /// What `render` makes of the current state, for answers that depend on the request
    /// (never shared); a large one counts against the view budget while it is held.
    /// Rendered first, since only the result tells its size; a large result that finds
    /// no room is dropped, and rendered again once there is some.
    pub async fn read_charged(
        &self,
        render: impl Fn(&Document) -> Vec<u8>,
    ) -> Result<Bytes, StoreError> {
        let views = &self.shared.views;
        let first = self
            .read(|doc| {
                let bytes = render(doc);
                if bytes.len() < LARGE {
                    return Ok(Bytes::from(bytes));
                }
                match views.try_reserve(bytes.len()) {
                    Some(reservation) => Ok(views.view(bytes).body_reserved(reservation)),
                    None => Err(bytes.len()),
                }
            })
            .await?;
        let size = match first {
            Ok(body) => return Ok(body),
            Err(size) => size,
        };
        let reservation = views.reserve(size).await?;
        self.read(|doc| views.view(render(doc)).body_reserved(reservation))
            .await
    }

    fn kept_view(&self, view: View) -> Option<Bytes> {
        lock(&self.views).iter().find_map(|kept| kept.body(view))
    }

    /// Drops the views of a state that is being replaced or changed; called with the
    /// resident write lock held. Answers still holding a large one keep it (charged)
    /// until they are sent.
    fn forget_views(&self) {
        let mut views = lock(&self.views);
        let kept: u64 = views.iter().map(Kept::resident_charge).sum();
        views.clear();
        self.shared.budget.adjust(kept, 0);
    }

    /// Logs `edit`, waits until it is durable (sharing the sync with concurrent writers),
    /// applies it, and reports what it did.
    pub async fn write(
        self: &Arc<Self>,
        edit: Edit,
        quota: Option<u64>,
    ) -> Result<EditOutcome, StoreError> {
        self.touch();
        let (reply, outcome) = oneshot::channel();
        lock(&self.queue).push(Pending { edit, quota, reply });
        // The commit runs as its own task: a request that goes away mid-commit must not
        // leave a logged edit unapplied.
        let handle = self.clone();
        tokio::spawn(async move {
            let mut engine = handle.engine.lock().await;
            handle.lead(&mut engine).await;
        });
        outcome
            .await
            .unwrap_or_else(|_| Err(StoreError::Io(io::Error::other("write abandoned"))))
    }

    /// Commits everything queued, batch after batch, then checkpoints if the log is long.
    async fn lead(&self, engine: &mut Engine) {
        loop {
            let batch: Vec<Pending> = {
                let mut queue = lock(&self.queue);
                match self.shared.settings.sync {
                    SyncMode::Always if !queue.is_empty() => vec![queue.remove(0)],
                    _ => std::mem::take(&mut *queue),
                }
            };
            if batch.is_empty() {
                return;
            }
            self.commit(engine, batch).await;
            if self.log_is_long(engine) {
                if let Err(error) = self.checkpoint(engine).await {
                    tracing::error!(file = %self.file_name, %error, "checkpoint failed; the log keeps every write");
                }
            }
        }
    }

    fn log_is_long(&self, engine: &Engine) -> bool {
        let size = match &*self.resident.read().unwrap_or_else(PoisonError::into_inner) {
            Resident::Loaded(doc) => doc.serialized_len(),
            _ => return false,
        };
        engine.log.is_some() && engine.log_len > self.shared.settings.checkpoint_bytes.max(size)
    }

    /// Makes one batch durable and applies it; every writer in it gets its answer.
    async fn commit(&self, engine: &mut Engine, batch: Vec<Pending>) {
        if self.dir.is_closed() {
            return fail_all(batch, || StoreError::Gone);
        }
        if let Err(error) = self.ensure_loaded(engine).await {
            return fail_all(batch, || clone_error(&error));
        }
        if engine.broken {
            return fail_all(batch, || {
                StoreError::Io(io::Error::other(
                    "the log could not be repaired after a failed write; reload the document",
                ))
            });
        }
        // Under a quota, the directory's usage must be known (one scan, the first time).
        let used = if batch.iter().any(|p| p.quota.is_some()) {
            match self.usage_now().await {
                Ok(used) => used,
                Err(error) => return fail_all(batch, || clone_error(&error)),
            }
        } else {
            0
        };
        // Log every edit that changes something (an unchanged update costs no sync), and
        // refuse those that would take the writer past its quota.
        let mut record = Vec::new();
        let mut accepted = Vec::with_capacity(batch.len());
        {
            let state = self.resident.read().unwrap_or_else(PoisonError::into_inner);
            let doc = match &*state {
                Resident::Loaded(doc) => doc,
                Resident::Corrupt(reason) => {
                    let reason = reason.clone();
                    drop(state);
                    return fail_all(batch, || self.corrupt(&reason));
                }
                Resident::Unloaded => {
                    return fail_all(batch, || {
                        StoreError::Io(io::Error::other("document not loaded"))
                    })
                }
            };
            let mut touched: HashSet<Coordinate> = HashSet::new();
            let mut projected = used;
            for pending in batch {
                let coordinate = pending.edit.coordinate();
                if !touched.contains(&coordinate) && !pending.edit.changes(doc) {
                    accepted.push(pending);
                    continue;
                }
                let size = doc.serialized_len_if(&coordinate, pending.edit.text_len_after(doc));
                let grows = size.saturating_sub(doc.serialized_len());
                if grows > 0 && pending.quota.is_some_and(|quota| projected + grows > quota) {
                    let _ = pending.reply.send(Err(StoreError::QuotaExceeded));
                    continue;
                }
                projected = (projected + size).saturating_sub(doc.serialized_len());
                wal::encode(&pending.edit, &mut record);
                touched.insert(coordinate);
                accepted.push(pending);
            }
        }
        let batch = accepted;
        if batch.is_empty() {
            return;
        }
        if !record.is_empty() {
            if let Err(error) = self.append(engine, record).await {
                let error = StoreError::from_io(error);
                return fail_all(batch, || clone_error(&error));
            }
            self.note_write();
        }
        let mut state = self
            .resident
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let Resident::Loaded(doc) = &mut *state else {
            return fail_all(batch, || {
                StoreError::Io(io::Error::other("document not loaded"))
            });
        };
        self.forget_views();
        for pending in batch {
            let outcome = pending.edit.apply(doc).map_err(StoreError::from);
            let _ = pending.reply.send(outcome);
        }
        let charge = charge_of(doc);
        self.dir.usage.set(&self.file_name, doc.serialized_len());
        drop(state);
        self.recharge(engine, charge);
    }

    /// The directory's storage in use, scanning it the first time.
    async fn usage_now(&self) -> Result<u64, StoreError> {
        if let Some(total) = self.dir.usage.total() {
            return Ok(total);
        }
        let state = self.dir.clone();
        let dir = self
            .checkpoint_path
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        let exact = self
            .resident_size()
            .map(|size| vec![(self.file_name.clone(), size)])
            .unwrap_or_default();
        blocking(move || state.usage.ensure(&dir, &exact))
            .await
            .map_err(StoreError::from_io)
    }

    /// The canonical size of the resident document, if loaded.
    pub(crate) fn resident_size(&self) -> Option<u64> {
        match &*self.resident.read().unwrap_or_else(PoisonError::into_inner) {
            Resident::Loaded(doc) => Some(doc.serialized_len()),
            _ => None,
        }
    }

    /// The document's file name (`<name>.phext`).
    pub(crate) fn file_name(&self) -> &str {
        &self.file_name
    }

    /// Appends records to the log (creating it if needed) and makes them durable per the
    /// sync mode. On failure the log is cut back to where it was, so nothing refused is
    /// ever replayed.
    async fn append(&self, engine: &mut Engine, record: Vec<u8>) -> io::Result<()> {
        if engine.log.is_none() {
            let base = engine.base.unwrap_or_else(|| Base::of(b""));
            let log_id: u64 = rand::random();
            let disk = self.shared.disk.clone();
            let path = self.log_path.clone();
            let log = blocking(move || {
                disk.replace(&path, &wal::header(base, log_id))?;
                disk.open_log(&path)
            })
            .await?;
            engine.log = Some(log);
            engine.log_len = wal::HEADER_LEN as u64;
            engine.log_id = log_id;
        }
        // Batch mode commits through the shared journal when there is one (one sync for
        // every document), else through a filesystem-wide sync; a directory whose
        // filesystem is unknown syncs its own log.
        let batch = self.shared.settings.sync == SyncMode::Batch && self.device.is_some();
        let journal = self.shared.journal.as_ref().filter(|_| batch);
        let group = self.device.filter(|_| batch && journal.is_none());
        let sync_file = match self.shared.settings.sync {
            SyncMode::Off => false,
            SyncMode::Always => true,
            SyncMode::Batch => !batch,
        };
        let before = engine.log_len;
        let added = record.len() as u64;
        let journaled = journal.map(|_| {
            super::journal::LogEntry::new(&self.log_path, engine.log_id, before, record.clone())
        });
        let mut result = if sync_file || record.len() > INLINE_APPEND {
            self.with_log(engine, move |log| {
                log.append(&record)?;
                if sync_file {
                    log.sync()?;
                }
                Ok(())
            })
            .await
        } else {
            // A small append only copies into the page cache: cheaper here than a trip to
            // the blocking pool. The sync that makes it durable runs there.
            match engine.log.as_mut() {
                Some(log) => log.append(&record),
                None => Err(io::Error::other("log not open")),
            }
        };
        if let (Ok(()), Some(journal), Some(entry)) = (&result, journal, journaled) {
            result = journal.commit(entry).await;
        } else if let (Ok(()), Some(device)) = (&result, group) {
            result = self.shared.committer.sync(device).await;
        }
        match result {
            Ok(()) => {
                engine.log_len += added;
                Ok(())
            }
            Err(error) => {
                if self
                    .with_log(engine, move |log| log.truncate(before))
                    .await
                    .is_err()
                {
                    tracing::error!(file = %self.file_name, %error, "a failed write could not be cut from the log; refusing writes until reload");
                    engine.broken = true;
                }
                Err(error)
            }
        }
    }

    /// Runs blocking work on the open log, off the async workers.
    async fn with_log(
        &self,
        engine: &mut Engine,
        work: impl FnOnce(&mut Box<dyn LogFile>) -> io::Result<()> + Send + 'static,
    ) -> io::Result<()> {
        let Some(mut log) = engine.log.take() else {
            return Err(io::Error::other("log not open"));
        };
        let (log, result) = tokio::task::spawn_blocking(move || {
            let result = work(&mut log);
            (log, result)
        })
        .await
        .map_err(|join| io::Error::other(format!("storage task failed: {join}")))?;
        engine.log = Some(log);
        result
    }

    /// Loads the document from its checkpoint and log if it is not resident.
    async fn ensure_loaded(&self, engine: &mut Engine) -> Result<(), StoreError> {
        if self.dir.is_closed() {
            return Err(StoreError::Gone);
        }
        if !matches!(
            *self.resident.read().unwrap_or_else(PoisonError::into_inner),
            Resident::Unloaded
        ) {
            return Ok(());
        }
        let disk = self.shared.disk.clone();
        let (checkpoint_path, log_path) = (self.checkpoint_path.clone(), self.log_path.clone());
        let (file_name, dir) = (self.file_name.clone(), self.dir.clone());
        let recovered = blocking(move || {
            dir.sweep_once();
            recover(&*disk, &checkpoint_path, &log_path, &file_name)
        })
        .await
        .map_err(|error| {
            if super::NotRegularFile::is(&error) {
                StoreError::NotRegular {
                    file: self.file_name.clone(),
                }
            } else {
                StoreError::from_io(error)
            }
        })?;
        let mut state = self
            .resident
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        match recovered {
            Recovered::Loaded {
                doc,
                base,
                log,
                log_id,
            } => {
                let charge = charge_of(&doc);
                self.dir.usage.set(&self.file_name, doc.serialized_len());
                self.forget_views();
                *state = Resident::Loaded(doc);
                drop(state);
                engine.base = Some(base);
                engine.log_id = log_id;
                (engine.log, engine.log_len) = match log {
                    Some((log, len)) => (Some(log), len),
                    None => (None, 0),
                };
                engine.broken = false;
                self.recharge(engine, charge);
                // Writes from before a restart count as just made: the `.phext` catches up
                // with them once the document is quiet, like with any other write.
                if engine.log_len > wal::HEADER_LEN as u64 {
                    self.note_write();
                }
            }
            Recovered::Corrupt(reason) => {
                tracing::error!(file = %self.file_name, %reason, "stored document is unreadable; refusing to serve or overwrite it");
                self.forget_views();
                *state = Resident::Corrupt(reason);
            }
        }
        Ok(())
    }

    /// Folds the log into a new canonical checkpoint and removes the log.
    async fn checkpoint(&self, engine: &mut Engine) -> io::Result<()> {
        let bytes = match &*self.resident.read().unwrap_or_else(PoisonError::into_inner) {
            Resident::Loaded(doc) => doc.to_bytes(),
            _ => return Ok(()),
        };
        let base = Base::of(&bytes);
        let disk = self.shared.disk.clone();
        let path = self.checkpoint_path.clone();
        blocking(move || disk.replace(&path, &bytes)).await?;
        engine.base = Some(base);
        // The log's base no longer matches: even if removing it fails, it is never replayed.
        engine.log = None;
        engine.log_len = 0;
        engine.broken = false;
        let disk = self.shared.disk.clone();
        let path = self.log_path.clone();
        blocking(move || disk.remove(&path)).await
    }

    /// Records a write to the log, and announces the document to the idle checkpointer
    /// if this is its first since the last idle checkpoint.
    fn note_write(&self) {
        *lock(&self.last_write) = Some(Instant::now());
        if let Some(idle) = &self.shared.idle {
            if !self.idle_announced.swap(true, Ordering::AcqRel) {
                idle.announce(self.me.clone());
            }
        }
    }

    /// When a write last changed the log, if ever.
    pub(crate) fn last_write(&self) -> Option<Instant> {
        *lock(&self.last_write)
    }

    /// The idle checkpointer's turn: fold the log into the `.phext`; false if that failed
    /// (the checkpointer tries again later). A write from here on announces the document
    /// again.
    pub(crate) async fn checkpoint_idle(&self) -> bool {
        self.idle_announced.store(false, Ordering::Release);
        if self.dir.is_closed() {
            return true;
        }
        match self.flush().await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(file = %self.file_name, %error, "idle checkpoint failed; the log keeps every write, trying again later");
                false
            }
        }
    }

    /// Checkpoints if the log holds anything (eviction, shutdown).
    pub(crate) async fn flush(&self) -> io::Result<()> {
        let mut engine = self.engine.lock().await;
        self.flush_locked(&mut engine).await
    }

    async fn flush_locked(&self, engine: &mut Engine) -> io::Result<()> {
        if engine.log.is_some() && !engine.broken {
            self.checkpoint(engine).await?;
        }
        Ok(())
    }

    /// Drops the resident state after checkpointing it, unless the document is busy.
    /// Returns the bytes released.
    pub(crate) async fn evict(&self) -> u64 {
        let Ok(mut engine) = self.engine.try_lock() else {
            return 0;
        };
        if !lock(&self.queue).is_empty() || engine.broken {
            return 0;
        }
        if let Err(error) = self.flush_locked(&mut engine).await {
            tracing::warn!(file = %self.file_name, %error, "not evicted: checkpoint failed");
            return 0;
        }
        self.unload(&mut engine)
    }

    /// Drops the resident state (after [`DocHandle::flush`]), waiting for the document.
    pub(crate) async fn unload_now(&self) {
        let mut engine = self.engine.lock().await;
        self.unload(&mut engine);
    }

    fn unload(&self, engine: &mut Engine) -> u64 {
        let mut state = self
            .resident
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        self.forget_views();
        *state = Resident::Unloaded;
        drop(state);
        engine.log = None;
        engine.log_len = 0;
        engine.base = None;
        let released = engine.charged;
        self.recharge(engine, 0);
        released
    }

    /// Discards the resident state and recovers it again from disk (the `load` verb).
    pub async fn reload(&self) -> Result<(), StoreError> {
        let mut engine = self.engine.lock().await;
        self.unload(&mut engine);
        engine.broken = false;
        self.ensure_loaded(&mut engine).await?;
        match &*self.resident.read().unwrap_or_else(PoisonError::into_inner) {
            Resident::Corrupt(reason) => Err(self.corrupt(reason)),
            _ => Ok(()),
        }
    }

    fn recharge(&self, engine: &mut Engine, charge: u64) {
        self.shared.budget.adjust(engine.charged, charge);
        engine.charged = charge;
    }
}

fn charge_of(doc: &Document) -> u64 {
    doc.text_len() + doc.len() as u64 * SCROLL_OVERHEAD + DOCUMENT_OVERHEAD
}

fn fail_all(batch: Vec<Pending>, error: impl Fn() -> StoreError) {
    for pending in batch {
        let _ = pending.reply.send(Err(error()));
    }
}

/// Store errors hold `io::Error`, which does not clone: keep kind and message.
fn clone_error(error: &StoreError) -> StoreError {
    match error {
        StoreError::Corrupt { file, reason } => StoreError::Corrupt {
            file: file.clone(),
            reason: reason.clone(),
        },
        StoreError::NoSpace => StoreError::NoSpace,
        StoreError::QuotaExceeded => StoreError::QuotaExceeded,
        StoreError::Io(io) => StoreError::Io(io::Error::new(io.kind(), io.to_string())),
        StoreError::Edit(edit) => StoreError::Edit(edit.clone()),
        StoreError::Gone => StoreError::Gone,
        StoreError::Unavailable {
            retry_after,
            reason,
        } => StoreError::Unavailable {
            retry_after: *retry_after,
            reason,
        },
        StoreError::Fenced => StoreError::Fenced,
        StoreError::Conflict(why) => StoreError::Conflict(why.clone()),
        StoreError::NotRegular { file } => StoreError::NotRegular { file: file.clone() },
    }
}

/// Reads the checkpoint, replays the log over it, and cuts a torn tail off the log.
fn recover(
    disk: &dyn super::disk::Disk,
    checkpoint_path: &std::path::Path,
    log_path: &std::path::Path,
    file_name: &str,
) -> io::Result<Recovered> {
    let bytes = disk.read(checkpoint_path)?.unwrap_or_default();
    let base = Base::of(&bytes);
    let mut doc = match Document::parse(&bytes) {
        Ok(doc) => doc,
        Err(error) => return Ok(Recovered::Corrupt(error.to_string())),
    };
    drop(bytes);
    let Some(log_bytes) = disk.read(log_path)? else {
        return Ok(Recovered::Loaded {
            doc,
            base,
            log: None,
            log_id: 0,
        });
    };
    match wal::decode(&log_bytes) {
        Contents::Foreign => Ok(Recovered::Corrupt(format!(
            "{file_name}.wal is not an SQ write-ahead log"
        ))),
        Contents::Records { base: log_base, .. } if log_base != base => {
            tracing::info!(file = %file_name, "discarding a log already folded into the checkpoint");
            disk.remove(log_path)?;
            Ok(Recovered::Loaded {
                doc,
                base,
                log: None,
                log_id: 0,
            })
        }
        Contents::Records {
            edits,
            valid_len,
            discarded,
            log_id,
            ..
        } => {
            for edit in &edits {
                // Logged edits were checked before they were written.
                let _ = edit.apply(&mut doc);
            }
            let mut log = disk.open_log(log_path)?;
            if discarded > 0 {
                tracing::warn!(file = %file_name, replayed = edits.len(), discarded_bytes = discarded, "log had a torn or corrupt tail (never acknowledged); cut it off");
                log.truncate(valid_len)?;
            } else if !edits.is_empty() {
                tracing::info!(file = %file_name, replayed = edits.len(), "replayed the log");
            }
            Ok(Recovered::Loaded {
                doc,
                base,
                log: Some((log, valid_len)),
                log_id,
            })
        }
    }
}

//! One document: its resident state, the commit of its writes through its log, its
//! checkpoints, and eviction. Where the records and checkpoints are kept is the log's
//! business ([`crate::log`]); this file only decides what is logged and when.
//!
//! Locks, always taken in this order: `engine` (a tokio mutex held by whoever touches
//! the log or changes the resident state), then `resident` (readers take it briefly),
//! then `queue`. Edits reach the resident document only after they are durable, so no
//! reader ever sees a write that could still fail.

use std::collections::HashSet;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};

use bytes::Bytes;
use phext::{Coordinate, Document};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::directory::DirState;
use super::edit::{Edit, EditOutcome};
use super::log::{Body, DocumentLog, Opened, Position, Record};
use super::name::DocName;
use super::views::{Kept, View, LARGE};
use super::{Shared, StoreError, SyncMode};

/// Memory a resident document is charged beyond its text, per scroll (map node, key,
/// string header) and per document.
const SCROLL_OVERHEAD: u64 = 96;
const DOCUMENT_OVERHEAD: u64 = 512;
/// Documents up to about this size are parsed on the async worker when loaded.
const INLINE_REPLAY: usize = 64 * 1024;

enum Resident {
    Unloaded,
    Loaded(Document),
    /// The checkpoint or its log is unreadable; neither is ever written.
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
    /// The document's log while it is resident.
    log: Option<Box<dyn DocumentLog>>,
    /// The resident state's counters: its version and the last tenant sequence number
    /// applied to it.
    at: Position,
    /// Bytes charged to the memory budget for the resident document.
    charged: u64,
}

/// A document's handle, shared by every request for it.
pub struct DocHandle {
    name: DocName,
    file_name: String,
    shared: Arc<Shared>,
    /// The directory's log, accounting and state.
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Milliseconds since the Unix epoch, for records (0 if the clock is before it).
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl DocHandle {
    pub(crate) fn new(
        shared: Arc<Shared>,
        dir: Arc<DirState>,
        name: DocName,
        me: Weak<DocHandle>,
    ) -> Self {
        DocHandle {
            me,
            last_write: Mutex::new(None),
            idle_announced: AtomicBool::new(false),
            dir,
            file_name: name.file_name(),
            name,
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
        engine
            .log
            .as_ref()
            .is_some_and(|log| log.len() > self.shared.settings.checkpoint_bytes.max(size))
    }

    /// Makes one batch durable and applies it; every writer in it gets its answer.
    async fn commit(&self, engine: &mut Engine, batch: Vec<Pending>) {
        if self.dir.is_closed() {
            return fail_all(batch, || StoreError::Gone);
        }
        if let Err(error) = self.ensure_loaded(engine).await {
            return fail_all(batch, || clone_error(&error));
        }
        // A log in an earlier format, or holding a refused record it could not cut, is
        // folded into a checkpoint first.
        if engine
            .log
            .as_ref()
            .is_some_and(|log| log.needs_checkpoint())
        {
            if let Err(error) = self.checkpoint(engine).await {
                return fail_all(batch, || clone_error(&error));
            }
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
        let mut records = Vec::new();
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
            let time_ms = now_ms();
            for mut pending in batch {
                let coordinate = pending.edit.coordinate();
                if !touched.contains(&coordinate) && !pending.edit.changes(doc) {
                    accepted.push((pending, None));
                    continue;
                }
                let size = doc.serialized_len_if(&coordinate, pending.edit.text_len_after(doc));
                let grows = size.saturating_sub(doc.serialized_len());
                if grows > 0 && pending.quota.is_some_and(|quota| projected + grows > quota) {
                    let _ = pending.reply.send(Err(StoreError::QuotaExceeded));
                    continue;
                }
                projected = (projected + size).saturating_sub(doc.serialized_len());
                // The edit moves into its record (no copy of its text); it is applied
                // from there once durable.
                let edit = std::mem::replace(&mut pending.edit, Edit::Delete(coordinate));
                records.push(Record {
                    seq: 0,
                    version: engine.at.version + records.len() as u64 + 1,
                    time_ms,
                    body: Body::Edit(edit),
                });
                touched.insert(coordinate);
                accepted.push((pending, Some(records.len() - 1)));
            }
        }
        let batch = accepted;
        if batch.is_empty() {
            return;
        }
        let pendings = |batch: Vec<(Pending, Option<usize>)>| batch.into_iter().map(|(p, _)| p);
        if !records.is_empty() {
            if let Err(error) = self.append(engine, &mut records).await {
                return fail_all(pendings(batch), || clone_error(&error));
            }
            self.note_write();
        }
        let mut state = self
            .resident
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let Resident::Loaded(doc) = &mut *state else {
            return fail_all(pendings(batch), || {
                StoreError::Io(io::Error::other("document not loaded"))
            });
        };
        self.forget_views();
        for (pending, logged) in batch {
            let logged = logged.and_then(|at| records[at].body.edits().first());
            let outcome = logged
                .unwrap_or(&pending.edit)
                .apply(doc)
                .map_err(StoreError::from);
            let _ = pending.reply.send(outcome);
        }
        let charge = charge_of(doc);
        self.dir.usage.set(&self.file_name, doc.serialized_len());
        drop(state);
        self.recharge(engine, charge);
    }

    /// Numbers the records in the order the tenant's commits start and appends them as one group
    /// commit; the resident counters move only once it is durable.
    async fn append(&self, engine: &mut Engine, records: &mut [Record]) -> Result<(), StoreError> {
        let Some(log) = engine.log.as_mut() else {
            return Err(StoreError::Io(io::Error::other("log not open")));
        };
        let first = self.dir.next_seqs(records.len() as u64).await?;
        for (record, seq) in records.iter_mut().zip(first..) {
            record.seq = seq;
        }
        log.append(records).await?;
        if let Some(last) = records.last() {
            engine.at = last.position();
        }
        Ok(())
    }

    /// The directory's storage in use, scanning it the first time.
    async fn usage_now(&self) -> Result<u64, StoreError> {
        let exact = self
            .resident_size()
            .map(|size| vec![(self.file_name.clone(), size)])
            .unwrap_or_default();
        self.dir.usage_total(&exact).await
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

    /// Loads the document from its log (checkpoint and records) if it is not resident.
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
        let recovered = match self.dir.log.open(&self.name).await {
            // A small document is parsed here: cheaper than another trip to the
            // blocking pool.
            Ok(opened) if replay_size(&opened) < INLINE_REPLAY => replay(opened),
            Ok(opened) => tokio::task::spawn_blocking(move || replay(opened))
                .await
                .unwrap_or_else(|join| Err(format!("loading failed: {join}"))),
            // Unreadable files stay as they are and the document is refused until an
            // operator repairs them and asks for a reload.
            Err(StoreError::Corrupt { reason, .. }) => Err(reason),
            Err(error) => return Err(error),
        };
        let mut state = self
            .resident
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        match recovered {
            Ok(Replayed {
                doc,
                at,
                log,
                replayed,
            }) => {
                let charge = charge_of(&doc);
                self.dir.usage.set(&self.file_name, doc.serialized_len());
                self.forget_views();
                *state = Resident::Loaded(doc);
                drop(state);
                engine.log = Some(log);
                engine.at = at;
                self.recharge(engine, charge);
                // Writes from before a restart count as just made: the checkpoint catches
                // up with them once the document is quiet, like with any other write.
                if replayed {
                    self.note_write();
                }
            }
            Err(reason) => {
                tracing::error!(file = %self.file_name, %reason, "stored document is unreadable; refusing to serve or overwrite it");
                self.forget_views();
                *state = Resident::Corrupt(reason);
            }
        }
        Ok(())
    }

    /// Folds the log into a new checkpoint of the resident state, then lets the log go
    /// of what it covers (the retention rule).
    async fn checkpoint(&self, engine: &mut Engine) -> Result<(), StoreError> {
        let bytes = match &*self.resident.read().unwrap_or_else(PoisonError::into_inner) {
            Resident::Loaded(doc) => doc.to_bytes(),
            _ => return Ok(()),
        };
        let covered = engine.at;
        let Some(log) = engine.log.as_mut() else {
            return Ok(());
        };
        log.checkpoint(bytes, covered).await?;
        if let Err(error) = log.forget_through(covered).await {
            tracing::warn!(file = %self.file_name, %error, "a checkpointed log could not be removed; it is discarded when next opened");
        }
        Ok(())
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

    /// The idle checkpointer's turn: fold the log into the checkpoint; false if that
    /// failed (the checkpointer tries again later). A write from here on announces the
    /// document again.
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
    pub(crate) async fn flush(&self) -> Result<(), StoreError> {
        let mut engine = self.engine.lock().await;
        self.flush_locked(&mut engine).await
    }

    async fn flush_locked(&self, engine: &mut Engine) -> Result<(), StoreError> {
        if engine
            .log
            .as_ref()
            .is_some_and(|log| !log.is_empty() || log.needs_checkpoint())
        {
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
        if !lock(&self.queue).is_empty() {
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
        engine.at = Position::default();
        let released = engine.charged;
        self.recharge(engine, 0);
        released
    }

    /// Discards the resident state and recovers it again from the log (the `load` verb).
    pub async fn reload(&self) -> Result<(), StoreError> {
        let mut engine = self.engine.lock().await;
        self.unload(&mut engine);
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

/// A document rebuilt from its checkpoint and records.
struct Replayed {
    doc: Document,
    at: Position,
    log: Box<dyn DocumentLog>,
    /// Whether records were replayed over the checkpoint.
    replayed: bool,
}

/// Roughly the bytes a replay goes through.
fn replay_size(opened: &Opened) -> usize {
    let texts: usize = opened
        .tail
        .iter()
        .flat_map(|record| record.body.edits())
        .map(|edit| edit.text_len() + 64)
        .sum();
    opened.checkpoint.len() + texts
}

/// Parses the checkpoint and applies the records after it (blocking: a large document
/// takes a while). `Err` holds why the checkpoint is unreadable.
fn replay(opened: Opened) -> Result<Replayed, String> {
    let mut doc = Document::parse(&opened.checkpoint).map_err(|error| error.to_string())?;
    drop(opened.checkpoint);
    let mut at = opened.covered;
    for record in &opened.tail {
        for edit in record.body.edits() {
            // Logged edits were checked before they were written.
            let _ = edit.apply(&mut doc);
        }
        at = at.later(record.position());
    }
    Ok(Replayed {
        doc,
        at,
        log: opened.log,
        replayed: !opened.tail.is_empty(),
    })
}

fn charge_of(doc: &Document) -> u64 {
    doc.text_len() + doc.len() as u64 * SCROLL_OVERHEAD + DOCUMENT_OVERHEAD
}

fn fail_all(batch: impl IntoIterator<Item = Pending>, error: impl Fn() -> StoreError) {
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
        StoreError::Elsewhere { node } => StoreError::Elsewhere { node: node.clone() },
        StoreError::Conflict(why) => StoreError::Conflict(why.clone()),
        StoreError::NotRegular { file } => StoreError::NotRegular { file: file.clone() },
    }
}

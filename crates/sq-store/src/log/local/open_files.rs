//! Open log files under a budget. Every resident document with a log would otherwise hold
//! a file descriptor for as long as it stays in memory, and one tenant creating many small
//! documents could take the process past its open-file limit, failing everyone's writes.
//! Past the budget, the least recently used log file is closed (its document reopens it at
//! its next write); closing costs nothing in durability, since the journal or a
//! filesystem-wide sync, not the descriptor, makes appended bytes durable, and `--sync
//! always` syncs before the file is given back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use super::disk::LogFile;

/// The open log files of a store, and their budget.
pub struct OpenFiles {
    max: usize,
    open: AtomicUsize,
    next_id: AtomicU64,
    tick: AtomicU64,
    /// Slots holding an open file.
    holders: Mutex<HashMap<u64, Weak<Slot>>>,
}

/// Where one document keeps its log file while it is open.
pub struct Slot {
    id: u64,
    files: Arc<OpenFiles>,
    file: Mutex<Option<Box<dyn LogFile>>>,
    /// When the file was last used, on the budget's clock (no lock shared between
    /// documents on the write path).
    last_used: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl OpenFiles {
    /// At most `max` log files open at once (at least one).
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(OpenFiles {
            max: max.max(1),
            open: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            tick: AtomicU64::new(1),
            holders: Mutex::new(HashMap::new()),
        })
    }

    /// The budget.
    pub fn budget(&self) -> usize {
        self.max
    }

    /// Log files open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// An empty slot for one document's log.
    pub fn slot(self: &Arc<Self>) -> Arc<Slot> {
        Arc::new(Slot {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            files: self.clone(),
            file: Mutex::new(None),
            last_used: AtomicU64::new(0),
        })
    }

    /// Closes least recently used files (other than `keep`'s) until the budget has room
    /// for one more. A file in use right now is skipped.
    fn make_room(&self, keep: u64) {
        while self.open() >= self.max {
            let mut candidates: Vec<Arc<Slot>> = lock(&self.holders)
                .iter()
                .filter(|(id, _)| **id != keep)
                .filter_map(|(_, slot)| slot.upgrade())
                .collect();
            candidates.sort_by_key(|slot| slot.last_used.load(Ordering::Relaxed));
            let closed = candidates.iter().any(|slot| match slot.file.try_lock() {
                Ok(mut file) => slot.release(&mut file),
                Err(_) => false,
            });
            if !closed {
                // Every other file is in use: go over the budget rather than wait.
                return;
            }
        }
    }
}

impl Slot {
    /// The slot's file, opening it with `open` if it is closed (making room first).
    /// Holds the slot until the guard is dropped.
    pub fn get(
        self: &Arc<Self>,
        open: impl FnOnce() -> std::io::Result<Box<dyn LogFile>>,
    ) -> std::io::Result<SlotGuard<'_>> {
        let mut file = lock(&self.file);
        let tick = self.files.tick.fetch_add(1, Ordering::Relaxed);
        self.last_used.store(tick, Ordering::Relaxed);
        if file.is_none() {
            self.files.make_room(self.id);
            *file = Some(open()?);
            self.files.open.fetch_add(1, Ordering::Relaxed);
            lock(&self.files.holders).insert(self.id, Arc::downgrade(self));
        }
        Ok(SlotGuard { file })
    }

    /// Closes the file, if open (the log was replaced or removed).
    pub fn close(&self) {
        let mut file = lock(&self.file);
        self.release(&mut file);
    }

    /// Whether the slot's file is open now.
    pub fn is_open(&self) -> bool {
        lock(&self.file).is_some()
    }

    fn release(&self, file: &mut Option<Box<dyn LogFile>>) -> bool {
        if file.take().is_none() {
            return false;
        }
        self.files.open.fetch_sub(1, Ordering::Relaxed);
        lock(&self.files.holders).remove(&self.id);
        true
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let file = self.file.get_mut().unwrap_or_else(PoisonError::into_inner);
        if file.take().is_some() {
            self.files.open.fetch_sub(1, Ordering::Relaxed);
            lock(&self.files.holders).remove(&self.id);
        }
    }
}

/// An open file, held.
pub struct SlotGuard<'a> {
    file: MutexGuard<'a, Option<Box<dyn LogFile>>>,
}

impl SlotGuard<'_> {
    /// The open file (always there: `get` opened it before handing out the guard).
    pub fn file(&mut self) -> std::io::Result<&mut Box<dyn LogFile>> {
        self.file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("log file not open"))
    }
}

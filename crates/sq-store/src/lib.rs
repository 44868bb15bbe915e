//! SQ's storage engine: tenants' phext documents, resident under a memory budget,
//! written through each tenant's log. It knows nothing of HTTP or tokens.
//!
//! A write is logged as a record (sequence number, version, time, edit) and made durable
//! (concurrent writers share the sync) before it is applied and acknowledged. The log is
//! folded into a checkpoint when it grows past a threshold, when the document has been
//! quiet for a while, when it is evicted, and at shutdown; opening a document replays
//! what its checkpoint does not hold. Two seams: [`placement`] says where a tenant is
//! served, [`log`] keeps a tenant's records and checkpoints ([`log::local`] in files,
//! [`log::memory`] in memory). See docs/ARCHITECTURE.md for what a crash at any point
//! leaves behind.

mod directory;
mod document;
mod edit;
mod idle;
pub mod log;
mod name;
pub mod placement;
mod tenant;
mod usage;
mod views;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

pub use directory::Directory;
pub use edit::{Edit, EditOutcome};
pub use log::local::disk::{
    remove_stale_temp_files, Disk, FsSync, LogFile, NotRegularFile, RealDisk,
};
pub use name::{DocName, InvalidName};
pub use tenant::{InvalidTenantId, TenantId, MAX_TENANT_ID_LEN};
pub use views::View;

use log::local::LocalLogs;
use placement::{NotHere, Placed, Placement, SingleNode};

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The stored file is not a valid phext (for example not UTF-8); it is left untouched.
    #[error("stored document {file} is unreadable: {reason}")]
    Corrupt {
        /// The file name (never a full path).
        file: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The disk is full.
    #[error("no space left to store the document")]
    NoSpace,
    /// The write would take the tenant past its storage quota.
    #[error("storage quota exceeded")]
    QuotaExceeded,
    /// Any other I/O failure.
    #[error("storage I/O failed: {0}")]
    Io(#[source] io::Error),
    /// The edit itself was refused by the phext engine.
    #[error(transparent)]
    Edit(#[from] phext::EditError),
    /// The document's file (or its log) is a symlink, a directory or another non-regular
    /// file: refused, never followed.
    #[error("stored document {file} is not a regular file")]
    NotRegular {
        /// The document's file name (never a full path).
        file: String,
    },
    /// Not now: retry after a while (memory for large answers is spent, say).
    #[error("{reason}")]
    Unavailable {
        /// When a retry may succeed.
        retry_after: std::time::Duration,
        /// Why, in words a client may see.
        reason: &'static str,
    },
    /// Another node serves the tenant now: this one must not write for it again.
    #[error("this node no longer serves the tenant")]
    Fenced,
    /// A condition of the write does not hold (another writer changed it first).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Another node serves the tenant.
    #[error("the tenant is served by another node ({node})")]
    Elsewhere {
        /// That node's address.
        node: String,
    },
    /// The directory was detached (its tenant removed): nothing in it is served any more.
    #[error("the directory is no longer served")]
    Gone,
}

impl StoreError {
    /// Classifies an I/O error: running out of space is its own kind.
    pub(crate) fn from_io(error: io::Error) -> Self {
        match error.raw_os_error() {
            Some(code) if code == libc::ENOSPC || code == libc::EDQUOT => Self::NoSpace,
            // Out of file descriptors: not the request's fault, and soon over.
            Some(code) if code == libc::EMFILE || code == libc::ENFILE => Self::Unavailable {
                retry_after: std::time::Duration::from_secs(1),
                reason: "the server is out of file handles; try again shortly",
            },
            _ if error.kind() == io::ErrorKind::StorageFull => Self::NoSpace,
            _ => Self::Io(error),
        }
    }
}

/// When a write is synced to disk before it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncMode {
    /// Every write gets its own sync before its reply.
    Always,
    /// Every write is synced before its reply; concurrent writers, to any documents on
    /// one filesystem, share one sync (group commit).
    #[default]
    Batch,
    /// Writes reach the OS before the reply but are never synced by SQ: they survive a
    /// crash of SQ, not of the machine.
    Off,
}

/// How the store behaves.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// When writes are synced.
    pub sync: SyncMode,
    /// A log is folded into its checkpoint once it is longer than this and than the
    /// document itself (so a write costs O(change) amortized).
    pub checkpoint_bytes: u64,
    /// Resident documents beyond this many bytes are evicted, least recently used first.
    pub max_resident_bytes: u64,
    /// The shared journal that group-commits writes to every document with one sync
    /// (`--sync batch`); without one, writers share a filesystem-wide sync instead.
    pub journal: Option<PathBuf>,
    /// The journal starts over (after syncing every log) past this size.
    pub journal_max_bytes: u64,
    /// A document is checkpointed once it has gone this long without a write (`None`:
    /// only when its log is long, when it is evicted, and at shutdown). Needs
    /// [`Store::run_idle_checkpoints`] running.
    pub idle_checkpoint: Option<std::time::Duration>,
    /// Large views (document bodies, exports, big scrolls) held by answers being sent may
    /// take this many bytes together; past it, requests that need a new one wait
    /// [`StoreSettings::view_wait`] for room, then are refused.
    pub max_view_bytes: u64,
    /// How long a request waits for room in the view budget.
    pub view_wait: std::time::Duration,
    /// Document log files kept open at once; past it, the least recently used is closed
    /// and reopened at its document's next write.
    pub max_open_logs: usize,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            sync: SyncMode::Batch,
            checkpoint_bytes: 4 * 1024 * 1024,
            max_resident_bytes: 512 * 1024 * 1024,
            journal: None,
            journal_max_bytes: 64 * 1024 * 1024,
            idle_checkpoint: Some(std::time::Duration::from_secs(5)),
            max_view_bytes: 256 * 1024 * 1024,
            view_wait: std::time::Duration::from_secs(5),
            max_open_logs: 1024,
        }
    }
}

/// The memory charged to resident documents, and the signal to evict.
pub(crate) struct Budget {
    used: AtomicU64,
    max: u64,
    over: tokio::sync::Notify,
}

impl Budget {
    /// Replaces a charge of `old` bytes by `new`.
    pub(crate) fn adjust(&self, old: u64, new: u64) {
        let used = if new >= old {
            self.used.fetch_add(new - old, Ordering::Relaxed) + (new - old)
        } else {
            self.used.fetch_sub(old - new, Ordering::Relaxed) - (old - new)
        };
        if used > self.max {
            self.over.notify_one();
        }
    }

    fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }
}

/// Documents checkpointed together when the memory budget is exceeded.
const EVICTIONS_AT_ONCE: usize = 8;

/// What every document handle shares.
pub(crate) struct Shared {
    pub(crate) settings: StoreSettings,
    pub(crate) budget: Budget,
    /// Documents waiting for their idle checkpoint.
    pub(crate) idle: Option<idle::IdleCheckpoints>,
    /// Memory of large views held by answers.
    pub(crate) views: Arc<views::ViewBudget>,
    /// A logical clock for least-recently-used order.
    pub(crate) tick: AtomicU64,
}

/// Every tenant the server has touched, by id, so that every token of a tenant shares
/// one in-memory state.
pub struct Store {
    shared: Arc<Shared>,
    placement: Arc<dyn Placement>,
    tenants: Mutex<Tenants>,
    /// The local files' logs, when the store keeps its tenants here.
    local: Option<Arc<LocalLogs>>,
}

#[derive(Default)]
struct Tenants {
    /// Where each tenant is served from now.
    current: HashMap<TenantId, Served>,
    /// Whose each current directory is.
    owners: HashMap<PathBuf, TenantId>,
    /// Tenants given a new data directory by a reload: their former directory, still
    /// used by requests that started before, until it is detached.
    moved: Vec<(TenantId, Served)>,
}

struct Served {
    dir: PathBuf,
    directory: Arc<Directory>,
}

impl Tenants {
    fn all(&self) -> Vec<Arc<Directory>> {
        let current = self.current.values();
        let moved = self.moved.iter().map(|(_, served)| served);
        current
            .chain(moved)
            .map(|served| served.directory.clone())
            .collect()
    }
}

impl Store {
    /// A store on the real disk. With a journal, replays it first (start-up recovery).
    pub fn new(settings: StoreSettings) -> io::Result<Self> {
        Store::with_disk(settings, Arc::new(RealDisk))
    }

    /// A store of local files on any [`Disk`] (tests inject faults this way).
    pub fn with_disk(settings: StoreSettings, disk: Arc<dyn Disk>) -> io::Result<Self> {
        let journal = settings
            .journal
            .clone()
            .map(|path| (path, settings.journal_max_bytes));
        let logs = LocalLogs::open(disk, settings.sync, journal, settings.max_open_logs)?;
        let mut store = Store::with_placement(settings, Arc::new(SingleNode::new(logs.clone())));
        store.local = Some(logs);
        Ok(store)
    }

    /// A store whose tenants are placed, and their logs kept, by `placement`.
    pub fn with_placement(settings: StoreSettings, placement: Arc<dyn Placement>) -> Self {
        let budget = Budget {
            used: AtomicU64::new(0),
            max: settings.max_resident_bytes,
            over: tokio::sync::Notify::new(),
        };
        Store {
            shared: Arc::new(Shared {
                idle: settings.idle_checkpoint.map(idle::IdleCheckpoints::new),
                views: Arc::new(views::ViewBudget::new(
                    settings.max_view_bytes,
                    settings.view_wait,
                )),
                settings,
                budget,
                tick: AtomicU64::new(1),
            }),
            placement,
            tenants: Mutex::new(Tenants::default()),
            local: None,
        }
    }

    /// The tenant `id`, whose data directory is `dir` (absolute, already created by the
    /// config loader), placed where the placement says.
    pub fn tenant(&self, id: &TenantId, dir: &Path) -> Arc<Directory> {
        let mut tenants = self.lock_tenants();
        if let Some(served) = tenants.current.get(id).filter(|s| s.dir == dir) {
            return served.directory.clone();
        }
        // A directory keeps its one state whoever it passes to (a tenant renamed by a
        // reload, two tenants swapping directories): two states over one directory would
        // write the same files.
        let taken_over = match tenants.owners.get(dir).cloned() {
            Some(former) => tenants.current.remove(&former),
            None => {
                let at = tenants
                    .moved
                    .iter()
                    .position(|(_, served)| served.dir == dir);
                at.map(|at| tenants.moved.swap_remove(at).1)
            }
        };
        if let Some(served) = taken_over {
            let directory = served.directory.clone();
            tenants.owners.insert(dir.to_path_buf(), id.clone());
            if let Some(left) = tenants.current.insert(id.clone(), served) {
                tenants.owners.remove(&left.dir);
                tenants.moved.push((id.clone(), left));
            }
            return directory;
        }
        let log = match self.placement.place(id, dir) {
            Placed::Here(log) => log,
            elsewhere => Arc::new(NotHere(elsewhere)),
        };
        let directory = Arc::new(Directory::new(log, self.shared.clone()));
        let served = Served {
            dir: dir.to_path_buf(),
            directory: directory.clone(),
        };
        tenants.owners.insert(dir.to_path_buf(), id.clone());
        if let Some(former) = tenants.current.insert(id.clone(), served) {
            tenants.owners.remove(&former.dir);
            tenants.moved.push((id.clone(), former));
        }
        directory
    }

    /// The tenant served from `dir`, with an id made from the path (the crate's tests).
    #[cfg(test)]
    pub(crate) fn directory(&self, dir: &Path) -> Arc<Directory> {
        self.tenant(&TenantId::for_name(&dir.to_string_lossy()), dir)
    }

    fn lock_tenants(&self) -> std::sync::MutexGuard<'_, Tenants> {
        self.tenants.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes currently charged to resident documents.
    pub fn resident_bytes(&self) -> u64 {
        self.shared.budget.used()
    }

    /// Document log files open now, and their budget (for a store of local files).
    pub fn open_log_files(&self) -> Option<(usize, usize)> {
        let files = self.local.as_ref()?.open_files();
        Some((files.open(), files.budget()))
    }

    /// Bytes of large views held by answers being sent.
    pub fn view_bytes(&self) -> u64 {
        self.shared.views.used()
    }

    fn all_handles(&self) -> Vec<Arc<document::DocHandle>> {
        let directories = self.lock_tenants().all();
        directories.iter().flat_map(|d| d.handles()).collect()
    }

    /// Evicts least recently used documents until the budget has room again; runs until
    /// the store is dropped. Spawn it once on the runtime.
    pub async fn run_evictor(self: Arc<Self>) {
        loop {
            self.shared.budget.over.notified().await;
            self.evict_to(self.shared.settings.max_resident_bytes / 10 * 9)
                .await;
        }
    }

    /// Checkpoints documents once they stop changing (see
    /// [`StoreSettings::idle_checkpoint`]); runs for the life of the store. Spawn it once
    /// on the runtime.
    pub async fn run_idle_checkpoints(self: Arc<Self>) {
        if let Some(idle) = &self.shared.idle {
            idle.run().await;
        }
    }

    /// Loads every document whose log holds writes from before the start (a crash, a
    /// checkpoint that failed), so that the idle checkpointer folds them into their
    /// `.phext` files although nobody asks for them. Spawn it once, after start-up; it
    /// returns when done. One scan of every directory, in the background.
    pub async fn checkpoint_leftover_logs(self: Arc<Self>) {
        if self.shared.idle.is_none() {
            return;
        }
        let directories = self.lock_tenants().all();
        let mut found = Vec::new();
        for directory in directories {
            for name in directory.documents_with_records().await {
                found.push((directory.clone(), name));
            }
        }
        let mut loaded = 0usize;
        for (directory, name) in found {
            if directory.read(&name, |_| ()).await.is_ok() {
                loaded += 1;
            }
        }
        if loaded > 0 {
            tracing::info!(
                documents = loaded,
                "documents with writes from before the start are checkpointed once quiet"
            );
        }
    }

    /// Evicts idle documents, least recently used first, until at most `target` bytes stay.
    pub async fn evict_to(&self, target: u64) {
        if self.resident_bytes() <= target {
            return;
        }
        let mut candidates: Vec<_> = self
            .all_handles()
            .into_iter()
            .filter(|h| h.is_resident())
            .collect();
        candidates.sort_by_key(|h| h.last_used());
        let mut evicted = 0usize;
        // A few at a time: each eviction waits for its checkpoint's syncs, and one at a
        // time falls behind writers that share theirs.
        for handles in candidates.chunks(EVICTIONS_AT_ONCE) {
            if self.resident_bytes() <= target {
                break;
            }
            let released = futures_util::future::join_all(handles.iter().map(|h| h.evict())).await;
            evicted += released.iter().filter(|&&bytes| bytes > 0).count();
        }
        for directory in self.lock_tenants().all() {
            directory.prune();
        }
        release_freed_memory();
        tracing::debug!(
            evicted,
            resident_bytes = self.resident_bytes(),
            "eviction pass"
        );
    }

    /// Lets go of tenant `id` served from `dir` (removed, or moved to another
    /// directory): it is closed at once, so that nothing in it is loaded or committed
    /// from here on, and forgotten, so that a tenant given the same id and directory
    /// later starts from the files; then every log is folded into its checkpoint and the
    /// documents are unloaded, so the files can be moved.
    pub async fn detach(&self, id: &TenantId, dir: &Path) {
        let detached: Vec<Served> = {
            let mut tenants = self.lock_tenants();
            let mut detached = Vec::new();
            if tenants.current.get(id).is_some_and(|s| s.dir == dir) {
                detached.extend(tenants.current.remove(id));
                tenants.owners.remove(dir);
            }
            let (gone, kept) = std::mem::take(&mut tenants.moved)
                .into_iter()
                .partition(|(moved, served)| moved == id && served.dir == dir);
            tenants.moved = kept;
            detached.extend(gone.into_iter().map(|(_, served)| served));
            detached
        };
        for served in detached {
            let directory = served.directory;
            directory.close();
            for handle in directory.handles() {
                if let Err(error) = handle.flush().await {
                    tracing::error!(%error, "checkpoint of a removed tenant's document failed; the log stays beside it");
                }
                handle.unload_now().await;
            }
        }
    }

    /// Folds every log into its checkpoint (clean shutdown).
    pub async fn checkpoint_all(&self) {
        for handle in self.all_handles() {
            if let Err(error) = handle.flush().await {
                tracing::error!(%error, "checkpoint at shutdown failed; the log keeps every write");
            }
        }
    }
}

/// Hands memory freed by evictions back to the OS, so the process's size follows the
/// budget rather than its high-water mark.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap pages; it has no other effect.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests;

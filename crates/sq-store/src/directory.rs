//! One tenant data directory: its document handles, created on first use.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once, PoisonError};

use phext::Document;

use super::disk::remove_stale_temp_files;
use super::document::DocHandle;
use super::edit::{Edit, EditOutcome};
use super::name::DocName;
use super::usage::Usage;
use super::views::View;
use super::{Shared, StoreError};

/// A tenant's data directory. Reads of one document run in parallel; writes to it are
/// committed in order (concurrent ones share a sync); documents never wait on each other.
pub struct Directory {
    path: PathBuf,
    /// The filesystem the directory is on, registered for group commit.
    device: Option<u64>,
    shared: Arc<Shared>,
    state: Arc<DirState>,
    documents: Mutex<HashMap<DocName, Arc<DocHandle>>>,
}

/// What a directory's document handles share with it.
pub(crate) struct DirState {
    path: PathBuf,
    /// Storage accounting of every document in it.
    pub(crate) usage: Usage,
    /// Set when the directory is detached; its handles then refuse to load or commit.
    closed: AtomicBool,
    /// Stale temp files are removed once, before the first document is read.
    swept: Once,
}

impl DirState {
    /// Whether the directory was detached.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Removes the temp files of checkpoints and new logs that a crash left behind, once
    /// per directory and process, before its first document is loaded (so none of ours
    /// can be under way). Blocking: call off the async workers.
    pub(crate) fn sweep_once(&self) {
        self.swept.call_once(|| {
            let is_document = |target: &str| {
                target.ends_with(".phext") || target.ends_with(".phext.wal")
            };
            match remove_stale_temp_files(&self.path, is_document) {
                Ok(0) => {}
                Ok(removed) => {
                    tracing::info!(dir = %self.path.display(), removed, "removed temp files a crash left behind")
                }
                Err(error) => {
                    tracing::warn!(dir = %self.path.display(), %error, "cannot look for stale temp files")
                }
            }
        });
    }
}

impl Directory {
    pub(crate) fn new(path: PathBuf, shared: Arc<Shared>) -> Self {
        // Opened now, before any write here, so the sync handle reports every error.
        let device = match shared.disk.filesystem(&path) {
            Ok((device, handle)) => {
                shared.committer.register(device, handle);
                Some(device)
            }
            Err(error) => {
                tracing::warn!(dir = %path.display(), %error, "no filesystem-wide sync; each write syncs its own log");
                None
            }
        };
        Directory {
            path: path.clone(),
            device,
            state: Arc::new(DirState {
                path,
                usage: Usage::default(),
                closed: AtomicBool::new(false),
                swept: Once::new(),
            }),
            shared,
            documents: Mutex::new(HashMap::new()),
        }
    }

    fn handle(&self, name: &DocName) -> Arc<DocHandle> {
        let mut documents = self
            .documents
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        documents
            .entry(name.clone())
            .or_insert_with(|| {
                Arc::new_cyclic(|me| {
                    DocHandle::new(
                        self.shared.clone(),
                        self.state.clone(),
                        &self.path,
                        name.file_name(),
                        self.device,
                        me.clone(),
                    )
                })
            })
            .clone()
    }

    /// Runs `read` on the document (an absent file reads as an empty document and is
    /// not created).
    pub async fn read<R>(
        &self,
        name: &DocName,
        read: impl FnOnce(&Document) -> R,
    ) -> Result<R, StoreError> {
        self.handle(name).read(read).await
    }

    /// A view of the document, shared by every reader of its version (see
    /// [`DocHandle::read_view`]).
    pub async fn read_view(&self, name: &DocName, view: View) -> Result<bytes::Bytes, StoreError> {
        self.handle(name).read_view(view).await
    }

    /// What `render` makes of the document, for answers that depend on the request; a
    /// large one is charged to the view budget while it is held.
    pub async fn read_charged(
        &self,
        name: &DocName,
        render: impl Fn(&Document) -> Vec<u8>,
    ) -> Result<bytes::Bytes, StoreError> {
        self.handle(name).read_charged(render).await
    }

    /// Applies `edit` once it is durable; refuses it if it would take the directory past
    /// `quota` bytes.
    pub async fn write(
        &self,
        name: &DocName,
        edit: &Edit,
        quota: Option<u64>,
    ) -> Result<EditOutcome, StoreError> {
        self.handle(name).write(edit.clone(), quota).await
    }

    /// Bytes stored: the canonical size of every document (the directory is scanned once,
    /// then kept current).
    pub async fn usage(&self) -> Result<u64, StoreError> {
        if let Some(total) = self.state.usage.total() {
            return Ok(total);
        }
        let exact: Vec<(String, u64)> = self
            .handles()
            .iter()
            .filter_map(|h| {
                h.resident_size()
                    .map(|size| (h.file_name().to_owned(), size))
            })
            .collect();
        let state = self.state.clone();
        tokio::task::spawn_blocking(move || state.usage.ensure(&state.path, &exact))
            .await
            .unwrap_or_else(|join| Err(std::io::Error::other(join.to_string())))
            .map_err(StoreError::from_io)
    }

    /// Bytes stored, if already known (never scans).
    pub fn known_usage(&self) -> Option<u64> {
        self.state.usage.total()
    }

    /// Discards the resident state and reads the document again from disk.
    pub async fn reload(&self, name: &DocName) -> Result<(), StoreError> {
        self.handle(name).reload().await
    }

    /// Stops serving the directory: from now on no document in it is loaded or written.
    pub(crate) fn close(&self) {
        self.state.closed.store(true, Ordering::SeqCst);
    }

    /// The documents that have a log file, from a scan of the directory (blocking). A
    /// directory that cannot be read has none.
    pub(crate) fn documents_with_logs(&self) -> Vec<DocName> {
        let Ok(entries) = std::fs::read_dir(&self.path) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|entry| {
                let file = entry.file_name();
                let stem = file.to_str()?.strip_suffix(".phext.wal")?;
                DocName::parse(stem.as_bytes()).ok()
            })
            .collect()
    }

    /// Every handle, for eviction and shutdown.
    pub(crate) fn handles(&self) -> Vec<Arc<DocHandle>> {
        let documents = self
            .documents
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        documents.values().cloned().collect()
    }

    /// Forgets handles nobody uses and that hold nothing in memory.
    pub(crate) fn prune(&self) {
        let mut documents = self
            .documents
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        documents.retain(|_, handle| Arc::strong_count(handle) > 1 || handle.is_resident());
    }
}

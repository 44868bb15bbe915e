//! One tenant: its document handles, created on first use, over the tenant's log.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use phext::Document;

use super::document::DocHandle;
use super::edit::{Edit, EditOutcome};
use super::log::TenantLog;
use super::name::DocName;
use super::usage::Usage;
use super::views::View;
use super::{Shared, StoreError};

/// A tenant's documents. Reads of one document run in parallel; writes to it are
/// committed in order (concurrent ones share a sync); documents never wait on each other.
pub struct Directory {
    shared: Arc<Shared>,
    state: Arc<DirState>,
    documents: Mutex<HashMap<DocName, Arc<DocHandle>>>,
}

/// What a directory's document handles share with it.
pub(crate) struct DirState {
    /// Where the tenant's documents are kept.
    pub(crate) log: Arc<dyn TenantLog>,
    /// Storage accounting of every document in it.
    pub(crate) usage: Usage,
    /// Set when the directory is detached; its handles then refuse to load or commit.
    closed: AtomicBool,
    /// The next tenant sequence number, learnt from the log at the first commit.
    next_seq: tokio::sync::Mutex<Option<u64>>,
}

impl DirState {
    /// Whether the directory was detached.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Takes `count` consecutive sequence numbers, in the order commits ask for them.
    /// A commit that then fails leaves its numbers unused: numbers are never reused, and
    /// readers of the tenant's order must not expect them to be dense. Commits of
    /// different documents become durable in any order, so a reader resuming after a
    /// number must wait until every number below it is durable or given up (the
    /// change feed's watermark) before it skips past them.
    pub(crate) async fn next_seqs(&self, count: u64) -> Result<u64, StoreError> {
        let mut next = self.next_seq.lock().await;
        let first = match *next {
            Some(first) => first,
            None => self.log.last_seq().await? + 1,
        };
        *next = Some(first + count);
        Ok(first)
    }

    /// Bytes stored, asking the log for every document's size the first time; `exact`
    /// holds the sizes of resident documents.
    pub(crate) async fn usage_total(&self, exact: &[(String, u64)]) -> Result<u64, StoreError> {
        if let Some(total) = self.usage.total() {
            return Ok(total);
        }
        let stored: Vec<(String, u64)> = self
            .log
            .sizes()
            .await?
            .into_iter()
            .map(|(name, size)| (name.file_name(), size))
            .collect();
        Ok(self.usage.ensure(&stored, exact))
    }
}

impl Directory {
    pub(crate) fn new(log: Arc<dyn TenantLog>, shared: Arc<Shared>) -> Self {
        Directory {
            state: Arc::new(DirState {
                log,
                usage: Usage::default(),
                closed: AtomicBool::new(false),
                next_seq: tokio::sync::Mutex::new(None),
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
                        name.clone(),
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

    /// Bytes stored: the canonical size of every document (the log is asked once, then
    /// the total is kept current).
    pub async fn usage(&self) -> Result<u64, StoreError> {
        let exact: Vec<(String, u64)> = self
            .handles()
            .iter()
            .filter_map(|h| {
                h.resident_size()
                    .map(|size| (h.file_name().to_owned(), size))
            })
            .collect();
        self.state.usage_total(&exact).await
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

    /// The documents whose records are not all in their checkpoints. A tenant whose log
    /// cannot be read has none.
    pub(crate) async fn documents_with_records(&self) -> Vec<DocName> {
        self.state.log.with_records().await.unwrap_or_default()
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

//! A tenant log held in memory, that fails where a test tells it to: the second
//! implementation the conformance suite runs against, and a store for tests that need no
//! files. What an append acknowledged survives "restarts" (a new store over the same
//! [`MemoryTenantLog`]); what failed leaves no trace. Unlike the local log it keeps
//! checkpointed records until [`DocumentLog::forget_through`] lets them go, so retention
//! is observable.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::{DocumentLog, Opened, Position, Record, TenantLog};
use crate::name::DocName;
use crate::StoreError;

/// What the next operations should do instead of succeeding.
#[derive(Debug, Default, Clone)]
pub struct MemoryFaults {
    /// This many appends fail with an I/O error, then appends work again.
    pub failed_appends: u32,
    /// This many checkpoints fail with an I/O error.
    pub failed_checkpoints: u32,
    /// This many opens fail with an I/O error.
    pub failed_opens: u32,
    /// Every append is refused as [`StoreError::Fenced`] (another node took the tenant).
    pub fenced: bool,
}

#[derive(Default)]
struct Stored {
    checkpoint: Vec<u8>,
    covered: Position,
    /// Acknowledged records not yet let go of, in commit order.
    records: Vec<Record>,
}

#[derive(Default)]
struct State {
    documents: BTreeMap<DocName, Stored>,
    faults: MemoryFaults,
}

/// One tenant's log in memory. Cloning shares it.
#[derive(Clone, Default)]
pub struct MemoryTenantLog {
    state: Arc<Mutex<State>>,
}

impl MemoryTenantLog {
    /// An empty tenant.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes what the next operations do.
    pub fn set_faults(&self, faults: MemoryFaults) {
        self.state().faults = faults;
    }

    /// The records of `name` still held (checkpointed or not).
    pub fn held_records(&self, name: &DocName) -> Vec<Record> {
        self.state()
            .documents
            .get(name)
            .map(|d| d.records.clone())
            .unwrap_or_default()
    }
}

fn injected(what: &str) -> StoreError {
    StoreError::Io(io::Error::other(format!("injected {what} failure")))
}

/// Takes one from a fault counter; true if the operation is to fail.
fn take(counter: &mut u32) -> bool {
    let fail = *counter > 0;
    *counter = counter.saturating_sub(1);
    fail
}

fn size_of(record: &Record) -> u64 {
    let mut bytes = Vec::new();
    super::format::encode(record, &mut bytes) as u64
}

#[async_trait]
impl TenantLog for MemoryTenantLog {
    async fn open(&self, name: &DocName) -> Result<Opened, StoreError> {
        let mut state = self.state();
        if take(&mut state.faults.failed_opens) {
            return Err(injected("open"));
        }
        let stored = state.documents.get(name);
        let (checkpoint, covered, tail) = match stored {
            Some(stored) => (
                stored.checkpoint.clone(),
                stored.covered,
                stored
                    .records
                    .iter()
                    .filter(|r| r.version > stored.covered.version)
                    .cloned()
                    .collect::<Vec<_>>(),
            ),
            None => (Vec::new(), Position::default(), Vec::new()),
        };
        let len = tail.iter().map(size_of).sum();
        Ok(Opened {
            checkpoint,
            covered,
            tail,
            log: Box::new(MemoryDocumentLog {
                tenant: self.clone(),
                name: name.clone(),
                len,
            }),
        })
    }

    async fn list(&self) -> Result<Vec<DocName>, StoreError> {
        Ok(self
            .state()
            .documents
            .iter()
            .filter(|(_, d)| !d.checkpoint.is_empty() || !d.records.is_empty())
            .map(|(name, _)| name.clone())
            .collect())
    }

    async fn sizes(&self) -> Result<Vec<(DocName, u64)>, StoreError> {
        Ok(self
            .state()
            .documents
            .iter()
            .map(|(name, d)| {
                let records: u64 = d.records.iter().map(size_of).sum();
                (name.clone(), d.checkpoint.len() as u64 + records)
            })
            .collect())
    }

    async fn with_records(&self) -> Result<Vec<DocName>, StoreError> {
        Ok(self
            .state()
            .documents
            .iter()
            .filter(|(_, d)| d.records.iter().any(|r| r.version > d.covered.version))
            .map(|(name, _)| name.clone())
            .collect())
    }

    async fn scan(&self, from: u64) -> Result<Vec<(DocName, Record)>, StoreError> {
        let mut found: Vec<(DocName, Record)> = self
            .state()
            .documents
            .iter()
            .flat_map(|(name, d)| d.records.iter().map(move |r| (name.clone(), r.clone())))
            .filter(|(_, r)| r.seq >= from && r.seq > 0)
            .collect();
        found.sort_by_key(|(_, r)| r.seq);
        Ok(found)
    }

    async fn last_seq(&self) -> Result<u64, StoreError> {
        let state = self.state();
        let covered = state.documents.values().map(|d| d.covered.seq);
        let records = state
            .documents
            .values()
            .flat_map(|d| d.records.iter().map(|r| r.seq));
        Ok(covered.chain(records).max().unwrap_or(0))
    }
}

struct MemoryDocumentLog {
    tenant: MemoryTenantLog,
    name: DocName,
    /// Bytes of records beyond the checkpoint (as the file format would take).
    len: u64,
}

#[async_trait]
impl DocumentLog for MemoryDocumentLog {
    async fn append(&mut self, records: &[Record]) -> Result<(), StoreError> {
        let mut state = self.tenant.state();
        if state.faults.fenced {
            return Err(StoreError::Fenced);
        }
        if take(&mut state.faults.failed_appends) {
            return Err(injected("append"));
        }
        let stored = state.documents.entry(self.name.clone()).or_default();
        stored.records.extend_from_slice(records);
        self.len += records.iter().map(size_of).sum::<u64>();
        Ok(())
    }

    fn len(&self) -> u64 {
        self.len
    }

    fn needs_checkpoint(&self) -> bool {
        false
    }

    async fn checkpoint(&mut self, bytes: Vec<u8>, covered: Position) -> Result<(), StoreError> {
        let mut state = self.tenant.state();
        if take(&mut state.faults.failed_checkpoints) {
            return Err(injected("checkpoint"));
        }
        let stored = state.documents.entry(self.name.clone()).or_default();
        stored.checkpoint = bytes;
        stored.covered = covered;
        self.len = 0;
        Ok(())
    }

    async fn forget_through(&mut self, covered: Position) -> Result<(), StoreError> {
        let mut state = self.tenant.state();
        if let Some(stored) = state.documents.get_mut(&self.name) {
            stored.records.retain(|r| r.version > covered.version);
        }
        Ok(())
    }
}

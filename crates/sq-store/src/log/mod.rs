//! A tenant's log: the seam between documents in memory and wherever their writes are
//! kept. A document is opened from its checkpoint and the records after it; writes are
//! appended one group commit at a time and acknowledged once the append returns;
//! checkpoints fold the records in. [`local`] keeps them in files (one `.phext` and one
//! `.phext.wal` per document, a shared journal or filesystem-wide sync for group commit);
//! [`memory`] keeps them in memory and fails where a test tells it to; the cluster's
//! object-store log will be the third implementation. One conformance suite
//! (`conformance.rs`) holds every implementation to the same contract.

pub mod format;
pub mod local;
pub mod memory;

#[cfg(test)]
mod conformance;

use async_trait::async_trait;
use phext::Coordinate;

use crate::edit::Edit;
use crate::name::DocName;
use crate::StoreError;

/// Where a checkpoint left a document's counters: the tenant-wide sequence number and
/// the document's version it covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    /// The highest tenant sequence number folded in.
    pub seq: u64,
    /// The document's version folded in.
    pub version: u64,
}

impl Position {
    /// The later of each counter.
    pub fn later(self, other: Position) -> Position {
        Position {
            seq: self.seq.max(other.seq),
            version: self.version.max(other.version),
        }
    }
}

/// One logged change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The tenant-wide sequence number, taken as its commit starts (0 for records written
    /// before sequence numbers existed).
    pub seq: u64,
    /// The document's version after this change.
    pub version: u64,
    /// When it was committed, in milliseconds since the Unix epoch (0 if unknown).
    pub time_ms: u64,
    /// What changed.
    pub body: Body,
}

impl Record {
    /// Where the record leaves the counters.
    pub fn position(&self) -> Position {
        Position {
            seq: self.seq,
            version: self.version,
        }
    }
}

/// What a record changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// One edit.
    Edit(Edit),
    /// Edits applied together or not at all.
    Batch(Vec<Edit>),
    /// A name bound to a coordinate (or unbound, with `None`).
    Name {
        /// The name.
        name: String,
        /// Where it points now.
        coordinate: Option<Coordinate>,
    },
    /// A document property.
    Metadata {
        /// Its key.
        key: String,
        /// Its value.
        value: Vec<u8>,
    },
}

impl Body {
    /// The edits it applies to the document's scrolls, in order.
    pub fn edits(&self) -> &[Edit] {
        match self {
            Body::Edit(edit) => std::slice::from_ref(edit),
            Body::Batch(edits) => edits,
            Body::Name { .. } | Body::Metadata { .. } => &[],
        }
    }
}

/// A document as its log holds it.
pub struct Opened {
    /// The checkpoint's bytes (empty for a document never checkpointed).
    pub checkpoint: Vec<u8>,
    /// Where the checkpoint left the counters.
    pub covered: Position,
    /// Every record after the checkpoint, in commit order.
    pub tail: Vec<Record>,
    /// The document's log, to append to from here on.
    pub log: Box<dyn DocumentLog>,
}

/// A tenant's log: its documents, their records, their checkpoints.
#[async_trait]
pub trait TenantLog: Send + Sync + 'static {
    /// Opens a document. A log this build cannot read (a newer format, an unknown record
    /// kind) is [`StoreError::Corrupt`] and is left exactly as it is; a torn tail (never
    /// acknowledged) is left out, and cut off before the next append.
    async fn open(&self, name: &DocName) -> Result<Opened, StoreError>;

    /// The documents that have a checkpoint or records, in name order.
    async fn list(&self) -> Result<Vec<DocName>, StoreError>;

    /// What each document stores, in bytes (an upper bound: checkpoint and records), for
    /// quotas before its exact size is known.
    async fn sizes(&self) -> Result<Vec<(DocName, u64)>, StoreError>;

    /// The documents whose records are not all folded into their checkpoints.
    async fn with_records(&self) -> Result<Vec<DocName>, StoreError>;

    /// Every retained record of the tenant from sequence number `from` on, in sequence
    /// order, with its document.
    async fn scan(&self, from: u64) -> Result<Vec<(DocName, Record)>, StoreError>;

    /// The highest sequence number any of the tenant's documents has used (0 for none),
    /// so that numbering goes on after a restart.
    async fn last_seq(&self) -> Result<u64, StoreError>;
}

/// One document's log, owned by whoever holds the document's engine lock.
#[async_trait]
pub trait DocumentLog: Send + 'static {
    /// Appends one group commit and returns once it is durable. On an error, none of it
    /// is ever replayed.
    async fn append(&mut self, records: &[Record]) -> Result<(), StoreError>;

    /// Bytes of records held beyond the checkpoint (what the checkpoint threshold weighs).
    fn len(&self) -> u64;

    /// Whether no record is held beyond the checkpoint.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the log must be checkpointed before the next append, and before the
    /// document is let go of (it was written in an earlier format, or a failed append
    /// could not be taken back out of it).
    fn needs_checkpoint(&self) -> bool;

    /// Replaces the checkpoint by `bytes`, which hold every record up to `covered`;
    /// durable on return. Appends after it extend the new checkpoint.
    async fn checkpoint(&mut self, bytes: Vec<u8>, covered: Position) -> Result<(), StoreError>;

    /// Retention: lets go of the records up to `covered`, already in the checkpoint.
    /// Today every checkpointed record goes; history keeps them for a while instead.
    async fn forget_through(&mut self, covered: Position) -> Result<(), StoreError>;
}

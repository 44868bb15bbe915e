//! Where a tenant is served: here (and from which log), on another node, or nowhere for
//! now. One node places every tenant here, in files under its data directory; the
//! cluster places a tenant here only while this node holds its lease, and elsewhere
//! otherwise.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::log::local::LocalLogs;
use crate::log::{Opened, Record, TenantLog};
use crate::name::DocName;
use crate::{StoreError, TenantId};

/// Where a tenant is served.
pub enum Placed {
    /// By this node, from this log.
    Here(Arc<dyn TenantLog>),
    /// By another node, at this address.
    Elsewhere {
        /// The node's address, for clients to be sent to.
        node: String,
    },
    /// Nowhere right now (its owner is failing over, say).
    Unavailable {
        /// When to ask again.
        retry_after: Duration,
        /// Why, in words a client may see.
        reason: &'static str,
    },
}

/// Decides where tenants are served.
pub trait Placement: Send + Sync + 'static {
    /// Where tenant `id` is served (`dir`: its data directory on this node, if here).
    fn place(&self, id: &TenantId, dir: &Path) -> Placed;
}

/// One node serving every tenant from its own files.
pub struct SingleNode {
    logs: Arc<LocalLogs>,
}

impl SingleNode {
    /// Every tenant here, in the files `logs` keeps.
    pub fn new(logs: Arc<LocalLogs>) -> Self {
        SingleNode { logs }
    }
}

impl Placement for SingleNode {
    fn place(&self, _id: &TenantId, dir: &Path) -> Placed {
        Placed::Here(Arc::new(self.logs.tenant(dir.to_path_buf())))
    }
}

/// The log of a tenant not served here: everything is refused with the reason.
pub(crate) struct NotHere(pub(crate) Placed);

impl NotHere {
    fn refusal(&self) -> StoreError {
        match &self.0 {
            Placed::Elsewhere { node } => StoreError::Elsewhere { node: node.clone() },
            Placed::Unavailable {
                retry_after,
                reason,
            } => StoreError::Unavailable {
                retry_after: *retry_after,
                reason,
            },
            Placed::Here(_) => StoreError::Unavailable {
                retry_after: Duration::from_secs(1),
                reason: "the tenant is being moved",
            },
        }
    }
}

#[async_trait]
impl TenantLog for NotHere {
    async fn open(&self, _: &DocName) -> Result<Opened, StoreError> {
        Err(self.refusal())
    }
    async fn list(&self) -> Result<Vec<DocName>, StoreError> {
        Err(self.refusal())
    }
    async fn sizes(&self) -> Result<Vec<(DocName, u64)>, StoreError> {
        Err(self.refusal())
    }
    async fn with_records(&self) -> Result<Vec<DocName>, StoreError> {
        Err(self.refusal())
    }
    async fn scan(&self, _: u64) -> Result<Vec<(DocName, Record)>, StoreError> {
        Err(self.refusal())
    }
    async fn last_seq(&self) -> Result<u64, StoreError> {
        Err(self.refusal())
    }
}

//! Storage: one directory per tenant, one `.phext` file per document, documents kept
//! resident after first use. Only this module turns a name into a path.
//!
//! Every acknowledged write is durable: the whole canonical document is written to a
//! temp file, fsynced and renamed over the old one before the write returns. The
//! storage-engine work replaces this with a write-ahead log behind the same interface.

mod directory;
mod durable;
mod name;
mod slot;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

pub use directory::Directory;
pub use name::{DocName, InvalidName};
pub use slot::{Edit, EditOutcome};

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
    /// The disk (or a quota) is full.
    #[error("no space left to store the document")]
    NoSpace,
    /// Any other I/O failure.
    #[error("storage I/O failed: {0}")]
    Io(#[source] io::Error),
    /// The edit itself was refused by the phext engine.
    #[error(transparent)]
    Edit(#[from] phext::EditError),
}

impl StoreError {
    /// Classifies an I/O error: running out of space is its own kind.
    pub(crate) fn from_io(error: io::Error) -> Self {
        match error.raw_os_error() {
            Some(code) if code == libc::ENOSPC || code == libc::EDQUOT => Self::NoSpace,
            _ if error.kind() == io::ErrorKind::StorageFull => Self::NoSpace,
            _ => Self::Io(error),
        }
    }
}

/// All tenant directories the server has touched, keyed by path, so that tenants (or
/// tokens) sharing a data directory share one in-memory state.
#[derive(Default)]
pub struct Store {
    directories: Mutex<HashMap<PathBuf, Arc<Directory>>>,
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The directory at `path` (absolute, already created by the config loader).
    pub fn directory(&self, path: &Path) -> Arc<Directory> {
        let mut directories = self
            .directories
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        directories
            .entry(path.to_path_buf())
            .or_insert_with(|| Arc::new(Directory::new(path.to_path_buf())))
            .clone()
    }
}

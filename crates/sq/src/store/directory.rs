//! One tenant data directory and its resident documents.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use phext::Document;
use tokio::sync::RwLock;

use super::durable::replace_file;
use super::name::DocName;
use super::slot::{undo, Edit, EditOutcome};
use super::StoreError;

/// A document's resident state.
enum State {
    /// Not read from disk yet (or dropped by `load`).
    Unloaded,
    /// Parsed and current.
    Loaded(Document),
    /// The file exists but is not a valid phext; it is never overwritten.
    Corrupt(String),
}

type Slot = Arc<RwLock<State>>;

/// A tenant's data directory: documents are loaded on first use and stay resident.
/// Reads of one document run in parallel; writes to it are serialized; documents never
/// wait on each other.
pub struct Directory {
    path: PathBuf,
    documents: Mutex<HashMap<DocName, Slot>>,
}

impl Directory {
    pub(crate) fn new(path: PathBuf) -> Self {
        Directory {
            path,
            documents: Mutex::new(HashMap::new()),
        }
    }

    fn slot(&self, name: &DocName) -> Slot {
        let mut documents = self
            .documents
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        documents
            .entry(name.clone())
            .or_insert_with(|| Arc::new(RwLock::new(State::Unloaded)))
            .clone()
    }

    /// Runs `read` on the document (an absent file reads as an empty document and is
    /// not created).
    pub async fn read<R>(
        &self,
        name: &DocName,
        read: impl FnOnce(&Document) -> R,
    ) -> Result<R, StoreError> {
        let slot = self.slot(name);
        {
            let state = slot.read().await;
            if !matches!(*state, State::Unloaded) {
                return view(&state, name).map(read);
            }
        }
        let mut state = slot.write().await;
        if matches!(*state, State::Unloaded) {
            *state = self.load(name).await?;
        }
        let state = state.downgrade();
        view(&state, name).map(read)
    }

    /// Applies `edit` and makes it durable before returning; a failed write is undone in
    /// memory, so the document reads as if it had never been tried.
    pub async fn write(&self, name: &DocName, edit: &Edit) -> Result<EditOutcome, StoreError> {
        let slot = self.slot(name);
        let mut state = slot.write().await;
        if matches!(*state, State::Unloaded) {
            *state = self.load(name).await?;
        }
        let doc = match &mut *state {
            State::Loaded(doc) => doc,
            State::Corrupt(reason) => return Err(corrupt(name, reason)),
            State::Unloaded => return Err(StoreError::Io(io::Error::other("document not loaded"))),
        };
        let (outcome, before) = edit.apply(doc)?;
        if outcome.changed {
            let bytes = doc.to_bytes();
            let path = self.path.join(name.file_name());
            let persisted =
                tokio::task::spawn_blocking(move || replace_file(&path, |f| f.write_all(&bytes)))
                    .await
                    .unwrap_or_else(|join| Err(io::Error::other(join.to_string())));
            if let Err(error) = persisted {
                undo(doc, edit.coordinate(), before);
                return Err(StoreError::from_io(error));
            }
        }
        Ok(outcome)
    }

    /// Discards the resident state and reads the document again from disk.
    pub async fn reload(&self, name: &DocName) -> Result<(), StoreError> {
        let slot = self.slot(name);
        let mut state = slot.write().await;
        *state = self.load(name).await?;
        match &*state {
            State::Corrupt(reason) => Err(corrupt(name, reason)),
            _ => Ok(()),
        }
    }

    /// Reads and parses the file; a missing file is an empty document.
    async fn load(&self, name: &DocName) -> Result<State, StoreError> {
        let path = self.path.join(name.file_name());
        let read = tokio::task::spawn_blocking(move || std::fs::read(path))
            .await
            .unwrap_or_else(|join| Err(io::Error::other(join.to_string())));
        match read {
            Ok(bytes) => Ok(match Document::parse(&bytes) {
                Ok(doc) => State::Loaded(doc),
                Err(error) => {
                    tracing::error!(file = %name, %error, "stored document is not valid phext; refusing to serve or overwrite it");
                    State::Corrupt(error.to_string())
                }
            }),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                Ok(State::Loaded(Document::new()))
            }
            Err(error) => Err(StoreError::from_io(error)),
        }
    }
}

fn view<'a>(state: &'a State, name: &DocName) -> Result<&'a Document, StoreError> {
    match state {
        State::Loaded(doc) => Ok(doc),
        State::Corrupt(reason) => Err(corrupt(name, reason)),
        State::Unloaded => Err(StoreError::Io(io::Error::other("document not loaded"))),
    }
}

fn corrupt(name: &DocName, reason: &str) -> StoreError {
    StoreError::Corrupt {
        file: name.file_name(),
        reason: reason.to_owned(),
    }
}

//! Group commit across documents: writers that appended to their own logs wait here for
//! one filesystem-wide sync, shared by everyone who arrived while the previous one ran.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

use super::disk::FsSync;

type Waiter = oneshot::Sender<Result<(), (io::ErrorKind, String)>>;

/// One filesystem's sync handle and the writers waiting on its next sync.
struct Group {
    handle: Arc<dyn FsSync>,
    waiters: Vec<Waiter>,
    running: bool,
}

/// Per-filesystem group commit.
#[derive(Default)]
pub(crate) struct Committer {
    groups: Mutex<HashMap<u64, Group>>,
}

impl Committer {
    /// Remembers the sync handle of a filesystem; the first one registered stays, so the
    /// handle in use was opened before any write it covers.
    pub(crate) fn register(&self, device: u64, handle: Arc<dyn FsSync>) {
        let mut groups = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
        groups.entry(device).or_insert(Group {
            handle,
            waiters: Vec::new(),
            running: false,
        });
    }

    /// Returns once everything written to `device` before the call is durable.
    pub(crate) async fn sync(self: &Arc<Self>, device: u64) -> io::Result<()> {
        let (waiter, done) = oneshot::channel();
        let lead = {
            let mut groups = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(group) = groups.get_mut(&device) else {
                return Err(io::Error::other(
                    "filesystem not registered for group commit",
                ));
            };
            group.waiters.push(waiter);
            !std::mem::replace(&mut group.running, true)
        };
        if lead {
            // Detached, so that a writer going away cannot strand the others.
            tokio::spawn(self.clone().run(device));
        }
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err((kind, message))) => Err(io::Error::new(kind, message)),
            Err(_) => Err(io::Error::other("group commit abandoned")),
        }
    }

    /// Syncs every registered filesystem, blocking the calling thread (the journal's
    /// syncer, starting the journal over).
    pub(crate) fn sync_all_now(&self) -> io::Result<()> {
        let handles: Vec<Arc<dyn FsSync>> = self
            .groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|g| g.handle.clone())
            .collect();
        handles.iter().try_for_each(|h| h.sync())
    }

    /// Syncs for everyone waiting, round after round, until nobody is.
    async fn run(self: Arc<Self>, device: u64) {
        loop {
            let (waiters, handle) = {
                let mut groups = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
                let Some(group) = groups.get_mut(&device) else {
                    return;
                };
                if group.waiters.is_empty() {
                    group.running = false;
                    return;
                }
                (std::mem::take(&mut group.waiters), group.handle.clone())
            };
            let result = tokio::task::spawn_blocking(move || handle.sync())
                .await
                .unwrap_or_else(|join| Err(io::Error::other(join.to_string())));
            let shared = result.map_err(|e| (raw_kind(&e), e.to_string()));
            for waiter in waiters {
                let _ = waiter.send(shared.clone());
            }
        }
    }
}

/// Keeps "no space" recognisable after the error is shared between writers.
fn raw_kind(error: &io::Error) -> io::ErrorKind {
    match error.raw_os_error() {
        Some(code) if code == libc::ENOSPC || code == libc::EDQUOT => io::ErrorKind::StorageFull,
        _ => error.kind(),
    }
}

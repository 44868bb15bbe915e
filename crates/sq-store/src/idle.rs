//! Idle checkpoints: a document is folded into its `.phext` a few seconds after its last
//! write, so that the files are current whenever the server is quiet (contract §10.18) —
//! a copy of the directory, a phext tool or a fallback to another server then sees every
//! acknowledged write, not only what the last size-triggered checkpoint held.
//!
//! A document announces itself once per dirty period (its first write after a
//! checkpoint, or a load that found writes in its log from before a restart); one task
//! keeps the announced documents ordered by when they fall idle and checkpoints them one
//! at a time, off every writer's request path (writers to that document wait for the
//! checkpoint, as for any other). A checkpoint that fails (a full disk) is tried again
//! later, backing off up to [`MAX_BACKOFF`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::sleep_until;

use tokio::time::Instant;

use super::document::DocHandle;

/// The longest wait between two tries of a failing idle checkpoint.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// The documents waiting for their idle checkpoint.
pub(crate) struct IdleCheckpoints {
    /// How long a document must go unwritten before it is checkpointed.
    delay: Duration,
    announce: mpsc::UnboundedSender<Weak<DocHandle>>,
    announced: Mutex<Option<mpsc::UnboundedReceiver<Weak<DocHandle>>>>,
}

impl IdleCheckpoints {
    /// Checkpoints documents `delay` after their last write.
    pub(crate) fn new(delay: Duration) -> Self {
        let (announce, announced) = mpsc::unbounded_channel();
        IdleCheckpoints {
            delay,
            announce,
            announced: Mutex::new(Some(announced)),
        }
    }

    /// A document got its first write since its last checkpoint.
    pub(crate) fn announce(&self, handle: Weak<DocHandle>) {
        let _ = self.announce.send(handle);
    }

    /// Checkpoints announced documents once they have been idle for the delay; runs for
    /// the life of the store (only the first call does anything).
    pub(crate) async fn run(&self) {
        let taken = self
            .announced
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(mut announced) = taken else {
            return;
        };
        // Keyed by when each is due, then by arrival (ties); with the failed tries so far.
        let mut due: BTreeMap<(Instant, u64), (Weak<DocHandle>, u32)> = BTreeMap::new();
        let mut arrivals = 0u64;
        let mut queue = |due: &mut BTreeMap<_, _>, at: Instant, handle: &Arc<DocHandle>, tries| {
            arrivals += 1;
            due.insert((at, arrivals), (Arc::downgrade(handle), tries));
        };
        loop {
            let next = due.keys().next().map(|(at, _)| *at);
            tokio::select! {
                received = announced.recv() => match received {
                    Some(handle) => {
                        if let Some(handle) = handle.upgrade() {
                            if let Some(written) = handle.last_write() {
                                queue(&mut due, written + self.delay, &handle, 0);
                            }
                        }
                    }
                    None => return,
                },
                () = sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => {
                    let now = Instant::now();
                    while let Some(entry) = due.first_entry() {
                        if entry.key().0 > now {
                            break;
                        }
                        let (handle, tries) = entry.remove();
                        let Some(handle) = handle.upgrade() else {
                            continue;
                        };
                        match handle.last_write() {
                            // Written again meanwhile: wait for the new quiet period.
                            Some(written) if written + self.delay > now => {
                                queue(&mut due, written + self.delay, &handle, tries)
                            }
                            _ => {
                                if !handle.checkpoint_idle().await {
                                    let backoff = self
                                        .delay
                                        .saturating_mul(2u32.saturating_pow(tries + 1))
                                        .min(MAX_BACKOFF);
                                    queue(&mut due, Instant::now() + backoff, &handle, tries + 1);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

//! Views of a document that answers are made of — its canonical bytes, toc, checksum,
//! JSON export, one scroll — rendered once per version and shared by every reader of that
//! version, and the memory budget for the large ones.
//!
//! A client that asks for a 20 MB document and stops reading keeps its answer until the
//! connection's write deadline. Were every answer its own copy, sixty such clients would
//! pin 1.2 GB outside any budget. So a large view (from [`LARGE`] bytes) is one allocation
//! shared by everyone reading that version, charged once to a process-wide budget for as
//! long as any answer holds it, and freed with the last one. When the budget is spent, a
//! request that needs a new large view waits a moment for room, then is refused with 503
//! (`StoreError::Busy`): memory stays bounded whatever readers do. Small views (toc and
//! checksum of ordinary documents) are kept with the document until it changes, charged to
//! the resident budget, since editors ask for them after every edit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use phext::{Coordinate, Document};
use tokio::sync::Notify;

use super::StoreError;

/// Views from this size on are shared and charged to the [`ViewBudget`]; smaller ones are
/// copied behind the response head anyway.
pub const LARGE: usize = 16 * 1024;

/// A view of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The canonical serialization (`get`).
    Bytes,
    /// The toc lines.
    Toc,
    /// The XXH3-128 checksum in hex.
    Checksum,
    /// The JSON export.
    Json,
    /// One scroll's text (`select`).
    Scroll(Coordinate),
}

impl View {
    /// Renders the view of `doc`.
    pub(crate) fn render(self, doc: &Document) -> Vec<u8> {
        match self {
            View::Bytes => doc.to_bytes(),
            View::Toc => doc.textmap().into_bytes(),
            View::Checksum => doc.checksum().into_bytes(),
            View::Json => doc.to_json().into_bytes(),
            View::Scroll(c) => doc.select(&c).as_bytes().to_vec(),
        }
    }

    /// About how large the view of `doc` is, without rendering it: enough to tell a view
    /// that needs room in the budget from one that does not.
    pub(crate) fn estimate(self, doc: &Document) -> usize {
        let size = match self {
            View::Bytes | View::Json => doc.serialized_len(),
            View::Toc => doc.len() as u64 * 64,
            View::Checksum => 32,
            View::Scroll(c) => doc.get(&c).map_or(0, str::len) as u64,
        };
        usize::try_from(size).unwrap_or(usize::MAX)
    }
}

/// The process-wide budget for large views held by answers being sent.
pub(crate) struct ViewBudget {
    used: AtomicU64,
    max: u64,
    /// How long a request waits for room before it is refused.
    wait: Duration,
    released: Notify,
}

impl ViewBudget {
    pub(crate) fn new(max: u64, wait: Duration) -> Self {
        ViewBudget {
            used: AtomicU64::new(0),
            max,
            wait,
            released: Notify::new(),
        }
    }

    /// Bytes held by large views now.
    pub(crate) fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Returns once there is room for another large view, or refuses after the wait.
    /// A single view larger than the whole budget is let through when nothing else is
    /// held, so that every document can still be read.
    pub(crate) async fn admit(&self) -> Result<(), StoreError> {
        let deadline = tokio::time::Instant::now() + self.wait;
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            // Registered before the check, so a release in between is not missed.
            released.as_mut().enable();
            if self.used() < self.max {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, released).await.is_err() {
                return Err(StoreError::Busy {
                    retry_after: Duration::from_secs(1),
                });
            }
        }
    }

    /// `bytes` as a view charged to the budget until its last holder drops it.
    pub(crate) fn charge(self: &Arc<Self>, bytes: Vec<u8>) -> Arc<Charged> {
        self.used.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Arc::new(Charged {
            bytes,
            budget: self.clone(),
        })
    }
}

/// A large view's bytes, charged to the budget while alive.
pub(crate) struct Charged {
    bytes: Vec<u8>,
    budget: Arc<ViewBudget>,
}

impl Drop for Charged {
    fn drop(&mut self) {
        self.budget
            .used
            .fetch_sub(self.bytes.len() as u64, Ordering::Relaxed);
        self.budget.released.notify_waiters();
    }
}

/// One answer's hold on a shared view.
struct Held(Arc<Charged>);

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.0.bytes
    }
}

/// The body of an answer that holds `view`: no copy, and the view stays charged until
/// the answer (every clone of the body) is gone.
pub(crate) fn body_of(view: &Arc<Charged>) -> Bytes {
    Bytes::from_owner(Held(view.clone()))
}

/// A view kept with a document for the version it was rendered from.
pub(crate) enum Kept {
    /// Small: kept until the document changes, charged to the resident budget.
    Small(View, Bytes),
    /// Large: shared while some answer holds it; the document keeps no hold of its own.
    Large(View, Weak<Charged>),
}

impl Kept {
    /// The kept body of `view`, if this is it and it is still alive.
    pub(crate) fn body(&self, view: View) -> Option<Bytes> {
        match self {
            Kept::Small(v, bytes) if *v == view => Some(bytes.clone()),
            Kept::Large(v, shared) if *v == view => shared.upgrade().as_ref().map(body_of),
            _ => None,
        }
    }

    /// Bytes charged to the resident budget for this entry.
    pub(crate) fn resident_charge(&self) -> u64 {
        match self {
            Kept::Small(_, bytes) => bytes.len() as u64,
            Kept::Large(..) => 0,
        }
    }

    /// Whether the entry still holds anything.
    pub(crate) fn is_alive(&self) -> bool {
        match self {
            Kept::Small(..) => true,
            Kept::Large(_, shared) => shared.strong_count() > 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn views_are_charged_once_while_held_and_refused_past_the_budget() {
        let budget = Arc::new(ViewBudget::new(100, Duration::from_millis(50)));
        let view = budget.charge(vec![7; 150]);
        let body = body_of(&view);
        let copy = body.clone();
        drop(view);
        assert_eq!(budget.used(), 150, "one charge, however many holders");
        assert_eq!(&copy[..3], &[7, 7, 7]);
        let refused = budget.admit().await;
        assert!(
            matches!(refused, Err(StoreError::Busy { .. })),
            "{refused:?}"
        );
        drop((body, copy));
        assert_eq!(budget.used(), 0, "freed with the last holder");
        assert!(budget.admit().await.is_ok());
    }

    #[tokio::test]
    async fn a_waiting_request_is_let_in_once_room_is_freed() {
        let budget = Arc::new(ViewBudget::new(100, Duration::from_secs(30)));
        let view = budget.charge(vec![0; 100]);
        let waiting = {
            let budget = budget.clone();
            tokio::spawn(async move { budget.admit().await })
        };
        tokio::task::yield_now().await;
        drop(view);
        assert!(waiting.await.unwrap().is_ok());
    }

    #[test]
    fn kept_views_are_found_by_view_and_large_ones_only_while_held() {
        let budget = Arc::new(ViewBudget::new(1 << 20, Duration::ZERO));
        let small = Kept::Small(View::Toc, Bytes::from_static(b"toc"));
        assert_eq!(small.body(View::Toc).as_deref(), Some(&b"toc"[..]));
        assert_eq!(small.body(View::Checksum), None);
        assert_eq!(small.resident_charge(), 3);
        let view = budget.charge(vec![1; LARGE]);
        let large = Kept::Large(View::Bytes, Arc::downgrade(&view));
        let body = large.body(View::Bytes).unwrap();
        assert_eq!(body.as_ptr(), view.bytes.as_ptr(), "shared, not copied");
        assert_eq!(large.resident_charge(), 0);
        drop((view, body));
        assert!(!large.is_alive());
        assert_eq!(large.body(View::Bytes), None);
    }
}

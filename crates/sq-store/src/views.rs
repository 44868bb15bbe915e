//! Views of a document that answers are made of — its canonical bytes, toc, checksum,
//! JSON export, one scroll — rendered once per version and shared by every reader of that
//! version, and the memory budget for answers that hold large ones.
//!
//! A client that asks for a 20 MB document and stops reading keeps its answer until the
//! connection's write deadline. Were every answer its own copy, sixty such clients would
//! pin 1.2 GB outside any budget. So a view is one allocation that every answer reads from
//! (no copy), and a large one (from [`LARGE`] bytes) is charged once to a process-wide
//! budget for as long as any answer holds it. When the budget is spent, a request that
//! needs a new large view waits a moment for room, then is refused with 503
//! (`StoreError::Unavailable`): memory stays bounded whatever readers do.
//!
//! Views that cost a walk of the whole document and that clients ask for again and again
//! (toc, checksum, JSON export: an editor refreshes its toc after every edit) are kept
//! with the document until it changes, charged to the resident budget, which evicts them
//! with their document. The canonical bytes and a scroll are cheap to make again: they
//! are kept only while some answer holds them, so that concurrent readers share them and
//! nothing stays pinned once the answers are sent.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use phext::{Coordinate, Document};
use tokio::sync::Notify;

use super::StoreError;

/// Views from this size on count against the [`ViewBudget`] while answers hold them;
/// smaller ones are copied behind the response head anyway.
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

    /// Whether the view is kept with the document until it changes (costly to render
    /// and asked for again and again), rather than only while answers hold it.
    pub(crate) fn is_kept(self) -> bool {
        matches!(self, View::Toc | View::Checksum | View::Json)
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

    /// Bytes of large views that answers hold now.
    pub(crate) fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Takes room for a view of about `bytes` before it is rendered, waiting up to the
    /// budget's wait for other answers to give some back, else refuses. A view larger
    /// than the whole budget gets in when no answer holds anything, so that every
    /// document can still be read.
    pub(crate) async fn reserve(self: &Arc<Self>, bytes: usize) -> Result<Reservation, StoreError> {
        let deadline = tokio::time::Instant::now() + self.wait;
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            // Registered before the attempt, so a release in between is not missed.
            released.as_mut().enable();
            if let Some(reservation) = self.try_reserve(bytes) {
                return Ok(reservation);
            }
            if tokio::time::timeout_at(deadline, released).await.is_err() {
                return Err(StoreError::Unavailable {
                    retry_after: Duration::from_secs(1),
                    reason: "too many large answers are being sent; try again",
                });
            }
        }
    }

    /// Takes room for `bytes` if there is some now.
    pub(crate) fn try_reserve(self: &Arc<Self>, bytes: usize) -> Option<Reservation> {
        let bytes = bytes as u64;
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used == 0 || used.saturating_add(bytes) <= self.max).then(|| used + bytes)
            })
            .ok()?;
        Some(Reservation {
            bytes,
            budget: self.clone(),
        })
    }

    fn release(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
        self.released.notify_waiters();
    }

    /// A rendered view, counted against the budget while answers hold it.
    pub(crate) fn view(self: &Arc<Self>, bytes: Vec<u8>) -> Arc<Rendered> {
        Arc::new(Rendered {
            bytes,
            holders: AtomicUsize::new(0),
            budget: self.clone(),
        })
    }
}

/// Room taken in the budget for a view about to be rendered; given back when dropped,
/// once the view itself counts (or if it is never made).
pub(crate) struct Reservation {
    bytes: u64,
    budget: Arc<ViewBudget>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.release(self.bytes);
    }
}

/// A view's bytes.
pub(crate) struct Rendered {
    bytes: Vec<u8>,
    /// Answers holding it: the budget counts a large view once while there is any.
    holders: AtomicUsize,
    budget: Arc<ViewBudget>,
}

impl Rendered {
    /// The view's length.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// The body of an answer that holds the view: no copy, and a large view counts
    /// against the budget until the answer (every clone of the body) is gone.
    pub(crate) fn body(self: &Arc<Self>) -> Bytes {
        let first = self.holders.fetch_add(1, Ordering::AcqRel) == 0;
        if first && self.len() >= LARGE {
            self.budget
                .used
                .fetch_add(self.len() as u64, Ordering::AcqRel);
        }
        Bytes::from_owner(Held(self.clone()))
    }

    /// Like [`Rendered::body`], for the view `reservation` made room for: the view's own
    /// count takes the reservation's place.
    pub(crate) fn body_reserved(self: &Arc<Self>, reservation: Reservation) -> Bytes {
        let body = self.body();
        drop(reservation);
        body
    }
}

/// One answer's hold on a view.
struct Held(Arc<Rendered>);

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.0.bytes
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let view = &self.0;
        let last = view.holders.fetch_sub(1, Ordering::AcqRel) == 1;
        if last && view.len() >= LARGE {
            view.budget.release(view.len() as u64);
        }
    }
}

/// A view kept with a document for the version it was rendered from.
pub(crate) enum Kept {
    /// Kept until the document changes, charged to the resident budget.
    Kept(View, Arc<Rendered>),
    /// Shared while some answer holds it; the document keeps no hold of its own.
    Shared(View, Weak<Rendered>),
}

impl Kept {
    /// The body of `view`, if this is it and it is still alive.
    pub(crate) fn body(&self, view: View) -> Option<Bytes> {
        match self {
            Kept::Kept(v, rendered) if *v == view => Some(rendered.body()),
            Kept::Shared(v, rendered) if *v == view => rendered.upgrade().map(|r| r.body()),
            _ => None,
        }
    }

    /// Bytes charged to the resident budget for this entry.
    pub(crate) fn resident_charge(&self) -> u64 {
        match self {
            Kept::Kept(_, rendered) => rendered.len() as u64,
            Kept::Shared(..) => 0,
        }
    }

    /// Whether the entry still holds anything.
    pub(crate) fn is_alive(&self) -> bool {
        match self {
            Kept::Kept(..) => true,
            Kept::Shared(_, rendered) => rendered.strong_count() > 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn views_count_once_while_answers_hold_them_and_past_the_budget_are_refused() {
        let budget = Arc::new(ViewBudget::new(LARGE as u64, Duration::from_millis(50)));
        let view = budget.view(vec![7; 2 * LARGE]);
        assert_eq!(budget.used(), 0, "not held by any answer yet");
        let body = view.body();
        let copy = body.clone();
        let other = view.body();
        assert_eq!(
            budget.used(),
            2 * LARGE as u64,
            "once, however many holders"
        );
        assert_eq!(&copy[..3], &[7, 7, 7]);
        assert!(matches!(
            budget.reserve(1).await,
            Err(StoreError::Unavailable { .. })
        ));
        drop((body, copy));
        assert_eq!(budget.used(), 2 * LARGE as u64, "still held by one answer");
        drop(other);
        assert_eq!(budget.used(), 0, "kept, but held by no answer");
        let small = budget.view(vec![1; 10]);
        let _held = small.body();
        assert_eq!(budget.used(), 0, "small views are not counted");
    }

    #[tokio::test]
    async fn reservations_add_up_and_make_way_for_their_view() {
        let budget = Arc::new(ViewBudget::new(LARGE as u64, Duration::from_millis(50)));
        let half = budget.try_reserve(LARGE / 2).unwrap();
        let other_half = budget.try_reserve(LARGE / 2).unwrap();
        assert!(budget.try_reserve(1).is_none(), "no room left");
        drop((half, other_half));
        assert_eq!(budget.used(), 0);
        // Larger than the whole budget: let in alone, then nothing else fits.
        let alone = budget.reserve(3 * LARGE).await.unwrap();
        assert_eq!(budget.used(), 3 * LARGE as u64);
        assert!(budget.try_reserve(1).is_none());
        let body = budget.view(vec![2; 3 * LARGE]).body_reserved(alone);
        assert_eq!(budget.used(), 3 * LARGE as u64, "the view took its place");
        drop(body);
        assert_eq!(budget.used(), 0);
    }

    #[tokio::test]
    async fn a_waiting_request_is_let_in_once_room_is_freed() {
        let budget = Arc::new(ViewBudget::new(LARGE as u64, Duration::from_secs(30)));
        let body = budget.view(vec![0; LARGE]).body();
        let waiting = {
            let budget = budget.clone();
            tokio::spawn(async move { budget.reserve(LARGE).await.map(|r| r.bytes) })
        };
        tokio::task::yield_now().await;
        drop(body);
        assert_eq!(waiting.await.unwrap().ok(), Some(LARGE as u64));
        assert_eq!(
            budget.used(),
            0,
            "the dropped reservation gave its room back"
        );
    }

    #[test]
    fn kept_views_are_found_by_view_and_shared_ones_only_while_held() {
        let budget = Arc::new(ViewBudget::new(1 << 20, Duration::ZERO));
        let toc = budget.view(b"toc".to_vec());
        let kept = Kept::Kept(View::Toc, toc);
        assert_eq!(kept.body(View::Toc).as_deref(), Some(&b"toc"[..]));
        assert_eq!(kept.body(View::Checksum), None);
        assert_eq!(kept.resident_charge(), 3);
        let view = budget.view(vec![1; LARGE]);
        let shared = Kept::Shared(View::Bytes, Arc::downgrade(&view));
        let body = shared.body(View::Bytes).unwrap();
        assert_eq!(body.as_ptr(), view.bytes.as_ptr(), "shared, not copied");
        assert_eq!(shared.resident_charge(), 0);
        drop((view, body));
        assert!(!shared.is_alive());
        assert_eq!(shared.body(View::Bytes), None);
    }
}

//! Storage used by one tenant directory: the sum of its documents' canonical sizes, kept
//! current as documents change, so quotas never walk the directory per request.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Per-document sizes and their total. Unknown until the directory is first scanned.
#[derive(Default)]
pub(crate) struct Usage {
    state: Mutex<Option<Sizes>>,
}

#[derive(Default)]
struct Sizes {
    by_document: HashMap<String, u64>,
    total: u64,
}

impl Sizes {
    fn set(&mut self, file: &str, size: u64) {
        let old = self.by_document.insert(file.to_owned(), size).unwrap_or(0);
        self.total = self.total - old + size;
    }
}

impl Usage {
    /// The total, if known.
    pub(crate) fn total(&self) -> Option<u64> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|s| s.total)
    }

    /// Records a document's exact size (after a load or a commit).
    pub(crate) fn set(&self, file: &str, size: u64) {
        if let Some(sizes) = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            sizes.set(file, size);
        }
    }

    /// Sets the sizes once, unless already known: `stored` as the log reports them
    /// (checkpoint plus records, an upper bound), overridden by `exact` for resident
    /// documents.
    pub(crate) fn ensure(&self, stored: &[(String, u64)], exact: &[(String, u64)]) -> u64 {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sizes) = state.as_ref() {
            return sizes.total;
        }
        let mut sizes = Sizes::default();
        for (file, size) in stored.iter().chain(exact) {
            sizes.set(file, *size);
        }
        state.get_or_insert(sizes).total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_once_then_follows_updates() {
        let usage = Usage::default();
        assert_eq!(usage.total(), None);
        usage.set("ignored.phext", 100);
        assert_eq!(
            usage.total(),
            None,
            "nothing counts before the first ensure"
        );
        let stored = [("a.phext".to_owned(), 8), (".phext".to_owned(), 2)];
        assert_eq!(usage.ensure(&stored, &[]), 10);
        usage.set("a.phext", 6);
        assert_eq!(usage.total(), Some(8));
        assert_eq!(
            usage.ensure(&[("c.phext".into(), 10)], &[]),
            8,
            "set once only"
        );
        let exact = Usage::default();
        assert_eq!(exact.ensure(&stored, &[("a.phext".into(), 4)]), 4 + 2);
    }
}

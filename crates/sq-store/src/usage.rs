//! Storage used by one tenant directory: the sum of its documents' canonical sizes, kept
//! current as documents change, so quotas never walk the directory per request.

use std::collections::HashMap;
use std::io;
use std::path::Path;
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

    /// Scans `dir` once, unless already known. Documents not loaded count their file
    /// sizes (checkpoint plus log, an upper bound); `exact` overrides with the sizes of
    /// resident ones.
    pub(crate) fn ensure(&self, dir: &Path, exact: &[(String, u64)]) -> io::Result<u64> {
        if let Some(total) = self.total() {
            return Ok(total);
        }
        let mut sizes = Sizes::default();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let document = match name.strip_suffix(".wal") {
                Some(document) => document.to_owned(),
                None => name.clone(),
            };
            if !document.ends_with(".phext") {
                continue;
            }
            let len = entry.metadata()?.len();
            let known = sizes.by_document.get(&document).copied().unwrap_or(0);
            sizes.set(&document, known + len);
        }
        for (file, size) in exact {
            sizes.set(file, *size);
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(state.get_or_insert(sizes).total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_once_then_follows_updates() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.phext"), b"12345").unwrap();
        std::fs::write(dir.path().join("a.phext.wal"), b"123").unwrap();
        std::fs::write(dir.path().join(".phext"), b"12").unwrap();
        std::fs::write(dir.path().join(".b.phext.tmp-1-2"), b"ignored").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"ignored").unwrap();
        let usage = Usage::default();
        assert_eq!(usage.total(), None);
        assert_eq!(usage.ensure(dir.path(), &[]).unwrap(), 5 + 3 + 2);
        usage.set("a.phext", 6);
        assert_eq!(usage.total(), Some(8));
        std::fs::write(dir.path().join("c.phext"), b"1234567890").unwrap();
        assert_eq!(
            usage.ensure(dir.path(), &[]).unwrap(),
            8,
            "scanned once only"
        );
        let exact = Usage::default();
        assert_eq!(
            exact.ensure(dir.path(), &[("a.phext".into(), 4)]).unwrap(),
            4 + 2 + 10
        );
    }
}

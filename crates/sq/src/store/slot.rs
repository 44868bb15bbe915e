//! One document's resident state and its single-scroll edits.

use phext::{Coordinate, Document};

/// A single-scroll mutation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Append text to a scroll.
    Insert(Coordinate, String),
    /// Overwrite a scroll (empty text removes it).
    Update(Coordinate, String),
    /// Remove a scroll.
    Delete(Coordinate),
}

/// What an edit did, in the byte counts the API reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EditOutcome {
    /// Bytes inserted, written or removed.
    pub bytes: usize,
    /// Whether the document changed (and so had to be persisted).
    pub changed: bool,
}

impl Edit {
    /// The coordinate the edit touches.
    pub fn coordinate(&self) -> Coordinate {
        match self {
            Edit::Insert(c, _) | Edit::Update(c, _) | Edit::Delete(c) => *c,
        }
    }

    /// Applies the edit and returns what it did plus the scroll's previous text, which
    /// is what [`undo`] needs to take it back.
    pub(crate) fn apply(
        &self,
        doc: &mut Document,
    ) -> Result<(EditOutcome, Option<String>), phext::EditError> {
        let coordinate = self.coordinate();
        let before = doc.get(&coordinate).map(str::to_owned);
        let outcome = match self {
            Edit::Insert(_, text) => {
                let bytes = doc.insert(coordinate, text)?;
                EditOutcome {
                    bytes,
                    changed: bytes > 0,
                }
            }
            Edit::Update(_, text) => {
                let previous = doc.update(coordinate, text)?;
                EditOutcome {
                    bytes: text.len(),
                    changed: previous.as_deref() != Some(text.as_str())
                        && !(previous.is_none() && text.is_empty()),
                }
            }
            Edit::Delete(_) => {
                let removed = doc.delete(&coordinate);
                EditOutcome {
                    bytes: removed.as_ref().map_or(0, String::len),
                    changed: removed.is_some(),
                }
            }
        };
        Ok((outcome, before))
    }

    /// What the edit would report, without changing anything (for HEAD).
    pub fn preview(&self, doc: &Document) -> Result<EditOutcome, phext::EditError> {
        let mut scratch = Document::new();
        if let Some(text) = doc.get(&self.coordinate()) {
            scratch.update(self.coordinate(), text)?;
        }
        self.apply(&mut scratch).map(|(outcome, _)| outcome)
    }
}

/// Puts the scroll at `coordinate` back to `before`.
pub(crate) fn undo(doc: &mut Document, coordinate: Coordinate, before: Option<String>) {
    match before {
        // The text came out of the document, so it holds no delimiter.
        Some(text) => {
            let _ = doc.update(coordinate, &text);
        }
        None => {
            doc.delete(&coordinate);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Coordinate {
        s.parse().unwrap()
    }

    #[test]
    fn apply_and_undo_restore_the_document() {
        let mut doc = Document::parse(b"a\x17b").unwrap();
        let original = doc.clone();
        for edit in [
            Edit::Insert(c("1"), "x".into()),
            Edit::Insert(c("9"), "x".into()),
            Edit::Update(c("2"), "y".into()),
            Edit::Update(c("2"), "".into()),
            Edit::Update(c("7"), "z".into()),
            Edit::Delete(c("1")),
        ] {
            let (_, before) = edit.apply(&mut doc).unwrap();
            assert_ne!(doc, original, "{edit:?}");
            undo(&mut doc, edit.coordinate(), before);
            assert_eq!(doc, original, "{edit:?}");
        }
    }

    #[test]
    fn outcomes_report_bytes_and_changes() {
        let doc = Document::parse(b"abc").unwrap();
        let preview = |e: Edit| Edit::preview(&e, &doc).unwrap();
        assert_eq!(
            preview(Edit::Insert(c("1"), "de".into())),
            EditOutcome {
                bytes: 2,
                changed: true
            }
        );
        assert_eq!(
            preview(Edit::Insert(c("1"), "".into())),
            EditOutcome {
                bytes: 0,
                changed: false
            }
        );
        assert_eq!(
            preview(Edit::Update(c("1"), "abc".into())),
            EditOutcome {
                bytes: 3,
                changed: false
            }
        );
        assert_eq!(
            preview(Edit::Update(c("2"), "".into())),
            EditOutcome {
                bytes: 0,
                changed: false
            }
        );
        assert_eq!(
            preview(Edit::Delete(c("1"))),
            EditOutcome {
                bytes: 3,
                changed: true
            }
        );
        assert_eq!(
            preview(Edit::Delete(c("5"))),
            EditOutcome {
                bytes: 0,
                changed: false
            }
        );
        assert_eq!(doc.select(&c("1")), "abc", "preview changes nothing");
    }
}

//! Single-scroll edits: what a write asks for, and what it did.

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
    /// Whether the document changed.
    pub changed: bool,
}

impl Edit {
    /// The coordinate the edit touches.
    pub fn coordinate(&self) -> Coordinate {
        match self {
            Edit::Insert(c, _) | Edit::Update(c, _) | Edit::Delete(c) => *c,
        }
    }

    /// The length of the text it carries.
    pub fn text_len(&self) -> usize {
        match self {
            Edit::Insert(_, text) | Edit::Update(_, text) => text.len(),
            Edit::Delete(_) => 0,
        }
    }

    /// Whether the edit would change `doc` (an edit that would not is never logged).
    pub fn changes(&self, doc: &Document) -> bool {
        let current = doc.get(&self.coordinate());
        match self {
            Edit::Insert(_, text) => !text.is_empty(),
            Edit::Update(_, text) => {
                current != Some(text.as_str()) && !(current.is_none() && text.is_empty())
            }
            Edit::Delete(_) => current.is_some(),
        }
    }

    /// Applies the edit. Text was checked for delimiters before the edit was logged, so
    /// this cannot fail for a logged edit; a refused one changes nothing.
    pub fn apply(&self, doc: &mut Document) -> Result<EditOutcome, phext::EditError> {
        let changed = self.changes(doc);
        let bytes = match self {
            Edit::Insert(c, text) => doc.insert(*c, text)?,
            Edit::Update(c, text) => {
                doc.update(*c, text)?;
                text.len()
            }
            Edit::Delete(c) => doc.delete(c).map_or(0, |removed| removed.len()),
        };
        Ok(EditOutcome { bytes, changed })
    }

    /// What the edit would report, without changing anything (for HEAD).
    pub fn preview(&self, doc: &Document) -> EditOutcome {
        let bytes = match self {
            Edit::Insert(_, text) | Edit::Update(_, text) => text.len(),
            Edit::Delete(c) => doc.get(c).map_or(0, str::len),
        };
        EditOutcome {
            bytes,
            changed: self.changes(doc),
        }
    }

    /// The length of the scroll's text once the edit is applied to `doc`.
    pub fn text_len_after(&self, doc: &Document) -> usize {
        match self {
            Edit::Insert(c, text) => doc.get(c).map_or(0, str::len) + text.len(),
            Edit::Update(_, text) => text.len(),
            Edit::Delete(_) => 0,
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
    fn outcomes_report_bytes_and_changes() {
        let doc = Document::parse(b"abc").unwrap();
        let cases = [
            (Edit::Insert(c("1"), "de".into()), 2, true),
            (Edit::Insert(c("1"), "".into()), 0, false),
            (Edit::Update(c("1"), "abc".into()), 3, false),
            (Edit::Update(c("1"), "xy".into()), 2, true),
            (Edit::Update(c("2"), "".into()), 0, false),
            (Edit::Update(c("1"), "".into()), 0, true),
            (Edit::Delete(c("1")), 3, true),
            (Edit::Delete(c("5")), 0, false),
        ];
        for (edit, bytes, changed) in cases {
            let expected = EditOutcome { bytes, changed };
            assert_eq!(edit.preview(&doc), expected, "{edit:?}");
            let mut scratch = doc.clone();
            assert_eq!(edit.apply(&mut scratch).unwrap(), expected, "{edit:?}");
            assert_eq!(scratch != doc, changed, "{edit:?}");
        }
        assert_eq!(doc.select(&c("1")), "abc", "previews change nothing");
    }
}

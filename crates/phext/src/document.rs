//! A phext document as a sorted map of non-empty scrolls, with in-place edits.

use std::collections::btree_map::{self, BTreeMap};
use std::fmt;
use std::ops::Bound;

use crate::coordinate::Coordinate;
use crate::delimiter::contains_delimiter;
use crate::serialize::transition_len;

/// A phext document: non-empty scroll texts keyed by coordinate, in document order.
///
/// An empty scroll cannot be represented in the byte format, so empty means absent:
/// setting a scroll to `""` removes it and reading an absent scroll gives `""`.
/// Every edit costs `O(log n)` in the number of scrolls plus the size of the text
/// changed, independent of the document's size in bytes. The canonical serialized
/// length is kept current as edits happen, so it is known without serializing.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Document {
    scrolls: BTreeMap<Coordinate, String>,
    /// Sum of the scroll texts' byte lengths.
    text_bytes: u64,
    /// Delimiter bytes the canonical serialization puts between the scrolls.
    delimiter_bytes: u64,
}

/// Why an edit was refused. A refused edit changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditError {
    /// The text holds one of the nine delimiter bytes, which would re-address every
    /// later scroll.
    TextContainsDelimiter,
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TextContainsDelimiter => write!(f, "scroll text contains a phext delimiter byte"),
        }
    }
}

impl std::error::Error for EditError {}

fn check_text(text: &str) -> Result<(), EditError> {
    if contains_delimiter(text.as_bytes()) {
        return Err(EditError::TextContainsDelimiter);
    }
    Ok(())
}

impl Document {
    /// An empty document.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a document from scrolls already in strictly ascending coordinate order,
    /// with non-empty, delimiter-free texts. The caller guarantees the invariants.
    pub(crate) fn from_sorted_unchecked(entries: Vec<(Coordinate, String)>) -> Self {
        let mut text_bytes = 0u64;
        let mut delimiter_bytes = 0u64;
        let mut previous = Coordinate::ORIGIN;
        for (coordinate, text) in &entries {
            text_bytes += text.len() as u64;
            delimiter_bytes += transition_len(&previous, coordinate);
            previous = *coordinate;
        }
        Document {
            // Sorted input makes this a linear bulk build.
            scrolls: entries.into_iter().collect(),
            text_bytes,
            delimiter_bytes,
        }
    }

    /// The text at `coordinate`, or `None` if the scroll is absent.
    pub fn get(&self, coordinate: &Coordinate) -> Option<&str> {
        self.scrolls.get(coordinate).map(String::as_str)
    }

    /// The text at `coordinate`, or `""` if the scroll is absent.
    pub fn select(&self, coordinate: &Coordinate) -> &str {
        self.get(coordinate).unwrap_or("")
    }

    /// Appends `text` to the scroll at `coordinate`, creating it if needed, and returns
    /// the number of bytes added. Appending `""` changes nothing.
    pub fn insert(&mut self, coordinate: Coordinate, text: &str) -> Result<usize, EditError> {
        check_text(text)?;
        if text.is_empty() {
            return Ok(0);
        }
        match self.scrolls.get_mut(&coordinate) {
            Some(existing) => existing.push_str(text),
            None => self.add_scroll(coordinate, text.to_owned()),
        }
        self.text_bytes += text.len() as u64;
        Ok(text.len())
    }

    /// Overwrites the scroll at `coordinate` and returns its previous text, if any.
    /// An empty `text` removes the scroll.
    pub fn update(
        &mut self,
        coordinate: Coordinate,
        text: &str,
    ) -> Result<Option<String>, EditError> {
        check_text(text)?;
        if text.is_empty() {
            return Ok(self.delete(&coordinate));
        }
        let previous = match self.scrolls.get_mut(&coordinate) {
            Some(existing) => Some(std::mem::replace(existing, text.to_owned())),
            None => {
                self.add_scroll(coordinate, text.to_owned());
                None
            }
        };
        let removed = previous.as_ref().map_or(0, |p| p.len() as u64);
        self.text_bytes = self.text_bytes - removed + text.len() as u64;
        Ok(previous)
    }

    /// Removes the scroll at `coordinate` and returns its text, or `None` if it was absent.
    pub fn delete(&mut self, coordinate: &Coordinate) -> Option<String> {
        let removed = self.scrolls.remove(coordinate)?;
        self.delimiter_bytes -= self.delimiters_around(coordinate);
        self.text_bytes -= removed.len() as u64;
        Some(removed)
    }

    /// Removes every scroll.
    pub fn clear(&mut self) {
        *self = Self::new();
    }

    /// Inserts a scroll known to be absent and keeps the delimiter count current.
    fn add_scroll(&mut self, coordinate: Coordinate, text: String) {
        self.delimiter_bytes += self.delimiters_around(&coordinate);
        self.scrolls.insert(coordinate, text);
    }

    /// The delimiter bytes a scroll at `coordinate` adds between its neighbours (the
    /// scrolls on either side, whether or not one is at `coordinate` itself).
    fn delimiters_around(&self, coordinate: &Coordinate) -> u64 {
        let (before, after) = self.neighbours(coordinate);
        let mut delimiters = transition_len(&before, coordinate);
        if let Some(after) = after {
            delimiters += transition_len(coordinate, &after);
            delimiters -= transition_len(&before, &after);
        }
        delimiters
    }

    /// The nearest scroll coordinates on either side of `coordinate` (excluding it); the
    /// origin stands in for a missing predecessor, because serialization starts there.
    fn neighbours(&self, coordinate: &Coordinate) -> (Coordinate, Option<Coordinate>) {
        let before = self
            .scrolls
            .range(..coordinate)
            .next_back()
            .map_or(Coordinate::ORIGIN, |(c, _)| *c);
        let after = self
            .scrolls
            .range((Bound::Excluded(coordinate), Bound::Unbounded))
            .next()
            .map(|(c, _)| *c);
        (before, after)
    }

    /// The number of (non-empty) scrolls.
    pub fn len(&self) -> usize {
        self.scrolls.len()
    }

    /// Whether the document has no scrolls.
    pub fn is_empty(&self) -> bool {
        self.scrolls.is_empty()
    }

    /// The total byte length of all scroll texts.
    pub fn text_len(&self) -> u64 {
        self.text_bytes
    }

    /// The byte length of the canonical serialization, without serializing.
    pub fn serialized_len(&self) -> u64 {
        self.text_bytes + self.delimiter_bytes
    }

    /// The serialized length the document would have if the scroll at `coordinate` held
    /// `text_len` bytes (0: absent), without changing anything. `O(log n)`; quotas use it
    /// to refuse a write before it is made.
    pub fn serialized_len_if(&self, coordinate: &Coordinate, text_len: usize) -> u64 {
        let current = self.get(coordinate).map(str::len);
        let size = self.serialized_len();
        match (current, text_len) {
            (Some(old), 0) => size - old as u64 - self.delimiters_around(coordinate),
            (Some(old), new) => size - old as u64 + new as u64,
            (None, 0) => size,
            (None, new) => size + new as u64 + self.delimiters_around(coordinate),
        }
    }

    /// The scrolls in document order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            inner: self.scrolls.iter(),
        }
    }

    /// The first scroll in document order.
    pub fn first(&self) -> Option<(Coordinate, &str)> {
        self.scrolls
            .first_key_value()
            .map(|(c, t)| (*c, t.as_str()))
    }

    /// Whether a scroll exists at `coordinate`.
    pub fn contains(&self, coordinate: &Coordinate) -> bool {
        self.scrolls.contains_key(coordinate)
    }
}

/// An iterator over a document's scrolls in document order.
#[derive(Clone)]
pub struct Iter<'a> {
    inner: btree_map::Iter<'a, Coordinate, String>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (Coordinate, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|(c, t)| (*c, t.as_str()))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back().map(|(c, t)| (*c, t.as_str()))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Document {
    type Item = (Coordinate, &'a str);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(text: &str) -> Coordinate {
        text.parse().unwrap()
    }

    /// The size bookkeeping must always match a real serialization.
    fn assert_sizes(doc: &Document) {
        let bytes = doc.to_bytes();
        assert_eq!(doc.serialized_len(), bytes.len() as u64, "{doc:?}");
        let text: u64 = doc.iter().map(|(_, t)| t.len() as u64).sum();
        assert_eq!(doc.text_len(), text);
    }

    #[test]
    fn select_of_an_absent_scroll_is_empty() {
        let doc = Document::new();
        assert_eq!(doc.select(&Coordinate::ORIGIN), "");
        assert_eq!(doc.get(&Coordinate::ORIGIN), None);
        assert!(doc.is_empty());
    }

    #[test]
    fn insert_appends_and_counts_added_bytes() {
        let mut doc = Document::new();
        assert_eq!(doc.insert(c("2"), "Hello World!"), Ok(12));
        assert_eq!(doc.insert(c("2"), " again"), Ok(6));
        assert_eq!(doc.select(&c("2")), "Hello World! again");
        assert_eq!(doc.insert(c("3"), ""), Ok(0));
        assert!(!doc.contains(&c("3")));
        assert_eq!(doc.len(), 1);
        assert_sizes(&doc);
    }

    #[test]
    fn update_overwrites_and_empty_removes() {
        let mut doc = Document::new();
        assert_eq!(doc.update(c("1.1.1/1.1.1/1.2.1"), "first"), Ok(None));
        assert_eq!(
            doc.update(c("1.1.1/1.1.1/1.2.1"), "second"),
            Ok(Some("first".to_owned()))
        );
        assert_eq!(doc.select(&c("1.1.1/1.1.1/1.2.1")), "second");
        assert_sizes(&doc);
        assert_eq!(
            doc.update(c("1.1.1/1.1.1/1.2.1"), ""),
            Ok(Some("second".to_owned()))
        );
        assert!(doc.is_empty());
        assert_eq!(doc.serialized_len(), 0);
    }

    #[test]
    fn delete_returns_the_removed_text() {
        let mut doc = Document::new();
        doc.update(c("5"), "five").unwrap();
        assert_eq!(doc.delete(&c("5")), Some("five".to_owned()));
        assert_eq!(doc.delete(&c("5")), None);
        assert_sizes(&doc);
    }

    #[test]
    fn delimiters_in_text_are_refused_and_change_nothing() {
        let mut doc = Document::new();
        doc.update(c("1"), "keep").unwrap();
        let before = doc.clone();
        for d in crate::DELIMITERS {
            let text = format!("x{}y", d as char);
            assert_eq!(
                doc.insert(c("1"), &text),
                Err(EditError::TextContainsDelimiter)
            );
            assert_eq!(
                doc.update(c("2"), &text),
                Err(EditError::TextContainsDelimiter)
            );
        }
        assert_eq!(doc, before);
        assert_eq!(
            EditError::TextContainsDelimiter.to_string(),
            "scroll text contains a phext delimiter byte"
        );
    }

    #[test]
    fn sizes_stay_exact_through_edits_in_any_order() {
        let coords = [
            "1.1.1/1.1.1/1.1.1",
            "3.2.1/1.1.1/1.1.1",
            "1.1.1/1.1.1/1.1.9",
            "1.1.1/2.1.1/1.1.1",
            "1.1.1/1.1.1/2.1.5",
            "2.1.1/1.1.1/1.1.1",
            "1.1.1/1.1.1/1.1.2",
        ];
        let mut doc = Document::new();
        for (i, coord) in coords.iter().enumerate() {
            doc.update(c(coord), &"x".repeat(i + 1)).unwrap();
            assert_sizes(&doc);
        }
        for coord in coords.iter().rev().step_by(2) {
            doc.delete(&c(coord));
            assert_sizes(&doc);
        }
        for coord in coords.iter() {
            doc.delete(&c(coord));
            assert_sizes(&doc);
        }
        assert!(doc.is_empty());
    }

    #[test]
    fn serialized_len_if_predicts_every_edit() {
        let mut doc = Document::parse(b"a\x17b\x18c\x01d").unwrap();
        for coord in [
            "1",
            "2",
            "3",
            "1.1.1/1.1.1/1.2.1",
            "1.1.1/1.1.1/1.2.7",
            "2.1.1/1.1.1/1.1.1",
            "3.3",
        ] {
            for len in [0, 1, 5] {
                let predicted = doc.serialized_len_if(&c(coord), len);
                let mut edited = doc.clone();
                edited.update(c(coord), &"z".repeat(len)).unwrap();
                assert_eq!(
                    predicted,
                    edited.to_bytes().len() as u64,
                    "{coord} <- {len}"
                );
            }
        }
        doc.clear();
        assert_eq!(doc.serialized_len_if(&c("3"), 2), 4);
    }

    #[test]
    fn iteration_is_in_document_order() {
        let mut doc = Document::new();
        doc.update(c("2.1"), "b").unwrap();
        doc.update(c("1"), "a").unwrap();
        let order: Vec<String> = doc.iter().map(|(c, t)| format!("{c}={t}")).collect();
        assert_eq!(order, ["1.1.1/1.1.1/1.1.1=a", "2.1.1/1.1.1/1.1.1=b"]);
        assert_eq!(doc.iter().len(), 2);
        assert_eq!(doc.iter().next_back().map(|(_, t)| t), Some("b"));
        assert_eq!(doc.first().map(|(_, t)| t), Some("a"));
        assert_eq!((&doc).into_iter().count(), 2);
    }
}

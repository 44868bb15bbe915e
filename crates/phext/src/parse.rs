//! One-pass parsing of phext bytes, the linear canonicality check and normalization.

use std::fmt;

use crate::coordinate::{Coordinate, COMPONENTS};
use crate::delimiter::{delimiter_position, is_delimiter};
use crate::document::Document;

/// Why bytes could not be parsed as a phext document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The bytes are not valid UTF-8; `valid_up_to` is the length of the valid prefix.
    InvalidUtf8 {
        /// Byte offset of the first invalid sequence.
        valid_up_to: usize,
    },
    /// A run of delimiters pushed a component past `u32::MAX` (only possible in a
    /// document of more than 4 GiB).
    ComponentOverflow {
        /// Byte offset of the delimiter that overflowed.
        offset: usize,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUtf8 { valid_up_to } => {
                write!(
                    f,
                    "not valid UTF-8 (first invalid byte at offset {valid_up_to})"
                )
            }
            Self::ComponentOverflow { offset } => {
                write!(f, "coordinate component overflows at byte offset {offset}")
            }
        }
    }
}

impl std::error::Error for ParseError {}

/// Calls `emit` with every non-empty scroll of `text` in document order, following the
/// dead-reckoning rules: each delimiter advances its component and resets the less
/// significant ones to 1; runs of delimiters skip coordinates; trailing ones create nothing.
pub(crate) fn for_each_scroll<'a>(
    text: &'a str,
    mut emit: impl FnMut(Coordinate, &'a str),
) -> Result<(), ParseError> {
    let bytes = text.as_bytes();
    let mut cursor = [1u32; COMPONENTS];
    let mut start = 0usize;
    while let Some(offset) = next_delimiter(bytes, start) {
        if offset > start {
            // Delimiters are single ASCII bytes, so these are character boundaries.
            emit(Coordinate::from_nonzero(cursor), &text[start..offset]);
        }
        let position = delimiter_position(bytes[offset]).unwrap_or(COMPONENTS - 1);
        cursor[position] = cursor[position]
            .checked_add(1)
            .ok_or(ParseError::ComponentOverflow { offset })?;
        cursor[position + 1..].fill(1);
        start = offset + 1;
    }
    if start < bytes.len() {
        emit(Coordinate::from_nonzero(cursor), &text[start..]);
    }
    Ok(())
}

/// The offset of the first delimiter at or after `from`.
///
/// Scans eight bytes at a time and only inspects a word byte by byte when it holds a
/// byte below 0x20, where all nine delimiters live; prose has few such bytes.
#[inline]
fn next_delimiter(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let rest = bytes.get(from..)?;
    let mut words = rest.chunks_exact(8);
    let mut base = from;
    for word in words.by_ref() {
        let mut lanes = [0u8; 8];
        lanes.copy_from_slice(word);
        let value = u64::from_le_bytes(lanes);
        // Non-zero exactly when some byte of the word is below 0x20.
        if value.wrapping_sub(ONES * 0x20) & !value & HIGH_BITS != 0 {
            if let Some(i) = word.iter().position(|&b| is_delimiter(b)) {
                return Some(base + i);
            }
        }
        base += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| is_delimiter(b))
        .map(|i| base + i)
}

impl Document {
    /// Parses phext bytes in one pass.
    ///
    /// Any delimiter runs and trailing delimiters are tolerated; the result holds only
    /// the non-empty scrolls. Components are not capped: a stored document may hold
    /// scrolls beyond any request maximum. Fails only if the bytes are not UTF-8 (or,
    /// beyond 4 GiB, if a component overflows).
    pub fn parse(bytes: &[u8]) -> Result<Document, ParseError> {
        let text = std::str::from_utf8(bytes).map_err(|e| ParseError::InvalidUtf8 {
            valid_up_to: e.valid_up_to(),
        })?;
        Self::parse_str(text)
    }

    /// Parses a phext held in a `str`; see [`Document::parse`].
    pub fn parse_str(text: &str) -> Result<Document, ParseError> {
        let mut entries = Vec::new();
        for_each_scroll(text, |coordinate, scroll| {
            entries.push((coordinate, scroll.to_owned()))
        })?;
        Ok(Document::from_sorted_unchecked(entries))
    }
}

/// Whether `bytes` is already in canonical form (equal to its own normalization), in
/// one linear pass.
///
/// It is iff it does not end with a delimiter and, inside every run of delimiters, no
/// delimiter is of a higher dimension than the one before it (repeats are fine). UTF-8
/// validity is not checked here.
pub fn is_canonical(bytes: &[u8]) -> bool {
    if bytes.last().is_some_and(|&b| is_delimiter(b)) {
        return false;
    }
    let mut previous_position: Option<usize> = None;
    for &byte in bytes {
        match delimiter_position(byte) {
            Some(position) => {
                if previous_position.is_some_and(|p| position < p) {
                    return false;
                }
                previous_position = Some(position);
            }
            None => previous_position = None,
        }
    }
    true
}

/// The canonical form of a phext: parse, then serialize.
pub fn normalize(bytes: &[u8]) -> Result<Vec<u8>, ParseError> {
    Ok(Document::parse(bytes)?.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrolls(bytes: &[u8]) -> Vec<(String, String)> {
        Document::parse(bytes)
            .unwrap()
            .iter()
            .map(|(c, t)| (c.to_string(), t.to_owned()))
            .collect()
    }

    #[test]
    fn dead_reckoning_examples() {
        assert_eq!(
            scrolls(b"one\x17two\x17three"),
            [
                ("1.1.1/1.1.1/1.1.1".into(), "one".into()),
                ("1.1.1/1.1.1/1.1.2".into(), "two".into()),
                ("1.1.1/1.1.1/1.1.3".into(), "three".into())
            ]
        );
        assert_eq!(scrolls(b"\x17\x18b"), scrolls(b"\x18b"));
        assert_eq!(
            scrolls(b"\x17\x18b"),
            [("1.1.1/1.1.1/1.2.1".into(), "b".into())]
        );
        assert!(scrolls(b"").is_empty());
        assert!(scrolls(b"\x01\x1F\x1E\x1D\x1C\x1A\x19\x18\x17").is_empty());
    }

    #[test]
    fn invalid_utf8_is_refused_with_its_offset() {
        assert_eq!(
            Document::parse(b"ok\x17\xff\xfe").unwrap_err(),
            ParseError::InvalidUtf8 { valid_up_to: 3 }
        );
        assert!(ParseError::InvalidUtf8 { valid_up_to: 3 }
            .to_string()
            .contains("offset 3"));
    }

    #[test]
    fn next_delimiter_finds_every_position() {
        // Every offset, word-aligned or not, and with low non-delimiter bytes around.
        for len in 0..40 {
            for at in 0..len {
                let mut bytes = vec![b'\n'; len];
                bytes[at] = 0x1A;
                assert_eq!(next_delimiter(&bytes, 0), Some(at), "len {len} at {at}");
                assert_eq!(next_delimiter(&bytes, at + 1), None);
            }
        }
        assert_eq!(next_delimiter(b"abc", 7), None);
    }

    #[test]
    fn canonicality_check_matches_the_rules() {
        for doc in [
            &b"a\x18\x17b"[..],
            b"\x17\x17lead",
            b"\n\n\x17\n",
            b"a\x18b\x19c",
            b"",
        ] {
            assert!(is_canonical(doc), "{doc:?}");
        }
        for doc in [
            &b"a\x17\x18b"[..],
            b"x\x17",
            b"a\x17\x17",
            b"\x17Scroll two\x18\x18\x18\x18",
            b"\x17\x17lead\x17\x17\x17gap\x01\x01\x17deep\x17",
        ] {
            assert!(!is_canonical(doc), "{doc:?}");
        }
    }

    #[test]
    fn normalize_examples() {
        assert_eq!(normalize(b"a\x17\x18b").unwrap(), b"a\x18b");
        assert_eq!(normalize(b"a\x17\x17").unwrap(), b"a");
        assert_eq!(
            normalize(b"\x17Scroll two\x18\x18\x18\x18").unwrap(),
            b"\x17Scroll two"
        );
        assert_eq!(normalize(b"\n\n\x17\n").unwrap(), b"\n\n\x17\n");
    }
}

//! The table of contents: one `* <coordinate>: <summary>` line per scroll.

use std::fmt::Write;

use crate::delimiter::is_delimiter;
use crate::document::Document;

/// The summary of a scroll: its text up to the first LF or delimiter byte, with `...`
/// appended when that cut anything off.
///
/// Only ASCII bytes cut, so a multi-byte character never does; CR does not cut.
pub fn summary(text: &str) -> String {
    let end = text
        .bytes()
        .position(|b| b == b'\n' || is_delimiter(b))
        .unwrap_or(text.len());
    let mut out = String::with_capacity(end + 3);
    out.push_str(&text[..end]);
    if end < text.len() {
        out.push_str("...");
    }
    out
}

impl Document {
    /// The toc: `* <coordinate>: <summary>\n` per scroll in document order, and `""`
    /// for an empty document (libphext `textmap` of the normalized document).
    pub fn textmap(&self) -> String {
        let mut out = String::new();
        for (coordinate, text) in self.iter() {
            // Writing into a String cannot fail.
            let _ = writeln!(out, "* {coordinate}: {}", summary(text));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_rules() {
        let cases = [
            ("A short phext\nSecond line", "A short phext..."),
            ("very terse", "very terse"),
            ("Ċbc", "Ċbc"),
            ("a\tb", "a\tb"),
            ("\x07bell", "\x07bell"),
            ("one\ntwo", "one..."),
            ("abc\n", "abc..."),
            ("abc\r\ndef", "abc\r..."),
            ("\nabc", "..."),
            ("\n\n", "..."),
            ("cut\x17here", "cut..."),
        ];
        for (text, expected) in cases {
            assert_eq!(summary(text), expected, "{text:?}");
        }
    }

    #[test]
    fn textmap_lines() {
        let doc =
            Document::parse(b"Just a couple of scrolls.\x17Second scroll\x17Third scroll").unwrap();
        assert_eq!(
            doc.textmap(),
            "* 1.1.1/1.1.1/1.1.1: Just a couple of scrolls.\n\
             * 1.1.1/1.1.1/1.1.2: Second scroll\n\
             * 1.1.1/1.1.1/1.1.3: Third scroll\n"
        );
        assert_eq!(Document::new().textmap(), "");
    }
}

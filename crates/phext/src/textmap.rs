//! The table of contents: one `* <coordinate>: <summary>` line per scroll.

use crate::delimiter::is_delimiter;
use crate::document::Document;

/// The summary of a scroll: its text up to the first LF or delimiter byte, with `...`
/// appended when that cut anything off.
///
/// Only ASCII bytes cut, so a multi-byte character never does; CR does not cut.
pub fn summary(text: &str) -> String {
    let (head, cut) = summary_parts(text);
    let mut out = String::with_capacity(head.len() + 3);
    out.push_str(head);
    if cut {
        out.push_str("...");
    }
    out
}

/// The kept head of a summary and whether anything was cut after it.
fn summary_parts(text: &str) -> (&str, bool) {
    let end = text
        .bytes()
        .position(|b| b == b'\n' || is_delimiter(b))
        .unwrap_or(text.len());
    // The cut falls on an ASCII byte, so it is a character boundary.
    (&text[..end], end < text.len())
}

impl Document {
    /// The toc: `* <coordinate>: <summary>\n` per scroll in document order, and `""`
    /// for an empty document (libphext `textmap` of the normalized document).
    pub fn textmap(&self) -> String {
        let mut out = String::new();
        for (coordinate, text) in self.iter() {
            let (head, cut) = summary_parts(text);
            // Writing into a String cannot fail.
            out.push_str("* ");
            coordinate.push_to(&mut out);
            out.push_str(": ");
            out.push_str(head);
            out.push_str(if cut { "...\n" } else { "\n" });
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

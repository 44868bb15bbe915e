//! JSON export in the reference server's exact layout, but valid JSON.

use std::fmt::Write;

use crate::document::Document;

/// Appends `text` as the inside of a JSON string.
fn escape_into(out: &mut String, text: &str) {
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

impl Document {
    /// The scrolls as a JSON array of `{"coord", "scroll"}` objects in document order,
    /// one per line: `[\n`, `   { "coord": "…", "scroll": "…" }\n`, later lines prefixed
    /// by `,`, then `]\n`.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(
            usize::try_from(self.text_len()).unwrap_or(0) + 64 * self.len() + 4,
        );
        out.push_str("[\n");
        for (index, (coordinate, text)) in self.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            out.push_str("   { \"coord\": \"");
            coordinate.push_to(&mut out);
            out.push_str("\", \"scroll\": \"");
            escape_into(&mut out, text);
            out.push_str("\" }\n");
        }
        out.push_str("]\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_reference() {
        let doc = Document::parse(b"\x17replaced\x01posted update").unwrap();
        assert_eq!(
            doc.to_json(),
            "[\n   { \"coord\": \"1.1.1/1.1.1/1.1.2\", \"scroll\": \"replaced\" }\n\
             ,   { \"coord\": \"2.1.1/1.1.1/1.1.1\", \"scroll\": \"posted update\" }\n]\n"
        );
        assert_eq!(Document::new().to_json(), "[\n]\n");
    }

    #[test]
    fn escapes_make_valid_json() {
        let doc = Document::parse("q\"b\\n\nr\rt\t\x00\x07\x1bü☃".as_bytes()).unwrap();
        assert_eq!(
            doc.to_json(),
            "[\n   { \"coord\": \"1.1.1/1.1.1/1.1.1\", \"scroll\": \"q\\\"b\\\\n\\nr\\rt\\t\\u0000\\u0007\\u001bü☃\" }\n]\n"
        );
    }
}

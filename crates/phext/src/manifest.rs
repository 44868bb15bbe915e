//! Manifests (a document's per-scroll checksums) and the `delta` sync computation.

use std::collections::BTreeMap;

use crate::checksum::checksum;
use crate::coordinate::Coordinate;
use crate::document::Document;

/// The text `delta` places at a coordinate the client lists but the server lacks.
pub const SCROLL_MISSING: &str = "---sq:Scroll-Missing---";

impl Document {
    /// The phext manifest: the same scrolls with each text replaced by its checksum
    /// (libphext `manifest` of the normalized document).
    pub fn manifest(&self) -> Document {
        Document::from_sorted_unchecked(
            self.iter()
                .map(|(coordinate, text)| (coordinate, checksum(text.as_bytes())))
                .collect(),
        )
    }

    /// The scrolls a client holding `manifest` lacks: every scroll the manifest does not
    /// list or lists with another checksum (compared exactly, case-sensitively), plus
    /// [`SCROLL_MISSING`] at every listed coordinate that has no scroll here.
    pub fn delta(&self, manifest: &ClientManifest) -> Document {
        let mut out: Vec<(Coordinate, String)> = Vec::new();
        let mut listed = manifest.hashes.iter().peekable();
        // Both sides are in document order: merge them in one pass.
        for (coordinate, text) in self.iter() {
            while let Some((missing, _)) = listed.next_if(|(c, _)| **c < coordinate) {
                out.push((*missing, SCROLL_MISSING.to_owned()));
            }
            match listed.next_if(|(c, _)| **c == coordinate) {
                Some((_, hash)) if *hash == checksum(text.as_bytes()) => {}
                _ => out.push((coordinate, text.to_owned())),
            }
        }
        out.extend(listed.map(|(c, _)| (*c, SCROLL_MISSING.to_owned())));
        Document::from_sorted_unchecked(out)
    }
}

/// A client's manifest in the line form sent to `delta`: `<coordinate>: <checksum>`
/// per line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientManifest {
    hashes: BTreeMap<Coordinate, String>,
}

impl ClientManifest {
    /// Parses the line form leniently: lines split at LF with one trailing CR removed;
    /// a line without `": "`, or whose coordinate (before the first `": "`, spaces and
    /// tabs trimmed) is empty or does not parse with components up to `max`, is ignored.
    /// The hash is the text up to the next `": "` or the line's end, trimmed. A later
    /// line for a coordinate replaces an earlier one.
    pub fn parse(text: &str, max: u32) -> ClientManifest {
        let mut hashes = BTreeMap::new();
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            let Some((coordinate, rest)) = line.split_once(": ") else {
                continue;
            };
            let Ok(coordinate) = Coordinate::parse_with_max(trim_blanks(coordinate), max) else {
                continue;
            };
            let hash = rest.split_once(": ").map_or(rest, |(hash, _)| hash);
            hashes.insert(coordinate, trim_blanks(hash).to_owned());
        }
        ClientManifest { hashes }
    }

    /// The number of coordinates listed.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether no coordinate is listed.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// The checksum listed for `coordinate`.
    pub fn get(&self, coordinate: &Coordinate) -> Option<&str> {
        self.hashes.get(coordinate).map(String::as_str)
    }
}

fn trim_blanks(text: &str) -> &str {
    text.trim_matches([' ', '\t'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DEFAULT_MAX_COMPONENT;

    fn notes() -> Document {
        Document::parse(b"\x17replaced\x18line one\nline two +%41\x01posted update").unwrap()
    }

    #[test]
    fn manifest_example() {
        assert_eq!(
            notes().manifest().to_bytes(),
            b"\x175ea053415bf09d1e4f2b3ca22528884a\x189404e33a789e378a03640c5671b539e1\x0154a3adbada3fce103cc68acd9ebb769f"
        );
        assert_eq!(Document::new().manifest().to_bytes(), b"");
    }

    #[test]
    fn manifest_parsing_rules() {
        let m = ClientManifest::parse(
            " 1.1.1/1.1.1/1.1.2 \t: abc : ignored\r\n\
             no separator here\n\
             : emptycoord\n\
             x.y: bad\n\
             1.1.1/1.1.1/1.1.10000: above max\n\
             2.1.1/1.1.1/1.1.1:nospace\n\
             5: first\n\
             5: second\r\r",
            DEFAULT_MAX_COMPONENT,
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m.get(&"1.1.1/1.1.1/1.1.2".parse().unwrap()), Some("abc"));
        assert_eq!(m.get(&"5".parse().unwrap()), Some("second\r"));
        assert!(ClientManifest::parse("", DEFAULT_MAX_COMPONENT).is_empty());
    }

    #[test]
    fn delta_worked_examples() {
        let doc = notes();
        let m = ClientManifest::parse(
            "1.1.1/1.1.1/1.1.2: 00000000000000000000000000000000\n\
             1.1.1/1.1.1/1.2.1: ffffffffffffffffffffffffffffffff\n\
             5.5.5/5.5.5/5.5.5: 0123",
            DEFAULT_MAX_COMPONENT,
        );
        let delta = doc.delta(&m).to_bytes();
        assert_eq!(delta.len(), 104);
        assert!(delta.starts_with(&doc.to_bytes()));
        assert!(delta.ends_with(b"\x17\x17\x17\x17---sq:Scroll-Missing---"));

        let mut doc = doc;
        doc.delete(&"1.1.1/1.1.1/1.2.1".parse().unwrap());
        let m = ClientManifest::parse(
            "1.1.1/1.1.1/1.1.2: 5ea053415bf09d1e4f2b3ca22528884a\n\
             1.1.1/1.1.1/1.1.1: 99aa06d3014798d86001c324468d497f",
            DEFAULT_MAX_COMPONENT,
        );
        assert_eq!(
            doc.delta(&m).to_bytes(),
            b"---sq:Scroll-Missing---\x01posted update"
        );
        assert_eq!(doc.delta(&ClientManifest::default()), doc);
    }

    #[test]
    fn delta_compares_case_sensitively() {
        let doc = Document::parse(b"hello").unwrap();
        let upper =
            ClientManifest::parse("1: B5E9C1AD071B3E7FC779CFAA5E523818", DEFAULT_MAX_COMPONENT);
        assert_eq!(doc.delta(&upper), doc);
        let lower =
            ClientManifest::parse("1: b5e9c1ad071b3e7fc779cfaa5e523818", DEFAULT_MAX_COMPONENT);
        assert!(doc.delta(&lower).is_empty());
    }
}

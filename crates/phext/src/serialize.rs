//! Canonical serialization: the shortest delimiter runs between scrolls in order.

use std::io;

use crate::coordinate::{Coordinate, COMPONENTS};
use crate::delimiter::DELIMITERS;
use crate::document::Document;

/// How many bytes of one delimiter a single chunk carries; long runs come in pieces.
const RUN_CHUNK: usize = 256;

/// `RUNS[position]` is a chunk of the delimiter of that position, to hand out slices of.
static RUNS: [[u8; RUN_CHUNK]; COMPONENTS] = {
    let mut runs = [[0u8; RUN_CHUNK]; COMPONENTS];
    let mut position = 0;
    while position < COMPONENTS {
        runs[position] = [DELIMITERS[position]; RUN_CHUNK];
        position += 1;
    }
    runs
};

/// The number of delimiter bytes the canonical form puts between a scroll at `from` and
/// the next scroll at `to` (`from < to`, or `from` the origin): the first differing
/// component advances by its difference, each later one is reached from 1.
pub(crate) fn transition_len(from: &Coordinate, to: &Coordinate) -> u64 {
    let (a, b) = (from.components(), to.components());
    match (0..COMPONENTS).find(|&d| a[d] != b[d]) {
        None => 0,
        Some(d) => {
            u64::from(b[d] - a[d]) + b[d + 1..].iter().map(|&x| u64::from(x - 1)).sum::<u64>()
        }
    }
}

/// Emits the delimiter runs that move the cursor from `from` to `to`.
fn emit_transition(from: &Coordinate, to: &Coordinate, sink: &mut impl FnMut(&[u8])) {
    let (a, b) = (from.components(), to.components());
    let Some(first) = (0..COMPONENTS).find(|&d| a[d] != b[d]) else {
        return;
    };
    emit_run(first, b[first] - a[first], sink);
    for (position, &component) in b.iter().enumerate().skip(first + 1) {
        emit_run(position, component - 1, sink);
    }
}

fn emit_run(position: usize, count: u32, sink: &mut impl FnMut(&[u8])) {
    let mut left = count as usize;
    while left > 0 {
        let take = left.min(RUN_CHUNK);
        sink(&RUNS[position][..take]);
        left -= take;
    }
}

impl Document {
    /// Feeds the canonical serialization to `sink` in order, in pieces, without building
    /// it in memory: the way to hash or write a large document.
    pub fn for_each_chunk(&self, mut sink: impl FnMut(&[u8])) {
        let mut cursor = Coordinate::ORIGIN;
        for (coordinate, text) in self.iter() {
            emit_transition(&cursor, &coordinate, &mut sink);
            sink(text.as_bytes());
            cursor = coordinate;
        }
    }

    /// The canonical serialization (libphext `normalize` output, byte for byte).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(usize::try_from(self.serialized_len()).unwrap_or(0));
        self.for_each_chunk(|chunk| out.extend_from_slice(chunk));
        out
    }

    /// The canonical serialization as a `String` (it is always valid UTF-8).
    pub fn to_phext_string(&self) -> String {
        let mut out = String::with_capacity(usize::try_from(self.serialized_len()).unwrap_or(0));
        self.for_each_chunk(|chunk| {
            // Chunks are whole scroll texts or runs of ASCII delimiters.
            out.push_str(std::str::from_utf8(chunk).unwrap_or_default())
        });
        out
    }

    /// Writes the canonical serialization to `writer`.
    pub fn write_to(&self, writer: &mut impl io::Write) -> io::Result<()> {
        let mut result = Ok(());
        self.for_each_chunk(|chunk| {
            if result.is_ok() {
                result = writer.write_all(chunk);
            }
        });
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(entries: &[(&str, &str)]) -> Document {
        let mut d = Document::new();
        for (c, t) in entries {
            d.update(c.parse().unwrap(), t).unwrap();
        }
        d
    }

    #[test]
    fn canonical_bytes_examples() {
        assert_eq!(doc(&[("1.1.1/1.1.1/1.2.2", "t")]).to_bytes(), b"\x18\x17t");
        assert_eq!(
            doc(&[("1.1.1/1.1.1/1.1.1", "a"), ("1.1.1/1.1.1/2.1.5", "e")]).to_bytes(),
            b"a\x19\x17\x17\x17\x17e"
        );
        assert_eq!(
            doc(&[
                ("1.1.1/1.1.1/1.1.2", "w"),
                ("2.1.1/1.1.1/1.1.1", "x"),
                ("2.1.1/1.1.1/1.1.3", "y")
            ])
            .to_bytes(),
            b"\x17w\x01x\x17\x17y"
        );
        assert_eq!(Document::new().to_bytes(), b"");
    }

    #[test]
    fn long_runs_come_out_whole() {
        let d = doc(&[("1.1.1/1.1.1/1.1.1000", "x")]);
        let bytes = d.to_bytes();
        assert_eq!(bytes.len(), 1000);
        assert!(bytes[..999].iter().all(|&b| b == 0x17));
        assert_eq!(d.serialized_len(), 1000);
    }

    #[test]
    fn every_output_form_agrees() {
        let d = doc(&[("1.1.1/1.1.1/1.1.2", "ü"), ("3.1.1/1.1.1/1.1.1", "☃")]);
        let mut written = Vec::new();
        d.write_to(&mut written).unwrap();
        assert_eq!(written, d.to_bytes());
        assert_eq!(d.to_phext_string().as_bytes(), d.to_bytes());
    }

    #[test]
    fn write_to_reports_io_errors() {
        struct Full;
        impl io::Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let d = doc(&[("1", "a"), ("2", "b")]);
        assert!(d.write_to(&mut Full).is_err());
    }
}

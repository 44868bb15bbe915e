//! Helpers shared by the phext integration tests: byte builders and libphext bridges.
#![allow(dead_code)]

use phext::{Coordinate, Document};

/// The delimiter bytes by name, as the format reference writes them.
pub const SC: u8 = 0x17;
pub const SN: u8 = 0x18;
pub const CH: u8 = 0x19;
pub const BK: u8 = 0x1A;
pub const VM: u8 = 0x1C;
pub const CN: u8 = 0x1D;
pub const SR: u8 = 0x1E;
pub const SF: u8 = 0x1F;
pub const LB: u8 = 0x01;

/// `byte` repeated `count` times: the reference's `SC×4`.
pub fn run(byte: u8, count: usize) -> Vec<u8> {
    vec![byte; count]
}

/// Concatenates byte pieces.
pub fn cat(pieces: &[&[u8]]) -> Vec<u8> {
    pieces.concat()
}

pub fn coord(text: &str) -> Coordinate {
    text.parse()
        .unwrap_or_else(|e| panic!("test coordinate {text:?}: {e}"))
}

/// The scrolls of a document as printable `(coordinate, text)` pairs.
pub fn scrolls(doc: &Document) -> Vec<(String, String)> {
    doc.iter()
        .map(|(c, t)| (c.to_string(), t.to_owned()))
        .collect()
}

pub fn parse(bytes: &[u8]) -> Document {
    Document::parse(bytes).unwrap_or_else(|e| panic!("parse {bytes:?}: {e}"))
}

/// Our coordinate as a libphext coordinate.
pub fn to_lib(c: &Coordinate) -> libphext::phext::Coordinate {
    let k = c.components().map(|x| x as usize);
    let mut out = libphext::phext::Coordinate::new();
    out.z.library = k[0];
    out.z.shelf = k[1];
    out.z.series = k[2];
    out.y.collection = k[3];
    out.y.volume = k[4];
    out.y.book = k[5];
    out.x.chapter = k[6];
    out.x.section = k[7];
    out.x.scroll = k[8];
    out
}

/// libphext's tokens of `text` as printable pairs, empty tokens dropped.
pub fn lib_scrolls(text: &str) -> Vec<(String, String)> {
    libphext::phext::phokenize(text)
        .into_iter()
        .filter(|t| !t.scroll.is_empty())
        .map(|t| (t.coord.to_string(), t.scroll))
        .collect()
}

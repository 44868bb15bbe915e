//! A strict, fast engine for **phext**: UTF-8 text in which nine delimiter bytes divide
//! the text into scrolls, each addressed by a nine-component [`Coordinate`].
//!
//! The engine does no I/O. It parses bytes into a [`Document`] (a sorted map of
//! non-empty scrolls) in one pass, edits single scrolls in `O(log n)`, and serializes the
//! canonical form byte for byte as libphext 0.4.0's `normalize` does, without that
//! library's known bugs (see the crate README).
//!
//! ```
//! use phext::{Coordinate, Document};
//!
//! let mut doc = Document::parse(b"first\x17second").unwrap();
//! let third: Coordinate = "1.1.1/1.1.1/1.2.1".parse().unwrap();
//! doc.update(third, "third").unwrap();
//! assert_eq!(doc.to_bytes(), b"first\x17second\x18third");
//! assert_eq!(doc.textmap(), "* 1.1.1/1.1.1/1.1.1: first\n\
//!                            * 1.1.1/1.1.1/1.1.2: second\n\
//!                            * 1.1.1/1.1.1/1.2.1: third\n");
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod checksum;
mod coordinate;
mod delimiter;
mod document;
mod infer;
mod json;
mod manifest;
mod parse;
mod serialize;
mod textmap;

pub use checksum::checksum;
pub use coordinate::{Coordinate, CoordinateError, COMPONENTS, DEFAULT_MAX_COMPONENT};
pub use delimiter::{contains_delimiter, delimiter_position, is_delimiter, DELIMITERS};
pub use document::{Document, EditError, Iter};
pub use infer::{where_checksum, where_xor, InferredCoordinate};
pub use manifest::{ClientManifest, SCROLL_MISSING};
pub use parse::{is_canonical, normalize, ParseError};
pub use textmap::summary;

/// The crate README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

//! The two `where` algorithms, which infer a coordinate for a piece of text.

use std::fmt;

use crate::checksum::checksum;
use crate::coordinate::{write_components, COMPONENTS};
use crate::parse::{for_each_scroll, ParseError};

/// A coordinate computed by `where`. Unlike [`crate::Coordinate`] its components may be
/// zero: it is informational and never used as an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InferredCoordinate(pub [u32; COMPONENTS]);

impl fmt::Display for InferredCoordinate {
    /// The nine numbers in canonical layout, zeros included: `0.3.0/0.0.0/0.0.0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_components(f, &self.0, '/')
    }
}

/// The `xor` algorithm: starting from all ones, XOR in the coordinate of every
/// non-empty scroll of `text` (parsed as a phext) whose byte length is at least `limit`.
pub fn where_xor(text: &str, limit: usize) -> Result<InferredCoordinate, ParseError> {
    let mut accumulator = [1u32; COMPONENTS];
    for_each_scroll(text, |coordinate, scroll| {
        if scroll.len() >= limit {
            for (slot, component) in accumulator.iter_mut().zip(coordinate.components()) {
                *slot ^= component;
            }
        }
    })?;
    Ok(InferredCoordinate(accumulator))
}

/// The `checksum` algorithm: component `k` is the big-endian pair of ASCII codes of hex
/// digits `2k` and `2k+1` of the checksum of `bytes`, modulo 999, with 0 raised to 1.
pub fn where_checksum(bytes: &[u8]) -> InferredCoordinate {
    let hex = checksum(bytes);
    let digits = hex.as_bytes();
    let mut components = [1u32; COMPONENTS];
    for (k, slot) in components.iter_mut().enumerate() {
        let pair = (u32::from(digits[2 * k]) << 8) | u32::from(digits[2 * k + 1]);
        *slot = (pair % 999).max(1);
    }
    InferredCoordinate(components)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xor_vectors() {
        let cases: &[(&str, usize, &str)] = &[
            ("some text to hash", 100, "1.1.1/1.1.1/1.1.1"),
            ("abc", 1, "0.0.0/0.0.0/0.0.0"),
            ("a\x17b", 1, "1.1.1/1.1.1/1.1.2"),
            ("x\x18y", 1, "1.1.1/1.1.1/1.2.1"),
            ("a\x17bb", 2, "0.0.0/0.0.0/0.0.3"),
            ("a\x01b\x1Fc", 1, "0.3.0/0.0.0/0.0.0"),
            ("a\x17\x17", 0, "0.0.0/0.0.0/0.0.0"),
            ("", 0, "1.1.1/1.1.1/1.1.1"),
        ];
        for (text, limit, expected) in cases {
            assert_eq!(
                where_xor(text, *limit).unwrap().to_string(),
                *expected,
                "{text:?} {limit}"
            );
        }
    }

    #[test]
    fn checksum_vectors() {
        let cases: &[(&str, &str)] = &[
            ("some text to hash", "448.470.909/424.192.723/938.427.631"),
            ("", "663.953.354/676.349.380/662.681.885"),
            ("a", "913.939.958/142.678.187/893.121.935"),
            ("hello", "166.938.418/956.355.654/170.196.424"),
        ];
        for (text, expected) in cases {
            assert_eq!(
                where_checksum(text.as_bytes()).to_string(),
                *expected,
                "{text:?}"
            );
        }
    }
}

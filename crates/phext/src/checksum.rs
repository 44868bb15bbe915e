//! XXH3-128 checksums, printed as 32 lowercase hex digits.

use xxhash_rust::xxh3::{xxh3_128, Xxh3Default};

use crate::document::Document;

/// Formats a 128-bit hash the canonical way: lowercase hex, zero-padded to 32 digits,
/// high 64 bits first.
fn to_hex(hash: u128) -> String {
    format!("{hash:032x}")
}

/// The checksum of `bytes` exactly as given: XXH3-128 with seed 0, as 32 lowercase hex
/// digits (libphext `checksum`).
pub fn checksum(bytes: &[u8]) -> String {
    to_hex(xxh3_128(bytes))
}

impl Document {
    /// The checksum of the canonical serialization, computed without building it.
    pub fn checksum(&self) -> String {
        // Scrolls are often short: gather them into blocks so the hasher sees few calls.
        const BLOCK: usize = 64 * 1024;
        let mut hasher = Xxh3Default::new();
        let mut block = Vec::with_capacity(BLOCK);
        self.for_each_chunk(|chunk| {
            if block.len() + chunk.len() > BLOCK {
                hasher.update(&block);
                block.clear();
            }
            if chunk.len() >= BLOCK {
                hasher.update(chunk);
            } else {
                block.extend_from_slice(chunk);
            }
        });
        hasher.update(&block);
        to_hex(hasher.digest128())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        let vectors: &[(&[u8], &str)] = &[
            (b"", "99aa06d3014798d86001c324468d497f"),
            (b"a", "a96faf705af16834e6c632b61e964e1f"),
            (b"a\x17", "e9c1eb8cbf06f8d80dc7ad7d2ee57747"),
            (b"hello", "b5e9c1ad071b3e7fc779cfaa5e523818"),
            (b"00000000000000000000", "7e79edd92a62a048e1cd24ffab542e34"),
        ];
        for (input, expected) in vectors {
            assert_eq!(checksum(input), *expected, "{input:?}");
        }
    }

    #[test]
    fn document_checksum_hashes_the_canonical_form() {
        let doc =
            Document::parse(b"\x17replaced\x18line one\nline two +%41\x01posted update\x17\x17")
                .unwrap();
        assert_eq!(doc.checksum(), "0c9c37dc20e176e20a7cf187aefe2782");
        assert_eq!(
            Document::new().checksum(),
            "99aa06d3014798d86001c324468d497f"
        );
        // Streaming through many chunks must equal the one-shot hash.
        let big = Document::parse("x\x17".repeat(5000).as_bytes()).unwrap();
        assert_eq!(big.checksum(), checksum(&big.to_bytes()));
    }
}

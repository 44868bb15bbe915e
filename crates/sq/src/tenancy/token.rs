//! Tokens: SHA-256 digests for lookup, short ids for logs, fresh random tokens.

use std::fmt::Write;

use sha2::{Digest as _, Sha256};

/// The SHA-256 digest of a token: how tokens are looked up and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest(pub [u8; 32]);

impl TokenDigest {
    /// The digest of `token`'s bytes.
    pub fn of(token: &[u8]) -> Self {
        TokenDigest(Sha256::digest(token).into())
    }

    /// Compares in constant time.
    pub fn ct_eq(&self, other: &TokenDigest) -> bool {
        use subtle::ConstantTimeEq;
        self.0.ct_eq(&other.0).into()
    }

    /// A digest written as 64 hex digits (either case).
    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut digest = [0u8; 32];
        for (i, byte) in digest.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(TokenDigest(digest))
    }

    /// The digest as 64 lowercase hex digits (what `token_sha256` holds).
    pub fn to_hex(&self) -> String {
        self.0.iter().fold(String::with_capacity(64), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
    }

    /// A short non-secret id for logs: the first 8 hex digits of the digest.
    pub fn short_id(&self) -> String {
        self.0[..4].iter().fold(String::new(), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
    }
}

/// A fresh random token: `pmb-v1-` and 32 lowercase hex digits.
pub fn generate() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().fold(String::from("pmb-v1-"), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_sha256() {
        let digest = TokenDigest::of(b"abc");
        assert_eq!(digest.short_id(), "ba7816bf");
        assert!(digest.ct_eq(&TokenDigest::of(b"abc")));
        assert!(!digest.ct_eq(&TokenDigest::of(b"abd")));
    }

    #[test]
    fn hex_round_trip() {
        let digest = TokenDigest::of(b"abc");
        assert_eq!(
            digest.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            TokenDigest::from_hex(&digest.to_hex().to_uppercase()),
            Some(digest)
        );
        assert_eq!(TokenDigest::from_hex("abc"), None);
        assert_eq!(TokenDigest::from_hex(&"g".repeat(64)), None);
    }

    #[test]
    fn generated_tokens_have_the_documented_shape() {
        let token = generate();
        assert_eq!(token.len(), 7 + 32);
        assert!(token.starts_with("pmb-v1-"));
        assert!(token[7..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_ne!(generate(), token);
    }
}

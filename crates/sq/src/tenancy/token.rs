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

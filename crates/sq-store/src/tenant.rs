//! Tenant ids: how the store, its placement and (next) the cluster's object keys name a
//! tenant. One rule, shared by the config loader and the admin API.

use std::fmt;

use xxhash_rust::xxh3::xxh3_64;

/// The longest id.
pub const MAX_TENANT_ID_LEN: usize = 64;

/// A tenant id: 1-64 characters of `[A-Za-z0-9._-]`, not starting with `.` and without
/// `..`, so it is safe as a file name and as part of an object key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

/// The id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a tenant id must be 1-64 characters of [A-Za-z0-9._-], not starting with '.'")]
pub struct InvalidTenantId;

impl TenantId {
    /// Validates an id.
    pub fn parse(raw: &str) -> Result<Self, InvalidTenantId> {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
        if raw.is_empty()
            || raw.len() > MAX_TENANT_ID_LEN
            || raw.starts_with('.')
            || raw.contains("..")
            || !raw.bytes().all(allowed)
        {
            return Err(InvalidTenantId);
        }
        Ok(TenantId(raw.to_owned()))
    }

    /// The id of a tenant known by `name`: the name itself when it is a valid id, and
    /// otherwise (a display name such as `Alice's notes`, which configs written for
    /// earlier releases may hold) `t-` and a hash of it, the same for the same name.
    pub fn for_name(name: &str) -> Self {
        TenantId::parse(name)
            .unwrap_or_else(|_| TenantId(format!("t-{:016x}", xxh3_64(name.as_bytes()))))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_one_rule() {
        for good in ["alice", "a", "A-Z_0.9", "x.", &"n".repeat(64)] {
            assert_eq!(TenantId::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            ".hidden",
            "a..b",
            "a/b",
            "a b",
            "é",
            &"n".repeat(65),
            "a\0",
        ] {
            assert_eq!(TenantId::parse(bad), Err(InvalidTenantId), "{bad:?}");
        }
    }

    #[test]
    fn display_names_get_a_stable_id_of_their_own() {
        assert_eq!(TenantId::for_name("alice").as_str(), "alice");
        let display = TenantId::for_name("Alice's notes");
        assert_eq!(display, TenantId::for_name("Alice's notes"));
        assert_ne!(display, TenantId::for_name("Alice's notes 2"));
        assert!(display.as_str().starts_with("t-"));
        assert_eq!(TenantId::parse(display.as_str()), Ok(display));
    }
}

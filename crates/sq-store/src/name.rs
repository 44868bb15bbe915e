//! Validated document names: the only request string that ever becomes part of a path.

use std::fmt;

/// The longest name a document may have.
pub const MAX_NAME_LEN: usize = 128;

/// A document name: empty for the default document (`.phext`), otherwise 1-128
/// characters of `[A-Za-z0-9._-]`, not starting with `.` and without `..`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocName(String);

/// The name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidName;

impl DocName {
    /// The default document, stored as `.phext`.
    pub fn default_document() -> Self {
        DocName(String::new())
    }

    /// Validates a decoded `p` parameter; empty means the default document.
    pub fn parse(raw: &[u8]) -> Result<Self, InvalidName> {
        if raw.is_empty() {
            return Ok(Self::default_document());
        }
        let allowed = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
        if raw.len() > MAX_NAME_LEN
            || !raw.iter().all(allowed)
            || raw[0] == b'.'
            || raw.windows(2).any(|w| w == b"..")
        {
            return Err(InvalidName);
        }
        // All bytes are ASCII, checked above.
        Ok(DocName(String::from_utf8_lossy(raw).into_owned()))
    }

    /// The file name: `<name>.phext`, or `.phext` for the default document.
    pub fn file_name(&self) -> String {
        format!("{}.phext", self.0)
    }

    /// The name as given (empty for the default document).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DocName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_names() {
        assert_eq!(DocName::parse(b"").unwrap().file_name(), ".phext");
        for name in ["notes", "a.b", "A-Z_0.9", "x.", &"n".repeat(128)] {
            assert_eq!(DocName::parse(name.as_bytes()).unwrap().as_str(), name);
        }
        assert_eq!(DocName::parse(b"notes").unwrap().to_string(), "notes.phext");
    }

    #[test]
    fn hostile_names_are_refused() {
        let long = "n".repeat(129);
        let bad: &[&[u8]] = &[
            b".x",
            b"..",
            b"a..b",
            b"../bob/notes",
            b"../",
            b"sub/dir",
            b"back\\slash",
            b"a\0b",
            b"a b",
            "é".as_bytes(),
            long.as_bytes(),
            b"/etc/passwd",
            b"C:x",
            b"a\nb",
            b"~root",
        ];
        for name in bad {
            assert_eq!(DocName::parse(name), Err(InvalidName), "{name:?}");
        }
    }
}

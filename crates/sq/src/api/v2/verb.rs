//! The verbs of `/api/v2/`, listed once: their names, the methods each takes, and what
//! each needs.

use crate::http::Method;
use crate::tenancy::Scope;

/// A verb of the v2 API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// `version`
    Version,
    /// `select`
    Select,
    /// `insert`
    Insert,
    /// `update`
    Update,
    /// `delete`
    Delete,
    /// `toc`
    Toc,
    /// `checksum`
    Checksum,
    /// `status`
    Status,
    /// `get`
    Get,
    /// `load`
    Load,
    /// `delta`
    Delta,
    /// `where`
    Where,
    /// `json-export`
    JsonExport,
    /// `reload` (multi-tenant; its own authorization)
    Reload,
}

/// Every verb with its name, in declaration order (so `Verb as usize` indexes it).
pub const VERBS: [(Verb, &str); 14] = [
    (Verb::Version, "version"),
    (Verb::Select, "select"),
    (Verb::Insert, "insert"),
    (Verb::Update, "update"),
    (Verb::Delete, "delete"),
    (Verb::Toc, "toc"),
    (Verb::Checksum, "checksum"),
    (Verb::Status, "status"),
    (Verb::Get, "get"),
    (Verb::Load, "load"),
    (Verb::Delta, "delta"),
    (Verb::Where, "where"),
    (Verb::JsonExport, "json-export"),
    (Verb::Reload, "reload"),
];

impl Verb {
    /// The verb named `name` (exactly, as in `/api/v2/<name>`).
    pub fn from_name(name: &str) -> Option<Verb> {
        VERBS.iter().find(|(_, n)| *n == name).map(|(v, _)| *v)
    }

    /// The name used in paths, logs and metrics.
    pub fn name(self) -> &'static str {
        VERBS[self as usize].1
    }

    /// Whether the verb takes `method`.
    pub fn allows(self, method: &Method) -> bool {
        use Method::*;
        match self {
            Verb::Insert => matches!(method, Get | Head | Post),
            Verb::Update => matches!(method, Get | Head | Post | Put),
            Verb::Delete => matches!(method, Get | Head | Post | Delete),
            Verb::Delta => matches!(method, Get | Head | Post),
            Verb::Where | Verb::Reload => matches!(method, Post),
            _ => matches!(method, Get | Head),
        }
    }

    /// What a key needs to call the verb.
    pub fn scope(self) -> Scope {
        match self {
            Verb::Insert | Verb::Update | Verb::Delete => Scope::Write,
            _ => Scope::Read,
        }
    }

    /// Whether `c` is read (and so validated).
    pub fn uses_coordinate(self) -> bool {
        matches!(
            self,
            Verb::Select | Verb::Insert | Verb::Update | Verb::Delete
        )
    }

    /// Whether the verb reads text (and so the body).
    pub fn uses_text(self) -> bool {
        matches!(
            self,
            Verb::Insert | Verb::Update | Verb::Delta | Verb::Where
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_declaration_order() {
        for (i, (verb, name)) in VERBS.iter().enumerate() {
            assert_eq!(*verb as usize, i, "{name}");
            assert_eq!(verb.name(), *name);
            assert_eq!(Verb::from_name(name), Some(*verb));
        }
        for name in ["selectX", "version.json", "select/", "", "SELECT"] {
            assert_eq!(Verb::from_name(name), None, "{name}");
        }
    }

    #[test]
    fn methods_per_verb() {
        assert!(Verb::Delete.allows(&Method::Post));
        assert!(Verb::Delete.allows(&Method::Delete));
        assert!(Verb::Update.allows(&Method::Put));
        assert!(!Verb::Select.allows(&Method::Post));
        assert!(!Verb::Where.allows(&Method::Get));
        assert!(Verb::Toc.allows(&Method::Head));
    }
}

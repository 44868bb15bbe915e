//! The verbs of `/api/v2/` and the methods each one takes.

use crate::http::Method;

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
    /// `reload` (multi-tenant; handled before authentication)
    Reload,
}

impl Verb {
    /// The verb of an exact path, `/api/v2/<verb>`.
    pub fn from_path(path: &str) -> Option<Verb> {
        Some(match path.strip_prefix("/api/v2/")? {
            "version" => Verb::Version,
            "select" => Verb::Select,
            "insert" => Verb::Insert,
            "update" => Verb::Update,
            "delete" => Verb::Delete,
            "toc" => Verb::Toc,
            "checksum" => Verb::Checksum,
            "status" => Verb::Status,
            "get" => Verb::Get,
            "load" => Verb::Load,
            "delta" => Verb::Delta,
            "where" => Verb::Where,
            "json-export" => Verb::JsonExport,
            "reload" => Verb::Reload,
            _ => return None,
        })
    }

    /// The name used in paths and logs.
    pub fn name(self) -> &'static str {
        match self {
            Verb::Version => "version",
            Verb::Select => "select",
            Verb::Insert => "insert",
            Verb::Update => "update",
            Verb::Delete => "delete",
            Verb::Toc => "toc",
            Verb::Checksum => "checksum",
            Verb::Status => "status",
            Verb::Get => "get",
            Verb::Load => "load",
            Verb::Delta => "delta",
            Verb::Where => "where",
            Verb::JsonExport => "json-export",
            Verb::Reload => "reload",
        }
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
    fn paths_match_exactly() {
        assert_eq!(Verb::from_path("/api/v2/select"), Some(Verb::Select));
        assert_eq!(
            Verb::from_path("/api/v2/json-export"),
            Some(Verb::JsonExport)
        );
        for path in [
            "/api/v2/selectX",
            "/api/v2/version.json",
            "/api/v2/select/",
            "/api/v2/",
            "/select",
            "/API/v2/select",
        ] {
            assert_eq!(Verb::from_path(path), None, "{path}");
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

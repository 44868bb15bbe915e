//! A parsed request head.

use std::net::SocketAddr;

/// The request methods SQ distinguishes; any other token (including lowercase
/// spellings) is `Other`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `OPTIONS`
    Options,
    /// Anything else, kept for logs.
    Other(String),
}

impl Method {
    pub(crate) fn from_token(token: &str) -> Self {
        match token {
            "GET" => Self::Get,
            "HEAD" => Self::Head,
            "POST" => Self::Post,
            "PUT" => Self::Put,
            "DELETE" => Self::Delete,
            "OPTIONS" => Self::Options,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The method as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
            Self::Other(token) => token,
        }
    }
}

/// The HTTP version of a request; only 1.0 and 1.1 are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0
    Http10,
    /// HTTP/1.1
    Http11,
}

/// A request head: everything before the body.
#[derive(Debug, Clone)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The request target exactly as sent (origin or absolute form).
    pub target: String,
    /// The protocol version.
    pub version: Version,
    /// Header lines in request order; names lowercased, values raw.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The TCP peer.
    pub peer: SocketAddr,
    /// Per-process sequence number of the connection carrying the request.
    pub connection_id: u64,
}

impl Request {
    /// The path and query of the target: the absolute form `http://host/p?q` is reduced
    /// to `/p?q`.
    pub fn origin_form(&self) -> &str {
        let target = self.target.as_str();
        for scheme in ["http://", "https://"] {
            if let Some(rest) = target
                .get(..scheme.len())
                .filter(|s| s.eq_ignore_ascii_case(scheme))
                .and_then(|_| target.get(scheme.len()..))
            {
                return match rest.find(['/', '?']) {
                    Some(i) if rest.as_bytes()[i] == b'/' => &rest[i..],
                    Some(i) => &rest[i..],
                    None => "/",
                };
            }
        }
        target
    }

    /// The path part of the target, undecoded.
    pub fn path(&self) -> &str {
        let origin = self.origin_form();
        origin.split_once('?').map_or(origin, |(path, _)| path)
    }

    /// The raw query: everything after the first `?`, if any.
    pub fn query(&self) -> Option<&str> {
        self.origin_form().split_once('?').map(|(_, query)| query)
    }

    /// Whether any header named `name` (lowercase) is present.
    pub fn has_header(&self, name: &str) -> bool {
        self.headers.iter().any(|(n, _)| n == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(target: &str) -> Request {
        Request {
            method: Method::Get,
            target: target.to_owned(),
            version: Version::Http11,
            headers: vec![],
            peer: "127.0.0.1:1".parse().unwrap(),
            connection_id: 0,
        }
    }

    #[test]
    fn absolute_form_is_reduced_to_path_and_query() {
        let r = request("http://example.com:8080/api/v2/select?p=a&c=1");
        assert_eq!(r.path(), "/api/v2/select");
        assert_eq!(r.query(), Some("p=a&c=1"));
        assert_eq!(request("HTTP://h?x=1").origin_form(), "?x=1");
        assert_eq!(request("http://h").path(), "/");
    }

    #[test]
    fn query_starts_after_the_first_question_mark() {
        let r = request("/api/v2/select?s=a?b");
        assert_eq!(r.path(), "/api/v2/select");
        assert_eq!(r.query(), Some("s=a?b"));
        assert_eq!(request("/x").query(), None);
    }

    #[test]
    fn methods_are_case_sensitive() {
        assert_eq!(Method::from_token("GET"), Method::Get);
        assert_eq!(Method::from_token("get"), Method::Other("get".into()));
        assert_eq!(Method::from_token("get").as_str(), "get");
    }
}

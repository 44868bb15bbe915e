//! Credentials: the tokens a request presents, in header order.

use crate::http::{trim, Request};

/// Every token the request presents, in request order: `Authorization: <token>`,
/// `Authorization: Bearer <token>` (scheme in any case), and `X-SQ-API-Key: <token>`.
pub fn presented_tokens(request: &Request) -> impl Iterator<Item = &[u8]> {
    request
        .headers
        .iter()
        .filter_map(|(name, value)| match name.as_str() {
            "authorization" => Some(strip_bearer(trim(value))),
            "x-sq-api-key" => Some(trim(value)),
            _ => None,
        })
}

fn strip_bearer(value: &[u8]) -> &[u8] {
    if value.len() > 6
        && value[..6].eq_ignore_ascii_case(b"bearer")
        && matches!(value[6], b' ' | b'\t')
    {
        return trim(&value[6..]);
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Method, Version};

    fn tokens(headers: &[(&str, &str)]) -> Vec<String> {
        let request = Request {
            method: Method::Get,
            target: "/".into(),
            version: Version::Http11,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
                .collect(),
            peer: "127.0.0.1:1".parse().unwrap(),
            connection_id: 0,
        };
        presented_tokens(&request)
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .collect()
    }

    #[test]
    fn header_forms() {
        assert_eq!(
            tokens(&[
                ("authorization", " raw:token "),
                ("host", "x"),
                ("authorization", "Bearer  tok:en\t"),
                ("authorization", "bEaReR\tlow"),
                ("x-sq-api-key", " key "),
                ("authorization", "Basic abc"),
                ("authorization", "Bearer"),
            ]),
            ["raw:token", "tok:en", "low", "key", "Basic abc", "Bearer"]
        );
    }
}

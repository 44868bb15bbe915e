//! Credentials: the one token a request presents.
//!
//! A request may name its token in `Authorization: <token>`, `Authorization: Bearer
//! <token>` (scheme in any case) or `X-SQ-API-Key: <token>`. It may not present several
//! (contract §10.17): a second `Authorization` line, a second `X-SQ-API-Key` line, or the
//! two headers naming different tokens is refused, so that no proxy, client library or
//! attacker can make the server choose a credential from several.

use crate::http::{trim, Request};

/// The request carries more than one credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmbiguousCredential;

/// The token the request presents, if any.
pub fn credential(request: &Request) -> Result<Option<&[u8]>, AmbiguousCredential> {
    let mut authorization: Option<&[u8]> = None;
    let mut api_key: Option<&[u8]> = None;
    for (name, value) in &request.headers {
        let slot = match name.as_str() {
            "authorization" => &mut authorization,
            "x-sq-api-key" => &mut api_key,
            _ => continue,
        };
        if slot.is_some() {
            return Err(AmbiguousCredential);
        }
        *slot = Some(match name.as_str() {
            "authorization" => strip_bearer(trim(value)),
            _ => trim(value),
        });
    }
    match (authorization, api_key) {
        (Some(a), Some(k)) if a != k => Err(AmbiguousCredential),
        (a, k) => Ok(a.or(k)),
    }
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

    fn presented(headers: &[(&str, &str)]) -> Result<Option<String>, AmbiguousCredential> {
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
        credential(&request).map(|t| t.map(|t| String::from_utf8_lossy(t).into_owned()))
    }

    #[test]
    fn header_forms() {
        let one = |name: &str, value: &str| presented(&[("host", "x"), (name, value)]);
        assert_eq!(
            one("authorization", " raw:token "),
            Ok(Some("raw:token".into()))
        );
        assert_eq!(
            one("authorization", "Bearer  tok:en\t"),
            Ok(Some("tok:en".into()))
        );
        assert_eq!(one("authorization", "bEaReR\tlow"), Ok(Some("low".into())));
        assert_eq!(
            one("authorization", "Basic abc"),
            Ok(Some("Basic abc".into()))
        );
        assert_eq!(one("authorization", "Bearer"), Ok(Some("Bearer".into())));
        assert_eq!(one("x-sq-api-key", " key "), Ok(Some("key".into())));
        assert_eq!(
            one("x-sq-api-key", "Bearer key"),
            Ok(Some("Bearer key".into()))
        );
        assert_eq!(presented(&[("authorization-x", "t")]), Ok(None));
        assert_eq!(presented(&[]), Ok(None));
    }

    #[test]
    fn several_credentials_are_refused() {
        for headers in [
            &[("authorization", "wrong"), ("authorization", "right")][..],
            &[("authorization", "same"), ("authorization", "Bearer same")],
            &[("x-sq-api-key", "a"), ("x-sq-api-key", "a")],
            &[("authorization", "a"), ("x-sq-api-key", "b")],
            &[("x-sq-api-key", "a"), ("authorization", "Bearer b")],
        ] {
            assert_eq!(presented(headers), Err(AmbiguousCredential), "{headers:?}");
        }
        // The two headers may name the same token.
        assert_eq!(
            presented(&[("authorization", "Bearer t"), ("x-sq-api-key", "t")]),
            Ok(Some("t".into()))
        );
    }
}

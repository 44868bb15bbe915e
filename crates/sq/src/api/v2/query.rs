//! Query-string parameters, decoded the reference's way: split on `&`, then at the
//! first `=`; `+` becomes a space before percent-decoding; bad `%` stays literal; the
//! last duplicate wins.

/// The parameters SQ reads; everything else is ignored.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Query {
    /// `p`: the phext name.
    pub p: Option<Vec<u8>>,
    /// `c`: the coordinate.
    pub c: Option<Vec<u8>>,
    /// `s`: text.
    pub s: Option<Vec<u8>>,
    /// `content`: text (POST/PUT fallback).
    pub content: Option<Vec<u8>>,
    /// `algo`: the `where` algorithm.
    pub algo: Option<Vec<u8>>,
    /// `limit`: the `where` limit.
    pub limit: Option<Vec<u8>>,
}

impl Query {
    /// Parses the raw query (the text after the first `?`).
    pub fn parse(raw: Option<&str>) -> Self {
        let mut query = Query::default();
        for piece in raw.unwrap_or("").split('&') {
            let Some((key, value)) = piece.split_once('=') else {
                continue;
            };
            let slot = match decode(key).as_slice() {
                b"p" => &mut query.p,
                b"c" => &mut query.c,
                b"s" => &mut query.s,
                b"content" => &mut query.content,
                b"algo" => &mut query.algo,
                b"limit" => &mut query.limit,
                _ => continue,
            };
            *slot = Some(decode(value));
        }
        query
    }
}

/// `+` to space, then `%XX` to its byte; an invalid `%` sequence stays as written.
pub fn decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| {
                    let h = std::str::from_utf8(h).ok()?;
                    u8::from_str_radix(h, 16)
                        .ok()
                        .filter(|_| h.bytes().all(|b| b.is_ascii_hexdigit()))
                });
                if let Some(byte) = hex {
                    out.push(byte);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            other => out.push(other),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_rules() {
        assert_eq!(decode("Hello+World%21"), b"Hello World!");
        assert_eq!(decode("%2e%2E%2fbob"), b"../bob");
        assert_eq!(decode("a%2Bb"), b"a+b");
        assert_eq!(decode("100%"), b"100%");
        assert_eq!(decode("%zz%4"), b"%zz%4");
        assert_eq!(decode("%+1"), b"% 1");
        assert_eq!(decode("%00"), b"\0");
        assert_eq!(decode("%ff"), b"\xff");
    }

    #[test]
    fn parameters_last_wins_and_unknown_are_ignored() {
        let q = Query::parse(Some("p=a&p=b&c=1.2&&x&library=9&s=&content=z=y&c%3D=no"));
        assert_eq!(q.p.as_deref(), Some(&b"b"[..]));
        assert_eq!(q.c.as_deref(), Some(&b"1.2"[..]));
        assert_eq!(q.s.as_deref(), Some(&b""[..]));
        assert_eq!(q.content.as_deref(), Some(&b"z=y"[..]));
        assert_eq!(Query::parse(None), Query::default());
        assert_eq!(Query::parse(Some("P=x")).p, None, "keys are case-sensitive");
    }
}

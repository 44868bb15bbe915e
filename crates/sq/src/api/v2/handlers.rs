//! Executing a checked request: one arm per verb.

use phext::{where_checksum, where_xor, ClientManifest};

use super::{ApiError, Call, Verb};
use crate::http::{Method, Response, APPLICATION_JSON};
use sq_store::{Edit, View};

/// Runs the verb against the tenant's document and builds the 200 answer.
pub(crate) async fn execute(call: Call<'_>) -> Result<Response, ApiError> {
    let directory = &call.tenant.directory;
    let name = &call.name;
    let ok = |body: Vec<u8>| Ok(Response::text(200, body));
    match call.verb {
        Verb::Version => ok(env!("CARGO_PKG_VERSION").into()),
        Verb::Select => Ok(Response::text(
            200,
            directory
                .read_view(name, View::Scroll(call.coordinate))
                .await?,
        )),
        Verb::Insert | Verb::Update | Verb::Delete => {
            let edit = edit_of(&call)?;
            let outcome = if call.request.method == Method::Head {
                directory.read(name, |doc| edit.preview(doc)).await?
            } else {
                directory
                    .write(name, &edit, call.tenant.quota_bytes)
                    .await?
            };
            let word = match call.verb {
                Verb::Insert => "Inserted",
                Verb::Update => "Updated",
                _ => "Removed",
            };
            ok(format!("{word} {} bytes", outcome.bytes).into_bytes())
        }
        // Views of the whole document: rendered once per version, shared by its readers.
        Verb::Toc => Ok(Response::text(
            200,
            directory.read_view(name, View::Toc).await?,
        )),
        Verb::Checksum => Ok(Response::text(
            200,
            directory.read_view(name, View::Checksum).await?,
        )),
        Verb::Status => {
            let (size, scrolls) = directory
                .read(name, |doc| (doc.serialized_len(), doc.len()))
                .await?;
            let connection = if call.multi_tenant {
                0
            } else {
                call.request.connection_id
            };
            ok(format!(
                "Hosting: {}\nConnection ID: {connection}\nPhext Size: {size}\nScrolls: {scrolls}",
                name.file_name()
            )
            .into_bytes())
        }
        Verb::Get => Ok(Response::text(
            200,
            directory.read_view(name, View::Bytes).await?,
        )),
        Verb::Load => {
            directory.reload(name).await?;
            ok(format!("Loaded {}", name.file_name()).into_bytes())
        }
        Verb::Delta => {
            let manifest_text = utf8(&call.text)?;
            let manifest = ClientManifest::parse(manifest_text, call.settings.max_coordinate);
            Ok(Response::text(
                200,
                directory
                    .read_charged(name, |doc| doc.delta(&manifest).to_bytes())
                    .await?,
            ))
        }
        Verb::Where => {
            let text = utf8(&call.text)?;
            let checksum_algo = call.query.algo.as_deref() == Some(b"checksum");
            let limit = parse_limit(call.query.limit.as_deref());
            let coordinate = if checksum_algo {
                where_checksum(text.as_bytes())
            } else {
                // Input is bounded by the body limit, far below any component overflow.
                where_xor(text, limit).map_err(|_| ApiError::BadRequest)?
            };
            let algo = if checksum_algo { "checksum" } else { "xor" };
            ok(format!(
                "Calculated coordinate {coordinate} for input (algo={algo}, limit={limit})."
            )
            .into_bytes())
        }
        Verb::JsonExport => Ok(Response::typed(
            200,
            APPLICATION_JSON,
            directory.read_view(name, View::Json).await?,
        )),
        // Reload is its own endpoint; as a verb it is only ever routed as a wrong method.
        Verb::Reload => Err(ApiError::NotFound),
    }
}

/// The edit an insert, update or delete asks for, with its text checked.
fn edit_of(call: &Call<'_>) -> Result<Edit, ApiError> {
    let c = call.coordinate;
    if call.verb == Verb::Delete {
        return Ok(Edit::Delete(c));
    }
    let text = utf8(&call.text)?;
    if phext::contains_delimiter(text.as_bytes()) {
        return Err(ApiError::TextHasDelimiter);
    }
    Ok(match call.verb {
        Verb::Insert => Edit::Insert(c, text.to_owned()),
        _ => Edit::Update(c, text.to_owned()),
    })
}

fn utf8(bytes: &[u8]) -> Result<&str, ApiError> {
    std::str::from_utf8(bytes).map_err(|_| ApiError::TextNotUtf8)
}

/// `limit` is a decimal number of ASCII digits; anything else (or nothing) is 100.
fn parse_limit(raw: Option<&[u8]>) -> usize {
    const DEFAULT: usize = 100;
    match raw {
        Some(digits) if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) => {
            std::str::from_utf8(digits)
                .ok()
                .and_then(|d| d.parse().ok())
                .unwrap_or(DEFAULT)
        }
        _ => DEFAULT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert_eq!(parse_limit(None), 100);
        assert_eq!(parse_limit(Some(b"")), 100);
        assert_eq!(parse_limit(Some(b"0")), 0);
        assert_eq!(parse_limit(Some(b"007")), 7);
        assert_eq!(parse_limit(Some(b"-1")), 100);
        assert_eq!(parse_limit(Some(b"1e3")), 100);
        assert_eq!(parse_limit(Some(b"99999999999999999999999")), 100);
    }
}

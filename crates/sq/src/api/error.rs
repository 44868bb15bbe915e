//! The API's one error type, and the one place it becomes a status and body.

use crate::http::{BodyError, Response};
use crate::store::StoreError;

/// Everything a request can be refused for.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A malformed request, an unsupported method, or PUT/DELETE on the wrong verb.
    #[error("bad request")]
    BadRequest,
    /// `c` is not a valid coordinate; carries the decoded value.
    #[error("invalid coordinate")]
    InvalidCoordinate(String),
    /// Text that is not UTF-8.
    #[error("text is not valid UTF-8")]
    TextNotUtf8,
    /// Scroll text with a delimiter byte.
    #[error("scroll text contains a phext delimiter byte")]
    TextHasDelimiter,
    /// No token matched.
    #[error("unauthorized")]
    Unauthorized,
    /// More than one credential (contract §10.17): never choose one of several.
    #[error("more than one credential")]
    AmbiguousCredential,
    /// `p` is not a valid phext name.
    #[error("invalid phext path")]
    InvalidPath,
    /// The tenant is disabled.
    #[error("tenant disabled")]
    TenantDisabled,
    /// Reload from a non-loopback or proxied peer.
    #[error("reload refused for a remote peer")]
    ReloadNotLocal,
    /// Unknown path, or GET/HEAD/POST on a verb that does not take it.
    #[error("not found")]
    NotFound,
    /// The body could not be read.
    #[error("request body: {0:?}")]
    Body(BodyError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A reload was refused; the reason is safe to show (it never holds a token).
    #[error("reload failed: {0}")]
    ReloadFailed(String),
}

impl ApiError {
    /// The response for this error: the status codes and exact bodies of the contract.
    pub fn to_response(&self) -> Response {
        match self {
            ApiError::BadRequest => Response::text(400, "Bad Request"),
            ApiError::InvalidCoordinate(c) => {
                Response::text(400, format!("Bad Request: invalid coordinate '{c}'"))
            }
            ApiError::TextNotUtf8 => Response::text(400, "Bad Request: text is not valid UTF-8"),
            ApiError::TextHasDelimiter => Response::text(
                400,
                "Bad Request: scroll text contains a phext delimiter byte",
            ),
            // A tenant removed while its request was under way: its token is refused now.
            ApiError::Unauthorized | ApiError::Store(StoreError::Gone) => {
                Response::text(401, "Unauthorized").with_header("WWW-Authenticate", "Bearer")
            }
            ApiError::AmbiguousCredential => {
                Response::text(400, "Bad Request: more than one credential")
            }
            ApiError::InvalidPath => Response::text(403, "Forbidden: Invalid phext path"),
            ApiError::TenantDisabled => Response::text(403, "Forbidden: tenant disabled"),
            ApiError::ReloadNotLocal => Response::text(
                403,
                "Forbidden: Reload endpoint only accessible from localhost",
            ),
            ApiError::NotFound => Response::text(404, "Not Found"),
            ApiError::Body(error) => {
                let status = error.status().unwrap_or(400);
                Response::text(status, crate::http::reason(status)).closing()
            }
            ApiError::Store(StoreError::NoSpace) => Response::text(507, "Insufficient Storage"),
            ApiError::Store(StoreError::QuotaExceeded) => {
                Response::text(507, "Insufficient Storage: quota exceeded")
            }
            ApiError::Store(StoreError::Edit(_)) => Response::text(
                400,
                "Bad Request: scroll text contains a phext delimiter byte",
            ),
            ApiError::Store(StoreError::Corrupt { file, .. }) => Response::text(
                500,
                format!("Internal Server Error: stored document {file} is not valid phext"),
            ),
            ApiError::Store(StoreError::NotRegular { file }) => Response::text(
                403,
                format!("Forbidden: stored document {file} is not a regular file"),
            ),
            ApiError::Store(StoreError::Busy { retry_after }) => {
                let seconds = retry_after.as_secs().max(1);
                Response::text(
                    503,
                    "Service Unavailable: too many large answers are being sent; try again",
                )
                .with_header("Retry-After", seconds.to_string())
            }
            ApiError::Store(StoreError::Io(_)) => Response::text(500, "Internal Server Error"),
            ApiError::ReloadFailed(reason) => {
                Response::text(500, format!("Reload failed: {reason}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_the_contracts() {
        let body = |e: ApiError| {
            let r = e.to_response();
            (r.status, String::from_utf8(r.body.to_vec()).unwrap())
        };
        assert_eq!(
            body(ApiError::InvalidCoordinate("x1".into())),
            (400, "Bad Request: invalid coordinate 'x1'".into())
        );
        assert_eq!(
            body(ApiError::InvalidPath),
            (403, "Forbidden: Invalid phext path".into())
        );
        assert_eq!(
            body(ApiError::Store(StoreError::NoSpace)),
            (507, "Insufficient Storage".into())
        );
        assert_eq!(
            body(ApiError::Body(BodyError::TooLarge)),
            (413, "Payload Too Large".into())
        );
        assert_eq!(
            body(ApiError::ReloadFailed("bad".into())),
            (500, "Reload failed: bad".into())
        );
        let unauthorized = ApiError::Unauthorized.to_response();
        assert_eq!(
            unauthorized.headers,
            vec![("WWW-Authenticate", "Bearer".to_owned())]
        );
    }
}

//! The API's one error type: each error has a kind (which fixes its status) and a stable
//! code, and is rendered by one renderer per API — the v2 contract's exact text bodies,
//! or the JSON shape `{"error": "<message>", "code": "<code>"}` of the admin API and what
//! comes next.

use std::time::Duration;

use crate::http::{reason, BodyError, Response, APPLICATION_JSON};
use crate::tenancy::admin::AdminError;
use crate::tenancy::Scope;
use sq_store::StoreError;

/// The class of an error, which decides its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400: the request is malformed.
    BadRequest,
    /// 401: no credential opens this.
    Unauthorized,
    /// 403: the caller is known, or the thing exists, but this is not allowed.
    Forbidden,
    /// 404: no such thing.
    NotFound,
    /// 405: the path exists, the method does not.
    MethodNotAllowed,
    /// 408: the request did not arrive in time.
    Timeout,
    /// 409: the request conflicts with the current state (a name taken, a version moved on).
    Conflict,
    /// 413: the body is too large.
    PayloadTooLarge,
    /// 429: too many requests for now.
    TooManyRequests,
    /// 500: the server failed.
    Internal,
    /// 503: not now; retry later.
    Unavailable,
    /// 507: no room (the disk, or the tenant's quota).
    InsufficientStorage,
}

impl ErrorKind {
    /// The HTTP status.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::BadRequest => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::Timeout => 408,
            ErrorKind::Conflict => 409,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::TooManyRequests => 429,
            ErrorKind::Internal => 500,
            ErrorKind::Unavailable => 503,
            ErrorKind::InsufficientStorage => 507,
        }
    }
}

/// Everything a request can be refused for.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A malformed request, an unsupported method, or PUT/DELETE on the wrong verb.
    #[error("bad request")]
    BadRequest,
    /// A request body that is not the JSON an endpoint takes.
    #[error("{0}")]
    InvalidJson(String),
    /// `c` is not a valid coordinate; carries the decoded value.
    #[error("invalid coordinate '{0}'")]
    InvalidCoordinate(String),
    /// Text that is not UTF-8.
    #[error("text is not valid UTF-8")]
    TextNotUtf8,
    /// Scroll text with a delimiter byte.
    #[error("scroll text contains a phext delimiter byte")]
    TextHasDelimiter,
    /// More than one credential (contract §10.17): never choose one of several.
    #[error("more than one credential")]
    AmbiguousCredential,
    /// No credential opens this.
    #[error("Unauthorized")]
    Unauthorized,
    /// A tenant's key where the operator's is needed.
    #[error("Forbidden: admin token required")]
    NotPermitted,
    /// The tenant's key does not allow this (a read key writing, say).
    #[error("this key may not {}", scope_verb(*.0))]
    KeyScope(Scope),
    /// The admin API is closed: no admin token is configured.
    #[error("no admin token is configured")]
    NoAdminToken,
    /// `p` is not a valid phext name.
    #[error("invalid phext path")]
    InvalidPath,
    /// The tenant is disabled.
    #[error("tenant disabled")]
    TenantDisabled,
    /// Reload from a non-loopback or proxied peer.
    #[error("reload endpoint only accessible from localhost")]
    ReloadNotLocal,
    /// Unknown path, or GET/HEAD/POST on a verb that does not take it.
    #[error("not found")]
    NotFound,
    /// A path of the admin API that does not exist.
    #[error("no such admin endpoint")]
    NoSuchAdminEndpoint,
    /// A single-tenant server has no admin API.
    #[error("the admin API needs multi-tenant mode")]
    NotMultiTenant,
    /// A known admin path with another method.
    #[error("method not allowed here")]
    MethodNotAllowed,
    /// Over a rate; retry after this long.
    #[error("Too Many Requests")]
    TooManyRequests(Duration),
    /// The body could not be read.
    #[error("request body: {0:?}")]
    Body(BodyError),
    /// Storage failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A reload was refused; the reason is safe to show (it never holds a token).
    #[error("reload failed: {0}")]
    ReloadFailed(String),
    /// An admin change was refused.
    #[error(transparent)]
    Admin(#[from] AdminError),
}

impl ApiError {
    /// The class of the error.
    pub fn kind(&self) -> ErrorKind {
        use ErrorKind as K;
        match self {
            ApiError::BadRequest
            | ApiError::InvalidJson(_)
            | ApiError::InvalidCoordinate(_)
            | ApiError::TextNotUtf8
            | ApiError::TextHasDelimiter
            | ApiError::AmbiguousCredential => K::BadRequest,
            ApiError::Unauthorized => K::Unauthorized,
            ApiError::NotPermitted
            | ApiError::KeyScope(_)
            | ApiError::NoAdminToken
            | ApiError::InvalidPath
            | ApiError::TenantDisabled
            | ApiError::ReloadNotLocal => K::Forbidden,
            ApiError::NotFound | ApiError::NoSuchAdminEndpoint | ApiError::NotMultiTenant => {
                K::NotFound
            }
            ApiError::MethodNotAllowed => K::MethodNotAllowed,
            ApiError::TooManyRequests(_) => K::TooManyRequests,
            ApiError::Body(BodyError::TooLarge) => K::PayloadTooLarge,
            ApiError::Body(BodyError::Timeout) => K::Timeout,
            ApiError::Body(_) => K::BadRequest,
            ApiError::Store(store) => match store {
                StoreError::NoSpace | StoreError::QuotaExceeded => K::InsufficientStorage,
                StoreError::Edit(_) => K::BadRequest,
                // A tenant removed while its request was under way: its key is refused now.
                StoreError::Gone => K::Unauthorized,
                StoreError::NotRegular { .. } => K::Forbidden,
                StoreError::Unavailable { .. }
                | StoreError::Fenced
                | StoreError::Elsewhere { .. } => K::Unavailable,
                StoreError::Conflict(_) => K::Conflict,
                StoreError::Corrupt { .. } | StoreError::Io(_) => K::Internal,
            },
            ApiError::ReloadFailed(_) => K::Internal,
            ApiError::Admin(admin) => match admin {
                AdminError::NotFound(_) => K::NotFound,
                AdminError::Exists(_) | AdminError::NotEmpty { .. } => K::Conflict,
                AdminError::Invalid(_) | AdminError::Config(_) => K::BadRequest,
                AdminError::Io(_) => K::Internal,
            },
        }
    }

    /// A short name for the error that clients can match on; never changes.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest => "bad_request",
            ApiError::InvalidJson(_) => "invalid_json",
            ApiError::InvalidCoordinate(_) => "invalid_coordinate",
            ApiError::TextNotUtf8 => "text_not_utf8",
            ApiError::TextHasDelimiter => "text_has_delimiter",
            ApiError::AmbiguousCredential => "ambiguous_credential",
            ApiError::Unauthorized => "unauthorized",
            ApiError::NotPermitted => "admin_token_required",
            ApiError::KeyScope(_) => "key_scope",
            ApiError::NoAdminToken => "no_admin_token",
            ApiError::InvalidPath => "invalid_path",
            ApiError::TenantDisabled => "tenant_disabled",
            ApiError::ReloadNotLocal => "reload_not_local",
            ApiError::NotFound | ApiError::NoSuchAdminEndpoint => "not_found",
            ApiError::NotMultiTenant => "not_multi_tenant",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::TooManyRequests(_) => "too_many_requests",
            ApiError::Body(BodyError::TooLarge) => "payload_too_large",
            ApiError::Body(BodyError::Timeout) => "request_timeout",
            ApiError::Body(_) => "bad_request",
            ApiError::Store(store) => match store {
                StoreError::NoSpace => "no_space",
                StoreError::QuotaExceeded => "quota_exceeded",
                StoreError::Edit(_) => "text_has_delimiter",
                StoreError::Gone => "unauthorized",
                StoreError::NotRegular { .. } => "not_a_regular_file",
                StoreError::Unavailable { .. } => "unavailable",
                StoreError::Fenced => "fenced",
                StoreError::Elsewhere { .. } => "served_elsewhere",
                StoreError::Conflict(_) => "conflict",
                StoreError::Corrupt { .. } => "corrupt_document",
                StoreError::Io(_) => "internal",
            },
            ApiError::ReloadFailed(_) => "reload_failed",
            ApiError::Admin(admin) => match admin {
                AdminError::NotFound(_) => "no_such_tenant",
                AdminError::Exists(_) => "tenant_exists",
                AdminError::NotEmpty { .. } => "data_dir_not_empty",
                AdminError::Invalid(_) | AdminError::Config(_) => "invalid_request",
                AdminError::Io(_) => "internal",
            },
        }
    }

    /// The status of the answer.
    pub fn status(&self) -> u16 {
        self.kind().status()
    }

    /// How long to wait before trying again, for errors that say so.
    fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::TooManyRequests(wait) => Some(*wait),
            ApiError::Store(StoreError::Unavailable { retry_after, .. }) => Some(*retry_after),
            ApiError::Store(StoreError::Fenced | StoreError::Elsewhere { .. }) => {
                Some(Duration::from_secs(1))
            }
            _ => None,
        }
    }

    /// Whether the connection must close after the answer.
    fn closes(&self) -> bool {
        matches!(self, ApiError::Body(_))
    }

    /// The answer in the v2 contract's words: its statuses and exact text bodies.
    pub fn to_v2_response(&self) -> Response {
        let status = self.status();
        let body = match self {
            ApiError::InvalidCoordinate(c) => format!("Bad Request: invalid coordinate '{c}'"),
            ApiError::TextNotUtf8 => "Bad Request: text is not valid UTF-8".into(),
            ApiError::TextHasDelimiter | ApiError::Store(StoreError::Edit(_)) => {
                "Bad Request: scroll text contains a phext delimiter byte".into()
            }
            ApiError::AmbiguousCredential => "Bad Request: more than one credential".into(),
            // The contract knows one refusal of a credential: 401.
            ApiError::Unauthorized | ApiError::NotPermitted | ApiError::Store(StoreError::Gone) => {
                return unauthorized();
            }
            ApiError::InvalidPath => "Forbidden: Invalid phext path".into(),
            ApiError::KeyScope(_) => format!("Forbidden: {self}"),
            ApiError::TenantDisabled => "Forbidden: tenant disabled".into(),
            ApiError::ReloadNotLocal => {
                "Forbidden: Reload endpoint only accessible from localhost".into()
            }
            ApiError::Store(StoreError::QuotaExceeded) => {
                "Insufficient Storage: quota exceeded".into()
            }
            ApiError::Store(StoreError::Corrupt { file, .. }) => {
                format!("Internal Server Error: stored document {file} is not valid phext")
            }
            ApiError::Store(StoreError::NotRegular { file }) => {
                format!("Forbidden: stored document {file} is not a regular file")
            }
            ApiError::Store(StoreError::Unavailable { reason, .. }) => {
                format!("Service Unavailable: {reason}")
            }
            ApiError::Store(StoreError::Fenced) => {
                "Service Unavailable: this node no longer serves the tenant".into()
            }
            ApiError::Store(StoreError::Elsewhere { node }) => {
                format!("Service Unavailable: the tenant is served by {node}")
            }
            ApiError::Store(StoreError::Conflict(why)) => format!("Conflict: {why}"),
            ApiError::ReloadFailed(why) => format!("Reload failed: {why}"),
            _ => reason(status).into(),
        };
        self.finish(Response::text(status, body))
    }

    /// The answer as JSON: `{"error": "<message>", "code": "<code>"}`.
    pub fn to_json_response(&self) -> Response {
        let status = self.status();
        let message = match self {
            ApiError::BadRequest | ApiError::Body(_) | ApiError::TooManyRequests(_) => {
                reason(status).to_owned()
            }
            other => other.to_string(),
        };
        let body = serde_json::json!({ "error": message, "code": self.code() });
        let mut response = Response::typed(status, APPLICATION_JSON, body.to_string());
        if status == 401 {
            response = response.with_header("WWW-Authenticate", "Bearer");
        }
        self.finish(response)
    }

    fn finish(&self, mut response: Response) -> Response {
        if let Some(wait) = self.retry_after() {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response = response.with_header("Retry-After", seconds.max(1).to_string());
        }
        if self.closes() {
            response = response.closing();
        }
        response
    }
}

fn scope_verb(scope: Scope) -> &'static str {
    match scope {
        Scope::Read => "read",
        Scope::Write => "write",
        Scope::Owner => "manage its tenant",
    }
}

fn unauthorized() -> Response {
    Response::text(401, "Unauthorized").with_header("WWW-Authenticate", "Bearer")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(e: ApiError) -> (u16, String) {
        let r = e.to_v2_response();
        (r.status, String::from_utf8(r.full_body().to_vec()).unwrap())
    }

    #[test]
    fn v2_bodies_are_the_contracts() {
        assert_eq!(
            v2(ApiError::InvalidCoordinate("x1".into())),
            (400, "Bad Request: invalid coordinate 'x1'".into())
        );
        assert_eq!(
            v2(ApiError::InvalidPath),
            (403, "Forbidden: Invalid phext path".into())
        );
        assert_eq!(
            v2(ApiError::Store(StoreError::NoSpace)),
            (507, "Insufficient Storage".into())
        );
        assert_eq!(
            v2(ApiError::Body(BodyError::TooLarge)),
            (413, "Payload Too Large".into())
        );
        assert_eq!(
            v2(ApiError::ReloadFailed("bad".into())),
            (500, "Reload failed: bad".into())
        );
        assert_eq!(v2(ApiError::NotPermitted), (401, "Unauthorized".into()));
        let unauthorized = ApiError::Unauthorized.to_v2_response();
        assert_eq!(
            unauthorized.headers,
            vec![("WWW-Authenticate", "Bearer".to_owned())]
        );
        let limited = ApiError::TooManyRequests(Duration::from_millis(1500)).to_v2_response();
        assert_eq!(limited.full_body(), b"Too Many Requests");
        assert_eq!(limited.headers, vec![("Retry-After", "2".to_owned())]);
        assert!(ApiError::Body(BodyError::Malformed).to_v2_response().close);
    }

    #[test]
    fn json_errors_carry_a_message_and_a_code() {
        let r = ApiError::NotPermitted.to_json_response();
        assert_eq!(r.status, 403);
        let body: serde_json::Value = serde_json::from_slice(r.full_body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": "Forbidden: admin token required", "code": "admin_token_required"})
        );
        let r = ApiError::Admin(AdminError::Exists("bob".into())).to_json_response();
        assert_eq!(r.status, 409);
        let body: serde_json::Value = serde_json::from_slice(r.full_body()).unwrap();
        assert_eq!(body["error"], "a tenant named 'bob' exists already");
        assert_eq!(body["code"], "tenant_exists");
        let r = ApiError::Store(StoreError::Fenced).to_json_response();
        assert_eq!(
            (r.status, r.headers.clone()),
            (503, vec![("Retry-After", "1".to_owned())])
        );
    }
}

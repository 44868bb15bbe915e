//! The `/api/v2` verbs (the contract's §5 steps 8 to 12, once the caller is authorized):
//! the phext name, the coordinate, the body and its text, then the verb itself.

mod handlers;
pub(crate) mod query;
mod verb;

use std::sync::Arc;

use phext::Coordinate;

pub use verb::{Verb, VERBS};

use super::{ApiError, ApiSettings};
use crate::http::{Body, Method, Request, Response};
use crate::tenancy::Tenant;
use query::Query;
use sq_store::DocName;

/// A request that passed every header-level check, ready to execute.
pub(crate) struct Call<'a> {
    pub request: &'a Request,
    pub verb: Verb,
    pub tenant: Arc<Tenant>,
    pub query: Query,
    pub name: DocName,
    pub coordinate: Coordinate,
    pub text: Vec<u8>,
    pub multi_tenant: bool,
    pub settings: &'a ApiSettings,
}

/// Checks the verb's parameters in the contract's order, reads the body, and runs it.
pub(crate) async fn call(
    request: &Request,
    body: &mut Body<'_>,
    verb: Verb,
    tenant: Arc<Tenant>,
    settings: &ApiSettings,
    multi_tenant: bool,
) -> Result<Response, ApiError> {
    let query = Query::parse(request.query());
    // Step 8: the phext name (every verb but version).
    let name = if verb == Verb::Version {
        DocName::default_document()
    } else {
        DocName::parse(query.p.as_deref().unwrap_or_default()).map_err(|_| ApiError::InvalidPath)?
    };
    // Step 9: the coordinate (select, insert, update, delete).
    let coordinate = if verb.uses_coordinate() {
        parse_coordinate(query.c.as_deref(), settings.max_coordinate)?
    } else {
        Coordinate::ORIGIN
    };
    // Steps 10-11: the body (after `100 Continue`), then the text.
    let text = if verb.uses_text() {
        choose_text(request, body, &query).await?
    } else {
        Vec::new()
    };
    handlers::execute(Call {
        request,
        verb,
        tenant,
        query,
        name,
        coordinate,
        text,
        multi_tenant,
        settings,
    })
    .await
}

/// A missing or empty `c` is the origin; anything else must parse strictly.
fn parse_coordinate(raw: Option<&[u8]>, max: u32) -> Result<Coordinate, ApiError> {
    let raw = raw.unwrap_or_default();
    if raw.is_empty() {
        return Ok(Coordinate::ORIGIN);
    }
    let invalid = || ApiError::InvalidCoordinate(String::from_utf8_lossy(raw).into_owned());
    let text = std::str::from_utf8(raw).map_err(|_| invalid())?;
    Coordinate::parse_with_max(text, max).map_err(|_| invalid())
}

/// The text of §3.2: GET and HEAD use `s`; POST and PUT the body if non-empty, else
/// `content`, else `s`, else nothing.
async fn choose_text(
    request: &Request,
    body: &mut Body<'_>,
    query: &Query,
) -> Result<Vec<u8>, ApiError> {
    match request.method {
        Method::Post | Method::Put => {
            let bytes = body.read_all().await.map_err(ApiError::Body)?;
            if !bytes.is_empty() {
                return Ok(bytes.to_vec());
            }
            Ok(query
                .content
                .clone()
                .or_else(|| query.s.clone())
                .unwrap_or_default())
        }
        _ => Ok(query.s.clone().unwrap_or_default()),
    }
}

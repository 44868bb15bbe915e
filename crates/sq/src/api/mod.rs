//! The `/api/v2` API: the order of processing of the contract (§5), from preflight to
//! execution, and one log line per request.

mod auth;
mod error;
mod handlers;
mod query;
mod reload;
mod verb;

use std::sync::Arc;
use std::time::Instant;

use phext::Coordinate;

use crate::http::{Body, Method, Request, Response, Service};
use crate::store::DocName;
use crate::tenancy::{Tenancy, Tenant};
pub use error::ApiError;
use query::Query;
pub use verb::Verb;

/// Settings the API needs beyond the tenants.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// The largest coordinate component a request may address.
    pub max_coordinate: u32,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            max_coordinate: phext::DEFAULT_MAX_COMPONENT,
        }
    }
}

/// The application: tenancy plus settings, answering every request.
pub struct App {
    tenancy: Arc<Tenancy>,
    settings: ApiSettings,
}

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

impl App {
    /// An application over `tenancy`.
    pub fn new(tenancy: Arc<Tenancy>, settings: ApiSettings) -> Self {
        App { tenancy, settings }
    }

    async fn handle(
        &self,
        request: &Request,
        body: &mut Body<'_>,
    ) -> (
        Result<Response, ApiError>,
        Option<Arc<Tenant>>,
        Option<Verb>,
    ) {
        // §5 step 3: CORS preflight, in every mode, without authentication.
        if request.method == Method::Options {
            return (Ok(preflight()), None, None);
        }
        // Step 4: methods SQ does not know.
        if !matches!(
            request.method,
            Method::Get | Method::Head | Method::Post | Method::Put | Method::Delete
        ) {
            return (Err(ApiError::BadRequest), None, None);
        }
        let verb = Verb::from_path(request.path());
        // Step 5: reload has its own authorization.
        if let (Some(Verb::Reload), Method::Post, Some(multi)) =
            (verb, &request.method, self.tenancy.as_multi())
        {
            return (
                reload::handle(request, multi, &self.tenancy).await,
                None,
                verb,
            );
        }
        // Step 6: authentication.
        let Some(tenant) = self.tenancy.authenticate(auth::presented_tokens(request)) else {
            return (Err(ApiError::Unauthorized), None, verb);
        };
        let result = self.authorized(request, body, verb, &tenant).await;
        (result, Some(tenant), verb)
    }

    async fn authorized(
        &self,
        request: &Request,
        body: &mut Body<'_>,
        verb: Option<Verb>,
        tenant: &Arc<Tenant>,
    ) -> Result<Response, ApiError> {
        if !tenant.enabled {
            return Err(ApiError::TenantDisabled);
        }
        // Step 7: route. Reload outside multi-tenant mode is an unknown path.
        let multi_tenant = self.tenancy.as_multi().is_some();
        let verb = match verb {
            Some(Verb::Reload) if !multi_tenant => return Err(ApiError::NotFound),
            Some(verb) => verb,
            None => return Err(ApiError::NotFound),
        };
        if !verb.allows(&request.method) {
            return Err(match request.method {
                Method::Put | Method::Delete => ApiError::BadRequest,
                _ => ApiError::NotFound,
            });
        }
        // Step 8: the phext name (every verb but version).
        let query = Query::parse(request.query());
        let name = if verb == Verb::Version {
            DocName::default_document()
        } else {
            DocName::parse(query.p.as_deref().unwrap_or_default())
                .map_err(|_| ApiError::InvalidPath)?
        };
        // Step 9: the coordinate (select, insert, update, delete).
        let coordinate = if verb.uses_coordinate() {
            parse_coordinate(query.c.as_deref(), self.settings.max_coordinate)?
        } else {
            Coordinate::ORIGIN
        };
        // Steps 10-11: the body (after `100 Continue`), then the text.
        let text = if verb.uses_text() {
            choose_text(request, body, &query).await?
        } else {
            Vec::new()
        };
        let call = Call {
            request,
            verb,
            tenant: tenant.clone(),
            query,
            name,
            coordinate,
            text,
            multi_tenant,
            settings: &self.settings,
        };
        handlers::execute(call).await
    }
}

impl Service for App {
    async fn call(&self, request: &Request, body: &mut Body<'_>) -> Response {
        let started = Instant::now();
        let (result, tenant, verb) = self.handle(request, body).await;
        let response = match result {
            Ok(response) => response,
            Err(error) => {
                if let ApiError::Store(store) = &error {
                    tracing::error!(error = %store, "storage failure");
                }
                error.to_response()
            }
        };
        tracing::info!(
            tenant = tenant.as_ref().map_or("-", |t| t.name.as_str()),
            verb = verb.map_or("-", Verb::name),
            method = request.method.as_str(),
            status = response.status,
            micros = started.elapsed().as_micros() as u64,
            "request"
        );
        response
    }
}

/// The `OPTIONS` answer.
fn preflight() -> Response {
    Response::empty(204)
        .with_header(
            "Access-Control-Allow-Methods",
            "GET, POST, PUT, DELETE, OPTIONS",
        )
        .with_header(
            "Access-Control-Allow-Headers",
            "Authorization, X-SQ-API-Key, Content-Type",
        )
        .with_header("Access-Control-Max-Age", "86400")
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

//! The `/api/v2` API: the order of processing of the contract (§5), from preflight to
//! execution, and one log line per request.

mod admin;
mod auth;
mod error;
mod handlers;
mod metrics;
mod query;
mod reload;
mod verb;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use phext::Coordinate;

use crate::http::APPLICATION_JSON;
use crate::http::{Body, ConnectionStats, Method, Request, Response, Service};
use crate::store::{DocName, Store};
use crate::tenancy::limits::AuthFailures;
use crate::tenancy::{Tenancy, Tenant};
pub use error::ApiError;
pub use metrics::Metrics;
use query::Query;
pub use verb::Verb;

/// Settings the API needs beyond the tenants.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// The largest coordinate component a request may address.
    pub max_coordinate: u32,
    /// Failed authentications allowed per client address per minute (0: unlimited).
    pub auth_failures_per_minute: u32,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            max_coordinate: phext::DEFAULT_MAX_COMPONENT,
            auth_failures_per_minute: 60,
        }
    }
}

/// The application: tenancy, storage and settings, answering every request.
pub struct App {
    tenancy: Arc<Tenancy>,
    store: Arc<Store>,
    connections: Arc<ConnectionStats>,
    settings: ApiSettings,
    metrics: Metrics,
    auth_failures: AuthFailures,
}

/// 429 with the standard `Retry-After` (whole seconds, at least 1).
fn too_many_requests(wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Response::text(429, "Too Many Requests").with_header("Retry-After", seconds.max(1).to_string())
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
    /// An application over `tenancy` and `store`.
    pub fn new(
        tenancy: Arc<Tenancy>,
        store: Arc<Store>,
        connections: Arc<ConnectionStats>,
        settings: ApiSettings,
    ) -> Self {
        let auth_failures = AuthFailures::new(
            match settings.auth_failures_per_minute {
                0 => u32::MAX,
                limit => limit,
            },
            Duration::from_secs(60),
        );
        App {
            tenancy,
            store,
            connections,
            settings,
            metrics: Metrics::default(),
            auth_failures,
        }
    }

    /// The request's one credential; open mode ignores credentials altogether.
    fn credential<'r>(&self, request: &'r Request) -> Result<Option<&'r [u8]>, ApiError> {
        if matches!(*self.tenancy, Tenancy::Open(_)) {
            return Ok(None);
        }
        auth::credential(request).map_err(|_| ApiError::AmbiguousCredential)
    }

    fn refuse_authentication(&self, request: &Request) {
        self.metrics.auth_failures.fetch_add(1, Ordering::Relaxed);
        self.auth_failures.record(request.peer.ip());
    }

    /// `/health`, `/metrics` and the admin API: outside the v2 contract.
    async fn operations(&self, request: &Request, body: &mut Body<'_>) -> Option<Response> {
        let path = request.path();
        if path == "/health" && matches!(request.method, Method::Get | Method::Head) {
            let tenants = self.tenancy.tenants().len();
            return Some(Response::typed(
                200,
                APPLICATION_JSON,
                format!("{{\"status\":\"ok\",\"tenants\":{tenants}}}"),
            ));
        }
        let admin = path.starts_with("/api/v2/admin/");
        if path != "/metrics" && !admin {
            return None;
        }
        if let Some(wait) = self.auth_failures.blocked(request.peer.ip()) {
            self.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
            return Some(too_many_requests(wait));
        }
        if admin {
            let token = match auth::credential(request) {
                Ok(token) => token,
                Err(_) => return Some(admin::ambiguous_credential()),
            };
            return Some(match admin::authorize(token, &self.tenancy) {
                Ok(()) => admin::handle(request, body, &self.tenancy).await,
                Err(refusal) => {
                    if refusal.status == 401 {
                        self.refuse_authentication(request);
                    }
                    refusal
                }
            });
        }
        let token = match self.credential(request) {
            Ok(token) => token,
            Err(error) => return Some(error.to_response()),
        };
        if !self.tenancy.is_operator(token) {
            self.refuse_authentication(request);
            return Some(ApiError::Unauthorized.to_response());
        }
        Some(Response::typed(
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            self.metrics
                .render(&self.tenancy, &self.store, &self.connections),
        ))
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
        if let Some(response) = self.operations(request, body).await {
            return (Ok(response), None, None);
        }
        if let Some(wait) = self.auth_failures.blocked(request.peer.ip()) {
            self.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
            return (Ok(too_many_requests(wait)), None, None);
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
        let token = match self.credential(request) {
            Ok(token) => token,
            Err(error) => return (Err(error), None, verb),
        };
        let Some(tenant) = self.tenancy.authenticate(token) else {
            self.refuse_authentication(request);
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
        if let Some(Err(wait)) = tenant.rate_limit.as_ref().map(|limit| limit.check()) {
            self.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
            return Ok(too_many_requests(wait));
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
        let elapsed = started.elapsed();
        self.metrics.observe(verb, elapsed);
        if let (Some(tenant), Some(verb)) = (&tenant, verb) {
            tenant.stats.record(verb.name(), response.status);
        }
        tracing::info!(
            tenant = tenant.as_ref().map_or("-", |t| t.name.as_str()),
            verb = verb.map_or("-", Verb::name),
            method = request.method.as_str(),
            status = response.status,
            micros = elapsed.as_micros() as u64,
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

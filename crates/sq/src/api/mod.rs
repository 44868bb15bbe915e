//! The HTTP API: every request is routed to one endpoint (`router`), its caller checked
//! once against the permission the endpoint declares (`auth`), and only then dispatched:
//! the `/api/v2` verbs (`v2`), reload, the admin API, health and metrics. Errors become
//! answers in one place per API (`error`). One log line per request.
//!
//! The order keeps the contract's §5: preflight, unknown methods, the route's own
//! permission (reload's before any credential), credentials, the tenant's state, then the
//! route's errors and the verb's parameters.

mod admin;
mod auth;
mod error;
mod metrics;
mod reload;
mod router;
mod v2;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::http::APPLICATION_JSON;
use crate::http::{Body, ConnectionStats, Method, Request, Response, Service};
use crate::tenancy::limits::AuthFailures;
use crate::tenancy::{Principal, Tenancy, Tenant};
pub use error::{ApiError, ErrorKind};
pub use metrics::Metrics;
pub use router::{AdminRoute, Endpoint, Permission};
use sq_store::Store;
pub use v2::Verb;

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

    /// Whether some credential is the operator's: always on a single-tenant server; with
    /// a config, when it has an admin token.
    fn operator_exists(&self) -> bool {
        self.tenancy
            .as_multi()
            .is_none_or(|multi| multi.has_admin())
    }

    /// Who the request's one credential says the caller is (an open server reads none).
    fn principal(&self, request: &Request) -> Result<Principal, ApiError> {
        let token = if self.tenancy.reads_credentials() {
            auth::credential(request).map_err(|_| ApiError::AmbiguousCredential)?
        } else {
            None
        };
        Ok(self.tenancy.principal(token))
    }

    /// Checks that the caller may use `endpoint`; the tenant it acts for, if any, comes
    /// back even when the tenant's state refuses the request (its counters count it).
    fn admit(
        &self,
        endpoint: &Endpoint,
        request: &Request,
    ) -> (Option<Arc<Tenant>>, Result<(), ApiError>) {
        let permission = endpoint.permission();
        if permission == Permission::Public {
            return (None, Ok(()));
        }
        // An address over its failed-login budget waits, whatever it presents.
        if let Some(wait) = self.auth_failures.blocked(request.peer.ip()) {
            self.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
            return (None, Err(ApiError::TooManyRequests(wait)));
        }
        let operator_exists = self.operator_exists();
        let principal = if permission.reads_credentials(operator_exists) {
            match self.principal(request) {
                Ok(principal) => principal,
                Err(error) => return (None, Err(error)),
            }
        } else {
            Principal::Anonymous
        };
        let tenant = match auth::authorize(permission, &principal, request, operator_exists) {
            Ok(tenant) => tenant,
            Err(error) => {
                if matches!(error, ApiError::Unauthorized | ApiError::NotPermitted) {
                    self.metrics.auth_failures.fetch_add(1, Ordering::Relaxed);
                    self.auth_failures.record(request.peer.ip());
                }
                return (None, Err(error));
            }
        };
        let state = match &tenant {
            Some(tenant) if !tenant.enabled => Err(ApiError::TenantDisabled),
            Some(tenant) => match tenant.rate_limit.as_ref().map(|limit| limit.check()) {
                Some(Err(wait)) => {
                    self.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
                    Err(ApiError::TooManyRequests(wait))
                }
                _ => Ok(()),
            },
            None => Ok(()),
        };
        (tenant, state)
    }

    /// Answers an admitted request.
    async fn dispatch(
        &self,
        endpoint: &Endpoint,
        request: &Request,
        body: &mut Body<'_>,
        tenant: Option<Arc<Tenant>>,
    ) -> Result<Response, ApiError> {
        match endpoint {
            Endpoint::Preflight => Ok(preflight()),
            Endpoint::UnknownMethod => Err(ApiError::BadRequest),
            Endpoint::Health => Ok(self.health()),
            Endpoint::Metrics => Ok(Response::typed(
                200,
                "text/plain; version=0.0.4; charset=utf-8",
                self.metrics
                    .render(&self.tenancy, &self.store, &self.connections),
            )),
            Endpoint::Reload => reload::handle(&self.tenancy).await,
            Endpoint::Verb(verb) => {
                let tenant = tenant.ok_or(ApiError::Unauthorized)?;
                let multi_tenant = self.tenancy.as_multi().is_some();
                v2::call(request, body, *verb, tenant, &self.settings, multi_tenant).await
            }
            Endpoint::WrongMethod(_) => Err(match request.method {
                Method::Put | Method::Delete => ApiError::BadRequest,
                _ => ApiError::NotFound,
            }),
            Endpoint::Unknown => Err(ApiError::NotFound),
            Endpoint::Admin(route) => {
                admin::handle(route, request.query(), body, &self.tenancy).await
            }
        }
    }

    fn health(&self) -> Response {
        let tenants = self.tenancy.tenant_count();
        Response::typed(
            200,
            APPLICATION_JSON,
            format!("{{\"status\":\"ok\",\"tenants\":{tenants}}}"),
        )
    }
}

impl Service for App {
    async fn call(&self, request: &Request, body: &mut Body<'_>) -> Response {
        let started = Instant::now();
        let endpoint = Endpoint::route(
            &request.method,
            request.path(),
            self.tenancy.as_multi().is_some(),
        );
        let (tenant, admitted) = self.admit(&endpoint, request);
        let result = match admitted {
            Ok(()) => {
                self.dispatch(&endpoint, request, body, tenant.clone())
                    .await
            }
            Err(error) => Err(error),
        };
        let response = match result {
            Ok(response) => response,
            Err(error) => {
                if let ApiError::Store(store) = &error {
                    if error.kind() == ErrorKind::Internal {
                        tracing::error!(error = %store, "storage failure");
                    }
                }
                if endpoint.answers_json() {
                    error.to_json_response()
                } else {
                    error.to_v2_response()
                }
            }
        };
        let elapsed = started.elapsed();
        self.metrics.observe(&endpoint, elapsed);
        if let (Some(tenant), Some(verb)) = (&tenant, endpoint.verb()) {
            tenant.stats.record(verb.name(), response.status);
        }
        tracing::info!(
            tenant = tenant.as_ref().map_or("-", |t| t.name.as_str()),
            verb = endpoint.name(),
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

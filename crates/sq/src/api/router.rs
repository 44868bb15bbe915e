//! Every request becomes one [`Endpoint`], from its method and path alone, before anything
//! else looks at it. Each endpoint declares the permission it needs, checked once for all
//! of them before dispatch (`api::auth::authorize`), and the name it has in logs and
//! metrics. A new route is a new variant here: it cannot be added without saying who may
//! call it.

use super::v2::{Verb, VERBS};
use crate::http::Method;
use crate::tenancy::Scope;

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `OPTIONS` on any path: the CORS preflight.
    Preflight,
    /// A method SQ does not know (contract §5 step 4).
    UnknownMethod,
    /// `GET /health`.
    Health,
    /// `/metrics`.
    Metrics,
    /// `POST /api/v2/reload` on a multi-tenant server.
    Reload,
    /// `/api/v2/<verb>` with a method the verb takes.
    Verb(Verb),
    /// `/api/v2/<verb>` with a method it does not take: 404 (GET, HEAD, POST) or 400 (PUT,
    /// DELETE), once the caller is known.
    WrongMethod(Verb),
    /// `/api/v2/admin/…`.
    Admin(AdminRoute),
    /// Any other path: 404, once the caller is known.
    Unknown,
}

/// The admin API's routes (`/api/v2/admin/<rest>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminRoute {
    /// `GET tenants`
    ListTenants,
    /// `POST tenants`
    CreateTenant,
    /// `GET tenants/{name}`
    ShowTenant(String),
    /// `POST tenants/{name}/rotate`
    Rotate(String),
    /// `POST tenants/{name}/enable` (true) or `…/disable` (false)
    SetEnabled(String, bool),
    /// `DELETE tenants/{name}`
    DeleteTenant(String),
    /// A known path with another method.
    MethodNotAllowed,
    /// Any other path under `/api/v2/admin/`.
    NoSuchEndpoint,
    /// A single-tenant server has no admin API.
    NotMultiTenant,
}

/// What a caller needs for an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Anyone, without credentials.
    Public,
    /// A key of a tenant with at least this scope (or a single-tenant server's caller).
    Tenant(Scope),
    /// The operator: the admin token, or a single-tenant server's caller.
    Operator,
    /// Reload: the operator when an admin token is configured, else a loopback peer whose
    /// request came through no proxy (contract §8).
    OperatorOrLocal,
}

/// Metric labels of the endpoints that are not verbs, after the verbs' own names.
const OTHER_LABELS: [&str; 5] = ["preflight", "health", "metrics", "admin", "other"];

/// How many distinct metric labels endpoints have.
pub const LABEL_COUNT: usize = VERBS.len() + OTHER_LABELS.len();

/// The metric label with index `i` (see [`Endpoint::label_index`]).
pub fn label(i: usize) -> &'static str {
    match VERBS.get(i) {
        Some((_, name)) => name,
        None => OTHER_LABELS
            .get(i - VERBS.len())
            .copied()
            .unwrap_or("other"),
    }
}

impl Endpoint {
    /// The endpoint of a request. `multi_tenant`: whether the server has a tenant config
    /// (without one, reload and the admin API do not exist).
    pub fn route(method: &Method, path: &str, multi_tenant: bool) -> Endpoint {
        match method {
            Method::Options => return Endpoint::Preflight,
            Method::Other(_) => return Endpoint::UnknownMethod,
            _ => {}
        }
        if path == "/health" && matches!(method, Method::Get | Method::Head) {
            return Endpoint::Health;
        }
        if path == "/metrics" {
            return Endpoint::Metrics;
        }
        if let Some(rest) = path.strip_prefix("/api/v2/admin/") {
            return Endpoint::Admin(AdminRoute::route(method, rest, multi_tenant));
        }
        let Some(verb) = path.strip_prefix("/api/v2/").and_then(Verb::from_name) else {
            return Endpoint::Unknown;
        };
        match verb {
            Verb::Reload if !multi_tenant => Endpoint::Unknown,
            Verb::Reload if verb.allows(method) => Endpoint::Reload,
            _ if verb.allows(method) => Endpoint::Verb(verb),
            _ => Endpoint::WrongMethod(verb),
        }
    }

    /// What a caller needs.
    pub fn permission(&self) -> Permission {
        match self {
            Endpoint::Preflight | Endpoint::UnknownMethod | Endpoint::Health => Permission::Public,
            Endpoint::Admin(AdminRoute::NotMultiTenant) => Permission::Public,
            Endpoint::Metrics | Endpoint::Admin(_) => Permission::Operator,
            Endpoint::Reload => Permission::OperatorOrLocal,
            Endpoint::Verb(verb) => Permission::Tenant(verb.scope()),
            // Telling a caller that a path does not exist needs a tenant's credential.
            Endpoint::WrongMethod(_) | Endpoint::Unknown => Permission::Tenant(Scope::Read),
        }
    }

    /// The v2 verb this endpoint is (or misuses), counted in the tenant's requests.
    pub fn verb(&self) -> Option<Verb> {
        match self {
            Endpoint::Verb(verb) | Endpoint::WrongMethod(verb) => Some(*verb),
            Endpoint::Reload => Some(Verb::Reload),
            _ => None,
        }
    }

    /// Whether errors are answered as JSON (the admin API) rather than in the v2
    /// contract's text.
    pub fn answers_json(&self) -> bool {
        matches!(self, Endpoint::Admin(_))
    }

    /// The index of this endpoint's metric label (see [`label`]).
    pub fn label_index(&self) -> usize {
        let other = |name: &str| {
            VERBS.len()
                + OTHER_LABELS
                    .iter()
                    .position(|l| *l == name)
                    .unwrap_or(OTHER_LABELS.len() - 1)
        };
        match self {
            Endpoint::Verb(verb) | Endpoint::WrongMethod(verb) => *verb as usize,
            Endpoint::Reload => Verb::Reload as usize,
            Endpoint::Preflight => other("preflight"),
            Endpoint::Health => other("health"),
            Endpoint::Metrics => other("metrics"),
            Endpoint::Admin(_) => other("admin"),
            Endpoint::UnknownMethod | Endpoint::Unknown => other("other"),
        }
    }

    /// The name in logs and metrics.
    pub fn name(&self) -> &'static str {
        label(self.label_index())
    }
}

impl AdminRoute {
    fn route(method: &Method, rest: &str, multi_tenant: bool) -> AdminRoute {
        if !multi_tenant {
            return AdminRoute::NotMultiTenant;
        }
        let parts: Vec<&str> = rest.split('/').collect();
        let name = |n: &str| n.to_owned();
        match (method, parts.as_slice()) {
            (Method::Get | Method::Head, ["tenants"]) => AdminRoute::ListTenants,
            (Method::Post, ["tenants"]) => AdminRoute::CreateTenant,
            (Method::Get | Method::Head, ["tenants", n]) => AdminRoute::ShowTenant(name(n)),
            (Method::Post, ["tenants", n, "rotate"]) => AdminRoute::Rotate(name(n)),
            (Method::Post, ["tenants", n, "enable"]) => AdminRoute::SetEnabled(name(n), true),
            (Method::Post, ["tenants", n, "disable"]) => AdminRoute::SetEnabled(name(n), false),
            (Method::Delete, ["tenants", n]) => AdminRoute::DeleteTenant(name(n)),
            (_, ["tenants"] | ["tenants", _] | ["tenants", _, "rotate" | "disable" | "enable"]) => {
                AdminRoute::MethodNotAllowed
            }
            _ => AdminRoute::NoSuchEndpoint,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str) -> Endpoint {
        Endpoint::route(&Method::from_token(method), path, true)
    }

    #[test]
    fn paths_and_methods_become_endpoints() {
        assert_eq!(route("OPTIONS", "/anything"), Endpoint::Preflight);
        assert_eq!(route("get", "/api/v2/select"), Endpoint::UnknownMethod);
        assert_eq!(route("PATCH", "/health"), Endpoint::UnknownMethod);
        assert_eq!(route("GET", "/health"), Endpoint::Health);
        assert_eq!(route("POST", "/health"), Endpoint::Unknown);
        assert_eq!(route("DELETE", "/metrics"), Endpoint::Metrics);
        assert_eq!(route("GET", "/api/v2/select"), Endpoint::Verb(Verb::Select));
        assert_eq!(
            route("POST", "/api/v2/select"),
            Endpoint::WrongMethod(Verb::Select)
        );
        assert_eq!(route("PUT", "/api/v2/update"), Endpoint::Verb(Verb::Update));
        assert_eq!(route("POST", "/api/v2/reload"), Endpoint::Reload);
        assert_eq!(
            route("GET", "/api/v2/reload"),
            Endpoint::WrongMethod(Verb::Reload)
        );
        let single = Endpoint::route(&Method::Post, "/api/v2/reload", false);
        assert_eq!(single, Endpoint::Unknown);
        for path in [
            "/api/v2/selectX",
            "/api/v2/select/",
            "/api/v2/",
            "/select",
            "/api/v2/admin",
        ] {
            assert_eq!(route("GET", path), Endpoint::Unknown, "{path}");
        }
        assert_eq!(
            route("GET", "/api/v2/admin/tenants"),
            Endpoint::Admin(AdminRoute::ListTenants)
        );
        assert_eq!(
            route("POST", "/api/v2/admin/tenants/bob/disable"),
            Endpoint::Admin(AdminRoute::SetEnabled("bob".into(), false))
        );
        assert_eq!(
            route("PUT", "/api/v2/admin/tenants"),
            Endpoint::Admin(AdminRoute::MethodNotAllowed)
        );
        assert_eq!(
            route("GET", "/api/v2/admin/nothing"),
            Endpoint::Admin(AdminRoute::NoSuchEndpoint)
        );
        assert_eq!(
            Endpoint::route(&Method::Get, "/api/v2/admin/tenants", false),
            Endpoint::Admin(AdminRoute::NotMultiTenant)
        );
    }

    #[test]
    fn every_label_is_named_once() {
        let mut names: Vec<&str> = (0..LABEL_COUNT).map(label).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), LABEL_COUNT);
        assert_eq!(Endpoint::Verb(Verb::JsonExport).name(), "json-export");
        assert_eq!(Endpoint::Admin(AdminRoute::ListTenants).name(), "admin");
        assert_eq!(Endpoint::Unknown.name(), "other");
    }
}

//! Credentials and the one permission check.
//!
//! A request may name its token in `Authorization: <token>`, `Authorization: Bearer
//! <token>` (scheme in any case) or `X-SQ-API-Key: <token>`. It may not present several
//! (contract §10.17): a second `Authorization` line, a second `X-SQ-API-Key` line, or the
//! two headers naming different tokens is refused, so that no proxy, client library or
//! attacker can make the server choose a credential from several.
//!
//! The token becomes a [`Principal`] once (`Tenancy::principal`), and [`authorize`] checks
//! it against the permission the endpoint declares: the only place where access is
//! decided.

use std::net::IpAddr;
use std::sync::Arc;

use super::router::Permission;
use super::ApiError;
use crate::http::{trim, Request};
use crate::tenancy::{Principal, Tenant};

/// Headers that only a proxy adds: a request carrying one did not come from loopback
/// itself, whatever its peer address says.
const PROXY_HEADERS: [&str; 3] = ["forwarded", "x-forwarded-for", "x-real-ip"];

impl Permission {
    /// Whether checking it needs the request's credential; `operator_exists` as for
    /// [`authorize`].
    pub fn reads_credentials(self, operator_exists: bool) -> bool {
        match self {
            Permission::Public => false,
            Permission::Tenant(_) | Permission::Operator => true,
            Permission::OperatorOrLocal => operator_exists,
        }
    }
}

/// Checks `permission` for `principal`: the tenant the request may use, if the endpoint
/// is a tenant's, or the refusal. `operator_exists`: whether some credential is the
/// operator's (always on a single-tenant server; with a config, when it has an admin
/// token).
pub fn authorize(
    permission: Permission,
    principal: &Principal,
    request: &Request,
    operator_exists: bool,
) -> Result<Option<Arc<Tenant>>, ApiError> {
    let operator = || match principal {
        _ if principal.is_operator() => Ok(None),
        _ if !operator_exists => Err(ApiError::NoAdminToken),
        Principal::Key { .. } => Err(ApiError::NotPermitted),
        _ => Err(ApiError::Unauthorized),
    };
    match permission {
        Permission::Public => Ok(None),
        Permission::Tenant(scope) => match principal {
            Principal::Key { scope: has, .. } if *has < scope => Err(ApiError::KeyScope(scope)),
            _ => principal
                .tenant(scope)
                .cloned()
                .map(Some)
                .ok_or(ApiError::Unauthorized),
        },
        Permission::Operator => operator(),
        Permission::OperatorOrLocal => {
            // A proxied request is never trusted, whatever it carries.
            if PROXY_HEADERS.iter().any(|h| request.has_header(h)) {
                Err(ApiError::ReloadNotLocal)
            } else if operator_exists {
                operator()
            } else if is_loopback(request.peer.ip()) {
                Ok(None)
            } else {
                Err(ApiError::ReloadNotLocal)
            }
        }
    }
}

/// Loopback, including IPv4-mapped 127/8 addresses.
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

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
    use crate::api::router::{AdminRoute, Endpoint};
    use crate::api::Verb;
    use crate::http::{Method, Version};
    use crate::tenancy::Scope;
    use sq_store::{Store, StoreSettings};

    fn request_from(peer: &str, headers: &[(&str, &str)]) -> Request {
        Request {
            method: Method::Get,
            target: "/".into(),
            version: Version::Http11,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
                .collect(),
            peer: peer.parse().unwrap(),
            connection_id: 0,
        }
    }

    fn presented(headers: &[(&str, &str)]) -> Result<Option<String>, AmbiguousCredential> {
        let request = request_from("127.0.0.1:1", headers);
        credential(&request).map(|t| t.map(|t| String::from_utf8_lossy(t).into_owned()))
    }

    fn tenant(dir: &std::path::Path) -> Arc<Tenant> {
        let store = Store::new(StoreSettings {
            journal: None,
            idle_checkpoint: None,
            ..StoreSettings::default()
        })
        .unwrap();
        Arc::new(Tenant {
            name: "t".into(),
            id: sq_store::TenantId::for_name("t"),
            enabled: true,
            data_dir: dir.to_path_buf(),
            directory: store.tenant(&sq_store::TenantId::for_name("t"), dir),
            quota_bytes: None,
            rate_limit: None,
            stats: Arc::default(),
        })
    }

    /// Every endpoint against every kind of caller: the one permission check, as a table.
    #[test]
    fn every_endpoint_against_every_principal() {
        let dir = tempfile::tempdir().unwrap();
        let t = tenant(dir.path());
        let principals = [
            ("anonymous", Principal::Anonymous),
            (
                "key",
                Principal::Key {
                    tenant: t.clone(),
                    scope: Scope::Owner,
                },
            ),
            ("operator", Principal::Operator),
            ("sole", Principal::Sole(t.clone())),
        ];
        let outcome =
            |endpoint: &Endpoint, principal: &Principal, request: &Request, admin| match authorize(
                endpoint.permission(),
                principal,
                request,
                admin,
            ) {
                Ok(Some(_)) => "tenant",
                Ok(None) => "ok",
                Err(ApiError::Unauthorized) => "401",
                Err(ApiError::NotPermitted) => "403 admin token required",
                Err(ApiError::NoAdminToken) => "403 no admin token",
                Err(ApiError::ReloadNotLocal) => "403 not local",
                Err(ApiError::KeyScope(_)) => "403 scope",
                Err(other) => panic!("unexpected {other:?}"),
            };
        let local = request_from("127.0.0.1:1", &[]);
        let remote = request_from("203.0.113.9:1", &[]);
        let proxied = request_from("127.0.0.1:1", &[("x-forwarded-for", "203.0.113.9")]);
        let public = ["ok"; 4];
        let tenant_only = ["401", "tenant", "401", "tenant"];
        let operator = ["401", "403 admin token required", "ok", "ok"];
        // (endpoint, request, admin token configured, expected per principal)
        let table: Vec<(Endpoint, &Request, bool, [&str; 4])> = vec![
            (Endpoint::Preflight, &remote, true, public),
            (Endpoint::UnknownMethod, &remote, true, public),
            (Endpoint::Health, &remote, true, public),
            (
                Endpoint::Admin(AdminRoute::NotMultiTenant),
                &remote,
                true,
                public,
            ),
            (Endpoint::Verb(Verb::Select), &remote, true, tenant_only),
            (Endpoint::Verb(Verb::Update), &remote, true, tenant_only),
            (Endpoint::Verb(Verb::Version), &remote, true, tenant_only),
            (
                Endpoint::WrongMethod(Verb::Where),
                &remote,
                true,
                tenant_only,
            ),
            (
                Endpoint::WrongMethod(Verb::Reload),
                &remote,
                true,
                tenant_only,
            ),
            (Endpoint::Unknown, &remote, true, tenant_only),
            (Endpoint::Metrics, &remote, true, operator),
            (
                Endpoint::Admin(AdminRoute::ListTenants),
                &remote,
                true,
                operator,
            ),
            (
                Endpoint::Admin(AdminRoute::DeleteTenant("x".into())),
                &remote,
                true,
                operator,
            ),
            (
                Endpoint::Admin(AdminRoute::NoSuchEndpoint),
                &remote,
                true,
                operator,
            ),
            (Endpoint::Reload, &local, true, operator),
            (Endpoint::Reload, &remote, true, operator),
            (Endpoint::Reload, &proxied, true, ["403 not local"; 4]),
            (
                Endpoint::Metrics,
                &local,
                false,
                ["403 no admin token", "403 no admin token", "ok", "ok"],
            ),
            (
                Endpoint::Admin(AdminRoute::CreateTenant),
                &local,
                false,
                ["403 no admin token", "403 no admin token", "ok", "ok"],
            ),
            (Endpoint::Reload, &local, false, public),
            (Endpoint::Reload, &remote, false, ["403 not local"; 4]),
            (Endpoint::Reload, &proxied, false, ["403 not local"; 4]),
        ];
        for (endpoint, request, admin, expected) in &table {
            for ((who, principal), want) in principals.iter().zip(expected) {
                assert_eq!(
                    outcome(endpoint, principal, request, *admin),
                    *want,
                    "{endpoint:?} as {who} (admin token: {admin}, peer {})",
                    request.peer
                );
            }
        }
        // A read key cannot write; the scope order is read < write < owner.
        let reader = Principal::Key {
            tenant: t,
            scope: Scope::Read,
        };
        assert_eq!(
            outcome(&Endpoint::Verb(Verb::Select), &reader, &remote, true),
            "tenant"
        );
        assert_eq!(
            outcome(&Endpoint::Verb(Verb::Insert), &reader, &remote, true),
            "403 scope"
        );
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

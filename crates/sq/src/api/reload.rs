//! `POST /api/v2/reload`: re-read the config, validate it all, swap it in.

use std::net::IpAddr;
use std::sync::Arc;

use super::{auth, ApiError};
use crate::http::{Request, Response};
use crate::tenancy::{MultiTenant, Tenancy};

const PROXY_HEADERS: [&str; 3] = ["forwarded", "x-forwarded-for", "x-real-ip"];

pub(crate) async fn handle(
    request: &Request,
    multi: &MultiTenant,
    tenancy: &Arc<Tenancy>,
) -> Result<Response, ApiError> {
    // A proxied request is never trusted, whatever it carries.
    if PROXY_HEADERS.iter().any(|h| request.has_header(h)) {
        return Err(ApiError::ReloadNotLocal);
    }
    if multi.has_admin() {
        let token = auth::credential(request).map_err(|_| ApiError::AmbiguousCredential)?;
        if !multi.is_admin(token) {
            return Err(ApiError::Unauthorized);
        }
    } else if !is_loopback(request.peer.ip()) {
        return Err(ApiError::ReloadNotLocal);
    }
    let tenancy = tenancy.clone();
    let outcome = tokio::task::spawn_blocking(move || match tenancy.as_multi() {
        Some(multi) => multi.reload().map_err(|e| e.0),
        None => Err("not in multi-tenant mode".to_owned()),
    })
    .await
    .unwrap_or_else(|join| Err(join.to_string()));
    match outcome {
        Ok(count) => Ok(Response::text(200, format!("Reloaded {count} tenants"))),
        Err(reason) => {
            tracing::warn!(%reason, "reload refused; keeping the current config");
            Err(ApiError::ReloadFailed(reason.replace(['\r', '\n'], " ")))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_forms() {
        for ip in ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.2"] {
            assert!(is_loopback(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["10.0.0.1", "::ffff:10.0.0.1", "::2", "0.0.0.0"] {
            assert!(!is_loopback(ip.parse().unwrap()), "{ip}");
        }
    }
}

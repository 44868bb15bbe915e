//! The admin API under `/api/v2/admin/`: JSON in and out, behind the admin token.
//!
//! ```text
//! GET    tenants                  every tenant: name, enabled, quota, storage, requests, last active
//! POST   tenants                  {"name", "quota_mb"?, "data_dir"?} -> 201 {"name", "token", "data_dir"}
//! GET    tenants/{name}           one tenant
//! POST   tenants/{name}/rotate    {"grace_seconds"?} -> {"token"}
//! POST   tenants/{name}/disable   -> {"name", "enabled": false}
//! POST   tenants/{name}/enable    -> {"name", "enabled": true}
//! DELETE tenants/{name}           -> {"name", "archived_to"}; tokens refused at once, data archived
//! ```

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};

use super::router::AdminRoute;
use super::ApiError;
use crate::api::v2::query::decode;
use crate::http::{Body, Response, APPLICATION_JSON};
use crate::tenancy::admin::AdminError;
use crate::tenancy::{MultiTenant, Tenancy, Tenant};

fn json_response(status: u16, body: Value) -> Response {
    Response::typed(status, APPLICATION_JSON, body.to_string())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTenant {
    name: String,
    quota_mb: Option<f64>,
    data_dir: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Rotate {
    grace_seconds: Option<u64>,
}

async fn describe(tenant: &Tenant) -> Value {
    let storage = tenant.directory.usage().await.ok();
    json!({
        "name": tenant.name,
        "enabled": tenant.enabled,
        "quota_mb": tenant.quota_bytes.map(|q| q as f64 / (1024.0 * 1024.0)),
        "storage_bytes": storage,
        "requests": tenant.stats.total(),
        "last_active": tenant.stats.last_active(),
    })
}

/// One page of the tenant listing: at most `limit` tenants named after `after`.
struct Page {
    limit: usize,
    after: Option<String>,
}

/// Tenants per page when the request does not say.
const DEFAULT_PAGE: usize = 1_000;
/// The most a page may hold.
const MAX_PAGE: usize = 10_000;

impl Page {
    fn parse(query: Option<&str>) -> Result<Self, AdminError> {
        let mut page = Page {
            limit: DEFAULT_PAGE,
            after: None,
        };
        for piece in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
            let value = String::from_utf8(decode(value))
                .map_err(|_| AdminError::Invalid("query values must be UTF-8".into()))?;
            match key {
                "limit" => {
                    page.limit = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_PAGE).contains(n))
                        .ok_or_else(|| {
                            AdminError::Invalid(format!(
                                "limit must be a whole number from 1 to {MAX_PAGE}"
                            ))
                        })?
                }
                "after" => page.after = Some(value),
                _ => {}
            }
        }
        Ok(page)
    }

    /// The `Link` header value for the page after the one ending at `last`.
    fn next_link(&self, last: &str) -> String {
        format!(
            "</api/v2/admin/tenants?limit={}&after={}>; rel=\"next\"",
            self.limit,
            encode(last)
        )
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Runs blocking config work (file reads, writes, directory creation) off the workers.
async fn blocking<T: Send + 'static>(
    tenancy: &Arc<Tenancy>,
    work: impl FnOnce(&MultiTenant) -> Result<T, AdminError> + Send + 'static,
) -> Result<T, AdminError> {
    let tenancy = tenancy.clone();
    tokio::task::spawn_blocking(move || match tenancy.as_multi() {
        Some(multi) => work(multi),
        None => Err(AdminError::Invalid("not in multi-tenant mode".into())),
    })
    .await
    .unwrap_or_else(|join| Err(AdminError::Io(join.to_string())))
}

/// The JSON body of a request, `{}` when empty.
fn body_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value = if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(bytes)
            .map_err(|e| ApiError::InvalidJson(format!("invalid JSON body: {e}")))?
    };
    serde_json::from_value(value)
        .map_err(|e| ApiError::InvalidJson(format!("invalid request: {e}")))
}

/// Answers an admin request whose caller the router has already authorized.
pub(crate) async fn handle(
    route: &AdminRoute,
    query: Option<&str>,
    body: &mut Body<'_>,
    tenancy: &Arc<Tenancy>,
) -> Result<Response, ApiError> {
    let Some(multi) = tenancy.as_multi() else {
        return Err(ApiError::NotMultiTenant);
    };
    let body = body.read_all().await.map_err(ApiError::Body)?;
    match route {
        AdminRoute::ListTenants => {
            let page = Page::parse(query)?;
            let (chosen, more) = {
                let registry = multi.registry();
                let mut tenants = registry.tenants_after(page.after.as_deref());
                let chosen: Vec<Arc<Tenant>> = tenants.by_ref().take(page.limit).cloned().collect();
                (chosen, tenants.next().is_some())
            };
            let mut list = Vec::with_capacity(chosen.len());
            for tenant in &chosen {
                list.push(describe(tenant).await);
            }
            let response = json_response(200, Value::Array(list));
            Ok(match chosen.last().filter(|_| more) {
                Some(last) => response.with_header("Link", page.next_link(&last.name)),
                None => response,
            })
        }
        AdminRoute::CreateTenant => {
            let create: CreateTenant = body_json(&body)?;
            let created = blocking(tenancy, move |m| {
                m.create_tenant(&create.name, create.quota_mb, create.data_dir.as_deref())
            })
            .await?;
            Ok(json_response(
                201,
                json!({"name": created.name, "token": created.token, "data_dir": created.data_dir}),
            ))
        }
        AdminRoute::ShowTenant(name) => {
            let tenant = multi.registry().tenant(name).cloned();
            match tenant {
                Some(tenant) => Ok(json_response(200, describe(&tenant).await)),
                None => Err(AdminError::NotFound(name.clone()).into()),
            }
        }
        AdminRoute::Rotate(name) => {
            let rotate: Rotate = body_json(&body)?;
            let name = name.clone();
            let token = blocking(tenancy, move |m| m.rotate(&name, rotate.grace_seconds)).await?;
            Ok(json_response(200, json!({ "token": token })))
        }
        AdminRoute::SetEnabled(name, enabled) => {
            let (owned, enabled) = (name.clone(), *enabled);
            blocking(tenancy, move |m| m.set_enabled(&owned, enabled)).await?;
            Ok(json_response(
                200,
                json!({"name": name, "enabled": enabled}),
            ))
        }
        AdminRoute::DeleteTenant(name) => {
            let owned = name.clone();
            let target = blocking(tenancy, move |m| m.remove_tenant(&owned)).await?;
            Ok(json_response(
                200,
                json!({"name": name, "archived_to": target.to_string_lossy()}),
            ))
        }
        AdminRoute::MethodNotAllowed => Err(ApiError::MethodNotAllowed),
        AdminRoute::NoSuchEndpoint => Err(ApiError::NoSuchAdminEndpoint),
        AdminRoute::NotMultiTenant => Err(ApiError::NotMultiTenant),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_next_link_carries_any_name_back_intact() {
        let page = Page::parse(Some("limit=5")).unwrap();
        for name in ["alice", "Zoë's notes & more", "a+b=c?d#e/f%g"] {
            let link = page.next_link(name);
            let target = link
                .strip_prefix("</api/v2/admin/tenants?")
                .and_then(|l| l.strip_suffix(">; rel=\"next\""))
                .unwrap();
            let next = Page::parse(Some(target)).unwrap();
            assert_eq!(next.after.as_deref(), Some(name), "{link}");
            assert_eq!(next.limit, 5);
        }
        assert_eq!(Page::parse(None).unwrap().limit, DEFAULT_PAGE);
    }
}

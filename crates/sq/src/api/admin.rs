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

use crate::http::{Body, Method, Request, Response, APPLICATION_JSON};
use crate::tenancy::admin::AdminError;
use crate::tenancy::{MultiTenant, Tenancy, Tenant};

fn json_response(status: u16, body: Value) -> Response {
    Response::typed(status, APPLICATION_JSON, body.to_string())
}

fn error(status: u16, message: impl Into<String>) -> Response {
    json_response(status, json!({ "error": message.into() }))
}

fn admin_error(error: AdminError) -> Response {
    let status = match &error {
        AdminError::NotFound(_) => 404,
        AdminError::Exists(_) | AdminError::NotEmpty { .. } => 409,
        AdminError::Invalid(_) | AdminError::Config(_) => 400,
        AdminError::Io(_) => 500,
    };
    self::error(status, error.to_string())
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

/// Answers an admin request whose caller is already known to hold the admin token.
pub(crate) async fn handle(
    request: &Request,
    body: &mut Body<'_>,
    tenancy: &Arc<Tenancy>,
) -> Response {
    let Some(multi) = tenancy.as_multi() else {
        return error(404, "the admin API needs multi-tenant mode");
    };
    let route = request
        .path()
        .strip_prefix("/api/v2/admin/")
        .unwrap_or_default();
    let parts: Vec<&str> = route.split('/').collect();
    let body_bytes = match body.read_all().await {
        Ok(bytes) => bytes,
        Err(error) => {
            return Response::text(error.status().unwrap_or(400), "Bad Request").closing()
        }
    };
    let body_json = |bytes: &[u8]| -> Result<Value, Response> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(json!({}));
        }
        serde_json::from_slice(bytes).map_err(|e| error(400, format!("invalid JSON body: {e}")))
    };
    match (&request.method, parts.as_slice()) {
        (Method::Get | Method::Head, ["tenants"]) => {
            let registry = multi.registry();
            let mut list = Vec::with_capacity(registry.tenant_count());
            for tenant in registry.tenants() {
                list.push(describe(tenant).await);
            }
            json_response(200, Value::Array(list))
        }
        (Method::Post, ["tenants"]) => {
            let create: CreateTenant = match body_json(&body_bytes).and_then(|v| {
                serde_json::from_value(v).map_err(|e| error(400, format!("invalid request: {e}")))
            }) {
                Ok(create) => create,
                Err(response) => return response,
            };
            match blocking(tenancy, move |m| {
                m.create_tenant(&create.name, create.quota_mb, create.data_dir.as_deref())
            })
            .await
            {
                Ok(created) => json_response(
                    201,
                    json!({"name": created.name, "token": created.token, "data_dir": created.data_dir}),
                ),
                Err(e) => admin_error(e),
            }
        }
        (Method::Get | Method::Head, ["tenants", name]) => match multi.registry().tenant(name) {
            Some(tenant) => json_response(200, describe(tenant).await),
            None => admin_error(AdminError::NotFound((*name).to_owned())),
        },
        (Method::Post, ["tenants", name, "rotate"]) => {
            let rotate: Rotate = match body_json(&body_bytes).and_then(|v| {
                serde_json::from_value(v).map_err(|e| error(400, format!("invalid request: {e}")))
            }) {
                Ok(rotate) => rotate,
                Err(response) => return response,
            };
            let name = (*name).to_owned();
            match blocking(tenancy, move |m| m.rotate(&name, rotate.grace_seconds)).await {
                Ok(token) => json_response(200, json!({ "token": token })),
                Err(e) => admin_error(e),
            }
        }
        (Method::Post, ["tenants", name, action @ ("disable" | "enable")]) => {
            let enabled = *action == "enable";
            let owned = (*name).to_owned();
            match blocking(tenancy, move |m| m.set_enabled(&owned, enabled)).await {
                Ok(()) => json_response(200, json!({"name": name, "enabled": enabled})),
                Err(e) => admin_error(e),
            }
        }
        (Method::Delete, ["tenants", name]) => {
            let owned = (*name).to_owned();
            match blocking(tenancy, move |m| m.remove_tenant(&owned)).await {
                Ok(target) => json_response(
                    200,
                    json!({"name": name, "archived_to": target.to_string_lossy()}),
                ),
                Err(e) => admin_error(e),
            }
        }
        (_, ["tenants"] | ["tenants", _] | ["tenants", _, "rotate" | "disable" | "enable"]) => {
            error(405, "method not allowed here")
        }
        _ => error(404, "no such admin endpoint"),
    }
}

/// The refusal of a request that presents more than one credential.
pub(crate) fn ambiguous_credential() -> Response {
    error(400, "more than one credential")
}

/// Whether `token` is the admin token; otherwise the refusal to send.
pub(crate) fn authorize(token: Option<&[u8]>, tenancy: &Tenancy) -> Result<(), Response> {
    let Some(multi) = tenancy.as_multi() else {
        return Err(error(404, "the admin API needs multi-tenant mode"));
    };
    if !multi.has_admin() {
        return Err(error(403, "no admin token is configured"));
    }
    if multi.is_admin(token) {
        return Ok(());
    }
    if tenancy.authenticate(token).is_some() {
        return Err(error(403, "Forbidden: admin token required"));
    }
    Err(error(401, "Unauthorized").with_header("WWW-Authenticate", "Bearer"))
}

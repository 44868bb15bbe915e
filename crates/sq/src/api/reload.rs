//! `POST /api/v2/reload`: re-read the config, validate it all, swap it in. Who may call it
//! is decided by the router's permission (`OperatorOrLocal`), before this runs.

use std::sync::Arc;

use super::ApiError;
use crate::http::Response;
use crate::tenancy::Tenancy;

pub(crate) async fn handle(tenancy: &Arc<Tenancy>) -> Result<Response, ApiError> {
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

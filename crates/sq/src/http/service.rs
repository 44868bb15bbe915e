//! What a server answers requests with: the one seam between the HTTP loop and the API.

use std::future::Future;

use super::body::Body;
use super::request::Request;
use super::response::Response;

/// What answers requests. The body is read only if the service asks for it, after it
/// has checked the head.
pub trait Service: Send + Sync + 'static {
    /// Answers one request.
    fn call(&self, request: &Request, body: &mut Body<'_>)
        -> impl Future<Output = Response> + Send;
}

//! SQ's HTTP/1.x server: connection handling, framing, limits, timeouts, shutdown.
//!
//! Heads are parsed by `httparse` (the parser hyper uses); SQ owns the connection loop
//! because its wire contract needs answers hyper's automatic error responses cannot give
//! (505 for other versions, 501 for unknown codings, 400 for double framing, 408 for a
//! request not received in time, bodies and CORS headers on every error).

mod body;
mod connection;
mod request;
mod response;
mod server;

pub use body::{Body, BodyError};
pub use connection::trim;
pub use request::{Method, Request, Version};
pub use response::{reason, Response, APPLICATION_JSON, TEXT_PLAIN};
pub use server::{serve, ConnectionStats, Limits, Service};

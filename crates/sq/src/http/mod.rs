//! SQ's HTTP/1.x server: connection handling, framing, limits, timeouts, shutdown.
//!
//! Heads are parsed by `httparse` (the parser hyper uses); SQ owns the connection loop
//! because its wire contract needs answers hyper's automatic error responses cannot give
//! (505 for other versions, 501 for unknown codings, 400 for double framing, 408 for a
//! request not received in time, bodies and CORS headers on every error).

//!
//! Data flows one way: `server` accepts and opens a connection over a [`Transport`];
//! `connection` runs its loop over a [`wire`](Stream) — `head` reads the request head,
//! `body` its body — calls the [`Service`], and writes the [`Response`] back.

mod body;
mod connection;
mod head;
mod limits;
mod request;
mod response;
mod server;
mod service;
mod wire;

pub use body::{Body, BodyError};
pub use head::trim;
pub use limits::{ConnectionStats, Limits};
pub use request::{Method, Request, Version};
pub use response::{reason, ByteStream, Payload, Response, APPLICATION_JSON, TEXT_PLAIN};
pub use server::{connection_task_bytes, serve, serve_over, PlainTcp, Transport};
pub use service::Service;
pub use wire::{buffer_bytes, Stream};

//! SQ: a multi-tenant phext database server.
//!
//! Layers, top to bottom: [`cli`] (commands, start-up, signals) → [`http`] (connections,
//! framing, limits) → [`api`] (the `/api/v2` contract) → [`tenancy`] (who may do what)
//! → the `sq_store` crate (documents on disk) → the `phext` engine crate.

pub mod api;
pub mod cli;
pub mod clock;
pub mod http;
pub mod process;
pub mod tenancy;

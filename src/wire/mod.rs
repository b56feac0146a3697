//! The HTTP API's wire types (docs/api.md): one `Serialize`/`Deserialize`
//! type for every request body, query and answer, grouped by resource with
//! the same nouns as `cli/` and `api/`, and the error body with its
//! [`ErrorCode`]. Pure: no I/O; the server encodes these, the client decodes
//! them, so both sides speak one contract.
//!
//! Fields are declared in alphabetical order: serde_json writes a `json!`
//! object's keys sorted, so an answer encoded from these types is byte for
//! byte what the handlers' `json!` bodies were (the tests check it).
//!
//! Request fields the server validates itself (a role, a revoke reason, a
//! credential kind, a date) stay text: a bad value is a 422 naming the
//! field, not a 400 from the decoder.

pub mod apikeys;
pub mod audit;
pub mod devices;
pub mod directory;
pub mod emergency;
pub mod error;
pub mod events;
pub mod mail;
pub mod people;
pub mod pin_reset;
pub mod receipts;
pub mod reports;
pub mod requests;
pub mod rights;
pub mod tokens;
pub mod validate;
pub mod verify;

use serde::{Deserialize, Serialize};

pub use error::{ErrorBody, ErrorCode, ErrorDetail, ErrorInfo};

/// Largest request body the server accepts (413 beyond): part of the API
/// contract (`docs/api.md`), so not a configuration key.
pub const MAX_REQUEST_BODY: usize = 64 * 1024;

/// `GET /healthz`: whether the daemon works, and the authority's time zone
/// (`time_zone` in `keyward.toml`) in which clients show times to people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: HealthStatus,
    /// An IANA name, e.g. `America/Martinique`.
    pub time_zone: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Ok,
    Unavailable,
}

/// `GET /v1/health` of a node on PostgreSQL (docs/postgres.md): `200` and
/// `ok` while it reaches the primary, `503` and `degraded` while it does not
/// (its verifies answer `unavailable` meanwhile: a failover in progress).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeHealth {
    pub status: NodeHealthStatus,
    /// `postgres`.
    pub store: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeHealthStatus {
    Ok,
    Degraded,
}

/// `201 {"id"}`: what creating a numbered object answers (appointment,
/// delegation, key request, replacement request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedId {
    pub id: i64,
}

#[cfg(test)]
mod tests;

//! `/v1/rights`: appointments and delegations.

use serde::{Deserialize, Serialize};

use crate::domain::RightOrigin;

/// `POST /v1/rights/appointments` and `/v1/rights/delegations`
/// `{"person","school","from","until"?}`; dates `YYYY-MM-DD`, checked by the
/// server (422 naming the field).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RightBody {
    pub from: String,
    pub person: String,
    pub school: String,
    pub until: Option<String>,
}

/// `POST /v1/rights/{id}/end` → `{"id","ended":true}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RightEnded {
    pub ended: bool,
    pub id: i64,
}

/// An item of `GET /v1/people/{id}/rights` and of a person's `rights`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Right {
    pub from: String,
    pub id: i64,
    /// In force at the server's clock now.
    pub in_force: bool,
    pub origin: RightOrigin,
    /// The school's UAI.
    pub school: String,
    /// Last day included; `null` when open-ended.
    pub until: Option<String>,
}

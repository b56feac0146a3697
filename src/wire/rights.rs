//! `/v1/rights`: appointments and delegations.

use serde::{Deserialize, Serialize};

use crate::domain::RightOrigin;

/// `POST /v1/rights/appointments` and `/v1/rights/delegations`
/// `{"person","school","from","until"?,"ends_previous"?}`; dates
/// `YYYY-MM-DD`, checked by the server (422 naming the field).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RightBody {
    /// Appointments only: ends the school's appointment in place for this
    /// reason (`retraite`, `mutation`, `changement_de_corps`,
    /// `fin_de_fonction`, `autre`), checked by the server, hence text.
    #[serde(default)]
    pub ends_previous: Option<String>,
    pub from: String,
    pub person: String,
    pub school: String,
    pub until: Option<String>,
}

/// `POST /v1/rights/{id}/end` with no body (a delegation, now) or
/// `{"reason","on"?}` (an appointment, by an admin: now, or shortened to end
/// on `on`).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndRightBody {
    /// Last day in force, `YYYY-MM-DD`.
    pub on: Option<String>,
    /// The reason from the fixed list, checked by the server, hence text.
    pub reason: Option<String>,
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
    /// Why the administration ended or shortened it (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<String>,
    /// When it was ended early, RFC 3339 (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
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

/// `GET /v1/rights/appointments` query: every appointment, filtered by a
/// part of the school's UAI or name, of the person's login or name, and
/// in force or not; paged (`X-Total-Count` holds how many match).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppointmentFilter {
    pub in_force: Option<bool>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    pub person: Option<String>,
    pub school: Option<String>,
}

/// An item of `GET /v1/rights/appointments`, newest start first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppointmentEntry {
    /// Why the administration ended or shortened it (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<String>,
    /// When it was ended early, RFC 3339 (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    pub from: String,
    pub full_name: String,
    pub id: i64,
    pub in_force: bool,
    pub person: String,
    /// The school's UAI and name.
    pub school: String,
    pub school_name: String,
    /// Last day included; `null` when open-ended.
    pub until: Option<String>,
}

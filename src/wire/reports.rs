//! `/v1/reports`: per-district lists, `{"<district>": [item, ...]}`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `GET /v1/reports/overdue`.
pub type OverdueReport = BTreeMap<String, Vec<OverdueItem>>;

/// `GET /v1/reports/in-transit`.
pub type InTransitReport = BTreeMap<String, Vec<InTransitItem>>;

/// A key whose return deadline has passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverdueItem {
    pub days_late: u64,
    pub due: String,
    pub holder: String,
    pub serial: String,
}

/// A key returned to an inspector, not yet received at the IT centre.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InTransitItem {
    pub days_waiting: u64,
    pub holder: String,
    pub returned_on: String,
    pub serial: String,
}

/// `GET /v1/reports/token-states`: how many keys are in each state, per
/// district of the right they serve (`district` null: bound to no one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenStateCounts {
    pub district: Option<String>,
    /// Every state, in the order of the lifecycle.
    pub states: Vec<StateCount>,
    pub total: u64,
}

/// One state's count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCount {
    pub state: crate::domain::TokenState,
    pub count: u64,
}

/// An item of `GET /v1/reports/return-weeks`: one week around this year's
/// return deadline (the week holding it is the fourth of eight).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnWeekItem {
    /// The week's first day (`YYYY-MM-DD`, the authority's calendar).
    pub starts: String,
    /// Whether the deadline falls in this week.
    pub deadline: bool,
    /// Keys still out whose return fell due in this week, already past.
    pub overdue: u64,
    /// Keys still out whose return falls due in this week, not yet past.
    pub due: u64,
    /// Keys returned in this week.
    pub returned: u64,
}

/// An item of `GET /v1/reports/verify-outcomes`: one local day of verify
/// decisions, from the audit (repeated refusals within a minute count once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyDayItem {
    /// `YYYY-MM-DD`, the authority's calendar.
    pub day: String,
    pub accepted: u64,
    pub refused: u64,
    /// Refusals that locked a key.
    pub locked: u64,
}

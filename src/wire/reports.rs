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

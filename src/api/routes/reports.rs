//! Reports by district: keys overdue, keys returned but not yet received.

use std::collections::BTreeMap;

use axum::extract::State;
use serde_json::{json, Value};

use super::{ok, Answer};
use crate::api::{AppState, Caller, Operation, Permit};
use crate::store::{StoreError, Tx};

pub(super) async fn report_overdue(State(state): State<AppState>, caller: Caller) -> Answer {
    let permit = Permit::check(&state, caller, Operation::ReportOverdue).await?;
    district_report(&permit, |tx| tx.overdue_returns(), |i| {
        json!({"serial": i.serial, "holder": i.holder, "due": i.due.to_string(), "days_late": i.days_late})
    })
    .await
}

pub(super) async fn report_in_transit(State(state): State<AppState>, caller: Caller) -> Answer {
    let permit = Permit::check(&state, caller, Operation::ReportInTransit).await?;
    district_report(&permit, |tx| tx.awaiting_it_centre(), |i| {
        json!({"serial": i.serial, "holder": i.holder, "returned_on": i.returned_on.to_string(), "days_waiting": i.days_waiting})
    })
    .await
}

/// Reads one district-keyed report in the caller's scope.
type ReadReport<T> = fn(&mut Tx<'_>) -> Result<BTreeMap<String, Vec<T>>, StoreError>;

/// A per-district report as `{"<district>": [item, ...]}`, read in the
/// caller's scope (an inspector sees only their own district).
async fn district_report<T: Send + 'static>(
    permit: &Permit,
    read: ReadReport<T>,
    render: fn(&T) -> Value,
) -> Answer {
    let report = permit.read_as_caller(read).await?;
    let out: serde_json::Map<String, Value> = report
        .into_iter()
        .map(|(district, items)| (district, Value::Array(items.iter().map(render).collect())))
        .collect();
    ok(Value::Object(out))
}

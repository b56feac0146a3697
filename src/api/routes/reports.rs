//! Reports by district.

use std::sync::Arc;

use axum::extract::State;
use serde_json::{json, Value};

use crate::api::{blocking, ApiError, AppState, Caller};
use crate::store::StoreError;

use super::*;

pub async fn report_overdue(State(state): State<AppState>, caller: Caller) -> Answer {
    district_report(state, caller, |tx| tx.overdue_returns(), |i| {
        json!({"serial": i.serial, "holder": i.holder, "due": i.due.to_string(), "days_late": i.days_late})
    })
    .await
}

pub async fn report_in_transit(State(state): State<AppState>, caller: Caller) -> Answer {
    district_report(state, caller, |tx| tx.awaiting_it_centre(), |i| {
        json!({"serial": i.serial, "holder": i.holder, "returned_on": i.returned_on.to_string(), "days_waiting": i.days_waiting})
    })
    .await
}

/// Reads one district-keyed report in the caller's scope.
type ReadReport<T> = fn(
    &mut crate::store::ops::Tx<'_>,
) -> Result<std::collections::BTreeMap<String, Vec<T>>, StoreError>;

/// A per-district report as `{"<district>": [item, ...]}`, read in the
/// caller's scope (an inspector sees only their own district).
async fn district_report<T: Send + 'static>(
    state: AppState,
    caller: Caller,
    read: ReadReport<T>,
    render: fn(&T) -> Value,
) -> Answer {
    caller
        .require(&state, DESK_OR_INSPECTOR, "read reports")
        .await?;
    let store = Arc::clone(state.store());
    let report =
        blocking(move || store.read_as(&caller.actor, read).map_err(ApiError::from)).await?;
    let out: serde_json::Map<String, Value> = report
        .into_iter()
        .map(|(district, items)| (district, Value::Array(items.iter().map(render).collect())))
        .collect();
    ok(Value::Object(out))
}

//! Touch-key routes: the virtual demo's touch of a simulated key.
//! Possession with a typed code goes through the token routes' `"typed"`.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::Arc;

use super::{blocking, ApiError, AppState, Caller};
use crate::domain::Role;

/// `POST /v1/devices/{reader}/touch` (desk, admin): touches the simulated key
/// at `reader` and answers what it typed, as a holder's finger would.
pub async fn device_touch(
    State(state): State<AppState>,
    caller: Caller,
    Path(reader): Path<String>,
) -> Result<Response, ApiError> {
    caller
        .require(&state, &[Role::Admin, Role::Desk], "touch a simulated key")
        .await?;
    let devices = Arc::clone(state.devices());
    let actor = caller.actor.clone();
    let result = blocking(move || devices.touch_simulated(&reader).map_err(ApiError::from)).await;
    let (serial, typed) = state
        .audit_device_refusal(&actor, "touch a simulated key", result)
        .await?;
    Ok(Json(json!({"serial": serial, "typed": typed})).into_response())
}

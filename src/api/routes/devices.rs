//! Devices: the tokens present at readers.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::api::{blocking, ApiError, AppState, Caller};
use crate::domain::PersonId;
use crate::domain::Role;
use crate::store::StoreError;

use super::*;

pub async fn list_devices(State(state): State<AppState>, caller: Caller) -> Answer {
    caller
        .require(
            &state,
            &[Role::Admin, Role::Desk, Role::Station],
            "see devices",
        )
        .await?;
    let devices = Arc::clone(state.devices());
    let list = blocking(move || {
        let present = devices.present();
        let mut out = Vec::new();
        for p in present {
            if caller.role == Role::Station && !caller.readers.contains(&p.reader) {
                continue;
            }
            let token = match &p.serial {
                Some(serial) => devices
                    .store()
                    .read(|tx| match tx.token(serial) {
                        Ok(t) => Ok(Some(t)),
                        Err(StoreError::NotFound { .. }) => Ok(None),
                        Err(e) => Err(e),
                    })
                    .map_err(ApiError::from)?,
                None => None,
            };
            out.push(json!({
                "reader": p.reader,
                "present": true,
                "profile": p.profile,
                "serial": p.serial,
                "state": token.as_ref().map(|t| t.state.as_str()),
                "holder": token.as_ref().and_then(|t| t.holder.as_ref().map(PersonId::as_str)),
            }));
        }
        Ok(out)
    })
    .await?;
    ok(Value::Array(list))
}

pub async fn device_code(
    State(state): State<AppState>,
    caller: Caller,
    Path(reader): Path<String>,
) -> Answer {
    caller
        .require(&state, DESK, "read a code from a device")
        .await?;
    let devices = Arc::clone(state.devices());
    let actor = caller.actor.clone();
    let result = blocking(move || {
        let serial = devices
            .present()
            .into_iter()
            .find(|p| p.reader == reader)
            .and_then(|p| p.serial)
            .ok_or_else(|| {
                ApiError::from(crate::devices::DeviceError::Absent {
                    reader: reader.clone(),
                    serial: "-".into(),
                })
            })?;
        let code = devices
            .read_code(&reader, &serial)
            .map_err(ApiError::from)?;
        Ok((serial, code))
    })
    .await;
    let (serial, code) = state
        .audit_device_refusal(&actor, "read a code from a device", result)
        .await?;
    ok(json!({"serial": serial, "code": code}))
}

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

//! Key requests and replacement requests.

use std::sync::Arc;

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{blocking, ApiError, AppState, Body, Caller};
use crate::domain::requests::HelpMail;
use crate::domain::Role;
use crate::domain::{MailAddress, PersonId, RevokeReason};

use super::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRequestBody {
    holder: String,
}

pub async fn request_key(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<KeyRequestBody>,
) -> Answer {
    caller
        .require(&state, &[Role::Inspector], "request a key")
        .await?;
    let holder = scoped_person(&state, &caller, &body.holder, "request a key").await?;
    let store = Arc::clone(state.store());
    let id = blocking(move || {
        store
            .write(&caller.actor, "key_request.open", |tx| {
                tx.request_key(&holder)
            })
            .map_err(ApiError::from)
    })
    .await?;
    created(json!({"id": id}))
}

pub async fn list_key_requests(State(state): State<AppState>, caller: Caller) -> Answer {
    caller.require(&state, DESK, "list key requests").await?;
    let store = Arc::clone(state.store());
    let open = blocking(move || {
        store
            .read(|tx| tx.open_key_requests())
            .map_err(ApiError::from)
    })
    .await?;
    ok(Value::Array(
        open.iter()
            .map(|(id, holder, district)| json!({"id": id, "holder": holder.as_str(), "district": district}))
            .collect(),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplacementBody {
    holder: String,
    reason: String,
    from: String,
    cc: Vec<String>,
    #[allow(dead_code)]
    subject: Option<String>,
}

pub async fn file_replacement(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<ReplacementBody>,
) -> Answer {
    caller
        .require(&state, DESK, "record a help request")
        .await?;
    let store = Arc::clone(state.store());
    let (id, old) = blocking(move || {
        store
            .write(&caller.actor, "replacement.request", |tx| {
                let holder = PersonId::parse(&body.holder)?;
                let reason = RevokeReason::parse(&body.reason)?;
                let mail = HelpMail {
                    from: MailAddress::parse(&body.from)?,
                    cc: body
                        .cc
                        .iter()
                        .map(|c| MailAddress::parse(c))
                        .collect::<Result<_, _>>()?,
                };
                let old = tx
                    .tokens(None, None)?
                    .into_iter()
                    .find(|t| t.state.is_live() && t.holder.as_ref() == Some(&holder))
                    .map(|t| t.serial);
                let id = tx.file_replacement_request(&holder, reason, &mail)?;
                let old = old.map(|s| tx.token(&s)).transpose()?;
                Ok((id, old))
            })
            .map_err(ApiError::from)
    })
    .await?;
    if let Some(old) = old {
        state.devices().token_changed(&old.serial, old.state);
    }
    created(json!({"id": id}))
}

pub async fn prepare_replacement(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<ReaderBody>,
) -> Answer {
    caller
        .require(&state, DESK, "prepare a replacement")
        .await?;
    let request: i64 = id
        .parse()
        .map_err(|_| ApiError::not_found("replacement request"))?;
    let devices = Arc::clone(state.devices());
    let actor = caller.actor.clone();
    let result = blocking(move || {
        let serial = devices
            .present()
            .into_iter()
            .find(|p| p.reader == body.reader)
            .and_then(|p| p.serial)
            .ok_or_else(|| {
                ApiError::from(crate::devices::DeviceError::Absent {
                    reader: body.reader.clone(),
                    serial: "-".into(),
                })
            })?;
        let holder = devices
            .store()
            .read(|tx| tx.replacement_holder(request))
            .map_err(ApiError::from)?;
        devices
            .prepare(
                &caller.actor,
                &body.reader,
                &serial,
                &holder,
                devices.default_params_for(&body.reader),
                Some(request),
            )
            .map_err(ApiError::from)
    })
    .await;
    let prepared = state
        .audit_device_refusal(&actor, "prepare a replacement", result)
        .await?;
    ok(json!({
        "serial": prepared.serial,
        "holder": prepared.holder.as_str(),
        "state": "prepared",
        "apdus": prepared.apdus,
    }))
}

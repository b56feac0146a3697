//! Key requests and replacement requests.

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{json, Value};

use super::devices::serial_at;
use super::tokens::prepared_json;
use super::{created, ok, scoped_person, Answer, ReaderBody};
use crate::api::{ApiError, AppState, Body, Caller, Operation, Permit};
use crate::domain::requests::HelpMail;
use crate::domain::{MailAddress, PersonId, RevokeReason};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KeyRequestBody {
    holder: String,
}

pub(super) async fn request_key(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<KeyRequestBody>,
) -> Answer {
    let permit = Permit::check(&state, caller, Operation::RequestKey).await?;
    let holder = scoped_person(&permit, &body.holder).await?;
    let id = permit.write(move |tx, _| tx.request_key(&holder)).await?;
    created(json!({"id": id}))
}

pub(super) async fn list_key_requests(State(state): State<AppState>, caller: Caller) -> Answer {
    let permit = Permit::check(&state, caller, Operation::ListKeyRequests).await?;
    let open = permit.read(|tx| tx.open_key_requests()).await?;
    ok(Value::Array(
        open.iter()
            .map(|(id, holder, district)| json!({"id": id, "holder": holder.as_str(), "district": district}))
            .collect(),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReplacementBody {
    holder: String,
    reason: String,
    from: String,
    cc: Vec<String>,
    #[allow(dead_code)]
    subject: Option<String>,
}

pub(super) async fn file_replacement(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<ReplacementBody>,
) -> Answer {
    let permit = Permit::check(&state, caller, Operation::FileReplacement).await?;
    let (id, old) = permit
        .write(move |tx, _| {
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
        .await?;
    if let Some(old) = old {
        state.devices().token_changed(&old.serial, old.state);
    }
    created(json!({"id": id}))
}

pub(super) async fn prepare_replacement(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<ReaderBody>,
) -> Answer {
    let permit = Permit::check(&state, caller, Operation::PrepareReplacement).await?;
    let request: i64 = id
        .parse()
        .map_err(|_| ApiError::not_found("replacement request"))?;
    let prepared = permit
        .on_devices(move |devices, permit| {
            let serial = serial_at(devices, &body.reader)?;
            let holder = devices
                .store()
                .read(|tx| tx.replacement_holder(request))
                .map_err(ApiError::from)?;
            devices
                .prepare(
                    &permit.caller().actor,
                    &body.reader,
                    &serial,
                    &holder,
                    devices.default_params_for(&body.reader),
                    Some(request),
                )
                .map_err(ApiError::from)
        })
        .await?;
    ok(prepared_json(&prepared))
}

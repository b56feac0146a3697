//! Emergency access while a key is replaced: grant, list, revoke (the rule
//! is the store's, `store::ops::emergency`).

use axum::extract::Path;

use super::{ok, Answer};
use crate::api::{ApiError, Body, Permit};
use crate::domain::calendar::rfc3339;
use crate::store::ops::EmergencyForm;
use crate::wire::emergency::{EmergencyEntry, EmergencyGrantBody, EmergencyGranted};

/// Codes on a sheet when the body names no number.
const DEFAULT_SHEET_CODES: u32 = 10;

pub(super) async fn grant_emergency(
    permit: Permit,
    Path(id): Path<String>,
    Body(body): Body<EmergencyGrantBody>,
) -> Answer {
    let request: i64 = id
        .parse()
        .map_err(|_| ApiError::not_found("replacement request"))?;
    let form = match body.form.as_str() {
        "sheet" => EmergencyForm::Sheet {
            codes: body.codes.unwrap_or(DEFAULT_SHEET_CODES),
        },
        "app" => EmergencyForm::App,
        _ => return Err(ApiError::invalid("form", "form is `sheet` or `app`")),
    };
    let access = permit
        .write(move |tx, _| tx.grant_emergency(request, form, body.days, &body.pin))
        .await?;
    ok(EmergencyGranted {
        serial: access.serial.clone(),
        holder: access.holder.to_string(),
        expires_at: rfc3339(access.expires_at),
        codes: access.codes.iter().map(|c| c.as_str().to_owned()).collect(),
        otpauth: access.otpauth.as_ref().map(|u| u.as_str().to_owned()),
        signature: data_encoding::BASE64.encode(&access.slip.signature),
        slip: access.slip.text,
    })
}

pub(super) async fn list_emergency(permit: Permit) -> Answer {
    let list = permit.read_as_caller(|tx| tx.emergency_accesses()).await?;
    let list: Vec<EmergencyEntry> = list
        .into_iter()
        .map(|e| EmergencyEntry {
            serial: e.serial,
            holder: e.holder,
            request: e.request,
            form: e.form,
            granted_by: e.granted_by,
            granted_at: rfc3339(e.granted_at),
            expires_at: rfc3339(e.expires_at),
            ended_at: e.ended_at.map(rfc3339),
            end_reason: e.end_reason,
            signature: data_encoding::BASE64.encode(&e.slip.signature),
            slip: e.slip.text,
        })
        .collect();
    ok(list)
}

pub(super) async fn revoke_emergency(permit: Permit, Path(serial): Path<String>) -> Answer {
    permit
        .write(move |tx, _| tx.revoke_emergency(&serial))
        .await?;
    ok(serde_json::json!({}))
}

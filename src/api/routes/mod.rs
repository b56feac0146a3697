//! One function per route of docs/api.md, one file per resource. Each checks the caller's role and
//! scope, then runs the store or device work on a blocking thread.

mod apikeys;
mod audit;
mod devices;
mod events;
mod health;
mod people;
mod receipts;
mod reports;
mod requests;
mod rights;
mod tokens;
mod verify;

pub use apikeys::*;
pub use audit::*;
pub use devices::*;
pub use events::*;
pub use health::*;
pub use people::*;
pub use receipts::*;
pub use reports::*;
pub use requests::*;
pub use rights::*;
pub use tokens::*;
pub use verify::*;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{blocking, ApiError, AppState, Caller};
use crate::domain::receipt::SignedReceipt;
use crate::domain::Role;
use crate::domain::{PersonId, RevokeReason};
use crate::store::ops::{CredentialInfo, OtpKind, RightRecord, TokenInfo};

type Answer = Result<Response, ApiError>;

const ADMIN: &[Role] = &[Role::Admin];
const DESK: &[Role] = &[Role::Admin, Role::Desk];
const DESK_OR_INSPECTOR: &[Role] = &[Role::Admin, Role::Desk, Role::Inspector];

fn ok(value: Value) -> Answer {
    Ok(Json(value).into_response())
}

fn created(value: Value) -> Answer {
    Ok((StatusCode::CREATED, Json(value)).into_response())
}

fn date_opt(d: Option<crate::domain::Date>) -> Value {
    d.map_or(Value::Null, |d| json!(d.to_string()))
}

fn right_json(r: &RightRecord, now: u64) -> Value {
    json!({
        "id": r.id,
        "school": r.school.as_str(),
        "origin": r.origin.as_str(),
        "from": r.period.from.to_string(),
        "until": date_opt(r.period.until),
        "in_force": r.period.in_force_at(now),
    })
}

fn credential_json(c: &CredentialInfo) -> Value {
    let (kind, period) = match c.params.kind {
        OtpKind::Hotp { .. } => ("hotp", Value::Null),
        OtpKind::Totp { period } => ("totp", json!(period.seconds())),
    };
    json!({
        "kind": kind,
        "algorithm": c.params.algorithm.name(),
        "digits": c.params.digits.get(),
        "period": period,
        "locked": c.locked,
        "failures": c.fails,
    })
}

fn token_json(t: &TokenInfo, credential: Option<&CredentialInfo>) -> Value {
    json!({
        "serial": t.serial,
        "profile": t.profile,
        "state": t.state.as_str(),
        "holder": t.holder.as_ref().map(PersonId::as_str),
        "revoke_reason": t.revoke_reason.map(RevokeReason::as_str),
        "credential": credential.map(credential_json),
    })
}

fn receipt_json(id: u64, r: &SignedReceipt, public_key: &[u8; 32]) -> Value {
    json!({
        "id": id,
        "kind": r.content.kind.as_str(),
        "canonical": r.canonical,
        "signature": data_encoding::BASE64.encode(&r.signature),
        "public_key": data_encoding::HEXLOWER.encode(public_key),
        "export": r.export(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistrictFilter {
    district: Option<String>,
}

/// An inspector's filter is always their own district.
fn effective_district(caller: &Caller, asked: Option<String>) -> Option<String> {
    if caller.role == Role::Inspector {
        caller.district.clone()
    } else {
        asked
    }
}

/// Reads a person and their district, or 404 (by scope for inspectors).
async fn scoped_person(
    state: &AppState,
    caller: &Caller,
    id: &str,
    operation: &'static str,
) -> Result<PersonId, ApiError> {
    let Ok(id) = PersonId::parse(id) else {
        return Err(ApiError::not_found("person"));
    };
    let store = Arc::clone(state.store());
    let lookup = id.clone();
    let district = blocking(move || {
        store
            .read(|tx| {
                tx.person(&lookup)?;
                tx.district_of_person(&lookup)
            })
            .map_err(ApiError::from)
    })
    .await?;
    caller
        .scope(state, district.as_deref(), "person", operation)
        .await?;
    Ok(id)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReaderBody {
    reader: String,
}

/// The token and its district, or 404 (by scope for an inspector).
async fn scoped_token(
    state: &AppState,
    caller: &Caller,
    serial: &str,
    operation: &'static str,
) -> Result<TokenInfo, ApiError> {
    let store = Arc::clone(state.store());
    let serial = serial.to_owned();
    let (token, district) = blocking(move || {
        store
            .read(|tx| {
                let token = tx.token(&serial)?;
                let district = tx.district_of_token(&token)?;
                Ok((token, district))
            })
            .map_err(ApiError::from)
    })
    .await?;
    caller
        .scope(state, district.as_deref(), "token", operation)
        .await?;
    Ok(token)
}

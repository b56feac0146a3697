//! Tokens: registration, preparation, handover, activation, return and desk operations.

use std::sync::Arc;

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{blocking, ApiError, AppState, Body, Caller, Params};
use crate::domain::Role;
use crate::domain::{PersonId, RevokeReason, TokenState};
use crate::otp::{Algorithm, Digits, Period};
use crate::store::ops::{CredentialParams, OtpKind};
use crate::store::StoreError;

use super::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFilter {
    district: Option<String>,
    state: Option<String>,
}

pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Params(filter): Params<TokenFilter>,
) -> Answer {
    caller
        .require(&state, DESK_OR_INSPECTOR, "list tokens")
        .await?;
    let wanted = match filter.state.as_deref().map(TokenState::parse).transpose() {
        Ok(wanted) => wanted,
        Err(e) => {
            return Err(state
                .refuse(
                    caller.actor.clone(),
                    "list tokens",
                    ApiError::invalid("state", e.to_string()),
                )
                .await)
        }
    };
    let district = effective_district(&caller, filter.district);
    let store = Arc::clone(state.store());
    let list = blocking(move || {
        store
            .read(|tx| {
                let tokens = tx.tokens(wanted, district.as_deref())?;
                tokens
                    .iter()
                    .map(|t| Ok(token_json(t, tx.credential_of(&t.serial)?.as_ref())))
                    .collect::<Result<Vec<_>, StoreError>>()
            })
            .map_err(ApiError::from)
    })
    .await?;
    ok(Value::Array(list))
}

pub async fn show_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(serial): Path<String>,
) -> Answer {
    caller
        .require(&state, DESK_OR_INSPECTOR, "read a token")
        .await?;
    let token = scoped_token(&state, &caller, &serial, "read a token").await?;
    let store = Arc::clone(state.store());
    let credential = blocking(move || {
        store
            .read(|tx| tx.credential_of(&serial))
            .map_err(ApiError::from)
    })
    .await?;
    ok(token_json(&token, credential.as_ref()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    serial: String,
    profile: String,
}

pub async fn add_token(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<NewTokenBody>,
) -> Answer {
    caller.require(&state, DESK, "register a token").await?;
    let store = Arc::clone(state.store());
    let serial = body.serial.clone();
    blocking(move || {
        store
            .write(&caller.actor, "token.add", |tx| {
                let known = crate::profile::builtin()
                    .map_err(|_| StoreError::Corrupt("built-in profiles"))?
                    .iter()
                    .any(|p| p.id == body.profile)
                    || body.profile == "yubikey-otp-hid";
                if !known {
                    return Err(crate::domain::DomainError::BadIdentifier {
                        what: "profile",
                        rule: "the id of a firmware profile",
                    }
                    .into());
                }
                tx.add_token(&body.serial, &body.profile)
            })
            .map_err(ApiError::from)
    })
    .await?;
    state.devices().token_changed(&serial, TokenState::Stock);
    created(json!({"serial": serial, "state": "stock"}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrepareBody {
    holder: String,
    reader: String,
    kind: Option<String>,
    algorithm: Option<String>,
    digits: Option<u8>,
    period: Option<u32>,
}

fn prepare_params(body: &PrepareBody) -> Result<CredentialParams, ApiError> {
    let algorithm: Algorithm = match &body.algorithm {
        Some(a) => a
            .parse()
            .map_err(|_| ApiError::invalid("algorithm", "expected SHA1, SHA256 or SHA512"))?,
        None => Algorithm::Sha1,
    };
    let digits = Digits::new(body.digits.unwrap_or(6))
        .map_err(|e| ApiError::invalid("digits", e.to_string()))?;
    let kind = match body.kind.as_deref().unwrap_or("totp") {
        "totp" => OtpKind::Totp {
            period: Period::new(body.period.unwrap_or(30))
                .map_err(|e| ApiError::invalid("period", e.to_string()))?,
        },
        "hotp" if body.period.is_none() => OtpKind::Hotp { counter: 0 },
        "hotp" => return Err(ApiError::invalid("period", "HOTP has no period")),
        _ => return Err(ApiError::invalid("kind", "expected totp or hotp")),
    };
    Ok(CredentialParams {
        kind,
        algorithm,
        digits,
    })
}

pub async fn prepare_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(serial): Path<String>,
    Body(body): Body<PrepareBody>,
) -> Answer {
    caller.require(&state, DESK, "prepare a token").await?;
    // A touch key types HOTP codes: that is its default kind.
    let touch_key =
        body.kind.is_none() && body.period.is_none() && state.devices().is_touch_key(&body.reader);
    let params = match prepare_params(&body) {
        Ok(p) if touch_key => CredentialParams {
            kind: OtpKind::Hotp { counter: 0 },
            ..p
        },
        Ok(p) => p,
        Err(err) => {
            return Err(state
                .refuse(caller.actor.clone(), "prepare a token", err)
                .await)
        }
    };
    let holder = match PersonId::parse(&body.holder) {
        Ok(h) => h,
        Err(e) => {
            return Err(state
                .refuse(
                    caller.actor.clone(),
                    "prepare a token",
                    ApiError::invalid("holder", e.to_string()),
                )
                .await)
        }
    };
    let devices = Arc::clone(state.devices());
    let actor = caller.actor.clone();
    let result = blocking(move || {
        devices
            .prepare(&caller.actor, &body.reader, &serial, &holder, params, None)
            .map_err(ApiError::from)
    })
    .await;
    let prepared = state
        .audit_device_refusal(&actor, "prepare a token", result)
        .await?;
    ok(json!({
        "serial": prepared.serial,
        "holder": prepared.holder.as_str(),
        "state": "prepared",
        "apdus": prepared.apdus,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoverBody {
    place: String,
    reader: String,
    /// What a touch key typed when touched (touch keys only).
    typed: Option<String>,
}

pub async fn handover(
    State(state): State<AppState>,
    caller: Caller,
    Path(serial): Path<String>,
    Body(body): Body<HandoverBody>,
) -> Answer {
    caller
        .require(&state, DESK_OR_INSPECTOR, "hand a key over")
        .await?;
    scoped_token(&state, &caller, &serial, "hand a key over").await?;
    let devices = Arc::clone(state.devices());
    let s = serial.clone();
    let actor = caller.actor.clone();
    let result = blocking(move || {
        let code = devices
            .possession_code(&body.reader, &s, body.typed.as_deref())
            .map_err(ApiError::from)?;
        let store = devices.store();
        let receipt = store
            .write(&caller.actor, "token.handover", |tx| {
                tx.handover(&s, &body.place, &code)
            })
            .map_err(ApiError::from)?;
        Ok((receipt.content.number, receipt, store.receipt_public_key()))
    })
    .await;
    let (number, receipt, key) = state
        .audit_device_refusal(&actor, "hand a key over", result)
        .await?;
    state
        .devices()
        .token_changed(&serial, TokenState::HandedOver);
    ok(json!({"receipt": receipt_json(number, &receipt, &key)}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivateBody {
    reader: String,
    pin: zeroize::Zeroizing<String>,
    /// What a touch key typed when touched (touch keys only).
    typed: Option<String>,
}

pub async fn activate(
    State(state): State<AppState>,
    caller: Caller,
    Path(serial): Path<String>,
    Body(body): Body<ActivateBody>,
) -> Answer {
    caller
        .require(&state, &[Role::Station], "activate a key")
        .await?;
    caller
        .at_reader(&state, &body.reader, "activate a key")
        .await?;
    let devices = Arc::clone(state.devices());
    let s = serial.clone();
    let actor = caller.actor.clone();
    let result = blocking(move || {
        let device_pin = devices
            .activate_with(&body.reader, &s, &body.pin, body.typed.as_deref())
            .map_err(ApiError::from)?;
        // The handover receipt goes back to the station, whose role may not
        // read receipts otherwise: it checks the signature and prints it.
        let receipt = devices
            .store()
            .read(|tx| Ok((tx.receipts_of_token(&s)?.pop(), tx.receipt_public_key())))
            .map_err(ApiError::from)?;
        Ok((device_pin, receipt))
    })
    .await;
    let (device_pin, receipt) = state
        .audit_device_refusal(&actor, "activate a key", result)
        .await?;
    let (receipt_id, receipt) = match &receipt {
        (Some(r), key) => (
            json!(r.content.number),
            receipt_json(r.content.number, r, key),
        ),
        (None, _) => (Value::Null, Value::Null),
    };
    ok(
        json!({"state": "active", "receipt_id": receipt_id, "receipt": receipt, "device_pin": device_pin}),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnBody {
    place: String,
    reason: String,
    reader: String,
    /// What a touch key typed when touched (touch keys only).
    typed: Option<String>,
}

pub async fn return_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(serial): Path<String>,
    Body(body): Body<ReturnBody>,
) -> Answer {
    caller
        .require(&state, DESK_OR_INSPECTOR, "take a key back")
        .await?;
    scoped_token(&state, &caller, &serial, "take a key back").await?;
    let devices = Arc::clone(state.devices());
    let s = serial.clone();
    let actor = caller.actor.clone();
    let result = blocking(move || {
        let code = devices
            .possession_code(&body.reader, &s, body.typed.as_deref())
            .map_err(ApiError::from)?;
        let store = devices.store();
        let receipt = store
            .write(&caller.actor, "token.return", |tx| {
                tx.return_token(&s, &body.place, &body.reason, &code)
            })
            .map_err(ApiError::from)?;
        Ok((receipt.content.number, receipt, store.receipt_public_key()))
    })
    .await;
    let (number, receipt, key) = state
        .audit_device_refusal(&actor, "take a key back", result)
        .await?;
    state.devices().token_changed(&serial, TokenState::Returned);
    ok(json!({"receipt": receipt_json(number, &receipt, &key)}))
}

/// A desk operation on a token with no body: runs `op`, answers the token.
async fn desk_op(
    state: AppState,
    caller: Caller,
    serial: String,
    operation: &'static str,
    op: fn(&mut crate::store::Tx<'_>, &str) -> Result<(), StoreError>,
) -> Answer {
    caller.require(&state, DESK, operation).await?;
    let store = Arc::clone(state.store());
    let s = serial.clone();
    let token = blocking(move || {
        store
            .write(&caller.actor, operation, |tx| {
                op(tx, &s)?;
                tx.token(&s)
            })
            .map_err(ApiError::from)
    })
    .await?;
    state.devices().token_changed(&serial, token.state);
    ok(token_json(&token, None))
}

pub async fn receive(
    State(state): State<AppState>,
    caller: Caller,
    Path(serial): Path<String>,
) -> Answer {
    desk_op(state, caller, serial, "receive a key", |tx, s| {
        tx.receive_at_it_centre(s)
    })
    .await
}

pub async fn restock(
    State(state): State<AppState>,
    caller: Caller,
    Path(serial): Path<String>,
) -> Answer {
    desk_op(state, caller, serial, "restock a key", |tx, s| {
        tx.restock(s)
    })
    .await
}

pub async fn unlock(
    State(state): State<AppState>,
    caller: Caller,
    Path(serial): Path<String>,
) -> Answer {
    desk_op(state, caller, serial, "unlock a key", |tx, s| tx.unlock(s)).await
}

pub async fn wipe(
    State(state): State<AppState>,
    caller: Caller,
    Path(serial): Path<String>,
    Body(body): Body<ReaderBody>,
) -> Answer {
    caller.require(&state, DESK, "wipe a key").await?;
    let devices = Arc::clone(state.devices());
    let s = serial.clone();
    let actor = caller.actor.clone();
    let result = blocking(move || {
        devices
            .wipe(&caller.actor, &body.reader, &s)
            .map_err(ApiError::from)
    })
    .await;
    let new_state = state
        .audit_device_refusal(&actor, "wipe a key", result)
        .await?;
    ok(json!({"serial": serial, "state": new_state.as_str()}))
}

/// The desk unblocks a token's device PIN (SPEC §4–§5): the retry counter
/// is restored with the sealed resetting code; the holder's PIN is kept and
/// never seen (see `devices::pin`). Answers the tries the holder has.
pub async fn unblock_pin(
    State(state): State<AppState>,
    caller: Caller,
    Path(serial): Path<String>,
    Body(body): Body<ReaderBody>,
) -> Answer {
    caller.require(&state, DESK, "unblock a device PIN").await?;
    let devices = Arc::clone(state.devices());
    let s = serial.clone();
    let actor = caller.actor.clone();
    let result = blocking(move || {
        devices
            .unblock_pin(&caller.actor, &body.reader, &s)
            .map_err(ApiError::from)
    })
    .await;
    let pin = state
        .audit_device_refusal(&actor, "unblock a device PIN", result)
        .await?;
    let tries_left = match pin {
        crate::token::PinState::TriesLeft(n) => Some(n),
        crate::token::PinState::Verified | crate::token::PinState::NotSet => None,
    };
    ok(json!({"serial": serial, "device_pin": "unblocked", "tries_left": tries_left}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    reason: String,
}

pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(serial): Path<String>,
    Body(body): Body<RevokeBody>,
) -> Answer {
    caller
        .require(&state, DESK_OR_INSPECTOR, "revoke a key")
        .await?;
    scoped_token(&state, &caller, &serial, "revoke a key").await?;
    let store = Arc::clone(state.store());
    let s = serial.clone();
    let token = blocking(move || {
        store
            .write(&caller.actor, "token.revoke", |tx| {
                let reason = RevokeReason::parse(&body.reason)?;
                if caller.role == Role::Inspector && !reason.is_gone() {
                    return Err(StoreError::Forbidden {
                        actor: caller.actor.to_string(),
                        action: "revoke a key",
                        why: "an inspector revokes lost or stolen keys; broken ones go to the desk",
                    });
                }
                tx.revoke(&s, reason)?;
                tx.token(&s)
            })
            .map_err(ApiError::from)
    })
    .await?;
    state.devices().token_changed(&serial, token.state);
    ok(token_json(&token, None))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResyncBody {
    first: zeroize::Zeroizing<String>,
    second: zeroize::Zeroizing<String>,
}

pub async fn resync(
    State(state): State<AppState>,
    caller: Caller,
    Path(serial): Path<String>,
    Body(body): Body<ResyncBody>,
) -> Answer {
    caller.require(&state, DESK, "resynchronise a key").await?;
    let store = Arc::clone(state.store());
    blocking(move || {
        store
            .write(&caller.actor, "credential.resync", |tx| {
                tx.resync(&serial, &body.first, &body.second)
            })
            .map_err(ApiError::from)
    })
    .await?;
    ok(json!({"resynchronised": true}))
}

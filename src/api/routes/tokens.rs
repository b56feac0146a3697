//! Tokens: listing, registration, preparation, the possession steps
//! (handover, activation, return) and the desk's operations on a token.

use axum::extract::Path;
use axum::routing::{on, MethodRouter};

use super::receipts::wire_receipt;
use super::{created, effective_district, ok, with_total, Answer};
use crate::api::{ApiError, AppState, Body, Operation, Params, Permit};
use crate::devices::Prepared;
use crate::domain::receipt::SignedReceipt;
use crate::domain::{CredentialInfo, TokenInfo};
use crate::domain::{DomainError, PersonId, RevokeReason, TokenState};
use crate::oath::driver::PinState;
use crate::otp::{Algorithm, Digits, Period};
use crate::otp::{CredentialParams, OtpKind};
use crate::store::ops::TokenQuery;
use crate::store::{StoreError, Tx};
use crate::wire::devices::ReaderBody;
use crate::wire::receipts::ReceiptAnswer;
use crate::wire::tokens::{
    ActivateBody, Activated, CredentialEntry, DevicePinStatus, HandoverBody, NewTokenBody,
    OtpKindName, PinUnblocked, PrepareBody, PreparedToken, RegisteredToken, ResyncBody,
    Resynchronised, ReturnBody, RevokeBody, TokenEntry, TokenFilter, WipedToken,
};

fn credential_entry(c: &CredentialInfo) -> CredentialEntry {
    let (kind, period) = match c.params.kind {
        OtpKind::Hotp { .. } => (OtpKindName::Hotp, None),
        OtpKind::Totp { period } => (OtpKindName::Totp, Some(period.seconds())),
    };
    CredentialEntry {
        algorithm: c.params.algorithm.name().to_owned(),
        digits: c.params.digits.get(),
        failures: c.fails,
        kind,
        locked: c.locked,
        period,
    }
}

pub(in crate::api) fn token_entry(
    t: &TokenInfo,
    credential: Option<&CredentialInfo>,
) -> TokenEntry {
    TokenEntry {
        credential: credential.map(credential_entry),
        holder: t.holder.as_ref().map(|h| h.as_str().to_owned()),
        profile: t.profile.clone(),
        revoke_reason: t.revoke_reason,
        serial: t.serial.clone(),
        state: t.state,
    }
}

pub(super) fn prepared_token(prepared: &Prepared) -> PreparedToken {
    PreparedToken {
        apdus: prepared.apdus,
        holder: prepared.holder.as_str().to_owned(),
        serial: prepared.serial.clone(),
        state: TokenState::Prepared,
    }
}

/// The token, or 404 (by scope for an inspector).
pub(super) async fn scoped_token(permit: &Permit, serial: &str) -> Result<TokenInfo, ApiError> {
    let serial = serial.to_owned();
    let (token, district) = permit
        .read(move |tx| {
            let token = tx.token(&serial)?;
            let district = tx.district_of_token(&token)?;
            Ok((token, district))
        })
        .await?;
    permit.scope(district.as_deref(), "token").await?;
    Ok(token)
}

pub(super) async fn list_tokens(permit: Permit, Params(filter): Params<TokenFilter>) -> Answer {
    let states = filter
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.split(',')
                .map(TokenState::parse)
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose();
    let states = match states {
        Ok(states) => states.unwrap_or_default(),
        Err(e) => {
            return Err(permit
                .refuse(ApiError::invalid("state", e.to_string()))
                .await)
        }
    };
    let query = TokenQuery {
        states,
        district: effective_district(permit.caller(), filter.district),
        serial: filter.serial.unwrap_or_default(),
        holder: filter.holder.unwrap_or_default(),
        school: filter.school.unwrap_or_default(),
        offset: filter.offset.unwrap_or(0),
        limit: filter.limit.unwrap_or(u64::MAX),
    };
    let (list, total) = permit
        .read(move |tx| {
            let page = tx.token_page(&query)?;
            let list = page
                .items
                .iter()
                .map(|t| Ok(token_entry(t, tx.credential_of(&t.serial)?.as_ref())))
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok((list, page.total))
        })
        .await?;
    with_total(list, total)
}

pub(super) async fn show_token(permit: Permit, Path(serial): Path<String>) -> Answer {
    let token = scoped_token(&permit, &serial).await?;
    let credential = permit.read(move |tx| tx.credential_of(&serial)).await?;
    ok(token_entry(&token, credential.as_ref()))
}

pub(super) async fn add_token(permit: Permit, Body(body): Body<NewTokenBody>) -> Answer {
    let serial = body.serial.clone();
    permit
        .write(move |tx, _| {
            let known = crate::profile::builtin()
                .map_err(|_| StoreError::Corrupt("built-in profiles"))?
                .iter()
                .any(|p| p.id == body.profile)
                || body.profile == "yubikey-otp-hid";
            if !known {
                return Err(DomainError::BadIdentifier {
                    what: "profile",
                    rule: "the id of a firmware profile",
                }
                .into());
            }
            tx.add_token(&body.serial, &body.profile)
        })
        .await?;
    permit.token_changed(&serial, TokenState::Stock);
    created(RegisteredToken {
        serial,
        state: TokenState::Stock,
    })
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

pub(super) async fn prepare_token(
    permit: Permit,
    Path(serial): Path<String>,
    Body(body): Body<PrepareBody>,
) -> Answer {
    // A touch key types HOTP codes: that is its default kind.
    let touch_key = body.kind.is_none()
        && body.period.is_none()
        && permit.state().devices().is_touch_key(&body.reader);
    let params = match prepare_params(&body) {
        Ok(p) if touch_key => CredentialParams {
            kind: OtpKind::Hotp { counter: 0 },
            ..p
        },
        Ok(p) => p,
        Err(err) => return Err(permit.refuse(err).await),
    };
    let holder = match PersonId::parse(&body.holder) {
        Ok(h) => h,
        Err(e) => {
            return Err(permit
                .refuse(ApiError::invalid("holder", e.to_string()))
                .await)
        }
    };
    let prepared = permit
        .on_device(move |devices, actor| {
            devices.prepare(actor, &body.reader, &serial, &holder, params, None)
        })
        .await?;
    ok(prepared_token(&prepared))
}

/// Where a holder proves possession: the reader, and what a touch key typed
/// when touched (touch keys only).
struct Proof {
    reader: String,
    typed: Option<String>,
}

impl Proof {
    fn at(reader: String, typed: Option<String>) -> Proof {
        Proof { reader, typed }
    }
}

/// Proves possession of the token at `reader` (a code read from it, or what
/// a touch key typed), then runs the operation's store write with that code,
/// which moves the token to `now`; answers the receipt the write signed.
async fn receipted_with_possession(
    permit: &Permit,
    serial: String,
    Proof { reader, typed }: Proof,
    now: TokenState,
    write: impl FnOnce(&mut Tx<'_>, &str, &str) -> Result<SignedReceipt, StoreError> + Send + 'static,
) -> Answer {
    scoped_token(permit, &serial).await?;
    let s = serial.clone();
    let (receipt, key) = permit
        .on_devices(move |devices, permit| {
            let code = devices
                .possession_code(&reader, &s, typed.as_deref())
                .map_err(ApiError::from)?;
            let store = devices.store();
            let receipt = permit
                .write_here(store, |tx, _| write(tx, &s, &code))
                .map_err(ApiError::from)?;
            Ok((receipt, store.receipt_public_key()))
        })
        .await?;
    permit.token_changed(&serial, now);
    ok(ReceiptAnswer {
        receipt: wire_receipt(&receipt, &key),
    })
}

pub(super) async fn handover(
    permit: Permit,
    Path(serial): Path<String>,
    Body(body): Body<HandoverBody>,
) -> Answer {
    let place = body.place;
    let handover = move |tx: &mut Tx<'_>, s: &str, code: &str| tx.handover(s, &place, code);
    let proof = Proof::at(body.reader, body.typed);
    receipted_with_possession(&permit, serial, proof, TokenState::HandedOver, handover).await
}

pub(super) async fn return_token(
    permit: Permit,
    Path(serial): Path<String>,
    Body(body): Body<ReturnBody>,
) -> Answer {
    let (place, reason) = (body.place, body.reason);
    let give_back =
        move |tx: &mut Tx<'_>, s: &str, code: &str| tx.return_token(s, &place, &reason, code);
    let proof = Proof::at(body.reader, body.typed);
    receipted_with_possession(&permit, serial, proof, TokenState::Returned, give_back).await
}

pub(super) async fn activate(
    permit: Permit,
    Path(serial): Path<String>,
    Body(body): Body<ActivateBody>,
) -> Answer {
    permit.at_reader(&body.reader).await?;
    let (device_pin, receipt) = permit
        .on_devices(move |devices, _| {
            let device_pin = devices
                .activate_with(&body.reader, &serial, &body.pin, body.typed.as_deref())
                .map_err(ApiError::from)?;
            // The handover receipt goes back to the station, whose role may
            // not read receipts otherwise: it checks the signature and prints it.
            let receipt = devices
                .store()
                .read(|tx| {
                    Ok((
                        tx.receipts_of_token(&serial)?.pop(),
                        tx.receipt_public_key(),
                    ))
                })
                .map_err(ApiError::from)?;
            Ok((device_pin, receipt))
        })
        .await?;
    let (receipt, key) = receipt;
    ok(Activated {
        device_pin,
        receipt_id: receipt.as_ref().map(|r| r.content.number),
        receipt: receipt.map(|r| wire_receipt(&r, &key)),
        state: TokenState::Active,
    })
}

/// The route of a desk operation on a token with no body: runs `step` in
/// the operation's store write and answers the token.
pub(super) fn desk_op(
    operation: Operation,
    step: fn(&mut Tx<'_>, &str) -> Result<(), StoreError>,
) -> MethodRouter<AppState> {
    let handler = move |permit: Permit, Path(serial): Path<String>| async move {
        let s = serial.clone();
        let token = permit
            .write(move |tx, _| {
                step(tx, &s)?;
                tx.token(&s)
            })
            .await?;
        permit.token_changed(&serial, token.state);
        ok(token_entry(&token, None))
    };
    on(operation.method_filter(), handler)
}

pub(super) async fn wipe(
    permit: Permit,
    Path(serial): Path<String>,
    Body(body): Body<ReaderBody>,
) -> Answer {
    let s = serial.clone();
    let new_state = permit
        .on_device(move |devices, actor| devices.wipe(actor, &body.reader, &s))
        .await?;
    ok(WipedToken {
        serial,
        state: new_state,
    })
}

/// The desk unblocks a token's device PIN (docs/devices.md, docs/security.md):
/// the retry counter is restored with the sealed resetting code; the
/// holder's PIN is kept and never seen (see `devices::pin`). Answers the
/// tries the holder has.
pub(super) async fn unblock_pin(
    permit: Permit,
    Path(serial): Path<String>,
    Body(body): Body<ReaderBody>,
) -> Answer {
    let s = serial.clone();
    let pin = permit
        .on_device(move |devices, actor| devices.unblock_pin(actor, &body.reader, &s))
        .await?;
    let tries_left = match pin {
        PinState::TriesLeft(n) => Some(n),
        PinState::Verified | PinState::NotSet => None,
    };
    ok(PinUnblocked {
        device_pin: DevicePinStatus::Unblocked,
        serial,
        tries_left,
    })
}

pub(super) async fn revoke(
    permit: Permit,
    Path(serial): Path<String>,
    Body(body): Body<RevokeBody>,
) -> Answer {
    scoped_token(&permit, &serial).await?;
    let s = serial.clone();
    let token = permit
        .write(move |tx, _| {
            let reason = RevokeReason::parse(&body.reason)?;
            tx.revoke(&s, reason)?;
            tx.token(&s)
        })
        .await?;
    permit.token_changed(&serial, token.state);
    ok(token_entry(&token, None))
}

pub(super) async fn resync(
    permit: Permit,
    Path(serial): Path<String>,
    Body(body): Body<ResyncBody>,
) -> Answer {
    permit
        .write(move |tx, _| tx.resync(&serial, &body.first, &body.second))
        .await?;
    ok(Resynchronised {
        resynchronised: true,
    })
}

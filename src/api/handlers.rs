//! One function per route of docs/api.md. Each checks the caller's role and
//! scope, then runs the store or device work on a blocking thread.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream::Stream;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{blocking, ApiError, AppState, Body, Caller, Params};
use crate::devices::DeviceEvent;
use crate::domain::receipt::{Lang, SignedReceipt};
use crate::domain::requests::HelpMail;
use crate::domain::Role;
use crate::domain::{Actor, Date, MailAddress, PersonId, RevokeReason, TokenState, Uai};
use crate::otp::{Algorithm, Digits, Period};
use crate::store::ops::{CredentialInfo, CredentialParams, OtpKind, RightRecord, TokenInfo};
use crate::store::verify::{VerifyAnswer, VerifyRequest};
use crate::store::StoreError;

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

// ----- unauthenticated ---------------------------------------------------------

pub async fn healthz(State(state): State<AppState>) -> Response {
    let store = Arc::clone(state.store());
    let healthy = blocking(move || {
        store
            .read(|tx| tx.districts().map(|_| ()))
            .map_err(ApiError::from)
    })
    .await;
    match healthy {
        Ok(()) => Json(json!({"status": "ok"})).into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable"})),
        )
            .into_response(),
    }
}

pub async fn metrics_text(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics().render(&state.devices().counters),
    )
        .into_response()
}

// ----- verify --------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    login: String,
    passcode: zeroize::Zeroizing<String>,
    /// The end user's address as the gateway saw it, for the per-source
    /// limiter. The gateway itself is one caller for everybody, so it is
    /// never the source.
    source: Option<String>,
}

/// Longest an answer is held for the required delay: below the server's
/// request timeout (15 s), so a held answer is never cut into a 408.
const MAX_HOLD: u64 = 10;

pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<VerifyBody>,
) -> Answer {
    caller
        .require(&state, &[Role::Gateway, Role::Admin], "verify")
        .await?;
    let started = Instant::now();
    let mut request = VerifyRequest::new(&body.login, &body.passcode);
    if let Some(source) = body.source.as_deref() {
        if source.is_empty() || source.len() > 128 || source.chars().any(char::is_control) {
            return Err(state
                .refuse(
                    caller.actor.clone(),
                    "verify",
                    ApiError::invalid("source", "1 to 128 printable characters"),
                )
                .await);
        }
        request = request.from_source(source);
    }
    drop(body);
    let pending = state.inner.verify.submit(request)?;
    // Awaited, not blocked on: the writer thread answers through a oneshot.
    let (reply, label) = pending.answer().await;
    state.metrics().verify_outcome(label, started.elapsed());
    match reply? {
        VerifyAnswer::Accept { rights } => {
            let rights: Vec<Value> = rights
                .iter()
                .map(|r| {
                    json!({
                        "school": r.school.as_str(),
                        "origin": r.origin.as_str(),
                        "until": date_opt(r.until),
                    })
                })
                .collect();
            ok(json!({"result": "accept", "rights": rights}))
        }
        // The caller itself is over its failure budget: a 429 about the
        // caller, which says nothing about the login or the passcode.
        VerifyAnswer::Reject { retry_after } if label == "source_limited" => Err(ApiError {
            retry_after: Some(retry_after.unwrap_or(1)),
            ..ApiError::rate_limited()
        }),
        VerifyAnswer::Reject { retry_after } => {
            // The required delay is served by holding the answer, never by a
            // field the caller could read.
            if let Some(seconds) = retry_after {
                let wait = seconds.min(MAX_HOLD);
                // Held for `wait` real seconds, or until the injected clock
                // has passed the retry time (a test clock moved forward); the
                // extra second keeps a whole-second system clock from ending
                // the hold early.
                let until = state
                    .inner
                    .clock
                    .now()
                    .saturating_add(wait)
                    .saturating_add(1);
                let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
                while tokio::time::Instant::now() < deadline && state.inner.clock.now() < until {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            ok(json!({"result": "reject"}))
        }
    }
}

// ----- API keys --------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKeyBody {
    name: String,
    role: String,
    district: Option<String>,
    readers: Option<Vec<String>>,
}

pub async fn create_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<NewKeyBody>,
) -> Answer {
    caller.require(&state, ADMIN, "manage API keys").await?;
    let store = Arc::clone(state.store());
    let created_key = blocking(move || {
        store
            .write(&caller.actor, "apikey.create", |tx| {
                let role = Role::parse(&body.role)?;
                tx.create_api_key(
                    &body.name,
                    role,
                    body.district.as_deref(),
                    body.readers.as_deref().unwrap_or(&[]),
                )
            })
            .map_err(ApiError::from)
    })
    .await?;
    created(json!({
        "id": created_key.record.id,
        "name": created_key.record.name,
        "role": created_key.record.role.as_str(),
        "key": created_key.key.as_str(),
    }))
}

pub async fn list_api_keys(State(state): State<AppState>, caller: Caller) -> Answer {
    caller.require(&state, ADMIN, "manage API keys").await?;
    let store = Arc::clone(state.store());
    let keys = blocking(move || store.read(|tx| tx.api_keys()).map_err(ApiError::from)).await?;
    ok(Value::Array(
        keys.iter()
            .map(|k| {
                json!({
                    "id": k.id, "name": k.name, "role": k.role.as_str(),
                    "district": k.district, "readers": k.readers,
                    "created_at": k.created_at, "revoked_at": k.revoked_at,
                })
            })
            .collect(),
    ))
}

pub async fn revoke_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Answer {
    caller.require(&state, ADMIN, "manage API keys").await?;
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("API key"))?;
    let store = Arc::clone(state.store());
    blocking(move || {
        store
            .write(&caller.actor, "apikey.revoke", |tx| tx.revoke_api_key(id))
            .map_err(ApiError::from)
    })
    .await?;
    state.forget_keys();
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ----- reference data ----------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistrictBody {
    code: String,
    name: String,
    inspector: String,
}

pub async fn add_district(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<DistrictBody>,
) -> Answer {
    caller.require(&state, ADMIN, "add a district").await?;
    let store = Arc::clone(state.store());
    let code = body.code.clone();
    blocking(move || {
        store
            .write(&caller.actor, "district.add", |tx| {
                let inspector = PersonId::parse(&body.inspector)?;
                tx.add_district(&body.code, &body.name, &inspector)
            })
            .map_err(ApiError::from)
    })
    .await?;
    created(json!({"code": code}))
}

pub async fn list_districts(State(state): State<AppState>, caller: Caller) -> Answer {
    caller
        .require(&state, DESK_OR_INSPECTOR, "list districts")
        .await?;
    let store = Arc::clone(state.store());
    let mine = caller.district.clone();
    let list = blocking(move || store.read(|tx| tx.districts()).map_err(ApiError::from)).await?;
    ok(Value::Array(
        list.iter()
            .filter(|d| caller.role != Role::Inspector || Some(&d.code) == mine.as_ref())
            .map(|d| json!({"code": d.code, "name": d.name, "inspector": d.inspector}))
            .collect(),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchoolBody {
    uai: String,
    name: String,
    district: String,
}

pub async fn add_school(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<SchoolBody>,
) -> Answer {
    caller.require(&state, ADMIN, "add a school").await?;
    let store = Arc::clone(state.store());
    let uai = blocking(move || {
        store
            .write(&caller.actor, "school.add", |tx| {
                let uai = Uai::parse(&body.uai)?;
                tx.add_school(&uai, &body.name, &body.district)?;
                Ok(uai)
            })
            .map_err(|e| match ApiError::from(e) {
                err if err.field == Some("school") => ApiError {
                    field: Some("uai"),
                    ..err
                },
                err => err,
            })
    })
    .await?;
    created(json!({"uai": uai.as_str()}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistrictFilter {
    district: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFilter {
    district: Option<String>,
    state: Option<String>,
}

/// An inspector's filter is always their own district.
fn effective_district(caller: &Caller, asked: Option<String>) -> Option<String> {
    if caller.role == Role::Inspector {
        caller.district.clone()
    } else {
        asked
    }
}

pub async fn list_schools(
    State(state): State<AppState>,
    caller: Caller,
    Params(filter): Params<DistrictFilter>,
) -> Answer {
    caller
        .require(&state, DESK_OR_INSPECTOR, "list schools")
        .await?;
    let district = effective_district(&caller, filter.district);
    let store = Arc::clone(state.store());
    let list = blocking(move || {
        store
            .read(|tx| tx.schools(district.as_deref()))
            .map_err(ApiError::from)
    })
    .await?;
    ok(Value::Array(
        list.iter()
            .map(|s| json!({"uai": s.uai, "name": s.name, "district": s.district}))
            .collect(),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonBody {
    id: String,
    full_name: String,
    mail: String,
}

pub async fn add_person(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<PersonBody>,
) -> Answer {
    caller.require(&state, DESK, "add a person").await?;
    let store = Arc::clone(state.store());
    let id = blocking(move || {
        store
            .write(&caller.actor, "person.add", |tx| {
                let id = PersonId::parse(&body.id)?;
                let mail = MailAddress::parse(&body.mail)?;
                tx.add_person(&id, &body.full_name, &mail)?;
                Ok(id)
            })
            .map_err(|e| match e {
                StoreError::Domain(
                    crate::domain::DomainError::SenderOutsideDomain
                    | crate::domain::DomainError::SchoolMailbox,
                ) => ApiError::invalid("mail", e.to_string()),
                e => ApiError::from(e),
            })
    })
    .await?;
    created(json!({"id": id.as_str()}))
}

pub async fn list_people(
    State(state): State<AppState>,
    caller: Caller,
    Params(filter): Params<DistrictFilter>,
) -> Answer {
    caller
        .require(&state, DESK_OR_INSPECTOR, "list people")
        .await?;
    let district = effective_district(&caller, filter.district);
    let store = Arc::clone(state.store());
    let list = blocking(move || {
        store
            .read(|tx| tx.people(district.as_deref()))
            .map_err(ApiError::from)
    })
    .await?;
    ok(Value::Array(
        list.iter()
            .map(
                |p| json!({"id": p.id.as_str(), "full_name": p.full_name, "mail": p.mail.as_str()}),
            )
            .collect(),
    ))
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

pub async fn show_person(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Answer {
    caller
        .require(&state, DESK_OR_INSPECTOR, "read a person")
        .await?;
    let id = scoped_person(&state, &caller, &id, "read a person").await?;
    let store = Arc::clone(state.store());
    let now = state.inner.clock.now();
    let value = blocking(move || {
        store
            .read(|tx| {
                let person = tx.person(&id)?;
                let rights: Vec<Value> =
                    tx.rights(&id)?.iter().map(|r| right_json(r, now)).collect();
                let token = tx
                    .tokens(None, None)?
                    .into_iter()
                    .find(|t| t.state.is_live() && t.holder.as_ref() == Some(&id))
                    .map(|t| json!({"serial": t.serial, "state": t.state.as_str()}));
                Ok(json!({
                    "id": person.id.as_str(),
                    "full_name": person.full_name,
                    "mail": person.mail.as_str(),
                    "rights": rights,
                    "token": token,
                }))
            })
            .map_err(ApiError::from)
    })
    .await?;
    ok(value)
}

pub async fn person_rights(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Answer {
    caller
        .require(&state, DESK_OR_INSPECTOR, "read rights")
        .await?;
    let id = scoped_person(&state, &caller, &id, "read rights").await?;
    let store = Arc::clone(state.store());
    let now = state.inner.clock.now();
    let rights = blocking(move || store.read(|tx| tx.rights(&id)).map_err(ApiError::from)).await?;
    ok(Value::Array(
        rights.iter().map(|r| right_json(r, now)).collect(),
    ))
}

// ----- rights ------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RightBody {
    person: String,
    school: String,
    from: String,
    until: Option<String>,
}

fn parse_right(body: &RightBody) -> Result<(PersonId, Uai, Date, Option<Date>), StoreError> {
    let person = PersonId::parse(&body.person)?;
    let school = Uai::parse(&body.school)?;
    let from = Date::parse(&body.from).map_err(|_| {
        StoreError::Domain(crate::domain::DomainError::BadIdentifier {
            what: "from",
            rule: "an existing day as YYYY-MM-DD",
        })
    })?;
    let until = body.until.as_deref().map(Date::parse).transpose()?;
    Ok((person, school, from, until))
}

pub async fn grant_appointment(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<RightBody>,
) -> Answer {
    caller
        .require(&state, ADMIN, "record an appointment")
        .await?;
    let store = Arc::clone(state.store());
    let id = blocking(move || {
        store
            .write(&caller.actor, "right.grant.appointment", |tx| {
                let (person, school, from, until) = parse_right(&body)?;
                tx.grant_appointment(&person, &school, from, until)
            })
            .map_err(ApiError::from)
    })
    .await?;
    created(json!({"id": id}))
}

/// The inspector of the district acts; an admin acts in that inspector's
/// name (the store lets only a district's inspector grant or end rights).
fn as_district_inspector(
    tx: &mut crate::store::Tx<'_>,
    caller: &Caller,
    district: &str,
) -> Result<(), StoreError> {
    if caller.role == Role::Admin {
        let inspector =
            tx.inspector_of_district(district)?
                .ok_or_else(|| StoreError::NotFound {
                    what: "inspector of district",
                    key: district.to_owned(),
                })?;
        tx.act_as(Actor::Inspector(inspector));
    }
    Ok(())
}

pub async fn grant_delegation(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<RightBody>,
) -> Answer {
    caller
        .require(
            &state,
            &[Role::Admin, Role::Inspector],
            "grant a delegation",
        )
        .await?;
    // Scope first: a school of another district is 404 for an inspector.
    if caller.role == Role::Inspector {
        if let Ok(uai) = Uai::parse(&body.school) {
            let store = Arc::clone(state.store());
            let district = blocking(move || {
                store
                    .read(|tx| match tx.district_of_school(&uai) {
                        Ok(d) => Ok(Some(d)),
                        Err(StoreError::NotFound { .. }) => Ok(None),
                        Err(e) => Err(e),
                    })
                    .map_err(ApiError::from)
            })
            .await?;
            if let Some(d) = district {
                caller
                    .scope(&state, Some(&d), "school", "grant a delegation")
                    .await?;
            }
        }
    }
    let store = Arc::clone(state.store());
    let id = blocking(move || {
        store
            .write(&caller.actor, "right.grant.delegation", |tx| {
                let (person, school, from, until) = parse_right(&body)?;
                let district = tx.district_of_school(&school)?;
                as_district_inspector(tx, &caller, &district)?;
                tx.grant_delegation(&person, &school, from, until)
            })
            .map_err(ApiError::from)
    })
    .await?;
    created(json!({"id": id}))
}

pub async fn end_right(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Answer {
    caller
        .require(&state, &[Role::Admin, Role::Inspector], "end a delegation")
        .await?;
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("right"))?;
    let store = Arc::clone(state.store());
    let district = blocking(move || {
        store
            .read(|tx| tx.district_of_right(id))
            .map_err(ApiError::from)
    })
    .await?
    .ok_or_else(|| ApiError::not_found("right"))?;
    caller
        .scope(&state, Some(&district), "right", "end a delegation")
        .await?;
    let store = Arc::clone(state.store());
    blocking(move || {
        store
            .write(&caller.actor, "right.end", |tx| {
                as_district_inspector(tx, &caller, &district)?;
                tx.end_delegation(id)
            })
            .map_err(ApiError::from)
    })
    .await?;
    ok(json!({"id": id, "ended": true}))
}

// ----- requests --------------------------------------------------------------------------

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReaderBody {
    reader: String,
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

// ----- devices -------------------------------------------------------------------------------

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

// ----- tokens ----------------------------------------------------------------------------------

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
        crate::oath::driver::PinState::TriesLeft(n) => Some(n),
        crate::oath::driver::PinState::Verified | crate::oath::driver::PinState::NotSet => None,
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

pub async fn token_receipts(
    State(state): State<AppState>,
    caller: Caller,
    Path(serial): Path<String>,
) -> Answer {
    caller
        .require(&state, DESK_OR_INSPECTOR, "read receipts")
        .await?;
    scoped_token(&state, &caller, &serial, "read receipts").await?;
    let store = Arc::clone(state.store());
    let (receipts, key) = blocking(move || {
        store
            .read(|tx| Ok((tx.receipts_of_token(&serial)?, tx.receipt_public_key())))
            .map_err(ApiError::from)
    })
    .await?;
    ok(Value::Array(
        receipts
            .iter()
            .map(|r| receipt_json(r.content.number, r, &key))
            .collect(),
    ))
}

// ----- receipts and reports ---------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptQuery {
    format: Option<String>,
    lang: Option<String>,
}

pub async fn show_receipt(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(query): Params<ReceiptQuery>,
) -> Answer {
    caller
        .require(&state, DESK_OR_INSPECTOR, "read a receipt")
        .await?;
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("receipt"))?;
    let lang = match query.lang.as_deref() {
        None | Some("fr") => Lang::Fr,
        Some("en") => Lang::En,
        Some(_) => {
            return Err(state
                .refuse(
                    caller.actor.clone(),
                    "read a receipt",
                    ApiError::invalid("lang", "expected fr or en"),
                )
                .await)
        }
    };
    if !matches!(
        query.format.as_deref(),
        None | Some("json" | "text" | "html")
    ) {
        return Err(state
            .refuse(
                caller.actor.clone(),
                "read a receipt",
                ApiError::invalid("format", "expected json, text or html"),
            )
            .await);
    }
    let store = Arc::clone(state.store());
    let (receipt, district, key) = blocking(move || {
        store
            .read(|tx| {
                Ok((
                    tx.receipt(id)?,
                    tx.district_of_receipt(id)?,
                    tx.receipt_public_key(),
                ))
            })
            .map_err(ApiError::from)
    })
    .await?;
    let receipt = receipt.ok_or_else(|| ApiError::not_found("receipt"))?;
    caller
        .scope(&state, district.as_deref(), "receipt", "read a receipt")
        .await?;
    match query.format.as_deref() {
        None | Some("json") => ok(receipt_json(receipt.content.number, &receipt, &key)),
        Some("text") => Ok((
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            receipt.render_text(lang),
        )
            .into_response()),
        Some("html") => Ok((
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            receipt.render_html(lang),
        )
            .into_response()),
        Some(_) => Err(ApiError::invalid("format", "expected json, text or html")),
    }
}

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

pub async fn audit_verify(State(state): State<AppState>, caller: Caller) -> Answer {
    caller.require(&state, ADMIN, "verify the audit").await?;
    let store = Arc::clone(state.store());
    let result = blocking(move || store.verify_audit().map_err(ApiError::from)).await?;
    match result {
        Ok(head) => ok(
            json!({"ok": true, "entries": head.seq, "head": data_encoding::HEXLOWER.encode(&head.mac)}),
        ),
        Err(broken) => {
            let first_bad = match &broken {
                crate::store::AuditBreak::BadMac { seq }
                | crate::store::AuditBreak::Unreadable { seq } => *seq,
                crate::store::AuditBreak::Gap { expected, .. } => *expected,
            };
            ok(json!({"ok": false, "first_bad": first_bad, "why": broken.to_string()}))
        }
    }
}

// ----- events ---------------------------------------------------------------------------------------

fn event_json(event: &DeviceEvent) -> (&'static str, Value) {
    match event {
        DeviceEvent::Inserted {
            reader,
            serial,
            profile,
        } => (
            "device",
            json!({"reader": reader, "kind": "inserted", "serial": serial, "profile": profile}),
        ),
        DeviceEvent::Removed { reader } => ("device", json!({"reader": reader, "kind": "removed"})),
        DeviceEvent::TokenState { serial, state, .. } => {
            ("token", json!({"serial": serial, "state": state.as_str()}))
        }
    }
}

fn event_reader(event: &DeviceEvent) -> Option<&str> {
    match event {
        DeviceEvent::Inserted { reader, .. } | DeviceEvent::Removed { reader } => Some(reader),
        DeviceEvent::TokenState { reader, .. } => reader.as_deref(),
    }
}

pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    caller
        .require(
            &state,
            &[Role::Admin, Role::Desk, Role::Station],
            "follow events",
        )
        .await?;
    let receiver = state.devices().subscribe();
    let readers = (caller.role == Role::Station).then(|| caller.readers.clone());
    let stop = state.inner.stop.subscribe();
    let stream = futures_util::stream::unfold((receiver, stop), move |(mut receiver, mut stop)| {
        let readers = readers.clone();
        async move {
            loop {
                let next = tokio::select! {
                    next = receiver.recv() => next,
                    _ = stop.wait_for(|stopping| *stopping) => return None,
                };
                match next {
                    Ok(event) => {
                        if let Some(mine) = &readers {
                            if !event_reader(&event).is_some_and(|r| mine.iter().any(|m| m == r)) {
                                continue;
                            }
                        }
                        let (name, data) = event_json(&event);
                        let sse = SseEvent::default().event(name).data(data.to_string());
                        return Some((Ok(sse), (receiver, stop)));
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

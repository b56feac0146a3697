//! Reference data: districts, schools, people.

use std::sync::Arc;

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{blocking, ApiError, AppState, Body, Caller, Params};
use crate::domain::Role;
use crate::domain::{MailAddress, PersonId, Uai};
use crate::store::StoreError;

use super::*;

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

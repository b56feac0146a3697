//! Reference data: districts, schools and people.

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{json, Value};

use super::rights::right_json;
use super::{created, effective_district, ok, scoped_person, Answer, DistrictFilter};
use crate::api::{ApiError, AppState, Body, Caller, Operation, Params, Permit};
use crate::domain::{DistrictRecord, Person, SchoolRecord};
use crate::domain::{DomainError, MailAddress, PersonId, Role, Uai};
use crate::store::{StoreError, Tx};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DistrictBody {
    code: String,
    name: String,
    inspector: String,
}

pub(super) async fn add_district(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<DistrictBody>,
) -> Answer {
    let permit = Permit::check(&state, caller, Operation::AddDistrict).await?;
    let code = body.code.clone();
    permit
        .write(move |tx, _| {
            let inspector = PersonId::parse(&body.inspector)?;
            tx.add_district(&body.code, &body.name, &inspector)
        })
        .await?;
    created(json!({"code": code}))
}

pub(super) async fn list_districts(State(state): State<AppState>, caller: Caller) -> Answer {
    let permit = Permit::check(&state, caller, Operation::ListDistricts).await?;
    let list = permit.read(|tx| tx.districts()).await?;
    let caller = permit.caller();
    ok(Value::Array(
        list.iter()
            .filter(|d| caller.role != Role::Inspector || Some(&d.code) == caller.district.as_ref())
            .map(district_json)
            .collect(),
    ))
}

fn district_json(d: &DistrictRecord) -> Value {
    json!({"code": d.code, "name": d.name, "inspector": d.inspector})
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SchoolBody {
    uai: String,
    name: String,
    district: String,
}

pub(super) async fn add_school(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<SchoolBody>,
) -> Answer {
    let permit = Permit::check(&state, caller, Operation::AddSchool).await?;
    let uai = permit
        .write_mapping(
            move |tx, _| {
                let uai = Uai::parse(&body.uai)?;
                tx.add_school(&uai, &body.name, &body.district)?;
                Ok(uai)
            },
            // The body names the school's code `uai`.
            |e| match ApiError::from(e) {
                err if err.field == Some("school") => ApiError {
                    field: Some("uai"),
                    ..err
                },
                err => err,
            },
        )
        .await?;
    created(json!({"uai": uai.as_str()}))
}

pub(super) async fn list_schools(
    State(state): State<AppState>,
    caller: Caller,
    Params(filter): Params<DistrictFilter>,
) -> Answer {
    let permit = Permit::check(&state, caller, Operation::ListSchools).await?;
    list_in_district(&permit, filter, |tx, d| tx.schools(d), school_json).await
}

/// A list of one district or all, read in the caller's scope.
async fn list_in_district<T: Send + 'static>(
    permit: &Permit,
    filter: DistrictFilter,
    read: fn(&mut Tx<'_>, Option<&str>) -> Result<Vec<T>, StoreError>,
    render: fn(&T) -> Value,
) -> Answer {
    let district = effective_district(permit.caller(), filter.district);
    let list = permit.read(move |tx| read(tx, district.as_deref())).await?;
    ok(Value::Array(list.iter().map(render).collect()))
}

fn school_json(s: &SchoolRecord) -> Value {
    json!({"uai": s.uai, "name": s.name, "district": s.district})
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PersonBody {
    id: String,
    full_name: String,
    mail: String,
}

pub(super) async fn add_person(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<PersonBody>,
) -> Answer {
    let permit = Permit::check(&state, caller, Operation::AddPerson).await?;
    let id = permit
        .write_mapping(
            move |tx, _| {
                let id = PersonId::parse(&body.id)?;
                let mail = MailAddress::parse(&body.mail)?;
                tx.add_person(&id, &body.full_name, &mail)?;
                Ok(id)
            },
            // A mailbox the domain refuses is a bad `mail`, not a conflict.
            |e| match e {
                StoreError::Domain(
                    DomainError::SenderOutsideDomain | DomainError::SchoolMailbox,
                ) => ApiError::invalid("mail", e.to_string()),
                e => ApiError::from(e),
            },
        )
        .await?;
    created(json!({"id": id.as_str()}))
}

pub(super) async fn list_people(
    State(state): State<AppState>,
    caller: Caller,
    Params(filter): Params<DistrictFilter>,
) -> Answer {
    let permit = Permit::check(&state, caller, Operation::ListPeople).await?;
    list_in_district(&permit, filter, |tx, d| tx.people(d), person_json).await
}

fn person_json(p: &Person) -> Value {
    json!({"id": p.id.as_str(), "full_name": p.full_name, "mail": p.mail.as_str()})
}

pub(super) async fn show_person(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Answer {
    let permit = Permit::check(&state, caller, Operation::ShowPerson).await?;
    let id = scoped_person(&permit, &id).await?;
    let now = state.clock().now();
    let zone = state.store().time_zone().clone();
    let person = permit
        .read(move |tx| {
            let person = tx.person(&id)?;
            let rights: Vec<Value> = tx
                .rights(&id)?
                .iter()
                .map(|r| right_json(r, now, &zone))
                .collect();
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
        .await?;
    ok(person)
}

//! Rights: appointments, delegations, their end, a person's rights.

use std::sync::Arc;

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{blocking, ApiError, AppState, Body, Caller};
use crate::domain::Role;
use crate::domain::{Actor, Date, PersonId, Uai};
use crate::store::StoreError;

use super::*;

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

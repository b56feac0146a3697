//! Reference data: districts, schools and people.

use std::convert::identity;

use axum::extract::Path;
use serde::Serialize;

use super::rights::wire_right;
use super::{created, effective_district, ok, scoped_person, with_total, Answer};
use crate::api::{ApiError, Body, Params, Permit};
use crate::domain::Person;
use crate::domain::{DomainError, MailAddress, PersonId, Role, Uai};
use crate::store::{StoreError, Tx};
use crate::wire::people::{
    CreatedDistrict, CreatedPerson, CreatedSchool, DistrictBody, DistrictEntry, DistrictFilter,
    LiveToken, PeopleFilter, PersonBody, PersonDetail, PersonEntry, PersonLeft, SchoolBody,
};

pub(super) async fn add_district(permit: Permit, Body(body): Body<DistrictBody>) -> Answer {
    let code = body.code.clone();
    permit
        .write(move |tx, _| {
            let inspector = PersonId::parse(&body.inspector)?;
            tx.add_district(&body.code, &body.name, &inspector)
        })
        .await?;
    created(CreatedDistrict { code })
}

pub(super) async fn list_districts(permit: Permit) -> Answer {
    let list = permit.read(|tx| tx.districts()).await?;
    let caller = permit.caller();
    let list: Vec<DistrictEntry> = list
        .into_iter()
        .filter(|d| {
            caller.api_key.role != Role::Inspector
                || Some(&d.code) == caller.api_key.district.as_ref()
        })
        .collect();
    ok(list)
}

pub(super) async fn add_school(permit: Permit, Body(body): Body<SchoolBody>) -> Answer {
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
    created(CreatedSchool {
        uai: uai.as_str().to_owned(),
    })
}

pub(super) async fn list_schools(permit: Permit, Params(filter): Params<DistrictFilter>) -> Answer {
    list_in_district(&permit, filter, |tx, d| tx.schools(d), identity).await
}

/// A list of one district or all, read in the caller's scope.
async fn list_in_district<T: Send + 'static, E: Serialize>(
    permit: &Permit,
    filter: DistrictFilter,
    read: fn(&mut Tx<'_>, Option<&str>) -> Result<Vec<T>, StoreError>,
    entry: fn(T) -> E,
) -> Answer {
    let district = effective_district(permit.caller(), filter.district);
    let list = permit.read(move |tx| read(tx, district.as_deref())).await?;
    ok(list.into_iter().map(entry).collect::<Vec<E>>())
}

pub(super) async fn add_person(permit: Permit, Body(body): Body<PersonBody>) -> Answer {
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
    created(CreatedPerson {
        id: id.as_str().to_owned(),
    })
}

pub(super) async fn list_people(permit: Permit, Params(filter): Params<PeopleFilter>) -> Answer {
    let district = effective_district(permit.caller(), filter.district);
    let q = filter.q.unwrap_or_default();
    let school = filter.school.unwrap_or_default();
    let (offset, limit) = (filter.offset.unwrap_or(0), filter.limit.unwrap_or(u64::MAX));
    let left = filter.left;
    let page = permit
        .read(move |tx| tx.people_page(&q, &school, left, district.as_deref(), (offset, limit)))
        .await?;
    let list: Vec<PersonEntry> = page.items.into_iter().map(person_entry).collect();
    with_total(list, page.total)
}

fn person_entry(p: Person) -> PersonEntry {
    PersonEntry {
        full_name: p.full_name,
        id: p.id.as_str().to_owned(),
        mail: p.mail.as_str().to_owned(),
    }
}

pub(super) async fn show_person(permit: Permit, Path(id): Path<String>) -> Answer {
    let id = scoped_person(&permit, &id).await?;
    let now = permit.state().clock().now();
    let zone = permit.state().store().time_zone().clone();
    let person = permit
        .read(move |tx| {
            let person = tx.person(&id)?;
            let left = tx.has_left(&id)?;
            let rights = tx
                .rights(&id)?
                .iter()
                .map(|r| wire_right(r, now, &zone))
                .collect();
            let token = tx
                .tokens_of(&id)?
                .into_iter()
                .find(|t| t.state.is_live())
                .map(|t| LiveToken {
                    serial: t.serial,
                    state: t.state,
                });
            let entry = person_entry(person);
            Ok(PersonDetail {
                full_name: entry.full_name,
                id: entry.id,
                left,
                mail: entry.mail,
                rights,
                token,
            })
        })
        .await?;
    ok(person)
}

/// An admin records that a person left: their staff API keys stop working
/// at once (the key cache is forgotten).
pub(super) async fn person_leaves(permit: Permit, Path(id): Path<String>) -> Answer {
    let person = PersonId::parse(&id).map_err(|_| ApiError::not_found("person"))?;
    let id = person.to_string();
    permit.write(move |tx, _| tx.mark_left(&person)).await?;
    permit.state().forget_keys();
    ok(PersonLeft { id, left: true })
}

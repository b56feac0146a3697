//! Rights: a person's rights, appointments, delegations and their end.

use axum::body::Bytes;
use axum::extract::Path;

use super::{created, date_opt, ok, scoped_person, with_total, Answer};
use crate::api::{ApiError, Body, Caller, Params, Permit};
use crate::domain::RightRecord;
use crate::domain::{Actor, Date, DomainError, EndReason, PersonId, RightOrigin, Role, Uai};
use crate::store::ops::AppointmentQuery;
use crate::store::{StoreError, Tx};
use crate::wire::rights::{
    AppointmentEntry, AppointmentFilter, EndRightBody, Right, RightBody, RightEnded,
};
use crate::wire::CreatedId;

pub(super) fn wire_right(r: &RightRecord, now: u64, zone: &jiff::tz::TimeZone) -> Right {
    Right {
        from: r.period.from.to_string(),
        id: r.id,
        in_force: r.period.in_force_at(now, zone),
        origin: r.origin,
        school: r.school.as_str().to_owned(),
        until: date_opt(r.period.until),
        ended_at: r.period.ended_at.map(crate::domain::calendar::rfc3339),
        end_reason: r.end_reason.map(|e| e.as_str().to_owned()),
    }
}

pub(super) async fn person_rights(permit: Permit, Path(id): Path<String>) -> Answer {
    let id = scoped_person(&permit, &id).await?;
    let now = permit.state().clock().now();
    let rights = permit.read(move |tx| tx.rights(&id)).await?;
    let rights: Vec<Right> = rights
        .iter()
        .map(|r| wire_right(r, now, permit.state().store().time_zone()))
        .collect();
    ok(rights)
}

fn end_reason(text: &str) -> Result<EndReason, StoreError> {
    Ok(EndReason::parse(text)?)
}

fn parse_right(body: &RightBody) -> Result<(PersonId, Uai, Date, Option<Date>), StoreError> {
    let person = PersonId::parse(&body.person)?;
    let school = Uai::parse(&body.school)?;
    let from = Date::parse(&body.from).map_err(|_| {
        StoreError::Domain(DomainError::BadIdentifier {
            what: "from",
            rule: "an existing day as YYYY-MM-DD",
        })
    })?;
    let until = body.until.as_deref().map(Date::parse).transpose()?;
    Ok((person, school, from, until))
}

pub(super) async fn grant_appointment(permit: Permit, Body(body): Body<RightBody>) -> Answer {
    let id = permit
        .write(move |tx, _| {
            let (person, school, from, until) = parse_right(&body)?;
            let ends = body.ends_previous.as_deref().map(end_reason).transpose()?;
            tx.grant_right_ending(
                RightOrigin::Appointment,
                &person,
                &school,
                (from, until),
                ends,
            )
        })
        .await?;
    created(CreatedId { id })
}

/// The inspector of the district acts; an admin acts in that inspector's
/// name (the store lets only a district's inspector grant or end rights).
fn as_district_inspector(
    tx: &mut Tx<'_>,
    caller: &Caller,
    district: &str,
) -> Result<(), StoreError> {
    if caller.api_key.role == Role::Admin {
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

pub(super) async fn grant_delegation(permit: Permit, Body(body): Body<RightBody>) -> Answer {
    // Scope first: a school of another district is 404 for an inspector.
    if permit.caller().api_key.role == Role::Inspector {
        if let Ok(uai) = Uai::parse(&body.school) {
            let district = permit
                .read(move |tx| match tx.district_of_school(&uai) {
                    Ok(d) => Ok(Some(d)),
                    Err(StoreError::NotFound { .. }) => Ok(None),
                    Err(e) => Err(e),
                })
                .await?;
            if let Some(d) = district {
                permit.scope(Some(&d), "school").await?;
            }
        }
    }
    let id = permit
        .write(move |tx, caller| {
            let (person, school, from, until) = parse_right(&body)?;
            if body.ends_previous.is_some() {
                return Err(DomainError::BadIdentifier {
                    what: "ends_previous",
                    rule: "only an appointment ends the previous one",
                }
                .into());
            }
            let district = tx.district_of_school(&school)?;
            as_district_inspector(tx, caller, &district)?;
            tx.grant_right(RightOrigin::Delegation, &person, &school, from, until)
        })
        .await?;
    created(CreatedId { id })
}

/// The body of `POST /v1/rights/{id}/end`: empty (a delegation ended with
/// no reason) or `{"reason", "on"?}` (a node on PostgreSQL reads it alike).
pub(in crate::api) fn end_right_body(bytes: &[u8]) -> Result<EndRightBody, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(EndRightBody::default());
    }
    serde_json::from_slice(bytes).map_err(|_| {
        ApiError::bad_request("malformed request body: expected {\"reason\", \"on\"?}")
    })
}

pub(super) async fn end_right(permit: Permit, Path(id): Path<String>, bytes: Bytes) -> Answer {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("right"))?;
    let body = end_right_body(&bytes)?;
    let (district, origin) = permit
        .read(move |tx| Ok(tx.right(id)?.map(|r| (r.district, r.origin))))
        .await?
        .ok_or_else(|| ApiError::not_found("right"))?;
    permit.scope(Some(&district), "right").await?;
    permit
        .write(move |tx, caller| {
            let reason = body.reason.as_deref().map(end_reason).transpose()?;
            let on = body
                .on
                .as_deref()
                .map(|d| {
                    Date::parse(d).map_err(|_| DomainError::BadIdentifier {
                        what: "on",
                        rule: "an existing day as YYYY-MM-DD",
                    })
                })
                .transpose()?;
            if origin == RightOrigin::Delegation {
                as_district_inspector(tx, caller, &district)?;
            }
            tx.end_right(id, reason, on)
        })
        .await?;
    ok(RightEnded { ended: true, id })
}

/// Every appointment, filtered and paged (the admin's list).
pub(super) async fn list_appointments(
    permit: Permit,
    Params(filter): Params<AppointmentFilter>,
) -> Answer {
    let query = AppointmentQuery {
        school: filter.school.unwrap_or_default(),
        person: filter.person.unwrap_or_default(),
        in_force: filter.in_force,
        offset: filter.offset.unwrap_or(0),
        limit: filter.limit.unwrap_or(u64::MAX),
    };
    let page = permit.read(move |tx| tx.appointment_page(&query)).await?;
    let list: Vec<AppointmentEntry> = page
        .items
        .into_iter()
        .map(|a| AppointmentEntry {
            end_reason: a.right.end_reason.map(|e| e.as_str().to_owned()),
            ended_at: a
                .right
                .period
                .ended_at
                .map(crate::domain::calendar::rfc3339),
            from: a.right.period.from.to_string(),
            full_name: a.full_name,
            id: a.right.id,
            in_force: a.in_force,
            person: a.right.person.as_str().to_owned(),
            school: a.right.school.as_str().to_owned(),
            school_name: a.school_name,
            until: date_opt(a.right.period.until),
        })
        .collect();
    with_total(list, page.total)
}

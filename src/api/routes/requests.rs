//! Key requests and replacement requests.

use axum::extract::Path;

use super::devices::serial_at;
use super::tokens::prepared_token;
use super::{created, ok, scoped_person, Answer};
use crate::api::{ApiError, Body, Permit};
use crate::domain::calendar::rfc3339;
use crate::domain::requests::HelpMail;
use crate::domain::Role;
use crate::domain::{MailAddress, PersonId, RevokeReason};
use crate::wire::devices::ReaderBody;
use crate::wire::requests::{KeyRequestBody, KeyRequestEntry, ReplacementBody, ReplacementEntry};
use crate::wire::CreatedId;

pub(super) async fn request_key(permit: Permit, Body(body): Body<KeyRequestBody>) -> Answer {
    let holder = scoped_person(&permit, &body.holder).await?;
    let id = permit.write(move |tx, _| tx.request_key(&holder)).await?;
    created(CreatedId { id })
}

/// The desk sees the open requests; an inspector their own, with status.
pub(super) async fn list_key_requests(permit: Permit) -> Answer {
    let list = if permit.caller().api_key.role == Role::Inspector {
        permit.read_as_caller(|tx| tx.my_key_requests()).await?
    } else {
        permit.read(|tx| tx.key_requests_open()).await?
    };
    let list: Vec<KeyRequestEntry> = list
        .into_iter()
        .map(|r| KeyRequestEntry {
            district: r.district,
            holder: r.holder.as_str().to_owned(),
            id: r.id,
            requested_at: rfc3339(r.created_at),
            status: status(r.token.is_some()),
            token: r.token,
        })
        .collect();
    ok(list)
}

fn status(fulfilled: bool) -> String {
    if fulfilled { "fulfilled" } else { "open" }.to_owned()
}

pub(super) async fn list_replacements(permit: Permit) -> Answer {
    let list = permit.read(|tx| tx.replacement_requests()).await?;
    let list: Vec<ReplacementEntry> = list
        .into_iter()
        .map(|r| ReplacementEntry {
            holder: r.holder,
            id: r.id,
            old_token: r.old_token,
            reason: r.reason,
            received_at: rfc3339(r.received_at),
            status: status(r.new_token.is_some()),
            new_token: r.new_token,
        })
        .collect();
    ok(list)
}

pub(super) async fn file_replacement(permit: Permit, Body(body): Body<ReplacementBody>) -> Answer {
    let (id, old) = permit
        .write(move |tx, _| {
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
        .await?;
    if let Some(old) = old {
        permit.token_changed(&old.serial, old.state);
    }
    created(CreatedId { id })
}

pub(super) async fn prepare_replacement(
    permit: Permit,
    Path(id): Path<String>,
    Body(body): Body<ReaderBody>,
) -> Answer {
    let request: i64 = id
        .parse()
        .map_err(|_| ApiError::not_found("replacement request"))?;
    let prepared = permit
        .on_devices(move |devices, permit| {
            let serial = serial_at(devices, &body.reader)?;
            let holder = devices
                .store()
                .read(|tx| tx.replacement_holder(request))
                .map_err(ApiError::from)?;
            devices
                .prepare(
                    &permit.caller().actor,
                    &body.reader,
                    &serial,
                    &holder,
                    devices.default_params_for(&body.reader),
                    Some(request),
                )
                .map_err(ApiError::from)
        })
        .await?;
    ok(prepared_token(&prepared))
}

//! Key requests and replacement requests.

use axum::extract::Path;

use super::devices::serial_at;
use super::tokens::prepared_token;
use super::{created, ok, scoped_person, Answer};
use crate::api::{ApiError, Body, Permit};
use crate::domain::requests::HelpMail;
use crate::domain::{MailAddress, PersonId, RevokeReason};
use crate::wire::devices::ReaderBody;
use crate::wire::requests::{KeyRequestBody, KeyRequestEntry, ReplacementBody};
use crate::wire::CreatedId;

pub(super) async fn request_key(permit: Permit, Body(body): Body<KeyRequestBody>) -> Answer {
    let holder = scoped_person(&permit, &body.holder).await?;
    let id = permit.write(move |tx, _| tx.request_key(&holder)).await?;
    created(CreatedId { id })
}

pub(super) async fn list_key_requests(permit: Permit) -> Answer {
    let open = permit.read(|tx| tx.open_key_requests()).await?;
    let open: Vec<KeyRequestEntry> = open
        .into_iter()
        .map(|(id, holder, district)| KeyRequestEntry {
            district,
            holder: holder.as_str().to_owned(),
            id,
        })
        .collect();
    ok(open)
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

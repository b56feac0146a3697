//! A forgotten PIN (docs/forgotten-pin.md): the inspector's approval and
//! the station's reset. The rules are the store's
//! (`store::ops::forgotten_pin`); the device step is `devices::forgotten_pin`.

use axum::extract::Path;

use super::tokens::scoped_token;
use super::{ok, Answer};
use crate::api::{ApiError, Body, Permit};
use crate::domain::calendar::rfc3339;
use crate::domain::TokenState;
use crate::wire::pin_reset::{PinResetAnswer, PinResetApprovalBody, PinResetApproved};
use crate::wire::tokens::ActivateBody;

pub(super) async fn approve_pin_reset(
    permit: Permit,
    Path(serial): Path<String>,
    Body(body): Body<PinResetApprovalBody>,
) -> Answer {
    scoped_token(&permit, &serial).await?;
    let hours = body.hours;
    let approval = permit
        .write(move |tx, _| tx.approve_pin_reset(&serial, hours))
        .await?;
    ok(PinResetApproved {
        serial: approval.serial,
        holder: approval.holder.to_string(),
        approval: approval.id,
        expires_at: rfc3339(approval.expires_at),
    })
}

pub(super) async fn forgotten_pin(
    permit: Permit,
    Path(serial): Path<String>,
    Body(body): Body<ActivateBody>,
) -> Answer {
    permit.at_reader(&body.reader).await?;
    let s = serial.clone();
    let (done, device_pin) = permit
        .on_devices(move |devices, _| {
            devices
                .reset_forgotten_pin(&body.reader, &s, &body.pin, body.typed.as_deref())
                .map_err(ApiError::from)
        })
        .await?;
    permit.token_changed(&serial, TokenState::Active);
    ok(PinResetAnswer {
        serial,
        device_pin,
        approval: done.approval,
        signature: data_encoding::BASE64.encode(&done.slip.signature),
        slip: done.slip.text,
    })
}

//! Devices: the tokens present at readers, a code read from one, a touch of
//! the simulated touch key.

use axum::extract::Path;

use super::{ok, Answer};
use crate::api::{ApiError, Permit};
use crate::devices::{DeviceError, DeviceManager, Present};
use crate::domain::Role;
use crate::domain::TokenInfo;
use crate::store::StoreError;
use crate::wire::devices::{DeviceCode, DeviceEntry, Touched};

/// The serial of the token at `reader`, or `device_absent`.
pub(super) fn serial_at(devices: &DeviceManager, reader: &str) -> Result<String, ApiError> {
    devices
        .present()
        .into_iter()
        .find(|p| p.reader == reader)
        .and_then(|p| p.serial)
        .ok_or_else(|| {
            ApiError::from(DeviceError::Absent {
                reader: reader.to_owned(),
                serial: "-".into(),
            })
        })
}

pub(super) async fn list_devices(permit: Permit) -> Answer {
    let list = permit
        .on_devices(|devices, permit| {
            let caller = permit.caller();
            let mut out = Vec::new();
            for p in devices.present() {
                if caller.api_key.role == Role::Station
                    && !caller.api_key.readers.contains(&p.reader)
                {
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
                out.push(device_entry(p, token.as_ref()));
            }
            Ok(out)
        })
        .await?;
    ok(list)
}

fn device_entry(p: Present, token: Option<&TokenInfo>) -> DeviceEntry {
    DeviceEntry {
        holder: token.and_then(|t| t.holder.as_ref().map(|h| h.as_str().to_owned())),
        present: true,
        profile: p.profile,
        reader: p.reader,
        serial: p.serial,
        state: token.map(|t| t.state),
    }
}

pub(super) async fn device_code(permit: Permit, Path(reader): Path<String>) -> Answer {
    let (serial, code) = permit
        .on_devices(move |devices, _| {
            let serial = serial_at(devices, &reader)?;
            let code = devices
                .read_code(&reader, &serial)
                .map_err(ApiError::from)?;
            Ok((serial, code))
        })
        .await?;
    ok(DeviceCode { code, serial })
}

/// Touches the simulated key at `reader` and answers what it typed, as a
/// holder's finger would. Possession with a typed code goes through the
/// token routes' `"typed"`.
pub(super) async fn device_touch(permit: Permit, Path(reader): Path<String>) -> Answer {
    let (serial, typed) = permit
        .on_device(move |devices, _| devices.touch_simulated(&reader))
        .await?;
    ok(Touched { serial, typed })
}

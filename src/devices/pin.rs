//! The desk's unblock of a device PIN (`docs/devices.md`, `docs/security.md`).
//!
//! Semantics: the desk restores the token's PIN retry counter with the
//! resetting code keyward sealed at activation, and **leaves the PIN value
//! as it is** (RESET RETRY COUNTER without a new PIN). The holder's PIN is the
//! holder's secret: the desk never learns it, never chooses it, and never
//! types one. Resetting to a random PIN instead would leave a token whose PIN
//! nobody knows (changing it needs the old one) or would force keyward to
//! keep that PIN; resetting to a PIN the desk types would make the desk know
//! the holder's PIN. After the unblock the holder has the full number of
//! tries again with the PIN they chose at the station, and may change it
//! there (CHANGE REFERENCE DATA with the old PIN) as after any activation.
//!
//! Refusals leave the token and the store unchanged: a token not at the
//! reader (or another token there), a profile without a device PIN with a
//! retry counter, a PIN without a resetting code (a Nitrokey 3: only a full
//! reset recovers it), a token without a sealed resetting code. The
//! unseal and the audit entry are one store transaction, rolled back if the
//! token refuses the code.

use super::operations::{puk_from_seed, StepFailure};
use super::{DeviceError, DeviceManager};
use crate::domain::Actor;
use crate::oath::driver::PinState;

impl DeviceManager {
    /// Unblocks the device PIN of the token `serial` at `reader` (desk):
    /// restores its retry counter, keeping the holder's PIN. Returns the PIN
    /// state afterwards (the tries the holder has).
    pub fn unblock_pin(
        &self,
        actor: &Actor,
        reader: &str,
        serial: &str,
    ) -> Result<PinState, DeviceError> {
        let family = self.device_at(reader, serial)?;
        if !family.takes_pin() {
            return Err(family.unsupported("a device PIN with a retry counter"));
        }
        if !family.pin_has_resetting_code() {
            return Err(DeviceError::NoResettingCode {
                profile: family.profile_id().to_owned(),
            });
        }
        let state = self.write_with_device_step(actor, "token.device_pin.unblock", |tx| {
            let puk = puk_from_seed(&tx.open_device_puk(serial)?)?;
            family.reset_pin(&puk).map_err(StepFailure::Device)
        })?;
        tracing::info!(%reader, %serial, "device PIN unblocked");
        Ok(state)
    }
}

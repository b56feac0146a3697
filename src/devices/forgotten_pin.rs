//! A forgotten PIN reset at a station (docs/forgotten-pin.md): the store's
//! [`Tx::reset_forgotten_pin`](crate::store::Tx::reset_forgotten_pin) holds
//! every rule (the inspector's approval, possession, the PIN policy, the new
//! verifier, the signed slip); this shell reads the possession code from the
//! token at the station's reader and, on a token with a device PIN, resets
//! that PIN to the new one with the sealed resetting code inside the same
//! transaction, so a token that refuses changes nothing in the store.
//!
//! A token whose PIN has no resetting code (a Nitrokey 3) is refused before
//! anything is read or written: only a full reset recovers it.

use super::operations::{puk_from_seed, StepFailure};
use super::{DeviceError, DeviceManager};
use crate::apdu::pin::PinValue;
use crate::domain::{Actor, DomainError, TokenState};
use crate::store::ops::PinResetDone;
use crate::store::StoreError;

impl DeviceManager {
    /// The holder of key `serial`, at `reader`, sets `pin` in place of the
    /// PIN they forgot. `typed`: what a touch key typed. Returns what the
    /// store did (the slip) and whether a device PIN was reset.
    pub fn reset_forgotten_pin(
        &self,
        reader: &str,
        serial: &str,
        pin: &str,
        typed: Option<&str>,
    ) -> Result<(PinResetDone, bool), DeviceError> {
        let family = self.device_at(reader, serial)?;
        let token = self.store.read(|tx| tx.token(serial))?;
        let holder = token
            .holder
            .ok_or(StoreError::Domain(DomainError::TransitionRefused {
                from: token.state,
                action: "reset a forgotten PIN",
            }))?;
        let actor = Actor::Holder(holder);
        let takes_pin = family.takes_pin();
        if takes_pin && !family.pin_has_resetting_code() {
            return Err(DeviceError::NoResettingCode {
                profile: family.profile_id().to_owned(),
            });
        }
        // Policy first: a PIN that would be refused never reaches the token,
        // and no code is read (so none is consumed).
        self.store
            .write(&actor, "credential.pin_reset_forgotten", |_| {
                crate::crypto::Pin::parse(pin)?;
                Ok(())
            })?;
        let new_pin =
            PinValue::new(pin.as_bytes()).ok_or(family.unsupported("a PIN of this length"))?;
        let code = family.possession_code(&self.store, self.clock.now(), serial, typed)?;
        let done = self.write_with_device_step(&actor, "credential.pin_reset_forgotten", |tx| {
            let done = tx.reset_forgotten_pin(serial, &code, pin, takes_pin)?;
            if let Some(seed) = &done.device_puk {
                let puk = puk_from_seed(seed)?;
                family
                    .reset_pin_to(&puk, &new_pin)
                    .map_err(StepFailure::Device)?;
            }
            Ok(done)
        })?;
        let mut done = done;
        done.device_puk = None;
        tracing::info!(%reader, %serial, device_pin = takes_pin, "forgotten PIN reset");
        self.token_changed(serial, TokenState::Active);
        Ok((done, takes_pin))
    }
}

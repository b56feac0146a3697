//! The seam between the device manager and a family of tokens: what a
//! family does to its token (write and prove a credential, take an
//! uncommitted one off again, read or check a possession code, set and
//! unblock a device PIN, wipe), so that one prepare flow, one recovery flow
//! (which also undoes a failed write) and one wipe flow in
//! `devices/operations.rs` drive every family (`docs/devices.md`).
//!
//! The families: OATH tokens over PC/SC ([`super::oath::OathToken`]) and
//! YubiKey OTP slots over HID ([`super::hid_key::TouchKey`]).

use std::sync::{Arc, Mutex};

use super::DeviceError;
use crate::apdu::pin::PinValue;
use crate::domain::PendingWrite;
use crate::domain::{PersonId, UnixTime};
use crate::hid::SimulatedKey;
use crate::oath::driver::PinState;
use crate::otp::CredentialParams;
use crate::store::{Store, StoreError, Tx};

/// One token at a reader, seen through what its family can do.
pub trait TokenFamily: Send + Sync {
    /// The firmware profile the token was identified with (named in refusals).
    fn profile_id(&self) -> &str;

    /// The credential a prepare writes when the caller names none.
    fn default_params(&self) -> CredentialParams;

    /// Checks that the token can hold `params` and draws the secret (and
    /// whatever else the write needs) before anything is recorded.
    fn plan<'a>(
        &'a self,
        store: &Store,
        serial: &str,
        holder: &PersonId,
        params: CredentialParams,
    ) -> Result<Box<dyn CredentialWrite + 'a>, DeviceError>;

    /// Takes the uncommitted credential of `pending` off the token, if it
    /// got there (recovery at insertion or start, and the undo of a failed
    /// write). Returns what was done, for the audit entry.
    fn clear_uncommitted(
        &self,
        store: &Store,
        pending: &PendingWrite,
    ) -> Result<&'static str, DeviceError>;

    /// Drops the pending record (and whatever the family kept with it) once
    /// [`Self::clear_uncommitted`] has cleared the token.
    fn drop_pending(&self, tx: &mut Tx<'_>, serial: &str, why: &str) -> Result<(), StoreError>;

    /// The code that proves possession: read from the token, or taken from
    /// what it `typed` when touched.
    fn possession_code(
        &self,
        store: &Store,
        now: UnixTime,
        serial: &str,
        typed: Option<&str>,
    ) -> Result<String, DeviceError>;

    /// Whether activation sets a device PIN (a PIN with a hardware retry
    /// counter).
    fn takes_pin(&self) -> bool {
        false
    }

    /// Whether that PIN has a resetting code the desk keeps (else a blocked
    /// PIN is recovered only by a full reset of the token).
    fn pin_has_resetting_code(&self) -> bool {
        false
    }

    /// Whether the token waits for a press of its button before it deletes
    /// a credential, resets, or takes a PIN (a Nitrokey 3).
    fn touch_confirms_changes(&self) -> bool {
        false
    }

    /// Sets the device PIN and its resetting code (where it has one).
    fn set_pin(&self, _pin: &PinValue, _puk: &PinValue) -> Result<(), DeviceError> {
        Err(self.unsupported("a device PIN with a retry counter"))
    }

    /// Restores the PIN's retry counter with the resetting code, keeping the
    /// PIN; returns the PIN state afterwards.
    fn reset_pin(&self, _puk: &PinValue) -> Result<PinState, DeviceError> {
        Err(self.unsupported("a device PIN with a retry counter"))
    }

    /// Resets the PIN with the resetting code to `new_pin` (a forgotten
    /// PIN), restoring its retry counter.
    fn reset_pin_to(&self, _puk: &PinValue, _new_pin: &PinValue) -> Result<(), DeviceError> {
        Err(self.unsupported("a device PIN with a retry counter"))
    }

    /// Erases keyward's credential from the token.
    fn wipe(&self, store: &Store, serial: &str) -> Result<(), DeviceError>;

    /// Forgets, in the wipe's transaction, what the store kept to reach the
    /// wiped credential. Returns whether a secret was destroyed (the caller
    /// then checkpoints the WAL so no old page keeps it).
    fn forget_wiped(&self, _tx: &mut Tx<'_>, _serial: &str) -> Result<bool, StoreError> {
        Ok(false)
    }

    /// A touch key (YubiKey OTP slots over HID) types its code when touched.
    fn is_touch_key(&self) -> bool {
        false
    }

    /// The key itself when it is simulated, so the virtual demo can touch it.
    fn simulated_key(&self) -> Option<&Arc<Mutex<SimulatedKey>>> {
        None
    }

    /// A refusal naming this token's profile.
    fn unsupported(&self, what: &'static str) -> DeviceError {
        DeviceError::Unsupported {
            profile: self.profile_id().to_owned(),
            what,
        }
    }
}

/// One credential on its way to a token, from the pending record to the
/// commit. A write that fails is undone through the family's
/// [`TokenFamily::clear_uncommitted`], as at recovery.
pub trait CredentialWrite {
    /// Records the pending write, before anything reaches the token.
    fn record(
        &self,
        tx: &mut Tx<'_>,
        reader: &str,
        replacement: Option<i64>,
    ) -> Result<(), StoreError>;

    /// Writes the credential and proves that the token holds it. Returns
    /// the APDUs exchanged (0 for a family that speaks none).
    fn write(&mut self, now: UnixTime) -> Result<u32, WriteFailure>;

    /// Commits the proved write: the credential and its sealed secret.
    fn commit(&self, tx: &mut Tx<'_>, replacement: Option<i64>) -> Result<(), StoreError>;

    /// Drops the pending record of a write the token refused whole.
    fn abort(&self, tx: &mut Tx<'_>, why: &str) -> Result<(), StoreError>;
}

/// Why a write did not prove.
#[derive(Debug)]
pub enum WriteFailure {
    /// The token refused the write and is as it was: the pending record is
    /// dropped, nothing is undone on the token.
    Refused {
        error: DeviceError,
        why: &'static str,
    },
    /// The write may have landed in part, or could not be proved: undone.
    Failed {
        error: DeviceError,
        why: &'static str,
    },
}

//! The device operations, one flow each for every token family
//! (`docs/devices.md`): prepare (pending write → write → prove → commit, or
//! undo), recovery of an interrupted prepare, possession, activation with
//! the device PIN, and wipe. What differs between families sits behind
//! [`TokenFamily`].

use std::sync::atomic::Ordering;

use zeroize::Zeroizing;

use super::family::{TokenFamily, WriteFailure};
use super::{DeviceError, DeviceManager, Prepared};
use crate::apdu::pin::PinValue;
use crate::domain::{Actor, DomainError, PersonId, TokenState};
use crate::otp::CredentialParams;
use crate::otp::{Algorithm, Secret};
use crate::store::{StoreError, Tx};

impl DeviceManager {
    /// Prepares the token `serial` at `reader` for `holder` (or for a
    /// replacement request's holder): the pending write is recorded before
    /// anything reaches the token; the write is proved before it is
    /// committed; a write that fails or is refused is undone.
    pub fn prepare(
        &self,
        actor: &Actor,
        reader: &str,
        serial: &str,
        holder: &PersonId,
        params: CredentialParams,
        replacement: Option<i64>,
    ) -> Result<Prepared, DeviceError> {
        let family = self.device_at(reader, serial)?;
        let mut write = family.plan(&self.store, serial, holder, params)?;
        self.store.write(actor, "token.prepare", |tx| {
            write.record(tx, reader, replacement)
        })?;
        let apdus = match write.write(self.clock.now()) {
            Ok(apdus) => apdus,
            Err(WriteFailure::Refused { error, why }) => {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                self.store
                    .write(actor, "token.prepare.abort", |tx| write.abort(tx, why))?;
                return Err(error);
            }
            Err(WriteFailure::Failed { error, why }) => {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                self.undo(actor, reader, serial, family.as_ref(), why);
                return Err(error);
            }
        };
        let committed = self
            .store
            .write(actor, "token.prepare", |tx| write.commit(tx, replacement));
        if let Err(err) = committed {
            self.undo(actor, reader, serial, family.as_ref(), "commit refused");
            return Err(err.into());
        }
        let holder = self
            .store
            .read(|tx| tx.token(serial))?
            .holder
            .unwrap_or_else(|| holder.clone());
        self.token_changed(serial, TokenState::Prepared);
        Ok(Prepared {
            serial: serial.to_owned(),
            holder,
            apdus,
        })
    }

    /// Best effort after a failed write or commit: the recovery flow, now.
    /// If the token is gone, the pending record stays for recovery at the
    /// next insertion or start.
    fn undo(&self, actor: &Actor, reader: &str, serial: &str, family: &dyn TokenFamily, why: &str) {
        let undone = self.roll_back(actor, "token.prepare.abort", reader, serial, family, why);
        if let Err(err) = undone {
            tracing::warn!(%serial, error = %err, "prepare interrupted; recovery runs at the next insertion or start");
        }
    }

    /// Recovery: a pending write that was never committed leaves no
    /// credential behind. The commit removes the pending record in its own
    /// transaction, so a pending record means "not prepared".
    pub(super) fn recover(
        &self,
        reader: &str,
        serial: &str,
        family: &dyn TokenFamily,
    ) -> Result<(), DeviceError> {
        self.roll_back(
            &Actor::System,
            "token.prepare.recover",
            reader,
            serial,
            family,
            "interrupted prepare",
        )
    }

    /// The one recovery flow of every family: the uncommitted credential
    /// leaves the token (if it got there), then the pending record is
    /// dropped, saying `why` and what was done. A token that cannot be
    /// cleared keeps the record.
    fn roll_back(
        &self,
        actor: &Actor,
        operation: &'static str,
        reader: &str,
        serial: &str,
        family: &dyn TokenFamily,
        why: &str,
    ) -> Result<(), DeviceError> {
        let Some(pending) = self.store.read(|tx| tx.pending_write(serial))? else {
            return Ok(());
        };
        let done = family.clear_uncommitted(&self.store, &pending)?;
        let detail = format!("{why}, recovered at {reader}: {done}");
        self.store.write(actor, operation, |tx| {
            family.drop_pending(tx, serial, &detail)
        })?;
        tracing::info!(%reader, %serial, %why, %done, "recovered an interrupted prepare");
        Ok(())
    }

    /// Runs recovery for every present token (at start).
    pub fn recover_all(&self) -> Result<(), DeviceError> {
        let present: Vec<_> = self
            .slots()
            .values()
            .filter_map(|s| {
                let serial = s.present.serial.clone()?;
                Some((s.present.reader.clone(), serial, s.family.clone()?))
            })
            .collect();
        for (reader, serial, family) in present {
            self.recover(&reader, &serial, family.as_ref())?;
        }
        Ok(())
    }

    /// A code read from the token `serial` at `reader` (possession proof).
    pub fn read_code(&self, reader: &str, serial: &str) -> Result<String, DeviceError> {
        self.possession_code(reader, serial, None)
    }

    /// The code that proves possession of the token `serial` at `reader`: for
    /// a touch key, the code in what it `typed` when touched (the store then
    /// verifies it); for a YKOATH token, a code read from it, and `typed`
    /// must be absent.
    pub fn possession_code(
        &self,
        reader: &str,
        serial: &str,
        typed: Option<&str>,
    ) -> Result<String, DeviceError> {
        let family = self.device_at(reader, serial)?;
        family.possession_code(&self.store, self.clock.now(), serial, typed)
    }

    /// Activation at the station (`docs/lifecycle.md`, `docs/devices.md`):
    /// possession proof, PIN policy, the device PIN where the profile has
    /// one with a hardware retry counter (never otherwise, with a random
    /// resetting code sealed for the desk), and the activation, all decided
    /// in one store transaction: if the token refuses the PIN, nothing is
    /// activated. Returns whether a device PIN was set.
    pub fn activate(&self, reader: &str, serial: &str, pin: &str) -> Result<bool, DeviceError> {
        self.activate_with(reader, serial, pin, None)
    }

    /// [`Self::activate`], with what a touch key typed when touched (touch
    /// keys prove possession that way; `None` for tokens read over PC/SC).
    pub fn activate_with(
        &self,
        reader: &str,
        serial: &str,
        pin: &str,
        typed: Option<&str>,
    ) -> Result<bool, DeviceError> {
        let family = self.device_at(reader, serial)?;
        let token = self.store.read(|tx| tx.token(serial))?;
        let holder = token
            .holder
            .ok_or(StoreError::Domain(DomainError::TransitionRefused {
                from: token.state,
                action: "activate",
            }))?;
        let actor = Actor::Holder(holder);
        // Policy first: a PIN that would be refused never reaches the token.
        self.store.write(&actor, "token.activate", |_| {
            crate::crypto::Pin::parse(pin)?;
            Ok(())
        })?;
        let code = family.possession_code(&self.store, self.clock.now(), serial, typed)?;
        let takes_pin = family.takes_pin();
        self.write_with_device_step(&actor, "token.activate", |tx| {
            tx.prove_possession(serial, &code)?;
            tx.activate(serial, pin)?;
            if takes_pin {
                let seed = set_device_pin(family.as_ref(), pin).map_err(StepFailure::Device)?;
                // A PIN without a resetting code (Nitrokey 3) seals none.
                if family.pin_has_resetting_code() {
                    tx.seal_device_puk(serial, &seed)?;
                }
            }
            Ok(())
        })?;
        self.token_changed(serial, TokenState::Active);
        Ok(takes_pin)
    }

    /// One store write with a step on the token inside it: a token that
    /// refuses rolls the transaction back, and its error comes back as
    /// itself (counted), not as a store error.
    pub(super) fn write_with_device_step<T>(
        &self,
        actor: &Actor,
        operation: &'static str,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, StepFailure>,
    ) -> Result<T, DeviceError> {
        let mut device_failure = None;
        let result = self.store.write(actor, operation, |tx| {
            f(tx).map_err(|failure| match failure {
                StepFailure::Store(err) => err,
                StepFailure::Device(err) => {
                    device_failure = Some(err);
                    StoreError::Unavailable
                }
            })
        });
        if let Some(err) = device_failure {
            self.counters.errors.fetch_add(1, Ordering::Relaxed);
            return Err(err);
        }
        Ok(result?)
    }

    /// Wipes the token at `reader` (applet reset, or slot deleted with its
    /// sealed access code); a returned (or revoked broken or faulty) token
    /// is then marked received and wiped. A token that refuses changes
    /// nothing.
    pub fn wipe(
        &self,
        actor: &Actor,
        reader: &str,
        serial: &str,
    ) -> Result<TokenState, DeviceError> {
        let family = self.device_at(reader, serial)?;
        // Checked as a write so that a refusal is audited like any other.
        self.store.write(actor, "token.wipe", |tx| {
            let token = tx.token(serial)?;
            if token.state.is_live() {
                return Err(StoreError::Domain(DomainError::TransitionRefused {
                    from: token.state,
                    action: "wipe",
                }));
            }
            Ok(())
        })?;
        if let Err(err) = family.wipe(&self.store, serial) {
            self.counters.errors.fetch_add(1, Ordering::Relaxed);
            return Err(err);
        }
        let (state, destroyed) = self.store.write(actor, "token.wipe", |tx| {
            let destroyed = family.forget_wiped(tx, serial)?;
            let state = tx.token(serial)?.state;
            // A seeded token in stock only loses the secret its import left.
            let seeded_in_stock = state == TokenState::Stock
                && family.profile_id() == crate::store::ops::SEEDED_PROFILE;
            if state != TokenState::Wiped && !seeded_in_stock {
                tx.receive_at_it_centre(serial)?;
            }
            Ok((tx.token(serial)?.state, destroyed))
        })?;
        // No old page holding a destroyed secret survives in the -wal file.
        if destroyed {
            if let Err(err) = self.store.checkpoint() {
                tracing::warn!(%serial, error = %err, "checkpoint after destroying an access code");
            }
        }
        self.token_changed(serial, state);
        Ok(state)
    }
}

/// Why a [`DeviceManager::write_with_device_step`] did not commit.
pub(super) enum StepFailure {
    Store(StoreError),
    Device(DeviceError),
}

impl From<StoreError> for StepFailure {
    fn from(err: StoreError) -> Self {
        StepFailure::Store(err)
    }
}

/// Sets the PIN and a fresh random resetting code on the device; returns
/// the code's seed for sealing.
fn set_device_pin(family: &dyn TokenFamily, pin: &str) -> Result<Secret, DeviceError> {
    let pin = PinValue::new(pin.as_bytes()).ok_or(family.unsupported("a PIN of this length"))?;
    let seed = Secret::generate(Algorithm::Sha1).map_err(StoreError::from)?;
    family.set_pin(&pin, &puk_from_seed(&seed)?)?;
    Ok(seed)
}

/// The desk's 8-digit resetting code, derived from a sealed random seed.
pub(super) fn puk_from_seed(seed: &Secret) -> Result<PinValue, StoreError> {
    let bytes = seed.expose();
    let mut n: u64 = 0;
    for b in bytes.iter().take(8) {
        n = (n << 8) | u64::from(*b);
    }
    let digits = Zeroizing::new(format!("{:08}", n % 100_000_000));
    PinValue::new(digits.as_bytes()).ok_or(StoreError::Corrupt("resetting code"))
}

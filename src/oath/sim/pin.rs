//! The virtual token's device PIN: ISO 7816 VERIFY / CHANGE REFERENCE DATA /
//! RESET RETRY COUNTER with a resetting code (the keyward personality and the
//! YubiKey 5 one), or the Nitrokey 3 secrets app's own VerifyPIN / ChangePIN /
//! SetPIN (B2/B3/B4), 8 tries, each waiting for the button, no resetting
//! code. Wrong values count down durably before the answer.

use subtle::ConstantTimeEq as _;

use super::applet::{hex, unhex, OathApplet};
use super::state::{HexSecret, StateStore, PIN_TRIES};
use super::Entropy;
use crate::apdu::pin::{PinCommand, PinValue, SecretsPin, REF_PUK};
use crate::apdu::{Response, Status};

/// Nitrokey 3 secrets app: ATTEMPT_COUNTER_DEFAULT_RETRIES.
pub const SECRETS_PIN_TRIES: u8 = 8;

impl<S: StateStore, E: Entropy> OathApplet<S, E> {
    /// Checks `value` against reference `which` with the 63Cx / 6983 rules.
    pub(super) fn check(&mut self, which: u8, value: &PinValue) -> Result<(), Status> {
        let (stored, tries) = match which {
            REF_PUK => (self.state.puk.clone(), self.state.puk_tries),
            _ => (self.state.pin.clone(), self.state.pin_tries),
        };
        let stored = stored.ok_or(Status::NoSuchObject)?;
        if tries == 0 {
            return Err(Status::AuthBlocked);
        }
        let stored = unhex(stored.expose())?;
        let ok = bool::from(stored.as_slice().ct_eq(value.expose()));
        let mut next = self.state.clone();
        let left = if ok { PIN_TRIES } else { tries - 1 };
        match which {
            REF_PUK => next.puk_tries = left,
            _ => next.pin_tries = left,
        }
        if left != tries {
            self.commit(next)?;
        }
        match (ok, left) {
            (true, _) => Ok(()),
            (false, 0) => Err(Status::AuthBlocked),
            (false, n) => Err(Status::WrongPin { tries_left: n }),
        }
    }

    pub(super) fn pin(&mut self, cmd: PinCommand) -> Response {
        let result = match cmd {
            PinCommand::Verify {
                reference,
                value: None,
            } => {
                let (set, tries) = match reference {
                    REF_PUK => (self.state.puk.is_some(), self.state.puk_tries),
                    _ => (self.state.pin.is_some(), self.state.pin_tries),
                };
                match (set, tries) {
                    (false, _) => Err(Status::NoSuchObject),
                    (true, 0) => Err(Status::AuthBlocked),
                    (true, n) => Err(Status::WrongPin { tries_left: n }),
                }
            }
            PinCommand::Verify {
                reference,
                value: Some(v),
            } => self.check(reference, &v),
            PinCommand::Change {
                reference,
                old,
                new,
            } => {
                let is_set = match reference {
                    REF_PUK => self.state.puk.is_some(),
                    _ => self.state.pin.is_some(),
                };
                let allowed = match (&old, is_set) {
                    (Some(old), true) => self.check(reference, old),
                    (None, false) => Ok(()),
                    // Setting over an existing value needs the old one.
                    (None, true) => Err(Status::SecurityNotSatisfied),
                    (Some(_), false) => Err(Status::NoSuchObject),
                };
                allowed.and_then(|()| {
                    let mut next = self.state.clone();
                    let value = Some(HexSecret::new(hex(new.expose())));
                    match reference {
                        REF_PUK => {
                            next.puk = value;
                            next.puk_tries = PIN_TRIES;
                        }
                        _ => {
                            next.pin = value;
                            next.pin_tries = PIN_TRIES;
                        }
                    }
                    self.commit(next)
                })
            }
            PinCommand::ResetRetry { puk, new_pin } => self.check(REF_PUK, &puk).and_then(|()| {
                let mut next = self.state.clone();
                if let Some(p) = new_pin {
                    next.pin = Some(HexSecret::new(hex(p.expose())));
                }
                if next.pin.is_none() {
                    return Err(Status::NoSuchObject);
                }
                next.pin_tries = PIN_TRIES;
                self.commit(next)
            }),
        };
        match result {
            Ok(()) => Response::status(Status::Ok),
            Err(sw) => Response::status(sw),
        }
    }

    /// A Nitrokey 3 PIN instruction: the button first, then the PIN. A wrong
    /// PIN answers 6300 (the tries left are in the SELECT answer's tag 82).
    pub(super) fn secrets_pin(&mut self, cmd: SecretsPin) -> Result<(), Status> {
        self.personality().await_touch()?;
        let stored = self.state.pin.clone();
        let check = |this: &mut Self, value: &PinValue| -> Result<(), Status> {
            let stored = stored.as_ref().ok_or(Status::SecurityNotSatisfied)?;
            let tries = this.state.pin_tries;
            if tries == 0 {
                return Err(Status::AuthBlocked);
            }
            let ok = bool::from(unhex(stored.expose())?.as_slice().ct_eq(value.expose()));
            let mut next = this.state.clone();
            next.pin_tries = if ok { SECRETS_PIN_TRIES } else { tries - 1 };
            this.commit(next)?;
            if ok {
                Ok(())
            } else {
                Err(Status::VerificationFailed)
            }
        };
        let set = |this: &mut Self, value: &PinValue| {
            let mut next = this.state.clone();
            next.pin = Some(HexSecret::new(hex(value.expose())));
            next.pin_tries = SECRETS_PIN_TRIES;
            this.commit(next)
        };
        match cmd {
            SecretsPin::Verify(pin) => check(self, &pin),
            SecretsPin::Change { old, new } => {
                check(self, &old)?;
                set(self, &new)
            }
            SecretsPin::Set(_) if stored.is_some() => Err(Status::ConditionsNotSatisfied),
            SecretsPin::Set(pin) => set(self, &pin),
        }
    }
}

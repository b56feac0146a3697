//! The token's device PIN: its state, and set, verify, change and reset,
//! driven through the profile's own instructions (ISO 7816 VERIFY / CHANGE
//! REFERENCE DATA / RESET RETRY COUNTER, or a Nitrokey 3's B2/B3/B4).

use super::{PinState, Token, TokenError, Transport};
use crate::apdu::pin::{PinCommand, PinValue, SecretsPin, REF_PIN, REF_PUK};
use crate::apdu::{Command, Status};
use crate::profile::{PinCommands, Profile};

impl<T: Transport> Token<T> {
    /// State of the device PIN, from an empty VERIFY (ISO 7816-4 status
    /// query), or on a Nitrokey 3 from the retries tag of the SELECT answer
    /// (absent while no PIN is set).
    pub fn pin_state(&mut self) -> Result<PinState, TokenError> {
        let secrets_app = self.pin_commands == PinCommands::NitrokeySecrets;
        let mut s = self.session()?;
        let info = s.select_oath()?;
        if secrets_app {
            return Ok(info
                .pin_retries
                .map_or(PinState::NotSet, PinState::TriesLeft));
        }
        let r = s.send(
            &PinCommand::Verify {
                reference: REF_PIN,
                value: None,
            }
            .to_command(),
            "PIN status",
        )?;
        match r.status {
            Status::WrongPin { tries_left } => Ok(PinState::TriesLeft(tries_left)),
            Status::AuthBlocked => Ok(PinState::TriesLeft(0)),
            Status::Ok => Ok(PinState::Verified),
            Status::NoSuchObject => Ok(PinState::NotSet),
            status => Err(TokenError::Status {
                operation: "PIN status",
                status,
            }),
        }
    }

    /// Sets the device PIN on a token that has none (after a wipe), and the
    /// desk's resetting code where the PIN has one (`puk`; a Nitrokey 3 has
    /// none, its PIN is set with its own SetPIN). Refused unless `profile`
    /// has a device PIN with a hardware retry counter: a holder's PIN never
    /// goes where it could be brute-forced (`docs/devices.md`).
    pub fn set_pin(
        &mut self,
        profile: &Profile,
        pin: &PinValue,
        puk: &PinValue,
    ) -> Result<(), TokenError> {
        let Some(device_pin) = profile.device_pin() else {
            return Err(TokenError::Unsupported {
                profile: profile.id.clone(),
                what: "a device PIN with a retry counter",
            });
        };
        let mut s = self.session()?;
        s.select_oath()?;
        match device_pin.commands {
            PinCommands::NitrokeySecrets => {
                s.pin(&SecretsPin::Set(pin.clone()).to_command(), "set PIN")
            }
            PinCommands::Iso7816 => {
                let set_puk = PinCommand::Change {
                    reference: REF_PUK,
                    old: None,
                    new: puk.clone(),
                };
                s.pin(&set_puk.to_command(), "set PUK")?;
                let set_pin = PinCommand::Change {
                    reference: REF_PIN,
                    old: None,
                    new: pin.clone(),
                };
                s.pin(&set_pin.to_command(), "set PIN")
            }
        }
    }

    pub fn verify_pin(&mut self, pin: &PinValue) -> Result<(), TokenError> {
        let cmd = match self.pin_commands {
            PinCommands::NitrokeySecrets => SecretsPin::Verify(pin.clone()).to_command(),
            PinCommands::Iso7816 => PinCommand::Verify {
                reference: REF_PIN,
                value: Some(pin.clone()),
            }
            .to_command(),
        };
        self.send_pin(&cmd, "verify PIN")
    }

    pub fn change_pin(&mut self, old: &PinValue, new: &PinValue) -> Result<(), TokenError> {
        let cmd = match self.pin_commands {
            PinCommands::NitrokeySecrets => SecretsPin::Change {
                old: old.clone(),
                new: new.clone(),
            }
            .to_command(),
            PinCommands::Iso7816 => PinCommand::Change {
                reference: REF_PIN,
                old: Some(old.clone()),
                new: new.clone(),
            }
            .to_command(),
        };
        self.send_pin(&cmd, "change PIN")
    }

    /// The desk's unblock: restores the retry counter, optionally with a new PIN.
    pub fn reset_pin(
        &mut self,
        puk: &PinValue,
        new_pin: Option<&PinValue>,
    ) -> Result<(), TokenError> {
        let cmd = PinCommand::ResetRetry {
            puk: puk.clone(),
            new_pin: new_pin.cloned(),
        };
        self.send_pin(&cmd.to_command(), "reset PIN")
    }

    /// One PIN command to the OATH applet, in its own transaction. A
    /// Nitrokey 3 answers a wrong PIN 6300 without a count: the tries left
    /// are read from its SELECT answer (tag 82).
    fn send_pin(&mut self, command: &Command, operation: &'static str) -> Result<(), TokenError> {
        let secrets_app = self.pin_commands == PinCommands::NitrokeySecrets;
        let mut s = self.session()?;
        s.select_oath()?;
        match s.pin(command, operation) {
            Err(TokenError::Status {
                status: Status::VerificationFailed,
                ..
            }) if secrets_app => match s.select_oath()?.pin_retries.unwrap_or(0) {
                0 => Err(TokenError::PinBlocked),
                tries_left => Err(TokenError::WrongPin { tries_left }),
            },
            other => other,
        }
    }
}

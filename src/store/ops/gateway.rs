//! What a gateway's challenges do to a credential (docs/radius.md,
//! "Challenges"), and the PIN reset that opens the new-PIN one. The verify
//! service alone accepts a login; these operations only decide whether a
//! rejected passcode deserves a challenge, and carry out the answer to one:
//!
//! - **next code**: the PIN is right and the code is a genuine one past the
//!   HOTP look-ahead window. The holder's next code resynchronises the key
//!   by the desk's own rule ([`Tx::resync_credential`]), leaving that second
//!   code for the verify service to accept as a login;
//! - **new PIN**: the desk or the district's inspector reset the PIN
//!   ([`Tx::reset_pin`]: the verifier is deleted, so no PIN logs in, at any
//!   interface). The holder proves possession with a code alone
//!   ([`Tx::check_possession`], which consumes it), then chooses a PIN under
//!   the same policy as at activation.

use rusqlite::{params, OptionalExtension};
use zeroize::Zeroizing;

use super::{unseal_key, Tx};
use crate::crypto::Pin;
use crate::domain::{Actor, CredentialInfo, PersonId, TokenState};
use crate::otp::{Algorithm, Code, CredentialKey, Hotp, OtpKind, ReplayFloor, Secret, MAX_WINDOW};
use crate::store::StoreError;

/// Why a rejected passcode opens a challenge.
#[derive(PartialEq, Eq)]
pub enum ChallengeReason {
    /// The PIN is right and the code lies past the look-ahead window: ask
    /// for the next code. Holds the PIN and the code, to finish the login.
    NextCode {
        pin: Zeroizing<String>,
        first: Zeroizing<String>,
    },
    /// The PIN was reset and the code alone proved possession (consumed):
    /// ask for a new PIN.
    NewPin,
}

impl std::fmt::Debug for ChallengeReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ChallengeReason::NextCode { .. } => "NextCode",
            ChallengeReason::NewPin => "NewPin",
        })
    }
}

/// A credential and its PIN verifier (`None`: the PIN was reset).
type WithVerifier = (CredentialInfo, Option<Vec<u8>>);

/// What [`Tx::assess`] found.
enum Assessed {
    NewPin(CredentialInfo),
    NextCode(CredentialInfo, ChallengeReason),
}

impl Tx<'_> {
    /// The desk, or the key's district inspector, resets its holder's PIN:
    /// the verifier is deleted (no PIN logs in any more, at any interface)
    /// until the holder chooses a new one through a gateway's challenge.
    pub fn reset_pin(&mut self, serial: &str) -> Result<(), StoreError> {
        let token = self.token(serial)?;
        let holder = token
            .holder
            .clone()
            .ok_or(crate::domain::DomainError::TransitionRefused {
                from: token.state,
                action: "reset the PIN",
            })?;
        let district = self.key_district(serial)?;
        self.require_scope(&district, "reset a PIN", true)?;
        self.not_own(&holder, "reset a PIN")?;
        if token.state != TokenState::Active {
            return Err(crate::domain::DomainError::TransitionRefused {
                from: token.state,
                action: "reset the PIN",
            }
            .into());
        }
        let credential = self.live_credential(&token)?;
        self.db.execute(
            "UPDATE credentials SET pin_verifier = NULL WHERE id = ?1",
            [credential.id],
        )?;
        self.audit(
            "credential.pin_reset",
            serial,
            &format!("holder={holder} credential={}", credential.id),
        )
    }

    /// The holder's active credential and its PIN verifier, for the
    /// gateway (`None`: no such login or no active key).
    fn gateway_credential(&self, login: &str) -> Result<Option<WithVerifier>, StoreError> {
        let Ok(holder) = PersonId::parse(login) else {
            return Ok(None);
        };
        let Some(serial) = self.live_token_of(&holder)? else {
            return Ok(None);
        };
        if self.token(&serial)?.state != TokenState::Active {
            return Ok(None);
        }
        let Some(credential) = self.credential_of(&serial)? else {
            return Ok(None);
        };
        self.check_row("credentials", &credential.id.to_string())?;
        let verifier: Option<Vec<u8>> = self
            .db
            .prepare_cached("SELECT pin_verifier FROM credentials WHERE id = ?1")?
            .query_row([credential.id], |r| r.get(0))
            .optional()?
            .flatten();
        Ok(Some((credential, verifier)))
    }

    /// A read-only first look for [`Tx::gateway_challenge`]: `false` when
    /// no challenge can be due, so that a plain rejection takes no write
    /// transaction. Does the same work (PIN verifier, resync range) either
    /// way.
    pub fn gateway_challenge_due(
        &mut self,
        login: &str,
        passcode: &str,
    ) -> Result<bool, StoreError> {
        self.require_gateway()?;
        Ok(self.assess(login, passcode)?.is_some())
    }

    /// Whether `passcode`, which the verify service has just rejected for
    /// `login`, opens a challenge; writes what it does (audit, and the
    /// consumed code of a new-PIN proof of possession).
    pub fn gateway_challenge(
        &mut self,
        login: &str,
        passcode: &str,
    ) -> Result<Option<ChallengeReason>, StoreError> {
        self.require_gateway()?;
        match self.assess(login, passcode)? {
            None => Ok(None),
            Some(Assessed::NewPin(credential)) => {
                if self.check_possession(&credential, passcode).is_err() {
                    return Ok(None);
                }
                self.audit(
                    "verify.challenge",
                    credential.holder.as_str(),
                    &format!("reason=new_pin credential={}", credential.id),
                )?;
                Ok(Some(ChallengeReason::NewPin))
            }
            Some(Assessed::NextCode(credential, reason)) => {
                self.audit(
                    "verify.challenge",
                    credential.holder.as_str(),
                    &format!("reason=next_code credential={}", credential.id),
                )?;
                Ok(Some(reason))
            }
        }
    }

    /// What a rejected passcode may open, without writing. Always computes the PIN verifier and the
    /// whole resync range (with a throw-away key when there is nothing to
    /// find), so the time taken does not tell a right PIN from a wrong one.
    fn assess(&self, login: &str, passcode: &str) -> Result<Option<Assessed>, StoreError> {
        let found = self.gateway_credential(login)?;
        // A locked or throttled credential opens nothing: the verify
        // service refused it unevaluated, and so does this.
        let usable = found
            .as_ref()
            .filter(|(c, _)| !c.locked && c.retry_at <= self.now);
        if let Some((credential, None)) = usable {
            // PIN reset: a code alone may prove possession (checked, and
            // consumed, by the caller).
            return Ok(
                (passcode.len() == usize::from(credential.params.digits.get()))
                    .then(|| Assessed::NewPin(credential.clone())),
            );
        }
        let digits = usable.map_or(crate::otp::Digits::SIX, |(c, _)| c.params.digits);
        let d = usize::from(digits.get());
        let split = passcode
            .len()
            .checked_sub(d)
            .filter(|_| passcode.bytes().all(|b| b.is_ascii_digit()))
            .map(|at| passcode.split_at(at));
        let (pin, code) = split.unwrap_or(("", "000000"));
        let stored = usable.and_then(|(_, v)| v.as_deref()).unwrap_or(&[]);
        let holder = usable.map_or("", |(c, _)| c.holder.as_str());
        let pin_ok = self.shared.keys.pin_matches(holder, pin.as_bytes(), stored);
        let real_key = match usable {
            Some((c, _)) if matches!(c.params.kind, OtpKind::Hotp { .. }) => {
                unseal_key(self.db, self.shared, c)?
            }
            _ => None,
        };
        let dummy;
        let key = match &real_key {
            Some(key) => key,
            None => {
                dummy = CredentialKey::new(Algorithm::Sha1, &Secret::generate(Algorithm::Sha1)?);
                &dummy
            }
        };
        let floor = usable.and_then(|(c, _)| c.floor);
        let beyond = beyond_window(key, digits, code, floor, self.shared.config.hotp_look_ahead);
        match (
            usable,
            real_key.is_some() && pin_ok && split.is_some() && beyond,
        ) {
            (Some((credential, _)), true) => Ok(Some(Assessed::NextCode(
                credential.clone(),
                ChallengeReason::NextCode {
                    pin: Zeroizing::new(pin.to_owned()),
                    first: Zeroizing::new(code.to_owned()),
                },
            ))),
            _ => Ok(None),
        }
    }

    /// The next-code challenge's answer: `first` and `second` must be two
    /// consecutive codes (the desk's resync rule); the floor then stops
    /// just before `second`, which the caller submits as a login.
    pub fn gateway_resync(
        &mut self,
        login: &str,
        first: &str,
        second: &str,
    ) -> Result<bool, StoreError> {
        self.require_gateway()?;
        let Some((credential, Some(_))) = self.gateway_credential(login)? else {
            return Ok(false);
        };
        if credential.locked || !matches!(credential.params.kind, OtpKind::Hotp { .. }) {
            return Ok(false);
        }
        match self.resync_credential(&credential, (first, second), true) {
            Ok((step, _)) => {
                self.audit(
                    "credential.resync",
                    &credential.token,
                    &format!("step={step} drift=0 by=next_code_challenge"),
                )?;
                Ok(true)
            }
            Err(StoreError::PossessionCheckFailed | StoreError::Otp(_)) => {
                self.audit(
                    "verify.reject",
                    credential.holder.as_str(),
                    "reason=next_code_mismatch",
                )?;
                Ok(false)
            }
            Err(other) => Err(other),
        }
    }

    /// The new-PIN challenge's answer: the PIN policy of activation, then
    /// the verifier is written. `Ok(false)`: the credential no longer
    /// awaits a PIN.
    pub fn gateway_new_pin(&mut self, login: &str, pin: &str) -> Result<bool, StoreError> {
        self.require_gateway()?;
        let Some((credential, None)) = self.gateway_credential(login)? else {
            return Ok(false);
        };
        let pin = Pin::parse(pin)?;
        let verifier = Zeroizing::new(
            self.shared
                .keys
                .pin_verifier(credential.holder.as_str(), pin.expose().as_bytes()),
        );
        self.db.execute(
            "UPDATE credentials SET pin_verifier = ?1 WHERE id = ?2",
            params![&verifier[..], credential.id],
        )?;
        self.audit(
            "credential.pin_set",
            &credential.token,
            &format!("holder={} by=new_pin_challenge", credential.holder),
        )?;
        Ok(true)
    }

    fn require_gateway(&self) -> Result<(), StoreError> {
        match self.actor {
            Actor::Gateway => Ok(()),
            _ => Err(self.forbidden(
                "answer a gateway challenge",
                "only the gateway interfaces do this",
            )),
        }
    }
}

/// Whether `code` is the code of a counter past the look-ahead window but
/// within the resync range. Scans the whole range, in windows of the
/// verifier's own size, whatever it finds.
fn beyond_window(
    key: &CredentialKey,
    digits: crate::otp::Digits,
    code: &str,
    floor: Option<u64>,
    look_ahead: u32,
) -> bool {
    let Ok(code) = Code::parse(code, digits) else {
        return false;
    };
    let Ok(hotp) = Hotp::new(digits, MAX_WINDOW) else {
        return false;
    };
    let start = floor.map_or(0, |f| f.saturating_add(1));
    let mut found = false;
    for chunk in 0..crate::otp::RESYNC_RANGE / MAX_WINDOW {
        let first = start.saturating_add(u64::from(chunk * MAX_WINDOW));
        let window_floor = match first.checked_sub(1) {
            Some(f) => ReplayFloor::after(f),
            None => ReplayFloor::FRESH,
        };
        if let Ok(Some(m)) = hotp.verify(key, &code, window_floor) {
            found |= m.step() >= start.saturating_add(u64::from(look_ahead));
        }
    }
    found
}

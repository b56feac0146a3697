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

use crate::store::cached::CachedSql;
use rusqlite::OptionalExtension;
use zeroize::Zeroizing;

use super::{unseal_key, Tx};
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

/// What [`assess`] found.
enum Assessed {
    NewPin(CredentialInfo),
    NextCode(CredentialInfo, ChallengeReason),
}

impl Tx<'_> {
    /// The desk, or the key's district inspector, resets its holder's PIN:
    /// the verifier is deleted (no PIN logs in any more, at any interface)
    /// until the holder chooses a new one through a gateway's challenge.
    pub fn reset_pin(&mut self, serial: &str) -> Result<(), StoreError> {
        let target = self.pin_reset_target(serial, "reset a PIN", true)?;
        let (holder, credential) = (target.holder, target.credential);
        self.db.execute_cached(
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

    /// What [`assess`] needs from the store: the usable credential, its
    /// PIN verifier and its unsealed key. A locked or throttled credential
    /// opens nothing (the verify service refused it unevaluated): `None`.
    fn challenge_material(&self, login: &str) -> Result<Material, StoreError> {
        let usable = self
            .gateway_credential(login)?
            .filter(|(c, _)| !c.locked && c.retry_at <= self.now);
        let key = match &usable {
            Some((c, _)) if matches!(c.params.kind, OtpKind::Hotp { .. }) => {
                unseal_key(self.db, self.shared, c)?
            }
            _ => None,
        };
        Ok(Material { usable, key })
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
        let material = self.challenge_material(login)?;
        match assess(self.shared, material, passcode)? {
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
        self.write_pin_verifier(&credential, pin, false)?;
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

/// A credential, its verifier and its unsealed HOTP key, read for
/// [`assess`].
struct Material {
    usable: Option<WithVerifier>,
    key: Option<CredentialKey>,
}

/// Counters past the look-ahead window where a code opens a next-code
/// challenge (RSA's bounded "next tokencode" range): one verifier window.
/// The desk's resync ([`crate::otp::RESYNC_RANGE`], 1000) reaches farther.
pub const NEXT_CODE_RANGE: u32 = MAX_WINDOW;

/// What the verify writer saw of a gateway's request, for the caller to
/// tell whether its rejection opens a challenge without reading the store
/// again (no transaction, no row MAC, no unsealing, no second PIN check):
/// the writer already had the credential, its unsealed key and the PIN's
/// verdict. Filled for every request that asks for it, with a throw-away key
/// when there is nothing to find, so that the writer's work does not depend
/// on the login. Only a hint: [`Tx::gateway_challenge`] decides again, in
/// its own transaction, before anything is opened.
#[derive(Clone)]
pub struct ChallengeProbe {
    key: CredentialKey,
    digits: crate::otp::Digits,
    floor: Option<u64>,
    look_ahead: u32,
    /// Usable HOTP key, evaluated and not locked by this rejection, PIN right.
    next_code: bool,
    /// Usable key whose PIN was reset.
    new_pin: bool,
}

impl std::fmt::Debug for ChallengeProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChallengeProbe")
    }
}

/// Where the verify writer leaves a request's [`ChallengeProbe`].
pub type ProbeSlot = std::sync::Arc<std::sync::OnceLock<ChallengeProbe>>;

/// What the verify writer knows of a request, for [`ChallengeProbe::new`].
pub struct ProbeFacts<'a> {
    /// The credential's key when there is one (else a throw-away one).
    pub key: Option<&'a CredentialKey>,
    pub dummy: &'a CredentialKey,
    pub credential: Option<&'a CredentialInfo>,
    /// The credential was found intact, its token active, the request was
    /// evaluated (neither locked nor throttled) and did not lock it.
    pub usable: bool,
    pub pin_ok: bool,
    /// The credential has a PIN verifier (none: the PIN was reset).
    pub has_pin: bool,
    pub look_ahead: u32,
}

impl std::fmt::Debug for ProbeFacts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProbeFacts")
    }
}

impl ChallengeProbe {
    /// The same work for any facts: one key copied, a few flags.
    pub fn new(facts: ProbeFacts<'_>, passcode_len: usize) -> ChallengeProbe {
        let hotp = facts
            .credential
            .is_some_and(|c| matches!(c.params.kind, OtpKind::Hotp { .. }));
        let digits = facts
            .credential
            .map_or(crate::otp::Digits::SIX, |c| c.params.digits);
        let key = match facts.key {
            Some(key) if hotp => key,
            _ => facts.dummy,
        };
        ChallengeProbe {
            key: key.clone(),
            digits,
            floor: facts.credential.and_then(|c| c.floor),
            look_ahead: facts.look_ahead,
            next_code: facts.usable && hotp && facts.has_pin && facts.pin_ok,
            new_pin: facts.usable && !facts.has_pin && passcode_len == usize::from(digits.get()),
        }
    }

    /// Whether `passcode`'s rejection may open a challenge. One scan of the
    /// next-code range whatever the flags say, so the time taken tells
    /// neither a right PIN nor a PIN reset.
    pub fn due(&self, passcode: &str) -> bool {
        let d = usize::from(self.digits.get());
        let code = passcode
            .len()
            .checked_sub(d)
            .filter(|_| passcode.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|at| passcode.get(at..))
            .unwrap_or(&"00000000"[..d.min(8)]);
        let beyond = beyond_window(&self.key, self.digits, code, self.floor, self.look_ahead);
        self.new_pin || (self.next_code && beyond)
    }
}

/// A throw-away HOTP key for when there is no real one, made once.
fn dummy_key() -> Result<&'static CredentialKey, StoreError> {
    static DUMMY: std::sync::OnceLock<CredentialKey> = std::sync::OnceLock::new();
    if let Some(key) = DUMMY.get() {
        return Ok(key);
    }
    let key = CredentialKey::new(Algorithm::Sha1, &Secret::generate(Algorithm::Sha1)?);
    Ok(DUMMY.get_or_init(|| key))
}

/// What a rejected passcode may open, from what was read. Every path
/// computes the PIN verifier once and scans the next-code range once (with
/// a throw-away key when there is nothing to find), so the time taken tells
/// neither a right PIN, nor a PIN reset, nor a challenge found.
fn assess(
    shared: &crate::store::Shared,
    material: Material,
    passcode: &str,
) -> Result<Option<Assessed>, StoreError> {
    let Material { usable, key } = material;
    let digits = usable
        .as_ref()
        .map_or(crate::otp::Digits::SIX, |(c, _)| c.params.digits);
    let d = usize::from(digits.get());
    let split = passcode
        .len()
        .checked_sub(d)
        .filter(|_| passcode.bytes().all(|b| b.is_ascii_digit()))
        .map(|at| passcode.split_at(at));
    let (pin, code) = split.unwrap_or(("", "000000"));
    let stored = usable
        .as_ref()
        .and_then(|(_, v)| v.as_deref())
        .unwrap_or(&[]);
    let holder = usable.as_ref().map_or("", |(c, _)| c.holder.as_str());
    let pin_ok = shared.keys.pin_matches(holder, pin.as_bytes(), stored);
    let scan_key = match &key {
        Some(key) => key,
        None => dummy_key()?,
    };
    let floor = usable.as_ref().and_then(|(c, _)| c.floor);
    let beyond = beyond_window(scan_key, digits, code, floor, shared.config.hotp_look_ahead);
    Ok(match usable {
        // PIN reset: a code alone may prove possession (checked, and
        // consumed, by the caller).
        Some((credential, None)) => (passcode.len() == d).then(|| Assessed::NewPin(credential)),
        Some((credential, Some(_))) if key.is_some() && pin_ok && split.is_some() && beyond => {
            Some(Assessed::NextCode(
                credential,
                ChallengeReason::NextCode {
                    pin: Zeroizing::new(pin.to_owned()),
                    first: Zeroizing::new(code.to_owned()),
                },
            ))
        }
        _ => None,
    })
}

/// Whether `code` is the code of one of the [`NEXT_CODE_RANGE`] counters
/// just past the look-ahead window. One verifier window, evaluated whole
/// whatever it finds.
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
    let Ok(hotp) = Hotp::new(digits, NEXT_CODE_RANGE) else {
        return false;
    };
    // The first counter past the window; the verifier starts just after
    // its floor.
    let start = floor.map_or(0, |f| f.saturating_add(1));
    let past = start.saturating_add(u64::from(look_ahead));
    let window_floor = match past.checked_sub(1) {
        Some(f) => ReplayFloor::after(f),
        None => ReplayFloor::FRESH,
    };
    matches!(hotp.verify(key, &code, window_floor), Ok(Some(_)))
}

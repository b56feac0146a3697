//! The proof of possession of one request, computed the same way by every
//! verify writer (SQLite's `decide`, PostgreSQL's `postgres::node`): split
//! PIN ‖ code, compare the PIN verifier, evaluate the whole OTP window,
//! pad to the same number of MAC computations, check the replay. Pure: no
//! database, no clock, no cache; the caller brings the key (the holder's,
//! a decoy's or the dummy) and the stored state, and turns the facts into
//! the policy's [`Evidence`](crate::domain::verify_policy::Evidence).
//!
//! Every request does the same work whatever is wrong with it: only
//! lengths and character classes of the input are examined before the
//! constant-time comparisons.

use crate::crypto::pin::{MAX_PIN_DIGITS, MIN_PIN_DIGITS};
use crate::crypto::Keys;
use crate::domain::verify_policy::totp_window;
use crate::domain::UnixTime;
use crate::otp::{code_at, Code, CredentialKey, Digits, Hotp, OtpError, OtpKind, ReplayFloor};
use crate::otp::{Period, Totp};

/// What the proof is checked against (the holder's, a decoy's, or nobody's).
pub struct Against<'a> {
    /// The key the window is computed with (the dummy when there is none).
    pub key: &'a CredentialKey,
    /// The key the padding computations use.
    pub dummy_key: &'a CredentialKey,
    /// The holder the PIN verifier is bound to ("" for nobody).
    pub holder: &'a str,
    /// The stored PIN verifier (the dummy's when there is none).
    pub verifier: &'a [u8],
    pub digits: Digits,
    pub kind: OtpKind,
    /// The last accepted step.
    pub floor: Option<u64>,
    pub drift: i64,
}

impl std::fmt::Debug for Against<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys and verifiers are never shown.
        f.debug_struct("Against")
            .field("holder", &self.holder)
            .field("digits", &self.digits)
            .field("kind", &self.kind)
            .field("floor", &self.floor)
            .field("drift", &self.drift)
            .finish_non_exhaustive()
    }
}

impl Against<'_> {
    /// The kind of a login without a credential.
    pub const NOBODY_KIND: OtpKind = OtpKind::Totp {
        period: Period::DEFAULT,
    };
}

/// How wide a writer's windows are.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub totp_behind: u32,
    pub hotp_look_ahead: u32,
    /// Every request computes this many window candidates.
    pub candidates: u32,
}

impl Window {
    /// The candidates every request pads to: the widest window any
    /// credential may have (the largest drift).
    pub fn new(totp_behind: u32, hotp_look_ahead: u32) -> Window {
        let (behind, ahead) = totp_window(
            totp_behind,
            -i64::from(crate::domain::verify_policy::MAX_DRIFT),
        );
        Window {
            totp_behind,
            hotp_look_ahead,
            candidates: hotp_look_ahead.max(behind + ahead + 1),
        }
    }
}

/// The facts of one request's proof of possession.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facts {
    /// PIN ‖ code of the right lengths, all digits.
    pub well_formed: bool,
    /// The PIN matches the stored verifier (the caller decides whether
    /// that verifier was a real one).
    pub pin_matches: bool,
    /// The step and offset of the window the code matched.
    pub code_step: Option<(u64, i64)>,
    /// The code is the last accepted step's (a retried request).
    pub replay: bool,
    /// The window's parameters were out of range (nothing matched).
    pub out_of_range: bool,
}

/// Computes the facts of `passcode` against `against`, at `now`.
pub fn possession(
    keys: &Keys,
    window: Window,
    against: &Against<'_>,
    passcode: &str,
    now: UnixTime,
) -> Result<Facts, OtpError> {
    let digits = against.digits;
    let key = against.key;
    // Split PIN ‖ code. Only lengths and character classes are examined
    // here: public properties of the input.
    let d = usize::from(digits.get());
    let bytes = passcode.as_bytes();
    let well_formed = (MIN_PIN_DIGITS + d..=MAX_PIN_DIGITS + d).contains(&bytes.len())
        && bytes.iter().all(u8::is_ascii_digit);
    let (pin_part, code_part) = if well_formed {
        passcode.split_at(bytes.len() - d)
    } else {
        ("000000", &"00000000"[..d])
    };
    let code = Code::parse(code_part, digits)?;
    // The PIN verifier, always computed and compared.
    let pin_matches = keys.pin_matches(against.holder, pin_part.as_bytes(), against.verifier);
    // The whole window, always evaluated.
    let floor = against.floor.map_or(ReplayFloor::FRESH, ReplayFloor::after);
    let (matched, evaluated) = match against.kind {
        OtpKind::Hotp { .. } => (
            Hotp::new(digits, window.hotp_look_ahead).and_then(|h| h.verify(key, &code, floor)),
            window.hotp_look_ahead,
        ),
        OtpKind::Totp { period } => {
            let (behind, ahead) = totp_window(window.totp_behind, against.drift);
            (
                Totp::new(digits, period)
                    .with_window(behind, ahead)
                    .and_then(|t| t.verify(key, &code, now, 0, floor)),
                behind + ahead + 1,
            )
        }
    };
    // Pad to the same number of MAC computations for every request, so
    // the kind of token, its drift, or a missing login do not show in
    // the time taken.
    for step in evaluated..window.candidates {
        std::hint::black_box(code_at(against.dummy_key, u64::from(step), digits));
    }
    let out_of_range = matched.is_err();
    let matched = matched.ok().flatten();
    // Replay: the code of the last accepted step (a retried request). The
    // same computation whether or not a code was accepted before.
    let replay_step = floor.last_accepted().unwrap_or(0);
    let replay = bool::from(code_at(key, replay_step, digits).ct_eq(&code))
        && floor.last_accepted().is_some();
    Ok(Facts {
        well_formed,
        pin_matches,
        code_step: matched.map(|m| (m.step(), m.offset())),
        replay,
        out_of_range,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::crypto::MasterKey;
    use crate::otp::{Algorithm, Secret};

    fn setup() -> (Keys, CredentialKey, CredentialKey, [u8; 32]) {
        let keys = MasterKey::generate().unwrap().keys().unwrap();
        let secret = Secret::generate(Algorithm::Sha1).unwrap();
        let dummy = Secret::generate(Algorithm::Sha1).unwrap();
        let verifier = keys.pin_verifier("jdupont", b"482913");
        (
            keys,
            CredentialKey::new(Algorithm::Sha1, &secret),
            CredentialKey::new(Algorithm::Sha1, &dummy),
            verifier,
        )
    }

    fn hotp<'a>(key: &'a CredentialKey, dummy: &'a CredentialKey, v: &'a [u8]) -> Against<'a> {
        Against {
            key,
            dummy_key: dummy,
            holder: "jdupont",
            verifier: v,
            digits: Digits::SIX,
            kind: OtpKind::Hotp { counter: 0 },
            floor: Some(4),
            drift: 0,
        }
    }

    #[test]
    fn the_next_hotp_code_with_the_pin_matches_its_step() {
        let (keys, key, dummy, v) = setup();
        let window = Window::new(1, 10);
        let code = code_at(&key, 7, Digits::SIX);
        let passcode = format!("482913{code}");
        let facts = possession(&keys, window, &hotp(&key, &dummy, &v), &passcode, 0).unwrap();
        assert!(facts.well_formed && facts.pin_matches && !facts.replay);
        assert_eq!(facts.code_step.map(|s| s.0), Some(7));
        let wrong_pin = format!("000000{code}");
        let facts = possession(&keys, window, &hotp(&key, &dummy, &v), &wrong_pin, 0).unwrap();
        assert!(!facts.pin_matches);
    }

    #[test]
    fn the_last_accepted_code_is_a_replay_and_matches_nothing() {
        let (keys, key, dummy, v) = setup();
        let code = code_at(&key, 4, Digits::SIX);
        let passcode = format!("482913{code}");
        let facts = possession(
            &keys,
            Window::new(1, 10),
            &hotp(&key, &dummy, &v),
            &passcode,
            0,
        )
        .unwrap();
        assert!(facts.replay);
        assert_eq!(facts.code_step, None);
    }

    #[test]
    fn a_malformed_passcode_is_not_well_formed_and_matches_nothing() {
        let (keys, key, dummy, v) = setup();
        for passcode in ["", "12", "48291a123456", "4829131234567890123456"] {
            let facts = possession(
                &keys,
                Window::new(1, 10),
                &hotp(&key, &dummy, &v),
                passcode,
                0,
            )
            .unwrap();
            assert!(!facts.well_formed, "{passcode}");
            assert!(!facts.pin_matches || facts.code_step.is_none());
        }
    }
}

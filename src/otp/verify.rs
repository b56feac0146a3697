//! Verification over a window, and resynchronisation.
//!
//! Every candidate in a window is computed and compared in constant time; the
//! results are folded with masks, with no early exit and no branch on a secret.
//! The only branches are on public data: the window bounds, the replay floor and
//! the digit count. Nothing here mutates state: a [`Match`] tells the caller which
//! step to record, and the caller records it in the same transaction that decided.
//!
//! Replays are refused by the shape of the API: every verify takes the
//! credential's [`ReplayFloor`] (no default, no `Option`), and a step at or below
//! it can never be reported as a match.

use subtle::Choice;

use super::code::{for_each_code, mask_if_equal, Code, Digits};
use super::key::CredentialKey;
use super::OtpError;

/// Largest verify window we allow. With 6 digits, 100 candidates give a random
/// guess a 1-in-10,000 chance; lockout after 10 failures keeps the total risk low.
pub const MAX_WINDOW: u32 = 100;

/// RFC 4226 §7.4: resynchronisation looks this far ahead for two consecutive codes.
pub const RESYNC_RANGE: u32 = 1000;

/// TOTP time step length in seconds, 1..=120.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Period(u32);

impl Period {
    pub const DEFAULT: Period = Period(30);

    pub fn new(seconds: u32) -> Result<Self, OtpError> {
        match seconds {
            1..=120 => Ok(Period(seconds)),
            _ => Err(OtpError::BadPeriod(seconds)),
        }
    }

    pub fn seconds(self) -> u32 {
        self.0
    }
}

/// The highest step (HOTP counter or TOTP time step) already accepted for a
/// credential, or none for a credential never used. Steps at or below it are
/// never accepted again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReplayFloor(Option<u64>);

impl ReplayFloor {
    /// A credential that has never accepted a code.
    pub const FRESH: ReplayFloor = ReplayFloor(None);

    pub fn after(last_accepted: u64) -> Self {
        ReplayFloor(Some(last_accepted))
    }

    /// For an HOTP credential whose first valid counter is `counter`
    /// (the initial moving factor).
    pub fn before(counter: u64) -> Self {
        ReplayFloor(counter.checked_sub(1))
    }

    pub fn last_accepted(self) -> Option<u64> {
        self.0
    }

    /// The lowest step still admissible.
    pub fn first_admissible(self) -> Result<u64, OtpError> {
        match self.0 {
            None => Ok(0),
            Some(last) => last.checked_add(1).ok_or(OtpError::CounterOverflow),
        }
    }

    fn admits(self, step: u64) -> bool {
        self.0.is_none_or(|last| step > last)
    }
}

/// A verified code: which step matched, and how far from the expected one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Match {
    step: u64,
    offset: i64,
}

impl Match {
    /// The HOTP counter or TOTP time step the code was computed for.
    pub fn step(self) -> u64 {
        self.step
    }

    /// HOTP: how far past the expected counter; TOTP: matched step minus the
    /// current step (negative for a slow token), the basis of drift learning.
    pub fn offset(self) -> i64 {
        self.offset
    }

    /// The floor to store once this match is committed.
    pub fn floor(self) -> ReplayFloor {
        ReplayFloor::after(self.step)
    }
}

/// Scans `first..first+count`, comparing every admissible step's code with
/// `code`; returns the matching step, if any. Runs every iteration whatever
/// matches.
fn scan(
    key: &CredentialKey,
    digits: Digits,
    code: &Code,
    first: u64,
    count: u32,
    floor: ReplayFloor,
) -> Option<u64> {
    let expected = code.value();
    let mut found = 0u64;
    let mut matched = 0u64;
    for_each_code(key, first, count, digits, |step, value| {
        let hit = mask_if_equal(value, expected) & admissible_mask(floor, step);
        // Two steps of one window can share a code (about once in 10^5
        // verifies with 6 digits and 10 candidates): keep the lowest, as RFC
        // 4226 §7.2 does, so an HOTP counter never skips valid codes.
        let first_hit = hit & !found;
        matched = (matched & !first_hit) | (step & first_hit);
        found |= hit;
    });
    Option::from(subtle::CtOption::new(
        matched,
        Choice::from((found & 1) as u8),
    ))
}

/// All ones when the floor admits `step`. Public data: a plain branch is fine.
#[inline(always)]
fn admissible_mask(floor: ReplayFloor, step: u64) -> u64 {
    if floor.admits(step) {
        u64::MAX
    } else {
        0
    }
}

/// As [`scan`] but for two consecutive codes: returns the step of the second.
fn scan_pair(
    key: &CredentialKey,
    digits: Digits,
    (first_code, second_code): (&Code, &Code),
    first: u64,
    count: u32,
    floor: ReplayFloor,
) -> Option<u64> {
    let (a, b) = (first_code.value(), second_code.value());
    let mut found = 0u64;
    let mut matched = 0u64;
    let mut previous_hit = 0u64;
    // count + 1 codes cover `count` consecutive pairs; the first code only
    // opens a pair.
    for_each_code(key, first, count + 1, digits, |step, value| {
        let admissible = admissible_mask(floor, step);
        let hit = previous_hit & mask_if_equal(value, b) & admissible;
        let first_hit = hit & !found;
        matched = (matched & !first_hit) | (step & first_hit);
        found |= hit;
        previous_hit = mask_if_equal(value, a) & admissible;
    });
    Option::from(subtle::CtOption::new(
        matched,
        Choice::from((found & 1) as u8),
    ))
}

fn check_digits(digits: Digits, codes: &[&Code]) -> Result<(), OtpError> {
    match codes.iter().find(|c| c.digits() != digits) {
        Some(c) => Err(OtpError::DigitsMismatch {
            expected: digits.get(),
            got: c.digits().get(),
        }),
        None => Ok(()),
    }
}

fn window_len(len: u32) -> Result<u32, OtpError> {
    match len {
        1..=MAX_WINDOW => Ok(len),
        _ => Err(OtpError::BadWindow {
            len,
            max: MAX_WINDOW,
        }),
    }
}

/// An HOTP credential's verification parameters (RFC 4226).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hotp {
    digits: Digits,
    look_ahead: u32,
}

impl Hotp {
    pub const DEFAULT_LOOK_AHEAD: u32 = 10;

    /// `look_ahead` is the number of counters tried, starting at the next unused
    /// one (1 = no look-ahead).
    pub fn new(digits: Digits, look_ahead: u32) -> Result<Self, OtpError> {
        Ok(Hotp {
            digits,
            look_ahead: window_len(look_ahead)?,
        })
    }

    pub fn with_digits(digits: Digits) -> Self {
        Hotp {
            digits,
            look_ahead: Self::DEFAULT_LOOK_AHEAD,
        }
    }

    pub fn digits(&self) -> Digits {
        self.digits
    }

    pub fn look_ahead(&self) -> u32 {
        self.look_ahead
    }

    pub fn code(&self, key: &CredentialKey, counter: u64) -> Code {
        super::code::code_at(key, counter, self.digits)
    }

    fn window(&self, floor: ReplayFloor, len: u32) -> Result<u64, OtpError> {
        let first = floor.first_admissible()?;
        // The last candidate, and the counter after it, must both exist.
        first
            .checked_add(u64::from(len))
            .ok_or(OtpError::CounterOverflow)?;
        Ok(first)
    }

    pub fn verify(
        &self,
        key: &CredentialKey,
        code: &Code,
        floor: ReplayFloor,
    ) -> Result<Option<Match>, OtpError> {
        check_digits(self.digits, &[code])?;
        let first = self.window(floor, self.look_ahead)?;
        Ok(
            scan(key, self.digits, code, first, self.look_ahead, floor).map(|step| Match {
                step,
                offset: (step - first) as i64,
            }),
        )
    }

    /// RFC 4226 §7.4: two consecutive codes within `range` (≤ 1000) counters past
    /// the floor. The match reports the second code's counter.
    pub fn resync(
        &self,
        key: &CredentialKey,
        codes: (&Code, &Code),
        floor: ReplayFloor,
        range: u32,
    ) -> Result<Option<Match>, OtpError> {
        check_digits(self.digits, &[codes.0, codes.1])?;
        let range = resync_range(range)?;
        let first = self.window(floor, range + 1)?;
        Ok(
            scan_pair(key, self.digits, codes, first, range, floor).map(|step| Match {
                step,
                offset: (step - first) as i64,
            }),
        )
    }
}

fn resync_range(range: u32) -> Result<u32, OtpError> {
    match range {
        1..=RESYNC_RANGE => Ok(range),
        _ => Err(OtpError::BadWindow {
            len: range,
            max: RESYNC_RANGE,
        }),
    }
}

/// A TOTP credential's verification parameters (RFC 6238).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Totp {
    digits: Digits,
    period: Period,
    t0: u64,
    behind: u32,
    ahead: u32,
    max_drift: u32,
}

impl Totp {
    pub const DEFAULT_BEHIND: u32 = 1;
    pub const DEFAULT_AHEAD: u32 = 0;
    pub const DEFAULT_MAX_DRIFT: u32 = 4;

    /// Accepts the current step and one before it, with T0 = 0.
    pub fn new(digits: Digits, period: Period) -> Self {
        Totp {
            digits,
            period,
            t0: 0,
            behind: Self::DEFAULT_BEHIND,
            ahead: Self::DEFAULT_AHEAD,
            max_drift: Self::DEFAULT_MAX_DRIFT,
        }
    }

    /// Steps accepted before and after the (drift-corrected) current step.
    pub fn with_window(mut self, behind: u32, ahead: u32) -> Result<Self, OtpError> {
        let len = behind
            .checked_add(ahead)
            .and_then(|n| n.checked_add(1))
            .ok_or(OtpError::BadWindow {
                len: u32::MAX,
                max: MAX_WINDOW,
            })?;
        window_len(len)?;
        self.behind = behind;
        self.ahead = ahead;
        Ok(self)
    }

    /// Largest drift, in steps, a caller may pass to [`Totp::verify`].
    pub fn with_max_drift(mut self, max_drift: u32) -> Result<Self, OtpError> {
        if max_drift > MAX_WINDOW {
            return Err(OtpError::BadWindow {
                len: max_drift,
                max: MAX_WINDOW,
            });
        }
        self.max_drift = max_drift;
        Ok(self)
    }

    pub fn with_t0(mut self, t0: u64) -> Self {
        self.t0 = t0;
        self
    }

    pub fn digits(&self) -> Digits {
        self.digits
    }

    pub fn period(&self) -> Period {
        self.period
    }

    pub fn window_len(&self) -> u32 {
        self.behind + self.ahead + 1
    }

    /// The time step for a Unix time (RFC 6238 §4.2).
    pub fn step_at(&self, unix_time: u64) -> Result<u64, OtpError> {
        let elapsed = unix_time
            .checked_sub(self.t0)
            .ok_or(OtpError::TimeBeforeT0)?;
        Ok(elapsed / u64::from(self.period.0))
    }

    pub fn code_at_time(&self, key: &CredentialKey, unix_time: u64) -> Result<Code, OtpError> {
        Ok(super::code::code_at(
            key,
            self.step_at(unix_time)?,
            self.digits,
        ))
    }

    /// First candidate and candidate count for a window of `behind`/`ahead`
    /// steps around `center`, clipped at step 0.
    fn window(center: i128, behind: u32, ahead: u32) -> Result<(u64, u32), OtpError> {
        let low = center - i128::from(behind);
        let high = center + i128::from(ahead);
        // The step after the last candidate must exist for the caller's floor.
        if high >= i128::from(u64::MAX) {
            return Err(OtpError::CounterOverflow);
        }
        if high < 0 {
            return Ok((0, 0));
        }
        let first = low.max(0);
        let count = u32::try_from(high - first + 1).map_err(|_| OtpError::CounterOverflow)?;
        Ok((first as u64, count))
    }

    /// Verifies `code` at `unix_time`. `drift` is the credential's learnt clock
    /// offset in steps (|drift| ≤ max drift); the window is centred on
    /// current step + drift.
    pub fn verify(
        &self,
        key: &CredentialKey,
        code: &Code,
        unix_time: u64,
        drift: i64,
        floor: ReplayFloor,
    ) -> Result<Option<Match>, OtpError> {
        check_digits(self.digits, &[code])?;
        if drift.unsigned_abs() > u64::from(self.max_drift) {
            return Err(OtpError::DriftOutOfBounds {
                drift,
                max: self.max_drift,
            });
        }
        let current = self.step_at(unix_time)?;
        let (first, count) = Self::window(
            i128::from(current) + i128::from(drift),
            self.behind,
            self.ahead,
        )?;
        Ok(
            scan(key, self.digits, code, first, count, floor).map(|step| Match {
                step,
                offset: (i128::from(step) - i128::from(current)) as i64,
            }),
        )
    }

    /// Finds two consecutive codes within `range` (≤ 1000) steps either side of
    /// the current step: the way back for a token whose clock drifted far. The
    /// match's offset is the new drift.
    pub fn resync(
        &self,
        key: &CredentialKey,
        codes: (&Code, &Code),
        unix_time: u64,
        floor: ReplayFloor,
        range: u32,
    ) -> Result<Option<Match>, OtpError> {
        check_digits(self.digits, &[codes.0, codes.1])?;
        let range = resync_range(range)?;
        let current = self.step_at(unix_time)?;
        // Pairs (s, s+1) with s+1 in [current - range, current + range].
        let (first, count) = Self::window(i128::from(current), range + 1, range)?;
        let pairs = count.saturating_sub(1);
        Ok(
            scan_pair(key, self.digits, codes, first, pairs, floor).map(|step| Match {
                step,
                offset: (i128::from(step) - i128::from(current)) as i64,
            }),
        )
    }
}

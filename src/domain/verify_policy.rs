//! What a verify attempt decides, once the evidence is in: pure policy.
//!
//! The caller computes every piece of evidence (PIN check, whole OTP window,
//! replay check, rights) before calling [`decide`], whatever the login, so the
//! work done never depends on which part is wrong. The answer to the caller is
//! accept or reject; the reason goes only to the audit.

use super::calendar::UnixTime;

/// Consecutive failures that lock a credential until an operator unlocks it.
pub const LOCK_AFTER: u32 = 10;
/// Failures after which each further attempt must wait.
pub const DELAY_AFTER: u32 = 3;
/// Longest wait imposed before lockout, in seconds.
pub const MAX_DELAY: u64 = 300;

/// The credential's counters as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counters {
    pub fails: u32,
    pub locked: bool,
    /// No attempt is evaluated before this time.
    pub retry_at: UnixTime,
}

/// What the verify path found out, all of it computed before deciding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// The passcode has the shape PIN (6–8 digits) followed by a code.
    pub well_formed: bool,
    /// The login names a holder with a credential on a token.
    pub known: bool,
    /// That token is active (handed over and activated).
    pub active: bool,
    pub pin_ok: bool,
    /// The code matched an admissible step of the window: (step, offset).
    pub code_step: Option<(u64, i64)>,
    /// The code equals the last accepted one (a replay, e.g. a retried request).
    pub replay: bool,
    /// What the request is for ([`Purpose`]), which says what `entitled` means.
    pub purpose: Purpose,
    /// The holder may use the key for `purpose`: a right in force for the
    /// gateway, a live staff key for a staff sign-in.
    pub entitled: bool,
}

/// What a verify request is for. The proof of possession (PIN, code,
/// replay, counters) is the same for every purpose; only what the holder
/// must be entitled to differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// A gateway (API, RADIUS, privacyIDEA-style check) letting a director
    /// or deputy in: a school right in force is required.
    Gateway,
    /// A staff member signing in to the web console: a live staff key
    /// (admin, desk or inspector) is required, no school right.
    StaffSignIn,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Gateway => "gateway",
            Purpose::StaffSignIn => "staff_sign_in",
        }
    }

    /// Why a holder who proved possession is still refused.
    fn not_entitled(self) -> Reason {
        match self {
            Purpose::Gateway => Reason::NoRightInForce,
            Purpose::StaffSignIn => Reason::NoStaffKey,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    UnknownLogin,
    Locked,
    Throttled,
    TokenNotActive,
    WrongPin,
    WrongCode,
    WrongPinAndCode,
    Replay,
    NoRightInForce,
    /// Possession proved at a staff sign-in by someone with no live staff key.
    NoStaffKey,
    Malformed,
    SourceLimited,
}

/// Every [`Reason`]'s audit text, in the order the variants are declared.
const REASON_TEXTS: [&str; 12] = [
    "unknown login",
    "credential locked",
    "attempt before the required delay",
    "token not active",
    "wrong PIN",
    "wrong code",
    "wrong PIN and code",
    "code already used",
    "no right in force",
    "no staff key",
    "malformed passcode",
    "too many failures from this source",
];

impl Reason {
    /// Every reason, in the order they are declared.
    pub const ALL: [Reason; 12] = [
        Reason::UnknownLogin,
        Reason::Locked,
        Reason::Throttled,
        Reason::TokenNotActive,
        Reason::WrongPin,
        Reason::WrongCode,
        Reason::WrongPinAndCode,
        Reason::Replay,
        Reason::NoRightInForce,
        Reason::NoStaffKey,
        Reason::Malformed,
        Reason::SourceLimited,
    ];

    /// The reason's text in the audit: one load from a table, the same
    /// work whichever the reason (a refusal's audit entry is written on
    /// the verify path, issue 11 point 3).
    pub fn as_str(self) -> &'static str {
        REASON_TEXTS[self as usize]
    }

    /// Whether the attempt counts towards the delay and the lockout. Guesses
    /// do; a replay with the right PIN (a retried request) does not, nor does
    /// an attempt that was not evaluated, nor a right PIN and code from a
    /// holder with no right in force (it proved possession: a director
    /// appointed from a later day trying early).
    pub fn counts_as_failure(self) -> bool {
        matches!(
            self,
            Reason::WrongPin
                | Reason::WrongCode
                | Reason::WrongPinAndCode
                | Reason::TokenNotActive
                | Reason::UnknownLogin
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Accept {
        step: u64,
        offset: i64,
        counters: Counters,
    },
    Reject {
        reason: Reason,
        counters: Counters,
        /// Seconds the caller must wait before the next attempt.
        retry_after: Option<u64>,
    },
}

/// Delay imposed after `fails` consecutive failures: 1 s after the 3rd,
/// doubling, capped.
pub fn delay_after(fails: u32) -> Option<u64> {
    if fails < DELAY_AFTER {
        return None;
    }
    let exponent = (fails - DELAY_AFTER).min(16);
    Some((1u64 << exponent).min(MAX_DELAY))
}

/// Failures one source may cause per window before its requests are refused
/// unevaluated: so that one caller cannot lock everybody out.
pub const SOURCE_FAILURES_PER_WINDOW: u32 = 50;
pub const SOURCE_WINDOW: u64 = 60;

/// Per-source failure counts in fixed windows. Bounded: when full, the
/// oldest windows are forgotten first.
#[derive(Debug, Default)]
pub struct SourceLimiter {
    windows: std::collections::HashMap<String, (UnixTime, u32)>,
}

impl SourceLimiter {
    const MAX_SOURCES: usize = 10_000;

    /// Seconds `source` must wait, if it is over its budget at `now`.
    pub fn blocked_for(&self, source: &str, now: UnixTime) -> Option<u64> {
        let &(start, failures) = self.windows.get(source)?;
        let end = start.saturating_add(SOURCE_WINDOW);
        (now < end && failures >= SOURCE_FAILURES_PER_WINDOW).then(|| end - now)
    }

    pub fn record_failure(&mut self, source: &str, now: UnixTime) {
        if self.windows.len() >= Self::MAX_SOURCES && !self.windows.contains_key(source) {
            self.windows
                .retain(|_, (start, _)| now < start.saturating_add(SOURCE_WINDOW));
            if self.windows.len() >= Self::MAX_SOURCES {
                self.windows.clear();
            }
        }
        let entry = self.windows.entry(source.to_owned()).or_insert((now, 0));
        if now >= entry.0.saturating_add(SOURCE_WINDOW) {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

/// Largest learnt TOTP clock offset, in steps, either way.
pub const MAX_DRIFT: u32 = 4;

/// A credential's replay floor after a restore: a code accepted after the
/// backup was taken must never be accepted again.
///
/// - HOTP: `floor` (the last counter accepted, `None` before the first)
///   moves `advance` counters forward (at least the look-ahead window),
///   past every counter the backup's window would have accepted.
/// - TOTP: the floor becomes the current step plus [`MAX_DRIFT`], the
///   furthest ahead any learnt drift reaches, and never goes back.
///
/// Returns the new floor.
pub fn floor_after_restore(
    kind: crate::otp::OtpKind,
    floor: Option<u64>,
    advance: u32,
    now: UnixTime,
) -> u64 {
    match kind {
        crate::otp::OtpKind::Hotp { .. } => match floor {
            Some(last) => last.saturating_add(u64::from(advance)),
            None => u64::from(advance.saturating_sub(1)),
        },
        crate::otp::OtpKind::Totp { period } => {
            let step = now / u64::from(period.seconds());
            let floor_now = step.saturating_add(u64::from(MAX_DRIFT));
            floor.map_or(floor_now, |old| old.max(floor_now))
        }
    }
}

/// The TOTP window for a credential with a learnt `drift`: the usual steps
/// (current and `behind` before it) always, widened to reach current + drift.
/// Returns (steps behind, steps ahead) around the current step.
pub fn totp_window(behind: u32, drift: i64) -> (u32, u32) {
    let drift = drift.clamp(-i64::from(MAX_DRIFT), i64::from(MAX_DRIFT));
    let extra_behind = u32::try_from((-drift).max(0)).unwrap_or(0);
    let ahead = u32::try_from(drift.max(0)).unwrap_or(0);
    (behind + extra_behind, ahead)
}

/// The drift to store after an accept at `offset` steps from the current
/// one: none while the token is within the usual window, else the offset seen
/// (bounded).
pub fn learned_drift(offset: i64, behind: u32) -> i64 {
    if (-i64::from(behind)..=0).contains(&offset) {
        0
    } else {
        offset.clamp(-i64::from(MAX_DRIFT), i64::from(MAX_DRIFT))
    }
}

pub fn decide(now: UnixTime, counters: Counters, evidence: Evidence) -> Decision {
    let reject = |reason: Reason, counters: Counters| {
        let retry_after = if counters.locked {
            None
        } else {
            delay_after(counters.fails).map(|_| counters.retry_at.saturating_sub(now))
        };
        Decision::Reject {
            reason,
            counters,
            retry_after: retry_after.filter(|&s| s > 0),
        }
    };
    if counters.locked {
        return reject(Reason::Locked, counters);
    }
    if now < counters.retry_at {
        return reject(Reason::Throttled, counters);
    }
    let reason = match (evidence, evidence.code_step) {
        (e, _) if !e.well_formed => Some(Reason::Malformed),
        (e, _) if !e.known => Some(Reason::UnknownLogin),
        (e, _) if !e.active => Some(Reason::TokenNotActive),
        (e, Some(_)) if !e.pin_ok => Some(Reason::WrongPin),
        // The code last accepted is refused even when a later step of the
        // window happens to show the same digits: one passcode, one accept.
        (e, _) if e.pin_ok && e.replay => Some(Reason::Replay),
        (e, None) if e.pin_ok => Some(Reason::WrongCode),
        (_, None) => Some(Reason::WrongPinAndCode),
        (e, Some(_)) if !e.entitled => Some(e.purpose.not_entitled()),
        (_, Some(_)) => None,
    };
    match (reason, evidence.code_step) {
        (None, Some((step, offset))) => Decision::Accept {
            step,
            offset,
            counters: Counters {
                fails: 0,
                locked: false,
                retry_at: 0,
            },
        },
        (Some(reason), _) if reason.counts_as_failure() => {
            let fails = counters.fails.saturating_add(1);
            let locked = fails >= LOCK_AFTER;
            let retry_at = delay_after(fails).map_or(0, |d| now.saturating_add(d));
            reject(
                reason,
                Counters {
                    fails,
                    locked,
                    retry_at,
                },
            )
        }
        (Some(reason), _) => reject(reason, counters),
        (None, None) => reject(Reason::WrongCode, counters),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_reads_its_own_text_from_the_table() {
        for (i, reason) in Reason::ALL.into_iter().enumerate() {
            assert_eq!(reason as usize, i);
            let text = match reason {
                Reason::UnknownLogin => "unknown login",
                Reason::Locked => "credential locked",
                Reason::Throttled => "attempt before the required delay",
                Reason::TokenNotActive => "token not active",
                Reason::WrongPin => "wrong PIN",
                Reason::WrongCode => "wrong code",
                Reason::WrongPinAndCode => "wrong PIN and code",
                Reason::Replay => "code already used",
                Reason::NoRightInForce => "no right in force",
                Reason::NoStaffKey => "no staff key",
                Reason::Malformed => "malformed passcode",
                Reason::SourceLimited => "too many failures from this source",
            };
            assert_eq!(reason.as_str(), text);
        }
    }

    const GOOD: Evidence = Evidence {
        well_formed: true,
        known: true,
        active: true,
        pin_ok: true,
        code_step: Some((100, 0)),
        replay: false,
        purpose: Purpose::Gateway,
        entitled: true,
    };
    const FRESH: Counters = unlocked(0, 0);

    const fn unlocked(fails: u32, retry_at: UnixTime) -> Counters {
        Counters {
            fails,
            locked: false,
            retry_at,
        }
    }

    #[test]
    fn accept_resets_failures() {
        let c = unlocked(5, 10);
        assert!(matches!(
            decide(1000, c, GOOD),
            Decision::Accept { step: 100, counters, .. } if counters == FRESH
        ));
    }

    #[test]
    fn each_wrong_part_is_a_counted_failure() {
        let cases = [
            (
                Evidence {
                    pin_ok: false,
                    ..GOOD
                },
                Reason::WrongPin,
            ),
            (
                Evidence {
                    code_step: None,
                    ..GOOD
                },
                Reason::WrongCode,
            ),
            (
                Evidence {
                    active: false,
                    ..GOOD
                },
                Reason::TokenNotActive,
            ),
            (
                Evidence {
                    known: false,
                    ..GOOD
                },
                Reason::UnknownLogin,
            ),
        ];
        for (evidence, expected) in cases {
            match decide(1000, FRESH, evidence) {
                Decision::Reject {
                    reason, counters, ..
                } => {
                    assert_eq!(reason, expected);
                    assert_eq!(counters.fails, 1);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn right_pin_and_code_without_a_right_is_not_a_guess() {
        let e = Evidence {
            entitled: false,
            ..GOOD
        };
        assert!(matches!(
            decide(1000, unlocked(3, 0), e),
            Decision::Reject { reason: Reason::NoRightInForce, counters, .. }
                if counters == unlocked(3, 0)
        ));
    }

    #[test]
    fn staff_sign_in_asks_for_a_staff_key_not_a_right() {
        let staff = Evidence {
            purpose: Purpose::StaffSignIn,
            ..GOOD
        };
        assert!(matches!(
            decide(1000, FRESH, staff),
            Decision::Accept { .. }
        ));
        let not_staff = Evidence {
            entitled: false,
            ..staff
        };
        assert!(matches!(
            decide(1000, unlocked(3, 0), not_staff),
            Decision::Reject { reason: Reason::NoStaffKey, counters, .. }
                if counters == unlocked(3, 0)
        ));
        // Possession is checked the same way for every purpose.
        let wrong_pin = Evidence {
            pin_ok: false,
            ..staff
        };
        assert!(matches!(
            decide(1000, FRESH, wrong_pin),
            Decision::Reject {
                reason: Reason::WrongPin,
                ..
            }
        ));
    }

    #[test]
    fn replay_with_right_pin_is_not_a_guess() {
        let e = Evidence {
            code_step: None,
            replay: true,
            ..GOOD
        };
        assert!(matches!(
            decide(1000, FRESH, e),
            Decision::Reject { reason: Reason::Replay, counters, .. } if counters == FRESH
        ));
        let guess = Evidence { pin_ok: false, ..e };
        assert!(matches!(
            decide(1000, FRESH, guess),
            Decision::Reject { reason: Reason::WrongPinAndCode, counters, .. } if counters.fails == 1
        ));
    }

    #[test]
    fn the_last_accepted_code_is_refused_even_when_a_later_step_shows_it() {
        let e = Evidence {
            replay: true,
            ..GOOD
        };
        assert!(matches!(
            decide(1000, FRESH, e),
            Decision::Reject { reason: Reason::Replay, counters, .. } if counters == FRESH
        ));
    }

    #[test]
    fn delay_grows_then_locks_at_ten() {
        let bad = Evidence {
            pin_ok: false,
            ..GOOD
        };
        let mut c = FRESH;
        let mut now = 1000;
        for n in 1..=10u32 {
            match decide(now, c, bad) {
                Decision::Reject {
                    counters,
                    retry_after,
                    ..
                } => {
                    assert_eq!(counters.fails, n);
                    assert_eq!(counters.locked, n == 10);
                    if (3..10).contains(&n) {
                        assert_eq!(retry_after, Some(1 << (n - 3)));
                    } else {
                        assert_eq!(retry_after, None);
                    }
                    c = counters;
                }
                other => panic!("{other:?}"),
            }
            now = c.retry_at.max(now) + 1;
        }
        // Locked: even the right passcode is refused, nothing moves.
        assert!(matches!(
            decide(now + 100_000, c, GOOD),
            Decision::Reject { reason: Reason::Locked, counters, .. } if counters == c
        ));
    }

    #[test]
    fn drift_widens_the_window_and_is_bounded() {
        assert_eq!(totp_window(1, 0), (1, 0));
        assert_eq!(totp_window(1, -3), (4, 0));
        assert_eq!(totp_window(1, 2), (1, 2));
        assert_eq!(totp_window(1, 50), (1, 4));
        assert_eq!(learned_drift(-1, 1), 0);
        assert_eq!(learned_drift(0, 1), 0);
        assert_eq!(learned_drift(-3, 1), -3);
        assert_eq!(learned_drift(2, 1), 2);
        assert_eq!(learned_drift(-40, 1), -4);
    }

    #[test]
    fn a_source_over_budget_waits_for_its_window() {
        let mut limiter = SourceLimiter::default();
        for _ in 0..SOURCE_FAILURES_PER_WINDOW {
            assert_eq!(limiter.blocked_for("10.0.0.1", 1000), None);
            limiter.record_failure("10.0.0.1", 1000);
        }
        assert_eq!(limiter.blocked_for("10.0.0.1", 1010), Some(50));
        assert_eq!(limiter.blocked_for("10.0.0.2", 1010), None);
        assert_eq!(limiter.blocked_for("10.0.0.1", 1060), None);
        limiter.record_failure("10.0.0.1", 1060);
        assert_eq!(limiter.blocked_for("10.0.0.1", 1061), None);
    }

    #[test]
    fn malformed_passcode_is_refused_without_counting() {
        let e = Evidence {
            well_formed: false,
            ..GOOD
        };
        assert!(matches!(
            decide(1000, FRESH, e),
            Decision::Reject { reason: Reason::Malformed, counters, .. } if counters == FRESH
        ));
    }

    #[test]
    fn throttled_attempt_is_not_evaluated() {
        let c = unlocked(4, 2000);
        assert!(matches!(
            decide(1999, c, GOOD),
            Decision::Reject { reason: Reason::Throttled, retry_after: Some(1), counters, .. } if counters == c
        ));
        assert!(matches!(decide(2000, c, GOOD), Decision::Accept { .. }));
    }

    #[test]
    fn restore_moves_every_floor_past_the_backups_window() {
        use crate::otp::{OtpKind, Period};
        let hotp = OtpKind::Hotp { counter: 0 };
        let totp = OtpKind::Totp {
            period: Period::DEFAULT,
        };
        let now = 1_700_000_000; // step 56_666_666 at 30 s
        for (kind, floor, advance, expected) in [
            // HOTP: the backup accepted floor+1 ..= floor+10.
            (hotp, Some(41), 10, 51),
            (hotp, Some(41), 25, 66),
            // Never used: the backup accepted counters 0 ..= 9.
            (hotp, None, 10, 9),
            (hotp, Some(u64::MAX - 3), 10, u64::MAX),
            // TOTP: the current step plus the largest drift ...
            (totp, None, 10, 56_666_666 + 4),
            (totp, Some(56_666_600), 10, 56_666_666 + 4),
            // ... never backwards.
            (totp, Some(56_666_700), 10, 56_666_700),
        ] {
            assert_eq!(
                floor_after_restore(kind, floor, advance, now),
                expected,
                "{kind:?} {floor:?} +{advance}"
            );
        }
    }
}

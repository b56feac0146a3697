//! Window behaviour: every position verifies and reports its step, one step
//! outside does not, and replays at or below the floor are impossible.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should stop loudly

use keyward::otp::{
    code_at, Algorithm, Code, CredentialKey, Digits, Hotp, OtpError, Period, ReplayFloor, Secret,
    Totp,
};

fn key(algorithm: Algorithm) -> CredentialKey {
    CredentialKey::new(
        algorithm,
        &Secret::from_hex("3132333435363738393031323334353637383930").unwrap(),
    )
}

fn code(key: &CredentialKey, step: u64, digits: Digits) -> Code {
    code_at(key, step, digits)
}

#[test]
fn hotp_every_position_of_the_look_ahead() {
    for algorithm in Algorithm::ALL {
        let key = key(algorithm);
        for look_ahead in [1u32, 2, 10, 25] {
            let hotp = Hotp::new(Digits::SIX, look_ahead).unwrap();
            let next = 1_000u64;
            let floor = ReplayFloor::before(next);
            for pos in 0..look_ahead {
                let c = code(&key, next + u64::from(pos), Digits::SIX);
                let m = hotp.verify(&key, &c, floor).unwrap().unwrap();
                assert_eq!(
                    (m.step(), m.offset()),
                    (next + u64::from(pos), i64::from(pos))
                );
                assert_eq!(m.floor(), ReplayFloor::after(next + u64::from(pos)));
            }
            // Just past the window, and the counter just below it (already used).
            let outside = code(&key, next + u64::from(look_ahead), Digits::SIX);
            let below = code(&key, next - 1, Digits::SIX);
            // Skip the (rare) case where an outside code collides with one inside.
            let inside: Vec<String> = (0..look_ahead)
                .map(|p| code(&key, next + u64::from(p), Digits::SIX).to_string())
                .collect();
            for c in [outside, below] {
                if !inside.contains(&c.to_string()) {
                    assert_eq!(hotp.verify(&key, &c, floor).unwrap(), None);
                }
            }
        }
    }
}

#[test]
fn totp_every_position_with_drift() {
    let key = key(Algorithm::Sha1);
    let now = 1_700_000_000u64;
    for (behind, ahead) in [(1u32, 0u32), (1, 1), (2, 3), (0, 0)] {
        for drift in [-4i64, -1, 0, 2, 4] {
            let totp = Totp::new(Digits::EIGHT, Period::DEFAULT)
                .with_window(behind, ahead)
                .unwrap();
            assert_eq!(totp.window_len(), behind + ahead + 1);
            let current = now / 30;
            let center = (current as i64 + drift) as u64;
            let first = center - u64::from(behind);
            let last = center + u64::from(ahead);
            for step in first..=last {
                let c = code(&key, step, Digits::EIGHT);
                let m = totp
                    .verify(&key, &c, now, drift, ReplayFloor::FRESH)
                    .unwrap()
                    .unwrap();
                assert_eq!(m.step(), step);
                assert_eq!(m.offset(), step as i64 - current as i64);
            }
            for step in [first - 1, last + 1] {
                let c = code(&key, step, Digits::EIGHT);
                assert_eq!(
                    totp.verify(&key, &c, now, drift, ReplayFloor::FRESH)
                        .unwrap(),
                    None
                );
            }
        }
    }
}

#[test]
fn replay_at_or_below_the_floor_is_refused() {
    let key = key(Algorithm::Sha256);
    let totp = Totp::new(Digits::SIX, Period::DEFAULT)
        .with_window(3, 0)
        .unwrap();
    let now = 1_000_000_020u64;
    let current = now / 30;
    let c = code(&key, current - 1, Digits::SIX);
    let m = totp
        .verify(&key, &c, now, 0, ReplayFloor::FRESH)
        .unwrap()
        .unwrap();
    // Once accepted, the same code (and any older step) is refused.
    assert_eq!(totp.verify(&key, &c, now, 0, m.floor()).unwrap(), None);
    let older = code(&key, current - 2, Digits::SIX);
    assert_eq!(totp.verify(&key, &older, now, 0, m.floor()).unwrap(), None);
    // A newer step still goes through.
    let newer = code(&key, current, Digits::SIX);
    assert_eq!(
        totp.verify(&key, &newer, now, 0, m.floor())
            .unwrap()
            .map(|m| m.step()),
        Some(current)
    );

    let hotp = Hotp::with_digits(Digits::SIX);
    let c = code(&key, 5, Digits::SIX);
    let m = hotp.verify(&key, &c, ReplayFloor::FRESH).unwrap().unwrap();
    assert_eq!(hotp.verify(&key, &c, m.floor()).unwrap(), None);
}

#[test]
fn counters_that_would_overflow_are_errors() {
    let key = key(Algorithm::Sha1);
    let hotp = Hotp::with_digits(Digits::SIX);
    let c = code(&key, 0, Digits::SIX);
    assert_eq!(
        hotp.verify(&key, &c, ReplayFloor::after(u64::MAX)),
        Err(OtpError::CounterOverflow)
    );
    assert_eq!(
        hotp.verify(&key, &c, ReplayFloor::after(u64::MAX - 5)),
        Err(OtpError::CounterOverflow)
    );
    // The last full window below 2^64 still works.
    let top = u64::MAX - 11;
    let c = code(&key, top + 9, Digits::SIX);
    assert_eq!(
        hotp.verify(&key, &c, ReplayFloor::before(top))
            .unwrap()
            .map(|m| m.step()),
        Some(top + 9)
    );
    // Post-2038 and far-future times are fine; times before T0 are an error.
    let totp = Totp::new(Digits::SIX, Period::DEFAULT);
    assert!(totp.code_at_time(&key, 4_102_444_800).is_ok());
    assert!(totp.code_at_time(&key, u64::MAX).is_ok());
    let totp = totp.with_t0(100);
    assert_eq!(totp.step_at(99), Err(OtpError::TimeBeforeT0));
}

#[test]
fn bad_parameters_are_errors() {
    let key = key(Algorithm::Sha1);
    assert_eq!(Period::new(0), Err(OtpError::BadPeriod(0)));
    assert_eq!(Period::new(121), Err(OtpError::BadPeriod(121)));
    assert!(Period::new(1).is_ok() && Period::new(120).is_ok());
    assert!(matches!(
        Hotp::new(Digits::SIX, 0),
        Err(OtpError::BadWindow { .. })
    ));
    assert!(matches!(
        Hotp::new(Digits::SIX, 101),
        Err(OtpError::BadWindow { .. })
    ));
    let totp = Totp::new(Digits::SIX, Period::DEFAULT);
    assert!(matches!(
        totp.with_window(50, 50),
        Err(OtpError::BadWindow { .. })
    ));
    assert!(matches!(
        totp.with_window(u32::MAX, 1),
        Err(OtpError::BadWindow { .. })
    ));
    let c = code(&key, 1, Digits::SIX);
    assert_eq!(
        totp.verify(&key, &c, 100, 5, ReplayFloor::FRESH),
        Err(OtpError::DriftOutOfBounds { drift: 5, max: 4 })
    );
    // A code of the wrong length for the credential.
    let eight = code(&key, 1, Digits::EIGHT);
    assert_eq!(
        totp.verify(&key, &eight, 30, 0, ReplayFloor::FRESH),
        Err(OtpError::DigitsMismatch {
            expected: 6,
            got: 8
        })
    );
    // Near the epoch the window is clipped at step 0 rather than failing.
    let c0 = code(&key, 0, Digits::SIX);
    assert_eq!(
        totp.verify(&key, &c0, 10, 0, ReplayFloor::FRESH)
            .unwrap()
            .map(|m| m.step()),
        Some(0)
    );
}

#[test]
fn hotp_resync_finds_two_consecutive_codes() {
    let key = key(Algorithm::Sha1);
    let hotp = Hotp::with_digits(Digits::SIX);
    let floor = ReplayFloor::before(40);
    for gap in [0u64, 1, 11, 500, 998] {
        let a = code(&key, 40 + gap, Digits::SIX);
        let b = code(&key, 41 + gap, Digits::SIX);
        let m = hotp.resync(&key, (&a, &b), floor, 1000).unwrap().unwrap();
        assert_eq!(m.step(), 41 + gap);
        // The same codes reversed, or not consecutive, do not resync.
        assert_eq!(hotp.resync(&key, (&b, &a), floor, 1000).unwrap(), None);
        let c = code(&key, 42 + gap, Digits::SIX);
        assert_eq!(hotp.resync(&key, (&a, &c), floor, 1000).unwrap(), None);
    }
    // Beyond 1000 counters: not found; and the range itself is bounded.
    let a = code(&key, 40 + 1001, Digits::SIX);
    let b = code(&key, 40 + 1002, Digits::SIX);
    assert_eq!(hotp.resync(&key, (&a, &b), floor, 1000).unwrap(), None);
    assert!(matches!(
        hotp.resync(&key, (&a, &b), floor, 1001),
        Err(OtpError::BadWindow { .. })
    ));
}

#[test]
fn totp_resync_learns_the_drift() {
    let key = key(Algorithm::Sha512);
    let totp = Totp::new(Digits::SIX, Period::DEFAULT);
    let now = 1_800_000_000u64;
    let current = now / 30;
    for drift in [-900i64, -7, 0, 3, 999] {
        let s = (current as i64 + drift) as u64;
        let a = code(&key, s - 1, Digits::SIX);
        let b = code(&key, s, Digits::SIX);
        let m = totp
            .resync(&key, (&a, &b), now, ReplayFloor::FRESH, 1000)
            .unwrap()
            .unwrap();
        assert_eq!((m.step(), m.offset()), (s, drift));
        // Replays are refused here too.
        assert_eq!(
            totp.resync(&key, (&a, &b), now, m.floor(), 1000).unwrap(),
            None
        );
    }
}

//! Property tests against independent implementations: totp-rs (in process,
//! 10,000 cases) and oathtool (as a process, 1,000 cases). Zero mismatches.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should stop loudly

use keyward::otp::{
    code_at, Algorithm, Code, CredentialKey, Digits, Period, ReplayFloor, Secret, Totp,
};
use proptest::prelude::*;
use zeroize::Zeroizing;

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop_oneof![
        Just(Algorithm::Sha1),
        Just(Algorithm::Sha256),
        Just(Algorithm::Sha512)
    ]
}

fn secret_bytes() -> impl Strategy<Value = Vec<u8>> {
    // From the 16-byte minimum to past the SHA-512 block size (key hashing path).
    prop::collection::vec(any::<u8>(), 16..=160)
}

/// What both sides of a comparison take: algorithm, raw secret, digits
/// and period.
fn credential() -> impl Strategy<Value = (Algorithm, Vec<u8>, u8, u32)> {
    (algorithm(), secret_bytes(), 6u8..=8, 1u32..=120)
}

/// `cases` runs, nothing persisted between runs.
fn runs(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn totp_rs_alg(a: Algorithm) -> totp_rs::Algorithm {
    match a {
        Algorithm::Sha1 => totp_rs::Algorithm::SHA1,
        Algorithm::Sha256 => totp_rs::Algorithm::SHA256,
        Algorithm::Sha512 => totp_rs::Algorithm::SHA512,
    }
}

proptest! {
    #![proptest_config(runs(10_000))]

    #[test]
    fn agrees_with_totp_rs(
        (alg, raw, digits, period) in credential(),
        time in prop_oneof![0u64..4_000_000_000, 4_000_000_000u64..=u64::MAX / 2],
    ) {
        let reference = totp_rs::Builder::new()
            .with_algorithm(totp_rs_alg(alg))
            .with_digits(digits)
            .with_skew(1)
            .with_step_duration(u64::from(period))
            .with_secret(raw.clone())
            .build()
            .unwrap();
        let key = CredentialKey::new(alg, &Secret::new(Zeroizing::new(raw)).unwrap());
        let digits = Digits::new(digits).unwrap();
        let totp = Totp::new(digits, Period::new(period).unwrap()).with_window(1, 1).unwrap();
        let ours = totp.code_at_time(&key, time).unwrap().to_string();
        let theirs = reference.generate(time).to_string();
        prop_assert_eq!(&ours, &theirs);
        // Same decision as totp-rs's check over the same ±1 window.
        let code = Code::parse(&theirs, digits).unwrap();
        let m = totp.verify(&key, &code, time, 0, ReplayFloor::FRESH).unwrap();
        prop_assert!(m.is_some());
        prop_assert!(reference.check(&theirs, time).is_some());
    }
}

fn oathtool(args: &[String]) -> String {
    crate::support::cli::tool("oathtool", args)
        .trim()
        .to_string()
}

proptest! {
    #![proptest_config(runs(1_000))]

    #[test]
    fn agrees_with_oathtool(
        (alg, raw, digits, period) in credential(),
        counter in any::<u64>(),
        time in 0u64..=8_589_934_592,
        totp in any::<bool>(),
    ) {
        let hex = data_encoding::HEXLOWER.encode(&raw);
        let key = CredentialKey::new(alg, &Secret::new(Zeroizing::new(raw)).unwrap());
        let d = Digits::new(digits).unwrap();
        if totp {
            let ours = Totp::new(d, Period::new(period).unwrap())
                .code_at_time(&key, time)
                .unwrap()
                .to_string();
            let theirs = oathtool(&[
                format!("--totp={}", alg.name()),
                format!("--now=@{time}"),
                format!("--time-step-size={period}s"),
                format!("--digits={digits}"),
                hex,
            ]);
            prop_assert_eq!(ours, theirs);
        } else {
            // oathtool's HOTP is SHA-1 only.
            let key = if alg == Algorithm::Sha1 { key } else {
                CredentialKey::new(Algorithm::Sha1, &Secret::from_hex(&hex).unwrap())
            };
            let ours = code_at(&key, counter, d).to_string();
            let theirs = oathtool(&[
                "--hotp".into(),
                format!("--counter={counter}"),
                format!("--digits={digits}"),
                hex,
            ]);
            prop_assert_eq!(ours, theirs);
        }
    }
}

proptest! {
    #![proptest_config(runs(5_000))]

    /// Text entry points never panic, and whatever they accept round-trips.
    #[test]
    fn parsers_never_panic(text in ".{0,200}", bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let lossy = String::from_utf8_lossy(&bytes);
        for input in [text.as_str(), lossy.as_ref()] {
            let _ = Secret::from_base32(input);
            if let Ok(secret) = Secret::from_hex(input) {
                prop_assert!(secret.len() >= 16);
            }
            for d in 6..=8 {
                let digits = Digits::new(d).unwrap();
                if let Ok(code) = Code::parse(input, digits) {
                    prop_assert_eq!(code.to_string(), input);
                }
            }
            let _ = input.parse::<Algorithm>();
        }
    }

    /// Base32 and hex spellings of the same secret give the same key.
    #[test]
    fn encodings_agree(raw in prop::collection::vec(any::<u8>(), 16..100), lower in any::<bool>()) {
        let mut b32 = data_encoding::BASE32_NOPAD.encode(&raw);
        if lower {
            b32 = b32.to_lowercase();
        }
        let padded = data_encoding::BASE32.encode(&raw);
        let hex = data_encoding::HEXLOWER.encode(&raw);
        for secret in [Secret::from_base32(&b32), Secret::from_base32(&padded), Secret::from_hex(&hex)] {
            let secret = secret.unwrap();
            prop_assert_eq!(secret.expose(), &raw[..]);
        }
    }
}

//! dudect-style constant-time check of `Totp::verify` (Reparaz, Balasch,
//! Verbauwhede, "Dude, is my code constant time?", 2017).
//!
//! Two classes of wrong codes, interleaved at random: class A agrees with the
//! expected code in its first five digits (only the last differs), class B is
//! random. A verifier that compares digit by digit, or exits early, is slower or
//! faster on class A. We time each call, crop the slowest samples at several
//! percentiles (as dudect does, to drop interrupts), and run Welch's t-test on
//! each cropped set. |t| < 4.5 on every set means no leak was detected.
//!
//! Run: `cargo bench --bench ct` (1,000,000 samples per class by default;
//! `KEYWARD_CT_SAMPLES=N` changes it). Exits non-zero when |t| ≥ 4.5.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should stop loudly

use std::hint::black_box;
use std::time::Instant;

use keyward::otp::{
    code_at, Algorithm, Code, CredentialKey, Digits, Period, ReplayFloor, Secret, Totp,
};

const NOW: u64 = 1_767_225_600;

#[path = "support/welch.rs"]
mod welch;
use welch::{Rng, Welch};

fn main() {
    let per_class: usize = std::env::var("KEYWARD_CT_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let secret = Secret::from_hex("3132333435363738393031323334353637383930").unwrap();
    let key = CredentialKey::new(Algorithm::Sha1, &secret);
    let totp = Totp::new(Digits::SIX, Period::DEFAULT);
    let expected = code_at(&key, totp.step_at(NOW).unwrap(), Digits::SIX).to_string();
    let previous = code_at(&key, totp.step_at(NOW).unwrap() - 1, Digits::SIX).to_string();

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Prepare the inputs first so generating them is not timed.
    let mut inputs: Vec<(usize, Code)> = Vec::with_capacity(2 * per_class);
    let mut counts = [0usize; 2];
    while counts[0] < per_class || counts[1] < per_class {
        let class = (rng.next() & 1) as usize;
        if counts[class] == per_class {
            continue;
        }
        let text = if class == 0 {
            let last = expected.as_bytes()[5] - b'0';
            let other = (u64::from(last) + 1 + rng.next() % 9) % 10;
            format!("{}{other}", &expected[..5])
        } else {
            let candidate = format!("{:06}", rng.next() % 1_000_000);
            if candidate == expected || candidate == previous {
                continue;
            }
            candidate
        };
        inputs.push((class, Code::parse(&text, Digits::SIX).unwrap()));
        counts[class] += 1;
    }

    let keyward = welch_max_t("keyward", &inputs, |code| {
        totp.verify(&key, code, NOW, 0, ReplayFloor::FRESH) == Ok(None)
    });
    // Control: the same window, but codes compared as strings with an early
    // exit, as LinOTP-style `==` does. The test must see this one leak, or it
    // has no power on this machine.
    let expected_codes = [previous.clone(), expected.clone()];
    let control = welch_max_t("control-early-exit", &inputs, |code| {
        let typed = code.to_string();
        !expected_codes.iter().any(|e| {
            e.bytes()
                .zip(typed.bytes())
                .all(|(a, b)| black_box(a) == black_box(b))
        })
    });
    println!(
        "ct verify alg=sha1 window=2 samples_per_class={per_class} max_abs_t={keyward:.2} control_max_abs_t={control:.2} threshold=4.5"
    );
    if keyward >= 4.5 {
        eprintln!("possible timing leak: |t| = {keyward:.2} >= 4.5");
        std::process::exit(1);
    }
    if control < 4.5 {
        eprintln!("the leaky control was not detected (|t| = {control:.2}): this run cannot tell");
        std::process::exit(2);
    }
}

/// Times `verify` on every input (each must be rejected) and returns the largest
/// |t| over the cropped sets.
fn welch_max_t(name: &str, inputs: &[(usize, Code)], verify: impl Fn(&Code) -> bool) -> f64 {
    // Warm up caches and the branch predictor.
    for (_, code) in inputs.iter().take(10_000) {
        black_box(verify(code));
    }
    let mut times = Vec::with_capacity(inputs.len());
    for (_, code) in inputs {
        let start = Instant::now();
        let rejected = verify(black_box(code));
        let elapsed = start.elapsed().as_nanos() as f64;
        assert!(rejected);
        times.push(elapsed);
    }

    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let crops: Vec<(String, f64)> = std::iter::once(("all".to_string(), f64::INFINITY))
        .chain([50.0, 75.0, 90.0, 95.0, 99.0].into_iter().map(|p| {
            let idx = ((sorted.len() as f64) * p / 100.0) as usize;
            (format!("p{p}"), sorted[idx.min(sorted.len() - 1)])
        }))
        .collect();
    let mut worst = 0f64;
    for (crop, cutoff) in &crops {
        let mut w = Welch::default();
        for ((class, _), &t) in inputs.iter().zip(&times) {
            if t <= *cutoff {
                w.push(*class, t);
            }
        }
        let t = w.t();
        worst = worst.max(t.abs());
        println!(
            "ct target={name} crop={crop} n_a={} n_b={} mean_a_ns={:.1} mean_b_ns={:.1} t={t:.2}",
            w.n[0], w.n[1], w.mean[0], w.mean[1]
        );
    }
    worst
}

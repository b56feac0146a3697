//! Verify cost, side by side: keyward's verifier against totp-rs, a verifier on
//! ring's `hmac::Key`, a naive verifier (key rebuilt per call, `==`, early exit)
//! and the floor (two raw compression-function calls per candidate).
//!
//! Every case verifies a wrong code, so every implementation computes its whole
//! window. At the end the bench prints one line per case:
//! `verify alg=… window=… keyward_ns=… totp_rs_ns=… ring_ns=… naive_ns=… floor_ns=… ratio_to_floor=…`
//! and, for keyward, the time of a valid code at each position of the window.
//!
//! Run: `cargo bench --bench verify` (add `-- --quick` for a shorter run).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should stop loudly

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use keyward::otp::{
    code_at, Algorithm, Code, CredentialKey, Digits, Hotp, Period, ReplayFloor, Secret, Totp,
};
use subtle::ConstantTimeEq;

const NOW: u64 = 1_767_225_600; // 2026-01-01
const WRONG: &str = "000000";

fn secret(alg: Algorithm) -> Vec<u8> {
    (0..alg.output_len())
        .map(|i| (i as u8).wrapping_mul(29).wrapping_add(7))
        .collect()
}

/// Per-iteration times recorded by `iter_custom`, keyed by (case, implementation).
static SAMPLES: Mutex<BTreeMap<(String, &'static str), Vec<f64>>> = Mutex::new(BTreeMap::new());

fn record(case: &str, implementation: &'static str, elapsed: Duration, iters: u64) {
    let per_iter = elapsed.as_nanos() as f64 / iters as f64;
    SAMPLES
        .lock()
        .unwrap()
        .entry((case.to_string(), implementation))
        .or_default()
        .push(per_iter);
}

/// Median per-iteration time, or NaN when a filter skipped the case.
fn median(case: &str, implementation: &'static str) -> f64 {
    let samples = SAMPLES.lock().unwrap();
    let Some(v) = samples.get(&(case.to_string(), implementation)) else {
        return f64::NAN;
    };
    let mut v = v.clone();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn measure(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    case: &str,
    implementation: &'static str,
    mut f: impl FnMut() -> bool,
) {
    let case_owned = case.to_string();
    c.bench_function(BenchmarkId::new(implementation, case), move |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(f());
            }
            let elapsed = start.elapsed();
            record(&case_owned, implementation, elapsed, iters);
            elapsed
        })
    });
}

/// keyward's verifier for a window of `window` candidates.
enum Ours {
    Totp(Totp),
    Hotp(Hotp),
}

impl Ours {
    fn new(window: u32) -> Ours {
        let totp = Totp::new(Digits::SIX, Period::DEFAULT);
        match window {
            2 => Ours::Totp(totp),
            3 => Ours::Totp(totp.with_window(1, 1).unwrap()),
            n => Ours::Hotp(Hotp::new(Digits::SIX, n).unwrap()),
        }
    }

    fn first_step(&self) -> u64 {
        match self {
            Ours::Totp(t) => t.step_at(NOW).unwrap() - 1,
            Ours::Hotp(_) => NOW / 30,
        }
    }

    fn verify(&self, key: &CredentialKey, code: &str) -> bool {
        let Ok(code) = Code::parse(code, Digits::SIX) else {
            return false;
        };
        let result = match self {
            Ours::Totp(t) => t.verify(key, &code, NOW, 0, ReplayFloor::FRESH),
            Ours::Hotp(h) => h.verify(key, &code, ReplayFloor::before(NOW / 30)),
        };
        matches!(result, Ok(Some(_)))
    }
}

fn ring_alg(alg: Algorithm) -> ring::hmac::Algorithm {
    match alg {
        Algorithm::Sha1 => ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        Algorithm::Sha256 => ring::hmac::HMAC_SHA256,
        Algorithm::Sha512 => ring::hmac::HMAC_SHA512,
    }
}

fn truncate(mac: &[u8]) -> u32 {
    let o = usize::from(mac[mac.len() - 1] & 0x0f);
    (u32::from_be_bytes([mac[o], mac[o + 1], mac[o + 2], mac[o + 3]]) & 0x7fff_ffff) % 1_000_000
}

/// A careful verifier on ring: key prepared once, whole window, constant-time compare.
fn ring_verify(key: &ring::hmac::Key, first: u64, window: u32, code: u32) -> bool {
    let mut found = subtle::Choice::from(0);
    for step in first..first + u64::from(window) {
        let tag = ring::hmac::sign(key, &step.to_be_bytes());
        found |= truncate(tag.as_ref()).ct_eq(&code);
    }
    found.into()
}

/// What many OTP servers do: rebuild the key, format, `==`, stop at the first match.
fn naive_verify(alg: Algorithm, secret: &[u8], first: u64, window: u32, code: &str) -> bool {
    let key = ring::hmac::Key::new(ring_alg(alg), secret);
    (first..first + u64::from(window)).any(|step| {
        let tag = ring::hmac::sign(&key, &step.to_be_bytes());
        format!("{:06}", truncate(tag.as_ref())) == code
    })
}

/// Two raw compressions per candidate: the cost of the HMACs themselves, with
/// nothing else. Blocks are prebuilt, each candidate's second compression
/// depends on its first (as HMAC's outer hash depends on the inner one), and
/// candidates run four at a time so the CPU overlaps independent ones, as
/// keyward's pipeline lets it: the fastest schedule two compressions allow.
fn floor(alg: Algorithm, window: u32) -> u32 {
    fn run<S: Copy, B>(
        window: u32,
        iv: S,
        blocks: &[B; 2],
        compress: fn(&mut S, &B),
        out: fn(&S) -> u32,
    ) -> u32 {
        let mut acc = 0u32;
        let mut left = window as usize;
        while left > 0 {
            let n = left.min(4);
            let mut states = [iv; 4];
            for s in states.iter_mut().take(n) {
                compress(s, &blocks[0]);
            }
            for s in states.iter_mut().take(n) {
                compress(s, &blocks[1]);
            }
            for s in states.iter().take(n) {
                acc ^= out(s);
            }
            left -= n;
        }
        acc
    }
    let b64 = black_box([[0x5au8; 64], [0xa5u8; 64]]);
    let b128 = black_box([[0x5au8; 128], [0xa5u8; 128]]);
    match alg {
        Algorithm::Sha1 => run(
            window,
            [
                0x6745_2301u32,
                0xEFCD_AB89,
                0x98BA_DCFE,
                0x1032_5476,
                0xC3D2_E1F0,
            ],
            &b64,
            |s, b| sha1::block_api::compress(s, core::slice::from_ref(b)),
            |s| s[0],
        ),
        Algorithm::Sha256 => run(
            window,
            [0x6a09_e667u32; 8],
            &b64,
            |s, b| sha2::block_api::compress256(s, core::slice::from_ref(b)),
            |s| s[0],
        ),
        Algorithm::Sha512 => run(
            window,
            [0x6a09_e667_f3bc_c908u64; 8],
            &b128,
            |s, b| sha2::block_api::compress512(s, core::slice::from_ref(b)),
            |s| s[0] as u32,
        ),
    }
}

fn totp_rs(alg: Algorithm, secret: &[u8], skew: u16) -> totp_rs::Totp {
    totp_rs::Builder::new()
        .with_algorithm(match alg {
            Algorithm::Sha1 => totp_rs::Algorithm::SHA1,
            Algorithm::Sha256 => totp_rs::Algorithm::SHA256,
            Algorithm::Sha512 => totp_rs::Algorithm::SHA512,
        })
        .with_digits(6)
        .with_skew(skew)
        .with_step_duration(30)
        .with_secret(secret.to_vec())
        .build()
        .unwrap()
}

const CASES: [(Algorithm, u32); 5] = [
    (Algorithm::Sha1, 2),
    (Algorithm::Sha1, 3),
    (Algorithm::Sha1, 10),
    (Algorithm::Sha256, 3),
    (Algorithm::Sha512, 3),
];

fn case_name(alg: Algorithm, window: u32) -> String {
    format!("{}-w{window}", alg.name().to_lowercase())
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();

    for (alg, window) in CASES {
        let case = case_name(alg, window);
        let raw = secret(alg);
        let key = CredentialKey::new(
            alg,
            &Secret::from_hex(&data_encoding::HEXLOWER.encode(&raw)).unwrap(),
        );
        let ours = Ours::new(window);
        let first = ours.first_step();
        let ring_key = ring::hmac::Key::new(ring_alg(alg), &raw);
        // totp-rs windows are 2·skew+1: skew 1 is window 3; otherwise skew 5
        // (11 candidates) scaled per candidate at the end.
        let skew = if window == 3 { 1 } else { 5 };
        let reference = totp_rs(alg, &raw, skew);

        let mut g = c.benchmark_group("verify");
        measure(&mut g, &case, "keyward", || {
            ours.verify(&key, black_box(WRONG))
        });
        measure(&mut g, &case, "totp_rs", || {
            reference.check(black_box(WRONG), NOW).is_some()
        });
        measure(&mut g, &case, "ring", || {
            ring_verify(&ring_key, first, window, black_box(0))
        });
        measure(&mut g, &case, "naive", || {
            naive_verify(alg, &raw, first, window, black_box(WRONG))
        });
        measure(&mut g, &case, "floor", || floor(alg, window) == 1);
        g.finish();

        // A valid code at each position costs the same as a wrong one.
        if alg == Algorithm::Sha1 {
            let mut g = c.benchmark_group("position");
            let (key, ours) = (&key, &ours);
            for pos in 0..window {
                let valid = code_at(key, first + u64::from(pos), Digits::SIX).to_string();
                measure(&mut g, &format!("{case}-p{pos}"), "keyward", move || {
                    ours.verify(key, black_box(&valid))
                });
            }
            g.finish();
        }
    }
    c.final_summary();

    println!();
    for (alg, window) in CASES {
        let case = case_name(alg, window);
        let ours = median(&case, "keyward");
        let totp_rs = match window {
            3 => median(&case, "totp_rs"),
            w => median(&case, "totp_rs") / 11.0 * f64::from(w),
        };
        let floor = median(&case, "floor");
        println!(
            "verify alg={} window={window} keyward_ns={ours:.1} totp_rs_ns={totp_rs:.1} ring_ns={:.1} naive_ns={:.1} floor_ns={floor:.1} ratio_to_floor={:.2}",
            alg.name().to_lowercase(),
            median(&case, "ring"),
            median(&case, "naive"),
            ours / floor,
        );
    }
    for (alg, window) in CASES.into_iter().filter(|(a, _)| *a == Algorithm::Sha1) {
        let case = case_name(alg, window);
        let wrong = median(&case, "keyward");
        let positions: Vec<String> = (0..window)
            .map(|p| format!("{:.1}", median(&format!("{case}-p{p}"), "keyward")))
            .collect();
        println!(
            "position alg=sha1 window={window} wrong_ns={wrong:.1} valid_ns_by_position=[{}]",
            positions.join(" ")
        );
    }
}

//! RFC 4226 Appendix D and RFC 6238 Appendix B, read from tests/data/. Every
//! positive vector must compute and verify; its tampered twin must not verify.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should stop loudly

use keyward::otp::{
    Algorithm, Code, CredentialKey, Digits, Hotp, Period, ReplayFloor, Secret, Totp,
};

struct Vector {
    algorithm: Algorithm,
    secret: Secret,
    moving_factor: u64,
    digits: Digits,
    code: String,
    pass: bool,
    line: usize,
}

impl Vector {
    fn key(&self) -> CredentialKey {
        CredentialKey::new(self.algorithm, &self.secret)
    }
}

/// The `count` vectors of tests/data/`name`, half of them tampered twins.
fn load(name: &str, count: usize) -> Vec<Vector> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let vectors: Vec<Vector> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty())
        .map(|(i, l)| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 6, "{path}:{}", i + 1);
            Vector {
                algorithm: f[0].parse().unwrap(),
                secret: Secret::from_hex(f[1]).unwrap(),
                moving_factor: f[2].parse().unwrap(),
                digits: Digits::new(f[3].parse().unwrap()).unwrap(),
                code: f[4].to_string(),
                pass: match f[5] {
                    "pass" => true,
                    "fail" => false,
                    other => panic!("{path}:{}: bad expectation {other}", i + 1),
                },
                line: i + 1,
            }
        })
        .collect();
    // Every positive has its negative.
    let pass = vectors.iter().filter(|v| v.pass).count();
    assert_eq!(
        pass * 2,
        vectors.len(),
        "{path}: each vector needs a tampered twin"
    );
    assert_eq!(vectors.len(), count, "{path}");
    vectors
}

#[test]
fn rfc4226_appendix_d() {
    for v in load("rfc4226.tsv", 20) {
        let key = v.key();
        let hotp = Hotp::new(v.digits, 1).unwrap();
        let code = Code::parse(&v.code, v.digits).unwrap();
        let floor = ReplayFloor::before(v.moving_factor);
        let result = hotp.verify(&key, &code, floor).unwrap();
        if v.pass {
            assert_eq!(
                hotp.code(&key, v.moving_factor).to_string(),
                v.code,
                "line {}",
                v.line
            );
            assert_eq!(
                result.map(|m| m.step()),
                Some(v.moving_factor),
                "line {}",
                v.line
            );
        } else {
            assert_eq!(result, None, "tampered vector verified, line {}", v.line);
        }
        // With the default look-ahead from counter 0 the positive is found at
        // its own counter, and the negative nowhere.
        let wide = Hotp::with_digits(v.digits)
            .verify(&key, &code, ReplayFloor::FRESH)
            .unwrap();
        assert_eq!(
            wide.map(|m| m.step()),
            v.pass.then_some(v.moving_factor),
            "line {}",
            v.line
        );
    }
}

#[test]
fn rfc6238_appendix_b() {
    for v in load("rfc6238.tsv", 36) {
        let key = v.key();
        assert_eq!(
            v.secret.len(),
            v.algorithm.output_len(),
            "RFC seed length, line {}",
            v.line
        );
        let totp = Totp::new(v.digits, Period::DEFAULT);
        let code = Code::parse(&v.code, v.digits).unwrap();
        let result = totp
            .verify(&key, &code, v.moving_factor, 0, ReplayFloor::FRESH)
            .unwrap();
        if v.pass {
            assert_eq!(
                totp.code_at_time(&key, v.moving_factor)
                    .unwrap()
                    .to_string(),
                v.code
            );
            let m = result.unwrap_or_else(|| panic!("line {} did not verify", v.line));
            assert_eq!(m.step(), v.moving_factor / 30, "line {}", v.line);
            assert_eq!(m.offset(), 0);
            // Half a period later it is still accepted, as the previous step.
            let later = totp
                .verify(&key, &code, v.moving_factor + 30, 0, ReplayFloor::FRESH)
                .unwrap()
                .unwrap();
            assert_eq!((later.step(), later.offset()), (v.moving_factor / 30, -1));
        } else {
            assert_eq!(result, None, "tampered vector verified, line {}", v.line);
        }
    }
}

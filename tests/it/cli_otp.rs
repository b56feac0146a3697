//! `keyward otp` prints exactly what oathtool prints, and refuses bad input with
//! a clear message and a non-zero exit.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should stop loudly

use std::process::Output;

use crate::support::cli::{self, stdout_ok};

const HEX: &str = "3132333435363738393031323334353637383930";
const B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

fn keyward(args: &[&str]) -> Output {
    cli::run(&mut cli::keyward(args))
}

fn oathtool(args: &[&str]) -> String {
    cli::tool("oathtool", args)
}

fn stdout_of(args: &[&str]) -> String {
    stdout_ok(&mut cli::keyward(args))
}

#[test]
fn same_output_as_oathtool() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["otp", "hotp", "--hex-secret", HEX, "--counter", "0"],
            &["-c", "0", HEX],
        ),
        (
            &["otp", "hotp", "--secret", B32, "-c", "5", "--window", "4"],
            &["-b", "-c", "5", "-w", "4", B32],
        ),
        (
            &[
                "otp",
                "hotp",
                "--hex-secret",
                HEX,
                "-c",
                "7",
                "--digits",
                "8",
            ],
            &["-c", "7", "-d", "8", HEX],
        ),
        (
            &[
                "otp",
                "hotp",
                "--hex-secret",
                HEX,
                "-c",
                "18446744073709551614",
                "-w",
                "1",
            ],
            &["-c", "18446744073709551614", "-w", "1", HEX],
        ),
        (
            &[
                "otp",
                "totp",
                "--hex-secret",
                HEX,
                "--time",
                "59",
                "--digits",
                "8",
            ],
            &["--totp", "-N", "@59", "-d", "8", HEX],
        ),
        (
            &[
                "otp",
                "totp",
                "--hex-secret",
                HEX,
                "--time",
                "2000000000",
                "--algorithm",
                "sha256",
                "-w",
                "3",
            ],
            &["--totp=SHA256", "-N", "@2000000000", "-w", "3", HEX],
        ),
        (
            &[
                "otp",
                "totp",
                "--hex-secret",
                HEX,
                "--time",
                "20000000000",
                "--algorithm",
                "sha512",
                "--period",
                "60",
                "-d",
                "7",
            ],
            &[
                "--totp=SHA512",
                "-N",
                "@20000000000",
                "-s",
                "60s",
                "-d",
                "7",
                HEX,
            ],
        ),
        (
            &[
                "otp",
                "totp",
                "--secret",
                "gezd gnbv gy3t qojq gezd gnbv gy3t qojq",
                "--time",
                "1111111109",
                "--period",
                "1",
            ],
            &["--totp", "-b", "-N", "@1111111109", "-s", "1s", B32],
        ),
    ];
    for (ours, theirs) in cases {
        assert_eq!(stdout_of(ours), oathtool(theirs), "{ours:?}");
    }
}

#[test]
fn current_time_by_default() {
    // Both read the clock; a step boundary may fall between them, so allow the
    // code of either the same or the next step.
    let ours = stdout_of(&["otp", "totp", "--hex-secret", HEX]);
    let theirs = oathtool(&["--totp", "-w", "1", HEX]);
    let mut lines = theirs.lines();
    let prev = oathtool(&["--totp", "-N", "now - 30 seconds", HEX]);
    let candidates = [lines.next().unwrap(), lines.next().unwrap(), prev.trim()];
    assert!(
        candidates.contains(&ours.trim()),
        "{ours} not in {candidates:?}"
    );
}

#[test]
fn secret_from_stdin() {
    let out = stdout_ok(
        cli::keyward(["otp", "hotp", "--hex-secret", "-", "-c", "3"])
            .write_stdin(format!("{HEX}\n")),
    );
    assert_eq!(out, "969429\n");
}

#[test]
fn bad_input_is_a_clear_error() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["otp", "totp", "--secret", "GEZDGNBVGY3TQOJ1"],
            "not valid base32",
        ),
        (
            &["otp", "totp", "--hex-secret", "31323x"],
            "not valid hexadecimal",
        ),
        (
            &["otp", "totp", "--hex-secret", HEX, "--period", "0"],
            "time step of 0 s",
        ),
        (
            &["otp", "totp", "--hex-secret", HEX, "--period", "121"],
            "time step of 121 s",
        ),
        (
            &["otp", "totp", "--hex-secret", HEX, "--digits", "9"],
            "9 digits is not supported",
        ),
        (
            &[
                "otp",
                "hotp",
                "--hex-secret",
                HEX,
                "-c",
                "0",
                "--digits",
                "5",
            ],
            "5 digits is not supported",
        ),
        (
            &["otp", "totp", "--hex-secret", HEX, "--algorithm", "md5"],
            "unknown algorithm",
        ),
        (
            &["otp", "hotp", "--hex-secret", "31323334", "-c", "0"],
            "at least 16 are required",
        ),
        (
            &[
                "otp",
                "hotp",
                "--hex-secret",
                HEX,
                "-c",
                "18446744073709551615",
                "-w",
                "1",
            ],
            "overflow",
        ),
        (
            &[
                "otp",
                "hotp",
                "--secret",
                B32,
                "--hex-secret",
                HEX,
                "-c",
                "0",
            ],
            "cannot be used with",
        ),
        (&["otp", "hotp", "-c", "0"], "required"),
    ];
    for (args, message) in cases {
        let out = keyward(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(out.stdout.is_empty(), "{args:?} printed a code");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        // The secret never appears in an error.
        assert!(
            !stderr.contains(HEX) && !stderr.contains(B32),
            "{args:?} leaked the secret"
        );
    }
}

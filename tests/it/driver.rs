//! The host driver against fakes: the in-process virtual token behind a
//! `Transport` (one transaction per operation, APDU counts, masked traces) and
//! a scripted card that answers from a hex table (exact host-side bytes, and
//! typed errors on malformed answers).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should stop loudly

use crate::support::in_process;
use in_process::*;

use std::collections::VecDeque;

use keyward::apdu::pin::PinValue;
use keyward::apdu::Status;
use keyward::oath::codec::OathType;
use keyward::oath::driver::{Link, PinState, Token, TokenError, Transport};
use keyward::otp::{Algorithm, Period, Secret};
use keyward::profile::Profile;
use zeroize::Zeroizing;

const SECRET: &str = "3132333435363738393031323334353637383930";

#[test]
fn each_operation_is_one_transaction() {
    let secret = Secret::from_hex(SECRET).unwrap();
    let mut t = in_process(255);
    let profiles = vec![virtual_profile()];
    let id = t.identify(&profiles).unwrap();
    assert_eq!(
        (id.serial, id.profile.as_deref()),
        (Some(99), Some("keyward-virtual"))
    );
    assert_eq!(t.transport().transactions, 1);
    assert_eq!(
        t.transport().apdus,
        4,
        "SELECT mgmt, DEVICE INFO, SELECT OATH, LIST"
    );

    let r = t
        .write(&virt(), &spec("a", OathType::Totp, &secret), 59)
        .unwrap();
    assert_eq!(r.apdus, 3);
    assert_eq!(t.transport().transactions, 2);
    t.list().unwrap();
    t.calculate(b"a", OathType::Totp, Period::new(30).unwrap(), 59)
        .unwrap();
    t.delete(b"a").unwrap();
    t.wipe().unwrap();
    assert_eq!(t.transport().transactions, 6);
}

#[test]
fn long_lists_follow_61xx_with_send_remaining() {
    let secret = Secret::from_hex(SECRET).unwrap();
    let mut t = in_process(16);
    let names: Vec<String> = (0..10)
        .map(|i| format!("holder-{i:02}@example.org"))
        .collect();
    for n in &names {
        t.write(&virt(), &spec(n, OathType::Totp, &secret), 59)
            .unwrap();
    }
    let before = t.transport().apdus;
    let listed = t.list().unwrap();
    assert_eq!(listed.len(), 10);
    assert_eq!(listed[9].name, names[9].as_bytes());
    // SELECT, then 10 entries of 2+1+21 bytes = 240 bytes in 16-byte chunks:
    // LIST and 14 SEND REMAINING.
    assert_eq!(t.transport().apdus - before, 1 + 240usize.div_ceil(16));
}

#[test]
fn device_pin_is_refused_where_the_profile_has_none() {
    let yk = Profile::parse(
        include_str!("../../firmware-profiles/yubikey5-oath.toml"),
        std::path::Path::new("yubikey5-oath.toml"),
    )
    .unwrap();
    let mut t = in_process(255);
    let pin = PinValue::new(b"482915").unwrap();
    let puk = PinValue::new(b"73918264").unwrap();
    let err = t.set_pin(&yk, &pin, &puk).unwrap_err();
    assert!(matches!(err, TokenError::Unsupported { .. }), "{err:?}");
    assert_eq!(t.transport().apdus, 0, "nothing was sent");
    t.set_pin(&virtual_profile(), &pin, &puk).unwrap();
    assert_eq!(t.pin_state().unwrap(), PinState::TriesLeft(3));
}

/// A card that answers from a table and checks what the host sends.
struct Scripted {
    script: VecDeque<(Vec<u8>, Vec<u8>)>,
}

impl Link for &mut Scripted {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Zeroizing<Vec<u8>>, TokenError> {
        let (expected, answer) = self.script.pop_front().expect("script exhausted");
        assert_eq!(
            data_encoding::HEXUPPER.encode(apdu),
            data_encoding::HEXUPPER.encode(&expected)
        );
        Ok(Zeroizing::new(answer))
    }
}

struct ScriptedTransport(Scripted);

impl Transport for ScriptedTransport {
    fn begin(&mut self) -> Result<Box<dyn Link + '_>, TokenError> {
        Ok(Box::new(&mut self.0))
    }
    fn reader(&self) -> &str {
        "Scripted 00 00"
    }
}

fn unhex(s: &str) -> Vec<u8> {
    data_encoding::HEXUPPER
        .decode(s.replace(' ', "").as_bytes())
        .unwrap()
}

fn scripted(lines: &[(&str, &str)]) -> Token<ScriptedTransport> {
    Token::new(ScriptedTransport(Scripted {
        script: lines.iter().map(|(a, b)| (unhex(a), unhex(b))).collect(),
    }))
}

const SELECT: (&str, &str) = (
    "00A4040007A000000527210100",
    "7903050403 71080001020304050607 9000",
);

#[test]
fn host_side_bytes_of_a_write_are_exact() {
    let secret = Secret::from_hex(SECRET).unwrap();
    let mut t = scripted(&[
        SELECT,
        (
            "000100001B 710161 731621 06 3132333435363738393031323334353637383930",
            "9000",
        ),
        (
            "00A200010D7101617408000000000000000100",
            "7605064C93CF18 9000",
        ),
    ]);
    // The token answers counter 0's code for step 1: the read-back must fail.
    let err = t
        .write(&virt(), &spec("a", OathType::Totp, &secret), 59)
        .unwrap_err();
    assert!(
        matches!(err, TokenError::ReadBackMismatch { .. }),
        "{err:?}"
    );

    let mut t = scripted(&[
        SELECT,
        (
            "000100001B 710161 731621 06 3132333435363738393031323334353637383930",
            "9000",
        ),
        (
            "00A200010D7101617408000000000000000100",
            "76050641397EEA 9000",
        ),
    ]);
    t.write(&virt(), &spec("a", OathType::Totp, &secret), 59)
        .unwrap();
}

#[test]
fn malformed_answers_are_typed_errors() {
    // Answers shorter than a status word, broken TLVs, wrong tags, error SWs.
    type Case<'a> = (Vec<(&'a str, &'a str)>, fn(&TokenError) -> bool);
    let cases: Vec<Case> = vec![
        (vec![("00A4040007A000000527210100", "90")], |e| {
            matches!(e, TokenError::Apdu(_))
        }),
        (vec![("00A4040007A000000527210100", "7905 9000")], |e| {
            matches!(e, TokenError::Oath(_))
        }),
        (vec![SELECT, ("00A1000000", "7205 21 61 9000")], |e| {
            matches!(e, TokenError::Oath(_))
        }),
        (vec![SELECT, ("00A1000000", "7202 99 61 9000")], |e| {
            matches!(e, TokenError::Oath(_))
        }),
        (vec![SELECT, ("00A1000000", "6982")], |e| {
            matches!(e, TokenError::Locked)
        }),
        (vec![SELECT, ("00A1000000", "6F00")], |e| {
            matches!(
                e,
                TokenError::Status {
                    status: Status::NoPreciseDiagnosis,
                    ..
                }
            )
        }),
    ];
    for (script, check) in cases {
        let mut t = scripted(&script);
        let err = t.list().unwrap_err();
        assert!(check(&err), "{script:?}: {err:?}");
    }
}

#[test]
fn writes_are_checked_against_the_profile() {
    let nk = keyward::profile::builtin()
        .unwrap()
        .into_iter()
        .find(|p| p.id == "nitrokey3-secrets")
        .unwrap();
    let secret = Secret::from_hex(SECRET).unwrap();
    let mut t = in_process(255);

    let mut sha512 = spec("a", OathType::Totp, &secret);
    sha512.algorithm = Algorithm::Sha512;
    let err = t.write(&nk, &sha512, 59).unwrap_err();
    assert!(matches!(err, TokenError::Unsupported { .. }), "{err:?}");
    let long_name = "n".repeat(65);
    let err = t
        .write(&virt(), &spec(&long_name, OathType::Totp, &secret), 59)
        .unwrap_err();
    assert!(matches!(err, TokenError::Invalid(_)), "{err:?}");
    assert_eq!(t.transport().apdus, 0, "refused before sending anything");

    // A profile whose PUT does not overwrite: LIST first, refuse an existing id.
    t.write(&nk, &spec("a", OathType::Totp, &secret), 59)
        .unwrap();
    assert_eq!(t.transport().apdus, 4, "SELECT, LIST, PUT, CALCULATE");
    let err = t
        .write(&nk, &spec("a", OathType::Totp, &secret), 59)
        .unwrap_err();
    assert!(matches!(err, TokenError::AlreadyExists { .. }), "{err:?}");
    // The virtual token's profile overwrites in place.
    t.write(&virt(), &spec("a", OathType::Totp, &secret), 59)
        .unwrap();
    assert_eq!(t.list().unwrap().len(), 1);
}

/// The same status word read in each token's dialect, as a hex table: was
/// 6983 always "PIN blocked", 6982 always "locked", 6581 and 6A82 a
/// generic status.
#[test]
fn status_words_are_typed_in_the_tokens_dialect() {
    let nk3 = keyward::profile::builtin()
        .unwrap()
        .into_iter()
        .find(|p| p.id == "nitrokey3-secrets")
        .unwrap();
    let yk = virt();
    let secret = Secret::from_hex(SECRET).unwrap();
    let a_spec = spec("a", OathType::Totp, &secret);
    let put = "000100001B 710161 731621 06 3132333435363738393031323334353637383930";
    type Check = fn(&TokenError) -> bool;
    // (profile, script, operation, expected)
    let delete = |t: &mut Token<ScriptedTransport>, _: &Profile| t.delete(b"a").map(|_| ());
    let calc = |t: &mut Token<ScriptedTransport>, _: &Profile| {
        t.calculate(b"a", OathType::Totp, Period::new(30).unwrap(), 59)
            .map(|_| ())
    };
    type Op<'s> = &'s dyn Fn(&mut Token<ScriptedTransport>, &Profile) -> Result<(), TokenError>;
    let write = |t: &mut Token<ScriptedTransport>, p: &Profile| t.write(p, &a_spec, 59).map(|_| ());
    type Row<'r> = (&'r Profile, Vec<(&'r str, &'r str)>, Op<'r>, Check);
    let rows: Vec<Row> = vec![
        // 6983 to PUT on a Nitrokey 3: the name exists (hidden by its PIN).
        (
            &nk3,
            vec![SELECT, ("00A1000000", "9000"), (put, "6983")],
            &write,
            |e| matches!(e, TokenError::AlreadyExists { .. }),
        ),
        // 6982 to DELETE: the NK3's button timed out; a YubiKey is locked.
        (
            &nk3,
            vec![SELECT, ("0002000003710161", "6982")],
            &delete,
            |e| matches!(e, TokenError::TouchTimeout { .. }),
        ),
        (
            &yk,
            vec![SELECT, ("0002000003710161", "6982")],
            &delete,
            |e| matches!(e, TokenError::Locked),
        ),
        // A missing credential: 6A82 on the NK3, 6984 on a YubiKey.
        (
            &nk3,
            vec![SELECT, ("0002000003710161", "6A82")],
            &delete,
            |e| matches!(e, TokenError::NoSuchCredential { .. }),
        ),
        (
            &yk,
            vec![SELECT, ("0002000003710161", "6984")],
            &delete,
            |e| matches!(e, TokenError::NoSuchCredential { .. }),
        ),
        // 6581: a corrupted credential (ykman deletes it).
        (
            &yk,
            vec![SELECT, ("00A200010D7101617408000000000000000100", "6581")],
            &calc,
            |e| matches!(e, TokenError::CorruptCredential { .. }),
        ),
    ];
    for (i, (profile, script, op, check)) in rows.into_iter().enumerate() {
        let mut t = scripted(&script).with_profile(profile);
        let err = op(&mut t, profile).unwrap_err();
        assert!(check(&err), "row {i}: {err:?}");
    }
}

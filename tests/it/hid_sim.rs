//! The driver against the simulated key: program a slot, touch it, and the
//! typed code is what oathtool and `keyward otp hotp` compute and what
//! keyward's verify accepts; access codes protect the slot; delete; unplug.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should stop loudly

use std::sync::{Arc, Mutex};

use crate::support::pcscd;

use keyward::hid::codec::frame::{Frame, HidCommand, REPORT_LEN};
use keyward::hid::{
    typed_code, AccessCode, HidError, HidTransport, HotpConfig, HotpKey, Imf, OtpDevice,
    SimulatedKey, Slot, TokenId, TransportError,
};
use keyward::otp::{Algorithm, Code, CredentialKey, Digits, Hotp, ReplayFloor, Secret};
use zeroize::Zeroizing;

const KEY_HEX: &str = "3132333435363738393031323334353637383930";

fn no_sleep(_: std::time::Duration) {}

fn key_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn oathtool(counter: u64, digits: u8, hex: &str) -> String {
    pcscd::oathtool(&["-c", &counter.to_string(), "-d", &digits.to_string(), hex])
}

fn keyward_otp(counter: u64, digits: u8, hex: &str) -> String {
    pcscd::keyward_otp(&[
        "hotp",
        "--hex-secret",
        hex,
        "--counter",
        &counter.to_string(),
        "--digits",
        &digits.to_string(),
    ])
}

fn hotp_config(hex: &str, eight: bool, token: Option<&str>, imf: u32) -> HotpConfig {
    HotpConfig::new(HotpKey::new(&key_bytes(hex)).unwrap())
        .eight_digits(eight)
        .token_id(token.map(|t| TokenId::from_ykman_identifier(t).unwrap()))
        .imf(Imf::new(imf).unwrap())
}

#[test]
fn touch_types_the_code_oathtool_and_keyward_compute() {
    let cases: [(&str, bool, Option<&str>, u32, Slot); 4] = [
        (KEY_HEX, false, None, 0, Slot::One),
        (KEY_HEX, true, Some("ubhe12345678"), 16, Slot::Two),
        (
            "0f1e2d3c4b5a69788796a5b4c3d2e1f0ffeeddcc",
            false,
            Some("vvccccdddddd"),
            4096,
            Slot::One,
        ),
        // 16-byte key: the slot pads it to 20, which HMAC treats as the same key.
        (
            "00112233445566778899aabbccddeeff",
            true,
            None,
            1_048_560,
            Slot::Two,
        ),
    ];
    for (hex, eight, token, imf, slot) in cases {
        let mut key = SimulatedKey::new(4_242_424).with_busy_reads(2);
        let config = hotp_config(hex, eight, token, imf);
        let code = AccessCode::generate().unwrap();
        let mut device = OtpDevice::open_with(&mut key, no_sleep).unwrap();
        let before = device.read_status().unwrap().pgm_seq;
        let status = device
            .program_hotp(slot, &config, Some(&code), None)
            .unwrap();
        assert_eq!(status.pgm_seq, before + 1);
        assert!(status.slot_configured(slot) && status.slot_touch_triggered(slot));
        assert_eq!(device.serial().unwrap(), 4_242_424);

        let digits = if eight { 8 } else { 6 };
        let secret = Secret::new(Zeroizing::new(key_bytes(hex))).unwrap();
        let credential = CredentialKey::new(Algorithm::Sha1, &secret);
        let hotp = Hotp::with_digits(Digits::new(digits).unwrap());
        let mut floor = if imf == 0 {
            ReplayFloor::FRESH
        } else {
            ReplayFloor::before(u64::from(imf))
        };
        for n in 0..3u64 {
            let counter = u64::from(imf) + n;
            let typed = key.touch(slot).unwrap();
            assert!(typed.enter);
            assert_eq!(
                typed.code,
                oathtool(counter, digits, hex),
                "counter {counter}"
            );
            assert_eq!(typed.code, keyward_otp(counter, digits, hex));
            let expected_prefix = token.map_or(String::new(), |t| {
                if t.len() == 8 {
                    format!("ubhe{t}")
                } else {
                    t.to_owned()
                }
            });
            assert_eq!(typed.token_id, expected_prefix);
            assert_eq!(typed.text(), format!("{expected_prefix}{}", typed.code));
            // What a station reads from the keyboard: identifier, code, Enter.
            let keystrokes = format!("{}\r", typed.text());
            let token = token.map(|t| TokenId::from_ykman_identifier(t).unwrap());
            let code_text = typed_code(&keystrokes, token.as_ref()).unwrap();
            let parsed = Code::parse(&code_text, hotp.digits()).unwrap();
            let matched = hotp.verify(&credential, &parsed, floor).unwrap().unwrap();
            assert_eq!(matched.step(), counter);
            floor = matched.floor();
        }
    }
}

#[test]
fn wrong_access_code_is_refused_and_changes_nothing() {
    let mut key = SimulatedKey::new(1).with_busy_reads(1);
    let right = AccessCode::from_hex("a1a2a3a4a5a6").unwrap();
    let wrong = AccessCode::from_hex("a1a2a3a4a5a7").unwrap();
    let first = hotp_config(KEY_HEX, false, None, 0);
    let other = hotp_config("ffffffffffffffffffffffffffffffffffffffff", true, None, 0);

    let mut device = OtpDevice::open_with(&mut key, no_sleep).unwrap();
    let programmed = device
        .program_hotp(Slot::One, &first, Some(&right), None)
        .unwrap();
    for current in [Some(&wrong), None] {
        let err = device
            .program_hotp(Slot::One, &other, None, current)
            .unwrap_err();
        assert_eq!(
            err,
            HidError::Rejected {
                pgm_seq_before: programmed.pgm_seq,
                pgm_seq_after: programmed.pgm_seq
            }
        );
        let err = device.delete_slot(Slot::One, current).unwrap_err();
        assert!(matches!(err, HidError::Rejected { .. }), "{err:?}");
    }
    assert_eq!(device.read_status().unwrap().pgm_seq, programmed.pgm_seq);
    let stored = key.slot_config(Slot::One).unwrap();
    assert_eq!(
        stored.as_bytes(),
        first.to_slot_config(Some(&right)).as_bytes()
    );
    assert_eq!(key.touch(Slot::One).unwrap().code, oathtool(0, 6, KEY_HEX));

    // The right code rewrites it, and can lock it with a new code at once.
    let mut device = OtpDevice::open_with(&mut key, no_sleep).unwrap();
    device
        .program_hotp(Slot::One, &other, Some(&wrong), Some(&right))
        .unwrap();
    assert!(matches!(
        device.program_hotp(Slot::One, &first, None, Some(&right)),
        Err(HidError::Rejected { .. })
    ));
}

#[test]
fn delete_with_the_right_code_empties_the_slot() {
    let mut key = SimulatedKey::new(1);
    let code = AccessCode::generate().unwrap();
    let mut device = OtpDevice::open_with(&mut key, no_sleep).unwrap();
    let config = hotp_config(KEY_HEX, false, None, 0);
    device
        .program_hotp(Slot::One, &config, Some(&code), None)
        .unwrap();
    device
        .program_hotp(Slot::Two, &config, Some(&code), None)
        .unwrap();
    let status = device.delete_slot(Slot::Two, Some(&code)).unwrap();
    assert!(status.slot_configured(Slot::One) && !status.slot_configured(Slot::Two));
    assert_eq!(status.pgm_seq, 3);
    // The last delete leaves no valid slot: pgmSeq drops to 0, still a success.
    let status = device.delete_slot(Slot::One, Some(&code)).unwrap();
    assert_eq!((status.pgm_seq, status.touch_level), (0, 0));
    assert!(key.slot_config(Slot::One).is_none());
    assert!(key.touch(Slot::One).is_err());
    // An empty slot takes a fresh configuration without any code.
    let mut device = OtpDevice::open_with(&mut key, no_sleep).unwrap();
    assert_eq!(
        device
            .program_hotp(Slot::One, &config, None, None)
            .unwrap()
            .pgm_seq,
        1
    );
}

#[test]
fn unplug_mid_write_is_a_transport_error_and_leaves_the_old_slot() {
    let mut key = SimulatedKey::new(1);
    let code = AccessCode::generate().unwrap();
    let old = hotp_config(KEY_HEX, false, None, 0);
    let new = hotp_config("ffffffffffffffffffffffffffffffffffffffff", false, None, 0);
    OtpDevice::open_with(&mut key, no_sleep)
        .unwrap()
        .program_hotp(Slot::One, &old, Some(&code), None)
        .unwrap();
    key.unplug_after_writes(4);
    let err = OtpDevice::open_with(&mut key, no_sleep)
        .unwrap()
        .program_hotp(Slot::One, &new, Some(&code), Some(&code))
        .unwrap_err();
    assert_eq!(err, HidError::Transport(TransportError::Disconnected));
    assert!(OtpDevice::open_with(&mut key, no_sleep).is_err());
    key.plug_in();
    assert_eq!(key.touch(Slot::One).unwrap().code, oathtool(0, 6, KEY_HEX));
}

#[test]
fn the_key_drops_corrupt_and_disordered_frames() {
    let mut key = SimulatedKey::new(1);
    let config = hotp_config(KEY_HEX, false, None, 0).to_slot_config(None);
    let frame = keyward::hid::codec::config::write_frame(Slot::One, &config, None);
    let reports = frame.reports();

    // Bad CRC: flip a key byte in flight.
    for (n, report) in reports.iter().enumerate() {
        let mut bytes = *report.as_bytes();
        if n == 3 {
            bytes[0] ^= 0x01;
        }
        key.send_feature_report(&bytes).unwrap();
    }
    // Out of order: the last two parts swapped.
    let mut order: Vec<&[u8; REPORT_LEN]> = reports.iter().map(|r| r.as_bytes()).collect();
    let len = order.len();
    order.swap(len - 1, len - 2);
    for bytes in order {
        key.send_feature_report(bytes).unwrap();
    }
    assert_eq!(key.status().pgm_seq, 0);
    assert!(key.slot_config(Slot::One).is_none());
    assert!(key.frames_refused() >= 2);

    // Unsupported commands are refused too (pgmSeq unchanged).
    let swap = Frame::new(HidCommand::Swap, &[]).unwrap();
    for report in swap.reports() {
        key.send_feature_report(report.as_bytes()).unwrap();
    }
    assert_eq!(key.status().pgm_seq, 0);

    // The same reports in order are accepted.
    for report in &reports {
        key.send_feature_report(report.as_bytes()).unwrap();
    }
    assert_eq!(key.status().pgm_seq, 1);
}

#[test]
fn a_shared_key_can_be_driven_and_touched() {
    let key = Arc::new(Mutex::new(SimulatedKey::new(7)));
    let mut device = OtpDevice::open_with(Arc::clone(&key), no_sleep).unwrap();
    device
        .program_hotp(Slot::Two, &hotp_config(KEY_HEX, true, None, 32), None, None)
        .unwrap();
    let typed = key.lock().unwrap().touch(Slot::Two).unwrap();
    assert_eq!(typed.code, oathtool(32, 8, KEY_HEX));
    assert_eq!(device.serial().unwrap(), 7);
}

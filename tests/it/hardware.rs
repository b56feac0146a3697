//! The same flows on a real key, when one is at hand (`docs/hardware.md`).
//! Ignored by default; run them by naming the key's reader:
//!
//! ```sh
//! KEYWARD_HARDWARE_READER="Nitrokey 3" cargo test --test it hardware:: -- --ignored --nocapture
//! KEYWARD_HARDWARE_HID=1 cargo test --test it hardware::touch_key -- --ignored --nocapture
//! ```
//!
//! The PC/SC tests write one credential named `keyward-hardware-check` and
//! delete it again (a Nitrokey 3 asks for its button: touch it when the test
//! says so). The touch-key test only reads (status, serial): it never writes
//! a slot. Without the variable an ignored test run fails, it never passes
//! silently.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyward::hid::{HidBus, OtpDevice};
use keyward::oath::codec::OathType;
use keyward::oath::driver::pcsc::Pcsc;
use keyward::oath::driver::{CredentialSpec, Token};
use keyward::otp::{Algorithm, Digits, Period, Secret};

const NAME: &str = "keyward-hardware-check";

/// The reader named by KEYWARD_HARDWARE_READER (a substring of its name).
fn reader() -> String {
    let wanted = std::env::var("KEYWARD_HARDWARE_READER")
        .expect("set KEYWARD_HARDWARE_READER to (part of) the real key's reader name");
    let readers = Pcsc::establish().unwrap().readers().unwrap();
    let found: Vec<&String> = readers
        .iter()
        .filter(|r| r.to_lowercase().contains(&wanted.to_lowercase()))
        .collect();
    match found.as_slice() {
        [one] => (*one).clone(),
        _ => panic!("{wanted:?} should name exactly one of {readers:?}"),
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
#[ignore = "needs a real YubiKey 5 or Nitrokey 3: KEYWARD_HARDWARE_READER=… (docs/hardware.md)"]
fn real_key_is_identified_written_read_back_and_cleaned() {
    let reader = reader();
    let profiles = keyward::profile::builtin().unwrap();
    let id = Token::new(Pcsc::establish().unwrap().connect(&reader).unwrap())
        .identify(&profiles)
        .unwrap();
    println!("{id}");
    let profile_id = id
        .profile
        .clone()
        .expect("the key matches a firmware profile");
    assert!(id.serial.is_some(), "a serial (device info or tag 8F)");
    let profile = profiles.iter().find(|p| p.id == profile_id).unwrap();
    let token =
        || Token::new(Pcsc::establish().unwrap().connect(&reader).unwrap()).with_profile(profile);
    let secret = Secret::generate(Algorithm::Sha1).unwrap();
    let spec = CredentialSpec {
        name: NAME,
        issuer: None,
        kind: OathType::Totp,
        algorithm: Algorithm::Sha1,
        digits: Digits::SIX,
        period: Period::DEFAULT,
        counter: 0,
        touch: false,
        secret: &secret,
    };
    let receipt = token().write(profile, &spec, now()).unwrap();
    println!("write + read-back: {} APDUs", receipt.apdus);
    assert!(token()
        .list()
        .unwrap()
        .iter()
        .any(|e| e.name == NAME.as_bytes()));
    if profile.dialect.touch_confirms_changes {
        eprintln!("Touchez la clé maintenant / Touch the key now (delete)");
    }
    token().delete(NAME.as_bytes()).unwrap();
    assert!(!token()
        .list()
        .unwrap()
        .iter()
        .any(|e| e.name == NAME.as_bytes()));
}

#[test]
#[ignore = "needs a real YubiKey with OTP over HID: KEYWARD_HARDWARE_HID=1 (docs/hardware.md)"]
fn touch_key_status_and_serial_are_read() {
    assert!(
        std::env::var_os("KEYWARD_HARDWARE_HID").is_some(),
        "set KEYWARD_HARDWARE_HID=1 with a YubiKey plugged in"
    );
    let profile = keyward::devices::hid_key::builtin_touch_key_profile().unwrap();
    let mut bus = keyward::hid::driver::hidapi::HidapiBus::new().unwrap();
    let found = bus.enumerate(&profile.usb).unwrap();
    let info = found
        .first()
        .expect("a YubiKey OTP interface (check the udev rules)");
    let mut device = OtpDevice::open(bus.open(info).unwrap()).unwrap();
    let status = device.read_status().unwrap();
    println!("firmware {}, pgmSeq {}", status.version, status.pgm_seq);
    let serial = device.serial().unwrap();
    println!("serial {serial} (device info first, then the serial command)");
    assert!(serial > 0);
}

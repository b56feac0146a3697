//! The hidapi glue: enumeration by the profile's USB ids works on any machine
//! (none found is an empty list, not an error), and opening a missing device is
//! a typed error. The real-key test is opt-in: plug a YubiKey in and run
//! `cargo test --test hid_hidapi -- --ignored` (it only reads status and serial).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should stop loudly

use keyward::hid::driver::hidapi::HidapiBus;
use keyward::hid::{load_otp_profile, HidBus, HidDeviceInfo, OtpDevice, TransportError};

const PROFILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/firmware-profiles/yubikey-otp-hid.toml"
);

#[test]
fn enumeration_returns_only_matching_interfaces() {
    let usb = load_otp_profile(PROFILE).unwrap().usb;
    let mut bus = HidapiBus::new().unwrap();
    let found = bus.enumerate(&usb).unwrap();
    assert!(found.iter().all(|info| usb.matches(info)));
    let mut paths: Vec<&str> = found.iter().map(|i| i.path.as_str()).collect();
    paths.dedup();
    assert_eq!(paths.len(), found.len(), "one entry per interface");
}

#[test]
fn opening_a_missing_device_is_a_typed_error() {
    let mut bus = HidapiBus::new().unwrap();
    let mut info = HidDeviceInfo {
        path: "/dev/hidraw-keyward-missing".to_owned(),
        vendor_id: 0x1050,
        product_id: 0x0407,
        usage_page: 1,
        usage: 6,
        serial: None,
    };
    assert!(matches!(
        bus.open(&info),
        Err(TransportError::Backend { .. } | TransportError::NotFound { .. })
    ));
    info.path = "bad\0path".to_owned();
    assert!(matches!(
        bus.open(&info),
        Err(TransportError::NotFound { .. })
    ));
}

#[test]
#[ignore = "needs a YubiKey with its OTP interface enabled"]
fn real_key_status_and_serial() {
    let usb = load_otp_profile(PROFILE).unwrap().usb;
    let mut bus = HidapiBus::new().unwrap();
    let info = bus
        .enumerate(&usb)
        .unwrap()
        .into_iter()
        .next()
        .expect("no YubiKey OTP interface found");
    let mut device = OtpDevice::open(bus.open(&info).unwrap()).unwrap();
    let status = device.read_status().unwrap();
    println!("{info:?}\nfirmware {} status {status:?}", device.version());
    match device.serial() {
        Ok(serial) => println!("serial {serial}"),
        Err(e) => println!("serial not visible: {e}"),
    }
}

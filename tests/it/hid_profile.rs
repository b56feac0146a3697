//! The YubiKey OTP HID profile: strict parsing, and its product ids are the
//! ones Debian's 69-yubikey.rules (libyubikey-udev) tags as OTP-capable.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should stop loudly

use keyward::hid::codec::profile::parse_otp_profile;
use keyward::hid::{load_otp_profile, FirmwareVersion, HidDeviceInfo, OtpProfileError};

const PROFILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/firmware-profiles/yubikey-otp-hid.toml"
);
const UDEV_RULES: &str = "/lib/udev/rules.d/69-yubikey.rules";

fn udev_product_ids() -> Vec<u16> {
    let rules = std::fs::read_to_string(UDEV_RULES)
        .unwrap_or_else(|e| panic!("{UDEV_RULES}: {e} (.ci/setup installs libyubikey-udev)"));
    let mut ids: Vec<u16> = rules
        .lines()
        .filter(|line| line.contains("ATTRS{idVendor}==\"1050\""))
        .filter_map(|line| line.split("ATTRS{idProduct}==\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .flat_map(|list| list.split('|'))
        .map(|pid| u16::from_str_radix(pid, 16).unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

#[test]
fn profile_loads_and_matches_the_udev_rules() {
    let profile = load_otp_profile(PROFILE).unwrap();
    assert_eq!(profile.name, "yubikey-otp-hid");
    assert_eq!(profile.usb.vendor_id, 0x1050);
    assert_eq!(
        (profile.usb.usage_page, profile.usb.usage),
        (0x0001, 0x0006)
    );
    assert_eq!(profile.slots, 2);
    assert_eq!(profile.digits, vec![6, 8]);
    assert_eq!(profile.min_firmware, FirmwareVersion::new(2, 2, 0));
    let mut ours = profile.usb.product_ids.clone();
    ours.sort_unstable();
    let theirs = udev_product_ids();
    assert!(
        !theirs.is_empty(),
        "no Yubico product ids found in {UDEV_RULES}"
    );
    assert_eq!(ours, theirs);
}

#[test]
fn only_the_keyboard_interface_of_listed_products_matches() {
    let usb = load_otp_profile(PROFILE).unwrap().usb;
    let info = |product_id, usage_page, usage| HidDeviceInfo {
        path: "/dev/hidraw0".to_owned(),
        vendor_id: 0x1050,
        product_id,
        usage_page,
        usage,
        serial: None,
    };
    assert!(usb.matches(&info(0x0407, 0x0001, 0x0006)));
    assert!(
        !usb.matches(&info(0x0407, 0xF1D0, 0x0001)),
        "FIDO interface"
    );
    assert!(!usb.matches(&info(0x0402, 0x0001, 0x0006)), "FIDO-only key");
    let mut other_vendor = info(0x0407, 0x0001, 0x0006);
    other_vendor.vendor_id = 0x20A0;
    assert!(!usb.matches(&other_vendor));
}

#[test]
fn strict_parsing_refuses_unknown_missing_and_bad_values() {
    let good = std::fs::read_to_string(PROFILE).unwrap();
    let bad = [
        good.replace("touch = true", "touch = true\ncolour = \"blue\""),
        good.replace("usage = 0x0006\n", ""),
        good.replace("vendor_id = 0x1050", "vendor_id = 0x11050"),
        good.replace("vendor_id = 0x1050", "vendor_id = 0"),
        good.replace("digits = [6, 8]", "digits = [6, 7]"),
        good.replace("slots = 2", "slots = 3"),
        good.replace("transport = \"hid\"", "transport = \"pcsc\""),
        good.replace("min_firmware = \"2.2.0\"", "min_firmware = \"2.2\""),
        good.replace("0x0010, # YubiKey (Standard)", "0x0010, 0x0010,"),
        good.replace("[capabilities]", "[capability]"),
    ];
    for (n, text) in bad.iter().enumerate() {
        assert_ne!(text, &good, "case {n} did not change the profile");
        assert!(
            parse_otp_profile(text, "test").is_err(),
            "case {n} was accepted"
        );
    }
    assert!(matches!(
        load_otp_profile("/nonexistent/profile.toml"),
        Err(OtpProfileError::Read { .. })
    ));
}

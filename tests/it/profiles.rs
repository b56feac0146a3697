//! Firmware profiles: the checked-in files load, match the right tokens, bad
//! files fail with file and line, and udev/70-keyward.rules is exactly what the
//! profiles generate.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should stop loudly

use std::path::{Path, PathBuf};

use keyward::oath::codec::SelectInfo;
use keyward::otp::Algorithm;
use keyward::profile::{self, PinCommands, Profile, ProfileError};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn catalog() -> profile::Catalog {
    profile::load_dir(&root().join("firmware-profiles")).unwrap()
}

fn profiles() -> Vec<Profile> {
    catalog().ykoath
}

fn select(version: [u8; 3], serial: Option<u32>) -> SelectInfo {
    SelectInfo {
        version,
        salt: vec![1; 8],
        challenge: None,
        algorithm: None,
        pin_retries: None,
        serial,
    }
}

#[test]
fn checked_in_profiles_load_and_match() {
    let all = profiles();
    let ids: Vec<&str> = all.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "keyward-virtual",
            "nitrokey3-secrets",
            "yubikey4-oath",
            "yubikey5-oath"
        ]
    );

    let found = |reader, s: &SelectInfo| profile::identify(&all, reader, s).map(|p| p.id.as_str());
    assert_eq!(
        found("Virtual PCD 00 00", &select([5, 4, 3], None)),
        Some("keyward-virtual")
    );
    // Another version at the virtual reader is not the virtual token; a
    // YubiKey 5 is recognised on any reader (NFC readers bear their own name).
    assert_eq!(
        found("Virtual PCD 00 00", &select([5, 4, 4], None)),
        Some("yubikey5-oath")
    );
    assert_eq!(found("Virtual PCD 00 00", &select([6, 0, 0], None)), None);
    assert_eq!(
        found(
            "Yubico YubiKey OTP+FIDO+CCID 00 00",
            &select([5, 2, 7], None)
        ),
        Some("yubikey5-oath")
    );
    // A YubiKey 4 has its own profile (it matched none before).
    assert_eq!(
        found("Yubico YubiKey CCID 00 00", &select([4, 3, 7], None)),
        Some("yubikey4-oath")
    );
    // A YubiKey 5 NFC on an NFC reader, named after the reader (it matched
    // none before).
    assert_eq!(
        found(
            "ACS ACR1252 Dual Reader [ACR1252 Dual Reader PICC] 00 00",
            &select([5, 7, 1], None)
        ),
        Some("yubikey5-oath")
    );
    // A Nitrokey 3 from app 4.11 on any reader, by its serial tag.
    assert_eq!(
        found(
            "ACS ACR1252 Dual Reader PICC 00 00",
            &select([4, 11, 0], Some(7))
        ),
        Some("nitrokey3-secrets")
    );
    // An older Nitrokey 3 (no serial tag) by its USB reader's name, not as a
    // YubiKey 4.
    assert_eq!(
        found(
            "Nitrokey Nitrokey 3 [CCID/ICCD Interface] 00 00",
            &select([4, 7, 0], None)
        ),
        Some("nitrokey3-secrets")
    );
    assert_eq!(
        found(
            "Nitrokey Nitrokey 3 [CCID/ICCD Interface] 00 00",
            &select([4, 10, 0], Some(7))
        ),
        Some("nitrokey3-secrets")
    );
    // A Nitrokey-looking answer under a YubiKey name is not taken for a YubiKey.
    assert_eq!(
        found("Yubico YubiKey CCID 00 00", &select([5, 4, 3], Some(7))),
        None
    );

    let virt = &all[0];
    let pin = virt.capabilities.device_pin.as_ref().unwrap();
    assert_eq!((pin.retries, pin.commands), (3, PinCommands::Iso7816));
    let yk = &all[3];
    assert!(
        yk.capabilities.device_pin.is_none(),
        "YKOATH has no PIN with a retry counter"
    );
    assert!(yk.supports(Algorithm::Sha512, 8));
    // 32 credentials before 5.7.0, 64 from it.
    assert_eq!(yk.credential_slots([5, 4, 3]), 32);
    assert_eq!(yk.credential_slots([5, 7, 0]), 64);
    let nk = &all[1];
    assert!(!nk.supports(Algorithm::Sha512, 6));
    assert!(!nk.quirks.put_overwrites);
    assert_eq!(nk.credential_slots([4, 11, 0]), 50);
    // The Nitrokey 3 PIN has its own instructions and no resetting code.
    let nk_pin = nk.device_pin().unwrap();
    assert_eq!(nk_pin.commands, PinCommands::NitrokeySecrets);
    assert!(!nk_pin.resetting_code);
    assert!(nk.dialect.touch_confirms_changes);
}

fn parse_err(text: &str) -> (usize, String) {
    match Profile::parse(text, Path::new("bad.toml")) {
        Err(ProfileError::Parse {
            file,
            line,
            message,
        }) => {
            assert_eq!(file, Path::new("bad.toml"));
            (line, message)
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn strict_loading_names_file_and_line() {
    let good =
        std::fs::read_to_string(root().join("firmware-profiles/keyward-virtual.toml")).unwrap();
    assert!(Profile::parse(&good, Path::new("ok.toml")).is_ok());

    let line_of = |needle: &str| good.lines().position(|l| l.starts_with(needle)).unwrap() + 1;

    // Unknown key.
    let bad = good.replace("touch = false", "touch = false\ntuoch = true");
    let (line, msg) = parse_err(&bad);
    assert_eq!(line, line_of("touch = false") + 1, "{msg}");
    assert!(msg.contains("tuoch"), "{msg}");

    // Bad values, each on its own line.
    for (from, to, needle) in [
        ("digits = [6, 7, 8]", "digits = [6, 9]", "9 digits"),
        ("algorithms = [\"SHA1\"", "algorithms = [\"MD5\"", "MD5"),
        (
            "version_min = \"5.4.3\"",
            "version_min = \"5.x\"",
            "major.minor.patch",
        ),
        ("retries = 3", "retries = 0", "retries"),
        ("commands = \"iso7816\"", "commands = \"pkcs11\"", "pkcs11"),
    ] {
        let bad = good.replace(from, to);
        assert_ne!(bad, good, "{from}");
        let (line, msg) = parse_err(&bad);
        assert_eq!(
            line,
            line_of(from.split(' ').next().unwrap()),
            "{from}: {msg}"
        );
        assert!(msg.contains(needle), "{from}: {msg}");
    }
    let bad = good.replace("version_max = \"5.4.3\"", "version_max = \"5.4.2\"");
    let (line, msg) = parse_err(&bad);
    assert_eq!(line, line_of("version_min"), "{msg}");
}

#[test]
fn bad_usb_id_is_refused() {
    let yk = std::fs::read_to_string(root().join("firmware-profiles/yubikey5-oath.toml")).unwrap();
    let bad = yk.replacen("product = \"0404\"", "product = \"404\"", 1);
    let (line, msg) = parse_err(&bad);
    assert_eq!(
        line,
        yk.lines().position(|l| l == "product = \"0404\"").unwrap() + 1
    );
    assert!(msg.contains("4 hex digits"), "{msg}");
}

#[test]
fn udev_rules_match_the_profiles() {
    let generated = profile::udev_rules(&catalog());
    let path = root().join("udev/70-keyward.rules");
    if std::env::var_os("KEYWARD_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        checked_in, generated,
        "regenerate with KEYWARD_BLESS=1 cargo test --test profiles"
    );
    // The group only: no seat ACL for the logged-in user (systemd's
    // uaccess, which 69-yubikey.rules' ID_SECURITY_TOKEN would bring).
    for line in generated.lines().filter(|l| l.contains("idVendor")) {
        assert!(
            line.ends_with(
                "GROUP=\"keyward\", MODE=\"0660\", ENV{ID_SECURITY_TOKEN}=\"\", ENV{ID_SMARTCARD_READER}=\"\", TAG-=\"uaccess\""
            ),
            "{line}"
        );
    }
    // Only the OTP (boot keyboard) hidraw node: the FIDO one is left alone.
    for line in generated
        .lines()
        .filter(|l| l.starts_with("SUBSYSTEM==\"hidraw\", KERNEL"))
    {
        assert!(line.contains("ENV{KEYWARD_OTP_INTERFACE}==\"1\""), "{line}");
    }
    assert!(generated.contains(
        "SUBSYSTEM==\"hidraw\", SUBSYSTEMS==\"usb\", ATTRS{bInterfaceProtocol}==\"01\", ENV{KEYWARD_OTP_INTERFACE}=\"1\""
    ));
    assert!(generated.contains("ATTR{idVendor}==\"1050\", ATTR{idProduct}==\"0407\""));
    assert!(generated.contains("ATTR{idVendor}==\"20a0\", ATTR{idProduct}==\"42b2\""));
    // The OTP HID profile's keys get their hidraw nodes too, each node once.
    assert_eq!(catalog().otp_hid.len(), 1);
    for pid in ["0010", "0401", "0405", "0407", "0410"] {
        let hidraw = format!("ATTRS{{idVendor}}==\"1050\", ATTRS{{idProduct}}==\"{pid}\"");
        assert_eq!(generated.matches(&hidraw).count(), 1, "{pid}");
        let usb = format!("ATTR{{idVendor}}==\"1050\", ATTR{{idProduct}}==\"{pid}\"");
        assert_eq!(generated.matches(&usb).count(), 1, "{pid}");
    }
}

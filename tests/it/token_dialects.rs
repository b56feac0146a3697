//! Tokens as they really behave, through the real PC/SC stack (our pcscd +
//! vpcd + `keyward sim --profile …`) and the in-process virtual reader: the
//! Nitrokey 3's dialect (`61xx` with no data, GET RESPONSE, 6A82, the button
//! before DELETE/RESET/PIN, its own PIN instructions, the PIN-first mode of
//! app 4.7, the serial tag from 4.11), the YubiKey 5's capacity and RENAME
//! by firmware, a card held by another program. Regression tests named
//! after what keyward got wrong.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::api::{self, api_with_device, Call, READER};
use crate::support::in_process;
use crate::support::pcscd::{lock, Pcscd, Sim, READER0};
use keyward::apdu::pin::PinValue;
use keyward::devices::{Device, VirtualDevice};
use keyward::oath::codec::OathType;
use keyward::oath::driver::pcsc::Pcsc;
use keyward::oath::driver::{PinState, Token, TokenError};
use keyward::oath::sim::{CardOptions, Personality, Touch};
use keyward::otp::Secret;
use keyward::profile::Profile;
use serde_json::json;

const SECRET_HEX: &str = "3132333435363738393031323334353637383930";

fn profiles() -> Vec<Profile> {
    keyward::profile::builtin().unwrap()
}

fn profile(id: &str) -> Profile {
    profiles().into_iter().find(|p| p.id == id).unwrap()
}

fn token() -> Token<keyward::oath::driver::pcsc::PcscTransport> {
    Token::new(Pcsc::establish().unwrap().connect(READER0).unwrap())
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn nk3_sim(pcscd: &Pcscd, extra: &[&str]) -> Sim {
    let mut args = vec!["--serial", "4711", "--profile", "nitrokey3"];
    args.extend_from_slice(extra);
    Sim::start(pcscd, 0, &pcscd.state_file("nk3.toml"), &args)
}

/// Was: SELECT sent without Le got `61 xx` and no data, keyward followed
/// with SEND REMAINING, the NK3 answered 6985: never identified. A LIST over
/// 256 bytes and CALCULATE failed the same way.
#[test]
fn nitrokey3_is_identified_and_driven_through_get_response() {
    let _guard = lock();
    let pcscd = Pcscd::start();
    let _sim = nk3_sim(&pcscd, &["--firmware", "4.11.0"]);
    let id = token().identify(&profiles()).unwrap();
    assert_eq!(id.profile.as_deref(), Some("nitrokey3-secrets"));
    assert_eq!(id.serial, Some(4711), "serial from tag 8F");
    assert_eq!(id.version, [4, 11, 0]);
    assert_eq!((id.credentials, id.free_slots), (Some(0), Some(50)));

    let nk3 = profile("nitrokey3-secrets");
    let secret = Secret::from_hex(SECRET_HEX).unwrap();
    // Eight long names: LIST answers about 500 bytes, past one short APDU.
    let names: Vec<String> = (0..8).map(|i| format!("{i}{}", "n".repeat(50))).collect();
    for name in &names {
        let spec = in_process::spec(name, OathType::Totp, &secret);
        Token::new(Pcsc::establish().unwrap().connect(READER0).unwrap())
            .with_profile(&nk3)
            .write(&nk3, &spec, now())
            .unwrap();
    }
    let mut t = token().with_profile(&nk3);
    assert_eq!(t.list().unwrap().len(), 8);
    // A second PUT of a name is refused, never overwritten.
    let again = in_process::spec(&names[0], OathType::Totp, &secret);
    assert!(matches!(
        t.write(&nk3, &again, now()),
        Err(TokenError::AlreadyExists { .. })
    ));
    // A missing credential is 6A82 on the NK3: typed as such, not "status".
    let id0 = in_process::spec(&names[0], OathType::Totp, &secret).id();
    assert!(matches!(
        t.calculate(
            b"nobody",
            OathType::Totp,
            keyward::otp::Period::DEFAULT,
            now()
        ),
        Err(TokenError::NoSuchCredential { .. })
    ));
    t.delete(&id0).unwrap();
    assert!(matches!(
        t.delete(&id0),
        Err(TokenError::NoSuchCredential { .. })
    ));
    assert_eq!(t.list().unwrap().len(), 7);
}

/// Was: 6982 to DELETE was "locked by an access code"; on a Nitrokey 3 it is
/// the button nobody pressed.
#[test]
fn nitrokey3_delete_and_reset_without_a_touch_time_out_and_are_not_a_lock() {
    let _guard = lock();
    let pcscd = Pcscd::start();
    let _sim = nk3_sim(&pcscd, &["--touch", "never", "--touch-timeout", "1"]);
    let nk3 = profile("nitrokey3-secrets");
    let secret = Secret::from_hex(SECRET_HEX).unwrap();
    let spec = in_process::spec("a", OathType::Totp, &secret);
    token()
        .with_profile(&nk3)
        .write(&nk3, &spec, now())
        .unwrap();
    let started = Instant::now();
    let err = token().with_profile(&nk3).delete(&spec.id()).unwrap_err();
    assert!(matches!(err, TokenError::TouchTimeout { .. }), "{err:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the card waited"
    );
    let err = token().with_profile(&nk3).wipe().unwrap_err();
    assert!(matches!(err, TokenError::TouchTimeout { .. }), "{err:?}");
    assert_eq!(token().with_profile(&nk3).list().unwrap().len(), 1);
}

/// Was: the profile required the serial tag, which app 4.7 lacks, and
/// LIST on a 4.7 with a PIN set (every command needs VerifyPIN just
/// before) failed identification with "locked".
#[test]
fn nitrokey3_on_app_4_7_with_a_pin_is_identified_by_its_reader() {
    let _guard = lock();
    let pcscd = Pcscd::start();
    let _sim = nk3_sim(&pcscd, &["--firmware", "4.7.0"]);
    // The sim's reader stands for the NK3's own USB reader ("Nitrokey 3").
    let mut profiles = profiles();
    for p in &mut profiles {
        if p.id == "nitrokey3-secrets" {
            p.matching.reader_names.push("Virtual PCD".into());
        }
    }
    let nk3 = profile("nitrokey3-secrets");
    let id = token().identify(&profiles).unwrap();
    assert_eq!(id.profile.as_deref(), Some("nitrokey3-secrets"));
    assert_eq!(id.serial, None, "no serial tag before 4.11");
    // The PIN through the NK3's own SetPIN (B4), not ISO CHANGE REFERENCE.
    let pin = PinValue::new(b"483920").unwrap();
    let unused = PinValue::new(b"00000000").unwrap();
    token()
        .with_profile(&nk3)
        .set_pin(&nk3, &pin, &unused)
        .unwrap();
    let id = token().identify(&profiles).unwrap();
    assert_eq!(id.profile.as_deref(), Some("nitrokey3-secrets"));
    assert_eq!(id.credentials, None, "nothing answers before VerifyPIN");
    let mut t = token().with_profile(&nk3);
    assert_eq!(t.pin_state().unwrap(), PinState::TriesLeft(8));
    // A wrong PIN answers 6300; the tries come from the SELECT answer.
    let wrong = PinValue::new(b"111111").unwrap();
    assert!(matches!(
        t.verify_pin(&wrong),
        Err(TokenError::WrongPin { tries_left: 7 })
    ));
    t.verify_pin(&pin).unwrap();
    assert_eq!(t.pin_state().unwrap(), PinState::TriesLeft(8));
}

/// Was: a generic PC/SC error when scdaemon (or any program) holds the card
/// exclusively.
#[test]
fn a_token_held_by_another_program_is_named() {
    let _guard = lock();
    let pcscd = Pcscd::start();
    let _sim = Sim::with_serial(&pcscd, 0, "t.toml", "4242");
    let other = pcsc::Context::establish(pcsc::Scope::User).unwrap();
    let reader = std::ffi::CString::new(READER0).unwrap();
    let _held = other
        .connect(&reader, pcsc::ShareMode::Exclusive, pcsc::Protocols::ANY)
        .unwrap();
    let err = Pcsc::establish().unwrap().connect(READER0).unwrap_err();
    assert!(matches!(err, TokenError::HeldByAnotherProgram), "{err:?}");
    assert!(err.to_string().contains("another program holds the token"));
}

fn card(personality: Personality) -> in_process::Card {
    keyward::oath::sim::OathApplet::open(
        keyward::oath::sim::MemoryStore::default(),
        keyward::oath::sim::CountingEntropy(0),
        7,
        CardOptions {
            chunk: 255,
            personality,
        },
    )
    .unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    data_encoding::HEXUPPER.decode(s.as_bytes()).unwrap()
}

/// PUT of credential `i` (a TOTP, 2-byte name).
fn put(i: usize) -> Vec<u8> {
    let mut apdu = unhex("0001000019");
    apdu.extend_from_slice(&[0x71, 2]);
    apdu.extend_from_slice(format!("{i:02}").as_bytes());
    apdu.extend_from_slice(&unhex("731321063132333435363738393031323334353637"));
    apdu
}

/// Was: 32 credentials whatever the firmware; YubiKey 5.7 holds 64. RENAME
/// exists from 5.3.1.
#[test]
fn yubikey5_capacity_and_rename_follow_the_firmware() {
    for (version, capacity) in [([5, 4, 3], 32), ([5, 7, 1], 64)] {
        let mut c = card(Personality::yubikey5(version));
        c.process(&unhex("00A4040007A0000005272101"));
        for i in 0..capacity {
            assert_eq!(c.process(&put(i)), unhex("9000"), "{version:?} {i}");
        }
        assert_eq!(c.process(&put(capacity)), unhex("6A84"), "{version:?}");
    }
    let rename = "000500000871023030710230A1";
    for (version, sw) in [([5, 2, 7], "6D00"), ([5, 3, 1], "9000")] {
        let mut c = card(Personality::yubikey5(version));
        c.process(&unhex("00A4040007A0000005272101"));
        c.process(&put(0));
        assert_eq!(c.process(&unhex(rename))[..], unhex(sw)[..], "{version:?}");
    }
    // keyward reads the capacity of the firmware it meets.
    let mut t = Token::new(in_process::InProcess {
        card: card(Personality::yubikey5([5, 7, 1])),
        transactions: 0,
        apdus: 0,
    });
    let id = t.identify(&profiles()).unwrap();
    assert_eq!(id.profile.as_deref(), Some("yubikey5-oath"));
    assert_eq!(id.free_slots, Some(64));
}

fn nk3_api(touch: Touch) -> (api::Api, std::path::PathBuf) {
    let path = std::cell::RefCell::new(None);
    let api = api_with_device(|p| {
        *path.borrow_mut() = Some(p.to_path_buf());
        let mut personality = Personality::nitrokey3([4, 11, 0]);
        personality.touch = touch;
        personality.touch_timeout = Duration::ZERO;
        let options = CardOptions {
            personality,
            ..CardOptions::default()
        };
        Arc::new(VirtualDevice::open_with(p, options).unwrap())
    });
    let path = path.into_inner().unwrap();
    (api, path)
}

/// Was: the NK3's PIN, promised by its profile, was never set (only ISO
/// PINs were driven), and a desk unblock was offered though the NK3 has no
/// resetting code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nitrokey3_pin_is_set_through_its_own_instruction_and_never_unblocked_at_the_desk() {
    let (api, path) = nk3_api(Touch::Press);
    assert_eq!(
        api.devices.present()[0].profile.as_deref(),
        Some("nitrokey3-secrets")
    );
    let s = api.serial.clone();
    for (step, key, body) in [
        (
            "prepare",
            &api.keys.desk,
            json!({"holder": "jdupont", "reader": READER}),
        ),
        (
            "handover",
            &api.keys.desk,
            json!({"place": "Est", "reader": READER}),
        ),
        (
            "activate",
            &api.keys.station,
            json!({"reader": READER, "pin": "483920"}),
        ),
    ] {
        let (status, answer) = api
            .post(key, &format!("/v1/tokens/{s}/{step}"), Some(body))
            .await;
        assert_eq!(status, 200, "{step}: {answer}");
        if step == "activate" {
            assert_eq!(answer["device_pin"], true, "{answer}");
        }
    }
    let state =
        keyward::oath::sim::StateStore::load(&mut keyward::oath::sim::FileStore::new(&path))
            .unwrap()
            .unwrap();
    assert!(
        state.pin.is_some() && state.puk.is_none(),
        "SetPIN, no resetting code"
    );
    assert_eq!(state.pin_tries, 8);
    let unblock = Call::post(format!("/v1/tokens/{s}/unblock-pin"))
        .by(&api.keys.desk)
        .json(json!({"reader": READER}));
    let err = api.assert_refused(unblock, 502, "device_error").await;
    assert_eq!(err["error"]["detail"], "unsupported");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("no resetting code"), "{message}");
}

/// Was: a recovery that failed at insertion (the NK3's button not pressed
/// for the DELETE) returned an error before the token was attached: the
/// token never showed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_recovery_at_insertion_does_not_hide_the_token() {
    let (api, path) = nk3_api(Touch::Never);
    let serial = api.serial.clone();
    let holder = keyward::domain::PersonId::parse("jdupont").unwrap();
    let params = keyward::devices::default_params();
    let id = keyward::devices::credential_id(&holder, &params);
    api.store
        .write(&keyward::domain::Actor::System, "test", |tx| {
            tx.begin_pending_write(&serial, &holder, &id, READER, None)
        })
        .unwrap();
    // The credential reached the token before the "crash".
    let secret = Secret::from_hex(SECRET_HEX).unwrap();
    let nk3 = profile("nitrokey3-secrets");
    let device = VirtualDevice::open_with(
        &path,
        CardOptions {
            personality: Personality::nitrokey3([4, 11, 0]),
            ..CardOptions::default()
        },
    )
    .unwrap();
    let spec = keyward::oath::driver::CredentialSpec {
        name: "jdupont",
        issuer: Some("keyward"),
        ..in_process::spec("jdupont", OathType::Totp, &secret)
    };
    Token::new(device.open().unwrap())
        .with_profile(&nk3)
        .write(&nk3, &spec, now())
        .unwrap();
    drop(device);
    // Unplugged and plugged back: the DELETE waits for a touch nobody gives.
    api.devices.detach(READER);
    let mut personality = Personality::nitrokey3([4, 11, 0]);
    personality.touch = Touch::Never;
    personality.touch_timeout = Duration::ZERO;
    let device = VirtualDevice::open_with(
        &path,
        CardOptions {
            personality,
            ..CardOptions::default()
        },
    )
    .unwrap();
    let present = api.devices.attach(READER, Arc::new(device)).unwrap();
    assert_eq!(present.serial.as_deref(), Some(serial.as_str()));
    assert!(api.devices.is_at(READER, &serial), "the token shows");
    let pending = api.store.read(|tx| tx.pending_write(&serial)).unwrap();
    assert!(pending.is_some(), "kept for the next insertion");
}

/// A Nitrokey 3 on app 4.7 with a PIN set shows neither a serial (tag 8F
/// came with 4.11) nor a salt: every such token would have had the same
/// "serial" (the id of an empty salt), so two of them were one token to
/// keyward. It is now shown without a serial and never driven.
#[test]
fn nitrokey3_4_7_with_a_pin_and_no_serial_is_never_taken_for_another() {
    let base = api::api();
    let mut profiles = profiles();
    for p in &mut profiles {
        if p.id == "nitrokey3-secrets" {
            p.matching.reader_names.push(READER.into());
        }
    }
    let devices =
        keyward::devices::DeviceManager::new(base.store.clone(), base.clock.clone(), profiles);
    let path = api::data_dir(&base.dir).join("nk3-4.7.toml");
    let mut state = keyward::oath::sim::AppletState::fresh(4711, "0011223344556677".into());
    state.pin = Some(keyward::oath::sim::HexSecret::new("343833393230".into()));
    state.pin_tries = 8;
    keyward::oath::sim::StateStore::save(&mut keyward::oath::sim::FileStore::new(&path), &state)
        .unwrap();
    let device = VirtualDevice::open_with(
        &path,
        CardOptions {
            personality: Personality::nitrokey3([4, 7, 0]),
            ..CardOptions::default()
        },
    )
    .unwrap();
    let present = devices.attach(READER, Arc::new(device)).unwrap();
    assert_eq!(present.profile.as_deref(), Some("nitrokey3-secrets"));
    assert_eq!(present.serial, None, "{present:?}");
    let err = devices.read_code(READER, "").unwrap_err();
    assert!(
        matches!(err, keyward::devices::DeviceError::Absent { .. }),
        "{err:?}"
    );
}

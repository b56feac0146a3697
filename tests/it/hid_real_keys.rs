//! Touch keys as a French station meets them, through the daemon's device
//! manager and the HID seam (a `SimulatedKey`): typing read on an AZERTY
//! layout, a serial the serial command refuses, the OTP interface reclaimed
//! for a while after the same key's CCID interface was used. Regression
//! tests named after what keyward got wrong.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::api::{self, data_dir, Call};
use crate::support::world;
use keyward::devices::{VirtualDevice, TOUCH_SLOT};
use keyward::hid::{KeyboardLayout, OtpDevice, SimulatedKey};
use keyward::oath::sim::{AppletState, FileStore, StateStore};
use serde_json::json;

const SERIAL: u32 = 5_123_456;
const HID_READER: &str = "hid:5123456";

fn attach(api: &api::Api, key: SimulatedKey) -> Arc<Mutex<SimulatedKey>> {
    let key = Arc::new(Mutex::new(key));
    let present = api.devices.attach_simulated_key(HID_READER, &key).unwrap();
    assert_eq!(present.serial.as_deref(), Some("5123456"));
    key
}

fn touch(key: &Arc<Mutex<SimulatedKey>>) -> String {
    key.lock().unwrap().touch(TOUCH_SLOT).unwrap().text()
}

/// Was: on an AZERTY station the key's digits arrive as `&é"'(-è_çà` and
/// the handover was refused ("not what this key types").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_azerty_station_hands_over_and_returns_a_touch_key() {
    let api = api::api();
    let key = attach(
        &api,
        SimulatedKey::new(SERIAL).with_layout(KeyboardLayout::Azerty),
    );
    let s = SERIAL.to_string();
    api.prepare_ok(&s, "jdupont", HID_READER).await;
    let typed = touch(&key);
    assert!(
        !typed.chars().any(|c| c.is_ascii_digit()),
        "AZERTY types no digit: {typed}"
    );
    let body = json!({"place": "Est", "reader": HID_READER, "typed": format!("{typed}\n")});
    let (status, answer) = api
        .post(
            &api.keys.inspector_east,
            &format!("/v1/tokens/{s}/handover"),
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let body = json!({"place": "Est", "reason": "end of mission", "reader": HID_READER, "typed": touch(&key)});
    let (status, answer) = api
        .post(
            &api.keys.inspector_east,
            &format!("/v1/tokens/{s}/return"),
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
}

/// Was: the serial was read only with the serial command, which a key
/// refuses when a slot hides its serial: such a key never appeared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_hides_its_serial_from_the_api_still_appears() {
    let api = api::api();
    let key = SimulatedKey::new(SERIAL).with_serial_hidden();
    // The serial command itself is refused by such a key.
    let mut probe = SimulatedKey::new(SERIAL).with_serial_hidden();
    assert!(OtpDevice::open(&mut probe).unwrap().api_serial().is_err());
    attach(&api, key);
    assert!(api.devices.is_at(HID_READER, "5123456"));
    assert!(api.devices.is_touch_key(HID_READER));
}

/// Was: right after keyward used the same YubiKey's CCID interface (it
/// identifies the OATH applet when the key is plugged in), the OTP
/// interface ignored the write and keyward reported a wrong access code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_right_after_ccid_use_waits_for_the_otp_interface() {
    let api = api::api();
    let key = attach(&api, SimulatedKey::new(SERIAL));
    // The same key's OATH applet, at its CCID reader, with the same serial.
    let state = data_dir(&api.dir).join("same-key-ccid.toml");
    FileStore::new(&state)
        .save(&AppletState::fresh(SERIAL, "0011223344556677".into()))
        .unwrap();
    let ccid_reader = "Yubico YubiKey OTP+FIDO+CCID 00 00";
    let oath = Arc::new(VirtualDevice::open(&state).unwrap());
    // The key reclaims its OTP interface from the first CCID command on.
    let started = Instant::now();
    key.lock().unwrap().ccid_used();
    let present = api.devices.attach(ccid_reader, oath).unwrap();
    assert_eq!(present.serial.as_deref(), Some("5123456"));
    let s = SERIAL.to_string();
    let prepare = Call::post(format!("/v1/tokens/{s}/prepare"))
        .by(&api.keys.desk)
        .json(json!({"holder": "jdupont", "reader": HID_READER}));
    let (status, answer) = api.send(prepare).await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "waited for the reclaim"
    );
    assert!(key.lock().unwrap().status().slot_configured(TOUCH_SLOT));
}

/// Was: the holder's login with a touch key on an AZERTY machine sent the
/// digit row's symbols, which verify rejected as malformed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_typed_on_an_azerty_keyboard_is_accepted() {
    let api = api::api();
    let key = attach(
        &api,
        SimulatedKey::new(SERIAL).with_layout(KeyboardLayout::Azerty),
    );
    let station = api
        .store
        .write(&world::desk(), "test", |tx| {
            tx.create_api_key(
                "hid station",
                keyward::domain::Role::Station,
                None,
                &[HID_READER.into()],
                None,
            )
        })
        .unwrap()
        .key
        .to_string();
    let s = SERIAL.to_string();
    api.prepare_ok(&s, "jdupont", HID_READER).await;
    for (path, key_of_caller, body) in [
        (
            "handover",
            api.keys.inspector_east.clone(),
            json!({"place": "Est", "reader": HID_READER, "typed": touch(&key)}),
        ),
        (
            "activate",
            station,
            json!({"reader": HID_READER, "pin": "483920", "typed": touch(&key)}),
        ),
    ] {
        let (status, answer) = api
            .post(
                &key_of_caller,
                &format!("/v1/tokens/{s}/{path}"),
                Some(body),
            )
            .await;
        assert_eq!(status, 200, "{path}: {answer}");
    }
    // The PIN as typed with Shift, the code as the key types it.
    let body = json!({"login": "jdupont", "passcode": format!("483920{}", touch(&key))});
    let (status, answer) = api.verify(&body).await;
    assert_eq!(status, 200);
    assert_eq!(answer["result"], "accept", "{answer}");
}

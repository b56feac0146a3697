//! The desk workflow for touch keys through the daemon,
//! with a `SimulatedKey` attached as `hid:<serial>`: prepare (sealed access
//! code recorded as pending, slot written locked, pgmSeq proof, commit) →
//! handover with a touched code → activation at the station with PIN +
//! touched code → verify accepted once, code equal to oathtool's → return →
//! wipe with the sealed access code; a foreign access code refused with the
//! slot unchanged; interrupted prepares recovered to "fully prepared or
//! none"; the access code never at rest in clear.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::api;

use std::sync::{Arc, Mutex};

use api::{api, Api, Call};
use keyward::devices::{DeviceError, TOUCH_SLOT};
use keyward::domain::Role;
use keyward::domain::{Actor, PersonId, TokenState};
use keyward::hid::{
    AccessCode, HidError, HotpConfig, HotpKey, OtpDevice, SimulatedKey, SlotConfig, TransportError,
};
use keyward::otp::{Algorithm, Digits};
use keyward::otp::{CredentialParams, OtpKind};
use keyward::store::ops::AccessCodeStatus;
use keyward::wire::ErrorDetail;
use serde_json::json;

const SERIAL: u32 = 5_123_456;
const HID_READER: &str = "hid:5123456";

fn hotp_params() -> CredentialParams {
    CredentialParams {
        kind: OtpKind::Hotp { counter: 0 },
        algorithm: Algorithm::Sha1,
        digits: Digits::SIX,
    }
}

fn jdupont() -> PersonId {
    PersonId::parse("jdupont").unwrap()
}

fn desk() -> Actor {
    Actor::Desk(PersonId::parse("alice").unwrap())
}

/// The API fixture with a simulated touch key attached, and a station key
/// bound to its reader.
fn with_touch_key() -> (Api, Arc<Mutex<SimulatedKey>>, String) {
    let api = api();
    let key = Arc::new(Mutex::new(SimulatedKey::new(SERIAL)));
    let present = api.devices.attach_simulated_key(HID_READER, &key).unwrap();
    assert_eq!(present.serial.as_deref(), Some("5123456"));
    assert_eq!(present.profile.as_deref(), Some("yubikey-otp-hid"));
    let station = api
        .store
        .write(&desk(), "test", |tx| {
            tx.create_api_key(
                "hid station",
                Role::Station,
                None,
                &[HID_READER.into()],
                None,
            )
        })
        .unwrap();
    (api, key, station.key.to_string())
}

/// The daemon, as the desk, prepares the touch key for jdupont with HOTP.
fn prepare_touch_key(api: &Api) -> Result<keyward::devices::Prepared, DeviceError> {
    let serial = SERIAL.to_string();
    api.devices.prepare(
        &desk(),
        HID_READER,
        &serial,
        &jdupont(),
        hotp_params(),
        None,
    )
}

/// Someone writes the touch slot behind the daemon's back: an HOTP key of
/// `seed` bytes, locked with `code` (opened with `current`).
fn program_slot(
    key: &Arc<Mutex<SimulatedKey>>,
    seed: u8,
    code: &AccessCode,
    current: Option<&AccessCode>,
) {
    let mut k = key.lock().unwrap();
    let config = HotpConfig::new(HotpKey::new(&[seed; 20]).unwrap());
    OtpDevice::open(&mut *k)
        .unwrap()
        .program_hotp(TOUCH_SLOT, &config, Some(code), current)
        .unwrap();
}

/// What the touch slot holds now, if anything.
fn touch_slot(key: &Arc<Mutex<SimulatedKey>>) -> Option<SlotConfig> {
    key.lock().unwrap().slot_config(TOUCH_SLOT).cloned()
}

/// The touch slot's configuration bytes (it must be programmed).
fn slot_bytes(key: &Arc<Mutex<SimulatedKey>>) -> Vec<u8> {
    touch_slot(key).unwrap().as_bytes().to_vec()
}

fn touch(key: &Arc<Mutex<SimulatedKey>>) -> String {
    key.lock().unwrap().touch(TOUCH_SLOT).unwrap().text()
}

fn oathtool_hotp(hex: &str, counter: u64) -> String {
    crate::support::pcscd::oathtool(&["--hotp", "-c", &counter.to_string(), hex])
}

fn at_rest(api: &Api) -> Vec<u8> {
    let db = api.store.db_path().to_path_buf();
    let mut bytes = std::fs::read(&db).unwrap();
    let wal = std::path::PathBuf::from(format!("{}-wal", db.display()));
    if let Ok(more) = std::fs::read(&wal) {
        bytes.extend_from_slice(&more);
    }
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn assert_not_at_rest(api: &Api, secret: &[u8]) {
    let files = at_rest(api);
    for form in [
        secret.to_vec(),
        data_encoding::HEXLOWER.encode(secret).into_bytes(),
        data_encoding::HEXUPPER.encode(secret).into_bytes(),
    ] {
        assert!(!contains(&files, &form), "found at rest");
    }
}

/// The token is in stock, with no pending write and no pending access code.
fn assert_stock_with_nothing_pending(api: &Api, s: &str) {
    let (state, pending, code) = api
        .store
        .read(|tx| {
            Ok((
                tx.token(s)?.state,
                tx.pending_writes()?,
                tx.slot_access_code(s, TOUCH_SLOT, AccessCodeStatus::Pending)?,
            ))
        })
        .unwrap();
    assert_eq!(state, TokenState::Stock);
    assert!(pending.is_empty());
    assert!(code.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepare_handover_activate_verify_return_wipe_with_a_touch_key() {
    let (api, key, station) = with_touch_key();
    let s = SERIAL.to_string();
    let reader = json!(HID_READER);

    // Prepare: no kind given, a touch key gets HOTP.
    let prepared = api.prepare_ok(&s, "jdupont", HID_READER).await;
    assert_eq!(prepared["state"], "prepared");
    // Proof of the write: pgmSeq went from 0 to 1, the slot holds an
    // OATH-HOTP configuration locked with the access code the store sealed.
    let (config, hex_secret, access) = {
        let k = key.lock().unwrap();
        assert_eq!(k.status().pgm_seq, 1);
        assert!(k.status().slot_configured(TOUCH_SLOT));
        let config = k.slot_config(TOUCH_SLOT).unwrap();
        assert!(config.is_oath_hotp());
        assert!(config.has_access_code());
        assert_eq!(config.hotp_digits(), 6);
        assert_eq!(config.hotp_imf(), 0);
        (
            config.as_bytes().to_vec(),
            data_encoding::HEXLOWER.encode(config.hotp_key().expose()),
            *config.access_code(),
        )
    };
    let sealed = api
        .store
        .read(|tx| {
            Ok((
                tx.slot_access_code(&s, TOUCH_SLOT, AccessCodeStatus::Committed)?,
                tx.slot_access_code(&s, TOUCH_SLOT, AccessCodeStatus::Pending)?,
                tx.pending_writes()?,
            ))
        })
        .unwrap();
    assert!(sealed.0.unwrap().matches(&access));
    assert!(sealed.1.is_none());
    assert!(sealed.2.is_empty());
    assert_eq!(hex_secret.len(), 40);
    assert_not_at_rest(&api, &access);
    assert_not_at_rest(
        &api,
        &data_encoding::HEXLOWER
            .decode(hex_secret.as_bytes())
            .unwrap(),
    );
    let (_, token) = api.get(&api.keys.desk, &format!("/v1/tokens/{s}")).await;
    assert_eq!(token["credential"]["kind"], "hotp");

    // Handover: a touch key must type its code; without it, 422 on "typed".
    let handover = format!("/v1/tokens/{s}/handover");
    let by_inspector = Call::post(&handover).by(&api.keys.inspector_east);
    let untyped = json!({"place": "Circonscription Est", "reader": reader});
    api.assert_invalid(by_inspector.clone().json(untyped), "typed")
        .await;
    // A code the key never typed: possession refused, nothing changes.
    let never_typed = json!({"place": "Est", "reader": reader, "typed": "000000"});
    api.assert_conflict(by_inspector.json(never_typed), "possession_check_failed")
        .await;
    let handover_code = touch(&key);
    assert_eq!(handover_code, oathtool_hotp(&hex_secret, 0));
    let typed = format!("{handover_code}\n");
    let body = json!({"place": "Circonscription Est", "reader": reader, "typed": typed});
    let (status, handed) = api
        .post(&api.keys.inspector_east, &handover, Some(body))
        .await;
    assert_eq!(status, 200, "{handed}");
    assert_eq!(handed["receipt"]["kind"], "handover");

    // Activation at the station: PIN + a touched code; no device PIN on an
    // OTP slot. The handover's code was consumed: replaying it fails.
    let activate = format!("/v1/tokens/{s}/activate");
    let replayed = json!({"reader": reader, "pin": "483920", "typed": handover_code});
    let at_station = Call::post(&activate).by(&station);
    api.assert_conflict(at_station.json(replayed), "possession_check_failed")
        .await;
    let (status, active) = api
        .post(
            &station,
            &activate,
            Some(json!({"reader": reader, "pin": "483920", "typed": touch(&key)})),
        )
        .await;
    assert_eq!(status, 200, "{active}");
    assert_eq!(active["state"], "active");
    assert_eq!(active["device_pin"], false);

    // Verify with PIN + touched code: accepted once, equal to oathtool -c 2.
    let code = touch(&key);
    assert_eq!(code, oathtool_hotp(&hex_secret, 2));
    let body = json!({"login": "jdupont", "passcode": format!("483920{code}")});
    let (status, answer) = api.verify(&body).await;
    assert_eq!(status, 200);
    assert_eq!(answer["result"], "accept", "{answer}");
    let (_, answer) = api.verify(&body).await;
    assert_eq!(answer, json!({"result": "reject"}));

    // Return with a touched code, then the wipe deletes the slot with the
    // sealed access code and destroys it.
    let body =
        json!({"place": "Est", "reason": "end of mission", "reader": reader, "typed": touch(&key)});
    let (status, returned) = api
        .post(
            &api.keys.inspector_east,
            &format!("/v1/tokens/{s}/return"),
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{returned}");
    // The secret is destroyed at return; the slot's code stays until the wipe.
    assert_eq!(touch_slot(&key).unwrap().as_bytes()[..], config[..]);
    let (status, wiped) = api
        .post(
            &api.keys.desk,
            &format!("/v1/tokens/{s}/wipe"),
            Some(json!({"reader": reader})),
        )
        .await;
    assert_eq!(status, 200, "{wiped}");
    assert_eq!(wiped["state"], "wiped");
    assert!(touch_slot(&key).is_none());
    assert_eq!(key.lock().unwrap().status().pgm_seq, 0);
    let left = api
        .store
        .read(|tx| tx.slot_access_code(&s, TOUCH_SLOT, AccessCodeStatus::Committed))
        .unwrap();
    assert!(left.is_none());
    assert_not_at_rest(&api, &access);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_code_for_a_token_read_over_pcsc_is_refused() {
    let (api, _key, _station) = with_touch_key();
    let s = api.serial.clone();
    api.prepare_ok(&s, "jdupont", api::READER).await;
    let handover = Call::post(format!("/v1/tokens/{s}/handover")).by(&api.keys.inspector_east);
    let typed = json!({"place": "Est", "reader": api::READER, "typed": "123456"});
    api.assert_invalid(handover.json(typed), "typed").await;
}

#[test]
fn a_slot_locked_with_a_foreign_access_code_is_refused_and_left_unchanged() {
    let (api, key, _) = with_touch_key();
    let s = SERIAL.to_string();
    // Someone else locked slot 1 before the key reached the desk.
    let foreign = AccessCode::generate().unwrap();
    program_slot(&key, 7, &foreign, None);
    let before = slot_bytes(&key);
    let pgm_seq = key.lock().unwrap().status().pgm_seq;
    let err = prepare_touch_key(&api).unwrap_err();
    assert!(
        matches!(err, DeviceError::Hid(HidError::Rejected { .. })),
        "{err:?}"
    );
    assert_eq!(err.detail(), ErrorDetail::AccessCodeRefused);
    let k = key.lock().unwrap();
    assert_eq!(
        k.slot_config(TOUCH_SLOT).unwrap().as_bytes().to_vec(),
        before
    );
    assert_eq!(k.status().pgm_seq, pgm_seq);
    drop(k);
    assert_stock_with_nothing_pending(&api, &s);
    // A wrong code cannot delete the slot either (what the wipe relies on).
    let mut k = key.lock().unwrap();
    let wrong = AccessCode::generate().unwrap();
    assert!(matches!(
        OtpDevice::open(&mut *k)
            .unwrap()
            .delete_slot(TOUCH_SLOT, Some(&wrong)),
        Err(HidError::Rejected { .. })
    ));
    assert_eq!(
        k.slot_config(TOUCH_SLOT).unwrap().as_bytes().to_vec(),
        before
    );
}

#[test]
fn a_prepare_cut_mid_frame_is_recovered_at_the_next_insertion() {
    let (api, key, _) = with_touch_key();
    let s = SERIAL.to_string();
    // Three reports of the write frame go through, then the key is pulled.
    key.lock().unwrap().unplug_after_writes(3);
    let err = prepare_touch_key(&api).unwrap_err();
    assert!(
        matches!(
            err,
            DeviceError::Hid(HidError::Transport(TransportError::Disconnected))
        ),
        "{err:?}"
    );
    assert_eq!(err.detail(), ErrorDetail::Removed);
    // The pending write and its sealed code stay for recovery.
    let pending = api.store.read(|tx| tx.pending_writes()).unwrap();
    assert_eq!(pending.len(), 1);
    assert!(api
        .store
        .read(|tx| tx.slot_access_code(&s, TOUCH_SLOT, AccessCodeStatus::Pending))
        .unwrap()
        .is_some());
    assert!(touch_slot(&key).is_none());

    // Plugged back in: the insertion recovers to "none".
    api.devices.detach(HID_READER);
    key.lock().unwrap().plug_in();
    api.devices.attach_simulated_key(HID_READER, &key).unwrap();
    assert_stock_with_nothing_pending(&api, &s);
    assert!(touch_slot(&key).is_none());
    let audit = api.audit_after(0);
    assert!(
        audit
            .iter()
            .any(|(_, action, subject)| action == "token.prepare.abort" && subject == &s),
        "{audit:?}"
    );

    // And the key prepares fine afterwards.
    prepare_touch_key(&api).unwrap();
    assert!(touch_slot(&key).unwrap().is_oath_hotp());
}

#[test]
fn a_crash_after_the_slot_was_written_is_recovered_with_the_pending_code() {
    let (api, key, _) = with_touch_key();
    let s = SERIAL.to_string();
    // The daemon recorded the pending write and wrote the slot, then died
    // before the commit.
    let code = AccessCode::generate().unwrap();
    api.store
        .write(&desk(), "token.prepare", |tx| {
            tx.begin_slot_prepare(&s, &jdupont(), TOUCH_SLOT, HID_READER, &code, None)
        })
        .unwrap();
    program_slot(&key, 9, &code, None);
    // Only the pending code opens the slot now.
    assert!(touch_slot(&key).unwrap().has_access_code());
    api.devices.detach(HID_READER);
    api.devices.attach_simulated_key(HID_READER, &key).unwrap();
    assert!(touch_slot(&key).is_none());
    let (state, pending) = api
        .store
        .read(|tx| Ok((tx.token(&s)?.state, tx.pending_writes()?)))
        .unwrap();
    assert_eq!(state, TokenState::Stock);
    assert!(pending.is_empty());
    let audit = api.audit_after(0);
    let (_, _, _) = audit
        .iter()
        .find(|(_, action, subject)| action == "token.prepare.abort" && subject == &s)
        .expect("recovery audited");
    assert_not_at_rest(&api, code.expose());
}

/// A HID bus of simulated keys, plugged in and out by the test.
#[derive(Default)]
struct SimBus {
    keys: std::collections::BTreeMap<String, Arc<Mutex<SimulatedKey>>>,
}

impl keyward::hid::HidBus for SimBus {
    type Device = Arc<Mutex<SimulatedKey>>;

    fn enumerate(
        &mut self,
        wanted: &keyward::hid::HidInterfaceMatch,
    ) -> Result<Vec<keyward::hid::HidDeviceInfo>, TransportError> {
        Ok(self
            .keys
            .keys()
            .map(|path| keyward::hid::HidDeviceInfo {
                path: path.clone(),
                vendor_id: 0x1050,
                product_id: 0x0407,
                usage_page: 1,
                usage: 6,
                serial: None,
            })
            .filter(|info| wanted.matches(info))
            .collect())
    }

    fn open(&mut self, info: &keyward::hid::HidDeviceInfo) -> Result<Self::Device, TransportError> {
        self.keys
            .get(&info.path)
            .cloned()
            .ok_or(TransportError::NotFound {
                path: info.path.clone(),
            })
    }
}

#[test]
fn the_poller_registers_a_new_key_as_stock_and_publishes_insert_and_remove() {
    let api = api();
    let mut events = api.devices.subscribe();
    // The daemon's built-in copy of the profile is the file's.
    let profile = keyward::devices::hid_key::builtin_touch_key_profile().unwrap();
    assert_eq!(
        profile,
        keyward::hid::load_otp_profile("firmware-profiles/yubikey-otp-hid.toml").unwrap()
    );
    let mut bus = SimBus::default();
    let mut known = std::collections::BTreeMap::new();
    let key = Arc::new(Mutex::new(SimulatedKey::new(7_654_321)));
    bus.keys.insert("/dev/hidraw3".into(), Arc::clone(&key));

    api.devices
        .poll_hid(&mut bus, &profile.usb, &mut known)
        .unwrap();
    let present = api.devices.present();
    let found = present
        .iter()
        .find(|p| p.reader == "hid:7654321")
        .expect("the key is present");
    assert_eq!(found.serial.as_deref(), Some("7654321"));
    assert_eq!(found.profile.as_deref(), Some("yubikey-otp-hid"));
    let token = api.store.read(|tx| tx.token("7654321")).unwrap();
    assert_eq!(token.state, TokenState::Stock);
    assert_eq!(token.profile, "yubikey-otp-hid");
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(event);
    }
    assert!(
        seen.contains(&keyward::devices::DeviceEvent::Inserted {
            reader: "hid:7654321".into(),
            serial: Some("7654321".into()),
            profile: Some("yubikey-otp-hid".into()),
        }),
        "{seen:?}"
    );

    // A second poll with nothing new changes nothing and publishes nothing.
    api.devices
        .poll_hid(&mut bus, &profile.usb, &mut known)
        .unwrap();
    assert!(events.try_recv().is_err());

    // Pulled out: removed.
    bus.keys.clear();
    api.devices
        .poll_hid(&mut bus, &profile.usb, &mut known)
        .unwrap();
    assert!(!api.devices.is_touch_key("hid:7654321"));
    assert_eq!(
        events.try_recv().unwrap(),
        keyward::devices::DeviceEvent::Removed {
            reader: "hid:7654321".into()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_key_is_replaced_by_a_touch_key_with_hotp() {
    let (api, key, _) = with_touch_key();
    let old = api.serial.clone();
    let d = api::DOMAIN;
    api.prepare_ok(&old, "jdupont", api::READER).await;
    let request = json!({
        "holder": "jdupont",
        "reason": "broken",
        "from": format!("jdupont@{d}"),
        "cc": [format!("pmartin@{d}")],
    });
    let request = api.file_replacement(request).await;
    let prepared = api.prepare_replacement(&request, HID_READER).await;
    assert_eq!(prepared["serial"], SERIAL.to_string());
    assert!(touch_slot(&key).unwrap().is_oath_hotp());
    let (old_state, new_kind) = api
        .store
        .read(|tx| {
            Ok((
                tx.token(&old)?.state,
                tx.credential_of(&SERIAL.to_string())?.unwrap().params.kind,
            ))
        })
        .unwrap();
    assert_eq!(old_state, TokenState::Revoked);
    assert_eq!(new_kind, OtpKind::Hotp { counter: 0 });
}

#[test]
fn a_token_registered_for_its_oath_applet_is_not_prepared_through_its_slots() {
    let api = api();
    // The same serial already known as a YubiKey 5 OATH token.
    api.store
        .write(&desk(), "test", |tx| {
            tx.add_token("4242424", "yubikey5-oath")
        })
        .unwrap();
    let key = Arc::new(Mutex::new(SimulatedKey::new(4_242_424)));
    api.devices
        .attach_simulated_key("hid:4242424", &key)
        .unwrap();
    let err = api
        .devices
        .prepare(
            &desk(),
            "hid:4242424",
            "4242424",
            &jdupont(),
            hotp_params(),
            None,
        )
        .unwrap_err();
    assert_eq!(err.detail(), ErrorDetail::Unsupported, "{err:?}");
    assert!(touch_slot(&key).is_none());
    assert!(api.store.read(|tx| tx.pending_writes()).unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wipe_refused_by_the_key_changes_nothing_and_is_audited() {
    let (api, key, _) = with_touch_key();
    let s = SERIAL.to_string();
    prepare_touch_key(&api).unwrap();
    api.store
        .write(&desk(), "token.revoke", |tx| {
            tx.revoke(&s, keyward::domain::RevokeReason::Broken)
        })
        .unwrap();
    // Someone who learnt the code relocked the slot with another one: the
    // store's code no longer opens it.
    let current = {
        let k = key.lock().unwrap();
        AccessCode::new(k.slot_config(TOUCH_SLOT).unwrap().access_code()).unwrap()
    };
    program_slot(&key, 3, &AccessCode::generate().unwrap(), Some(&current));
    let before = slot_bytes(&key);
    let head = api.audit_head();
    let wipe = Call::post(format!("/v1/tokens/{s}/wipe")).by(&api.keys.desk);
    let wipe = wipe.json(json!({"reader": HID_READER}));
    let err = api.assert_refused(wipe, 502, "device_error").await;
    assert_eq!(err["error"]["detail"], "access_code_refused");
    assert!(api
        .audit_after(head)
        .iter()
        .any(|(_, action, _)| action == "refused"));
    assert_eq!(slot_bytes(&key), before);
    let state = api.store.read(|tx| tx.token(&s)).unwrap().state;
    assert_eq!(state, TokenState::Revoked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_on_a_touch_key_is_refused_audited_and_changes_nothing() {
    let (api, key, _) = with_touch_key();
    let head = api.audit_head();
    for body in [
        json!({"holder": "jdupont", "reader": HID_READER, "kind": "totp"}),
        json!({"holder": "jdupont", "reader": HID_READER, "kind": "hotp", "algorithm": "SHA256"}),
        json!({"holder": "jdupont", "reader": HID_READER, "kind": "hotp", "digits": 7}),
    ] {
        let prepare = Call::post(format!("/v1/tokens/{SERIAL}/prepare")).by(&api.keys.desk);
        let err = api
            .assert_refused(prepare.json(body.clone()), 502, "device_error")
            .await;
        assert_eq!(err["error"]["detail"], "unsupported", "{body}");
    }
    let refusals = api
        .audit_after(head)
        .iter()
        .filter(|(_, action, _)| action == "refused")
        .count();
    assert_eq!(refusals, 3);
    assert!(touch_slot(&key).is_none());
}

#[test]
fn a_key_that_cannot_be_identified_yet_is_retried_at_the_next_poll() {
    let api = api();
    let profile = keyward::devices::hid_key::builtin_touch_key_profile().unwrap();
    let mut bus = SimBus::default();
    let mut known = std::collections::BTreeMap::new();
    let key = Arc::new(Mutex::new(SimulatedKey::new(1_111_111)));
    key.lock().unwrap().unplug();
    bus.keys.insert("/dev/hidraw5".into(), Arc::clone(&key));
    api.devices
        .poll_hid(&mut bus, &profile.usb, &mut known)
        .unwrap();
    assert!(!api.devices.is_touch_key("hid:1111111"));
    assert_eq!(
        api.devices
            .counters
            .errors
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    // Still failing: counted once.
    api.devices
        .poll_hid(&mut bus, &profile.usb, &mut known)
        .unwrap();
    assert_eq!(
        api.devices
            .counters
            .errors
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    key.lock().unwrap().plug_in();
    api.devices
        .poll_hid(&mut bus, &profile.usb, &mut known)
        .unwrap();
    assert!(api.devices.is_touch_key("hid:1111111"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_virtual_demo_touches_a_simulated_key_through_the_api() {
    let api = api();
    let present = api.devices.attach_virtual_touch_key().unwrap();
    let reader = present.reader.clone();
    let serial = present.serial.clone().unwrap();
    assert_eq!(reader, format!("hid:{serial}"));
    // Empty slot: touching types nothing.
    let (status, err) = api
        .post(&api.keys.desk, &format!("/v1/devices/{reader}/touch"), None)
        .await;
    assert_eq!(status, 502, "{err}");
    api.prepare_ok(&serial, "jdupont", &reader).await;
    let (status, touched) = api
        .post(&api.keys.desk, &format!("/v1/devices/{reader}/touch"), None)
        .await;
    assert_eq!(status, 200, "{touched}");
    assert_eq!(touched["serial"], serial);
    let typed = touched["typed"].as_str().unwrap().to_owned();
    assert_eq!(typed.len(), 6);
    // What it typed proves possession at the handover.
    let (status, handed) = api
        .post(
            &api.keys.inspector_east,
            &format!("/v1/tokens/{serial}/handover"),
            Some(json!({"place": "Est", "reader": reader, "typed": typed})),
        )
        .await;
    assert_eq!(status, 200, "{handed}");
    // Only simulated keys are touched through the API.
    let touch_card = Call::post("/v1/devices/keyward%20virtual%20reader/touch").by(&api.keys.desk);
    let err = api.assert_refused(touch_card, 502, "device_error").await;
    assert_eq!(err["error"]["detail"], "unsupported");
}

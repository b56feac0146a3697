//! Device workflows through the API with the in-process virtual reader:
//! prepare → handover → activate (device PIN set) → verify accepted →
//! replay rejected; and a prepare cut mid-write recovered at the next start
//! to "fully prepared or none".
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::api;

use std::sync::Arc;

use api::{api, api_with_device, data_dir, finish, replacement_prepare_path, Call, Keys, READER};
use keyward::devices::{Device, DeviceManager, FaultyDevice, VirtualDevice, VIRTUAL_STATE_FILE};
use keyward::oath::sim::{FileStore, StateStore as _};
use keyward::store::{Config, Store};
use serde_json::json;

pub(crate) fn token_file_state(api: &api::Api) -> keyward::oath::sim::AppletState {
    FileStore::new(data_dir(&api.dir).join(VIRTUAL_STATE_FILE))
        .load()
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepare_handover_activate_verify_replay() {
    let api = api();
    let s = api.serial.clone();
    let desk = api.keys.desk.clone();
    let reader = json!(READER);

    let prepared = api.prepare_ok(&s, "jdupont", READER).await;
    assert_eq!(prepared["state"], "prepared");
    // The credential is on the token and committed; nothing pending.
    assert_eq!(token_file_state(&api).credentials.len(), 1);
    assert!(api.store.read(|tx| tx.pending_writes()).unwrap().is_empty());

    // Handover by the district's inspector, possession read from the token.
    let (status, handed) = api
        .post(
            &api.keys.inspector_east,
            &format!("/v1/tokens/{s}/handover"),
            Some(json!({"place": "Circonscription Est", "reader": reader})),
        )
        .await;
    assert_eq!(status, 200, "{handed}");
    assert_eq!(handed["receipt"]["kind"], "handover");
    let receipt_id = handed["receipt"]["id"].as_u64().unwrap();
    let receipt = Call::get(format!("/v1/receipts/{receipt_id}?format=text&lang=en"));
    let (status, text) = api.send_raw(receipt.by(&desk)).await;
    assert_eq!(status, 200);
    assert!(String::from_utf8(text).unwrap().contains("Jeanne Dupont"));

    // A PIN the policy refuses: 422, nothing on the token, nothing stored.
    let activate = format!("/v1/tokens/{s}/activate");
    let weak_pin = json!({"reader": reader, "pin": "123456"});
    let at_station = Call::post(&activate).by(&api.keys.station);
    let err = api.assert_invalid(at_station.json(weak_pin), "pin").await;
    assert!(!err.to_string().contains("123456"));
    assert!(token_file_state(&api).pin.is_none());

    // Activation at the station: the device PIN is set (virtual profile has a
    // retry counter).
    let (status, active) = api
        .post(
            &api.keys.station,
            &activate,
            Some(json!({"reader": reader, "pin": "483920"})),
        )
        .await;
    assert_eq!(status, 200, "{active}");
    assert_eq!(active["state"], "active");
    assert_eq!(active["device_pin"], true);
    assert!(token_file_state(&api).pin.is_some());

    // Next TOTP step: the handover consumed this one.
    api.clock.advance(30);
    let (status, code) = api
        .post(&desk, "/v1/devices/keyward%20virtual%20reader/code", None)
        .await;
    assert_eq!(status, 200, "{code}");
    let passcode = format!("483920{}", code["code"].as_str().unwrap());
    let body = json!({"login": "jdupont", "passcode": passcode});
    let (status, answer) = api.verify(&body).await;
    assert_eq!(status, 200);
    assert_eq!(
        answer,
        json!({"result": "accept", "rights": [{"school": api::SCHOOL_EAST, "origin": "appointment", "until": "2027-07-04"}]})
    );
    // The same passcode again: rejected, and nothing says why.
    let (status, answer) = api.verify(&body).await;
    assert_eq!(
        (status.as_u16(), answer),
        (200, json!({"result": "reject"}))
    );
    // Wrong PIN with a fresh code: the same answer.
    api.clock.advance(30);
    let (_, code) = api
        .post(&desk, "/v1/devices/keyward%20virtual%20reader/code", None)
        .await;
    let body = json!({"login": "jdupont", "passcode": format!("111111{}", code["code"].as_str().unwrap())});
    let (_, answer) = api.verify(&body).await;
    assert_eq!(answer, json!({"result": "reject"}));
    // Reasons go to the metrics only.
    api.assert_metrics(&[
        "keyward_verify_total{outcome=\"accept\"} 1",
        "keyward_verify_total{outcome=\"replay\"} 1",
        "keyward_verify_total{outcome=\"wrong_pin\"} 1",
    ])
    .await;
    // The token as the desk sees it.
    let (_, token) = api.get(&desk, &format!("/v1/tokens/{s}")).await;
    assert_eq!(token["state"], "active");
    assert_eq!(token["holder"], "jdupont");
    assert_eq!(token["credential"]["kind"], "totp");
    assert_eq!(token["credential"]["failures"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prepare_cut_mid_write_is_recovered_at_the_next_start() {
    let faulty: std::sync::Mutex<Option<Arc<FaultyDevice>>> = std::sync::Mutex::new(None);
    let api = api_with_device(|path| {
        let device = Arc::new(FaultyDevice::new(Arc::new(
            VirtualDevice::open(path).unwrap(),
        )));
        *faulty.lock().unwrap() = Some(device.clone());
        device
    });
    let faulty = faulty.lock().unwrap().take().unwrap();
    let s = api.serial.clone();
    // SELECT passes; the PUT reaches the token, then the token is unplugged.
    faulty.arm(1);
    let (status, err) = api.prepare(&s, "jdupont", READER).await;
    assert_eq!(
        (status.as_u16(), err["error"]["code"].as_str()),
        (502, Some("device_error")),
        "{err}"
    );
    assert_eq!(err["error"]["detail"], "removed");
    // In between: the token holds an uncommitted credential, the store a
    // pending record and a stock token.
    assert_eq!(token_file_state(&api).credentials.len(), 1);
    assert_eq!(api.store.read(|tx| tx.pending_writes()).unwrap().len(), 1);
    assert_eq!(
        api.store.read(|tx| tx.token(&s)).unwrap().state,
        keyward::domain::TokenState::Stock
    );

    // "Crash": everything but the data directory goes away; next start.
    let api::Api {
        dir, clock, keys, ..
    } = api;
    let Keys { .. } = &keys;
    let data = data_dir(&dir);
    let store = Arc::new(Store::open(&data, clock.clone(), Config::new(api::DOMAIN)).unwrap());
    let device: Arc<dyn Device> =
        Arc::new(VirtualDevice::open(&data.join(VIRTUAL_STATE_FILE)).unwrap());
    let api = finish(dir, clock, store, keys, device);
    // Recovered to "none": no credential on the token, nothing pending,
    // audited, still stock.
    assert!(token_file_state(&api).credentials.is_empty());
    assert!(api.store.read(|tx| tx.pending_writes()).unwrap().is_empty());
    let audit = api.audit_after(0);
    assert!(
        audit
            .iter()
            .any(|(_, action, subject)| action == "token.prepare.abort" && *subject == s),
        "{audit:?}"
    );
    let (_, token) = api.get(&api.keys.desk, &format!("/v1/tokens/{s}")).await;
    assert_eq!(token["state"], "stock");
    assert_eq!(token["credential"], serde_json::Value::Null);
    // And a new prepare goes through: fully prepared.
    let (status, prepared) = api
        .post(
            &api.keys.desk,
            &format!("/v1/tokens/{s}/prepare"),
            Some(json!({"holder": "jdupont", "reader": READER, "kind": "hotp"})),
        )
        .await;
    assert_eq!(status, 200, "{prepared}");
    assert_eq!(token_file_state(&api).credentials.len(), 1);
    let (_, code) = api
        .post(
            &api.keys.desk,
            "/v1/devices/keyward%20virtual%20reader/code",
            None,
        )
        .await;
    assert_eq!(code["code"].as_str().unwrap().len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_stream_device_and_token_changes() {
    use futures_util::StreamExt as _;
    let api = api();
    let mut body = api.events(&api.keys.desk).await;
    // The subscription exists once the answer is out: a change now is seen.
    api.prepare_ok(&api.serial, "jdupont", READER).await;
    let chunk = body.next().await.unwrap().unwrap();
    let text = String::from_utf8(chunk.to_vec()).unwrap();
    assert!(text.contains("event: token"), "{text}");
    assert!(text.contains("\"state\":\"prepared\""), "{text}");
    // Shutdown ends the stream.
    api.state.begin_shutdown();
    assert!(body.next().await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn return_wipe_restock_and_prepare_for_someone_else() {
    let api = api();
    let s = api.serial.clone();
    let desk = api.keys.desk.clone();
    let east = api.keys.inspector_east.clone();
    let post = |path: String, key: String, body: serde_json::Value| {
        let api = &api;
        async move { api.send(Call::post(path).by(&key).json(body)).await }
    };
    let (status, _) = post(
        format!("/v1/tokens/{s}/prepare"),
        desk.clone(),
        json!({"holder": "jdupont", "reader": READER, "kind": "hotp"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = post(
        format!("/v1/tokens/{s}/handover"),
        east.clone(),
        json!({"place": "Est", "reader": READER}),
    )
    .await;
    assert_eq!(status, 200);
    // Wiping a live key is refused, nothing happens to the token.
    let before = token_file_state(&api).credentials.len();
    let wipe = Call::post(format!("/v1/tokens/{s}/wipe")).by(&desk);
    let live = wipe.json(json!({"reader": READER}));
    api.assert_refused(live, 409, "conflict").await;
    assert_eq!(token_file_state(&api).credentials.len(), before);
    // The west inspector cannot take it back: 404 as if it did not exist.
    let by_west = Call::post(format!("/v1/tokens/{s}/return")).by(&api.keys.inspector_west);
    let back = by_west.json(json!({"place": "Ouest", "reason": "end", "reader": READER}));
    api.assert_refused(back, 404, "not_found").await;
    let (status, returned) = post(
        format!("/v1/tokens/{s}/return"),
        east.clone(),
        json!({"place": "Est", "reason": "end of appointment", "reader": READER}),
    )
    .await;
    assert_eq!(status, 200, "{returned}");
    assert_eq!(returned["receipt"]["kind"], "return");
    let (_, transit) = api.get(&east, "/v1/reports/in-transit").await;
    assert_eq!(transit["EAST"][0]["serial"], s);
    let (_, transit) = api
        .get(&api.keys.inspector_west, "/v1/reports/in-transit")
        .await;
    assert_eq!(transit, json!({}));
    // Wipe at the reader: applet reset, state wiped; then restock.
    let (status, wiped) = post(
        format!("/v1/tokens/{s}/wipe"),
        desk.clone(),
        json!({"reader": READER}),
    )
    .await;
    assert_eq!(
        (status.as_u16(), &wiped["state"]),
        (200, &json!("wiped")),
        "{wiped}"
    );
    assert!(token_file_state(&api).credentials.is_empty());
    let (status, restocked) =
        post(format!("/v1/tokens/{s}/restock"), desk.clone(), json!(null)).await;
    assert_eq!(
        (status.as_u16(), &restocked["state"]),
        (200, &json!("stock")),
        "{restocked}"
    );
    // Ready for another holder.
    let (status, prepared) = post(
        format!("/v1/tokens/{s}/prepare"),
        desk.clone(),
        json!({"holder": "mleroy", "reader": READER}),
    )
    .await;
    assert_eq!(status, 200, "{prepared}");
    let (_, receipts) = api.get(&desk, &format!("/v1/tokens/{s}/receipts")).await;
    assert_eq!(receipts.as_array().unwrap().len(), 2);
    let (_, audit) = api.get(&api.keys.admin, "/v1/audit/verify").await;
    assert_eq!(audit["ok"], true, "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_key_is_replaced_and_the_old_one_revoked_in_the_same_step() {
    let api = api();
    let old = api.serial.clone();
    let desk = api.keys.desk.clone();
    let second = "keyward virtual reader 2";
    let new = api
        .devices
        .attach(
            second,
            Arc::new(VirtualDevice::open(&data_dir(&api.dir).join("second-token.toml")).unwrap()),
        )
        .unwrap()
        .serial
        .unwrap();
    api.prepare_ok(&old, "jdupont", READER).await;
    // Help mail from a school mailbox: refused, nothing recorded.
    let d = api::DOMAIN;
    let from_school = json!({
        "holder": "jdupont",
        "reason": "broken",
        "from": format!("ce.0751710B@{d}"),
        "cc": [format!("pmartin@{d}")],
    });
    let file = Call::post("/v1/replacement-requests").by(&desk);
    api.assert_conflict(file.json(from_school), "help_mail_refused")
        .await;
    let request = json!({
        "holder": "jdupont",
        "reason": "broken",
        "from": format!("jdupont@{d}"),
        "cc": [format!("pmartin@{d}")],
        "subject": "clé cassée",
    });
    let request = api.file_replacement(request).await;
    // Broken, not lost: the old key stays live until the new one is prepared.
    let (_, token) = api.get(&desk, &format!("/v1/tokens/{old}")).await;
    assert_eq!(token["state"], "prepared");
    let prepared = api.prepare_replacement(&request, second).await;
    assert_eq!(prepared["serial"], new.as_str());
    assert_eq!(prepared["holder"], "jdupont");
    let (_, token) = api.get(&desk, &format!("/v1/tokens/{old}")).await;
    assert_eq!(
        (&token["state"], &token["revoke_reason"]),
        (&json!("revoked"), &json!("broken"))
    );
    // Fulfilled once only.
    let again = Call::post(replacement_prepare_path(&request)).by(&desk);
    let again = again.json(json!({"reader": READER}));
    let err = api.assert_refused(again, 409, "conflict").await;
    assert!(
        ["request_fulfilled", "invalid_transition"]
            .contains(&err["error"]["detail"].as_str().unwrap()),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_station_hears_only_its_own_readers() {
    use futures_util::StreamExt as _;
    let api = api();
    let mut body = api.events(&api.keys.station_elsewhere).await;
    // A change at the virtual reader, then a token at the station's reader:
    // the first thing the station hears is its own reader.
    api.prepare_ok(&api.serial, "jdupont", READER).await;
    let other = VirtualDevice::open(&data_dir(&api.dir).join("other.toml")).unwrap();
    api.devices.attach("Other Reader", Arc::new(other)).unwrap();
    let text = String::from_utf8(body.next().await.unwrap().unwrap().to_vec()).unwrap();
    assert!(text.starts_with("event: device\n"), "{text}");
    assert!(text.contains("\"reader\":\"Other Reader\""), "{text}");
    assert!(!text.contains(READER), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_without_a_retried_device_pin_never_receives_the_holders_pin() {
    // The same card, described by a profile whose family has no PIN with a
    // hardware retry counter (like YKOATH's access code): the holder's PIN
    // must never be sent to it.
    let (api, serial, path) = api_without_device_pin();
    assert_eq!(activate_at_reader(&api, &serial).await, false);
    let state = FileStore::new(&path).load().unwrap().unwrap();
    assert!(state.pin.is_none() && state.access_key.is_none());
    assert!(!std::fs::read_to_string(&path).unwrap().contains("483920"));
}

/// Prepare, hand over and activate the token at READER for jdupont with PIN
/// 483920; answers activate's `device_pin`.
pub(crate) async fn activate_at_reader(api: &api::Api, serial: &str) -> serde_json::Value {
    for (path, key, body) in [
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
            .post(key, &format!("/v1/tokens/{serial}/{path}"), Some(body))
            .await;
        assert_eq!(status, 200, "{path}: {answer}");
        if path == "activate" {
            return answer["device_pin"].clone();
        }
    }
    unreachable!()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_unblocks_a_blocked_device_pin_without_learning_it() {
    use keyward::apdu::pin::PinValue;
    use keyward::oath::driver::{PinState, Token, TokenError};

    let handle: std::sync::Mutex<Option<Arc<VirtualDevice>>> = std::sync::Mutex::new(None);
    let api = api_with_device(|path| {
        let device = Arc::new(VirtualDevice::open(path).unwrap());
        *handle.lock().unwrap() = Some(device.clone());
        device
    });
    let device = handle.lock().unwrap().take().unwrap();
    let s = api.serial.clone();
    let unblock = format!("/v1/tokens/{s}/unblock-pin");
    let at_reader = json!({"reader": READER});
    let by_desk = Call::post(&unblock).by(&api.keys.desk);

    // Stock token: no resetting code sealed yet → 404, nothing changes.
    let stock = by_desk.clone().json(at_reader.clone());
    api.assert_refused(stock, 404, "not_found").await;

    assert_eq!(activate_at_reader(&api, &s).await, true);
    let token = || Token::new(device.open().unwrap());
    let pin = PinValue::new(b"483920").unwrap();
    let wrong = PinValue::new(b"000000").unwrap();
    // The holder blocks it: three wrong PINs.
    for _ in 0..2 {
        assert!(matches!(
            token().verify_pin(&wrong),
            Err(TokenError::WrongPin { .. })
        ));
    }
    assert!(matches!(
        token().verify_pin(&wrong),
        Err(TokenError::PinBlocked)
    ));
    assert_eq!(token().pin_state().unwrap(), PinState::TriesLeft(0));
    assert!(matches!(
        token().verify_pin(&pin),
        Err(TokenError::PinBlocked)
    ));

    // Refusals with nothing changed: another reader, another serial at the
    // reader, a station or inspector key.
    let elsewhere = by_desk.clone().json(json!({"reader": "Other Reader"}));
    let other_serial = Call::post("/v1/tokens/99999999/unblock-pin").by(&api.keys.desk);
    let by_station = Call::post(&unblock).by(&api.keys.station);
    api.assert_refused(elsewhere, 409, "device_absent").await;
    let other_serial = other_serial.json(at_reader.clone());
    api.assert_refused(other_serial, 409, "device_absent").await;
    let by_station = by_station.json(at_reader.clone());
    api.assert_refused(by_station, 403, "forbidden").await;
    assert_eq!(token().pin_state().unwrap(), PinState::TriesLeft(0));

    // The desk unblocks: full tries again, the PIN unchanged.
    let head = api.audit_head();
    let (status, answer) = api.send(by_desk.json(at_reader)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({"serial": s, "device_pin": "unblocked", "tries_left": 3})
    );
    assert!(api
        .audit_after(head)
        .iter()
        .any(|(_, action, subject)| action == "token.device_pin.unblock" && subject == &s));
    assert_eq!(token().pin_state().unwrap(), PinState::TriesLeft(3));
    // No secret in the answer or the audit: neither the PIN nor the code.
    let state = token_file_state(&api);
    let puk: String = data_encoding::HEXLOWER_PERMISSIVE
        .decode(state.puk.as_ref().unwrap().expose().as_bytes())
        .unwrap()
        .into_iter()
        .filter(u8::is_ascii_digit)
        .map(char::from)
        .collect();
    assert_eq!(puk.len(), 8);
    let text = answer.to_string();
    assert!(!text.contains("483920") && !text.contains(&puk), "{text}");
    for (_, action, subject) in api.audit_after(0) {
        assert!(!action.contains(&puk) && !subject.contains(&puk));
    }

    // The holder's PIN works again and the holder can set a new one at the
    // station (CHANGE REFERENCE DATA with the old PIN).
    token().verify_pin(&pin).unwrap();
    let new_pin = PinValue::new(b"604817").unwrap();
    token().change_pin(&pin, &new_pin).unwrap();
    token().verify_pin(&new_pin).unwrap();
    assert_eq!(token().pin_state().unwrap(), PinState::TriesLeft(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_unblock_for_a_profile_without_a_retried_device_pin() {
    let (api, serial, path) = api_without_device_pin();
    assert_eq!(activate_at_reader(&api, &serial).await, false);
    let unblock = Call::post(format!("/v1/tokens/{serial}/unblock-pin")).by(&api.keys.desk);
    let unblock = unblock.json(json!({"reader": READER}));
    let err = api.assert_refused(unblock, 502, "device_error").await;
    assert_eq!(err["error"]["detail"], "unsupported");
    let state = FileStore::new(&path).load().unwrap().unwrap();
    assert!(state.pin.is_none() && state.puk.is_none());
}

/// The fixture with the virtual card described by a profile whose family has
/// no PIN with a hardware retry counter; returns it, the card's serial and
/// its state file.
pub(crate) fn api_without_device_pin() -> (api::Api, String, std::path::PathBuf) {
    let mut profiles = keyward::profile::builtin().unwrap();
    for p in &mut profiles {
        if p.id == "keyward-virtual" {
            p.capabilities.device_pin = None;
        }
    }
    let base = api();
    let devices = DeviceManager::new(base.store.clone(), base.clock.clone(), profiles);
    let path = data_dir(&base.dir).join("no-pin-family.toml");
    let serial = devices
        .attach(READER, Arc::new(VirtualDevice::open(&path).unwrap()))
        .unwrap()
        .serial
        .unwrap();
    let api = api::Api {
        state: keyward::api::AppState::new(base.store.clone(), devices.clone(), base.clock.clone())
            .unwrap(),
        devices,
        serial: serial.clone(),
        ..base
    };
    (api, serial, path)
}

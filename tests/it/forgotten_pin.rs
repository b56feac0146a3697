//! A forgotten PIN at a station (docs/forgotten-pin.md): the inspector's
//! approval, possession read from the key, the new PIN under the policy,
//! the device PIN reset with the sealed resetting code where the profile has
//! one; every refusal typed and changing nothing; afterwards the old PIN is
//! refused and the new one accepted by verify.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use crate::api_devices::{activate_at_reader, api_without_device_pin};
use crate::support::api::{self, api_with_device, Call, READER};
use keyward::apdu::pin::PinValue;
use keyward::devices::{Device as _, VirtualDevice};
use keyward::domain::{Actor, PersonId};
use keyward::oath::driver::{Token, TokenError};
use keyward::store::StoreError;
use serde_json::{json, Value};

const OLD_PIN: &str = "483920";
const NEW_PIN: &str = "604817";

/// The code the key at READER shows now, read by the desk.
async fn code_now(api: &api::Api) -> String {
    let (status, code) = api
        .post(
            &api.keys.desk,
            "/v1/devices/keyward%20virtual%20reader/code",
            None,
        )
        .await;
    assert_eq!(status, 200, "{code}");
    code["code"].as_str().unwrap().to_owned()
}

/// Verify's answer to `pin` followed by the next step's code.
async fn login(api: &api::Api, pin: &str) -> Value {
    api.clock.advance(30);
    let passcode = format!("{pin}{}", code_now(api).await);
    let (status, answer) = api
        .verify(&json!({"login": "jdupont", "passcode": passcode}))
        .await;
    assert_eq!(status, 200, "{answer}");
    answer["result"].clone()
}

fn reset_call(api: &api::Api, serial: &str, pin: &str) -> Call {
    Call::post(format!("/v1/tokens/{serial}/forgotten-pin"))
        .by(&api.keys.station)
        .json(json!({"reader": READER, "pin": pin}))
}

fn approve_call(key: &str, serial: &str, hours: u32) -> Call {
    Call::post(format!("/v1/tokens/{serial}/pin-reset-approval"))
        .by(key)
        .json(json!({ "hours": hours }))
}

/// What every refusal of the approval and of the reset looks like, on
/// `serial` (active, holder jdupont, district EAST): typed, and nothing
/// changed (`assert_refused` compares the store before and after).
async fn refusals_change_nothing(api: &api::Api, serial: &str) {
    // No approval at all.
    api.assert_conflict(reset_call(api, serial, NEW_PIN), "no_pin_reset_approval")
        .await;
    // Only the district's inspector approves: not the other district's
    // (the key does not exist for them), not the desk, not a station.
    let west = approve_call(&api.keys.inspector_west, serial, 24);
    api.assert_refused(west, 404, "not_found").await;
    let desk = approve_call(&api.keys.desk, serial, 24);
    api.assert_refused(desk, 403, "forbidden").await;
    let station = approve_call(&api.keys.station, serial, 24);
    api.assert_refused(station, 403, "forbidden").await;
    // Out of bounds.
    let long = approve_call(&api.keys.inspector_east, serial, 169);
    api.assert_invalid(long, "hours").await;

    // An approval for one hour, then expired.
    let (status, approved) = api
        .send(approve_call(&api.keys.inspector_east, serial, 1))
        .await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["holder"], "jdupont");
    api.clock.advance(3601);
    api.assert_conflict(reset_call(api, serial, NEW_PIN), "no_pin_reset_approval")
        .await;

    // A fresh approval; the PIN policy refuses weak PINs before anything.
    let (status, _) = api
        .send(approve_call(&api.keys.inspector_east, serial, 24))
        .await;
    assert_eq!(status, 200);
    for weak in ["123456", "000000", "12345", "abcdef"] {
        let err = api
            .assert_invalid(reset_call(api, serial, weak), "pin")
            .await;
        assert!(!err.to_string().contains(weak), "{err}");
    }
    // The station at another reader's key may not act here.
    let elsewhere = Call::post(format!("/v1/tokens/{serial}/forgotten-pin"))
        .by(&api.keys.station_elsewhere)
        .json(json!({"reader": READER, "pin": NEW_PIN}));
    api.assert_refused(elsewhere, 403, "forbidden").await;

    // A wrong code, and a code already used, at the store's operation
    // below every interface: refused, nothing written.
    api.clock.advance(30);
    let holder = Actor::Holder(PersonId::parse("jdupont").unwrap());
    let before = api.snapshot();
    let wrong = api.store.write(&holder, "t", |tx| {
        tx.reset_forgotten_pin(serial, "000000", NEW_PIN, false)
            .map(|_| ())
    });
    assert!(
        matches!(wrong, Err(StoreError::PossessionCheckFailed)),
        "{wrong:?}"
    );
    assert_eq!(before, api.snapshot());
    // The old PIN still logs in meanwhile (its code is then used).
    assert_eq!(login(api, OLD_PIN).await, "accept");
    let used = code_now(api).await;
    let replay = api.store.write(&holder, "t", |tx| {
        tx.reset_forgotten_pin(serial, &used, NEW_PIN, false)
            .map(|_| ())
    });
    assert!(
        matches!(replay, Err(StoreError::PossessionCheckFailed)),
        "{replay:?}"
    );
    // Another holder's actor may not reset this key's PIN.
    let other = Actor::Holder(PersonId::parse("mleroy").unwrap());
    let forbidden = api.store.write(&other, "t", |tx| {
        tx.reset_forgotten_pin(serial, &used, NEW_PIN, false)
            .map(|_| ())
    });
    assert!(
        matches!(forbidden, Err(StoreError::Forbidden { .. })),
        "{forbidden:?}"
    );
}

/// The reset itself, once the approval of `refusals_change_nothing` is in
/// force; answers the reset's answer.
async fn reset_and_check_logins(api: &api::Api, serial: &str) -> Value {
    api.clock.advance(30);
    let head = api.audit_head();
    let (status, answer) = api.send(reset_call(api, serial, NEW_PIN)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["serial"], serial);
    // The slip is signed with the receipt key.
    let slip = answer["slip"].as_str().unwrap();
    assert!(slip.starts_with("keyward-pin-reset-slip-v1\n"), "{slip}");
    assert!(slip.contains("holder=jdupont") && slip.contains("approved_by=inspector:pmartin"));
    let signature = data_encoding::BASE64
        .decode(answer["signature"].as_str().unwrap().as_bytes())
        .unwrap();
    let public = api.store.read(|tx| Ok(tx.receipt_public_key())).unwrap();
    let key = ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public);
    key.verify(slip.as_bytes(), &signature).unwrap();
    let audited = api.audit_after(head);
    assert!(audited
        .iter()
        .any(|(_, a, s)| a == "credential.pin_reset_forgotten" && s == serial));
    // No PIN anywhere it should not be.
    let text = answer.to_string();
    assert!(!text.contains(NEW_PIN) && !text.contains(OLD_PIN), "{text}");
    for (_, action, subject) in api.audit_after(0) {
        assert!(!action.contains(NEW_PIN) && !subject.contains(NEW_PIN));
    }

    // The approval is used up: a second reset is refused.
    api.clock.advance(30);
    api.assert_conflict(reset_call(api, serial, "739164"), "no_pin_reset_approval")
        .await;
    // Old PIN refused, new PIN accepted.
    assert_eq!(login(api, OLD_PIN).await, "reject");
    assert_eq!(login(api, NEW_PIN).await, "accept");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_virtual_token_the_device_pin_is_reset_in_the_same_step() {
    let handle: std::sync::Mutex<Option<Arc<VirtualDevice>>> = std::sync::Mutex::new(None);
    let api = api_with_device(|path| {
        let device = Arc::new(VirtualDevice::open(path).unwrap());
        *handle.lock().unwrap() = Some(device.clone());
        device
    });
    let device = handle.lock().unwrap().take().unwrap();
    let token = || Token::new(device.open().unwrap());
    let s = api.serial.clone();
    assert_eq!(activate_at_reader(&api, &s).await, true);
    let old = PinValue::new(OLD_PIN.as_bytes()).unwrap();
    let new = PinValue::new(NEW_PIN.as_bytes()).unwrap();

    refusals_change_nothing(&api, &s).await;
    // The refusals left the device PIN as it was.
    token().verify_pin(&old).unwrap();

    let answer = reset_and_check_logins(&api, &s).await;
    assert_eq!(answer["device_pin"], true);
    assert!(answer["slip"]
        .as_str()
        .unwrap()
        .contains("device_pin=reset"));
    // The token's own PIN is the new one, the old one is refused.
    token().verify_pin(&new).unwrap();
    assert!(matches!(
        token().verify_pin(&old),
        Err(TokenError::WrongPin { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_token_without_a_device_pin_only_the_verifier_changes() {
    let (api, s, path) = api_without_device_pin();
    assert_eq!(activate_at_reader(&api, &s).await, false);
    refusals_change_nothing(&api, &s).await;
    let answer = reset_and_check_logins(&api, &s).await;
    assert_eq!(answer["device_pin"], false);
    assert!(answer["slip"].as_str().unwrap().contains("device_pin=none"));
    // Nothing of the PIN reached the token.
    let state = std::fs::read_to_string(&path).unwrap();
    assert!(!state.contains(NEW_PIN) && !state.contains(OLD_PIN));
}

/// The approval counts only while its inspector is still the district's:
/// an approval recorded before the district changed inspector is not in
/// force.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_of_a_former_inspector_is_not_in_force() {
    let (api, s, _) = api_without_device_pin();
    assert_eq!(activate_at_reader(&api, &s).await, false);
    let (status, _) = api
        .send(approve_call(&api.keys.inspector_east, &s, 24))
        .await;
    assert_eq!(status, 200);
    let cpetit = PersonId::parse("cpetit").unwrap();
    api.store
        .write(&Actor::System, "t", |tx| {
            tx.set_inspector("EAST", Some(&cpetit))
        })
        .unwrap();
    api.clock.advance(30);
    api.assert_conflict(reset_call(&api, &s, NEW_PIN), "no_pin_reset_approval")
        .await;
}

/// Rows written into the database outside keyward decide nothing: an
/// approval inserted by hand, one whose expiry was pushed back, and a
/// district whose inspector was swapped (row MACs, `store::row_mac`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_and_districts_edited_in_the_database_decide_nothing() {
    let (api, s, _) = api_without_device_pin();
    assert_eq!(activate_at_reader(&api, &s).await, false);
    let sql = |statement: &str| {
        let conn = rusqlite::Connection::open(api.store.db_path()).unwrap();
        conn.execute_batch(statement).unwrap();
    };

    // An approval that no inspector gave.
    sql(&format!(
        "INSERT INTO pin_reset_approvals (token, holder, district, inspector, approved_by,
         approved_at, expires_at) VALUES ('{s}', 'jdupont', 'EAST', 'pmartin',
         'inspector:pmartin', 0, 99999999999)"
    ));
    api.clock.advance(30);
    api.assert_conflict(reset_call(&api, &s, NEW_PIN), "record_tampered")
        .await;
    sql("DELETE FROM pin_reset_approvals");

    // A real approval, expired, then pushed back by hand.
    let (status, _) = api
        .send(approve_call(&api.keys.inspector_east, &s, 1))
        .await;
    assert_eq!(status, 200);
    api.clock.advance(3601);
    sql("UPDATE pin_reset_approvals SET expires_at = 99999999999");
    api.assert_conflict(reset_call(&api, &s, NEW_PIN), "record_tampered")
        .await;

    sql("DELETE FROM pin_reset_approvals");

    // A real approval in force, then the district's inspector swapped by
    // hand: the approval is judged against a row nobody may trust.
    let (status, _) = api
        .send(approve_call(&api.keys.inspector_east, &s, 24))
        .await;
    assert_eq!(status, 200);
    sql("UPDATE districts SET inspector = 'lbernard' WHERE code = 'EAST'");
    api.clock.advance(30);
    api.assert_conflict(reset_call(&api, &s, NEW_PIN), "record_tampered")
        .await;
}

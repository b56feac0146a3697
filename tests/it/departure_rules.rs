//! What a recorded departure changes (`Tx::mark_left`): nothing new is
//! given to a person who left — no key prepared, handed over or activated,
//! no right, key request, emergency access or PIN reset — each refused with
//! the one typed error (`person_left`, 409), audited, nothing changed; their
//! rights in force or to come end with the departure, so the gateway refuses
//! them at once; the desk's holder search no longer offers them. Through
//! the API and on the store itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};

use crate::support::api::{api, Api, Call, READER, SCHOOL_EAST};
use crate::support::world::{self, at, desk, inspector_east, pid, World, SCHOOL_WEST};
use keyward::domain::{Actor, RevokeReason};
use keyward::store::ops::EmergencyForm;
use keyward::store::StoreError;

const PIN: &str = "730519";
const NEW_PIN: &str = "604817";

/// The admin records `who`'s departure through the API.
async fn leaves(api: &Api, who: &str) {
    let (status, answer) = api
        .post(&api.keys.admin, &format!("/v1/people/{who}/leave"), None)
        .await;
    assert_eq!(status, 200, "{answer}");
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_right_or_request_for_a_person_who_left() {
    let api = api();
    // mleroy (appointed in WEST) and cpetit (EAST deputy) leave.
    leaves(&api, "mleroy").await;
    leaves(&api, "cpetit").await;

    let prepare = Call::post(format!("/v1/tokens/{}/prepare", api.serial))
        .by(&api.keys.desk)
        .json(json!({"holder": "mleroy", "reader": READER}));
    let err = api.assert_refused(prepare, 409, "conflict").await;
    assert_eq!(err["error"]["detail"], "person_left", "{err}");
    // The refusal says why, in words a caller can act on.
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("mleroy has left"), "{err}");
    let appoint = Call::post("/v1/rights/appointments")
        .by(&api.keys.admin)
        .json(json!({"person": "mleroy", "school": SCHOOL_WEST, "from": "2027-09-01"}));
    api.assert_conflict(appoint, "person_left").await;
    let delegate = Call::post("/v1/rights/delegations")
        .by(&api.keys.inspector_east)
        .json(json!({"person": "cpetit", "school": SCHOOL_EAST, "from": "2026-10-01"}));
    api.assert_conflict(delegate, "person_left").await;
    let request = Call::post("/v1/key-requests")
        .by(&api.keys.inspector_east)
        .json(json!({"holder": "cpetit"}));
    api.assert_conflict(request, "person_left").await;

    // Their rights ended with the departure, for the end of their function.
    for who in ["mleroy", "cpetit"] {
        let (_, person) = api.get(&api.keys.desk, &format!("/v1/people/{who}")).await;
        assert_eq!(person["left"], true, "{person}");
        let right = &person["rights"][0];
        assert_eq!(right["in_force"], false, "{person}");
        assert!(right["ended_at"].is_string(), "{person}");
        assert_eq!(right["end_reason"], "fin_de_fonction", "{person}");
    }
    // A person still here gets their key as before.
    api.prepare_ok(&api.serial, "jdupont", READER).await;

    // The desk's candidates leave them out; the people list still has them.
    let (_, all) = api.get(&api.keys.desk, "/v1/people").await;
    assert!(ids(&all).contains(&"mleroy"), "{all}");
    let (_, here) = api.get(&api.keys.desk, "/v1/people?left=false").await;
    assert!(!ids(&here).contains(&"mleroy") && !ids(&here).contains(&"cpetit"));
    assert!(ids(&here).contains(&"jdupont"), "{here}");
    let (_, gone) = api.get(&api.keys.desk, "/v1/people?left=true").await;
    assert_eq!(ids(&gone), ["cpetit", "mleroy"], "{gone}");
    let (_, theirs) = api
        .get(&api.keys.inspector_east, "/v1/people?left=false")
        .await;
    assert!(!ids(&theirs).contains(&"cpetit"), "{theirs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_prepared_before_the_departure_is_neither_handed_over_nor_activated() {
    let api = api();
    api.prepare_ok(&api.serial, "jdupont", READER).await;
    leaves(&api, "jdupont").await;
    let handover = Call::post(format!("/v1/tokens/{}/handover", api.serial))
        .by(&api.keys.inspector_east)
        .json(json!({"place": "Circonscription Est", "reader": READER}));
    api.assert_conflict(handover, "person_left").await;
    // Taken back like any key: a return is never refused for a departure.
    let (_, token) = api
        .get(&api.keys.desk, &format!("/v1/tokens/{}", api.serial))
        .await;
    assert_eq!(token["state"], "prepared", "{token}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_handed_over_before_the_departure_is_not_activated() {
    let api = api();
    api.prepare_ok(&api.serial, "jdupont", READER).await;
    let (status, handed) = api
        .post(
            &api.keys.inspector_east,
            &format!("/v1/tokens/{}/handover", api.serial),
            Some(json!({"place": "Circonscription Est", "reader": READER})),
        )
        .await;
    assert_eq!(status, 200, "{handed}");
    leaves(&api, "jdupont").await;
    api.clock.advance(30);
    let activate = Call::post(format!("/v1/tokens/{}/activate", api.serial))
        .by(&api.keys.station)
        .json(json!({"reader": READER, "pin": "483920"}));
    api.assert_conflict(activate, "person_left").await;
}

/// The desk records `who`'s departure.
fn leave(w: &World, who: &str) -> Result<(), StoreError> {
    w.store
        .write(&desk(), "leave", |tx| tx.mark_left(&pid(who)))
}

fn is_left(err: StoreError, who: &str) {
    assert!(
        matches!(&err, StoreError::PersonLeft { person } if person == who),
        "{err:?}"
    );
}

/// adurand, director of the east school with an active TOTP key VT-A.
fn director() -> (World, world::Device) {
    world::adurand_directing(World::active_totp, "VT-A", PIN)
}

#[test]
fn the_gateway_refuses_a_person_who_left_at_once() {
    let (w, device) = director();
    let svc = w.store.verify_service().unwrap();
    let login = |svc: &keyward::store::verify::VerifyService| {
        let answer = svc
            .verify("adurand", &format!("{PIN}{}", device.code(w.now())))
            .unwrap();
        w.next_step();
        answer.is_accept()
    };
    assert!(login(&svc));
    leave(&w, "adurand").unwrap();
    assert!(!login(&svc), "a person who left still logs in");
    // Their right ended, audited with the departure's reason.
    assert!(w.last_audit("right.end").contains("reason=fin_de_fonction"));
    drop(svc);
    w.assert_audit_intact();
}

#[test]
fn no_emergency_access_pin_reset_or_right_for_a_person_who_left() {
    let (w, device) = director();
    let request = world::file_help(&w.store, "adurand", RevokeReason::Broken);
    leave(&w, "adurand").unwrap();
    let emergency = w.store.write(&inspector_east(), "emergency", |tx| {
        tx.grant_emergency(request, EmergencyForm::App, 3, "846203")
    });
    is_left(emergency.unwrap_err(), "adurand");
    let approval = w.store.write(&inspector_east(), "approve", |tx| {
        tx.approve_pin_reset("VT-A", 4)
    });
    is_left(approval.unwrap_err(), "adurand");
    let right = w.delegate(
        &inspector_east(),
        "adurand",
        SCHOOL_EAST,
        "2026-11-03",
        None,
    );
    is_left(right.unwrap_err(), "adurand");
    let key_request = w.store.write(&inspector_east(), "request", |tx| {
        tx.request_key(&pid("adurand"))
    });
    is_left(key_request.unwrap_err(), "adurand");
    // Departure of someone unknown, or twice: refused as before.
    for (who, refused) in [("nobody", "not_found"), ("adurand", "forbidden")] {
        let err = leave(&w, who).unwrap_err();
        let code = match err {
            StoreError::NotFound { .. } => "not_found",
            StoreError::Forbidden { .. } => "forbidden",
            _ => "other",
        };
        assert_eq!(code, refused, "{who}: {err:?}");
    }
    drop(device);
}

#[test]
fn an_approved_pin_reset_is_not_used_after_the_departure() {
    let (w, device) = director();
    w.store
        .write(&inspector_east(), "approve", |tx| {
            tx.approve_pin_reset("VT-A", 4)
        })
        .unwrap();
    leave(&w, "adurand").unwrap();
    let code = device.code(w.now());
    let reset = w
        .store
        .write(&Actor::Holder(pid("adurand")), "reset", |tx| {
            tx.reset_forgotten_pin("VT-A", &code, NEW_PIN, false)
        });
    is_left(reset.err().unwrap(), "adurand");
}

#[test]
fn no_key_is_prepared_for_a_person_who_left_even_from_a_pending_write() {
    let w = world::world(at("2026-11-02", 8));
    w.appoint("bleroy", SCHOOL_EAST, "2025-09-01", None);
    leave(&w, "bleroy").unwrap();
    let device = world::Device::new("VT-C");
    let prepared = w.store.write(&desk(), "prepare", |tx| {
        world::register_and_prepare(tx, &device, "bleroy")
    });
    is_left(prepared.unwrap_err(), "bleroy");
    let pending = w.store.write(&desk(), "pending", |tx| {
        tx.add_token("VT-D", "virtual")?;
        tx.begin_pending_write("VT-D", &pid("bleroy"), b"keyward", READER, None)
    });
    is_left(pending.unwrap_err(), "bleroy");
}

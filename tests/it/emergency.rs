//! Emergency access while a key is replaced (issue 17): a sheet of one-time
//! codes or a software token, through the same verify core, at most ten
//! days, ended when the new key is activated, granted only by the district's
//! inspector or the desk against a qualified request, never logged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::world;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use keyward::domain::{Actor, RevokeReason, TokenState};
use keyward::otp::{code_at, CredentialKey, CredentialParams, Digits, Secret};
use keyward::store::ops::{emergency_refusals, EmergencyAccess, EmergencyForm};
use keyward::store::StoreError;
use world::*;

const PIN: &str = "730519";
const EMERGENCY_PIN: &str = "846203";
const DAY: u64 = 86_400;

/// adurand's active key VT-A, lost: the help request (lost, so VT-A is
/// revoked) and its id.
fn lost_key() -> (World, i64) {
    let (w, _) = adurand_directing(World::active_totp, "VT-A", PIN);
    let request = file_help(&w.store, "adurand", RevokeReason::Lost);
    assert_eq!(w.state("VT-A"), TokenState::Revoked);
    (w, request)
}

fn grant(
    w: &World,
    by: &Actor,
    request: i64,
    form: EmergencyForm,
    days: u32,
) -> Result<EmergencyAccess, StoreError> {
    w.store.write(by, "emergency grant", |tx| {
        tx.grant_emergency(request, form, days, EMERGENCY_PIN)
    })
}

fn sheet(w: &World, request: i64, codes: u32) -> EmergencyAccess {
    grant(
        w,
        &inspector_east(),
        request,
        EmergencyForm::Sheet { codes },
        10,
    )
    .unwrap()
}

fn accepts(w: &World, pin: &str, code: &str) -> bool {
    let svc = w.store.verify_service().unwrap();
    svc.verify("adurand", &format!("{pin}{code}"))
        .unwrap()
        .is_accept()
}

/// Prepares the replacement key VT-B against `request`.
fn prepare_replacement(w: &World, request: i64) -> Device {
    let key = Device::new("VT-B");
    w.store
        .write(&desk(), "replace", |tx| {
            tx.add_token(&key.serial, "virtual")?;
            tx.prepare_replacement(request, &key.serial, &key.secret, CredentialParams::totp())
        })
        .unwrap();
    key
}

fn audit_text(w: &World) -> String {
    let conn = rusqlite::Connection::open(w.store.db_path()).unwrap();
    let mut stmt = conn
        .prepare("SELECT action || ' ' || subject || ' ' || detail FROM audit")
        .unwrap();
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows.join("\n")
}

#[test]
fn each_sheet_code_is_accepted_once_under_64_concurrent_tries() {
    let (w, request) = lost_key();
    let access = sheet(&w, request, 5);
    assert_eq!(access.codes.len(), 5);
    let svc = Arc::new(w.store.verify_service().unwrap());
    for code in &access.codes {
        let passcode = Arc::new(format!("{EMERGENCY_PIN}{}", code.as_str()));
        let barrier = Arc::new(Barrier::new(64));
        let accepted = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..64)
            .map(|_| {
                let (svc, passcode, barrier, accepted) = (
                    svc.clone(),
                    passcode.clone(),
                    barrier.clone(),
                    accepted.clone(),
                );
                std::thread::spawn(move || {
                    barrier.wait();
                    if svc.verify("adurand", &passcode).unwrap().is_accept() {
                        accepted.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "code used once");
    }
    // Used codes never again, the PIN is needed.
    assert!(!svc
        .verify(
            "adurand",
            &format!("{EMERGENCY_PIN}{}", access.codes[0].as_str())
        )
        .unwrap()
        .is_accept());
    drop(svc);
    let fresh = sheet_codes_after_revoke_and_regrant(&w, request);
    assert!(!accepts(&w, PIN, &fresh));
    w.assert_audit_intact();
}

/// Revokes the access in force and grants a new sheet: its first code.
fn sheet_codes_after_revoke_and_regrant(w: &World, request: i64) -> String {
    let serial = w
        .store
        .read(|tx| Ok(tx.emergency_accesses()?[0].serial.clone()))
        .unwrap();
    w.store
        .write(&desk(), "emergency revoke", |tx| {
            tx.revoke_emergency(&serial)
        })
        .unwrap();
    let again = sheet(w, request, 2);
    again.codes[0].as_str().to_owned()
}

#[test]
fn a_software_token_works_and_ends_after_ten_days() {
    let (w, request) = lost_key();
    let access = grant(&w, &desk(), request, EmergencyForm::App, 10).unwrap();
    assert!(access.codes.is_empty());
    let uri = access.otpauth.as_deref().unwrap().to_owned();
    assert!(uri.starts_with("otpauth://totp/keyward:adurand?secret="));
    // The authenticator app's side: the secret from the URI.
    let b32 = uri
        .split("secret=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let key = CredentialKey::new(
        keyward::otp::Algorithm::Sha1,
        &Secret::from_base32(b32).unwrap(),
    );
    let code_now = |w: &World| code_at(&key, w.now() / 30, Digits::SIX).to_string();
    assert!(accepts(&w, EMERGENCY_PIN, &code_now(&w)));
    w.clock.advance(9 * DAY);
    assert!(accepts(&w, EMERGENCY_PIN, &code_now(&w)), "still in force");
    w.clock.advance(DAY);
    assert!(
        !accepts(&w, EMERGENCY_PIN, &code_now(&w)),
        "expired after ten days"
    );
    // Expired access does not stand in the way of a new grant.
    assert!(grant(&w, &inspector_east(), request, EmergencyForm::App, 3).is_ok());
}

#[test]
fn a_signed_slip_records_who_granted_it() {
    use ring::signature::{UnparsedPublicKey, ED25519};
    let (w, request) = lost_key();
    let access = sheet(&w, request, 2);
    let slip = &access.slip;
    assert!(slip
        .text
        .starts_with(keyward::store::ops::EMERGENCY_SLIP_HEADER));
    assert!(
        slip.text.contains("granted_by=inspector:pmartin\n"),
        "{}",
        slip.text
    );
    assert!(slip.text.contains("holder=adurand\n"));
    let key = w.store.receipt_public_key();
    UnparsedPublicKey::new(&ED25519, key)
        .verify(slip.text.as_bytes(), &slip.signature)
        .unwrap();
    let mut forged = slip.text.replace("pmartin", "lbernard").into_bytes();
    assert!(UnparsedPublicKey::new(&ED25519, key)
        .verify(&forged, &slip.signature)
        .is_err());
    forged.clear();
    for code in &access.codes {
        assert!(!slip.text.contains(code.as_str()));
    }
    let listed = w.store.read(|tx| tx.emergency_accesses()).unwrap();
    assert_eq!(&listed[0].slip, slip);
}

#[test]
fn the_holder_and_the_inspector_are_told_by_mail_without_a_code() {
    use keyward::mail::service::{queue_notices, Mailer};
    let (w, request) = lost_key();
    let mailer = Mailer::new(crate::support::mail::mail_config(
        "method = \"authentication-results\"\nauthserv_id = \"mx\"\n",
        "",
    ))
    .unwrap();
    assert_eq!(queue_notices(&w.store, &mailer).unwrap(), 0, "from now");
    let access = sheet(&w, request, 3);
    assert_eq!(queue_notices(&w.store, &mailer).unwrap(), 1);
    assert_eq!(queue_notices(&w.store, &mailer).unwrap(), 0, "once");
    let conn = rusqlite::Connection::open(w.store.db_path()).unwrap();
    let (to, body): (String, String) = conn
        .query_row(
            "SELECT recipients, body FROM outbox WHERE template = 'emergency-granted'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(to.contains(&format!("adurand@{DOMAIN}")), "{to}");
    assert!(to.contains(&format!("pmartin@{DOMAIN}")), "{to}");
    assert!(body.contains("accès de secours"), "{body}");
    for code in &access.codes {
        assert!(!body.contains(code.as_str()));
    }
}

#[test]
fn revoking_the_emergency_token_ends_the_grant() {
    let (w, request) = lost_key();
    let access = sheet(&w, request, 2);
    w.store
        .write(&inspector_east(), "revoke", |tx| {
            tx.revoke(&access.serial, RevokeReason::Lost)
        })
        .unwrap();
    assert!(!accepts(&w, EMERGENCY_PIN, &access.codes[0]));
    let listed = w.store.read(|tx| tx.emergency_accesses()).unwrap();
    assert_eq!(listed[0].end_reason.as_deref(), Some("revoked"));
    let err = w
        .store
        .write(&inspector_west(), "revoke", |tx| {
            tx.revoke_emergency(&access.serial)
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::Forbidden { .. }), "{err}");
}

#[test]
fn sheet_expires_after_ten_days() {
    let (w, request) = lost_key();
    let access = sheet(&w, request, 3);
    w.clock.advance(10 * DAY);
    assert!(!accepts(&w, EMERGENCY_PIN, &access.codes[0]));
}

#[test]
fn ends_when_the_new_key_is_activated() {
    let (w, request) = lost_key();
    // Granted before the new key is prepared, which then waits.
    let access = sheet(&w, request, 4);
    let key = prepare_replacement(&w, request);
    assert!(
        accepts(&w, EMERGENCY_PIN, &access.codes[0]),
        "in force while the new key is prepared"
    );
    w.hand_over_and_activate(&key, "adurand", &inspector_east(), PIN);
    assert!(!accepts(&w, EMERGENCY_PIN, &access.codes[1]), "ended");
    assert!(accepts(&w, PIN, &key.code(w.now())), "the new key answers");
    let serial = access.serial.clone();
    assert_eq!(w.state(&serial), TokenState::Revoked);
    let listed = w.store.read(|tx| tx.emergency_accesses()).unwrap();
    assert_eq!(listed[0].end_reason.as_deref(), Some("new key activated"));
    // Nothing is pending any more.
    let err = grant(&w, &desk(), request, EmergencyForm::App, 2).unwrap_err();
    assert!(
        err.to_string().contains(emergency_refusals::NOT_PENDING),
        "{err}"
    );
    w.assert_audit_intact();
}

#[test]
fn granted_after_the_new_key_is_prepared_then_ended_by_activation() {
    let (w, request) = lost_key();
    let key = prepare_replacement(&w, request);
    let access = sheet(&w, request, 2);
    assert!(accepts(&w, EMERGENCY_PIN, &access.codes[0]));
    w.hand_over_and_activate(&key, "adurand", &inspector_east(), PIN);
    assert!(!accepts(&w, EMERGENCY_PIN, &access.codes[1]));
    assert!(accepts(&w, PIN, &key.code(w.now())));
}

#[test]
fn refused_to_the_wrong_role_district_or_without_a_pending_replacement() {
    let (w, request) = lost_key();
    let refusals = [
        Actor::Inspector(pid("lbernard")),
        Actor::Holder(pid("adurand")),
        Actor::Gateway,
    ];
    for by in refusals {
        let err = grant(&w, &by, request, EmergencyForm::App, 5).unwrap_err();
        assert!(matches!(err, StoreError::Forbidden { .. }), "{by}: {err}");
    }
    assert!(grant(&w, &desk(), request, EmergencyForm::App, 11).is_err());
    assert!(grant(&w, &desk(), request, EmergencyForm::App, 0).is_err());
    assert!(grant(&w, &desk(), request + 100, EmergencyForm::App, 5).is_err());
    let listed = w.store.read(|tx| tx.emergency_accesses()).unwrap();
    assert!(listed.is_empty(), "refusals changed nothing");
    // A request for the desk to qualify: only after qualification.
    let w2 = world(at("2026-11-02", 8));
    w2.appoint("adurand", SCHOOL_EAST, "2025-09-01", None);
    w2.active_totp("adurand", "VT-A", PIN);
    let err = w2
        .store
        .write(&desk(), "emergency", |tx| {
            let id = tx.replacement_requests()?.len();
            tx.grant_emergency(id as i64 + 1, EmergencyForm::App, 5, EMERGENCY_PIN)
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    // A broken key still active: no emergency access beside it.
    let broken = file_help(&w2.store, "adurand", RevokeReason::Broken);
    let err = grant(&w2, &desk(), broken, EmergencyForm::App, 5).unwrap_err();
    assert!(
        err.to_string()
            .contains(emergency_refusals::KEY_STILL_WORKS),
        "{err}"
    );
    // Twice: the second is refused while the first is in force.
    sheet(&w, request, 1);
    let err = grant(&w, &desk(), request, EmergencyForm::App, 5).unwrap_err();
    assert!(
        err.to_string()
            .contains(emergency_refusals::ALREADY_GRANTED),
        "{err}"
    );
}

#[test]
fn codes_and_seeds_never_in_the_audit_or_debug_output() {
    let (w, request) = lost_key();
    let access = sheet(&w, request, 10);
    let app_request = request;
    let debug = format!("{access:?}");
    let audit = audit_text(&w);
    assert!(audit.contains("emergency.grant"));
    for code in &access.codes {
        assert!(!audit.contains(code.as_str()), "code in the audit");
        assert!(!debug.contains(code.as_str()), "code in Debug");
    }
    assert!(!audit.contains(EMERGENCY_PIN));
    w.store
        .write(&desk(), "emergency revoke", |tx| {
            tx.revoke_emergency(&access.serial)
        })
        .unwrap();
    let app = grant(&w, &desk(), app_request, EmergencyForm::App, 1).unwrap();
    let uri = app.otpauth.as_deref().unwrap().to_owned();
    let secret = uri
        .split("secret=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    assert!(!audit_text(&w).contains(secret));
    assert!(!format!("{app:?}").contains(secret));
}

/// Through the API: the district's inspector gets the sheet once, another
/// district's inspector is refused, the list never shows a code, and the
/// gateway's verify accepts each code once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_api() {
    use crate::support::api::{api, Call};
    use serde_json::json;

    let api = api();
    let device = Device::new("VT-J");
    let holder = Actor::Holder(pid("jdupont"));
    api.store
        .write(&desk(), "prepare", |tx| {
            register_and_prepare(tx, &device, "jdupont")
        })
        .unwrap();
    let code = device.code(keyward::domain::Clock::now(api.clock.as_ref()));
    api.store
        .write(&inspector_east(), "handover", |tx| {
            tx.handover("VT-J", "Est", &code)
        })
        .unwrap();
    api.store
        .write(&holder, "activate", |tx| tx.activate("VT-J", PIN))
        .unwrap();
    let request = file_help(&api.store, "jdupont", RevokeReason::Stolen);
    let path = format!("/v1/replacement-requests/{request}/emergency");
    let body = json!({"form": "sheet", "codes": 3, "days": 7, "pin": EMERGENCY_PIN});
    api.assert_refused(
        Call::post(&path)
            .by(&api.keys.inspector_west)
            .json(body.clone()),
        403,
        "forbidden",
    )
    .await;
    let too_long = json!({"form": "app", "days": 11, "pin": EMERGENCY_PIN});
    api.assert_invalid(
        Call::post(&path)
            .by(&api.keys.inspector_east)
            .json(too_long),
        "days",
    )
    .await;
    let (status, granted) = api
        .send(Call::post(&path).by(&api.keys.inspector_east).json(body))
        .await;
    assert_eq!(status.as_u16(), 200, "{granted}");
    let codes: Vec<String> = granted["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 3);
    let (status, list) = api.get(&api.keys.desk, "/v1/emergency-access").await;
    assert_eq!(status.as_u16(), 200);
    assert_eq!(list[0]["granted_by"], "inspector:pmartin", "{list}");
    let listed = list.to_string();
    for code in &codes {
        assert!(!listed.contains(code.as_str()));
        assert!(!api.snapshot().contains(code.as_str()), "code stored");
    }
    let passcode = json!({"login": "jdupont", "passcode": format!("{EMERGENCY_PIN}{}", codes[1])});
    assert_eq!(api.verify(&passcode).await.1["result"], "accept");
    assert_eq!(api.verify(&passcode).await.1, json!({"result": "reject"}));
    let serial = granted["serial"].as_str().unwrap().to_owned();
    let (status, _) = api
        .post(
            &api.keys.inspector_east,
            &format!("/v1/emergency-access/{serial}/revoke"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status.as_u16(), 200);
    let passcode = json!({"login": "jdupont", "passcode": format!("{EMERGENCY_PIN}{}", codes[2])});
    assert_eq!(api.verify(&passcode).await.1, json!({"result": "reject"}));
}

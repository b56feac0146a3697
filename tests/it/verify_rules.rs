//! Verify-path rules beyond the five situations: resynchronisation, learnt
//! drift, malformed passcodes, unknown logins.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::world;

use keyward::domain::Actor;
use keyward::otp::{code_at, Digits};
use keyward::store::verify::{VerifyOutcome, VerifyService};
use keyward::store::{Config, StoreError};
use world::*;

const PIN: &str = "730519";

/// One appointed director per school: adurand in the east, others in the
/// east's second school.
fn appointed(w: &World, holder: &str) {
    let school = if holder == "adurand" {
        SCHOOL_EAST
    } else {
        SCHOOL_EAST_2
    };
    w.appoint(holder, school, "2025-09-01", None);
}

/// 2 November 2026, 08:00: adurand is director of the east school.
fn school_day() -> World {
    let w = world(at("2026-11-02", 8));
    appointed(&w, "adurand");
    w
}

/// [`school_day`] with adurand's active TOTP key VT-A, and the verify path.
fn adurand_with_a_key() -> (World, Device, VerifyService) {
    let w = school_day();
    let d = w.active_totp("adurand", "VT-A", PIN);
    let svc = w.store.verify_service().unwrap();
    (w, d, svc)
}

/// Whether `login` gets in with PIN followed by `code`.
fn accepts(svc: &VerifyService, login: &str, code: &str) -> bool {
    svc.verify(login, &format!("{PIN}{code}"))
        .unwrap()
        .is_accept()
}

fn fails(w: &World, serial: &str) -> u32 {
    w.store
        .read(|tx| Ok(tx.credential_of(serial)?.unwrap().fails))
        .unwrap()
}

/// The learnt clock offset of `serial`'s credential, in steps.
fn drift(w: &World, serial: &str) -> i64 {
    w.store
        .read(|tx| Ok(tx.credential_of(serial)?.unwrap().drift))
        .unwrap()
}

#[test]
fn hotp_counter_run_away_is_resynchronised_with_two_codes() {
    let w = school_day();
    let d = w.active_hotp("adurand", "VT-H", PIN);
    let svc = w.store.verify_service().unwrap();
    // The button was pressed 50 times in a pocket: beyond the look-ahead.
    assert!(!accepts(&svc, "adurand", &d.hotp(51)));
    // Only the desk resyncs; one code is not enough, two consecutive are.
    assert!(matches!(
        w.store
            .write(&Actor::Holder(pid("adurand")), "resync", |tx| tx.resync(
                "VT-H",
                &d.hotp(52),
                &d.hotp(53)
            )),
        Err(StoreError::Forbidden { .. })
    ));
    assert!(matches!(
        w.store.write(&desk(), "resync", |tx| tx.resync(
            "VT-H",
            &d.hotp(52),
            &d.hotp(54)
        )),
        Err(StoreError::PossessionCheckFailed)
    ));
    w.store
        .write(&desk(), "resync", |tx| {
            tx.resync("VT-H", &d.hotp(52), &d.hotp(53))
        })
        .unwrap();
    assert!(!accepts(&svc, "adurand", &d.hotp(53)));
    assert!(accepts(&svc, "adurand", &d.hotp(54)));
}

/// A token whose counters 1 and 2 show the same six digits (755757): the
/// code accepted at 1 is refused when sent again, though step 2 shows it.
#[test]
fn a_code_accepted_once_is_refused_even_when_the_next_counter_repeats_it() {
    let w = school_day();
    let secret =
        keyward::otp::Secret::from_hex("9b38b5ff381f6d8967ee1d94efe29cff54e0f0a9").unwrap();
    let d = w.activate_hotp("adurand", Device::with_secret("VT-R", secret), PIN);
    assert_eq!(d.hotp(1), d.hotp(2));
    let svc = w.store.verify_service().unwrap();
    assert!(accepts(&svc, "adurand", &d.hotp(1)));
    assert!(!accepts(&svc, "adurand", &d.hotp(2)));
    assert!(accepts(&svc, "adurand", &d.hotp(3)));
}

#[test]
fn totp_drift_is_learnt_within_its_bound() {
    let w = school_day();
    appointed(&w, "bleroy");
    let d = w.active_totp("adurand", "VT-T", PIN);
    let svc = w.store.verify_service().unwrap();
    // Months later, the token's clock is 3 steps (90 s) slow.
    w.clock.advance(90 * 86_400);
    let slow = |w: &World, steps: u64| {
        keyward::otp::Totp::new(Digits::SIX, keyward::otp::Period::DEFAULT)
            .code_at_time(&d.key, w.now() - 30 * steps)
            .unwrap()
            .to_string()
    };
    assert!(!accepts(&svc, "adurand", &slow(&w, 3)));
    let (a, b) = (slow(&w, 4), slow(&w, 3));
    w.store
        .write(&desk(), "resync", |tx| tx.resync("VT-T", &a, &b))
        .unwrap();
    assert_eq!(drift(&w, "VT-T"), -3);
    w.next_step();
    assert!(accepts(&svc, "adurand", &slow(&w, 3)));
    w.next_step();
    w.next_step();
    // The token keeps drifting a little: followed, within the bound.
    assert!(accepts(&svc, "adurand", &slow(&w, 4)));
    assert_eq!(drift(&w, "VT-T"), -4);
    // A clock 10 steps off is beyond the bound: resync refuses it.
    let e = w.active_totp("bleroy", "VT-U", PIN);
    w.clock.advance(90 * 86_400);
    let far =
        |w: &World, steps: u64| code_at(&e.key, w.now() / 30 - steps, Digits::SIX).to_string();
    let (a, b) = (far(&w, 11), far(&w, 10));
    let err = w
        .store
        .write(&desk(), "resync", |tx| tx.resync("VT-U", &a, &b))
        .unwrap_err();
    assert!(err.to_string().contains("drift"), "{err}");
}

#[test]
fn malformed_passcodes_and_unknown_logins_answer_like_any_reject() {
    let (w, d, svc) = adurand_with_a_key();
    let reject = VerifyOutcome::Reject { hold: None };
    for bad in [
        "",
        "12345",
        "73051912345",
        "730519abcdef",
        "7305191234567890",
    ] {
        assert_eq!(svc.verify("adurand", bad).unwrap(), reject, "{bad:?}");
    }
    assert_eq!(fails(&w, "VT-A"), 0, "a malformed passcode is not a guess");
    assert!(w.last_audit("verify.reject").contains("malformed passcode"));
    // Unknown or invalid logins: the same answer as a wrong PIN.
    assert_eq!(
        svc.verify("nobody", &format!("{PIN}123456")).unwrap(),
        reject
    );
    assert_eq!(
        svc.verify("not a login!", &format!("{PIN}123456")).unwrap(),
        reject
    );
    assert_eq!(
        svc.verify("adurand", &format!("820631{}", d.code(w.now())))
            .unwrap(),
        reject
    );
    assert_eq!(fails(&w, "VT-A"), 1);
    // A handed-over key that was never activated does not log in.
    appointed(&w, "bleroy");
    let e = Device::new("VT-B");
    w.prepare(&e, "bleroy");
    w.store
        .write(&inspector_east(), "handover", |tx| {
            tx.handover("VT-B", "office", &e.code(w.now()))
        })
        .unwrap();
    w.next_step();
    assert_eq!(
        svc.verify("bleroy", &format!("{PIN}{}", e.code(w.now())))
            .unwrap(),
        reject
    );
    assert!(w.last_audit("verify.reject").contains("token not active"));
}

#[test]
fn one_source_cannot_lock_everybody_out() {
    use keyward::store::verify::VerifyRequest;
    let (w, d, svc) = adurand_with_a_key();
    let attacker = |login: &str| {
        svc.submit(VerifyRequest::new(login, "820631123456").from_source("203.0.113.66"))
            .unwrap()
            .wait()
            .unwrap()
    };
    for i in 0..50 {
        attacker(&format!("user{i}"));
    }
    // Over budget: refused unevaluated, the victim's counters untouched.
    for _ in 0..10 {
        assert!(matches!(
            attacker("adurand"),
            VerifyOutcome::SourceLimited { retry_after: s } if s <= 60
        ));
    }
    assert_eq!(fails(&w, "VT-A"), 0);
    assert!(w
        .last_audit("verify.reject")
        .contains("too many failures from this source"));
    // The holder, from elsewhere, logs in.
    let answer = svc
        .submit(
            VerifyRequest::new("adurand", &format!("{PIN}{}", d.code(w.now())))
                .from_source("198.51.100.7"),
        )
        .unwrap()
        .wait()
        .unwrap();
    assert!(answer.is_accept());
}

#[test]
fn a_corrupt_record_refuses_only_its_own_request() {
    use keyward::store::verify::VerifyRequest;
    let w = school_day();
    appointed(&w, "bleroy");
    let a = Device::new("VT-A");
    let b = Device::new("VT-B");
    w.prepare(&a, "adurand");
    w.prepare(&b, "bleroy");
    w.hand_over_and_activate(&a, "adurand", &inspector_east(), PIN);
    w.store
        .write(&inspector_east(), "handover", |tx| {
            tx.handover("VT-B", "office", &b.code(w.now() - 30))
        })
        .unwrap();
    w.store
        .write(&Actor::Holder(pid("bleroy")), "activate", |tx| {
            tx.activate("VT-B", PIN)
        })
        .unwrap();
    let conn = rusqlite::Connection::open(w.store.db_path()).unwrap();
    conn.execute(
        "UPDATE credentials SET algorithm = 'MD5' WHERE token = 'VT-A'",
        [],
    )
    .unwrap();
    let svc = w.store.verify_service().unwrap();
    let broken = svc
        .submit(VerifyRequest::new(
            "adurand",
            &format!("{PIN}{}", a.code(w.now())),
        ))
        .unwrap();
    let fine = svc
        .submit(VerifyRequest::new(
            "bleroy",
            &format!("{PIN}{}", b.code(w.now())),
        ))
        .unwrap();
    assert!(!broken.wait().unwrap().is_accept());
    assert!(fine.wait().unwrap().is_accept());
    let conn = rusqlite::Connection::open(w.store.db_path()).unwrap();
    let errors: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM audit WHERE detail LIKE 'reason=store error: stored data is corrupt: bad algorithm'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(errors, 1);
}

#[test]
fn rights_and_return_dates_follow_the_authority_s_midnight() {
    let mut config = Config::new(DOMAIN);
    config.time_zone = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
    let w = world_with(at("2027-07-01", 8), config);
    w.appoint("adurand", SCHOOL_EAST, "2026-09-01", Some("2027-07-04"));
    let d = w.active_totp("adurand", "VT-Z", PIN);
    let svc = w.store.verify_service().unwrap();
    let in_force = || {
        w.store
            .read(|tx| tx.rights_in_force(&pid("adurand")))
            .unwrap()
            .len()
    };
    // 23:30 in Paris (UTC+2) on the last day is 21:30 UTC the same day.
    w.clock.set(at("2027-07-04", 21) + 1800);
    assert_eq!(in_force(), 1);
    let outcome = svc.verify("adurand", &format!("{PIN}{}", d.code(w.now())));
    assert!(
        matches!(&outcome, Ok(VerifyOutcome::Accept { rights }) if rights.len() == 1),
        "{outcome:?}"
    );
    // 00:30 in Paris on 5 July is still 4 July in UTC: the right has ended.
    w.clock.set(at("2027-07-04", 22) + 1800);
    assert_eq!(in_force(), 0);
    assert!(!svc
        .verify("adurand", &format!("{PIN}{}", d.code(w.now())))
        .unwrap()
        .is_accept());
    // The key is due back on 7 July: overdue from midnight in Paris.
    let overdue = || w.store.read(|tx| tx.overdue_returns()).unwrap();
    w.clock.set(at("2027-07-07", 21) + 1800);
    assert!(overdue().is_empty());
    w.clock.set(at("2027-07-07", 22) + 1800);
    assert_eq!(overdue()["D-EST"][0].days_late, 1);
}

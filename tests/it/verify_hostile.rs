//! Verify against hostile callers: a made-up login cannot be told from a
//! real one even after a flood of other made-up logins (issue 11, point 4),
//! and a spray cannot choose how much audit it writes (point 7).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::world;

use keyward::store::verify::{Pending, VerifyOutcome, VerifyRequest};
use world::*;

const PIN: &str = "730519";
const WRONG: &str = "820631123456";

/// Three failures on a real login and on a made-up one, 101,000 other
/// made-up logins failing once each, then one more failure on both: both
/// are held alike. Before the phantom table, the flood cleared the made-up
/// login's counters (the map was emptied at 100,000 entries): it answered at
/// once while the real one was held 2 s.
#[test]
fn a_flood_of_made_up_logins_does_not_reset_a_phantom_s_counters() {
    let w = world(at("2026-11-02", 8));
    w.appoint("adurand", SCHOOL_EAST, "2025-09-01", None);
    let _d = w.active_totp("adurand", "VT-A", PIN);
    let svc = w.store.verify_service().unwrap();
    let ghost = "gmartin";
    let both = |expected: VerifyOutcome| {
        for login in ["adurand", ghost] {
            assert_eq!(svc.verify(login, WRONG).unwrap(), expected, "{login}");
        }
    };
    both(VerifyOutcome::Reject { hold: None });
    both(VerifyOutcome::Reject { hold: None });
    both(VerifyOutcome::Reject { hold: Some(1) });

    // Made-up logins that share the ghost's slot would only make it
    // stricter (shared counters); they are left out so the answer is exact.
    let slot = w.store.phantom_slot(ghost);
    let flood: Vec<String> = (0..)
        .map(|i| format!("made-up-{i}"))
        .filter(|l| w.store.phantom_slot(l) != slot)
        .take(101_000)
        .collect();
    let pending: Vec<Pending> = flood
        .iter()
        .map(|l| svc.submit(VerifyRequest::new(l, WRONG)).unwrap())
        .collect();
    for p in pending {
        assert!(matches!(p.wait().unwrap(), VerifyOutcome::Reject { .. }));
    }

    w.clock.advance(2);
    both(VerifyOutcome::Reject { hold: Some(2) });
    w.clock.advance(3);
    both(VerifyOutcome::Reject { hold: Some(4) });
    w.assert_audit_intact();
}

fn audit_rows(w: &World, action: &str) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(w.store.db_path()).unwrap();
    let mut stmt = conn
        .prepare("SELECT subject, detail FROM audit WHERE action = ?1 ORDER BY seq")
        .unwrap();
    stmt.query_map([action], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Locks `login` by ten failures, each after its delay.
fn lock(w: &World, svc: &keyward::store::verify::VerifyService, login: &str) {
    for _ in 0..10 {
        if let VerifyOutcome::Reject { hold: Some(h) } = svc.verify(login, WRONG).unwrap() {
            w.clock.advance(h);
        }
    }
}

fn spray(svc: &keyward::store::verify::VerifyService, login: &str, n: usize) {
    let pending: Vec<Pending> = (0..n)
        .map(|_| svc.submit(VerifyRequest::new(login, WRONG)).unwrap())
        .collect();
    for p in pending {
        assert!(!p.wait().unwrap().is_accept());
    }
}

/// 2,000 refusals of a locked login and 2,000 of a made-up one in the same
/// second: a handful of entries, then one per kind with its count when the
/// service stops. Every lock is an entry of its own; the chain stays
/// intact. Before, each refusal was an entry (4,000 of them).
#[test]
fn a_spray_writes_a_few_entries_per_login_and_minute() {
    let w = world(at("2026-11-02", 8));
    w.appoint("adurand", SCHOOL_EAST, "2025-09-01", None);
    let _d = w.active_totp("adurand", "VT-A", PIN);
    let svc = w.store.verify_service().unwrap();
    lock(&w, &svc, "adurand");
    let rejects = || audit_rows(&w, "verify.reject");
    let locks = rejects()
        .iter()
        .filter(|(s, d)| s == "adurand" && d.contains("locked=now"))
        .count();
    assert_eq!(locks, 1);
    w.clock.advance(60);
    let before = rejects().len();
    spray(&svc, "adurand", 2000);
    spray(&svc, "gmartin", 2000);
    let written = rejects().len() - before;
    // adurand: locked; gmartin: unknown login, then attempts before the delay.
    assert_eq!(written, 3, "{:?}", &rejects()[before..]);
    drop(svc);
    let repeated = audit_rows(&w, "verify.reject.repeated");
    let count = |login: &str, reason: &str| -> usize {
        repeated
            .iter()
            .filter(|(s, d)| s == login && d.contains(reason))
            .map(|(_, d)| {
                let n = d.split_once("repeated=").unwrap().1;
                n.split(' ').next().unwrap().parse::<usize>().unwrap()
            })
            .sum()
    };
    assert_eq!(count("adurand", "locked"), 1999, "{repeated:?}");
    assert_eq!(count("gmartin", "reason="), 1998, "{repeated:?}");
    w.assert_audit_intact();
}

/// `/metrics` shows the room left on the data directory's disk (the verify
/// service refuses to start when it is nearly full: `store::disk`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_the_room_left_on_the_disk() {
    let api = crate::support::api::api();
    api.assert_metrics(&[
        "# TYPE keyward_disk_available_bytes gauge\nkeyward_disk_available_bytes ",
        "# TYPE keyward_disk_total_bytes gauge\nkeyward_disk_total_bytes ",
    ])
    .await;
}

/// An unknown login does the work of a known one on a real holder's records
/// (a decoy, `store::verify::decide`): the decoy's own PIN and current code,
/// sent under a made-up login, are refused as an unknown login, leave the
/// decoy's counters and step untouched, and the decoy then logs in with
/// that very code.
#[test]
fn a_decoy_s_passcode_under_a_made_up_login_is_refused_and_changes_nothing() {
    let w = world(at("2026-11-02", 8));
    w.appoint("adurand", SCHOOL_EAST, "2025-09-01", None);
    let device = w.active_totp("adurand", "VT-A", PIN);
    // Started after the holder exists: adurand is the only decoy.
    let svc = w.store.verify_service().unwrap();
    w.next_step();
    let passcode = format!("{PIN}{}", device.code(w.now()));
    for ghost in ["gmartin", "nobody", "x"] {
        assert_eq!(
            svc.verify(ghost, &passcode).unwrap(),
            VerifyOutcome::Reject { hold: None },
            "{ghost}"
        );
        assert!(w
            .last_audit("verify.reject")
            .contains("reason=unknown login"));
    }
    assert!(svc.verify("adurand", &passcode).unwrap().is_accept());
}

/// Every kind of refusal is handed over no sooner than the refusal floor
/// after it was submitted; an accept is not held. Before the floor, a
/// refusal was answered as soon as it was committed (well under a
/// millisecond apart from one kind to another, which is what a timing
/// attacker measures).
#[test]
fn refusals_are_answered_no_sooner_than_the_floor_and_accepts_at_once() {
    use std::time::{Duration, Instant};
    let floor = Duration::from_millis(400);
    let mut config = keyward::store::Config::new(DOMAIN);
    config.refusal_floor = floor;
    let w = world_with(at("2026-11-02", 8), config);
    w.appoint("adurand", SCHOOL_EAST, "2025-09-01", None);
    let d = w.active_totp("adurand", "VT-A", PIN);
    w.appoint("bleroy", SCHOOL_EAST_2, "2025-09-01", None);
    let _b = w.active_totp("bleroy", "VT-B", PIN);
    let svc = w.store.verify_service().unwrap();
    lock(&w, &svc, "bleroy");
    w.next_step();
    let code = d.code(w.now());
    let wrong_code = format!("{PIN}{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    let refusals = [
        ("wrong code", "adurand", wrong_code),
        ("wrong PIN", "adurand", format!("111111{code}")),
        ("unknown login", "gmartin", format!("{PIN}{code}")),
        ("locked", "bleroy", format!("{PIN}{code}")),
        ("malformed", "adurand", "12".to_owned()),
    ];
    for (kind, login, passcode) in refusals {
        let started = Instant::now();
        let outcome = svc.verify(login, &passcode).unwrap();
        let took = started.elapsed();
        assert!(took >= floor, "{kind} answered after {took:?}");
        match outcome {
            VerifyOutcome::Reject { hold: Some(h) } => w.clock.advance(h),
            VerifyOutcome::Reject { hold: None } => {}
            other => panic!("{kind}: {other:?}"),
        }
    }
    w.next_step();
    let started = Instant::now();
    let outcome = svc
        .verify("adurand", &format!("{PIN}{}", d.code(w.now())))
        .unwrap();
    let took = started.elapsed();
    assert!(outcome.is_accept());
    assert!(took < floor, "an accept answered after {took:?}");
}

/// `refusal_floor_ms` in `keyward.toml` holds a refused `POST /v1/verify`
/// of a real daemon that long.
#[test]
fn the_daemon_holds_a_refusal_to_the_configured_floor() {
    use crate::support::serve::{serve, Served};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let admin = crate::support::cli::init(&data);
    let config = data.join("keyward.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("refusal_floor_ms = 600\n{text}")).unwrap();
    let mut served = Served::start(&mut serve(
        &data,
        &["--pcsc", "off", "--hid", "off", "--virtual-token", "off"],
    ));
    let key = crate::cli_bench::gateway_key(&served.url, admin);
    let client = keyward::client::Client::new(&served.url, Some(key));
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let outcome = client.verify("gmartin", WRONG).unwrap();
        let took = started.elapsed();
        assert_eq!(outcome, keyward::wire::verify::VerifyOutcome::Reject);
        assert!(
            took >= std::time::Duration::from_millis(600),
            "answered after {took:?}"
        );
    }
    served.stop();
}

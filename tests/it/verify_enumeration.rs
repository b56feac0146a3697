//! A made-up login cannot be told from a real one by what verify answers,
//! even after a flood of other made-up logins (issue 11, point 4).
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

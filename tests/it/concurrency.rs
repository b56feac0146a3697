//! 64 threads send the same valid passcode at once, 200 rounds: exactly one
//! accept per round, and the stored step only moves forward.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::world;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, RwLock};

use world::*;

const THREADS: usize = 64;
const ROUNDS: u64 = 200;
const PIN: &str = "730519";

/// adurand, director since 2025, with an active HOTP key VT-H.
fn director_with_hotp() -> (World, Device) {
    adurand_directing(World::active_hotp, "VT-H", PIN)
}

#[test]
fn one_accept_per_code_under_contention() {
    // Handover consumes counter 0; logins use 1..=ROUNDS.
    let (w, device) = director_with_hotp();

    let svc = Arc::new(w.store.verify_service().unwrap());
    let passcode = Arc::new(RwLock::new(String::new()));
    let start = Arc::new(Barrier::new(THREADS + 1));
    let done = Arc::new(Barrier::new(THREADS + 1));
    let accepts = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (svc, passcode, start, done, accepts, errors) = (
                svc.clone(),
                passcode.clone(),
                start.clone(),
                done.clone(),
                accepts.clone(),
                errors.clone(),
            );
            std::thread::spawn(move || {
                for _ in 0..ROUNDS {
                    start.wait();
                    let p = passcode.read().unwrap().clone();
                    match svc.verify("adurand", &p) {
                        Ok(a) if a.is_accept() => {
                            accepts.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(_) => {}
                        Err(_) => {
                            errors.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    done.wait();
                }
            })
        })
        .collect();

    let reader = rusqlite::Connection::open(w.store.db_path()).unwrap();
    let mut last_floor = 0i64;
    for round in 1..=ROUNDS {
        *passcode.write().unwrap() = format!("{PIN}{}", device.hotp(round));
        accepts.store(0, Ordering::SeqCst);
        start.wait();
        done.wait();
        assert_eq!(accepts.load(Ordering::SeqCst), 1, "round {round}");
        let floor: i64 = reader
            .query_row("SELECT floor FROM credentials WHERE live = 1", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert!(floor >= last_floor, "step went backwards in round {round}");
        assert_eq!(floor, round as i64);
        last_floor = floor;
    }
    for worker in workers {
        worker.join().unwrap();
    }
    assert_eq!(errors.load(Ordering::SeqCst), 0);
    // Replays of an accepted code are not guesses: nothing got locked.
    let (fails, locked): (i64, i64) = reader
        .query_row(
            "SELECT p.fails, p.locked FROM credentials c JOIN phantom_counters p
             ON p.slot = ?1 + c.id WHERE c.live = 1",
            [keyward::store::verify::counters_slot(0)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((fails, locked), (0, 0));
    // Repeated identical refusals of a minute are one entry with their count,
    // written when the minute ends or the service stops.
    drop(svc);
    let verifies: i64 = reader
        .query_row(
            "SELECT COUNT(*) FROM audit WHERE action IN ('verify.accept', 'verify.reject')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let repeated: i64 = {
        let mut stmt = reader
            .prepare("SELECT detail FROM audit WHERE action = 'verify.reject.repeated'")
            .unwrap();
        let details: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        details
            .iter()
            .map(|d| {
                let n = d.split_once("repeated=").unwrap().1;
                n.split(' ').next().unwrap().parse::<i64>().unwrap()
            })
            .sum()
    };
    assert_eq!(
        verifies + repeated,
        (THREADS as i64) * ROUNDS as i64,
        "every outcome audited once, or counted"
    );
    w.assert_audit_intact();
}

/// A key reported lost is dead the moment the revocation commits, even while
/// the verify writer is busy with a stream of valid logins.
#[test]
fn revocation_during_a_stream_of_logins_takes_effect_at_once() {
    use std::sync::atomic::AtomicBool;
    let (w, device) = director_with_hotp();
    let svc = Arc::new(w.store.verify_service().unwrap());
    let revoked = Arc::new(AtomicBool::new(false));
    let codes: Vec<String> = (1..=5000)
        .map(|c| format!("{PIN}{}", device.hotp(c)))
        .collect();
    // No wall-clock luck: the revocation waits until the stream has had
    // accepts, and the stream waits at its half-way point until the
    // revocation committed, so both sides of the assertion are exercised.
    let accepted_so_far = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stream = {
        let (svc, revoked, accepted_so_far) =
            (svc.clone(), revoked.clone(), accepted_so_far.clone());
        std::thread::spawn(move || {
            let (mut before, mut after_accepted, mut sent_after) = (0, 0, 0);
            let half = codes.len() / 2;
            for (i, passcode) in codes.into_iter().enumerate() {
                if i == half {
                    wait_for(|| revoked.load(Ordering::SeqCst));
                }
                let sent_after_revocation = revoked.load(Ordering::SeqCst);
                let accepted = svc.verify("adurand", &passcode).unwrap().is_accept();
                if sent_after_revocation {
                    sent_after += 1;
                    after_accepted += usize::from(accepted);
                } else {
                    before += usize::from(accepted);
                    accepted_so_far.fetch_add(usize::from(accepted), Ordering::SeqCst);
                }
            }
            (before, after_accepted, sent_after)
        })
    };
    wait_for(|| accepted_so_far.load(Ordering::SeqCst) >= 10);
    w.store
        .write(&desk(), "lost", |tx| {
            tx.revoke("VT-H", keyward::domain::RevokeReason::Lost)
        })
        .unwrap();
    revoked.store(true, Ordering::SeqCst);
    let (before, after, sent_after) = stream.join().unwrap();
    assert!(before > 0, "the stream was running before the revocation");
    assert!(sent_after > 0, "the stream went on after the revocation");
    assert_eq!(after, 0, "accepted after the revocation committed");
}

/// Waits for `done`, failing the test after a minute (a hang, not a race).
fn wait_for(done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

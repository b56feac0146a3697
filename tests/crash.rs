//! Crash safety: a child process (this test binary, re-invoked) runs verifies
//! or lifecycle changes on a real store and is killed with SIGKILL at a random
//! moment; after each kill the parent checks that the database is intact, that
//! every accept the child announced has its step on disk, and that receipts,
//! states, secrets and audit entries were committed together or not at all.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "it/support/world.rs"]
mod world;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keyward::domain::requests::HelpMail;
use keyward::domain::{Actor, Date, FixedClock, RevokeReason, RightOrigin, TokenState};
use keyward::otp::CredentialParams;
use keyward::otp::Secret;
use keyward::store::{Config, Store};
use world::*;

const RUNS: usize = 200;
const PIN: &str = "730519";
const VERIFY_HOLDER: &str = "adurand";
const CYCLE_HOLDER: &str = "bleroy";
const CYCLE_TOKEN: &str = "VT-CYCLE";
const NOW: u64 = 1_793_000_000;

/// Not a test: the child's body, run only when the parent sets the variable.
#[test]
#[ignore = "helper process for crash_at_random_points"]
fn crash_child() {
    let Ok(spec) = std::env::var("KEYWARD_CRASH_CHILD") else {
        return;
    };
    let (mode, dir) = spec.split_once(':').unwrap();
    let clock = Arc::new(FixedClock::new(NOW));
    let store = Store::open(std::path::Path::new(dir), clock, Config::new(DOMAIN)).unwrap();
    let stdout = std::io::stdout();
    let deadline = Instant::now() + Duration::from_secs(5);
    match mode {
        "verify" => {
            let device = Device {
                serial: "VT-V".into(),
                key: keyward::otp::CredentialKey::new(
                    keyward::otp::Algorithm::Sha1,
                    &Secret::from_hex(&std::env::var("KEYWARD_CRASH_SECRET").unwrap()).unwrap(),
                ),
                secret: Secret::from_hex(&std::env::var("KEYWARD_CRASH_SECRET").unwrap()).unwrap(),
            };
            let svc = store.verify_service().unwrap();
            let mut next = store
                .read(|tx| Ok(tx.credential_of("VT-V")?.unwrap().floor.unwrap()))
                .unwrap()
                + 1;
            writeln!(stdout.lock(), "READY").unwrap();
            while Instant::now() < deadline {
                // Four at once: they share a batch and a commit.
                let pending: Vec<_> = (next..next + 4)
                    .map(|c| {
                        let passcode = format!("{PIN}{}", device.hotp(c));
                        (
                            c,
                            svc.submit(keyward::store::verify::VerifyRequest::new(
                                VERIFY_HOLDER,
                                &passcode,
                            ))
                            .unwrap(),
                        )
                    })
                    .collect();
                for (counter, p) in pending {
                    if p.wait().unwrap().is_accept() {
                        let mut out = stdout.lock();
                        writeln!(out, "A {counter}").unwrap();
                        out.flush().unwrap();
                    }
                }
                next += 4;
            }
        }
        _ => {
            writeln!(stdout.lock(), "READY").unwrap();
            let mut device: Option<Device> = None;
            while Instant::now() < deadline {
                let state = store.read(|tx| Ok(tx.token(CYCLE_TOKEN)?.state)).unwrap();
                let result = match (state, &device) {
                    (TokenState::Stock, _) => {
                        let d = Device::new(CYCLE_TOKEN);
                        let r = store.write(&desk(), "prepare", |tx| {
                            tx.prepare_token(
                                CYCLE_TOKEN,
                                &pid(CYCLE_HOLDER),
                                &d.secret,
                                CredentialParams::hotp(),
                            )
                        });
                        device = Some(d);
                        r.map(|_| ())
                    }
                    // A live token whose secret died with an earlier child.
                    // The holder's help request, then the revoke: the next key
                    // is prepared against that request.
                    (s, None) if s.is_live() => store.write(&desk(), "revoke", |tx| {
                        let help = HelpMail {
                            from: mail(&format!("{CYCLE_HOLDER}@{DOMAIN}")),
                            cc: vec![mail(&format!("pmartin@{DOMAIN}"))],
                        };
                        tx.file_replacement_request(
                            &pid(CYCLE_HOLDER),
                            RevokeReason::Faulty,
                            &help,
                        )?;
                        tx.revoke(CYCLE_TOKEN, RevokeReason::Faulty)
                    }),
                    (TokenState::Prepared, Some(d)) => store
                        .write(&desk(), "handover", |tx| {
                            tx.handover(CYCLE_TOKEN, "office", &d.hotp(0))
                        })
                        .map(|_| ()),
                    (TokenState::HandedOver, Some(_)) => {
                        store.write(&Actor::Holder(pid(CYCLE_HOLDER)), "activate", |tx| {
                            tx.activate(CYCLE_TOKEN, PIN)
                        })
                    }
                    (TokenState::Active, Some(d)) => store
                        .write(&desk(), "return", |tx| {
                            tx.return_token(CYCLE_TOKEN, "office", "cycle", &d.hotp(1))
                        })
                        .map(|_| ()),
                    (TokenState::Returned | TokenState::Revoked, _) => {
                        device = None;
                        store.write(&desk(), "receive", |tx| {
                            tx.receive_at_it_centre(CYCLE_TOKEN)
                        })
                    }
                    (TokenState::Wiped, _) => {
                        store.write(&desk(), "restock", |tx| tx.restock(CYCLE_TOKEN))
                    }
                    (s, d) => panic!("unexpected {s} with device {}", d.is_some()),
                };
                result.unwrap();
            }
        }
    }
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn floor_of(conn: &rusqlite::Connection) -> u64 {
    conn.query_row(
        "SELECT floor FROM credentials WHERE token = 'VT-V' AND live = 1",
        [],
        |r| r.get::<_, i64>(0),
    )
    .unwrap() as u64
}

fn count(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Receipts, states, secrets and audit entries agree.
fn check_lifecycle_invariants(conn: &rusqlite::Connection) {
    for kind in ["handover", "return"] {
        let receipts = count(
            conn,
            &format!(
                "SELECT COUNT(*) FROM receipts WHERE token = '{CYCLE_TOKEN}' AND kind = '{kind}'"
            ),
        );
        let audited = count(
            conn,
            &format!("SELECT COUNT(*) FROM audit WHERE subject = '{CYCLE_TOKEN}' AND action = 'token.{kind}'"),
        );
        assert_eq!(receipts, audited, "{kind} receipts vs audit entries");
    }
    let state: String = conn
        .query_row(
            "SELECT state FROM tokens WHERE serial = ?1",
            [CYCLE_TOKEN],
            |r| r.get(0),
        )
        .unwrap();
    let state = TokenState::parse(&state).unwrap();
    let live_credentials = count(
        conn,
        &format!("SELECT COUNT(*) FROM credentials WHERE token = '{CYCLE_TOKEN}' AND live = 1"),
    );
    let secrets = count(
        conn,
        &format!(
            "SELECT COUNT(*) FROM sealed_secrets s JOIN credentials c ON c.id = s.credential
             WHERE c.token = '{CYCLE_TOKEN}'"
        ),
    );
    let expected = i64::from(state.is_live());
    assert_eq!(
        (live_credentials, secrets),
        (expected, expected),
        "secret vs state {state}"
    );
    let last_receipt: Option<String> = conn
        .query_row(
            "SELECT kind FROM receipts WHERE token = ?1 ORDER BY id DESC LIMIT 1",
            [CYCLE_TOKEN],
            |r| r.get(0),
        )
        .ok();
    match state {
        TokenState::HandedOver | TokenState::Active => {
            assert_eq!(
                last_receipt.as_deref(),
                Some("handover"),
                "{state} without its receipt"
            )
        }
        TokenState::Returned => assert_eq!(last_receipt.as_deref(), Some("return")),
        _ => {}
    }
}

#[test]
fn crash_at_random_points() {
    let w = world(NOW);
    let verify_device = Device::new("VT-V");
    w.store
        .write(&desk(), "setup", |tx| {
            // One appointed director per school.
            for (holder, school) in [(VERIFY_HOLDER, SCHOOL_EAST), (CYCLE_HOLDER, SCHOOL_EAST_2)] {
                tx.grant_right(
                    RightOrigin::Appointment,
                    &pid(holder),
                    &uai(school),
                    Date::parse("2025-09-01").unwrap(),
                    None,
                )?;
            }
            tx.add_token("VT-V", "virtual")?;
            tx.prepare_token(
                "VT-V",
                &pid(VERIFY_HOLDER),
                &verify_device.secret,
                CredentialParams::hotp(),
            )?;
            tx.handover("VT-V", "office", &verify_device.hotp(0))?;
            tx.add_token(CYCLE_TOKEN, "virtual")
        })
        .unwrap();
    w.store
        .write(&Actor::Holder(pid(VERIFY_HOLDER)), "activate", |tx| {
            tx.activate("VT-V", PIN)
        })
        .unwrap();
    let dir = w.dir.path().join("data");
    let secret_hex = data_encoding::HEXLOWER.encode(verify_device.secret.expose());
    drop(w.store);

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut last_floor = 0;
    let mut accepts_seen = 0;
    for run in 0..RUNS {
        let mode = if run % 2 == 0 { "verify" } else { "lifecycle" };
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "crash_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("KEYWARD_CRASH_CHILD", format!("{mode}:{}", dir.display()))
            .env("KEYWARD_CRASH_SECRET", &secret_hex)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        loop {
            match lines.next() {
                // libtest prints "test crash_child ... " without a newline first.
                Some(Ok(line)) if line.ends_with("READY") => break,
                Some(Ok(_)) => continue,
                other => panic!("child {run} ({mode}) died before READY: {other:?} (seed {seed})"),
            }
        }
        // A key cycle is up to six writes in one lifecycle child's life
        // (receive, restock, prepare, hand over, activate, return): those
        // children live up to 50 ms, verify children up to 25 ms.
        let window = if mode == "lifecycle" { 50_000 } else { 25_000 };
        std::thread::sleep(Duration::from_micros(rng.below(window)));
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        // Killed by us, not dead of its own failure.
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9),
            "child {run} ({mode}) exited by itself: {status} (seed {seed})"
        );
        let announced: Vec<u64> = lines
            .map_while(Result::ok)
            .filter_map(|l| l.strip_prefix("A ").map(|n| n.parse().unwrap()))
            .collect();

        let conn = rusqlite::Connection::open(dir.join("keyward.db")).unwrap();
        let integrity: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(integrity, "ok", "run {run} (seed {seed})");
        let floor = floor_of(&conn);
        if let Some(&max) = announced.iter().max() {
            assert!(
                floor >= max,
                "run {run}: accept of step {max} announced, floor {floor} on disk (seed {seed})"
            );
        }
        assert!(floor >= last_floor, "run {run}: step went backwards");
        last_floor = floor;
        accepts_seen += announced.len();
        check_lifecycle_invariants(&conn);
        drop(conn);
        assert!(
            keyward::store::verify_audit_at(&dir, &[]).unwrap().is_ok(),
            "run {run}: audit chain broken (seed {seed})"
        );
    }
    assert!(
        accepts_seen > 0,
        "the children never got to accept anything"
    );
    let conn = rusqlite::Connection::open(dir.join("keyward.db")).unwrap();
    let cycles = count(&conn, "SELECT COUNT(*) FROM receipts WHERE kind = 'return'");
    assert!(cycles > 0, "the lifecycle children never completed a cycle");
    eprintln!(
        "{RUNS} crashes in {:?}, {accepts_seen} accepts announced, final step {last_floor}, {cycles} key cycles",
        started.elapsed()
    );
}

//! Verifies per second through the store, every decision durable (on disk
//! before it is answered), 50% valid / 50% wrong passcodes over 10,000 HOTP
//! credentials.
//!
//! `cargo bench --bench store_verify` runs:
//! - closed loop with 1 and 2 client threads, each keeping `INFLIGHT`
//!   requests in flight (as a gateway with many connections does): verifies/s
//!   and p50/p99 latency from submit to durable answer, with the commit
//!   syncing (`SyncMode::Inline`) and with the WAL synced beside the writer
//!   (`SyncMode::Pipelined`, the default), side by side;
//! - an open loop at a fixed rate (default 15,000/s, half the target) for the
//!   p99 decision latency at that rate.
//!
//! All decisions go through the single group-commit writer; "threads" are the
//! client threads feeding it. Environment: KEYWARD_BENCH_CREDENTIALS (10000),
//! KEYWARD_BENCH_REQUESTS (200000 per run), KEYWARD_BENCH_RATE (15000),
//! KEYWARD_BENCH_ONLY (closed | open | spray), KEYWARD_BENCH_SPRAY_SECONDS (60),
//! KEYWARD_BENCH_DIR (a directory on the disk to measure; default: temp).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use keyward::domain::{Actor, Date, MailAddress, PersonId, RightOrigin, Uai};
use keyward::otp::CredentialParams;
use keyward::otp::{code_at, Algorithm, CredentialKey, Digits, Secret};
use keyward::store::verify::{SyncMode, VerifyRequest, VerifyService};
use keyward::store::{Config, Store, SystemClock};

const PIN: &str = "730519";
const WRONG_PIN: &str = "730518";
const INFLIGHT: usize = 128;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    keys: Vec<CredentialKey>,
    /// Next unused HOTP counter per credential.
    next: Vec<u64>,
}

fn login(i: usize) -> String {
    format!("holder{i:05}")
}

fn setup(credentials: usize) -> Fixture {
    let dir = match std::env::var("KEYWARD_BENCH_DIR") {
        Ok(base) => tempfile::tempdir_in(base).unwrap(),
        Err(_) => tempfile::tempdir().unwrap(),
    };
    let store = Store::init(
        &dir.path().join("data"),
        Arc::new(SystemClock),
        Config::new("ac-exemple.fr"),
    )
    .unwrap();
    let desk_person = PersonId::parse("desk").unwrap();
    let desk = Actor::Desk(desk_person.clone());
    let started = Instant::now();
    let mut keys = Vec::with_capacity(credentials);
    store
        .write(&desk, "bench setup", |tx| {
            tx.add_person(
                &desk_person,
                "Desk",
                &MailAddress::parse("desk@ac-exemple.fr").unwrap(),
            )?;
            let inspector = PersonId::parse("inspector").unwrap();
            tx.add_person(
                &inspector,
                "Inspector",
                &MailAddress::parse("inspector@ac-exemple.fr").unwrap(),
            )?;
            tx.add_district("D", "District", &inspector)?;
            let school = Uai::parse("0751710B").unwrap();
            tx.add_school(&school, "School", "D")?;
            for i in 0..credentials {
                let id = PersonId::parse(&login(i)).unwrap();
                let serial = format!("VT-{i:05}");
                let secret = Secret::generate(Algorithm::Sha1).unwrap();
                let key = CredentialKey::new(Algorithm::Sha1, &secret);
                tx.act_as(desk.clone());
                tx.add_person(
                    &id,
                    "Holder",
                    &MailAddress::parse(&format!("{}@ac-exemple.fr", login(i))).unwrap(),
                )?;
                // Deputies of the school (one appointed director per school).
                tx.act_as(Actor::Inspector(inspector.clone()));
                tx.grant_right(
                    RightOrigin::Delegation,
                    &id,
                    &school,
                    Date::parse("2020-09-01").unwrap(),
                    None,
                )?;
                tx.act_as(desk.clone());
                tx.add_token(&serial, "virtual")?;
                tx.prepare_token(&serial, &id, &secret, CredentialParams::hotp())?;
                tx.handover(&serial, "bench", &code_at(&key, 0, Digits::SIX).to_string())?;
                tx.act_as(Actor::Holder(id));
                tx.activate(&serial, PIN)?;
                keys.push(key);
            }
            Ok(())
        })
        .unwrap();
    store.checkpoint().unwrap();
    eprintln!(
        "setup: {credentials} credentials in {:.1?}",
        started.elapsed()
    );
    Fixture {
        _dir: dir,
        store,
        keys,
        next: vec![1; credentials],
    }
}

/// Requests for one client thread: credentials `i ≡ thread (mod threads)`,
/// round-robin; each credential alternates valid and wrong attempts, so
/// failures never pile up into delays or lockouts.
fn workload(
    f: &mut Fixture,
    threads: usize,
    thread: usize,
    count: usize,
    round: &mut usize,
) -> Vec<(String, String, bool)> {
    let n = f.keys.len();
    let mine: Vec<usize> = (0..n).filter(|i| i % threads == thread).collect();
    let mut out = Vec::with_capacity(count);
    for k in 0..count {
        let i = mine[k % mine.len()];
        let valid = (*round + k / mine.len()) % 2 == 0;
        let passcode = if valid {
            let mut c = f.next[i];
            // About once in 10^6 a key's next code shows the same digits as
            // the one just accepted: the policy refuses it as already used,
            // and a holder presses again; so does the bench.
            let shows = |c: u64| code_at(&f.keys[i], c, Digits::SIX);
            if c > 0 && shows(c) == shows(c - 1) {
                c += 1;
            }
            f.next[i] = c + 1;
            format!("{PIN}{}", shows(c))
        } else if k % 4 == 1 {
            // Wrong PIN, right next code (not consumed: it stays valid).
            format!("{WRONG_PIN}{}", code_at(&f.keys[i], f.next[i], Digits::SIX))
        } else {
            // A code outside the whole look-ahead window, so it cannot match
            // by chance (a random guess would, 1 time in 100,000).
            // (and not the last accepted one, which would count as a replay).
            let window: Vec<String> = (f.next[i] - 1..f.next[i] + 10)
                .map(|c| code_at(&f.keys[i], c, Digits::SIX).to_string())
                .collect();
            let mut guess = (k * 7919) % 1_000_000;
            while window.contains(&format!("{guess:06}")) {
                guess = (guess + 1) % 1_000_000;
            }
            format!("{PIN}{guess:06}")
        };
        out.push((login(i), passcode, valid));
    }
    *round += count / mine.len() + 1;
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

struct Outcome {
    latencies: Vec<Duration>,
    accepted: usize,
    expected: usize,
}

/// Closed loop: keeps INFLIGHT requests queued, waits for the oldest.
fn client(svc: &VerifyService, work: Vec<(String, String, bool)>) -> Outcome {
    let mut pending = std::collections::VecDeque::with_capacity(INFLIGHT);
    let mut latencies = Vec::with_capacity(work.len());
    let (mut accepted, mut expected) = (0, 0);
    let mut finish = |p: (Instant, bool, keyward::store::verify::Pending),
                      lat: &mut Vec<Duration>| {
        let (sent, valid, p) = p;
        let answer = p.wait().unwrap();
        lat.push(sent.elapsed());
        accepted += usize::from(answer.is_accept());
        expected += usize::from(valid);
    };
    for (login, passcode, valid) in work {
        if pending.len() == INFLIGHT {
            finish(pending.pop_front().unwrap(), &mut latencies);
        }
        let sent = Instant::now();
        pending.push_back((
            sent,
            valid,
            svc.submit(VerifyRequest::new(&login, &passcode)).unwrap(),
        ));
    }
    while let Some(p) = pending.pop_front() {
        finish(p, &mut latencies);
    }
    Outcome {
        latencies,
        accepted,
        expected,
    }
}

/// Prints a run's figures; its verifies per second.
fn report(label: &str, elapsed: Duration, outcomes: Vec<Outcome>) -> f64 {
    let mut latencies: Vec<Duration> = outcomes
        .iter()
        .flat_map(|o| o.latencies.iter().copied())
        .collect();
    let accepted: usize = outcomes.iter().map(|o| o.accepted).sum();
    let expected: usize = outcomes.iter().map(|o| o.expected).sum();
    latencies.sort();
    let n = latencies.len();
    println!(
        "{label}: {n} verifies in {:.2?} = {:.0} verifies/s; latency p50 {:.2?} p99 {:.2?}; accepted {accepted} of {expected} valid",
        elapsed,
        n as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
    );
    assert_eq!(
        accepted, expected,
        "every valid passcode, and only those, accepted"
    );
    n as f64 / elapsed.as_secs_f64()
}

/// Median latency of a 4 KiB write and `fdatasync` beside the store.
fn fsync_median_us(f: &Fixture) -> f64 {
    use std::os::unix::fs::FileExt as _;
    let path = f.store.db_path().with_file_name("fsync-probe");
    let file = std::fs::File::create(&path).unwrap();
    let mut times: Vec<f64> = (0..200u64)
        .map(|i| {
            let started = Instant::now();
            file.write_all_at(&[0x5a; 4096], (i % 16) * 4096).unwrap();
            file.sync_data().unwrap();
            started.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    let _ = std::fs::remove_file(&path);
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Why requests were rejected, from the audit (the only place reasons go).
fn diagnose(f: &Fixture) {
    let conn = rusqlite::Connection::open(f.store.db_path()).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT substr(detail, 1, instr(detail || ' failures', ' failures') - 1), COUNT(*)
             FROM audit WHERE action = 'verify.reject' GROUP BY 1",
        )
        .unwrap();
    let rows: Vec<(String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    eprintln!("rejects so far by reason: {rows:?}");
}

fn closed_loop(
    f: &mut Fixture,
    mode: SyncMode,
    threads: usize,
    requests: usize,
    round: &mut usize,
) -> f64 {
    let svc = Arc::new(f.store.verify_service_syncing(mode).unwrap());
    let works: Vec<_> = (0..threads)
        .map(|t| workload(f, threads, t, requests / threads, round))
        .collect();
    let started = Instant::now();
    let handles: Vec<_> = works
        .into_iter()
        .map(|work| {
            let svc = svc.clone();
            std::thread::spawn(move || client(&svc, work))
        })
        .collect();
    let outcomes: Vec<Outcome> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let elapsed = started.elapsed();
    println!("writer:\n{}", svc.stats().report());
    drop(svc);
    diagnose(f);
    report(
        &format!("closed loop, {mode:?}, {threads} client thread(s), {INFLIGHT} in flight each"),
        elapsed,
        outcomes,
    )
}

fn open_loop(f: &mut Fixture, rate: u64, requests: usize, round: &mut usize) {
    let svc = Arc::new(f.store.verify_service().unwrap());
    let work = workload(f, 1, 0, requests, round);
    let (tx, rx) = std::sync::mpsc::channel();
    let collector = std::thread::spawn(move || {
        let mut outcome = Outcome {
            latencies: Vec::new(),
            accepted: 0,
            expected: 0,
        };
        for (scheduled, valid, p) in rx {
            let p: keyward::store::verify::Pending = p;
            let answer = p.wait().unwrap();
            outcome
                .latencies
                .push(Instant::now().duration_since(scheduled));
            outcome.accepted += usize::from(answer.is_accept());
            outcome.expected += usize::from(valid);
        }
        outcome
    });
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let started = Instant::now();
    for (k, (login, passcode, valid)) in work.into_iter().enumerate() {
        let scheduled = started + interval * k as u32;
        // Sleep most of the gap (the machine has 2 cores: a spinning client
        // would steal the writer's), spin the last stretch.
        let now = Instant::now();
        if scheduled > now + Duration::from_micros(300) {
            std::thread::sleep(scheduled - now - Duration::from_micros(200));
        }
        while Instant::now() < scheduled {
            std::hint::spin_loop();
        }
        tx.send((
            scheduled,
            valid,
            svc.submit(VerifyRequest::new(&login, &passcode)).unwrap(),
        ))
        .unwrap();
    }
    drop(tx);
    let outcome = collector.join().unwrap();
    println!("writer:\n{}", svc.stats().report());
    report(
        &format!("open loop at {rate}/s"),
        started.elapsed(),
        vec![outcome],
    );
}

fn main() {
    // `cargo test --benches` runs bench binaries with no arguments to smoke
    // them; only `cargo bench` passes --bench.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let credentials = env("KEYWARD_BENCH_CREDENTIALS", 10_000) as usize;
    let requests = env("KEYWARD_BENCH_REQUESTS", 200_000) as usize;
    let rate = env("KEYWARD_BENCH_RATE", 15_000);
    let only = std::env::var("KEYWARD_BENCH_ONLY").unwrap_or_default();
    let mut f = setup(credentials);
    let mut round = 0;
    if only.is_empty() || only == "closed" {
        for threads in [1, 2] {
            let inline = closed_loop(&mut f, SyncMode::Inline, threads, requests, &mut round);
            let piped = closed_loop(&mut f, SyncMode::Pipelined, threads, requests, &mut round);
            println!(
                "closed loop, {threads} client thread(s): pipelined / inline = {:.2}",
                piped / inline
            );
        }
        println!("fdatasync median {:.0} µs", fsync_median_us(&f));
    }
    if only.is_empty() || only == "open" {
        open_loop(&mut f, rate, (rate as usize) * 3, &mut round);
    }
    if only == "spray" {
        spray(&f, env("KEYWARD_BENCH_SPRAY_SECONDS", 60));
    }
}

/// Audit entries and bytes.
fn audit_size(f: &Fixture) -> (i64, i64) {
    let conn = rusqlite::Connection::open(f.store.db_path()).unwrap();
    conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(length(action) + length(subject) + length(detail) + length(actor) + 48), 0) FROM audit",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

/// A spray of wrong passcodes for `seconds` (issue 11, point 7): two client
/// threads, one on one holder (locked after ten failures), one on 100
/// holders in turn; how much audit it wrote. Each refusal was an entry of
/// its own before the aggregation.
fn spray(f: &Fixture, seconds: u64) {
    let svc = Arc::new(f.store.verify_service().unwrap());
    let (rows0, bytes0) = audit_size(f);
    let db0 = std::fs::metadata(f.store.db_path()).unwrap().len();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let handles: Vec<_> = [1usize, 100]
        .into_iter()
        .map(|logins| {
            let svc = svc.clone();
            std::thread::spawn(move || {
                let mut sent = 0u64;
                while Instant::now() < deadline {
                    let pending: Vec<_> = (0..INFLIGHT)
                        .map(|k| {
                            let who = login(if logins == 1 { 0 } else { 1 + k % logins });
                            svc.submit(VerifyRequest::new(&who, &format!("{WRONG_PIN}000000")))
                                .unwrap()
                        })
                        .collect();
                    for p in pending {
                        assert!(!p.wait().unwrap().is_accept());
                        sent += 1;
                    }
                }
                sent
            })
        })
        .collect();
    let sent: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    drop(svc);
    let (rows1, bytes1) = audit_size(f);
    f.store.checkpoint().unwrap();
    let db1 = std::fs::metadata(f.store.db_path()).unwrap().len();
    let per_row = (bytes1 - bytes0) as f64 / (rows1 - rows0).max(1) as f64;
    println!(
        "spray {seconds} s: {sent} refusals; audit +{} entries, +{} bytes of fields and MACs \
         (one entry per refusal would be {sent} entries, about {:.0} bytes); database file +{} bytes",
        rows1 - rows0,
        bytes1 - bytes0,
        sent as f64 * per_row,
        db1.saturating_sub(db0),
    );
}

//! dudect-style check of the whole verify service (beside `benches/ct.rs`,
//! which checks the OTP core): does the time from submit to durable answer
//! tell a wrong code from a wrong PIN, a known login from a made-up one, or
//! a locked login from an unlocked one? (issue 11, point 3; SPEC §5.)
//!
//! Four classes, interleaved at random, each request timed on its own
//! from `VerifyService::submit` to `Pending::answer` awaited on a tokio
//! runtime, as the daemon's handlers await it (queue, decision, SQL, row
//! MACs, audit, commit, the refusal floor):
//! - `wrong_code`: a known, unlocked holder, right PIN, wrong code;
//! - `wrong_pin`: the same holders, wrong PIN, the right next code;
//! - `unknown`: a login nobody holds, from a pool of half as many made-up
//!   names as there are known holders (two classes share those); like a
//!   known holder's, each name is timed twice in a row of refusals after an
//!   untimed request (a known holder's log-in, a made-up name's first try,
//!   a locked holder's one more refusal). A name's first request inserts
//!   its counters slot whether anybody holds it or not; comparing first
//!   tries with repeated ones would time that, not who the login is;
//! - `locked`: one of half as many locked holders, right PIN, wrong code.
//!
//! Between two timed requests (untimed): the clock moves on a minute (so
//! every refusal is the first of its minute, for every class alike), and a
//! holder with two failures logs in once (so nobody reaches the delay).
//! The untimed work is otherwise the same whatever the class, so that only
//! the request differs: every sample prepares the same inputs (a known
//! holder's window, a guess outside it, its right code, a random code), and
//! just before the timed request the same untimed request is made (a
//! made-up login, `settler`), so that the writer's previous request, and
//! what it left in the caches, never depends on the class. Made-up names
//! are as long as the holders' logins.
//!
//! The service holds every refusal to its refusal floor
//! (`Config::refusal_floor`; `KEYWARD_CT_FLOOR_US` microseconds here, the
//! daemon's default without it; served by `store::verify::floor`): the
//! whole request's time is what a client sees, floor included, and the
//! bench prints how many requests outlasted the floor. The writer's phases below are not held: they show what the floor
//! hides.
//!
//! Besides the whole request, the writer's own time per request is split
//! (deciding, sealing, committing: `WriterStats`) and the same t-tests are
//! printed per phase, to tell which part differs; only the whole request is
//! judged.
//!
//! The data directory is on tmpfs (`/dev/shm`, or `KEYWARD_BENCH_DIR`):
//! fsync is then near free and the comparison is of the work, not of the
//! disk's noise. Welch's t-test per pair of classes on the raw and cropped
//! timings (as in `benches/ct.rs`); |t| < 4.5 everywhere means no difference
//! was detected.
//!
//! Run: `cargo bench --bench ct_service` (1,000,000 samples in all by
//! default; `KEYWARD_CT_SAMPLES=N`, of which the first
//! `KEYWARD_CT_WARMUP`, 1,000 by default, are not timed). Exits non-zero
//! when |t| ≥ 4.5.
//!
//! `KEYWARD_CT_ORDER` fixes the order of the classes, for a run that must
//! be repeatable: `random` (the default, from a fixed seed), `cycle`
//! (wrong code, wrong PIN, unknown, locked, again and again) or a comma
//! list of class names, repeated. Only the class drawn changes: every
//! other input is drawn from the same sequence whatever the order.
//! `KEYWARD_CT_LABELS=FILE` writes one line per request asked, in order
//! (`setup`, `upkeep`, `settler` or the timed request's class), so that a
//! tool which sees the writer's batches one by one (the writer decides one
//! request per batch here) can tell whose each is:
//! `benches/ct_service_callgrind.py` counts instructions per class that
//! way.
//! `KEYWARD_CT_PURPOSE=staff_sign_in` asks every request for the console's
//! staff sign-in instead of the gateway (each holder then also has a desk
//! key): the same classes must not tell apart for that purpose either.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Instant;

use keyward::domain::{Actor, Date, FixedClock, MailAddress, PersonId, RightOrigin, Uai};
use keyward::otp::{code_at, Algorithm, CredentialKey, CredentialParams, Digits, Secret};
use keyward::store::verify::{Pending, VerifyOutcome, VerifyPurpose, VerifyRequest, VerifyService};
use keyward::store::{Config, Store};

const PIN: &str = "730519";
const WRONG_PIN: &str = "820631";
const KNOWN: usize = 32;
/// Locked holders, and made-up names in use at a time: half as many as
/// known holders, whom two classes share, so that every subject is asked
/// as often whatever its class (how recently a subject's rows were
/// touched shows in the time, whoever it is).
const LOCKED: usize = KNOWN / 2;
const GHOSTS: usize = KNOWN / 2;
const CLASSES: [&str; 4] = ["wrong_code", "wrong_pin", "unknown", "locked"];
/// 2 November 2026, 08:00 UTC.
const START: u64 = 1_793_606_400;

#[path = "support/welch.rs"]
mod welch;
use welch::{Rng, Welch};

fn login(i: usize) -> String {
    format!("holder{i:03}")
}

fn purpose() -> VerifyPurpose {
    match std::env::var("KEYWARD_CT_PURPOSE").as_deref() {
        Ok("staff_sign_in") => VerifyPurpose::StaffSignIn,
        _ => VerifyPurpose::Gateway,
    }
}

/// The class of each sample, in order (`KEYWARD_CT_ORDER`); `None` for
/// the random draw.
fn fixed_order() -> Option<Vec<usize>> {
    let order = std::env::var("KEYWARD_CT_ORDER").ok()?;
    match order.as_str() {
        "" | "random" => None,
        "cycle" => Some((0..CLASSES.len()).collect()),
        list => Some(
            list.split(',')
                .map(|name| {
                    CLASSES
                        .iter()
                        .position(|c| *c == name.trim())
                        .unwrap_or_else(|| panic!("KEYWARD_CT_ORDER: no class {name:?}"))
                })
                .collect(),
        ),
    }
}

/// Every request's label, in order (`KEYWARD_CT_LABELS`).
static LABELS: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());

/// One request for [`purpose`]; `label` says what it is for
/// (`KEYWARD_CT_LABELS`). Waited for by blocking (untimed requests).
fn ask(
    svc: &VerifyService,
    label: &'static str,
    login: &str,
    passcode: &str,
) -> Result<VerifyOutcome, keyward::store::StoreError> {
    submit(svc, label, login, passcode)?.wait()
}

/// A timed request, awaited on a tokio runtime as the daemon's handlers
/// await theirs (`Pending::answer`: the refusal floor served by tokio's
/// timer).
fn ask_as_the_daemon(
    runtime: &tokio::runtime::Runtime,
    svc: &VerifyService,
    label: &'static str,
    login: &str,
    passcode: &str,
) -> Result<VerifyOutcome, keyward::store::StoreError> {
    runtime.block_on(async { submit(svc, label, login, passcode)?.answer().await.0 })
}

fn submit(
    svc: &VerifyService,
    label: &'static str,
    login: &str,
    passcode: &str,
) -> Result<Pending, keyward::store::StoreError> {
    let request = VerifyRequest::new(login, passcode);
    let request = match purpose() {
        VerifyPurpose::StaffSignIn => request.for_staff_sign_in(),
        VerifyPurpose::Gateway => request,
    };
    ASKED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    LABELS.lock().unwrap().push(label);
    svc.submit(request)
}

/// Requests asked so far (see [`settled`]).
static ASKED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The refusal floor the service runs with: `KEYWARD_CT_FLOOR_US`
/// microseconds, the daemon's default without it.
fn refusal_floor() -> std::time::Duration {
    std::env::var("KEYWARD_CT_FLOOR_US")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(std::time::Duration::from_micros)
        .unwrap_or(Config::DEFAULT_REFUSAL_FLOOR)
}

fn setup(dir: &std::path::Path, clock: Arc<FixedClock>) -> (Store, Vec<CredentialKey>) {
    let mut config = Config::new("ac-exemple.fr");
    config.refusal_floor = refusal_floor();
    let store = Store::init(&dir.join("data"), clock, config).unwrap();
    let desk_person = PersonId::parse("desk").unwrap();
    let desk = Actor::Desk(desk_person.clone());
    let mut keys = Vec::new();
    store
        .write(&desk, "bench setup", |tx| {
            let mail = |l: &str| MailAddress::parse(&format!("{l}@ac-exemple.fr")).unwrap();
            tx.add_person(&desk_person, "Desk", &mail("desk"))?;
            let inspector = PersonId::parse("inspector").unwrap();
            tx.add_person(&inspector, "Inspector", &mail("inspector"))?;
            tx.add_district("D", "District", &inspector)?;
            let school = Uai::parse("0751710B").unwrap();
            tx.add_school(&school, "School", "D")?;
            for i in 0..KNOWN + LOCKED {
                let id = PersonId::parse(&login(i)).unwrap();
                let serial = format!("VT-{i:03}");
                let secret = Secret::generate(Algorithm::Sha1).unwrap();
                let key = CredentialKey::new(Algorithm::Sha1, &secret);
                tx.act_as(desk.clone());
                tx.add_person(&id, "Holder", &mail(&login(i)))?;
                tx.act_as(Actor::Inspector(inspector.clone()));
                let from = Date::parse("2020-09-01").unwrap();
                tx.grant_right(RightOrigin::Delegation, &id, &school, from, None)?;
                tx.act_as(desk.clone());
                tx.add_token(&serial, "virtual")?;
                tx.prepare_token(&serial, &id, &secret, CredentialParams::hotp())?;
                tx.handover(&serial, "bench", &code_at(&key, 0, Digits::SIX).to_string())?;
                tx.act_as(Actor::Holder(id));
                tx.activate(&serial, PIN)?;
                tx.act_as(desk.clone());
                let person = PersonId::parse(&login(i)).unwrap();
                tx.create_api_key(
                    &login(i),
                    keyward::domain::Role::Desk,
                    None,
                    &[],
                    Some(&person),
                )?;
                keys.push(key);
            }
            Ok(())
        })
        .unwrap();
    (store, keys)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let samples: usize = std::env::var("KEYWARD_CT_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let warmup: usize = std::env::var("KEYWARD_CT_WARMUP")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let order = fixed_order();
    let base = std::env::var("KEYWARD_BENCH_DIR").unwrap_or_else(|_| "/dev/shm".into());
    let dir = tempfile::tempdir_in(base).unwrap();
    let clock = Arc::new(FixedClock::new(START));
    let (store, keys) = setup(dir.path(), Arc::clone(&clock));
    let svc = store.verify_service().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut now = START;
    let mut tick = |clock: &FixedClock| {
        now += 60;
        clock.set(now);
    };
    // Lock the last LOCKED holders: ten failures each, after each delay.
    for i in KNOWN..KNOWN + LOCKED {
        for _ in 0..10 {
            tick(&clock);
            tick(&clock);
            tick(&clock);
            tick(&clock);
            tick(&clock);
            let _ = ask(&svc, "setup", &login(i), &format!("{PIN}000000"));
        }
        let answer = ask(&svc, "setup", &login(i), &format!("{PIN}000000")).unwrap();
        assert_eq!(answer, VerifyOutcome::Reject { hold: None });
    }
    let mut next = [1u64; KNOWN];
    let mut fails = [0u32; KNOWN];
    // (name, timed refusals so far); 2 makes the first use start afresh.
    let mut ghosts: Vec<(String, u32)> = vec![(String::new(), 2); GHOSTS];
    // Timed refusals of each locked holder since its last untimed one.
    let mut locked_timed = [0u32; LOCKED];
    let mut next_ghost = 0usize;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut times: Vec<(usize, f64)> = Vec::with_capacity(samples);
    // Where each timed request's time went in the writer (`WriterStats`):
    // deciding, sealing, committing; to tell which part differs.
    let mut phases: [Vec<(usize, f64)>; 3] = Default::default();
    let started = Instant::now();
    for n in 0..samples {
        let drawn = (rng.next() % 4) as usize;
        let class = order.as_ref().map_or(drawn, |o| o[n % o.len()]);
        tick(&clock);
        // The same untimed preparation whatever the class, so that only the
        // request differs (dudect): a known holder, its window and a guess
        // outside it, its right next code, a locked holder, a random code.
        let i = (rng.next() % KNOWN as u64) as usize;
        let l = (rng.next() % LOCKED as u64) as usize;
        let locked = KNOWN + l;
        let g = i % GHOSTS;
        let random = rng.next() % 1_000_000;
        let window: Vec<String> = (next[i].saturating_sub(1)..next[i] + 12)
            .map(|c| code_at(&keys[i], c, Digits::SIX).to_string())
            .collect();
        let mut guess = rng.next() % 1_000_000;
        while window.contains(&format!("{guess:06}")) {
            guess = (guess + 1) % 1_000_000;
        }
        let right = code_at(&keys[i], next[i], Digits::SIX);
        // Upkeep, untimed, after every second timed request of a subject,
        // whatever its class: a holder with two failures logs in (failures
        // back to zero); a made-up name timed twice is replaced by a new
        // one, after its first try; a locked holder is refused once more.
        match class {
            0 | 1 if fails[i] >= 2 => {
                let good = format!("{PIN}{right}");
                let answer = ask(&svc, "upkeep", &login(i), &good).unwrap();
                assert!(answer.is_accept(), "sample {n}: {} {answer:?}", login(i));
                next[i] += 1;
                fails[i] = 0;
                tick(&clock);
            }
            2 if ghosts[g].1 >= 2 => {
                // As long as a holder's login ("holder007").
                let name = format!("g{next_ghost:08}");
                next_ghost += 1;
                let first = format!("{PIN}{random:06}");
                assert!(!ask(&svc, "upkeep", &name, &first).unwrap().is_accept());
                ghosts[g] = (name, 0);
                tick(&clock);
            }
            3 if locked_timed[l] >= 2 => {
                let again = format!("{PIN}{random:06}");
                assert!(!ask(&svc, "upkeep", &login(locked), &again)
                    .unwrap()
                    .is_accept());
                locked_timed[l] = 0;
                tick(&clock);
            }
            _ => {}
        }
        // Then one untimed request that is the same for every class, so
        // that the writer's last request before the timed one (and what it
        // left in the caches) never depends on the class.
        let _ = ask(&svc, "settler", "settler", &format!("{PIN}{random:06}")).unwrap();
        let (who, passcode) = match class {
            0 => (login(i), format!("{PIN}{guess:06}")),
            1 => (login(i), format!("{WRONG_PIN}{right}")),
            2 => (ghosts[g].0.clone(), format!("{PIN}{random:06}")),
            _ => (login(locked), format!("{PIN}{random:06}")),
        };
        match class {
            0 | 1 => fails[i] += 1,
            2 => ghosts[g].1 += 1,
            _ => locked_timed[l] += 1,
        }
        let before = settled(&svc);
        let t0 = Instant::now();
        let answer = ask_as_the_daemon(&runtime, &svc, CLASSES[class], &who, &passcode).unwrap();
        let took = t0.elapsed().as_nanos() as f64;
        let spent = settled(&svc).since(&before);
        // (A made-up login may share a slot with earlier ones: its answer
        // can then carry a hold; never an accept.)
        assert!(!answer.is_accept(), "{who}");
        // The first thousand warm the caches.
        if n >= warmup {
            times.push((class, took));
            for (phase, d) in
                phases
                    .iter_mut()
                    .zip([spent.deciding, spent.sealing, spent.committing])
            {
                phase.push((class, d.as_nanos() as f64));
            }
        }
    }
    let elapsed = started.elapsed();
    drop(svc);
    if let Ok(path) = std::env::var("KEYWARD_CT_LABELS") {
        let mut text = LABELS.lock().unwrap().join("\n");
        text.push('\n');
        std::fs::write(path, text).unwrap();
    }
    if times.is_empty() {
        println!("ct_service: no timed sample (KEYWARD_CT_WARMUP ≥ KEYWARD_CT_SAMPLES)");
        return;
    }
    println!(
        "ct_service samples={} in {elapsed:.1?} classes={CLASSES:?}",
        times.len()
    );
    // Requests whose work outlasted the floor (by more than a wake-up's
    // usual lateness): only those can show what the work costs.
    let floor = refusal_floor();
    let late = (floor + std::time::Duration::from_micros(200)).as_nanos() as f64;
    let over = times.iter().filter(|(_, t)| *t > late).count();
    println!(
        "refusal floor {floor:?}: {over} requests ({:.2} %) answered more than 200 µs after it",
        100.0 * over as f64 / times.len() as f64
    );
    for (name, phase) in ["deciding", "sealing", "committing"].iter().zip(&phases) {
        println!("phase {name} (writer's share, not judged):");
        welch_pairs(phase);
    }
    println!("whole request:");
    let worst = welch_pairs(&times);
    println!("ct_service max|t|={worst:.2} threshold=4.5");
    if worst >= 4.5 {
        // `exit` runs no destructor: the data directory (76 MB on tmpfs
        // after 200,000 samples) is removed first.
        drop(store);
        drop(dir);
        std::process::exit(1);
    }
}

/// The writer's totals once it has counted every request answered so far
/// (it answers first, then counts).
fn settled(svc: &VerifyService) -> keyward::store::verify::WriterStats {
    loop {
        let s = svc.stats();
        if s.requests >= ASKED.load(std::sync::atomic::Ordering::Relaxed) {
            return s;
        }
        std::hint::spin_loop();
    }
}

/// Welch's t per pair of classes on raw and cropped timings; one line per
/// pair; the largest |t|.
fn welch_pairs(times: &[(usize, f64)]) -> f64 {
    let mut worst = 0f64;
    for (a, name_a) in CLASSES.iter().enumerate() {
        for (b, name_b) in CLASSES.iter().enumerate().skip(a + 1) {
            let pair: Vec<(usize, f64)> = times
                .iter()
                .filter(|(c, _)| *c == a || *c == b)
                .map(|&(c, t)| (usize::from(c == b), t))
                .collect();
            let mut sorted: Vec<f64> = pair.iter().map(|p| p.1).collect();
            sorted.sort_by(f64::total_cmp);
            let mut line = format!("pair {name_a}/{name_b}:");
            let mut pair_worst = 0f64;
            for p in [100.0, 99.0, 95.0, 90.0, 75.0, 50.0] {
                let cut = sorted[(((sorted.len() - 1) as f64) * p / 100.0) as usize];
                let mut w = Welch::default();
                for &(c, t) in &pair {
                    if t <= cut {
                        w.push(c, t);
                    }
                }
                let t = w.t();
                pair_worst = pair_worst.max(t.abs());
                line.push_str(&format!(
                    " p{p}: t={t:.2} (means {:.1}/{:.1} µs)",
                    w.mean[0] / 1e3,
                    w.mean[1] / 1e3
                ));
            }
            println!("{line} max|t|={pair_worst:.2}");
            worst = worst.max(pair_worst);
        }
    }
    worst
}

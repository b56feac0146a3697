//! Failover (issue 19, docs/postgres.md "High availability"): two real
//! `keyward serve` nodes on a PostgreSQL primary with a synchronous
//! streaming standby, both named in the nodes' `[store] url`; verify load
//! from several clients (valid codes, each sent to both nodes, and wrong
//! PINs); the primary's postmaster killed (`kill -9`) mid-load, the standby
//! promoted; the nodes reconnect to it by themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use keyward::domain::verify_policy::{delay_after, LOCK_AFTER};
use keyward::wire::{NodeHealth, NodeHealthStatus};

use crate::support::pg_nodes::{agent, gateway_key, query, start_node, store_copy, target, verify};
use crate::support::postgres::HaPair;
use crate::support::serve::Served;
use crate::support::world::{inspector_east, world, Device, SCHOOL_EAST};

const NOW: u64 = 1_900_000_020;
const PIN: &str = "482913";
/// Holders whose valid codes are sent, each code to both nodes.
const VALID: [&str; 4] = ["adurand", "bleroy", "cmoreau", "lbernard"];
/// Holders whose codes come with a wrong PIN: failures counted.
const WRONG: [&str; 3] = ["dpetit", "egarcia", "froux"];
/// Verify load before the kill.
const LOAD_BEFORE_KILL: Duration = Duration::from_secs(3);
/// How long the cluster has no primary (the time a failover manager
/// would take to decide), at least.
const OUTAGE: Duration = Duration::from_secs(1);
/// Each node must accept again within this time after the promotion.
const RECOVERY_BOUND: Duration = Duration::from_secs(15);

/// A code a client was answered "accept" for.
#[derive(Clone, Debug)]
struct Accepted {
    holder: &'static str,
    step: u64,
    node: usize,
    /// When the answer arrived.
    at: Instant,
}

/// What a wrong-PIN client was answered. Its attempts are spaced past the
/// longest delay, so none is throttled: every `reject` answered before the
/// lock is a failure counted and committed.
#[derive(Debug, Default)]
struct Refusals {
    rejects: u32,
    /// Of those, the ones answered before the kill.
    rejects_before_kill: u32,
    unavailable: u32,
}

/// What the clients share.
struct Run {
    nodes: [Served; 2],
    key: String,
    /// The nodes' test clock (`KEYWARD_TEST_CLOCK`).
    clock: PathBuf,
    stop: AtomicBool,
    /// Taken just before the kill signal is sent.
    killed_at: OnceLock<Instant>,
    accepts: Mutex<Vec<Accepted>>,
    /// `503 unavailable` answers, by node.
    unavailable: [AtomicUsize; 2],
    /// Any answer other than 200 accept/reject or 503.
    others: Mutex<Vec<(usize, u16, String)>>,
}

impl Run {
    /// The test clock's time.
    fn now(&self) -> u64 {
        std::fs::read_to_string(&self.clock)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    fn tally(&self, node: usize, status: u16, result: String) {
        if status == 503 {
            self.unavailable[node].fetch_add(1, Ordering::SeqCst);
        } else {
            self.others.lock().unwrap().push((node, status, result));
        }
    }

    /// The first accept by `node` answered after `after`.
    fn first_accept_after(&self, node: usize, after: Instant) -> Option<Instant> {
        self.accepts
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.node == node && a.at > after)
            .map(|a| a.at)
            .min()
    }
}

/// Sends the valid codes of `holder` from step `first` on, each to both
/// nodes (alternating which first), until the run stops. A code no node
/// answered (both unavailable) is sent again: if its batch committed after
/// all, it must be refused now.
fn valid_client(run: &Run, holder: &'static str, device: &Device, first: u64) {
    let agent = agent();
    let mut step = first;
    while !run.stop.load(Ordering::SeqCst) {
        let passcode = format!("{PIN}{}", device.hotp(step));
        let order = if step % 2 == 0 { [0, 1] } else { [1, 0] };
        let mut answered = false;
        for node in order {
            let (status, result) = verify(&agent, &run.nodes[node], &run.key, holder, &passcode);
            match (status, result.as_str()) {
                (200, "accept") => {
                    let at = Instant::now();
                    run.accepts.lock().unwrap().push(Accepted {
                        holder,
                        step,
                        node,
                        at,
                    });
                    answered = true;
                }
                (200, "reject") => answered = true,
                _ => run.tally(node, status, result),
            }
        }
        if answered {
            step += 1;
        } else {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Sends `holder`'s next code with a wrong PIN, to each node in turn,
/// until the run stops.
fn wrong_pin_client(run: &Run, holder: &'static str, device: &Device, next: u64) -> Refusals {
    let agent = agent();
    let passcode = format!("000000{}", device.hotp(next));
    let longest_delay = delay_after(LOCK_AFTER - 1).unwrap();
    let mut refusals = Refusals::default();
    let mut sent = 0;
    while !run.stop.load(Ordering::SeqCst) {
        let node = sent % 2;
        sent += 1;
        let (status, result) = verify(&agent, &run.nodes[node], &run.key, holder, &passcode);
        if (status, result.as_str()) == (200, "reject") {
            refusals.rejects += 1;
            if run.killed_at.get().is_none() {
                refusals.rejects_before_kill += 1;
            }
        } else {
            if status == 503 {
                refusals.unavailable += 1;
            }
            run.tally(node, status, result);
        }
        // Past any delay the last attempt may have set, committed or not.
        let after = run.now() + longest_delay + 1;
        while run.now() <= after && !run.stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    refusals
}

/// Stops the run's threads when dropped, a failed assertion included.
struct StopOnDrop(Arc<Run>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop.store(true, Ordering::SeqCst);
    }
}

/// `GET /v1/health` of `node`: its status code and answer.
fn health(node: &Served) -> (u16, NodeHealth) {
    let mut answer = agent()
        .get(format!("{}/v1/health", node.url))
        .call()
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.body_mut().read_json().unwrap())
}

/// Waits until `node`'s health is `status` (bounded); when it became so.
fn wait_for_health(node: &Served, status: NodeHealthStatus, within: Duration) -> Instant {
    let deadline = Instant::now() + within;
    loop {
        let (code, answer) = health(node);
        if answer.status == status {
            let expected = if status == NodeHealthStatus::Ok {
                200
            } else {
                503
            };
            assert_eq!(code, expected, "{answer:?}");
            assert_eq!(answer.store, "postgres");
            return Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "{}: health still {answer:?}",
            node.url
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn nodes_follow_a_failover_without_accepting_a_code_twice_or_losing_an_acknowledged_change() {
    let started = Instant::now();
    let pair = HaPair::start();
    let ha_ready = started.elapsed();

    // The authority's SQLite store: four holders of valid codes, three
    // sending wrong PINs, each with a delegation in force, a gateway key;
    // copied into the pair's primary.
    let world = world(NOW);
    let holders: Vec<&'static str> = VALID.iter().chain(WRONG.iter()).copied().collect();
    let devices: HashMap<&'static str, Device> = holders
        .iter()
        .enumerate()
        .map(|(n, holder)| {
            world
                .delegate(&inspector_east(), holder, SCHOOL_EAST, "2029-09-01", None)
                .unwrap();
            let serial = format!("KW-{:04}", n + 1);
            (*holder, world.active_hotp(holder, &serial, PIN))
        })
        .collect();
    let key = gateway_key(&world);
    let dir = tempfile::tempdir().unwrap();
    let url = pair.url();
    let password = pair.password_file(dir.path());
    let clock = dir.path().join("clock");
    std::fs::write(&clock, NOW.to_string()).unwrap();
    let data = world.dir.path().join("data");
    let copied = store_copy(&data, &url, &password, &clock);
    assert!(copied.contains("7 "), "{copied}");
    let master = data.join("master.key");
    let node = |name: &str| start_node(dir.path(), name, &url, &password, &master, &clock, "");
    let run = Arc::new(Run {
        nodes: [node("a"), node("b")],
        key,
        clock: clock.clone(),
        stop: AtomicBool::new(false),
        killed_at: OnceLock::new(),
        accepts: Mutex::new(Vec::new()),
        unavailable: [AtomicUsize::new(0), AtomicUsize::new(0)],
        others: Mutex::new(Vec::new()),
    });
    for node in &run.nodes {
        wait_for_health(node, NodeHealthStatus::Ok, Duration::from_secs(5));
    }
    let db = target(&url, &password);
    let floors: HashMap<String, u64> = query(&db, "SELECT holder, floor FROM credentials")
        .iter()
        .map(|r| {
            let floor: Option<i64> = r.get(1);
            (r.get(0), floor.map_or(0, |f| u64::try_from(f).unwrap()))
        })
        .collect();
    let devices = Arc::new(devices);
    // Whatever happens below, the clients and the ticker stop.
    let _stop = StopOnDrop(Arc::clone(&run));

    // The test clock moves on (100 times as fast), so the wrong PINs' held
    // answers end and their delays pass.
    let ticker = {
        let (run, clock) = (Arc::clone(&run), clock.clone());
        std::thread::spawn(move || {
            let mut now = NOW;
            while !run.stop.load(Ordering::SeqCst) {
                now += 5;
                let next = clock.with_extension("next");
                std::fs::write(&next, now.to_string()).unwrap();
                std::fs::rename(&next, &clock).unwrap();
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let valid: Vec<_> = VALID
        .iter()
        .map(|&holder| {
            let (run, devices) = (Arc::clone(&run), Arc::clone(&devices));
            let first = floors[holder] + 1;
            std::thread::spawn(move || valid_client(&run, holder, &devices[holder], first))
        })
        .collect();
    let wrong: Vec<_> = WRONG
        .iter()
        .map(|&holder| {
            let (run, devices) = (Arc::clone(&run), Arc::clone(&devices));
            let next = floors[holder] + 1;
            std::thread::spawn(move || {
                (
                    holder,
                    wrong_pin_client(&run, holder, &devices[holder], next),
                )
            })
        })
        .collect();

    std::thread::sleep(LOAD_BEFORE_KILL);
    let killed_at = Instant::now();
    run.killed_at.set(killed_at).unwrap();
    pair.kill_primary();
    // No primary: both nodes say so, and answer unavailable meanwhile.
    let degraded: Vec<Duration> = run
        .nodes
        .iter()
        .map(|node| {
            wait_for_health(node, NodeHealthStatus::Degraded, Duration::from_secs(10)) - killed_at
        })
        .collect();
    if let Some(rest) = OUTAGE.checked_sub(killed_at.elapsed()) {
        std::thread::sleep(rest);
    }
    assert!(pair.standby.in_recovery(), "the standby promoted itself");
    pair.promote_standby();
    let promoted_at = Instant::now();
    // Each node accepts again, on the promoted standby.
    let recovered: Vec<Instant> = (0..2)
        .map(|node| {
            let deadline = promoted_at + RECOVERY_BOUND;
            loop {
                if let Some(at) = run.first_accept_after(node, promoted_at) {
                    break at;
                }
                assert!(
                    Instant::now() < deadline,
                    "node {node} accepted nothing within {RECOVERY_BOUND:?} of the promotion"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        })
        .collect();
    for node in &run.nodes {
        wait_for_health(node, NodeHealthStatus::Ok, Duration::from_secs(5));
    }
    // A little more load on the promoted server, then stop.
    std::thread::sleep(Duration::from_millis(500));
    run.stop.store(true, Ordering::SeqCst);
    for client in valid {
        client.join().unwrap();
    }
    let refusals: Vec<(&str, Refusals)> = wrong.into_iter().map(|c| c.join().unwrap()).collect();
    ticker.join().unwrap();

    let others = run.others.lock().unwrap().clone();
    assert!(
        others.is_empty(),
        "answers other than accept, reject, 503: {others:?}"
    );
    let accepts = run.accepts.lock().unwrap().clone();
    let unavailable: Vec<usize> = run
        .unavailable
        .iter()
        .map(|n| n.load(Ordering::SeqCst))
        .collect();
    let before_kill = accepts.iter().filter(|a| a.at < killed_at).count();
    assert!(
        (0..2).all(|n| accepts.iter().any(|a| a.node == n && a.at < killed_at)),
        "both nodes accepted before the kill"
    );

    // No code accepted twice across the whole run, by either node.
    let mut seen = HashSet::new();
    for accepted in &accepts {
        assert!(
            seen.insert((accepted.holder, accepted.step)),
            "{} step {} accepted twice",
            accepted.holder,
            accepted.step
        );
    }

    // Everything acknowledged is on the promoted server (the nodes' url
    // reaches it now, the old primary is dead): every accept's floor and
    // audit entry, and no accept there twice.
    assert!(!pair.primary.listening());
    let credentials: HashMap<String, (i64, u64, i32, bool)> = query(
        &db,
        "SELECT holder, id, floor, fails, locked FROM credentials",
    )
    .iter()
    .map(|r| {
        let floor: Option<i64> = r.get(2);
        (
            r.get(0),
            (
                r.get(1),
                floor.map_or(0, |f| u64::try_from(f).unwrap()),
                r.get(3),
                r.get(4),
            ),
        )
    })
    .collect();
    let mut in_audit: HashMap<(String, u64), usize> = HashMap::new();
    for row in query(
        &db,
        "SELECT subject, detail FROM audit WHERE action = 'verify.accept'",
    ) {
        let (subject, detail): (String, String) = (row.get(0), row.get(1));
        let step = detail
            .split(' ')
            .find_map(|field| field.strip_prefix("step="))
            .unwrap()
            .parse()
            .unwrap();
        *in_audit.entry((subject, step)).or_default() += 1;
    }
    for accepted in &accepts {
        let (_, floor, _, _) = credentials[accepted.holder];
        assert!(
            floor >= accepted.step,
            "{} step {} accepted but the floor is {floor}",
            accepted.holder,
            accepted.step
        );
        assert_eq!(
            in_audit.get(&(accepted.holder.to_owned(), accepted.step)),
            Some(&1),
            "{} step {}: its audit entry",
            accepted.holder,
            accepted.step
        );
    }
    assert!(
        in_audit.values().all(|&n| n == 1),
        "an accept twice in the chain"
    );
    // Accepts committed but never answered (their batch answered
    // unavailable) are at most the unavailable answers.
    let unanswered = in_audit.len() - accepts.len();
    assert!(unanswered <= unavailable.iter().sum::<usize>());

    // Failure counts acknowledged are there (each reject answered before
    // the lock was a failure counted), and no more than were sent; the
    // counter agrees with the chain; every refusal answered has its entry.
    for (holder, refused) in &refusals {
        let (_, _, fails, locked) = credentials[*holder];
        let fails = u32::try_from(fails).unwrap();
        assert!(
            refused.rejects_before_kill > 0,
            "{holder}: no refusal before the kill"
        );
        assert!(
            fails >= refused.rejects.min(LOCK_AFTER),
            "{holder}: {fails} failures counted, {} acknowledged",
            refused.rejects
        );
        assert!(fails <= (refused.rejects + refused.unavailable).min(LOCK_AFTER));
        assert_eq!(
            locked,
            fails == LOCK_AFTER,
            "{holder}: locked at exactly 10"
        );
        let entries = query(
            &db,
            &format!(
                "SELECT count(*) FILTER (WHERE detail LIKE 'reason=wrong PIN %'), count(*)
                 FROM audit WHERE action = 'verify.reject' AND subject = '{holder}'"
            ),
        );
        let (counted, refusals_there): (i64, i64) = (entries[0].get(0), entries[0].get(1));
        assert_eq!(
            counted,
            i64::from(fails),
            "{holder}: the counter and the chain"
        );
        let refusals_there = u32::try_from(refusals_there).unwrap();
        assert!(
            (refused.rejects..=refused.rejects + refused.unavailable).contains(&refusals_there),
            "{holder}: {refusals_there} refusals in the chain, {refused:?} answered"
        );
    }

    // The chain, written by both nodes on both servers, verifies on the
    // promoted one.
    let keys = keyward::crypto::MasterKey::load(&master)
        .unwrap()
        .keys()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let head = runtime.block_on(async {
        let pool = keyward::store::postgres::connect(&db, 1).await.unwrap();
        let mut client = pool.get().await.unwrap();
        keyward::store::postgres::chain::verify_chain(&mut client, &keys)
            .await
            .unwrap()
    });
    let head = head.unwrap_or_else(|brk| panic!("the chain breaks: {brk:?}"));
    let entries: i64 = query(&db, "SELECT count(*) FROM audit")[0].get(0);
    assert_eq!(head.seq, u64::try_from(entries).unwrap());

    // The last code accepted of each holder is refused by both nodes now.
    let agent = agent();
    for holder in VALID {
        let last = accepts
            .iter()
            .filter(|a| a.holder == holder)
            .map(|a| a.step)
            .max()
            .unwrap();
        let passcode = format!("{PIN}{}", devices[holder].hotp(last));
        for node in &run.nodes {
            assert_eq!(
                verify(&agent, node, &run.key, holder, &passcode),
                (200, "reject".to_owned()),
                "{holder} step {last} again"
            );
        }
    }

    let since_kill = |at: Instant| at - killed_at;
    eprintln!(
        "failover: HA pair up in {ha_ready:?}; {} accepts ({before_kill} before the kill), \
         {} committed accepts never answered; unavailable answers a={} b={}; degraded seen \
         after {:?}/{:?}; promoted {:?} after the kill; first accept after it on a {:?}, on b \
         {:?} after the kill; wrong-PIN failures {:?}; test {:?}",
        accepts.len(),
        unanswered,
        unavailable[0],
        unavailable[1],
        degraded[0],
        degraded[1],
        since_kill(promoted_at),
        since_kill(recovered[0]),
        since_kill(recovered[1]),
        refusals
            .iter()
            .map(|(h, r)| (*h, credentials[*h].2, r.rejects_before_kill))
            .collect::<Vec<_>>(),
        started.elapsed()
    );
    for recovered in &recovered {
        assert!(*recovered - promoted_at < RECOVERY_BOUND);
    }
}

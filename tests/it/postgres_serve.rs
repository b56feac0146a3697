//! Two real `keyward serve` nodes on one PostgreSQL database
//! (docs/postgres.md): the credentials come from a SQLite store by
//! `keyward store copy`, the gateway asks both nodes over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Instant;

use serde_json::{json, Value};

use crate::support::cli;
use crate::support::pg_nodes::{
    agent, gateway_key, query, start_node, store_copy, target, verify, verify_answer,
};
use crate::support::postgres::{self as harness, TestDb};
use crate::support::serve::Served;
use crate::support::world::{world, Device, World, SCHOOL_EAST};

const NOW: u64 = 1_900_000_020;
const PIN: &str = "482913";

/// A SQLite world with bleroy's HOTP key and a gateway key, copied into a
/// fresh database, and two nodes (a, b) serving it.
struct Cluster {
    world: World,
    db: TestDb,
    clock: PathBuf,
    password: PathBuf,
    device: Device,
    gateway_key: String,
    a: Served,
    b: Served,
    _nodes: tempfile::TempDir,
}

impl Cluster {
    fn new(test: &str) -> Cluster {
        Cluster::with(test, |_, _| {})
    }

    /// [`Cluster::new`], with `setup` done in the SQLite world (and
    /// bleroy's device) before the copy.
    fn with(test: &str, setup: impl FnOnce(&World, &Device)) -> Cluster {
        let world = world(NOW);
        world.appoint("bleroy", SCHOOL_EAST, "2029-09-01", None);
        let device = world.active_hotp("bleroy", "KW-0001", PIN);
        setup(&world, &device);
        let gateway_key = gateway_key(&world);
        let nodes = tempfile::tempdir().unwrap();
        let db = harness::database(test);
        let password = db.password_file(nodes.path());
        let clock = nodes.path().join("clock");
        std::fs::write(&clock, NOW.to_string()).unwrap();
        let data = world.dir.path().join("data");
        // The real path: the SQLite store copied by the CLI.
        let out = store_copy(&data, &db.url(), &password, &clock);
        assert!(out.contains("1 "), "{out}");
        let master = data.join("master.key");
        let node =
            |name: &str| start_node(nodes.path(), name, &db.url(), &password, &master, &clock);
        let a = node("a");
        let b = node("b");
        Cluster {
            world,
            db,
            clock,
            password,
            device,
            gateway_key,
            a,
            b,
            _nodes: nodes,
        }
    }

    fn advance(&self, seconds: u64) {
        let now: u64 = std::fs::read_to_string(&self.clock)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // Whole or not at all: the nodes read it meanwhile.
        let next = self.clock.with_extension("next");
        std::fs::write(&next, (now + seconds).to_string()).unwrap();
        std::fs::rename(&next, &self.clock).unwrap();
    }

    /// The database as the test's own client reaches it.
    fn target(&self) -> keyward::store::postgres::PgTarget {
        target(&self.db.url(), &self.password)
    }

    /// One query on the database, as the test's own client.
    fn query(&self, sql: &str) -> Vec<tokio_postgres::Row> {
        query(&self.target(), sql)
    }

    fn floor(&self) -> u64 {
        let floor: Option<i64> = self.query("SELECT floor FROM credentials")[0].get(0);
        floor.map_or(0, |f| u64::try_from(f).unwrap())
    }
}

#[test]
fn two_served_nodes_accept_one_passcode_sent_by_64_clients_once_per_round() {
    const CLIENTS: usize = 64;
    const ROUNDS: usize = 300;
    let cluster = Arc::new(Cluster::new("two_served_nodes_once"));
    let first = cluster.floor() + 1;
    let passcodes: Arc<Vec<String>> = Arc::new(
        (0..ROUNDS)
            .map(|r| format!("{PIN}{}", cluster.device.hotp(first + r as u64)))
            .collect(),
    );
    let accepts: Arc<Vec<AtomicUsize>> =
        Arc::new((0..ROUNDS).map(|_| AtomicUsize::new(0)).collect());
    let others = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (cluster, passcodes, accepts, others, barrier) = (
                Arc::clone(&cluster),
                Arc::clone(&passcodes),
                Arc::clone(&accepts),
                Arc::clone(&others),
                Arc::clone(&barrier),
            );
            std::thread::spawn(move || {
                let agent = agent();
                let node = if i % 2 == 0 { &cluster.a } else { &cluster.b };
                for round in 0..ROUNDS {
                    barrier.wait();
                    let (status, result) = verify(
                        &agent,
                        node,
                        &cluster.gateway_key,
                        "bleroy",
                        &passcodes[round],
                    );
                    match (status, result.as_str()) {
                        (200, "accept") => {
                            accepts[round].fetch_add(1, Ordering::SeqCst);
                        }
                        (200, "reject") => {}
                        _ => {
                            others.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    let per_round: Vec<usize> = accepts.iter().map(|a| a.load(Ordering::SeqCst)).collect();
    assert_eq!(
        others.load(Ordering::SeqCst),
        0,
        "answers other than accept/reject"
    );
    let wrong: Vec<(usize, usize)> = per_round
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, n)| *n != 1)
        .collect();
    assert!(
        wrong.is_empty(),
        "rounds without exactly one accept: {wrong:?}"
    );
    eprintln!(
        "two served nodes: {} verifies in {:?}",
        CLIENTS * ROUNDS,
        started.elapsed()
    );
    // Both nodes decided, and said so in the one audit chain.
    let rows = cluster.query(
        "SELECT count(*) FILTER (WHERE detail LIKE '%node=a%'),
                count(*) FILTER (WHERE detail LIKE '%node=b%'),
                count(*) FILTER (WHERE action = 'verify.accept')
         FROM audit",
    );
    let (on_a, on_b, accepted): (i64, i64, i64) = (rows[0].get(0), rows[0].get(1), rows[0].get(2));
    assert!(on_a > 0 && on_b > 0, "a={on_a} b={on_b}");
    assert_eq!(accepted, ROUNDS as i64);
    assert_eq!(cluster.floor(), first + ROUNDS as u64 - 1);
    // Routes not served on PostgreSQL say so; they never fall back to SQLite.
    let mut answer = agent()
        .get(format!("{}/v1/people", cluster.a.url))
        .header("authorization", &format!("Bearer {}", cluster.gateway_key))
        .call()
        .unwrap();
    assert_eq!(answer.status().as_u16(), 501);
    let body: Value = answer.body_mut().read_json().unwrap();
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    // A key that is not a gateway key in the database: 401.
    let (status, _) = verify(
        &agent(),
        &cluster.b,
        &format!("kw_{}", "A".repeat(52)),
        "bleroy",
        "1",
    );
    assert_eq!(status, 401);
}

#[test]
fn wrong_codes_sent_to_two_served_nodes_lock_at_exactly_ten() {
    const CLIENTS: usize = 32;
    let cluster = Arc::new(Cluster::new("served_lock_at_ten"));
    let next = cluster.floor() + 1;
    let wrong = format!("000000{}", cluster.device.hotp(next));
    for _ in 0..14 {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let (cluster, wrong) = (Arc::clone(&cluster), wrong.clone());
                std::thread::spawn(move || {
                    let node = if i % 2 == 0 { &cluster.a } else { &cluster.b };
                    verify(&agent(), node, &cluster.gateway_key, "bleroy", &wrong)
                })
            })
            .collect();
        // Held answers end once the test clock passes their delay.
        std::thread::sleep(std::time::Duration::from_millis(300));
        while clients.iter().any(|c| !c.is_finished()) {
            cluster.advance(1);
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        for client in clients {
            assert_eq!(client.join().unwrap(), (200, "reject".to_owned()));
        }
        cluster.advance(400);
    }
    let rows = cluster.query("SELECT fails, locked FROM credentials");
    let (fails, locked): (i32, bool) = (rows[0].get(0), rows[0].get(1));
    assert_eq!((fails, locked), (10, true));
    let locks = cluster.query("SELECT count(*) FROM audit WHERE detail LIKE '%locked=now%'");
    assert_eq!(locks[0].get::<_, i64>(0), 1);
    // Locked: even the right passcode is refused now, on either node.
    let right = format!("{PIN}{}", cluster.device.hotp(next));
    assert_eq!(
        verify(&agent(), &cluster.a, &cluster.gateway_key, "bleroy", &right),
        (200, "reject".to_owned())
    );
}

#[test]
fn a_key_revoked_while_a_served_node_is_under_load_is_not_accepted_after_the_answer() {
    let cluster = Arc::new(Cluster::new("served_revoke_under_load"));
    let first = cluster.floor() + 1;
    let next = Arc::new(AtomicUsize::new(0));
    let revoked_at: Arc<std::sync::OnceLock<Instant>> = Arc::new(std::sync::OnceLock::new());
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let (cluster, next, revoked_at) = (
                Arc::clone(&cluster),
                Arc::clone(&next),
                Arc::clone(&revoked_at),
            );
            std::thread::spawn(move || {
                let agent = agent();
                let (mut before, mut after) = (0, 0);
                let deadline = Instant::now() + std::time::Duration::from_secs(30);
                while Instant::now() < deadline {
                    let n = next.fetch_add(1, Ordering::SeqCst) as u64;
                    let passcode = format!("{PIN}{}", cluster.device.hotp(first + n));
                    let sent = Instant::now();
                    let done = revoked_at.get().is_some_and(|at| *at <= sent);
                    let (status, result) = verify(
                        &agent,
                        &cluster.b,
                        &cluster.gateway_key,
                        "bleroy",
                        &passcode,
                    );
                    assert_eq!(status, 200);
                    if result == "accept" {
                        if done {
                            after += 1;
                        } else {
                            before += 1;
                        }
                    }
                    if done
                        && revoked_at
                            .get()
                            .is_some_and(|at| at.elapsed().as_secs() >= 2)
                    {
                        break;
                    }
                }
                (before, after)
            })
        })
        .collect();
    // Time moves on, so refusals of codes overtaken by a later one are
    // not held for long.
    let ticking = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let ticker = {
        let (cluster, ticking) = (Arc::clone(&cluster), Arc::clone(&ticking));
        std::thread::spawn(move || {
            while ticking.load(Ordering::SeqCst) {
                cluster.advance(1);
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        })
    };
    std::thread::sleep(std::time::Duration::from_secs(2));
    // The revoke, on node A's side of the database (the ledger's operation).
    let keys = keyward::crypto::MasterKey::load(&cluster.world.dir.path().join("data/master.key"))
        .unwrap()
        .keys()
        .unwrap();
    let target = cluster.target();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let revoked = runtime.block_on(async {
        let pool = keyward::store::postgres::connect(&target, 1).await.unwrap();
        let mut ledger = keyward::store::postgres::ledger::PgLedger::new(&pool)
            .await
            .unwrap();
        let holder = keyward::domain::PersonId::parse("bleroy").unwrap();
        ledger.revoke(&keys, &holder, NOW, "desk").await.unwrap()
    });
    assert!(revoked);
    revoked_at.set(Instant::now()).unwrap();
    let (mut before, mut after) = (0, 0);
    for client in clients {
        let (b, a) = client.join().unwrap();
        before += b;
        after += a;
    }
    ticking.store(false, Ordering::SeqCst);
    ticker.join().unwrap();
    assert!(before > 0, "no accept before the revoke: no load");
    assert_eq!(after, 0, "accepted on B after the revoke answered");
}

#[test]
fn a_served_node_accepts_only_with_a_right_in_force_and_answers_the_rights() {
    use keyward::store::verify::VerifyOutcome;
    use keyward::wire::verify::{self as wire, VerifiedRight};

    use crate::support::world::{inspector_east, SCHOOL_EAST_2};

    // cmoreau: a delegation ended (early) before the copy; dpetit: an
    // appointment that starts three days after the copy (2030-03-20).
    let mut devices = Vec::new();
    let mut on_sqlite = None;
    let cluster = Cluster::with("served_rights_in_force", |world, bleroy_device| {
        let delegation = world
            .delegate(
                &inspector_east(),
                "cmoreau",
                SCHOOL_EAST,
                "2029-09-01",
                None,
            )
            .unwrap();
        devices.push(world.active_hotp("cmoreau", "KW-0002", PIN));
        world
            .store
            .write(&inspector_east(), "end", |tx| {
                tx.end_right(delegation, None, None)
            })
            .unwrap();
        world.appoint("dpetit", SCHOOL_EAST_2, "2030-03-20", None);
        devices.push(world.active_hotp("dpetit", "KW-0003", PIN));
        // What the SQLite writer answers them (each code 1 consumed there,
        // and so on the copy).
        let sqlite = world.store.verify_service().unwrap();
        for (login, device) in [("cmoreau", &devices[0]), ("dpetit", &devices[1])] {
            let passcode = format!("{PIN}{}", device.hotp(1));
            let answer = sqlite.verify(login, &passcode).unwrap();
            assert!(matches!(answer, VerifyOutcome::Reject { .. }), "{login}");
        }
        let bleroy = format!("{PIN}{}", bleroy_device.hotp(1));
        on_sqlite = Some(sqlite.verify("bleroy", &bleroy).unwrap());
    });
    let rows = cluster.query("SELECT holder FROM credentials ORDER BY holder");
    let holders: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(holders, ["bleroy", "cmoreau", "dpetit"], "every key copied");
    let (ended, future) = (&devices[0], &devices[1]);
    let agent = agent();
    let key = &cluster.gateway_key;
    let reject = json!({ "result": "reject" });

    // A right ended before the copy: refused, not entitled, on both nodes.
    let passcode = format!("{PIN}{}", ended.hotp(2));
    assert_eq!(
        verify_answer(&agent, &cluster.a, key, "cmoreau", &passcode),
        (200, reject.clone())
    );
    let passcode = format!("{PIN}{}", ended.hotp(3));
    assert_eq!(
        verify_answer(&agent, &cluster.b, key, "cmoreau", &passcode),
        (200, reject.clone())
    );

    // A right to come: refused now (the code is consumed, as on SQLite) ...
    let passcode = format!("{PIN}{}", future.hotp(2));
    assert_eq!(
        verify_answer(&agent, &cluster.a, key, "dpetit", &passcode),
        (200, reject.clone())
    );
    let audit = cluster
        .query("SELECT subject, detail FROM audit WHERE action = 'verify.reject' ORDER BY seq");
    let refusals: Vec<(String, String)> = audit.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(refusals.len(), 3, "{refusals:?}");
    for (subject, detail) in &refusals {
        assert!(
            detail.starts_with("reason=no right in force failures=0 "),
            "{subject}: {detail}"
        );
    }
    // ... and accepted once it has started, with that right in the answer.
    cluster.advance(3 * 86_400);
    assert_eq!(
        verify(&agent, &cluster.b, key, "dpetit", &passcode),
        (200, "reject".to_owned()),
        "the code refused for want of a right is never accepted later"
    );
    let passcode = format!("{PIN}{}", future.hotp(3));
    let (status, answer) = verify_answer(&agent, &cluster.b, key, "dpetit", &passcode);
    assert_eq!(status, 200);
    assert_eq!(
        answer,
        json!({ "result": "accept",
                "rights": [{ "origin": "appointment", "school": SCHOOL_EAST_2, "until": null }] })
    );

    // The accept answer lists the rights in force, as the SQLite writer's
    // accept of the same holder did (in the daemon's wire form).
    let Some(VerifyOutcome::Accept { rights }) = on_sqlite else {
        panic!("bleroy not accepted on SQLite: {on_sqlite:?}");
    };
    assert_eq!(rights.len(), 1);
    let sqlite = wire::VerifyOutcome::Accept {
        rights: rights
            .iter()
            .map(|r| VerifiedRight {
                origin: r.origin,
                school: r.school.as_str().to_owned(),
                until: r.until.map(|u| u.to_string()),
            })
            .collect(),
    };
    let passcode = format!("{PIN}{}", cluster.device.hotp(2));
    let (status, answer) = verify_answer(&agent, &cluster.a, key, "bleroy", &passcode);
    assert_eq!(status, 200);
    assert_eq!(answer, serde_json::to_value(&sqlite).unwrap());
    assert_eq!(answer["rights"][0]["school"], SCHOOL_EAST);
}

#[test]
fn a_right_edited_in_the_sqlite_database_stops_the_copy() {
    let world = world(NOW);
    world.appoint("bleroy", SCHOOL_EAST, "2029-09-01", Some("2030-07-04"));
    world.active_hotp("bleroy", "KW-0001", PIN);
    // The appointment lengthened outside keyward.
    let conn = rusqlite::Connection::open(world.store.db_path()).unwrap();
    conn.execute("UPDATE rights SET until_date = '2031-07-04'", [])
        .unwrap();
    drop(conn);
    let dir = tempfile::tempdir().unwrap();
    let db = harness::database("copy_tampered_right");
    let password = db.password_file(dir.path());
    let clock = dir.path().join("clock");
    std::fs::write(&clock, NOW.to_string()).unwrap();
    let output = cli::run(
        cli::keyward(["store", "copy", "--data"])
            .arg(world.dir.path().join("data"))
            .arg("--to")
            .arg(db.url())
            .arg("--password-file")
            .arg(&password)
            .env("KEYWARD_TEST_CLOCK", &clock),
    );
    assert!(!output.status.success());
    let stderr = cli::text(&output.stderr);
    assert!(stderr.contains("row MAC of a right"), "{stderr}");
}

//! Two real `keyward serve` nodes on one PostgreSQL database
//! (docs/postgres.md): the credentials come from a SQLite store by
//! `keyward store copy`, the gateway asks both nodes over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Instant;

use keyward::domain::Role;
use serde_json::{json, Value};

use crate::support::cli;
use crate::support::pg_nodes::{
    agent, api_key, gateway_key, query, start_node, store_copy, target, verify, verify_answer,
};
use crate::support::postgres::{self as harness, TestDb};
use crate::support::serve::Served;
use crate::support::world::{desk, world, Device, World, SCHOOL_EAST};

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
    /// alice's desk key, and pmartin's (inspector of D-EST, bleroy's
    /// district).
    desk_key: String,
    inspector_key: String,
    /// alice's admin key.
    admin_key: String,
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
        let desk_key = api_key(&world, "desk", Role::Desk, None, Some("alice"));
        let inspector_key = api_key(
            &world,
            "east",
            Role::Inspector,
            Some("D-EST"),
            Some("pmartin"),
        );
        let admin_key = api_key(&world, "admin", Role::Admin, None, Some("alice"));
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
        let node = |name: &str| {
            start_node(
                nodes.path(),
                name,
                &db.url(),
                &password,
                &master,
                &clock,
                "",
            )
        };
        let a = node("a");
        let b = node("b");
        Cluster {
            world,
            db,
            clock,
            password,
            device,
            gateway_key,
            desk_key,
            inspector_key,
            admin_key,
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
    // B has bleroy's key unsealed (once its load decided), and follows
    // revocations.
    until_health(&cluster.b, |cache| {
        cache["keys"] == 1 && cache["listening"] == true
    });
    // The revoke, through node A's API, by the desk.
    let (status, token) = post(
        &agent(),
        &cluster.a,
        &cluster.desk_key,
        "/v1/tokens/KW-0001/revoke",
        json!({ "reason": "lost" }),
    );
    assert_eq!(status, 200, "{token}");
    revoked_at.set(Instant::now()).unwrap();
    assert_eq!(token["state"], "revoked", "{token}");
    assert_eq!(token["revoke_reason"], "lost", "{token}");
    // B drops the key as soon as the revoke's notification reaches it
    // (its health counts it): no waiting for a time, for the event.
    let evicted = until_health(&cluster.b, |cache| {
        cache["keys"] == 0 && cache["evicted"] == 1
    });
    assert_eq!(evicted["cleared"], 1, "only the start's clear: {evicted}");
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
    // The secret is destroyed, the token revoked, and the audit entry is
    // the SQLite store's for the same revoke, word for word.
    let rows = cluster.query(
        "SELECT c.live, c.sealed IS NULL, c.pin_verifier IS NULL, t.state, t.revoke_reason
         FROM credentials c JOIN tokens t ON t.serial = c.token",
    );
    let row = &rows[0];
    let found: (bool, bool, bool, String, String) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    assert_eq!(
        found,
        (false, true, true, "revoked".to_owned(), "lost".to_owned())
    );
    let rows =
        cluster.query("SELECT actor, subject, detail FROM audit WHERE action = 'token.revoke'");
    assert_eq!(rows.len(), 1);
    let on_pg: (String, String, String) = (rows[0].get(0), rows[0].get(1), rows[0].get(2));
    cluster
        .world
        .store
        .write(&desk(), "token.revoke", |tx| {
            tx.revoke("KW-0001", keyward::domain::RevokeReason::Lost)
        })
        .unwrap();
    assert_eq!(cluster.world.last_audit("token.revoke"), on_pg.2);
    assert_eq!(on_pg.0, "desk:alice");
    assert_eq!(on_pg.1, "KW-0001");
}

#[test]
fn a_node_refuses_a_revoke_as_the_sqlite_daemon_does_and_audits_it() {
    let cluster = Cluster::new("served_revoke_refused");
    let agent = agent();
    let revoke = |node: &Served, key: &str, reason: &str| {
        post(
            &agent,
            node,
            key,
            "/v1/tokens/KW-0001/revoke",
            json!({ "reason": reason }),
        )
    };
    // An inspector revokes lost or stolen keys only: broken goes to the desk.
    let (status, body) = revoke(&cluster.a, &cluster.inspector_key, "broken");
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("broken ones go to the desk"),
        "{body}"
    );
    // The gateway's key may not revoke; no key at all is 401.
    let (status, _) = revoke(&cluster.b, &cluster.gateway_key, "lost");
    assert_eq!(status, 403);
    let (status, _) = revoke(&cluster.b, &format!("kw_{}", "A".repeat(52)), "lost");
    assert_eq!(status, 401);
    // An unknown reason, an unknown token.
    let (status, body) = revoke(&cluster.a, &cluster.desk_key, "misplaced");
    assert_eq!(status / 100, 4, "{body}");
    let (status, _) = post(
        &agent,
        &cluster.a,
        &cluster.desk_key,
        "/v1/tokens/KW-9999/revoke",
        json!({ "reason": "lost" }),
    );
    assert_eq!(status, 404);
    // Nothing changed: the key still logs in.
    let next = cluster.floor() + 1;
    let passcode = format!("{PIN}{}", cluster.device.hotp(next));
    assert_eq!(
        verify(
            &agent,
            &cluster.b,
            &cluster.gateway_key,
            "bleroy",
            &passcode
        ),
        (200, "accept".to_owned())
    );
    let rows = cluster.query("SELECT count(*) FROM audit WHERE action = 'token.revoke'");
    assert_eq!(rows[0].get::<_, i64>(0), 0);
    // Every refusal is audited, by whom.
    let rows =
        cluster.query("SELECT actor, subject FROM audit WHERE action = 'refused' ORDER BY seq");
    let refused: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        refused,
        [
            ("inspector:pmartin".to_owned(), "token.revoke".to_owned()),
            ("gateway".to_owned(), "revoke a key".to_owned()),
            ("system".to_owned(), "authenticate".to_owned()),
            ("desk:alice".to_owned(), "token.revoke".to_owned()),
            ("desk:alice".to_owned(), "token.revoke".to_owned()),
        ]
    );
    // The inspector revokes the lost key of their district.
    let (status, token) = revoke(&cluster.a, &cluster.inspector_key, "lost");
    assert_eq!((status, token["state"].as_str()), (200, Some("revoked")));
    // Twice is refused by the state machine.
    let (status, _) = revoke(&cluster.b, &cluster.desk_key, "lost");
    assert_eq!(status / 100, 4);
    let passcode = format!("{PIN}{}", cluster.device.hotp(next + 1));
    assert_eq!(
        verify(
            &agent,
            &cluster.a,
            &cluster.gateway_key,
            "bleroy",
            &passcode
        ),
        (200, "reject".to_owned())
    );
}

#[test]
fn a_right_ended_through_one_node_is_followed_by_the_other_at_once() {
    use crate::support::world::inspector_east;

    let mut delegation = 0;
    let mut cmoreau = None;
    let cluster = Cluster::with("served_rights_ended", |world, _| {
        delegation = world
            .delegate(
                &inspector_east(),
                "cmoreau",
                SCHOOL_EAST,
                "2029-09-01",
                None,
            )
            .unwrap();
        cmoreau = Some(world.active_hotp("cmoreau", "KW-0002", PIN));
    });
    let cmoreau = cmoreau.unwrap();
    let appointment: i64 = cluster.query("SELECT id FROM rights WHERE person = 'bleroy'")[0].get(0);
    let agent = agent();
    let key = &cluster.gateway_key;
    let floor = |holder: &str| -> u64 {
        let rows = cluster.query(&format!(
            "SELECT floor FROM credentials WHERE holder = '{holder}'"
        ));
        rows[0]
            .get::<_, Option<i64>>(0)
            .map_or(0, |f| u64::try_from(f).unwrap())
    };
    let code = |device: &Device, holder: &str| format!("{PIN}{}", device.hotp(floor(holder) + 1));
    let cmoreau_on_b = || {
        let passcode = code(&cmoreau, "cmoreau");
        verify(&agent, &cluster.b, key, "cmoreau", &passcode).1
    };
    assert_eq!(cmoreau_on_b(), "accept");
    let end = |node: &Served, key: &str, id: i64, body: &str| {
        let mut answer = agent
            .post(format!("{}/v1/rights/{id}/end", node.url))
            .header("authorization", &format!("Bearer {key}"))
            .header("content-type", "application/json")
            .send(body)
            .unwrap();
        let status = answer.status().as_u16();
        (status, answer.body_mut().read_json::<Value>().unwrap())
    };
    // Refused by role (desk), and by the rule (an inspector does not end an
    // appointment): audited, nothing changed.
    assert_eq!(end(&cluster.a, &cluster.desk_key, delegation, "").0, 403);
    let (status, body) = end(
        &cluster.a,
        &cluster.inspector_key,
        appointment,
        r#"{"reason":"mutation"}"#,
    );
    assert_eq!(status, 403, "{body}");
    // The inspector ends the delegation through A: B refuses it at once.
    let (status, body) = end(&cluster.a, &cluster.inspector_key, delegation, "");
    assert_eq!(
        (status, body),
        (200, json!({ "ended": true, "id": delegation }))
    );
    assert_eq!(cmoreau_on_b(), "reject");
    let last = cluster
        .query("SELECT detail FROM audit WHERE action = 'verify.reject' ORDER BY seq DESC LIMIT 1");
    let detail: String = last[0].get(0);
    assert!(detail.starts_with("reason=no right in force "), "{detail}");
    // Ended once: again is refused.
    assert_eq!(
        end(&cluster.b, &cluster.inspector_key, delegation, "").0 / 100,
        4
    );
    // The administration shortens bleroy's appointment through B: in force
    // until its new last day, on both nodes, then refused.
    let (status, body) = end(
        &cluster.b,
        &cluster.admin_key,
        appointment,
        r#"{"reason":"mutation","on":"2030-03-20"}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        verify(
            &agent,
            &cluster.a,
            key,
            "bleroy",
            &code(&cluster.device, "bleroy")
        ),
        (200, "accept".to_owned())
    );
    cluster.advance(5 * 86_400);
    assert_eq!(
        verify(
            &agent,
            &cluster.a,
            key,
            "bleroy",
            &code(&cluster.device, "bleroy")
        ),
        (200, "reject".to_owned())
    );
    // The audit entries are the SQLite store's for the same ends.
    let rows = cluster.query(
        "SELECT actor, action, subject, detail FROM audit
         WHERE action IN ('right.end', 'right.shorten', 'refused') ORDER BY seq",
    );
    let found: Vec<(String, String, String, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let actions: Vec<(&str, &str)> = found
        .iter()
        .map(|(actor, action, ..)| (actor.as_str(), action.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("desk:alice", "refused"),
            ("inspector:pmartin", "refused"),
            ("inspector:pmartin", "right.end"),
            ("inspector:pmartin", "refused"),
            ("admin:alice", "right.shorten"),
        ]
    );
    cluster
        .world
        .store
        .write(&inspector_east(), "right.end", |tx| {
            tx.end_right(delegation, None, None)
        })
        .unwrap();
    assert_eq!(cluster.world.last_audit("right.end"), found[2].3);
    cluster
        .world
        .store
        .write(
            &keyward::domain::Actor::Admin(crate::support::world::pid("alice")),
            "right.end",
            |tx| {
                tx.end_right(
                    appointment,
                    Some(keyward::domain::EndReason::Mutation),
                    Some(crate::support::world::date("2030-03-20")),
                )
            },
        )
        .unwrap();
    assert_eq!(cluster.world.last_audit("right.shorten"), found[4].3);
}

#[test]
fn a_node_that_loses_its_revocation_listener_drops_every_key_and_listens_again() {
    let cluster = Cluster::new("served_listener_lost");
    // bleroy's next code on B: the key is unsealed there.
    let next_on_b = || {
        let passcode = format!("{PIN}{}", cluster.device.hotp(cluster.floor() + 1));
        verify(
            &agent(),
            &cluster.b,
            &cluster.gateway_key,
            "bleroy",
            &passcode,
        )
    };
    // B listens first: its listener clears the cache when it starts, which
    // on a loaded machine may come after the first verify.
    until_health(&cluster.b, |c| c["listening"] == true);
    assert_eq!(next_on_b(), (200, "accept".to_owned()));
    let before = until_health(&cluster.b, |c| c["keys"] == 1 && c["listening"] == true);
    let cleared = before["cleared"].as_u64().unwrap();
    // The server ends every listening connection (both nodes').
    let ended = cluster.query(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE application_name = '{}' AND datname = current_database()",
        keyward::store::postgres::key_cache::LISTENER_NAME
    ));
    assert_eq!(ended.len(), 2, "one listener per node");
    // B dropped its key (it may have missed a revoke) and listens again.
    let after = until_health(&cluster.b, |c| {
        c["cleared"].as_u64().unwrap() >= cleared + 2 && c["listening"] == true
    });
    assert_eq!(after["keys"], 0, "{after}");
    // A revoke now still reaches it.
    assert_eq!(next_on_b(), (200, "accept".to_owned()));
    let (status, _) = post(
        &agent(),
        &cluster.a,
        &cluster.desk_key,
        "/v1/tokens/KW-0001/revoke",
        json!({ "reason": "broken" }),
    );
    assert_eq!(status, 200);
    until_health(&cluster.b, |c| c["keys"] == 0 && c["evicted"] == 1);
}

/// `GET /v1/health` of `node`.
fn health(node: &Served) -> Value {
    agent()
        .get(format!("{}/v1/health", node.url))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap()
}

/// `node`'s key cache (`GET /v1/health`) once `wanted` holds of it; fails
/// after 30 s.
fn until_health(node: &Served, wanted: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let cache = health(node)["key_cache"].clone();
        if wanted(&cache) {
            return cache;
        }
        assert!(Instant::now() < deadline, "never reached: {cache}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// `POST path` on `node` with `key`: the status and the answer.
fn post(agent: &ureq::Agent, node: &Served, key: &str, path: &str, body: Value) -> (u16, Value) {
    let mut answer = agent
        .post(format!("{}{path}", node.url))
        .header("authorization", &format!("Bearer {key}"))
        .send_json(body)
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.body_mut().read_json().unwrap())
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

/// Row MACs on PostgreSQL (docs/postgres.md, "Row MACs"): the rows `store
/// copy` and the nodes write carry MACs a node accepts; an API key, a
/// token or a district edited by hand is refused `409 record_tampered`,
/// audited, and nothing changes.
#[test]
fn rows_edited_in_the_database_are_refused_by_a_served_node() {
    let mut west = String::new();
    let cluster = Cluster::with("served_row_macs", |world, _| {
        west = api_key(
            world,
            "west",
            Role::Inspector,
            Some("D-OUEST"),
            Some("lbernard"),
        );
    });
    let agent = agent();
    let next = || format!("{PIN}{}", cluster.device.hotp(cluster.floor() + 1));
    let accepted = || {
        let passcode = next();
        verify(
            &agent,
            &cluster.b,
            &cluster.gateway_key,
            "bleroy",
            &passcode,
        )
    };
    let refused_as_tampered = |(status, body): (u16, Value)| {
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error"]["detail"], "record_tampered", "{body}");
    };
    let revoke = |key: &str| {
        post(
            &agent,
            &cluster.a,
            key,
            "/v1/tokens/KW-0001/revoke",
            json!({ "reason": "lost" }),
        )
    };
    // What `store copy` wrote decides.
    assert_eq!(accepted(), (200, "accept".to_owned()));

    // The desk's key made a gateway's by hand: it may not ask verify.
    cluster.query("UPDATE api_keys SET role = 'gateway' WHERE name = 'desk'");
    let passcode = next();
    refused_as_tampered(verify_answer(
        &agent,
        &cluster.b,
        &cluster.desk_key,
        "bleroy",
        &passcode,
    ));
    // Made an admin's: it may not end an appointment.
    cluster.query("UPDATE api_keys SET role = 'admin' WHERE name = 'desk'");
    let appointment: i64 = cluster.query("SELECT id FROM rights WHERE person = 'bleroy'")[0].get(0);
    refused_as_tampered(post(
        &agent,
        &cluster.a,
        &cluster.desk_key,
        &format!("/v1/rights/{appointment}/end"),
        json!({ "reason": "mutation" }),
    ));
    // Put back as keyward wrote it, the row matches again.
    cluster.query("UPDATE api_keys SET role = 'desk' WHERE name = 'desk'");
    let (status, _) = post(
        &agent,
        &cluster.a,
        &cluster.desk_key,
        &format!("/v1/rights/{appointment}/end"),
        json!({ "reason": "mutation" }),
    );
    assert_eq!(status, 403, "the desk does not end an appointment");

    // bleroy's key moved to the west district by hand: its inspector may
    // not revoke it.
    cluster.query("UPDATE tokens SET district = 'D-OUEST'");
    refused_as_tampered(revoke(&west));
    cluster.query("UPDATE tokens SET district = 'D-EST'");
    // The east district handed to the west inspector by hand.
    cluster.query("UPDATE districts SET inspector = 'lbernard' WHERE code = 'D-EST'");
    refused_as_tampered(revoke(&cluster.inspector_key));
    cluster.query("UPDATE districts SET inspector = 'pmartin' WHERE code = 'D-EST'");
    // Nothing changed: the key is live and logs in.
    assert_eq!(accepted(), (200, "accept".to_owned()));
    assert_eq!(
        cluster.query("SELECT count(*) FROM audit WHERE action = 'token.revoke'")[0]
            .get::<_, i64>(0),
        0
    );

    // The revoke a node writes carries MACs: the token revoked, then made
    // active again by hand, is not revoked twice.
    let (status, token) = revoke(&cluster.inspector_key);
    assert_eq!((status, token["state"].as_str()), (200, Some("revoked")));
    cluster.query("UPDATE tokens SET state = 'active', revoke_reason = NULL");
    refused_as_tampered(revoke(&cluster.desk_key));

    // Every refusal audited once, naming the record, never a value.
    let details: Vec<String> = cluster
        .query(
            "SELECT detail FROM audit WHERE action = 'refused'
             AND detail LIKE '%does not match its MAC%' ORDER BY seq",
        )
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(details.len(), 5, "{details:?}");
    for (detail, table) in
        details
            .iter()
            .zip(["api_keys", "api_keys", "tokens", "districts", "tokens"])
    {
        assert!(detail.contains(&format!("the {table} record")), "{detail}");
    }
}

/// A node holds a refusal to its `refusal_floor_ms`, as the SQLite daemon
/// does, and answers an accept at once. Before, a node answered a refusal
/// as soon as it was committed.
#[test]
fn a_node_holds_a_refusal_to_the_floor_and_not_an_accept() {
    let cluster = Cluster::new("served_refusal_floor");
    let floor = std::time::Duration::from_millis(500);
    let nodes = tempfile::tempdir().unwrap();
    let master = cluster.world.dir.path().join("data").join("master.key");
    let c = start_node(
        nodes.path(),
        "c",
        &cluster.db.url(),
        &cluster.password,
        &master,
        &cluster.clock,
        "refusal_floor_ms = 500\n",
    );
    let agent = agent();
    let key = &cluster.gateway_key;
    for login in ["bleroy", "nobody"] {
        let started = Instant::now();
        let answer = verify(&agent, &c, key, login, &format!("{PIN}000000"));
        let took = started.elapsed();
        assert_eq!(answer, (200, "reject".to_owned()), "{login}");
        assert!(took >= floor, "{login}: answered after {took:?}");
    }
    let next = cluster.floor() + 1;
    let started = Instant::now();
    let answer = verify(
        &agent,
        &c,
        key,
        "bleroy",
        &format!("{PIN}{}", cluster.device.hotp(next)),
    );
    let took = started.elapsed();
    assert_eq!(answer, (200, "accept".to_owned()));
    assert!(took < floor, "an accept answered after {took:?}");
}

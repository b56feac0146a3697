//! keyward on PostgreSQL (docs/postgres.md): the harness's real server,
//! the `[store]` configuration against it, and the verify decision's
//! guarantees with two nodes writing to one database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use keyward::crypto::{Keys, MasterKey};
use keyward::domain::{Clock, FixedClock, PersonId};
use keyward::otp::{
    Algorithm, CredentialKey, CredentialParams, Digits, OtpKind, Period, Secret, Totp,
};
use keyward::store::audit::{AuditEntry, MacEncoding};
use keyward::store::postgres::chain::verify_chain;
use keyward::store::postgres::ledger::{NewCredential, PgLedger};
use keyward::store::postgres::node::{NodeSettings, Possession, VerifyNode};
use keyward::store::postgres::row_mac::{SealedRow, RIGHTS};
use keyward::store::postgres::{self as pg, PgError, PgTarget, StoreBackend};
use keyward::store::AuditBreak;
use rusqlite::types::Value;

use crate::support::postgres::{self as harness, TestDb};

/// A period start, far from any real clock.
const T0: u64 = 1_900_000_020;
const PIN: &str = "482913";

fn target(db: &TestDb, dir: &std::path::Path) -> PgTarget {
    let file = db.password_file(dir);
    match StoreBackend::from_keys(&db.url(), Some(&file), None).unwrap() {
        StoreBackend::Postgres(target) => target,
        StoreBackend::Sqlite => panic!("a postgres:// url parsed as SQLite"),
    }
}

/// Writes right 1 of `holder` (an appointment from 2020-09-01 until
/// `until`) as keyward writes it: with its row MAC.
async fn write_right(
    pool: &deadpool_postgres::Pool,
    keys: &Keys,
    holder: &PersonId,
    until: Option<&str>,
) {
    let values = vec![
        Value::Integer(1),
        Value::Text(holder.as_str().to_owned()),
        Value::Text("0750001U".into()),
        Value::Text("D-OUEST".into()),
        Value::Text("appointment".into()),
        Value::Text("2020-09-01".into()),
        until.map_or(Value::Null, |u| Value::Text(u.to_owned())),
        Value::Null,
        Value::Null,
    ];
    let mac = SealedRow::new(RIGHTS, values)
        .unwrap()
        .mac_of(keys.row_key());
    pool.get()
        .await
        .unwrap()
        .execute(
            "INSERT INTO rights (id, person, school, district, origin, from_date, until_date,
                 row_mac)
             VALUES (1, $1, '0750001U', 'D-OUEST', 'appointment', '2020-09-01', $2, $3)
             ON CONFLICT (id) DO UPDATE SET until_date = $2, row_mac = $3",
            &[&holder.as_str(), &until, &mac],
        )
        .await
        .unwrap();
}

/// A database with one holder's TOTP credential (SHA-1, 6 digits, 30 s)
/// and two nodes on it, each with its own pool and writer.
struct TwoNodes {
    _dir: tempfile::TempDir,
    target: PgTarget,
    pool_a: deadpool_postgres::Pool,
    keys: Arc<Keys>,
    clock: Arc<FixedClock>,
    key: CredentialKey,
    holder: PersonId,
    a: Arc<VerifyNode>,
    b: Arc<VerifyNode>,
}

impl TwoNodes {
    async fn new(test: &str) -> TwoNodes {
        let dir = tempfile::tempdir().unwrap();
        let db = harness::database(test);
        let target = target(&db, dir.path());
        let pool_a = pg::connect(&target, 4).await.unwrap();
        let pool_b = pg::connect(&target, 4).await.unwrap();
        let keys = Arc::new(MasterKey::generate().unwrap().keys().unwrap());
        let clock = Arc::new(FixedClock::new(T0));
        let secret = Secret::generate(Algorithm::Sha1).unwrap();
        let holder = PersonId::parse("jdupont").unwrap();
        let params = CredentialParams {
            kind: OtpKind::Totp {
                period: Period::DEFAULT,
            },
            algorithm: Algorithm::Sha1,
            digits: Digits::SIX,
        };
        let new = NewCredential {
            token: "KW-0001",
            holder: &holder,
            params,
            secret: &secret,
            pin: PIN.as_bytes(),
        };
        let mut admin = PgLedger::new(&pool_a, &keys).await.unwrap();
        admin.enrol(&keys, new, T0, "admin").await.unwrap();
        // A right in force, as `keyward store copy` writes it (there is no
        // grant on PostgreSQL yet), with its row MAC: a node accepts only
        // with one.
        write_right(&pool_a, &keys, &holder, None).await;
        let node = |pool: &deadpool_postgres::Pool, name: &str| {
            let (pool, name) = (pool.clone(), name.to_owned());
            let (keys, clock) = (Arc::clone(&keys), Arc::clone(&clock) as Arc<dyn Clock>);
            async move {
                let settings = NodeSettings {
                    name,
                    totp_behind: Totp::DEFAULT_BEHIND,
                    hotp_look_ahead: keyward::otp::Hotp::DEFAULT_LOOK_AHEAD,
                    time_zone: jiff::tz::TimeZone::UTC,
                };
                let ledger = PgLedger::new(&pool, &keys).await.unwrap();
                Arc::new(VerifyNode::start(ledger, keys, clock, settings).unwrap())
            }
        };
        let a = node(&pool_a, "node-a").await;
        let b = node(&pool_b, "node-b").await;
        TwoNodes {
            _dir: dir,
            target,
            pool_a,
            keys,
            key: CredentialKey::new(Algorithm::Sha1, &secret),
            clock,
            holder,
            a,
            b,
        }
    }

    /// The holder's PIN and the code of the clock's current step.
    fn passcode(&self, pin: &str) -> String {
        let code = Totp::new(Digits::SIX, Period::DEFAULT)
            .code_at_time(&self.key, self.clock.now())
            .unwrap();
        format!("{pin}{code}")
    }

    /// `count` requests with `passcode`, sent at once, alternately to node
    /// A and node B; their labels.
    async fn burst(&self, count: usize, passcode: &str) -> Vec<&'static str> {
        self.burst_as(count, self.holder.as_str(), passcode).await
    }

    /// [`TwoNodes::burst`] for `login`.
    async fn burst_as(&self, count: usize, login: &str, passcode: &str) -> Vec<&'static str> {
        let mut tasks = Vec::with_capacity(count);
        for i in 0..count {
            let node = Arc::clone(if i % 2 == 0 { &self.a } else { &self.b });
            let (login, passcode) = (login.to_owned(), passcode.to_owned());
            tasks.push(tokio::spawn(
                async move { node.verify(&login, &passcode).await },
            ));
        }
        let mut labels = Vec::with_capacity(count);
        for task in tasks {
            let (possession, label) = task.await.unwrap().unwrap();
            assert_eq!(
                matches!(possession, Possession::Proved { .. }),
                label == "accept"
            );
            labels.push(label);
        }
        labels
    }

    async fn counters(&self) -> (i32, bool) {
        let client = self.pool_a.get().await.unwrap();
        let row = client
            .query_one(
                "SELECT fails, locked FROM credentials WHERE holder = $1",
                &[&self.holder.as_str()],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    }

    async fn audit_count(&self, like: &str) -> i64 {
        let client = self.pool_a.get().await.unwrap();
        client
            .query_one("SELECT count(*) FROM audit WHERE detail LIKE $1", &[&like])
            .await
            .unwrap()
            .get(0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_harness_runs_postgres_15_and_the_store_logs_in_with_its_password_file() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (
        harness::database("harness one"),
        harness::database("harness two"),
    );
    assert_ne!(one.name, two.name, "one database per test");
    let target = target(&one, dir.path());
    let pool = pg::connect(&target, 2).await.unwrap();
    let client = pool.get().await.unwrap();
    let version: String = client
        .query_one("SHOW server_version", &[])
        .await
        .unwrap()
        .get(0);
    assert!(version.starts_with("15."), "{version}");
    let tables: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('credentials', 'audit', 'audit_head')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(tables, 3, "the migrations ran");
    // A second node connecting finds the schema current and changes nothing.
    pg::connect(&target, 1).await.unwrap();
    let version: i64 = client
        .query_one("SELECT version FROM keyward_schema", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, pg::schema::CURRENT_VERSION);

    // A wrong password is refused by the server; the error does not show it.
    let wrong = dir.path().join("wrong.password");
    keyward::secure_fs::create_private_file(&wrong, b"not-the-password-xyz\n").unwrap();
    let bad = PgTarget {
        password_file: wrong,
        ..target.clone()
    };
    let err = pg::connect(&bad, 1).await.unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(matches!(err, PgError::Db(_) | PgError::Pool(_)), "{shown}");
    assert!(!shown.contains("not-the-password-xyz"), "{shown}");
    assert!(!shown.contains(harness::PASSWORD), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_accept_one_passcode_sent_by_64_clients_exactly_once_per_round() {
    let nodes = TwoNodes::new("one accept per round").await;
    for round in 0..300u64 {
        nodes.clock.set(T0 + 30 * (round + 1));
        let passcode = nodes.passcode(PIN);
        // Logins are case-insensitive on every node.
        let login = if round % 2 == 0 { "JDupont" } else { "jdupont" };
        let labels = nodes.burst_as(64, login, &passcode).await;
        let accepts = labels.iter().filter(|l| **l == "accept").count();
        assert_eq!(accepts, 1, "round {round}: {labels:?}");
        assert!(
            labels.iter().all(|l| matches!(*l, "accept" | "replay")),
            "round {round}: {labels:?}"
        );
    }
    // Both nodes decided, and each batched its own requests.
    for node in [&nodes.a, &nodes.b] {
        let requests = node.stats().requests.load(Ordering::Relaxed);
        let batches = node.stats().batches.load(Ordering::Relaxed);
        assert_eq!(requests, 300 * 32);
        assert!(batches < requests, "no group commit: {batches} batches");
    }
    assert_eq!(nodes.audit_count("credential=% node=node-%").await, 300);

    // The chain written by both nodes at once verifies: the enrolment and
    // one entry per request.
    let mut client = nodes.pool_a.get().await.unwrap();
    let head = verify_chain(&mut client, &nodes.keys)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head.seq, 1 + 300 * 64);

    // And the verification can fail: an edited entry, then a dropped last one.
    client
        .execute("UPDATE audit SET detail = detail || ' ' WHERE seq = 5", &[])
        .await
        .unwrap();
    assert_eq!(
        verify_chain(&mut client, &nodes.keys).await.unwrap(),
        Err(AuditBreak::BadMac { seq: 5 })
    );
    client
        .execute("UPDATE audit SET detail = rtrim(detail) WHERE seq = 5", &[])
        .await
        .unwrap();
    client
        .execute(
            "DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit)",
            &[],
        )
        .await
        .unwrap();
    assert!(matches!(
        verify_chain(&mut client, &nodes.keys).await.unwrap(),
        Err(AuditBreak::Gap { .. })
    ));
}

/// Rewrites the whole chain with MACs in `encoding` (as an earlier
/// keyward wrote them, for [`MacEncoding::V1`]), its head row with it.
async fn rewrite_chain(client: &deadpool_postgres::Client, keys: &Keys, encoding: MacEncoding) {
    let rows = client
        .query(
            "SELECT seq, at, actor, action, subject, detail FROM audit ORDER BY seq",
            &[],
        )
        .await
        .unwrap();
    let mut previous = [0u8; 32];
    for row in &rows {
        let seq: i64 = row.get(0);
        let at: i64 = row.get(1);
        let entry = AuditEntry {
            at: u64::try_from(at).unwrap(),
            actor: row.get(2),
            action: row.get(3),
            subject: row.get(4),
            detail: row.get(5),
        };
        let bytes = entry.encode_as(encoding, u64::try_from(seq).unwrap(), &previous);
        previous = keys.audit_mac(&bytes);
        client
            .execute(
                "UPDATE audit SET mac = $1 WHERE seq = $2",
                &[&&previous[..], &seq],
            )
            .await
            .unwrap();
    }
    client
        .execute("UPDATE audit_head SET mac = $1", &[&&previous[..]])
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_chain_in_the_older_mac_layout_verifies_and_steps_to_the_newer_once() {
    let nodes = TwoNodes::new("mac layout step").await;
    nodes.clock.advance(400);
    nodes.burst(2, &nodes.passcode("111111")).await;
    let mut client = nodes.pool_a.get().await.unwrap();
    // A store written by an earlier keyward: every entry in V1.
    rewrite_chain(&client, &nodes.keys, MacEncoding::V1).await;
    let old = verify_chain(&mut client, &nodes.keys)
        .await
        .unwrap()
        .unwrap();
    assert!(old.seq >= 2, "{old:?}");
    // This keyward appends in V2 after it: still intact.
    nodes.clock.advance(400);
    nodes.burst(2, &nodes.passcode("222222")).await;
    let head = verify_chain(&mut client, &nodes.keys)
        .await
        .unwrap()
        .unwrap();
    assert!(head.seq > old.seq);
    // A V2 entry edited: refused.
    let last = i64::try_from(head.seq).unwrap();
    client
        .execute(
            "UPDATE audit SET subject = 'x' || subject WHERE seq = $1",
            &[&last],
        )
        .await
        .unwrap();
    assert_eq!(
        verify_chain(&mut client, &nodes.keys).await.unwrap(),
        Err(AuditBreak::BadMac { seq: head.seq })
    );
    client
        .execute(
            "UPDATE audit SET subject = substr(subject, 2) WHERE seq = $1",
            &[&last],
        )
        .await
        .unwrap();
    // An older keyward appending after the step (its MAC right, in V1):
    // the chain never steps back.
    let entry = AuditEntry {
        at: nodes.clock.now(),
        actor: "gateway",
        action: "verify.reject",
        subject: "jdupont",
        detail: "reason=wrong PIN failures=1",
    };
    let seq = head.seq + 1;
    let mac = nodes
        .keys
        .audit_mac(&entry.encode_as(MacEncoding::V1, seq, &head.mac));
    client
        .execute(
            "INSERT INTO audit (seq, at, actor, action, subject, detail, mac)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &i64::try_from(seq).unwrap(),
                &i64::try_from(entry.at).unwrap(),
                &entry.actor,
                &entry.action,
                &entry.subject,
                &entry.detail,
                &&mac[..],
            ],
        )
        .await
        .unwrap();
    client
        .execute(
            "UPDATE audit_head SET seq = $1, mac = $2",
            &[&i64::try_from(seq).unwrap(), &&mac[..]],
        )
        .await
        .unwrap();
    assert_eq!(
        verify_chain(&mut client, &nodes.keys).await.unwrap(),
        Err(AuditBreak::OlderEncoding { seq })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_codes_sent_to_two_nodes_lock_the_credential_at_exactly_ten() {
    let nodes = TwoNodes::new("lock at ten").await;
    let mut counted = 0;
    for round in 0..20 {
        // Past any delay the previous failures imposed.
        nodes.clock.advance(400);
        let wrong = nodes.passcode("111111");
        let labels = nodes.burst(6, &wrong).await;
        counted += labels.iter().filter(|l| **l == "wrong_pin").count();
        let (fails, locked) = nodes.counters().await;
        assert_eq!(
            usize::try_from(fails).unwrap(),
            counted,
            "round {round}: {labels:?}"
        );
        assert_eq!(locked, counted >= 10, "round {round}: {labels:?}");
        assert!(
            labels
                .iter()
                .all(|l| matches!(*l, "wrong_pin" | "throttled" | "locked")),
            "round {round}: {labels:?}"
        );
    }
    assert_eq!(counted, 10, "failures counted across both nodes");
    assert_eq!(nodes.counters().await, (10, true));
    assert_eq!(nodes.audit_count("%locked=now%").await, 1);
    // Locked: the right PIN and code are refused on both nodes.
    nodes.clock.advance(400);
    let labels = nodes.burst(2, &nodes.passcode(PIN)).await;
    assert_eq!(labels, ["locked", "locked"]);
    let mut client = nodes.pool_a.get().await.unwrap();
    assert!(verify_chain(&mut client, &nodes.keys)
        .await
        .unwrap()
        .is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_that_does_not_exist_locks_at_ten_on_both_nodes_like_a_real_one() {
    let nodes = TwoNodes::new("phantom lock").await;
    let mut counted = 0;
    for round in 0..20 {
        nodes.clock.advance(400);
        let labels = nodes.burst_as(6, "nobody.here", "111111123456").await;
        counted += labels.iter().filter(|l| **l == "unknown_login").count();
        assert!(
            labels
                .iter()
                .all(|l| matches!(*l, "unknown_login" | "throttled" | "locked")),
            "round {round}: {labels:?}"
        );
    }
    assert_eq!(counted, 10, "failures counted across both nodes");
    let client = nodes.pool_a.get().await.unwrap();
    let row = client
        .query_one("SELECT fails, locked FROM phantom_counters", &[])
        .await
        .unwrap();
    assert_eq!((row.get::<_, i32>(0), row.get::<_, bool>(1)), (10, true));
    assert_eq!(nodes.audit_count("%locked=now%").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_whose_connections_the_server_closed_reconnect_and_never_accept_twice() {
    let nodes = TwoNodes::new("reconnect").await;
    nodes.clock.advance(30);
    assert_eq!(
        nodes
            .burst(8, &nodes.passcode(PIN))
            .await
            .iter()
            .filter(|l| **l == "accept")
            .count(),
        1
    );
    // The server drops every keyward connection to this test's database
    // (as a restart would; other tests share the server).
    let killer = nodes.pool_a.get().await.unwrap();
    let killed: i64 = killer
        .query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = 'keyward' AND datname = current_database()
               AND pid <> pg_backend_pid()) AS t",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(killed >= 2, "{killed}");
    drop(killer);
    // The same passcode again: never accepted, and never unavailable: a
    // batch that found its connection closed before its commit is run
    // again on a new one.
    let passcode = nodes.passcode(PIN);
    let mut unavailable = 0;
    for node in [&nodes.a, &nodes.b, &nodes.a, &nodes.b] {
        match node.verify(nodes.holder.as_str(), &passcode).await {
            Ok((possession, label)) => {
                assert_eq!(possession, Possession::Refused { hold: None }, "{label}");
                assert_eq!(label, "replay");
            }
            Err(PgError::Unavailable) => unavailable += 1,
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(unavailable, 0, "answers unavailable");
    // The next step is accepted once, by the reconnected nodes.
    nodes.clock.advance(30);
    let labels = nodes.burst(8, &nodes.passcode(PIN)).await;
    assert_eq!(
        labels.iter().filter(|l| **l == "accept").count(),
        1,
        "{labels:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_revoked_on_one_node_is_never_accepted_by_the_other_after_the_answer() {
    let nodes = TwoNodes::new("revoke under load").await;
    let revoked = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let before = Arc::new(AtomicUsize::new(0));
    let mut load = Vec::new();
    for _ in 0..16 {
        let (b, clock, key) = (
            Arc::clone(&nodes.b),
            Arc::clone(&nodes.clock),
            nodes.key.clone(),
        );
        let (revoked, stop, before) =
            (Arc::clone(&revoked), Arc::clone(&stop), Arc::clone(&before));
        let login = nodes.holder.as_str().to_owned();
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let after_revoke = revoked.load(Ordering::SeqCst);
                let code = Totp::new(Digits::SIX, Period::DEFAULT)
                    .code_at_time(&key, clock.now())
                    .unwrap();
                let (possession, label) = b.verify(&login, &format!("{PIN}{code}")).await.unwrap();
                if matches!(possession, Possession::Proved { .. }) {
                    assert!(!after_revoke, "node B accepted after the revoke answered");
                    before.fetch_add(1, Ordering::SeqCst);
                } else if after_revoke {
                    // Refused like a login without a key (its phantom
                    // counters slow it down).
                    assert!(
                        matches!(label, "unknown_login" | "throttled" | "locked"),
                        "{label}"
                    );
                }
            }
        }));
    }
    let mut admin = PgLedger::new(&nodes.pool_a, &nodes.keys).await.unwrap();
    for i in 0..80 {
        nodes.clock.advance(30);
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        if i == 40 {
            assert!(admin
                .revoke(&nodes.keys, &nodes.holder, nodes.clock.now(), "admin")
                .await
                .unwrap());
            revoked.store(true, Ordering::SeqCst);
        }
    }
    stop.store(true, Ordering::SeqCst);
    for task in load {
        task.await.unwrap();
    }
    assert!(
        before.load(Ordering::SeqCst) > 0,
        "node B accepted nothing before the revoke"
    );
    let _ = &nodes.target;
}

#[test]
fn keyward_serve_on_a_postgres_store_is_a_node_and_refuses_a_password_in_the_url() {
    use crate::support::cli;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    cli::init(&data);
    let config = data.join("keyward.toml");
    let original = std::fs::read_to_string(&config).unwrap();
    let write = |store: &str| std::fs::write(&config, format!("{original}\n{store}")).unwrap();

    // A password in the url: refused by the configuration, never echoed.
    write("[store]\nurl = \"postgres://kw:url-secret-pw@127.0.0.1/keyward\"\npassword_file = \"/nonexistent\"\n");
    let out = cli::run(cli::keyward(["serve", "--data"]).arg(&data));
    let stderr = cli::text(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("store.url"), "{stderr}");
    assert!(!stderr.contains("url-secret-pw"), "{stderr}");

    // A PostgreSQL store: serve runs as a node on it, which refuses what
    // it does not do yet (init's config has [radius]), in plain words.
    write(
        "[store]\nurl = \"postgres://kw@127.0.0.1/keyward\"\npassword_file = \"/etc/keyward/pg\"\n",
    );
    let out = cli::run(cli::keyward(["serve", "--data"]).arg(&data));
    let stderr = cli::text(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("PostgreSQL"), "{stderr}");
    assert!(stderr.contains("[radius]"), "{stderr}");
    assert!(stderr.contains("docs/postgres.md"), "{stderr}");
    // What a node on PostgreSQL does not do yet is refused, never served
    // from the SQLite store beside it.
    let out = cli::run(cli::keyward(["serve", "--init", "--data"]).arg(&data));
    let stderr = cli::text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("--init") && stderr.contains("PostgreSQL"),
        "{stderr}"
    );
}

// --- Row MACs (docs/postgres.md, "Row MACs"): a row edited with plain
// SQL, behind keyward's back, decides nothing.

impl TwoNodes {
    /// One statement on the database, as someone editing it by hand.
    async fn edit(&self, sql: &str) {
        let client = self.pool_a.get().await.unwrap();
        client.batch_execute(sql).await.unwrap();
    }

    async fn verify_on_b(&self, passcode: &str) -> &'static str {
        self.b
            .verify(self.holder.as_str(), passcode)
            .await
            .unwrap()
            .1
    }

    /// The holder's right passcode at the next step, on node B.
    async fn next_step_on_b(&self) -> &'static str {
        self.clock.advance(30);
        self.verify_on_b(&self.passcode(PIN)).await
    }

    /// The holder's credential row, as stored (every column but the MAC).
    async fn credential_text(&self) -> String {
        let client = self.pool_a.get().await.unwrap();
        client
            .query_one(
                "SELECT (id, floor, drift, fails, locked, retry_at, live, last_used_at)::text
                 FROM credentials WHERE holder = $1",
                &[&self.holder.as_str()],
            )
            .await
            .unwrap()
            .get(0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_floor_lowered_in_the_database_does_not_replay_an_accepted_code() {
    let nodes = TwoNodes::new("row mac floor").await;
    let passcode = nodes.passcode(PIN);
    // Untouched rows decide: accepted once, then a replay.
    assert_eq!(
        nodes
            .a
            .verify(nodes.holder.as_str(), &passcode)
            .await
            .unwrap()
            .1,
        "accept"
    );
    assert_eq!(nodes.verify_on_b(&passcode).await, "replay");
    // The floor lowered by hand, to replay the accepted code.
    nodes.edit("UPDATE credentials SET floor = floor - 1").await;
    let edited = nodes.credential_text().await;
    assert_eq!(nodes.verify_on_b(&passcode).await, "unknown_login");
    // The next step too: the edited record decides nothing and is never
    // written (nor MACed again).
    assert_eq!(nodes.next_step_on_b().await, "unknown_login");
    assert_eq!(nodes.credential_text().await, edited);
    assert_eq!(nodes.audit_count("%row MAC mismatch%").await, 2);
    assert_eq!(nodes.audit_count("%reason=unknown login%").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failures_reset_in_the_database_do_not_unlock_a_credential() {
    let nodes = TwoNodes::new("row mac fails").await;
    for _ in 0..40 {
        nodes.clock.advance(1000);
        nodes.verify_on_b(&nodes.passcode("000000")).await;
        if nodes.counters().await.1 {
            break;
        }
    }
    assert_eq!(nodes.counters().await, (10, true));
    assert_eq!(nodes.next_step_on_b().await, "locked");
    // Unlocked by hand.
    nodes
        .edit("UPDATE credentials SET fails = 0, locked = false, retry_at = 0")
        .await;
    nodes.clock.advance(30);
    let label = nodes
        .a
        .verify(nodes.holder.as_str(), &nodes.passcode(PIN))
        .await
        .unwrap()
        .1;
    assert_eq!(label, "unknown_login");
    assert_eq!(nodes.counters().await, (0, false), "nothing written to it");
    assert_eq!(nodes.audit_count("%row MAC mismatch%").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoked_key_restored_from_a_database_copy_is_not_accepted() {
    let nodes = TwoNodes::new("row mac revoked").await;
    let client = nodes.pool_a.get().await.unwrap();
    // What a copy of the database taken before the revoke holds.
    let before = client
        .query_one("SELECT sealed, pin_verifier FROM credentials", &[])
        .await
        .unwrap();
    let (sealed, verifier): (Vec<u8>, Vec<u8>) = (before.get(0), before.get(1));
    let mut admin = PgLedger::new(&nodes.pool_a, &nodes.keys).await.unwrap();
    assert!(admin
        .revoke(&nodes.keys, &nodes.holder, T0, "admin")
        .await
        .unwrap());
    assert_eq!(
        nodes.verify_on_b(&nodes.passcode(PIN)).await,
        "unknown_login"
    );
    // The key made live again, its secret and PIN verifier put back.
    client
        .execute(
            "UPDATE credentials SET live = true, sealed = $1, pin_verifier = $2",
            &[&sealed, &verifier],
        )
        .await
        .unwrap();
    assert_eq!(nodes.next_step_on_b().await, "unknown_login");
    assert_eq!(nodes.audit_count("%row MAC mismatch%").await, 1);
    // A revoke of an edited row is refused too: nothing is MACed again.
    let err = admin
        .revoke(&nodes.keys, &nodes.holder, T0, "admin")
        .await
        .unwrap_err();
    assert!(
        keyward::store::postgres::row_mac::is_tampered(&err),
        "{err}"
    );
    let live: bool = client
        .query_one("SELECT live FROM credentials", &[])
        .await
        .unwrap()
        .get(0);
    assert!(live, "the refused revoke changed nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_right_extended_in_the_database_entitles_nobody() {
    let nodes = TwoNodes::new("row mac right").await;
    // The right ended in 2021, as keyward writes it: refused for want of a
    // right (so the row's MAC is good and it decided).
    write_right(
        &nodes.pool_a,
        &nodes.keys,
        &nodes.holder,
        Some("2021-06-30"),
    )
    .await;
    assert_eq!(
        nodes.verify_on_b(&nodes.passcode(PIN)).await,
        "no_right_in_force"
    );
    // Extended by hand.
    nodes.edit("UPDATE rights SET until_date = NULL").await;
    assert_eq!(nodes.next_step_on_b().await, "unknown_login");
    assert_eq!(nodes.audit_count("%row MAC mismatch%").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_phantom_slot_unlocked_in_the_database_stays_locked() {
    let nodes = TwoNodes::new("row mac phantom").await;
    let locked = || async {
        let client = nodes.pool_a.get().await.unwrap();
        let row = client
            .query_one("SELECT fails, locked FROM phantom_counters", &[])
            .await
            .unwrap();
        (row.get::<_, i32>(0), row.get::<_, bool>(1))
    };
    for _ in 0..40 {
        nodes.clock.advance(1000);
        nodes.a.verify("nobody.here", "111111123456").await.unwrap();
        if locked().await.1 {
            break;
        }
    }
    assert_eq!(locked().await, (10, true));
    nodes
        .edit("UPDATE phantom_counters SET fails = 0, locked = false, retry_at = 0")
        .await;
    nodes.clock.advance(1000);
    let label = nodes
        .b
        .verify("nobody.here", "111111123456")
        .await
        .unwrap()
        .1;
    assert_eq!(label, "locked");
    assert_eq!(locked().await, (0, false), "nothing written to it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sealed_tables_columns_are_those_the_row_macs_cover() {
    let dir = tempfile::tempdir().unwrap();
    let db = harness::database("row mac layout");
    let pool = pg::connect(&target(&db, dir.path()), 1).await.unwrap();
    let client = pool.get().await.unwrap();
    for table in keyward::store::postgres::row_mac::SEALED_TABLES {
        let columns: Vec<String> = client
            .query(
                "SELECT column_name::text FROM information_schema.columns
                 WHERE table_name = $1 ORDER BY ordinal_position",
                &[&table.name],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut expected: Vec<String> = table.columns.iter().map(|c| (*c).to_owned()).collect();
        expected.push("row_mac".to_owned());
        assert_eq!(columns, expected, "{}", table.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rows_written_before_the_row_macs_are_sealed_once_by_a_node_with_the_master_key() {
    let nodes = TwoNodes::new("row mac upgrade").await;
    // The database as keyward before migration 6 left it: no MAC column.
    let mut undo = String::new();
    for table in keyward::store::postgres::row_mac::SEALED_TABLES {
        undo.push_str(&format!("ALTER TABLE {} DROP COLUMN row_mac;", table.name));
    }
    undo.push_str("UPDATE keyward_schema SET version = 5;");
    nodes.edit(&undo).await;
    // Without the master key the migration is refused, and changes nothing.
    let err = pg::connect(&nodes.target, 1).await.unwrap_err();
    assert!(matches!(err, PgError::RowMacsNeedKey), "{err}");
    // A node holding it seals every row there, in the migration's
    // transaction, and says so in the audit.
    let sealing = pg::schema::Sealing {
        keys: &nodes.keys,
        at: T0,
    };
    let pool = pg::connect_sealing(&nodes.target, 1, Some(sealing))
        .await
        .unwrap();
    let client = pool.get().await.unwrap();
    let unsealed: i64 = client
        .query_one(
            "SELECT (SELECT count(*) FROM credentials WHERE row_mac IS NULL)
                  + (SELECT count(*) FROM rights WHERE row_mac IS NULL)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(unsealed, 0);
    assert_eq!(nodes.audit_count("sealed=2 schema=6").await, 1);
    // The sealed rows decide: the holder is accepted.
    assert_eq!(nodes.verify_on_b(&nodes.passcode(PIN)).await, "accept");
    // A MAC removed later is never filled in again: the row stays refused.
    nodes.edit("UPDATE rights SET row_mac = NULL").await;
    pg::connect_sealing(&nodes.target, 1, Some(sealing))
        .await
        .unwrap();
    assert_eq!(nodes.next_step_on_b().await, "unknown_login");
}

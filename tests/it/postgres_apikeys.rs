//! API keys managed through nodes on PostgreSQL (docs/postgres.md): the
//! same scenarios sent to the SQLite daemon (its router, in process) and
//! to a real `keyward serve` node on a database filled by `keyward store
//! copy` from the same SQLite store, answered alike (status, codes, the
//! answer's shape, the audit entries), never showing a key but in the
//! create answer; and a key created or revoked through one node followed
//! by another on the very next request.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt as _;
use keyward::api::{app, AppState};
use keyward::devices::DeviceManager;
use keyward::domain::Role;
use keyward::store::Store;
use serde_json::Value;
use tower::ServiceExt as _;

use crate::support::cli;
use crate::support::pg_nodes::{
    agent, api_key, gateway_key, query, start_node, store_copy, target,
};
use crate::support::postgres::{self as harness, TestDb};
use crate::support::serve::Served;
use crate::support::world::{world, Device, World, SCHOOL_EAST};

const NOW: u64 = 1_900_000_020;
const PIN: &str = "482913";

/// Who calls, by the keys made before the copy.
#[derive(Clone, Copy, Debug)]
enum By {
    Admin,
    Desk,
    Gateway,
    Nobody,
}

/// The SQLite daemon (its router in process, on the store the copy was
/// made from) and two nodes (a, b) on the copy.
struct Both {
    sqlite: AppState,
    store: Arc<Store>,
    db: TestDb,
    password: PathBuf,
    clock: PathBuf,
    device: Device,
    admin_key: String,
    desk_key: String,
    gateway_key: String,
    a: Served,
    b: Served,
    _world: tempfile::TempDir,
    _nodes: tempfile::TempDir,
    /// Runs the SQLite daemon's router; dropped last.
    runtime: tokio::runtime::Runtime,
}

impl Both {
    fn new(test: &str) -> Both {
        let world = world(NOW);
        world.appoint("bleroy", SCHOOL_EAST, "2029-09-01", None);
        let device = world.active_hotp("bleroy", "KW-0001", PIN);
        let gateway_key = gateway_key(&world);
        let desk_key = api_key(&world, "desk", Role::Desk, None, Some("alice"));
        api_key(
            &world,
            "east",
            Role::Inspector,
            Some("D-EST"),
            Some("pmartin"),
        );
        let admin_key = api_key(&world, "admin", Role::Admin, None, Some("alice"));
        // cmoreau's desk key vouches for her on the node (docs/postgres.md).
        api_key(&world, "cm", Role::Desk, None, Some("cmoreau"));
        let nodes = tempfile::tempdir().unwrap();
        let db = harness::database(test);
        let password = db.password_file(nodes.path());
        let clock = nodes.path().join("clock");
        std::fs::write(&clock, NOW.to_string()).unwrap();
        let data = world.dir.path().join("data");
        store_copy(&data, &db.url(), &password, &clock);
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
        let (a, b) = (node("a"), node("b"));
        let World {
            dir,
            clock: fixed,
            store,
        } = world;
        let store = Arc::new(store);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let sqlite = runtime.block_on(async {
            let devices = DeviceManager::new(
                store.clone(),
                fixed.clone(),
                keyward::profile::builtin().unwrap(),
            );
            AppState::new(store.clone(), devices, fixed.clone()).unwrap()
        });
        Both {
            sqlite,
            store,
            db,
            password,
            clock,
            device,
            admin_key,
            desk_key,
            gateway_key,
            a,
            b,
            _world: dir,
            _nodes: nodes,
            runtime,
        }
    }

    fn key(&self, by: By) -> Option<&str> {
        match by {
            By::Admin => Some(&self.admin_key),
            By::Desk => Some(&self.desk_key),
            By::Gateway => Some(&self.gateway_key),
            By::Nobody => None,
        }
    }

    /// `method path` with `body` to the SQLite daemon: status and answer
    /// (`Null` when empty).
    fn on_sqlite(&self, by: By, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(key) = self.key(by) {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(Body::from(body.to_owned()))
                .unwrap(),
            None => request.body(Body::empty()).unwrap(),
        };
        let state = self.sqlite.clone();
        self.runtime.block_on(async move {
            let response = app(state).oneshot(request).await.unwrap();
            let status = response.status().as_u16();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (status, answer_of(&bytes))
        })
    }

    /// The same on `node`, over HTTP.
    fn on_node(
        &self,
        node: &Served,
        by: By,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> (u16, Value) {
        node_call(node, self.key(by), method, path, body)
    }

    /// The SQLite store's audit entries after `seq`: (seq, actor, action,
    /// subject, detail).
    fn sqlite_audit(&self, seq: i64) -> Vec<(i64, String, String, String, String)> {
        let conn = rusqlite::Connection::open_with_flags(
            self.store.db_path(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT seq, actor, action, subject, detail FROM audit WHERE seq > ?1 ORDER BY seq",
            )
            .unwrap();
        stmt.query_map([seq], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }

    /// The same on PostgreSQL.
    fn pg_audit(&self, seq: i64) -> Vec<(i64, String, String, String, String)> {
        self.query(&format!(
            "SELECT seq, actor, action, subject, detail FROM audit WHERE seq > {seq} ORDER BY seq"
        ))
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect()
    }

    fn query(&self, sql: &str) -> Vec<tokio_postgres::Row> {
        query(&target(&self.db.url(), &self.password), sql)
    }

    fn advance(&self, seconds: u64) {
        let now: u64 = std::fs::read_to_string(&self.clock)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let next = self.clock.with_extension("next");
        std::fs::write(&next, (now + seconds).to_string()).unwrap();
        std::fs::rename(&next, &self.clock).unwrap();
    }
}

/// An answer's body as JSON (`Null` when empty, a JSON string when it is
/// not JSON).
fn answer_of(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// `method path` with `key` and `body` on `node`, over HTTP.
fn node_call(
    node: &Served,
    key: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, Value) {
    let url = format!("{}{path}", node.url);
    let bearer = key.map(|k| format!("Bearer {k}"));
    let agent = agent();
    let sent = match (method, body) {
        ("GET", None) => {
            let call = agent.get(&url);
            match &bearer {
                Some(b) => call.header("authorization", b),
                None => call,
            }
            .call()
        }
        ("DELETE", None) => {
            let call = agent.delete(&url);
            match &bearer {
                Some(b) => call.header("authorization", b),
                None => call,
            }
            .call()
        }
        ("POST", Some(body)) => {
            let call = agent.post(&url).header("content-type", "application/json");
            match &bearer {
                Some(b) => call.header("authorization", b),
                None => call,
            }
            .send(body)
        }
        other => panic!("no call {other:?}"),
    };
    let mut answer = sent.unwrap();
    let status = answer.status().as_u16();
    let bytes = answer.body_mut().read_to_vec().unwrap();
    (status, answer_of(&bytes))
}

/// One scenario: who, what, and what both backends must answer.
struct Scenario {
    what: &'static str,
    by: By,
    method: &'static str,
    /// `{created}`: the id of the key the last create answered.
    path: &'static str,
    body: Option<&'static str>,
    status: u16,
    /// The error's code (`None`: a success).
    code: Option<&'static str>,
    /// The audit actions it appends, in order.
    audit: &'static [&'static str],
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        what: "create a gateway key",
        by: By::Admin,
        method: "POST",
        path: "/v1/apikeys",
        body: Some(r#"{"name":" gateway two ","role":"gateway"}"#),
        status: 201,
        code: None,
        audit: &["apikey.create"],
    },
    Scenario {
        what: "revoke it",
        by: By::Admin,
        method: "DELETE",
        path: "/v1/apikeys/{created}",
        body: None,
        status: 204,
        code: None,
        audit: &["apikey.revoke"],
    },
    Scenario {
        what: "revoke it again",
        by: By::Admin,
        method: "DELETE",
        path: "/v1/apikeys/{created}",
        body: None,
        status: 409,
        code: Some("conflict"),
        audit: &["refused"],
    },
    Scenario {
        what: "create a desk key for a person",
        by: By::Admin,
        method: "POST",
        path: "/v1/apikeys",
        body: Some(r#"{"name":"cm2","role":"desk","person":"cmoreau"}"#),
        status: 201,
        code: None,
        audit: &["apikey.create"],
    },
    Scenario {
        what: "create the inspector's key of their district",
        by: By::Admin,
        method: "POST",
        path: "/v1/apikeys",
        body: Some(r#"{"name":"east2","role":"inspector","person":"pmartin","district":"D-EST"}"#),
        status: 201,
        code: None,
        audit: &["apikey.create"],
    },
    Scenario {
        what: "list",
        by: By::Admin,
        method: "GET",
        path: "/v1/apikeys",
        body: None,
        status: 200,
        code: None,
        audit: &[],
    },
    Scenario {
        what: "create, by a desk key",
        by: By::Desk,
        method: "POST",
        path: "/v1/apikeys",
        body: Some(r#"{"name":"gw3","role":"gateway"}"#),
        status: 403,
        code: Some("forbidden"),
        audit: &["refused"],
    },
    Scenario {
        what: "list, by the gateway",
        by: By::Gateway,
        method: "GET",
        path: "/v1/apikeys",
        body: None,
        status: 403,
        code: Some("forbidden"),
        audit: &["refused"],
    },
    Scenario {
        what: "revoke, by a desk key",
        by: By::Desk,
        method: "DELETE",
        path: "/v1/apikeys/1",
        body: None,
        status: 403,
        code: Some("forbidden"),
        audit: &["refused"],
    },
    Scenario {
        what: "list, by nobody",
        by: By::Nobody,
        method: "GET",
        path: "/v1/apikeys",
        body: None,
        status: 401,
        code: Some("unauthenticated"),
        audit: &["refused"],
    },
    Scenario {
        what: "an unknown role",
        by: By::Admin,
        method: "POST",
        path: "/v1/apikeys",
        body: Some(r#"{"name":"x","role":"root"}"#),
        status: 422,
        code: Some("invalid"),
        audit: &["refused"],
    },
    Scenario {
        what: "an inspector key without a district",
        by: By::Admin,
        method: "POST",
        path: "/v1/apikeys",
        body: Some(r#"{"name":"x","role":"inspector","person":"pmartin"}"#),
        status: 422,
        code: Some("invalid"),
        audit: &["refused"],
    },
    Scenario {
        what: "an inspector key for another than the district's inspector",
        by: By::Admin,
        method: "POST",
        path: "/v1/apikeys",
        body: Some(r#"{"name":"x","role":"inspector","person":"cmoreau","district":"D-EST"}"#),
        status: 422,
        code: Some("invalid"),
        audit: &["refused"],
    },
    Scenario {
        what: "a desk key for nobody",
        by: By::Admin,
        method: "POST",
        path: "/v1/apikeys",
        body: Some(r#"{"name":"x","role":"desk"}"#),
        status: 422,
        code: Some("invalid"),
        audit: &["refused"],
    },
    Scenario {
        what: "a gateway key for a person",
        by: By::Admin,
        method: "POST",
        path: "/v1/apikeys",
        body: Some(r#"{"name":"x","role":"gateway","person":"cmoreau"}"#),
        status: 422,
        code: Some("invalid"),
        audit: &["refused"],
    },
    Scenario {
        what: "a desk key for a person unknown",
        by: By::Admin,
        method: "POST",
        path: "/v1/apikeys",
        body: Some(r#"{"name":"x","role":"desk","person":"nobody"}"#),
        status: 403,
        code: Some("forbidden"),
        audit: &["refused"],
    },
    Scenario {
        what: "a gateway key bound to a district",
        by: By::Admin,
        method: "POST",
        path: "/v1/apikeys",
        body: Some(r#"{"name":"x","role":"gateway","district":"D-EST"}"#),
        status: 422,
        code: Some("invalid"),
        audit: &["refused"],
    },
    Scenario {
        what: "an empty name",
        by: By::Admin,
        method: "POST",
        path: "/v1/apikeys",
        body: Some(r#"{"name":"  ","role":"gateway"}"#),
        status: 422,
        code: Some("invalid"),
        audit: &["refused"],
    },
    Scenario {
        what: "revoke an unknown id",
        by: By::Admin,
        method: "DELETE",
        path: "/v1/apikeys/999",
        body: None,
        status: 404,
        code: Some("not_found"),
        audit: &["refused"],
    },
    Scenario {
        what: "revoke an id that is not a number",
        by: By::Admin,
        method: "DELETE",
        path: "/v1/apikeys/abc",
        body: None,
        status: 404,
        code: Some("not_found"),
        audit: &[],
    },
    Scenario {
        what: "a body that is not JSON",
        by: By::Admin,
        method: "POST",
        path: "/v1/apikeys",
        body: Some(r#"{"name":"#),
        status: 400,
        code: Some("bad_request"),
        audit: &[],
    },
    Scenario {
        what: "a body without a role",
        by: By::Admin,
        method: "POST",
        path: "/v1/apikeys",
        body: Some(r#"{"name":"x"}"#),
        status: 400,
        code: Some("bad_request"),
        audit: &[],
    },
    Scenario {
        what: "a body with an unknown field",
        by: By::Admin,
        method: "POST",
        path: "/v1/apikeys",
        body: Some(r#"{"name":"x","role":"gateway","key":"kw_mine"}"#),
        status: 400,
        code: Some("bad_request"),
        audit: &[],
    },
    Scenario {
        what: "list after all that",
        by: By::Admin,
        method: "GET",
        path: "/v1/apikeys",
        body: None,
        status: 200,
        code: None,
        audit: &[],
    },
];

/// A created key's answer with its key set aside: the key, and the rest.
fn without_key(answer: &Value) -> (Option<String>, Value) {
    let mut rest = answer.clone();
    let key = rest
        .as_object_mut()
        .and_then(|o| o.remove("key"))
        .and_then(|k| k.as_str().map(str::to_owned));
    (key, rest)
}

#[test]
fn a_node_manages_api_keys_as_the_sqlite_daemon_does() {
    let both = Both::new("apikeys_scenarios");
    let (mut sqlite_seq, mut pg_seq) = (
        both.sqlite_audit(0).last().unwrap().0,
        both.pg_audit(0).last().unwrap().0,
    );
    let (mut sqlite_created, mut pg_created) = (String::new(), String::new());
    let mut secrets: Vec<String> = Vec::new();
    let mut lists = 0;
    // Every scenario runs, on both; what went wrong is said at the end.
    let mut failures = Vec::new();
    for s in SCENARIOS {
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let on_sqlite = s.path.replace("{created}", &sqlite_created);
            let on_pg = s.path.replace("{created}", &pg_created);
            let (status, sqlite) = both.on_sqlite(s.by, s.method, &on_sqlite, s.body);
            let (pg_status, pg) = both.on_node(&both.a, s.by, s.method, &on_pg, s.body);
            assert_eq!(status, s.status, "{}: SQLite {sqlite}", s.what);
            assert_eq!(pg_status, s.status, "{}: node {pg}", s.what);
            match s.code {
                Some(code) => {
                    assert_eq!(sqlite["error"]["code"], code, "{}: {sqlite}", s.what);
                    // The whole error: code, message, field.
                    assert_eq!(pg, sqlite, "{}", s.what);
                }
                None if s.status == 201 => {
                    let (sqlite_key, sqlite_rest) = without_key(&sqlite);
                    let (pg_key, pg_rest) = without_key(&pg);
                    // The key, shown once: a new one on each side.
                    for key in [&sqlite_key, &pg_key] {
                        let key = key.as_deref().unwrap();
                        assert!(key.starts_with("kw_") && key.len() > 40, "{}", s.what);
                        secrets.push(key.to_owned());
                    }
                    assert_ne!(sqlite_key, pg_key);
                    assert_eq!(pg_rest, sqlite_rest, "{}", s.what);
                    let fields: Vec<&String> = pg_rest.as_object().unwrap().keys().collect();
                    assert_eq!(fields, ["id", "name", "role"], "{}", s.what);
                    sqlite_created = sqlite["id"].to_string();
                    pg_created = pg["id"].to_string();
                }
                None if s.method == "GET" => {
                    // The same list, field for field, and never a key.
                    assert_eq!(pg, sqlite, "{}", s.what);
                    let shown = pg.to_string();
                    assert!(!shown.contains("kw_"), "{}: {shown}", s.what);
                    for secret in &secrets {
                        assert!(!shown.contains(secret.as_str()), "{}", s.what);
                    }
                    lists += 1;
                }
                None => assert_eq!(pg, sqlite, "{}", s.what),
            }
            // The same audit entries, word for word (the actor, the subject,
            // the detail), and never a key in them.
            let sqlite_audit = both.sqlite_audit(sqlite_seq);
            let pg_audit = both.pg_audit(pg_seq);
            let actions: Vec<&str> = pg_audit.iter().map(|e| e.2.as_str()).collect();
            assert_eq!(actions, s.audit, "{}: {pg_audit:?}", s.what);
            let words = |entries: &[(i64, String, String, String, String)]| {
                entries
                    .iter()
                    .map(|e| (e.1.clone(), e.2.clone(), e.3.clone(), e.4.clone()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(words(&pg_audit), words(&sqlite_audit), "{}", s.what);
            let keys = [&both.admin_key, &both.desk_key, &both.gateway_key];
            for entry in pg_audit.iter().chain(&sqlite_audit) {
                for secret in secrets.iter().chain(keys) {
                    assert!(!entry.4.contains(secret.as_str()), "{}: {entry:?}", s.what);
                }
            }
        }));
        if let Err(panic) = ran {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            failures.push(format!("{}: {why}", s.what));
        }
        sqlite_seq = both.sqlite_audit(0).last().unwrap().0;
        pg_seq = both.pg_audit(0).last().unwrap().0;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(lists, 2);
    // Only the SHA-256 is stored, with a row MAC (checked when a node
    // reads the key: the other test's keys authenticate).
    let hashes = both.query("SELECT hash, row_mac IS NOT NULL FROM api_keys");
    for row in &hashes {
        let hash: Vec<u8> = row.get(0);
        let sealed: bool = row.get(1);
        assert_eq!(hash.len(), 32);
        assert!(sealed);
    }
    let stored: Vec<Vec<u8>> = hashes.iter().map(|r| r.get(0)).collect();
    for secret in secrets.iter().skip(1).step_by(2) {
        let hash = keyward::domain::api_key_hash(secret).to_vec();
        assert!(
            stored.contains(&hash),
            "a key created on the node is stored by its hash"
        );
    }
    // A station key is not served on a node: 501, nothing stored.
    let (status, answer) = both.on_node(
        &both.a,
        By::Admin,
        "POST",
        "/v1/apikeys",
        Some(r#"{"name":"st","role":"station","readers":["r1"]}"#),
    );
    assert_eq!(status, 501, "{answer}");
    assert_eq!(answer["error"]["code"], "unavailable");
    assert_eq!(both.pg_audit(pg_seq), []);
}

#[test]
fn a_key_created_on_one_node_verifies_on_the_other_and_its_revoke_is_followed_at_once() {
    let both = Arc::new(Both::new("apikeys_two_nodes"));
    // Created through A: B takes it on the next request.
    let (status, created) = both.on_node(
        &both.a,
        By::Admin,
        "POST",
        "/v1/apikeys",
        Some(r#"{"name":"gateway two","role":"gateway"}"#),
    );
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_i64().unwrap();
    let floor: Option<i64> = both.query("SELECT floor FROM credentials")[0].get(0);
    let first = floor.map_or(0, |f| u64::try_from(f).unwrap()) + 1;
    let (status, result) = verify_on(&both.b, &key, &format!("{PIN}{}", both.device.hotp(first)));
    assert_eq!((status, result.as_str()), (200, "accept"));
    // A desk key created through B works on A at once too.
    let (status, desk) = both.on_node(
        &both.b,
        By::Admin,
        "POST",
        "/v1/apikeys",
        Some(r#"{"name":"cm2","role":"desk","person":"cmoreau"}"#),
    );
    assert_eq!(status, 201, "{desk}");
    let (status, answer) = node_call(
        &both.a,
        desk["key"].as_str(),
        "POST",
        "/v1/tokens/KW-9999/revoke",
        Some(r#"{"reason":"lost"}"#),
    );
    assert_eq!(status, 404, "the desk key authenticates on A: {answer}");
    // `keyward apikeys` works against a node unchanged: created through
    // A (the key printed once, last), listed and revoked through B.
    let out = cli::stdout_ok(&mut cli::client(
        &both.a.url,
        &both.admin_key,
        ["apikeys", "create", "--name", "cli-gw", "--role", "gateway"],
    ));
    let cli_key = out.lines().last().unwrap().to_owned();
    assert!(cli_key.starts_with("kw_"), "{out}");
    let listed = cli::stdout_ok(&mut cli::client(
        &both.b.url,
        &both.admin_key,
        ["apikeys", "list"],
    ));
    assert!(
        listed.contains("cli-gw") && !listed.contains(&cli_key),
        "{listed}"
    );
    let listed = cli::json_ok(&mut cli::client(
        &both.b.url,
        &both.admin_key,
        ["apikeys", "list", "--json"],
    ));
    let cli_id = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "cli-gw")
        .unwrap()["id"]
        .to_string();
    cli::stdout_ok(&mut cli::client(
        &both.b.url,
        &both.admin_key,
        ["apikeys", "revoke", &cli_id],
    ));
    let (status, _) = verify_on(&both.a, &cli_key, &format!("{PIN}000000"));
    assert_eq!(status, 401);
    // Under verify load on B with the new key, revoked through A: no
    // request sent to B after the revoke answered is let through.
    let next = Arc::new(AtomicUsize::new(usize::try_from(first).unwrap() + 1));
    let revoked_at: Arc<OnceLock<Instant>> = Arc::new(OnceLock::new());
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (both, next, revoked_at, key) = (
                Arc::clone(&both),
                Arc::clone(&next),
                Arc::clone(&revoked_at),
                key.clone(),
            );
            std::thread::spawn(move || {
                let (mut before, mut after, mut refused_after) = (0, 0, 0);
                let deadline = Instant::now() + Duration::from_secs(60);
                while Instant::now() < deadline {
                    let n = next.fetch_add(1, Ordering::SeqCst) as u64;
                    let passcode = format!("{PIN}{}", both.device.hotp(n));
                    let sent = Instant::now();
                    let done = revoked_at.get().is_some_and(|at| *at <= sent);
                    let (status, _) = verify_on(&both.b, &key, &passcode);
                    match (done, status) {
                        (false, 200) => before += 1,
                        (false, 401) => {}
                        (true, 401) => refused_after += 1,
                        (true, 200) => after += 1,
                        other => panic!("{other:?}"),
                    }
                    if refused_after >= 20 {
                        break;
                    }
                }
                (before, after, refused_after)
            })
        })
        .collect();
    let ticking = Arc::new(AtomicBool::new(true));
    let ticker = {
        let (both, ticking) = (Arc::clone(&both), Arc::clone(&ticking));
        std::thread::spawn(move || {
            while ticking.load(Ordering::SeqCst) {
                both.advance(1);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    std::thread::sleep(Duration::from_secs(2));
    let (status, answer) = both.on_node(
        &both.a,
        By::Admin,
        "DELETE",
        &format!("/v1/apikeys/{id}"),
        None,
    );
    assert_eq!(status, 204, "{answer}");
    revoked_at.set(Instant::now()).unwrap();
    // The very next request to B, from here: refused.
    let (status, _) = verify_on(&both.b, &key, &format!("{PIN}000000"));
    assert_eq!(status, 401);
    let (mut before, mut after, mut refused_after) = (0, 0, 0);
    for client in clients {
        let (b, a, r) = client.join().unwrap();
        before += b;
        after += a;
        refused_after += r;
    }
    ticking.store(false, Ordering::SeqCst);
    ticker.join().unwrap();
    assert!(before > 0, "no verify answered before the revoke: no load");
    assert_eq!(after, 0, "B let the revoked key through after the answer");
    assert!(refused_after >= 8 * 20, "{refused_after}");
    // The revoked key is listed revoked on either node, never shown.
    let (status, list) = both.on_node(&both.b, By::Admin, "GET", "/v1/apikeys", None);
    assert_eq!(status, 200);
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .unwrap();
    assert_eq!(entry["revoked_at"].as_u64().map(|t| t >= NOW), Some(true));
    assert!(!list.to_string().contains(&key));
}

/// `POST /v1/verify` for bleroy on `node` with `key`: status and result.
fn verify_on(node: &Served, key: &str, passcode: &str) -> (u16, String) {
    let body = serde_json::json!({ "login": "bleroy", "passcode": passcode }).to_string();
    let (status, answer) = node_call(node, Some(key), "POST", "/v1/verify", Some(&body));
    (status, answer["result"].as_str().unwrap_or("").to_owned())
}

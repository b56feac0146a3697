//! `keyward audit verify` on a PostgreSQL store (docs/postgres.md, "Row
//! MACs"): a SQLite store copied by `keyward store copy` into a database of
//! the shared test server, then checked through the CLI as an operator
//! runs it, with the config file of a node (`[store] url`): the chain and
//! every sealed row's MAC; rows and entries changed behind keyward's back
//! by the test's own SQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use keyward::store::postgres::row_mac::{SealedRow, PHANTOM_COUNTERS, SEALED_TABLES};
use rusqlite::types::Value;

use crate::support::cli::{exits, keyward, stdout_ok};
use crate::support::pg_nodes::{gateway_key, private_dir, query, store_copy, target};
use crate::support::postgres::{self as harness, TestDb, PASSWORD};
use crate::support::world::{world, World, SCHOOL_EAST};

const NOW: u64 = 1_900_000_020;
const PIN: &str = "482913";

/// A SQLite world with bleroy's HOTP key, his appointment and a gateway
/// key, copied into a fresh database; a node's directory (`keyward.toml`
/// naming the database) to check it from.
struct Copied {
    world: World,
    db: TestDb,
    password: PathBuf,
    /// bleroy's appointment.
    right: i64,
    /// Holds `node/keyward.toml`, the password file and the clock.
    dir: tempfile::TempDir,
}

impl Copied {
    fn new(test: &str) -> Copied {
        let world = world(NOW);
        let right = world.appoint("bleroy", SCHOOL_EAST, "2029-09-01", None);
        world.active_hotp("bleroy", "KW-0001", PIN);
        gateway_key(&world);
        let dir = tempfile::tempdir().unwrap();
        let db = harness::database(test);
        let password = db.password_file(dir.path());
        let clock = dir.path().join("clock");
        std::fs::write(&clock, NOW.to_string()).unwrap();
        store_copy(&world.dir.path().join("data"), &db.url(), &password, &clock);
        let copied = Copied {
            world,
            db,
            password,
            right,
            dir,
        };
        copied.node_config("node", &copied.password);
        copied
    }

    /// A node's directory `name` whose `keyward.toml` names the database
    /// with the password file `password`.
    fn node_config(&self, name: &str, password: &Path) -> PathBuf {
        self.config_with_url(name, &self.db.url(), password)
    }

    fn config_with_url(&self, name: &str, url: &str, password: &Path) -> PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let node = self.dir.path().join(name);
        private_dir(&node);
        let config = node.join("keyward.toml");
        std::fs::write(
            &config,
            format!(
                "authority_domain = \"ac-exemple.fr\"\n[store]\nurl = \"{url}\"\npassword_file = \"{}\"\nnode = \"{name}\"\n",
                password.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
        node
    }

    fn master(&self) -> PathBuf {
        self.world.dir.path().join("data").join("master.key")
    }

    /// `keyward audit verify` from the node directory `node`, with the
    /// authority's master key.
    fn verify_from(&self, node: &str, extra: &[&str]) -> assert_cmd::Command {
        let mut cmd = keyward(["audit", "verify", "--data-dir"]);
        cmd.arg(self.dir.path().join(node))
            .arg("--master-key")
            .arg(self.master())
            .args(extra);
        cmd
    }

    fn verify(&self, extra: &[&str]) -> assert_cmd::Command {
        self.verify_from("node", extra)
    }

    fn query(&self, sql: &str) -> Vec<tokio_postgres::Row> {
        query(&target(&self.db.url(), &self.password), sql)
    }

    fn count(&self, table: &str) -> i64 {
        self.query(&format!("SELECT count(*) FROM {table}"))[0].get(0)
    }

    /// `rows by table: credentials 1, …` as the database holds them now,
    /// with the tables' mismatches `bad`.
    fn tables_line(&self, bad: &[(&str, u64)]) -> String {
        let tables: Vec<String> = SEALED_TABLES
            .iter()
            .map(|t| {
                let rows = self.count(t.name);
                match bad.iter().find(|(name, _)| *name == t.name) {
                    Some((_, n)) => format!("{} {rows} ({n} bad)", t.name),
                    None => format!("{} {rows}", t.name),
                }
            })
            .collect();
        format!("rows by table: {}\n", tables.join(", "))
    }
}

#[test]
fn a_copied_postgres_store_verifies_through_the_cli_in_text_json_and_french() {
    let copied = Copied::new("audit_verify_clean");
    let entries = copied.count("audit");
    assert!(entries >= 1);
    let rows: i64 = SEALED_TABLES.iter().map(|t| copied.count(t.name)).sum();
    assert!(copied.count("credentials") == 1 && copied.count("rights") >= 1);

    let out = stdout_ok(&mut copied.verify(&[]));
    let head = copied.query("SELECT mac FROM audit_head")[0].get::<_, Vec<u8>>(0);
    let head = data_encoding::HEXLOWER.encode(&head);
    let entry = if entries == 1 { "entry" } else { "entries" };
    assert_eq!(
        out,
        format!(
            "audit: ok, {entries} {entry}, head {head}\nrows: ok, {rows} state rows match their MAC\n{}",
            copied.tables_line(&[])
        )
    );

    // In French, the SQLite store's words.
    let fr = stdout_ok(&mut copied.verify(&["--lang", "fr"]));
    assert!(fr.starts_with("audit : intègre, "), "{fr}");
    assert!(
        fr.contains(&format!(
            "lignes : intègres, {rows} lignes d'état correspondent à leur MAC\n"
        )),
        "{fr}"
    );
    assert!(fr.contains("lignes par table : credentials 1, "), "{fr}");

    // For scripts: the daemon's answer, with each table's rows.
    let json: serde_json::Value =
        serde_json::from_str(&stdout_ok(&mut copied.verify(&["--json"]))).unwrap();
    assert_eq!(json["ok"], true, "{json}");
    assert_eq!(json["entries"], entries);
    assert_eq!(json["head"], head.as_str());
    assert!(json.get("bad_rows").is_none(), "{json}");
    let tables = json["tables"].as_array().unwrap();
    assert_eq!(tables.len(), SEALED_TABLES.len());
    for (shown, table) in tables.iter().zip(SEALED_TABLES) {
        assert_eq!(shown["table"], table.name);
        assert_eq!(shown["rows"], copied.count(table.name));
        assert_eq!(shown["bad"], 0);
    }

    // The config file named by --config, the master key in the data
    // directory (as `keyward serve --config` finds them).
    let data = copied.world.dir.path().join("data");
    let config = copied.dir.path().join("node").join("keyward.toml");
    let mut cmd = keyward(["audit", "verify", "--data-dir"]);
    cmd.arg(&data).arg("--config").arg(&config);
    assert_eq!(stdout_ok(&mut cmd), out);

    // Nothing was changed by checking: no entry appended.
    assert_eq!(copied.count("audit"), entries);

    // Signed checkpoints are SQLite's: refused plainly on PostgreSQL.
    let (_, stderr) = exits(&mut copied.verify(&["--checkpoint", "/dev/null"]), 1);
    assert!(
        stderr.contains("--checkpoint does not apply to a PostgreSQL store"),
        "{stderr}"
    );
}

#[test]
fn rows_changed_outside_keyward_fail_audit_verify_by_table_and_key_only() {
    let copied = Copied::new("audit_verify_rows");
    let credential: i64 = copied.query("SELECT id FROM credentials")[0].get(0);
    // What must never be printed: the secrets, the MACs, the password.
    let mut secrets = vec![PASSWORD.to_owned(), "mallory".to_owned()];
    for row in copied.query("SELECT sealed, pin_verifier, row_mac FROM credentials") {
        for i in 0..3 {
            let bytes: Vec<u8> = row.get(i);
            secrets.push(data_encoding::HEXLOWER.encode(&bytes));
            secrets.push(data_encoding::HEXUPPER.encode(&bytes));
            secrets.push(data_encoding::BASE64.encode(&bytes));
        }
    }
    // Failures reset, a right's last day moved, a district handed to
    // someone else, a gateway key's MAC dropped.
    copied.query("UPDATE credentials SET fails = 3");
    copied.query(&format!(
        "UPDATE rights SET until_date = '2099-06-30' WHERE id = {}",
        copied.right
    ));
    copied.query("UPDATE districts SET inspector = 'mallory' WHERE code = 'D-EST'");
    let gateway: i64 = copied.query("SELECT id FROM api_keys WHERE role = 'gateway'")[0].get(0);
    copied.query(&format!(
        "UPDATE api_keys SET row_mac = NULL WHERE id = {gateway}"
    ));

    let (stdout, stderr) = exits(&mut copied.verify(&[]), 1);
    assert!(stdout.starts_with("audit: ok, "), "{stdout}");
    for bad in [
        format!("credentials {credential}"),
        format!("rights {}", copied.right),
        "districts D-EST".to_owned(),
        format!("api_keys {gateway}"),
    ] {
        assert!(
            stdout.contains(&format!("rows: BAD {bad}: changed outside keyward\n")),
            "{bad}: {stdout}"
        );
    }
    assert!(!stdout.contains("rows: ok"), "{stdout}");
    assert!(
        stdout.ends_with(&copied.tables_line(&[
            ("credentials", 1),
            ("rights", 1),
            ("districts", 1),
            ("api_keys", 1)
        ])),
        "{stdout}"
    );
    assert!(
        stderr.contains("audit: BROKEN: 4 state rows were changed outside keyward"),
        "{stderr}"
    );

    let (json, json_err) = exits(&mut copied.verify(&["--json"]), 1);
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed["ok"], false);
    assert_eq!(parsed["why"], "4 state rows were changed outside keyward");
    let listed = parsed["bad_rows"].as_array().unwrap();
    assert_eq!(listed.len(), 4);
    assert!(listed.contains(&serde_json::json!(format!("credentials {credential}"))));
    assert!(json_err.contains("BROKEN"), "{json_err}");

    // In French too.
    let (fr, fr_err) = exits(&mut copied.verify(&["--lang", "fr"]), 1);
    assert!(
        fr.contains(&format!(
            "lignes : ALTÉRÉE credentials {credential} : modifiée hors de keyward"
        )),
        "{fr}"
    );
    assert!(fr.contains("credentials 1 (dont 1 altérée)"), "{fr}");
    assert!(
        fr_err.contains("4 lignes d'état ont été modifiées hors de keyward"),
        "{fr_err}"
    );

    for (what, text) in [
        ("stdout", &stdout),
        ("stderr", &stderr),
        ("json", &json),
        ("fr", &fr),
        ("fr stderr", &fr_err),
    ] {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{what} shows {secret}");
        }
    }
}

#[test]
fn a_tampered_audit_entry_fails_the_chain_check() {
    let copied = Copied::new("audit_verify_chain");
    copied.query("UPDATE audit SET detail = detail || ' ' WHERE seq = 1");
    let (stdout, stderr) = exits(&mut copied.verify(&[]), 1);
    // The rows are still checked, and intact.
    assert!(!stdout.contains("audit: ok"), "{stdout}");
    assert!(stdout.starts_with("rows: ok, "), "{stdout}");
    assert!(
        stderr.contains("audit: BROKEN: audit entry 1: its MAC does not match"),
        "{stderr}"
    );
    let (json, _) = exits(&mut copied.verify(&["--json"]), 1);
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed["ok"], false);
    assert_eq!(parsed["first_bad"], 1);

    // Put back, then the last entry dropped: the head row names it.
    copied.query("UPDATE audit SET detail = rtrim(detail) WHERE seq = 1");
    stdout_ok(&mut copied.verify(&[]));
    copied.query("DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit)");
    let (_, stderr) = exits(&mut copied.verify(&[]), 1);
    assert!(stderr.contains("is missing"), "{stderr}");
}

#[test]
fn audit_verify_pages_through_a_big_table_and_finds_every_changed_row() {
    const SLOTS: i64 = 2_500;
    let copied = Copied::new("audit_verify_pages");
    // 2 500 phantom slots sealed as a node seals them: more than two pages.
    let keys = keyward::crypto::MasterKey::load(&copied.master())
        .unwrap()
        .keys()
        .unwrap();
    let (mut slots, mut macs) = (Vec::new(), Vec::new());
    for slot in 0..SLOTS {
        let row = SealedRow::new(
            PHANTOM_COUNTERS,
            vec![
                Value::Integer(slot),
                Value::Integer(0),
                Value::Integer(0),
                Value::Integer(0),
            ],
        )
        .unwrap();
        slots.push(slot);
        macs.push(row.mac_of(keys.row_key()));
    }
    let target = target(&copied.db.url(), &copied.password);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let pool = keyward::store::postgres::connect(&target, 1).await.unwrap();
            let client = pool.get().await.unwrap();
            client
                .execute(
                    "INSERT INTO phantom_counters (slot, row_mac)
                     SELECT * FROM unnest($1::bigint[], $2::bytea[])",
                    &[&slots, &macs],
                )
                .await
                .unwrap();
        });
    let out = stdout_ok(&mut copied.verify(&[]));
    assert!(out.contains("phantom_counters 2500,"), "{out}");

    // At both sides of each page's end, and the very last row.
    copied.query(
        "UPDATE phantom_counters SET fails = 9 WHERE slot IN (0, 999, 1000, 1999, 2000, 2499)",
    );
    let (stdout, stderr) = exits(&mut copied.verify(&[]), 1);
    let bad: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("rows: BAD "))
        .collect();
    assert_eq!(
        bad,
        [0, 999, 1000, 1999, 2000, 2499]
            .map(|s| format!("rows: BAD phantom_counters {s}: changed outside keyward"))
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    assert!(stdout.contains("phantom_counters 2500 (6 bad)"), "{stdout}");
    assert!(stderr.contains("6 state rows were changed"), "{stderr}");
}

#[test]
fn a_wrong_password_or_no_server_is_a_clear_error_without_the_password() {
    let copied = Copied::new("audit_verify_connect");
    let wrong = copied.dir.path().join("wrong.password");
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::write(&wrong, "not-the-password-4729\n").unwrap();
        std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    copied.node_config("wrong", &wrong);
    let (stdout, stderr) = exits(&mut copied.verify_from("wrong", &[]), 1);
    assert_eq!(stdout, "");
    assert!(
        stderr.contains(&format!(
            "connecting to PostgreSQL database {} on 127.0.0.1:{}",
            copied.db.name, copied.db.port
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("password authentication failed"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-password"), "{stderr}");

    // Nobody listening there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://keyward@127.0.0.1:{port}/{}", copied.db.name);
    copied.config_with_url("nowhere", &url, &copied.password);
    let (_, stderr) = exits(&mut copied.verify_from("nowhere", &[]), 1);
    assert!(
        stderr.contains(&format!(
            "connecting to PostgreSQL database {}",
            copied.db.name
        )),
        "{stderr}"
    );
    assert!(!stderr.contains(PASSWORD), "{stderr}");
}

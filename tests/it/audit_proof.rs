//! An audit that proves the state, not only its own log: signed checkpoints
//! of the head outside the database find a tail deleted while the daemon is
//! stopped, and row MACs find a state table edited directly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use crate::support::cli::{client, init, keyward, run, stdout_ok, text};
use crate::support::serve::{serve, Served};
use crate::support::world;

use keyward::domain::RevokeReason;
use keyward::store::{Config, Store, StoreError};
use world::*;

/// `keyward audit verify --data-dir DATA EXTRA`: (success, stdout, stderr).
fn audit_verify(data: &Path, extra: &[&str]) -> (bool, String, String) {
    let out = run(keyward(["audit", "verify", "--data-dir"])
        .arg(data)
        .args(extra));
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The `seq=` of a checkpoint line.
fn seq_of(line: &str) -> u64 {
    line.split(' ')
        .find_map(|w| w.strip_prefix("seq="))
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_tail_deleted_while_the_daemon_is_stopped_is_found_against_its_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = init(&data);
    let config = data.join("keyward.toml");
    let mut toml = std::fs::read_to_string(&config).unwrap();
    toml.push_str("\n[audit]\ncheckpoint_every = 4\n");
    std::fs::write(&config, toml).unwrap();
    let checkpoints = data.join("audit-checkpoints");

    let mut served = Served::start(&mut serve(
        &data,
        &["--virtual-token", "off", "--pcsc", "off", "--hid", "off"],
    ));
    for i in 0..10 {
        stdout_ok(&mut client(
            &served.url,
            &key,
            [
                "people",
                "add",
                "--id",
                &format!("person{i}"),
                "--name",
                &format!("Person {i}"),
                "--mail",
                &format!("person{i}@ac-exemple.fr"),
            ],
        ));
    }
    // Every 4 entries while it runs ...
    let running = lines(&checkpoints);
    assert!(running.len() >= 2, "{running:?}");
    assert!(running.iter().all(|l| seq_of(l) % 4 == 0), "{running:?}");
    assert!(served.stop().success());
    // ... and the head when it stops.
    let stopped = lines(&checkpoints);
    assert_eq!(stopped.len(), running.len() + 1);
    let head = seq_of(stopped.last().unwrap());
    assert!(head >= 10);

    let file = checkpoints.to_str().unwrap();
    let (ok, stdout, stderr) = audit_verify(&data, &["--checkpoint", file]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.starts_with(&format!("audit: ok, {head} entries")),
        "{stdout}"
    );
    assert!(stdout.contains("checkpoints: ok"), "{stdout}");

    // The reported attack: triggers dropped, the last entries deleted.
    let conn = rusqlite::Connection::open(data.join("keyward.db")).unwrap();
    conn.execute_batch(&format!(
        "DROP TRIGGER audit_is_append_only_delete;
         DELETE FROM audit WHERE seq > {};",
        head - 3
    ))
    .unwrap();
    drop(conn);
    // The chain alone cannot tell (what keyward used to answer) ...
    let (ok, stdout, _) = audit_verify(&data, &[]);
    assert!(ok);
    assert!(stdout.starts_with(&format!("audit: ok, {} entries", head - 3)));
    // ... the checkpoint kept outside can.
    let (ok, _, stderr) = audit_verify(&data, &["--checkpoint", file]);
    assert!(!ok);
    assert!(
        stderr.contains(&format!(
            "the audit ends at entry {}, but the checkpoint signed at",
            head - 3
        )) && stderr.contains(&format!(
            "records entry {head}: entries were deleted at the end"
        )),
        "{stderr}"
    );
}

#[test]
fn a_forged_or_altered_checkpoint_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = init(&data);
    let mut served = Served::start(&mut serve(
        &data,
        &["--virtual-token", "off", "--pcsc", "off", "--hid", "off"],
    ));
    stdout_ok(&mut client(&served.url, &key, ["people", "list"]));
    assert!(served.stop().success());
    let original = lines(&data.join("audit-checkpoints"));
    let line = original.last().unwrap();
    let forged = dir.path().join("forged");
    let seq = seq_of(line);
    std::fs::write(
        &forged,
        line.replace(&format!("seq={seq} "), &format!("seq={} ", seq + 5)),
    )
    .unwrap();
    let (ok, _, stderr) = audit_verify(&data, &["--checkpoint", forged.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains("REFUSED: checkpoint line 1: the signature is invalid"),
        "{stderr}"
    );
    // Signed by another keyward's key.
    let other = dir.path().join("other");
    init(&other);
    let (ok, _, stderr) = audit_verify(
        &other,
        &[
            "--checkpoint",
            data.join("audit-checkpoints").to_str().unwrap(),
        ],
    );
    assert!(!ok);
    assert!(stderr.contains("was signed by key"), "{stderr}");
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "# nothing yet\n").unwrap();
    let (ok, _, stderr) = audit_verify(&data, &["--checkpoint", empty.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("holds no checkpoint"), "{stderr}");
}

#[test]
fn a_token_holder_edited_in_the_database_refuses_verify_and_acts() {
    let w = world(at("2026-11-02", 8));
    w.appoint("adurand", SCHOOL_EAST, "2025-09-01", None);
    w.appoint("bleroy", SCHOOL_EAST_2, "2025-09-01", None);
    let device = w.active_totp("adurand", "VT-1", "730519");
    let svc = w.store.verify_service().unwrap();
    let data = w.dir.path().join("data");
    assert!(svc
        .verify("adurand", &format!("730519{}", device.code(w.now())))
        .unwrap()
        .is_accept());
    w.next_step();
    let (ok, stdout, _) = audit_verify(&data, &[]);
    assert!(ok, "{stdout}");
    assert!(stdout.contains("rows: ok"), "{stdout}");

    // The reported edit, straight into the database.
    let conn = rusqlite::Connection::open(w.store.db_path()).unwrap();
    conn.execute(
        "UPDATE tokens SET holder = 'bleroy' WHERE serial = 'VT-1'",
        [],
    )
    .unwrap();
    drop(conn);

    let (ok, stdout, stderr) = audit_verify(&data, &[]);
    assert!(!ok);
    assert!(
        stdout.contains("rows: BAD tokens VT-1: changed outside keyward"),
        "{stdout}"
    );
    assert!(
        stderr.contains("1 state rows were changed outside keyward"),
        "{stderr}"
    );

    // The right PIN and code are rejected like any wrong attempt, and the
    // audit says why.
    let answer = svc
        .verify("adurand", &format!("730519{}", device.code(w.now())))
        .unwrap();
    assert!(!answer.is_accept(), "{answer:?}");
    let detail = w.last_audit("verify.reject");
    assert!(detail.contains("row MAC mismatch"), "{detail}");
    drop(svc);

    // A lifecycle act on it is refused, with a typed error, and audited.
    let err = w
        .store
        .write(&desk(), "tokens.revoke", |tx| {
            tx.revoke("VT-1", RevokeReason::Lost)
        })
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::RowTampered { table, key } if table == "tokens" && key == "VT-1"),
        "{err:?}"
    );
    assert!(w
        .last_audit("refused")
        .contains("the tokens record VT-1 does not match its MAC"));
    // Nothing laundered the row on the way.
    assert!(!audit_verify(&data, &[]).0);
}

#[test]
fn a_credential_unlocked_in_the_database_stays_refused() {
    let w = world(at("2026-11-02", 8));
    w.appoint("adurand", SCHOOL_EAST, "2025-09-01", None);
    let device = w.active_totp("adurand", "VT-1", "730519");
    let svc = w.store.verify_service().unwrap();
    for _ in 0..10 {
        svc.verify("adurand", "730519000000").unwrap();
    }
    let conn = rusqlite::Connection::open(w.store.db_path()).unwrap();
    conn.execute(
        "UPDATE credentials SET fails = 0, locked = 0, retry_at = 0 WHERE token = 'VT-1'",
        [],
    )
    .unwrap();
    drop(conn);
    w.next_step();
    let answer = svc
        .verify("adurand", &format!("730519{}", device.code(w.now())))
        .unwrap();
    assert!(!answer.is_accept());
    assert!(w.last_audit("verify.reject").contains("row MAC mismatch"));
}

/// The failure counters live in their own MAC'd table (not on the
/// credential's row): deleting a locked credential's counters row, or
/// editing it, outside keyward unlocks nothing.
#[test]
fn a_locked_credential_s_counters_deleted_or_edited_in_the_database_stay_locked() {
    let w = world(at("2026-11-02", 8));
    w.appoint("adurand", SCHOOL_EAST, "2025-09-01", None);
    let device = w.active_totp("adurand", "VT-1", "730519");
    let svc = w.store.verify_service().unwrap();
    for _ in 0..10 {
        svc.verify("adurand", "730519000000").unwrap();
    }
    let slot = keyward::store::verify::counters_slot(0);
    for edit in [
        "UPDATE phantom_counters SET fails = 0, locked = 0, retry_at = 0 WHERE slot = ?1 + \
         (SELECT id FROM credentials WHERE token = 'VT-1')",
        "DELETE FROM phantom_counters WHERE slot = ?1 + \
         (SELECT id FROM credentials WHERE token = 'VT-1')",
    ] {
        let conn = rusqlite::Connection::open(w.store.db_path()).unwrap();
        assert_eq!(conn.execute(edit, [slot]).unwrap(), 1, "{edit}");
        drop(conn);
        w.next_step();
        let answer = svc
            .verify("adurand", &format!("730519{}", device.code(w.now())))
            .unwrap();
        assert!(!answer.is_accept(), "{edit}");
        assert!(
            w.last_audit("verify.reject")
                .contains("reason=credential locked"),
            "{edit}"
        );
    }
}

#[test]
fn an_upgraded_store_gets_its_row_macs_and_a_later_column_launders_nothing() {
    let w = world(at("2026-11-02", 8));
    w.appoint("adurand", SCHOOL_EAST, "2025-09-01", None);
    w.active_totp("adurand", "VT-1", "730519");
    let data = w.dir.path().join("data");
    let db = w.store.db_path().to_path_buf();
    let World {
        dir: _dir, store, ..
    } = w;
    drop(store);

    // A database as the version before row MACs left it: no row MACs and
    // none of the tables later migrations add (their count is the number of
    // steps after V_ROW_MACS).
    let conn = rusqlite::Connection::open(&db).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    let sealed_before = ["people", "rights", "tokens", "credentials", "api_keys"];
    for table in sealed_before.into_iter().chain(["districts", "schools"]) {
        conn.execute_batch(&format!("ALTER TABLE {table} DROP COLUMN row_mac"))
            .unwrap();
    }
    let later = [
        "mail_messages",
        "outbox",
        "console_sessions",
        "console_bootstrap",
        "phantom_counters",
        "directory_runs",
        "emergency_grants",
        "pin_reset_approvals",
    ];
    for table in later {
        conn.execute_batch(&format!("DROP TABLE {table}")).unwrap();
    }
    conn.execute_batch(
        "DROP INDEX one_emergency_per_holder; DROP INDEX rights_by_school_origin; \
         DROP INDEX credentials_by_holder; DROP INDEX tokens_by_state; \
         DROP INDEX tokens_by_right; DROP INDEX audit_by_time;",
    )
    .unwrap();
    let steps_after_row_macs = 10;
    conn.execute_batch(&format!(
        "DELETE FROM meta WHERE key = 'row_mac_layout'; PRAGMA user_version = {};",
        version - 1 - steps_after_row_macs
    ))
    .unwrap();
    drop(conn);
    let (ok, stdout, _) = audit_verify(&data, &[]);
    assert!(ok);
    assert!(stdout.contains("rows: not checked"), "{stdout}");

    drop(reopen_at(&data));
    let (ok, stdout, _) = audit_verify(&data, &[]);
    assert!(ok, "{stdout}");
    assert!(stdout.contains("rows: ok"), "{stdout}");

    // A later migration adds a column, while one row was edited outside.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "ALTER TABLE rights ADD COLUMN note TEXT;
         UPDATE people SET full_name = 'Someone Else' WHERE id = 'adurand';",
    )
    .unwrap();
    drop(conn);
    drop(reopen_at(&data));
    let (ok, stdout, _) = audit_verify(&data, &[]);
    assert!(!ok);
    assert!(stdout.contains("rows: BAD people adurand"), "{stdout}");
    assert_eq!(stdout.matches("rows: BAD").count(), 1, "{stdout}");
}

/// Opens a data directory's store again, as a daemon restart does.
fn reopen_at(data: &Path) -> Store {
    Store::open(
        data,
        std::sync::Arc::new(keyward::store::SystemClock),
        Config::new(DOMAIN),
    )
    .unwrap()
}

#[test]
fn a_right_edited_in_the_database_refuses_verify() {
    let w = world(at("2026-11-02", 8));
    w.appoint("adurand", SCHOOL_EAST, "2025-09-01", Some("2026-12-31"));
    let device = w.active_totp("adurand", "VT-1", "730519");
    let conn = rusqlite::Connection::open(w.store.db_path()).unwrap();
    conn.execute(
        "UPDATE rights SET until_date = '2031-08-31' WHERE person = 'adurand'",
        [],
    )
    .unwrap();
    drop(conn);
    let svc = w.store.verify_service().unwrap();
    let answer = svc
        .verify("adurand", &format!("730519{}", device.code(w.now())))
        .unwrap();
    assert!(!answer.is_accept(), "{answer:?}");
    assert!(w.last_audit("verify.reject").contains("row MAC mismatch"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_key_made_admin_in_the_database_authenticates_nobody() {
    let api = crate::support::api::api();
    let conn = rusqlite::Connection::open(api.store.db_path()).unwrap();
    conn.execute(
        "UPDATE api_keys SET role = 'admin' WHERE hash = ?1",
        [&keyward::domain::api_key_hash(&api.keys.desk)[..]],
    )
    .unwrap();
    drop(conn);
    // Before: the desk key now passed for an admin's.
    let (status, body) = api.get(&api.keys.desk, "/v1/apikeys").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["detail"], "record_tampered", "{body}");
    let (status, body) = api.get(&api.keys.admin, "/v1/audit/verify").await;
    assert_eq!(status, 200);
    assert_eq!(body["ok"], false, "{body}");
    assert_eq!(body["bad_rows"].as_array().unwrap().len(), 1, "{body}");
    assert!(body["bad_rows"][0]
        .as_str()
        .unwrap()
        .starts_with("api_keys "));
    let refused = api.audit_after(0);
    assert!(
        refused
            .iter()
            .any(|(_, action, subject)| action == "refused" && subject == "authenticate"),
        "{refused:?}"
    );
}

/// A console session row written into the database by hand (an id the
/// writer knows, for the admin's key) signs nobody in; a session opened by
/// keyward whose key was swapped by hand neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_session_forged_in_the_database_signs_nobody_in() {
    use crate::console_security::{send, session};
    use axum::http::StatusCode;
    let api = crate::support::api::api();
    let key_id = |key: &str| {
        api.store
            .read(|tx| {
                Ok(tx
                    .api_key_by_hash(&keyward::domain::api_key_hash(key))?
                    .unwrap()
                    .id)
            })
            .unwrap()
    };
    let (admin, desk) = (key_id(&api.keys.admin), key_id(&api.keys.desk));
    // A real desk session works.
    let (id, _) = session(&api, &api.keys.desk);
    assert_eq!(
        send(&api, "GET", "/desk", Some(&id), "").await.status,
        StatusCode::OK
    );

    let forged = "forged-session-id-known-to-the-writer";
    let conn = rusqlite::Connection::open(api.store.db_path()).unwrap();
    conn.execute(
        "INSERT INTO console_sessions (id_hash, api_key, created_at, last_seen)
         VALUES (?1, ?2, 0, 9999999999)",
        rusqlite::params![&keyward::store::ops::console_id_hash(forged)[..], admin],
    )
    .unwrap();
    conn.execute(
        "UPDATE console_sessions SET api_key = ?1 WHERE api_key = ?2",
        rusqlite::params![admin, desk],
    )
    .unwrap();
    drop(conn);
    let head = api.audit_head();
    for cookie in [forged, id.as_str()] {
        let answer = send(&api, "GET", "/people", Some(cookie), "").await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        assert!(!answer.body.contains("admin"), "{}", answer.body);
    }
    let audited = api.audit_after(head);
    assert_eq!(
        audited.iter().filter(|(_, a, _)| a == "refused").count(),
        2,
        "{audited:?}"
    );
    // Nothing was laundered: audit verify names both rows.
    let (status, body) = api.get(&api.keys.admin, "/v1/audit/verify").await;
    assert_eq!(status, 200);
    let bad = body["bad_rows"].as_array().unwrap();
    assert_eq!(bad.len(), 2, "{body}");
    assert!(bad
        .iter()
        .all(|b| b.as_str().unwrap().starts_with("console_sessions ")));
}

/// A school moved into another district by hand does not bring its keys
/// into that district's inspector's reach.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_school_moved_to_another_district_in_the_database_widens_no_scope() {
    let (api, serial, _) = crate::api_devices::api_without_device_pin();
    crate::api_devices::activate_at_reader(&api, &serial).await;
    let uri = format!("/v1/tokens/{serial}");
    let (status, body) = api.get(&api.keys.inspector_west, &uri).await;
    assert_eq!(status, 404, "{body}");
    let conn = rusqlite::Connection::open(api.store.db_path()).unwrap();
    conn.execute(
        "UPDATE schools SET district = 'WEST' WHERE uai = ?1",
        [crate::support::api::SCHOOL_EAST],
    )
    .unwrap();
    drop(conn);
    let (status, body) = api.get(&api.keys.inspector_west, &uri).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["detail"], "record_tampered", "{body}");
}

//! Secrets at rest and audit tampering, on the files themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::world;

use keyward::domain::RevokeReason;
use keyward::store::AuditBreak;
use world::*;

const PINS: [&str; 3] = ["730519", "4081937", "28461937"];

fn files(w: &World) -> Vec<(String, Vec<u8>)> {
    let db = w.store.db_path().to_path_buf();
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| {
            let path = format!("{}{suffix}", db.display());
            std::fs::read(&path).ok().map(|bytes| (path, bytes))
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn representations(secret: &[u8]) -> Vec<Vec<u8>> {
    use data_encoding::{BASE32, BASE32_NOPAD, HEXLOWER, HEXUPPER};
    vec![
        secret.to_vec(),
        HEXLOWER.encode(secret).into_bytes(),
        HEXUPPER.encode(secret).into_bytes(),
        BASE32.encode(secret).into_bytes(),
        BASE32_NOPAD.encode(secret).into_bytes(),
        BASE32_NOPAD.encode(secret).to_lowercase().into_bytes(),
    ]
}

fn assert_no_plaintext(w: &World, devices: &[Device]) {
    for (path, bytes) in &files(w) {
        assert_no_plaintext_in(path, bytes, devices);
    }
}

/// No secret of `devices`, in any usual representation, and no PIN in `bytes`.
fn assert_no_plaintext_in(path: &str, bytes: &[u8], devices: &[Device]) {
    for device in devices {
        for needle in representations(device.secret.expose()) {
            assert!(!contains(bytes, &needle), "a secret is readable in {path}");
        }
    }
    for pin in PINS {
        assert!(
            !contains(bytes, pin.as_bytes()),
            "a PIN is readable in {path}"
        );
    }
}

/// adurand is the east school's director; the others deputies there (one
/// appointed director per school).
fn director_or_deputy(w: &World, holder: &str) {
    if holder == "adurand" {
        w.appoint(holder, SCHOOL_EAST, "2025-09-01", None);
    } else {
        w.delegate(&inspector_east(), holder, SCHOOL_EAST, "2025-09-01", None)
            .unwrap();
    }
}

/// Three holders: one keeps an active key, one returns it, one loses it.
fn populated() -> (World, Vec<Device>, Vec<Vec<u8>>) {
    let w = world(at("2026-11-02", 8));
    let holders = ["adurand", "bleroy", "cmoreau"];
    let devices: Vec<Device> = (0..3).map(|i| Device::new(&format!("VT-{i}"))).collect();
    for ((holder, device), pin) in holders.iter().zip(&devices).zip(PINS) {
        director_or_deputy(&w, holder);
        w.prepare(device, holder);
        w.hand_over_and_activate(device, holder, &inspector_east(), pin);
    }
    let svc = w.store.verify_service().unwrap();
    for ((holder, device), pin) in holders.iter().zip(&devices).zip(PINS) {
        let answer = svc
            .verify(holder, &format!("{pin}{}", device.code(w.now())))
            .unwrap();
        assert!(answer.is_accept());
        // A wrong attempt too: nothing of what was typed may be stored.
        svc.verify(holder, &format!("{pin}000000")).unwrap();
    }
    w.next_step();
    // While the WAL still holds the recent pages, too.
    let wal = files(&w)
        .into_iter()
        .find(|(p, _)| p.ends_with("-wal"))
        .unwrap();
    assert!(!wal.1.is_empty(), "the WAL has content to scan");
    assert_no_plaintext(&w, &devices);
    let conn = rusqlite::Connection::open(w.store.db_path()).unwrap();
    let sealed: Vec<Vec<u8>> = (0..3)
        .map(|i| {
            conn.query_row(
                "SELECT s.sealed FROM sealed_secrets s JOIN credentials c ON c.id = s.credential
                 WHERE c.token = ?1",
                [format!("VT-{i}")],
                |r| r.get(0),
            )
            .unwrap()
        })
        .collect();
    drop(conn);
    w.store
        .write(&inspector_east(), "return", |tx| {
            tx.return_token("VT-1", "office", "leaving", &devices[1].code(w.now()))
        })
        .unwrap();
    w.store
        .write(&desk(), "revoke", |tx| {
            tx.revoke("VT-2", RevokeReason::Stolen)
        })
        .unwrap();
    drop(svc);
    (w, devices, sealed)
}

#[test]
fn no_secret_or_pin_in_any_file_and_destroyed_secrets_leave_no_copy() {
    let (w, devices, sealed) = populated();
    let files = files(&w);
    assert!(files.iter().any(|(p, _)| p.ends_with("-wal")), "WAL mode");
    for (path, bytes) in &files {
        assert_no_plaintext_in(path, bytes, &devices);
        // Returned and stolen keys: not even the sealed form survives.
        for destroyed in &sealed[1..] {
            assert!(
                !contains(bytes, destroyed),
                "a destroyed sealed secret survives in {path}"
            );
        }
    }
    // The live key is still there, sealed (the scan would otherwise prove nothing).
    assert!(
        contains(&files[0].1, &sealed[0]) || files.iter().any(|(_, b)| contains(b, &sealed[0]))
    );
}

#[test]
fn a_moved_or_altered_sealed_secret_does_not_open() {
    let w = world(at("2026-11-02", 8));
    let a = Device::new("VT-A");
    let b = Device::new("VT-B");
    for (holder, device) in [("adurand", &a), ("bleroy", &b)] {
        director_or_deputy(&w, holder);
        w.prepare(device, holder);
        w.hand_over_and_activate(device, holder, &inspector_east(), PINS[0]);
    }
    let conn = rusqlite::Connection::open(w.store.db_path()).unwrap();
    // Swap the two sealed secrets between their rows.
    conn.execute_batch(
        "CREATE TEMP TABLE s AS SELECT * FROM sealed_secrets;
         UPDATE sealed_secrets SET sealed = (SELECT sealed FROM s WHERE s.credential != sealed_secrets.credential);",
    )
    .unwrap();
    let svc = w.store.verify_service().unwrap();
    for (holder, device) in [("adurand", &a), ("bleroy", &b)] {
        let answer = svc
            .verify(holder, &format!("{}{}", PINS[0], device.code(w.now())))
            .unwrap();
        assert!(!answer.is_accept(), "{holder}");
        assert!(w
            .last_audit("verify.reject")
            .contains("problem=sealed secret rejected"));
    }
    drop(svc);
    // Put them back: they open again.
    conn.execute_batch(
        "UPDATE sealed_secrets SET sealed = (SELECT sealed FROM s WHERE s.credential = sealed_secrets.credential);",
    )
    .unwrap();
    let svc = w.store.verify_service().unwrap();
    assert!(svc
        .verify("adurand", &format!("{}{}", PINS[0], a.code(w.now())))
        .unwrap()
        .is_accept());
    drop(svc);
    // Flip one byte of a sealed secret.
    conn.execute(
        "UPDATE sealed_secrets SET sealed = CAST(substr(sealed, 1, 20) || X'00' || substr(sealed, 22) AS BLOB)
         WHERE credential = (SELECT id FROM credentials WHERE token = 'VT-B')",
        [],
    )
    .unwrap();
    let svc = w.store.verify_service().unwrap();
    let answer = svc
        .verify("bleroy", &format!("{}{}", PINS[0], b.code(w.now())))
        .unwrap();
    assert!(!answer.is_accept());
    assert!(w
        .last_audit("verify.reject")
        .contains("problem=sealed secret rejected"));
    // The same failure stops a handover-style check through the lifecycle path.
    let err = w
        .store
        .write(&inspector_east(), "return", |tx| {
            tx.return_token("VT-B", "office", "x", &b.code(w.now()))
        })
        .unwrap_err();
    assert!(
        err.to_string().contains("sealed data was rejected"),
        "{err}"
    );
    drop(svc);
}

fn tamper(sql: &str) -> AuditBreak {
    let (w, _, _) = populated();
    let conn = rusqlite::Connection::open(w.store.db_path()).unwrap();
    assert!(w.store.verify_audit().unwrap().is_ok());
    // Append-only in SQL too: an UPDATE or DELETE is refused by triggers.
    assert!(conn
        .execute("UPDATE audit SET detail = 'x' WHERE seq = 5", [])
        .is_err());
    assert!(conn.execute("DELETE FROM audit WHERE seq = 5", []).is_err());
    // Someone with write access to the file drops the triggers first.
    conn.execute_batch(
        "DROP TRIGGER audit_is_append_only_update; DROP TRIGGER audit_is_append_only_delete;",
    )
    .unwrap();
    conn.execute_batch(sql).unwrap();
    w.store.verify_audit().unwrap().chain.unwrap_err()
}

#[test]
fn audit_edit_delete_and_swap_are_found_at_their_row() {
    assert_eq!(
        tamper("UPDATE audit SET detail = 'reason=wrong PIN' WHERE seq = 20"),
        AuditBreak::BadMac { seq: 20 }
    );
    assert_eq!(
        tamper("UPDATE audit SET at = at + 1 WHERE seq = 7"),
        AuditBreak::BadMac { seq: 7 }
    );
    assert_eq!(
        tamper("DELETE FROM audit WHERE seq = 12"),
        AuditBreak::Gap {
            expected: 12,
            found: 13
        }
    );
    // Swap the contents of entries 15 and 16, each keeping its sequence number.
    assert_eq!(
        tamper(
            "CREATE TEMP TABLE a AS SELECT * FROM audit WHERE seq IN (15, 16);
             UPDATE audit SET at = (SELECT at FROM a WHERE a.seq = 31 - audit.seq),
                              actor = (SELECT actor FROM a WHERE a.seq = 31 - audit.seq),
                              action = (SELECT action FROM a WHERE a.seq = 31 - audit.seq),
                              subject = (SELECT subject FROM a WHERE a.seq = 31 - audit.seq),
                              detail = (SELECT detail FROM a WHERE a.seq = 31 - audit.seq),
                              mac = (SELECT mac FROM a WHERE a.seq = 31 - audit.seq)
             WHERE seq IN (15, 16);"
        ),
        AuditBreak::BadMac { seq: 15 }
    );
    // Swap whole rows, sequence numbers included (a reordering).
    assert_eq!(
        tamper(
            "UPDATE audit SET seq = -1 WHERE seq = 15; UPDATE audit SET seq = 15 WHERE seq = 16;
             UPDATE audit SET seq = 16 WHERE seq = -1;"
        ),
        AuditBreak::BadMac { seq: 15 }
    );
}

#[test]
fn data_directory_and_key_file_must_be_private() {
    use std::os::unix::fs::PermissionsExt;
    let w = world(at("2026-11-02", 8));
    let data = w.dir.path().join("data");
    let clock = w.clock.clone();
    let open =
        || keyward::store::Store::open(&data, clock.clone(), keyward::store::Config::new(DOMAIN));
    drop(w.store);
    assert!(open().is_ok());
    let key = data.join("master.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(open()
        .unwrap_err()
        .to_string()
        .contains("group and others must have no access"));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o750)).unwrap();
    assert!(open().is_err());
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    // A key file owned by someone else is refused (needs root to set up).
    if std::os::unix::fs::chown(&key, Some(54_321), None).is_ok() {
        assert!(open()
            .unwrap_err()
            .to_string()
            .contains("owned by uid 54321"));
        let me = std::fs::metadata(&data).unwrap();
        std::os::unix::fs::chown(&key, Some(std::os::unix::fs::MetadataExt::uid(&me)), None)
            .unwrap();
        assert!(open().is_ok());
    }
    // A master key replaced by a symlink is refused.
    std::fs::rename(&key, data.join("real.key")).unwrap();
    std::os::unix::fs::symlink(data.join("real.key"), &key).unwrap();
    assert!(open().unwrap_err().to_string().contains("symbolic link"));
    std::fs::remove_file(&key).unwrap();
    std::fs::rename(data.join("real.key"), &key).unwrap();
    // A database from a newer keyward is refused, not "upgraded".
    let conn = rusqlite::Connection::open(data.join("keyward.db")).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    assert!(open()
        .unwrap_err()
        .to_string()
        .contains("schema version 99"));
}

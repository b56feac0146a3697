//! `keyward backup` under verify load and `keyward restore`: no passcode
//! accepted before, during or after the backup is ever accepted again by
//! the restored daemon, the restored database passes its integrity check
//! and audit verify, and every refusal (running daemon, existing database,
//! wrong master key, altered file) is clear and changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Stdio;

use keyward::client::Client;
use keyward::otp::{code_at, Algorithm, CredentialKey, Digits, Secret};
use keyward::wire::verify::VerifyOutcome;

use crate::support::cli::{client, exits, keyward, stdout_ok};
use crate::support::serve::{serve, Served};

/// One holder from `keyward bench setup`'s credentials file.
struct Holder {
    login: String,
    pin: String,
    key: CredentialKey,
    next: u64,
    /// The source address its verifies come from (the per-source limiter
    /// counts each apart).
    source: String,
}

/// A passcode the daemon accepted, and the HOTP counter it carried.
struct Accepted {
    holder: usize,
    counter: u64,
    passcode: String,
}

fn holders(creds: &Path) -> Vec<Holder> {
    std::fs::read_to_string(creds)
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let [login, pin, secret, counter]: [&str; 4] =
                line.split(' ').collect::<Vec<_>>().try_into().unwrap();
            Holder {
                login: login.to_owned(),
                pin: pin.to_owned(),
                key: CredentialKey::new(Algorithm::Sha1, &Secret::from_hex(secret).unwrap()),
                next: counter.parse().unwrap(),
                source: format!("198.51.{}.{}", i / 200, i % 200 + 1),
            }
        })
        .collect()
}

fn start(data: &Path) -> Served {
    Served::start(
        serve(
            data,
            &["--virtual-token", "off", "--pcsc", "off", "--hid", "off"],
        )
        .stderr(Stdio::null())
        .stdout(Stdio::piped()),
    )
}

/// One verify with each holder's next code; every one must be accepted.
fn round(gateway: &Client, holders: &mut [Holder], accepted: &mut Vec<Accepted>) {
    for (i, h) in holders.iter_mut().enumerate() {
        let passcode = format!("{}{}", h.pin, code_at(&h.key, h.next, Digits::SIX));
        let outcome = gateway
            .verify_from(&h.login, &passcode, Some(&h.source))
            .unwrap();
        assert!(
            matches!(outcome, VerifyOutcome::Accept { .. }),
            "{} counter {}",
            h.login,
            h.next
        );
        accepted.push(Accepted {
            holder: i,
            counter: h.next,
            passcode,
        });
        h.next += 1;
    }
}

/// The floors the restore moved, per credential id: (old, new), from its
/// audit entries.
fn floors_moved(data: &Path) -> Vec<(Option<u64>, u64)> {
    let db = rusqlite::Connection::open_with_flags(
        data.join("keyward.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = db
        .prepare("SELECT detail FROM audit WHERE action = 'credential.floor_restored' ORDER BY CAST(subject AS INTEGER)")
        .unwrap();
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows.iter()
        .map(|detail| {
            // "hotp floor OLD -> NEW after restore"
            let words: Vec<&str> = detail.split(' ').collect();
            (words[2].parse().ok(), words[4].parse().unwrap())
        })
        .collect()
}

fn backup_cmd(data: &Path, out: &Path) -> std::process::Command {
    let mut cmd = crate::support::cli::process(["backup", "--data"]);
    cmd.arg(data).arg("--out").arg(out);
    cmd
}

#[test]
fn no_code_used_before_or_after_a_backup_is_accepted_after_its_restore() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let init = stdout_ok(keyward(["init", "--json", "--data"]).arg(&data));
    let admin: serde_json::Value = serde_json::from_str(init.trim()).unwrap();
    let admin = admin["admin_key"].as_str().unwrap().to_owned();
    let creds = dir.path().join("creds");
    stdout_ok(
        keyward(["bench", "setup", "--holders", "25", "--data"])
            .arg(&data)
            .arg("--out")
            .arg(&creds),
    );
    let mut holders = holders(&creds);
    let mut daemon = start(&data);
    let gateway_key = stdout_ok(&mut client(
        &daemon.url,
        &admin,
        ["apikeys", "create", "--name", "gw", "--role", "gateway"],
    ));
    let gateway_key = gateway_key.lines().last().unwrap().trim().to_owned();
    let gateway = Client::new(&daemon.url, Some(gateway_key.clone()));

    // Before, during (the backup runs in its own process meanwhile) and
    // after the backup: one accepted code per holder each time.
    let mut accepted = Vec::new();
    round(&gateway, &mut holders, &mut accepted);
    let backup = dir.path().join("keyward.kwb");
    let taking = backup_cmd(&data, &backup)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    round(&gateway, &mut holders, &mut accepted);
    let taken = taking.wait_with_output().unwrap();
    assert!(
        taken.status.success(),
        "{}",
        String::from_utf8_lossy(&taken.stderr)
    );
    let after_backup = accepted.len();
    round(&gateway, &mut holders, &mut accepted);
    assert_eq!(
        std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Restore refuses a running daemon, and changes nothing.
    let (_, stderr) = exits(
        keyward(["restore", "--force", "--data"])
            .arg(&data)
            .arg(&backup),
        1,
    );
    assert!(stderr.contains("keyward serve is running"), "{stderr}");
    daemon.stop();

    // ... refuses an existing database without --force ...
    let (_, stderr) = exits(keyward(["restore", "--data"]).arg(&data).arg(&backup), 1);
    assert!(
        stderr.contains("already holds a keyward database"),
        "{stderr}"
    );
    // ... a backup under another master key, or altered.
    let other = dir.path().join("other");
    stdout_ok(keyward(["init", "--data"]).arg(&other));
    let (_, stderr) = exits(
        keyward(["restore", "--force", "--data"])
            .arg(&other)
            .arg(&backup),
        1,
    );
    assert!(stderr.contains("another master key"), "{stderr}");
    let mut bytes = std::fs::read(&backup).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let altered = dir.path().join("altered.kwb");
    std::fs::write(&altered, &bytes).unwrap();
    let (_, stderr) = exits(
        keyward(["restore", "--force", "--data"])
            .arg(&data)
            .arg(&altered),
        1,
    );
    assert!(stderr.contains("altered"), "{stderr}");

    let restored = stdout_ok(
        keyward(["restore", "--force", "--data"])
            .arg(&data)
            .arg(&backup),
    );
    assert!(restored.contains("25 HOTP"), "{restored}");

    // The backup alone would accept the codes used after it: each lies
    // within the look-ahead window of the floor it saved. The restore moved
    // every floor past them.
    let moved = floors_moved(&data);
    assert_eq!(moved.len(), holders.len());
    for a in &accepted[after_backup..] {
        let (old, new) = moved[a.holder];
        let old_next = old.map_or(0, |f| f + 1);
        assert!(
            a.counter >= old_next && a.counter < old_next + 10,
            "counter {} outside the backup's window from {old_next}",
            a.counter
        );
        assert!(
            a.counter <= new,
            "counter {} above the new floor {new}",
            a.counter
        );
    }

    stdout_ok(keyward(["audit", "verify", "--data-dir"]).arg(&data));
    let store = keyward::store::Store::open(
        &data,
        std::sync::Arc::new(keyward::store::SystemClock),
        keyward::store::Config::new("ac-exemple.fr"),
    )
    .unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    drop(store);

    // Every passcode accepted before, during or after the backup: refused.
    let daemon = start(&data);
    let gateway = Client::new(&daemon.url, Some(gateway_key));
    let mut replayed_ok = Vec::new();
    for a in &accepted {
        let h = &holders[a.holder];
        if matches!(
            gateway.verify_from(&h.login, &a.passcode, Some(&h.source)),
            Ok(VerifyOutcome::Accept { .. })
        ) {
            replayed_ok.push((h.login.clone(), a.counter));
        }
    }
    println!(
        "backup/restore: {} passcodes accepted ({} after the backup), replayed after restore: {} accepted",
        accepted.len(),
        accepted.len() - after_backup,
        replayed_ok.len()
    );
    assert!(replayed_ok.is_empty(), "replays accepted: {replayed_ok:?}");
    drop(daemon);
    stdout_ok(keyward(["audit", "verify", "--data-dir"]).arg(&data));
}

//! `keyward doctor` on a healthy installation (our own pcscd with its vpcd
//! readers): every check ok, exit 0. Then each check that can fail is
//! broken once, on its own copy of the installation: that line fails,
//! the others stay ok, exit 1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::cli::{exits, keyward, stdout_ok};
use crate::support::pcscd::{lock, Pcscd, READER0};

/// `keyward doctor --data DATA EXTRA`.
fn doctor(data: &Path, extra: &[&str]) -> assert_cmd::Command {
    let mut cmd = keyward(["doctor", "--data"]);
    cmd.arg(data).args(extra);
    cmd
}

/// The status of the line about `what` (its French name).
fn status_of<'a>(report: &'a str, what: &str) -> &'a str {
    report
        .lines()
        .find(|l| l.contains(&format!("] {what} (")) || l.contains(&format!(" {what} (")))
        .unwrap_or_else(|| panic!("no line about {what} in:\n{report}"))
        .split(']')
        .next()
        .unwrap()
        .trim_start_matches('[')
}

const ALWAYS_OK: &[&str] = &[
    "configuration",
    "droits des fichiers",
    "clé maîtresse",
    "intégrité de la base",
    "journal d'audit",
    "service keyward",
    "service pcscd",
    "lecteurs",
];

/// A copy of the healthy installation, to break.
fn copy(healthy: &Path, root: &Path, name: &str) -> PathBuf {
    let to = root.join(name);
    let status = Command::new("cp")
        .arg("-a")
        .arg(healthy)
        .arg(&to)
        .status()
        .unwrap();
    assert!(status.success());
    to
}

/// Runs doctor on a broken copy: exit 1, `what` failed, `others` still ok.
fn fails_on(data: &Path, extra: &[&str], what: &str, others: &[&str]) -> String {
    let (report, _) = exits(&mut doctor(data, extra), 1);
    assert_eq!(status_of(&report, what), "ÉCHEC", "{what}:\n{report}");
    for other in others {
        assert_eq!(
            status_of(&report, other),
            "ok",
            "{other} with {what} broken:\n{report}"
        );
    }
    assert!(
        report.contains("vérification(s) en échec / check(s) failed"),
        "{report}"
    );
    report
}

fn except<'a>(names: &[&'a str]) -> Vec<&'a str> {
    ALWAYS_OK
        .iter()
        .copied()
        .filter(|n| !names.contains(n))
        .collect()
}

#[test]
fn doctor_passes_a_healthy_install_and_fails_each_broken_check() {
    let _lock = lock();
    let mut pcscd = Pcscd::start();
    let dir = tempfile::tempdir().unwrap();
    let healthy = dir.path().join("healthy");
    stdout_ok(keyward(["init", "--data"]).arg(&healthy));

    let report = stdout_ok(&mut doctor(&healthy, &[]));
    println!("{report}");
    for what in ALWAYS_OK {
        assert_eq!(status_of(&report, what), "ok", "{what}:\n{report}");
    }
    assert!(report.contains(READER0), "{report}");
    for what in ["certificats TLS", "annuaire", "messagerie"] {
        assert_eq!(status_of(&report, what), "—", "{what}:\n{report}");
    }
    assert!(report.contains("non configuré / not configured"));
    assert!(
        report.ends_with("tout va bien / all checks passed\n"),
        "{report}"
    );

    // Configuration: a key keyward does not know.
    let bad_config = dir.path().join("bad.toml");
    std::fs::write(
        &bad_config,
        "authority_domain = \"ac-exemple.fr\"\ncolour = 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&bad_config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let report = fails_on(
        &healthy,
        &["--config", bad_config.to_str().unwrap()],
        "configuration",
        &except(&["configuration", "droits des fichiers"]),
    );
    assert!(report.contains("unknown key `colour`"), "{report}");

    // Permissions: a data directory others can read.
    let open = copy(&healthy, dir.path(), "open");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let report = exits(&mut doctor(&open, &[]), 1).0;
    assert_eq!(
        status_of(&report, "droits des fichiers"),
        "ÉCHEC",
        "{report}"
    );
    assert!(report.contains("chmod go-rwx"), "{report}");

    // Master key: another installation's key opens nothing here ...
    let other = dir.path().join("other");
    stdout_ok(keyward(["init", "--data"]).arg(&other));
    let other_key = other.join("master.key");
    fails_on(
        &healthy,
        &["--master-key", other_key.to_str().unwrap()],
        "clé maîtresse",
        &except(&["clé maîtresse", "journal d'audit"]),
    );
    // ... and a key kept apart must not also lie in the data directory.
    let apart = dir.path().join("apart.key");
    std::fs::copy(healthy.join("master.key"), &apart).unwrap();
    let report = fails_on(
        &healthy,
        &["--master-key", apart.to_str().unwrap()],
        "clé maîtresse",
        &except(&["clé maîtresse", "journal d'audit"]),
    );
    assert!(
        report.contains("a copy lies in the data directory"),
        "{report}"
    );

    // Database integrity: an index page overwritten on disk.
    let corrupt = copy(&healthy, dir.path(), "corrupt");
    let db_path = corrupt.join("keyward.db");
    let (root, page_size): (i64, i64) = {
        let db = rusqlite::Connection::open(&db_path).unwrap();
        let root = db
            .query_row(
                "SELECT rootpage FROM sqlite_schema WHERE name = 'credentials_by_token'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let size = db.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        (root, size)
    };
    let mut bytes = std::fs::read(&db_path).unwrap();
    let at = usize::try_from((root - 1) * page_size).unwrap();
    bytes[at..at + 16].fill(0xA5);
    std::fs::write(&db_path, &bytes).unwrap();
    fails_on(
        &corrupt,
        &[],
        "intégrité de la base",
        &except(&["intégrité de la base"]),
    );

    // Audit: an entry edited in place.
    let edited = copy(&healthy, dir.path(), "edited");
    {
        let db = rusqlite::Connection::open(edited.join("keyward.db")).unwrap();
        // Whoever edits the file directly can drop the guard trigger too.
        db.execute_batch(
            "DROP TRIGGER audit_is_append_only_update;
             UPDATE audit SET detail = 'nothing happened' WHERE seq = 1;",
        )
        .unwrap();
    }
    fails_on(
        &edited,
        &[],
        "journal d'audit",
        &except(&["journal d'audit"]),
    );

    // pcscd stopped: no pcscd, so no reader either.
    pcscd.stop();
    let report = fails_on(
        &healthy,
        &[],
        "service pcscd",
        &except(&["service pcscd", "lecteurs"]),
    );
    assert_eq!(status_of(&report, "lecteurs"), "ÉCHEC", "{report}");
}

//! TLS to the academic directory (`docs/directory.md`): one real slapd
//! started once with a test CA's server certificate, reached over
//! `ldaps://` and over `ldap://` + StartTLS. With `ca_file` the sync runs;
//! without it (system roots) or with another CA, the run fails with a typed
//! "not trusted" error, before any bind, and changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use keyward::directory::ldap::LdapError;
use keyward::directory::sync::{sync_ldap, SyncError};
use keyward::directory::tls::CaProblem;
use keyward::directory::{DirectoryConfig, RunOptions};
use keyward::store::Store;
use keyward::wire::directory::{RunOutcome, SyncReport};

use crate::support::slapd::{self, Slapd, TestTls, PEOPLE, ROOT_DN, ROOT_PW, SCHOOLS};
use crate::support::world::{at, empty_store};

fn config(password: &Path, url: &str, starttls: bool, ca: Option<PathBuf>) -> DirectoryConfig {
    let mut config = DirectoryConfig::new(url, PEOPLE, SCHOOLS);
    config.starttls = starttls;
    config.ca_file = ca;
    config.bind_dn = Some(ROOT_DN.to_owned());
    config.password_file = Some(password.to_owned());
    config
}

/// One run into a fresh store: its result, and what the store holds after
/// (people, audit entries).
fn run(config: &DirectoryConfig) -> (Result<SyncReport, SyncError>, usize, i64) {
    let (dir, _clock, store) = empty_store(at("2026-10-01", 8));
    let store = Arc::new(store);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = runtime.block_on(sync_ldap(Arc::clone(&store), config, RunOptions::default()));
    let people = store.read(|tx| tx.people(None)).unwrap().len();
    let audit = audit_entries(&store);
    drop(dir);
    (result, people, audit)
}

fn audit_entries(store: &Store) -> i64 {
    let conn = rusqlite::Connection::open(store.db_path()).unwrap();
    conn.query_row("SELECT COUNT(*) FROM audit", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn the_directory_over_ldaps_and_starttls_is_trusted_through_ca_file_only() {
    let tls = TestTls::new();
    let server = Slapd::start_tls(&slapd::authority(2, 10, 40), &tls);
    let files = tempfile::tempdir().unwrap();
    let ca = files.path().join("ldap-ca.pem");
    std::fs::write(&ca, &tls.ca_pem).unwrap();
    let other_ca = files.path().join("other-ca.pem");
    std::fs::write(&other_ca, TestTls::new().ca_pem).unwrap();
    let ways = [(server.ldaps_url(), false), (server.url(), true)];
    let password = server.password_file(ROOT_PW);

    // Trusted through ca_file: the whole directory is read and applied.
    for (url, starttls) in &ways {
        let (result, people, _) = run(&config(&password, url, *starttls, Some(ca.clone())));
        let report = result.unwrap_or_else(|e| panic!("{url} starttls={starttls}: {e}"));
        assert_eq!(report.outcome, RunOutcome::Applied, "{url}");
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert_eq!(people, 40, "{url}");
    }

    // Not trusted: the system roots do not know the test CA, and another
    // CA in ca_file is not the server's. Refused before the bind; nothing
    // changed, not even a run recorded; no password in the message.
    for (url, starttls) in &ways {
        for ca in [None, Some(other_ca.clone())] {
            let (result, people, audit) = run(&config(&password, url, *starttls, ca.clone()));
            let err = result.unwrap_err();
            assert!(
                matches!(err, SyncError::Ldap(LdapError::Untrusted { .. })),
                "{url} starttls={starttls} ca={ca:?}: {err:?}"
            );
            let text = err.to_string();
            assert!(text.contains("not trusted"), "{text}");
            assert!(text.contains("ca_file"), "{text}");
            assert!(!text.contains(ROOT_PW), "{text}");
            assert_eq!((people, audit), (0, 0), "{url}");
        }
    }

    // A ca_file that cannot be used: a typed error naming it, nothing read.
    let not_pem = files.path().join("not-a-ca.pem");
    std::fs::write(&not_pem, "just some text\n").unwrap();
    for (path, problem) in [
        (files.path().join("absent.pem"), "cannot be read"),
        (not_pem, "holds no PEM certificate"),
    ] {
        let (result, people, audit) = run(&config(
            &password,
            &server.ldaps_url(),
            false,
            Some(path.clone()),
        ));
        let err = result.unwrap_err();
        assert!(
            matches!(
                &err,
                SyncError::Ldap(LdapError::CaFile { problem: p, .. })
                    if matches!(p, CaProblem::Unreadable(_) | CaProblem::NoCertificate)
            ),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains(problem), "{text}");
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert_eq!((people, audit), (0, 0));
    }
}

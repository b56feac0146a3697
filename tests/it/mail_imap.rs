//! The help desk's mailbox on a real Dovecot over IMAPS with a test CA:
//! each message is read once and moved to the processed folder, never
//! deleted; a second poll finds nothing new; a 20 MB message is refused
//! from its headers; a server of another CA is not trusted.

use std::sync::Arc;

use keyward::mail::imap::{login, poll_once, ImapError};
use keyward::mail::outcome::{Outcome, Refusal};
use keyward::mail::service::Mailer;

use crate::support::dovecot::{Dovecot, PASSWORD, USER};
use crate::support::mail::{count, help_message, mail_config, DkimKey};
use crate::support::smtp::test_ca;
use crate::support::world::{at, world, DOMAIN, SCHOOL_EAST};

fn mailer(
    key: &DkimKey,
    port: u16,
    ca: &std::path::Path,
    password_file: &std::path::Path,
) -> Arc<Mailer> {
    let auth = format!(
        "method = \"dkim\"\n[mail.auth.keys]\n\"{}._domainkey.{}\" = \"{}\"\n",
        key.selector,
        key.domain,
        key.record()
    );
    let extra = format!(
        "max_message_bytes = 1048576\n[mail.imap]\nhost = \"localhost\"\nport = {port}\n\
         ca_file = \"{}\"\nusername = \"{USER}\"\npassword_file = \"{}\"\nprocessed = \"Traités\"\n",
        ca.display(),
        password_file.display()
    );
    Arc::new(Mailer::new(mail_config(&auth, &extra)).unwrap())
}

#[test]
fn each_message_is_read_once_and_moved_never_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let ca = test_ca(dir.path());
    let dovecot = Dovecot::start(&dir.path().join("dovecot"), &ca);
    let password_file = dir.path().join("imap.password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    let key = DkimKey::new("test", DOMAIN);
    let mailer = mailer(&key, dovecot.port, &ca.ca, &password_file);
    let server = mailer.config.imap.clone().unwrap().server;

    let w = world(at("2026-11-02", 8));
    w.appoint("adurand", SCHOOL_EAST, "2025-09-01", None);
    w.active_totp("adurand", "VT-A", "482193");
    let store = Arc::new(w.store);
    let db = store.db_path().to_owned();

    // The mail system delivers: a valid request, the same one again, a
    // school mailbox, a 20 MB message.
    let holder = format!("adurand@{DOMAIN}");
    let inspector = format!("pmartin@{DOMAIN}");
    let valid = key.sign(&help_message(
        "imap1@x",
        &holder,
        &[&inspector],
        "Clé volée",
        "volée",
    ));
    let school = key.sign(&help_message(
        "imap2@x",
        &format!("ce.{SCHOOL_EAST}@{DOMAIN}"),
        &[&inspector],
        "Clé",
        "",
    ));
    let mut big = help_message("imap3@x", &holder, &[&inspector], "Clé", "PJ");
    big.resize(20 * 1024 * 1024, b'A');
    big.extend_from_slice(b"\r\n");
    {
        let mut s = login(&server).unwrap();
        for m in [&valid, &valid, &school, &big] {
            s.append("INBOX", m).finish().unwrap();
        }
        s.logout().unwrap();
    }

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let imap = mailer.config.imap.clone().unwrap();
    let report = poll_once(&imap, &mailer, &store, runtime.handle()).unwrap();
    let outcomes: Vec<Outcome> = report.outcomes.into_iter().map(|(_, o)| o).collect();
    assert_eq!(outcomes.len(), 4, "{}", dovecot.log());
    assert!(matches!(&outcomes[0], Outcome::Filed { kind, .. } if kind == "stolen"));
    assert!(matches!(&outcomes[1], Outcome::Duplicate { .. }));
    assert_eq!(
        outcomes[2],
        Outcome::Refused {
            refusal: Refusal::SchoolMailbox,
            replied: true
        }
    );
    assert!(matches!(
        outcomes[3],
        Outcome::Refused {
            refusal: Refusal::Unreadable(_),
            replied: true
        }
    ));
    assert_eq!(count(&db, "SELECT COUNT(*) FROM replacement_requests"), 1);

    // Moved, not deleted: the inbox is empty, the folder holds all four.
    let mut s = login(&server).unwrap();
    assert_eq!(s.select("INBOX").unwrap().exists, 0);
    assert_eq!(
        s.select(keyward::mail::imap::mailbox_name("Traités"))
            .unwrap()
            .exists,
        4
    );
    s.logout().unwrap();
    // A second poll reads nothing.
    let report = poll_once(&imap, &mailer, &store, runtime.handle()).unwrap();
    assert!(report.outcomes.is_empty());

    // A wrong password and a server of another CA are refused.
    let wrong = dir.path().join("wrong.password");
    std::fs::write(&wrong, "nope").unwrap();
    let mut bad = server.clone();
    bad.password_file = Some(wrong);
    assert!(matches!(login(&bad).err(), Some(ImapError::Login)));
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let other_ca = test_ca(&other);
    let mut untrusted = server.clone();
    untrusted.ca_file = Some(other_ca.ca);
    assert!(matches!(login(&untrusted).err(), Some(ImapError::Tls)));
}

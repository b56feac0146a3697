//! The help desk's mailbox on a real Dovecot: STARTTLS on the plain port
//! (besides implicit TLS), and IDLE: the reader waits in IDLE when the
//! server announces it and wakes when mail arrives; a server without IDLE
//! is polled.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keyward::mail::imap::{login, poll_once, poll_then_idle, IdleEnd, ImapError};
use keyward::mail::outcome::Outcome;
use keyward::mail::service::Mailer;

use crate::support::dovecot::{Dovecot, PASSWORD, USER};
use crate::support::mail::{help_message, mail_config};
use crate::support::smtp::{test_ca, TestCa};
use crate::support::world::{at, world, DOMAIN};

/// A mailer reading the mailbox at `port` with `tls`.
fn mailer(dir: &std::path::Path, ca: &TestCa, port: u16, tls: &str) -> Arc<Mailer> {
    let password_file = dir.join("imap.password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    let extra = format!(
        "[mail.imap]\nhost = \"localhost\"\nport = {port}\ntls = \"{tls}\"\n\
         ca_file = \"{}\"\nusername = \"{USER}\"\npassword_file = \"{}\"\nprocessed = \"Traités\"\n",
        ca.ca.display(),
        password_file.display()
    );
    let auth = "method = \"authentication-results\"\nauthserv_id = \"mx\"\n";
    Arc::new(Mailer::new(mail_config(auth, &extra)).unwrap())
}

fn deliver(mailer: &Mailer, id: &str) {
    let server = mailer.config.imap.clone().unwrap().server;
    let mut s = login(&server).unwrap();
    let message = help_message(id, &format!("inconnu@{DOMAIN}"), &[], "Clé perdue", "");
    s.append("INBOX", &message).finish().unwrap();
    s.logout().unwrap();
}

#[test]
fn starttls_on_the_plain_port_reads_the_mailbox() {
    let dir = tempfile::tempdir().unwrap();
    let ca = test_ca(dir.path());
    let dovecot = Dovecot::start(&dir.path().join("dovecot"), &ca);
    let mailer = mailer(dir.path(), &ca, dovecot.starttls_port, "starttls");
    deliver(&mailer, "starttls1@x");
    let store = Arc::new(world(at("2026-11-02", 8)).store);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let imap = mailer.config.imap.clone().unwrap();
    let report = poll_once(&imap, &mailer, &store, runtime.handle()).unwrap();
    assert_eq!(report.outcomes.len(), 1, "{}", dovecot.log());
    assert!(matches!(report.outcomes[0].1, Outcome::Refused { .. }));

    // STARTTLS checks the certificate as implicit TLS does.
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let mut untrusted = imap.server.clone();
    untrusted.ca_file = Some(test_ca(&other).ca);
    assert!(matches!(login(&untrusted).err(), Some(ImapError::Tls)));
    // Implicit TLS spoken to the plain port fails without logging in.
    let mut wrong = imap.server.clone();
    wrong.tls = keyward::mail::config::TlsMode::Implicit;
    assert!(login(&wrong).is_err());
}

#[test]
fn idle_wakes_the_reader_when_mail_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let ca = test_ca(dir.path());
    let dovecot = Dovecot::start(&dir.path().join("dovecot"), &ca);
    let mailer = mailer(dir.path(), &ca, dovecot.port, "implicit");
    let store = Arc::new(world(at("2026-11-02", 8)).store);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let imap = mailer.config.imap.clone().unwrap();

    let started = Instant::now();
    let reader = {
        let (imap, mailer, store) = (imap.clone(), Arc::clone(&mailer), Arc::clone(&store));
        let handle = runtime.handle().clone();
        std::thread::spawn(move || {
            let wait = Some(Duration::from_secs(60));
            poll_then_idle(
                &imap,
                &mailer,
                &store,
                &handle,
                wait,
                &AtomicBool::new(false),
            )
        })
    };
    std::thread::sleep(Duration::from_millis(1500));
    deliver(&mailer, "idle1@x");
    let report = reader.join().unwrap().unwrap();
    assert!(report.outcomes.is_empty());
    assert_eq!(report.idled, Some(IdleEnd::Changed), "{}", dovecot.log());
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    // The next read takes the new message.
    let report = poll_once(&imap, &mailer, &store, runtime.handle()).unwrap();
    assert_eq!(report.outcomes.len(), 1);

    // Nothing arrives: the wait ends at its limit.
    let started = Instant::now();
    let wait = Some(Duration::from_secs(2));
    let stop = AtomicBool::new(false);
    let report = poll_then_idle(&imap, &mailer, &store, runtime.handle(), wait, &stop).unwrap();
    assert_eq!(report.idled, Some(IdleEnd::TimedOut));
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[test]
fn a_server_without_idle_is_polled() {
    let dir = tempfile::tempdir().unwrap();
    let ca = test_ca(dir.path());
    let no_idle =
        "imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE LITERAL+ MOVE UIDPLUS\n";
    let dovecot = Dovecot::start_with(&dir.path().join("dovecot"), &ca, no_idle);
    let mailer = mailer(dir.path(), &ca, dovecot.port, "implicit");
    let store = Arc::new(world(at("2026-11-02", 8)).store);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let imap = mailer.config.imap.clone().unwrap();
    deliver(&mailer, "poll1@x");
    let started = Instant::now();
    let wait = Some(Duration::from_secs(60));
    let stop = AtomicBool::new(false);
    let report = poll_then_idle(&imap, &mailer, &store, runtime.handle(), wait, &stop)
        .unwrap_or_else(|e| panic!("{e}: {}", dovecot.log()));
    assert_eq!(report.outcomes.len(), 1);
    assert_eq!(report.idled, None);
    assert!(started.elapsed() < Duration::from_secs(20));
}

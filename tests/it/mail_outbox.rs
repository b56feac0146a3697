//! The outbox against a real SMTP server over STARTTLS with a test CA: a
//! server that is down loses nothing, and once back receives every mail
//! exactly once; each mail sent is audited without its text.

use keyward::domain::MailAddress;
use keyward::i18n::Lang;
use keyward::mail::service::{send_due, smtp_of};
use keyward::mail::templates::{TemplateId, Templates};

use crate::support::mail::{count, mail_config};
use crate::support::smtp::{free_port, received, test_ca, SmtpServer};
use crate::support::world::{at, desk, world, DOMAIN};

#[test]
fn a_server_down_then_back_gets_every_mail_exactly_once() {
    let w = world(at("2026-11-02", 8));
    let dir = tempfile::tempdir().unwrap();
    let ca = test_ca(dir.path());
    let port = free_port();
    let config = mail_config(
        "method = \"authentication-results\"\nauthserv_id = \"mx\"\n",
        &format!(
            "[mail.smtp]\nhost = \"localhost\"\nport = {port}\ntls = \"starttls\"\nca_file = \"{}\"\n",
            ca.ca.display()
        ),
    );
    let smtp = smtp_of(&config).unwrap().unwrap();
    let templates = Templates::default();
    let queue = |n: usize| {
        w.store
            .write(&desk(), "queue", |tx| {
                for i in 0..n {
                    let to = MailAddress::parse(&format!("director{i}@{DOMAIN}")).unwrap();
                    let token = format!("VT-{i}");
                    let mail = templates.render(
                        TemplateId::KeyReady,
                        Lang::Fr,
                        &[("holder", "Anne Durand"), ("token", &token)],
                    );
                    tx.enqueue_mail(
                        TemplateId::KeyReady,
                        &[&to],
                        &mail,
                        Some(&format!("ready:{token}")),
                    )?;
                }
                Ok(())
            })
            .unwrap()
    };
    let db = w.store.db_path().to_owned();
    let pending = || count(&db, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL");

    // Up: two mails go out.
    let inbox = dir.path().join("inbox");
    let server = SmtpServer::start(port, &ca, &inbox);
    queue(2);
    assert_eq!(send_due(&w.store, &smtp).unwrap(), (2, 0));
    assert_eq!(received(&inbox).len(), 2);

    // Down: three more wait, are tried, stay queued; the same notice twice
    // is queued once.
    server.stop();
    queue(5);
    assert_eq!(pending(), 3);
    assert_eq!(send_due(&w.store, &smtp).unwrap(), (0, 3));
    assert_eq!(pending(), 3);
    // Not due again before the delay.
    assert_eq!(send_due(&w.store, &smtp).unwrap(), (0, 0));

    // Back: after the delay, each is sent once; nothing is sent again.
    let server = SmtpServer::start(port, &ca, &inbox);
    w.clock.set(at("2026-11-02", 8) + 31);
    assert_eq!(send_due(&w.store, &smtp).unwrap(), (3, 0));
    w.clock.set(at("2026-11-02", 10));
    assert_eq!(send_due(&w.store, &smtp).unwrap(), (0, 0));
    let mails = received(&inbox);
    assert_eq!(mails.len(), 5);
    for i in 0..5 {
        let to = format!("director{i}@{DOMAIN}");
        assert_eq!(mails.iter().filter(|m| m.contains(&to)).count(), 1, "{to}");
    }
    assert!(mails
        .iter()
        .all(|m| m.contains("Subject: =?utf-8?") || m.contains("Votre nouvelle")));
    server.stop();
    // Audited once each, addresses and outbox row only.
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM audit WHERE action = 'mail.sent'"),
        5
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM audit WHERE action = 'mail.sent' AND detail LIKE '%cl%'"
        ),
        0
    );
}

/// A server whose certificate is not from the configured CA gets nothing.
#[test]
fn a_server_of_another_ca_gets_nothing() {
    let w = world(at("2026-11-02", 8));
    let dir = tempfile::tempdir().unwrap();
    let ours = test_ca(&{
        let d = dir.path().join("ours");
        std::fs::create_dir_all(&d).unwrap();
        d
    });
    let theirs = test_ca(&{
        let d = dir.path().join("theirs");
        std::fs::create_dir_all(&d).unwrap();
        d
    });
    let port = free_port();
    let config = mail_config(
        "method = \"authentication-results\"\nauthserv_id = \"mx\"\n",
        &format!(
            "[mail.smtp]\nhost = \"localhost\"\nport = {port}\nca_file = \"{}\"\n",
            ours.ca.display()
        ),
    );
    let smtp = smtp_of(&config).unwrap().unwrap();
    let inbox = dir.path().join("inbox");
    let _server = SmtpServer::start(port, &theirs, &inbox);
    w.store
        .write(&desk(), "queue", |tx| {
            let to = MailAddress::parse(&format!("x.y@{DOMAIN}")).unwrap();
            let mail = Templates::default().render(TemplateId::KeyReady, Lang::En, &[]);
            tx.enqueue_mail(TemplateId::KeyReady, &[&to], &mail, None)
        })
        .unwrap();
    assert_eq!(send_due(&w.store, &smtp).unwrap(), (0, 1));
    assert!(received(&inbox).is_empty());
}

/// Notices come from the audit: a replayed code alerts the holder; a
/// replacement key prepared tells the holder and the inspector; each once,
/// and the alert carries no code.
#[test]
fn a_replay_alerts_the_holder_and_a_ready_key_tells_holder_and_inspector() {
    use crate::support::world::{mail, pid, Device, SCHOOL_EAST};
    use keyward::domain::requests::HelpMail;
    use keyward::domain::RevokeReason;
    use keyward::mail::service::{queue_notices, Mailer};

    let w = world(at("2026-11-02", 8));
    w.appoint("adurand", SCHOOL_EAST, "2025-09-01", None);
    let device = w.active_totp("adurand", "VT-A", "482193");
    let mailer = Mailer::new(mail_config(
        "method = \"authentication-results\"\nauthserv_id = \"mx\"\n",
        "",
    ))
    .unwrap();
    // The first call starts from now: nothing of the past is sent.
    assert_eq!(queue_notices(&w.store, &mailer).unwrap(), 0);
    let svc = w.store.verify_service().unwrap();
    let code = device.code(w.now());
    let passcode = format!("482193{code}");
    assert!(svc.verify("adurand", &passcode).unwrap().is_accept());
    assert!(!svc.verify("adurand", &passcode).unwrap().is_accept());
    drop(svc);
    assert_eq!(
        queue_notices(&w.store, &mailer).unwrap(),
        1,
        "{}",
        w.last_audit("verify.reject")
    );
    assert_eq!(queue_notices(&w.store, &mailer).unwrap(), 0, "once");
    let db = w.store.db_path().to_owned();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (to, body): (String, String) = conn
        .query_row(
            "SELECT recipients, body FROM outbox WHERE template = 'security-alert'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(to, format!("adurand@{DOMAIN}"));
    assert!(
        body.contains("déjà utilisé") && !body.contains(&code),
        "{body}"
    );

    // Broken key: request, replacement prepared → key ready.
    let help = HelpMail {
        from: mail(&format!("adurand@{DOMAIN}")),
        cc: vec![mail(&format!("pmartin@{DOMAIN}"))],
    };
    let new = Device::new("VT-N");
    w.store
        .write(&desk(), "replace", |tx| {
            let id = tx.file_replacement_request(&pid("adurand"), RevokeReason::Broken, &help)?;
            tx.add_token("VT-N", "virtual")?;
            tx.prepare_replacement(
                id,
                "VT-N",
                &new.secret,
                keyward::otp::CredentialParams::totp(),
            )
        })
        .unwrap();
    assert_eq!(queue_notices(&w.store, &mailer).unwrap(), 1);
    let (to, subject): (String, String) = conn
        .query_row(
            "SELECT recipients, subject FROM outbox WHERE template = 'key-ready'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(to, format!("adurand@{DOMAIN},pmartin@{DOMAIN}"));
    assert!(subject.contains("prête"), "{subject}");
}

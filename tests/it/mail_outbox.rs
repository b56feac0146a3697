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

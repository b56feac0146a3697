//! Case 3 read from mail (docs/mail.md): each kind of message gets its
//! outcome, and a refused one changes nothing but its own record and the
//! answer to its sender. Messages are signed with a test DKIM key.

use std::io::Cursor;

use keyward::domain::{RevokeReason, TokenState};
use keyward::mail::message::ParseError;
use keyward::mail::outcome::{Outcome, Refusal};
use keyward::mail::service::{read_limited, Received};

use crate::support::mail::{count, dkim_mailer, help_message, mail_config, outbox, DkimKey};
use crate::support::world::{at, desk, world, DOMAIN, SCHOOL_EAST, SCHOOL_EAST_2};

fn requests(db: &std::path::Path) -> i64 {
    count(db, "SELECT COUNT(*) FROM replacement_requests")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_message_gets_its_outcome_and_nothing_half_done() {
    let w = world(at("2026-11-02", 8));
    w.appoint("adurand", SCHOOL_EAST, "2025-09-01", None);
    w.appoint("bleroy", SCHOOL_EAST_2, "2025-09-01", None);
    w.active_totp("adurand", "VT-A", "482193");
    w.active_totp("bleroy", "VT-B", "731564");
    let store = std::sync::Arc::new(w.store);
    let db = store.db_path().to_owned();
    let key = DkimKey::new("test", DOMAIN);
    let mailer = dkim_mailer(&key, "max_message_bytes = 1048576");
    let holder = format!("Anne Durand <adurand@{DOMAIN}>");
    let inspector = format!("pmartin@{DOMAIN}");
    let ingest = |raw: Vec<u8>| {
        let (mailer, store) = (mailer.clone(), store.clone());
        async move {
            mailer
                .ingest(&store, &desk(), Received::Whole(raw))
                .await
                .unwrap()
        }
    };
    let refused = |refusal, replied| Outcome::Refused { refusal, replied };

    // Refusals first: none files a request or touches a key.
    let forged = help_message("f1@x", &holder, &[&inspector], "Clé perdue", "perdue");
    let other_key = DkimKey::new("test", DOMAIN);
    let cases: Vec<(&str, Vec<u8>, Outcome)> = vec![
        ("unsigned From", forged.clone(), refused(Refusal::NotAuthenticated, false)),
        (
            "signed with a key not pinned",
            other_key.sign(&help_message("f2@x", &holder, &[&inspector], "Clé perdue", "")),
            refused(Refusal::NotAuthenticated, false),
        ),
        (
            "signed by another domain",
            DkimKey::new("test", "gmail.com")
                .sign(&help_message("f3@x", &holder, &[&inspector], "Clé perdue", "")),
            refused(Refusal::NotAuthenticated, false),
        ),
        (
            "body changed after signing",
            {
                let mut m = key.sign(&help_message("f4@x", &holder, &[&inspector], "Clé", "ok"));
                m.extend_from_slice(b"added\r\n");
                m
            },
            refused(Refusal::NotAuthenticated, false),
        ),
        (
            "school mailbox",
            key.sign(&help_message(
                "s1@x",
                &format!("ce.{SCHOOL_EAST}@{DOMAIN}"),
                &[&inspector],
                "Clé perdue",
                "",
            )),
            refused(Refusal::SchoolMailbox, true),
        ),
        (
            "missing Cc",
            key.sign(&help_message("c1@x", &holder, &[], "Clé perdue", "")),
            refused(Refusal::InspectorNotInCopy, true),
        ),
        (
            "wrong inspector",
            key.sign(&help_message("c2@x", &holder, &[&format!("lbernard@{DOMAIN}")], "Clé perdue", "")),
            refused(Refusal::InspectorNotInCopy, true),
        ),
        (
            "not a holder",
            key.sign(&help_message("u1@x", &format!("inconnu@{DOMAIN}"), &[&inspector], "Clé perdue", "")),
            refused(Refusal::UnknownSender, true),
        ),
        (
            "a person without a key",
            key.sign(&help_message("n1@x", &format!("cmoreau@{DOMAIN}"), &[&inspector], "Clé perdue", "")),
            refused(Refusal::NoKey, true),
        ),
        (
            "malformed MIME: no From",
            key.sign(b"Subject: x\r\nMessage-ID: <m1@x>\r\nContent-Type: multipart/mixed; boundary=\"zz\r\n\r\n--zz\r\n"),
            refused(Refusal::Unreadable(ParseError::NoFrom), false),
        ),
        (
            "not a message at all",
            vec![0xff, 0xfe, 0, 1, 2],
            refused(Refusal::Unreadable(ParseError::NoMessageId), false),
        ),
    ];
    for (name, raw, expected) in cases {
        let outbox_before = outbox(&db).len();
        assert_eq!(ingest(raw).await, expected, "{name}");
        assert_eq!(requests(&db), 0, "{name}: no request");
        assert_eq!(
            outbox(&db).len() - outbox_before,
            usize::from(matches!(expected, Outcome::Refused { replied: true, .. })),
            "{name}: one answer, or none"
        );
    }
    let store_ref = &store;
    let state = |serial: &str| store_ref.read(|tx| Ok(tx.token(serial)?.state)).unwrap();
    assert_eq!(state("VT-A"), TokenState::Active);
    // Answers go to the sender only, in French, saying what to do.
    let answers = outbox(&db);
    assert!(answers.contains(&(
        "reply-inspector-not-in-copy".to_owned(),
        format!("adurand@{DOMAIN}")
    )));
    let body: String = {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.query_row(
            "SELECT body FROM outbox WHERE template = 'reply-inspector-not-in-copy'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert!(
        body.contains(&format!("mettant pmartin@{DOMAIN} en copie")),
        "{body}"
    );

    // A 20 MB attachment: refused from its headers alone, answered.
    let mut big = help_message("big@x", &holder, &[&inspector], "Clé perdue", "voir PJ");
    big.resize(20 * 1024 * 1024, b'A');
    let received = read_limited(Cursor::new(big), 1024 * 1024).unwrap();
    assert!(matches!(&received, Received::TooLarge(head) if head.len() == 1024 * 1024));
    let outcome = mailer.ingest(&store, &desk(), received).await.unwrap();
    assert_eq!(
        outcome,
        refused(
            Refusal::Unreadable(ParseError::TooLarge { limit: 1024 * 1024 }),
            true
        )
    );
    assert_eq!(requests(&db), 0);

    // A valid request: filed with its kind, the lost key revoked at once,
    // the desk told; the same message again is the same request.
    let valid = key.sign(&help_message(
        "ok1@ac-exemple.fr",
        &holder,
        &["x.y@ac-exemple.fr", &inspector],
        "Clé perdue",
        "Bonjour, j'ai perdu ma clé OTP hier.",
    ));
    let outcome = ingest(valid.clone()).await;
    let Outcome::Filed { request, kind } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(kind, "lost");
    assert_eq!(state("VT-A"), TokenState::Revoked);
    assert_eq!(
        outbox(&db).last(),
        Some(&(
            "desk-new-request".to_owned(),
            format!("assistance@{DOMAIN}")
        ))
    );
    let queued = outbox(&db).len();
    assert_eq!(
        ingest(valid).await,
        Outcome::Duplicate {
            first: "filed".to_owned()
        }
    );
    assert_eq!(requests(&db), 1);
    assert_eq!(outbox(&db).len(), queued, "nothing sent twice");
    assert_eq!(
        count(
            &db,
            "SELECT request FROM mail_messages WHERE message_id = 'ok1@ac-exemple.fr'"
        ),
        request
    );
    // The refused duplicates too: the forged message is not answered again.
    assert!(matches!(ingest(forged).await, Outcome::Duplicate { .. }));

    // Non-UTF-8 headers (Latin-1 bytes, RFC 2047): read, kind "broken".
    let mut latin = format!(
        "From: =?ISO-8859-1?Q?Bruno_L=E9roy?= <bleroy@{DOMAIN}>\r\nCc: {inspector}\r\n\
         Message-ID: <latin@x>\r\nSubject: "
    )
    .into_bytes();
    latin.extend_from_slice(b"Cl\xe9 cass\xe9e\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nElle est cass\xe9e.\r\n");
    let outcome = ingest(key.sign(&latin)).await;
    assert!(
        matches!(&outcome, Outcome::Filed { kind, .. } if kind == "broken"),
        "{outcome:?}"
    );
    assert_eq!(
        state("VT-B"),
        TokenState::Active,
        "a broken key is not revoked by mail"
    );

    // Unclear words: a request for the desk to qualify, which prepare
    // refuses until the desk has qualified it.
    w_qualify(&store, &key, &mailer).await;
}

async fn w_qualify(
    store: &std::sync::Arc<keyward::store::Store>,
    key: &DkimKey,
    mailer: &std::sync::Arc<keyward::mail::service::Mailer>,
) {
    // adurand writes again (their key is revoked and not yet replaced).
    let raw = key.sign(&help_message(
        "q1@x",
        &format!("adurand@{DOMAIN}"),
        &[&format!("pmartin@{DOMAIN}")],
        "Ma clé",
        "Pouvez-vous m'aider ?",
    ));
    let outcome = mailer
        .ingest(store, &desk(), Received::Whole(raw))
        .await
        .unwrap();
    let Outcome::Filed { request, kind } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(kind, "to-qualify");
    let new = crate::support::world::Device::new("VT-C");
    let err = store
        .write(&desk(), "replace", |tx| {
            tx.add_token("VT-C", "virtual")?;
            tx.prepare_replacement(
                request,
                "VT-C",
                &new.secret,
                keyward::otp::CredentialParams::totp(),
            )
        })
        .unwrap_err();
    assert!(err.to_string().contains("qualified"), "{err}");
    store
        .write(&desk(), "qualify", |tx| {
            tx.qualify_replacement(request, RevokeReason::Broken)
        })
        .unwrap();
    store
        .write(&desk(), "replace", |tx| {
            tx.add_token("VT-C", "virtual")?;
            tx.prepare_replacement(
                request,
                "VT-C",
                &new.secret,
                keyward::otp::CredentialParams::totp(),
            )
        })
        .unwrap();
}

/// The authority's own server vouches for the sender instead of DKIM here:
/// only its topmost header counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_results_of_our_server_only() {
    let w = world(at("2026-11-02", 8));
    w.appoint("adurand", SCHOOL_EAST, "2025-09-01", None);
    w.active_totp("adurand", "VT-A", "482193");
    let store = std::sync::Arc::new(w.store);
    let mailer = std::sync::Arc::new(
        keyward::mail::service::Mailer::new(mail_config(
            "method = \"authentication-results\"\nauthserv_id = \"mx.ac-exemple.fr\"\n",
            "",
        ))
        .unwrap(),
    );
    let msg = |id: &str, ar: &str| {
        let mut m = format!("Authentication-Results: {ar}\r\n").into_bytes();
        m.extend(help_message(
            id,
            &format!("adurand@{DOMAIN}"),
            &[&format!("pmartin@{DOMAIN}")],
            "Clé volée",
            "",
        ));
        Received::Whole(m)
    };
    let foreign = msg("a1@x", "mx.evil.example; dkim=pass header.d=ac-exemple.fr");
    assert_eq!(
        mailer.ingest(&store, &desk(), foreign).await.unwrap(),
        Outcome::Refused {
            refusal: Refusal::NotAuthenticated,
            replied: false
        }
    );
    let ours = msg("a2@x", "mx.ac-exemple.fr; dkim=pass header.d=ac-exemple.fr");
    assert!(matches!(
        mailer.ingest(&store, &desk(), ours).await.unwrap(),
        Outcome::Filed { kind, .. } if kind == "stolen"
    ));
}

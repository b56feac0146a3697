//! The mails of the school year queued by the calendar (docs/mail.md,
//! "Scheduled notices"), with the clock moved through a year: the August
//! invitation before the end of the school year, July return reminders to
//! the leaver and their inspector, weekly overdue notices to the inspector;
//! a second run the same day or week queues nothing twice.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::mail::mail_config;
use crate::support::world::{at, world, DOMAIN, SCHOOL_EAST};
use keyward::domain::Actor;
use keyward::mail::service::{queue_scheduled, Mailer};
use keyward::store::ops::ScheduledQueued;

fn mailer(calendar: &str) -> Mailer {
    Mailer::new(mail_config(
        "method = \"authentication-results\"\nauthserv_id = \"mx\"\n",
        calendar,
    ))
    .unwrap()
}

/// (template, recipients, body) of every outbox row.
fn outbox(db: &std::path::Path) -> Vec<(String, String, String)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT template, recipients, body FROM outbox ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn queued(invitations: usize, reminders: usize, overdue: usize) -> ScheduledQueued {
    ScheduledQueued {
        invitations,
        reminders,
        overdue,
    }
}

#[test]
fn a_school_year_s_mails_go_out_once_each() {
    let w = world(at("2027-05-20", 12));
    // A leaver (their appointment ends on 4 July) with a key, a director who
    // stays, and a new director appointed from September without a key.
    w.appoint("cmoreau", SCHOOL_EAST, "2026-09-01", Some("2027-07-04"));
    w.active_totp("cmoreau", "VT-LEAVER", "482193");
    w.appoint(
        "bleroy",
        crate::support::world::SCHOOL_EAST_2,
        "2026-09-01",
        None,
    );
    w.active_totp("bleroy", "VT-STAYS", "591734");
    w.appoint(
        "adurand",
        crate::support::world::SCHOOL_WEST,
        "2027-09-01",
        None,
    );
    let mailer =
        mailer("[mail.calendar]\nmeeting = \"08-20\"\nmeeting_place = \"Rectorat, salle 12\"\n");
    let run = || queue_scheduled(&w.store, &mailer, &Actor::System).unwrap();
    let db = w.store.db_path().to_owned();

    // May: nothing is due.
    assert_eq!(run(), queued(0, 0, 0));
    assert!(outbox(&db).is_empty());

    // From 1 June: the invitation, once, to the new director only.
    w.clock.set(at("2027-06-01", 12));
    assert_eq!(run(), queued(1, 0, 0));
    assert_eq!(run(), queued(0, 0, 0), "a second run the same day");
    w.clock.set(at("2027-06-15", 12));
    assert_eq!(run(), queued(0, 0, 0), "a later day of the same campaign");
    let rows = outbox(&db);
    assert_eq!(rows.len(), 1);
    let (template, to, body) = &rows[0];
    assert_eq!(template, "august-invitation");
    assert_eq!(to, &format!("adurand@{DOMAIN}"));
    assert!(body.contains("20/08/2027 09:00"), "{body}");
    assert!(body.contains("Rectorat, salle 12"), "{body}");
    assert!(body.contains("01/09/2027"), "{body}");

    // From 1 July to the deadline (7 July): the leaver and their inspector
    // are reminded, once; the director who stays is not.
    w.clock.set(at("2027-07-01", 12));
    assert_eq!(run(), queued(0, 1, 0));
    w.clock.set(at("2027-07-06", 12));
    assert_eq!(run(), queued(0, 0, 0));
    let rows = outbox(&db);
    let (template, to, body) = &rows[1];
    assert_eq!(template, "return-reminder");
    assert_eq!(to, &format!("cmoreau@{DOMAIN},pmartin@{DOMAIN}"));
    assert!(
        body.contains("VT-LEAVER") && body.contains("07/07/2027"),
        "{body}"
    );
    assert!(!rows.iter().any(|(_, to, _)| to.contains("bleroy")));

    // Thursday 8 July: the key is overdue; the inspector is told once that
    // week (Monday 5 to Sunday 11), again the next week.
    w.clock.set(at("2027-07-08", 12));
    assert_eq!(run(), queued(0, 0, 1));
    assert_eq!(run(), queued(0, 0, 0));
    w.clock.set(at("2027-07-11", 20));
    assert_eq!(run(), queued(0, 0, 0), "same week");
    w.clock.set(at("2027-07-12", 12));
    assert_eq!(run(), queued(0, 0, 1), "next week");
    let rows = outbox(&db);
    let overdue: Vec<_> = rows
        .iter()
        .filter(|(t, _, _)| t == "overdue-notice")
        .collect();
    assert_eq!(overdue.len(), 2);
    for (_, to, body) in overdue {
        assert_eq!(to, &format!("pmartin@{DOMAIN}"));
        assert!(
            body.contains("VT-LEAVER") && body.contains("Chloé Moreau"),
            "{body}"
        );
        assert!(!body.contains("VT-STAYS"), "{body}");
    }

    // After the meeting: no more invitations; the outbox holds each mail once.
    w.clock.set(at("2027-08-21", 12));
    assert_eq!(run().invitations, 0);
    let dedupes: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) - COUNT(DISTINCT dedupe) FROM outbox",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(dedupes, 0);
    w.assert_audit_intact();
}

#[test]
fn without_a_meeting_place_no_invitation_goes_out() {
    let w = world(at("2027-06-02", 12));
    w.appoint("adurand", SCHOOL_EAST, "2027-09-01", None);
    let mailer = mailer("");
    assert_eq!(
        queue_scheduled(&w.store, &mailer, &Actor::System).unwrap(),
        queued(0, 0, 0)
    );
}

#[test]
fn only_the_desk_or_the_daemon_runs_it() {
    let w = world(at("2027-06-02", 12));
    let mailer = mailer("");
    let inspector = crate::support::world::inspector_east();
    let refused = queue_scheduled(&w.store, &mailer, &inspector);
    assert!(
        matches!(refused, Err(keyward::store::StoreError::Forbidden { .. })),
        "{refused:?}"
    );
}

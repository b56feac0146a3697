//! The directory moves a start date, and a person comes back
//! (`docs/directory.md`), against the real slapd of `directory_ldap`:
//! a right to come follows its published start (case 5: verify accepts
//! from that day, not before); a right already in force whose start moves
//! later is ended and granted again from that day (never in force on days
//! the directory says it is not); a person who left and is in the
//! directory again is active again, with rights granted afresh.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyward::domain::{Actor, EndReason, RightOrigin, Role};
use keyward::wire::directory::RunOutcome;

use crate::directory_ldap::{accepts, school, Fixture, SCHOOLS_N};
use crate::support::slapd::{self, PEOPLE, SCHOOLS};
use crate::support::world::{at, pid};

fn audit_actions(f: &Fixture, subject: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(f.store.db_path()).unwrap();
    let mut stmt = conn
        .prepare("SELECT action FROM audit WHERE subject = ?1 ORDER BY seq")
        .unwrap();
    stmt.query_map([subject], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn case5_a_start_date_moved_by_the_directory_is_followed() {
    let f = Fixture::loaded();
    // dir00001's appointment started today (2026-10-01, the first run).
    let started = f.key("dir00001", "VT-D1", "ien01");
    let svc = f.store.verify_service().unwrap();
    assert!(accepts(&f, &svc, "dir00001", &started));

    // A new school of C01 with a director from 05/10; dir00001's start is
    // now published as 20/10 (later: not in force until then); dir00002's
    // as 01/09 (earlier than keyward's: a started right's past stays).
    let new = SCHOOLS_N;
    f.slapd.modify(&format!(
        "dn: ou={code},ou=C01,{SCHOOLS}\nchangetype: add\nobjectClass: organizationalUnit\nou: {code}\ndescription: Ecole neuve\n\n\
         dn: uid=late,{PEOPLE}\nchangetype: add\nobjectClass: inetOrgPerson\nobjectClass: FrEduPerson\nuid: late\ncn: Directeur Tardif\nsn: Tardif\n\
         mail: late@ac-exemple.fr\nFrEduFonctAdm: DIR\nFrEduRneResp: {code}$UAJ$PU$N$T3$LP$320\ndateff: 05/10/2026\n\n\
         dn: uid=dir00001,{PEOPLE}\nchangetype: modify\nadd: dateff\ndateff: 20/10/2026\n\n\
         dn: uid=dir00002,{PEOPLE}\nchangetype: modify\nadd: dateff\ndateff: 01/09/2026\n",
        code = school(new)
    ));
    let report = f.sync();
    assert_eq!(
        Fixture::count(&report, "appointments", "added"),
        2,
        "{:?}",
        report.changes
    );
    assert_eq!(Fixture::count(&report, "appointments", "ended"), 1);
    assert_eq!(Fixture::count(&report, "appointments", "changed"), 0);
    let d1 = f.rights_of("dir00001");
    assert_eq!(d1.len(), 2, "{d1:?}");
    assert_eq!(d1[0].end_reason, Some(EndReason::Directory));
    assert!(d1[0].period.ended_at.is_some());
    assert_eq!(d1[1].period.from.to_string(), "2026-10-20");
    assert_eq!(d1[1].origin, RightOrigin::Appointment);
    let d2 = f.rights_of("dir00002");
    assert_eq!(d2.len(), 1);
    assert_eq!(d2[0].period.from.to_string(), "2026-10-01");
    // dir00001's key no longer opens anything until the new start.
    assert!(!accepts(&f, &svc, "dir00001", &started));

    // The directory moves the late director's start before it is reached:
    // the same right, its start moved, audited.
    let late = f.key("late", "VT-LATE", "ien01");
    f.slapd.modify(&format!(
        "dn: uid=late,{PEOPLE}\nchangetype: modify\nreplace: dateff\ndateff: 12/10/2026\n"
    ));
    let report = f.sync();
    assert_eq!(
        Fixture::count(&report, "appointments", "changed"),
        1,
        "{:?}",
        report.changes
    );
    assert_eq!(report.changes.len(), 1, "{:?}", report.changes);
    let rights = f.rights_of("late");
    assert_eq!(rights.len(), 1);
    assert_eq!(rights[0].period.from.to_string(), "2026-10-12");
    assert_eq!(rights[0].period.ended_at, None);
    let actions = audit_actions(&f, "late");
    assert!(actions.iter().any(|a| a == "right.dates"), "{actions:?}");
    assert_eq!(f.sync().outcome, RunOutcome::Unchanged);

    // Case 5: from the published start, not before (not on the old one).
    f.clock.set(at("2026-10-06", 9));
    assert!(!accepts(&f, &svc, "late", &late));
    assert!(!accepts(&f, &svc, "dir00001", &started));
    f.clock.set(at("2026-10-12", 0) + 60);
    assert!(accepts(&f, &svc, "late", &late));
    f.clock.set(at("2026-10-19", 23));
    assert!(!accepts(&f, &svc, "dir00001", &started));
    f.clock.set(at("2026-10-20", 0) + 60);
    assert!(accepts(&f, &svc, "dir00001", &started));
    drop(svc);
}

#[test]
fn a_person_who_left_and_comes_back_is_restored_with_fresh_rights() {
    let f = Fixture::loaded();
    let key = f.key("dir00003", "VT-D3", "ien01");
    let svc = f.store.verify_service().unwrap();
    assert!(accepts(&f, &svc, "dir00003", &key));
    // ien05, C05's inspector, holds an inspector API key.
    f.store
        .write(&Actor::Admin(pid("admin")), "apikey", |tx| {
            tx.create_api_key(
                "ien05 laptop",
                Role::Inspector,
                Some("C05"),
                &[],
                Some(&pid("ien05")),
            )
        })
        .unwrap();

    // Gone from the directory: left, appointment ended.
    f.slapd.modify(&format!(
        "dn: uid=dir00003,{PEOPLE}\nchangetype: delete\n\ndn: uid=ien05,{PEOPLE}\nchangetype: delete\n"
    ));
    let report = f.sync();
    assert_eq!(Fixture::count(&report, "people", "ended"), 2);
    assert_eq!(Fixture::count(&report, "appointments", "ended"), 1);
    assert!(f.store.read(|tx| tx.has_left(&pid("dir00003"))).unwrap());
    assert!(!accepts(&f, &svc, "dir00003", &key));

    // Back the next day, same school, new address.
    f.clock.set(at("2026-10-02", 9));
    let entry = slapd::person("dir00003", "DIR", &[3], &[])
        .replacen('\n', "\nchangetype: add\n", 1)
        .replace("mail: dir00003@", "mail: dir00003.retour@");
    let first_of_c05 = (0..SCHOOLS_N)
        .find(|n| slapd::district_of(*n, SCHOOLS_N, 12) == "C05")
        .unwrap();
    let inspector = slapd::person("ien05", "IEN1D", &[first_of_c05], &[]).replacen(
        '\n',
        "\nchangetype: add\n",
        1,
    );
    f.slapd.modify(&format!("{entry}{inspector}"));
    let report = f.sync();
    assert_eq!(
        Fixture::count(&report, "people", "returned"),
        2,
        "{:?} {:?}",
        report.changes,
        report.errors
    );
    assert_eq!(Fixture::count(&report, "appointments", "added"), 1);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(!f.store.read(|tx| tx.has_left(&pid("dir00003"))).unwrap());
    let person = f.store.read(|tx| tx.person(&pid("dir00003"))).unwrap();
    assert_eq!(person.mail.as_str(), "dir00003.retour@ac-exemple.fr");
    // The old appointment stays ended; a new one from the return.
    let rights = f.rights_of("dir00003");
    assert_eq!(rights.len(), 2, "{rights:?}");
    assert_eq!(rights[0].end_reason, Some(EndReason::Directory));
    assert_eq!(rights[1].period.ended_at, None);
    assert_eq!(rights[1].period.from.to_string(), "2026-10-02");
    assert_eq!(rights[1].school.as_str(), school(3));
    let actions = audit_actions(&f, "dir00003");
    assert!(actions.iter().any(|a| a == "person.return"), "{actions:?}");
    // Back as C05's inspector, but the API key held before leaving stays
    // refused: revoked at the return.
    let districts = f.store.read(|tx| tx.districts()).unwrap();
    let c05 = districts.iter().find(|d| d.code == "C05").unwrap();
    assert_eq!(c05.inspector.as_deref(), Some("ien05"));
    let keys = f.store.read(|tx| tx.api_keys()).unwrap();
    let old = keys
        .iter()
        .find(|k| k.person.as_deref() == Some("ien05"))
        .unwrap();
    assert!(old.revoked_at.is_some(), "{old:?}");
    // The key was never returned: still bound to them, it works again.
    assert!(accepts(&f, &svc, "dir00003", &key));
    assert_eq!(f.sync().outcome, RunOutcome::Unchanged);
    drop(svc);
}

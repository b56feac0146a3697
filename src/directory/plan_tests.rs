//! Table tests of the diff and its guard.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use super::config::{DirectoryConfig, Kind};
use super::plan::{
    plan, Change, StoreState, StoredDistrict, StoredPerson, StoredRight, StoredSchool, Verb,
};
use super::snapshot::{Entry, Snapshot};
use crate::domain::{Date, PersonId, RightOrigin, Uai};

const A: &str = "0751710B";
const B: &str = "0750001U";

fn day(t: &str) -> Date {
    Date::parse(t).unwrap()
}

fn id(t: &str) -> PersonId {
    PersonId::parse(t).unwrap()
}

fn uai(t: &str) -> Uai {
    Uai::parse(t).unwrap()
}

fn person(uid: &str, function: &str, schools: &[&str]) -> Entry {
    let mut e = Entry::new(&format!("uid={uid},ou=people,dc=ac,dc=fr"))
        .with("uid", uid)
        .with("cn", format!("Person {uid}"))
        .with("mail", format!("{uid}@ac-exemple.fr"))
        .with("FrEduFonctAdm", function);
    for s in schools {
        e.add("FrEduRneResp", format!("{s}$UAJ$PU$N$T3$LP$320"));
    }
    e
}

fn schools() -> Vec<Entry> {
    vec![
        Entry::new("ou=C01,ou=schools,dc=ac,dc=fr").with("description", "Est"),
        Entry::new("ou=C02,ou=schools,dc=ac,dc=fr").with("description", "Ouest"),
        Entry::new(&format!("ou={A},ou=C01,ou=schools,dc=ac,dc=fr"))
            .with("ou", A)
            .with("description", "Ecole A"),
        Entry::new(&format!("ou={B},ou=C02,ou=schools,dc=ac,dc=fr"))
            .with("ou", B)
            .with("description", "Ecole B"),
    ]
}

fn snapshot(people: &[Entry]) -> Snapshot {
    let c = DirectoryConfig::new(
        "ldap://x",
        "ou=people,dc=ac,dc=fr",
        "ou=schools,dc=ac,dc=fr",
    );
    Snapshot::read(people, &schools(), &c.reading, None)
}

/// keyward as the directory of [`baseline`] leaves it.
fn store() -> StoreState {
    let mut s = StoreState::default();
    for uid in ["adurand", "pmartin", "lbernard", "cdeputy"] {
        s.people.insert(
            id(uid),
            StoredPerson {
                full_name: format!("Person {uid}"),
                mail: format!("{uid}@ac-exemple.fr"),
                left: false,
                staff: false,
            },
        );
    }
    s.districts.insert(
        "C01".into(),
        StoredDistrict {
            name: "Est".into(),
            inspector: Some(id("pmartin")),
        },
    );
    s.districts.insert(
        "C02".into(),
        StoredDistrict {
            name: "Ouest".into(),
            inspector: Some(id("lbernard")),
        },
    );
    s.schools.insert(
        uai(A),
        StoredSchool {
            name: "Ecole A".into(),
            district: "C01".into(),
        },
    );
    s.schools.insert(
        uai(B),
        StoredSchool {
            name: "Ecole B".into(),
            district: "C02".into(),
        },
    );
    s.rights.push(StoredRight {
        id: 1,
        person: id("adurand"),
        school: uai(A),
        origin: RightOrigin::Appointment,
        from: day("2026-09-01"),
        until: None,
    });
    s
}

fn baseline() -> Vec<Entry> {
    vec![
        person("adurand", "DIR", &[A]),
        person("pmartin", "IEN1D", &[A]),
        person("lbernard", "IEN1D", &[B]),
        person("cdeputy", "ENS", &[]),
    ]
}

fn all() -> BTreeSet<Kind> {
    Kind::ALL.into_iter().collect()
}

fn summary(people: Vec<Entry>, store: &StoreState) -> Vec<String> {
    let p = plan(&snapshot(&people), store, day("2026-10-01"), &all());
    p.changes
        .iter()
        .map(|c| {
            format!(
                "{} {} {} {}",
                c.kind().as_str(),
                c.verb().as_str(),
                c.subject(),
                c.detail()
            )
        })
        .collect()
}

#[test]
fn the_directory_as_keyward_holds_it_changes_nothing() {
    assert_eq!(summary(baseline(), &store()), Vec::<String>::new());
}

#[test]
fn each_directory_change_gives_its_change() {
    let with = |f: &dyn Fn(&mut Vec<Entry>)| {
        let mut p = baseline();
        f(&mut p);
        summary(p, &store())
    };
    let cases: Vec<(&str, Vec<String>, Vec<&str>)> = vec![
        (
            "director added, dated (case 5)",
            with(&|p| p.push(person("enew", "DIR", &[B]).with("dateff", "02/11/2026"))),
            vec![
                "people added enew name=Person enew mail=enew@ac-exemple.fr",
                "appointments added enew@0750001U from=2026-11-02 until=open",
            ],
        ),
        (
            "director removed (case 4)",
            with(&|p| p[0] = person("adurand", "ENS", &[])),
            vec!["appointments ended adurand@0751710B right=1 reason=directory"],
        ),
        (
            "director's end published",
            with(&|p| p[0].add("finfonction", "04/07/2027")),
            vec!["appointments changed adurand@0751710B right=1 from=2026-09-01 until=2027-07-04"],
        ),
        (
            "delegation added (case 1)",
            with(&|p| {
                p[3].add(
                    "FrEduResDel",
                    format!("keyward|u|05/10/2026|20/10/2026|pmartin|FrEduRneResp={A}$UAJ|s||"),
                );
            }),
            vec!["delegations added cdeputy@0751710B from=2026-10-05 until=2026-10-20"],
        ),
        (
            "another application's delegation",
            with(&|p| {
                p[3].add(
                    "FrEduResDel",
                    format!("mail|u|05/10/2026|x|y|FrEduRneResp={A}"),
                )
            }),
            vec![],
        ),
        (
            "mail change",
            with(&|p| {
                p[3] = Entry::new("uid=cdeputy,ou=people,dc=ac,dc=fr")
                    .with("uid", "cdeputy")
                    .with("cn", "Person cdeputy")
                    .with("mail", "c.deputy@ac-exemple.fr");
            }),
            vec![],
        ),
        (
            "director moves district",
            with(&|p| p[0] = person("adurand", "DIR", &[B])),
            vec![
                "appointments ended adurand@0751710B right=1 reason=directory",
                "appointments added adurand@0750001U from=2026-10-01 until=open",
            ],
        ),
        (
            "inspector replaced",
            with(&|p| {
                p[1] = person("pmartin", "ENS", &[]);
                p.push(person("nien", "IEN1D", &[A]));
            }),
            vec![
                "people added nien name=Person nien mail=nien@ac-exemple.fr",
                "districts changed C01 inspector=nien",
            ],
        ),
        (
            "person gone",
            with(&|p| {
                p.remove(3);
            }),
            vec!["people ended cdeputy left"],
        ),
        (
            "IT-centre staff are kept by hand",
            summary(baseline(), &{
                let mut s = store();
                s.people.insert(
                    id("alice"),
                    StoredPerson {
                        full_name: "Alice".into(),
                        mail: "alice@ac-exemple.fr".into(),
                        left: false,
                        staff: true,
                    },
                );
                s
            }),
            vec![],
        ),
        (
            "unknown school: held, reported, nothing ended",
            with(&|p| p[0] = person("adurand", "DIR", &[A, "0130001F"])),
            vec![],
        ),
        (
            "bad check letter: held, nothing ended",
            with(&|p| p[0] = person("adurand", "DIR", &["0751710C"])),
            vec![],
        ),
    ];
    for (case, got, want) in cases {
        // A mail change shows as one line whose detail names the new mail.
        if case == "mail change" {
            assert_eq!(
                got,
                ["people changed cdeputy name=Person cdeputy mail=c.deputy@ac-exemple.fr"],
                "{case}"
            );
            continue;
        }
        assert_eq!(got, want, "{case}");
    }
}

#[test]
fn a_school_changing_district_and_new_places() {
    let mut s = store();
    s.schools.get_mut(&uai(B)).unwrap().district = "C01".into();
    assert_eq!(
        summary(baseline(), &s),
        ["schools changed 0750001U name=Ecole B district=C02"]
    );
    let mut s = store();
    s.schools.clear();
    s.districts.clear();
    s.rights.clear();
    assert_eq!(
        summary(baseline(), &s),
        [
            "districts added C01 name=Est inspector=-",
            "districts added C02 name=Ouest inspector=-",
            "districts changed C01 inspector=pmartin",
            "districts changed C02 inspector=lbernard",
            "schools added 0750001U name=Ecole B district=C02",
            "schools added 0751710B name=Ecole A district=C01",
            "appointments added adurand@0751710B from=2026-10-01 until=open",
        ]
    );
}

#[test]
fn errors_are_reported_per_entry() {
    let mut people = baseline();
    people[0] = person("adurand", "DIR", &["0751710C"]);
    people.push(person("two", "IEN1D", &[A, B]));
    people.push(Entry::new("cn=nouid,ou=people,dc=ac,dc=fr").with("cn", "x"));
    let p = plan(&snapshot(&people), &store(), day("2026-10-01"), &all());
    let problems: Vec<&str> = p.errors.iter().map(|e| e.problem.as_str()).collect();
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(
        problems.iter().any(|e| e.contains("check letter")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|e| e.contains("several districts")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|e| e.contains("no uid")),
        "{problems:?}"
    );
}

#[test]
fn kinds_kept_by_hand_are_left_alone() {
    let owns: BTreeSet<Kind> = [Kind::Appointments].into();
    let p = plan(&snapshot(&[]), &store(), day("2026-10-01"), &owns);
    assert_eq!(p.changes.len(), 1);
    assert!(matches!(p.changes[0], Change::RightEnded { .. }));
    let p = plan(
        &snapshot(&[]),
        &store(),
        day("2026-10-01"),
        &[Kind::Delegations].into(),
    );
    assert!(p.is_empty());
}

#[test]
fn the_guard_stops_mass_ends() {
    let mut s = store();
    for n in 0..19 {
        s.rights.push(StoredRight {
            id: 10 + n,
            person: id("adurand"),
            school: uai(A),
            origin: RightOrigin::Delegation,
            from: day("2026-09-01"),
            until: None,
        });
    }
    // The baseline directory keeps none of the 19 delegations: 19 of 20.
    let p = plan(&snapshot(&baseline()), &s, day("2026-10-01"), &all());
    let stop = p.guard(100).unwrap_err();
    assert_eq!((stop.ended, stop.of), (19, 20));
    assert!(p.guard(1000).is_ok());
    // An empty directory (a filter returning nothing) would end everyone.
    let p = plan(&snapshot(&[]), &store(), day("2026-10-01"), &all());
    assert!(p.guard(100).is_err());
    // 2 of 20 (10 %) passes at 10 %, 3 of 20 does not.
    let mut s = store();
    for n in 0..19 {
        s.rights.push(StoredRight {
            id: 10 + n,
            person: id("adurand"),
            school: uai(A),
            origin: RightOrigin::Appointment,
            from: day("2026-09-01"),
            until: None,
        });
    }
    let counts = plan(&snapshot(&baseline()), &s, day("2026-10-01"), &all()).counts();
    assert_eq!(counts.get(&(Kind::Appointments, Verb::Ended)), Some(&19));
    let mut p = plan(&snapshot(&baseline()), &s, day("2026-10-01"), &all());
    p.changes.truncate(2);
    assert!(p.guard(100).is_ok());
    let mut p = plan(&snapshot(&baseline()), &s, day("2026-10-01"), &all());
    p.changes.truncate(3);
    assert!(p.guard(100).is_err());
}

#[test]
fn moved_start_dates_follow_the_directory_without_rewriting_the_past() {
    let dated = |from: &str| {
        let mut p = baseline();
        p[0].add("dateff", from);
        p
    };
    let to_come = {
        let mut s = store();
        s.rights[0].from = day("2026-11-01");
        s
    };
    // A right to come: its start moves, either way.
    assert_eq!(
        summary(dated("15/11/2026"), &to_come),
        ["appointments changed adurand@0751710B right=1 from=2026-11-15 until=open"]
    );
    assert_eq!(
        summary(dated("15/09/2026"), &to_come),
        ["appointments changed adurand@0751710B right=1 from=2026-09-15 until=open"]
    );
    // A right in force whose start moves later than today: not in force
    // until then, so ended now and granted again from that day.
    assert_eq!(
        summary(dated("20/10/2026"), &store()),
        [
            "appointments ended adurand@0751710B right=1 reason=directory",
            "appointments added adurand@0751710B from=2026-10-20 until=open",
        ]
    );
    // Earlier, or later but not after today: its past stays as it was.
    assert_eq!(summary(dated("15/08/2026"), &store()), Vec::<String>::new());
    assert_eq!(summary(dated("01/10/2026"), &store()), Vec::<String>::new());
}

#[test]
fn a_person_who_left_is_restored_with_fresh_rights() {
    let mut left = store();
    left.rights.clear();
    left.people.get_mut(&id("adurand")).unwrap().left = true;
    assert_eq!(
        summary(baseline(), &left),
        [
            "people returned adurand name=Person adurand mail=adurand@ac-exemple.fr",
            "appointments added adurand@0751710B from=2026-10-01 until=open",
        ]
    );
    // Kept by hand (people not owned): only reported, nothing changes.
    let owns: BTreeSet<Kind> = [Kind::Appointments].into();
    let p = plan(&snapshot(&baseline()), &left, day("2026-10-01"), &owns);
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    assert!(p.errors.iter().any(|e| e.dn.starts_with("uid=adurand")));
}

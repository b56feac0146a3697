//! The diff between what the directory publishes ([`Snapshot`]) and what
//! keyward holds ([`StoreState`]): the changes, per kind, that would make
//! keyward follow the directory, and the guard that stops a run that would
//! end too many rights. Pure: the same inputs give the same plan.

use std::collections::{BTreeMap, BTreeSet};

use super::config::Kind;
use super::snapshot::{EntryError, EntryProblem, Snapshot};
use super::values::Function;
use crate::domain::{Date, MailAddress, PersonId, RightOrigin, Uai};

/// A person as keyward holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPerson {
    pub full_name: String,
    pub mail: String,
    pub left: bool,
    /// Holds a live admin or desk API key: IT-centre staff, kept by hand
    /// (the directory never makes them leave).
    pub staff: bool,
}

/// A district as keyward holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDistrict {
    pub name: String,
    pub inspector: Option<PersonId>,
}

/// A school as keyward holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSchool {
    pub name: String,
    pub district: String,
}

/// A right still live (in force or to come, not ended).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRight {
    pub id: i64,
    pub person: PersonId,
    pub school: Uai,
    pub origin: RightOrigin,
    pub from: Date,
    pub until: Option<Date>,
}

/// What keyward holds, read in one snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreState {
    pub people: BTreeMap<PersonId, StoredPerson>,
    pub districts: BTreeMap<String, StoredDistrict>,
    pub schools: BTreeMap<Uai, StoredSchool>,
    pub rights: Vec<StoredRight>,
}

/// One change, on one object: applied as one audited transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    PersonAdded {
        id: PersonId,
        full_name: String,
        mail: MailAddress,
    },
    PersonChanged {
        id: PersonId,
        full_name: String,
        mail: MailAddress,
    },
    PersonLeft {
        id: PersonId,
    },
    /// A person who left is in the directory again: active again, their
    /// rights granted afresh by the same run.
    PersonReturned {
        id: PersonId,
        full_name: String,
        mail: MailAddress,
    },
    DistrictAdded {
        code: String,
        name: String,
        inspector: Option<PersonId>,
    },
    DistrictChanged {
        code: String,
        inspector: Option<PersonId>,
    },
    SchoolAdded {
        uai: Uai,
        name: String,
        district: String,
    },
    SchoolChanged {
        uai: Uai,
        name: String,
        district: String,
    },
    RightAdded {
        origin: RightOrigin,
        person: PersonId,
        school: Uai,
        from: Date,
        until: Option<Date>,
    },
    /// New dates for a live right: `from` moves only while the right has
    /// not started (a started one is ended and granted again instead).
    RightChanged {
        right: i64,
        origin: RightOrigin,
        person: PersonId,
        school: Uai,
        from: Date,
        until: Option<Date>,
    },
    RightEnded {
        right: i64,
        origin: RightOrigin,
        person: PersonId,
        school: Uai,
    },
}

/// Added, changed or ended.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Verb {
    Added,
    Changed,
    Ended,
    Returned,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Added => "added",
            Verb::Changed => "changed",
            Verb::Ended => "ended",
            Verb::Returned => "returned",
        }
    }
}

fn kind_of(origin: RightOrigin) -> Kind {
    match origin {
        RightOrigin::Appointment => Kind::Appointments,
        RightOrigin::Delegation => Kind::Delegations,
    }
}

fn until_text(until: Option<Date>) -> String {
    until.map_or_else(|| "open".to_owned(), |u| u.to_string())
}

impl Change {
    pub fn kind(&self) -> Kind {
        match self {
            Change::PersonAdded { .. }
            | Change::PersonChanged { .. }
            | Change::PersonLeft { .. }
            | Change::PersonReturned { .. } => Kind::People,
            Change::DistrictAdded { .. } | Change::DistrictChanged { .. } => Kind::Districts,
            Change::SchoolAdded { .. } | Change::SchoolChanged { .. } => Kind::Schools,
            Change::RightAdded { origin, .. }
            | Change::RightChanged { origin, .. }
            | Change::RightEnded { origin, .. } => kind_of(*origin),
        }
    }

    pub fn verb(&self) -> Verb {
        match self {
            Change::PersonAdded { .. }
            | Change::DistrictAdded { .. }
            | Change::SchoolAdded { .. }
            | Change::RightAdded { .. } => Verb::Added,
            Change::PersonChanged { .. }
            | Change::DistrictChanged { .. }
            | Change::SchoolChanged { .. }
            | Change::RightChanged { .. } => Verb::Changed,
            Change::PersonLeft { .. } | Change::RightEnded { .. } => Verb::Ended,
            Change::PersonReturned { .. } => Verb::Returned,
        }
    }

    /// The object changed, as shown and audited.
    pub fn subject(&self) -> String {
        match self {
            Change::PersonAdded { id, .. }
            | Change::PersonChanged { id, .. }
            | Change::PersonLeft { id }
            | Change::PersonReturned { id, .. } => id.to_string(),
            Change::DistrictAdded { code, .. } | Change::DistrictChanged { code, .. } => {
                code.clone()
            }
            Change::SchoolAdded { uai, .. } | Change::SchoolChanged { uai, .. } => uai.to_string(),
            Change::RightAdded { person, school, .. }
            | Change::RightChanged { person, school, .. }
            | Change::RightEnded { person, school, .. } => format!("{person}@{school}"),
        }
    }

    /// What changes, in a few words (no secret: directory data only).
    pub fn detail(&self) -> String {
        match self {
            Change::PersonAdded {
                full_name, mail, ..
            }
            | Change::PersonChanged {
                full_name, mail, ..
            }
            | Change::PersonReturned {
                full_name, mail, ..
            } => format!("name={full_name} mail={mail}"),
            Change::PersonLeft { .. } => "left".to_owned(),
            Change::DistrictAdded {
                name, inspector, ..
            } => format!(
                "name={name} inspector={}",
                inspector.as_ref().map_or("-", PersonId::as_str)
            ),
            Change::DistrictChanged { inspector, .. } => format!(
                "inspector={}",
                inspector.as_ref().map_or("-", PersonId::as_str)
            ),
            Change::SchoolAdded { name, district, .. }
            | Change::SchoolChanged { name, district, .. } => {
                format!("name={name} district={district}")
            }
            Change::RightAdded { from, until, .. } => {
                format!("from={from} until={}", until_text(*until))
            }
            Change::RightChanged {
                right, from, until, ..
            } => {
                format!("right={right} from={from} until={}", until_text(*until))
            }
            Change::RightEnded { right, .. } => format!("right={right} reason=directory"),
        }
    }

    /// Apply order: people and places before the rights that name them,
    /// ends before adds (one director per school), departures last.
    fn rank(&self) -> u8 {
        match self {
            Change::PersonAdded { .. }
            | Change::PersonChanged { .. }
            | Change::PersonReturned { .. } => 0,
            Change::DistrictAdded { .. } => 1,
            Change::DistrictChanged { .. } => 2,
            Change::SchoolAdded { .. } | Change::SchoolChanged { .. } => 3,
            Change::RightEnded { .. } => 4,
            Change::RightChanged { .. } => 5,
            Change::RightAdded { .. } => 6,
            Change::PersonLeft { .. } => 7,
        }
    }
}

/// Counts per kind and verb.
pub type Counts = BTreeMap<(Kind, Verb), usize>;

/// The changes of one run, and the entries reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub errors: Vec<EntryError>,
    /// Live rights of the kinds the directory owns, before the run.
    pub live_rights: usize,
    /// People keyward holds (not left) before the run.
    pub live_people: usize,
}

/// The guard stopped the run: it would end too much.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the directory would end {ended} of {of} {what} (over {per_mille}‰): a directory outage or a wrong filter? Run again with confirmation to apply")]
pub struct GuardStop {
    pub what: &'static str,
    pub ended: usize,
    pub of: usize,
    pub per_mille: u32,
}

impl Plan {
    pub fn counts(&self) -> Counts {
        let mut out = Counts::new();
        for change in &self.changes {
            *out.entry((change.kind(), change.verb())).or_default() += 1;
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Refuses a plan ending more than `per_mille` of the live rights, or of
    /// the people.
    pub fn guard(&self, per_mille: u32) -> Result<(), GuardStop> {
        let over = |ended: usize, of: usize| ended > 0 && ended * 1000 > of * per_mille as usize;
        let rights_ended = self
            .changes
            .iter()
            .filter(|c| matches!(c, Change::RightEnded { .. }))
            .count();
        if over(rights_ended, self.live_rights) {
            return Err(GuardStop {
                what: "rights",
                ended: rights_ended,
                of: self.live_rights,
                per_mille,
            });
        }
        let left = self
            .changes
            .iter()
            .filter(|c| matches!(c, Change::PersonLeft { .. }))
            .count();
        if over(left, self.live_people) {
            return Err(GuardStop {
                what: "people",
                ended: left,
                of: self.live_people,
                per_mille,
            });
        }
        Ok(())
    }
}

/// Where an appointment's or delegation's dates come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Wanted {
    from: Option<Date>,
    until: Option<Date>,
}

/// The changes that make keyward follow the directory for the kinds it
/// owns, on `today` (the authority's day).
pub fn plan(dir: &Snapshot, store: &StoreState, today: Date, owns: &BTreeSet<Kind>) -> Plan {
    let mut out = Plan {
        live_rights: store
            .rights
            .iter()
            .filter(|r| owns.contains(&kind_of(r.origin)))
            .count(),
        live_people: store
            .people
            .values()
            .filter(|p| !p.left && !p.staff)
            .count(),
        errors: dir.errors.clone(),
        ..Plan::default()
    };
    let owned = |k: Kind| owns.contains(&k);
    let mut report = |dn: &str, p: EntryProblem| out.errors.push(EntryError::new(dn, &p));

    // People.
    let mut people_after: BTreeSet<PersonId> = BTreeSet::new();
    let mut changes = Vec::new();
    let taken_mail: BTreeMap<&str, &PersonId> = store
        .people
        .iter()
        .map(|(id, p)| (p.mail.as_str(), id))
        .collect();
    let mut held: BTreeSet<PersonId> = dir.held_people.clone();
    for (id, record) in &dir.people {
        match store.people.get(id) {
            Some(p) if p.left && !owned(Kind::People) => {
                report(&record.dn, EntryProblem::Left(id.to_string()));
                held.insert(id.clone());
                continue;
            }
            Some(p) if p.left => {
                // Left, and named by the directory again: back, with the
                // rights the directory gives them now (the old ones stay
                // ended).
                if taken_mail
                    .get(record.mail.as_str())
                    .is_some_and(|o| *o != id)
                {
                    report(&record.dn, EntryProblem::MailTaken(record.mail.to_string()));
                    held.insert(id.clone());
                    continue;
                }
                people_after.insert(id.clone());
                changes.push(Change::PersonReturned {
                    id: id.clone(),
                    full_name: record.full_name.clone(),
                    mail: record.mail.clone(),
                });
            }
            Some(p) => {
                people_after.insert(id.clone());
                if owned(Kind::People)
                    && (p.full_name != record.full_name || p.mail != record.mail.as_str())
                {
                    if taken_mail
                        .get(record.mail.as_str())
                        .is_some_and(|o| *o != id)
                    {
                        report(&record.dn, EntryProblem::MailTaken(record.mail.to_string()));
                        continue;
                    }
                    changes.push(Change::PersonChanged {
                        id: id.clone(),
                        full_name: record.full_name.clone(),
                        mail: record.mail.clone(),
                    });
                }
            }
            None if owned(Kind::People) => {
                if taken_mail.contains_key(record.mail.as_str()) {
                    report(&record.dn, EntryProblem::MailTaken(record.mail.to_string()));
                    held.insert(id.clone());
                    continue;
                }
                people_after.insert(id.clone());
                changes.push(Change::PersonAdded {
                    id: id.clone(),
                    full_name: record.full_name.clone(),
                    mail: record.mail.clone(),
                });
            }
            None => {}
        }
    }
    if owned(Kind::People) {
        for (id, p) in &store.people {
            if !p.left && !p.staff && !dir.people.contains_key(id) && !held.contains(id) {
                changes.push(Change::PersonLeft { id: id.clone() });
            }
        }
    } else {
        people_after.extend(
            store
                .people
                .iter()
                .filter(|(_, p)| !p.left)
                .map(|(id, _)| id.clone()),
        );
    }

    // Schools and the districts they name.
    let mut schools_after: BTreeMap<Uai, String> = store
        .schools
        .iter()
        .map(|(u, s)| (u.clone(), s.district.clone()))
        .collect();
    let mut districts_after: BTreeSet<String> = store.districts.keys().cloned().collect();
    if owned(Kind::Districts) {
        for (code, name) in &dir.districts {
            if !store.districts.contains_key(code) {
                districts_after.insert(code.clone());
                changes.push(Change::DistrictAdded {
                    code: code.clone(),
                    name: name.clone().unwrap_or_else(|| code.clone()),
                    inspector: None,
                });
            }
        }
    }
    if owned(Kind::Schools) {
        for (uai, school) in &dir.schools {
            if !districts_after.contains(&school.district) {
                report(&school.dn, EntryProblem::NoDistrict(uai.to_string()));
                continue;
            }
            match store.schools.get(uai) {
                None => changes.push(Change::SchoolAdded {
                    uai: uai.clone(),
                    name: school.name.clone(),
                    district: school.district.clone(),
                }),
                Some(s) if s.district != school.district || s.name != school.name => {
                    changes.push(Change::SchoolChanged {
                        uai: uai.clone(),
                        name: school.name.clone(),
                        district: school.district.clone(),
                    });
                }
                Some(_) => {}
            }
            schools_after.insert(uai.clone(), school.district.clone());
        }
    }

    // Inspectors: the district of the schools they answer for.
    if owned(Kind::Districts) {
        let mut claimed: BTreeMap<String, Vec<&PersonId>> = BTreeMap::new();
        for (id, record) in &dir.people {
            if record.function != Function::Inspector || !people_after.contains(id) {
                continue;
            }
            let districts: BTreeSet<&String> = record
                .schools
                .iter()
                .filter_map(|u| schools_after.get(u))
                .collect();
            match districts.len() {
                1 => {
                    if let Some(d) = districts.into_iter().next() {
                        claimed.entry(d.clone()).or_default().push(id);
                    }
                }
                0 => report(&record.dn, EntryProblem::InspectorWithoutDistrict),
                _ => report(
                    &record.dn,
                    EntryProblem::AmbiguousDistrict(
                        districts.into_iter().cloned().collect::<Vec<_>>().join(","),
                    ),
                ),
            }
        }
        for code in &districts_after {
            let wanted = match claimed.get(code).map(Vec::as_slice) {
                Some([one]) => Some((*one).clone()),
                Some(_) => {
                    report(code, EntryProblem::TwoInspectors(code.clone()));
                    continue;
                }
                None => None,
            };
            let current = store.districts.get(code).and_then(|d| d.inspector.clone());
            // A district keyward holds keeps its inspector while the
            // directory names none for it or names someone held.
            if wanted.is_none() && current.as_ref().is_some_and(|c| held.contains(c)) {
                continue;
            }
            if wanted.is_none() && !dir.districts.contains_key(code) {
                continue;
            }
            if wanted != current {
                changes.push(Change::DistrictChanged {
                    code: code.clone(),
                    inspector: wanted,
                });
            }
        }
    }

    // Appointments and delegations.
    for origin in [RightOrigin::Appointment, RightOrigin::Delegation] {
        if !owned(kind_of(origin)) {
            continue;
        }
        let mut wanted: BTreeMap<(PersonId, Uai, Option<Date>), Wanted> = BTreeMap::new();
        for (id, record) in &dir.people {
            if !people_after.contains(id) || held.contains(id) {
                continue;
            }
            let mut rights: Vec<(Uai, Wanted)> = Vec::new();
            match origin {
                RightOrigin::Appointment if record.function == Function::Director => {
                    for school in &record.schools {
                        rights.push((
                            school.clone(),
                            Wanted {
                                from: record.function_from,
                                until: record.function_until,
                            },
                        ));
                    }
                }
                RightOrigin::Delegation => {
                    for d in &record.delegations {
                        rights.push((
                            d.school.clone(),
                            Wanted {
                                from: Some(d.from),
                                until: d.until,
                            },
                        ));
                    }
                }
                RightOrigin::Appointment => {}
            }
            let unknown: Vec<&Uai> = rights
                .iter()
                .map(|(u, _)| u)
                .filter(|u| !schools_after.contains_key(*u))
                .collect();
            if let Some(u) = unknown.first() {
                report(&record.dn, EntryProblem::UnknownSchool(u.to_string()));
                held.insert(id.clone());
                continue;
            }
            for (school, w) in rights {
                if w.until.is_some_and(|u| u < today) {
                    continue;
                }
                let key_from = match origin {
                    RightOrigin::Appointment => None,
                    RightOrigin::Delegation => w.from,
                };
                wanted.insert((id.clone(), school, key_from), w);
            }
        }
        let mut matched: BTreeSet<(PersonId, Uai, Option<Date>)> = BTreeSet::new();
        for right in store.rights.iter().filter(|r| r.origin == origin) {
            let key = (
                right.person.clone(),
                right.school.clone(),
                (origin == RightOrigin::Delegation).then_some(right.from),
            );
            if held.contains(&right.person) {
                continue;
            }
            match wanted.get(&key) {
                Some(w) if !matched.contains(&key) => {
                    matched.insert(key);
                    let started = right.from <= today;
                    match w.from {
                        // The directory moved the start of a right already
                        // in force to a later day: it must not be in force
                        // until then. Ended now, granted again from that day.
                        Some(f) if started && f > today && f != right.from => {
                            changes.push(Change::RightEnded {
                                right: right.id,
                                origin,
                                person: right.person.clone(),
                                school: right.school.clone(),
                            });
                            changes.push(Change::RightAdded {
                                origin,
                                person: right.person.clone(),
                                school: right.school.clone(),
                                from: f,
                                until: w.until,
                            });
                            continue;
                        }
                        _ => {}
                    }
                    // A right to come follows the published start; a started
                    // one keeps its start (its past is not rewritten).
                    let from = match w.from {
                        Some(f) if !started => f,
                        _ => right.from,
                    };
                    if from != right.from || w.until != right.until {
                        changes.push(Change::RightChanged {
                            right: right.id,
                            origin,
                            person: right.person.clone(),
                            school: right.school.clone(),
                            from,
                            until: w.until,
                        });
                    }
                }
                _ => changes.push(Change::RightEnded {
                    right: right.id,
                    origin,
                    person: right.person.clone(),
                    school: right.school.clone(),
                }),
            }
        }
        for (key, w) in wanted {
            if matched.contains(&key) {
                continue;
            }
            let (person, school, _) = key;
            let from = w.from.map_or(today, |f| f);
            changes.push(Change::RightAdded {
                origin,
                person,
                school,
                from,
                until: w.until,
            });
        }
    }
    changes.sort_by_key(Change::rank);
    out.changes = changes;
    out
}

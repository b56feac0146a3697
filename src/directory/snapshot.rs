//! Directory entries (from LDAP, LDIF or CSV: any source gives [`Entry`]s)
//! read into typed records. Pure: an entry that does not read is reported
//! with its DN and why ([`EntryError`]), and the person or school it names
//! is held: nothing about them changes in this run.

use std::collections::{BTreeMap, BTreeSet};

use super::config::{DistrictMapping, Reading};
use super::values::{self, DelegationValue, Function, ValueError};
use crate::domain::{Date, MailAddress, PersonId, Uai};

/// One directory entry: its DN and its attributes (names compared
/// case-insensitively, as LDAP does).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub dn: String,
    attrs: BTreeMap<String, Vec<String>>,
}

impl Entry {
    pub fn new(dn: &str) -> Entry {
        Entry {
            dn: dn.to_owned(),
            attrs: BTreeMap::new(),
        }
    }

    pub fn add(&mut self, name: &str, value: impl Into<String>) {
        self.attrs
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(value.into());
    }

    pub fn with(mut self, name: &str, value: impl Into<String>) -> Entry {
        self.add(name, value);
        self
    }

    pub fn values(&self, name: &str) -> &[String] {
        self.attrs
            .get(&name.to_ascii_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    pub fn first(&self, name: &str) -> Option<&str> {
        self.values(name)
            .first()
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }
}

/// What was wrong with one entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryProblem {
    #[error("no {0} attribute")]
    Missing(String),
    #[error(transparent)]
    Value(#[from] ValueError),
    #[error("mail {0:?} is not an address")]
    Mail(String),
    #[error("name is not one line of text")]
    Name,
    #[error("login {0} appears in two entries")]
    Duplicate(String),
    #[error("school {0} is neither in the directory nor in keyward")]
    UnknownSchool(String),
    #[error("no district for school {0}")]
    NoDistrict(String),
    #[error("an inspector's schools lie in several districts ({0})")]
    AmbiguousDistrict(String),
    #[error("an inspector's schools are in no known district")]
    InspectorWithoutDistrict,
    #[error("district {0} has two inspectors in the directory")]
    TwoInspectors(String),
    #[error("entry is not below the schools base as ou=UAI,ou=DISTRICT")]
    Placement,
    #[error("{0} has left keyward: an admin decides about a return")]
    Left(String),
    #[error("mail {0} is another person's")]
    MailTaken(String),
}

/// A reported entry: its DN and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EntryError {
    pub dn: String,
    pub problem: String,
}

impl EntryError {
    pub fn new(dn: &str, problem: &EntryProblem) -> EntryError {
        EntryError {
            dn: dn.to_owned(),
            problem: problem.to_string(),
        }
    }
}

/// A person as the directory publishes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRecord {
    pub dn: String,
    pub id: PersonId,
    pub full_name: String,
    pub mail: MailAddress,
    pub function: Function,
    /// `FrEduRneResp`: the schools they answer for.
    pub schools: Vec<Uai>,
    /// `FrEduResDel` values of keyward's application.
    pub delegations: Vec<DelegationValue>,
    /// Function start and end, where published (`None` = not published or
    /// no end).
    pub function_from: Option<Date>,
    pub function_until: Option<Date>,
}

/// A school as the directory publishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolRecord {
    pub dn: String,
    pub uai: Uai,
    pub name: String,
    pub district: String,
}

/// A district mapping file: `UAI;district code[;district name]` lines,
/// `#` comments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DistrictFile {
    pub schools: BTreeMap<Uai, String>,
    pub names: BTreeMap<String, String>,
}

impl DistrictFile {
    /// Parses the file's text; a bad line is refused with its number.
    pub fn parse(text: &str) -> Result<DistrictFile, String> {
        let mut out = DistrictFile::default();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split(';').map(str::trim).collect();
            let (uai, code) = match fields.as_slice() {
                [u, c] | [u, c, _] if valid_code(c) => (values::uai(u), *c),
                _ => return Err(format!("line {}: expected UAI;district[;name]", number + 1)),
            };
            let uai = uai.map_err(|e| format!("line {}: {e}", number + 1))?;
            if let Some(name) = fields.get(2).filter(|n| !n.is_empty()) {
                out.names.insert(code.to_owned(), (*name).to_owned());
            }
            out.schools.insert(uai, code.to_owned());
        }
        Ok(out)
    }
}

fn valid_code(code: &str) -> bool {
    !code.is_empty() && code.len() <= 32 && !code.chars().any(|c| c.is_control() || c == ' ')
}

/// The directory's content, read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub people: BTreeMap<PersonId, PersonRecord>,
    /// People whose entry did not read: nothing about them changes.
    pub held_people: BTreeSet<PersonId>,
    pub schools: BTreeMap<Uai, SchoolRecord>,
    pub held_schools: BTreeSet<Uai>,
    /// Districts named by the directory, with their name where given.
    pub districts: BTreeMap<String, Option<String>>,
    pub errors: Vec<EntryError>,
}

impl Snapshot {
    /// Reads the entries found under the people and schools bases.
    pub fn read(
        people: &[Entry],
        schools: &[Entry],
        reading: &Reading,
        file: Option<&DistrictFile>,
    ) -> Snapshot {
        let mut out = Snapshot::default();
        if let Some(file) = file {
            for code in file.schools.values() {
                let name = file.names.get(code).cloned();
                out.districts.entry(code.clone()).or_insert(name);
            }
        }
        for entry in schools {
            out.read_school(entry, reading, file);
        }
        for entry in people {
            out.read_person(entry, reading);
        }
        out
    }

    fn read_school(&mut self, entry: &Entry, reading: &Reading, file: Option<&DistrictFile>) {
        let attrs = &reading.attributes;
        let fail = |out: &mut Snapshot, problem: EntryProblem| {
            out.errors.push(EntryError::new(&entry.dn, &problem));
        };
        let district = match &reading.mapping {
            DistrictMapping::OrganisationalUnit => {
                let Some(below) = rdns_below(&entry.dn, &reading.schools_base) else {
                    return fail(self, EntryProblem::Placement);
                };
                match below.as_slice() {
                    [] => return,
                    [district] => {
                        if valid_code(district) {
                            let name = entry.first(&attrs.school_name).map(str::to_owned);
                            self.districts.insert(district.clone(), name);
                        } else {
                            fail(self, EntryProblem::Placement);
                        }
                        return;
                    }
                    [_, district] if valid_code(district) => Some(district.clone()),
                    _ => return fail(self, EntryProblem::Placement),
                }
            }
            DistrictMapping::Attribute(name) => entry.first(name).map(str::to_owned),
            DistrictMapping::File(_) => None,
        };
        let Some(code) = entry.first(&attrs.school_code) else {
            return fail(self, EntryProblem::Missing(attrs.school_code.clone()));
        };
        let uai = match values::uai(code) {
            Ok(uai) => uai,
            Err(err) => return fail(self, err.into()),
        };
        let district = district.or_else(|| file.and_then(|f| f.schools.get(&uai)).cloned());
        let Some(district) = district.filter(|d| valid_code(d)) else {
            self.held_schools.insert(uai.clone());
            return fail(self, EntryProblem::NoDistrict(uai.to_string()));
        };
        let name = entry.first(&attrs.school_name).unwrap_or(uai.as_str());
        if name.chars().any(char::is_control) {
            self.held_schools.insert(uai);
            return fail(self, EntryProblem::Name);
        }
        self.districts.entry(district.clone()).or_insert(None);
        self.schools.insert(
            uai.clone(),
            SchoolRecord {
                dn: entry.dn.clone(),
                name: name.to_owned(),
                uai,
                district,
            },
        );
    }

    fn read_person(&mut self, entry: &Entry, reading: &Reading) {
        let attrs = &reading.attributes;
        let Some(login) = entry.first(&attrs.login) else {
            let problem = EntryProblem::Missing(attrs.login.clone());
            return self.errors.push(EntryError::new(&entry.dn, &problem));
        };
        let id = match PersonId::parse(login) {
            Ok(id) => id,
            Err(_) => {
                let problem = EntryProblem::Value(ValueError::Login {
                    value: login.to_owned(),
                });
                return self.errors.push(EntryError::new(&entry.dn, &problem));
            }
        };
        if self.people.contains_key(&id) || self.held_people.contains(&id) {
            self.people.remove(&id);
            self.held_people.insert(id.clone());
            let problem = EntryProblem::Duplicate(id.to_string());
            return self.errors.push(EntryError::new(&entry.dn, &problem));
        }
        match person(entry, reading, id.clone()) {
            Ok(record) => {
                self.people.insert(id, record);
            }
            Err(problem) => {
                self.held_people.insert(id);
                self.errors.push(EntryError::new(&entry.dn, &problem));
            }
        }
    }
}

fn person(entry: &Entry, reading: &Reading, id: PersonId) -> Result<PersonRecord, EntryProblem> {
    let attrs = &reading.attributes;
    let full_name = match entry.first(&attrs.full_name) {
        Some(cn) => cn.to_owned(),
        None => {
            let given = entry.first(&attrs.given_name).unwrap_or_default();
            let surname = entry
                .first(&attrs.surname)
                .ok_or_else(|| EntryProblem::Missing(attrs.full_name.clone()))?;
            format!("{given} {surname}").trim().to_owned()
        }
    };
    if full_name.chars().any(char::is_control) {
        return Err(EntryProblem::Name);
    }
    let mail_text = entry
        .first(&attrs.mail)
        .ok_or_else(|| EntryProblem::Missing(attrs.mail.clone()))?;
    let mail =
        MailAddress::parse(mail_text).map_err(|_| EntryProblem::Mail(mail_text.to_owned()))?;
    let function = entry
        .first(&attrs.function)
        .map_or(Function::Other, Function::parse);
    let schools = entry
        .values(&attrs.schools)
        .iter()
        .map(|v| values::school_of(v))
        .collect::<Result<Vec<_>, _>>()?;
    let mut delegations = Vec::new();
    for value in entry.values(&attrs.delegations) {
        // Another application's delegation is none of keyward's business,
        // even malformed.
        let application = value.split('|').next().unwrap_or_default().trim();
        if application.eq_ignore_ascii_case(&reading.application) {
            delegations.push(values::delegation(value)?);
        }
    }
    let day = |name: &str| -> Result<Option<Date>, EntryProblem> {
        Ok(entry.first(name).map(values::date).transpose()?.flatten())
    };
    Ok(PersonRecord {
        dn: entry.dn.clone(),
        id,
        full_name,
        mail,
        function,
        schools,
        delegations,
        function_from: day(&attrs.function_start)?,
        function_until: day(&attrs.function_end)?,
    })
}

/// The RDN values of `dn` below `base`, nearest the base last; `None` when
/// `dn` is not `base` or below it. Names and values compare as LDAP does
/// for these (case-insensitively, spaces after commas ignored).
pub fn rdns_below(dn: &str, base: &str) -> Option<Vec<String>> {
    let dn = split_dn(dn);
    let base = split_dn(base);
    if dn.len() < base.len() {
        return None;
    }
    let cut = dn.len() - base.len();
    let same = dn[cut..]
        .iter()
        .zip(&base)
        .all(|(a, b)| a.eq_ignore_ascii_case(b));
    if !same {
        return None;
    }
    dn[..cut]
        .iter()
        .map(|rdn| rdn.split_once('=').map(|(_, v)| v.trim().to_owned()))
        .collect()
}

/// Splits a DN on its unescaped commas, each RDN trimmed.
fn split_dn(dn: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for c in dn.chars() {
        match c {
            _ if escaped => {
                current.push(c);
                escaped = false;
            }
            '\\' => escaped = true,
            ',' => out.push(std::mem::take(&mut current).trim().to_owned()),
            _ => current.push(c),
        }
    }
    if !current.trim().is_empty() || !out.is_empty() {
        out.push(current.trim().to_owned());
    }
    out.into_iter()
        .map(|rdn| match rdn.split_once('=') {
            Some((name, value)) => format!("{}={}", name.trim(), value.trim()),
            None => rdn,
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::directory::config::DirectoryConfig;

    fn reading() -> Reading {
        DirectoryConfig::new(
            "ldap://x",
            "ou=people,dc=ac,dc=fr",
            "ou=schools,dc=ac,dc=fr",
        )
        .reading
    }

    fn director(uid: &str) -> Entry {
        Entry::new(&format!("uid={uid},ou=people,dc=ac,dc=fr"))
            .with("uid", uid)
            .with("cn", "Anne Durand")
            .with("mail", format!("{uid}@ac-exemple.fr"))
            .with("FrEduFonctAdm", "DIR")
            .with("FrEduRneResp", "0751710B$UAJ$PU$N$T3$LP$320")
    }

    #[test]
    fn dns() {
        assert_eq!(
            rdns_below(
                "ou=0751710B, ou=C01,OU=Schools,dc=ac,dc=fr",
                "ou=schools,dc=ac,dc=fr"
            ),
            Some(vec!["0751710B".to_owned(), "C01".to_owned()])
        );
        assert_eq!(rdns_below("ou=x,dc=other", "ou=schools,dc=ac,dc=fr"), None);
        assert_eq!(
            rdns_below("ou=schools,dc=ac,dc=fr", "ou=schools,dc=ac,dc=fr"),
            Some(vec![])
        );
        assert_eq!(split_dn("cn=a\\,b,dc=x"), vec!["cn=a,b", "dc=x"]);
    }

    #[test]
    fn schools_by_organisational_unit() {
        let schools = [
            Entry::new("ou=schools,dc=ac,dc=fr"),
            Entry::new("ou=C01,ou=schools,dc=ac,dc=fr").with("description", "Paris 1"),
            Entry::new("ou=0751710B,ou=C01,ou=schools,dc=ac,dc=fr").with("ou", "0751710B"),
            Entry::new("ou=0751710C,ou=C01,ou=schools,dc=ac,dc=fr").with("ou", "0751710C"),
            Entry::new("ou=x,ou=y,ou=C01,ou=schools,dc=ac,dc=fr").with("ou", "x"),
            Entry::new("ou=0751710B,dc=elsewhere").with("ou", "0751710B"),
        ];
        let s = Snapshot::read(&[], &schools, &reading(), None);
        assert_eq!(s.districts.get("C01"), Some(&Some("Paris 1".to_owned())));
        assert_eq!(s.schools.len(), 1);
        assert_eq!(
            s.schools.values().next().map(|s| s.district.as_str()),
            Some("C01")
        );
        assert_eq!(s.errors.len(), 3, "{:?}", s.errors);
        assert!(
            s.errors[0].problem.contains("check letter")
                || s.errors[0].problem.contains("0751710C")
        );
    }

    #[test]
    fn schools_by_attribute_and_by_file() {
        let mut r = reading();
        r.mapping = DistrictMapping::Attribute("FrEduCirco".into());
        let e = Entry::new("ou=0751710B,ou=schools,dc=ac,dc=fr").with("ou", "0751710B");
        let s = Snapshot::read(&[], &[e.clone().with("FrEduCirco", "C07")], &r, None);
        assert_eq!(
            s.schools.values().next().map(|s| s.district.as_str()),
            Some("C07")
        );
        let s = Snapshot::read(&[], std::slice::from_ref(&e), &r, None);
        assert!(s.schools.is_empty());
        assert!(s.held_schools.contains(&Uai::parse("0751710B").unwrap()));
        r.mapping = DistrictMapping::File("map.csv".into());
        let file = DistrictFile::parse("# uai;district;name\n0751710B;C09;Nord\n").unwrap();
        let s = Snapshot::read(&[], &[e], &r, Some(&file));
        assert_eq!(
            s.schools.values().next().map(|s| s.district.as_str()),
            Some("C09")
        );
        assert_eq!(s.districts.get("C09"), Some(&Some("Nord".to_owned())));
        for bad in ["0751710C;C1", "0751710B", "0751710B;a b"] {
            assert!(DistrictFile::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn people_and_their_errors() {
        let good = director("adurand")
            .with("dateff", "01/09/2026")
            .with("finfonction", "31/12/9999")
            .with("FrEduResDel", "other|u|bad|bad|x|y")
            .with(
                "FrEduResDel",
                "keyward|u|01/10/2026|20/10/2026|pmartin|FrEduRneResp=0751710B$UAJ",
            );
        let entries = [
            good,
            director("bmalformed").with("FrEduRneResp", "0751710C$UAJ"),
            director("cnomail").with("cn", "x"),
            Entry::new("uid=dup,ou=people")
                .with("uid", "dup")
                .with("cn", "A")
                .with("mail", "a@ac-exemple.fr"),
            Entry::new("uid=dup2,ou=people")
                .with("uid", "dup")
                .with("cn", "B")
                .with("mail", "b@ac-exemple.fr"),
            Entry::new("cn=nouid,ou=people").with("cn", "x"),
            director("ebaddate").with("dateff", "32/01/2026"),
            director("fbaddel").with(
                "FrEduResDel",
                "keyward|u|01/10/2026|x|p|FrEduRneResp=0751710B",
            ),
        ];
        let mut entries = entries.to_vec();
        entries[2] = Entry::new("uid=cnomail")
            .with("uid", "cnomail")
            .with("cn", "C");
        let s = Snapshot::read(&entries, &[], &reading(), None);
        let a = &s.people[&PersonId::parse("adurand").unwrap()];
        assert_eq!(a.function, Function::Director);
        assert_eq!(a.function_from, Date::parse("2026-09-01").ok());
        assert_eq!(a.function_until, None);
        assert_eq!(a.delegations.len(), 1);
        assert_eq!(s.people.len(), 1, "{:?}", s.people.keys());
        let held: Vec<&str> = s.held_people.iter().map(PersonId::as_str).collect();
        assert_eq!(
            held,
            ["bmalformed", "cnomail", "dup", "ebaddate", "fbaddel"]
        );
        assert_eq!(s.errors.len(), 6, "{:?}", s.errors);
    }
}

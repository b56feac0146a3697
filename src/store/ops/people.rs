//! People, districts and schools: the reference data every right and token
//! points at, and the scoped reads over them.

use crate::store::cached::CachedSql;
use rusqlite::{params, OptionalExtension};

use super::{corrupt, insert_new, query_rows, Tx};
use crate::domain::{DistrictEntry, MailAddress, Person, PersonId, SchoolEntry, Uai};
use crate::store::StoreError;

impl Tx<'_> {
    /// A person's name and address, whether typed at the desk or read from
    /// the directory: one line of text, and their own address in the
    /// authority's domain (not a help request's sender: its own words).
    pub(super) fn check_person_fields(
        &self,
        full_name: &str,
        mail: &MailAddress,
    ) -> Result<(), StoreError> {
        let bad_mail = |rule| crate::domain::DomainError::BadIdentifier { what: "mail", rule };
        if !mail
            .domain()
            .eq_ignore_ascii_case(&self.shared.config.authority_domain)
        {
            return Err(bad_mail("the address must be in the authority's mail domain").into());
        }
        if crate::domain::requests::is_functional_mailbox(mail) {
            return Err(bad_mail(
                "a school's functional mailbox is not a person's address: give their own",
            )
            .into());
        }
        if full_name.trim().is_empty() || full_name.chars().any(char::is_control) {
            return Err(crate::domain::DomainError::BadIdentifier {
                what: "full name",
                rule: "one line of text",
            }
            .into());
        }
        Ok(())
    }

    pub fn add_person(
        &mut self,
        id: &PersonId,
        full_name: &str,
        mail: &MailAddress,
    ) -> Result<(), StoreError> {
        self.require_desk("add a person")?;
        self.check_person_fields(full_name, mail)?;
        // A taken id or a taken address, each named as what it is.
        let taken: Option<String> = self
            .db
            .prepare_cached(
                "SELECT id FROM people WHERE id = ?1 OR mail = ?2 ORDER BY id = ?1 DESC LIMIT 1",
            )?
            .query_row(params![id.as_str(), mail.as_str()], |r| r.get(0))
            .optional()?;
        if let Some(holder) = taken {
            let (what, key) = if holder == id.as_str() {
                ("person", id.as_str())
            } else {
                ("mail address", mail.as_str())
            };
            return Err(StoreError::Duplicate {
                what,
                key: key.to_owned(),
            });
        }
        insert_new(
            self.db,
            "INSERT OR IGNORE INTO people (id, full_name, mail) VALUES (?1, ?2, ?3)",
            params![id.as_str(), full_name.trim(), mail.as_str()],
            "person",
            id.as_str(),
        )?;
        self.audit("person.add", id.as_str(), "")
    }

    pub fn person(&self, id: &PersonId) -> Result<Person, StoreError> {
        let row: Option<(String, String)> = self
            .db
            .prepare_cached("SELECT full_name, mail FROM people WHERE id = ?1")?
            .query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let (full_name, mail) = row.ok_or_else(|| StoreError::not_found("person", id))?;
        Ok(Person {
            id: id.clone(),
            full_name,
            mail: MailAddress::parse(&mail).map_err(corrupt("mail address"))?,
        })
    }

    /// Whether `id` left (or never was): their staff keys are refused.
    pub fn has_left(&self, id: &PersonId) -> Result<bool, StoreError> {
        Ok(!matches!(self.left_at(id)?, Some(None)))
    }

    /// `None` for no such person, else when they left, if they did.
    fn left_at(&self, id: &PersonId) -> Result<Option<Option<i64>>, StoreError> {
        Ok(self
            .db
            .prepare_cached("SELECT left_at FROM people WHERE id = ?1")?
            .query_row([id.as_str()], |r| r.get(0))
            .optional()?)
    }

    /// Fails unless `id` is a person who has not left: nothing new (a key,
    /// a right, a request, a code) is given to someone who left. Every
    /// operation that gives a person something calls it, below every
    /// interface.
    pub(super) fn require_present(&self, id: &PersonId) -> Result<(), StoreError> {
        match self.left_at(id)? {
            None => Err(StoreError::not_found("person", id)),
            Some(None) => Ok(()),
            Some(Some(_)) => Err(StoreError::PersonLeft {
                person: id.to_string(),
            }),
        }
    }

    /// Records that a person left the authority: their staff keys stop
    /// working at once, their rights in force or to come end now (the
    /// gateway refuses them from this answer on), and nothing new is given
    /// to them any more ([`Tx::require_present`]). Their OTP key is not
    /// taken back here: it falls due like any key whose rights ended.
    pub fn mark_left(&mut self, id: &PersonId) -> Result<(), StoreError> {
        self.require_desk("record a departure")?;
        self.not_own(id, "record a departure")?;
        if self.has_left(id)? {
            self.person(id)?;
            return Err(self.forbidden("record a departure", "it has already ended"));
        }
        self.db.execute_cached(
            "UPDATE people SET left_at = ?1 WHERE id = ?2",
            rusqlite::params![super::to_i64(self.now, "time")?, id.as_str()],
        )?;
        self.audit("person.leave", id.as_str(), "")?;
        self.end_rights_at_departure(id)
    }

    pub fn add_district(
        &mut self,
        code: &str,
        name: &str,
        inspector: &PersonId,
    ) -> Result<(), StoreError> {
        self.require_desk("add a district")?;
        if code.is_empty() || code.len() > 32 || code.chars().any(|c| c.is_control() || c == ' ') {
            return Err(crate::domain::DomainError::BadIdentifier {
                what: "district code",
                rule: "1 to 32 characters, no spaces",
            }
            .into());
        }
        self.person(inspector)?;
        insert_new(
            self.db,
            "INSERT OR IGNORE INTO districts (code, name, inspector) VALUES (?1, ?2, ?3)",
            params![code, name, inspector.as_str()],
            "district",
            code,
        )?;
        self.audit("district.add", code, &format!("inspector={inspector}"))
    }

    pub fn add_school(&mut self, uai: &Uai, name: &str, district: &str) -> Result<(), StoreError> {
        self.require_desk("add a school")?;
        self.require_district(district)?;
        insert_new(
            self.db,
            "INSERT OR IGNORE INTO schools (uai, name, district) VALUES (?1, ?2, ?3)",
            params![uai.as_str(), name, district],
            "school",
            uai.as_str(),
        )?;
        self.audit("school.add", uai.as_str(), &format!("district={district}"))
    }

    /// Fails unless the district `code` exists.
    pub(super) fn require_district(&self, code: &str) -> Result<(), StoreError> {
        let exists: bool = self.db.query_row_cached(
            "SELECT EXISTS (SELECT 1 FROM districts WHERE code = ?1)",
            [code],
            |r| r.get(0),
        )?;
        exists
            .then_some(())
            .ok_or_else(|| StoreError::not_found("district", code))
    }

    pub fn district_of_school(&self, uai: &Uai) -> Result<String, StoreError> {
        self.check_row("schools", uai.as_str())?;
        self.db
            .prepare_cached("SELECT district FROM schools WHERE uai = ?1")?
            .query_row([uai.as_str()], |r| r.get(0))
            .optional()?
            .ok_or_else(|| StoreError::not_found("school", uai))
    }

    pub(super) fn inspector_of(&self, district: &str) -> Result<Person, StoreError> {
        let id = self
            .inspector_login(district)?
            .ok_or_else(|| StoreError::not_found("inspector of district", district))?;
        self.person(&PersonId::parse(&id).map_err(corrupt("inspector id"))?)
    }

    pub fn inspector_of_district(&self, code: &str) -> Result<Option<PersonId>, StoreError> {
        self.inspector_login(code)?
            .map(|i| PersonId::parse(&i).map_err(corrupt("inspector id")))
            .transpose()
    }

    pub fn districts(&self) -> Result<Vec<DistrictEntry>, StoreError> {
        query_rows(
            self.db,
            "SELECT code, name, inspector FROM districts ORDER BY code",
            [],
            |r| {
                Ok(DistrictEntry {
                    code: r.get(0)?,
                    name: r.get(1)?,
                    inspector: r.get(2)?,
                })
            },
        )
    }

    pub fn schools(&self, district: Option<&str>) -> Result<Vec<SchoolEntry>, StoreError> {
        query_rows(
            self.db,
            "SELECT uai, name, district FROM schools WHERE ?1 IS NULL OR district = ?1 ORDER BY uai",
            [district],
            |r| {
                Ok(SchoolEntry {
                    uai: r.get(0)?,
                    name: r.get(1)?,
                    district: r.get(2)?,
                })
            },
        )
    }

    /// People, or those who belong to `district` (a right there in force, to
    /// come, or ended within the last year).
    pub fn people(&self, district: Option<&str>) -> Result<Vec<Person>, StoreError> {
        let mut stmt = self
            .db
            .prepare("SELECT id, full_name, mail FROM people ORDER BY id")?;
        let rows: Vec<(String, String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for (id, full_name, mail) in rows {
            let id = PersonId::parse(&id).map_err(corrupt("person id"))?;
            if let Some(wanted) = district {
                if !self.districts_of_person(&id)?.iter().any(|d| d == wanted) {
                    continue;
                }
            }
            out.push(Person {
                id,
                full_name,
                mail: MailAddress::parse(&mail).map_err(corrupt("mail address"))?,
            });
        }
        Ok(out)
    }
}

//! What the academic directory sync reads and changes (`docs/directory.md`):
//! one snapshot of people, districts, schools and live rights for the diff,
//! and each planned change applied through the lifecycle operations, in its
//! own transaction, with a `directory.apply` audit entry naming the source.

use crate::store::cached::CachedSql;
use std::collections::BTreeMap;

use rusqlite::params;

use super::{corrupt, query_rows, Tx};
use crate::directory::plan::{
    Change, StoreState, StoredDistrict, StoredPerson, StoredRight, StoredSchool,
};
use crate::domain::{Actor, Date, EndReason, MailAddress, PersonId, RightOrigin, Uai};
use crate::store::StoreError;

impl Tx<'_> {
    /// People, districts, schools and the live rights (not ended, not past
    /// their last day), with the authority's day.
    pub fn directory_state(&self) -> Result<(StoreState, Date), StoreError> {
        let today = self.today();
        let mut state = StoreState::default();
        let people: Vec<(String, String, String, bool, bool)> = query_rows(
            self.db,
            "SELECT p.id, p.full_name, p.mail, p.left_at IS NOT NULL,
                    EXISTS (SELECT 1 FROM api_keys k WHERE k.person = p.id
                            AND k.role IN ('admin', 'desk') AND k.revoked_at IS NULL)
             FROM people p",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )?;
        for (id, full_name, mail, left, staff) in people {
            let id = PersonId::parse(&id).map_err(corrupt("person id"))?;
            state.people.insert(
                id,
                StoredPerson {
                    full_name,
                    mail,
                    left,
                    staff,
                },
            );
        }
        for d in self.districts()? {
            let inspector = d
                .inspector
                .map(|i| PersonId::parse(&i).map_err(corrupt("inspector id")))
                .transpose()?;
            state.districts.insert(
                d.code,
                StoredDistrict {
                    name: d.name,
                    inspector,
                },
            );
        }
        for s in self.schools(None)? {
            let uai = Uai::parse(&s.uai).map_err(corrupt("school code"))?;
            state.schools.insert(
                uai,
                StoredSchool {
                    name: s.name,
                    district: s.district,
                },
            );
        }
        let rows: Vec<(i64, String, String, String, String, Option<String>)> = query_rows(
            self.db,
            "SELECT id, person, school, origin, from_date, until_date FROM rights
             WHERE ended_at IS NULL AND (until_date IS NULL OR until_date >= ?1) ORDER BY id",
            [today.to_string()],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )?;
        for (id, person, school, origin, from, until) in rows {
            let day = |t: &str| Date::parse(t).map_err(corrupt("right date"));
            state.rights.push(StoredRight {
                id,
                person: PersonId::parse(&person).map_err(corrupt("holder"))?,
                school: Uai::parse(&school).map_err(corrupt("school code"))?,
                origin: RightOrigin::parse(&origin).map_err(corrupt("right origin"))?,
                from: day(&from)?,
                until: until.as_deref().map(day).transpose()?,
            });
        }
        Ok((state, today))
    }

    /// Applies one planned change from the directory `source`.
    pub fn apply_directory_change(
        &mut self,
        change: &Change,
        source: &str,
    ) -> Result<(), StoreError> {
        self.require_desk("apply the directory")?;
        self.audit(
            "directory.apply",
            &change.subject(),
            &format!(
                "{} {} {} source={source}",
                change.kind().as_str(),
                change.verb().as_str(),
                change.detail()
            ),
        )?;
        match change {
            Change::PersonAdded {
                id,
                full_name,
                mail,
            } => self.add_person(id, full_name, mail),
            Change::PersonChanged {
                id,
                full_name,
                mail,
            } => self.update_person(id, full_name, mail),
            Change::PersonLeft { id } => self.mark_left(id),
            Change::PersonReturned {
                id,
                full_name,
                mail,
            } => self.restore_person(id, full_name, mail),
            Change::DistrictAdded { code, name, .. } => self.add_district_open(code, name),
            Change::DistrictChanged { code, inspector } => {
                self.set_inspector(code, inspector.as_ref())
            }
            Change::SchoolAdded {
                uai,
                name,
                district,
            } => self.add_school(uai, name, district),
            Change::SchoolChanged {
                uai,
                name,
                district,
            } => self.update_school(uai, name, district),
            Change::RightAdded {
                origin: RightOrigin::Appointment,
                person,
                school,
                from,
                until,
            } => self
                .grant_right_ending(
                    RightOrigin::Appointment,
                    person,
                    school,
                    (*from, *until),
                    None,
                )
                .map(drop),
            Change::RightAdded {
                origin: RightOrigin::Delegation,
                person,
                school,
                from,
                until,
            } => {
                self.as_inspector_of(school)?;
                self.grant_right(RightOrigin::Delegation, person, school, *from, *until)
                    .map(drop)
            }
            Change::RightChanged {
                right, from, until, ..
            } => self.set_right_dates(*right, *from, *until),
            Change::RightEnded {
                right,
                origin,
                school,
                ..
            } => {
                if *origin == RightOrigin::Delegation {
                    self.as_inspector_of(school)?;
                }
                self.end_right(*right, Some(EndReason::Directory), None)
            }
        }
    }

    /// Delegations are the district inspector's to grant and end (case 1
    /// and 2): the directory records what the inspector decided in the HR
    /// tool, so the operation runs as that inspector, with every rule.
    fn as_inspector_of(&mut self, school: &Uai) -> Result<(), StoreError> {
        let district = self.district_of_school(school)?;
        let inspector = self
            .inspector_of_district(&district)?
            .ok_or_else(|| StoreError::not_found("inspector of district", &district))?;
        self.act_as(Actor::Inspector(inspector));
        Ok(())
    }

    /// A person's name or personal address changed in the directory.
    pub fn update_person(
        &mut self,
        id: &PersonId,
        full_name: &str,
        mail: &MailAddress,
    ) -> Result<(), StoreError> {
        self.require_desk("change a person")?;
        let current = self.person(id)?;
        self.check_person_fields(full_name, mail)?;
        let taken: bool = self.db.query_row_cached(
            "SELECT EXISTS (SELECT 1 FROM people WHERE mail = ?1 AND id <> ?2)",
            params![mail.as_str(), id.as_str()],
            |r| r.get(0),
        )?;
        if taken {
            return Err(StoreError::Duplicate {
                what: "mail address",
                key: mail.to_string(),
            });
        }
        self.db.execute_cached(
            "UPDATE people SET full_name = ?1, mail = ?2 WHERE id = ?3",
            params![full_name.trim(), mail.as_str(), id.as_str()],
        )?;
        self.audit(
            "person.update",
            id.as_str(),
            &format!("mail={} (was {})", mail, current.mail),
        )
    }

    /// A district as the directory first names it, before its inspector.
    fn add_district_open(&mut self, code: &str, name: &str) -> Result<(), StoreError> {
        self.require_desk("add a district")?;
        if code.is_empty() || code.len() > 32 || code.chars().any(|c| c.is_control() || c == ' ') {
            return Err(crate::domain::DomainError::BadIdentifier {
                what: "district code",
                rule: "1 to 32 characters, no spaces",
            }
            .into());
        }
        super::insert_new(
            self.db,
            "INSERT OR IGNORE INTO districts (code, name, inspector) VALUES (?1, ?2, NULL)",
            params![code, name],
            "district",
            code,
        )?;
        self.audit("district.add", code, "inspector=-")
    }

    /// A district's inspector changed (or is no longer named).
    pub fn set_inspector(
        &mut self,
        code: &str,
        inspector: Option<&PersonId>,
    ) -> Result<(), StoreError> {
        self.require_desk("change a district's inspector")?;
        self.require_district(code)?;
        if let Some(p) = inspector {
            self.person(p)?;
        }
        self.db.execute_cached(
            "UPDATE districts SET inspector = ?1 WHERE code = ?2",
            params![inspector.map(PersonId::as_str), code],
        )?;
        self.audit(
            "district.inspector",
            code,
            &format!("inspector={}", inspector.map_or("-", PersonId::as_str)),
        )
    }

    /// A school renamed or tied to another district.
    pub fn update_school(
        &mut self,
        uai: &Uai,
        name: &str,
        district: &str,
    ) -> Result<(), StoreError> {
        self.require_desk("change a school")?;
        self.require_district(district)?;
        let was = self.district_of_school(uai)?;
        self.db.execute_cached(
            "UPDATE schools SET name = ?1, district = ?2 WHERE uai = ?3",
            params![name, district, uai.as_str()],
        )?;
        self.audit(
            "school.update",
            uai.as_str(),
            &format!("district={district} (was {was})"),
        )
    }

    /// The directory moved a right's planned last day, or the first day
    /// of a right not started yet (a started right's start never moves: its
    /// days in force are history).
    fn set_right_dates(
        &mut self,
        id: i64,
        from: Date,
        until: Option<Date>,
    ) -> Result<(), StoreError> {
        let right = self
            .right(id)?
            .ok_or_else(|| StoreError::not_found("right", id))?;
        if right.period.ended_at.is_some() {
            return Err(self.forbidden("change a right", "it has already ended"));
        }
        let moved = from != right.period.from;
        if moved && right.period.from <= self.today() {
            return Err(self.forbidden("move the start of a right", "it has already started"));
        }
        let period = crate::domain::RightPeriod::new(from, until)?;
        if moved && right.origin == RightOrigin::Appointment {
            // One appointed director per school at a time, on the new dates.
            if let Some(other) = self
                .appointments_at(&right.school)?
                .into_iter()
                .find(|r| r.id != id && r.period.overlaps(&period, self.now))
            {
                return Err(StoreError::DirectorInPlace {
                    school: right.school.to_string(),
                    right: other.id,
                });
            }
        }
        self.db.execute_cached(
            "UPDATE rights SET from_date = ?1, until_date = ?2 WHERE id = ?3",
            params![from.to_string(), until.map(|u| u.to_string()), id],
        )?;
        let until = until.map_or_else(|| "open".to_owned(), |u| u.to_string());
        self.audit(
            "right.dates",
            right.person.as_str(),
            &format!("right={id} from={from} until={until}"),
        )
    }

    /// A person who left is back (the directory names them again): active
    /// again, under the directory's name and address. Their rights ended at
    /// the departure stay ended (new ones are granted as for anyone); the
    /// staff API keys they held before leaving stay refused: they are
    /// revoked here, and an admin issues new ones if needed.
    pub fn restore_person(
        &mut self,
        id: &PersonId,
        full_name: &str,
        mail: &MailAddress,
    ) -> Result<(), StoreError> {
        self.require_desk("record a return")?;
        self.not_own(id, "record a return")?;
        self.person(id)?;
        if !self.has_left(id)? {
            return Err(self.forbidden("record a return", "they have not left"));
        }
        self.db.execute_cached(
            "UPDATE people SET left_at = NULL WHERE id = ?1",
            params![id.as_str()],
        )?;
        self.audit("person.return", id.as_str(), "")?;
        let keys: Vec<i64> = query_rows(
            self.db,
            "SELECT id FROM api_keys WHERE person = ?1 AND revoked_at IS NULL ORDER BY id",
            [id.as_str()],
            |r| Ok(r.get(0)?),
        )?;
        for key in keys {
            self.revoke_api_key(key)?;
        }
        let current = self.person(id)?;
        if current.full_name != full_name.trim() || current.mail != *mail {
            self.update_person(id, full_name, mail)?;
        }
        Ok(())
    }

    /// The directory's past runs' reports (JSON), newest first.
    pub fn directory_runs(&self, limit: u32) -> Result<Vec<String>, StoreError> {
        query_rows(
            self.db,
            "SELECT report FROM directory_runs ORDER BY id DESC LIMIT ?1",
            [limit],
            |r| Ok(r.get(0)?),
        )
    }

    /// Records a run (its report has no secret: directory data and counts).
    pub fn record_directory_run(
        &mut self,
        source: &str,
        dry_run: bool,
        outcome: &str,
        report: &str,
        counts: &BTreeMap<String, usize>,
    ) -> Result<(), StoreError> {
        self.db.execute_cached(
            "INSERT INTO directory_runs (at, source, dry_run, outcome, report) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![super::to_i64(self.now, "time")?, source, dry_run, outcome, report],
        )?;
        let counts: Vec<String> = counts.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.audit(
            "directory.run",
            source,
            &format!("outcome={outcome} dry_run={dry_run} {}", counts.join(" ")),
        )
    }
}

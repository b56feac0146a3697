//! Rights (appointments and delegations) of people at schools, and the
//! district a holder belongs to. The numbered cases are the school-year
//! situations of docs/lifecycle.md.

use crate::store::cached::CachedSql;
use rusqlite::{params, OptionalExtension};

use super::{rights_of, to_i64, Tx};
use crate::domain::right_end::{self, EndFacts, EndRefusal, RightEnd};
use crate::domain::rights::in_force;
use crate::domain::{
    Actor, Date, EndReason, PersonId, RightInForce, RightOrigin, RightPeriod, RightRecord, Uai,
};
use crate::store::StoreError;

impl Tx<'_> {
    fn insert_right(
        &mut self,
        person: &PersonId,
        school: &Uai,
        origin: RightOrigin,
        period: &RightPeriod,
    ) -> Result<i64, StoreError> {
        self.person(person)?;
        self.db.execute_cached(
            "INSERT INTO rights (person, school, origin, from_date, until_date, granted_by, granted_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                person.as_str(),
                school.as_str(),
                origin.as_str(),
                period.from.to_string(),
                period.until.map(|u| u.to_string()),
                self.actor.to_string(),
                to_i64(self.now, "time")?
            ],
        )?;
        let id = self.db.last_insert_rowid();
        let until = period.until.map_or("open".to_owned(), |u| u.to_string());
        self.audit(
            &format!("right.grant.{origin}"),
            person.as_str(),
            &format!(
                "right={id} school={school} from={} until={until}",
                period.from
            ),
        )?;
        Ok(id)
    }

    /// Grants `person` a right at `school` from `from` until `until` (or
    /// open). Who may grant it depends on its origin: the desk records an
    /// appointment (cases 4 and 5) from the authority's decisions, with no
    /// one acting; the district's inspector grants a dated delegation
    /// (case 1).
    pub fn grant_right(
        &mut self,
        origin: RightOrigin,
        person: &PersonId,
        school: &Uai,
        from: Date,
        until: Option<Date>,
    ) -> Result<i64, StoreError> {
        self.grant_right_ending(origin, person, school, (from, until), None)
    }

    /// [`Tx::grant_right`]; for an appointment, `ends_previous` ends the
    /// school's appointment(s) that would overlap it, for that reason, in the
    /// same transaction (one appointed director per school at a time).
    pub fn grant_right_ending(
        &mut self,
        origin: RightOrigin,
        person: &PersonId,
        school: &Uai,
        (from, until): (Date, Option<Date>),
        ends_previous: Option<EndReason>,
    ) -> Result<i64, StoreError> {
        let district = self.district_of_school(school)?;
        match origin {
            RightOrigin::Appointment => self.require_desk("record an appointment")?,
            RightOrigin::Delegation => {
                self.require_scope(&district, "grant a delegation", false)?;
            }
        }
        self.not_own(person, "grant a right")?;
        self.require_present(person)?;
        let period = RightPeriod::new(from, until)?;
        let overlapping: Vec<RightRecord> = self
            .appointments_at(school)?
            .into_iter()
            .filter(|r| r.period.overlaps(&period, self.now))
            .collect();
        match origin {
            RightOrigin::Delegation => {
                if overlapping.iter().any(|r| &r.person == person) {
                    return Err(StoreError::AlreadyDirector {
                        person: person.to_string(),
                        school: school.to_string(),
                    });
                }
            }
            RightOrigin::Appointment => match (overlapping.first(), ends_previous) {
                (None, _) => {}
                (Some(r), None) => {
                    return Err(StoreError::DirectorInPlace {
                        school: school.to_string(),
                        right: r.id,
                    })
                }
                (Some(_), Some(reason)) => {
                    for previous in &overlapping {
                        self.end_before(previous, from, reason)?;
                    }
                }
            },
        }
        self.insert_right(person, school, origin, &period)
    }

    /// Appointments at `school`, not ended early.
    pub(super) fn appointments_at(&self, school: &Uai) -> Result<Vec<RightRecord>, StoreError> {
        let people: Vec<String> = super::query_rows(
            self.db,
            "SELECT DISTINCT person FROM rights WHERE school = ?1 AND origin = 'appointment'",
            [school.as_str()],
            |r| Ok(r.get(0)?),
        )?;
        let mut out = Vec::new();
        for person in people {
            out.extend(rights_of(self.db, &person)?.into_iter().filter(|r| {
                &r.school == school
                    && r.origin == RightOrigin::Appointment
                    && r.period.ended_at.is_none()
            }));
        }
        Ok(out)
    }

    /// Ends `right` on the day before `day` (at once if it has not started
    /// by then), for `reason`.
    fn end_before(
        &mut self,
        right: &RightRecord,
        day: Date,
        reason: EndReason,
    ) -> Result<(), StoreError> {
        let end = right_end::end_before(right, day, self.today(), reason);
        self.write_end(right, end)
    }

    /// Writes `end` of `right`, with its audit entry.
    fn write_end(&mut self, right: &RightRecord, end: RightEnd) -> Result<(), StoreError> {
        match end {
            RightEnd::Now { reason } => self.db.execute_cached(
                "UPDATE rights SET ended_at = ?1, end_reason = ?2 WHERE id = ?3",
                params![
                    to_i64(self.now, "time")?,
                    reason.map(EndReason::as_str),
                    right.id
                ],
            )?,
            RightEnd::Shorten { until, reason } => self.db.execute_cached(
                "UPDATE rights SET until_date = ?1, end_reason = ?2 WHERE id = ?3",
                params![until.to_string(), reason.as_str(), right.id],
            )?,
        };
        let (action, detail) = right_end::audit_entry(right.id, end);
        self.audit(action, right.person.as_str(), &detail)
    }

    /// Ends a right (case 2 for a delegation, by its district's inspector,
    /// at once). An appointment is ended by the administration (an admin)
    /// with a `reason` from the fixed list, at once or, with `on`, shortened
    /// to end on that day; its holder's key then falls due back. The rule
    /// is `domain::right_end`, shared with a node on PostgreSQL.
    pub fn end_right(
        &mut self,
        right_id: i64,
        reason: Option<EndReason>,
        on: Option<Date>,
    ) -> Result<(), StoreError> {
        let right = self
            .right(right_id)?
            .ok_or_else(|| StoreError::not_found("right", right_id))?;
        // Only an inspector's scope needs the district's inspector.
        let inspector = match (&self.actor, right.origin, right.period.ended_at) {
            (Actor::Inspector(_), RightOrigin::Delegation, None) => {
                self.inspector_login(&right.district)?
            }
            _ => None,
        };
        let end = right_end::decide(EndFacts {
            actor: &self.actor,
            person: self.person.as_ref(),
            right: &right,
            inspector: inspector.as_deref(),
            reason,
            on,
            today: self.today(),
        })
        .map_err(|refusal| end_refused(&self.actor, refusal))?;
        self.write_end(&right, end)
    }

    /// Ends every right of `person` still in force or to come, at their
    /// departure (`right_end::at_departure`), each with its audit entry.
    pub(super) fn end_rights_at_departure(&mut self, person: &PersonId) -> Result<(), StoreError> {
        for right in self.rights(person)? {
            if let Some(end) = right_end::at_departure(&right, self.now, self.zone()) {
                self.write_end(&right, end)?;
            }
        }
        Ok(())
    }

    pub fn rights(&self, person: &PersonId) -> Result<Vec<RightRecord>, StoreError> {
        let rights = rights_of(self.db, person.as_str())?;
        self.check_schools_of(&rights)?;
        Ok(rights)
    }

    pub fn rights_in_force(&self, person: &PersonId) -> Result<Vec<RightInForce>, StoreError> {
        Ok(in_force(&self.rights(person)?, self.now, self.zone()))
    }

    /// The districts a person belongs to: those of the schools of their
    /// rights in force, to come, or ended within the last year.
    pub fn districts_of_person(&self, person: &PersonId) -> Result<Vec<String>, StoreError> {
        let mut out: Vec<String> = self
            .rights(person)?
            .into_iter()
            .filter(|r| r.period.recent_at(self.now, self.zone()))
            .map(|r| r.district)
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    pub fn district_of_right(&self, id: i64) -> Result<Option<String>, StoreError> {
        let found: Option<(String, String)> = self
            .db
            .query_row_cached(
                "SELECT s.uai, s.district FROM rights r JOIN schools s ON s.uai = r.school
                 WHERE r.id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((school, district)) = found else {
            return Ok(None);
        };
        self.check_row("schools", &school)?;
        Ok(Some(district))
    }

    pub fn right(&self, id: i64) -> Result<Option<RightRecord>, StoreError> {
        let person: Option<String> = self
            .db
            .query_row_cached("SELECT person FROM rights WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(person) = person else {
            return Ok(None);
        };
        let right = super::rights_of(self.db, &person)?
            .into_iter()
            .find(|r| r.id == id);
        self.check_schools_of(right.as_slice())?;
        Ok(right)
    }
}

/// A refusal of `domain::right_end` as the store's typed error, for any
/// backend.
pub(crate) fn end_refused(actor: &Actor, refusal: EndRefusal) -> StoreError {
    match refusal {
        EndRefusal::Forbidden { action, why } => StoreError::Forbidden {
            actor: actor.to_string(),
            action,
            why,
        },
        EndRefusal::OwnRight => StoreError::OwnAct {
            actor: actor.to_string(),
            action: right_end::OWN_ACTION,
        },
        EndRefusal::Domain(err) => err.into(),
    }
}

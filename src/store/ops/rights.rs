//! Rights (appointments and delegations) of people at schools, and the
//! district a holder belongs to. The numbered cases are the school-year
//! situations of docs/lifecycle.md.

use rusqlite::{params, OptionalExtension};

use super::{in_force, rights_of, to_i64, Tx};
use crate::domain::{Date, PersonId, RightInForce, RightOrigin, RightPeriod, RightRecord, Uai};
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
        self.db.execute(
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
        match origin {
            RightOrigin::Appointment => {
                self.require_desk("record an appointment")?;
                self.district_of_school(school)?;
            }
            RightOrigin::Delegation => {
                let district = self.district_of_school(school)?;
                self.require_scope(&district, "grant a delegation", false)?;
            }
        }
        let period = RightPeriod::new(from, until)?;
        self.insert_right(person, school, origin, &period)
    }

    /// The inspector ends a delegation now (case 2): verify refuses the
    /// deputy from this instant.
    pub fn end_delegation(&mut self, right_id: i64) -> Result<(), StoreError> {
        let row: Option<(String, String, Option<i64>, String)> = self
            .db
            .query_row(
                "SELECT r.origin, s.district, r.ended_at, r.person FROM rights r
                 JOIN schools s ON s.uai = r.school WHERE r.id = ?1",
                [right_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let (origin, district, ended_at, person) =
            row.ok_or_else(|| StoreError::not_found("right", right_id))?;
        self.require_scope(&district, "end a delegation", false)?;
        if RightOrigin::parse(&origin)? != RightOrigin::Delegation {
            return Err(self.forbidden(
                "end a right",
                "appointments end on their own date; only delegations are ended by hand",
            ));
        }
        if ended_at.is_some() {
            return Err(self.forbidden("end a delegation", "it has already ended"));
        }
        self.db.execute(
            "UPDATE rights SET ended_at = ?1 WHERE id = ?2",
            params![to_i64(self.now, "time")?, right_id],
        )?;
        self.audit("right.end", &person, &format!("right={right_id}"))
    }

    pub fn rights(&self, person: &PersonId) -> Result<Vec<RightRecord>, StoreError> {
        rights_of(self.db, person.as_str())
    }

    pub fn rights_in_force(&self, person: &PersonId) -> Result<Vec<RightInForce>, StoreError> {
        Ok(in_force(&self.rights(person)?, self.now, self.zone()))
    }

    /// The district a holder belongs to: that of their latest right.
    pub(super) fn holder_district(&self, holder: &PersonId) -> Result<String, StoreError> {
        self.rights(holder)?
            .into_iter()
            .max_by_key(|r| (r.period.from, r.id))
            .map(|r| r.district)
            .ok_or_else(|| StoreError::NoRight {
                holder: holder.to_string(),
            })
    }

    pub fn district_of_right(&self, id: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .db
            .query_row(
                "SELECT s.district FROM rights r JOIN schools s ON s.uai = r.school WHERE r.id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn right(&self, id: i64) -> Result<Option<RightRecord>, StoreError> {
        let person: Option<String> = self
            .db
            .query_row("SELECT person FROM rights WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(person) = person else {
            return Ok(None);
        };
        Ok(super::rights_of(self.db, &person)?
            .into_iter()
            .find(|r| r.id == id))
    }
}

//! Every appointment, for the admin's list (`GET /v1/rights/appointments`):
//! filtered by school (UAI or name) and person (login or name) in SQL, by
//! in force or ended through [`crate::domain::RightPeriod::in_force_at`] —
//! the one rule of when a right is in force — then paged, newest first.

use rusqlite::types::Value;

use super::listing::{contains, Page};
use super::{query_rows, right_from_row, Tx, RIGHT_COLUMNS};
use crate::domain::RightRecord;
use crate::store::StoreError;

/// A search of the appointments; empty texts match everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppointmentQuery {
    /// A part of the school's UAI or name.
    pub school: String,
    /// A part of the person's login or full name.
    pub person: String,
    /// Only those in force (`Some(true)`) or not (`Some(false)`).
    pub in_force: Option<bool>,
    pub offset: u64,
    pub limit: u64,
}

/// One appointment as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppointmentRow {
    pub right: RightRecord,
    pub full_name: String,
    pub school_name: String,
    pub in_force: bool,
}

impl Tx<'_> {
    /// One page of the appointments a query matches, and how many match.
    pub fn appointment_page(
        &self,
        q: &AppointmentQuery,
    ) -> Result<Page<AppointmentRow>, StoreError> {
        let mut sql = format!(
            "SELECT {RIGHT_COLUMNS}, p.full_name, s.name FROM rights r
             JOIN schools s ON s.uai = r.school JOIN people p ON p.id = r.person
             WHERE r.origin = 'appointment'"
        );
        let mut args = Vec::new();
        if !q.school.trim().is_empty() {
            args.push(Value::Text(contains(&q.school)));
            let n = args.len();
            sql.push_str(&format!(
                " AND (r.school LIKE ?{n} ESCAPE '\\' OR s.name LIKE ?{n} ESCAPE '\\')"
            ));
        }
        if !q.person.trim().is_empty() {
            args.push(Value::Text(contains(&q.person)));
            let n = args.len();
            sql.push_str(&format!(
                " AND (r.person LIKE ?{n} ESCAPE '\\' OR p.full_name LIKE ?{n} ESCAPE '\\')"
            ));
        }
        sql.push_str(" ORDER BY r.from_date DESC, r.id DESC");
        let (now, zone) = (self.now, self.zone());
        let rows = query_rows(self.db, &sql, rusqlite::params_from_iter(args), |row| {
            let right = right_from_row(row)?;
            let in_force = right.period.in_force_at(now, zone);
            Ok(AppointmentRow {
                full_name: row.get(9)?,
                school_name: row.get(10)?,
                in_force,
                right,
            })
        })?;
        let matching: Vec<AppointmentRow> = rows
            .into_iter()
            .filter(|a| q.in_force.is_none_or(|f| a.in_force == f))
            .collect();
        let total = matching.len() as u64;
        let items = matching
            .into_iter()
            .skip(usize::try_from(q.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(q.limit).unwrap_or(usize::MAX))
            .collect();
        Ok(Page { items, total })
    }
}

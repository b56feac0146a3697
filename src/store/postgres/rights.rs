//! The rights held in PostgreSQL (migration 4, filled by `keyward store
//! copy`): read back as the same [`RightRecord`]s the SQLite store reads,
//! so a node decides entitlement with the SQLite writer's pure rule
//! (`domain::rights::in_force`). A row that does not decode is
//! [`PgError::Corrupt`]: it never entitles anyone. Each row is checked
//! against its row MAC before it is decoded: a person one of whose rights
//! was changed outside keyward is named apart, with none of their rights.

use super::ledger::PeopleRights;
use super::row_mac::{SealedRow, RIGHTS};
use super::PgError;
use crate::crypto::RowKey;
use crate::domain::{Date, EndReason, PersonId, RightOrigin, RightPeriod, RightRecord, Uai};

/// Every column of a right (`row_mac::RIGHTS`, in order), then its MAC.
pub(super) const RIGHTS_SQL: &str = "SELECT id, person, school, district, origin, from_date,
        until_date, ended_at, end_reason, row_mac
    FROM rights WHERE person = ANY($1) ORDER BY person, from_date, id";

fn corrupt<E>(what: &'static str) -> impl Fn(E) -> PgError {
    move |_| PgError::Corrupt(what)
}

/// The rights [`RIGHTS_SQL`] read, by person (in date order, as on
/// SQLite).
pub(super) fn of_rows(key: &RowKey, rows: &[tokio_postgres::Row]) -> Result<PeopleRights, PgError> {
    let mut found = PeopleRights::default();
    for row in rows {
        if !SealedRow::read(RIGHTS, row, 0)?.intact(key) {
            found.tampered.insert(row.try_get(1)?);
            continue;
        }
        let right = right_from(row)?;
        found
            .rights
            .entry(right.person.as_str().to_owned())
            .or_default()
            .push(right);
    }
    for person in &found.tampered {
        found.rights.remove(person);
    }
    Ok(found)
}

pub(super) fn right_from(row: &tokio_postgres::Row) -> Result<RightRecord, PgError> {
    let date = |text: &str| Date::parse(text).map_err(corrupt("right date"));
    let until: Option<&str> = row.try_get(6)?;
    let ended_at: Option<i64> = row.try_get(7)?;
    let end_reason: Option<&str> = row.try_get(8)?;
    Ok(RightRecord {
        id: row.try_get(0)?,
        person: PersonId::parse(row.try_get(1)?).map_err(corrupt("right person"))?,
        school: Uai::parse(row.try_get(2)?).map_err(corrupt("right school"))?,
        district: row.try_get(3)?,
        origin: RightOrigin::parse(row.try_get(4)?).map_err(corrupt("right origin"))?,
        period: RightPeriod {
            from: date(row.try_get(5)?)?,
            until: until.map(date).transpose()?,
            ended_at: ended_at
                .map(|at| u64::try_from(at).map_err(corrupt("ended_at")))
                .transpose()?,
        },
        end_reason: end_reason
            .map(EndReason::decode)
            .transpose()
            .map_err(corrupt("end reason"))?,
    })
}

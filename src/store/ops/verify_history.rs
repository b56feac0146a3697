//! Verify outcomes and locks over time, read from the audit chain the
//! verify service writes (`verify.accept`, `verify.reject`, a lock's
//! `locked=now`), counted per local day of the authority. Repeated
//! refusals of the same kind within a minute are one audit entry
//! (`store/verify/refusals.rs`): the counts are of entries.

use super::{to_u64, Tx};
use crate::domain::Date;
use crate::store::StoreError;

/// Days counted, today included.
pub const VERIFY_DAYS: u64 = 14;

/// One local day's verify decisions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyDay {
    pub day: Date,
    pub accepted: u64,
    pub refused: u64,
    /// Refusals that locked a key.
    pub locked: u64,
}

impl Tx<'_> {
    /// The last [`VERIFY_DAYS`] local days' verify outcomes, oldest first.
    pub fn verify_days(&self) -> Result<Vec<VerifyDay>, StoreError> {
        let today = self.today();
        let mut first = today;
        for _ in 1..VERIFY_DAYS {
            first = first.previous();
        }
        let mut days: Vec<VerifyDay> = (0..VERIFY_DAYS)
            .map(|i| VerifyDay {
                day: first.add_days(i),
                accepted: 0,
                refused: 0,
                locked: 0,
            })
            .collect();
        // Grouped by hour in SQL (the index on `at`), by local day here: a
        // zone's offset is a whole number of hours.
        let mut stmt = self.db.prepare(
            "SELECT at / 3600, action = 'verify.accept', instr(detail, 'locked=now') > 0, COUNT(*)
             FROM audit WHERE at >= ?1 AND action IN ('verify.accept', 'verify.reject')
             GROUP BY 1, 2, 3",
        )?;
        let since = i64::try_from(first.start_in(self.zone())).unwrap_or(i64::MAX);
        let rows: Vec<(i64, bool, bool, i64)> = stmt
            .query_map([since], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<Result<_, _>>()?;
        for (hour, accepted, locked, count) in rows {
            let at = to_u64(hour, "time")?.saturating_mul(3600);
            let day = Date::local(at, self.zone());
            let Some(slot) = days.iter_mut().find(|d| d.day == day) else {
                continue;
            };
            let count = to_u64(count, "count")?;
            if accepted {
                slot.accepted += count;
            } else {
                slot.refused += count;
                if locked {
                    slot.locked += count;
                }
            }
        }
        Ok(days)
    }
}

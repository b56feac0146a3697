//! Reports over the tokens, limited to the caller's scope.

use std::collections::BTreeMap;

use super::{rights_of, to_u64, Tx};
use crate::domain::reports::{self, BoundKey, InTransit, OverdueReturn};
use crate::domain::return_weeks::{self, ReturnWeek};
use crate::domain::{Actor, Date};
use crate::store::StoreError;

impl Tx<'_> {
    /// The districts the actor may see: an inspector their own, anyone
    /// else every district (`None`).
    fn scope(&self) -> Result<Option<Vec<String>>, StoreError> {
        let Actor::Inspector(id) = &self.actor else {
            return Ok(None);
        };
        let mut stmt = self
            .db
            .prepare_cached("SELECT code FROM districts WHERE inspector = ?1")?;
        let mine: Vec<String> = stmt
            .query_map([id.as_str()], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for district in &mine {
            self.check_row("districts", district)?;
        }
        Ok(Some(mine))
    }

    /// Keeps the districts the actor may see: an inspector sees their own.
    fn in_scope<V>(&self, report: BTreeMap<String, V>) -> Result<BTreeMap<String, V>, StoreError> {
        let Some(mine) = self.scope()? else {
            return Ok(report);
        };
        Ok(report
            .into_iter()
            .filter(|(district, _)| mine.contains(district))
            .collect())
    }

    /// Keys still bound (prepared, handed over, active; not emergency
    /// keys) in the actor's scope, each with its district and the last day
    /// of its holder's rights when none is in force or to come.
    fn bound_keys(&self) -> Result<Vec<BoundKey>, StoreError> {
        let scope = self.scope()?;
        // A key's district is that of the right it serves.
        let mut stmt = self.db.prepare(
            "SELECT t.serial, t.holder, s.district FROM tokens t
             JOIN rights r ON r.id = t.right_id JOIN schools s ON s.uai = r.school
             WHERE t.state IN ('prepared','handed_over','active') AND t.profile <> 'emergency'",
        )?;
        let live: Vec<(String, String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let mut keys = Vec::with_capacity(live.len());
        for (serial, holder, district) in live {
            if scope.as_ref().is_some_and(|mine| !mine.contains(&district)) {
                continue;
            }
            let rights = rights_of(self.db, &holder)?;
            let ended = !rights
                .iter()
                .any(|r| r.period.live_or_future_at(self.now, self.zone()));
            keys.push(BoundKey {
                serial,
                holder,
                district,
                rights_ended_on: if ended {
                    rights
                        .iter()
                        .filter_map(|r| r.period.last_day(self.zone()))
                        .max()
                } else {
                    None
                },
            });
        }
        Ok(keys)
    }

    /// Keys still bound to holders whose rights have all ended, past their
    /// return date, per district (an inspector sees their own district).
    pub fn overdue_returns(&self) -> Result<BTreeMap<String, Vec<OverdueReturn>>, StoreError> {
        self.in_scope(reports::overdue_returns(
            &self.bound_keys()?,
            self.today(),
            self.shared.config.return_deadline,
        ))
    }

    /// Returns around this calendar year's deadline, week by week: keys
    /// still out by the week their return falls due, and keys returned in
    /// each week (an inspector: their own district).
    pub fn return_weeks(&self) -> Result<Vec<ReturnWeek>, StoreError> {
        let rule = self.shared.config.return_deadline;
        let today = self.today();
        let deadline = rule
            .in_year(today.year())
            .ok_or(StoreError::Corrupt("return deadline"))?;
        let scope = self.scope()?;
        let mine = |district: &str| {
            scope
                .as_ref()
                .is_none_or(|m| m.iter().any(|d| d == district))
        };
        let mut keys = self.bound_keys()?;
        keys.retain(|k| mine(&k.district));
        let mut stmt = self
            .db
            .prepare("SELECT district, at FROM receipts WHERE kind = 'return'")?;
        let rows: Vec<(String, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut returned = Vec::with_capacity(rows.len());
        for (district, at) in rows {
            if mine(&district) {
                returned.push(Date::local(to_u64(at, "time")?, self.zone()));
            }
        }
        Ok(return_weeks::return_weeks(
            &keys, &returned, deadline, rule, today,
        ))
    }

    /// Keys returned to an inspector and not yet received by the IT centre
    /// (an inspector sees their own district).
    pub fn awaiting_it_centre(&self) -> Result<BTreeMap<String, Vec<InTransit>>, StoreError> {
        let mut stmt = self.db.prepare(
            "SELECT t.serial, t.holder, r.district, r.at FROM tokens t
             JOIN receipts r ON r.id = (SELECT MAX(id) FROM receipts WHERE token = t.serial AND kind = 'return')
             WHERE t.state = 'returned'",
        )?;
        let rows: Vec<(String, String, String, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<Result<_, _>>()?;
        let mut items = Vec::with_capacity(rows.len());
        for (serial, holder, district, at) in rows {
            items.push((
                serial,
                holder,
                district,
                Date::local(to_u64(at, "time")?, self.zone()),
            ));
        }
        self.in_scope(reports::awaiting_it_centre(&items, self.today()))
    }
}

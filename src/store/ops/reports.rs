//! Reports over the tokens, limited to the caller's scope.

use std::collections::BTreeMap;

use super::{rights_of, to_u64, Tx};
use crate::domain::reports::{self, BoundKey, InTransit, OverdueReturn};
use crate::domain::{Actor, Date};
use crate::store::StoreError;

impl Tx<'_> {
    /// Keeps the districts the actor may see: an inspector sees their own.
    fn in_scope<V>(&self, report: BTreeMap<String, V>) -> Result<BTreeMap<String, V>, StoreError> {
        let Actor::Inspector(id) = &self.actor else {
            return Ok(report);
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
        Ok(report
            .into_iter()
            .filter(|(district, _)| mine.contains(district))
            .collect())
    }

    /// Keys still bound to holders whose rights have all ended, past their
    /// return date, per district (an inspector sees their own district).
    pub fn overdue_returns(&self) -> Result<BTreeMap<String, Vec<OverdueReturn>>, StoreError> {
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
        self.in_scope(reports::overdue_returns(
            &keys,
            self.today(),
            self.shared.config.return_deadline,
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

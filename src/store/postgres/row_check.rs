//! `keyward audit verify` of every sealed row held in PostgreSQL: each
//! row of each table in [`SEALED_TABLES`] read whole and checked against
//! its row MAC with the encoding [`super::row_mac`] writes and reads with
//! (`PgTable::encode`, the one per table), as SQLite's
//! `store::row_mac::check_all` checks its own.
//!
//! A pure tally ([`RowTally`]: rows and mismatches per table, the first
//! [`MAX_LISTED`] mismatches named by table and key, never a value nor a
//! MAC) fed by a thin reader ([`check_all_in`]) that pages through each
//! table by a portal inside one read-only snapshot, so a store of a
//! million credentials is never held in memory at once.

use tokio_postgres::Transaction;

use super::row_mac::{SealedRow, SEALED_TABLES};
use super::PgError;
use crate::crypto::RowKey;
use crate::store::BadRow;

/// Rows fetched from the server at a time.
pub const PAGE_ROWS: u16 = 1000;
/// Mismatches named one by one; past that they are only counted (a
/// database restored under another master key would otherwise list
/// every row it holds).
pub const MAX_LISTED: usize = 1000;

/// One sealed table's rows checked, and how many did not match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableCount {
    pub table: &'static str,
    pub rows: u64,
    pub bad: u64,
}

/// What checking rows found so far: counts per table (every sealed table,
/// in [`SEALED_TABLES`] order, even empty) and the first mismatches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowTally {
    pub tables: Vec<TableCount>,
    /// The first [`MAX_LISTED`] rows that did not match, in the order read.
    pub listed: Vec<BadRow>,
}

impl Default for RowTally {
    fn default() -> Self {
        RowTally {
            tables: SEALED_TABLES
                .iter()
                .map(|t| TableCount {
                    table: t.name,
                    rows: 0,
                    bad: 0,
                })
                .collect(),
            listed: Vec::new(),
        }
    }
}

impl RowTally {
    /// Checks `row` against its MAC (in constant time) and counts it.
    pub fn note(&mut self, row: &SealedRow, key: &RowKey) {
        let intact = row.intact(key);
        let name = row.table.name;
        if !self.tables.iter().any(|t| t.table == name) {
            self.tables.push(TableCount {
                table: name,
                rows: 0,
                bad: 0,
            });
        }
        let Some(count) = self.tables.iter_mut().find(|t| t.table == name) else {
            return;
        };
        count.rows += 1;
        if !intact {
            count.bad += 1;
            if self.listed.len() < MAX_LISTED {
                self.listed.push(BadRow {
                    table: name.to_owned(),
                    key: row.shown_key(),
                });
            }
        }
    }

    /// Rows checked, every table together.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }

    /// Rows that did not match, every table together.
    pub fn bad(&self) -> u64 {
        self.tables.iter().map(|t| t.bad).sum()
    }

    /// Mismatches counted but not named (past [`MAX_LISTED`]).
    pub fn unlisted(&self) -> u64 {
        self.bad().saturating_sub(self.listed.len() as u64)
    }
}

/// What `audit verify` found of the rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PgRowCheck {
    /// Every row of every sealed table was checked.
    Checked(RowTally),
    /// The database is at a schema before the row MACs (migration 6): a
    /// node starting with the master key seals its rows.
    NotSealedYet,
}

/// Checks every row of every sealed table in `tx`'s snapshot, `PAGE_ROWS`
/// at a time.
pub async fn check_all_in(tx: &Transaction<'_>, key: &RowKey) -> Result<RowTally, PgError> {
    let mut tally = RowTally::default();
    for table in SEALED_TABLES {
        let first = table.columns.first().ok_or(PgError::Corrupt("row MAC"))?;
        let stmt = tx
            .prepare(&format!(
                "SELECT {} FROM {} ORDER BY {first}",
                table.select_list(""),
                table.name
            ))
            .await?;
        let portal = tx.bind(&stmt, &[]).await?;
        loop {
            let page = tx.query_portal(&portal, i32::from(PAGE_ROWS)).await?;
            for row in &page {
                tally.note(&SealedRow::read(table, row, 0)?, key);
            }
            if page.len() < usize::from(PAGE_ROWS) {
                break;
            }
        }
    }
    Ok(tally)
}

/// [`check_all_in`] in a read-only snapshot of its own.
pub async fn check_all(
    client: &mut tokio_postgres::Client,
    key: &RowKey,
) -> Result<RowTally, PgError> {
    let tx = super::chain::snapshot(client).await?;
    let tally = check_all_in(&tx, key).await?;
    tx.commit().await?;
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use rusqlite::types::Value;

    use super::*;
    use crate::store::postgres::row_mac::{DISTRICTS, RIGHTS};

    fn district(code: &str, key: &RowKey) -> SealedRow {
        let mut row = SealedRow::new(
            DISTRICTS,
            vec![Value::Text(code.into()), Value::Text("pmartin".into())],
        )
        .unwrap();
        row.mac = Some(row.mac_of(key));
        row
    }

    #[test]
    fn the_tally_counts_every_table_and_names_only_the_bad_rows_key(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let keys = crate::crypto::MasterKey::generate()?.keys()?;
        let key = keys.row_key();
        let mut tally = RowTally::default();
        assert_eq!(tally.tables.len(), SEALED_TABLES.len());
        tally.note(&district("D-EST", key), key);
        let mut moved = district("D-OUEST", key);
        moved.set("inspector", Value::Text("mallory-secret".into()))?;
        tally.note(&moved, key);
        let mut right = SealedRow::new(
            RIGHTS,
            vec![
                Value::Integer(42),
                Value::Text("bleroy".into()),
                Value::Text("0751710B".into()),
                Value::Text("D-EST".into()),
                Value::Text("appointment".into()),
                Value::Text("2029-09-01".into()),
                Value::Null,
                Value::Null,
                Value::Null,
            ],
        )?;
        // No MAC at all: a mismatch too.
        tally.note(&right, key);
        right.mac = Some(right.mac_of(key));
        tally.note(&right, key);
        assert_eq!((tally.rows(), tally.bad(), tally.unlisted()), (4, 2, 0));
        let count = |name| tally.tables.iter().find(|t| t.table == name).cloned();
        assert_eq!(
            count("districts"),
            Some(TableCount {
                table: "districts",
                rows: 2,
                bad: 1
            })
        );
        assert_eq!(count("rights").map(|t| (t.rows, t.bad)), Some((2, 1)));
        assert_eq!(count("credentials").map(|t| (t.rows, t.bad)), Some((0, 0)));
        assert_eq!(
            tally.listed,
            vec![
                BadRow {
                    table: "districts".into(),
                    key: "D-OUEST".into()
                },
                BadRow {
                    table: "rights".into(),
                    key: "42".into()
                }
            ]
        );
        // Nothing of a value is kept.
        assert!(!format!("{tally:?}").contains("mallory"));
        Ok(())
    }

    #[test]
    fn past_the_listed_mismatches_they_are_only_counted() -> Result<(), Box<dyn std::error::Error>>
    {
        let keys = crate::crypto::MasterKey::generate()?.keys()?;
        let other = crate::crypto::MasterKey::generate()?.keys()?;
        let mut tally = RowTally::default();
        for i in 0..MAX_LISTED + 5 {
            // Sealed under another master key: none matches.
            tally.note(&district(&format!("D{i}"), other.row_key()), keys.row_key());
        }
        assert_eq!(tally.listed.len(), MAX_LISTED);
        assert_eq!(tally.bad(), (MAX_LISTED + 5) as u64);
        assert_eq!(tally.unlisted(), 5);
        Ok(())
    }
}

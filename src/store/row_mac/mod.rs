//! Row MACs: every row of the state tables that decide something (people,
//! districts and their inspector, schools and their district, rights,
//! tokens, credentials, API keys, console sessions and the bootstrap link,
//! emergency grants, PIN reset approvals) carries in its `row_mac` column
//! HMAC-SHA-256, under a key derived from the master key, of all its other
//! columns (`docs/security.md`). A row edited outside keyward no longer
//! matches; nobody without the master key can make it match again.
//!
//! The columns covered are the table's columns as the schema has them (in
//! order), so a migration that adds a column needs no list edited here. The
//! layout the MACs were computed under is kept in `meta`; when the schema
//! changes, each row is checked under the old layout before it is MACed
//! again under the new one, so an upgrade never launders an edited row.
//!
//! The MAC is computed in one place, for every write, whatever the statement:
//! each connection of the store gets temporary triggers (living only in that
//! connection, never in the database file) that call back into keyward.
//! Before a row is updated or deleted, its stored MAC is checked (an edited
//! row is "tainted"); after a row is inserted or updated it is noted; and the
//! transaction, before it commits, MACs the noted rows again
//! ([`RowGuard::seal`]), or is refused if one was tainted.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension};

use super::StoreError;
use crate::crypto::RowKey;

/// The tables whose rows carry a MAC.
pub const SEALED_TABLES: [&str; 11] = [
    "people",
    "rights",
    "tokens",
    "credentials",
    "api_keys",
    "districts",
    "schools",
    "console_sessions",
    "console_bootstrap",
    "emergency_grants",
    "pin_reset_approvals",
];
/// The column that holds a row's MAC.
pub const MAC_COLUMN: &str = "row_mac";
/// Where the layout the MACs were computed under is kept.
const LAYOUT_META_KEY: &str = "row_mac_layout";

/// The bytes [`encode_row`] reserves at once.
const ROW_ENCODING_CAPACITY: usize = 2048;

/// The encoding a row's MAC is computed over: a version label, the table's
/// name, then each column's name and typed value, every length as 8 bytes
/// big-endian. Tags: 0 NULL, 1 integer (8 bytes), 2 real (8 bytes), 3 text,
/// 4 blob (length then bytes).
pub fn encode_row<'v>(
    table: &str,
    columns: impl ExactSizeIterator<Item = (&'v str, ValueRef<'v>)>,
) -> Vec<u8> {
    fn put(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
        out.extend_from_slice(bytes);
    }
    // Room for any row the verify path checks (a credential's is about
    // 600 bytes): with 256, a credential with more columns set (a holder
    // who has logged in: floor, last use) grew the buffer where one never
    // used did not, so checking a known, unlocked holder's record cost
    // more than a locked or decoy's (issue 11 point 3).
    let mut out = Vec::with_capacity(ROW_ENCODING_CAPACITY);
    out.extend_from_slice(b"keyward row v1\0");
    put(&mut out, table.as_bytes());
    out.extend_from_slice(&(columns.len() as u64).to_be_bytes());
    for (name, value) in columns {
        put(&mut out, name.as_bytes());
        match value {
            ValueRef::Null => out.push(0),
            ValueRef::Integer(i) => {
                out.push(1);
                out.extend_from_slice(&i.to_be_bytes());
            }
            ValueRef::Real(r) => {
                out.push(2);
                out.extend_from_slice(&r.to_bits().to_be_bytes());
            }
            ValueRef::Text(t) => {
                out.push(3);
                put(&mut out, t);
            }
            ValueRef::Blob(b) => {
                out.push(4);
                put(&mut out, b);
            }
        }
    }
    out
}

/// The columns one table's MACs cover.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableLayout {
    pub name: String,
    /// Every column but the MAC, in schema order.
    pub columns: Vec<String>,
}

/// The columns of every sealed table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout(pub Vec<TableLayout>);

impl Layout {
    /// The layout of the schema as it is now.
    pub(crate) fn of_schema(db: &Connection) -> Result<Layout, StoreError> {
        let mut tables = Vec::new();
        for name in SEALED_TABLES {
            let mut stmt = db.prepare(&format!("PRAGMA table_info({name})"))?;
            let names: Vec<String> = stmt
                .query_map([], |r| r.get(1))?
                .collect::<Result<_, _>>()?;
            if !names.iter().any(|c| c == MAC_COLUMN) {
                return Err(StoreError::Corrupt(
                    "schema: a state table has no row_mac column",
                ));
            }
            tables.push(TableLayout {
                name: name.to_owned(),
                columns: names.into_iter().filter(|c| c != MAC_COLUMN).collect(),
            });
        }
        Ok(Layout(tables))
    }

    /// `table(col,col,...);table(...)`, as kept in `meta`.
    pub fn to_text(&self) -> String {
        let tables: Vec<String> = self
            .0
            .iter()
            .map(|t| format!("{}({})", t.name, t.columns.join(",")))
            .collect();
        tables.join(";")
    }

    pub fn parse(text: &str) -> Option<Layout> {
        let mut tables = Vec::new();
        for part in text.split(';') {
            let (name, rest) = part.split_once('(')?;
            let columns = rest.strip_suffix(')')?;
            tables.push(TableLayout {
                name: name.to_owned(),
                columns: columns.split(',').map(str::to_owned).collect(),
            });
        }
        Some(Layout(tables))
    }

    pub(crate) fn table(&self, name: &str) -> Option<&TableLayout> {
        self.0.iter().find(|t| t.name == name)
    }

    /// The layout the stored MACs were computed under (`None`: none yet).
    fn stored(db: &Connection) -> Result<Option<Layout>, StoreError> {
        let text: Option<Vec<u8>> = db
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                [LAYOUT_META_KEY],
                |r| r.get(0),
            )
            .optional()?;
        text.map(|t| {
            std::str::from_utf8(&t)
                .ok()
                .and_then(Layout::parse)
                .ok_or(StoreError::Corrupt("row MAC layout"))
        })
        .transpose()
    }
}

fn quoted(column: &str) -> String {
    format!("\"{}\"", column.replace('"', "\"\""))
}

impl TableLayout {
    /// `"a", "b", ...` with `prefix` (e.g. `OLD.`) before each column.
    pub(crate) fn column_list(&self, prefix: &str) -> String {
        let list: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("{prefix}{}", quoted(c)))
            .collect();
        list.join(", ")
    }

    /// `SELECT <columns>, row_mac, rowid FROM <table>`, to which a filter
    /// can be added.
    fn select(&self) -> String {
        format!(
            "SELECT {}, {MAC_COLUMN}, rowid FROM {}",
            self.column_list(""),
            self.name
        )
    }

    /// The encoding of a row whose values, in [`TableLayout::columns`]
    /// order, are `value(0..n)`.
    pub fn encode<'v>(&'v self, value: impl Fn(usize) -> ValueRef<'v>) -> Vec<u8> {
        encode_row(
            &self.name,
            self.columns
                .iter()
                .enumerate()
                .map(|(i, c)| (c.as_str(), value(i))),
        )
    }

    /// Whether a row matches its stored MAC (`mac`; NULL never matches).
    pub fn matches<'v>(
        &'v self,
        key: &RowKey,
        value: impl Fn(usize) -> ValueRef<'v>,
        mac: ValueRef<'_>,
    ) -> bool {
        match mac {
            ValueRef::Blob(mac) => key.matches(&self.encode(value), mac),
            _ => false,
        }
    }

    /// Whether the row read by `row` from column `offset` on (this table's
    /// columns, then its MAC) matches.
    pub(crate) fn matches_at(&self, key: &RowKey, row: &rusqlite::Row<'_>, offset: usize) -> bool {
        let value = |i| row.get_ref(offset + i).unwrap_or(ValueRef::Null);
        let mac = row
            .get_ref(offset + self.columns.len())
            .unwrap_or(ValueRef::Null);
        self.matches(key, value, mac)
    }

    /// The row's key as shown to people: its first column (the primary key
    /// of every sealed table).
    fn shown_key(value: ValueRef<'_>) -> String {
        match value {
            ValueRef::Integer(i) => i.to_string(),
            ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
            _ => "?".to_owned(),
        }
    }
}

/// A row that does not match its MAC: its table and key, nothing else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRow {
    pub table: String,
    pub key: String,
}

/// Rows touched and rows found tainted by the current transaction of one
/// connection.
#[derive(Debug, Default)]
struct Watch {
    touched: BTreeSet<(usize, i64)>,
    tainted: Vec<BadRow>,
}

/// One connection's row MAC machinery (see the module's documentation).
#[derive(Debug, Clone)]
pub(crate) struct RowGuard {
    layout: Arc<Layout>,
    key: RowKey,
    watch: Arc<Mutex<Watch>>,
    /// Per table: the statement that renews a row's MAC (by rowid), in one
    /// step, from the row as stored.
    seal_sql: Arc<Vec<String>>,
}

fn lock(watch: &Mutex<Watch>) -> MutexGuard<'_, Watch> {
    // Only plain collections inside: usable after a panic elsewhere.
    watch.lock().unwrap_or_else(|p| p.into_inner())
}

impl RowGuard {
    /// Installs the guard's functions and temporary triggers on `db`.
    pub(crate) fn install(
        db: &Connection,
        layout: Arc<Layout>,
        key: RowKey,
    ) -> Result<RowGuard, StoreError> {
        let seal_sql = layout
            .0
            .iter()
            .enumerate()
            .map(|(index, table)| {
                format!(
                    "UPDATE {} SET {MAC_COLUMN} = keyward_row_mac({index}, {}) WHERE rowid = ?1",
                    table.name,
                    table.column_list(""),
                )
            })
            .collect();
        let guard = RowGuard {
            layout,
            key,
            watch: Arc::new(Mutex::new(Watch::default())),
            seal_sql: Arc::new(seal_sql),
        };
        let this = guard.clone();
        db.create_scalar_function(
            "keyward_row_check",
            -1,
            FunctionFlags::SQLITE_UTF8,
            move |ctx| {
                this.on_change(ctx, true);
                Ok(rusqlite::types::Null)
            },
        )?;
        let this = guard.clone();
        db.create_scalar_function(
            "keyward_row_mac",
            -1,
            FunctionFlags::SQLITE_UTF8,
            move |ctx| Ok(this.mac_of(ctx)),
        )?;
        let this = guard.clone();
        db.create_scalar_function(
            "keyward_row_touch",
            2,
            FunctionFlags::SQLITE_UTF8,
            move |ctx| {
                this.on_change(ctx, false);
                Ok(rusqlite::types::Null)
            },
        )?;
        for (index, table) in guard.layout.0.iter().enumerate() {
            let name = &table.name;
            let old = table.column_list("OLD.");
            let check =
                format!("SELECT keyward_row_check({index}, OLD.rowid, {old}, OLD.{MAC_COLUMN});");
            // `UPDATE OF` every column but the MAC: the sealing update, which
            // sets only the MAC, does not fire it.
            let columns = table.column_list("");
            db.execute_batch(&format!(
                "CREATE TEMP TRIGGER keyward_row_update_{name} BEFORE UPDATE OF {columns}
                 ON main.{name} BEGIN {check} END;
                 CREATE TEMP TRIGGER keyward_row_delete_{name} BEFORE DELETE ON main.{name}
                 BEGIN {check} END;
                 CREATE TEMP TRIGGER keyward_row_insert_{name} AFTER INSERT ON main.{name}
                 BEGIN SELECT keyward_row_touch({index}, NEW.rowid); END;"
            ))?;
        }
        Ok(guard)
    }

    /// A trigger's call: (table index, rowid[, old columns..., old MAC]).
    fn on_change(&self, ctx: &rusqlite::functions::Context<'_>, check: bool) {
        if ctx.len() < 2 {
            return;
        }
        let table_index = match ctx.get_raw(0) {
            ValueRef::Integer(i) => usize::try_from(i).unwrap_or(usize::MAX),
            _ => usize::MAX,
        };
        let ValueRef::Integer(rowid) = ctx.get_raw(1) else {
            return;
        };
        let mut watch = lock(&self.watch);
        let Some(table) = self.layout.0.get(table_index) else {
            // Not one of ours: refuse the transaction rather than let it by.
            watch.tainted.push(BadRow {
                table: "?".into(),
                key: rowid.to_string(),
            });
            return;
        };
        // A row already written in this transaction was checked when first
        // touched; its MAC is renewed at the end.
        if watch.touched.insert((table_index, rowid)) && check {
            let n = table.columns.len();
            let complete = ctx.len() == n + 3;
            let value = |i: usize| {
                if complete {
                    ctx.get_raw(i + 2)
                } else {
                    ValueRef::Null
                }
            };
            let mac = if complete {
                ctx.get_raw(n + 2)
            } else {
                ValueRef::Null
            };
            if !table.matches(&self.key, value, mac) {
                watch.tainted.push(BadRow {
                    table: table.name.clone(),
                    key: TableLayout::shown_key(value(0)),
                });
            }
        }
    }

    /// Checks one row, found by its first column (its primary key), before
    /// deciding with it: a row that does not match is refused. A row this
    /// transaction already wrote was checked then, and is MACed again at
    /// commit.
    pub(crate) fn check(
        &self,
        db: &Connection,
        table: &str,
        row_key: &str,
    ) -> Result<(), StoreError> {
        self.check_by(db, table, &row_key, row_key)
    }

    /// [`RowGuard::check`] with a key of any type (`shown`: the key as
    /// named in a refusal; a session's hash is never shown).
    pub(crate) fn check_by(
        &self,
        db: &Connection,
        table: &str,
        row_key: &dyn rusqlite::ToSql,
        shown: &str,
    ) -> Result<(), StoreError> {
        let (index, layout) = self
            .layout
            .0
            .iter()
            .enumerate()
            .find(|(_, t)| t.name == table)
            .ok_or(StoreError::Corrupt("row MAC table"))?;
        let first = layout
            .columns
            .first()
            .ok_or(StoreError::Corrupt("row MAC layout"))?;
        let sql = format!("{} WHERE {} = ?1", layout.select(), quoted(first));
        let mut stmt = db.prepare_cached(&sql)?;
        let mut rows = stmt.query([row_key])?;
        let Some(row) = rows.next()? else {
            return Ok(());
        };
        let rowid: i64 = row.get(layout.columns.len() + 1)?;
        if lock(&self.watch).touched.contains(&(index, rowid)) {
            return Ok(());
        }
        if !layout.matches_at(&self.key, row, 0) {
            return Err(StoreError::RowTampered {
                table: layout.name.clone(),
                key: shown.to_owned(),
            });
        }
        Ok(())
    }

    /// Whether the `table` row read at `offset` of `row` (its columns, then
    /// its MAC; its rowid at `rowid_at`) may decide: it matches its MAC, or
    /// this transaction already wrote it (checked then, MACed at commit).
    pub(crate) fn intact_at(
        &self,
        table: &str,
        row: &rusqlite::Row<'_>,
        offset: usize,
        rowid_at: usize,
    ) -> bool {
        let found = self
            .layout
            .0
            .iter()
            .enumerate()
            .find(|(_, t)| t.name == table);
        let Some((index, layout)) = found else {
            return false;
        };
        layout.matches_at(&self.key, row, offset)
            || row
                .get::<_, i64>(rowid_at)
                .is_ok_and(|rowid| lock(&self.watch).touched.contains(&(index, rowid)))
    }

    /// The sealing update's call: (table index, columns...) → the MAC, or
    /// NULL (never matches) if the call does not fit the table.
    fn mac_of(&self, ctx: &rusqlite::functions::Context<'_>) -> Option<Vec<u8>> {
        let ValueRef::Integer(index) = ctx.get_raw(0) else {
            return None;
        };
        let table = self.layout.0.get(usize::try_from(index).ok()?)?;
        if ctx.len() != table.columns.len() + 1 {
            return None;
        }
        Some(self.key.mac(&table.encode(|i| ctx.get_raw(i + 1))).to_vec())
    }

    /// Forgets what an earlier transaction left (one that was rolled back).
    pub(crate) fn begin(&self) {
        let mut watch = lock(&self.watch);
        watch.touched.clear();
        watch.tainted.clear();
    }

    /// Before commit: refuses the transaction if it changed a row that did
    /// not match its MAC; otherwise MACs every row it inserted or updated.
    pub(crate) fn seal(&self, db: &Connection) -> Result<(), StoreError> {
        let (touched, tainted) = {
            let mut watch = lock(&self.watch);
            (
                std::mem::take(&mut watch.touched),
                std::mem::take(&mut watch.tainted),
            )
        };
        if let Some(bad) = tainted.into_iter().next() {
            return Err(StoreError::RowTampered {
                table: bad.table,
                key: bad.key,
            });
        }
        for (index, rowid) in touched {
            if let Some(sql) = self.seal_sql.get(index) {
                db.prepare_cached(sql)?.execute([rowid])?;
            }
        }
        Ok(())
    }
}

/// Whether every row of `table` whose `column` equals `value` matches its
/// MAC (true when there is none).
pub(crate) fn rows_intact(
    db: &Connection,
    layout: &Layout,
    key: &RowKey,
    table: &str,
    column: &str,
    value: &str,
) -> Result<bool, StoreError> {
    let check = RowsCheck::new(layout, table, column)?;
    check.intact(db, layout, key, value)
}

/// [`rows_intact`]'s statement for one table and column, built once: the
/// verify writer checks a holder's rights on every request, and building
/// the statement's text each time was 5 % of its time (issue 13).
#[derive(Clone, Debug)]
pub(crate) struct RowsCheck {
    table: String,
    sql: String,
}

impl RowsCheck {
    pub(crate) fn new(layout: &Layout, table: &str, column: &str) -> Result<Self, StoreError> {
        let layout = layout
            .table(table)
            .ok_or(StoreError::Corrupt("row MAC table"))?;
        Ok(RowsCheck {
            table: table.to_owned(),
            sql: format!("{} WHERE {} = ?1", layout.select(), quoted(column)),
        })
    }

    /// Whether every row whose column equals `value` matches its MAC.
    pub(crate) fn intact(
        &self,
        db: &Connection,
        layout: &Layout,
        key: &RowKey,
        value: &str,
    ) -> Result<bool, StoreError> {
        let table = layout
            .table(&self.table)
            .ok_or(StoreError::Corrupt("row MAC table"))?;
        let mut stmt = db.prepare_cached(&self.sql)?;
        let mut rows = stmt.query([value])?;
        let mut intact = true;
        while let Some(row) = rows.next()? {
            intact &= table.matches_at(key, row, 0);
        }
        Ok(intact)
    }
}

/// Computes and stores the MAC of one row (found by rowid).
fn seal_row(
    db: &Connection,
    key: &RowKey,
    table: &TableLayout,
    rowid: i64,
) -> Result<(), StoreError> {
    let sql = format!("{} WHERE rowid = ?1", table.select());
    let mac = {
        let mut stmt = db.prepare_cached(&sql)?;
        let mut rows = stmt.query([rowid])?;
        let Some(row) = rows.next()? else {
            return Ok(()); // deleted later in the same transaction
        };
        key.mac(&table.encode(|i| row.get_ref(i).unwrap_or(ValueRef::Null)))
    };
    db.prepare_cached(&format!(
        "UPDATE {} SET {MAC_COLUMN} = ?1 WHERE rowid = ?2",
        table.name
    ))?
    .execute(rusqlite::params![&mac[..], rowid])?;
    Ok(())
}

/// Every row of `table` whose MAC does not match under `layout`, with the
/// rowids of those that do.
fn check_table(
    db: &Connection,
    key: &RowKey,
    layout: &TableLayout,
) -> Result<(Vec<BadRow>, Vec<i64>), StoreError> {
    let mut stmt = db.prepare(&layout.select())?;
    let mut rows = stmt.query([])?;
    let n = layout.columns.len();
    let (mut bad, mut good) = (Vec::new(), Vec::new());
    while let Some(row) = rows.next()? {
        let value = |i| row.get_ref(i).unwrap_or(ValueRef::Null);
        if layout.matches(key, value, row.get_ref(n)?) {
            good.push(row.get(n + 1)?);
        } else {
            bad.push(BadRow {
                table: layout.name.clone(),
                key: TableLayout::shown_key(value(0)),
            });
        }
    }
    Ok((bad, good))
}

/// At open, before any guard is installed, in one write transaction: the
/// first time (no layout stored), MACs every existing row; after a schema
/// change, MACs again under the new layout the rows that matched under the
/// old one (the others stay reported). Returns the schema's layout.
pub(crate) fn upgrade(db: &Connection, key: &RowKey) -> Result<Layout, StoreError> {
    let current = Layout::of_schema(db)?;
    let stored = Layout::stored(db)?;
    if stored.as_ref() == Some(&current) {
        return Ok(current);
    }
    for table in &current.0 {
        let rowids: Vec<i64> = match stored.as_ref().and_then(|s| s.table(&table.name)) {
            Some(old) => check_table(db, key, old)?.1,
            None => {
                let mut stmt = db.prepare(&format!("SELECT rowid FROM {}", table.name))?;
                let ids = stmt.query_map([], |r| r.get(0))?;
                ids.collect::<Result<_, _>>()?
            }
        };
        for rowid in rowids {
            seal_row(db, key, table, rowid)?;
        }
    }
    db.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
        rusqlite::params![LAYOUT_META_KEY, current.to_text().as_bytes()],
    )?;
    Ok(current)
}

/// What a full check of the rows found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowCheck {
    /// Every row was checked; these did not match.
    Checked { rows: u64, bad: Vec<BadRow> },
    /// The rows carry no MAC yet: keyward was upgraded and not started since.
    NotSealedYet,
}

/// Checks every row of every sealed table, under the layout they were
/// MACed with.
pub fn check_all(db: &Connection, key: &RowKey) -> Result<RowCheck, StoreError> {
    let Some(layout) = Layout::stored(db)? else {
        return Ok(RowCheck::NotSealedYet);
    };
    let mut all_bad = Vec::new();
    let mut rows = 0u64;
    for table in &layout.0 {
        let (bad, good) = check_table(db, key, table)?;
        rows += (bad.len() + good.len()) as u64;
        all_bad.extend(bad);
    }
    Ok(RowCheck::Checked { rows, bad: all_bad })
}

#[cfg(test)]
mod tests;

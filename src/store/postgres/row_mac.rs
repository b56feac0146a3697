//! Row MACs on PostgreSQL (docs/postgres.md, "Row MACs"): every row of
//! the tables a node decides with carries in `row_mac` HMAC-SHA-256, under
//! the store's row key (`Keys::row_key`, derived from the master key,
//! never sent to the server), of all its other columns, encoded exactly as
//! on SQLite (`store::row_mac::encode_row`: a label, the table's name, then
//! each column's name and typed value). The table's name and its primary
//! key (its first column) are in the encoding, so a row cannot stand in
//! for another.
//!
//! SQLite computes its MACs in temporary triggers calling back into
//! keyward; PostgreSQL cannot call keyward, so here every write computes
//! the row it leaves (from the values it writes, client-side) and sets its
//! MAC in the same statement, and every read a decision rests on checks
//! the MAC of the whole row it read, in constant time.
//!
//! Column values are encoded as SQLite holds them: integers and booleans
//! (0 or 1) as integers, text as text, `bytea` as a blob, NULL as NULL.

use rusqlite::types::{Value, ValueRef};
use tokio_postgres::types::Type;

use super::ledger::{append_entries, NewEntry};
use super::PgError;
use crate::crypto::{Keys, RowKey};
use crate::domain::UnixTime;
use crate::store::row_mac::{encode_row, MAC_COLUMN};
use crate::store::StoreError;

/// A sealed table: its name and its columns but the MAC, in schema order
/// (a test checks them against the schema after every migration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PgTable {
    pub name: &'static str,
    pub columns: &'static [&'static str],
}

pub const CREDENTIALS: PgTable = PgTable {
    name: "credentials",
    columns: &[
        "id",
        "token",
        "holder",
        "kind",
        "algorithm",
        "digits",
        "period",
        "floor",
        "drift",
        "fails",
        "locked",
        "retry_at",
        "pin_verifier",
        "sealed",
        "live",
        "last_used_at",
    ],
};

pub const PHANTOM_COUNTERS: PgTable = PgTable {
    name: "phantom_counters",
    columns: &["slot", "fails", "locked", "retry_at"],
};

pub const RIGHTS: PgTable = PgTable {
    name: "rights",
    columns: &[
        "id",
        "person",
        "school",
        "district",
        "origin",
        "from_date",
        "until_date",
        "ended_at",
        "end_reason",
    ],
};

pub const TOKENS: PgTable = PgTable {
    name: "tokens",
    columns: &[
        "serial",
        "profile",
        "state",
        "revoke_reason",
        "holder",
        "district",
        "state_since",
    ],
};

pub const DISTRICTS: PgTable = PgTable {
    name: "districts",
    columns: &["code", "inspector"],
};

pub const API_KEYS: PgTable = PgTable {
    name: "api_keys",
    columns: &[
        "id",
        "name",
        "role",
        "hash",
        "created_at",
        "revoked_at",
        "person",
        "district",
    ],
};

/// Every table whose rows carry a MAC.
pub const SEALED_TABLES: [PgTable; 6] = [
    CREDENTIALS,
    PHANTOM_COUNTERS,
    RIGHTS,
    TOKENS,
    DISTRICTS,
    API_KEYS,
];

/// One row of a sealed table: its values in [`PgTable::columns`] order
/// and the MAC it was read with.
#[derive(Clone, PartialEq)]
pub struct SealedRow {
    pub table: PgTable,
    pub values: Vec<Value>,
    pub mac: Option<Vec<u8>>,
}

impl std::fmt::Debug for SealedRow {
    // Values may be a sealed secret or a PIN verifier: only the key shows.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedRow({} {})", self.table.name, self.shown_key())
    }
}

impl PgTable {
    /// `a, b, ...`: every column but the MAC, then the MAC, for a SELECT
    /// read by [`SealedRow::read`].
    pub fn select_list(&self, prefix: &str) -> String {
        let mut list: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("{prefix}{c}"))
            .collect();
        list.push(format!("{prefix}{MAC_COLUMN}"));
        list.join(", ")
    }

    fn index(&self, column: &str) -> Result<usize, PgError> {
        self.columns
            .iter()
            .position(|c| *c == column)
            .ok_or(PgError::Corrupt("row MAC column"))
    }

    /// The encoding the MAC of a row with `values` is computed over: the
    /// SQLite store's ([`encode_row`]).
    pub fn encode(&self, values: &[Value]) -> Vec<u8> {
        encode_row(
            self.name,
            self.columns
                .iter()
                .zip(values)
                .map(|(c, v)| (*c, ValueRef::from(v))),
        )
    }
}

/// A column of `row` as the value the encoding takes.
fn value_at(row: &tokio_postgres::Row, i: usize) -> Result<Value, PgError> {
    let column = row
        .columns()
        .get(i)
        .ok_or(PgError::Corrupt("row MAC column"))?;
    let ty = column.type_();
    let value = if *ty == Type::BOOL {
        row.try_get::<_, Option<bool>>(i)?
            .map_or(Value::Null, |b| Value::Integer(i64::from(b)))
    } else if *ty == Type::INT2 {
        row.try_get::<_, Option<i16>>(i)?
            .map_or(Value::Null, |n| Value::Integer(i64::from(n)))
    } else if *ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(i)?
            .map_or(Value::Null, |n| Value::Integer(i64::from(n)))
    } else if *ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(i)?
            .map_or(Value::Null, Value::Integer)
    } else if *ty == Type::TEXT || *ty == Type::VARCHAR {
        row.try_get::<_, Option<String>>(i)?
            .map_or(Value::Null, Value::Text)
    } else if *ty == Type::BYTEA {
        row.try_get::<_, Option<Vec<u8>>>(i)?
            .map_or(Value::Null, Value::Blob)
    } else {
        return Err(PgError::Corrupt("row MAC column type"));
    };
    Ok(value)
}

/// A text, an integer, a boolean or NULL, as the encoding takes them.
pub fn text(value: Option<&str>) -> Value {
    value.map_or(Value::Null, |t| Value::Text(t.to_owned()))
}

pub fn integer(value: Option<i64>) -> Value {
    value.map_or(Value::Null, Value::Integer)
}

pub fn blob(value: Option<&[u8]>) -> Value {
    value.map_or(Value::Null, |b| Value::Blob(b.to_vec()))
}

pub fn boolean(value: bool) -> Value {
    Value::Integer(i64::from(value))
}

impl SealedRow {
    /// The row of `table` read from column `offset` of `row`: its columns
    /// in order, then its MAC (as [`PgTable::select_list`] names them).
    pub fn read(
        table: PgTable,
        row: &tokio_postgres::Row,
        offset: usize,
    ) -> Result<SealedRow, PgError> {
        let n = table.columns.len();
        let values = (offset..offset + n)
            .map(|i| value_at(row, i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SealedRow {
            table,
            values,
            mac: row.try_get(offset + n)?,
        })
    }

    /// A row about to be written with `values` (its MAC is [`SealedRow::mac_of`]).
    pub fn new(table: PgTable, values: Vec<Value>) -> Result<SealedRow, PgError> {
        if values.len() != table.columns.len() {
            return Err(PgError::Corrupt("row MAC values"));
        }
        Ok(SealedRow {
            table,
            values,
            mac: None,
        })
    }

    /// Whether the row matches its stored MAC (compared in constant time;
    /// a missing MAC never matches).
    pub fn intact(&self, key: &RowKey) -> bool {
        match &self.mac {
            Some(mac) => key.matches(&self.table.encode(&self.values), mac),
            None => {
                // The same work as a present MAC's check.
                std::hint::black_box(key.matches(&self.table.encode(&self.values), &[0u8; 32]));
                false
            }
        }
    }

    /// The row if it matches its MAC, else the typed refusal that names
    /// its table and key (never a value).
    pub fn checked(self, key: &RowKey) -> Result<SealedRow, PgError> {
        if self.intact(key) {
            Ok(self)
        } else {
            Err(tampered(self.table, &self.shown_key()))
        }
    }

    /// The MAC of the row as it is now (after [`SealedRow::set`]).
    pub fn mac_of(&self, key: &RowKey) -> Vec<u8> {
        key.mac(&self.table.encode(&self.values)).to_vec()
    }

    /// One column, by name.
    pub fn get(&self, column: &str) -> Result<&Value, PgError> {
        let i = self.table.index(column)?;
        self.values.get(i).ok_or(PgError::Corrupt("row MAC values"))
    }

    /// Sets one column, by name.
    pub fn set(&mut self, column: &str, value: Value) -> Result<(), PgError> {
        let i = self.table.index(column)?;
        let slot = self
            .values
            .get_mut(i)
            .ok_or(PgError::Corrupt("row MAC values"))?;
        *slot = value;
        Ok(())
    }

    /// The row's primary key (its first column) as shown to people.
    pub fn shown_key(&self) -> String {
        match self.values.first() {
            Some(Value::Integer(i)) => i.to_string(),
            Some(Value::Text(t)) => t.clone(),
            _ => "?".to_owned(),
        }
    }
}

/// The row of `table` that `filter` finds (a condition on `$1`, possibly
/// followed by `FOR UPDATE`), whole, checked against its MAC before
/// anything of it decides: the row as read (its columns in
/// [`PgTable::columns`] order, then its MAC) and as sealed. `None`: no
/// such row; a row changed outside keyward is refused ([`tampered`]).
pub async fn read_checked(
    client: &deadpool_postgres::Client,
    key: &RowKey,
    table: PgTable,
    filter: &str,
    param: &(dyn tokio_postgres::types::ToSql + Sync),
) -> Result<Option<(tokio_postgres::Row, SealedRow)>, PgError> {
    let sql = format!(
        "SELECT {} FROM {} WHERE {filter}",
        table.select_list(""),
        table.name
    );
    // Prepared once per connection: the gateway key of every verify is
    // read here.
    let stmt = client.prepare_cached(&sql).await?;
    let Some(row) = client.query_opt(&stmt, &[param]).await? else {
        return Ok(None);
    };
    let sealed = SealedRow::read(table, &row, 0)?.checked(key)?;
    Ok(Some((row, sealed)))
}

/// The refusal of a row changed outside keyward: the SQLite store's.
pub fn tampered(table: PgTable, key: &str) -> PgError {
    PgError::Refused(Box::new(StoreError::RowTampered {
        table: table.name.to_owned(),
        key: key.to_owned(),
    }))
}

/// Whether `err` is a row found changed outside keyward.
pub fn is_tampered(err: &PgError) -> bool {
    matches!(err, PgError::Refused(e) if matches!(**e, StoreError::RowTampered { .. }))
}

/// Migration 6's second half, in its transaction: MACs every row already
/// there (none had one). Run once, by the migration that added the
/// column, so a MAC later set to NULL is never filled in again (it stays a
/// mismatch). The number of rows MACed; when there were any, an audit
/// entry `store.row_macs` says how many.
pub(super) async fn seal_existing(
    client: &deadpool_postgres::Client,
    keys: &Keys,
    at: UnixTime,
) -> Result<u64, PgError> {
    let mut sealed = 0u64;
    for table in SEALED_TABLES {
        let first = table.columns.first().ok_or(PgError::Corrupt("row MAC"))?;
        let rows = client
            .query(
                &format!(
                    "SELECT {} FROM {} ORDER BY {first} FOR UPDATE",
                    table.select_list(""),
                    table.name
                ),
                &[],
            )
            .await?;
        // Prepared once per table, not once per row.
        let update = client
            .prepare(&format!(
                "UPDATE {} SET {MAC_COLUMN} = $1 WHERE {first} = $2",
                table.name
            ))
            .await?;
        for row in rows {
            let found = SealedRow::read(table, &row, 0)?;
            let mac = found.mac_of(keys.row_key());
            let key = found.values.first().ok_or(PgError::Corrupt("row MAC"))?;
            match key {
                Value::Integer(id) => client.execute(&update, &[&mac, id]).await?,
                Value::Text(id) => client.execute(&update, &[&mac, id]).await?,
                _ => return Err(PgError::Corrupt("row MAC key")),
            };
            sealed += 1;
        }
    }
    if sealed > 0 {
        let entry = NewEntry {
            at,
            actor: "system".to_owned(),
            action: "store.row_macs".to_owned(),
            subject: "-".to_owned(),
            detail: format!("sealed={sealed} schema=6"),
        };
        append_entries(client, keys, &[entry]).await?;
    }
    Ok(sealed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::row_mac::TableLayout;

    fn credential(floor: Option<i64>, fails: i64) -> Vec<Value> {
        vec![
            Value::Integer(7),
            Value::Text("VT-1".into()),
            Value::Text("bleroy".into()),
            Value::Text("hotp".into()),
            Value::Text("SHA1".into()),
            Value::Integer(6),
            Value::Integer(0),
            integer(floor),
            Value::Integer(0),
            Value::Integer(fails),
            boolean(false),
            Value::Integer(0),
            Value::Blob(vec![0xaa; 4]),
            Value::Blob(vec![0x55; 4]),
            boolean(true),
            Value::Null,
        ]
    }

    #[test]
    fn the_encoding_is_the_sqlite_stores_for_the_same_columns() {
        let values = credential(Some(12), 0);
        let sqlite = TableLayout {
            name: "credentials".into(),
            columns: CREDENTIALS
                .columns
                .iter()
                .map(|c| (*c).to_owned())
                .collect(),
        };
        let refs: Vec<ValueRef<'_>> = values.iter().map(ValueRef::from).collect();
        let expected = sqlite.encode(|i| refs.get(i).copied().unwrap_or(ValueRef::Null));
        assert_eq!(CREDENTIALS.encode(&values), expected);
    }

    #[test]
    fn district_row_encoding_vector() {
        let encoded = DISTRICTS.encode(&[Value::Text("D1".into()), Value::Null]);
        let expected = concat!(
            "6b65797761726420726f77207631",
            "00", // "keyward row v1\0"
            "0000000000000009",
            "646973747269637473", // "districts"
            "0000000000000002",   // two columns
            "0000000000000004",
            "636f6465", // "code"
            "03",
            "0000000000000002",
            "4431", // "D1"
            "0000000000000009",
            "696e73706563746f72", // "inspector"
            "00",                 // NULL
        );
        assert_eq!(data_encoding::HEXLOWER.encode(&encoded), expected);
        // A boolean is the integer SQLite would hold.
        let phantom = PHANTOM_COUNTERS.encode(&[
            Value::Integer(3),
            Value::Integer(0),
            boolean(true),
            Value::Integer(0),
        ]);
        let hex = data_encoding::HEXLOWER.encode(&phantom);
        assert!(hex.ends_with(concat!(
            "0000000000000006",
            "6c6f636b6564", // "locked"
            "01",
            "0000000000000001",
            "0000000000000008",
            "72657472795f6174", // "retry_at"
            "01",
            "0000000000000000",
        )));
    }

    #[test]
    fn a_row_matches_its_mac_and_no_edited_row_does() -> Result<(), Box<dyn std::error::Error>> {
        let keys = crate::crypto::MasterKey::generate()?.keys()?;
        let key = keys.row_key();
        let mut row = SealedRow::new(CREDENTIALS, credential(Some(12), 3))?;
        row.mac = Some(row.mac_of(key));
        assert!(row.intact(key));
        // Every edit an attacker would make: fewer failures, a lower floor,
        // no floor, another holder, a revoked row made live.
        for (column, value) in [
            ("fails", Value::Integer(0)),
            ("floor", Value::Integer(11)),
            ("floor", Value::Null),
            ("holder", Value::Text("mdupont".into())),
            ("live", boolean(false)),
        ] {
            let mut edited = row.clone();
            edited.set(column, value)?;
            assert!(!edited.intact(key), "{column}");
            let err = edited.checked(key).map(|_| ()).unwrap_err();
            assert!(is_tampered(&err));
            // The refusal names the table and the key, never a value.
            assert_eq!(
                err.to_string(),
                "the credentials record 7 does not match its MAC: it was changed outside keyward; \
                 nothing is done with it (run `keyward audit verify`)"
            );
        }
        // The same values under another id (a row swapped in) do not match.
        let mut moved = row.clone();
        moved.set("id", Value::Integer(8))?;
        assert!(!moved.intact(key));
        // No MAC, a truncated one, or another master key's: no match.
        for mac in [
            None,
            Some(vec![]),
            row.mac.as_ref().map(|m| m[..31].to_vec()),
        ] {
            assert!(!SealedRow { mac, ..row.clone() }.intact(key));
        }
        let other = crate::crypto::MasterKey::generate()?.keys()?;
        assert!(!row.intact(other.row_key()));
        // The same values in another table do not match either.
        let district = SealedRow::new(DISTRICTS, vec![Value::Text("D1".into()), Value::Null])?;
        let mac = district.mac_of(key);
        let as_token = SealedRow {
            table: PgTable {
                name: "tokens",
                columns: DISTRICTS.columns,
            },
            mac: Some(mac),
            ..district
        };
        assert!(!as_token.intact(key));
        Ok(())
    }

    #[test]
    fn a_rows_debug_shows_only_its_key() -> Result<(), Box<dyn std::error::Error>> {
        let row = SealedRow::new(CREDENTIALS, credential(None, 0))?;
        assert_eq!(format!("{row:?}"), "SealedRow(credentials 7)");
        Ok(())
    }
}

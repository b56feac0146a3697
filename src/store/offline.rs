//! A data directory read without a daemon and without changing anything
//! (the database opened read-only, no migration): its receipt public key,
//! `PRAGMA integrity_check` and the audit report, for `audit verify
//! --data-dir`, `receipts`, `doctor` and backups.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::{AuditReport, StoreError, DB_FILE, MASTER_KEY_FILE, SCHEMA_VERSION};
use crate::crypto::{Keys, MasterKey, ReceiptSigner};
use crate::secure_fs;

/// The public half of a data directory's receipt key, read without changing
/// anything (for publishing, so receipts can be checked offline).
pub fn receipt_public_key_at(data_dir: &Path) -> Result<[u8; 32], StoreError> {
    receipt_public_key_keyed(data_dir, &data_dir.join(MASTER_KEY_FILE))
}

/// [`receipt_public_key_at`] with the master key read from `master_key`:
/// whether that key is the one this database was sealed under.
pub fn receipt_public_key_keyed(
    data_dir: &Path,
    master_key: &Path,
) -> Result<[u8; 32], StoreError> {
    let (conn, keys) = open_read_only(data_dir, master_key)?;
    let sealed: Vec<u8> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'receipt_key'",
            [],
            |r| r.get(0),
        )
        .map_err(|_| StoreError::Corrupt("receipt key record"))?;
    Ok(ReceiptSigner::open(&keys, &sealed)?.public_key())
}

/// `PRAGMA integrity_check` of a data directory's database, read-only.
pub fn integrity_check_at(data_dir: &Path) -> Result<String, StoreError> {
    secure_fs::ensure_private_dir(data_dir, false)?;
    let db_path = data_dir.join(DB_FILE);
    secure_fs::check_private_file(&db_path)?;
    let conn = Connection::open_with_flags(&db_path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut stmt = conn.prepare("PRAGMA integrity_check")?;
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(rows.join("\n"))
}

pub(crate) fn open_read_only(
    data_dir: &Path,
    master_key: &Path,
) -> Result<(Connection, Keys), StoreError> {
    secure_fs::ensure_private_dir(data_dir, false)?;
    let db_path = data_dir.join(DB_FILE);
    secure_fs::check_private_file(&db_path)?;
    let keys = MasterKey::load(master_key)?.keys()?;
    let conn = Connection::open_with_flags(&db_path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok((conn, keys))
}

/// Checks the audit of a data directory without changing anything (the
/// database is opened read-only and no migration runs): the chain, every
/// state row's MAC, and the chain against `checkpoints` (already checked
/// against the receipt key: `crypto::checkpoint`).
pub fn verify_audit_at(
    data_dir: &Path,
    checkpoints: &[crate::crypto::checkpoint::Checkpoint],
) -> Result<AuditReport, StoreError> {
    verify_audit_keyed(data_dir, &data_dir.join(MASTER_KEY_FILE), checkpoints)
}

/// [`verify_audit_at`] with the master key read from `master_key`.
pub fn verify_audit_keyed(
    data_dir: &Path,
    master_key: &Path,
    checkpoints: &[crate::crypto::checkpoint::Checkpoint],
) -> Result<AuditReport, StoreError> {
    let (conn, keys) = open_read_only(data_dir, master_key)?;
    AuditReport::build(&conn, &keys, checkpoints)
}

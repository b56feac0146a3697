//! Where a credential's failure counters live: in the same MAC'd table as
//! the phantoms' ([`super::phantom`]), at slot [`SLOTS`] + the credential's
//! id, not on the credential's row.
//!
//! Why: a refusal then writes one small row with one MAC, whoever the login
//! is (a known login's counters or a made-up one's slot: the same statement,
//! the same table, the same MAC), instead of the credential's wide row, its
//! trigger's MAC check and its MAC renewal (issue 11 point 3, issue 13).
//!
//! The credential's row says that its counters moved: its `retry_at` column
//! holds [`MOVED`] (set when it is created, unlocked, given a new PIN, or
//! first refused after an upgrade: rows are MAC'd, so nobody can unset it).
//! A credential whose counters moved but whose counters row is missing or
//! does not match its MAC counts as locked: deleting or editing the row
//! outside keyward unlocks nothing. A credential from before this layout
//! keeps its counters on its row until it is first refused.

use rusqlite::Connection;

use super::phantom::{Phantoms, SLOTS, TAMPERED};
use crate::domain::verify_policy::Counters;
use crate::domain::CredentialInfo;
use crate::store::StoreError;

/// The credential row's `retry_at` once its counters live in the table.
pub(crate) const MOVED: i64 = 1 << 62;

/// The counters' slot of credential `id` (in `phantom_counters`).
pub fn slot_of(id: i64) -> i64 {
    i64::try_from(SLOTS).unwrap_or(i64::MAX / 2) + id
}

/// Whether the credential row's counters moved to the table.
pub(crate) fn moved(credential: &CredentialInfo) -> bool {
    i64::try_from(credential.retry_at) == Ok(MOVED)
}

/// The counters of `credential` (one row read, one MAC checked, whether the
/// row exists or not).
pub(crate) fn of(
    phantoms: &Phantoms,
    db: &Connection,
    credential: &CredentialInfo,
) -> Result<Counters, StoreError> {
    match phantoms.load_row(db, slot_of(credential.id))? {
        Some(counters) => Ok(counters),
        None if moved(credential) => Ok(TAMPERED),
        None => Ok(Counters {
            fails: credential.fails,
            locked: credential.locked,
            retry_at: credential.retry_at,
        }),
    }
}

/// Writes `counters` for `credential`; the first time after an upgrade,
/// also marks its row as moved (in the same transaction).
pub(crate) fn store(
    phantoms: &Phantoms,
    db: &Connection,
    credential: &CredentialInfo,
    counters: Counters,
) -> Result<(), StoreError> {
    if !moved(credential) {
        mark_moved(db, credential.id)?;
    }
    phantoms.store(db, slot_of(credential.id), counters)
}

fn mark_moved(db: &Connection, id: i64) -> Result<(), StoreError> {
    db.prepare_cached("UPDATE credentials SET fails = 0, locked = 0, retry_at = ?1 WHERE id = ?2")?
        .execute(rusqlite::params![MOVED, id])?;
    Ok(())
}

/// A credential created, unlocked or given a new PIN: no failure, its
/// counters in the table.
pub(crate) fn reset(phantoms: &Phantoms, db: &Connection, id: i64) -> Result<(), StoreError> {
    mark_moved(db, id)?;
    phantoms.store(db, slot_of(id), super::phantom::FRESH)
}

/// `credential` with its counters as they are (for readers outside the
/// verify writer: listings, the gateway's challenge).
pub(crate) fn overlay(
    phantoms: &Phantoms,
    db: &Connection,
    mut credential: CredentialInfo,
) -> Result<CredentialInfo, StoreError> {
    let c = of(phantoms, db, &credential)?;
    credential.fails = c.fails;
    credential.locked = c.locked;
    credential.retry_at = c.retry_at;
    Ok(credential)
}

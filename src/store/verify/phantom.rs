//! Failure counters of logins that do not exist ("phantoms"), so that they
//! slow down and lock exactly as real ones do, and so that nobody can tell a
//! real login from a made-up one by flooding the counters away.
//!
//! The counters live in the database, in a table of at most [`SLOTS`] rows
//! (a few tens of MiB at most on disk, nothing in memory): a login's slot is a
//! MAC of the login under a key derived from the master key, so nobody
//! without it can aim two logins at one slot. Logins that share a slot share
//! its counters: a collision only makes a made-up login stricter, never more
//! lenient. Nothing is ever evicted, so a phantom's counter goes back to zero
//! no earlier than a real login's would (a real one resets only when its
//! holder logs in, which a phantom never does): counters saturate.
//!
//! Each row carries a MAC of its content; a row that does not match counts as
//! locked (an edit outside keyward cannot unlock a phantom).
//!
//! Every row takes as many bytes in its page whatever its counters: SQLite
//! stores an integer in 0 to 8 bytes by its value (0 and 1 in none), so
//! the MAC is followed by as many zeros as the counters' integers take
//! less than [`ROW_INTEGERS`]. A row rewritten with other values then
//! fits the place it left, as a locked login's unchanged row does: a
//! known login's refusal (failures 1, 2, then back to 0) and a made-up
//! login's (a delay appearing) no longer defragment or rearrange the
//! page where a locked one's never did (issue 11 point 3).
//!
//! The writer reads the slot of every request's login and, for every
//! rejected request, writes either the credential's counters or the
//! phantom's: the same reads and writes whether the login exists or not.

use rusqlite::{params, Connection, OptionalExtension};

use crate::crypto::RowKey;
use crate::domain::verify_policy::{Counters, LOCK_AFTER};
use crate::store::StoreError;

/// Rows of the phantom table, at most.
pub const SLOTS: u64 = 1 << 20;

/// The counters of a phantom row that does not match its MAC.
pub(crate) const TAMPERED: Counters = Counters {
    fails: LOCK_AFTER,
    locked: true,
    retry_at: 0,
};

/// The bytes a row's two counters that vary (failures, delay) and its
/// MAC's padding take together: the most the two integers can take.
pub(crate) const ROW_INTEGERS: usize = 6 + 8;

/// The bytes SQLite's record format gives `value` (its serial type's
/// size; file format 4, which SQLite writes by default).
fn stored_bytes(value: i64) -> usize {
    match value {
        0 | 1 => 0,
        -0x80..=0x7f => 1,
        -0x8000..=0x7fff => 2,
        -0x80_0000..=0x7f_ffff => 3,
        -0x8000_0000..=0x7fff_ffff => 4,
        -0x8000_0000_0000..=0x7fff_ffff_ffff => 6,
        _ => 8,
    }
}

pub(crate) const FRESH: Counters = Counters {
    fails: 0,
    locked: false,
    retry_at: 0,
};

/// The phantom table's reader and writer.
#[derive(Clone, Debug)]
pub(crate) struct Phantoms {
    key: RowKey,
}

impl Phantoms {
    pub(crate) fn new(key: RowKey) -> Self {
        Phantoms { key }
    }

    /// The slot of `login` (any text the caller sent, valid login or not).
    pub(crate) fn slot(&self, login: &str) -> i64 {
        let mut data = Vec::with_capacity(32 + login.len());
        data.extend_from_slice(b"keyward phantom slot v1\0");
        data.extend_from_slice(login.as_bytes());
        let mac = self.key.mac(&data);
        let mut first = [0u8; 8];
        first.copy_from_slice(&mac[..8]);
        // SLOTS is far below i64::MAX: the conversion never fails.
        i64::try_from(u64::from_be_bytes(first) % SLOTS).unwrap_or(0)
    }

    fn encode(slot: i64, c: Counters) -> Vec<u8> {
        let mut data = Vec::with_capacity(56);
        data.extend_from_slice(b"keyward phantom row v1\0");
        data.extend_from_slice(&slot.to_be_bytes());
        data.extend_from_slice(&c.fails.to_be_bytes());
        data.push(u8::from(c.locked));
        data.extend_from_slice(&c.retry_at.to_be_bytes());
        data
    }

    /// The counters of `slot` (fresh when it was never written).
    pub(crate) fn load(&self, db: &Connection, slot: i64) -> Result<Counters, StoreError> {
        Ok(self.load_row(db, slot)?.unwrap_or(FRESH))
    }

    /// The counters of `slot` if it was written ([`TAMPERED`] if its row
    /// does not match its MAC). One MAC is computed either way, so that a
    /// missing row takes the time of a present one.
    pub(crate) fn load_row(
        &self,
        db: &Connection,
        slot: i64,
    ) -> Result<Option<Counters>, StoreError> {
        let row: Option<(i64, bool, i64, Vec<u8>)> = db
            .prepare_cached(
                "SELECT fails, locked, retry_at, mac FROM phantom_counters WHERE slot = ?1",
            )?
            .query_row([slot], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .optional()?;
        let Some((fails, locked, retry_at, mac)) = row else {
            std::hint::black_box(self.key.matches(&Self::encode(slot, FRESH), &[0u8; 32]));
            return Ok(None);
        };
        let (Ok(fails), Ok(retry_at)) = (u32::try_from(fails), u64::try_from(retry_at)) else {
            return Ok(Some(TAMPERED));
        };
        // The MAC, then zeros only (see the module's doc).
        let (mac, padding) = mac.split_at(mac.len().min(32));
        if padding.len() > ROW_INTEGERS || padding.iter().any(|&b| b != 0) {
            return Ok(Some(TAMPERED));
        }
        let counters = Counters {
            fails,
            locked,
            retry_at,
        };
        if self.key.matches(&Self::encode(slot, counters), mac) {
            Ok(Some(counters))
        } else {
            Ok(Some(TAMPERED))
        }
    }

    /// Writes `counters` to `slot`, with their MAC.
    ///
    /// Always a delete then an insert, whether the slot was written before
    /// or not and whether the counters changed or not: the same statements
    /// and the same page writes for every caller. (An upsert that leaves a
    /// row unchanged does not even mark its page dirty in SQLite, so a
    /// locked login's unchanged counters were written faster than a known
    /// login's new ones: issue 11 point 3.)
    pub(crate) fn store(
        &self,
        db: &Connection,
        slot: i64,
        counters: Counters,
    ) -> Result<(), StoreError> {
        let retry_at =
            i64::try_from(counters.retry_at).map_err(|_| StoreError::Corrupt("retry time"))?;
        let mut stored = [0u8; 32 + ROW_INTEGERS];
        stored[..32].copy_from_slice(&self.key.mac(&Self::encode(slot, counters)));
        let integers = stored_bytes(i64::from(counters.fails)) + stored_bytes(retry_at);
        let stored = &stored[..32 + ROW_INTEGERS.saturating_sub(integers)];
        db.prepare_cached("DELETE FROM phantom_counters WHERE slot = ?1")?
            .execute([slot])?;
        db.prepare_cached(
            "INSERT INTO phantom_counters (slot, fails, locked, retry_at, mac)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            slot,
            counters.fails,
            counters.locked,
            retry_at,
            stored
        ])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Result<(Connection, Phantoms), Box<dyn std::error::Error>> {
        let db = Connection::open_in_memory()?;
        db.execute_batch(crate::store::schema::PHANTOM_TABLE)?;
        let keys = crate::crypto::MasterKey::generate()?.keys()?;
        Ok((db, Phantoms::new(keys.row_key().clone())))
    }

    #[test]
    fn slots_are_spread_and_stable() -> Result<(), Box<dyn std::error::Error>> {
        let (_, p) = table()?;
        let slots: std::collections::BTreeSet<i64> =
            (0..1000).map(|i| p.slot(&format!("user{i}"))).collect();
        assert!(slots.len() > 990, "{}", slots.len());
        assert!(slots.iter().all(|&s| (0..SLOTS as i64).contains(&s)));
        assert_eq!(p.slot("ghost"), p.slot("ghost"));
        Ok(())
    }

    #[test]
    fn every_row_takes_as_many_bytes_whatever_its_counters(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let (db, p) = table()?;
        let cases = [
            (0, 0),
            (1, 0),
            (2, 0),
            (3, 1_800_000_060),
            (10, 1_800_000_300),
            (200, 0),
            (u32::MAX, 0),
            (u32::MAX, (1 << 47) + 1),
            (7, (1 << 62) - 1),
        ];
        let mut sizes = std::collections::BTreeSet::new();
        for (i, (fails, retry_at)) in cases.into_iter().enumerate() {
            let c = Counters {
                fails,
                locked: fails >= LOCK_AFTER,
                retry_at,
            };
            let slot = i64::try_from(i)?;
            p.store(&db, slot, c)?;
            assert_eq!(p.load(&db, slot)?, c);
            // What the record's body holds that varies: SQLite's own
            // sizes of the integers (read back as it stored them) and the
            // MAC with its padding.
            let (types, mac): (String, i64) = db.query_row(
                "SELECT typeof(fails) || typeof(retry_at), length(mac)
                 FROM phantom_counters WHERE slot = ?1",
                [slot],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            assert_eq!(types, "integerinteger");
            let integers = stored_bytes(i64::from(fails)) + stored_bytes(i64::try_from(retry_at)?);
            sizes.insert(integers + usize::try_from(mac)?);
        }
        assert_eq!(sizes.len(), 1, "{sizes:?}");
        // SQLite's serial types, at their bounds.
        for (value, bytes) in [
            (0, 0),
            (1, 0),
            (2, 1),
            (-1, 1),
            (127, 1),
            (128, 2),
            (32_767, 2),
            (32_768, 3),
            (8_388_608, 4),
            (2_147_483_647, 4),
            (2_147_483_648, 6),
            (1 << 47, 8),
        ] {
            assert_eq!(stored_bytes(value), bytes, "{value}");
        }
        // A row whose padding is not zeros was changed outside keyward.
        let mut mac: Vec<u8> =
            db.query_row("SELECT mac FROM phantom_counters WHERE slot = 0", [], |r| {
                r.get(0)
            })?;
        mac.push(1);
        db.execute("UPDATE phantom_counters SET mac = ?1 WHERE slot = 0", [mac])?;
        assert_eq!(p.load(&db, 0)?, TAMPERED);
        Ok(())
    }

    #[test]
    fn counters_round_trip_and_an_edit_locks() -> Result<(), Box<dyn std::error::Error>> {
        let (db, p) = table()?;
        assert_eq!(p.load(&db, 7)?, FRESH);
        let c = Counters {
            fails: 4,
            locked: false,
            retry_at: 1_800_000_000,
        };
        p.store(&db, 7, c)?;
        assert_eq!(p.load(&db, 7)?, c);
        // Reset by hand, outside keyward: refused, counts as locked.
        db.execute("UPDATE phantom_counters SET fails = 0, retry_at = 0", [])?;
        assert_eq!(p.load(&db, 7)?, TAMPERED);
        // A row moved to another slot does not match there either.
        p.store(&db, 7, c)?;
        db.execute("UPDATE phantom_counters SET slot = 8", [])?;
        assert_eq!(p.load(&db, 8)?, TAMPERED);
        Ok(())
    }
}

//! The pages every verify reads, read once at start.
//!
//! A verify reads about eight pages picked by its login alone: the live
//! credential's index entry and row, its token's index entry and row, the
//! holder's rights index entry and rows, and two phantom-table rows
//! ([`super::phantom`]). With many holders these are random pages of a
//! large file: a million holders' verify tables take about 500 MB. The
//! writer's own page cache holds a small part of them; the rest is read
//! from the operating system's cache, and from the disk when that cache
//! does not have them (after a restart, or when the host reclaimed pages
//! left unread for a while). Read one at a time from the disk, they made
//! a million holders' verify four times slower than a warm one
//! (docs/performance.md).
//!
//! So, while the writer unseals the keys at start, a second connection
//! scans these tables and indexes in order: a sequential read, which the
//! disk serves far faster than the same pages one by one. It only reads;
//! a scan that fails is logged and the daemon starts anyway (the pages are
//! then read when asked for, as before).

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use crate::store::StoreError;

/// The verify writer's own page cache, in KiB (SQLite's default is 2 MiB).
/// It keeps the B-trees' inner pages and the most used leaves in the
/// writer's memory, where a page costs no system call: with a million
/// holders, 64 MiB took the figure from 3,991 to 4,859 verifies/s after a
/// cold start, for an RSS of 215 MiB (the budget is 256 MiB, the keys
/// take about 114). It fills only as pages are read: with 2,000 holders
/// the daemon's RSS stays about 42 MiB.
pub(super) const WRITER_CACHE_KIB: i64 = 64 * 1024;

/// One statement per table or index a verify reads, each answered by a
/// scan of it in order. The index scans use the index a verify's lookup
/// uses (`WHERE <column> >= ''` makes the planner pick it); the
/// credentials table itself is read by the writer's key warm-up.
const SCANS: &[&str] = &[
    // `one_live_credential_per_holder`: the login's live credential.
    "SELECT count(*) FROM credentials WHERE live = 1 AND holder >= ''",
    // The token's serial index and its rows (state, row MAC).
    "SELECT count(*) FROM tokens WHERE serial >= ''",
    "SELECT sum(length(row_mac)) FROM tokens",
    // `rights_by_person` and the rights rows.
    "SELECT count(*) FROM rights WHERE person >= ''",
    "SELECT sum(length(row_mac)) FROM rights",
    // Both counters rows of every verify.
    "SELECT sum(length(mac)) FROM phantom_counters",
];

/// What a warm-up read.
#[derive(Clone, Copy, Debug)]
pub(super) struct Warmed {
    pub(super) took: Duration,
}

/// Scans [`SCANS`] on a read-only connection of its own.
pub(super) fn warm(db_path: &Path) -> Result<Warmed, StoreError> {
    let started = Instant::now();
    let conn = Connection::open_with_flags(
        db_path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // Its pages go through the operating system's cache, which is what
    // is warmed; this connection's own cache is dropped with it.
    conn.pragma_update(None, "cache_size", 64)?;
    for sql in SCANS {
        conn.query_row(sql, [], |_| Ok(()))?;
    }
    Ok(Warmed {
        took: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DB_FILE;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// Every scan reads what its comment says: the planner's answer for
    /// each statement on the real schema names the table or the index a
    /// verify's lookup uses. A migration that renames or drops one of them
    /// fails here instead of silently warming nothing useful.
    #[test]
    fn each_scan_reads_the_index_or_table_a_verify_uses() -> TestResult {
        let dir = tempfile::tempdir()?;
        drop(super::super::test_store(dir.path())?);
        let conn = Connection::open(dir.path().join("data").join(DB_FILE))?;
        let plan = |sql: &str| -> rusqlite::Result<String> {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
            let steps = stmt
                .query_map([], |r| r.get::<_, String>(3))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(steps.join("; "))
        };
        let expected = [
            "INDEX one_live_credential_per_holder",
            "USING COVERING INDEX sqlite_autoindex_tokens_1",
            "SCAN tokens",
            "USING COVERING INDEX rights_by_person",
            "SCAN rights",
            "SCAN phantom_counters",
        ];
        assert_eq!(SCANS.len(), expected.len());
        for (sql, wanted) in SCANS.iter().zip(expected) {
            let got = plan(sql)?;
            assert!(got.contains(wanted), "{sql}: {got}");
        }
        // And a verify's lookups use those same indexes.
        let find = plan(
            "SELECT c.id FROM credentials c JOIN tokens t ON t.serial = c.token \
             WHERE c.holder = 'x' AND c.live = 1",
        )?;
        assert!(find.contains("one_live_credential_per_holder"), "{find}");
        assert!(find.contains("sqlite_autoindex_tokens_1"), "{find}");
        let rights = plan("SELECT id FROM rights WHERE person = 'x'")?;
        assert!(rights.contains("rights_by_person"), "{rights}");
        Ok(())
    }

    #[test]
    fn a_store_being_served_is_warmed_without_a_write() -> TestResult {
        let dir = tempfile::tempdir()?;
        let store = super::super::test_store(dir.path())?;
        let db = dir.path().join("data").join(DB_FILE);
        let before = std::fs::read(&db)?;
        warm(&db)?;
        assert_eq!(std::fs::read(&db)?, before);
        drop(store);
        Ok(())
    }
}

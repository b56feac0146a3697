//! Statements through the connection's statement cache.
//!
//! `Connection::execute` and `Connection::query_row` compile their SQL
//! every time they run; with the row-MAC triggers (`store::row_mac`) a write
//! to a sealed table compiles its trigger programs too. A profile of
//! `bench setup` found a fifth of its time there. These do the same through
//! `prepare_cached` (the cache's size is set in [`super::connect`]).

use rusqlite::{Connection, Params, Row};

/// [`Connection::execute`] and [`Connection::query_row`] through the
/// statement cache.
pub(crate) trait CachedSql {
    /// Runs one statement; returns the number of rows changed.
    fn execute_cached<P: Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;

    /// Runs one query and maps its first row (`QueryReturnedNoRows` if none).
    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>;
}

impl CachedSql for Connection {
    fn execute_cached<P: Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::OptionalExtension;

    use super::*;

    #[test]
    fn cached_calls_answer_as_the_uncached_ones() -> Result<(), Box<dyn std::error::Error>> {
        let db = Connection::open_in_memory()?;
        db.execute_batch("CREATE TABLE t (a INTEGER)")?;
        for i in 0..3 {
            assert_eq!(db.execute_cached("INSERT INTO t (a) VALUES (?1)", [i])?, 1);
        }
        assert_eq!(db.execute_cached("DELETE FROM t WHERE a = ?1", [7])?, 0);
        let count = |from: i64| {
            db.query_row_cached("SELECT COUNT(*) FROM t WHERE a >= ?1", [from], |r| {
                r.get::<_, i64>(0)
            })
        };
        assert_eq!((count(1)?, count(0)?), (2, 3));
        let none: Option<i64> = db
            .query_row_cached("SELECT a FROM t WHERE a = ?1", [9], |r| r.get(0))
            .optional()?;
        assert_eq!(none, None);
        Ok(())
    }
}

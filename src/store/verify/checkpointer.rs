//! WAL checkpoints beside the verify writer, not on its thread.
//!
//! SQLite checkpoints the WAL (copies its pages back into the database
//! file, syncing both) on the connection whose commit took the WAL past
//! 1,000 pages: with the verify writer's default settings, one batch in
//! ten to twenty paid for it, and every request waiting behind that batch
//! with it. With many holders each batch writes pages of its own
//! (credentials and counters rows spread over the file) and a checkpoint
//! writes them all back: a few milliseconds to tens, on the writer's
//! thread, in the requests' latency.
//!
//! So the writer's connection does not checkpoint
//! (`wal_autocheckpoint = 0`) and this thread does, on a connection of its
//! own, every [`PERIOD`], in `PASSIVE` mode: it copies what no reader still
//! needs and never waits for, nor blocks, the writer. Its own checkpoint
//! syncs the WAL before writing anything into the database file, so a
//! batch whose WAL sync the flusher ([`super::durable`]) has not yet done
//! is made durable here first, never copied undurable. When the thread
//! cannot start, the writer keeps checkpointing itself.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::store::{connect, StoreError};

/// How often the WAL is checkpointed. At several thousand verifies a
/// second the WAL grows by a few thousand pages in this time; a longer
/// period writes a page changed many times once, a shorter one keeps the
/// WAL (and its index) smaller.
pub(super) const PERIOD: Duration = Duration::from_millis(250);

/// The checkpointing thread; stopped (after a last checkpoint) on drop.
pub(super) struct Checkpointer {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Opens its connection and starts the thread, then turns the
    /// writer's automatic checkpoints off (in that order: the WAL always
    /// has someone to checkpoint it).
    pub(super) fn start(db_path: &Path, writer: &Connection) -> Result<Self, StoreError> {
        let conn = connect(db_path)?;
        // Its checkpoint syncs the WAL, then the database file.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("keyward-checkpoint".into())
            .spawn(move || loop {
                let last = match stopped.recv_timeout(PERIOD) {
                    Err(RecvTimeoutError::Timeout) => false,
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
                };
                if let Err(err) = checkpoint(&conn) {
                    tracing::warn!(error = %err, "verify: WAL checkpoint failed; tried again later");
                }
                if last {
                    break;
                }
            })
            .map_err(|_| StoreError::Unavailable)?;
        writer.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

/// One passive checkpoint: (busy, WAL pages, pages copied).
fn checkpoint(conn: &Connection) -> Result<(i64, i64, i64), StoreError> {
    Ok(conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?)
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DB_FILE;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// The writer's commits no longer checkpoint; the thread does, and on
    /// its way out too.
    #[test]
    fn the_writer_leaves_checkpoints_to_the_thread() -> TestResult {
        let dir = tempfile::tempdir()?;
        let store = super::super::test_store(dir.path())?;
        let db = dir.path().join("data").join(DB_FILE);
        let writer = connect(&db)?;
        let checkpointer = Checkpointer::start(&db, &writer)?;
        let auto: i64 = writer.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))?;
        assert_eq!(auto, 0);
        writer.execute_batch("CREATE TABLE scratch (x BLOB)")?;
        // Far past the 1,000 pages at which the writer would have
        // checkpointed itself.
        for _ in 0..40 {
            writer.execute_batch(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40)
                 INSERT INTO scratch SELECT randomblob(3000) FROM n",
            )?;
        }
        drop(checkpointer);
        // Everything the writer wrote was copied back by the last
        // checkpoint: a new one finds nothing left to copy.
        let probe = Connection::open(&db)?;
        let (busy, pages, copied): (i64, i64, i64) =
            probe.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        assert_eq!((busy, pages), (0, copied));
        drop(store);
        Ok(())
    }
}

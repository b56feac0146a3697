//! When a verify batch is on disk, and who answers it.
//!
//! Two ways to make a batch durable before its answers go out:
//!
//! - [`SyncMode::Pipelined`] (the default): the writer commits with
//!   `synchronous=NORMAL` (the commit's frames are written to the WAL, not
//!   yet synced) and hands the batch to a flusher thread, then decides the
//!   next batch. The flusher takes every batch waiting, makes the WAL durable
//!   with one `fdatasync` of the WAL file, and only then answers them, in
//!   commit order, and lets the audit head they moved be signed. The writer's
//!   deciding and the disk's syncing overlap, and one sync covers as many
//!   batches as committed meanwhile.
//! - [`SyncMode::Inline`] (`KEYWARD_VERIFY_SYNC=inline`): the commit itself
//!   syncs (`synchronous=FULL`) and the writer answers; what keyward did
//!   before, kept to measure the two side by side.
//!
//! Either way no answer leaves before the batch's commit is on disk: an
//! accepted code's step is durable before anyone hears "accept". A batch
//! decided after another saw its writes before they were synced, but is
//! answered only after a later sync, which covers both. If a sync fails, the
//! WAL's content on disk is unknown (the kernel may have dropped the dirty
//! pages): every batch not yet answered, and every later one, is answered
//! "unavailable", never accept, until the daemon restarts and SQLite
//! recovers from what is really on disk.

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use super::stats::{self, SharedStats};
use super::{Job, Labelled, VerifyOutcome};
use crate::store::audit::AuditHead;
use crate::store::{Shared, StoreError};

/// How the writer makes its batches durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// Commit without sync; a flusher thread syncs the WAL and answers.
    Pipelined,
    /// Commit with sync (`synchronous=FULL`); the writer answers.
    Inline,
}

impl SyncMode {
    /// `KEYWARD_VERIFY_SYNC=inline` selects [`SyncMode::Inline`]; anything
    /// else the default.
    pub fn from_env() -> SyncMode {
        match std::env::var("KEYWARD_VERIFY_SYNC").as_deref() {
            Ok("inline") => SyncMode::Inline,
            _ => SyncMode::Pipelined,
        }
    }
}

/// A committed batch waiting for its sync: its jobs with their answers, and
/// the audit head after it. The heads reach the audit checkpoints in
/// commit order, each once its batch is on disk.
pub(super) struct Committed {
    pub answers: Vec<(Job, VerifyOutcome, &'static str)>,
    pub head: AuditHead,
}

/// What answers committed batches.
pub(super) enum Answerer {
    Inline,
    Pipelined(Flusher),
}

impl Answerer {
    /// The answerer for `mode`. Pipelined needs the WAL file: when it
    /// cannot be opened, the commit syncs instead (inline), which is as
    /// safe and only slower.
    pub(super) fn start(
        mode: SyncMode,
        conn: &rusqlite::Connection,
        shared: &Arc<Shared>,
        stats: &SharedStats,
    ) -> Result<Answerer, StoreError> {
        if mode == SyncMode::Inline {
            return Ok(Answerer::Inline);
        }
        let wal_path = wal_of(&shared.db_path);
        let wal = match File::open(&wal_path) {
            Ok(wal) => wal,
            Err(err) => {
                tracing::warn!(
                    wal = %wal_path.display(),
                    error = %err,
                    "verify: the WAL file cannot be opened; each commit syncs instead"
                );
                return Ok(Answerer::Inline);
            }
        };
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Answerer::pipelined(shared, stats, Box::new(move || wal.sync_data()))
    }

    /// A flusher thread that makes the WAL durable with `sync`.
    fn pipelined(
        shared: &Arc<Shared>,
        stats: &SharedStats,
        mut sync: Syncer,
    ) -> Result<Answerer, StoreError> {
        let failed = Arc::new(AtomicBool::new(false));
        let waiting = Arc::new(AtomicUsize::new(0));
        let (queue, batches) = mpsc::channel::<Committed>();
        let thread = {
            let (shared, stats) = (Arc::clone(shared), Arc::clone(stats));
            let (failed, waiting) = (failed.clone(), waiting.clone());
            std::thread::Builder::new()
                .name("keyward-verify-sync".into())
                .spawn(move || flush(&mut sync, &batches, &shared, &stats, &failed, &waiting))
                .map_err(|_| StoreError::Unavailable)?
        };
        Ok(Answerer::Pipelined(Flusher {
            queue: Some(queue),
            thread: Some(thread),
            failed,
            waiting,
        }))
    }

    /// Whether committed batches are waiting for their sync.
    pub(super) fn syncing(&self) -> bool {
        match self {
            Answerer::Inline => false,
            Answerer::Pipelined(f) => f.waiting.load(Ordering::Acquire) > 0,
        }
    }

    /// Whether a sync failed: the writer must decide nothing more.
    pub(super) fn failed(&self) -> bool {
        match self {
            Answerer::Inline => false,
            Answerer::Pipelined(f) => f.failed.load(Ordering::Acquire),
        }
    }

    /// Answers a committed batch: at once when the commit synced, else
    /// after the flusher's next sync.
    pub(super) fn committed(&self, shared: &Shared, batch: Committed) {
        match self {
            Answerer::Inline => answer(shared, batch),
            Answerer::Pipelined(flusher) => {
                flusher.waiting.fetch_add(1, Ordering::AcqRel);
                let sent = match &flusher.queue {
                    Some(queue) => queue.send(batch),
                    None => Err(mpsc::SendError(batch)),
                };
                if let Err(mpsc::SendError(batch)) = sent {
                    flusher.waiting.fetch_sub(1, Ordering::AcqRel);
                    unavailable(batch.answers.into_iter().map(|(job, _, _)| job));
                }
            }
        }
    }
}

/// Makes the WAL durable: `fdatasync` of the WAL file.
type Syncer = Box<dyn FnMut() -> std::io::Result<()> + Send>;

/// The flusher thread's handle; dropping it lets the thread answer what it
/// holds and end.
pub(super) struct Flusher {
    queue: Option<Sender<Committed>>,
    thread: Option<JoinHandle<()>>,
    failed: Arc<AtomicBool>,
    /// Batches handed over and not yet answered.
    waiting: Arc<AtomicUsize>,
}

impl Drop for Flusher {
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `keyward.db-wal` beside `keyward.db`.
fn wal_of(db: &Path) -> std::path::PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    name.into()
}

/// The flusher: every batch waiting, one sync, their answers in order.
fn flush(
    sync: &mut Syncer,
    batches: &Receiver<Committed>,
    shared: &Shared,
    stats: &SharedStats,
    failed: &AtomicBool,
    waiting: &AtomicUsize,
) {
    while let Ok(first) = batches.recv() {
        let mut group = vec![first];
        group.extend(batches.try_iter());
        let started = Instant::now();
        let synced = !failed.load(Ordering::Acquire) && sync().is_ok();
        let took = started.elapsed();
        if !synced && !failed.swap(true, Ordering::AcqRel) {
            tracing::error!(
                "verify: syncing the WAL failed; every verify is answered unavailable until \
                 keyward restarts"
            );
        }
        let count = group.len();
        for batch in group {
            if synced {
                answer(shared, batch);
            } else {
                unavailable(batch.answers.into_iter().map(|(job, _, _)| job));
            }
        }
        waiting.fetch_sub(count, Ordering::AcqRel);
        stats::update(stats, |s| {
            s.syncs += 1;
            s.syncing += took;
        });
    }
}

/// The batch is on disk: its audit head may be signed, its answers go out.
/// (A batch without answers is the aggregated refusals the writer writes
/// when idle or stopping: only its head.)
fn answer(shared: &Shared, batch: Committed) {
    shared.audit_moved(Some(batch.head));
    for (job, outcome, label) in batch.answers {
        let _ = job.reply.send((Ok(outcome), label) as Labelled);
    }
}

/// Answers "unavailable" to jobs whose batch is not known to be on disk.
pub(super) fn unavailable(jobs: impl IntoIterator<Item = Job>) {
    for job in jobs {
        let _ = job
            .reply
            .send((Err(StoreError::Unavailable), "unavailable"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::verify::VerifyRequest;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// A job whose answer the test reads.
    fn job() -> (Job, tokio::sync::oneshot::Receiver<Labelled>) {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let request = VerifyRequest::new("bleroy", "123456");
        (Job { request, reply }, answer)
    }

    fn accepted(job: Job) -> Committed {
        let outcome = VerifyOutcome::Accept { rights: Vec::new() };
        Committed {
            answers: vec![(job, outcome, "accept")],
            head: AuditHead {
                seq: 0,
                mac: [0; 32],
            },
        }
    }

    #[test]
    fn an_accept_goes_out_only_after_its_sync_and_never_after_a_failed_one() -> TestResult {
        let dir = tempfile::tempdir()?;
        let store = super::super::test_store(dir.path())?;
        let stats = SharedStats::default();
        // The sync waits for the test's word, then succeeds once and fails.
        let (go, gate) = mpsc::channel::<bool>();
        let syncer: Syncer = Box::new(move || match gate.recv() {
            Ok(true) => Ok(()),
            _ => Err(std::io::Error::other("EIO")),
        });
        let answerer = Answerer::pipelined(store.shared(), &stats, syncer)?;

        let (first, mut first_answer) = job();
        answerer.committed(store.shared(), accepted(first));
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(first_answer.try_recv().is_err(), "answered before its sync");
        // Meanwhile the writer may keep adding requests to its next batch.
        assert!(answerer.syncing());
        go.send(true)?;
        let (reply, label) = first_answer.blocking_recv()?;
        assert!(reply?.is_accept() && label == "accept");
        assert!(!answerer.failed());

        let (second, second_answer) = job();
        answerer.committed(store.shared(), accepted(second));
        go.send(false)?;
        let (reply, label) = second_answer.blocking_recv()?;
        assert!(matches!(reply, Err(StoreError::Unavailable)), "{reply:?}");
        assert_eq!(label, "unavailable");
        assert!(answerer.failed());

        // Later batches are refused without a sync, even if one would work.
        let (third, third_answer) = job();
        answerer.committed(store.shared(), accepted(third));
        go.send(true)?;
        let (reply, _) = third_answer.blocking_recv()?;
        assert!(matches!(reply, Err(StoreError::Unavailable)), "{reply:?}");
        drop(answerer);
        assert_eq!(stats.lock().map(|s| s.syncs).unwrap_or(0), 3);
        Ok(())
    }
}

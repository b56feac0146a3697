//! The verify service: "is this PIN + code right for this login, now?"
//!
//! One writer thread owns a connection and decides requests in batches (group
//! commit): it takes every request waiting, decides them one after the other in
//! arrival order inside one `BEGIN IMMEDIATE` transaction (each decision sees
//! the previous one's new step), commits once, and answers them all only
//! once that commit is on disk (a flusher thread syncs the WAL while the
//! writer decides the next batch, [`durable`]). An accepted code's step is on
//! disk before anyone hears "accept", and two requests with the same code can
//! never both be accepted: they are decided in sequence against the same
//! floor.
//!
//! Every request costs the same work whatever is wrong with it: the PIN
//! verifier is computed and compared, the whole OTP window is evaluated (with
//! a dummy key for an unknown login), the replay check runs, the counters
//! are written (the credential's or a phantom's, [`phantom`]), and the audit
//! gets an entry (or, for a refusal repeating one of the same minute, a count
//! in one aggregated entry, [`refusals`]). Unsealed credential keys are cached in the worker
//! (zeroized on eviction), so the hot path does no AES.

mod checkpointer;
pub(crate) mod counters;
mod decide;
mod durable;
pub mod evidence;
pub mod floor;
mod pages;
pub(crate) mod phantom;
pub(crate) mod refusals;
#[cfg(test)]
mod same_work;
mod stats;

pub use crate::domain::verify_policy::Purpose as VerifyPurpose;
pub use counters::slot_of as counters_slot;
pub use durable::SyncMode;
pub use stats::WriterStats;

use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use zeroize::Zeroizing;

use super::audit::AuditHead;
use super::ops::{credential_from_row, unseal_key, CREDENTIAL_COLUMNS};
use super::{connect, disk, in_write_txn, Shared, Store, StoreError};
use crate::domain::verify_policy::{Reason, SourceLimiter};
use crate::domain::{RightInForce, UnixTime};
use crate::otp::{Algorithm, CredentialKey, Secret};

/// Most requests decided in one transaction.
pub const MAX_BATCH: usize = 1024;

/// How often a batch waiting for the flusher looks again for requests.
const SYNC_POLL: std::time::Duration = std::time::Duration::from_micros(100);

/// How long the writer waits for work before writing the aggregated
/// refusals of a minute that is over.
const IDLE_FLUSH: std::time::Duration = std::time::Duration::from_secs(5);

/// The current batch's milestones ([`WriterStats`]).
#[derive(Clone, Copy)]
struct Timing {
    decided: Instant,
    sealed: Instant,
    hits: u64,
}

/// A gateway's question. Debug never shows the passcode.
pub struct VerifyRequest {
    pub login: String,
    /// PIN followed by the one-time code.
    pub passcode: Zeroizing<String>,
    /// Who is asking (e.g. the end user's address as the gateway saw it),
    /// for the per-source limiter.
    pub source: Option<String>,
    /// What the holder must be entitled to besides possession: a school
    /// right (the gateways, the default) or a staff key (console sign-in).
    pub purpose: VerifyPurpose,
    /// A gateway's request for what the writer saw, to tell whether a
    /// rejection opens a challenge (`store::ops::gateway`).
    pub challenge_probe: Option<super::ops::ProbeSlot>,
}

impl VerifyRequest {
    /// A touch key's code typed on an AZERTY keyboard arrives as the digit
    /// row's symbols: they are read as digits here, for every interface
    /// (`docs/devices.md`). Only the caller's own input is mapped.
    pub fn new(login: &str, passcode: &str) -> Self {
        VerifyRequest {
            login: login.to_owned(),
            passcode: crate::hid::codec::keyboard::normalise_typed(passcode),
            source: None,
            purpose: VerifyPurpose::Gateway,
            challenge_probe: None,
        }
    }

    /// Asks the writer to leave in `slot` what the gateway's challenges
    /// need (`store::ops::gateway::ChallengeProbe`).
    pub fn probing_challenges(mut self, slot: super::ops::ProbeSlot) -> Self {
        self.challenge_probe = Some(slot);
        self
    }

    /// A staff member's console sign-in: the same proof of possession,
    /// entitled by a live staff key instead of a school right.
    pub fn for_staff_sign_in(mut self) -> Self {
        self.purpose = VerifyPurpose::StaffSignIn;
        self
    }

    pub fn from_source(mut self, source: &str) -> Self {
        self.source = Some(source.to_owned());
        self
    }
}

impl std::fmt::Debug for VerifyRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyRequest")
            .field("login", &self.login)
            .field("passcode", &"[redacted]")
            .field("source", &self.source)
            .field("purpose", &self.purpose)
            .finish()
    }
}

/// What the gateway hears. Why a request was rejected is only in the audit
/// (and, as a label, in the daemon's metrics).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifyOutcome {
    Accept {
        rights: Vec<RightInForce>,
    },
    /// `hold`: seconds before the next attempt will be evaluated; the daemon
    /// serves them by holding this answer.
    Reject {
        hold: Option<u64>,
    },
    /// The request's source is over its failure budget: refused unevaluated,
    /// to be retried after `retry_after` seconds. About the caller, never
    /// about the login.
    SourceLimited {
        retry_after: u64,
    },
}

impl VerifyOutcome {
    pub fn is_accept(&self) -> bool {
        matches!(self, VerifyOutcome::Accept { .. })
    }
}

type Reply = Result<VerifyOutcome, StoreError>;

/// A reply and the outcome's label for metrics ("accept", or why it was
/// rejected). The label never reaches the gateway.
type Labelled = (Reply, &'static str);

struct Job {
    request: VerifyRequest,
    reply: tokio::sync::oneshot::Sender<Labelled>,
}

/// A request in flight: [`Pending::wait`] blocks until it is decided and
/// committed; [`Pending::answer`] awaits it without holding a thread (the
/// daemon's path). Anything but an accept is handed over no sooner than the
/// refusal floor after the request was submitted (`Config::refusal_floor`),
/// so that how long the refusal took to decide never shows in when its
/// answer leaves.
#[derive(Debug)]
pub struct Pending {
    answer: tokio::sync::oneshot::Receiver<Labelled>,
    /// When a refusal may be handed over.
    not_before: Instant,
    clock: floor::FloorClock,
}

impl Pending {
    /// Blocks the calling thread; not for use inside an async runtime.
    pub fn wait(self) -> Reply {
        self.wait_labelled().0
    }

    /// [`Pending::wait`] with the outcome's label (see [`Pending::answer`]).
    pub fn wait_labelled(self) -> (Reply, &'static str) {
        let labelled = self
            .answer
            .blocking_recv()
            .unwrap_or((Err(StoreError::Unavailable), "unavailable"));
        if held_to_floor(&labelled.0) {
            let now = Instant::now();
            if now < self.not_before {
                std::thread::sleep(self.not_before - now);
            }
        }
        labelled
    }

    /// The reply and, for the daemon's metrics only, the outcome's label:
    /// `accept` or the rejection reason (`wrong_code`, `replay`, ...).
    pub async fn answer(self) -> (Reply, &'static str) {
        let labelled = self
            .answer
            .await
            .unwrap_or((Err(StoreError::Unavailable), "unavailable"));
        if held_to_floor(&labelled.0) {
            self.clock.until(self.not_before).await;
        }
        labelled
    }
}

/// Whether a reply waits for the refusal floor: everything but an accept
/// (whose answer says it was accepted anyway).
fn held_to_floor(reply: &Reply) -> bool {
    !matches!(reply, Ok(VerifyOutcome::Accept { .. }))
}

/// The metrics label of a rejection reason.
pub(crate) fn reason_label(reason: Reason) -> &'static str {
    match reason {
        Reason::UnknownLogin => "unknown_login",
        Reason::Locked => "locked",
        Reason::Throttled => "throttled",
        Reason::TokenNotActive => "token_not_active",
        Reason::WrongPin => "wrong_pin",
        Reason::WrongCode => "wrong_code",
        Reason::WrongPinAndCode => "wrong_pin_and_code",
        Reason::Replay => "replay",
        Reason::NoRightInForce => "no_right_in_force",
        Reason::NoStaffKey => "no_staff_key",
        Reason::Malformed => "malformed",
        Reason::SourceLimited => "source_limited",
    }
}

/// Handle to the writer thread. Dropping it drains the queue and stops it.
#[derive(Debug)]
pub struct VerifyService {
    stats: stats::SharedStats,
    /// `Config::refusal_floor`, and the clock that serves it.
    refusal_floor: Duration,
    floor_clock: floor::FloorClock,
    queue: Option<Sender<Job>>,
    worker: Option<JoinHandle<()>>,
}

impl Store {
    /// Starts the verify service on its own connection, with every live
    /// credential's key unsealed into its cache.
    pub fn verify_service(&self) -> Result<VerifyService, StoreError> {
        self.verify_service_syncing(SyncMode::from_env())
    }

    /// [`Store::verify_service`], its batches made durable as `mode` says.
    pub fn verify_service_syncing(&self, mode: SyncMode) -> Result<VerifyService, StoreError> {
        // Refuses to start on a nearly full disk (`store::disk`).
        let db_path = &self.shared().db_path;
        let data_dir = db_path.parent().unwrap_or(db_path);
        disk::DiskSpace::of(data_dir)?.check(data_dir)?;
        let conn = connect(db_path)?;
        conn.pragma_update(None, "cache_size", -pages::WRITER_CACHE_KIB)?;
        let mut worker = Worker::new(conn, Arc::clone(self.shared()), mode)?;
        // The keys are unsealed (CPU) while the pages verify reads are read
        // (the disk), side by side.
        std::thread::scope(|scope| {
            let pages = scope.spawn(|| pages::warm(db_path));
            let keys = worker.warm();
            match pages.join() {
                Ok(Ok(warmed)) => tracing::info!(
                    took_ms = warmed.took.as_millis(),
                    "verify: the pages a verify reads were read at start"
                ),
                Ok(Err(err)) => tracing::warn!(
                    error = %err,
                    "verify: the pages a verify reads could not be read at start; they are read when asked for"
                ),
                Err(_) => tracing::warn!("verify: the start-up read of the verify pages stopped"),
            }
            keys
        })?;
        let stats = Arc::clone(&worker.stats);
        let (queue, jobs) = mpsc::channel::<Job>();
        let handle = std::thread::Builder::new()
            .name("keyward-verify".into())
            .spawn(move || worker.run(jobs))
            .map_err(|_| StoreError::Unavailable)?;
        Ok(VerifyService {
            stats,
            refusal_floor: self.shared().config.refusal_floor,
            floor_clock: floor::FloorClock::start().map_err(|_| StoreError::Unavailable)?,
            queue: Some(queue),
            worker: Some(handle),
        })
    }
}

/// A new store in `dir/data`, for the verify modules' unit tests.
#[cfg(test)]
pub(super) fn test_store(dir: &std::path::Path) -> Result<Store, StoreError> {
    Store::init(
        &dir.join("data"),
        Arc::new(super::SystemClock),
        super::Config::new("ac-exemple.fr"),
    )
}

impl Store {
    /// The phantom-counter slot of `login` (`store::verify::phantom`): two
    /// made-up logins with the same slot share their failure counters. For
    /// tests that must keep their made-up logins apart.
    #[doc(hidden)]
    pub fn phantom_slot(&self, login: &str) -> i64 {
        phantom::Phantoms::new(self.shared().keys.row_key().clone()).slot(login)
    }
}

impl VerifyService {
    /// Queues a request; decided with whatever else is waiting.
    pub fn submit(&self, request: VerifyRequest) -> Result<Pending, StoreError> {
        let not_before = Instant::now() + self.refusal_floor;
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.queue
            .as_ref()
            .ok_or(StoreError::Unavailable)?
            .send(Job { request, reply })
            .map_err(|_| StoreError::Unavailable)?;
        Ok(Pending {
            answer,
            not_before,
            clock: self.floor_clock.clone(),
        })
    }

    /// The writer's totals so far: where its time went ([`WriterStats`]).
    pub fn stats(&self) -> WriterStats {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Decides one request and waits for its durable answer.
    pub fn verify(&self, login: &str, passcode: &str) -> Reply {
        self.submit(VerifyRequest::new(login, passcode))?.wait()
    }
}

impl Drop for VerifyService {
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// A batch's answers, in order, and the audit head after them.
type Decided = (Vec<(VerifyOutcome, &'static str)>, AuditHead);

struct Worker {
    stats: stats::SharedStats,
    /// Answers committed batches once on disk; dropped (its last batches
    /// synced and answered) before the connection closes.
    answerer: durable::Answerer,
    /// Checkpoints the WAL beside the writer (none: the writer does).
    _checkpointer: Option<checkpointer::Checkpointer>,
    conn: Connection,
    guard: super::row_mac::RowGuard,
    decider: Decider,
}

/// The worker's in-memory state; separate from the connection so a batch can
/// borrow both.
struct Decider {
    shared: Arc<Shared>,
    /// The worker's row guard: rows this batch wrote are intact.
    guard: super::row_mac::RowGuard,
    /// Unsealed keys by credential id; `CredentialKey` wipes itself on drop.
    cache: HashMap<i64, CredentialKey>,
    dummy_key: CredentialKey,
    dummy_verifier: [u8; 32],
    /// Failure counters of logins that do not exist, so that they lock and
    /// slow down exactly as real ones do (in the database, bounded).
    phantoms: phantom::Phantoms,
    sources: SourceLimiter,
    /// When the current batch's deciding and sealing ended; its cache hits.
    timing: Timing,
    /// Repeated identical refusals of the current minute, counted.
    refusals: refusals::Refusals,
    /// Every request computes this many window candidates (padding with the
    /// dummy key): the largest window the configuration allows.
    candidates_per_request: u32,
    /// The login's credential and token, with their whole rows to check
    /// their MACs against (`store::row_mac`).
    find_sql: String,
    /// [`decide::rights_sql`], built once.
    rights_sql: String,
    /// The statement that checks a holder's staff keys against their MACs.
    staff_check: super::row_mac::RowsCheck,
    /// Real holders whose records an unknown login's request reads and
    /// checks instead (and then ignores), so that it does the work of a
    /// known one: the same rows, MACs and window ([`decide`]).
    decoys: Decoys,
    /// The second name each request looks up ([`decide`]), kept from one
    /// request to the next so that building it allocates nothing.
    probe: String,
    /// A refusal's audit detail, written here from one request to the
    /// next ([`refusals::RefusalKind::write_detail`]).
    detail: String,
}

/// Holders kept as decoys, at most.
const DECOYS: usize = 64;

/// The decoys ([`Decider::decoys`]): their logins, to pick one by a
/// login's slot, and their credentials' ids, to tell whether one is listed
/// at the cost of one set lookup whoever asks.
#[derive(Default)]
struct Decoys {
    logins: Vec<String>,
    ids: std::collections::HashSet<i64>,
}

impl Decoys {
    /// Lists `credential`'s holder, unless listed or the list is full.
    fn add(&mut self, credential: &crate::domain::CredentialInfo) {
        if self.logins.len() < DECOYS && self.ids.insert(credential.id) {
            self.logins.push(credential.holder.as_str().to_owned());
        }
    }

    fn lists(&self, credential: i64) -> bool {
        self.ids.contains(&credential)
    }

    /// The decoy of a login whose phantom slot is `slot` ("" when there is
    /// none yet).
    fn login_for(&self, slot: i64) -> &str {
        let at = usize::try_from(slot).unwrap_or(0) % self.logins.len().max(1);
        self.logins.get(at).map_or("", String::as_str)
    }
}

impl Worker {
    fn new(conn: Connection, shared: Arc<Shared>, mode: SyncMode) -> Result<Self, StoreError> {
        let dummy_secret = Secret::generate(Algorithm::Sha1)?;
        let dummy_verifier = shared.keys.pin_verifier("", b"dummy");
        let guard = shared.guard(&conn)?;
        let stats = stats::SharedStats::default();
        let answerer = durable::Answerer::start(mode, &conn, &shared, &stats)?;
        let checkpointer = match checkpointer::Checkpointer::start(&shared.db_path, &conn) {
            Ok(checkpointer) => Some(checkpointer),
            Err(err) => {
                tracing::warn!(
                    error = %err,
                    "verify: no checkpoint thread; the writer checkpoints the WAL itself"
                );
                None
            }
        };
        Ok(Worker {
            stats,
            answerer,
            _checkpointer: checkpointer,
            conn,
            guard: guard.clone(),
            decider: Decider {
                guard,
                find_sql: decide::find_sql(&shared.row_layout)?,
                rights_sql: decide::rights_sql(&shared.row_layout)?,
                staff_check: super::row_mac::RowsCheck::new(
                    &shared.row_layout,
                    "api_keys",
                    "person",
                )?,
                decoys: Decoys::default(),
                probe: String::with_capacity(64),
                detail: String::with_capacity(2 * crate::store::audit::DETAIL_BLOCK),
                cache: HashMap::new(),
                dummy_key: CredentialKey::new(Algorithm::Sha1, &dummy_secret),
                dummy_verifier,
                phantoms: phantom::Phantoms::new(shared.keys.row_key().clone()),
                sources: SourceLimiter::default(),
                refusals: refusals::Refusals::default(),
                timing: Timing {
                    decided: Instant::now(),
                    sealed: Instant::now(),
                    hits: 0,
                },
                candidates_per_request: evidence::Window::new(
                    shared.config.totp_behind,
                    shared.config.hotp_look_ahead,
                )
                .candidates,
                shared,
            },
        })
    }

    /// Unseals every live credential once, at start, one row at a time:
    /// collecting every credential first (to unseal them after the read)
    /// held a million holders' records beside their keys, and the daemon's
    /// peak RSS reached 374 MiB for a cache of about 114 MiB.
    fn warm(&mut self) -> Result<(), StoreError> {
        let sql = format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials c WHERE c.live = 1");
        let conn = &self.conn;
        let decider = &mut self.decider;
        // Sized once: growing doubles the table while the old one is still
        // held (half again the final size at the peak).
        let live: i64 =
            conn.query_row("SELECT count(*) FROM credentials WHERE live = 1", [], |r| {
                r.get(0)
            })?;
        decider.cache.reserve(usize::try_from(live).unwrap_or(0));
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            // A corrupt record is refused (and audited) when its holder
            // tries to log in; it must not keep everybody else out. Nor
            // does a record that fails to open: it is refused at verify
            // time instead.
            let Ok(credential) = credential_from_row(row) else {
                continue;
            };
            decider.decoys.add(&credential);
            if let Ok(Some(key)) = unseal_key(conn, &decider.shared, &credential) {
                decider.cache.insert(credential.id, key);
            }
        }
        Ok(())
    }

    fn run(mut self, jobs: Receiver<Job>) {
        loop {
            let waiting = Instant::now();
            let first = match jobs.recv_timeout(IDLE_FLUSH) {
                Ok(job) => job,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let now = self.decider.shared.clock.now();
                    self.flush_refusals(Some(now));
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            if self.answerer.failed() {
                // A sync failed: what is on disk is unknown until restart.
                durable::unavailable(batch);
                continue;
            }
            let started = Instant::now();
            self.evict_dead();
            let now = self.decider.shared.clock.now();
            let answers = self.decide_batch(now, &mut batch, Some(&jobs));
            let committed = Instant::now();
            let size = batch.len();
            match answers {
                Ok((answers, head)) => {
                    let answers = batch
                        .into_iter()
                        .zip(answers)
                        .map(|(job, (answer, label))| (job, answer, label))
                        .collect();
                    self.answerer
                        .committed(&self.decider.shared, durable::Committed { answers, head });
                    let t = self.decider.timing;
                    stats::update(&self.stats, |s| {
                        s.batch(size);
                        s.waiting += started - waiting;
                        s.deciding += t.decided - started;
                        s.sealing += t.sealed - t.decided;
                        s.committing += committed - t.sealed;
                        s.answering += committed.elapsed();
                        s.cache_hits += t.hits;
                        s.cache_misses += size as u64 - t.hits;
                    });
                }
                // Nothing was committed: nobody is accepted.
                Err(_) => durable::unavailable(batch),
            }
        }
        self.flush_refusals(None);
    }

    /// Writes the aggregated refusals that are due (all of them at
    /// shutdown), in a transaction of their own.
    fn flush_refusals(&mut self, now: Option<UnixTime>) {
        if self.decider.refusals.is_empty() {
            return;
        }
        let decider = &mut self.decider;
        let guard = &self.guard;
        let written = in_write_txn(&mut self.conn, |db| {
            guard.begin();
            let mut head = AuditHead::load(db)?;
            decider.write_repeated(db, &mut head, now)?;
            guard.seal(db)?;
            Ok::<_, StoreError>(head)
        });
        if let Ok(head) = written {
            let answers = Vec::new();
            self.answerer
                .committed(&self.decider.shared, durable::Committed { answers, head });
        }
    }

    fn evict_dead(&mut self) {
        if let Ok(mut dead) = self.decider.shared.dead_credentials.lock() {
            for id in dead.drain(..) {
                self.decider.cache.remove(&id);
            }
        }
    }

    /// Decides `batch` in one transaction. While the flusher is still
    /// syncing an earlier batch (so an answer could not leave sooner
    /// anyway), requests arriving from `more` join this one, up to
    /// [`MAX_BATCH`]: one commit then covers them all.
    fn decide_batch(
        &mut self,
        now: UnixTime,
        batch: &mut Vec<Job>,
        more: Option<&Receiver<Job>>,
    ) -> Result<Decided, StoreError> {
        let decider = &mut self.decider;
        let guard = &self.guard;
        let answerer = &self.answerer;
        decider.timing.hits = 0;
        in_write_txn(&mut self.conn, |db| {
            guard.begin();
            let mut head = AuditHead::load(db)?;
            decider.write_repeated(db, &mut head, Some(now))?;
            let mut answers = Vec::with_capacity(batch.len());
            loop {
                for job in &batch[answers.len()..] {
                    let answer = match decider.decide_one(db, &mut head, now, &job.request) {
                        Ok(answer) => answer,
                        // One corrupt record refuses its own request, loudly
                        // in the audit, without failing its neighbours.
                        Err(err @ (StoreError::Corrupt(_) | StoreError::Domain(_))) => {
                            let detail = format!("reason=store error: {err}");
                            decider.audit(db, &mut head, now, "verify.reject", "-", &detail)?;
                            (VerifyOutcome::Reject { hold: None }, "store_error")
                        }
                        Err(err) => return Err(err),
                    };
                    answers.push(answer);
                }
                let Some(jobs) = more else { break };
                if batch.len() >= MAX_BATCH || !answerer.syncing() {
                    break;
                }
                match jobs.recv_timeout(SYNC_POLL) {
                    Ok(job) => batch.push(job),
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
            decider.timing.decided = Instant::now();
            guard.seal(db)?;
            decider.timing.sealed = Instant::now();
            Ok((answers, head))
        })
    }
}

//! One node's verify writer over a [`VerifyLedger`], with group commit.
//!
//! Like the SQLite writer (`store::verify`), a node takes every request
//! waiting, decides them in arrival order inside one ledger transaction
//! (each decision sees the previous one's writes), commits once, and only
//! then answers them all. Across nodes, the ledger serialises decisions on
//! a credential (its row is locked for the batch) and appends to one audit
//! chain. Nothing is answered "accept" unless its transaction committed; a
//! transaction the server aborted for a deadlock or a serialization
//! failure kept nothing and is run again, so is one that lost its database
//! before its commit was sent (after a pause, on a new connection: a
//! failover); anything else, and a commit whose outcome is unknown, answers
//! [`PgError::Unavailable`] (docs/postgres.md, "High availability").
//!
//! What is decided here is the proof of possession (PIN, the whole OTP
//! window, replay, the failure counters and the lock) and the gateway's
//! entitlement: the batch reads its logins' rights in its transaction and
//! the SQLite writer's pure rule (`domain::rights::in_force`, in the
//! authority's time zone) says which are in force. A holder with none is
//! refused `no_right_in_force` and the code is consumed, as on SQLite; an
//! accept carries the rights in force. Staff keys are not held in
//! PostgreSQL (docs/postgres.md). A login without a live credential counts its
//! failures in its phantom slot (`store::verify::phantom`), on every node
//! alike.
//!
//! Every row read is checked against its row MAC (`postgres::row_mac`).
//! As on SQLite, a login whose credential or one of whose rights was
//! changed outside keyward is answered as an unknown one (its record
//! decides nothing and is never written; its failures count in its
//! phantom slot), and its audit entry says `problem=record changed outside
//! keyward (row MAC mismatch)`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use zeroize::Zeroizing;

use super::key_cache::KeyCache;
use super::ledger::{LedgerCredential, NewEntry, VerifyLedger};
use super::stats::BatchTimes;
pub use super::stats::NodeStats;
use super::PgError;
use crate::crypto::Keys;
use jiff::tz::TimeZone;

use crate::domain::rights::in_force;
use crate::domain::verify_policy::{
    decide, learned_drift, Counters, Decision, Evidence, Purpose, Reason,
};
use crate::domain::{Clock, PersonId, RightInForce, RightRecord, UnixTime};
use crate::otp::{Algorithm, CredentialKey, Digits, OtpKind, Secret};
use crate::store::verify::evidence::{possession, Against, Window};
use crate::store::verify::phantom::Phantoms;
use crate::store::verify::reason_label;
use crate::store::verify::refusals::Problem;

/// Most requests decided in one transaction.
pub const MAX_BATCH: usize = 1024;
/// Runs of a batch the server aborted (deadlock, serialization) before
/// its requests are answered unavailable.
const RETRIES: u32 = 3;
/// The pause before a batch that lost its database runs again, times the
/// attempt (100, 200, 300 ms): at most 0.6 s added before unavailable.
const RECONNECT_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

const FRESH: Counters = Counters {
    fails: 0,
    locked: false,
    retry_at: 0,
};

/// What a node answers: possession proved (and the code consumed) by a
/// holder with rights in force, which the answer carries; or refused, with
/// the seconds to hold the answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Possession {
    Proved { rights: Vec<RightInForce> },
    Refused { hold: Option<u64> },
}

/// The answer and its metrics label (`accept` or the refusal's reason).
pub type NodeReply = Result<(Possession, &'static str), PgError>;

/// A node's settings.
#[derive(Clone, Debug)]
pub struct NodeSettings {
    /// Written in every audit entry the node appends.
    pub name: String,
    pub totp_behind: u32,
    pub hotp_look_ahead: u32,
    /// The authority's time zone (`time_zone` in `keyward.toml`), in which the days
    /// of a right are read.
    pub time_zone: TimeZone,
}

struct Job {
    login: String,
    passcode: Zeroizing<String>,
    reply: oneshot::Sender<NodeReply>,
}

/// Handle to a node's writer task; dropping it lets the task finish the
/// requests queued and stop.
#[derive(Debug)]
pub struct VerifyNode {
    queue: mpsc::UnboundedSender<Job>,
    stats: Arc<NodeStats>,
    cache: Arc<KeyCache>,
    task: tokio::task::JoinHandle<()>,
}

impl VerifyNode {
    /// Starts the writer on the current tokio runtime.
    pub fn start<L: VerifyLedger + 'static>(
        ledger: L,
        keys: Arc<Keys>,
        clock: Arc<dyn Clock>,
        settings: NodeSettings,
    ) -> Result<VerifyNode, PgError> {
        let dummy = Secret::generate(Algorithm::Sha1)?;
        let stats = Arc::new(NodeStats::default());
        let cache = Arc::new(KeyCache::default());
        let phantoms = Phantoms::new(keys.row_key().clone());
        let writer = Writer {
            ledger,
            dummy_verifier: keys.pin_verifier("", b"dummy"),
            dummy_key: CredentialKey::new(Algorithm::Sha1, &dummy),
            window: Window::new(settings.totp_behind, settings.hotp_look_ahead),
            keys,
            clock,
            settings,
            cache: Arc::clone(&cache),
            phantoms,
            stats: Arc::clone(&stats),
            times: BatchTimes::default(),
        };
        let (queue, jobs) = mpsc::unbounded_channel();
        let task = tokio::spawn(writer.run(jobs));
        Ok(VerifyNode {
            queue,
            stats,
            cache,
            task,
        })
    }

    /// Decides one request with whatever else is waiting; answers once its
    /// batch is committed.
    pub async fn verify(&self, login: &str, passcode: &str) -> NodeReply {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            login: login.to_owned(),
            passcode: crate::hid::codec::keyboard::normalise_typed(passcode),
            reply,
        };
        self.queue.send(job).map_err(|_| PgError::Unavailable)?;
        answer.await.unwrap_or(Err(PgError::Unavailable))
    }

    pub fn stats(&self) -> &NodeStats {
        &self.stats
    }

    /// The node's unsealed keys, which its revocation listener
    /// (`key_cache::follow_revocations`) evicts from.
    pub fn cache(&self) -> &Arc<KeyCache> {
        &self.cache
    }

    /// Stops taking requests and waits for the queued ones to be answered.
    pub async fn stop(self) {
        drop(self.queue);
        let _ = self.task.await;
    }
}

struct Writer<L> {
    ledger: L,
    keys: Arc<Keys>,
    clock: Arc<dyn Clock>,
    settings: NodeSettings,
    /// Unsealed keys by credential id; `CredentialKey` wipes itself on drop.
    /// Only consulted for a credential the batch found live; evicted on
    /// every node when a revoke commits (`key_cache`).
    cache: Arc<KeyCache>,
    dummy_key: CredentialKey,
    dummy_verifier: [u8; 32],
    /// The windows, and the candidates every request computes.
    window: Window,
    /// The slots of logins without a credential.
    phantoms: Phantoms,
    stats: Arc<NodeStats>,
    /// The current batch's phases ([`NodeStats`]).
    times: BatchTimes,
}

/// One request's decision, before its writes.
struct Decided {
    decision: Decision,
    counters: Counters,
    problem: Option<&'static str>,
    /// The step the code matched, if it did.
    code_step: Option<u64>,
    /// The holder's rights in force at the batch's time.
    rights: Vec<RightInForce>,
}

impl<L: VerifyLedger> Writer<L> {
    async fn run(mut self, mut jobs: mpsc::UnboundedReceiver<Job>) {
        loop {
            let idle = Instant::now();
            let Some(first) = jobs.recv().await else {
                break;
            };
            self.times = BatchTimes {
                waiting: idle.elapsed(),
                ..BatchTimes::default()
            };
            let round_trips = self.ledger.round_trips();
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            let answers = self.run_batch(&batch).await;
            let answering = Instant::now();
            let size = batch.len();
            match answers {
                Ok(answers) => {
                    for (job, answer) in batch.into_iter().zip(answers) {
                        let _ = job.reply.send(Ok(answer));
                    }
                }
                Err(_) => {
                    for job in batch {
                        let _ = job.reply.send(Err(PgError::Unavailable));
                    }
                }
            }
            self.times.answering = answering.elapsed();
            let round_trips = self.ledger.round_trips().saturating_sub(round_trips);
            self.stats.batch(size, &self.times, round_trips);
        }
    }

    /// Decides and commits `batch`, running it again while that is safe: a
    /// transaction the server aborted (deadlock, serialization failure), or
    /// one that failed for want of a database before its commit was sent
    /// (the server abandons it; the ledger reconnects at its next
    /// `begin`, to whichever server is the primary then). A commit whose
    /// outcome is unknown (the connection lost while committing) is never
    /// run again: the batch answers unavailable, and if it did commit its
    /// codes stay consumed.
    async fn run_batch(
        &mut self,
        batch: &[Job],
    ) -> Result<Vec<(Possession, &'static str)>, PgError> {
        let mut attempt = 0;
        loop {
            let (err, committing) = match self.decide_batch(batch).await {
                Ok(answers) => {
                    let started = Instant::now();
                    let committed = self.ledger.commit().await;
                    self.times.committing += started.elapsed();
                    match committed {
                        Ok(()) => return Ok(answers),
                        Err(err) => (err, true),
                    }
                }
                Err(err) => (err, false),
            };
            self.ledger.rollback().await;
            let lost = err.is_connection_failure();
            let safe = err.is_retryable() || (lost && !committing);
            if !safe || attempt == RETRIES {
                tracing::warn!(node = %self.settings.name, error = %err, committing, "verify batch failed: nothing accepted");
                return Err(err);
            }
            attempt += 1;
            self.stats.retried.fetch_add(1, Ordering::Relaxed);
            if lost {
                // The database is failing over or restarting: give it a
                // moment rather than a burst of connection attempts.
                tokio::time::sleep(RECONNECT_PAUSE * attempt).await;
            }
        }
    }

    /// Decides `batch` in a new transaction of the ledger, its writes
    /// applied and its audit entries appended; the caller commits.
    async fn decide_batch(
        &mut self,
        batch: &[Job],
    ) -> Result<Vec<(Possession, &'static str)>, PgError> {
        let now = self.clock.now();
        let reading = Instant::now();
        // Logins as stored (lower case), for the valid ones.
        let logins: Vec<Option<String>> = batch
            .iter()
            .map(|job| {
                PersonId::parse(&job.login)
                    .ok()
                    .map(|p| p.as_str().to_owned())
            })
            .collect();
        let mut holders: Vec<String> = logins.iter().flatten().cloned().collect();
        holders.sort();
        holders.dedup();
        // The rights of every valid login (the same query, known or not)
        // and their credentials, locked.
        let (rights, locked) = self.ledger.begin_batch(&holders).await?;
        // A record changed outside keyward decides nothing: its login is
        // answered as an unknown one.
        let tampered: HashSet<String> = locked
            .tampered
            .into_iter()
            .chain(rights.tampered.iter().cloned())
            .collect();
        let mut found: HashMap<String, LedgerCredential> = locked
            .intact
            .into_iter()
            .filter(|c| !tampered.contains(&c.holder))
            .map(|c| (c.holder.clone(), c))
            .collect();
        let rights = rights.rights;
        // Every request's slot is computed; those without a credential
        // use it.
        let slots: Vec<i64> = batch
            .iter()
            .map(|job| self.phantoms.slot(&job.login))
            .collect();
        let unknown: Vec<i64> = logins
            .iter()
            .zip(&slots)
            .filter(|(login, _)| login.as_ref().is_none_or(|l| !found.contains_key(l)))
            .map(|(_, slot)| *slot)
            .collect();
        let mut phantoms: HashMap<i64, Counters> = self
            .ledger
            .lock_phantoms(&unknown)
            .await?
            .into_iter()
            .collect();
        self.times.reading += reading.elapsed();
        let deciding = Instant::now();
        let mut answers = Vec::with_capacity(batch.len());
        let mut entries = Vec::with_capacity(batch.len());
        for ((job, slot), login) in batch.iter().zip(slots).zip(&logins) {
            let credential = login.as_ref().and_then(|l| found.get_mut(l));
            let phantom = match credential {
                Some(_) => None,
                None => Some((
                    slot,
                    phantoms
                        .get_mut(&slot)
                        .ok_or(PgError::Corrupt("phantom slot"))?,
                )),
            };
            let held = login
                .as_ref()
                .and_then(|l| rights.get(l))
                .map_or(&[][..], Vec::as_slice);
            let edited = login.as_ref().is_some_and(|l| tampered.contains(l));
            let (answer, entry) = self.decide_one(now, job, credential, phantom, held, edited)?;
            answers.push(answer);
            entries.push(entry);
        }
        self.times.deciding += deciding.elapsed();
        // Every write of the batch and its audit entries, in two round
        // trips.
        let writing = Instant::now();
        self.ledger.write_batch(&self.keys, &entries).await?;
        self.times.writing += writing.elapsed();
        Ok(answers)
    }

    /// Decides one request against `found` (locked), records its writes
    /// in the ledger, and returns the answer and its audit entry.
    fn decide_one(
        &mut self,
        now: UnixTime,
        job: &Job,
        found: Option<&mut LedgerCredential>,
        phantom: Option<(i64, &mut Counters)>,
        rights: &[RightRecord],
        tampered: bool,
    ) -> Result<((Possession, &'static str), NewEntry), PgError> {
        let phantom_counters = phantom.as_ref().map_or(FRESH, |(_, c)| **c);
        let mut decided = self.evidence(
            now,
            &job.passcode,
            found.as_deref(),
            phantom_counters,
            rights,
        )?;
        if tampered {
            decided.problem = Some(Problem::RowMacMismatch.as_str());
        }
        let subject = match PersonId::parse(&job.login) {
            Ok(login) => login.as_str().to_owned(),
            Err(_) => "-".to_owned(),
        };
        let node = &self.settings.name;
        let Decided {
            decision,
            counters: seen,
            problem,
            code_step,
            rights,
        } = decided;
        let (action, detail, answer) = match (decision, found) {
            (Decision::Accept { step, offset, .. }, Some(c)) => {
                let drift = match c.kind {
                    OtpKind::Totp { .. } => learned_drift(offset, self.settings.totp_behind),
                    OtpKind::Hotp { .. } => 0,
                };
                if !self.ledger.advance(c.id, step, drift, now)? {
                    return Err(PgError::LostRace("moving factor"));
                }
                c.floor = Some(step);
                c.drift = drift;
                c.counters = FRESH;
                (
                    "verify.accept",
                    format!(
                        "credential={} step={step} offset={offset} node={node}",
                        c.id
                    ),
                    (Possession::Proved { rights }, "accept"),
                )
            }
            (Decision::Accept { .. }, None) => {
                return Err(PgError::Corrupt("accept without credential"))
            }
            (
                Decision::Reject {
                    reason,
                    counters: after,
                    retry_after,
                },
                mut found,
            ) => {
                // Possession proved without a right in force: the code is
                // consumed like an accepted one (never accepted later), as
                // on SQLite.
                if let (Reason::NoRightInForce, Some(c), Some(step)) =
                    (reason, found.as_deref_mut(), code_step)
                {
                    if !self.ledger.consume(c.id, step)? {
                        return Err(PgError::LostRace("moving factor"));
                    }
                    c.floor = Some(step);
                }
                if reason.counts_as_failure() && after != seen {
                    let (written, counters) = match (found, phantom) {
                        (Some(c), _) => (
                            self.ledger.count_failure(c.id, seen, after.retry_at)?,
                            &mut c.counters,
                        ),
                        (None, Some((slot, counters))) => (
                            self.ledger
                                .count_phantom_failure(slot, seen, after.retry_at)?,
                            counters,
                        ),
                        (None, None) => return Err(PgError::Corrupt("no counters")),
                    };
                    if written != Some(after) {
                        return Err(PgError::LostRace("failure count"));
                    }
                    *counters = after;
                }
                let mut detail = format!("reason={} failures={}", reason.as_str(), after.fails);
                if after.locked && !seen.locked {
                    detail.push_str(" locked=now");
                }
                if let Some(p) = problem {
                    detail.push_str(" problem=");
                    detail.push_str(p);
                }
                detail.push_str(" node=");
                detail.push_str(node);
                (
                    "verify.reject",
                    detail,
                    (
                        Possession::Refused { hold: retry_after },
                        reason_label(reason),
                    ),
                )
            }
        };
        let entry = NewEntry {
            at: now,
            actor: "gateway".to_owned(),
            action: action.to_owned(),
            subject,
            detail,
        };
        Ok((answer, entry))
    }

    /// The evidence and the policy's decision; the same work for any login.
    fn evidence(
        &mut self,
        now: UnixTime,
        passcode: &str,
        found: Option<&LedgerCredential>,
        phantom: Counters,
        rights: &[RightRecord],
    ) -> Result<Decided, PgError> {
        let mut problem = None;
        // Unsealed here under the credential's row lock, so before any
        // revoke of it commits (see `key_cache`).
        let key = match found {
            Some(c) => match self.cache.get(c.id) {
                Some(key) => Some(key),
                None => match &c.sealed {
                    Some(sealed) => match self.keys.open_secret(c.id, &c.token, sealed) {
                        Ok(secret) => Some(
                            self.cache
                                .insert(c.id, CredentialKey::new(c.algorithm, &secret)),
                        ),
                        Err(_) => {
                            problem = Some("sealed secret rejected");
                            None
                        }
                    },
                    None => {
                        problem = Some("no sealed secret");
                        None
                    }
                },
            },
            None => None,
        };
        let known = key.is_some();
        let against = Against {
            key: key.as_deref().unwrap_or(&self.dummy_key),
            dummy_key: &self.dummy_key,
            holder: found.map_or("", |c| c.holder.as_str()),
            verifier: found
                .and_then(|c| c.pin_verifier.as_deref())
                .unwrap_or(&self.dummy_verifier),
            digits: found.map_or(Digits::SIX, |c| c.digits),
            kind: found.map_or(Against::NOBODY_KIND, |c| c.kind),
            floor: found.and_then(|c| c.floor),
            drift: found.map_or(0, |c| c.drift),
        };
        let proof = possession(&self.keys, self.window, &against, passcode, now)?;
        if proof.out_of_range {
            problem = Some("verification parameters out of range");
        }
        let pin_ok = proof.pin_matches && found.is_some_and(|c| c.pin_verifier.is_some());
        // The SQLite writer's rule, on the rights read in this batch.
        let rights = in_force(rights, now, &self.settings.time_zone);
        let evidence = Evidence {
            well_formed: proof.well_formed,
            known,
            // Token states are not held in PostgreSQL yet: a credential is
            // live or revoked (not found).
            active: true,
            pin_ok,
            code_step: proof.code_step,
            replay: proof.replay,
            purpose: Purpose::Gateway,
            entitled: !rights.is_empty(),
        };
        let counters = found.map_or(phantom, |c| c.counters);
        Ok(Decided {
            decision: decide(now, counters, evidence),
            counters,
            problem,
            code_step: proof.code_step.map(|(step, _)| step),
            rights,
        })
    }
}

//! Where a node's verify time goes, batch by batch (docs/postgres.md,
//! "Throughput"): waiting for work, reading the batch's rows (its
//! credentials, rights and phantom slots, locked), deciding (crypto and
//! policy, on the node's CPU), writing the decisions with their audit
//! entries, committing, answering; the round trips to PostgreSQL each
//! batch waited for; and the gateway key checks made before a request
//! reaches the writer. Shown by `GET /v1/health` (`writer`) and printed by
//! `cargo bench --bench nodes`; a few clock reads per batch, not per
//! request (the key check's two per request).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A node's totals since it started.
#[derive(Debug, Default)]
pub struct NodeStats {
    pub batches: AtomicU64,
    pub requests: AtomicU64,
    /// Runs of a batch again (aborted by the server, or its database lost
    /// before the commit).
    pub retried: AtomicU64,
    /// Round trips to PostgreSQL the writer waited for (statements, or
    /// several pipelined together), commits included.
    pub round_trips: AtomicU64,
    waiting_ns: AtomicU64,
    reading_ns: AtomicU64,
    deciding_ns: AtomicU64,
    writing_ns: AtomicU64,
    committing_ns: AtomicU64,
    answering_ns: AtomicU64,
    /// Gateway keys checked (`/v1/verify`, on a pooled connection beside
    /// the writer's), and their time.
    key_checks: AtomicU64,
    key_checking_ns: AtomicU64,
}

/// The phases of one batch, timed by the writer.
#[derive(Clone, Copy, Debug, Default)]
pub struct BatchTimes {
    pub waiting: Duration,
    pub reading: Duration,
    pub deciding: Duration,
    /// The decisions' writes and the audit entries appended.
    pub writing: Duration,
    pub committing: Duration,
    pub answering: Duration,
}

/// [`NodeStats`] at one instant, in microseconds: what the node's health
/// answer shows; two snapshots' difference is a run's breakdown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeStatsSnapshot {
    pub batches: u64,
    pub requests: u64,
    pub retried: u64,
    pub round_trips: u64,
    pub waiting_us: u64,
    pub reading_us: u64,
    pub deciding_us: u64,
    pub writing_us: u64,
    pub committing_us: u64,
    pub answering_us: u64,
    pub key_checks: u64,
    pub key_checking_us: u64,
}

fn add(total: &AtomicU64, d: Duration) {
    total.fetch_add(
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
}

fn us(total: &AtomicU64) -> u64 {
    total.load(Ordering::Relaxed) / 1000
}

impl NodeStats {
    /// Adds one batch of `size` requests, its phases and its round trips.
    pub fn batch(&self, size: usize, times: &BatchTimes, round_trips: u64) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(size as u64, Ordering::Relaxed);
        self.round_trips.fetch_add(round_trips, Ordering::Relaxed);
        add(&self.waiting_ns, times.waiting);
        add(&self.reading_ns, times.reading);
        add(&self.deciding_ns, times.deciding);
        add(&self.writing_ns, times.writing);
        add(&self.committing_ns, times.committing);
        add(&self.answering_ns, times.answering);
    }

    /// Adds one gateway key check.
    pub fn key_check(&self, took: Duration) {
        self.key_checks.fetch_add(1, Ordering::Relaxed);
        add(&self.key_checking_ns, took);
    }

    pub fn snapshot(&self) -> NodeStatsSnapshot {
        NodeStatsSnapshot {
            batches: self.batches.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            round_trips: self.round_trips.load(Ordering::Relaxed),
            waiting_us: us(&self.waiting_ns),
            reading_us: us(&self.reading_ns),
            deciding_us: us(&self.deciding_ns),
            writing_us: us(&self.writing_ns),
            committing_us: us(&self.committing_ns),
            answering_us: us(&self.answering_ns),
            key_checks: self.key_checks.load(Ordering::Relaxed),
            key_checking_us: us(&self.key_checking_ns),
        }
    }
}

impl NodeStatsSnapshot {
    /// What happened between `earlier` and this snapshot.
    pub fn since(&self, earlier: &NodeStatsSnapshot) -> NodeStatsSnapshot {
        NodeStatsSnapshot {
            batches: self.batches.saturating_sub(earlier.batches),
            requests: self.requests.saturating_sub(earlier.requests),
            retried: self.retried.saturating_sub(earlier.retried),
            round_trips: self.round_trips.saturating_sub(earlier.round_trips),
            waiting_us: self.waiting_us.saturating_sub(earlier.waiting_us),
            reading_us: self.reading_us.saturating_sub(earlier.reading_us),
            deciding_us: self.deciding_us.saturating_sub(earlier.deciding_us),
            writing_us: self.writing_us.saturating_sub(earlier.writing_us),
            committing_us: self.committing_us.saturating_sub(earlier.committing_us),
            answering_us: self.answering_us.saturating_sub(earlier.answering_us),
            key_checks: self.key_checks.saturating_sub(earlier.key_checks),
            key_checking_us: self.key_checking_us.saturating_sub(earlier.key_checking_us),
        }
    }

    /// A few lines for a benchmark's output: per batch and per request.
    pub fn report(&self) -> String {
        let per = |total: u64, n: u64| total as f64 / n.max(1) as f64;
        let phases = [
            ("waiting", self.waiting_us),
            ("reading", self.reading_us),
            ("deciding", self.deciding_us),
            ("writing", self.writing_us),
            ("committing", self.committing_us),
            ("answering", self.answering_us),
        ];
        let all: u64 = phases.iter().map(|(_, t)| t).sum();
        let line = |f: &dyn Fn(u64) -> String| {
            phases
                .iter()
                .map(|(name, t)| format!("{name} {}", f(*t)))
                .collect::<Vec<_>>()
                .join(" ")
        };
        format!(
            "batches {} requests {} mean batch {:.1} retried {}; round trips a batch {:.1}, a request {:.2}\n\
             per batch µs: {}\n\
             share of the writer's time %: {}\n\
             gateway key checks {} (µs each {:.0}, beside the writer)",
            self.batches,
            self.requests,
            per(self.requests, self.batches),
            self.retried,
            per(self.round_trips, self.batches),
            per(self.round_trips, self.requests),
            line(&|t| format!("{:.0}", per(t, self.batches))),
            line(&|t| format!("{:.1}", 100.0 * per(t, all))),
            self.key_checks,
            per(self.key_checking_us, self.key_checks),
        )
    }
}

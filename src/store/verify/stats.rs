//! Where the verify writer's time goes, batch by batch: waiting for work,
//! deciding (the requests' SQL and crypto), renewing row MACs before the
//! commit, the commit itself (WAL write and fsync), answering; batch sizes
//! and the unsealed-key cache's hits. Read by benchmarks and
//! `docs/performance.md`; a few clock reads per batch, not per request.

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Totals since the service started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterStats {
    pub batches: u64,
    pub requests: u64,
    pub largest_batch: u64,
    /// Batches of 1, 2–8, 9–64, 65–512 and more requests.
    pub batch_sizes: [u64; 5],
    /// Blocked waiting for the first request of a batch.
    pub waiting: Duration,
    /// Deciding every request of the batch (reads, crypto, writes).
    pub deciding: Duration,
    /// Renewing the MACs of the rows the batch wrote, before the commit.
    pub sealing: Duration,
    /// `COMMIT`: the WAL write, and its fsync when the commit syncs
    /// (`SyncMode::Inline`).
    pub committing: Duration,
    /// Handing the answers back.
    pub answering: Duration,
    /// Requests whose credential key was already unsealed, and not.
    pub cache_hits: u64,
    pub cache_misses: u64,
    /// The flusher's WAL syncs (`SyncMode::Pipelined`), one per group of
    /// batches committed meanwhile, and their time (beside the writer's).
    pub syncs: u64,
    pub syncing: Duration,
}

impl WriterStats {
    pub(crate) fn batch(&mut self, size: usize) {
        let size = size as u64;
        self.batches += 1;
        self.requests += size;
        self.largest_batch = self.largest_batch.max(size);
        let bucket = match size {
            0..=1 => 0,
            2..=8 => 1,
            9..=64 => 2,
            65..=512 => 3,
            _ => 4,
        };
        self.batch_sizes[bucket] += 1;
    }

    /// What happened between `earlier` and this snapshot.
    pub fn since(&self, earlier: &WriterStats) -> WriterStats {
        let mut sizes = self.batch_sizes;
        for (s, e) in sizes.iter_mut().zip(earlier.batch_sizes) {
            *s -= e;
        }
        WriterStats {
            batches: self.batches - earlier.batches,
            requests: self.requests - earlier.requests,
            largest_batch: self.largest_batch,
            batch_sizes: sizes,
            waiting: self.waiting.saturating_sub(earlier.waiting),
            deciding: self.deciding.saturating_sub(earlier.deciding),
            sealing: self.sealing.saturating_sub(earlier.sealing),
            committing: self.committing.saturating_sub(earlier.committing),
            answering: self.answering.saturating_sub(earlier.answering),
            cache_hits: self.cache_hits - earlier.cache_hits,
            cache_misses: self.cache_misses - earlier.cache_misses,
            syncs: self.syncs - earlier.syncs,
            syncing: self.syncing.saturating_sub(earlier.syncing),
        }
    }

    /// One line per figure, for a benchmark's output.
    pub fn report(&self) -> String {
        let per = |d: Duration, n: u64| d.as_nanos() as f64 / n.max(1) as f64 / 1e3;
        let busy = self.deciding + self.sealing + self.committing + self.answering;
        let all = (busy + self.waiting).as_secs_f64().max(1e-9);
        let share = |d: Duration| 100.0 * d.as_secs_f64() / all;
        let hits = self.cache_hits + self.cache_misses;
        format!(
            "batches {} requests {} mean batch {:.1} largest {} sizes [1|2-8|9-64|65-512|>512] {:?}\n\
             per batch µs: waiting {:.0} deciding {:.0} sealing {:.0} committing {:.0} answering {:.0}\n\
             per request µs: deciding {:.1} sealing {:.1} committing {:.1}\n\
             share of time %: waiting {:.1} deciding {:.1} sealing {:.1} committing {:.1} answering {:.1}\n\
             key cache hit rate {:.4} ({} of {})\n\
             {}",
            self.batches,
            self.requests,
            self.requests as f64 / self.batches.max(1) as f64,
            self.largest_batch,
            self.batch_sizes,
            per(self.waiting, self.batches),
            per(self.deciding, self.batches),
            per(self.sealing, self.batches),
            per(self.committing, self.batches),
            per(self.answering, self.batches),
            per(self.deciding, self.requests),
            per(self.sealing, self.requests),
            per(self.committing, self.requests),
            share(self.waiting),
            share(self.deciding),
            share(self.sealing),
            share(self.committing),
            share(self.answering),
            self.cache_hits as f64 / hits.max(1) as f64,
            self.cache_hits,
            hits,
            match self.syncs {
                0 => "WAL synced by each commit".to_owned(),
                n => format!(
                    "WAL syncs beside the writer {n} (batches a sync {:.1}, µs a sync {:.0})",
                    self.batches as f64 / n as f64,
                    per(self.syncing, n)
                ),
            },
        )
    }
}

/// The writer's totals, shared with the service handle.
pub(crate) type SharedStats = Arc<Mutex<WriterStats>>;

pub(crate) fn update(stats: &SharedStats, f: impl FnOnce(&mut WriterStats)) {
    let mut guard = stats.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut guard);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_counted_by_size() {
        let mut s = WriterStats::default();
        for size in [1, 2, 8, 9, 64, 65, 512, 513, 1024] {
            s.batch(size);
        }
        assert_eq!(s.batch_sizes, [1, 2, 2, 2, 2]);
        assert_eq!((s.batches, s.requests, s.largest_batch), (9, 2198, 1024));
        let later = {
            let mut l = s;
            l.batch(3);
            l.cache_hits += 3;
            l
        };
        let d = later.since(&s);
        assert_eq!((d.batches, d.requests, d.cache_hits), (1, 3, 3));
        assert_eq!(d.batch_sizes, [0, 1, 0, 0, 0]);
        assert!(d.report().contains("hit rate 1.0000"));
    }
}

//! How many RADIUS requests may be pending at once (docs/radius.md,
//! "Hostile clients"): a bounded number in all, and a bounded share per
//! source address, so that one client (or a flood from one address) can
//! neither grow the daemon's memory nor take every slot from the others.
//! A request that finds no room is dropped at once (counted by the caller);
//! its client retransmits, as RADIUS clients do after a silence.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Most requests pending at once, all sources together.
pub const PENDING: usize = 4096;
/// Most requests pending at once from one source address: a source can
/// make the others wait behind at most this many decisions of the verify
/// writer (about 13 ms at 20,000 verifies/s), and a portal at concurrency
/// 32 to 128 stays well below it.
pub const PENDING_PER_SOURCE: usize = 256;

/// Why a request was not admitted (the metrics label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Every slot is taken.
    Full,
    /// The source already has its share.
    SourceFull,
}

impl Refused {
    pub fn label(self) -> &'static str {
        match self {
            Refused::Full => "dropped_queue_full",
            Refused::SourceFull => "dropped_source_full",
        }
    }
}

/// The pending requests, counted in all and per source.
#[derive(Debug)]
pub struct Admission {
    total: usize,
    per_source: usize,
    pending: Mutex<Pending>,
}

#[derive(Debug, Default)]
struct Pending {
    total: usize,
    /// Only sources with a request pending: at most `total` entries.
    by_source: HashMap<IpAddr, usize>,
}

/// A pending request's slot, given back when dropped.
#[derive(Debug)]
pub struct Ticket {
    admission: Arc<Admission>,
    source: IpAddr,
}

impl Admission {
    pub fn new(total: usize, per_source: usize) -> Arc<Admission> {
        Arc::new(Admission {
            total,
            per_source,
            pending: Mutex::new(Pending::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot for one more request from `source`, if there is room.
    pub fn admit(self: &Arc<Self>, source: IpAddr) -> Result<Ticket, Refused> {
        let mut pending = self.lock();
        if pending.total >= self.total {
            return Err(Refused::Full);
        }
        let mine = pending.by_source.entry(source).or_insert(0);
        if *mine >= self.per_source {
            return Err(Refused::SourceFull);
        }
        *mine += 1;
        pending.total += 1;
        Ok(Ticket {
            admission: Arc::clone(self),
            source,
        })
    }

    /// Requests pending now (all sources).
    pub fn pending(&self) -> usize {
        self.lock().total
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut pending = self.admission.lock();
        pending.total = pending.total.saturating_sub(1);
        if let Some(mine) = pending.by_source.get_mut(&self.source) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                pending.by_source.remove(&self.source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn one_source_gets_its_share_and_the_others_the_rest() {
        let admission = Admission::new(4, 2);
        let a1 = admission.admit(ip(1)).unwrap();
        let _a2 = admission.admit(ip(1)).unwrap();
        assert_eq!(admission.admit(ip(1)).unwrap_err(), Refused::SourceFull);
        let _b1 = admission.admit(ip(2)).unwrap();
        let _c1 = admission.admit(ip(3)).unwrap();
        assert_eq!(admission.admit(ip(4)).unwrap_err(), Refused::Full);
        // A slot given back is free again, for anyone.
        drop(a1);
        assert_eq!(admission.pending(), 3);
        let _d1 = admission.admit(ip(4)).unwrap();
        assert_eq!(admission.admit(ip(1)).unwrap_err(), Refused::Full);
    }

    #[test]
    fn a_source_with_nothing_pending_is_forgotten() {
        let admission = Admission::new(8, 8);
        let tickets: Vec<_> = (0..8).map(|i| admission.admit(ip(i)).unwrap()).collect();
        drop(tickets);
        assert_eq!(admission.pending(), 0);
        assert!(admission.lock().by_source.is_empty());
    }
}

//! Which connections are served: a cap on open connections and one per
//! source address. When the cap is reached, the connection that has been
//! idle (no request in flight) the longest is closed to make room, so idle
//! or trickling clients cannot keep a new one out; when every connection is
//! busy, or the source already holds its share, the new one is refused at
//! once (`503` with `Retry-After`), never left in the kernel's backlog.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

/// What the registry knows of one open connection, shared with its task.
#[derive(Debug)]
pub(super) struct Activity {
    epoch: Instant,
    /// Milliseconds after `epoch` of the last byte read or written.
    last_ms: AtomicU64,
    /// Milliseconds after `epoch` of the last answer finished (or of the
    /// connection's opening): what eviction orders by, so that bytes
    /// trickled into a request head that never ends do not make a
    /// connection look busier than a client's keep-alive one.
    served_ms: AtomicU64,
    /// Answers finished on this connection.
    answers: AtomicU64,
    /// Requests whose answer (body included) is not finished.
    in_flight: AtomicUsize,
    /// An answer finished by the handler may still sit in hyper's write
    /// buffer: set when the last answer ends, cleared by the next flush
    /// that reaches the socket. Closing the connection in between would
    /// drop an answer whose request was carried out (a verify accepted,
    /// its code spent) and the client could only guess.
    unflushed: AtomicBool,
    /// Told when the registry evicts this connection.
    evicted: Notify,
}

impl Activity {
    fn new(epoch: Instant) -> Activity {
        let activity = Activity {
            epoch,
            last_ms: AtomicU64::new(0),
            served_ms: AtomicU64::new(0),
            answers: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            unflushed: AtomicBool::new(false),
            evicted: Notify::new(),
        };
        activity.touch();
        activity.served_ms.store(activity.ms(), Ordering::Relaxed);
        activity
    }

    fn ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Bytes moved now.
    pub(super) fn touch(&self) {
        self.last_ms.store(self.ms(), Ordering::Relaxed);
    }

    /// When bytes last moved.
    pub(super) fn last(&self) -> Instant {
        self.epoch + std::time::Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }

    /// A request is being handled, or its answer is not yet flushed to
    /// the socket: the connection must not be evicted.
    pub(super) fn busy(&self) -> bool {
        // `request_done` sets `unflushed` before it lowers `in_flight`.
        self.handling() || self.unflushed.load(Ordering::Acquire)
    }

    /// A request is being handled (its answer's body not finished).
    pub(super) fn handling(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) > 0
    }

    /// What was written so far reached the socket.
    pub(super) fn flushed(&self) {
        if !self.handling() {
            self.unflushed.store(false, Ordering::Release);
        }
    }

    pub(super) fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    pub(super) fn request_done(&self) {
        self.unflushed.store(true, Ordering::Release);
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.touch();
        self.served_ms.store(self.ms(), Ordering::Relaxed);
        self.answers.fetch_add(1, Ordering::Relaxed);
    }

    /// Eviction order, first evicted first: a connection that never got
    /// an answer (idle since it opened, or trickling a head that never
    /// ends) goes before any that did, then the oldest last answer.
    fn eviction_rank(&self) -> (bool, u64) {
        (
            self.answers.load(Ordering::Relaxed) > 0,
            self.served_ms.load(Ordering::Relaxed),
        )
    }

    pub(super) async fn wait_evicted(&self) {
        self.evicted.notified().await;
    }
}

#[derive(Debug, Default)]
struct Open {
    next_id: u64,
    connections: HashMap<u64, (IpAddr, Arc<Activity>)>,
    per_source: HashMap<IpAddr, usize>,
}

impl Open {
    fn forget(&mut self, id: u64) {
        if let Some((ip, _)) = self.connections.remove(&id) {
            if let Some(n) = self.per_source.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    self.per_source.remove(&ip);
                }
            }
        }
    }
}

/// Open connections, shared by every listener of a server.
#[derive(Debug)]
pub(super) struct Registry {
    max: usize,
    per_source: usize,
    epoch: Instant,
    open: Mutex<Open>,
    /// Told when the last connection closes (shutdown waits for it).
    drained: Notify,
}

/// Why a new connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// Every connection has a request in flight.
    Full,
    /// This source address holds its share already.
    Source,
}

/// An admitted connection's place; dropping it frees the place.
#[derive(Debug)]
pub(super) struct Slot {
    id: u64,
    registry: Arc<Registry>,
    pub(super) activity: Arc<Activity>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = lock(&self.registry.open);
        open.forget(self.id);
        if open.connections.is_empty() {
            self.registry.drained.notify_waiters();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Registry {
    pub(super) fn new(max: usize, per_source: usize) -> Arc<Registry> {
        Arc::new(Registry {
            max: max.max(1),
            per_source: per_source.max(1),
            epoch: Instant::now(),
            open: Mutex::new(Open::default()),
            drained: Notify::new(),
        })
    }

    /// Admits a connection from `source`, evicting when full by
    /// [`Activity::eviction_rank`]: an idle or trickling client goes before
    /// one that is being served, so a gateway's keep-alive connection is
    /// not closed under a request it is sending.
    pub(super) fn admit(self: &Arc<Self>, source: IpAddr) -> Result<Slot, Refusal> {
        let mut open = lock(&self.open);
        if open.per_source.get(&source).copied().unwrap_or(0) >= self.per_source {
            return Err(Refusal::Source);
        }
        if open.connections.len() >= self.max {
            let victim = open
                .connections
                .iter()
                .filter(|(_, (_, activity))| !activity.busy())
                .min_by_key(|(_, (_, activity))| activity.eviction_rank())
                .map(|(id, (_, activity))| (*id, Arc::clone(activity)));
            let Some((id, activity)) = victim else {
                return Err(Refusal::Full);
            };
            open.forget(id);
            // notify_one keeps the wake-up if the task is not waiting yet.
            activity.evicted.notify_one();
        }
        let id = open.next_id;
        open.next_id += 1;
        let activity = Arc::new(Activity::new(self.epoch));
        open.connections.insert(id, (source, Arc::clone(&activity)));
        *open.per_source.entry(source).or_default() += 1;
        Ok(Slot {
            id,
            registry: Arc::clone(self),
            activity,
        })
    }

    /// Connections open now (evicted ones no longer count).
    pub(super) fn open(&self) -> usize {
        lock(&self.open).connections.len()
    }

    /// Resolves once no connection is open.
    pub(super) async fn drained(&self) {
        loop {
            let notified = self.drained.notified();
            if self.open() == 0 {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn a_full_registry_evicts_the_longest_idle_and_refuses_when_all_are_busy() {
        let registry = Registry::new(2, 8);
        let first = registry.admit(ip(1)).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let second = registry.admit(ip(2)).unwrap();
        second.activity.request_started();
        // Full: the idle one (first) makes room.
        let third = registry.admit(ip(3)).unwrap();
        assert_eq!(registry.open(), 2);
        drop(first);
        assert_eq!(registry.open(), 2, "an evicted slot is not counted twice");
        third.activity.request_started();
        assert_eq!(registry.admit(ip(4)).unwrap_err(), Refusal::Full);
        second.activity.request_done();
        second.activity.flushed();
        assert!(registry.admit(ip(4)).is_ok());
    }

    #[test]
    fn an_answer_not_yet_flushed_keeps_its_connection() {
        let registry = Registry::new(1, 8);
        let gateway = registry.admit(ip(1)).unwrap();
        gateway.activity.request_started();
        // The handler is done; its answer is still in hyper's buffer.
        gateway.activity.request_done();
        assert_eq!(registry.admit(ip(2)).unwrap_err(), Refusal::Full);
        assert!(!told_evicted(&gateway.activity));
        gateway.activity.flushed();
        assert!(registry.admit(ip(2)).is_ok());
        assert!(told_evicted(&gateway.activity));
    }

    #[test]
    fn a_trickling_connection_goes_before_one_being_served() {
        let registry = Registry::new(2, 8);
        let served = registry.admit(ip(1)).unwrap();
        let trickling = registry.admit(ip(2)).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        served.activity.request_started();
        served.activity.request_done();
        std::thread::sleep(std::time::Duration::from_millis(5));
        // Its bytes arrived after the other's answer, but no answer.
        trickling.activity.touch();
        let _new = registry.admit(ip(3)).unwrap();
        assert!(told_evicted(&trickling.activity));
        assert!(!told_evicted(&served.activity));
    }

    /// Whether `activity` was told it is evicted (without waiting).
    fn told_evicted(activity: &Activity) -> bool {
        use std::future::Future as _;
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let notified = activity.evicted.notified();
        let mut notified = std::pin::pin!(notified);
        notified.as_mut().poll(&mut cx).is_ready()
    }

    #[test]
    fn a_connection_never_answered_goes_before_an_older_answered_one() {
        let registry = Registry::new(2, 8);
        let served = registry.admit(ip(1)).unwrap();
        served.activity.request_started();
        served.activity.request_done();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let idle = registry.admit(ip(2)).unwrap();
        let _new = registry.admit(ip(3)).unwrap();
        assert!(told_evicted(&idle.activity));
        assert!(!told_evicted(&served.activity));
    }

    #[test]
    fn one_source_gets_its_share_only() {
        let registry = Registry::new(100, 2);
        let _a = registry.admit(ip(1)).unwrap();
        let b = registry.admit(ip(1)).unwrap();
        assert_eq!(registry.admit(ip(1)).unwrap_err(), Refusal::Source);
        assert!(registry.admit(ip(2)).is_ok());
        drop(b);
        assert!(registry.admit(ip(1)).is_ok());
    }
}

//! The refusal floor's clock: a refusal is handed over at its deadline
//! (`Config::refusal_floor` after it was submitted), to the microsecond.
//!
//! tokio's timer cannot serve it: its deadlines fall on whole milliseconds
//! and its driver parks with a timeout counted in milliseconds from the
//! moment it parks, so a task that starts waiting later wakes later, and
//! how long the refusal took to decide shows again in when its answer
//! leaves. Here one thread keeps the deadlines and sleeps until the
//! earliest with a timeout of nanoseconds computed from the deadline
//! itself; it then completes the waiting task's oneshot, whose waking costs
//! the same whoever the request was about.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::Instant;

use tokio::sync::oneshot;

/// A deadline and whom to wake at it.
struct Due {
    at: Instant,
    seq: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// Handle to the floor's thread; clones share it. The thread ends once
/// every handle is dropped and every deadline it holds has passed.
#[derive(Clone, Debug)]
pub struct FloorClock {
    deadlines: Sender<(Instant, oneshot::Sender<()>)>,
}

impl FloorClock {
    /// Starts the thread (`keyward-floor`).
    pub fn start() -> std::io::Result<FloorClock> {
        let (deadlines, incoming) = mpsc::channel::<(Instant, oneshot::Sender<()>)>();
        std::thread::Builder::new()
            .name("keyward-floor".into())
            .spawn(move || {
                let mut heap: BinaryHeap<Reverse<Due>> = BinaryHeap::new();
                let mut seq = 0u64;
                let mut open = true;
                while open || !heap.is_empty() {
                    let now = Instant::now();
                    while heap.peek().is_some_and(|Reverse(due)| due.at <= now) {
                        if let Some(Reverse(due)) = heap.pop() {
                            // The waiter may have gone (its request dropped).
                            let _ = due.wake.send(());
                        }
                    }
                    let next = match heap.peek() {
                        Some(Reverse(due)) => {
                            incoming.recv_timeout(due.at.saturating_duration_since(now))
                        }
                        None if open => incoming.recv().map_err(|_| RecvTimeoutError::Disconnected),
                        None => break,
                    };
                    match next {
                        Ok((at, wake)) => {
                            seq += 1;
                            heap.push(Reverse(Due { at, seq, wake }));
                        }
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => {
                            open = false;
                            if let Some(Reverse(due)) = heap.peek() {
                                std::thread::sleep(
                                    due.at.saturating_duration_since(Instant::now()),
                                );
                            }
                        }
                    }
                }
            })?;
        Ok(FloorClock { deadlines })
    }

    /// Returns at `at` (at once if it has passed), without holding a thread
    /// of the caller's runtime.
    pub async fn until(&self, at: Instant) {
        if Instant::now() >= at {
            return;
        }
        let (wake, woken) = oneshot::channel();
        if self.deadlines.send((at, wake)).is_ok() {
            // Err: the thread is gone; never answer before the floor anyway.
            if woken.await.is_ok() {
                return;
            }
        }
        let left = at.saturating_duration_since(Instant::now());
        let _ = tokio::task::spawn_blocking(move || std::thread::sleep(left)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(flavor = "current_thread")]
    async fn wakes_at_each_deadline_in_order_and_not_before() {
        let clock = FloorClock::start().unwrap();
        let start = Instant::now();
        let offsets = [30u64, 5, 20, 0, 10];
        let woken = wake_all(&clock, start, &offsets).await;
        for (offset, at) in offsets.iter().zip(woken) {
            let due = start + Duration::from_millis(*offset);
            assert!(at >= due, "woke {:?} before {offset} ms", due - at);
            // Generous: a loaded machine may be late, never early.
            assert!(
                at < due + Duration::from_millis(500),
                "{offset} ms woke late"
            );
        }
    }

    async fn wake_all(clock: &FloorClock, start: Instant, offsets: &[u64]) -> Vec<Instant> {
        let mut tasks = Vec::new();
        for offset in offsets {
            let clock = clock.clone();
            let at = start + Duration::from_millis(*offset);
            tasks.push(tokio::spawn(async move {
                clock.until(at).await;
                Instant::now()
            }));
        }
        let mut woken = Vec::new();
        for task in tasks {
            woken.push(task.await.unwrap());
        }
        woken
    }
}

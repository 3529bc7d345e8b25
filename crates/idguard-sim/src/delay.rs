//! Precise response delays for the simulator's `--latency-ms`.
//!
//! tokio's timer counts in whole milliseconds and rounds a deadline up to the next tick, so
//! `tokio::time::sleep(20 ms)` answered after 21–22 ms: a "20 ms" simulator was really a
//! 21.5 ms one, and benchmarks judged against 20 ms were off by 7%. Here one thread keeps the
//! pending deadlines in a heap and sleeps on a condition variable (nanosecond timeouts, the
//! kernel's ~50 µs timer slack), waking each request through a oneshot channel at its deadline.
//! A request's deadline is its arrival plus the latency, so the time spent handling it counts.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::oneshot;

/// A pending wake-up: its deadline and a sequence number (so equal deadlines keep their order
/// and the heap never compares senders).
struct Pending {
    at: Instant,
    seq: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Reverse<Pending>>,
    seq: u64,
    /// Set when the last [`DelayTimer`] handle is dropped: the thread exits.
    closed: bool,
}

struct Inner {
    queue: Mutex<Queue>,
    changed: Condvar,
}

/// Wakes tasks at precise instants. Cheap to clone; the timer thread stops when the last
/// clone is dropped.
#[derive(Clone)]
pub(crate) struct DelayTimer {
    inner: Arc<Inner>,
    _owner: Arc<Owner>,
}

/// Closes the queue when the last handle goes.
struct Owner(Arc<Inner>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .closed = true;
        self.0.changed.notify_all();
    }
}

impl DelayTimer {
    /// Starts the timer thread. If the thread cannot be started, delays fall back to tokio's
    /// (millisecond) timer.
    pub(crate) fn start() -> DelayTimer {
        let inner = Arc::new(Inner {
            queue: Mutex::new(Queue::default()),
            changed: Condvar::new(),
        });
        let thread_inner = Arc::clone(&inner);
        let started = std::thread::Builder::new()
            .name("sim-delay".into())
            .spawn(move || run(&thread_inner));
        if let Err(e) = started {
            tracing::warn!(error = %e, "no precise delay thread; using tokio's timer");
            inner
                .queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .closed = true;
        }
        DelayTimer {
            _owner: Arc::new(Owner(Arc::clone(&inner))),
            inner,
        }
    }

    /// Completes at `at` (within the kernel's timer slack), or at once if it has passed.
    pub(crate) async fn sleep_until(&self, at: Instant) {
        if at <= Instant::now() {
            return;
        }
        let (wake, woken) = oneshot::channel();
        let queued = {
            let mut q = self
                .inner
                .queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if q.closed {
                false
            } else {
                q.seq += 1;
                let seq = q.seq;
                let earliest = q.heap.peek().is_none_or(|Reverse(p)| at < p.at);
                q.heap.push(Reverse(Pending { at, seq, wake }));
                if earliest {
                    self.inner.changed.notify_one();
                }
                true
            }
        };
        if !queued {
            tokio::time::sleep_until(at.into()).await;
            return;
        }
        // An error means the timer thread is gone (shutdown): waking now is fine.
        let _ = woken.await;
    }
}

/// The timer thread: sleep until the earliest deadline (or a new earlier one), wake what is due.
fn run(inner: &Inner) {
    let mut q = inner.queue.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        if q.closed {
            // Dropping the senders wakes every waiter.
            q.heap.clear();
            return;
        }
        let now = Instant::now();
        while q.heap.peek().is_some_and(|Reverse(p)| p.at <= now) {
            if let Some(Reverse(p)) = q.heap.pop() {
                let _ = p.wake.send(());
            }
        }
        q = match q.heap.peek().map(|Reverse(p)| p.at) {
            Some(at) => {
                inner
                    .changed
                    .wait_timeout(q, at.saturating_duration_since(now))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => inner
                .changed
                .wait(q)
                .unwrap_or_else(PoisonError::into_inner),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A sleeper never wakes before its deadline. (How close after it wakes is measured by
    /// the benchmark, which reports the simulator's probed latency.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn never_wakes_before_the_deadline() {
        let timer = DelayTimer::start();
        for _ in 0..20 {
            let at = Instant::now() + Duration::from_millis(5);
            timer.sleep_until(at).await;
            assert!(Instant::now() >= at, "woke before the deadline");
        }
    }

    #[tokio::test]
    async fn many_waiters_wake_in_deadline_order() {
        let timer = DelayTimer::start();
        let start = Instant::now();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in (0..10u64).rev() {
            let (timer, order) = (timer.clone(), Arc::clone(&order));
            tasks.push(tokio::spawn(async move {
                timer
                    .sleep_until(start + Duration::from_millis(5 + 3 * i))
                    .await;
                order.lock().unwrap().push(i);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), (0..10).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_past_deadline_returns_at_once() {
        let timer = DelayTimer::start();
        let t = Instant::now();
        // A deadline already past: no wait for the timer thread at all.
        let woke = tokio::time::timeout(
            Duration::from_secs(10),
            timer.sleep_until(t - Duration::from_millis(1)),
        )
        .await;
        assert!(woke.is_ok());
    }
}

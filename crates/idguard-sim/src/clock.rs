//! The simulator's wall clock: the time it was started at (given in [`SimConfig::now`], or the
//! real clock) plus the monotonic time since. Generated usage (last logins, audit events) is
//! placed relative to the start, so a test that fixes `now` sees the same org on every run;
//! what clients do to the simulator is stamped a little later, in order.
//!
//! It also writes timestamps the way Infisical's JSON does (JavaScript's `toISOString`).
//!
//! [`SimConfig::now`]: crate::SimConfig::now

use std::time::Instant;

use jiff::{SignedDuration, Timestamp};

/// A start time and the monotonic instant it corresponds to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    base: Timestamp,
    started: Instant,
}

impl Clock {
    /// A clock reading `base` now (the real time when `None`).
    pub(crate) fn new(base: Option<Timestamp>) -> Clock {
        Clock {
            base: base.unwrap_or_else(Timestamp::now),
            started: Instant::now(),
        }
    }

    /// The time the simulator started at.
    pub(crate) fn start(&self) -> Timestamp {
        self.base
    }

    /// The current time.
    pub(crate) fn now(&self) -> Timestamp {
        let elapsed =
            SignedDuration::try_from(self.started.elapsed()).unwrap_or(SignedDuration::MAX);
        self.base.saturating_add(elapsed).unwrap_or(self.base)
    }
}

/// `2026-11-25T16:46:27.513Z`: always milliseconds, always `Z` (JavaScript `toISOString`).
pub(crate) fn iso_millis(t: Timestamp) -> String {
    let whole = t.strftime("%Y-%m-%dT%H:%M:%S");
    format!("{whole}.{:03}Z", t.subsec_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Timestamps come out in JavaScript's form, with milliseconds even when they are zero.
    #[test]
    fn iso_millis_matches_javascript() {
        let t: Timestamp = "2026-11-25T16:46:27.513Z".parse().unwrap();
        assert_eq!(iso_millis(t), "2026-11-25T16:46:27.513Z");
        let t: Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
        assert_eq!(iso_millis(t), "2026-01-02T03:04:05.000Z");
    }

    /// A given start is what the clock reads first, and it only moves forward.
    #[test]
    fn a_given_start_is_kept() {
        let base: Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
        let clock = Clock::new(Some(base));
        assert_eq!(clock.start(), base);
        let a = clock.now();
        let b = clock.now();
        assert!(base <= a && a <= b);
    }
}

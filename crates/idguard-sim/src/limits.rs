//! Fixed-window rate limiting like Infisical's `@fastify/rate-limit` setup: per client IP and
//! category (read or write), plus a global cap of 600 requests per window and IP. A window
//! starts at the first request counted in it; every request counts, refused ones included.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::{RateLimit, RequestClass};

/// Infisical's global per-IP cap per window.
pub(crate) const GLOBAL_CAP: u32 = 600;

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    count: u32,
}

/// The limiter's verdict on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// No limits configured.
    Unlimited,
    /// Allowed; header values `(limit, remaining, reset seconds)`.
    Allowed {
        limit: u32,
        remaining: u32,
        reset: u64,
    },
    /// Refused with 429.
    Limited {
        limit: u32,
        reset: u64,
        retry_after_header: bool,
        window: Duration,
    },
}

/// Window counters.
#[derive(Debug)]
pub(crate) struct Limiter {
    config: Option<RateLimit>,
    windows: HashMap<(IpAddr, RequestClass), Window>,
    global: HashMap<IpAddr, Window>,
}

impl Limiter {
    pub(crate) fn new(config: Option<RateLimit>) -> Limiter {
        Limiter {
            config,
            windows: HashMap::new(),
            global: HashMap::new(),
        }
    }

    /// Counts one request against the global cap (Infisical: an `onRequest` hook, so before
    /// authentication). `Some` when refused.
    pub(crate) fn check_global(&mut self, ip: IpAddr, now: Instant) -> Option<Verdict> {
        let cfg = self.config.as_ref()?;
        let window = cfg.window.max(Duration::from_millis(1));
        let w = bump(self.global.entry(ip).or_insert(fresh(now)), now, window);
        (w.count > GLOBAL_CAP).then(|| Verdict::Limited {
            limit: GLOBAL_CAP,
            reset: reset_of(w, now, window),
            retry_after_header: cfg.retry_after_header,
            window,
        })
    }

    /// Counts one request against its category's limit (Infisical: a `preValidation` hook, so
    /// after authentication) and decides.
    pub(crate) fn check(&mut self, ip: IpAddr, class: RequestClass, now: Instant) -> Verdict {
        let Some(cfg) = &self.config else {
            return Verdict::Unlimited;
        };
        let window = cfg.window.max(Duration::from_millis(1));
        let limit = match class {
            RequestClass::Read => cfg.reads,
            RequestClass::Write => cfg.writes,
        };
        let w = bump(
            self.windows.entry((ip, class)).or_insert(fresh(now)),
            now,
            window,
        );
        if w.count > limit {
            return Verdict::Limited {
                limit,
                reset: reset_of(w, now, window),
                retry_after_header: cfg.retry_after_header,
                window,
            };
        }
        Verdict::Allowed {
            limit,
            remaining: limit.saturating_sub(w.count),
            reset: reset_of(w, now, window),
        }
    }
}

fn fresh(now: Instant) -> Window {
    Window {
        start: now,
        count: 0,
    }
}

/// Starts a new window when the old one is over, then counts one request.
fn bump(w: &mut Window, now: Instant, window: Duration) -> Window {
    if now.duration_since(w.start) >= window {
        *w = fresh(now);
    }
    w.count = w.count.saturating_add(1);
    *w
}

/// Whole seconds (rounded up) until the window resets.
fn reset_of(w: Window, now: Instant, window: Duration) -> u64 {
    let left = window.saturating_sub(now.duration_since(w.start));
    left.as_secs() + u64::from(left.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_cap_counts_everything() {
        let mut l = Limiter::new(Some(RateLimit {
            reads: 10_000,
            writes: 10_000,
            window: Duration::from_secs(60),
            retry_after_header: false,
        }));
        let ip: IpAddr = [127, 0, 0, 1].into();
        let now = Instant::now();
        for _ in 0..GLOBAL_CAP {
            assert_eq!(l.check_global(ip, now), None);
        }
        assert!(matches!(
            l.check_global(ip, now),
            Some(Verdict::Limited {
                limit: GLOBAL_CAP,
                ..
            })
        ));
    }

    #[test]
    fn fixed_window_refuses_then_resets() {
        let mut l = Limiter::new(Some(RateLimit {
            reads: 2,
            writes: 1,
            window: Duration::from_secs(10),
            retry_after_header: true,
        }));
        let ip: IpAddr = [127, 0, 0, 1].into();
        let t0 = Instant::now();
        assert!(matches!(
            l.check(ip, RequestClass::Read, t0),
            Verdict::Allowed { remaining: 1, .. }
        ));
        assert!(matches!(
            l.check(ip, RequestClass::Read, t0),
            Verdict::Allowed { remaining: 0, .. }
        ));
        assert!(matches!(
            l.check(ip, RequestClass::Read, t0),
            Verdict::Limited { reset: 10, .. }
        ));
        assert!(matches!(
            l.check(ip, RequestClass::Write, t0),
            Verdict::Allowed { .. }
        ));
        let later = t0 + Duration::from_secs(11);
        assert!(matches!(
            l.check(ip, RequestClass::Read, later),
            Verdict::Allowed { .. }
        ));
    }
}

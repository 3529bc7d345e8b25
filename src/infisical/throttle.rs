//! Client-side throttling per request class (reads, writes): an evenly paced rate limiter
//! (governor, burst 1), a shared "resume at" gate that a 429 closes for the whole class, the
//! adaptation of the pace to what the server actually allows, and the parsing of how long a
//! 429 asks us to wait.
//!
//! Adaptation: when a 429 arrives, the class is paced at 95% of the rate the server let
//! through over the last minute (its real budget, whatever idguard was told); after a minute
//! without a 429 the pace creeps back up by 10% every 10 s, never above the configured rate.
//!
//! It does not send anything; the transport asks it when it may.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use http::header::{HeaderMap, RETRY_AFTER};
use tokio::time::Instant;

use super::options::Rate;

/// The wait after a 429 that says nothing about how long (design: about a minute).
pub(crate) const DEFAULT_429_WAIT: Duration = Duration::from_secs(60);
/// The longest 429 wait honoured; a larger value is treated as this (a guard against a broken
/// header hanging the run; the request deadline still applies).
pub(crate) const MAX_429_WAIT: Duration = Duration::from_secs(15 * 60);

/// Which rate-limit class a request belongs to (Infisical's `readLimit` / `writeLimit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// GETs and the identity search.
    Read,
    /// PATCH, login, renew.
    Write,
}

/// The throttle of one class.
pub(crate) struct Throttle {
    /// The configured rate (requests per second), if any.
    configured: Option<f64>,
    pace: Mutex<Pace>,
    resume_at: Mutex<Option<Instant>>,
    successes: Mutex<Buckets>,
}

/// The pace in force: its rate and the limiter that enforces it.
struct Pace {
    rate: Option<f64>,
    limiter: Option<Arc<DefaultDirectRateLimiter>>,
    last_429: Option<Instant>,
    last_change: Instant,
}

/// Successful requests per second over the last [`WINDOW_SECS`] seconds.
struct Buckets {
    start: Instant,
    counts: [(u64, u32); WINDOW_SECS as usize],
}

/// The window over which the server's real budget is measured (Infisical counts per minute).
const WINDOW_SECS: u64 = 60;
/// After a 429, pace at this share of what the server let through.
const BACKOFF_SHARE: f64 = 0.95;
/// After a 429 the pace holds for a whole window (the server's budget is per minute), then
/// grows by [`GROWTH`] every [`GROWTH_EVERY`] without a 429.
const QUIET_BEFORE_GROWTH: Duration = Duration::from_secs(WINDOW_SECS);
const GROWTH_EVERY: Duration = Duration::from_secs(10);
const GROWTH: f64 = 1.10;
/// The slowest pace adaptation sets (requests per second); a slower configured rate is kept
/// as it is.
const MIN_RATE: f64 = 0.2;

impl Buckets {
    fn add(&mut self, now: Instant) {
        let sec = now.saturating_duration_since(self.start).as_secs();
        let slot = &mut self.counts[(sec % WINDOW_SECS) as usize];
        if slot.0 != sec {
            *slot = (sec, 0);
        }
        slot.1 += 1;
    }

    /// Successes per second over the last window (or since the start, if shorter).
    fn rate(&self, now: Instant) -> Option<f64> {
        let elapsed = now.saturating_duration_since(self.start);
        let sec = elapsed.as_secs();
        let total: u64 = self
            .counts
            .iter()
            .filter(|(s, _)| s.saturating_add(WINDOW_SECS) > sec && *s <= sec)
            .map(|(_, n)| u64::from(*n))
            .sum();
        let span = elapsed.as_secs_f64().clamp(1.0, WINDOW_SECS as f64);
        (total > 0).then(|| total as f64 / span)
    }
}

/// A limiter pacing evenly at `rate` per second (a fraction too: 1.6/s is one request every
/// 637.5 ms), 2% slower than asked: a request can reach the server up to ~20 ms later or earlier
/// than it left, and the limit must hold in every window the server counts. The rates given
/// here are positive and finite (a configured [`Rate`], or an adapted pace of at least
/// [`MIN_RATE`]); anything else gives no limiter rather than a panic.
fn limiter(rate: f64) -> Option<Arc<DefaultDirectRateLimiter>> {
    let interval = Duration::try_from_secs_f64(1.02 / rate).ok()?;
    Quota::with_period(interval).map(|q| Arc::new(RateLimiter::direct(q)))
}

impl Throttle {
    /// A throttle pacing at `rate` (none: only the 429 gate, until a 429 teaches a pace).
    pub fn new(rate: Option<Rate>) -> Throttle {
        let configured = rate.map(|r| r.per_second_f64());
        let now = Instant::now();
        Throttle {
            configured,
            pace: Mutex::new(Pace {
                rate: configured,
                limiter: configured.and_then(limiter),
                last_429: None,
                last_change: now,
            }),
            resume_at: Mutex::new(None),
            successes: Mutex::new(Buckets {
                start: now,
                counts: [(u64::MAX, 0); WINDOW_SECS as usize],
            }),
        }
    }

    /// When the class may send again, if a 429 closed the gate and it is still closed.
    pub fn closed_until(&self) -> Option<Instant> {
        let at = *self
            .resume_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        at.filter(|t| *t > Instant::now())
    }

    /// Closes the gate until `until` (never shortens an existing closure).
    pub fn close_until(&self, until: Instant) {
        let mut at = self
            .resume_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if at.is_none_or(|t| t < until) {
            *at = Some(until);
        }
    }

    /// Waits for the pace's next slot (returns at once without one).
    pub async fn pace(&self) {
        let limiter = self
            .pace
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .limiter
            .clone();
        if let Some(l) = limiter {
            l.until_ready().await;
        }
    }

    /// A request of this class succeeded: counted, and the pace may grow back.
    pub fn note_success(&self) {
        let now = Instant::now();
        self.successes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .add(now);
        let mut pace = self.pace.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(last_429) = pace.last_429 else {
            return;
        };
        if now.saturating_duration_since(last_429) < QUIET_BEFORE_GROWTH
            || now.saturating_duration_since(pace.last_change) < GROWTH_EVERY
        {
            return;
        }
        let Some(rate) = pace.rate else { return };
        let grown = rate * GROWTH;
        let next = match self.configured {
            Some(cap) => grown.min(cap),
            None => grown,
        };
        if next > rate {
            tracing::debug!(rate = next, "no 429 for a while; pacing faster");
            pace.rate = Some(next);
            pace.limiter = limiter(next);
            pace.last_change = now;
        }
    }

    /// The server answered 429: pace the class at what it really lets through.
    pub fn note_rate_limited(&self) {
        let now = Instant::now();
        let allowed = self
            .successes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .rate(now);
        let mut pace = self.pace.lock().unwrap_or_else(PoisonError::into_inner);
        pace.last_429 = Some(now);
        let Some(allowed) = allowed else { return };
        let target = (allowed * BACKOFF_SHARE).max(MIN_RATE);
        if pace.rate.is_none_or(|r| target < r) {
            tracing::info!(
                rate = target,
                "the server rate-limits below the configured pace; pacing at what it allows"
            );
            pace.rate = Some(target);
            pace.limiter = limiter(target);
            pace.last_change = now;
        }
    }

    /// The pace in force, requests per second (`None`: unpaced).
    #[cfg(test)]
    fn rate(&self) -> Option<f64> {
        self.pace
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .rate
    }
}

/// How long a 429 asks us to wait: `Retry-After` (seconds or an HTTP date), else "try again
/// in N seconds" / "in N minutes" / "in 1 minute" in the message, else [`DEFAULT_429_WAIT`];
/// capped at [`MAX_429_WAIT`]. A `Retry-After` that is negative, unparseable or past the cap
/// is logged (once per run) and capped or ignored.
pub(crate) fn rate_limit_wait(headers: &HeaderMap, message: &str) -> Duration {
    let from_header = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| match retry_after(v, jiff::Timestamp::now()) {
            Some(wait) => Some(wait),
            None => {
                odd_retry_after(v);
                None
            }
        });
    let wait = from_header
        .or_else(|| wait_from_text(message))
        .unwrap_or(DEFAULT_429_WAIT);
    if wait > MAX_429_WAIT {
        odd_retry_after(&format!("{}s", wait.as_secs()));
    }
    wait.min(MAX_429_WAIT)
}

/// `Retry-After` as delay-seconds or an HTTP date (RFC 9110), relative to `now`; a date in
/// the past is no wait. `None` for anything else (a negative number, garbage).
fn retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") is RFC 2822 with the `GMT` zone.
    let date = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let secs = date.as_second().saturating_sub(now.as_second());
    Some(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}

/// Logs, once per run, a `Retry-After` idguard did not follow as given.
fn odd_retry_after(value: &str) {
    static LOGGED: std::sync::Once = std::sync::Once::new();
    let shown = crate::display::safe(value)
        .chars()
        .take(80)
        .collect::<String>();
    LOGGED.call_once(|| {
        tracing::warn!(
            retry_after = %shown,
            "the server asked to wait in a way idguard does not follow as given (negative, \
             unreadable, or longer than {} s); waiting at most that long",
            MAX_429_WAIT.as_secs()
        );
    });
}

/// Parses "in N second(s)", "in N minute(s)", "in a minute" from a message.
pub(crate) fn wait_from_text(message: &str) -> Option<Duration> {
    let lower = message.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || c == ',' || c == '.' || c == '!')
        .filter(|w| !w.is_empty())
        .collect();
    words.windows(3).find_map(|w| {
        if w[0] != "in" {
            return None;
        }
        let n: u64 = match w[1] {
            "a" | "an" | "one" => 1,
            n => n.parse().ok()?,
        };
        let unit = w[2];
        if unit.starts_with("sec") || unit == "s" {
            Some(Duration::from_secs(n))
        } else if unit.starts_with("min") {
            Some(Duration::from_secs(n.saturating_mul(60)))
        } else if unit.starts_with("ms") || unit.starts_with("millisec") {
            Some(Duration::from_millis(n))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::HeaderValue;

    /// `Retry-After` as seconds or as an HTTP date (in the future: the difference; in the past:
    /// no wait); negative or garbage is not a wait (the message or the default applies).
    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        let now: jiff::Timestamp = "2026-12-05T08:00:00Z".parse().expect("time");
        assert_eq!(retry_after("21", now), Some(Duration::from_secs(21)));
        assert_eq!(
            retry_after("Sat, 05 Dec 2026 08:01:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            retry_after("Sat, 05 Dec 2026 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("-5", now), None);
        assert_eq!(retry_after("soon", now), None);
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("99999999"));
        assert_eq!(rate_limit_wait(&h, ""), MAX_429_WAIT);
        h.insert(RETRY_AFTER, HeaderValue::from_static("-1"));
        assert_eq!(
            rate_limit_wait(&h, "try again in 7 seconds"),
            Duration::from_secs(7)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_paces_at_what_the_server_let_through_then_grows_back() {
        let t = Throttle::new(Some(Rate::per_second(100.0).expect("rate")));
        assert_eq!(t.rate(), Some(100.0));
        // 50 successes a second for 4 seconds, then a 429.
        for _ in 0..4 {
            for _ in 0..50 {
                t.note_success();
            }
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        t.note_rate_limited();
        let slowed = t.rate().expect("paced");
        assert!((45.0..=50.0).contains(&slowed), "{slowed}");
        // Quiet for a while: it grows back, never above the configured rate.
        tokio::time::advance(Duration::from_secs(30)).await;
        t.note_success();
        assert_eq!(
            t.rate(),
            Some(slowed),
            "holds for a whole window after a 429"
        );
        for _ in 0..40 {
            tokio::time::advance(Duration::from_secs(11)).await;
            t.note_success();
        }
        assert_eq!(t.rate(), Some(100.0));
    }

    #[tokio::test(start_paused = true)]
    async fn an_unpaced_class_learns_a_pace_from_a_429() {
        let t = Throttle::new(None);
        assert_eq!(t.rate(), None);
        for _ in 0..30 {
            t.note_success();
        }
        tokio::time::advance(Duration::from_secs(2)).await;
        t.note_rate_limited();
        let learned = t.rate().expect("a pace");
        assert!(learned > 10.0 && learned < 15.0, "{learned}");
    }

    /// The period of the limiter in force (`None`: unpaced), read from governor's answer to a
    /// second request right after a first.
    fn limiter_period(t: &Throttle) -> Option<Duration> {
        let limiter = t
            .pace
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .limiter
            .clone()?;
        let _ = limiter.check();
        let refused = limiter
            .check()
            .expect_err("burst 1: the second request waits");
        Some(refused.quota().replenish_interval())
    }

    /// A fractional rate paces at that rate, 2% slower: 1.6/s is one request every 637.5 ms.
    #[test]
    fn fractional_rates_pace_at_their_rate() {
        let t = Throttle::new(Some("1.6/s".parse().expect("rate")));
        assert_eq!(t.rate(), Some(1.6));
        assert_eq!(limiter_period(&t), Some(Duration::from_micros(637_500)));
        let t = Throttle::new(Some("30/min".parse().expect("rate")));
        assert_eq!(limiter_period(&t), Some(Duration::from_millis(2040)));
    }

    /// A configured rate slower than the adaptation floor is kept as it is, and a 429 does not
    /// speed it up to the floor.
    #[tokio::test(start_paused = true)]
    async fn a_slow_configured_rate_is_not_raised_to_the_floor() {
        let t = Throttle::new(Some("0.5/min".parse().expect("rate")));
        assert_eq!(limiter_period(&t), Some(Duration::from_secs_f64(122.4)));
        t.note_success();
        tokio::time::advance(Duration::from_secs(2)).await;
        t.note_rate_limited();
        assert_eq!(t.rate(), Some(0.5 / 60.0));
        assert_eq!(limiter_period(&t), Some(Duration::from_secs_f64(122.4)));
    }

    #[test]
    fn retry_after_text_is_parsed() {
        assert_eq!(
            wait_from_text("Rate limit exceeded. Please try again in 7 seconds"),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            wait_from_text("Rate limit exceeded. Please try again in 1 minute"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            wait_from_text("try again in 2 minutes."),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            wait_from_text("try again in a minute"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(wait_from_text("Rate limit exceeded"), None);
        assert_eq!(wait_from_text("in many seconds"), None);
    }

    #[test]
    fn header_wins_then_text_then_default() {
        let mut h = HeaderMap::new();
        assert_eq!(rate_limit_wait(&h, "nothing"), DEFAULT_429_WAIT);
        assert_eq!(
            rate_limit_wait(&h, "try again in 3 seconds"),
            Duration::from_secs(3)
        );
        h.insert(RETRY_AFTER, HeaderValue::from_static("21"));
        assert_eq!(
            rate_limit_wait(&h, "Please try again in 1 minute"),
            Duration::from_secs(21)
        );
        h.insert(RETRY_AFTER, HeaderValue::from_static("999999"));
        assert_eq!(rate_limit_wait(&h, ""), MAX_429_WAIT);
    }

    #[test]
    fn gate_only_extends() {
        let t = Throttle::new(None);
        assert!(t.closed_until().is_none());
        let later = Instant::now() + Duration::from_secs(5);
        t.close_until(later);
        t.close_until(Instant::now() + Duration::from_secs(1));
        assert_eq!(t.closed_until(), Some(later));
    }
}

//! Client-side throttling per request class (reads, writes): an evenly paced rate limiter
//! (governor, burst 1) and a shared "resume at" gate that a 429 closes for the whole class,
//! plus the parsing of how long a 429 asks us to wait.
//!
//! It does not send anything; the transport asks it when it may.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{HeaderMap, RETRY_AFTER};
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
    limiter: Option<DefaultDirectRateLimiter>,
    resume_at: Mutex<Option<Instant>>,
}

impl Throttle {
    /// A throttle pacing at `rate` (none: only the 429 gate).
    pub fn new(rate: Option<Rate>) -> Throttle {
        // Pace 2% slower than asked: a request can reach the server up to ~20 ms later or
        // earlier than it left, and the limit must hold in every window the server counts.
        let limiter = rate
            .and_then(|r| Quota::with_period(r.interval().mul_f64(1.02)))
            .map(RateLimiter::direct);
        Throttle {
            limiter,
            resume_at: Mutex::new(None),
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

    /// Waits for the rate limiter's next slot (returns at once without a limiter).
    pub async fn pace(&self) {
        if let Some(l) = &self.limiter {
            l.until_ready().await;
        }
    }
}

/// How long a 429 asks us to wait: `Retry-After` seconds, else "try again in N seconds" /
/// "in N minutes" / "in 1 minute" in the message, else [`DEFAULT_429_WAIT`]; capped at
/// [`MAX_429_WAIT`].
pub(crate) fn rate_limit_wait(headers: &HeaderMap, message: &str) -> Duration {
    let from_header = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    from_header
        .or_else(|| wait_from_text(message))
        .unwrap_or(DEFAULT_429_WAIT)
        .min(MAX_429_WAIT)
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
    use reqwest::header::HeaderValue;

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

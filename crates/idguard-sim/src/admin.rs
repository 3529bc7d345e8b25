//! The simulator's own inspection routes, for benchmarks and for poking at a running
//! `idguard sim` by hand: `GET /__sim/stats` (a summary of the request log) and
//! `GET /__sim/requests` (the raw log), both with each request's kind (`request_kind.rs`).
//! They are not Infisical routes: they bypass the rate limiter, latency, faults and
//! authentication, and are not themselves logged.
//!
//! It owns only the summarising of the log; the log is recorded by `routes.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::{LoggedRequest, RequestClass, RequestKind, Sim};

/// The window in which [`ClassStats::max_per_window`] counts requests.
pub const STATS_WINDOW: Duration = Duration::from_secs(1);

/// The inspection routes, merged into the simulator's router.
pub(crate) fn router() -> Router<Sim> {
    Router::new()
        .route("/__sim/stats", get(stats))
        .route("/__sim/requests", get(requests))
}

async fn stats(State(sim): State<Sim>) -> Response {
    let log = sim.request_log();
    axum::Json(summarize(&log).to_json()).into_response()
}

async fn requests(State(sim): State<Sim>) -> Response {
    let log = sim.request_log();
    let rows: Vec<Value> = log
        .iter()
        .map(|r| {
            json!({
                "at_ms": r.at.as_secs_f64() * 1000.0,
                "method": r.method,
                "path": r.path,
                "status": r.status,
                "class": class_name(r.class),
                "kind": r.kind.as_str(),
                "fault": r.fault.map(|f| format!("{f:?}")),
            })
        })
        .collect();
    axum::Json(Value::Array(rows)).into_response()
}

fn class_name(class: RequestClass) -> &'static str {
    match class {
        RequestClass::Read => "read",
        RequestClass::Write => "write",
    }
}

/// A summary of the request log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogStats {
    /// Requests logged.
    pub requests: u64,
    /// Per rate-limit class.
    pub read: ClassStats,
    /// Per rate-limit class.
    pub write: ClassStats,
    /// Requests per answered status (0: connection dropped).
    pub statuses: BTreeMap<u16, u64>,
    /// Per HTTP method (`GET`, `POST`, `PATCH`), whatever the class.
    pub methods: BTreeMap<String, ClassStats>,
    /// Reads of the organization's audit log (usage evidence).
    pub audit_log_reads: u64,
    /// Requests per kind (every kind listed, 0 included).
    pub kinds: BTreeMap<RequestKind, u64>,
}

/// The requests of one rate-limit class.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClassStats {
    /// Requests of the class (429s included: the server counted them).
    pub requests: u64,
    /// 429 answers.
    pub rate_limited: u64,
    /// The most requests logged in any [`STATS_WINDOW`] (a sliding window over the log).
    pub max_per_window: u64,
    /// Time of the first request since the server started.
    pub first: Option<Duration>,
    /// Time of the last request since the server started.
    pub last: Option<Duration>,
}

impl ClassStats {
    fn to_json(&self) -> Value {
        json!({
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "max_per_second": self.max_per_window,
            "first_ms": self.first.map(|d| d.as_secs_f64() * 1000.0),
            "last_ms": self.last.map(|d| d.as_secs_f64() * 1000.0),
        })
    }
}

impl LogStats {
    /// The JSON form served at `/__sim/stats`.
    pub fn to_json(&self) -> Value {
        let statuses: serde_json::Map<String, Value> = self
            .statuses
            .iter()
            .map(|(s, n)| (s.to_string(), json!(n)))
            .collect();
        let methods: serde_json::Map<String, Value> = self
            .methods
            .iter()
            .map(|(m, c)| (m.clone(), c.to_json()))
            .collect();
        let kinds: serde_json::Map<String, Value> = RequestKind::ALL
            .iter()
            .map(|k| {
                (
                    k.as_str().to_owned(),
                    json!(self.kinds.get(k).unwrap_or(&0)),
                )
            })
            .collect();
        json!({
            "requests": self.requests,
            "rate_limited": self.read.rate_limited + self.write.rate_limited,
            "read": self.read.to_json(),
            "write": self.write.to_json(),
            "statuses": statuses,
            "methods": methods,
            "audit_log_reads": self.audit_log_reads,
            "kinds": kinds,
        })
    }
}

/// The audit-log listing's path.
const AUDIT_LOG_PATH: &str = "/api/v1/organization/audit-logs";

/// Summarizes a request log.
pub fn summarize(log: &[LoggedRequest]) -> LogStats {
    let mut stats = LogStats {
        requests: log.len() as u64,
        ..LogStats::default()
    };
    let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    let mut by_method: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    for r in log {
        if r.path.starts_with(AUDIT_LOG_PATH) {
            stats.audit_log_reads += 1;
        }
        *stats.kinds.entry(r.kind).or_insert(0) += 1;
        by_method.entry(r.method.clone()).or_default().push(r.at);
        if r.status == 429 {
            stats
                .methods
                .entry(r.method.clone())
                .or_default()
                .rate_limited += 1;
        }
        *stats.statuses.entry(r.status).or_insert(0) += 1;
        let (class, idx) = match r.class {
            RequestClass::Read => (&mut stats.read, 0),
            RequestClass::Write => (&mut stats.write, 1),
        };
        class.requests += 1;
        if r.status == 429 {
            class.rate_limited += 1;
        }
        times[idx].push(r.at);
    }
    for (class, mut t) in [&mut stats.read, &mut stats.write].into_iter().zip(times) {
        t.sort_unstable();
        class.first = t.first().copied();
        class.last = t.last().copied();
        class.max_per_window = max_in_window(&t, STATS_WINDOW);
    }
    for (method, mut t) in by_method {
        t.sort_unstable();
        let m = stats.methods.entry(method).or_default();
        m.requests = t.len() as u64;
        m.first = t.first().copied();
        m.last = t.last().copied();
        m.max_per_window = max_in_window(&t, STATS_WINDOW);
    }
    stats
}

/// The most entries of sorted `times` that fit in any half-open window `[t, t + window)`.
fn max_in_window(times: &[Duration], window: Duration) -> u64 {
    let mut best = 0usize;
    let mut start = 0usize;
    for (end, t) in times.iter().enumerate() {
        while *t >= times[start] + window {
            start += 1;
        }
        best = best.max(end + 1 - start);
    }
    best as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(ms: u64, class: RequestClass, status: u16) -> LoggedRequest {
        LoggedRequest {
            at: Duration::from_millis(ms),
            method: "GET".into(),
            path: "/x".into(),
            status,
            class,
            kind: RequestKind::ConfigRead,
            fault: None,
        }
    }

    #[test]
    fn sliding_window_finds_the_densest_second() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|m| Duration::from_millis(*m))
                .collect::<Vec<_>>()
        };
        assert_eq!(max_in_window(&[], STATS_WINDOW), 0);
        // 0, 999 are in one window; 1000 starts the next one that holds 999 too.
        assert_eq!(max_in_window(&ms(&[0, 999, 1000]), STATS_WINDOW), 2);
        // A burst straddling a fixed-window boundary is counted whole: fixed windows of
        // [0, 1000) and [1000, 2000) hold 3 and 2, the window from 900 holds 4.
        assert_eq!(
            max_in_window(&ms(&[100, 900, 950, 1050, 1100, 2500]), STATS_WINDOW),
            4
        );
    }

    #[test]
    fn summary_counts_classes_statuses_and_429s() {
        let log = vec![
            req(0, RequestClass::Write, 200),
            req(10, RequestClass::Read, 200),
            req(20, RequestClass::Read, 429),
            req(1500, RequestClass::Read, 200),
            req(1600, RequestClass::Read, 0),
        ];
        let s = summarize(&log);
        assert_eq!(s.requests, 5);
        assert_eq!(s.read.requests, 4);
        assert_eq!(s.read.rate_limited, 1);
        assert_eq!(s.read.max_per_window, 2);
        assert_eq!(s.read.first, Some(Duration::from_millis(10)));
        assert_eq!(s.read.last, Some(Duration::from_millis(1600)));
        assert_eq!(s.write.requests, 1);
        assert_eq!(s.statuses.get(&200), Some(&3));
        assert_eq!(s.statuses.get(&0), Some(&1));
        let j = s.to_json();
        assert_eq!(j["rate_limited"], json!(1));
        assert_eq!(j["read"]["max_per_second"], json!(2));
        assert_eq!(j["statuses"]["429"], json!(1));
        assert_eq!(j["methods"]["GET"]["requests"], json!(5));
        assert_eq!(j["methods"]["GET"]["rate_limited"], json!(1));
        assert_eq!(j["kinds"]["config_read"], json!(5));
        assert_eq!(j["kinds"]["listing"], json!(0));
    }
}

//! Infisical Cloud Pro's per-minute rate limits, and the wall time a run's requests would need
//! under them: the bench runs against an unlimited simulator and models the limit instead of
//! waiting for it.
//!
//! Infisical counts per client IP and per minute: every request of the read class (every GET
//! of these routes, and the identity search, which the simulator classes as a read too)
//! against the plan's read limit, every write (logins, PATCHes) against the write limit, and
//! all of them against a global cap. The slowest of the three binds (at Pro's limits never the
//! global cap: 350 + 200 < 600).

/// Cloud Pro: reads per minute.
pub const READS_PER_MINUTE: u64 = 350;
/// Cloud Pro: writes per minute.
pub const WRITES_PER_MINUTE: u64 = 200;
/// Every plan: requests per minute per IP.
pub const ALL_PER_MINUTE: u64 = 600;

/// Which limit binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    Reads,
    Writes,
    Global,
}

impl Binding {
    pub fn as_str(self) -> &'static str {
        match self {
            Binding::Reads => "350 reads/min",
            Binding::Writes => "200 writes/min",
            Binding::Global => "600 requests/min",
        }
    }
}

/// The modelled wall time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Modelled {
    pub minutes: f64,
    pub binding: Binding,
}

/// The minutes `reads` reads and `writes` writes need at Cloud Pro's limits.
pub fn modelled(reads: u64, writes: u64) -> Modelled {
    let per = |n: u64, limit: u64| n as f64 / limit as f64;
    let candidates = [
        (per(reads, READS_PER_MINUTE), Binding::Reads),
        (per(writes, WRITES_PER_MINUTE), Binding::Writes),
        (per(reads + writes, ALL_PER_MINUTE), Binding::Global),
    ];
    let (minutes, binding) =
        candidates.into_iter().fold(
            (0.0, Binding::Reads),
            |best, c| if c.0 > best.0 { c } else { best },
        );
    Modelled { minutes, binding }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_limit_binds_a_read_heavy_run() {
        let m = modelled(3_500, 1);
        assert_eq!(m.binding, Binding::Reads);
        assert!((m.minutes - 10.0).abs() < 1e-9);
    }

    #[test]
    fn writes_bind_a_write_heavy_run() {
        let m = modelled(350, 400);
        assert_eq!(m.binding, Binding::Writes);
        assert!((m.minutes - 2.0).abs() < 1e-9);
    }

    /// 350 + 200 < 600: at Pro's limits the global cap never binds, whatever the mix.
    #[test]
    fn the_global_cap_never_binds_at_pro_limits() {
        for (r, w) in [(349, 199), (350, 200), (1, 1), (100_000, 57_000)] {
            assert_ne!(modelled(r, w).binding, Binding::Global, "{r} {w}");
        }
    }

    #[test]
    fn nothing_takes_no_time() {
        assert_eq!(modelled(0, 0).minutes, 0.0);
    }
}

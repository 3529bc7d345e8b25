//! Progress bars on stderr for long runs: the audit's (identities listed, configs fetched,
//! ETA) here, the writes' ([`WriteProgress`]: PATCHes done and their outcomes) in `writes`.
//! Shown only when stderr is a terminal and `--quiet` is off; otherwise every call is a no-op,
//! so cron logs stay clean. Templates fit the terminal's width (`style`).

mod style;
mod writes;

use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::ProgressBar;

pub use writes::{Tally, WriteProgress};

/// A progress display (possibly disabled). Cheap to share by reference across tasks.
pub struct Progress {
    bar: Option<ProgressBar>,
    listed: AtomicU64,
    configs_listed: AtomicU64,
    total_identities: AtomicU64,
}

impl Progress {
    /// A bar on stderr when `enabled` and stderr is a terminal; otherwise silent.
    pub fn new(enabled: bool) -> Progress {
        let bar = style::stderr_bar(enabled, None, style::audit_template);
        Progress {
            bar,
            listed: AtomicU64::new(0),
            configs_listed: AtomicU64::new(0),
            total_identities: AtomicU64::new(0),
        }
    }

    /// A silent progress (tests, library use).
    pub fn hidden() -> Progress {
        Progress::new(false)
    }

    /// The listing reported `total` identities in all.
    pub fn set_total_identities(&self, total: u64) {
        self.total_identities.store(total, Ordering::Relaxed);
        self.refresh_length();
    }

    /// One more identity listed, with `configs` auth methods to fetch.
    pub fn identity_listed(&self, configs: u64) {
        self.listed.fetch_add(1, Ordering::Relaxed);
        self.configs_listed.fetch_add(configs, Ordering::Relaxed);
        self.refresh_length();
    }

    /// One more config fetched (or failed).
    pub fn config_done(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    /// Estimated configs: those listed so far, extrapolated to the announced total.
    fn refresh_length(&self) {
        let Some(bar) = &self.bar else { return };
        let listed = self.listed.load(Ordering::Relaxed);
        let configs = self.configs_listed.load(Ordering::Relaxed);
        let total = self.total_identities.load(Ordering::Relaxed).max(listed);
        let estimate = (configs * total).checked_div(listed).unwrap_or(configs);
        bar.set_length(estimate.max(configs));
        bar.set_message(format!("ids {listed}/{total}"));
    }
}

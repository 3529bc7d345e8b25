//! The progress bar on stderr for long runs: identities listed, configs fetched, rate and ETA.
//! Shown only when stderr is a terminal and `--quiet` is off; otherwise every call is a no-op,
//! so cron logs stay clean.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

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
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner} {elapsed_precise} {bar:20} {pos}/{len} configs {per_sec} ETA {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
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

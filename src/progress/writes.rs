//! The bar of a run of writes (an apply or a rollback): changes done of those to do, with how
//! many verified, were skipped (drifted, or changed since idguard wrote them) and failed so far.
//! It counts what the caller tells it; what an outcome means is the caller's business.

use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::ProgressBar;

use super::style;

/// How one change ended, as the bar counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tally {
    /// Written and verified.
    Verified,
    /// Nothing written: the config was not what the change expected.
    Skipped,
    /// Refused, not sent, or written but not verified.
    Failed,
    /// Done, and none of the above (a restore that found nothing to do).
    Other,
}

/// A write progress display (possibly disabled). Share it by reference across tasks.
pub struct WriteProgress {
    bar: Option<ProgressBar>,
    /// What a skipped change is called: `drifted` (apply) or `changed-since` (rollback).
    skipped_label: &'static str,
    verified: AtomicU64,
    skipped: AtomicU64,
    failed: AtomicU64,
}

impl WriteProgress {
    /// A bar of `total` changes on stderr when `enabled` and stderr is a terminal; otherwise
    /// silent. `skipped_label` names the [`Tally::Skipped`] count.
    pub fn new(enabled: bool, total: u64, skipped_label: &'static str) -> WriteProgress {
        let progress = WriteProgress {
            bar: style::stderr_bar(enabled, Some(total), style::write_template),
            skipped_label,
            verified: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        };
        progress.refresh();
        progress
    }

    /// A silent display (tests, library use).
    pub fn hidden() -> WriteProgress {
        WriteProgress::new(false, 0, "skipped")
    }

    /// One more change done.
    pub fn done(&self, tally: Tally) {
        let count = match tally {
            Tally::Verified => Some(&self.verified),
            Tally::Skipped => Some(&self.skipped),
            Tally::Failed => Some(&self.failed),
            Tally::Other => None,
        };
        if let Some(count) = count {
            count.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        self.refresh();
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    /// The message: the counts so far.
    pub fn message(&self) -> String {
        format!(
            "{} verified, {} {}, {} failed",
            self.verified.load(Ordering::Relaxed),
            self.skipped.load(Ordering::Relaxed),
            self.skipped_label,
            self.failed.load(Ordering::Relaxed)
        )
    }

    fn refresh(&self) {
        if let Some(bar) = &self.bar {
            bar.set_message(self.message());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each outcome lands in its own count; other outcomes count for the bar only.
    #[test]
    fn counts_each_tally() {
        let p = WriteProgress::new(false, 5, "drifted");
        for t in [
            Tally::Verified,
            Tally::Verified,
            Tally::Skipped,
            Tally::Failed,
            Tally::Other,
        ] {
            p.done(t);
        }
        assert_eq!(p.message(), "2 verified, 1 drifted, 1 failed");
    }
}

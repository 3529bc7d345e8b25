//! How the bars look: a template chosen by the terminal's width so that a bar never wraps (a
//! wrapped bar redraws as a new line on every tick), and the bar itself on stderr. At 80
//! columns and more the bar stretches to fill what the text leaves (`{wide_bar}`); below,
//! the bar and the clock are dropped.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Width below which the narrow templates are used.
pub(super) const FULL_WIDTH: u16 = 80;

/// Assumed when the terminal does not say how wide it is.
const DEFAULT_WIDTH: u16 = 80;

/// The audit bar: configs fetched of those expected, and identities listed (message).
pub(super) fn audit_template(width: u16) -> &'static str {
    if width >= FULL_WIDTH {
        "{spinner} {elapsed_precise} {wide_bar} {pos}/{len} configs ETA {eta} {msg}"
    } else {
        "{spinner} {pos}/{len} configs ETA {eta} {msg}"
    }
}

/// The write bar: writes done of those planned, and their outcomes (message).
pub(super) fn write_template(width: u16) -> &'static str {
    if width >= FULL_WIDTH {
        "{spinner} {wide_bar} {pos}/{len} {msg} ETA {eta}"
    } else {
        "{spinner} {pos}/{len} {msg}"
    }
}

/// A bar of `len` steps (`None`: not known yet, an empty bar) on stderr with the template
/// `template` picks for the terminal's width, when `enabled` and stderr is a terminal;
/// otherwise `None` (silent).
pub(super) fn stderr_bar(
    enabled: bool,
    len: Option<u64>,
    template: fn(u16) -> &'static str,
) -> Option<ProgressBar> {
    let stderr = std::io::stderr();
    if !enabled || !stderr.is_terminal() {
        return None;
    }
    let width = terminal_size::terminal_size_of(&stderr).map_or(DEFAULT_WIDTH, |(w, _)| w.0);
    let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
    bar.set_style(style(template(width)));
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}

/// The style of a template (the default bar if the template were invalid).
pub(super) fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use indicatif::TermLike;

    use super::*;

    /// A terminal of a given width that keeps what is drawn on it, line by line.
    #[derive(Debug, Clone)]
    struct Screen {
        width: u16,
        lines: Arc<Mutex<Vec<String>>>,
    }

    impl Screen {
        fn new(width: u16) -> Screen {
            Screen {
                width,
                lines: Arc::new(Mutex::new(vec![String::new()])),
            }
        }

        fn widest(&self) -> (usize, String) {
            let lines = self.lines.lock().expect("lock");
            lines
                .iter()
                .map(|l| (l.chars().count(), l.clone()))
                .max()
                .unwrap_or_default()
        }
    }

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            self.width
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(s)?;
            self.lines.lock().expect("lock").push(String::new());
            Ok(())
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            let mut lines = self.lines.lock().expect("lock");
            for (i, part) in s.split('\n').enumerate() {
                if i > 0 {
                    lines.push(String::new());
                }
                if let Some(last) = lines.last_mut() {
                    last.push_str(part);
                }
            }
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            if let Some(last) = self.lines.lock().expect("lock").last_mut() {
                last.clear();
            }
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Draws a bar with `template(width)` at `pos` of `len` with `message`; the widest line.
    fn draw(
        template: fn(u16) -> &'static str,
        width: u16,
        pos: u64,
        len: u64,
        message: &str,
    ) -> (usize, String) {
        let screen = Screen::new(width);
        let target = ProgressDrawTarget::term_like(Box::new(screen.clone()));
        let bar = ProgressBar::with_draw_target(Some(len), target);
        bar.set_style(style(template(width)));
        bar.set_position(pos);
        bar.set_message(message.to_owned());
        bar.tick();
        screen.widest()
    }

    /// With the largest numbers a run shows at 80 columns and more (an org of 100,000
    /// identities and 130,000 configs; 99,999 writes) and at 60 (the narrow templates; 9,999
    /// writes), neither bar is wider than the terminal, and the full template draws a bar.
    #[test]
    fn bars_fit_the_terminal() {
        let audit_msg = "ids 100000/100000";
        for (width, writes, write_msg) in [
            (60, 9_999, "9999 verified, 9999 changed-since, 9999 failed"),
            (
                80,
                99_999,
                "99999 verified, 99999 changed-since, 99999 failed",
            ),
            (
                120,
                99_999,
                "99999 verified, 99999 changed-since, 99999 failed",
            ),
        ] {
            let (w, line) = draw(audit_template, width, 129_999, 130_000, audit_msg);
            assert!(w <= usize::from(width), "{w} > {width}: {line}");
            assert!(line.contains(audit_msg), "{line}");
            let (w, line) = draw(write_template, width, writes - 1, writes, write_msg);
            assert!(w <= usize::from(width), "{w} > {width}: {line}");
            assert!(line.contains(write_msg), "{line}");
        }
        let (_, line) = draw(audit_template, 80, 10, 100, audit_msg);
        assert!(line.contains('█') || line.contains('░'), "a bar: {line}");
    }
}

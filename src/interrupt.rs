//! Ctrl-C (SIGINT) as a request to stop cleanly, not a kill: the first press is recorded and
//! the running command stops starting requests, finishes the writes in flight, closes its
//! journal and writes what it has; a second press asks to stop at once (the command's future
//! is dropped, which still removes every temp file).
//!
//! An [`Interrupt`] is a plain switch, so library code and tests can stop a run without a
//! signal; [`listen_for_ctrl_c`] connects the process-wide one ([`Interrupt::process`]) to
//! SIGINT. What a stopped command says and exits with is the commands' business.

use std::io::{self, BufRead, IsTerminal, Write};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::watch;

/// A stop switch counting Ctrl-C presses. Cheap to clone (clones share the switch).
#[derive(Debug, Clone)]
pub struct Interrupt {
    presses: Arc<watch::Sender<u32>>,
}

impl Default for Interrupt {
    fn default() -> Interrupt {
        Interrupt::new()
    }
}

impl Interrupt {
    /// A switch nobody has pressed yet.
    pub fn new() -> Interrupt {
        Interrupt {
            presses: Arc::new(watch::Sender::new(0)),
        }
    }

    /// The process-wide switch: the one [`listen_for_ctrl_c`] connects to SIGINT. Never
    /// pressed while nobody listens.
    pub fn process() -> &'static Interrupt {
        static PROCESS: OnceLock<Interrupt> = OnceLock::new();
        PROCESS.get_or_init(Interrupt::new)
    }

    /// Records one press.
    pub fn press(&self) {
        self.presses.send_modify(|n| *n = n.saturating_add(1));
    }

    /// Whether a stop was asked for (at least one press).
    pub fn requested(&self) -> bool {
        *self.presses.borrow() >= 1
    }

    /// Resolves once a stop is asked for (at once if it already was).
    pub async fn stopped(&self) {
        self.presses_reach(1).await;
    }

    /// Resolves once a stop at once is asked for (a second press).
    pub async fn forced(&self) {
        self.presses_reach(2).await;
    }

    async fn presses_reach(&self, n: u32) {
        let mut rx = self.presses.subscribe();
        // The sender lives as long as `self`, so the wait ends only when `n` is reached.
        let _ = rx.wait_for(|presses| *presses >= n).await;
    }

    /// Reads one line from stdin, or `None` when a stop is asked for first (or stdin is at
    /// its end). The read runs on its own thread, so a Ctrl-C at a prompt is seen at once
    /// even though reading stdin cannot be cancelled.
    pub fn read_line(&self) -> io::Result<Option<String>> {
        if self.requested() {
            return Ok(None);
        }
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("idguard-stdin".into())
            .spawn(move || {
                let mut line = String::new();
                let read = io::stdin().lock().read_line(&mut line).map(|n| (n, line));
                let _ = tx.send(read);
            })?;
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(Ok((0, _))) => return Ok(None),
                Ok(Ok((_, line))) => return Ok(Some(line)),
                Ok(Err(e)) => return Err(e),
                Err(mpsc::RecvTimeoutError::Timeout) if self.requested() => return Ok(None),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(io::Error::other("the stdin reader stopped"));
                }
            }
        }
    }
}

/// What the first Ctrl-C prints at once (the command says later what it did).
const FIRST_PRESS: &str = "idguard: Ctrl-C: stopping; no new request is started, writes in \
flight are finished and journalled (Ctrl-C again to stop at once)";

/// Connects SIGINT to [`Interrupt::process`] for the rest of the process, once: from then on
/// Ctrl-C no longer kills idguard but presses the switch (the first press prints a line on
/// stderr). The signal is watched on a thread of its own, so a press is seen even while the
/// command's thread waits on something else (a prompt). Fails when the signal handler cannot
/// be installed; Ctrl-C then keeps its default effect.
pub fn listen_for_ctrl_c() -> io::Result<()> {
    static LISTENING: OnceLock<Result<(), String>> = OnceLock::new();
    LISTENING
        .get_or_init(|| start_listener(Interrupt::process().clone()).map_err(|e| e.to_string()))
        .clone()
        .map_err(io::Error::other)
}

/// Starts the listening thread and waits until the handler is installed.
fn start_listener(interrupt: Interrupt) -> io::Result<()> {
    let (ready_tx, ready_rx) = mpsc::channel::<io::Result<()>>();
    std::thread::Builder::new()
        .name("idguard-ctrl-c".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            runtime.block_on(async move {
                let mut presses = match sigint() {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                while presses.recv().await.is_some() {
                    interrupt.press();
                    if *interrupt.presses.borrow() == 1 {
                        let mut stderr = io::stderr().lock();
                        // On a terminal, on its own line below a bar or prompt drawn there.
                        let start = if stderr.is_terminal() { "\n" } else { "" };
                        let _ = writeln!(stderr, "{start}{FIRST_PRESS}");
                    }
                }
            });
        })?;
    ready_rx
        .recv()
        .unwrap_or_else(|_| Err(io::Error::other("the Ctrl-C listener did not start")))
}

#[cfg(unix)]
fn sigint() -> io::Result<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
}

#[cfg(windows)]
fn sigint() -> io::Result<tokio::signal::windows::CtrlC> {
    tokio::signal::windows::ctrl_c()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first press asks for a stop, the second for a stop at once; waiters wake up,
    /// including those that start waiting after the press.
    #[tokio::test]
    async fn presses_wake_the_waiters() {
        let interrupt = Interrupt::new();
        assert!(!interrupt.requested());
        let waiting = tokio::spawn({
            let i = interrupt.clone();
            async move { i.stopped().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        interrupt.press();
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("woken")
            .expect("joined");
        assert!(interrupt.requested());
        interrupt.stopped().await;
        let forced = interrupt.forced();
        tokio::pin!(forced);
        assert!(
            futures::poll!(forced.as_mut()).is_pending(),
            "one press is not a stop at once"
        );
        interrupt.press();
        tokio::time::timeout(Duration::from_secs(5), forced)
            .await
            .expect("a second press forces");
    }

    /// A stop already asked for answers a prompt at once, without reading stdin.
    #[test]
    fn a_pressed_switch_answers_prompts_with_none() {
        let interrupt = Interrupt::new();
        interrupt.press();
        assert!(interrupt.read_line().expect("no read").is_none());
    }
}

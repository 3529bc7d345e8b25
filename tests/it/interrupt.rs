//! Ctrl-C (SIGINT) sent to the real binary against a slowed simulator: an apply stops
//! sending, finishes what is in flight, closes its journal and exits 130 leaving no temp file,
//! and the journal rolls back exactly; an audit stopped mid-listing leaves reports marked
//! incomplete and no temp file; a second Ctrl-C stops at once, still without temp files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use idguard::remediate::journal::{self, Entry, Outcome};
use idguard_sim::{Sim, SimConfig, SimServer};

use crate::remediate::{
    Snapshot, args, command, example, patches, read_json, remediate_apply_args, run, snapshot,
    stderr,
};
use crate::support::start_sim;

/// Sends SIGINT to `child`, as Ctrl-C at a terminal does.
pub(crate) fn interrupt(child: &Child) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -INT failed");
}

/// Waits (off the runtime) for `child` to exit; fails after a minute.
pub(crate) async fn finish(child: Child) -> Output {
    let waited = tokio::task::spawn_blocking(move || child.wait_with_output());
    tokio::time::timeout(Duration::from_secs(60), waited)
        .await
        .expect("idguard exits within a minute of Ctrl-C")
        .expect("join")
        .expect("wait")
}

/// Polls `ready` until it holds; fails after a minute.
pub(crate) async fn until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `sim` has answered `n` config reads.
pub(crate) async fn until_configs_read(sim: &Sim, n: usize) {
    until("the first configs", || {
        sim.request_log()
            .iter()
            .filter(|r| r.method == "GET" && r.path.contains("/auth/"))
            .count()
            >= n
    })
    .await;
}

/// Every temp file under `dir` (idguard's are hidden, `.<name>.<random>.tmp`).
fn temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                stack.push(path);
            } else if name.starts_with('.') || name.ends_with(".tmp") {
                found.push(path);
            }
        }
    }
    found
}

/// Starts `idguard <args>` against `sim_url`, stderr captured.
fn spawn(sim_url: &str, args: Vec<String>) -> Child {
    let mut cmd = command(sim_url, args);
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    cmd.spawn().expect("idguard starts")
}

/// `remediate --apply --yes` paced at 2 writes a second.
fn slow_apply(sim_url: &str, out: &Path) -> Child {
    spawn(sim_url, remediate_apply_args(out, &["--write-rate", "2"]))
}

/// The journal read back: every line a valid entry (none cut short), and each `before` with
/// exactly one outcome. Returns the outcome of each change.
fn closed_journal(path: &Path) -> BTreeMap<String, (Outcome, Option<String>)> {
    let text = std::fs::read_to_string(path).expect("journal written");
    for (n, line) in text.lines().enumerate() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("journal line {}: {e}: {line}", n + 1));
    }
    let journal = journal::read(path).expect("a valid journal");
    assert!(!journal.truncated_tail, "the journal's last line is whole");
    let mut befores = Vec::new();
    let mut outcomes = BTreeMap::new();
    for entry in journal.entries {
        match entry {
            Entry::Before { change_id, .. } => befores.push(change_id),
            Entry::Outcome {
                change_id,
                outcome,
                error,
                ..
            } => {
                assert!(
                    outcomes.insert(change_id, (outcome, error)).is_none(),
                    "one outcome per change"
                );
            }
            Entry::Begin { .. } => {}
        }
    }
    for id in &befores {
        assert!(outcomes.contains_key(id), "change {id} has no outcome");
    }
    outcomes
}

/// A simulator answering every request after `latency`, the configs it held before any
/// write, and a folder for idguard's output.
struct Slowed {
    server: SimServer,
    before: Snapshot,
    tmp: tempfile::TempDir,
}

impl Slowed {
    async fn start(identities: usize, latency: Duration) -> Slowed {
        let server = start_sim(SimConfig {
            identities,
            latency,
            ..SimConfig::default()
        })
        .await;
        Slowed {
            before: snapshot(&server.handle()),
            server,
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    fn sim(&self) -> Sim {
        self.server.handle()
    }

    fn url(&self) -> String {
        self.server.url()
    }

    /// `name` under the output folder.
    fn out(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// No temp file is left anywhere under the output folder.
    fn assert_no_temp_files(&self) {
        assert_eq!(
            temp_files(self.tmp.path()),
            Vec::<PathBuf>::new(),
            "temp files left"
        );
    }

    /// `rollback JOURNAL --apply --yes` accepts the journal and puts every config back as it
    /// was before any write; returns how many PATCHes the rollback sent.
    async fn rolls_back(&self, journal: &Path) -> usize {
        let sent_before = patches(&self.sim()).len();
        let journal = journal.display().to_string();
        let o = run(
            &self.url(),
            args(
                &["rollback", &journal, "--apply", "--yes"],
                &self.out("undo"),
            ),
        )
        .await;
        assert_eq!(o.status.code(), Some(0), "rollback: {}", stderr(&o));
        let after = snapshot(&self.sim());
        for (key, old) in &self.before {
            assert_eq!(old, &after[key], "{key:?} not restored");
        }
        patches(&self.sim()).len() - sent_before
    }
}

/// Ctrl-C in the middle of `remediate --apply`: exit 130, no PATCH sent after the signal
/// (beyond one already on the wire), the PATCHes waiting for their turn journalled as not
/// sent, every written change verified, no temp file, a message naming the rollback command,
/// and `rollback --apply` on the journal restores the org exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_mid_apply_stops_cleanly_and_rolls_back() {
    let org = Slowed::start(60, Duration::from_millis(50)).await;
    let sim = org.sim();
    let out = org.out("apply");
    let child = slow_apply(&org.url(), &out);
    until("three writes", || patches(&sim).len() >= 3).await;
    let at_signal = patches(&sim).len();
    interrupt(&child);
    let o = finish(child).await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(130), "stderr: {err}");

    let written = patches(&sim).len();
    assert!(
        written <= at_signal + 1,
        "{} PATCHes after Ctrl-C",
        written - at_signal
    );
    let planned = read_json(&out.join("plan.json"))["changes"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(
        written < planned,
        "stopped before the end ({written} of {planned})"
    );
    org.assert_no_temp_files();

    let journal = out.join("journal.jsonl");
    let outcomes = closed_journal(&journal);
    let verified = outcomes
        .values()
        .filter(|(o, _)| *o == Outcome::Verified)
        .count();
    assert_eq!(verified, written, "every PATCH sent was verified");
    for (o, error) in outcomes.values().filter(|(o, _)| *o != Outcome::Verified) {
        assert_eq!(*o, Outcome::Failed);
        assert!(
            error.as_deref().is_some_and(|e| e.contains("not sent")),
            "{error:?}"
        );
    }
    assert!(err.contains("interrupted by Ctrl-C"), "{err}");
    assert!(
        err.contains(&format!("idguard rollback {} --apply", journal.display())),
        "{err}"
    );
    let report = read_json(&out.join("report.json"));
    assert_eq!(report["run"]["exit_code"], 130);
    assert_eq!(
        report["run"]["complete"], true,
        "the audit itself was whole"
    );
    assert!(err.contains("after apply: "), "{err}");

    assert_eq!(
        org.rolls_back(&journal).await,
        written,
        "only what was written is restored (a change never sent is left alone)"
    );
}

/// Ctrl-C while the identities are still being listed: exit 130, reports written and marked
/// incomplete (interrupted), no temp file, nothing written to the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_mid_listing_leaves_incomplete_reports_and_no_temp_files() {
    let org = Slowed::start(500, Duration::from_millis(150)).await;
    let sim = org.sim();
    let out = org.out("audit");
    let policy = example();
    let child = spawn(
        &org.url(),
        args(&["audit", "--policy", &policy, "--concurrency", "4"], &out),
    );
    until_configs_read(&sim, 5).await;
    interrupt(&child);
    let o = finish(child).await;
    assert_eq!(o.status.code(), Some(130), "stderr: {}", stderr(&o));
    org.assert_no_temp_files();
    let report = read_json(&out.join("report.json"));
    assert_eq!(report["run"]["complete"], false);
    assert_eq!(report["run"]["exit_code"], 130);
    let reason = report["run"]["incomplete_reason"].as_str().unwrap_or("");
    assert!(reason.contains("Ctrl-C"), "{reason}");
    assert!(
        report["summary"]["identities"].as_u64().unwrap_or(0) < 500,
        "stopped mid-listing"
    );
    assert!(out.join("report.csv").is_file());
    assert!(patches(&sim).is_empty());
}

/// A second Ctrl-C while a PATCH is in flight stops at once: exit 130, no temp file, no
/// report, a journal whose every line is valid, and a rollback of it restores the org.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_ctrl_c_stops_at_once_without_temp_files() {
    // Every answer takes a second: the first PATCH is still in flight when Ctrl-C comes twice.
    let org = Slowed::start(30, Duration::from_secs(1)).await;
    let out = org.out("apply");
    let journal = out.join("journal.jsonl");
    let child = slow_apply(&org.url(), &out);
    until("a journalled write", || {
        std::fs::read_to_string(&journal).is_ok_and(|j| j.contains("\"type\":\"before\""))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    interrupt(&child);
    tokio::time::sleep(Duration::from_millis(100)).await;
    interrupt(&child);
    let o = finish(child).await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(130), "stderr: {err}");
    assert!(err.contains("second Ctrl-C"), "{err}");
    assert!(
        err.contains(&format!("idguard rollback {} --apply", journal.display())),
        "{err}"
    );
    org.assert_no_temp_files();
    assert!(
        !out.join("report.json").exists(),
        "no report after a stop at once"
    );
    assert!(
        journal::read(&journal).is_ok(),
        "every journal line is valid"
    );
    org.rolls_back(&journal).await;
}

/// Ctrl-C at the confirmation prompt (typed on a terminal, where reading stdin cannot be
/// cancelled) answers no: nothing is written, the reports of the finished audit are written,
/// and the exit code is 130.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_at_the_confirmation_answers_no() {
    use portable_pty::{CommandBuilder, PtySize, native_pty_system};
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};

    let org = Slowed::start(20, Duration::ZERO).await;
    let out = org.out("prompt");
    let pty = native_pty_system()
        .openpty(PtySize {
            rows: 40,
            cols: 100,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("a pseudo-terminal");
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_idguard"));
    let policy = example();
    cmd.args(args(
        &[
            "remediate",
            "--policy",
            &policy,
            "--apply",
            "--max-changes",
            "1000",
        ],
        &out,
    ));
    for (key, value) in command(&org.url(), Vec::new()).get_envs() {
        match value {
            Some(v) => cmd.env(key, v),
            None => cmd.env_remove(key),
        }
    }
    let mut child = pty.slave.spawn_command(cmd).expect("idguard starts");
    drop(pty.slave);
    let seen = Arc::new(Mutex::new(String::new()));
    let mut reader = pty.master.try_clone_reader().expect("reader");
    let reading = std::thread::spawn({
        let seen = seen.clone();
        move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
    });
    until("the prompt", || seen.lock().unwrap().contains("Type `yes`")).await;
    let mut writer = pty.master.take_writer().expect("writer");
    writer.write_all(b"\x03").expect("Ctrl-C typed");
    writer.flush().expect("flushed");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("child state") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "Ctrl-C at the prompt did not end idguard:\n{}",
                seen.lock().unwrap()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // The rest of the output, up to the end of the terminal's stream.
    tokio::task::spawn_blocking(move || reading.join())
        .await
        .unwrap()
        .unwrap();
    let text = seen.lock().unwrap().clone();
    assert_eq!(status.exit_code(), 130, "{text}");
    assert!(
        text.contains("not confirmed; nothing was written"),
        "{text}"
    );
    assert!(patches(&org.sim()).is_empty(), "nothing written");
    org.assert_no_temp_files();
    let report = read_json(&out.join("report.json"));
    assert_eq!(report["run"]["complete"], true);
    assert_eq!(report["run"]["exit_code"], 130);
}

/// A PATCH waiting for its turn under the write rate is not sent once the switch is pressed:
/// it ends at once as `Stopped` and the server never sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_waiting_for_its_turn_is_not_sent_after_ctrl_c() {
    use idguard::infisical::{Client, ConnectOptions, Credentials, ErrorKind};
    use idguard::interrupt::Interrupt;
    use idguard::model::AuthMethod;

    let org = Slowed::start(5, Duration::ZERO).await;
    let sim = org.sim();
    let mut opts = ConnectOptions::new(
        org.url(),
        Credentials::UniversalAuth {
            client_id: idguard_sim::DEMO_CLIENT_ID.into(),
            client_secret: secrecy::SecretString::from(idguard_sim::DEMO_CLIENT_SECRET),
        },
    );
    // The login takes the only write of the minute: the PATCH waits for its turn.
    opts.write_rate = Some("1/min".parse().unwrap());
    let client = Client::connect(opts).await.unwrap();
    let (id, method) = crate::support::configured(&sim, false)
        .into_iter()
        .next()
        .unwrap();
    let stop = Interrupt::new();
    let pressing = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            stop.press();
        })
    };
    let started = Instant::now();
    let sent = client
        .patch_config_unless(
            &id,
            &AuthMethod::parse(&method),
            &serde_json::Map::new(),
            Some(&stop),
        )
        .await;
    pressing.await.unwrap();
    let err = sent.expect_err("not sent");
    assert_eq!(err.kind(), ErrorKind::Stopped, "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "stopped while waiting, not after its turn"
    );
    assert!(patches(&sim).is_empty(), "the server saw no PATCH");
}

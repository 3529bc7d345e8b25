//! What a person sees of the findings: the table of failing identities after the summary on
//! stderr (capped by `--show`, coloured only on a colour terminal, as wide as the terminal),
//! `--format table` and `--stdout json` on stdout, and report.html among the default reports.

use std::io::Read;

use idguard_sim::SimConfig;
use serde_json::Value;

use crate::remediate::{args, example, run, stderr};
use crate::support::{audit, results, start_sim};

/// The identity names of a report's failing and `error` results, worst first as the table
/// orders them (severity, rule, identity name, auth method, identity id).
fn worst_first(report: &Value) -> Vec<String> {
    let rank = |r: &Value| SEVERITIES.iter().position(|s| r["severity"] == *s);
    let text = |r: &Value, k: &str| r[k].as_str().unwrap().to_owned();
    let mut rows: Vec<&Value> = results(report)
        .iter()
        .filter(|r| r["status"] == "fail" || r["status"] == "error")
        .collect();
    rows.sort_by_key(|r| {
        (
            rank(r),
            text(r, "rule"),
            text(r, "identity_name"),
            text(r, "auth_method"),
            text(r, "identity_id"),
        )
    });
    rows.iter().map(|r| text(r, "identity_name")).collect()
}

const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "info"];

/// The identity names of the table in an output, one per result (continuation lines of a
/// result's further checks skipped): the third column of the lines after the header that
/// start with a severity.
fn shown(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| !l.trim_start().starts_with("SEVERITY"))
        .skip(1)
        .take_while(|l| l.starts_with("  ") && !l.starts_with("  and ") && !l.starts_with("  api:"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|cells| cells.first().is_some_and(|c| SEVERITIES.contains(c)))
        .map(|cells| cells.get(2).unwrap_or(&"").to_string())
        .collect()
}

async fn sample() -> idguard_sim::SimServer {
    start_sim(SimConfig {
        identities: 40,
        ..SimConfig::default()
    })
    .await
}

/// A plain `audit` prints, after the summary on stderr, the 20 worst failing results with
/// their identities' names in the report's order, then "and N more: see .../report.html";
/// stdout stays empty; report.html is among the files written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_names_the_worst_failing_identities_on_stderr() {
    let server = sample().await;
    let run = audit(&server.url(), &[]).await;
    assert_eq!(run.code(), 1, "stderr: {}", run.stderr());
    let report = run.report();
    let worst = worst_first(&report);
    assert!(worst.len() > 20, "the sample org has more than 20 failures");
    let err = run.stderr();
    assert_eq!(shown(&err), worst[..20], "{err}");
    let html = run.out_dir.join("report.html");
    assert!(html.is_file(), "report.html written by default");
    assert!(
        err.contains(&format!(
            "  and {} more: see {}\n",
            worst.len() - 20,
            html.display()
        )),
        "{err}"
    );
    assert!(
        err.find("SEVERITY") > err.find("auth configs:"),
        "after the summary"
    );
    assert!(run.stdout().is_empty(), "stdout: {}", run.stdout());
    assert!(
        !err.contains('\u{1b}'),
        "no colour when stderr is not a terminal"
    );
}

/// `--show 3` lists the 3 worst, `--show 0` none; `remediate` shows the table too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_caps_the_table() {
    let server = sample().await;
    let three = audit(&server.url(), &["--show", "3"]).await;
    let worst = worst_first(&three.report()).len();
    assert_eq!(shown(&three.stderr()).len(), 3, "{}", three.stderr());
    assert!(
        three
            .stderr()
            .contains(&format!("  and {} more: see ", worst - 3))
    );

    let none = audit(&server.url(), &["--show", "0"]).await;
    assert!(!none.stderr().contains("SEVERITY"), "{}", none.stderr());
    assert!(!none.stderr().contains(" more: see "), "{}", none.stderr());

    let tmp = tempfile::tempdir().unwrap();
    let plan = run(
        &server.url(),
        args(
            &["remediate", "--policy", &example(), "--show", "2"],
            tmp.path(),
        ),
    )
    .await;
    assert_eq!(shown(&stderr(&plan)).len(), 2, "{}", stderr(&plan));
}

/// `--format table` prints every failing result on stdout in plain text (and not on stderr);
/// `--show` caps it there too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn format_table_prints_on_stdout() {
    let server = sample().await;
    let run = audit(&server.url(), &["--format", "json,table"]).await;
    assert_eq!(run.code(), 1, "stderr: {}", run.stderr());
    let out = run.stdout();
    let worst = worst_first(&run.report());
    assert_eq!(shown(&out), worst, "every failing result: {out}");
    assert!(!out.contains(" more"), "{out}");
    assert!(!out.contains('\u{1b}'));
    assert!(!run.stderr().contains("SEVERITY"), "{}", run.stderr());

    let capped = audit(&server.url(), &["--format", "table", "--show", "5"]).await;
    assert_eq!(shown(&capped.stdout()).len(), 5, "{}", capped.stdout());
    assert!(
        capped
            .stdout()
            .contains(&format!("  and {} more", worst.len() - 5)),
        "{}",
        capped.stdout()
    );
    assert!(
        !capped.out_dir.join("report.json").exists(),
        "table is no file"
    );
}

/// `--stdout json` prints report.json on stdout, byte for byte, even when `--format` leaves
/// json out; the summary stays on stderr. With `--format table` it is refused (exit 64).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_json_is_the_report() {
    let server = sample().await;
    let run = audit(&server.url(), &["--stdout", "json", "--format", "csv"]).await;
    assert_eq!(run.code(), 1, "stderr: {}", run.stderr());
    let piped: Value = serde_json::from_str(&run.stdout()).expect("stdout is JSON");
    let written = run.report();
    assert_eq!(results(&piped), results(&written));
    assert_eq!(
        run.stdout(),
        std::fs::read_to_string(run.out_dir.join("report.json")).unwrap()
    );
    assert!(run.out_dir.join("report.csv").is_file());
    assert!(run.stderr().contains("auth configs:"), "{}", run.stderr());

    let both = audit(&server.url(), &["--stdout", "json", "--format", "table"]).await;
    assert_eq!(both.code(), 64, "{}", both.stderr());
    assert!(both.stdout().is_empty());
}

/// Off a terminal the table is coloured only when `CLICOLOR_FORCE` asks for it, and never
/// when `NO_COLOR` is set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn colour_only_when_forced_and_never_with_no_color() {
    let server = sample().await;
    let with_env = |env: &'static [(&'static str, &'static str)]| {
        let url = server.url();
        async move {
            let tmp = tempfile::tempdir().unwrap();
            let mut cmd = crate::remediate::command(
                &url,
                args(&["audit", "--policy", &example()], &tmp.path().join("out")),
            );
            cmd.envs(env.iter().copied());
            let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
                .await
                .unwrap();
            stderr(&out)
        }
    };
    let forced = with_env(&[("CLICOLOR_FORCE", "1")]).await;
    assert!(
        forced.contains("\u{1b}[1m\u{1b}[31mcritical\u{1b}[0m"),
        "{forced:?}"
    );
    let refused = with_env(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]).await;
    assert!(refused.contains("critical"), "{refused}");
    assert!(!refused.contains('\u{1b}'), "{refused:?}");
}

/// On a real terminal (a pseudo-terminal 120 columns wide) the table is coloured and its
/// lines fill the terminal's width, not the 100 columns used off a terminal; with
/// `NO_COLOR` the table's lines carry no colour code.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_terminal_the_table_fits_its_width() {
    let server = sample().await;
    let colored = in_pty(&server.url(), 120, &[]).await;
    let plain = anstream::adapter::strip_str(&colored).to_string();
    assert_eq!(shown(&plain).len(), 20, "{plain}");
    let widest = plain
        .lines()
        .skip_while(|l| !l.contains("SEVERITY"))
        .take(21)
        .map(|l| l.chars().count())
        .max();
    assert_eq!(widest, Some(120), "{plain}");
    assert!(colored.contains("\u{1b}[31m"), "{colored:?}");

    let no_color = in_pty(&server.url(), 120, &[("NO_COLOR", "1")]).await;
    let lines: Vec<&str> = no_color
        .lines()
        .skip_while(|l| !l.contains("SEVERITY"))
        .take(21)
        .collect();
    assert_eq!(lines.len(), 21, "{no_color:?}");
    assert!(lines.iter().all(|l| !l.contains('\u{1b}')), "{lines:?}");
}

/// Runs `idguard audit` against `url` in a pseudo-terminal `cols` wide (a colour `TERM`),
/// and returns everything it printed (stdout and stderr share the terminal).
#[cfg(unix)]
async fn in_pty(url: &str, cols: u16, env: &[(&str, &str)]) -> String {
    use portable_pty::{CommandBuilder, PtySize, native_pty_system};
    let tmp = tempfile::tempdir().unwrap();
    let base = crate::remediate::command(
        url,
        args(&["audit", "--policy", &example()], &tmp.path().join("out")),
    );
    let mut cmd = CommandBuilder::new(base.get_program());
    cmd.args(base.get_args());
    for (key, value) in base.get_envs() {
        match value {
            Some(v) => cmd.env(key, v),
            None => cmd.env_remove(key),
        }
    }
    cmd.env("TERM", "xterm-256color");
    for (key, value) in env {
        cmd.env(key, value);
    }
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 50,
            cols,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().unwrap();
    let output = tokio::task::spawn_blocking(move || {
        let mut bytes = Vec::new();
        // The read ends with EIO once the child has exited and closed the terminal.
        let _ = reader.read_to_end(&mut bytes);
        let status = child.wait().unwrap();
        (bytes, status)
    })
    .await
    .unwrap();
    drop(pair.master);
    let (bytes, status) = output;
    assert_eq!(status.exit_code(), 1, "{}", String::from_utf8_lossy(&bytes));
    String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
}

/// A plain `audit` (no `--out`, no `--format`) writes report.html, and `reports/latest`
/// points at its folder only once the reports are written: a second run can take
/// `--baseline reports/latest/report.json` (the first run's), and then becomes the latest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_audit_writes_html_and_latest_follows_finished_runs() {
    let server = sample().await;
    let cwd = tempfile::tempdir().unwrap();
    let audit_in_cwd = |extra: &'static [&'static str]| {
        let mut parts = vec!["audit".to_owned(), "--policy".to_owned(), example()];
        parts.extend(extra.iter().map(|s| s.to_string()));
        let mut cmd = crate::remediate::command(&server.url(), parts);
        cmd.current_dir(cwd.path());
        async move {
            tokio::task::spawn_blocking(move || cmd.output().unwrap())
                .await
                .unwrap()
        }
    };
    let latest = cwd.path().join("reports/latest");
    let first = audit_in_cwd(&[]).await;
    assert_eq!(first.status.code(), Some(1), "{}", stderr(&first));
    let first_dir = std::fs::read_link(&latest).expect("reports/latest is a link");
    for file in ["report.json", "report.csv", "report.html"] {
        assert!(latest.join(file).is_file(), "{file} in the latest run");
    }

    let second = audit_in_cwd(&["--baseline", "reports/latest/report.json"]).await;
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    let second_dir = std::fs::read_link(&latest).unwrap();
    assert_ne!(
        second_dir, first_dir,
        "the finished second run is the latest"
    );
    assert!(
        latest.join("diff.json").is_file(),
        "compared with the first run"
    );
    assert!(latest.join("report.html").is_file());
}

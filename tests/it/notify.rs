//! `audit --notify URL`: one POST to a local receiver when results are new or regressed since
//! the previous run, naming them without any secret; a receiver that fails changes neither the
//! reports nor the exit code; a plain-http URL to another host is refused before any request;
//! nothing new means no POST unless `--notify-always`; after Ctrl-C no POST is made.

use std::path::Path;
use std::sync::{Arc, Mutex};

use idguard_sim::{self as sim, SimConfig};
use serde_json::{Value, json};

use crate::hostile_server::start_hostile;
use crate::interrupt::{finish, interrupt, until_configs_read};
use crate::remediate::{args, command, example, read_json, stderr};
use crate::support::{results, start_sim};

/// What the receiver was sent: (request line, JSON body).
type Received = Arc<Mutex<Vec<(String, Value)>>>;

/// A webhook receiver on 127.0.0.1 answering every request with `status`; returns the hook's
/// URL and what it received.
async fn receiver(status: u16) -> (String, Received) {
    let received: Received = Arc::default();
    let log = received.clone();
    let url = start_hostile(Arc::new(move |line: &str, body: &Value| {
        log.lock().unwrap().push((line.to_owned(), body.clone()));
        (status, json!({}))
    }))
    .await;
    (format!("{url}/hook"), received)
}

/// The example policy with a token lifetime of up to 30 days allowed (laxer than the example's
/// 1h): the sample org's long-lived tokens pass it and fail the example.
fn lax_policy(dir: &Path) -> String {
    let text = std::fs::read_to_string(example()).unwrap();
    assert!(text.contains("max_ttl: 1h"));
    let path = dir.join("lax.yaml");
    std::fs::write(&path, text.replace("max_ttl: 1h", "max_ttl: 30d")).unwrap();
    path.display().to_string()
}

/// Runs `idguard audit --policy POLICY --out OUT EXTRA...` against `url`, off the runtime.
async fn audit(url: &str, policy: &str, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut parts = vec!["audit", "--policy", policy];
    parts.extend_from_slice(extra);
    let mut cmd = command(url, args(&parts, out));
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// A first run under the lax policy, then the example policy compared with it: the second
/// run's results that got worse.
async fn lax_then_strict(
    extra: &[&str],
) -> (
    sim::SimServer,
    tempfile::TempDir,
    std::process::Output,
    Value,
) {
    let server = start_sim(SimConfig {
        identities: 40,
        ..SimConfig::default()
    })
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let lax = lax_policy(tmp.path());
    let first = audit(&server.url(), &lax, &tmp.path().join("first"), &[]).await;
    assert!(
        tmp.path().join("first/report.json").is_file(),
        "{}",
        stderr(&first)
    );
    let baseline = tmp.path().join("first/report.json").display().to_string();
    let mut all = vec!["--baseline", baseline.as_str()];
    all.extend_from_slice(extra);
    let second = audit(&server.url(), &example(), &tmp.path().join("second"), &all).await;
    let report = read_json(&tmp.path().join("second/report.json"));
    (server, tmp, second, report)
}

/// The results the second run marks as new or regressed.
fn worse(report: &Value) -> Vec<&Value> {
    results(report)
        .iter()
        .filter(|r| {
            matches!(
                r["baseline"].as_str(),
                Some("new-failure" | "regressed" | "exemption-expired")
            )
        })
        .collect()
}

/// A stricter policy than the previous run's: exactly one POST, its text naming the rule and
/// an identity that got worse, with neither the client id, its secret nor an access token in
/// it; the run records `sent` and keeps its exit code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_failures_are_posted_once_without_secrets() {
    let (hook, received) = receiver(200).await;
    let (_server, _tmp, second, report) = lax_then_strict(&["--notify", &hook]).await;
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    let worse = worse(&report);
    assert!(!worse.is_empty(), "the stricter policy finds new failures");
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "{received:?}");
    let (line, body) = &received[0];
    assert!(line.starts_with("POST /hook "), "{line}");
    let text = body["text"].as_str().expect("a text field");
    assert!(text.contains("token-lifetime"), "{text}");
    let named = worse
        .iter()
        .filter_map(|r| r["identity_name"].as_str())
        .any(|name| text.contains(name));
    assert!(named, "an identity that got worse is named: {text}");
    for secret in [sim::DEMO_CLIENT_SECRET, sim::DEMO_CLIENT_ID, "eyJ"] {
        assert!(!body.to_string().contains(secret), "{secret} in {body}");
    }
    assert_eq!(report["run"]["notification"]["status"], "sent");
}

/// A receiver answering 500: a warning on stderr, `failed` with the reason in report.json (the
/// hook's path not in it), every report written and the exit code that of the same run
/// without --notify.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_loses_nothing() {
    let (hook, received) = receiver(500).await;
    let (server, tmp, second, report) = lax_then_strict(&["--notify", &hook]).await;
    assert_eq!(received.lock().unwrap().len(), 1);
    let err = stderr(&second);
    assert!(err.contains("warning") && err.contains("500"), "{err}");
    let notification = &report["run"]["notification"];
    assert_eq!(notification["status"], "failed", "{notification}");
    let reason = notification["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("500") && !reason.contains("/hook"),
        "{reason}"
    );
    for file in ["report.json", "report.csv", "report.html", "diff.json"] {
        assert!(tmp.path().join("second").join(file).is_file(), "{file}");
    }
    let baseline = tmp.path().join("first/report.json").display().to_string();
    let plain = audit(
        &server.url(),
        &example(),
        &tmp.path().join("third"),
        &["--baseline", &baseline],
    )
    .await;
    assert_eq!(second.status.code(), plain.status.code());
    let third = read_json(&tmp.path().join("third/report.json"));
    assert_eq!(results(&third).len(), results(&report).len());
    assert!(third["run"].get("notification").is_none());
}

/// Plain http to a host that is not loopback is refused at start (exit 64), from the flag or
/// from IDGUARD_NOTIFY_URL, before any request to the server; the hook's path is not echoed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_another_host_is_refused_before_any_request() {
    let server = start_sim(SimConfig::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let url = "http://example.com/services/hook-secret-path";
    let flag = audit(
        &server.url(),
        &example(),
        &tmp.path().join("a"),
        &["--notify", url],
    )
    .await;
    let mut cmd = command(
        &server.url(),
        args(&["audit", "--policy", &example()], &tmp.path().join("b")),
    );
    cmd.env("IDGUARD_NOTIFY_URL", url);
    let from_env = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    for run in [&flag, &from_env] {
        let err = stderr(run);
        assert_eq!(run.status.code(), Some(64), "{err}");
        assert!(
            err.contains("https") && !err.contains("hook-secret-path"),
            "{err}"
        );
    }
    assert!(server.handle().request_log().is_empty(), "no request");
    assert!(!tmp.path().join("a/report.json").exists());
}

/// Without --baseline the previous run's reports/latest/report.json is the baseline: the same
/// org audited twice has nothing new, so no POST and `nothing-new`; `--notify-always` posts
/// one summary saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_new_posts_nothing_unless_always() {
    let server = start_sim(SimConfig {
        identities: 40,
        ..SimConfig::default()
    })
    .await;
    let (hook, received) = receiver(200).await;
    let cwd = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let mut parts = vec!["audit".to_owned(), "--policy".to_owned(), example()];
        parts.extend(extra.iter().map(|s| s.to_string()));
        let mut cmd = command(&server.url(), parts);
        cmd.current_dir(cwd.path()).env("IDGUARD_NOTIFY_URL", &hook);
        async move {
            tokio::task::spawn_blocking(move || cmd.output().unwrap())
                .await
                .unwrap()
        }
    };
    let latest = cwd.path().join("reports/latest/report.json");
    let first = run(&[]).await;
    assert_eq!(first.status.code(), Some(1), "{}", stderr(&first));
    assert_eq!(
        read_json(&latest)["run"]["notification"]["status"],
        "nothing-new",
        "no previous report: nothing to compare with"
    );
    let second = run(&[]).await;
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    let report = read_json(&latest);
    assert!(report.get("baseline").is_some(), "compared with the latest");
    assert_eq!(report["run"]["notification"]["status"], "nothing-new");
    assert!(received.lock().unwrap().is_empty());

    let always = run(&["--notify-always"]).await;
    assert_eq!(always.status.code(), Some(1), "{}", stderr(&always));
    assert_eq!(read_json(&latest)["run"]["notification"]["status"], "sent");
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let text = received[0].1["text"].as_str().unwrap_or_default();
    assert!(text.contains("nothing new"), "{text}");
}

/// Ctrl-C mid-audit: the reports are written as usual for an interrupted run (exit 130), and
/// the alert is not sent (`failed`, naming Ctrl-C), even with --notify-always.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_alert_after_ctrl_c() {
    let server = start_sim(SimConfig {
        identities: 300,
        latency: std::time::Duration::from_millis(150),
        ..SimConfig::default()
    })
    .await;
    let (hook, received) = receiver(200).await;
    let cwd = tempfile::tempdir().unwrap();
    let out = cwd.path().join("out");
    let policy = example();
    let parts = [
        "audit",
        "--policy",
        &policy,
        "--concurrency",
        "4",
        "--notify",
        &hook,
        "--notify-always",
    ];
    let mut cmd = command(&server.url(), args(&parts, &out));
    cmd.current_dir(cwd.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    until_configs_read(&server.handle(), 5).await;
    interrupt(&child);
    let o = finish(child).await;
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    let report = read_json(&out.join("report.json"));
    let notification = &report["run"]["notification"];
    assert_eq!(notification["status"], "failed", "{notification}");
    assert!(
        notification["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("Ctrl-C")
    );
    assert!(received.lock().unwrap().is_empty(), "no POST after Ctrl-C");
}

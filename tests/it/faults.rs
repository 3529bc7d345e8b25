//! The fault matrix: `audit` and `remediate --apply --yes` against a simulator that fails in
//! every way the real service (or a proxy in front of it) does — 5xx bursts, HTML error pages,
//! truncated and malformed JSON, dropped connections, slow answers past `--timeout`, 429 storms
//! with and without `Retry-After`, tokens that expire or are revoked mid-run, 403 on some
//! identities, identities deleted between listing and GET, and a listing that changes while it
//! is paged.
//!
//! Every case checks the same invariants against the simulator's own records: each identity the
//! server listed is in the report (evaluated or `error`); an `error` result means exit code 2
//! and `run.complete: false`; no PATCH follows a failed GET of the same config; the attempts per
//! request stay within `--max-retries` (and `--deadline`); `run.api` counts the retries and the
//! 429s the server sent.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use idguard_sim::{self as sim, FaultKind, Faults, ListingChurn, RateLimit, Sim, SimConfig};
use serde_json::Value;

use crate::support::{idguard, login_token, policy_path, results, start_sim};

/// Which command a case runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Audit,
    Remediate,
}

const BOTH: [Mode; 2] = [Mode::Audit, Mode::Remediate];

/// How the binary authenticates.
#[derive(Debug, Clone)]
enum Creds {
    /// The simulator's universal-auth credentials (re-login possible).
    Universal,
    /// A ready-made `INFISICAL_TOKEN` (no re-login possible).
    Token(String),
}

/// One finished run.
struct Outcome {
    output: std::process::Output,
    out: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Outcome {
    fn code(&self) -> i32 {
        self.output.status.code().expect("exited normally")
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    fn report(&self) -> Value {
        let text = std::fs::read_to_string(self.out.join("report.json"))
            .unwrap_or_else(|e| panic!("report.json written ({e}); stderr: {}", self.stderr()));
        serde_json::from_str(&text).expect("report.json is JSON")
    }
}

/// Runs `mode` against `url` with `extra` flags, off the runtime.
async fn run(url: &str, mode: Mode, creds: &Creds, extra: &[&str]) -> Outcome {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let policy = policy_path("example.yaml");
    let mut cmd = idguard();
    match mode {
        Mode::Audit => cmd.arg("audit"),
        Mode::Remediate => cmd.args(["remediate", "--apply", "--yes", "--max-changes", "100000"]),
    };
    cmd.arg("--policy")
        .arg(&policy)
        .arg("--out")
        .arg(&out)
        .args(extra)
        .env("INFISICAL_DOMAIN", url)
        .stdin(std::process::Stdio::null());
    match creds {
        Creds::Universal => {
            cmd.env("INFISICAL_UNIVERSAL_AUTH_CLIENT_ID", sim::DEMO_CLIENT_ID)
                .env(
                    "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET",
                    sim::DEMO_CLIENT_SECRET,
                );
        }
        Creds::Token(token) => {
            cmd.env("INFISICAL_TOKEN", token);
        }
    }
    let output = tokio::task::spawn_blocking(move || cmd.output().expect("binary runs"))
        .await
        .expect("join");
    Outcome {
        output,
        out,
        _tmp: tmp,
    }
}

/// What a run's report says, per (identity id, auth method): whether any result is `error`.
fn report_pairs(report: &Value) -> BTreeMap<(String, String), bool> {
    let mut pairs: BTreeMap<(String, String), bool> = BTreeMap::new();
    for r in results(report) {
        let key = (
            r["identity_id"].as_str().expect("identity_id").to_owned(),
            r["auth_method"].as_str().expect("auth_method").to_owned(),
        );
        *pairs.entry(key).or_default() |= r["status"] == "error";
    }
    pairs
}

/// `/api/v1/auth/<method>/identities/<id>` → (id, method).
fn config_path(path: &str) -> Option<(String, String)> {
    let segs: Vec<&str> = path.split('/').collect();
    match segs.as_slice() {
        ["", "api", "v1", "auth", method, "identities", id] => {
            Some(((*id).to_owned(), (*method).to_owned()))
        }
        _ => None,
    }
}

/// Limits a case is run with.
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_retries: u32,
    /// Token refreshes a request may add on top of its retries (re-login and replay).
    replays: usize,
}

/// The invariants every case holds to; returns the pairs that ended in `error`.
fn check(sim: &Sim, mode: Mode, o: &Outcome, limits: Limits) -> BTreeSet<(String, String)> {
    let stderr = o.stderr();
    let report = o.report();
    let pairs = report_pairs(&report);
    let log = sim.request_log();

    // 1. Each identity the server listed is in the report, evaluated or `error`, and nothing
    // else is.
    let listed: BTreeSet<(String, String)> = sim
        .listed_identities()
        .into_iter()
        .flat_map(|(id, methods)| {
            methods
                .into_iter()
                .map(move |m| (id.clone(), m.to_string()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(!listed.is_empty(), "the server listed nothing: {stderr}");
    let reported: BTreeSet<(String, String)> = pairs.keys().cloned().collect();
    let missing: Vec<_> = listed.difference(&reported).collect();
    assert!(
        missing.is_empty(),
        "listed but not in the report: {missing:?}\n{stderr}"
    );
    let phantom: Vec<_> = reported.difference(&listed).collect();
    assert!(phantom.is_empty(), "reported but never listed: {phantom:?}");

    // 2. The exit code and run.complete say whether the run was incomplete. A listing that
    // failed for good (retries exhausted on a faulted page) ends the run with exit 69 and a
    // report marked incomplete.
    let errors: BTreeSet<(String, String)> = pairs
        .iter()
        .filter(|(_, e)| **e)
        .map(|(k, _)| k.clone())
        .collect();
    let code = o.code();
    let reason = report["run"]["incomplete_reason"].as_str().unwrap_or("");
    if code == 69 {
        assert_eq!(report["run"]["complete"], false, "{stderr}");
        assert!(
            reason.contains("listing"),
            "exit 69 without a listing failure: {reason}"
        );
    } else if errors.is_empty() {
        assert!(
            matches!(code, 0 | 1) || (mode == Mode::Remediate && code == 3),
            "complete run exited {code}: {stderr}"
        );
        assert_eq!(report["run"]["complete"], true, "{stderr}");
    } else {
        assert_eq!(
            code,
            2,
            "{} error pairs but exit {code}: {stderr}",
            errors.len()
        );
        assert_eq!(report["run"]["complete"], false);
        assert_eq!(report["run"]["exit_code"], 2);
        assert!(report["summary"]["error"].as_u64().unwrap_or(0) > 0);
    }

    // 3. No PATCH follows a failed GET of the same config: the GET right before each PATCH
    // of a config answered 200 with its real body.
    let mut last_get: BTreeMap<String, (u16, Option<FaultKind>)> = BTreeMap::new();
    for r in &log {
        if config_path(&r.path).is_none() {
            continue;
        }
        match r.method.as_str() {
            "GET" => {
                last_get.insert(r.path.clone(), (r.status, r.fault));
            }
            "PATCH" => {
                let before = last_get.get(&r.path);
                assert!(
                    matches!(before, Some((200, None))),
                    "PATCH {} after a failed GET ({before:?})",
                    r.path
                );
            }
            _ => {}
        }
    }
    if mode == Mode::Audit {
        assert!(
            log.iter().all(|r| r.method != "PATCH"),
            "an audit never writes"
        );
    }

    // 4. Attempts per config stay within --max-retries: an audit reads each config once; a
    // remediation reads it up to three times (audit, fresh read before the write, read back).
    let logical = match mode {
        Mode::Audit => 1,
        Mode::Remediate => 3,
    };
    let per_request = limits.max_retries as usize + 1 + limits.replays;
    let mut gets: BTreeMap<&str, usize> = BTreeMap::new();
    for r in log.iter().filter(|r| r.method == "GET") {
        if config_path(&r.path).is_some() {
            *gets.entry(r.path.as_str()).or_default() += 1;
        }
    }
    for (path, n) in &gets {
        assert!(
            *n <= logical * per_request,
            "{n} GETs of {path} with --max-retries {}",
            limits.max_retries
        );
    }

    // 5. run.api counts what happened on the wire.
    let api = &report["run"]["api"];
    let requests = api["requests"].as_u64().expect("run.api.requests");
    let retries = api["retries"].as_u64().expect("run.api.retries");
    let limited = api["rate_limited"].as_u64().expect("run.api.rate_limited");
    assert!(retries <= requests);
    let seen_429 = log.iter().filter(|r| r.status == 429).count() as u64;
    assert_eq!(
        limited, seen_429,
        "run.api.rate_limited vs the server's 429s"
    );
    let retryable = log
        .iter()
        .any(|r| r.status >= 500 || r.status == 0 || r.fault.is_some());
    if retryable && limits.max_retries > 0 && mode == Mode::Audit {
        assert!(retries > 0, "faults were answered but no retry counted");
    }
    errors
}

/// A small org; `identities` includes the login identity.
fn small(identities: usize) -> SimConfig {
    SimConfig {
        identities,
        ..SimConfig::default()
    }
}

/// Faults of one kind on a share of config requests, plus listing pages when `listing`.
fn faults(kinds: &[FaultKind], rate: f64) -> Faults {
    Faults {
        rate,
        kinds: kinds.to_vec(),
        listing: true,
        slow: Duration::from_secs(3),
        ..Faults::default()
    }
}

/// What one mode of a case ended with.
struct CaseResult {
    mode: Mode,
    errors: BTreeSet<(String, String)>,
    code: i32,
    rate_limited: u64,
    /// From the first to the last request the simulator logged.
    span: Duration,
}

/// Runs both modes against a fresh simulator each with `config` and `faults`, checking the
/// invariants; returns the error pairs of each mode.
async fn matrix(
    config: SimConfig,
    fault: Faults,
    extra: &[&str],
    limits: Limits,
) -> Vec<CaseResult> {
    let mut out = Vec::new();
    for mode in BOTH {
        let server = start_sim(config.clone()).await;
        let sim = server.handle();
        sim.set_faults(fault.clone());
        let o = run(&server.url(), mode, &Creds::Universal, extra).await;
        let errors = check(&sim, mode, &o, limits);
        // A slow answer the client gave up on is never logged (its handler is dropped).
        if fault.rate > 0.0 && !fault.kinds.is_empty() && !fault.kinds.contains(&FaultKind::Slow) {
            let injected: std::collections::HashSet<FaultKind> =
                sim.request_log().iter().filter_map(|r| r.fault).collect();
            assert!(
                fault.kinds.iter().all(|k| injected.contains(k)),
                "{mode:?}: faults {:?} were not all injected ({injected:?})",
                fault.kinds
            );
        }
        let log = sim.request_log();
        let span = match (log.first(), log.last()) {
            (Some(first), Some(last)) => last.at.saturating_sub(first.at),
            _ => Duration::ZERO,
        };
        out.push(CaseResult {
            mode,
            errors,
            span,
            code: o.code(),
            rate_limited: o.report()["run"]["api"]["rate_limited"]
                .as_u64()
                .unwrap_or(0),
        });
    }
    out
}

/// Random faults on a share of requests with retries to spare: whatever still failed is
/// `error`, but that is the exception, not the rule.
async fn retried(kinds: &[FaultKind]) {
    let fault = faults(kinds, 0.3);
    let args = ["--max-retries", "5", "--concurrency", "8"];
    for CaseResult { mode, errors, .. } in matrix(small(30), fault, &args, RETRIES_5).await {
        assert!(
            errors.len() <= 3,
            "{mode:?}: {} pairs failed after retries",
            errors.len()
        );
    }
}

const RETRIES_3: Limits = Limits {
    max_retries: 3,
    replays: 0,
};

const RETRIES_5: Limits = Limits {
    max_retries: 5,
    replays: 0,
};

/// 5xx bursts (500/502/503 on a third of config reads, writes and listing pages) are retried;
/// with 5 retries nearly everything is evaluated and whatever is not is `error` with exit 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_error_bursts() {
    retried(&[FaultKind::ServerError]).await;
}

/// A proxy's HTML error pages (502 text/html) are retried like any 5xx and never decoded as
/// JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_error_pages() {
    retried(&[FaultKind::HtmlPage]).await;
}

/// 200 answers whose JSON is cut in the middle or is not JSON at all are retried, never
/// evaluated as an empty config.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_and_malformed_json() {
    retried(&[FaultKind::Truncated, FaultKind::Malformed]).await;
}

/// Connections closed without an answer are retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections() {
    retried(&[FaultKind::DropConnection]).await;
}

/// With every config GET slower than `--timeout` and no retries, every listed config is
/// `error` (timed out), the run exits 2, and nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_answers_past_the_timeout_are_errors() {
    let mut fault = faults(&[FaultKind::Slow], 1.0);
    fault.listing = false;
    fault.slow = Duration::from_secs(3);
    let args = [
        "--timeout",
        "1",
        "--max-retries",
        "0",
        "--concurrency",
        "16",
    ];
    let limits = Limits {
        max_retries: 0,
        replays: 0,
    };
    for CaseResult {
        mode, errors, code, ..
    } in matrix(small(8), fault, &args, limits).await
    {
        assert!(!errors.is_empty(), "{mode:?}: slow answers were not errors");
        assert_eq!(code, 2, "{mode:?}");
    }
}

/// `--deadline` bounds a request whatever `--max-retries` says: with every config GET slow
/// past a 1 s timeout, 20 retries allowed and a 3 s deadline, no config is asked for more than
/// four times, and the run still ends (exit 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_bounds_retries() {
    let mut fault = faults(&[FaultKind::Slow], 1.0);
    fault.listing = false;
    fault.slow = Duration::from_secs(5);
    let server = start_sim(small(6)).await;
    let sim = server.handle();
    sim.set_faults(fault);
    let args = [
        "--timeout",
        "1",
        "--max-retries",
        "20",
        "--deadline",
        "3",
        "--concurrency",
        "16",
    ];
    let o = run(&server.url(), Mode::Audit, &Creds::Universal, &args).await;
    let errors = check(
        &sim,
        Mode::Audit,
        &o,
        Limits {
            max_retries: 3,
            replays: 0,
        },
    );
    assert!(!errors.is_empty());
    assert_eq!(o.code(), 2);
}

/// A 429 storm (5 reads per second) is waited out, with `Retry-After` and with only the
/// message's "try again in N seconds": nothing errs and every 429 is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_storms_are_waited_out() {
    for retry_after_header in [true, false] {
        let config = SimConfig {
            rate_limit: Some(RateLimit {
                reads: 8,
                writes: 8,
                window: Duration::from_secs(1),
                retry_after_header,
            }),
            ..small(12)
        };
        let results = matrix(
            config,
            Faults::default(),
            &["--max-retries", "2"],
            RETRIES_3,
        )
        .await;
        for r in results {
            assert!(
                r.errors.is_empty(),
                "{:?} (retry-after {retry_after_header}): {:?}",
                r.mode,
                r.errors
            );
            assert!(r.rate_limited > 0, "{:?}: the storm never came", r.mode);
        }
    }
}

/// A server that asks to pause longer than `--deadline` (a 30 s window) makes the requests
/// that cannot wait `error` at once: the run ends quickly with exit 2, and the 429s are
/// counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_past_the_deadline_is_an_error_not_a_hang() {
    let config = SimConfig {
        rate_limit: Some(RateLimit {
            reads: 6,
            writes: 6,
            window: Duration::from_secs(30),
            retry_after_header: true,
        }),
        ..small(10)
    };
    for CaseResult {
        mode,
        errors,
        code,
        span,
        ..
    } in matrix(config, Faults::default(), &["--deadline", "3"], RETRIES_3).await
    {
        assert!(!errors.is_empty(), "{mode:?}");
        assert_eq!(code, 2, "{mode:?}");
        // The simulator's log: idguard never waited out the 30 s window it was asked to.
        assert!(
            span < Duration::from_secs(30),
            "{mode:?}: requests spanned {span:?}"
        );
    }
}

/// Waits (at most 10 s) until the simulator has answered `n` config GETs, then runs `act`.
fn after_config_gets(sim: Sim, n: usize, act: fn(&Sim)) -> tokio::task::JoinHandle<bool> {
    tokio::spawn(async move {
        for _ in 0..2000 {
            let gets = sim
                .request_log()
                .iter()
                .filter(|r| r.method == "GET" && config_path(&r.path).is_some())
                .count();
            if gets >= n {
                act(&sim);
                return true;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        false
    })
}

/// A slow-ish org (20 ms per answer, 2 in flight) so a run lasts long enough to be hit.
fn paced(identities: usize) -> SimConfig {
    SimConfig {
        latency: Duration::from_millis(20),
        ..small(identities)
    }
}

const PACED: [&str; 4] = ["--concurrency", "2", "--max-retries", "2"];

/// A token that expires mid-run (universal auth): idguard logs in again and finishes with no
/// error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_expiring_mid_run_is_replaced() {
    for mode in BOTH {
        let server = start_sim(paced(30)).await;
        let sim = server.handle();
        let trigger = after_config_gets(sim.clone(), 10, Sim::expire_all_tokens);
        let o = run(&server.url(), mode, &Creds::Universal, &PACED).await;
        assert!(trigger.await.unwrap(), "{mode:?}: the token never expired");
        let limits = Limits {
            max_retries: 2,
            replays: 1,
        };
        let errors = check(&sim, mode, &o, limits);
        assert!(errors.is_empty(), "{mode:?}: {errors:?}\n{}", o.stderr());
        let logins = logins(&sim);
        assert!(logins >= 2, "{mode:?}: {logins} logins");
    }
}

fn logins(sim: &Sim) -> usize {
    sim.request_log()
        .iter()
        .filter(|r| r.path.ends_with("/universal-auth/login") && r.status == 200)
        .count()
}

/// A token revoked mid-run with universal auth: idguard logs in again and finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_replaced_by_logging_in_again() {
    for mode in BOTH {
        let server = start_sim(paced(30)).await;
        let sim = server.handle();
        let trigger = after_config_gets(sim.clone(), 10, Sim::revoke_all_tokens);
        let o = run(&server.url(), mode, &Creds::Universal, &PACED).await;
        assert!(trigger.await.unwrap());
        let limits = Limits {
            max_retries: 2,
            replays: 1,
        };
        let errors = check(&sim, mode, &o, limits);
        assert!(errors.is_empty(), "{mode:?}: {errors:?}\n{}", o.stderr());
        assert!(logins(&sim) >= 2);
    }
}

/// A plain `INFISICAL_TOKEN` revoked mid-run cannot be replaced: every identity not yet read
/// is `error` (none dropped), the run exits 2, and no write happens without a good read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_plain_token_makes_the_rest_errors() {
    for mode in BOTH {
        let server = start_sim(paced(30)).await;
        let sim = server.handle();
        let token = login_token(&server.url()).await;
        sim.clear_request_log();
        let trigger = after_config_gets(sim.clone(), 6, Sim::revoke_all_tokens);
        let org = sim.org_id();
        let mut args = PACED.to_vec();
        args.extend(["--org-id", &org]);
        let o = run(&server.url(), mode, &Creds::Token(token), &args).await;
        assert!(trigger.await.unwrap());
        let limits = Limits {
            max_retries: 2,
            replays: 3,
        };
        let errors = check(&sim, mode, &o, limits);
        assert!(errors.len() > 5, "{mode:?}: {} errors", errors.len());
        assert_eq!(o.code(), 2, "{mode:?}: {}", o.stderr());
        assert_eq!(logins(&sim), 0, "no credentials to log in with");
    }
}

/// Configs whose reads answer 403 `PermissionDenied` are `error` (exit 2), never written, and
/// every other identity is still evaluated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_denied_on_some_identities() {
    for mode in BOTH {
        let server = start_sim(small(30)).await;
        let sim = server.handle();
        let denied: BTreeSet<String> = sim
            .identity_ids()
            .into_iter()
            .filter(|id| !sim.auth_methods(id).is_empty() && *id != sim.login_identity_id())
            .take(3)
            .collect();
        sim.set_faults(Faults {
            forbidden: denied.iter().cloned().collect(),
            ..Faults::default()
        });
        let o = run(
            &server.url(),
            mode,
            &Creds::Universal,
            &["--max-retries", "2"],
        )
        .await;
        let errors = check(&sim, mode, &o, RETRIES_3);
        let erred: BTreeSet<String> = errors.iter().map(|(id, _)| id.clone()).collect();
        assert_eq!(erred, denied, "{mode:?}: exactly the denied identities err");
        assert!(
            sim.request_log()
                .iter()
                .all(|r| r.method != "PATCH" || denied.iter().all(|d| !r.path.contains(d))),
            "{mode:?}: a denied identity was written"
        );
        let forbidden_reads = sim.request_log().iter().filter(|r| r.status == 403).count();
        assert!(forbidden_reads >= denied.len());
    }
}

/// Identities deleted right after the listing served them are `error` (the GET finds them
/// gone), never silently dropped, and the run exits 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_deleted_between_listing_and_get() {
    for mode in BOTH {
        let server = start_sim(small(30)).await;
        let sim = server.handle();
        let doomed: BTreeSet<String> = sim
            .identity_ids()
            .into_iter()
            .filter(|id| !sim.auth_methods(id).is_empty() && *id != sim.login_identity_id())
            .take(2)
            .collect();
        sim.set_faults(Faults {
            delete_after_listing: doomed.iter().cloned().collect(),
            ..Faults::default()
        });
        let o = run(
            &server.url(),
            mode,
            &Creds::Universal,
            &["--max-retries", "1"],
        )
        .await;
        for id in &doomed {
            assert!(sim.identity_name(id).is_none(), "{id} was deleted");
        }
        let errors = check(&sim, mode, &o, RETRIES_3);
        let erred: BTreeSet<String> = errors.iter().map(|(id, _)| id.clone()).collect();
        assert_eq!(erred, doomed, "{mode:?}");
    }
}

/// Identities added and removed while the listing is paged (`totalCount` changes between
/// pages): every identity the server listed is in the report, none twice, and with additions
/// no identity that existed from start to end is missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_that_changes_while_paged() {
    for (add, remove) in [(7, 0), (0, 7), (5, 5)] {
        for mode in BOTH {
            let server = start_sim(small(230)).await;
            let sim = server.handle();
            let before: BTreeSet<String> = sim.identity_ids().into_iter().collect();
            sim.set_faults(Faults {
                listing_churn: Some(ListingChurn {
                    after_page: 1,
                    add,
                    remove,
                }),
                ..Faults::default()
            });
            let o = run(
                &server.url(),
                mode,
                &Creds::Universal,
                &["--max-retries", "1"],
            )
            .await;
            let errors = check(&sim, mode, &o, RETRIES_3);
            let after: BTreeSet<String> = sim.identity_ids().into_iter().collect();
            assert_eq!(after.len() + remove, before.len() + add, "the org changed");
            let report = o.report();
            let reported: BTreeSet<String> = report_pairs(&report)
                .into_keys()
                .map(|(id, _)| id)
                .collect();
            let stable: Vec<&String> = before
                .intersection(&after)
                .filter(|id| !sim.auth_methods(id).is_empty())
                .filter(|id| !reported.contains(*id))
                .collect();
            // Removals shift later identities onto pages already served: the pager lists again
            // when totalCount changes, so every identity present throughout is audited.
            assert!(
                stable.is_empty(),
                "{mode:?} +{add}/-{remove}: identities present throughout were never \
                 audited: {stable:?}"
            );
            let mut seen = BTreeMap::new();
            for r in results(&report) {
                let key = (
                    r["identity_id"].as_str().unwrap().to_owned(),
                    r["auth_method"].as_str().unwrap().to_owned(),
                    r["rule"].as_str().unwrap().to_owned(),
                );
                *seen.entry(key).or_insert(0) += 1;
            }
            assert!(
                seen.values().all(|n| *n == 1),
                "{mode:?}: a result appears twice"
            );
            let erred: BTreeSet<&String> = errors.iter().map(|(id, _)| id).collect();
            assert!(
                erred.len() <= remove,
                "{mode:?} +{add}/-{remove}: only removed identities may err: {errors:?}"
            );
        }
    }
}

//! The write path against hostile files and failing disks: plans edited by hand are refused
//! before any request, credentials never go to a server named by a plan or journal, and a
//! journal that cannot be written stops an apply before its next PATCH (and what was written
//! can still be rolled back).

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use idguard::infisical::{Client, ConnectOptions, Credentials};
use idguard::remediate::journal::{self, Entry, JournalSink, JournalWriter};
use idguard::remediate::plan::Plan;
use idguard::remediate::{apply, recheck, rollback, self_guard};
use idguard_sim::{self as sim, Sim, SimConfig};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::remediate::{
    apply_plan, args, command, example, patches, read_json, remediate_apply, run, snapshot, stderr,
};
use crate::support::{idguard, start_sim};

/// Plans `example.yaml` on a fresh simulator; returns the plan's path.
async fn make_plan(url: &str, dir: &Path) -> PathBuf {
    let out = dir.join("plan");
    let o = run(url, args(&["remediate", "--policy", &example()], &out)).await;
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    out.join("plan.json")
}

/// The first change whose `after` has a field matching `pick`, and that field.
fn find_change(plan: &Value, pick: impl Fn(&str, &Value) -> bool) -> (usize, String) {
    for (i, c) in plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .enumerate()
    {
        if let Some((field, _)) = c["after"]
            .as_object()
            .expect("after")
            .iter()
            .find(|(k, v)| pick(k, v))
        {
            return (i, field.clone());
        }
    }
    panic!("no change matches");
}

/// Sets `field` of change `i` to `value` in both `after` and the PATCH body, as a person
/// editing the file would.
fn set(plan: &mut Value, i: usize, field: &str, value: Value) {
    plan["changes"][i]["after"][field] = value.clone();
    plan["changes"][i]["patch"][field] = value;
}

/// A plan edited by hand in any of the ways that would loosen or misdirect a write (looser
/// max TTL, wider CIDR, extra allowlist entry, another identity id) is refused as a whole: exit
/// 65, each offending change named, and not one request reaches the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edited_plans_are_refused_before_any_request() {
    let server = start_sim(SimConfig {
        identities: 150,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    let tmp = tempfile::tempdir().unwrap();
    let plan_path = make_plan(&server.url(), tmp.path()).await;
    let original = read_json(&plan_path);
    let other_identity = sim
        .identity_ids()
        .into_iter()
        .find(|id| {
            original["changes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["identity_id"] != *id)
        })
        .expect("an identity without a change");

    let mut edits: Vec<(&str, Value)> = Vec::new();
    let mut looser = original.clone();
    let (i, _) = find_change(&original, |k, v| {
        k == "accessTokenMaxTTL" && v.as_u64() > Some(0)
    });
    let ttl = original["changes"][i]["after"]["accessTokenMaxTTL"]
        .as_u64()
        .unwrap();
    set(&mut looser, i, "accessTokenMaxTTL", json!(ttl * 10));
    edits.push(("looser max TTL", looser));
    let mut unlimited = original.clone();
    set(&mut unlimited, i, "accessTokenMaxTTL", json!(0));
    edits.push(("unlimited max TTL", unlimited));
    let mut wider = original.clone();
    let (i, field) = find_change(&original, |k, _| k.ends_with("TrustedIps"));
    let mut ips = original["changes"][i]["after"][&field]
        .as_array()
        .unwrap()
        .clone();
    ips.push(json!({"ipAddress": "0.0.0.0/0"}));
    set(&mut wider, i, &field, Value::Array(ips));
    edits.push(("wider CIDR", wider));
    let mut extra = original.clone();
    let (i, field) = find_change(&original, |k, v| k.starts_with("allowed") && v.is_string());
    let list = original["changes"][i]["after"][&field].as_str().unwrap();
    set(&mut extra, i, &field, json!(format!("{list}, intruder")));
    edits.push(("extra allowlist entry", extra));
    let mut moved = original.clone();
    moved["changes"][0]["identity_id"] = json!(other_identity);
    edits.push(("another identity id", moved));

    for (what, edited) in edits {
        let path = tmp.path().join(format!("{}.json", what.replace(' ', "-")));
        std::fs::write(&path, serde_json::to_vec_pretty(&edited).unwrap()).unwrap();
        sim.clear_request_log();
        let o = run(
            &server.url(),
            args(
                &[
                    "apply",
                    &path.display().to_string(),
                    "--yes",
                    "--max-changes",
                    "1000",
                ],
                &tmp.path().join(format!("apply-{}", what.replace(' ', "-"))),
            ),
        )
        .await;
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(65), "{what}: {err}");
        assert!(
            err.contains("refused: change"),
            "{what}: the change is named: {err}"
        );
        assert!(err.contains("nothing was written"), "{what}: {err}");
        assert_eq!(sim.request_log().len(), 0, "{what}: no request at all");
    }

    // The unedited plan applies.
    let o = run(
        &server.url(),
        args(
            &[
                "apply",
                &plan_path.display().to_string(),
                "--yes",
                "--max-changes",
                "1000",
            ],
            &tmp.path().join("apply-original"),
        ),
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!patches(&sim).is_empty());
}

/// Whether anything connected to `listener` (non-blocking).
fn connected(listener: &TcpListener) -> bool {
    listener.accept().is_ok()
}

/// The idguard command with the simulator's credentials but no server configured.
fn unconfigured(args: &[&str]) -> std::process::Command {
    let mut cmd = idguard();
    cmd.args(args)
        .env("INFISICAL_UNIVERSAL_AUTH_CLIENT_ID", sim::DEMO_CLIENT_ID)
        .env(
            "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET",
            sim::DEMO_CLIENT_SECRET,
        )
        .stdin(std::process::Stdio::null());
    cmd
}

async fn output(mut cmd: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("binary runs"))
        .await
        .expect("join")
}

/// A plan and a journal naming a local listener: with INFISICAL_DOMAIN set the configured
/// server is used (a warning names the file's) and the listener never gets a connection; with
/// nothing configured `apply`, `rollback` and `rollback --apply` exit 64 before any request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_never_go_to_a_server_named_by_a_file() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let trap = format!("http://{}", listener.local_addr().unwrap());
    let server = start_sim(SimConfig {
        identities: 60,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    let tmp = tempfile::tempdir().unwrap();
    let plan_path = make_plan(&server.url(), tmp.path()).await;
    let mut plan = read_json(&plan_path);
    plan["api_url"] = json!(trap);
    let trapped_plan = tmp.path().join("trapped-plan.json");
    std::fs::write(&trapped_plan, serde_json::to_vec(&plan).unwrap()).unwrap();

    // Configured: the plan's URL is only compared.
    let applied = tmp.path().join("apply");
    let o = apply_plan(&server.url(), &trapped_plan, &applied).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: the plan was made for"),
        "{}",
        stderr(&o)
    );
    let journal_text = std::fs::read_to_string(applied.join("journal.jsonl")).unwrap();
    let mut lines: Vec<Value> = journal_text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines[0]["api_url"] = json!(trap);
    let trapped_journal = tmp.path().join("trapped-journal.jsonl");
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&trapped_journal, body).unwrap();
    let o = output(command(
        &server.url(),
        vec!["rollback".into(), trapped_journal.display().to_string()],
    ))
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("would be restored"), "{}", stderr(&o));

    // Nothing configured: stop before any request.
    sim.clear_request_log();
    let journal = trapped_journal.display().to_string();
    let plan_arg = trapped_plan.display().to_string();
    let out = tmp.path().join("never").display().to_string();
    for argv in [
        vec!["apply", plan_arg.as_str(), "--yes", "--out", out.as_str()],
        vec!["rollback", journal.as_str()],
        vec![
            "rollback",
            journal.as_str(),
            "--apply",
            "--yes",
            "--out",
            out.as_str(),
        ],
    ] {
        let o = output(unconfigured(&argv)).await;
        assert_eq!(o.status.code(), Some(64), "{argv:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("--api-url"), "says how: {}", stderr(&o));
    }
    assert!(
        !connected(&listener),
        "the listener named by the files got a connection"
    );
    assert_eq!(sim.request_log().len(), 0, "no request anywhere");
}

/// A journal disk that fails after its fourth line (begin, before, outcome, before).
struct FailingDisk {
    file: std::fs::File,
    lines_left: usize,
}

impl Write for FailingDisk {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.lines_left == 0 {
            return Err(std::io::Error::other("injected: the disk is gone"));
        }
        self.file.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl JournalSink for FailingDisk {
    fn sync(&mut self) -> std::io::Result<()> {
        self.lines_left = self.lines_left.saturating_sub(1);
        self.file.sync_data()
    }
}

/// A journal write that fails mid-apply stops the apply before its next PATCH (the outcomes
/// already known are kept), and `rollback` of what the journal holds restores the org.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_journal_stops_the_apply_and_rollback_restores_what_was_written() {
    let server = start_sim(SimConfig {
        identities: 60,
        ..SimConfig::default()
    })
    .await;
    let sim: Sim = server.handle();
    let tmp = tempfile::tempdir().unwrap();
    let plan_path = make_plan(&server.url(), tmp.path()).await;
    let before = snapshot(&sim);
    let plan = Plan::load(&plan_path).unwrap();
    let policy = idguard::policy::load(Path::new(&example())).unwrap();
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    assert!(recheck::recheck(&plan, &policy, today).is_empty());
    let client = Client::connect(ConnectOptions::new(
        server.url(),
        Credentials::UniversalAuth {
            client_id: sim::DEMO_CLIENT_ID.into(),
            client_secret: SecretString::from(sim::DEMO_CLIENT_SECRET),
        },
    ))
    .await
    .unwrap();
    let runs_as = self_guard::RunsAs::Identity(client.identity_id().unwrap());
    let split = self_guard::split(plan.changes.clone(), &runs_as, false);
    assert!(split.writes() >= 4, "enough changes to stop in the middle");

    let path = tmp.path().join("journal.jsonl");
    let file = std::fs::File::create(&path).unwrap();
    let mut writer = JournalWriter::with_sink(
        &path,
        Box::new(FailingDisk {
            file,
            lines_left: 4,
        }),
    );
    writer
        .append(&Entry::Begin {
            run_id: "r".into(),
            at: "2026-12-05T00:00:00Z".into(),
            api_url: server.url(),
            org_id: client.org_id().into(),
            action: "apply".into(),
            filter: None,
        })
        .unwrap();
    sim.clear_request_log();
    let writing = apply::Writing::new(1);
    let run = apply::apply(
        &client,
        &policy,
        &split,
        &Mutex::new(writer),
        today,
        &writing,
    )
    .await;
    assert!(run.journal_error.is_some(), "the failure is reported");
    assert_eq!(
        run.outcomes.len(),
        2,
        "the second change's outcome is known and kept"
    );
    assert_eq!(run.not_attempted, split.writes() - 2);
    assert_eq!(
        patches(&sim).len(),
        2,
        "no PATCH after the failed journal write"
    );

    // The journal holds both `before` lines: a rollback restores the org exactly.
    let journal = journal::read(&path).unwrap();
    let items = rollback::items(&journal);
    assert_eq!(items.len(), 2);
    let undo = tmp.path().join("undo.jsonl");
    let undo_writer = Mutex::new(JournalWriter::create(&undo).unwrap());
    let run =
        rollback::rollback(&client, &items, Some(&undo_writer), &apply::Writing::new(4)).await;
    assert!(run.journal_error.is_none());
    assert!(
        run.steps
            .iter()
            .all(|(_, o)| o.outcome == journal::Outcome::Verified)
    );
    assert_eq!(
        snapshot(&sim),
        before,
        "every config is back to its state before the apply"
    );
}

/// A journal with a corrupt line in the middle is refused by `rollback` with its line number
/// (exit 65, no request); the intact journal's dry run marks the restores that loosen a
/// config; one cut off at the end is read, with a note.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_refuses_a_journal_corrupt_in_the_middle() {
    let server = start_sim(SimConfig {
        identities: 40,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    let tmp = tempfile::tempdir().unwrap();
    let plan_path = make_plan(&server.url(), tmp.path()).await;
    let applied = tmp.path().join("apply");
    let o = apply_plan(&server.url(), &plan_path, &applied).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(applied.join("journal.jsonl")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 4);
    lines[2] = "{\"type\":\"before\",";
    let corrupt = tmp.path().join("corrupt.jsonl");
    std::fs::write(&corrupt, lines.join("\n") + "\n").unwrap();
    sim.clear_request_log();
    let o = output(command(
        &server.url(),
        vec!["rollback".into(), corrupt.display().to_string()],
    ))
    .await;
    assert_eq!(o.status.code(), Some(65), "{}", stderr(&o));
    assert!(stderr(&o).contains("corrupt.jsonl:3:"), "{}", stderr(&o));
    assert_eq!(sim.request_log().len(), 0);

    // The journal as written: its dry run shows each restore with both values and marks the
    // ones that widen access again.
    let o = output(command(
        &server.url(),
        vec![
            "rollback".into(),
            applied.join("journal.jsonl").display().to_string(),
        ],
    ))
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains(" → "), "{}", stderr(&o));
    assert!(stderr(&o).contains("! widens access: "), "{}", stderr(&o));
    assert!(stderr(&o).contains("widen access again"), "{}", stderr(&o));

    let cut = tmp.path().join("cut.jsonl");
    std::fs::write(&cut, format!("{}{{\"type\":\"outc", text)).unwrap();
    let o = output(command(
        &server.url(),
        vec!["rollback".into(), cut.display().to_string()],
    ))
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("cut short"), "{}", stderr(&o));
}

/// The organization check is against the identity idguard logs in as: a journal naming another
/// organization is refused (exit 64, no write), and so is an `--org-id` that is not the
/// logged-in identity's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_for_another_organization_are_refused() {
    let server = start_sim(SimConfig {
        identities: 40,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    let tmp = tempfile::tempdir().unwrap();
    let plan_path = make_plan(&server.url(), tmp.path()).await;
    let applied = tmp.path().join("apply");
    let o = apply_plan(&server.url(), &plan_path, &applied).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(applied.join("journal.jsonl")).unwrap();
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines[0]["org_id"] = json!("0d8c1b2a-0000-4000-8000-000000000000");
    let other = tmp.path().join("other-org.jsonl");
    std::fs::write(
        &other,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    sim.clear_request_log();
    let o = run(
        &server.url(),
        args(
            &["rollback", &other.display().to_string(), "--apply", "--yes"],
            &tmp.path().join("r1"),
        ),
    )
    .await;
    assert_eq!(o.status.code(), Some(64), "{}", stderr(&o));
    assert!(stderr(&o).contains("is for organization"), "{}", stderr(&o));
    assert!(patches(&sim).is_empty());

    let journal = applied.join("journal.jsonl").display().to_string();
    let o = run(
        &server.url(),
        args(
            &[
                "rollback",
                &journal,
                "--apply",
                "--yes",
                "--org-id",
                "0d8c1b2a-0000-4000-8000-000000000000",
            ],
            &tmp.path().join("r2"),
        ),
    )
    .await;
    assert_eq!(o.status.code(), Some(64), "{}", stderr(&o));
    assert!(stderr(&o).contains("--org-id"), "{}", stderr(&o));
    assert!(patches(&sim).is_empty());
}

/// A stored trusted-IP list that admits every address.
fn wide_open() -> Value {
    json!([
        {"ipAddress": "0.0.0.0", "type": "ipv4", "prefix": 0},
        {"ipAddress": "::", "type": "ipv6", "prefix": 0}
    ])
}

/// A simulator that enforces trusted IPs, whose login identity may log in and use its token
/// from anywhere (127.0.0.1 included), and a policy that narrows every identity's network.
async fn enforcing_org(dir: &Path) -> (idguard_sim::SimServer, PathBuf) {
    let server = start_sim(SimConfig {
        identities: 60,
        enforce_trusted_ips: true,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    // Self-protection alone: with audit logs, usage evidence (idguard's own logins from
    // 127.0.0.1) would hold the same narrowing first.
    sim.set_audit_logs(idguard_sim::AuditLogs::Disabled);
    let me = sim.login_identity_id();
    for field in ["accessTokenTrustedIps", "clientSecretTrustedIps"] {
        sim.set_config_field(&me, &idguard_sim::AuthMethod::Universal, field, wide_open());
    }
    let policy = dir.join("network.yaml");
    std::fs::write(
        &policy,
        "version: 1\nrules:\n  - id: network\n    severity: critical\n    trusted_ips:\n      \
         allowed_cidrs: [10.0.0.0/8, \"2001:db8::/32\"]\n      fallback_cidrs: [10.0.0.0/8]\n",
    )
    .unwrap();
    (server, policy)
}

/// A policy that narrows every identity's network, on a simulator that enforces trusted IPs
/// for logins and token use: `remediate --apply` fixes every other config and leaves
/// idguard's own identity untouched (held as manual, so the run keeps working); with
/// `--include-self` that identity's change is the last PATCH of the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idguard_never_locks_itself_out_unless_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, policy) = enforcing_org(tmp.path()).await;
    let sim = server.handle();
    let me = sim.login_identity_id();
    let mine = format!("/api/v1/auth/universal-auth/identities/{me}");
    let before = sim.config_json(&me, &idguard_sim::AuthMethod::Universal);
    let out = tmp.path().join("held");
    let o = run(
        &server.url(),
        args(
            &[
                "remediate",
                "--policy",
                &policy.display().to_string(),
                "--apply",
                "--yes",
                "--max-changes",
                "1000",
            ],
            &out,
        ),
    )
    .await;
    let err = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "self is left failing, every write verified: {err}"
    );
    assert!(err.contains("idguard runs as this identity"), "{err}");
    assert!(
        !err.contains("unverified") && !err.contains(" failed"),
        "{err}"
    );
    let written = patches(&sim);
    assert!(written.len() > 5, "the other configs were fixed");
    assert!(
        written.iter().all(|(_, path, _)| *path != mine),
        "no PATCH of idguard's identity"
    );
    assert_eq!(
        sim.config_json(&me, &idguard_sim::AuthMethod::Universal),
        before
    );
    let plan = read_json(&out.join("plan.json"));
    assert!(
        plan["manual"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["identity_id"] == me.as_str()),
        "the plan lists idguard's own change as manual"
    );
    assert!(
        plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["identity_id"] != me.as_str())
    );

    // A fresh org, with --include-self: idguard's own change goes last.
    let (server, policy) = enforcing_org(tmp.path()).await;
    let sim = server.handle();
    let me = sim.login_identity_id();
    let mine = format!("/api/v1/auth/universal-auth/identities/{me}");
    let o = run(
        &server.url(),
        args(
            &[
                "remediate",
                "--policy",
                &policy.display().to_string(),
                "--apply",
                "--yes",
                "--max-changes",
                "1000",
                "--include-self",
            ],
            &tmp.path().join("included"),
        ),
    )
    .await;
    let written = patches(&sim);
    assert!(written.len() > 5, "{}", stderr(&o));
    assert_eq!(
        written.last().map(|(_, p, _)| p.as_str()),
        Some(mine.as_str()),
        "{}",
        stderr(&o)
    );
    assert_eq!(written.iter().filter(|(_, p, _)| *p == mine).count(), 1);
    // The narrowed identity can no longer read from 127.0.0.1: exactly the lock-out the
    // default avoids, and why the change waits until everything else is done.
    assert_eq!(
        o.status.code(),
        Some(3),
        "its read-back is refused: {}",
        stderr(&o)
    );
}

/// An identity with an auth method idguard does not know gets results (its common fields are
/// judged) but never a PATCH: its failing rule is manual with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_auth_methods_are_audited_but_never_patched() {
    let server = start_sim(SimConfig {
        identities: 20,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    let id = sim.add_identity(idguard_sim::IdentitySpec {
        name: "quantum-worker".into(),
        project_id: None,
        methods: vec![(
            idguard_sim::AuthMethod::Unknown("quantum-auth".into()),
            Some(json!({"id": "5b0a3c1e-8f5d-4c59-9a57-0d6f3f3b2a11",
                        "accessTokenTTL": 0, "accessTokenMaxTTL": 0,
                        "accessTokenNumUsesLimit": 0,
                        "accessTokenTrustedIps": wide_open(),
                        "entanglementPartner": "spooky"})),
        )],
    });
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = remediate_apply(&server.url(), &out).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let report = read_json(&out.join("report.json"));
    let mine: Vec<&Value> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["identity_id"] == id.as_str())
        .collect();
    assert!(
        mine.iter().any(|r| r["status"] == "fail"),
        "judged on its common fields"
    );
    for r in mine.iter().filter(|r| r["status"] == "fail") {
        assert_eq!(r["auth_method"], "quantum-auth");
        assert_eq!(r["remediation"]["auto"], false, "{r}");
        assert!(
            r["remediation"]["reason"]
                .as_str()
                .unwrap()
                .contains("does not know")
        );
    }
    assert!(
        patches(&sim)
            .iter()
            .all(|(_, p, _)| !p.contains("quantum-auth")),
        "no PATCH of the unknown method"
    );
    assert!(!patches(&sim).is_empty(), "the known methods were fixed");
}

//! Batches and confirmations against the simulator: `apply --rule network` writes only the
//! changes whose every rule is `network` (and the journal records the filter), and at a
//! terminal `apply` and `rollback --apply` show what they would write before they ask,
//! writing nothing when the answer is not `yes`.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use idguard_sim::{self as sim, AuthMethod, IdentitySpec, Sim, SimConfig, baseline_config};
use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use serde_json::{Value, json};

use crate::remediate::{apply_plan, args, example, patches, read_json, run, snapshot, stderr};
use crate::support::{CLEARED_ENV, start_sim};

/// Adds three universal-auth identities: one breaking only `network` (wide-open trusted IPs),
/// one only `token-lifetime` (a 2h TTL), one both. Returns their ids in that order.
fn add_network_and_token_identities(sim: &Sim) -> [String; 3] {
    let wide = json!([
        {"ipAddress": "0.0.0.0", "type": "ipv4", "prefix": 0},
        {"ipAddress": "::", "type": "ipv6", "prefix": 0}
    ]);
    let make = |name: &str, network: bool, token: bool| {
        let mut config = baseline_config(&AuthMethod::Universal);
        if network {
            config["accessTokenTrustedIps"] = wide.clone();
        }
        if token {
            config["accessTokenTTL"] = json!(7200);
            config["accessTokenMaxTTL"] = json!(86400);
        }
        sim.add_identity(IdentitySpec {
            name: name.into(),
            project_id: None,
            methods: vec![(AuthMethod::Universal, Some(config))],
        })
    };
    [
        make("batch-net", true, false),
        make("batch-token", false, true),
        make("batch-both", true, true),
    ]
}

/// `idguard remediate` (plan only) into `dir/plan`; returns the plan's path.
async fn make_plan(url: &str, dir: &Path) -> std::path::PathBuf {
    let out = dir.join("plan");
    let o = run(url, args(&["remediate", "--policy", &example()], &out)).await;
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    out.join("plan.json")
}

/// `apply PLAN --rule network` on a plan with token and network changes: the only PATCH is
/// the network-only change, which changes `accessTokenTrustedIps` and nothing else; the
/// token-only change and the change fixing both rules are left out (and said to be), and the
/// journal's `begin` entry records the filter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_rule_network_writes_only_network_changes() {
    let server = start_sim(SimConfig {
        identities: 1,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    let [net, token, both] = add_network_and_token_identities(&sim);
    let tmp = tempfile::tempdir().unwrap();
    let plan_path = make_plan(&server.url(), tmp.path()).await;
    let plan = read_json(&plan_path);
    let rules_of = |id: &str| -> Vec<String> {
        plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["identity_id"] == id)
            .map(|c| serde_json::from_value(c["rules_fixed"].clone()).unwrap())
            .unwrap_or_default()
    };
    assert_eq!(rules_of(&net), vec!["network"]);
    assert_eq!(rules_of(&token), vec!["token-lifetime"]);
    assert_eq!(
        rules_of(&both).len(),
        2,
        "the plan fixes both rules in one change"
    );
    let before = snapshot(&sim);

    let applied = tmp.path().join("apply");
    let plan_arg = plan_path.display().to_string();
    let o = run(
        &server.url(),
        args(
            &["apply", &plan_arg, "--yes", "--rule", "network"],
            &applied,
        ),
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("left out by the filter (--rule network)"),
        "{err}"
    );
    assert!(err.contains("--rule token-lifetime"), "{err}");

    let writes = patches(&sim);
    assert!(
        writes.iter().any(|(_, path, _)| path.contains(&net)),
        "the network change was written: {writes:?}"
    );
    for (_, path, _) in &writes {
        let id = path.rsplit('/').next().unwrap_or_default();
        assert_eq!(
            rules_of(id),
            vec!["network"],
            "PATCH {path} is not a network-only change"
        );
    }
    let after = snapshot(&sim);
    for (key, old) in &before {
        let new = &after[key];
        let changed: std::collections::BTreeSet<&String> = old
            .as_object()
            .unwrap()
            .keys()
            .chain(new.as_object().unwrap().keys())
            .filter(|k| old.get(k.as_str()) != new.get(k.as_str()))
            .collect();
        if key.0 == net {
            let trusted = "accessTokenTrustedIps".to_owned();
            assert_eq!(changed, [&trusted].into_iter().collect(), "{key:?}");
        } else if key.0 == token || key.0 == both {
            assert!(
                changed.is_empty(),
                "{key:?} left out, yet {changed:?} changed"
            );
        }
    }
    let journal = std::fs::read_to_string(applied.join("journal.jsonl")).unwrap();
    let begin: Value = serde_json::from_str(journal.lines().next().unwrap()).unwrap();
    assert_eq!(begin["filter"]["rules"], json!(["network"]), "{begin}");
}

/// What a pseudo-terminal session printed, and how the program exited.
struct Session {
    output: String,
    code: u32,
}

/// Runs idguard with `argv` in a pseudo-terminal (so stdin is a terminal and it asks for
/// confirmation), waits for the `Type \`yes\`` prompt, answers `answer` and collects
/// everything printed until it exits.
fn in_terminal(url: &str, cwd: &Path, argv: &[&str], answer: &str) -> Session {
    let pty = native_pty_system()
        .openpty(PtySize {
            rows: 50,
            cols: 100,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("a pseudo-terminal");
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_idguard"));
    cmd.args(argv);
    cmd.cwd(cwd);
    for var in CLEARED_ENV {
        cmd.env_remove(var);
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost");
    cmd.env("INFISICAL_DOMAIN", url);
    cmd.env("INFISICAL_UNIVERSAL_AUTH_CLIENT_ID", sim::DEMO_CLIENT_ID);
    cmd.env(
        "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET",
        sim::DEMO_CLIENT_SECRET,
    );
    let mut child = pty.slave.spawn_command(cmd).expect("idguard starts");
    drop(pty.slave);
    let mut reader = pty.master.try_clone_reader().expect("reader");
    let seen = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&seen);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            sink.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push_str(&text);
        }
    });
    let text = |seen: &Arc<Mutex<String>>| seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !text(&seen).contains("Type `yes`") {
        if Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
            let _ = child.kill();
            panic!("no prompt:\n{}", text(&seen));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut writer = pty.master.take_writer().expect("writer");
    writer
        .write_all(format!("{answer}\r").as_bytes())
        .expect("answer");
    let status = child.wait().expect("idguard exits");
    // Let the reader drain what was printed last.
    let until = Instant::now() + Duration::from_secs(5);
    while !text(&seen).contains("not confirmed") && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    Session {
        output: text(&seen).replace("\r\n", "\n"),
        code: status.exit_code(),
    }
}

/// Where `needle` first appears in `output`, which must hold it.
fn position(output: &str, needle: &str) -> usize {
    output
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not shown:\n{output}"))
}

/// At a terminal without `--yes`, `apply PLAN` prints the diff of what it would write (the
/// TTL with durations, the trusted IPs removed and added) before `Type \`yes\``, and
/// `rollback JOURNAL --apply` prints every restore with the marked widening before it; the
/// answer `no` writes nothing and exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmations_show_the_diff_before_the_prompt() {
    let server = start_sim(SimConfig {
        identities: 1,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    add_network_and_token_identities(&sim);
    let tmp = tempfile::tempdir().unwrap();
    let plan_path = make_plan(&server.url(), tmp.path()).await;
    let plan_arg = plan_path.display().to_string();
    let out = tmp.path().join("never").display().to_string();
    let apply = ["apply", &plan_arg, "--out", &out];
    let shown = [
        "~ batch-net (",
        "accessTokenTTL: 7200s (2h) → 3600s (1h)",
        "      - 0.0.0.0/0",
        "      + 10.0.0.0/8",
    ];
    declined_in_terminal(&server.url(), tmp.path(), &apply, &shown).await;
    assert!(patches(&sim).is_empty(), "nothing written");

    let applied = tmp.path().join("apply");
    let o = apply_plan(&server.url(), &plan_path, &applied).await;
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let written = patches(&sim).len();
    let journal = applied.join("journal.jsonl").display().to_string();
    let out = tmp.path().join("never-undo").display().to_string();
    let rollback = ["rollback", &journal, "--apply", "--out", &out];
    let shown = [
        "~ batch-net (",
        "accessTokenTTL: 3600s (1h) → 7200s (2h)",
        "! widens access: accessTokenTTL raised from 3600s (1h) to 7200s (2h)",
        "! widens access: accessTokenTrustedIps admits 0.0.0.0/0, ::/0 again",
    ];
    declined_in_terminal(&server.url(), tmp.path(), &rollback, &shown).await;
    assert_eq!(patches(&sim).len(), written, "the rollback wrote nothing");
}

/// Runs `argv` in a pseudo-terminal, answers `no`, and checks that every `shown` line came
/// before the prompt, that nothing was confirmed and that the exit code is 0.
async fn declined_in_terminal(url: &str, cwd: &Path, argv: &[&str], shown: &[&str]) {
    let (url, cwd) = (url.to_owned(), cwd.to_owned());
    let argv: Vec<String> = argv.iter().map(|a| (*a).to_owned()).collect();
    let session = tokio::task::spawn_blocking(move || {
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        in_terminal(&url, &cwd, &argv, "no")
    })
    .await
    .unwrap();
    let prompt = position(&session.output, "Type `yes`");
    for line in shown {
        assert!(
            position(&session.output, line) < prompt,
            "`{line}` comes after the prompt:\n{}",
            session.output
        );
    }
    assert!(
        session
            .output
            .contains("not confirmed; nothing was written"),
        "{}",
        session.output
    );
    assert_eq!(session.code, 0, "{}", session.output);
}

/// `remediate --rule network --max-changes 0` (no --apply): plan.json holds only the
/// network-only change, plan.md beside it shows it with the rule's severity and description,
/// and stderr says at once that `apply` would refuse it and which flag would let it through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remediate_writes_a_batch_plan_md_and_warns_of_the_guard() {
    let server = start_sim(SimConfig {
        identities: 1,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    let [net, _, both] = add_network_and_token_identities(&sim);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("plan");
    let parts = [
        "remediate",
        "--policy",
        &example(),
        "--rule",
        "network",
        "--max-changes",
        "0",
    ];
    let o = run(&server.url(), args(&parts, &out)).await;
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    let plan = read_json(&out.join("plan.json"));
    let changes = plan["changes"].as_array().unwrap();
    assert!(changes.iter().any(|c| c["identity_id"] == net.as_str()));
    assert!(
        changes
            .iter()
            .all(|c| c["rules_fixed"] == json!(["network"]))
    );
    assert!(!changes.iter().any(|c| c["identity_id"] == both.as_str()));
    let err = stderr(&o);
    let n = changes.len();
    assert!(
        err.contains(&format!("pass --max-changes {n}")),
        "the guard is announced at plan time: {err}"
    );
    let md = std::fs::read_to_string(out.join("plan.md")).unwrap();
    assert!(md.contains("batch-net"), "{md}");
    assert!(
        md.contains("| network | critical | Tokens and client secrets"),
        "{md}"
    );
    assert!(
        md.contains("left out by the filter (--rule network)"),
        "{md}"
    );
    assert!(patches(&sim).is_empty(), "a plan writes nothing");
}

//! What reaches the terminal: identity names from the server holding escape sequences,
//! carriage returns, right-to-left overrides and newlines (with a forged idguard line) are
//! shown escaped in every summary, plan diff and rollback preview.

use idguard::display::is_unsafe;
use idguard_sim::{AuthMethod, IdentitySpec, SimConfig};
use serde_json::json;

use crate::remediate::{args, example, remediate_apply, run, stderr};
use crate::support::start_sim;

/// `remediate`, `remediate --apply` and `rollback` print no raw control or bidi character,
/// whatever the identity names hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_never_reach_the_terminal_raw() {
    let server = start_sim(SimConfig {
        identities: 20,
        ..SimConfig::default()
    })
    .await;
    let sim = server.handle();
    for name in [
        "evil\u{1b}[2J\u{1b}[31mred",
        "cr\rovertyped",
        "\u{202e}gnp.exe",
        "line\nidguard: exit 0: all good",
    ] {
        let mut config = idguard_sim::baseline_config(&AuthMethod::Universal);
        config["accessTokenTTL"] = json!(0);
        config["accessTokenMaxTTL"] = json!(0);
        sim.add_identity(IdentitySpec {
            name: name.into(),
            project_id: None,
            methods: vec![(AuthMethod::Universal, Some(config))],
        });
    }
    let tmp = tempfile::tempdir().unwrap();
    let plan = tmp.path().join("plan");
    let applied = tmp.path().join("applied");
    let outputs = [
        run(
            &server.url(),
            args(&["remediate", "--policy", &example()], &plan),
        )
        .await,
        remediate_apply(&server.url(), &applied).await,
    ];
    let journal = applied.join("journal.jsonl").display().to_string();
    let preview = run(&server.url(), vec!["rollback".into(), journal]).await;
    for o in outputs.iter().chain([&preview]) {
        let err = stderr(o);
        assert!(
            err.contains("evil"),
            "the hostile identities are shown: {err}"
        );
        let bad: Vec<char> = err
            .chars()
            .filter(|c| *c != '\n' && is_unsafe(*c))
            .collect();
        assert!(bad.is_empty(), "raw {bad:?} on stderr:\n{err}");
        assert!(
            !err.lines()
                .any(|l| l.starts_with("idguard: exit 0: all good")),
            "a forged line: {err}"
        );
    }
}

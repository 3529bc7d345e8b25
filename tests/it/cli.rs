//! The command line itself, through the real binary: version, help text, completions, the man
//! page, and arguments refused as usage errors (exit 64) before anything runs.

use crate::support::{idguard, policy_path};

/// Runs the binary with `args`; returns the exit code, stdout and stderr.
fn run(args: &[&str]) -> (i32, String, String) {
    let out = idguard().args(args).output().expect("binary runs");
    (
        out.status.code().expect("exited normally"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `--version` names the package version and the commit it was built from (or `unknown`).
#[test]
fn version_names_the_commit() {
    let (code, stdout, _) = run(&["--version"]);
    assert_eq!(code, 0);
    let version = stdout
        .strip_prefix(concat!("idguard ", env!("CARGO_PKG_VERSION"), " (commit "))
        .unwrap_or_else(|| panic!("unexpected --version: {stdout}"));
    let commit = version.trim_end().trim_end_matches(')');
    assert!(
        commit == "unknown" || (commit.len() >= 7 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "not a commit: {commit:?}"
    );
}

/// Each shell's completion script is printed on stdout and completes the subcommands.
#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, stdout, stderr) = run(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {stderr}");
        assert!(stdout.contains("audit"), "{shell} script lacks `audit`");
        assert!(stdout.contains("policy"), "{shell} script lacks --policy");
    }
    let (code, _, _) = run(&["completions", "cmd.exe"]);
    assert_eq!(code, 64, "an unknown shell is a usage error");
}

/// `idguard man` prints a roff page naming the commands; `idguard man audit` the page of
/// `audit` with its flags; an unknown command is a usage error.
#[test]
fn man_page_is_roff() {
    let (code, stdout, _) = run(&["man"]);
    assert_eq!(code, 0);
    assert!(stdout.contains(".TH idguard 1"), "no .TH header:\n{stdout}");
    assert!(stdout.contains("audit"));
    let (code, stdout, _) = run(&["man", "audit"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(".TH idguard-audit 1"),
        "no .TH header:\n{stdout}"
    );
    assert!(
        stdout.contains(r"\-\-deadline"),
        "audit's flags are on its page"
    );
    let (code, _, stderr) = run(&["man", "audits"]);
    assert_eq!(code, 64);
    assert!(stderr.contains("no command `audits`"), "{stderr}");
}

/// `--help` ends with the environment variables and the exit-code table; `audit --help`
/// names the credential variables and groups its flags under headings.
#[test]
fn help_lists_environment_and_exit_codes() {
    let (code, top, _) = run(&["--help"]);
    assert_eq!(code, 0);
    for needle in [
        "Exit codes:",
        "  64  Bad arguments",
        "  130  Stopped by Ctrl-C",
        "NO_COLOR",
    ] {
        assert!(top.contains(needle), "--help lacks {needle:?}:\n{top}");
    }
    let (code, audit, _) = run(&["audit", "--help"]);
    assert_eq!(code, 0);
    for needle in [
        "INFISICAL_TOKEN",
        "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID",
        "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET",
        "INFISICAL_DOMAIN",
        "IDGUARD_LOG",
        "Exit codes:",
        "\nConnection:\n",
        "\nRate limits:\n",
        "\nOutput:\n",
        "\nLogging:\n",
    ] {
        assert!(
            audit.contains(needle),
            "audit --help lacks {needle:?}:\n{audit}"
        );
    }
    let (_, short, _) = run(&["audit", "-h"]);
    assert!(short.contains("--help"), "-h points at --help for the rest");
}

/// A log level tracing would not understand is refused (exit 64) rather than replaced by
/// `warn`, from the flag and from `IDGUARD_LOG`; module directives are accepted.
#[test]
fn invalid_log_level_is_a_usage_error() {
    let (code, _, stderr) = run(&["--log-level", "nonsense", "schema"]);
    assert_eq!(code, 64);
    assert!(stderr.contains("nonsense"), "{stderr}");
    let out = idguard()
        .env("IDGUARD_LOG", "verbose")
        .arg("schema")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    for ok in ["debug", "warn,idguard=debug", "off"] {
        let (code, stdout, stderr) = run(&["--log-level", ok, "schema"]);
        assert_eq!(code, 0, "{ok}: {stderr}");
        assert!(stdout.contains("$schema"));
    }
}

/// `--timeout` and `--deadline` take durations (`30s`, `15m`) or bare seconds; zero and
/// nonsense are usage errors. Accepted, the run fails later, for want of credentials (77).
#[test]
fn timeout_and_deadline_take_durations() {
    let audit = |extra: &[&str]| {
        let policy = policy_path("example.yaml");
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let mut args = vec!["audit", "--policy", policy.to_str().unwrap(), "--out"];
        args.push(out.to_str().unwrap());
        args.extend_from_slice(extra);
        let (code, _, stderr) = run(&args);
        (code, stderr)
    };
    for ok in [
        &["--timeout", "30s", "--deadline", "15m"][..],
        &["--timeout", "30", "--deadline", "900"],
    ] {
        let (code, stderr) = audit(ok);
        assert!(stderr.contains("no credentials"), "{ok:?}: {stderr}");
        assert!(!stderr.contains("invalid value"), "{ok:?}: {stderr}");
        assert_eq!(code, 77);
    }
    for bad in [&["--timeout", "0"][..], &["--deadline", "soon"]] {
        let (code, stderr) = audit(bad);
        assert_eq!(code, 64);
        assert!(stderr.contains("invalid value"), "{bad:?}: {stderr}");
    }
}

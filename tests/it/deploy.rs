//! The deployment examples in `docs/deploy/` cannot rot: every `idguard` command line in them
//! parses with the current CLI, credentials only ever come from the environment or a secret
//! reference, and the cron wrapper script runs a real audit with its exit-code handling.

use std::path::{Path, PathBuf};

use clap::Parser as _;
use idguard::cli::Cli;
use idguard_sim::{self as sim, SimConfig};
use serde_json::Value;

use crate::support::{CLEARED_ENV, policy_path, start_sim};

/// Stands in for a shell variable in an idguard argument (`"$IDGUARD_POLICY"`).
const PLACEHOLDER: &str = "placeholder";

fn deploy_file(name: &str) -> (PathBuf, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/deploy")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    (path, text)
}

/// Splits a shell command line into words, simply: quotes group, `$VAR`, `${VAR}` and `$?`
/// become [`PLACEHOLDER`], and `;`, `&&`, `||`, `|` are words of their own.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some('\''), c) => word.push(c),
            (_, '$') => {
                in_word = true;
                word.push_str(PLACEHOLDER);
                if chars.peek() == Some(&'{') {
                    for c in chars.by_ref() {
                        if c == '}' {
                            break;
                        }
                    }
                } else {
                    while chars
                        .peek()
                        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '?')
                    {
                        chars.next();
                    }
                }
            }
            (None, c) if c.is_whitespace() || matches!(c, ';' | '&' | '|') => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                if !c.is_whitespace() {
                    let op = match chars.peek() {
                        Some(&next) if next == c => {
                            chars.next();
                            format!("{c}{c}")
                        }
                        _ => c.to_string(),
                    };
                    words.push(op);
                }
            }
            (_, c) => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

fn is_idguard(word: &str) -> bool {
    word == "idguard" || word.ends_with("/idguard")
}

/// The argv of every idguard command in one shell command line: commands at the start of each
/// `;`/`&&`/`||`/`|` segment, after variable assignments and `exec`, `env` or `flock OPTS LOCK`,
/// up to a redirection.
fn idguard_commands(line: &str) -> Vec<Vec<String>> {
    let words = shell_words(line);
    let mut found = Vec::new();
    for segment in words.split(|w| matches!(w.as_str(), ";" | "&&" | "||" | "|" | "&")) {
        let mut rest = segment;
        loop {
            match rest.first().map(String::as_str) {
                Some(w) if w.contains('=') && !w.starts_with('-') => rest = &rest[1..],
                Some("exec" | "env" | "nice") => rest = &rest[1..],
                Some("flock") => {
                    rest = &rest[1..];
                    while let Some(opt) = rest.first().filter(|w| w.starts_with('-')) {
                        let takes_value = matches!(opt.as_str(), "-E" | "-w" | "--timeout");
                        rest = &rest[if takes_value { 2 } else { 1 }.min(rest.len())..];
                    }
                    rest = rest.get(1..).unwrap_or(&[]);
                }
                _ => break,
            }
        }
        if rest.first().is_some_and(|w| is_idguard(w)) {
            let end = rest
                .iter()
                .position(|w| w.starts_with('>') || w.starts_with("2>") || w.starts_with('<'))
                .unwrap_or(rest.len());
            found.push(rest[..end].to_vec());
        }
    }
    found
}

/// The shell lines of a YAML document: the strings under `run` (GitHub Actions), `command`
/// and `args` (Kubernetes containers); a string array starting with idguard is an argv itself.
fn yaml_command_lines(value: &Value, lines: &mut Vec<String>, argvs: &mut Vec<Vec<String>>) {
    match value {
        Value::Array(items) => items
            .iter()
            .for_each(|item| yaml_command_lines(item, lines, argvs)),
        Value::Object(map) => {
            for (key, v) in map {
                if matches!(key.as_str(), "run" | "command" | "args") {
                    shell_strings(v, lines, argvs);
                } else {
                    yaml_command_lines(v, lines, argvs);
                }
            }
        }
        _ => {}
    }
}

fn shell_strings(value: &Value, lines: &mut Vec<String>, argvs: &mut Vec<Vec<String>>) {
    match value {
        Value::String(s) => lines.extend(s.lines().map(str::to_owned)),
        Value::Array(items) => {
            let strings: Option<Vec<String>> = items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect();
            match strings {
                Some(argv) if argv.first().is_some_and(|w| is_idguard(w)) => argvs.push(argv),
                _ => items
                    .iter()
                    .for_each(|item| shell_strings(item, lines, argvs)),
            }
        }
        _ => {}
    }
}

/// The idguard argvs of a deployment file, by its kind.
fn commands_of(name: &str, text: &str) -> Vec<Vec<String>> {
    let body = |l: &&str| !l.trim_start().starts_with('#') && !l.trim().is_empty();
    let lines: Vec<String> = match name {
        "crontab" => text
            .lines()
            .filter(body)
            .filter(|l| !l.split_whitespace().next().unwrap_or("").contains('='))
            .map(|l| l.split_whitespace().skip(5).collect::<Vec<_>>().join(" "))
            .collect(),
        n if n.ends_with(".service") || n.ends_with(".timer") => text
            .lines()
            .filter(body)
            .filter_map(|l| l.split_once('='))
            .filter(|(k, _)| k.trim().starts_with("Exec"))
            .map(|(_, v)| v.trim_start_matches(['-', '@', '+', '!', ':']).to_owned())
            .collect(),
        n if n.ends_with(".yml") || n.ends_with(".yaml") => {
            let docs: Vec<Value> = serde_saphyr::from_multiple(text)
                .unwrap_or_else(|e| panic!("{name} is not valid YAML: {e}"));
            let (mut lines, mut argvs) = (Vec::new(), Vec::new());
            for doc in &docs {
                yaml_command_lines(doc, &mut lines, &mut argvs);
            }
            let mut commands = argvs;
            commands.extend(lines.iter().flat_map(|l| idguard_commands(l)));
            return commands;
        }
        _ => text.lines().filter(body).map(str::to_owned).collect(),
    };
    lines.iter().flat_map(|l| idguard_commands(l)).collect()
}

/// The deployment examples, with how many idguard commands each holds.
const FILES: [(&str, usize); 6] = [
    ("crontab", 0),
    ("idguard-nightly.sh", 2),
    ("idguard.service", 2),
    ("idguard.timer", 0),
    ("github-actions.yml", 1),
    ("kubernetes-cronjob.yaml", 2),
];

/// Every idguard command line in docs/deploy/ parses with the current CLI and is `--quiet`
/// (a scheduled run prints only errors); each file holds the commands it should.
#[test]
fn every_idguard_command_in_the_examples_parses() {
    for (name, expected) in FILES {
        let (_, text) = deploy_file(name);
        let commands = commands_of(name, &text);
        assert_eq!(commands.len(), expected, "{name}: {commands:?}");
        for argv in commands {
            match Cli::try_parse_from(&argv) {
                Ok(cli) => assert!(cli.output.quiet, "{name}: not --quiet: {argv:?}"),
                Err(e) => panic!("{name}: `{}` does not parse:\n{e}", argv.join(" ")),
            }
        }
    }
}

/// The extraction finds commands after assignments, `flock` and operators, replaces shell
/// variables, and passes over `idguard` as an argument of another command.
#[test]
fn command_extraction_finds_idguard_where_it_runs() {
    assert_eq!(
        idguard_commands(r#"rc=0; flock -n -E 75 /l idguard audit --policy "$P" >log 2>&1"#),
        [vec!["idguard", "audit", "--policy", PLACEHOLDER]]
    );
    assert_eq!(
        idguard_commands("cd x && /usr/bin/idguard trend reports || echo no"),
        [vec!["/usr/bin/idguard", "trend", "reports"]]
    );
    assert!(idguard_commands("cargo install --git https://e.com/idguard idguard").is_empty());
    assert!(Cli::try_parse_from(["idguard", "audit", "--no-such-flag"]).is_err());
}

/// No example holds a credential: the client secret and token names are only ever given a
/// reference (`$VAR`, `${{ secrets.X }}`), Kubernetes env entries of secrets come from a
/// Secret, and the service reads an EnvironmentFile.
#[test]
fn credentials_come_only_from_the_environment_or_secrets() {
    const SECRET_NAMES: [&str; 2] = ["INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET", "INFISICAL_TOKEN"];
    for (name, _) in FILES {
        let (_, text) = deploy_file(name);
        for secret in SECRET_NAMES {
            for (at, _) in text.match_indices(secret) {
                let after = &text[at + secret.len()..];
                let Some(value) = after.strip_prefix('=').or_else(|| after.strip_prefix(':'))
                else {
                    continue;
                };
                let value = value.lines().next().unwrap_or("").trim();
                assert!(
                    value.is_empty() || value.starts_with('$'),
                    "{name}: {secret} has a literal value"
                );
            }
        }
    }
    let (_, text) = deploy_file("kubernetes-cronjob.yaml");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("valid YAML");
    let job = docs
        .iter()
        .find(|d| d["kind"] == "CronJob")
        .expect("a CronJob");
    let container = &job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
    let env = container["env"].as_array().expect("env list");
    for var in ["INFISICAL_UNIVERSAL_AUTH_CLIENT_ID", SECRET_NAMES[0]] {
        let entry = env
            .iter()
            .find(|e| e["name"] == var)
            .unwrap_or_else(|| panic!("{var} is set"));
        assert!(entry.get("value").is_none(), "{var} has a literal value");
        assert!(
            entry["valueFrom"]["secretKeyRef"]["name"].is_string(),
            "{var} comes from a Secret"
        );
    }
    let volumes = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["volumes"].to_string();
    assert!(
        volumes.contains("persistentVolumeClaim"),
        "reports on a PVC"
    );

    let (_, text) = deploy_file("github-actions.yml");
    let workflow: Value = serde_saphyr::from_str(&text).expect("valid YAML");
    assert!(workflow["on"]["schedule"][0]["cron"].is_string());
    let steps = workflow["jobs"]["audit"]["steps"]
        .as_array()
        .expect("steps");
    assert!(steps.iter().any(|s| {
        s["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("github/codeql-action/upload-sarif@"))
            && s["with"]["sarif_file"]
                .as_str()
                .is_some_and(|f| f.ends_with("report.sarif"))
    }));
    for step in steps {
        if let Some(env) = step["env"].as_object() {
            for (k, v) in env {
                if k.contains("SECRET") || k.contains("TOKEN") {
                    assert!(
                        v.as_str().is_some_and(|v| v.starts_with("${{ secrets.")),
                        "{k} must come from a secret"
                    );
                }
            }
        }
    }

    let (_, service) = deploy_file("idguard.service");
    assert!(service.contains("\nEnvironmentFile="));
    assert!(
        service.contains("\nSuccessExitStatus=1\n"),
        "findings are not a failed unit"
    );
    let (_, timer) = deploy_file("idguard.timer");
    assert!(timer.contains("\nOnCalendar=") && timer.contains("\nUnit=idguard.service\n"));
    let (_, crontab) = deploy_file("crontab");
    assert!(crontab.contains("flock -n") && crontab.contains("idguard-nightly.sh"));
}

/// The cron wrapper runs a real audit of the simulator with credentials from its file: the
/// exit code is idguard's (1: findings), it prints one line saying so, and the reports and the
/// trend files are written under its home folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nightly_script_audits_and_reports_findings_by_exit_code() {
    let server = start_sim(SimConfig {
        identities: 20,
        ..SimConfig::default()
    })
    .await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).expect("mkdir");
    let credentials = tmp.path().join("credentials.env");
    std::fs::write(
        &credentials,
        format!(
            "INFISICAL_DOMAIN={}\nINFISICAL_UNIVERSAL_AUTH_CLIENT_ID={}\n\
             INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET={}\n",
            server.url(),
            sim::DEMO_CLIENT_ID,
            sim::DEMO_CLIENT_SECRET
        ),
    )
    .expect("write");
    let (script, _) = deploy_file("idguard-nightly.sh");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_idguard"))
        .parent()
        .expect("bin dir")
        .to_owned();
    let mut cmd = std::process::Command::new("sh");
    cmd.arg(script);
    for var in CLEARED_ENV {
        cmd.env_remove(var);
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost")
        .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
        .env("IDGUARD_HOME", &home)
        .env("IDGUARD_POLICY", policy_path("example.yaml"))
        .env("IDGUARD_CREDENTIALS", &credentials);
    let output = tokio::task::spawn_blocking(move || cmd.output().expect("sh runs"))
        .await
        .expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.starts_with("idguard: findings; see "), "{stdout}");
    assert!(stderr.is_empty(), "--quiet: {stderr}");
    let reports = home.join("reports");
    assert!(reports.join("latest/report.sarif").is_file());
    assert!(reports.join("trend.html").is_file() && reports.join("trend.md").is_file());
    assert!(!stdout.contains(sim::DEMO_CLIENT_SECRET));
}

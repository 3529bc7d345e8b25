//! Shared helpers for the integration tests: start the simulator, run the real `idguard`
//! binary against it with a clean environment, and read the reports it wrote.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use idguard_sim::{self as sim, SimConfig, SimServer};
use serde_json::Value;

/// Starts a simulator with `config`.
pub async fn start_sim(config: SimConfig) -> SimServer {
    sim::start(config).await.expect("simulator starts")
}

/// A run of the binary: its output and the folder it wrote to.
pub struct Run {
    pub output: Output,
    pub out_dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Run {
    /// The exit code (panics on a signal death, which no test expects).
    pub fn code(&self) -> i32 {
        self.output.status.code().expect("exited normally")
    }

    /// stderr as text.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// stdout as text.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    /// The parsed report.json.
    pub fn report(&self) -> Value {
        let text =
            std::fs::read_to_string(self.out_dir.join("report.json")).expect("report.json written");
        serde_json::from_str(&text).expect("report.json is valid JSON")
    }

    /// Every file the run wrote, concatenated (for secret scans).
    pub fn all_files(&self) -> String {
        let mut all = String::new();
        if let Ok(entries) = std::fs::read_dir(&self.out_dir) {
            for e in entries.flatten() {
                all.push_str(&String::from_utf8_lossy(
                    &std::fs::read(e.path()).unwrap_or_default(),
                ));
            }
        }
        all
    }
}

/// Variables of the developer's shell the idguard binary never sees in tests: proxies,
/// Infisical settings and colour settings.
pub const CLEARED_ENV: [&str; 16] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "INFISICAL_DOMAIN",
    "INFISICAL_API_URL",
    "INFISICAL_TOKEN",
    "INFISICAL_ORG_ID",
    "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID",
    "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET",
    "IDGUARD_LOG",
    "NO_COLOR",
    "CLICOLOR",
    "CLICOLOR_FORCE",
];

/// A command for the idguard binary with a clean environment: no proxies, no Infisical
/// variables and no colour settings from the developer's shell.
pub fn idguard() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_idguard"));
    for var in CLEARED_ENV {
        cmd.env_remove(var);
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost");
    cmd
}

/// Runs `idguard <args> --out <tmp>` against `url` with the simulator's demo credentials,
/// off the async runtime so the in-process simulator keeps serving.
pub async fn audit(url: &str, args: &[&str]) -> Run {
    audit_with(url, args, sim::DEMO_CLIENT_ID, sim::DEMO_CLIENT_SECRET).await
}

/// As [`audit`] with explicit credentials.
pub async fn audit_with(url: &str, args: &[&str], client_id: &str, secret: &str) -> Run {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out_dir = tmp.path().join("out");
    let mut cmd = idguard();
    cmd.arg("audit")
        .arg("--policy")
        .arg(policy_path("example.yaml"))
        .arg("--out")
        .arg(&out_dir)
        .args(args)
        .env("INFISICAL_DOMAIN", url)
        .env("INFISICAL_UNIVERSAL_AUTH_CLIENT_ID", client_id)
        .env("INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET", secret);
    let output = tokio::task::spawn_blocking(move || cmd.output().expect("binary runs"))
        .await
        .expect("join");
    Run {
        output,
        out_dir,
        _tmp: tmp,
    }
}

/// Path of a file under `policies/`.
pub fn policy_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("policies")
        .join(name)
}

/// The results array of a report.
pub fn results(report: &Value) -> &Vec<Value> {
    report["results"].as_array().expect("results is an array")
}

/// Every (identity id, auth method) the simulator holds; project-scoped ones only when
/// `with_projects`.
pub fn configured(
    sim: &idguard_sim::Sim,
    with_projects: bool,
) -> std::collections::BTreeSet<(String, String)> {
    sim.identity_ids()
        .into_iter()
        .filter(|id| with_projects || sim.project_id(id).is_none())
        .flat_map(|id| {
            sim.auth_methods(&id)
                .into_iter()
                .map(move |m| (id.clone(), m.to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Logs in to the simulator as a client would; returns the access token.
pub async fn login_token(url: &str) -> String {
    let body = serde_json::json!({
        "clientId": sim::DEMO_CLIENT_ID,
        "clientSecret": sim::DEMO_CLIENT_SECRET,
    });
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("login");
    let answer: Value = client
        .post(format!("{url}/api/v1/auth/universal-auth/login"))
        .json(&body)
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login");
    answer["accessToken"].as_str().expect("login").to_owned()
}

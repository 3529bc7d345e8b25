//! Where the binary writes: the run folders it creates (`reports/<timestamp>/`, `reports/`
//! itself, an `--out` folder and its missing parents) are owner-only, 0700, whatever the umask
//! it runs under, so no other local user can swap a plan or a journal between plan and apply.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use idguard_sim::{self as sim, SimConfig};

use crate::support::{idguard, policy_path, start_sim};

/// `idguard <args>` run by `sh` after `umask <umask>`, from `cwd`, with the clean environment
/// of [`idguard`] and the simulator's credentials.
fn under_umask(umask: &str, cwd: &Path, url: &str, args: &[&str]) -> Command {
    let bin = idguard();
    let mut cmd = Command::new("sh");
    for (key, value) in bin.get_envs() {
        match value {
            Some(v) => cmd.env(key, v),
            None => cmd.env_remove(key),
        };
    }
    cmd.arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
        .arg(bin.get_program())
        .args(args)
        .current_dir(cwd)
        .env("INFISICAL_DOMAIN", url)
        .env("INFISICAL_UNIVERSAL_AUTH_CLIENT_ID", sim::DEMO_CLIENT_ID)
        .env(
            "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET",
            sim::DEMO_CLIENT_SECRET,
        )
        .stdin(std::process::Stdio::null());
    cmd
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Under umask 000 (which would leave new folders 0777) and umask 277 (which would leave them
/// 0500), `reports/`, `reports/<timestamp>/`, and an `--out` folder with its missing parents
/// come out 0700, and the report files in them 0600 or stricter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_folders_are_owner_only_whatever_the_umask() {
    let server = start_sim(SimConfig {
        identities: 3,
        ..SimConfig::default()
    })
    .await;
    let policy = policy_path("example.yaml").display().to_string();
    for umask in ["000", "277"] {
        let tmp = tempfile::tempdir().unwrap();
        let cwd = tmp.path().to_owned();
        let mut default_dir =
            under_umask(umask, &cwd, &server.url(), &["audit", "--policy", &policy]);
        let mut explicit = under_umask(
            umask,
            &cwd,
            &server.url(),
            &["audit", "--policy", &policy, "--out", "new/nested/run"],
        );
        let outputs = tokio::task::spawn_blocking(move || {
            [&mut default_dir, &mut explicit].map(|c| c.output().expect("sh runs"))
        })
        .await
        .expect("join");
        for o in &outputs {
            assert!(
                matches!(o.status.code(), Some(0 | 1)),
                "umask {umask}: exit {:?}, stderr: {}",
                o.status.code(),
                String::from_utf8_lossy(&o.stderr)
            );
        }

        let reports = cwd.join("reports");
        let runs: Vec<_> = std::fs::read_dir(&reports)
            .expect("reports/ created")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.file_name().is_some_and(|n| n != "latest"))
            .collect();
        assert_eq!(runs.len(), 1, "one run folder: {runs:?}");
        let nested = cwd.join("new/nested/run");
        for dir in [
            reports.clone(),
            runs[0].clone(),
            cwd.join("new"),
            cwd.join("new/nested"),
            nested.clone(),
        ] {
            assert_eq!(
                mode(&dir),
                0o700,
                "umask {umask}: {} is {:o}",
                dir.display(),
                mode(&dir)
            );
        }
        for run in [&runs[0], &nested] {
            let report = run.join("report.json");
            assert_eq!(
                mode(&report) & 0o077,
                0,
                "umask {umask}: {} is {:o}",
                report.display(),
                mode(&report)
            );
        }
    }
}

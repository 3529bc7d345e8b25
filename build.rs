//! Build script: records the commit the binary is built from as `IDGUARD_COMMIT` (the short
//! hash from `git rev-parse`), for `idguard --version`. Without a `.git` beside Cargo.toml
//! (a source package) or without git, it is `unknown`: the build never fails for it.

#![allow(
    clippy::disallowed_macros,
    reason = "cargo reads a build script's instructions from its stdout"
)]

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // Only this checkout's own history: a source tree unpacked inside another repository
    // must not report that repository's commit.
    let commit = if Path::new(".git").exists() {
        rerun_when_head_moves();
        git(&["rev-parse", "--short=12", "HEAD"])
    } else {
        None
    };
    let commit = commit.unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=IDGUARD_COMMIT={commit}");
}

/// The trimmed stdout of a successful `git` command, if any.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// Builds again when HEAD or the branch it points at moves (a commit, a checkout). In a
/// worktree `.git` is a file; `git rev-parse --git-path` finds the real files either way.
fn rerun_when_head_moves() {
    if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]) {
        rerun_if_exists(&head);
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if let Some(path) = git(&["rev-parse", "--git-path", &branch]) {
            rerun_if_exists(&path);
        }
        // A packed ref (after `git gc`) lives in packed-refs instead.
        if let Some(path) = git(&["rev-parse", "--git-path", "packed-refs"]) {
            rerun_if_exists(&path);
        }
    }
}

fn rerun_if_exists(path: &str) {
    if Path::new(path).exists() {
        println!("cargo:rerun-if-changed={path}");
    }
}

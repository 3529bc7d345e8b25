//! idguard: audit the auth configurations of Infisical machine identities against a YAML
//! policy, write compliance reports, and bring non-compliant identities into line.
//!
//! The simulated Infisical server that `idguard demo`, `idguard sim` and the tests run against
//! is the separate crate `idguard-sim` (`crates/idguard-sim/`), which does not depend on this
//! one; the benchmark is the binary crate `idguard-bench` (`crates/idguard-bench/`), which runs
//! the `idguard` binary as a process.
//!
//! Module map:
//! - [`model`]: auth methods, identities, auth configs, trusted IPs (shared vocabulary).
//! - [`finding`]: the result data every report is written from.
//! - [`pattern`]: the `*` glob used for identity names and allowlist entries.
//! - [`policy`]: YAML policy → validated [`policy::Policy`], every problem with line:column.
//! - [`evaluate`]: pure evaluation of a policy against one config (no I/O).
//! - [`infisical`]: the HTTP client (login, listing, per-method GET/PATCH, retries, rate limits).
//! - [`audit`]: listing → bounded concurrent fetch → evaluate → stream to report writers.
//! - [`progress`]: the progress bars on stderr, for audits and for writes (terminals only).
//! - [`interrupt`]: Ctrl-C as a request to stop cleanly (the switch every long run watches).
//! - [`report`]: the report writers (JSON, CSV, Markdown, HTML, SARIF, JUnit) and the human
//!   summary.
//! - [`input`]: local input files read through a size cap.
//! - [`display`]: server-supplied text made safe for a terminal or a log line.
//! - [`diff`]: what changed between two runs' report.json files (`idguard diff`, `--baseline`).
//! - [`trend`]: every run's counts over time (`idguard trend`: trend.html, trend.md).
//! - [`notify`]: the `--notify` alert to an incoming webhook when a run has something new.
//! - [`remediate`]: plans of safe PATCHes, their re-check, self-protection, apply with a
//!   journal, verification and rollback.
//! - [`cli`], [`commands`]: argument parsing and one glue function per subcommand.
//! - [`snapshot`]: the org's identities and configs kept in one file, for offline audits.
//! - [`incremental`]: audits that read only what the audit log says changed since a snapshot.
//! - [`usage`]: usage evidence (the audit log: addresses each identity is used from).
//! - [`exit`]: exit codes and the failure type that carries one up to `main`.

pub mod audit;
pub mod cli;
pub mod commands;
pub mod diff;
pub mod display;
pub mod evaluate;
pub mod exit;
pub mod finding;
pub mod incremental;
pub mod infisical;
pub mod input;
pub mod interrupt;
pub mod model;
pub mod notify;
pub mod pattern;
pub mod policy;
pub mod policy_test;
pub mod progress;
pub mod remediate;
pub mod report;
pub mod snapshot;
pub mod trend;
pub mod usage;

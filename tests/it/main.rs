//! Integration tests: one test binary (to save link time) with themed modules. They drive the
//! real `idguard` binary or the library against the in-process simulated Infisical.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod batches;
mod cli;
mod client;
mod config_decode;
mod demo;
mod deploy;
mod exemptions;
mod faults;
mod files;
mod findings;
mod formats;
mod hostile;
mod hostile_server;
mod incremental;
mod inputs;
mod interrupt;
mod notify;
mod patch_answer;
mod policy_test;
mod rates;
mod remediate;
mod report_content;
mod schema;
mod sim_api;
mod snapshot;
mod support;
mod terminal;
mod tls;
mod trend;
mod usage;
mod validate;
mod write_safety;

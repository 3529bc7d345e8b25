//! The benchmark's scenarios: what simulator each one starts, how `idguard` is run
//! against it, what its ideal wall time is, and which targets it is judged by.
//!
//! It holds data only; running and measuring live in `process.rs`, judging in `judge.rs`.

/// What `idguard` command a scenario runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `idguard audit`.
    Audit,
    /// `idguard remediate --apply --yes`.
    Remediate,
    /// Two `idguard audit --incremental` runs in one working folder, with a share of the
    /// configs changed through the API between them (`incremental.rs`).
    Incremental,
}

/// What bounds a scenario, and so how its ideal wall time is computed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// `calls × latency / concurrency`.
    Latency,
    /// `reads / rate` (the simulator's read limit per second).
    ReadRate(u32),
    /// `reads / read rate + writes / write rate` (the simulator's limits per second).
    WriteRate { reads: u32, writes: u32 },
    /// Nothing but idguard's own CPU (latency 0, no limit): no ideal.
    Cpu,
    /// Modelled at Infisical Cloud Pro's per-minute limits (`cloud_pro.rs`), not run at them.
    CloudPro,
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The `--scenario` name.
    pub name: &'static str,
    /// One sentence for the table's legend.
    pub about: &'static str,
    /// Identities the simulator generates (the logged-in identity included).
    pub identities: usize,
    /// Latency the simulator adds to every response, in milliseconds.
    pub latency_ms: u64,
    /// Simulator rate limits per 1-second window: (reads, writes).
    pub sim_limit: Option<(u32, u32)>,
    /// Whether the simulator keeps an audit log (usage evidence and the change feed read it).
    pub audit_logs: bool,
    /// The command run.
    pub command: Command,
    /// `--concurrency`.
    pub concurrency: u32,
    /// `--read-rate` (per second).
    pub read_rate: Option<u32>,
    /// `--write-rate` (per second).
    pub write_rate: Option<u32>,
    /// What bounds it.
    pub bound: Bound,
}

/// Every scenario at full size, in table order.
pub fn all() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "latency",
            about: "20 ms latency, no rate limit, 10,000 identities, --concurrency 64",
            identities: 10_000,
            latency_ms: 20,
            sim_limit: None,
            audit_logs: false,
            command: Command::Audit,
            concurrency: 64,
            read_rate: None,
            write_rate: None,
            bound: Bound::Latency,
        },
        Scenario {
            name: "rate",
            about: "simulator limit 50 reads/s, idguard --read-rate 50, 1,000 identities",
            identities: 1_000,
            latency_ms: 0,
            sim_limit: Some((50, 90)),
            audit_logs: false,
            command: Command::Audit,
            concurrency: 64,
            read_rate: Some(50),
            write_rate: None,
            bound: Bound::ReadRate(50),
        },
        Scenario {
            name: "rate-overtold",
            about: "simulator limit 50 reads/s, idguard told --read-rate 100: must adapt to 429s",
            identities: 1_000,
            latency_ms: 0,
            sim_limit: Some((50, 90)),
            audit_logs: false,
            command: Command::Audit,
            concurrency: 64,
            read_rate: Some(100),
            write_rate: None,
            bound: Bound::ReadRate(50),
        },
        Scenario {
            name: "large",
            about: "100,000 identities, latency 0, --concurrency 64: memory and CPU per config",
            identities: 100_000,
            latency_ms: 0,
            sim_limit: None,
            audit_logs: false,
            command: Command::Audit,
            concurrency: 64,
            read_rate: None,
            write_rate: None,
            bound: Bound::Cpu,
        },
        Scenario {
            name: "remediate",
            about: "remediate --apply of about 2,000 configs, simulator 20 writes/s, --write-rate 20",
            identities: 4_420,
            latency_ms: 0,
            sim_limit: Some((550, 20)),
            audit_logs: false,
            command: Command::Remediate,
            concurrency: 64,
            read_rate: Some(500),
            write_rate: Some(20),
            bound: Bound::WriteRate {
                reads: 500,
                writes: 20,
            },
        },
        Scenario {
            name: "incremental",
            about: "100,000 identities, audit logs on: a full --incremental run, 1% of configs \
                    changed through the API, an incremental run, 1% changed again, an \
                    incremental run with --no-usage-evidence",
            identities: 100_000,
            latency_ms: 0,
            sim_limit: None,
            audit_logs: true,
            command: Command::Incremental,
            concurrency: 64,
            read_rate: None,
            write_rate: None,
            bound: Bound::CloudPro,
        },
        Scenario {
            name: "naive",
            about: "the latency scenario done sequentially (--concurrency 1): the baseline",
            identities: 10_000,
            latency_ms: 20,
            sim_limit: None,
            audit_logs: false,
            command: Command::Audit,
            concurrency: 1,
            read_rate: None,
            write_rate: None,
            bound: Bound::Latency,
        },
    ]
}

impl Scenario {
    /// The small version run by `--quick` (a smoke test of the bench itself).
    pub fn quick(mut self) -> Scenario {
        self.identities = match self.name {
            "large" => 5_000,
            "remediate" => 150,
            "naive" => 100,
            "latency" | "incremental" => 1_000,
            _ => 200,
        };
        self
    }
}

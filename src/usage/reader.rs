//! The run's usage-evidence reader: decides once, at the first identity that needs evidence,
//! whether the audit log is usable (see [`availability`](super::availability)), then reads each
//! such identity's evidence through the run's client (paced and retried like every read).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OnceCell;

use crate::infisical::Client;
use crate::model::{Identity, LastLogin};

use super::availability::{EvidenceSource, probe};
use super::evidence::{Window, collect};
use super::lockout::Known;

/// The widest window: Infisical refuses audit-log ranges over three months.
pub const MAX_WINDOW: Duration = Duration::from_secs(90 * 86_400);

/// Why an audit of a snapshot has no usage evidence.
pub const OFFLINE: &str = "offline audit from a snapshot";

/// Why an audit run with `--no-usage-evidence` has none.
pub const NOT_READ: &str = "not read (--no-usage-evidence)";

/// How a run uses usage evidence (`--evidence-window`, `--require-usage-evidence`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvidenceSettings {
    /// How far back to look; at most [`MAX_WINDOW`].
    pub window: Duration,
    /// Hold every narrowing when the evidence is unavailable.
    pub require: bool,
    /// Read the audit log at all (`audit --no-usage-evidence` does not).
    pub read: bool,
}

impl Default for EvidenceSettings {
    fn default() -> EvidenceSettings {
        EvidenceSettings {
            window: Duration::from_secs(30 * 86_400),
            require: false,
            read: true,
        }
    }
}

/// Reads usage evidence for one run.
pub struct EvidenceReader {
    /// `None` offline (an audit of a snapshot) or when told not to read: the audit log is
    /// never read.
    client: Option<Client>,
    /// Why there is no client.
    no_client: &'static str,
    window: Window,
    require: bool,
    source: OnceCell<EvidenceSource>,
    /// Per identity, read once for all its configs.
    known: Mutex<HashMap<String, Arc<OnceCell<Known>>>>,
}

impl EvidenceReader {
    /// A reader of the window that ends at `now`.
    pub fn new(client: Client, now: jiff::Timestamp, settings: EvidenceSettings) -> EvidenceReader {
        if !settings.read {
            return EvidenceReader::with(None, NOT_READ, now, settings);
        }
        EvidenceReader::with(Some(client), OFFLINE, now, settings)
    }

    /// A reader without a server (an audit of a snapshot): any identity that needs evidence
    /// finds it unavailable ([`OFFLINE`]), and nothing is read.
    pub fn offline(now: jiff::Timestamp, settings: EvidenceSettings) -> EvidenceReader {
        EvidenceReader::with(None, OFFLINE, now, settings)
    }

    fn with(
        client: Option<Client>,
        no_client: &'static str,
        now: jiff::Timestamp,
        settings: EvidenceSettings,
    ) -> EvidenceReader {
        // Whole seconds (the window is shown to people and sent as query parameters), rounded
        // up so that an event of the last second is inside.
        let now = jiff::Timestamp::from_second(now.as_second().saturating_add(1)).unwrap_or(now);
        let span = jiff::SignedDuration::try_from(settings.window.min(MAX_WINDOW))
            .unwrap_or(jiff::SignedDuration::ZERO);
        EvidenceReader {
            client,
            no_client,
            window: Window {
                since: now.checked_sub(span).unwrap_or(now),
                until: now,
            },
            require: settings.require,
            source: OnceCell::new(),
            known: Mutex::new(HashMap::new()),
        }
    }

    /// What is known of this identity's use: its evidence, why it could not be read, or why
    /// there is none in this run. Read once per identity, whatever the number of its configs.
    pub async fn known(&self, identity: &Identity) -> Known {
        let reports = identity.usage.last_login != LastLogin::NotReported;
        self.known_by_id(&identity.id, reports).await
    }

    /// [`EvidenceReader::known`] by identity id; `reports_last_logins` says whether the
    /// server's listing carries last logins (older servers' do not, and their audit logs cannot
    /// serve as evidence).
    pub async fn known_by_id(&self, identity_id: &str, reports_last_logins: bool) -> Known {
        let cell = match self.known.lock() {
            Ok(mut cells) => cells.entry(identity_id.to_owned()).or_default().clone(),
            Err(_) => Arc::new(OnceCell::new()),
        };
        cell.get_or_init(|| self.read(identity_id, reports_last_logins))
            .await
            .clone()
    }

    async fn read(&self, identity_id: &str, reports_last_logins: bool) -> Known {
        let source = self
            .source
            .get_or_init(|| async {
                match &self.client {
                    Some(client) => probe(client, self.window, reports_last_logins).await,
                    None => EvidenceSource::Unavailable {
                        reason: self.no_client.to_owned(),
                    },
                }
            })
            .await;
        match (source, &self.client) {
            (EvidenceSource::AuditLogs, Some(client)) => {
                match collect(client, identity_id, self.window).await {
                    Ok(evidence) => Known::Evidence(evidence),
                    Err(e) => Known::Failed(e.to_string()),
                }
            }
            (EvidenceSource::AuditLogs, None) => Known::Unavailable {
                reason: self.no_client.to_owned(),
                required: self.require,
            },
            (EvidenceSource::Unavailable { reason }, _) => Known::Unavailable {
                reason: reason.clone(),
                required: self.require,
            },
            (EvidenceSource::NotNeeded, _) => Known::Unavailable {
                reason: "not read".to_owned(),
                required: self.require,
            },
        }
    }

    /// Where the run's evidence came from: `not-needed` when no identity needed any.
    pub fn source(&self) -> EvidenceSource {
        self.source
            .get()
            .cloned()
            .unwrap_or(EvidenceSource::NotNeeded)
    }
}

//! Where an audit reads the organization from: the live server through the client, a
//! snapshot file (offline: no request of any kind, usage evidence unavailable), or the live
//! server for what changed and a base snapshot for the rest (incremental). Evaluation and
//! reports are the same for all three.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::ListingError;
use crate::incremental::Delta;
use crate::infisical::{ApiError, Client};
use crate::model::{AuthConfig, AuthMethod, Identity};
use crate::snapshot::{Snapshot, StoredConfig};
use crate::usage::reader::{EvidenceReader, EvidenceSettings};

/// The source of identities and configs of one audit.
#[derive(Clone)]
pub enum Source {
    Live(Client),
    Snapshot(Arc<Snapshot>),
    /// The live listing; each config from the base when [`Delta::reuse`] allows, otherwise
    /// from the server.
    Incremental(Client, Arc<Delta>),
}

impl Source {
    /// The organization audited.
    pub fn org_id(&self) -> &str {
        match self {
            Source::Live(client) | Source::Incremental(client, _) => client.org_id(),
            Source::Snapshot(snap) => &snap.manifest.org_id,
        }
    }

    /// The server the identities and configs came from.
    pub fn api_url(&self) -> &str {
        match self {
            Source::Live(client) | Source::Incremental(client, _) => client.api_url(),
            Source::Snapshot(snap) => &snap.manifest.api_url,
        }
    }

    /// The live client, if any.
    pub fn client(&self) -> Option<&Client> {
        match self {
            Source::Live(client) | Source::Incremental(client, _) => Some(client),
            Source::Snapshot(_) => None,
        }
    }

    /// Starts sending every identity once into `tx` (and the total, when known, into
    /// `total`); the task ends with why the listing stopped short, if it did.
    pub(super) fn spawn_listing(
        &self,
        tx: mpsc::Sender<Arc<Identity>>,
        total: watch::Sender<u64>,
    ) -> JoinHandle<Result<(), ListingError>> {
        match self {
            Source::Live(client) | Source::Incremental(client, _) => {
                let client = client.clone();
                tokio::spawn(async move {
                    list_into(&client, tx, total)
                        .await
                        .map_err(ListingError::Api)
                })
            }
            Source::Snapshot(snap) => {
                let snap = snap.clone();
                tokio::spawn(async move {
                    let _ = total.send(snap.entries.len() as u64);
                    for entry in &snap.entries {
                        if tx.send(entry.identity.clone()).await.is_err() {
                            return Ok(());
                        }
                    }
                    if snap.manifest.complete {
                        return Ok(());
                    }
                    let reason = snap.manifest.incomplete_reason.clone();
                    Err(ListingError::Snapshot(
                        reason.unwrap_or_else(|| "no reason recorded".to_owned()),
                    ))
                })
            }
        }
    }

    /// The config of `identity`'s `method`, or why it could not be read (with its causes).
    pub(super) async fn config(
        &self,
        identity: &Identity,
        method: &AuthMethod,
    ) -> Result<AuthConfig, String> {
        match self {
            // Boxed: the request's future is a few KiB, and the job futures are moved into
            // the buffer; a box keeps those moves to a pointer's size.
            Source::Live(client) => Box::pin(client.get_config(&identity.id, method))
                .await
                .map_err(|e| super::chain(&e)),
            Source::Snapshot(snap) => snap.config(&identity.id, method),
            Source::Incremental(client, delta) => match delta.reuse(identity, method) {
                Some(config) => Ok(config),
                None => Box::pin(client.get_config(&identity.id, method))
                    .await
                    .map_err(|e| super::chain(&e)),
            },
        }
    }

    /// The stored form of a config this source carried over from a base snapshot (`None`
    /// when it was read, or comes from a snapshot audited offline).
    pub(super) fn carried(&self, identity: &Identity, method: &AuthMethod) -> Option<StoredConfig> {
        match self {
            Source::Incremental(_, delta) => delta.carried(identity, method),
            Source::Live(_) | Source::Snapshot(_) => None,
        }
    }

    /// The usage-evidence reader of a run judged at `now` (offline for a snapshot).
    pub(super) fn evidence_reader(
        &self,
        now: jiff::Timestamp,
        settings: EvidenceSettings,
    ) -> EvidenceReader {
        match self {
            Source::Live(client) | Source::Incremental(client, _) => {
                EvidenceReader::new(client.clone(), now, settings)
            }
            Source::Snapshot(_) => EvidenceReader::offline(now, settings),
        }
    }
}

/// Pages through the listing, sending each identity once.
async fn list_into(
    client: &Client,
    tx: mpsc::Sender<Arc<Identity>>,
    total: watch::Sender<u64>,
) -> Result<(), ApiError> {
    let mut pager = client.identities();
    while let Some(page) = pager.next_page().await? {
        if let Some(t) = pager.total() {
            let _ = total.send(t);
        }
        for identity in page {
            // The pager already yields each identity once.
            if tx.send(Arc::new(identity)).await.is_err() {
                return Ok(());
            }
        }
    }
    Ok(())
}

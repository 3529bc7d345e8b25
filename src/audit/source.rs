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

/// A config as a source gave it.
pub(super) struct Got {
    /// The config, or why it could not be read.
    pub(super) read: Result<AuthConfig, String>,
    /// Its stored form, when it was carried over from a base snapshot (the run's own snapshot
    /// then shares it).
    pub(super) carried: Option<StoredConfig>,
}

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
    pub(super) async fn config(&self, identity: &Identity, method: &AuthMethod) -> Got {
        let (read, carried) = match self {
            Source::Live(client) => (get(client, identity, method).await, None),
            Source::Snapshot(snap) => (snap.config(&identity.id, method), None),
            Source::Incremental(client, delta) => match delta.reuse(identity, method) {
                Some((config, stored)) => (Ok(config), Some(stored)),
                None => (get(client, identity, method).await, None),
            },
        };
        Got { read, carried }
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

/// A config GET, or its error with its causes.
async fn get(
    client: &Client,
    identity: &Identity,
    method: &AuthMethod,
) -> Result<AuthConfig, String> {
    // Boxed: the request's future is a few KiB, and the job futures are moved into the
    // buffer; a box keeps those moves to a pointer's size.
    Box::pin(client.get_config(&identity.id, method))
        .await
        .map_err(|e| super::chain(&e))
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

//! Taking a snapshot: the identity listing, then every config GET, through the run's client
//! (paced, retried, bounded by its concurrency). A config that could not be read is recorded
//! as its error; a listing that fails partway (or is stopped by Ctrl-C) leaves the identities
//! listed so far, their configs read, and the snapshot marked incomplete. After Ctrl-C no
//! further request is started: the configs not read are recorded as errors saying so.

use std::sync::Arc;

use futures::{StreamExt, stream};

use super::{Entry, Manifest, Snapshot, StoredConfig};
use crate::infisical::Client;
use crate::interrupt::Interrupt;
use crate::model::Identity;

/// Why a run stopped by Ctrl-C is incomplete, and the error of each config it did not read.
const INTERRUPTED: &str = "interrupted (Ctrl-C) before every config was read";

/// Reads the organization through `client`, at most `concurrency` config GETs at once, until
/// `stop` is pressed.
pub async fn take(client: &Client, concurrency: usize, stop: &Interrupt) -> Snapshot {
    let started_at = jiff::Timestamp::now();
    let mut identities: Vec<Arc<Identity>> = Vec::new();
    let mut pager = client.identities();
    let mut incomplete_reason = loop {
        let page = tokio::select! {
            biased;
            () = stop.stopped() => break Some(INTERRUPTED.to_owned()),
            page = pager.next_page() => page,
        };
        match page {
            Ok(Some(page)) => identities.extend(page.into_iter().map(Arc::new)),
            Ok(None) => break None,
            Err(e) => {
                break Some(format!(
                    "the identity listing failed: {}",
                    crate::audit::chain(&e)
                ));
            }
        }
    };
    let jobs = identities.iter().flat_map(|identity| {
        identity
            .auth_methods
            .iter()
            .map(move |method| (identity.clone(), method.clone()))
    });
    let reads: Vec<_> = stream::iter(jobs)
        .map(|(identity, method)| async move {
            let get = Box::pin(client.get_config(&identity.id, &method));
            let read = tokio::select! {
                biased;
                () = stop.stopped() => Err(INTERRUPTED.to_owned()),
                read = get => read
                    .map(|config| StoredConfig::of(&config))
                    .map_err(|e| crate::audit::chain(&e)),
            };
            (method, read)
        })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    let mut reads = reads.into_iter();
    let entries: Vec<Entry> = identities
        .into_iter()
        .map(|identity| {
            let configs = reads.by_ref().take(identity.auth_methods.len()).collect();
            Entry { identity, configs }
        })
        .collect();
    if stop.requested() {
        incomplete_reason.get_or_insert_with(|| INTERRUPTED.to_owned());
    }
    let manifest = Manifest::finished(
        client.api_url(),
        client.org_id(),
        started_at,
        incomplete_reason,
        &entries,
        None,
    );
    Snapshot::new(manifest, entries)
}

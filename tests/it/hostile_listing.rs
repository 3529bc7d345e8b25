//! A hostile server beside the simulator: an identity listing that lies (repeats its pages,
//! comes up short of its `totalCount`, never stops changing the count, or gives none) ends
//! the run within seconds as incomplete (exit 2, `run.complete: false`, the reason in the
//! manifest); a well-behaved listing from the same server completes.
//!
//! The server is a few lines of HTTP/1.1 over a tokio listener: it answers the login, the
//! organization lookup, the v2 search and universal-auth config GETs, and closes every
//! connection after its answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::audit;

/// How the listing lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listing {
    /// 250 identities, `totalCount` 250.
    Honest,
    /// The same 100 identities at every offset, `totalCount` 1000.
    Repeats,
    /// Pages of 10 fresh identities (fewer than asked), 300 in all, `totalCount` 1000.
    ShortOfTheCount,
    /// Fresh identities forever, a `totalCount` that grows on every page.
    ChangingCount,
    /// Fresh identities forever, no `totalCount`.
    NoCount,
}

/// A compliant universal-auth config (what the example policy accepts).
fn config() -> Value {
    json!({"identityUniversalAuth": {
        "accessTokenTTL": 600, "accessTokenMaxTTL": 3600, "accessTokenNumUsesLimit": 10,
        "accessTokenPeriod": 0,
        "accessTokenTrustedIps": [{"ipAddress": "10.0.0.0", "type": "ipv4", "prefix": 8}],
        "clientSecretTrustedIps": [{"ipAddress": "10.0.0.0", "type": "ipv4", "prefix": 8}]
    }})
}

fn item(n: u64) -> Value {
    let id = format!("00000000-0000-4000-8000-{n:012}");
    json!({"id": format!("m-{n}"), "identityId": id, "scope": "organization",
           "identity": {"id": id, "name": format!("svc-{n:05}"), "authMethods": ["universal-auth"]}})
}

/// The search answer for `offset` (the `page`-th page served).
fn page(listing: Listing, offset: u64, served: u64) -> Value {
    let range = |from: u64, to: u64| (from..to).map(item).collect::<Vec<_>>();
    match listing {
        Listing::Honest => {
            json!({"identities": range(offset, (offset + 100).min(250)), "totalCount": 250})
        }
        Listing::Repeats => json!({"identities": range(0, 100), "totalCount": 1000}),
        Listing::ShortOfTheCount => {
            json!({"identities": range(offset, (offset + 10).min(300)), "totalCount": 1000})
        }
        Listing::ChangingCount => {
            json!({"identities": range(offset, offset + 100), "totalCount": 1000 + served})
        }
        Listing::NoCount => json!({"identities": range(offset, offset + 100)}),
    }
}

/// Answers one request on `stream`.
async fn serve(mut stream: TcpStream, listing: Listing, pages: Arc<AtomicU64>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body: Value = serde_json::from_slice(&buf[head_end..]).unwrap_or(Value::Null);
    let line = head.lines().next().unwrap_or_default().to_owned();
    let answer = if line.starts_with("POST /api/v1/auth/universal-auth/login") {
        json!({"accessToken": "hostile-token", "expiresIn": 86400, "accessTokenMaxTTL": 86400,
               "tokenType": "Bearer"})
    } else if line.starts_with("GET /api/v1/identities/details") {
        json!({"identityDetails": {"organization": {"id": "org-hostile", "name": "h", "slug": "h"}}})
    } else if line.starts_with("POST /api/v2/identities/search") {
        let served = pages.fetch_add(1, Ordering::SeqCst);
        page(listing, body["offset"].as_u64().unwrap_or(0), served)
    } else if line.starts_with("GET /api/v1/auth/universal-auth/identities/") {
        config()
    } else {
        json!({"statusCode": 404, "message": "Route not found", "error": "NotFound"})
    };
    let status = if answer.get("statusCode").is_some() {
        "404 Not Found"
    } else {
        "200 OK"
    };
    let text = answer.to_string();
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Starts the hostile server; returns its base URL and the count of listing pages served.
async fn start(listing: Listing) -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let pages = Arc::new(AtomicU64::new(0));
    let counter = pages.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, listing, counter.clone()));
        }
    });
    (url, pages)
}

/// Each lying listing ends as an incomplete run (exit 2, `run.complete: false`, the reason
/// in the manifest) after a handful of pages; the identities it did list are audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lying_listings_end_the_run_as_incomplete() {
    for (listing, reason) in [
        (Listing::Repeats, "repeated identities"),
        (Listing::ShortOfTheCount, "the server announced 1000"),
        (Listing::ChangingCount, "kept changing"),
        (Listing::NoCount, "no `totalCount`"),
    ] {
        let (url, pages) = start(listing).await;
        let run = audit(&url, &[]).await;
        let err = run.stderr();
        assert_eq!(run.code(), 2, "{listing:?}: {err}");
        let report = run.report();
        assert_eq!(report["run"]["complete"], false, "{listing:?}");
        let why = report["run"]["incomplete_reason"]
            .as_str()
            .unwrap_or_default();
        assert!(why.contains(reason), "{listing:?}: {why}");
        assert!(
            pages.load(Ordering::SeqCst) <= 40,
            "{listing:?}: {} pages",
            pages.load(Ordering::SeqCst)
        );
        assert!(
            report["summary"]["identities"].as_u64().unwrap_or(0) >= 100,
            "{listing:?}: what was listed is audited"
        );
    }
}

/// The same server with an honest listing: every identity audited, the run complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_honest_listing_completes() {
    let (url, pages) = start(Listing::Honest).await;
    let run = audit(&url, &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let report = run.report();
    assert_eq!(report["run"]["complete"], true);
    assert_eq!(report["summary"]["identities"], 250);
    assert_eq!(pages.load(Ordering::SeqCst), 3);
}

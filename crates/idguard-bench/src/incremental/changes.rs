//! The changes the incremental scenario makes between its two runs: which configs (picked
//! from the first run's `report.csv`) and the PATCHes that change them through the simulator's
//! HTTP API, so that the simulator writes their `update-identity-<method>` events as Infisical
//! would.
//!
//! Only universal-auth and token-auth configs are changed: both take the same body, a new
//! access-token TTL and max TTL.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use idguard_sim::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, LOGIN_IDENTITY_NAME};
use serde_json::{Value, json};

/// The methods whose configs are changed.
const METHODS: [&str; 2] = ["universal-auth", "token-auth"];
/// The new access-token TTL and max TTL, in seconds.
const NEW_TTL: u64 = 86_400;

/// One config to change: (identity id, method).
pub type Target = (String, String);

/// `count` configs of the first run's `report.csv`, spread evenly over the sorted candidates
/// (universal-auth and token-auth configs read without error, the logged-in identity's
/// excluded).
pub fn pick(csv_path: &Path, count: usize) -> Result<Vec<Target>> {
    let mut reader = csv::Reader::from_path(csv_path)
        .with_context(|| format!("cannot read {}", csv_path.display()))?;
    let headers = reader.headers()?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| anyhow!("{} has no `{name}` column", csv_path.display()))
    };
    let (id, name, method, status) = (
        col("identity_id")?,
        col("identity_name")?,
        col("auth_method")?,
        col("status")?,
    );
    let mut candidates = BTreeSet::new();
    let mut failed = BTreeSet::new();
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record)? {
        let cell = |i: usize| record.get(i).unwrap_or_default();
        if !METHODS.contains(&cell(method)) || cell(name) == LOGIN_IDENTITY_NAME {
            continue;
        }
        let target = (cell(id).to_owned(), cell(method).to_owned());
        if cell(status) == "error" {
            failed.insert(target);
        } else {
            candidates.insert(target);
        }
    }
    let candidates: Vec<Target> = candidates.difference(&failed).cloned().collect();
    spread(candidates, count)
}

/// `count` items of `all`, evenly spaced.
fn spread(all: Vec<Target>, count: usize) -> Result<Vec<Target>> {
    if count > all.len() {
        bail!(
            "{count} configs to change but only {} universal-auth and token-auth configs",
            all.len()
        );
    }
    let len = all.len();
    Ok(all
        .into_iter()
        .enumerate()
        .filter(|(i, _)| count > 0 && (i * count) % len < count)
        .map(|(_, t)| t)
        .collect())
}

/// Logs in with the demo credentials and PATCHes every target's TTLs; fails on any answer
/// but 200.
pub fn apply(url: &str, targets: &[Target]) -> Result<()> {
    crate::process::with_client(Duration::from_secs(60), |client| async move {
        let login: Value = client
            .post(format!("{url}/api/v1/auth/universal-auth/login"))
            .json(&json!({"clientId": DEMO_CLIENT_ID, "clientSecret": DEMO_CLIENT_SECRET}))
            .send()
            .await?
            .error_for_status()
            .context("the demo login was refused")?
            .json()
            .await?;
        let token = login["accessToken"]
            .as_str()
            .ok_or_else(|| anyhow!("the login answer has no accessToken"))?;
        let body = json!({"accessTokenTTL": NEW_TTL, "accessTokenMaxTTL": NEW_TTL});
        for (id, method) in targets {
            let resp = client
                .patch(format!("{url}/api/v1/auth/{method}/identities/{id}"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await?;
            let status = resp.status();
            if !status.is_success() {
                let text = resp.text().await.unwrap_or_default();
                bail!("PATCH of {method} of {id}: {status}: {text}");
            }
        }
        anyhow::Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(n: usize) -> Vec<Target> {
        (0..n)
            .map(|i| (format!("id-{i:03}"), "token-auth".to_owned()))
            .collect()
    }

    #[test]
    fn spread_takes_exactly_count_evenly() {
        for (n, count) in [(100, 1), (100, 10), (100, 33), (7, 7), (1280, 1279), (5, 0)] {
            let picked = spread(targets(n), count).unwrap();
            assert_eq!(picked.len(), count, "{n} {count}");
        }
        let picked = spread(targets(100), 4).unwrap();
        let ids: Vec<_> = picked.iter().map(|t| t.0.as_str()).collect();
        assert_eq!(ids, ["id-000", "id-025", "id-050", "id-075"]);
    }

    #[test]
    fn spread_refuses_more_than_there_are() {
        assert!(spread(targets(3), 4).is_err());
    }

    #[test]
    fn pick_skips_other_methods_failed_reads_and_the_login_identity() {
        let dir = std::env::temp_dir().join(format!("idguard-bench-pick-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let csv = dir.join("report.csv");
        std::fs::write(
            &csv,
            format!(
                "identity_id,identity_name,auth_method,status\r\n\
                 a,alpha,universal-auth,pass\r\n\
                 a,alpha,universal-auth,fail\r\n\
                 b,beta,aws-auth,fail\r\n\
                 c,gamma,token-auth,error\r\n\
                 d,{LOGIN_IDENTITY_NAME},universal-auth,pass\r\n\
                 e,eps,token-auth,fail\r\n"
            ),
        )
        .unwrap();
        let picked = pick(&csv, 2).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            picked,
            [
                ("a".to_owned(), "universal-auth".to_owned()),
                ("e".to_owned(), "token-auth".to_owned())
            ]
        );
    }
}

//! `idguard apply PLAN`: apply a plan written earlier, to the server and organization it was
//! made for. Configs that changed since are skipped as `drifted`.

use std::io::Write;

use crate::cli::ApplyArgs;
use crate::exit::{Exit, Failure};
use crate::infisical::normalise_api_url;
use crate::remediate::{apply, plan::Plan};
use crate::report;

use super::audit::io_failure;
use super::{connect, validate, writes};

/// Runs `idguard apply`.
pub async fn run(args: ApplyArgs, quiet: bool, stderr: &mut dyn Write) -> Result<Exit, Failure> {
    let plan = Plan::load(&args.plan).map_err(|e| Failure::new(Exit::DataErr, e))?;
    let policy = match &args.policy {
        Some(path) => {
            let policy = validate::load_policy(path)?;
            if policy.sha256 != plan.policy.sha256 {
                return Err(Failure::new(
                    Exit::Usage,
                    anyhow::anyhow!(
                        "{} is not the policy the plan was made with ({}, sha256 {})",
                        path.display(),
                        plan.policy.path,
                        plan.policy.sha256
                    ),
                ));
            }
            Some(policy)
        }
        None => None,
    };
    let mut conn = args.connection;
    let url = connect::api_url(conn.api_url.as_deref());
    if conn.api_url.is_none()
        && std::env::var_os("INFISICAL_DOMAIN").is_none()
        && std::env::var_os("INFISICAL_API_URL").is_none()
    {
        conn.api_url = Some(plan.api_url.clone());
    } else if normalise_api_url(&url) != normalise_api_url(&plan.api_url) {
        return Err(Failure::new(
            Exit::Usage,
            anyhow::anyhow!("the plan was made for {}, not {url}", plan.api_url),
        ));
    }
    if conn.org_id.is_none() {
        conn.org_id = Some(plan.org_id.clone());
    }
    let opts = connect::options(&conn)?;
    let concurrency = opts.concurrency;
    let client = connect::connect(opts).await?;
    if client.org_id() != plan.org_id {
        return Err(Failure::new(
            Exit::Usage,
            anyhow::anyhow!(
                "the plan is for organization {}, not {}",
                plan.org_id,
                client.org_id()
            ),
        ));
    }
    if plan.changes.is_empty() {
        let _ = writeln!(stderr, "idguard: the plan has no changes; nothing to do");
        return Ok(Exit::Ok);
    }
    if plan.changes.len() > args.writes.max_changes {
        let _ = writeln!(
            stderr,
            "idguard: refused: {} configs would change, more than --max-changes {}; nothing was written",
            plan.changes.len(),
            args.writes.max_changes
        );
        return Ok(Exit::Refused);
    }
    if !writes::confirm(
        args.writes.yes,
        &format!(
            "Apply {} change(s) to org {} at {}?",
            plan.changes.len(),
            plan.org_id,
            client.api_url()
        ),
        stderr,
    )? {
        let _ = writeln!(stderr, "idguard: not confirmed; nothing was written");
        return Ok(Exit::Ok);
    }
    let now = jiff::Timestamp::now();
    let dir = report::create_run_dir(args.out.as_deref(), now).map_err(io_failure)?;
    let (journal, journal_path) = writes::open_journal(&dir, &client, "apply")?;
    let today = now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let outcomes = apply::apply(
        &client,
        policy.as_ref(),
        &plan.changes,
        &journal,
        concurrency,
        today,
    )
    .await
    .map_err(io_failure)?;
    let (lines, failed) = writes::summarise(&outcomes);
    if !quiet {
        for l in lines {
            let _ = writeln!(stderr, "idguard: {l}");
        }
        let _ = writeln!(stderr, "idguard: journal: {}", journal_path.display());
    }
    Ok(if failed { Exit::WriteFailed } else { Exit::Ok })
}

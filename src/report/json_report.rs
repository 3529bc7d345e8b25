//! `report.json`, streamed: results go to a temp file as they arrive; at the end the manifest,
//! the summary, the policy's rules (id, severity, description, in policy order) and the results
//! are assembled into the final file, which is moved into place. Memory holds one finding at a
//! time.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use tempfile::NamedTempFile;

use super::{FinishContext, FormatWriter, ReportError, SCHEMA_VERSION, files};
use crate::finding::Finding;

/// Write buffer of the results and of the final file: one write call per MiB, not per 8 KiB.
const WRITE_BUFFER: usize = 1 << 20;

/// The streaming writer of `report.json`.
pub(super) struct JsonReport {
    final_path: PathBuf,
    results: BufWriter<NamedTempFile>,
    results_path: PathBuf,
    count: u64,
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
    /// The commit the binary was built from (`unknown` outside a git checkout).
    commit: &'static str,
}

const TOOL: Tool = Tool {
    name: "idguard",
    version: env!("CARGO_PKG_VERSION"),
    commit: env!("IDGUARD_COMMIT"),
};

impl JsonReport {
    pub(super) fn create(dir: &Path) -> Result<JsonReport, ReportError> {
        let final_path = dir.join("report.json");
        let spool = files::create_temp(&dir.join("report.json.results"))?;
        Ok(JsonReport {
            final_path,
            results_path: spool.path().to_owned(),
            results: BufWriter::with_capacity(WRITE_BUFFER, spool),
            count: 0,
        })
    }
}

impl FormatWriter for JsonReport {
    fn write(&mut self, finding: &Finding) -> Result<(), ReportError> {
        let io = |source| ReportError::Io {
            path: self.results_path.clone(),
            source,
        };
        let sep: &[u8] = if self.count == 0 { b"    " } else { b",\n    " };
        self.results.write_all(sep).map_err(io)?;
        serde_json::to_writer(&mut self.results, finding)?;
        self.count += 1;
        Ok(())
    }

    fn finish(self: Box<Self>, ctx: &FinishContext<'_>) -> Result<PathBuf, ReportError> {
        let JsonReport {
            final_path,
            results,
            results_path,
            count,
        } = *self;
        let results_io = |source| ReportError::Io {
            path: results_path.clone(),
            source,
        };
        let results = results
            .into_inner()
            .map_err(|e| results_io(e.into_error()))?;

        let tmp = files::create_temp(&final_path)?;
        let io = |source| ReportError::Io {
            path: final_path.clone(),
            source,
        };
        let mut out = BufWriter::with_capacity(WRITE_BUFFER, tmp);
        write!(
            out,
            "{{\n  \"schema_version\": {SCHEMA_VERSION},\n  \"tool\": "
        )
        .map_err(io)?;
        serde_json::to_writer(&mut out, &TOOL)?;
        out.write_all(b",\n  \"run\": ").map_err(io)?;
        serde_json::to_writer(&mut out, ctx.run)?;
        out.write_all(b",\n  \"summary\": ").map_err(io)?;
        serde_json::to_writer(&mut out, ctx.summary)?;
        out.write_all(b",\n  \"rules\": ").map_err(io)?;
        serde_json::to_writer(&mut out, ctx.rules)?;
        out.write_all(b",\n  \"expired_exemptions\": ")
            .map_err(io)?;
        serde_json::to_writer(&mut out, &expired_exemptions(ctx))?;
        if let Some(baseline) = ctx.baseline {
            out.write_all(b",\n  \"baseline\": ").map_err(io)?;
            serde_json::to_writer(&mut out, &baseline.json)?;
        }
        out.write_all(b",\n  \"results\": [").map_err(io)?;
        if count > 0 {
            out.write_all(b"\n").map_err(io)?;
            let reader = BufReader::new(results.reopen().map_err(results_io)?);
            copy_annotated(reader, &mut out, ctx.annotations).map_err(io)?;
            out.write_all(b"\n  ").map_err(io)?;
        }
        out.write_all(b"]\n}\n").map_err(io)?;
        let tmp = out.into_inner().map_err(|e| io(e.into_error()))?;
        files::commit(tmp, &final_path)?;
        // The results spool is removed as it is dropped.
        drop(results);
        Ok(final_path)
    }
}

/// An exemption of the policy that has expired on the day of the run (it no longer applies).
#[derive(Serialize)]
struct ExpiredExemption<'a> {
    identity: &'a str,
    /// `null`: every rule.
    rules: Option<&'a [String]>,
    /// The day it stopped applying, `YYYY-MM-DD`.
    expires: String,
    reason: &'a str,
    owner: Option<&'a str>,
}

fn expired_exemptions<'a>(ctx: &FinishContext<'a>) -> Vec<ExpiredExemption<'a>> {
    ctx.exemptions
        .iter()
        .filter(|e| e.has_expired(ctx.today))
        .map(|e| ExpiredExemption {
            identity: &e.identity,
            rules: e.rules.as_deref(),
            expires: e.expires.to_string(),
            reason: &e.reason,
            owner: e.owner.as_deref(),
        })
        .collect()
}

/// Copies the streamed results, merging annotations into the results they name. Each result
/// is on its own line and starts with `{"finding_id":"<id>"`, so only annotated lines are
/// parsed.
fn copy_annotated(
    reader: impl BufRead,
    out: &mut impl Write,
    annotations: &super::Annotations,
) -> std::io::Result<()> {
    if annotations.is_empty() {
        let mut reader = reader;
        std::io::copy(&mut reader, out)?;
        return Ok(());
    }
    let mut first = true;
    for line in reader.lines() {
        let line = line?;
        if !first {
            out.write_all(b"\n")?;
        }
        first = false;
        let id = line
            .split("\"finding_id\":\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next());
        match id.and_then(|id| annotations.get(id)) {
            Some(extra) => {
                let (indent, body) = line.split_at(line.len() - line.trim_start().len());
                let comma = body.ends_with(',');
                let json = body.trim_end_matches(',');
                let mut value: serde_json::Value =
                    serde_json::from_str(json).map_err(std::io::Error::other)?;
                if let Some(obj) = value.as_object_mut() {
                    for (k, v) in extra {
                        obj.insert(k.clone(), v.clone());
                    }
                }
                out.write_all(indent.as_bytes())?;
                serde_json::to_writer(&mut *out, &value).map_err(std::io::Error::other)?;
                if comma {
                    out.write_all(b",")?;
                }
            }
            None => out.write_all(line.as_bytes())?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Format;
    use super::super::spool::fixture;

    /// report.json says which build wrote it: the version and the commit (`unknown` outside a
    /// git checkout), as `idguard --version` does.
    #[test]
    fn the_tool_names_its_version_and_commit() {
        let (_dir, text) = fixture::render(Format::Json, &fixture::findings());
        let report: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        let commit = report["tool"]["commit"].as_str().expect("a commit");
        assert!(
            commit == "unknown"
                || (commit.len() >= 7 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
            "{commit}"
        );
        assert_eq!(report["tool"]["version"], env!("CARGO_PKG_VERSION"));
    }

    /// `rules` lists every rule of the policy in policy order with its severity and its
    /// description as written (JSON escaping is the encoder's), `null` where it has none; the
    /// summary keeps its per-rule counts.
    #[test]
    fn rules_carry_their_descriptions() {
        let (_dir, text) = fixture::render(Format::Json, &fixture::findings());
        let report: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(
            report["rules"],
            serde_json::json!([
                {"id": "token-lifetime", "severity": "high",
                 "description": fixture::HOSTILE_DESCRIPTION},
                {"id": "network", "severity": "critical",
                 "description": "Only from the corporate network."},
                {"id": "unused", "severity": "low", "description": null},
            ])
        );
        assert_eq!(
            report["summary"]["by_rule"]["unused"],
            serde_json::json!({"pass": 0, "fail": 0, "error": 0, "exempt": 0})
        );
    }

    /// report.json lists the exemptions expired on the day of the run, and only those, beside
    /// its other sections.
    #[test]
    fn lists_expired_exemptions() {
        let (_dir, text) = fixture::render(Format::Json, &fixture::findings());
        let report: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(
            report["expired_exemptions"],
            serde_json::json!([{
                "identity": "gone",
                "rules": ["token-lifetime"],
                "expires": "2026-11-20",
                "reason": "reason for gone",
                "owner": null,
            }])
        );
        assert_eq!(report["results"].as_array().map(Vec::len), Some(5));
        assert!(report["summary"].is_object() && report["run"].is_object());
    }
}

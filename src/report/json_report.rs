//! `report.json`, streamed: results go to a temp file as they arrive; at the end the manifest,
//! the summary and the results are assembled into the final file, which is moved into place.
//! Memory holds one finding at a time.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{files, ReportError, RunInfo, Summary, SCHEMA_VERSION};
use crate::finding::Finding;

/// The streaming writer of `report.json`.
pub(super) struct JsonReport {
    final_path: PathBuf,
    results: BufWriter<File>,
    results_path: PathBuf,
    count: u64,
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

const TOOL: Tool = Tool { name: "idguard", version: env!("CARGO_PKG_VERSION") };

impl JsonReport {
    pub(super) fn create(dir: &Path) -> Result<JsonReport, ReportError> {
        let final_path = dir.join("report.json");
        let (file, results_path) = files::create_temp(&dir.join("report.json.results"))?;
        Ok(JsonReport { final_path, results: BufWriter::new(file), results_path, count: 0 })
    }

    pub(super) fn write(&mut self, finding: &Finding) -> Result<(), ReportError> {
        let io = |source| ReportError::Io { path: self.results_path.clone(), source };
        let sep: &[u8] = if self.count == 0 { b"    " } else { b",\n    " };
        self.results.write_all(sep).map_err(io)?;
        serde_json::to_writer(&mut self.results, finding)?;
        self.count += 1;
        Ok(())
    }

    pub(super) fn finish(self, run: &RunInfo, summary: &Summary) -> Result<PathBuf, ReportError> {
        let JsonReport { final_path, results, results_path, count } = self;
        let results_io = |source| ReportError::Io { path: results_path.clone(), source };
        let results = results.into_inner().map_err(|e| results_io(e.into_error()))?;
        drop(results);

        let (file, tmp) = files::create_temp(&final_path)?;
        let io = |source| ReportError::Io { path: tmp.clone(), source };
        let mut out = BufWriter::new(file);
        write!(out, "{{\n  \"schema_version\": {SCHEMA_VERSION},\n  \"tool\": ").map_err(io)?;
        serde_json::to_writer(&mut out, &TOOL)?;
        out.write_all(b",\n  \"run\": ").map_err(io)?;
        serde_json::to_writer(&mut out, run)?;
        out.write_all(b",\n  \"summary\": ").map_err(io)?;
        serde_json::to_writer(&mut out, summary)?;
        out.write_all(b",\n  \"results\": [").map_err(io)?;
        if count > 0 {
            out.write_all(b"\n").map_err(io)?;
            let mut reader = BufReader::new(File::open(&results_path).map_err(results_io)?);
            std::io::copy(&mut reader, &mut out).map_err(io)?;
            out.write_all(b"\n  ").map_err(io)?;
        }
        out.write_all(b"]\n}\n").map_err(io)?;
        let file = out.into_inner().map_err(|e| io(e.into_error()))?;
        files::commit(file, &tmp, &final_path)?;
        let _ = std::fs::remove_file(&results_path);
        Ok(final_path)
    }
}

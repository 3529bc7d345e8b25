//! Reading a `report.json` (schema_version 1) for `diff`, streamed: the results array is
//! visited one result at a time and handed to a callback, so a report of any size is read in
//! bounded memory. Only the fields `diff` needs are decoded; unknown fields are ignored (later
//! report versions may add some). Bad input is a [`DiffError`] naming the file, with the JSON
//! line and column.

use std::cell::Cell;
use std::fmt;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{DiffError, RunRef, State};

/// One result of a report, as `diff` needs it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ResultRecord {
    pub finding_id: String,
    pub identity_id: String,
    pub identity_name: String,
    pub auth_method: String,
    pub rule: String,
    pub severity: String,
    pub status: State,
    #[serde(default)]
    pub violations: Vec<ViolationRecord>,
    #[serde(default)]
    pub exemption: Option<ExemptionRecord>,
    #[serde(default)]
    pub error: Option<String>,
}

/// The part of a violation `diff` shows.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ViolationRecord {
    #[serde(default)]
    pub message: String,
}

/// The part of an applied exemption `diff` shows.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ExemptionRecord {
    #[serde(default)]
    pub expires: String,
}

/// The `run` object, as far as `diff` uses it.
#[derive(Debug, Clone, Default, Deserialize)]
struct RunRecord {
    #[serde(default)]
    id: String,
    #[serde(default)]
    started_at: String,
    #[serde(default)]
    org_id: String,
    #[serde(default = "yes")]
    complete: bool,
}

fn yes() -> bool {
    true
}

/// The report schema version `diff` reads.
const SUPPORTED: u64 = 1;

/// Reads the report at `path`, calling `each` for every result in file order. Returns what
/// the report says about its run.
pub(crate) fn read_report(
    path: &Path,
    mut each: impl FnMut(ResultRecord),
) -> Result<RunRef, DiffError> {
    let file = File::open(path).map_err(|source| DiffError::Read {
        path: path.to_owned(),
        source,
    })?;
    let bad_version = Cell::new(None);
    let mut de = serde_json::Deserializer::from_reader(BufReader::new(file));
    let seed = ReportSeed {
        each: &mut each,
        bad_version: &bad_version,
    };
    let parsed = seed.deserialize(&mut de).and_then(|h| de.end().map(|()| h));
    let header = match parsed {
        Ok(h) => h,
        Err(_) if bad_version.get().is_some() => {
            return Err(DiffError::SchemaVersion {
                path: path.to_owned(),
                found: bad_version.get().unwrap_or_default(),
            });
        }
        Err(e) if e.is_io() => {
            return Err(DiffError::Read {
                path: path.to_owned(),
                source: e.into(),
            });
        }
        Err(source) => {
            return Err(DiffError::Parse {
                path: path.to_owned(),
                source,
            });
        }
    };
    let missing = |what: &str| DiffError::NotAReport {
        path: path.to_owned(),
        missing: what.to_owned(),
    };
    if !header.schema_version {
        return Err(missing("schema_version"));
    }
    if !header.results {
        return Err(missing("results"));
    }
    let run = header.run.unwrap_or_default();
    Ok(RunRef {
        path: path.display().to_string(),
        run_id: run.id,
        started_at: run.started_at,
        org_id: run.org_id,
        complete: run.complete,
    })
}

/// What the top-level object held besides the results.
struct Header {
    schema_version: bool,
    results: bool,
    run: Option<RunRecord>,
}

struct ReportSeed<'a, F> {
    each: &'a mut F,
    bad_version: &'a Cell<Option<u64>>,
}

impl<'de, F: FnMut(ResultRecord)> DeserializeSeed<'de> for ReportSeed<'_, F> {
    type Value = Header;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Header, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, F: FnMut(ResultRecord)> Visitor<'de> for ReportSeed<'_, F> {
    type Value = Header;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an idguard report.json object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header, A::Error> {
        let mut header = Header {
            schema_version: false,
            results: false,
            run: None,
        };
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "schema_version" => {
                    let v: u64 = map.next_value()?;
                    if v != SUPPORTED {
                        self.bad_version.set(Some(v));
                        return Err(de::Error::custom(format!("unsupported schema_version {v}")));
                    }
                    header.schema_version = true;
                }
                "run" => header.run = Some(map.next_value()?),
                "results" => {
                    map.next_value_seed(ResultsSeed {
                        each: &mut *self.each,
                    })?;
                    header.results = true;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(header)
    }
}

struct ResultsSeed<'a, F> {
    each: &'a mut F,
}

impl<'de, F: FnMut(ResultRecord)> DeserializeSeed<'de> for ResultsSeed<'_, F> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(ResultRecord)> Visitor<'de> for ResultsSeed<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of results")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(record) = seq.next_element::<ResultRecord>()? {
            (self.each)(record);
        }
        Ok(())
    }
}

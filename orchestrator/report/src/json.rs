//! The JSON report: the run record as stored, with its schema version, plus the verdict and
//! the exit code at the top level so that a script need not derive them.

use serde::{Deserialize, Serialize};
use stagenet_store::{RunReport, Verdict, REPORT_SCHEMA_VERSION};

use crate::ReportError;

/// The JSON form of a report: `{"verdict": …, "exit_code": …, "schema_version": 1, "run": …,
/// "nodes": […], "blocks": […], …}`. The fields after `exit_code` are those of [`RunReport`],
/// whose [`REPORT_SCHEMA_VERSION`] versions the whole document.
#[derive(Debug, Clone, Serialize)]
pub struct JsonReport<'a> {
	/// [`RunReport::verdict`].
	pub verdict: Verdict,
	/// [`Verdict::exit_code`] of the verdict.
	pub exit_code: u8,
	/// The record.
	#[serde(flatten)]
	pub report: &'a RunReport,
}

impl<'a> JsonReport<'a> {
	/// Wraps `report` with its verdict and exit code.
	pub fn new(report: &'a RunReport) -> Self {
		let verdict = report.verdict();
		JsonReport {
			verdict,
			exit_code: verdict.exit_code(),
			report,
		}
	}
}

/// Renders `report` as pretty-printed JSON ([`JsonReport`]).
pub fn json(report: &RunReport) -> String {
	to_json(&JsonReport::new(report), true)
}

/// Serializes a value that cannot fail to serialize: the model has no maps with non-string
/// keys, and serde_json writes non-finite floats as `null`.
pub(crate) fn to_json<T: Serialize>(value: &T, pretty: bool) -> String {
	let out = if pretty {
		serde_json::to_string_pretty(value)
	} else {
		serde_json::to_string(value)
	};
	out.unwrap_or_else(|e| {
		// Unreachable with the model's types; still a valid JSON document if it ever happens.
		let msg = serde_json::Value::String(format!("the report could not be serialized: {e}"));
		format!("{{\"error\":{msg}}}")
	})
}

/// The one field read before the rest, so that a report of another version gets a clear error.
#[derive(Deserialize)]
struct Versioned {
	#[serde(default)]
	schema_version: u32,
}

/// Reads a JSON report (as written by [`json`]) back into the run record. The top-level
/// `verdict` and `exit_code` are ignored: the record carries the verdict.
///
/// # Errors
///
/// [`ReportError::SchemaVersion`] when the document has another (or no) `schema_version`,
/// [`ReportError::Json`] when it is not a report.
pub fn parse_json(text: &str) -> Result<RunReport, ReportError> {
	let versioned: Versioned =
		serde_json::from_str(text).map_err(|source| ReportError::Json { source })?;
	if versioned.schema_version != REPORT_SCHEMA_VERSION {
		return Err(ReportError::SchemaVersion {
			found: versioned.schema_version,
		});
	}
	serde_json::from_str(text).map_err(|source| ReportError::Json { source })
}

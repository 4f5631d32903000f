//! The errors of this crate.

use stagenet_store::REPORT_SCHEMA_VERSION;

/// Why a report format could not be chosen or a JSON report not be read back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
	/// A format name that is not one of [`crate::Format::ALL`].
	#[error(
		"unknown report format `{name}` (hint: use one of terminal, json, junit, markdown, html)"
	)]
	UnknownFormat {
		/// The name as given.
		name: String,
	},

	/// The text is not a JSON report (syntax, or a field of the wrong type).
	#[error(
		"the JSON report is not valid: {source} (hint: pass a file written by `--format json`)"
	)]
	Json {
		/// What serde_json said.
		#[source]
		source: serde_json::Error,
	},

	/// The JSON report was written with another schema version.
	#[error(
		"the JSON report has schema version `{found}`, this stagenet reads version \
		 `{REPORT_SCHEMA_VERSION}` (hint: render it with the stagenet version that wrote it, or \
		 re-render it from the run's store)"
	)]
	SchemaVersion {
		/// The version in the file (`0` when the file has none).
		found: u32,
	},
}

impl ReportError {
	/// Whether the input was a report of another schema version (as opposed to not a report).
	pub fn is_schema_mismatch(&self) -> bool {
		matches!(self, ReportError::SchemaVersion { .. })
	}
}

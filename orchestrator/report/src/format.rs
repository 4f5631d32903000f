//! The report formats.

use std::fmt;
use std::str::FromStr;

use crate::ReportError;

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
	/// Compact text for a terminal (see [`crate::terminal`]).
	Terminal,
	/// The run record as JSON, with the verdict and exit code (see [`crate::JsonReport`]).
	Json,
	/// JUnit XML: one test case per gate.
	Junit,
	/// Markdown for a pull-request comment.
	Markdown,
	/// One self-contained HTML page with charts.
	Html,
}

impl Format {
	/// Every format, in a fixed order.
	pub const ALL: [Format; 5] = [
		Format::Terminal,
		Format::Json,
		Format::Junit,
		Format::Markdown,
		Format::Html,
	];

	/// The format's name (`terminal`, `json`, `junit`, `markdown`, `html`).
	pub fn as_str(self) -> &'static str {
		match self {
			Format::Terminal => "terminal",
			Format::Json => "json",
			Format::Junit => "junit",
			Format::Markdown => "markdown",
			Format::Html => "html",
		}
	}

	/// Parses [`Format::as_str`]'s names (case-insensitive, surrounding blanks ignored).
	pub fn parse(name: &str) -> Result<Format, ReportError> {
		let wanted = name.trim();
		Self::ALL
			.into_iter()
			.find(|f| f.as_str().eq_ignore_ascii_case(wanted))
			.ok_or_else(|| ReportError::UnknownFormat {
				name: name.to_owned(),
			})
	}

	/// The extension of a file in this format, without the dot (`txt`, `json`, `xml`, `md`,
	/// `html`).
	pub fn extension(self) -> &'static str {
		match self {
			Format::Terminal => "txt",
			Format::Json => "json",
			Format::Junit => "xml",
			Format::Markdown => "md",
			Format::Html => "html",
		}
	}

	/// The media type of this format (`text/html; charset=utf-8`, …), for the HTTP API.
	pub fn media_type(self) -> &'static str {
		match self {
			Format::Terminal => "text/plain; charset=utf-8",
			Format::Json => "application/json",
			Format::Junit => "application/xml",
			Format::Markdown => "text/markdown; charset=utf-8",
			Format::Html => "text/html; charset=utf-8",
		}
	}
}

impl fmt::Display for Format {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		f.write_str(self.as_str())
	}
}

impl FromStr for Format {
	type Err = ReportError;

	fn from_str(s: &str) -> Result<Self, Self::Err> {
		Format::parse(s)
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn names_round_trip_and_extensions_differ() {
		for f in Format::ALL {
			assert_eq!(Format::parse(f.as_str()).ok(), Some(f));
			assert_eq!(f.to_string().parse::<Format>().ok(), Some(f));
		}
		let mut exts: Vec<_> = Format::ALL.iter().map(|f| f.extension()).collect();
		exts.sort_unstable();
		exts.dedup();
		assert_eq!(exts.len(), Format::ALL.len());
		assert_eq!(Format::parse(" HTML ").ok(), Some(Format::Html));
	}

	#[test]
	fn unknown_name_is_an_error_with_a_hint() {
		let err = Format::parse("xml").err().map(|e| e.to_string());
		assert_eq!(
			err.as_deref(),
			Some(
				"unknown report format `xml` (hint: use one of terminal, json, junit, markdown, \
				 html)"
			)
		);
	}
}

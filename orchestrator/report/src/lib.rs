//! Reports of a rehearsal, rendered from the stored run record ([`RunReport`]):
//!
//! - [`Format::Terminal`]: a compact text summary for a person ([`terminal`], with or without
//!   color);
//! - [`Format::Json`]: the whole record with its schema version, the verdict and the exit code
//!   ([`JsonReport`], read back with [`parse_json`]);
//! - [`Format::Junit`]: JUnit XML with one test case per gate, for CI test viewers;
//! - [`Format::Markdown`]: a pull-request comment;
//! - [`Format::Html`]: one self-contained page (inline CSS and JavaScript, a strict content
//!   security policy) with charts of block weight, block time and finality lag, and per block
//!   of each stress load.
//!
//! Replays (with their divergences) and stress loads (with the limit they hit) get a section in
//! every format, only when the run has any.
//!
//! Rendering never fails: every format is a pure function of the record. Text that comes from
//! the chain or from node logs (panic messages, log lines) is escaped for the target format and
//! stripped of terminal control sequences.
//!
//! ```
//! # fn show(report: &stagenet_store::RunReport) -> Result<(), stagenet_report::ReportError> {
//! use stagenet_report::{render, Format};
//!
//! let format = Format::parse("markdown")?;
//! let comment = render(report, format);
//! # let _ = comment;
//! # Ok(())
//! # }
//! ```

mod error;
mod format;
mod html;
mod json;
mod junit;
mod markdown;
mod summary;
mod terminal;
mod text;

pub use error::ReportError;
pub use format::Format;
pub use html::html;
pub use json::{json, parse_json, JsonReport};
pub use junit::junit;
pub use markdown::markdown;
pub use summary::{AtBlock, LedgerSummary};
pub use terminal::terminal;

use stagenet_store::RunReport;

/// Renders `report` in `format`. The terminal format is rendered without color (see
/// [`terminal`] for color).
pub fn render(report: &RunReport, format: Format) -> String {
	match format {
		Format::Terminal => terminal(report, false),
		Format::Json => json(report),
		Format::Junit => junit(report),
		Format::Markdown => markdown(report),
		Format::Html => html(report),
	}
}

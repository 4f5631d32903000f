//! Reading node logs as they grow and recognising what must never happen in a release:
//! panics and wasm traps in the runtime, failed inherents, Aura slot errors, import failures.
//!
//! A node repeats the same error at every slot once its runtime panics; each distinct
//! message (digits ignored) is reported once per node, with the lines before and after it.

use stagenet_store::FindingKind;
use std::{
	collections::{HashSet, VecDeque},
	io::{Read, Seek, SeekFrom},
	path::{Path, PathBuf},
};

/// Lines kept before a match, and collected after it.
pub const CONTEXT_LINES: usize = 5;
/// Longest line kept (a runtime error can quote a whole call).
const MAX_LINE: usize = 2000;

/// Patterns, checked in order; the first that matches decides the kind.
const PATTERNS: &[(&str, FindingKind)] = &[
	("Runtime panicked", FindingKind::Panic),
	("panicked at", FindingKind::Panic),
	("wasm trap", FindingKind::WasmTrap),
	("aborted due to trap", FindingKind::WasmTrap),
	("wasm `unreachable`", FindingKind::WasmTrap),
	("out of bounds memory access", FindingKind::WasmTrap),
	("inherent", FindingKind::FailedInherent),
	("Inherent", FindingKind::FailedInherent),
	("Timestamp slot must match", FindingKind::AuraSlot),
	("slot", FindingKind::AuraSlot),
	("Slot", FindingKind::AuraSlot),
	("Error importing block", FindingKind::ImportFailure),
	("Block import error", FindingKind::ImportFailure),
	("import failed", FindingKind::ImportFailure),
	("Import failed", FindingKind::ImportFailure),
	("failed to import", FindingKind::ImportFailure),
	("Verification failed", FindingKind::ImportFailure),
];

/// Words that make a line an error worth matching against the weaker patterns
/// (`inherent`, `slot`, `import failed`).
const ERROR_WORDS: &[&str] = &["ERROR", "WARN", "rror", "ailed", "panicked"];

/// A match, before its following lines are known.
#[derive(Debug, Clone, PartialEq)]
pub struct LogMatch {
	/// What it is.
	pub kind: FindingKind,
	/// The line that matched.
	pub line: String,
	/// Block number the line names (`block 42`, `#42`), if any.
	pub block: Option<u64>,
	/// Lines before it and the line itself; lines after it are appended as they come.
	pub context: Vec<String>,
	/// Lines still to append.
	pub after_left: usize,
}

/// Follows one log file.
#[derive(Debug)]
pub struct LogFollower {
	path: PathBuf,
	offset: u64,
	partial: String,
	recent: VecDeque<String>,
	seen: HashSet<(FindingKind, String)>,
	open: Vec<LogMatch>,
	/// The last match ended with `:` (Rust's `panicked at <file>:<line>:<col>:`): its message is
	/// the next line, which is appended to it rather than reported on its own.
	continues: Option<usize>,
}

impl LogFollower {
	/// Follows `path` from its start.
	pub fn new(path: &Path) -> Self {
		Self {
			path: path.to_path_buf(),
			offset: 0,
			partial: String::new(),
			recent: VecDeque::new(),
			seen: HashSet::new(),
			open: Vec::new(),
			continues: None,
		}
	}

	/// Reads what was appended since the last call; returns matches whose context is
	/// complete (or all open ones when `flush`).
	pub fn poll(&mut self, flush: bool) -> Vec<LogMatch> {
		let text = match self.read_new() {
			Ok(t) => t,
			Err(e) => {
				tracing::debug!(target: "stagenet::monitor", path = %self.path.display(), error = %e, "log not readable yet");
				String::new()
			}
		};
		self.partial.push_str(&text);
		let mut lines: Vec<String> = Vec::new();
		while let Some(end) = self.partial.find('\n') {
			let line: String = self.partial[..end].chars().take(MAX_LINE).collect();
			self.partial.drain(..=end);
			lines.push(line);
		}
		for line in lines {
			self.feed(line);
		}
		let (done, open): (Vec<_>, Vec<_>) = std::mem::take(&mut self.open)
			.into_iter()
			.partition(|m| flush || m.after_left == 0);
		self.open = open;
		done
	}

	fn read_new(&mut self) -> std::io::Result<String> {
		let mut file = std::fs::File::open(&self.path)?;
		let len = file.metadata()?.len();
		if len < self.offset {
			// Truncated or replaced: start again.
			self.offset = 0;
		}
		file.seek(SeekFrom::Start(self.offset))?;
		let mut bytes = Vec::new();
		file.take(len - self.offset).read_to_end(&mut bytes)?;
		self.offset += bytes.len() as u64;
		Ok(String::from_utf8_lossy(&bytes).into_owned())
	}

	fn feed(&mut self, line: String) {
		if let Some(i) = self.continues.take() {
			if let Some(m) = self.open.get_mut(i) {
				m.line = format!("{} {}", m.line, strip_prefix(&line));
				m.block = m.block.or_else(|| block_named(&line));
				m.context.push(line.clone());
				self.recent.push_back(line);
				if self.recent.len() > CONTEXT_LINES {
					self.recent.pop_front();
				}
				return;
			}
		}
		for m in &mut self.open {
			if m.after_left > 0 {
				m.context.push(line.clone());
				m.after_left -= 1;
			}
		}
		if let Some(kind) = classify(&line) {
			let key = (kind, normalise(&line));
			if self.seen.insert(key) {
				let mut context: Vec<String> = self.recent.iter().cloned().collect();
				context.push(line.clone());
				if line.trim_end().ends_with(':') {
					self.continues = Some(self.open.len());
				}
				self.open.push(LogMatch {
					kind,
					block: block_named(&line),
					line: strip_prefix(&line).to_string(),
					context,
					after_left: CONTEXT_LINES,
				});
			}
		}
		self.recent.push_back(line);
		if self.recent.len() > CONTEXT_LINES {
			self.recent.pop_front();
		}
	}
}

/// The kind of finding a log line is, if any.
pub fn classify(line: &str) -> Option<FindingKind> {
	let strong = |p: &str| {
		matches!(
			p,
			"Runtime panicked" | "panicked at" | "wasm trap" | "aborted due to trap"
		)
	};
	let is_error = ERROR_WORDS.iter().any(|w| line.contains(w));
	PATTERNS
		.iter()
		.find(|(p, _)| line.contains(p) && (strong(p) || is_error))
		.map(|(_, kind)| *kind)
}

/// The line without the node's `YYYY-MM-DD HH:MM:SS` prefix.
fn strip_prefix(line: &str) -> &str {
	let mut parts = line.splitn(3, ' ');
	match (parts.next(), parts.next(), parts.next()) {
		(Some(date), Some(time), Some(rest))
			if date.len() == 10 && date.as_bytes().get(4) == Some(&b'-') && time.contains(':') =>
		{
			rest.trim_start()
		}
		_ => line.trim(),
	}
}

/// The line without its timestamp and digits, so that repeats of one error compare equal.
fn normalise(line: &str) -> String {
	line.chars()
		.skip_while(|c| !c.is_alphabetic())
		.filter(|c| !c.is_ascii_digit())
		.collect()
}

/// The block a line names: `block 42`, `block #42`, `#42`, `at 42`.
pub fn block_named(line: &str) -> Option<u64> {
	for marker in ["block #", "block ", "#"] {
		let mut rest = line;
		while let Some(i) = rest.find(marker) {
			rest = &rest[i + marker.len()..];
			let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
			if let Ok(n) = digits.parse() {
				return Some(n);
			}
		}
	}
	None
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn runtime_panics_and_traps_are_recognised_and_ordinary_lines_are_not() {
		assert_eq!(
			classify("2026-11-25 12:00:01 Proposing failed: Runtime panicked: stagenet fixture: on_initialize panicked at block 12"),
			Some(FindingKind::Panic)
		);
		assert_eq!(
			classify(
				"Execution aborted due to trap: wasm trap: wasm `unreachable` instruction executed"
			),
			Some(FindingKind::WasmTrap)
		);
		assert_eq!(
			classify("2026 ERROR 💔 Error importing block 0xab: Verification failed"),
			Some(FindingKind::ImportFailure)
		);
		assert_eq!(
			classify(
				"WARN Unable to author block in slot 123: Timestamp slot must match `CurrentSlot`"
			),
			Some(FindingKind::AuraSlot)
		);
		assert_eq!(
			classify("ERROR Checking inherents failed: timestamp too far in the future"),
			Some(FindingKind::FailedInherent)
		);
		for ok in [
			"2026-11-25 12:00:01 🙌 Starting consensus session on top of parent 0xab (#11)",
			"2026-11-25 12:00:01 🎁 Prepared block for proposing at 12 (2 ms) hash: 0xab",
			"2026-11-25 12:00:01 🏆 Imported #12 (0xab → 0xcd)",
			"2026-11-25 12:00:01 ⏱ Starting slot 1234 with inherent data",
		] {
			assert_eq!(classify(ok), None, "{ok}");
		}
	}

	#[test]
	fn a_rust_panic_location_line_takes_its_message_from_the_next_line() {
		let dir = tempfile::tempdir().expect("tempdir");
		let log = dir.path().join("node.log");
		std::fs::write(
			&log,
			"2026-11-25 13:52:51 ⏱ Starting slot\n\
			 2026-11-25 13:52:51 panicked at pallets/subnets/src/migration.rs:80:4:\n\
			 stagenet fixture: on_initialize panicked at block 10 (panic-on-init, upgraded at 7)\n\
			 2026-11-25 13:52:51 Proposing failed: Import failed: Execution aborted due to trap: wasm trap: wasm `unreachable` instruction executed\n",
		)
		.expect("write");
		let found = LogFollower::new(&log).poll(true);
		assert_eq!(found.len(), 2, "{found:#?}");
		assert_eq!(found[0].kind, FindingKind::Panic);
		assert_eq!(
			found[0].line,
			"panicked at pallets/subnets/src/migration.rs:80:4: stagenet fixture: on_initialize panicked at block 10 (panic-on-init, upgraded at 7)"
		);
		assert_eq!(found[0].block, Some(10));
		assert_eq!(found[1].kind, FindingKind::WasmTrap);
		assert!(
			found[1].line.starts_with("Proposing failed"),
			"{:?}",
			found[1].line
		);
	}

	#[test]
	fn block_numbers_are_read_from_lines() {
		assert_eq!(
			block_named("panicked at block 12 (panic-on-init)"),
			Some(12)
		);
		assert_eq!(block_named("Error importing block #42: x"), Some(42));
		assert_eq!(block_named("on top of parent 0xab (#11)"), Some(11));
		assert_eq!(block_named("no number here"), None);
	}

	#[test]
	fn a_follower_reports_each_distinct_error_once_with_its_context() {
		let dir = tempfile::tempdir().expect("tempdir");
		let log = dir.path().join("node.log");
		let mut text = String::new();
		for i in 0..7 {
			text.push_str(&format!("line {i}\n"));
		}
		text.push_str("ERROR Runtime panicked: boom at block 12\n");
		text.push_str("after 1\n");
		std::fs::write(&log, &text).expect("write");
		let mut f = LogFollower::new(&log);
		assert!(
			f.poll(false).is_empty(),
			"context after the line is not complete yet"
		);
		text.push_str(
			"after 2\nERROR Runtime panicked: boom at block 13\nafter 3\nafter 4\nafter 5\n",
		);
		std::fs::write(&log, &text).expect("write");
		let found = f.poll(false);
		assert_eq!(found.len(), 1, "{found:?}");
		let m = &found[0];
		assert_eq!(m.kind, FindingKind::Panic);
		assert_eq!(m.block, Some(12));
		assert_eq!(m.context.first().map(String::as_str), Some("line 2"));
		assert_eq!(m.context.len(), CONTEXT_LINES + 1 + CONTEXT_LINES);
		assert!(
			f.poll(true).is_empty(),
			"the repeat at block 13 is the same error"
		);
	}
}

//! Reliability of the `stagenet` binary under concurrent use, interrupts and bad input: each
//! test runs the real binary (and, where a chain is needed, real test-chain nodes) against
//! real files, and checks what the user sees: the exit code, the message and its hint, and
//! that nothing was lost or written where it should not be.
//!
//! Module names say what a group needs: `*_chain` tests need the test chain
//! (`scripts/build-test-chain`); the others need nothing but the binary.

mod down;
mod fork;
mod inputs;
mod interrupt;
mod pipes;
mod rpc;
mod runs;
mod snapshot;
mod store;

use stagenet_test_support::OutputWithin;
use std::{
	ffi::OsStr,
	path::{Path, PathBuf},
	process::{Command, Output},
};

/// The `stagenet` binary under test.
pub fn stagenet() -> Command {
	Command::new(env!("CARGO_BIN_EXE_stagenet"))
}

/// Runs `stagenet` with `args` and returns what the user saw.
pub fn run<I, S>(args: I) -> Seen
where
	I: IntoIterator<Item = S>,
	S: AsRef<OsStr>,
{
	Seen::from(stagenet().args(args).output_within(stagenet_test_support::LIMIT).expect("run stagenet"))
}

/// A finished command as its user sees it.
#[derive(Debug)]
pub struct Seen {
	/// Exit code (`None` when killed by a signal).
	pub code: Option<i32>,
	/// Standard output.
	pub stdout: String,
	/// Standard error.
	pub stderr: String,
}

impl From<Output> for Seen {
	fn from(out: Output) -> Self {
		Self {
			code: out.status.code(),
			stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
			stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
		}
	}
}

impl Seen {
	/// Asserts the exit code and that stderr holds every one of `needles`; returns `self`.
	#[track_caller]
	pub fn expect(&self, code: i32, needles: &[&str]) -> &Self {
		assert_eq!(self.code, Some(code), "exit code; {self:#?}");
		for n in needles {
			assert!(self.stderr.contains(n), "stderr lacks {n:?}; {self:#?}");
		}
		assert!(
			!self.stderr.contains("panicked"),
			"stagenet panicked; {self:#?}"
		);
		self
	}
}

/// The repository root.
pub fn repo_root() -> PathBuf {
	PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The bundled test chain's node (`scripts/build-test-chain`).
pub fn test_node() -> PathBuf {
	let path = stagenet_test_support::test_node();
	assert!(
		path.exists(),
		"{} is missing (hint: run scripts/build-test-chain)",
		path.display()
	);
	path
}

/// A fresh temporary directory, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
	tempfile::tempdir().expect("tempdir")
}

/// Every file below `dir`, relative, sorted (to prove nothing was written).
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
	let mut out = Vec::new();
	let mut stack = vec![dir.to_path_buf()];
	while let Some(d) = stack.pop() {
		let Ok(entries) = std::fs::read_dir(&d) else {
			continue;
		};
		for e in entries.flatten() {
			let p = e.path();
			if p.is_dir() {
				stack.push(p.clone());
			}
			out.push(p.strip_prefix(dir).expect("below").to_path_buf());
		}
	}
	out.sort();
	out
}

/// Processes of run `run_id` (its nodes carry `STAGENET_RUN`).
pub fn processes_of(run_id: &str) -> Vec<String> {
	let needle = format!("STAGENET_RUN={run_id}");
	std::fs::read_dir("/proc")
		.map(|d| {
			d.flatten()
				.filter(|e| {
					std::fs::read(e.path().join("environ"))
						.map(|env| env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()))
						.unwrap_or(false)
				})
				.map(|e| e.file_name().to_string_lossy().into_owned())
				.collect()
		})
		.unwrap_or_default()
}

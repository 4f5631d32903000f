//! Errors of `stagenet fork`.

use super::profile::Problem;
use stagenet_snapshot::SnapshotError;
use stagenet_config::exit::{Exit, ExitStatus};
use std::path::PathBuf;

/// What went wrong while forking a snapshot into a chain spec.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ForkError {
	/// Keys reached the genesis root out of order: a bug of the fork (the snapshot verified
	/// its order), never a spec with a wrong root.
	#[error(
		"the fork's genesis keys came out of order: {source} (hint: this is a bug of stagenet \
		 fork; report it with the snapshot's `stagenet snapshot inspect`)"
	)]
	Unordered {
		/// The two keys.
		#[source]
		source: stagenet_snapshot::trie::OrderError,
	},
	/// The snapshot cannot be read or does not verify; a fork is never built from it.
	#[error("refusing to fork `{path}`: {source}")]
	Snapshot {
		/// The snapshot.
		path: PathBuf,
		/// Why (boxed: snapshot errors are large, and every fork result carries this type).
		#[source]
		source: Box<SnapshotError>,
	},
	/// The snapshot holds no metadata, so names cannot be resolved.
	#[error(
		"`{path}` holds no metadata, so the profile's pallet and item names cannot be resolved \
		 (hint: re-create it with `stagenet snapshot`, or `snapshot from-spec --metadata-url`)"
	)]
	NoMetadata {
		/// The snapshot.
		path: PathBuf,
	},
	/// The profile is malformed or does not fit the snapshot's metadata: every problem found.
	#[error("the fork profile has {} problem(s):\n{}", problems.len(), list(problems))]
	Profile {
		/// The problems, each with its file and field path.
		problems: Vec<Problem>,
	},
	/// The runtime override is for another chain.
	#[error(
		"the runtime override `{path}` is `{code}` but the snapshot's runtime is `{snapshot}` \
		 (hint: pass `--allow-spec-name-change` if that is intended)"
	)]
	SpecNameChanged {
		/// The wasm file.
		path: PathBuf,
		/// Its `spec_name`.
		code: String,
		/// The snapshot's `spec_name`.
		snapshot: String,
	},
	/// The runtime override cannot be used.
	#[error("cannot use the runtime override `{path}`: {reason}")]
	Code {
		/// The wasm file.
		path: PathBuf,
		/// Why.
		reason: String,
	},
	/// More validators than the runtime allows.
	#[error(
		"{asked} validators asked for, but the runtime allows at most {max} \
		 (`{constant}`) (hint: pass `--validators {max}` or fewer)"
	)]
	TooManyValidators {
		/// Validators asked for.
		asked: usize,
		/// The runtime's limit.
		max: u64,
		/// The constant holding it.
		constant: String,
	},
	/// A value in the snapshot does not decode as its item's type (the snapshot and its
	/// metadata disagree).
	#[error("`{item}` in the snapshot: {reason} (hint: check that the snapshot's metadata belongs to its state)")]
	Inconsistent {
		/// `Pallet.Item`.
		item: String,
		/// What failed.
		reason: String,
	},
	/// The output exists.
	#[error(
		"`{path}` already exists (hint: pass `--force` to replace it, or choose another `--out`)"
	)]
	OutputExists {
		/// The output path.
		path: PathBuf,
	},
	/// The output is the same file as one of the inputs: writing it would destroy the input.
	#[error(
		"the fork would write `{}`, which is the same file as its {what} `{}`, destroying its \
		 own input (hint: choose another `--out`, e.g. `fork.spec.json`)",
		out.display(),
		input.display()
	)]
	OutputIsInput {
		/// The output (`--out`, or its work file or lock beside it).
		out: PathBuf,
		/// What the input is (`snapshot`, `profile`, `runtime override`).
		what: &'static str,
		/// The input path.
		input: PathBuf,
	},
	/// Another process is writing the same output.
	#[error(transparent)]
	Locked(Box<stagenet_config::files::LockError>),
	/// An input file (profile, runtime override) is not a regular file or is too large.
	#[error(transparent)]
	Read(Box<stagenet_config::files::ReadError>),
	/// The warm-up does not fit the chain's block-number type.
	#[error(
		"the warm-up {given} (from {from}) does not fit the chain's block number `{ty}` (at most \
		 {max}){why} (hint: the warm-up is the fork block at which ages equal the source's; \
		 a few hundred blocks are enough, e.g. `--warmup 100`)"
	)]
	WarmupTooLarge {
		/// The warm-up asked for.
		given: u64,
		/// Where it was given (`--warmup`, the profile's `rebase-block-numbers.warmup`).
		from: String,
		/// The block-number type (`u32`).
		ty: String,
		/// Its maximum.
		max: u128,
		/// Why the chosen value differs from the given one (the `period`), or empty.
		why: String,
	},
	/// A file could not be read or written.
	#[error("cannot {op} `{path}`: {source}")]
	Io {
		/// What was being done.
		op: &'static str,
		/// The file.
		path: PathBuf,
		/// The cause.
		#[source]
		source: std::io::Error,
	},
}

impl From<stagenet_config::files::LockError> for ForkError {
	fn from(e: stagenet_config::files::LockError) -> Self {
		ForkError::Locked(Box::new(e))
	}
}

impl From<stagenet_config::files::ReadError> for ForkError {
	fn from(e: stagenet_config::files::ReadError) -> Self {
		ForkError::Read(Box::new(e))
	}
}

fn list(problems: &[Problem]) -> String {
	problems
		.iter()
		.map(|p| format!("  - {p}"))
		.collect::<Vec<_>>()
		.join("\n")
}

/// A file-system failure is infrastructure (exit 3); everything else, the snapshot included,
/// is the input's fault (exit 2).
impl ExitStatus for ForkError {
	fn exit(&self) -> Exit {
		match self {
			ForkError::Io { .. } => Exit::Infrastructure,
			ForkError::Locked(e) => e.exit(),
			ForkError::Read(e) => e.exit(),
			// The snapshot is the fork's input: only a failure to read or write its file is
			// infrastructure; one that does not verify (or any other snapshot error) is bad
			// input here, not a failed verification.
			// Keys out of order at the genesis root: a bug of the fork, not of its input.
			ForkError::Unordered { .. } => Exit::Infrastructure,
			ForkError::Snapshot { source, .. } => match **source {
				SnapshotError::Io { .. } => Exit::Infrastructure,
				_ => Exit::BadInput,
			},
			ForkError::NoMetadata { .. }
			| ForkError::Profile { .. }
			| ForkError::SpecNameChanged { .. }
			| ForkError::Code { .. }
			| ForkError::TooManyValidators { .. }
			| ForkError::Inconsistent { .. }
			| ForkError::OutputExists { .. }
			| ForkError::OutputIsInput { .. }
			| ForkError::WarmupTooLarge { .. } => Exit::BadInput,
		}
	}
}

impl ForkError {
	/// A file-system failure (exit code 3) rather than bad input (exit code 2).
	pub fn is_infrastructure(&self) -> bool {
		self.exit() == Exit::Infrastructure
	}
}

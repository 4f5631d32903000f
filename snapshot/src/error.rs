//! Errors of snapshot download, reading and verification.

use stagenet_config::exit::{Exit, ExitStatus};
use std::path::PathBuf;

/// What went wrong while taking, reading or verifying a snapshot.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
	/// A file could not be read or written.
	#[error("cannot {op} `{path}`: {source}{}", disk_hint(source))]
	Io {
		/// What was being done (`create`, `write`, `read` …).
		op: &'static str,
		/// The file.
		path: PathBuf,
		/// The cause.
		#[source]
		source: std::io::Error,
	},
	/// The output exists and `--force` was not given.
	#[error(
		"`{path}` already exists (hint: pass `--force` to replace it, or choose another `--out`)"
	)]
	OutputExists {
		/// The output path.
		path: PathBuf,
	},
	/// A download's work directory exists and neither `--resume` nor `--force` was given.
	#[error(
		"an interrupted download into `{path}` exists in `{work}` (hint: pass `--resume` to \
		 continue it, or `--force` to start over)"
	)]
	InterruptedDownloadExists {
		/// The output path.
		path: PathBuf,
		/// The work directory holding the checkpoint.
		work: PathBuf,
	},
	/// `--resume` was asked for but there is nothing to resume, or it does not match.
	#[error("cannot resume: {reason} (hint: {hint})")]
	Resume {
		/// Why.
		reason: String,
		/// What to do.
		hint: String,
	},
	/// The node cannot be reached (connect failed, or the connection dropped and did not come
	/// back within the retry window).
	#[error("cannot reach the node at `{url}`: {reason} (hint: {hint})")]
	Unreachable {
		/// The URL (without credentials).
		url: String,
		/// What was seen.
		reason: String,
		/// What to do.
		hint: String,
	},
	/// The endpoint answered, but not as a Substrate JSON-RPC endpoint does (an HTML page,
	/// garbage bytes, frames that are not JSON-RPC): bad input, not worth retrying.
	#[error("`{url}`: {seen} (hint: {hint})")]
	NotJsonRpc {
		/// The URL (without credentials).
		url: String,
		/// What it answered, starting with "this is not a Substrate JSON-RPC endpoint".
		seen: String,
		/// What to do.
		hint: String,
	},
	/// Another process writes the same output (its lock is held), or the lock could not be
	/// taken.
	#[error("{source}")]
	Locked {
		/// The cause, naming the holder.
		#[source]
		source: stagenet_config::files::LockError,
	},
	/// The node answered an RPC call with an error or an answer we cannot use.
	#[error("`{method}` failed on `{url}`: {reason}")]
	Rpc {
		/// The URL (without credentials).
		url: String,
		/// The RPC method.
		method: String,
		/// What was seen.
		reason: String,
	},
	/// The node answered with data that contradicts itself (a listed key without a value,
	/// keys out of order or out of the asked range).
	#[error("the node at `{url}` returned inconsistent data: {reason} (hint: retry; if it persists the node is faulty, use another node)")]
	Inconsistent {
		/// The URL (without credentials).
		url: String,
		/// What was seen.
		reason: String,
	},
	/// The requested block does not exist on the node.
	#[error("block {at} is not known to the node at `{url}`{}", best.map(|b| format!(" (its best block is #{b})")).unwrap_or_default())]
	UnknownBlock {
		/// The block asked for (number or hash).
		at: String,
		/// The URL (without credentials).
		url: String,
		/// The node's best block number, if known.
		best: Option<u64>,
	},
	/// The node no longer holds the state of the requested block.
	#[error(
		"the node at `{url}` no longer holds the state of block #{block} ({hash}){}; (hint: use an \
		 archive node (`--state-pruning archive`), or pin a recent block with `--at`)",
		oldest.map(|o| format!("; the oldest block whose state it still holds is #{o}")).unwrap_or_default()
	)]
	StatePruned {
		/// The URL (without credentials).
		url: String,
		/// The block number.
		block: u64,
		/// The block hash.
		hash: String,
		/// The oldest block whose state is still available, if found.
		oldest: Option<u64>,
	},
	/// One value is larger than the node is willing to send in one response.
	#[error(
		"the value of key `{key}` does not fit in one response of the node at `{url}` ({reason}) \
		 (hint: raise the node's `--rpc-max-response-size`)"
	)]
	ResponseTooLarge {
		/// The URL.
		url: String,
		/// The key (hex).
		key: String,
		/// What the node said.
		reason: String,
	},
	/// The file is not a snapshot.
	#[error("`{path}` is not a stagenet snapshot: {reason} (hint: pass a file written by `stagenet snapshot`)")]
	NotASnapshot {
		/// The file.
		path: PathBuf,
		/// What was seen.
		reason: String,
	},
	/// The file declares a format version this build does not read: a newer one, one no
	/// stagenet writes, or one its footer contradicts (a damaged preamble).
	#[error("{}", wrong_version(path, *found, raw, *footer, *supported))]
	WrongVersion {
		/// The file.
		path: PathBuf,
		/// The version in the preamble.
		found: u32,
		/// The preamble's version bytes as read (0x hex).
		raw: String,
		/// The version the footer declares, when the footer is readable.
		footer: Option<u32>,
		/// The version this build reads.
		supported: u32,
	},
	/// The file ends early.
	#[error(
		"`{path}` is truncated: {reason} (hint: the download or copy did not finish; take it again, \
		 or continue an interrupted download with `--resume`)"
	)]
	Truncated {
		/// The file.
		path: PathBuf,
		/// What is missing.
		reason: String,
	},
	/// Some bytes of the file are not what was written.
	#[error(
		"`{path}` is corrupt{}: {reason} (hint: the file was damaged after it was written; take \
		 the snapshot again or restore it from a good copy)",
		chunk.map(|c| format!(" in chunk {c}")).unwrap_or_default()
	)]
	Corrupt {
		/// The file.
		path: PathBuf,
		/// The chunk, if the damage lies in one.
		chunk: Option<u64>,
		/// What was seen.
		reason: String,
	},
	/// The state root recomputed from the pairs differs from the block's state root.
	#[error(
		"state root mismatch for {what}: expected `{expected}` (block header), computed `{computed}` \
		 from {keys} pairs (hint: {hint})"
	)]
	RootMismatch {
		/// The trie (top or a child) and the block.
		what: String,
		/// Root from the block header (or the top trie for a child).
		expected: String,
		/// Root recomputed from the pairs.
		computed: String,
		/// Pairs in that trie.
		keys: u64,
		/// What to do.
		hint: String,
	},
	/// A raw chain spec could not be read.
	#[error("cannot read chain spec `{path}`: {reason} (hint: {hint})")]
	Spec {
		/// The file.
		path: PathBuf,
		/// What was seen.
		reason: String,
		/// What to do.
		hint: String,
	},
	/// The runtime metadata could not be decoded.
	#[error("cannot decode the runtime metadata: {reason}")]
	Metadata {
		/// What was seen.
		reason: String,
	},
	/// Bad arguments.
	#[error("{reason} (hint: {hint})")]
	InvalidInput {
		/// What is wrong.
		reason: String,
		/// What to do.
		hint: String,
	},
}

fn wrong_version(
	path: &std::path::Path,
	found: u32,
	raw: &str,
	footer: Option<u32>,
	supported: u32,
) -> String {
	let path = path.display();
	let seen = format!("bytes 8..12 of its preamble read `{raw}` (format version {found})");
	if footer == Some(supported) {
		format!(
			"`{path}` declares an unknown format version: {seen}, but its footer says version \
			 {supported}: the preamble is damaged (hint: the file was damaged after it was \
			 written; take the snapshot again or restore it from a good copy)"
		)
	} else if found > supported {
		format!(
			"`{path}` has an unsupported format version: {seen}, newer than version {supported}, \
			 the one this stagenet reads (hint: use the stagenet that wrote it, or take the \
			 snapshot again with this one)"
		)
	} else {
		format!(
			"`{path}` declares an unknown format version: {seen}, which no stagenet writes; this \
			 stagenet reads version {supported} (hint: the file is damaged or not a stagenet \
			 snapshot; take the snapshot again)"
		)
	}
}

fn disk_hint(e: &std::io::Error) -> &'static str {
	if is_disk_full(e) {
		" (hint: the disk is full; free space and run again with `--resume`: everything written \
		 so far is kept)"
	} else {
		""
	}
}

fn is_disk_full(e: &std::io::Error) -> bool {
	e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(28)
}

/// A failed check of the data itself (root mismatch, corruption, truncation, a damaged
/// preamble) fails (exit 1); a failure of the machine or the node (I/O, an unreachable or
/// misbehaving node, a lock that cannot be taken) is infrastructure (exit 3); everything else is
/// the input's fault (exit 2).
impl ExitStatus for SnapshotError {
	fn exit(&self) -> Exit {
		match self {
			Self::RootMismatch { .. } | Self::Corrupt { .. } | Self::Truncated { .. } => {
				Exit::Failed
			}
			// The footer says the version this build reads: the preamble is damaged.
			Self::WrongVersion {
				footer, supported, ..
			} => {
				if *footer == Some(*supported) {
					Exit::Failed
				} else {
					Exit::BadInput
				}
			}
			Self::Locked { source } => source.exit(),
			Self::Io { .. }
			| Self::Unreachable { .. }
			| Self::Rpc { .. }
			| Self::Inconsistent { .. } => Exit::Infrastructure,
			Self::OutputExists { .. }
			| Self::InterruptedDownloadExists { .. }
			| Self::Resume { .. }
			| Self::NotJsonRpc { .. }
			| Self::UnknownBlock { .. }
			| Self::StatePruned { .. }
			| Self::ResponseTooLarge { .. }
			| Self::NotASnapshot { .. }
			| Self::Spec { .. }
			| Self::Metadata { .. }
			| Self::InvalidInput { .. } => Exit::BadInput,
		}
	}
}

impl SnapshotError {
	/// A failed check of the data itself: the snapshot does not verify (root mismatch,
	/// corruption, truncation). `stagenet` maps these to exit code 1.
	pub fn is_verification_failure(&self) -> bool {
		self.exit() == Exit::Failed
	}

	/// A failure of the machine or the node rather than of the input: I/O, an unreachable or
	/// misbehaving node. `stagenet` maps these to exit code 3.
	pub fn is_infrastructure(&self) -> bool {
		self.exit() == Exit::Infrastructure
	}

	/// The disk filled up.
	pub fn is_disk_full(&self) -> bool {
		matches!(self, Self::Io { source, .. } if is_disk_full(source))
	}

	pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
		Self::Io {
			op,
			path: path.into(),
			source,
		}
	}
}

/// Result alias of this crate.
pub type Result<T, E = SnapshotError> = std::result::Result<T, E>;

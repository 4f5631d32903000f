//! What can go wrong while capturing blocks.

use stagenet_config::exit::{Exit, ExitStatus};
use std::{path::PathBuf, time::Duration};

/// A boxed error of a lower layer (RPC client, SQLite).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a capture stopped. Every message names the object (URL, block #, path) and, where the
/// user can act, ends with a `(hint: …)`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
	/// The options do not describe a capture that can run.
	#[error("invalid capture options: {reason} (hint: {hint})")]
	InvalidOptions {
		/// What is wrong.
		reason: String,
		/// What to do.
		hint: String,
	},
	/// The URL is not a WebSocket URL.
	#[error("`{url}` is not a node's WebSocket URL: {reason} (hint: {hint})")]
	InvalidUrl {
		/// The URL given (credentials removed).
		url: String,
		/// What is wrong.
		reason: String,
		/// What to do.
		hint: String,
	},
	/// The endpoint answered, but not as a Substrate JSON-RPC endpoint does.
	#[error("`{url}`: {seen} (hint: {hint})")]
	NotJsonRpc {
		/// The endpoint (credentials removed).
		url: String,
		/// What it answered, starting with "this is not a Substrate JSON-RPC endpoint".
		seen: String,
		/// What to do.
		hint: String,
	},
	/// Another process writes the same output, or its lock could not be taken.
	#[error("{source}")]
	Locked {
		/// The cause, naming the holder.
		#[source]
		source: stagenet_config::files::LockError,
	},
	/// No connection could be opened to the node.
	#[error("cannot connect to `{url}`: {source} (hint: check that the node runs and that its RPC port is open to this machine, e.g. `--rpc-external`, `--rpc-port`)")]
	Unreachable {
		/// The endpoint (credentials removed).
		url: String,
		/// The cause.
		#[source]
		source: BoxError,
	},
	/// The output exists and neither `--force` nor `--resume` was given.
	#[error("output `{path}` already exists (hint: pass `--resume` to continue that capture, `--force` to replace it, or another `--out`)")]
	OutputExists {
		/// The output path.
		path: PathBuf,
	},
	/// The output cannot be used as a capture database.
	#[error("output `{path}` cannot be used: {reason} (hint: {hint})")]
	OutputUnusable {
		/// The output path.
		path: PathBuf,
		/// What is wrong.
		reason: String,
		/// What to do.
		hint: String,
	},
	/// `--resume` into a capture of another chain.
	#[error("`{path}` holds a capture of chain `{found_chain}` (genesis `{found_genesis}`), not of the chain at `{url}` (genesis `{expected_genesis}`) (hint: pass another `--out`, or `--force` to replace it)")]
	OtherChain {
		/// The output path.
		path: PathBuf,
		/// The endpoint.
		url: String,
		/// Genesis hash of the chain at the endpoint.
		expected_genesis: String,
		/// Chain name stored in the capture.
		found_chain: String,
		/// Genesis hash stored in the capture.
		found_genesis: String,
	},
	/// The capture database was written by a newer (or different) schema.
	#[error("`{path}` has a capture schema this stagenet does not know: {source} (hint: use the stagenet that wrote it, or capture again with `--force`)")]
	SchemaMismatch {
		/// The output path.
		path: PathBuf,
		/// The cause.
		#[source]
		source: sqlx::migrate::MigrateError,
	},
	/// A block of the range does not exist on the chain.
	#[error("block #{block} does not exist on the chain at `{url}` (best block is #{best}) (hint: capture a range that ends at or below #{best})")]
	BlockNotFound {
		/// The endpoint.
		url: String,
		/// The block asked for.
		block: u64,
		/// The best block when asked.
		best: u64,
	},
	/// The node refused a response bigger than its limit.
	#[error("the node at `{url}` refused to send `{method}` for block #{block}: the response is over its limit ({message}) (hint: start the node with a larger `--rpc-max-response-size`, then run again with `--resume`)")]
	ResponseTooLarge {
		/// The endpoint.
		url: String,
		/// The RPC method.
		method: String,
		/// The block being captured.
		block: u64,
		/// The node's message.
		message: String,
	},
	/// The node answered with an error.
	#[error("rpc `{method}` for block #{block} on `{url}` failed: {message}")]
	Rpc {
		/// The endpoint.
		url: String,
		/// The RPC method.
		method: String,
		/// The block being captured.
		block: u64,
		/// The node's error.
		message: String,
	},
	/// The node no longer holds the state of a block of the range (a pruned node).
	#[error("the node at `{url}` no longer holds the state of block #{block}: {message} (hint: capture from an archive node, one started with `--state-pruning archive`, or capture recent blocks only)")]
	StatePruned {
		/// The endpoint.
		url: String,
		/// The block being captured.
		block: u64,
		/// The node's message.
		message: String,
	},
	/// The connection dropped (or requests timed out) and did not come back.
	#[error("lost the connection to `{url}` while capturing block #{block}: {attempts} attempts of `{method}` over {}; last error: {last_error} (hint: {done} blocks are saved; when the node is reachable again run the same command with `--resume` to continue)", humanize(*.waited))]
	ConnectionLost {
		/// The endpoint.
		url: String,
		/// The RPC method that failed last.
		method: String,
		/// The block being captured.
		block: u64,
		/// Attempts made.
		attempts: u32,
		/// Time spent retrying.
		waited: Duration,
		/// The last error seen.
		last_error: String,
		/// Blocks complete in the database so far.
		done: u64,
	},
	/// The node's answer is not what a Substrate node sends.
	#[error("unexpected answer for block #{block} from `{url}`: {reason}")]
	Malformed {
		/// The endpoint.
		url: String,
		/// The block being captured.
		block: u64,
		/// What is wrong.
		reason: String,
	},
	/// The runtime metadata could not be fetched or decoded.
	#[error("metadata of runtime spec version {spec_version} (block #{block}) unusable: {reason}")]
	Metadata {
		/// The spec version.
		spec_version: u32,
		/// The block whose runtime it is.
		block: u64,
		/// What is wrong.
		reason: String,
	},
	/// The disk holding the output is full.
	#[error("disk full while writing block #{block} to `{path}`: {source} (hint: blocks before #{block} are saved and the database is intact; free some space, then run the same command with `--resume`)")]
	DiskFull {
		/// The output path.
		path: PathBuf,
		/// The block being written.
		block: u64,
		/// The cause.
		#[source]
		source: sqlx::Error,
	},
	/// A database operation failed.
	#[error("capture database `{path}`: cannot {operation}: {source}")]
	Database {
		/// The output path.
		path: PathBuf,
		/// What was being done.
		operation: String,
		/// The cause.
		#[source]
		source: sqlx::Error,
	},
	/// A file operation failed.
	#[error("cannot {operation} `{path}`: {source}")]
	Io {
		/// The path.
		path: PathBuf,
		/// What was being done.
		operation: String,
		/// The cause.
		#[source]
		source: std::io::Error,
	},
}

/// The user's input at fault (options, URL, output path, range, a node of another chain) is
/// bad input (exit 2); the environment at fault (node, network, disk) is infrastructure
/// (exit 3).
impl ExitStatus for CaptureError {
	fn exit(&self) -> Exit {
		match self {
			CaptureError::Locked { source } => source.exit(),
			CaptureError::InvalidOptions { .. }
			| CaptureError::InvalidUrl { .. }
			| CaptureError::NotJsonRpc { .. }
			| CaptureError::OutputExists { .. }
			| CaptureError::OutputUnusable { .. }
			| CaptureError::OtherChain { .. }
			| CaptureError::SchemaMismatch { .. }
			| CaptureError::BlockNotFound { .. } => Exit::BadInput,
			CaptureError::Unreachable { .. }
			| CaptureError::ResponseTooLarge { .. }
			| CaptureError::Rpc { .. }
			| CaptureError::StatePruned { .. }
			| CaptureError::ConnectionLost { .. }
			| CaptureError::Malformed { .. }
			| CaptureError::Metadata { .. }
			| CaptureError::DiskFull { .. }
			| CaptureError::Database { .. }
			| CaptureError::Io { .. } => Exit::Infrastructure,
		}
	}
}

impl CaptureError {
	/// Whether the user's input is at fault (options, URL, output path, range): exit code 2.
	pub fn is_bad_input(&self) -> bool {
		self.exit() == Exit::BadInput
	}

	/// Whether the environment is at fault (node, network, disk): exit code 3.
	pub fn is_infrastructure(&self) -> bool {
		self.exit() == Exit::Infrastructure
	}

	/// Whether running the same command again with `--resume` continues where this stopped.
	pub fn is_resumable(&self) -> bool {
		matches!(
			self,
			CaptureError::ConnectionLost { .. }
				| CaptureError::DiskFull { .. }
				| CaptureError::ResponseTooLarge { .. }
		)
	}
}

/// `1m 30s`-like rendering of a duration, rounded to milliseconds.
pub(crate) fn humanize(d: Duration) -> String {
	let ms = d.as_millis();
	if ms < 1000 {
		return format!("{ms}ms");
	}
	let secs = d.as_secs();
	if secs < 60 {
		return format!("{:.1}s", d.as_secs_f64());
	}
	format!("{}m {}s", secs / 60, secs % 60)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn errors_are_classified_for_exit_codes() {
		let exists = CaptureError::OutputExists {
			path: PathBuf::from("c.db"),
		};
		assert!(exists.is_bad_input());
		assert!(!exists.is_infrastructure());
		let lost = CaptureError::ConnectionLost {
			url: "ws://127.0.0.1:9944".into(),
			method: "chain_getBlock".into(),
			block: 12,
			attempts: 6,
			waited: Duration::from_secs(31),
			last_error: "connection refused".into(),
			done: 11,
		};
		assert!(lost.is_infrastructure());
		assert!(lost.is_resumable());
		let message = lost.to_string();
		assert!(message.contains("block #12"), "{message}");
		assert!(message.contains("`--resume`"), "{message}");
		assert!(message.contains("31.0s"), "{message}");
	}

	#[test]
	fn durations_read_well() {
		assert_eq!(humanize(Duration::from_millis(250)), "250ms");
		assert_eq!(humanize(Duration::from_millis(2500)), "2.5s");
		assert_eq!(humanize(Duration::from_secs(95)), "1m 35s");
	}
}

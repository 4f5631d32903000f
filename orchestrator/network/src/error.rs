//! Errors of the network crate.

use stagenet_config::exit::{Exit, ExitStatus};
use std::{path::PathBuf, time::Duration};

/// Result alias of this crate.
pub type Result<T, E = NetworkError> = std::result::Result<T, E>;

/// What can go wrong while starting, watching or stopping a local network.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetworkError {
	/// The node binary is missing or cannot be run.
	#[error("node binary `{path}` cannot be run: {source} (hint: build the test chain with `scripts/build-test-chain`, or pass `--node <path>`)")]
	NodeBinary {
		/// The path tried.
		path: PathBuf,
		/// The cause.
		#[source]
		source: std::io::Error,
	},
	/// The network's description is not usable.
	#[error("invalid network: {reason} (hint: {hint})")]
	InvalidConfig {
		/// What is wrong.
		reason: String,
		/// What to do.
		hint: String,
	},
	/// A file or directory of the run could not be written or read.
	#[error("cannot use `{path}`: {source}")]
	Io {
		/// The path.
		path: PathBuf,
		/// The cause.
		#[source]
		source: std::io::Error,
	},
	/// `build-spec` failed.
	#[error("`{binary} build-spec --chain {chain} --raw` failed with {status}: {stderr}")]
	BuildSpec {
		/// The node binary.
		binary: PathBuf,
		/// The chain asked for.
		chain: String,
		/// Its exit status.
		status: String,
		/// The end of its standard error.
		stderr: String,
	},
	/// No free local port could be found.
	#[error("no free port on 127.0.0.1: {source}")]
	NoFreePort {
		/// The cause.
		#[source]
		source: std::io::Error,
	},
	/// A node process exited while the network was expected to run.
	#[error("node `{node}` exited ({status}); last lines of `{log}`:\n{tail}")]
	NodeExited {
		/// The node's name.
		node: String,
		/// Its exit status.
		status: String,
		/// Its log file.
		log: PathBuf,
		/// The last lines of its log.
		tail: String,
	},
	/// The network did not become ready in time.
	#[error("network not ready after {}: awaited {awaited}; last state seen:\n{last_seen}", humanize(*.timeout))]
	NotReady {
		/// What was awaited.
		awaited: String,
		/// The timeout.
		timeout: Duration,
		/// The last state of every node.
		last_seen: String,
	},
	/// A provider primitive failed (Docker API call, process control).
	#[error("{provider}: cannot {action}: {message}{}", hint_suffix(.hint))]
	Provider {
		/// The provider (`local`, `docker`).
		provider: &'static str,
		/// What was attempted (`create network \`stagenet-x\``).
		action: String,
		/// What went wrong.
		message: String,
		/// What the user can do, if anything.
		hint: Option<String>,
	},
	/// The provider cannot do what was asked (a capability it lacks).
	#[error("the {provider} provider cannot {what} (hint: {hint})")]
	Unsupported {
		/// The provider.
		provider: &'static str,
		/// What was asked.
		what: String,
		/// What to do instead.
		hint: String,
	},
	/// GPUs asked for cannot be given.
	#[error("{reason} (hint: {hint})")]
	Gpu {
		/// What is wrong (asked, found).
		reason: String,
		/// What to do.
		hint: String,
	},
	/// An RPC request failed.
	#[error("rpc {0}")]
	Rpc(#[from] stagenet_chain::node::NodeError),
}

/// The environment at fault (binary, files, ports, processes, provider, RPC) is
/// infrastructure (exit 3); the user's input (configuration, what the provider cannot do, GPUs
/// that cannot be given) is bad input (exit 2).
impl ExitStatus for NetworkError {
	fn exit(&self) -> Exit {
		match self {
			NetworkError::InvalidConfig { .. }
			| NetworkError::Unsupported { .. }
			| NetworkError::Gpu { .. } => Exit::BadInput,
			NetworkError::NodeBinary { .. }
			| NetworkError::Io { .. }
			| NetworkError::BuildSpec { .. }
			| NetworkError::NoFreePort { .. }
			| NetworkError::NodeExited { .. }
			| NetworkError::NotReady { .. }
			| NetworkError::Provider { .. }
			| NetworkError::Rpc(_) => Exit::Infrastructure,
		}
	}
}

impl NetworkError {
	/// Whether the error comes from the environment (binary, files, ports, processes) rather
	/// than from the user's input.
	pub fn is_infrastructure(&self) -> bool {
		self.exit() == Exit::Infrastructure
	}

	/// Whether the error is a readiness timeout.
	pub fn is_timeout(&self) -> bool {
		matches!(self, NetworkError::NotReady { .. })
	}
}

fn hint_suffix(hint: &Option<String>) -> String {
	match hint {
		Some(h) => format!(" (hint: {h})"),
		None => String::new(),
	}
}

fn humanize(d: Duration) -> String {
	format!("{:.1} s", d.as_secs_f64())
}

//! The run state file: what `up` started, so that `status`, `logs` and `down` work from any
//! shell. One JSON file per run at `<runs dir>/<run id>/state.json`, rewritten atomically.

use crate::{NetworkError, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Version of the state file format this build writes and reads.
pub const STATE_VERSION: u32 = 1;
/// File name of the state file inside a run directory.
pub const STATE_FILE: &str = "state.json";

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
	/// Nodes are being started.
	Starting,
	/// Blocks are produced and finalized.
	Ready,
	/// `up` is stopping it.
	Stopping,
	/// Everything was removed.
	Down,
	/// Start-up failed; what was started was removed.
	Failed,
	/// Stopped by a signal (Ctrl-C, SIGTERM) before it finished; what was started was removed.
	Interrupted,
}

/// One node or workload replica of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberState {
	/// Name.
	pub name: String,
	/// `validator`, `full`, `rpc` or `workload`.
	pub role: String,
	/// RPC URL from the host, when exposed.
	pub rpc_url: Option<String>,
	/// Prometheus URL from the host, when exposed.
	pub prometheus_url: Option<String>,
	/// libp2p peer id (nodes).
	pub peer_id: Option<String>,
	/// Log file on the host.
	pub log: PathBuf,
	/// GPUs assigned (indices).
	pub gpus: Vec<u32>,
}

/// The state of one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunState {
	/// Format version.
	pub version: u32,
	/// Run id.
	pub run_id: String,
	/// Provider name (`local`, `docker`).
	pub provider: String,
	/// Topology name or file.
	pub topology: String,
	/// Process id of the `up` that owns the run.
	pub owner_pid: u32,
	/// Start time, seconds since the Unix epoch.
	pub started_at: u64,
	/// Where the run stands.
	pub phase: Phase,
	/// The chain spec the nodes run (host path).
	pub chain_spec: PathBuf,
	/// Nodes and workload replicas.
	pub members: Vec<MemberState>,
	/// Fault events so far (`<time> <node> <action>`).
	pub events: Vec<String>,
}

impl RunState {
	/// Writes the state into `dir/state.json` (through a temporary file and a rename, so a
	/// reader never sees half a file).
	pub fn save(&self, dir: &Path) -> Result<()> {
		let path = dir.join(STATE_FILE);
		let tmp = dir.join(format!("{STATE_FILE}.tmp"));
		let text = serde_json::to_vec_pretty(self).map_err(|e| NetworkError::Io {
			path: path.clone(),
			source: std::io::Error::other(e),
		})?;
		std::fs::write(&tmp, text).map_err(|source| NetworkError::Io {
			path: tmp.clone(),
			source,
		})?;
		std::fs::rename(&tmp, &path).map_err(|source| NetworkError::Io { path, source })
	}

	/// Reads a run's state file.
	pub fn load(dir: &Path) -> Result<Self> {
		let path = dir.join(STATE_FILE);
		let text = std::fs::read(&path).map_err(|source| NetworkError::Io {
			path: path.clone(),
			source,
		})?;
		let value: serde_json::Value =
			serde_json::from_slice(&text).map_err(|e| NetworkError::InvalidConfig {
				reason: format!("`{}` is not a run state file: {e}", path.display()),
				hint: "remove the run directory if it is left over".into(),
			})?;
		let version = value.get("version").and_then(|v| v.as_u64());
		if version != Some(u64::from(STATE_VERSION)) {
			return Err(NetworkError::InvalidConfig {
				reason: format!(
					"`{}` has state version {}, this build reads version {STATE_VERSION}",
					path.display(),
					version.map_or("(none)".to_string(), |v| v.to_string())
				),
				hint: "use the stagenet that started the run, or `stagenet down --all`".into(),
			});
		}
		serde_json::from_value(value).map_err(|e| NetworkError::InvalidConfig {
			reason: format!("`{}` is not a run state file: {e}", path.display()),
			hint: "remove the run directory if it is left over".into(),
		})
	}

	/// Whether the `up` process that owns the run is still alive.
	pub fn owner_alive(&self) -> bool {
		process_alive(self.owner_pid)
	}
}

/// Whether a process with this id exists (and is not a zombie).
pub fn process_alive(pid: u32) -> bool {
	match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
		// The state letter follows the command name in parentheses.
		Ok(stat) => stat
			.rsplit_once(')')
			.map(|(_, rest)| !rest.trim_start().starts_with('Z'))
			.unwrap_or(false),
		Err(_) => false,
	}
}

/// Every run directory below `runs_dir` that holds a state file, newest first.
pub fn list_runs(runs_dir: &Path) -> Vec<(PathBuf, Result<RunState>)> {
	let mut runs: Vec<(PathBuf, Result<RunState>)> = match std::fs::read_dir(runs_dir) {
		Ok(entries) => entries
			.flatten()
			.map(|e| e.path())
			.filter(|p| p.join(STATE_FILE).exists())
			.map(|p| {
				let state = RunState::load(&p);
				(p, state)
			})
			.collect(),
		Err(_) => Vec::new(),
	};
	runs.sort_by_key(|(_, s)| {
		std::cmp::Reverse(s.as_ref().map(|s| s.started_at).unwrap_or_default())
	});
	runs
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn state_round_trips_and_other_versions_are_refused() {
		let dir = tempfile::tempdir().expect("temp dir");
		let state = RunState {
			version: STATE_VERSION,
			run_id: "r1".into(),
			provider: "local".into(),
			topology: "t.yaml".into(),
			owner_pid: std::process::id(),
			started_at: 5,
			phase: Phase::Ready,
			chain_spec: "spec.json".into(),
			members: vec![],
			events: vec![],
		};
		state.save(dir.path()).expect("save");
		assert_eq!(RunState::load(dir.path()).expect("load"), state);
		assert!(state.owner_alive());
		let mut text = std::fs::read_to_string(dir.path().join(STATE_FILE)).expect("read");
		text = text.replace("\"version\": 1", "\"version\": 7");
		std::fs::write(dir.path().join(STATE_FILE), text).expect("write");
		let err = RunState::load(dir.path())
			.expect_err("version 7")
			.to_string();
		assert!(err.contains("state version 7"), "{err}");
	}
}

//! A network of node processes on loopback.

use crate::{
	peer_id::peer_id_from_node_key, ports::free_ports, ChainRpc, NetworkError, NodeStatus, Result,
};
use sha2::{Digest, Sha256};
use std::{
	fmt::Write as _,
	path::{Path, PathBuf},
	process::Stdio,
	time::{Duration, Instant},
};
use tokio::process::{Child, Command};

/// Dev keys a validator can be started with (`--alice` …), in order.
pub const DEV_KEYS: [&str; 6] = ["alice", "bob", "charlie", "dave", "eve", "ferdie"];

/// Where the chain spec comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainSource {
	/// A chain built into the node binary (`dev`, `local`).
	Builtin(String),
	/// A chain spec file (plain or raw).
	SpecFile(PathBuf),
}

impl ChainSource {
	fn as_arg(&self) -> String {
		match self {
			ChainSource::Builtin(name) => name.clone(),
			ChainSource::SpecFile(path) => path.display().to_string(),
		}
	}
}

/// What a node does in the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeRole {
	/// An authority holding the dev key named (`alice`, `bob`, …).
	Validator {
		/// The dev key.
		dev_key: String,
	},
	/// A full node without authoring.
	Full,
}

/// Description of a network to start.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
	/// The node binary.
	pub node_binary: PathBuf,
	/// The chain.
	pub chain: ChainSource,
	/// Number of validators; they take the dev keys in the order of [`DEV_KEYS`].
	pub validators: usize,
	/// Number of full (non-authoring) nodes.
	pub full_nodes: usize,
	/// Directory of this run: chain spec, node databases and logs go below it.
	pub base_dir: PathBuf,
	/// Run id, carried by every process in `STAGENET_RUN`.
	pub run_id: String,
	/// Extra arguments given to every node.
	pub extra_args: Vec<String>,
}

impl NetworkConfig {
	/// Checks the description and returns every problem at once.
	pub fn validate(&self) -> Result<()> {
		let mut problems = Vec::new();
		if self.validators == 0 {
			problems.push("`validators` is 0: a network needs at least one validator".to_string());
		}
		if self.validators > DEV_KEYS.len() {
			problems.push(format!(
				"`validators` is {}: at most {} dev keys exist ({})",
				self.validators,
				DEV_KEYS.len(),
				DEV_KEYS.join(", ")
			));
		}
		if self.run_id.is_empty()
			|| !self
				.run_id
				.chars()
				.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
		{
			problems.push(format!(
				"run id `{}` must be non-empty ASCII letters, digits, `-` or `_`",
				self.run_id
			));
		}
		if problems.is_empty() {
			Ok(())
		} else {
			Err(NetworkError::InvalidConfig {
				reason: problems.join("; "),
				hint: "fix the values named above".into(),
			})
		}
	}
}

/// One started node, as users and tests address it.
#[derive(Debug, Clone)]
pub struct NodeInfo {
	/// Name (`alice`, `full-1`, …).
	pub name: String,
	/// Role.
	pub role: NodeRole,
	/// WebSocket JSON-RPC endpoint.
	pub rpc_url: String,
	/// Prometheus metrics endpoint.
	pub prometheus_url: String,
	/// libp2p multiaddress with peer id.
	pub p2p_addr: String,
	/// libp2p peer id.
	pub peer_id: String,
	/// Log file (standard output and error of the process).
	pub log: PathBuf,
	/// Database directory.
	pub base_path: PathBuf,
}

struct NodeProcess {
	info: NodeInfo,
	args: Vec<String>,
	child: Option<Child>,
}

/// What readiness saw last, per node.
#[derive(Debug, Clone, Default)]
pub struct ReadyState {
	/// `(node, status or error)` for every node.
	pub nodes: Vec<(String, std::result::Result<NodeStatus, String>)>,
}

impl std::fmt::Display for ReadyState {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		for (name, state) in &self.nodes {
			match state {
				Ok(s) => writeln!(
					f,
					"  {name}: peers {} best #{} finalized #{}{}",
					s.peers,
					s.best,
					s.finalized,
					if s.is_syncing { " (syncing)" } else { "" }
				)?,
				Err(e) => writeln!(f, "  {name}: {e}")?,
			}
		}
		Ok(())
	}
}

/// A running network of node processes. Dropping it kills every process.
pub struct LocalNetwork {
	config: NetworkConfig,
	spec: PathBuf,
	nodes: Vec<NodeProcess>,
}

impl LocalNetwork {
	/// Writes the raw chain spec and starts every node. Returns once the processes are
	/// spawned; call [`LocalNetwork::wait_ready`] to wait for block production and finality.
	pub async fn start(config: NetworkConfig) -> Result<Self> {
		config.validate()?;
		let binary = std::fs::canonicalize(&config.node_binary).map_err(|source| {
			NetworkError::NodeBinary {
				path: config.node_binary.clone(),
				source,
			}
		})?;
		create_dir(&config.base_dir)?;
		let spec = config.base_dir.join("chain-spec.raw.json");
		build_raw_spec(&binary, &config.chain, &spec).await?;

		let total = config.validators + config.full_nodes;
		let ports = free_ports(total * 3)?;
		let mut nodes = Vec::with_capacity(total);
		for i in 0..total {
			let (name, role) = if i < config.validators {
				(
					DEV_KEYS[i].to_string(),
					NodeRole::Validator {
						dev_key: DEV_KEYS[i].to_string(),
					},
				)
			} else {
				(
					format!("full-{}", i - config.validators + 1),
					NodeRole::Full,
				)
			};
			let (p2p, rpc, prom) = (ports[3 * i], ports[3 * i + 1], ports[3 * i + 2]);
			let key = node_key(&config.run_id, &name);
			let peer_id = peer_id_from_node_key(&key);
			let base_path = config.base_dir.join(&name);
			let info = NodeInfo {
				rpc_url: format!("ws://127.0.0.1:{rpc}"),
				prometheus_url: format!("http://127.0.0.1:{prom}/metrics"),
				p2p_addr: format!("/ip4/127.0.0.1/tcp/{p2p}/p2p/{peer_id}"),
				peer_id,
				log: config.base_dir.join(format!("{name}.log")),
				base_path: base_path.clone(),
				name: name.clone(),
				role: role.clone(),
			};
			let mut args = vec![
				"--chain".to_string(),
				spec.display().to_string(),
				"--base-path".into(),
				base_path.display().to_string(),
				"--name".into(),
				name.clone(),
				"--node-key".into(),
				hex::encode(key),
				"--listen-addr".into(),
				format!("/ip4/127.0.0.1/tcp/{p2p}"),
				"--rpc-port".into(),
				rpc.to_string(),
				"--prometheus-port".into(),
				prom.to_string(),
				"--rpc-methods".into(),
				"unsafe".into(),
				"--no-telemetry".into(),
				"--no-mdns".into(),
				"--reserved-only".into(),
			];
			if let NodeRole::Validator { dev_key } = &role {
				args.push(format!("--{dev_key}"));
				args.push("--validator".into());
			}
			args.extend(config.extra_args.iter().cloned());
			nodes.push(NodeProcess {
				info,
				args,
				child: None,
			});
		}
		// Every node reserves every other node: a sealed network peers with nothing else.
		let addrs: Vec<String> = nodes.iter().map(|n| n.info.p2p_addr.clone()).collect();
		for (i, node) in nodes.iter_mut().enumerate() {
			for (j, addr) in addrs.iter().enumerate() {
				if i != j {
					node.args.push("--reserved-nodes".into());
					node.args.push(addr.clone());
				}
			}
		}
		let mut network = LocalNetwork {
			config,
			spec,
			nodes,
		};
		for i in 0..network.nodes.len() {
			network.spawn(i, &binary)?;
		}
		Ok(network)
	}

	fn spawn(&mut self, index: usize, binary: &Path) -> Result<()> {
		let run_id = self.config.run_id.clone();
		let node = &mut self.nodes[index];
		let log = std::fs::File::create(&node.info.log).map_err(|source| NetworkError::Io {
			path: node.info.log.clone(),
			source,
		})?;
		let log_err = log.try_clone().map_err(|source| NetworkError::Io {
			path: node.info.log.clone(),
			source,
		})?;
		tracing::info!(target: "stagenet", node = %node.info.name, rpc = %node.info.rpc_url, "starting node");
		let child = Command::new(binary)
			.args(&node.args)
			.env("STAGENET_RUN", &run_id)
			.env("STAGENET_NODE", &node.info.name)
			.stdin(Stdio::null())
			.stdout(Stdio::from(log))
			.stderr(Stdio::from(log_err))
			.kill_on_drop(true)
			.spawn()
			.map_err(|source| NetworkError::NodeBinary {
				path: binary.to_path_buf(),
				source,
			})?;
		node.child = Some(child);
		Ok(())
	}

	/// The nodes, in start order (validators first).
	pub fn nodes(&self) -> Vec<NodeInfo> {
		self.nodes.iter().map(|n| n.info.clone()).collect()
	}

	/// Process ids of the running nodes.
	pub fn pids(&self) -> Vec<u32> {
		self.nodes
			.iter()
			.filter_map(|n| n.child.as_ref().and_then(|c| c.id()))
			.collect()
	}

	/// The raw chain spec every node runs.
	pub fn chain_spec(&self) -> &Path {
		&self.spec
	}

	/// The run id.
	pub fn run_id(&self) -> &str {
		&self.config.run_id
	}

	/// Fails with [`NetworkError::NodeExited`] if any node process has exited.
	pub fn check_alive(&mut self) -> Result<()> {
		for node in &mut self.nodes {
			let Some(child) = node.child.as_mut() else {
				continue;
			};
			if let Ok(Some(status)) = child.try_wait() {
				return Err(NetworkError::NodeExited {
					node: node.info.name.clone(),
					status: status.to_string(),
					log: node.info.log.clone(),
					tail: log_tail(&node.info.log, 25),
				});
			}
		}
		Ok(())
	}

	/// Polls every node once.
	pub async fn observe(&self) -> ReadyState {
		self.observe_with(&mut vec![None; self.nodes.len()]).await
	}

	/// Polls every node once, reusing (and filling) open connections; a connection that
	/// fails is dropped and opened again on the next poll.
	async fn observe_with(&self, connections: &mut [Option<ChainRpc>]) -> ReadyState {
		let mut state = ReadyState::default();
		for (node, slot) in self.nodes.iter().zip(connections.iter_mut()) {
			if slot.is_none() {
				match ChainRpc::connect(&node.info.rpc_url).await {
					Ok(rpc) => *slot = Some(rpc),
					Err(e) => {
						let err = Err(format!("rpc not answering yet ({e})"));
						state.nodes.push((node.info.name.clone(), err));
						continue;
					}
				}
			}
			let status = match slot.as_ref() {
				Some(rpc) => rpc.status().await.map_err(|e| e.to_string()),
				None => Err("no connection".into()),
			};
			if status.is_err() {
				*slot = None;
			}
			state.nodes.push((node.info.name.clone(), status));
		}
		state
	}

	/// Waits until every node answers RPC, sees all other nodes as peers, and has seen the
	/// best block advance by two and the finalized block advance by one since the first
	/// observation. Fails early if a node exits; on timeout the error holds the last state.
	pub async fn wait_ready(&mut self, timeout: Duration) -> Result<ReadyState> {
		let deadline = Instant::now() + timeout;
		let expected_peers = (self.nodes.len() - 1) as u64;
		let mut first: Vec<Option<NodeStatus>> = vec![None; self.nodes.len()];
		let mut connections: Vec<Option<ChainRpc>> = vec![None; self.nodes.len()];
		loop {
			self.check_alive()?;
			let last = self.observe_with(&mut connections).await;
			let mut ready = true;
			for (i, (_, status)) in last.nodes.iter().enumerate() {
				match status {
					Ok(s) => {
						let start = first[i].get_or_insert_with(|| s.clone());
						ready &= s.peers >= expected_peers
							&& s.best >= start.best + 2
							&& s.finalized > start.finalized;
					}
					Err(_) => ready = false,
				}
			}
			if ready {
				return Ok(last);
			}
			if Instant::now() >= deadline {
				return Err(NetworkError::NotReady {
					awaited: format!(
						"every node with {expected_peers} peer(s), best block advancing by 2 and finalized block advancing"
					),
					timeout,
					last_seen: last.to_string(),
				});
			}
			tokio::time::sleep(Duration::from_millis(500)).await;
		}
	}

	/// Stops every node (SIGKILL) and waits for the processes to be gone.
	pub async fn shutdown(&mut self) {
		for node in &mut self.nodes {
			if let Some(mut child) = node.child.take() {
				let _ = child.start_kill();
				let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
			}
		}
	}

	/// The last `n` lines of a node's log.
	pub fn log_tail(&self, node: &str, n: usize) -> Option<String> {
		self.nodes
			.iter()
			.find(|p| p.info.name == node)
			.map(|p| log_tail(&p.info.log, n))
	}
}

impl Drop for LocalNetwork {
	fn drop(&mut self) {
		for node in &mut self.nodes {
			if let Some(child) = node.child.as_mut() {
				let _ = child.start_kill();
			}
		}
	}
}

/// A deterministic ed25519 node key per run and node: peer ids are known before start.
fn node_key(run_id: &str, node: &str) -> [u8; 32] {
	let mut h = Sha256::new();
	h.update(b"stagenet-node-key\0");
	h.update(run_id.as_bytes());
	h.update(b"\0");
	h.update(node.as_bytes());
	h.finalize().into()
}

fn create_dir(path: &Path) -> Result<()> {
	std::fs::create_dir_all(path).map_err(|source| NetworkError::Io {
		path: path.to_path_buf(),
		source,
	})
}

async fn build_raw_spec(binary: &Path, chain: &ChainSource, out: &Path) -> Result<()> {
	// A spec file is used as it is (a fork's raw spec can be gigabytes: converting it through
	// the node would hold it in memory); a hard link when possible, else a copy.
	if let ChainSource::SpecFile(path) = chain {
		let _ = std::fs::remove_file(out);
		if std::fs::hard_link(path, out).is_err() {
			std::fs::copy(path, out).map_err(|source| NetworkError::Io {
				path: path.to_path_buf(),
				source,
			})?;
		}
		return Ok(());
	}
	let output = Command::new(binary)
		.args([
			"build-spec",
			"--chain",
			&chain.as_arg(),
			"--raw",
			"--disable-default-bootnode",
		])
		.stdin(Stdio::null())
		.output()
		.await
		.map_err(|source| NetworkError::NodeBinary {
			path: binary.to_path_buf(),
			source,
		})?;
	if !output.status.success() {
		let stderr = String::from_utf8_lossy(&output.stderr);
		let tail: Vec<&str> = stderr.lines().rev().take(10).collect();
		return Err(NetworkError::BuildSpec {
			binary: binary.to_path_buf(),
			chain: chain.as_arg(),
			status: output.status.to_string(),
			stderr: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
		});
	}
	std::fs::write(out, &output.stdout).map_err(|source| NetworkError::Io {
		path: out.to_path_buf(),
		source,
	})
}

fn log_tail(path: &Path, n: usize) -> String {
	match std::fs::read_to_string(path) {
		Ok(text) => {
			let lines: Vec<&str> = text.lines().collect();
			let start = lines.len().saturating_sub(n);
			let mut out = String::new();
			for line in &lines[start..] {
				let _ = writeln!(out, "    {line}");
			}
			out
		}
		Err(e) => format!("    (log unreadable: {e})"),
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	fn config() -> NetworkConfig {
		NetworkConfig {
			node_binary: "node".into(),
			chain: ChainSource::Builtin("local".into()),
			validators: 3,
			full_nodes: 0,
			base_dir: "/tmp/x".into(),
			run_id: "run-1".into(),
			extra_args: vec![],
		}
	}

	#[test]
	fn validation_reports_every_problem() {
		let mut c = config();
		c.validators = 0;
		c.run_id = "bad id".into();
		let err = c.validate().expect_err("invalid config").to_string();
		assert!(err.contains("`validators` is 0"), "{err}");
		assert!(err.contains("run id `bad id`"), "{err}");
		assert!(config().validate().is_ok());
	}

	#[test]
	fn node_keys_differ_per_node_and_run() {
		assert_ne!(node_key("a", "alice"), node_key("a", "bob"));
		assert_ne!(node_key("a", "alice"), node_key("b", "alice"));
		assert_eq!(node_key("a", "alice"), node_key("a", "alice"));
	}
}

//! The orchestrator: the order of steps that brings a planned network up on any provider,
//! readiness, faults, and teardown. Providers only do primitives; everything here runs the
//! same on each of them.

use crate::{
	keystore,
	peer_id::peer_id_from_node_key,
	plan::NetworkPlan,
	provider::{DynNamespace, DynNode, DynProvider, NodeAddresses, SpawnOptions},
	state::{MemberState, Phase, RunState, STATE_VERSION},
	ChainRpc, NetworkError, NodeStatus, Result,
};
use sha2::{Digest, Sha256};
use stagenet_config::{Chain, Role};
use std::{
	collections::BTreeMap,
	fmt::Write as _,
	path::{Path, PathBuf},
	process::Stdio,
	time::{Duration, Instant, SystemTime},
};
use tokio::process::Command;

/// File name of the chain spec inside a run directory.
pub const SPEC_FILE: &str = "chain-spec.json";

/// One chain node, as users and tests address it.
#[derive(Debug, Clone)]
pub struct NodeInfo {
	/// Name (`alice`, `full-1`, `rpc-1`).
	pub name: String,
	/// Kind.
	pub role: Role,
	/// WebSocket JSON-RPC endpoint reachable from the host.
	pub rpc_url: String,
	/// Prometheus metrics endpoint reachable from the host.
	pub prometheus_url: String,
	/// How the other nodes dial it (multiaddress with peer id).
	pub p2p_addr: String,
	/// libp2p peer id.
	pub peer_id: String,
	/// Log file on the host.
	pub log: PathBuf,
}

/// One workload replica.
#[derive(Debug, Clone)]
pub struct WorkloadInfo {
	/// Name (`miner-0`).
	pub name: String,
	/// Log file on the host.
	pub log: PathBuf,
	/// GPU indices assigned.
	pub gpus: Vec<u32>,
	/// The RPC URL it was given (`STAGENET_RPC_URL`).
	pub rpc_url: String,
}

/// A fault the orchestrator can inject into a node: the scenario's own type, so that a step
/// and the network name a fault the same way.
pub use stagenet_config::FaultAction as Fault;

/// A fault injected into a running network, with its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultEvent {
	/// When it was done.
	pub at: SystemTime,
	/// The node.
	pub node: String,
	/// What was done.
	pub action: Fault,
}

impl std::fmt::Display for FaultEvent {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		let secs = self
			.at
			.duration_since(SystemTime::UNIX_EPOCH)
			.map(|d| d.as_secs_f64())
			.unwrap_or_default();
		write!(f, "{secs:.3} {} {}", self.node, self.action)
	}
}

/// What readiness saw last, per node.
#[derive(Debug, Clone, Default)]
pub struct ReadyState {
	/// `(node, status or error)` for every node.
	pub nodes: Vec<(String, std::result::Result<NodeStatus, String>)>,
}

impl ReadyState {
	/// One line: the highest finalized block, which nodes stand at which best block, which
	/// lack peers or do not answer (`finalized #0; best #14 on alice, bob; charlie has 0
	/// peers`).
	pub fn summary(&self, expected_peers: u64) -> String {
		let mut by_best: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
		let mut finalized = 0;
		let mut notes = Vec::new();
		for (name, state) in &self.nodes {
			match state {
				Ok(s) => {
					by_best.entry(s.best).or_default().push(name);
					finalized = finalized.max(s.finalized);
					if s.peers < expected_peers {
						notes.push(format!(
							"{name} has {} peer(s) of {expected_peers}",
							s.peers
						));
					}
				}
				Err(e) => notes.push(format!("{name}: {e}")),
			}
		}
		let mut parts = vec![format!("finalized #{finalized}")];
		for (best, names) in by_best.iter().rev() {
			parts.push(format!("best #{best} on {}", names.join(", ")));
		}
		parts.extend(notes);
		parts.join("; ")
	}
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

struct Member {
	info: NodeInfo,
	handle: DynNode,
	/// Stopped on purpose (a `kill` fault): not a crash.
	stopped: bool,
}

struct Replica {
	info: WorkloadInfo,
	handle: DynNode,
}

/// A network brought up on a provider. Call [`Network::shutdown`] to remove it; dropping it
/// without doing so leaves the provider to clean up (local processes die with their
/// guard pipes; other providers' resources are found by `stagenet down`).
pub struct Network {
	provider: DynProvider,
	namespace: DynNamespace,
	plan: NetworkPlan,
	spec: PathBuf,
	addresses: BTreeMap<String, NodeAddresses>,
	members: Vec<Member>,
	replicas: Vec<Replica>,
	events: Vec<FaultEvent>,
	state: RunState,
	down: bool,
}

impl Network {
	/// Checks the provider, writes the chain spec and the validators' keys, and starts every
	/// node. Returns once the nodes are spawned; [`Network::wait_ready`] waits for blocks.
	/// On failure, whatever was started is removed again.
	pub async fn start(provider: DynProvider, plan: NetworkPlan) -> Result<Self> {
		crate::capacity::check(&plan, &provider.capabilities())?;
		provider.preflight(&plan.programs(), plan.gpus()).await?;
		create_dir(&plan.dir)?;
		let spec = plan.dir.join(SPEC_FILE);
		place_spec(&plan, &spec).await?;
		let namespace = provider.create_namespace(&plan.run_id, &plan.dir).await?;
		let state = RunState {
			version: STATE_VERSION,
			run_id: plan.run_id.clone(),
			provider: provider.name().to_string(),
			topology: plan.title.clone(),
			owner_pid: std::process::id(),
			started_at: SystemTime::now()
				.duration_since(SystemTime::UNIX_EPOCH)
				.map(|d| d.as_secs())
				.unwrap_or_default(),
			phase: Phase::Starting,
			chain_spec: spec.clone(),
			members: Vec::new(),
			events: Vec::new(),
		};
		let mut network = Network {
			provider,
			namespace,
			plan,
			spec,
			addresses: BTreeMap::new(),
			members: Vec::new(),
			replicas: Vec::new(),
			events: Vec::new(),
			state,
			down: false,
		};
		match network.spawn_nodes().await {
			Ok(()) => Ok(network),
			Err(e) => {
				network.fail().await;
				Err(e)
			}
		}
	}

	async fn spawn_nodes(&mut self) -> Result<()> {
		self.save_state()?;
		let spec_arg = self.namespace.node_path(Path::new(SPEC_FILE));
		let mut planned = Vec::new();
		for node in &self.plan.nodes {
			let addresses = self.namespace.allocate(&node.name).await?;
			let key = node_key(&self.plan.run_id, &node.name);
			let peer_id = peer_id_from_node_key(&key);
			planned.push((node.clone(), addresses, key, peer_id));
		}
		let dials: Vec<(String, String)> = planned
			.iter()
			.map(|(n, a, _, p)| (n.name.clone(), format!("{}/p2p/{p}", a.p2p_dial)))
			.collect();
		for (node, addresses, key, peer_id) in planned {
			let mut args = vec![
				"--chain".to_string(),
				spec_arg.clone(),
				"--base-path".into(),
				addresses.base_path.clone(),
				"--name".into(),
				node.name.clone(),
				"--node-key".into(),
				hex::encode(key),
				"--listen-addr".into(),
				addresses.p2p_listen.clone(),
				"--rpc-port".into(),
				addresses.rpc_port.to_string(),
				"--prometheus-port".into(),
				addresses.prometheus_port.to_string(),
				"--rpc-methods".into(),
				"unsafe".into(),
				"--no-telemetry".into(),
				"--no-mdns".into(),
				"--reserved-only".into(),
			];
			for (other, dial) in &dials {
				if *other != node.name {
					args.push("--reserved-nodes".into());
					args.push(dial.clone());
				}
			}
			match node.role {
				Role::Validator => {
					let rel = PathBuf::from("keys").join(&node.name);
					let uri = node.key_uri.clone().unwrap_or_default();
					keystore::write_authority_keys(&self.plan.dir.join(&rel), &uri)?;
					args.push("--validator".into());
					args.push("--keystore-path".into());
					args.push(self.namespace.node_path(&rel));
				}
				Role::Rpc => {
					if !addresses.extra_args.iter().any(|a| a == "--rpc-cors") {
						args.extend(["--rpc-cors".into(), "all".into()]);
					}
					args.extend(["--rpc-max-connections".into(), "1000".into()]);
				}
				Role::Full => {}
			}
			args.extend(addresses.extra_args.iter().cloned());
			args.extend(node.args.iter().cloned());
			let handle = self
				.namespace
				.spawn(SpawnOptions {
					name: node.name.clone(),
					program: self.plan.node_program.clone(),
					args,
					env: BTreeMap::new(),
					gpus: Vec::new(),
					cpus: node.resources.cpus,
					memory: node.resources.memory,
					expose_rpc: true,
					is_node: true,
				})
				.await?;
			let endpoints = handle.endpoints().await;
			let dial = dials
				.iter()
				.find(|(n, _)| *n == node.name)
				.map(|(_, d)| d.clone())
				.unwrap_or_default();
			self.members.push(Member {
				info: NodeInfo {
					name: node.name.clone(),
					role: node.role,
					rpc_url: endpoints.rpc_url.unwrap_or_default(),
					prometheus_url: endpoints.prometheus_url.unwrap_or_default(),
					p2p_addr: dial,
					peer_id,
					log: handle.log_file(),
				},
				handle,
				stopped: false,
			});
			self.addresses.insert(node.name.clone(), addresses);
		}
		self.save_state()
	}

	/// Starts every workload replica, each with the RPC URL of the node it depends on
	/// (reached from inside the network), the run id and its GPUs. Call once the network is
	/// ready.
	pub async fn start_workloads(&mut self) -> Result<()> {
		let spec_arg = self.namespace.node_path(Path::new(SPEC_FILE));
		for replica in self.plan.replicas.clone() {
			let rpc_inside = self
				.addresses
				.get(&replica.rpc_node)
				.map(|a| a.rpc_url_inside.clone())
				.ok_or_else(|| NetworkError::InvalidConfig {
					reason: format!(
						"workload `{}` depends on `{}`, which is not a node of this network",
						replica.name, replica.rpc_node
					),
					hint: "name a node of the topology in `depends-on`".into(),
				})?;
			let mut env = replica.workload.env.clone();
			env.insert("STAGENET_RPC_URL".into(), rpc_inside.clone());
			env.insert("STAGENET_CHAIN_SPEC".into(), spec_arg.clone());
			env.insert("STAGENET_WORKLOAD".into(), replica.workload.name.clone());
			env.insert("STAGENET_REPLICA".into(), replica.index.to_string());
			let handle = self
				.namespace
				.spawn(SpawnOptions {
					name: replica.name.clone(),
					program: replica.program.clone(),
					args: replica.workload.args.clone(),
					env,
					gpus: replica.gpus.clone(),
					cpus: replica.workload.resources.cpus,
					memory: replica.workload.resources.memory,
					expose_rpc: false,
					is_node: false,
				})
				.await?;
			self.replicas.push(Replica {
				info: WorkloadInfo {
					name: replica.name.clone(),
					log: handle.log_file(),
					gpus: replica.gpus.iter().map(|g| g.index).collect(),
					rpc_url: rpc_inside,
				},
				handle,
			});
		}
		self.save_state()
	}

	/// Removes what was started after a failed start-up and records the failure.
	async fn fail(&mut self) {
		if let Err(e) = self.namespace.destroy().await {
			tracing::warn!(target: "stagenet", run = %self.plan.run_id, "cleanup after a failed start: {e}");
		}
		self.down = true;
		self.state.phase = Phase::Failed;
		let _ = self.save_state();
	}

	fn save_state(&mut self) -> Result<()> {
		let mut members: Vec<MemberState> = self
			.members
			.iter()
			.map(|m| MemberState {
				name: m.info.name.clone(),
				role: role_name(m.info.role).into(),
				rpc_url: Some(m.info.rpc_url.clone()).filter(|u| !u.is_empty()),
				prometheus_url: Some(m.info.prometheus_url.clone()).filter(|u| !u.is_empty()),
				peer_id: Some(m.info.peer_id.clone()),
				log: m.info.log.clone(),
				gpus: vec![],
			})
			.collect();
		members.extend(self.replicas.iter().map(|r| MemberState {
			name: r.info.name.clone(),
			role: "workload".into(),
			rpc_url: None,
			prometheus_url: None,
			peer_id: None,
			log: r.info.log.clone(),
			gpus: r.info.gpus.clone(),
		}));
		self.state.members = members;
		self.state.events = self.events.iter().map(|e| e.to_string()).collect();
		self.state.save(&self.plan.dir)
	}

	/// The chain nodes, in start order (validators, full nodes, RPC nodes).
	pub fn nodes(&self) -> Vec<NodeInfo> {
		self.members.iter().map(|m| m.info.clone()).collect()
	}

	/// The workload replicas started so far.
	pub fn workloads(&self) -> Vec<WorkloadInfo> {
		self.replicas.iter().map(|r| r.info.clone()).collect()
	}

	/// The chain spec every node runs (host path).
	pub fn chain_spec(&self) -> &Path {
		&self.spec
	}

	/// The run id.
	pub fn run_id(&self) -> &str {
		&self.plan.run_id
	}

	/// The run's directory on the host.
	pub fn dir(&self) -> &Path {
		&self.plan.dir
	}

	/// The provider's name.
	pub fn provider_name(&self) -> &'static str {
		self.provider.name()
	}

	/// Faults injected so far.
	pub fn events(&self) -> &[FaultEvent] {
		&self.events
	}

	/// Marks the run ready in its state file.
	pub fn mark_ready(&mut self) -> Result<()> {
		self.state.phase = Phase::Ready;
		self.save_state()
	}

	/// Fails with [`NetworkError::NodeExited`] if a node exited that was not stopped on
	/// purpose; workloads that exited are returned (they may finish on their own).
	pub async fn check_alive(&mut self) -> Result<Vec<(String, String)>> {
		for m in &self.members {
			if m.stopped {
				continue;
			}
			if let Some(status) = m.handle.exited().await? {
				let log = m.handle.log_file();
				return Err(NetworkError::NodeExited {
					node: m.info.name.clone(),
					status,
					tail: log_tail(&log, 25),
					log,
				});
			}
		}
		let mut exited = Vec::new();
		for r in &self.replicas {
			if let Some(status) = r.handle.exited().await? {
				exited.push((r.info.name.clone(), status));
			}
		}
		Ok(exited)
	}

	/// Nodes that exited without being stopped on purpose since the last call, with their
	/// exit status. Each is reported once: it counts as stopped afterwards (a `restart` fault
	/// brings it back). Unlike [`Network::check_alive`], a crash is an observation here, not
	/// an error: a rehearsal records it as a finding and goes on.
	pub async fn take_exited_nodes(&mut self) -> Result<Vec<(String, String)>> {
		let mut exited = Vec::new();
		for m in &mut self.members {
			if m.stopped {
				continue;
			}
			if let Some(status) = m.handle.exited().await? {
				m.stopped = true;
				exited.push((m.info.name.clone(), status));
			}
		}
		Ok(exited)
	}

	/// Polls every node once.
	pub async fn observe(&self) -> ReadyState {
		let mut connections = vec![None; self.members.len()];
		self.observe_with(&mut connections).await
	}

	async fn observe_with(&self, connections: &mut [Option<ChainRpc>]) -> ReadyState {
		let mut state = ReadyState::default();
		for (m, slot) in self.members.iter().zip(connections.iter_mut()) {
			let name = m.info.name.clone();
			if m.stopped {
				state.nodes.push((name, Err("stopped (fault)".into())));
				continue;
			}
			if slot.is_none() {
				match ChainRpc::connect(&m.info.rpc_url).await {
					Ok(rpc) => *slot = Some(rpc),
					Err(e) => {
						state
							.nodes
							.push((name, Err(format!("rpc not answering yet ({e})"))));
						continue;
					}
				}
			}
			let status = match slot.as_ref() {
				Some(rpc) => {
					match tokio::time::timeout(Duration::from_secs(5), rpc.status()).await {
						Ok(s) => s.map_err(|e| e.to_string()),
						Err(_) => Err("rpc did not answer within 5 s".into()),
					}
				}
				None => Err("no connection".into()),
			};
			if status.is_err() {
				*slot = None;
			}
			state.nodes.push((name, status));
		}
		state
	}

	/// Waits until every running node answers RPC, has every other running node as a peer,
	/// and has seen its best block advance by two and its finalized block advance since the
	/// first observation (so after a fault this also means "finality recovered"). Fails
	/// early, with its last log lines, if a node exits; on timeout the error holds the last
	/// state of every node.
	pub async fn wait_ready(&mut self, timeout: Duration) -> Result<ReadyState> {
		let started = Instant::now();
		let running = self.members.iter().filter(|m| !m.stopped).count() as u64;
		let expected_peers = running.saturating_sub(1);
		let mut first: Vec<Option<NodeStatus>> = vec![None; self.members.len()];
		let mut connections: Vec<Option<ChainRpc>> = vec![None; self.members.len()];
		loop {
			self.check_alive().await?;
			let last = self.observe_with(&mut connections).await;
			let mut ready = true;
			for (i, (_, status)) in last.nodes.iter().enumerate() {
				if self.members[i].stopped {
					continue;
				}
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
			if started.elapsed() >= timeout {
				return Err(NetworkError::NotReady {
					awaited: format!(
						"every node with {expected_peers} peer(s), its best block advancing by 2 \
						 and its finalized block advancing"
					),
					timeout,
					last_seen: format!("{}\n{last}", last.summary(expected_peers)),
				});
			}
			tokio::time::sleep(Duration::from_millis(500)).await;
		}
	}

	fn member(&self, node: &str) -> Result<usize> {
		self.members
			.iter()
			.position(|m| m.info.name == node)
			.ok_or_else(|| NetworkError::InvalidConfig {
				reason: format!("no node `{node}` in run `{}`", self.plan.run_id),
				hint: format!(
					"the nodes are {}",
					self.members
						.iter()
						.map(|m| m.info.name.as_str())
						.collect::<Vec<_>>()
						.join(", ")
				),
			})
	}

	/// Injects `fault` into `node`, refused with a hint where the provider lacks the
	/// capability; recorded as an event with its time.
	pub async fn inject(&mut self, node: &str, fault: Fault) -> Result<()> {
		let i = self.member(node)?;
		let caps = self.provider.capabilities();
		let unsupported = |hint: &str| NetworkError::Unsupported {
			provider: self.provider.name(),
			what: format!("{fault} `{node}`"),
			hint: hint.into(),
		};
		let handle = self.members[i].handle.clone();
		match fault {
			Fault::Kill => handle.kill().await?,
			Fault::Restart => handle.restart().await?,
			Fault::Pause | Fault::Resume if !caps.pause => {
				return Err(unsupported(
					"choose a provider whose capabilities include pause",
				))
			}
			Fault::Pause => handle.pause().await?,
			Fault::Resume => handle.resume().await?,
			Fault::Disconnect | Fault::Reconnect if !caps.partition => {
				return Err(unsupported("use `--provider docker` for partitions"))
			}
			Fault::Disconnect => handle.disconnect().await?,
			Fault::Reconnect => handle.reconnect().await?,
		}
		self.members[i].stopped = fault == Fault::Kill;
		tracing::info!(target: "stagenet", run = %self.plan.run_id, node, %fault, "fault injected");
		self.events.push(FaultEvent {
			at: SystemTime::now(),
			node: node.to_string(),
			action: fault,
		});
		self.save_state()
	}

	/// Kills a node (SIGKILL / `docker kill`); it stays down until [`Network::restart`].
	pub async fn kill(&mut self, node: &str) -> Result<()> {
		self.inject(node, Fault::Kill).await
	}

	/// Starts a node again with its database, keys and addresses (killing it first if it
	/// runs).
	pub async fn restart(&mut self, node: &str) -> Result<()> {
		self.inject(node, Fault::Restart).await
	}

	/// Freezes a node in place.
	pub async fn pause(&mut self, node: &str) -> Result<()> {
		self.inject(node, Fault::Pause).await
	}

	/// Unfreezes a paused node.
	pub async fn resume(&mut self, node: &str) -> Result<()> {
		self.inject(node, Fault::Resume).await
	}

	/// Cuts a node off from the others (providers with the `partition` capability).
	pub async fn disconnect(&mut self, node: &str) -> Result<()> {
		self.inject(node, Fault::Disconnect).await
	}

	/// Joins a disconnected node to the others again.
	pub async fn reconnect(&mut self, node: &str) -> Result<()> {
		self.inject(node, Fault::Reconnect).await
	}

	/// The last `n` lines of a node's or replica's log.
	pub fn log_tail(&self, node: &str, n: usize) -> Option<String> {
		self.members
			.iter()
			.map(|m| (&m.info.name, m.handle.log_file()))
			.chain(
				self.replicas
					.iter()
					.map(|r| (&r.info.name, r.handle.log_file())),
			)
			.find(|(name, _)| name.as_str() == node)
			.map(|(_, log)| log_tail(&log, n))
	}

	/// Stops and removes every node, workload and provider resource of the run; the run
	/// directory (spec, logs, state) stays.
	pub async fn shutdown(&mut self) -> Result<()> {
		if self.down {
			return Ok(());
		}
		self.state.phase = Phase::Stopping;
		let _ = self.save_state();
		self.namespace.destroy().await?;
		self.down = true;
		self.state.phase = Phase::Down;
		self.save_state()
	}
}

impl Drop for Network {
	fn drop(&mut self) {
		if !self.down {
			self.provider.cleanup_on_drop(&self.plan.run_id);
		}
	}
}

fn role_name(role: Role) -> &'static str {
	match role {
		Role::Validator => "validator",
		Role::Full => "full",
		Role::Rpc => "rpc",
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

/// Puts the chain spec at `out`: a spec file as it is (a fork's raw spec can be gigabytes:
/// converting it through the node would hold it in memory; a hard link when possible, else a
/// copy), a built-in chain through the node binary's `build-spec --raw`.
async fn place_spec(plan: &NetworkPlan, out: &Path) -> Result<()> {
	let name = match &plan.chain {
		Chain::Spec(path) => {
			let _ = std::fs::remove_file(out);
			if std::fs::hard_link(path, out).is_err() {
				std::fs::copy(path, out).map_err(|source| NetworkError::Io {
					path: path.to_path_buf(),
					source,
				})?;
			}
			return Ok(());
		}
		Chain::Builtin(name) => name,
	};
	let Some(binary) = plan.node_binary.as_ref() else {
		return Err(NetworkError::InvalidConfig {
			reason: format!("the built-in chain `{name}` needs `node.binary` to write its spec"),
			hint: "give `node.binary`, or a spec file in `chain:` (from `stagenet fork`)".into(),
		});
	};
	let binary = binary.clone();
	let output = Command::new(&binary)
		.args([
			"build-spec",
			"--chain",
			name,
			"--raw",
			"--disable-default-bootnode",
		])
		.stdin(Stdio::null())
		.kill_on_drop(true)
		.output();
	let output = tokio::time::timeout(Duration::from_secs(120), output)
		.await
		.map_err(|_| NetworkError::BuildSpec {
			binary: binary.clone(),
			chain: name.clone(),
			status: "no result after 120 s".into(),
			stderr: String::new(),
		})?
		.map_err(|source| NetworkError::NodeBinary {
			path: binary.clone(),
			source,
		})?;
	if !output.status.success() {
		let stderr = String::from_utf8_lossy(&output.stderr);
		let tail: Vec<&str> = stderr.lines().rev().take(10).collect();
		return Err(NetworkError::BuildSpec {
			binary,
			chain: name.clone(),
			status: output.status.to_string(),
			stderr: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
		});
	}
	std::fs::write(out, &output.stdout).map_err(|source| NetworkError::Io {
		path: out.to_path_buf(),
		source,
	})
}

/// The last `n` lines of a log file, indented.
pub fn log_tail(path: &Path, n: usize) -> String {
	match std::fs::read(path) {
		Ok(bytes) => {
			let text = String::from_utf8_lossy(&bytes);
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

	#[test]
	fn node_keys_differ_per_node_and_run() {
		assert_ne!(node_key("a", "alice"), node_key("a", "bob"));
		assert_ne!(node_key("a", "alice"), node_key("b", "alice"));
		assert_eq!(node_key("a", "alice"), node_key("a", "alice"));
	}

	#[test]
	fn readiness_summary_names_heights_and_missing_peers() {
		let s = |peers, best, finalized| {
			Ok(NodeStatus {
				peers,
				is_syncing: false,
				best,
				finalized,
			})
		};
		let state = ReadyState {
			nodes: vec![
				("alice".into(), s(1, 14, 0)),
				("bob".into(), s(1, 14, 0)),
				("charlie".into(), s(0, 2, 0)),
				("rpc-1".into(), Err("rpc not answering yet".into())),
			],
		};
		assert_eq!(
			state.summary(3),
			"finalized #0; best #14 on alice, bob; best #2 on charlie; alice has 1 peer(s) of 3; \
			 bob has 1 peer(s) of 3; charlie has 0 peer(s) of 3; rpc-1: rpc not answering yet"
		);
	}
}

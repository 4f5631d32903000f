//! The Docker provider: every node and workload is a container of an image built from a
//! local binary (`stagenet image build`), on a sealed network of its run.
//!
//! A run's network `stagenet-<run>` is `internal` and its bridge has no IPv4 address
//! (`com.docker.network.bridge.inhibit_ipv4`): containers reach each other (by name, through
//! Docker's embedded DNS) and nothing else, not even the host. A node whose RPC the host must
//! reach gets a relay container (`stagenet relay`, image built from the running `stagenet`
//! binary) on that network and on an ordinary per-run network `stagenet-<run>-access`,
//! published on `127.0.0.1` at ports the engine chooses; Docker does not publish ports of
//! containers on internal networks.
//!
//! Layout inside a container: the run directory is bind-mounted read-write at `/stagenet`; a
//! chain node has a named volume `stagenet-<run>-<name>-data` at `/data` (its `--base-path`
//! must be `/data`), listens for peers on port 30333, RPC on 9944 and Prometheus on 9615.
//! Node and workload containers give up a TCP connection after about 13 s without
//! acknowledgement (`net.ipv4.tcp_retries2=5`), so that a partition is noticed in time.
//! Every container, network and volume carries the labels `stagenet.run`, `stagenet.node`
//! (containers) and `stagenet.owner-pid`.

pub(crate) mod client;
mod node;

use super::{
	Capabilities, DynNamespace, DynNode, Namespace, NodeAddresses, Program, Provider, Resource,
	SpawnOptions, NODE_LABEL, OWNER_LABEL, RUN_LABEL, SCOPE_LABEL,
};
use crate::{NetworkError, Result};
use async_trait::async_trait;
use client::{Client, ContainerSpec, NetworkSpec, PROVIDER};
use std::{
	collections::BTreeMap,
	path::{Path, PathBuf},
	sync::Arc,
};

/// Port nodes listen on for peers, inside their container.
pub const P2P_PORT: u16 = 30333;
/// Port of a node's JSON-RPC server, inside its container.
pub const RPC_PORT: u16 = 9944;
/// Port of a node's Prometheus exporter, inside its container.
pub const PROMETHEUS_PORT: u16 = 9615;
/// Where the run directory is mounted in every container.
pub const RUN_DIR_MOUNT: &str = "/stagenet";
/// Where a chain node's volume is mounted: its `--base-path`.
pub const DATA_MOUNT: &str = "/data";

/// TCP retransmissions before a connection is given up (Linux default 15, about 15 minutes):
/// 5 gives up after about 13 s of unacknowledged data, so that nodes notice a partition
/// ([`Node::disconnect`](super::Node::disconnect)) the way they would a dead link, in time
/// for a rehearsal. A paused peer still acknowledges (its kernel runs), so pauses are not cut.
const TCP_RETRIES2: &str = "5";

/// Driver option that leaves a bridge without an IPv4 address, so that containers of an
/// internal network cannot reach the host through the bridge's gateway address either.
const INHIBIT_IPV4: &str = "com.docker.network.bridge.inhibit_ipv4";

/// How the Docker provider is set up.
#[derive(Debug, Clone)]
pub struct DockerOptions {
	/// The `stagenet` binary the relay image is built from (normally the running one,
	/// `std::env::current_exe()`).
	pub relay_binary: PathBuf,
}

/// Runs nodes and workloads as containers of a Docker engine (see the module documentation).
#[derive(Debug, Clone)]
pub struct DockerProvider {
	shared: Arc<Shared>,
}

/// What the provider, its namespaces and nodes share.
#[derive(Debug)]
struct Shared {
	client: Client,
	relay_binary: PathBuf,
	/// Tag of the relay image, once built (or found) in this process.
	relay_image: tokio::sync::OnceCell<String>,
}

impl DockerProvider {
	/// Connects to the engine named by `DOCKER_HOST` (the local socket by default), agrees on
	/// an API version and pings it. Nothing is created.
	pub async fn connect(options: DockerOptions) -> Result<Self> {
		let client = Client::connect().await?;
		tracing::debug!(api = client.api_version(), "connected to the docker engine");
		Ok(Self {
			shared: Arc::new(Shared {
				client,
				relay_binary: options.relay_binary,
				relay_image: tokio::sync::OnceCell::new(),
			}),
		})
	}

	/// The API version agreed with the engine (`1.41`).
	pub fn api_version(&self) -> &str {
		self.shared.client.api_version()
	}
}

impl Shared {
	/// The relay image, built from the relay binary the first time it is needed.
	async fn relay_image(&self) -> Result<String> {
		self.relay_image
			.get_or_try_init(|| crate::image::relay_image_with(&self.client, &self.relay_binary))
			.await
			.cloned()
	}

	async fn destroy_run(&self, run_id: &str) -> Result<Vec<Resource>> {
		let label = format!("{RUN_LABEL}={run_id}");
		let mut removed = Vec::new();
		let mut failures = Vec::new();
		for c in self.client.containers_with_label(&label).await? {
			match self.client.remove_container(&c.name).await {
				Ok(true) => removed.push(resource(run_id, "container", &c.name, &c.labels)),
				Ok(false) => {}
				Err(e) => failures.push(e.to_string()),
			}
		}
		for v in self.client.volumes_with_label(&label).await? {
			match self.client.remove_volume(&v.name).await {
				Ok(true) => removed.push(resource(run_id, "volume", &v.name, &v.labels)),
				Ok(false) => {}
				Err(e) => failures.push(e.to_string()),
			}
		}
		for n in self.client.networks_with_label(&label).await? {
			match self.client.remove_network(&n.name).await {
				Ok(true) => removed.push(resource(run_id, "network", &n.name, &n.labels)),
				Ok(false) => {}
				Err(e) => failures.push(e.to_string()),
			}
		}
		if failures.is_empty() {
			Ok(removed)
		} else {
			Err(NetworkError::Provider {
				provider: PROVIDER,
				action: format!("remove the resources of run `{run_id}`"),
				message: failures.join("; "),
				hint: Some(format!(
					"run `stagenet down {run_id}` again, or remove what is left with \
					 `docker rm -f` / `docker volume rm` / `docker network rm` (filter \
					 `label={RUN_LABEL}={run_id}`)"
				)),
			})
		}
	}
}

fn resource(
	run_id: &str,
	kind: &str,
	name: &str,
	labels: &BTreeMap<String, String>,
) -> Resource {
	Resource {
		run_id: run_id.to_string(),
		kind: kind.to_string(),
		name: name.to_string(),
		owner_pid: labels.get(OWNER_LABEL).and_then(|p| p.parse::<u32>().ok()),
		scope: labels.get(SCOPE_LABEL).cloned(),
	}
}

#[async_trait]
impl Provider for DockerProvider {
	fn name(&self) -> &'static str {
		PROVIDER
	}

	fn capabilities(&self) -> Capabilities {
		Capabilities {
			runs_commands: false,
			runs_images: true,
			pause: true,
			partition: true,
			resource_limits: true,
			gpus: true,
			outlives_owner: true,
			same_machine: true,
		}
	}

	async fn preflight(&self, programs: &[Program], gpus: usize) -> Result<()> {
		let client = &self.shared.client;
		for program in programs {
			match program {
				Program::Command(path) => return Err(command_unsupported(path)),
				Program::Image(tag) => {
					if client.image(tag).await?.is_none() {
						return Err(NetworkError::Provider {
							provider: PROVIDER,
							action: format!("use image `{tag}`"),
							message: "the engine has no image by that name, and no registry \
							          can be reached"
								.into(),
							hint: Some(format!(
								"build it with `stagenet image build --binary <path> --tag {tag}`"
							)),
						});
					}
				}
			}
		}
		// The relay image is built when first needed: its binary must be there.
		if let Err(e) = std::fs::metadata(&self.shared.relay_binary) {
			return Err(NetworkError::Provider {
				provider: PROVIDER,
				action: "find the relay binary".into(),
				message: format!("cannot read `{}`: {e}", self.shared.relay_binary.display()),
				hint: Some("the relay runs the `stagenet` binary itself; reinstall it".into()),
			});
		}
		if gpus > 0 {
			let runtimes = client.runtimes().await?;
			if !runtimes.iter().any(|r| r == "nvidia") {
				let seen = if runtimes.is_empty() {
					"none".to_string()
				} else {
					runtimes
						.iter()
						.map(|r| format!("`{r}`"))
						.collect::<Vec<_>>()
						.join(", ")
				};
				return Err(NetworkError::Gpu {
					reason: format!(
						"{gpus} GPU(s) asked for, but the Docker engine has no `nvidia` runtime \
						 (runtimes: {seen})"
					),
					hint: "install the NVIDIA Container Toolkit, run `nvidia-ctk runtime \
					       configure --runtime=docker` and restart the Docker daemon"
						.into(),
				});
			}
		}
		Ok(())
	}

	async fn create_namespace(&self, run_id: &str, dir: &Path) -> Result<DynNamespace> {
		check_name("run id", run_id)?;
		let host_dir = std::fs::canonicalize(dir).map_err(|source| NetworkError::Io {
			path: dir.to_path_buf(),
			source,
		})?;
		let network = format!("stagenet-{run_id}");
		let client = &self.shared.client;
		if client.network_exists(&network).await? {
			return Err(NetworkError::Provider {
				provider: PROVIDER,
				action: format!("create network `{network}`"),
				message: "a network of that name exists already".into(),
				hint: Some(format!(
					"a run `{run_id}` is left over: remove it with `stagenet down {run_id}`"
				)),
			});
		}
		client
			.create_network(&NetworkSpec {
				name: network.clone(),
				internal: true,
				options: BTreeMap::from([(INHIBIT_IPV4.to_string(), "true".to_string())]),
				labels: run_labels(run_id, dir, None),
			})
			.await?;
		Ok(Arc::new(DockerNamespace {
			run_id: run_id.to_string(),
			dir: dir.to_path_buf(),
			host_dir,
			network,
			shared: self.shared.clone(),
			access_network: tokio::sync::Mutex::new(None),
		}))
	}

	async fn resources(&self) -> Result<Vec<Resource>> {
		let client = &self.shared.client;
		let mut found = Vec::new();
		let mut add = |kind: &str, items: Vec<client::Labelled>| {
			for item in items {
				let run_id = item.labels.get(RUN_LABEL).cloned().unwrap_or_default();
				found.push(resource(&run_id, kind, &item.name, &item.labels));
			}
		};
		add("container", client.containers_with_label(RUN_LABEL).await?);
		add("volume", client.volumes_with_label(RUN_LABEL).await?);
		add("network", client.networks_with_label(RUN_LABEL).await?);
		Ok(found)
	}

	async fn destroy_run(&self, run_id: &str) -> Result<Vec<Resource>> {
		self.shared.destroy_run(run_id).await
	}

	fn cleanup_on_drop(&self, run_id: &str) {
		// The caller's runtime may be gone or busy unwinding: a thread of its own, with its
		// own runtime and its own connection to the engine, removes the run, bounded in time.
		let run_id = run_id.to_string();
		let relay_binary = self.shared.relay_binary.clone();
		let (done_tx, done_rx) = std::sync::mpsc::channel();
		let spawned = std::thread::Builder::new()
			.name("stagenet-docker-cleanup".into())
			.spawn(move || {
				let outcome = tokio::runtime::Builder::new_current_thread()
					.enable_all()
					.build()
					.map_err(|e| e.to_string())
					.and_then(|rt| {
						rt.block_on(async {
							let shared = Shared {
								client: Client::connect().await.map_err(|e| e.to_string())?,
								relay_binary,
								relay_image: tokio::sync::OnceCell::new(),
							};
							shared.destroy_run(&run_id).await.map_err(|e| e.to_string())
						})
					});
				if let Err(e) = outcome {
					tracing::warn!(target: "stagenet", run = %run_id, "docker clean-up on drop failed: {e} (hint: `stagenet down {run_id}`)");
				}
				let _ = done_tx.send(());
			});
		if spawned.is_ok() {
			let _ = done_rx.recv_timeout(std::time::Duration::from_secs(60));
		}
	}
}

fn command_unsupported(path: &Path) -> NetworkError {
	NetworkError::Unsupported {
		provider: PROVIDER,
		what: format!("run the program `{}` by path", path.display()),
		hint: format!(
			"build an image from it with `stagenet image build --binary {} --tag <tag>` and \
			 give the image instead",
			path.display()
		),
	}
}

/// Labels of every resource of a run (`node` for containers).
fn run_labels(run_id: &str, dir: &Path, node: Option<&str>) -> BTreeMap<String, String> {
	let mut labels = BTreeMap::from([
		(RUN_LABEL.to_string(), run_id.to_string()),
		(OWNER_LABEL.to_string(), std::process::id().to_string()),
		(SCOPE_LABEL.to_string(), crate::claim::scope_of_run_dir(dir)),
	]);
	if let Some(node) = node {
		labels.insert(NODE_LABEL.to_string(), node.to_string());
	}
	labels
}

/// Run ids and node names become container, network and DNS names: `[A-Za-z0-9]` then
/// `[A-Za-z0-9_.-]`.
fn check_name(what: &str, name: &str) -> Result<()> {
	let mut chars = name.chars();
	let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
	let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
	if first_ok && rest_ok && name.len() <= 63 {
		Ok(())
	} else {
		Err(NetworkError::InvalidConfig {
			reason: format!("{what} `{name}` cannot name a container"),
			hint: "use letters, digits and `-`, starting with a letter or digit, at most 63 \
			       characters"
				.into(),
		})
	}
}

/// One run's containers on its internal network.
#[derive(Debug)]
struct DockerNamespace {
	run_id: String,
	/// The run directory as given.
	dir: PathBuf,
	/// The run directory as an absolute path, for bind mounts.
	host_dir: PathBuf,
	/// The internal network.
	network: String,
	shared: Arc<Shared>,
	/// The access network of the relays, once created.
	access_network: tokio::sync::Mutex<Option<String>>,
}

impl DockerNamespace {
	/// The per-run network the relays publish their ports from, created on first use.
	async fn access_network(&self) -> Result<String> {
		let mut guard = self.access_network.lock().await;
		if let Some(name) = guard.as_ref() {
			return Ok(name.clone());
		}
		let name = format!("stagenet-{}-access", self.run_id);
		let client = &self.shared.client;
		if !client.network_exists(&name).await? {
			client
				.create_network(&NetworkSpec {
					name: name.clone(),
					internal: false,
					options: BTreeMap::new(),
					labels: run_labels(&self.run_id, &self.dir, None),
				})
				.await?;
		}
		*guard = Some(name.clone());
		Ok(name)
	}

	fn container_name(&self, name: &str) -> String {
		format!("stagenet-{}-{name}", self.run_id)
	}

	/// Creates and starts everything of one node; on failure the caller removes what was
	/// made (`made` lists it).
	async fn spawn_parts(
		&self,
		options: &SpawnOptions,
		image: &str,
		made: &mut Made,
	) -> Result<node::DockerNode> {
		let client = &self.shared.client;
		let name = &options.name;
		let container = self.container_name(name);
		let mut binds = vec![format!("{}:{RUN_DIR_MOUNT}:rw", self.host_dir.display())];
		if options.is_node {
			let volume = format!("{container}-data");
			client
				.create_volume(&volume, &run_labels(&self.run_id, &self.dir, Some(name)))
				.await?;
			made.volume = Some(volume.clone());
			binds.push(format!("{volume}:{DATA_MOUNT}:rw"));
		}
		let spec = ContainerSpec {
			name: container.clone(),
			image: image.to_string(),
			cmd: options.args.clone(),
			env: options
				.env
				.iter()
				.map(|(k, v)| format!("{k}={v}"))
				.collect(),
			labels: run_labels(&self.run_id, &self.dir, Some(name)),
			network: self.network.clone(),
			aliases: vec![name.clone()],
			binds,
			memory: options.memory,
			nano_cpus: options
				.cpus
				.filter(|c| c.is_finite() && *c > 0.0)
				.map(|c| (c * 1e9).round() as i64),
			gpu_uuids: options.gpus.iter().map(|g| g.uuid.clone()).collect(),
			published: Vec::new(),
			sysctls: BTreeMap::from([(
				"net.ipv4.tcp_retries2".to_string(),
				TCP_RETRIES2.to_string(),
			)]),
		};
		client.create_container(&spec).await?;
		made.containers.push(container.clone());

		let relay = if options.expose_rpc {
			let relay_image = self.shared.relay_image().await?;
			let access = self.access_network().await?;
			let relay = format!("{container}-relay");
			let spec = ContainerSpec {
				name: relay.clone(),
				image: relay_image,
				cmd: vec![
					"relay".into(),
					"--map".into(),
					format!("{RPC_PORT}={name}:{RPC_PORT}"),
					"--map".into(),
					format!("{PROMETHEUS_PORT}={name}:{PROMETHEUS_PORT}"),
				],
				env: vec!["RUST_LOG=stagenet=info".into()],
				labels: run_labels(&self.run_id, &self.dir, Some(&format!("{name}-relay"))),
				// Created on the access network, so that it is the container's gateway and
				// its published ports are set up there; then joined to the sealed one.
				network: access,
				aliases: Vec::new(),
				published: vec![RPC_PORT, PROMETHEUS_PORT],
				..Default::default()
			};
			client.create_container(&spec).await?;
			made.containers.push(relay.clone());
			client.connect_network(&self.network, &relay, &[]).await?;
			Some(relay)
		} else {
			None
		};

		let log_file = self.dir.join(format!("{name}.log"));
		let node = node::DockerNode::new(node::NodeParts {
			name: name.clone(),
			container,
			relay,
			network: self.network.clone(),
			client: client.clone(),
			log_file,
		});
		node.start_first().await?;
		Ok(node)
	}
}

/// What a spawn created so far, removed again if it fails.
#[derive(Debug, Default)]
struct Made {
	containers: Vec<String>,
	volume: Option<String>,
}

#[async_trait]
impl Namespace for DockerNamespace {
	fn run_id(&self) -> &str {
		&self.run_id
	}

	fn dir(&self) -> &Path {
		&self.dir
	}

	fn node_path(&self, rel: &Path) -> String {
		let rel = rel.to_string_lossy();
		format!("{RUN_DIR_MOUNT}/{}", rel.trim_start_matches('/'))
	}

	async fn allocate(&self, name: &str) -> Result<NodeAddresses> {
		check_name("node name", name)?;
		Ok(NodeAddresses {
			p2p_listen: format!("/ip4/0.0.0.0/tcp/{P2P_PORT}"),
			p2p_dial: format!("/dns4/{name}/tcp/{P2P_PORT}"),
			rpc_port: RPC_PORT,
			prometheus_port: PROMETHEUS_PORT,
			// Reached through the container's interface (peers, relay). `--rpc-cors all` also
			// turns off the node's check of the `Host` header, which names the relay's host
			// port, not 9944: without it every RPC request from the host is refused (403).
			extra_args: vec![
				"--rpc-external".into(),
				"--prometheus-external".into(),
				"--rpc-cors".into(),
				"all".into(),
			],
			rpc_url_inside: format!("ws://{name}:{RPC_PORT}"),
			base_path: DATA_MOUNT.to_string(),
		})
	}

	async fn spawn(&self, options: SpawnOptions) -> Result<DynNode> {
		check_name("node name", &options.name)?;
		let image = match &options.program {
			Program::Image(image) => image.clone(),
			Program::Command(path) => return Err(command_unsupported(path)),
		};
		let mut made = Made::default();
		match self.spawn_parts(&options, &image, &mut made).await {
			Ok(node) => Ok(Arc::new(node)),
			Err(e) => {
				let client = &self.shared.client;
				for container in made.containers.iter().rev() {
					if let Err(e) = client.remove_container(container).await {
						tracing::warn!(container = %container, error = %e, "cannot remove after a failed spawn");
					}
				}
				if let Some(volume) = &made.volume {
					if let Err(e) = client.remove_volume(volume).await {
						tracing::warn!(volume = %volume, error = %e, "cannot remove after a failed spawn");
					}
				}
				Err(e)
			}
		}
	}

	async fn destroy(&self) -> Result<()> {
		self.shared.destroy_run(&self.run_id).await.map(|_| ())
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn names_that_cannot_name_a_container_are_refused() {
		assert!(check_name("node name", "alice").is_ok());
		assert!(check_name("node name", "rpc-1").is_ok());
		assert!(check_name("run id", "up-20240101-1").is_ok());
		for bad in ["", "-x", "a b", "a/b", "ä"] {
			let err = check_name("node name", bad).expect_err(bad);
			assert!(err.to_string().contains("hint:"), "{err}");
		}
	}
}

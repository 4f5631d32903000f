//! Providers: where the nodes and workloads of a network run.
//!
//! Three levels of traits, handed out as `Arc<dyn …>`: a [`Provider`] (a machine, a Docker
//! engine, later a Kubernetes cluster) creates [`Namespace`]s (one per run: a directory of
//! processes, a Docker network), which spawn [`Node`]s (node processes and workload
//! replicas alike). Providers only do primitives (put a file, allocate addresses, spawn,
//! logs, kill, restart, pause, partition, destroy); the orchestrator ([`crate::Network`])
//! owns the order of steps, so every provider behaves the same and one conformance suite
//! runs against each. What a provider can do is said by its [`Capabilities`], never by its
//! name.

#[cfg(feature = "docker")]
pub mod docker;
pub mod local;

use crate::Result;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, path::PathBuf, sync::Arc};

/// A provider behind a shared pointer.
pub type DynProvider = Arc<dyn Provider>;
/// A namespace behind a shared pointer.
pub type DynNamespace = Arc<dyn Namespace>;
/// A spawned node or workload replica behind a shared pointer.
pub type DynNode = Arc<dyn Node>;

/// Label (Docker) or environment variable (local processes) carrying the run id on every
/// resource stagenet creates.
pub const RUN_LABEL: &str = "stagenet.run";
/// Label carrying the name of a node or workload replica.
pub const NODE_LABEL: &str = "stagenet.node";
/// Label carrying the process id of the `stagenet` process that owns the run.
pub const OWNER_LABEL: &str = "stagenet.owner-pid";
/// Label with the scope of a resource: `<uid>:<runs dir>` (see [`crate::claim::scope_of`]).
pub const SCOPE_LABEL: &str = "stagenet.scope";

/// What a provider can do. The orchestrator checks a topology against these before
/// anything starts, and faults a provider lacks are refused with a clear error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
	/// Runs programs given by path (`command:` workloads, `node.binary`).
	pub runs_commands: bool,
	/// Runs container images (`image:` workloads, `node.image`).
	pub runs_images: bool,
	/// Can stop a node's processes in place and resume them.
	pub pause: bool,
	/// Can cut a node off from the others and reconnect it.
	pub partition: bool,
	/// Enforces `resources` (CPU and memory limits).
	pub resource_limits: bool,
	/// Assigns GPUs to workloads.
	pub gpus: bool,
	/// Resources outlive the `stagenet` process that created them (so `down` and orphan
	/// clean-up matter); local processes die with stagenet.
	pub outlives_owner: bool,
	/// Runs its nodes on this machine (so this machine's cores bound how many can run).
	pub same_machine: bool,
}

/// How the program of a node or workload is given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Program {
	/// A program on the host, by path (local provider).
	Command(PathBuf),
	/// A container image (Docker provider).
	Image(String),
}

/// What to run in a namespace.
#[derive(Debug, Clone)]
pub struct SpawnOptions {
	/// Name, unique in the namespace (`alice`, `rpc-1`, `miner-0`).
	pub name: String,
	/// Program or image.
	pub program: Program,
	/// Arguments. Paths and addresses in them are those the namespace gave
	/// ([`Namespace::node_path`], [`Namespace::allocate`]).
	pub args: Vec<String>,
	/// Environment variables.
	pub env: BTreeMap<String, String>,
	/// GPUs assigned by the orchestrator (inventory indices and UUIDs); empty for none.
	pub gpus: Vec<crate::gpu::Gpu>,
	/// CPU limit in cores, when the provider enforces limits.
	pub cpus: Option<f64>,
	/// Memory limit in bytes, when the provider enforces limits.
	pub memory: Option<u64>,
	/// Whether the node's RPC must be reachable from the host (published on loopback).
	pub expose_rpc: bool,
	/// Whether this is a chain node (with addresses from [`Namespace::allocate`]) or a
	/// workload.
	pub is_node: bool,
}

/// Addresses of one chain node as the namespace lays them out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAddresses {
	/// `--listen-addr` value (multiaddr without peer id).
	pub p2p_listen: String,
	/// How other nodes of the namespace dial this one (multiaddr without peer id).
	pub p2p_dial: String,
	/// `--rpc-port` value inside the node's network namespace.
	pub rpc_port: u16,
	/// `--prometheus-port` value inside the node's network namespace.
	pub prometheus_port: u16,
	/// Extra node arguments the layout needs (`--rpc-external` inside a container).
	pub extra_args: Vec<String>,
	/// RPC URL a workload inside the namespace uses to reach this node.
	pub rpc_url_inside: String,
	/// `--base-path` value (the node's database and network key), as the node sees it.
	pub base_path: String,
}

/// Where a spawned node can be reached from the host.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Endpoints {
	/// WebSocket JSON-RPC URL reachable from the host, when exposed.
	pub rpc_url: Option<String>,
	/// Prometheus metrics URL reachable from the host, when exposed.
	pub prometheus_url: Option<String>,
}

/// One resource stagenet created, as found on a provider (for `down` and orphans).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
	/// Run id it is labelled with.
	pub run_id: String,
	/// Kind (`process`, `container`, `network`, `volume`).
	pub kind: String,
	/// Name or process id.
	pub name: String,
	/// The `stagenet` process that owns it, when known.
	pub owner_pid: Option<u32>,
	/// This user and the runs directory of its run (`<uid>:<runs dir>`), when labelled.
	pub scope: Option<String>,
}

/// A place nodes run: this machine, a Docker engine.
#[async_trait]
pub trait Provider: Send + Sync {
	/// Short name (`local`, `docker`), for messages and the run state file.
	fn name(&self) -> &'static str;
	/// What this provider can do.
	fn capabilities(&self) -> Capabilities;
	/// Checks that the provider can be used now (daemon reachable, images present, GPU
	/// runtime present when `gpus` > 0). Nothing is created.
	async fn preflight(&self, programs: &[Program], gpus: usize) -> Result<()>;
	/// Creates the namespace of one run. `dir` is the run's directory on the host (spec,
	/// keys, logs live below it).
	async fn create_namespace(&self, run_id: &str, dir: &std::path::Path) -> Result<DynNamespace>;
	/// Every resource labelled with a run id, of every run.
	async fn resources(&self) -> Result<Vec<Resource>>;
	/// Removes every resource labelled with `run_id`; returns what was removed.
	async fn destroy_run(&self, run_id: &str) -> Result<Vec<Resource>>;
	/// Best-effort synchronous removal of a run's resources, for a network dropped without
	/// `shutdown` (a failing test, a panic). It must not need the caller's async runtime.
	/// Local processes need nothing here: they die with their guard pipes.
	fn cleanup_on_drop(&self, run_id: &str) {
		let _ = run_id;
	}
}

/// One run's network on a provider.
#[async_trait]
pub trait Namespace: Send + Sync {
	/// The run id.
	fn run_id(&self) -> &str;
	/// The run's directory on the host.
	fn dir(&self) -> &std::path::Path;
	/// A file below the run directory as the node processes see it (`rel` is relative to
	/// the run directory).
	fn node_path(&self, rel: &std::path::Path) -> String;
	/// Chooses the addresses of a chain node called `name`.
	async fn allocate(&self, name: &str) -> Result<NodeAddresses>;
	/// Starts a node or workload replica.
	async fn spawn(&self, options: SpawnOptions) -> Result<DynNode>;
	/// Stops and removes everything of the namespace (processes, containers, networks,
	/// volumes). Files below the run directory stay.
	async fn destroy(&self) -> Result<()>;
}

/// A running (or stopped) node or workload replica.
#[async_trait]
pub trait Node: Send + Sync {
	/// Its name.
	fn name(&self) -> &str;
	/// Where it is reached from the host.
	async fn endpoints(&self) -> Endpoints;
	/// The host file its standard output and error go to.
	fn log_file(&self) -> PathBuf;
	/// `None` while it runs (or is paused); the exit status once it has exited.
	async fn exited(&self) -> Result<Option<String>>;
	/// Kills it (SIGKILL) and waits until it is gone.
	async fn kill(&self) -> Result<()>;
	/// Starts it again with the same options, database and addresses, after a kill or
	/// an exit.
	async fn restart(&self) -> Result<()>;
	/// Stops its processes in place (SIGSTOP, `docker pause`).
	async fn pause(&self) -> Result<()>;
	/// Resumes a paused node.
	async fn resume(&self) -> Result<()>;
	/// Cuts it off from every other node of the namespace (and the host's RPC access).
	async fn disconnect(&self) -> Result<()>;
	/// Undoes [`Node::disconnect`].
	async fn reconnect(&self) -> Result<()>;
}

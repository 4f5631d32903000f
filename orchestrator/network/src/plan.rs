//! A topology turned into what a provider runs: programs chosen by the provider's
//! capabilities, node names and keys, GPUs placed, every problem found before anything
//! starts.

use crate::{
	gpu::{self, Gpu},
	provider::{Capabilities, Program},
	NetworkError, Result,
};
use stagenet_config::{Chain, PlannedNode, Topology, Workload};
use std::{path::PathBuf, time::Duration};

/// One workload replica to start.
#[derive(Debug, Clone)]
pub struct PlannedReplica {
	/// `<workload>-<index>`.
	pub name: String,
	/// The workload it belongs to.
	pub workload: Workload,
	/// Its index among the workload's replicas.
	pub index: u32,
	/// What runs.
	pub program: Program,
	/// The node whose RPC it gets.
	pub rpc_node: String,
	/// GPUs placed on it.
	pub gpus: Vec<Gpu>,
}

/// Everything `Network::start` needs, checked.
#[derive(Debug, Clone)]
pub struct NetworkPlan {
	/// Run id (letters, digits, `-`, `_`), carried by every resource.
	pub run_id: String,
	/// The run's directory on the host.
	pub dir: PathBuf,
	/// Name shown in `status` (topology name or file).
	pub title: String,
	/// The chain.
	pub chain: Chain,
	/// The node binary on the host, when given (builds the spec of a built-in chain).
	pub node_binary: Option<PathBuf>,
	/// What runs the nodes on this provider.
	pub node_program: Program,
	/// Nodes in start order.
	pub nodes: Vec<PlannedNode>,
	/// Workload replicas in start order.
	pub replicas: Vec<PlannedReplica>,
	/// How long readiness may take.
	pub ready_timeout: Duration,
	/// Things the provider will ignore (limits it cannot enforce), for the user to read.
	pub warnings: Vec<String>,
}

impl NetworkPlan {
	/// Plans `topology` for a provider with `caps`. GPUs are placed on `inventory` when
	/// any workload asks for them. Every problem is reported at once.
	pub fn new(
		topology: &Topology,
		provider: &'static str,
		caps: &Capabilities,
		run_id: &str,
		dir: PathBuf,
		inventory: Option<&gpu::Inventory>,
	) -> Result<Self> {
		let mut problems = Vec::new();
		if run_id.is_empty()
			|| !run_id
				.chars()
				.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
		{
			problems.push(format!(
				"run id `{run_id}` must be non-empty ASCII letters, digits, `-` or `_`"
			));
		}
		let node_program = choose(
			provider,
			caps,
			"node",
			topology.node.binary.as_ref(),
			topology.node.image.as_ref(),
			&mut problems,
		);
		let nodes = topology.planned_nodes();
		let mut warnings = Vec::new();
		let limited = topology.node.resources.cpus.is_some()
			|| topology.node.resources.memory.is_some()
			|| nodes
				.iter()
				.any(|n| n.resources.cpus.is_some() || n.resources.memory.is_some())
			|| topology
				.workloads
				.iter()
				.any(|w| w.resources.cpus.is_some() || w.resources.memory.is_some());
		if limited && !caps.resource_limits {
			warnings.push(format!(
				"`resources` are not enforced by the {provider} provider; they are ignored"
			));
		}
		let default_rpc = nodes
			.iter()
			.find(|n| n.role == stagenet_config::Role::Rpc)
			.or_else(|| nodes.first())
			.map(|n| n.name.clone())
			.unwrap_or_default();
		let mut replicas = Vec::new();
		let mut requests = Vec::new();
		for (i, w) in topology.workloads.iter().enumerate() {
			let what = format!("workloads[{i}] (`{}`)", w.name);
			let program = choose(
				provider,
				caps,
				&what,
				w.command.as_ref(),
				w.image.as_ref(),
				&mut problems,
			);
			if w.gpus > 0 && !caps.gpus {
				problems.push(format!(
					"{what} asks for {} GPU(s): the {provider} provider cannot assign GPUs",
					w.gpus
				));
			}
			for index in 0..w.replicas.get() {
				let name = format!("{}-{index}", w.name);
				requests.push((name.clone(), w.gpus));
				replicas.push(PlannedReplica {
					name,
					workload: w.clone(),
					index,
					program: program.clone().unwrap_or(Program::Image(String::new())),
					rpc_node: w.depends_on.clone().unwrap_or_else(|| default_rpc.clone()),
					gpus: Vec::new(),
				});
			}
		}
		if !problems.is_empty() {
			return Err(NetworkError::InvalidConfig {
				reason: problems.join("; "),
				hint: format!(
					"the {provider} provider runs {}; fix the entries named above",
					match (caps.runs_commands, caps.runs_images) {
						(true, false) => "programs on this machine (`node.binary`, `command:`)",
						(false, true) => "images (`node.image`, `image:`)",
						_ => "programs or images",
					}
				),
			});
		}
		if topology.gpus_requested() > 0 {
			let empty = gpu::Inventory::default();
			let placed = gpu::place(&requests, inventory.unwrap_or(&empty))?;
			for (replica, (_, gpus)) in replicas.iter_mut().zip(placed) {
				replica.gpus = gpus;
			}
		}
		Ok(Self {
			run_id: run_id.to_string(),
			dir,
			title: topology
				.name
				.clone()
				.unwrap_or_else(|| topology.file.display().to_string()),
			chain: topology.chain.clone(),
			node_binary: topology.node.binary.clone(),
			node_program: node_program.unwrap_or(Program::Image(String::new())),
			nodes,
			replicas,
			ready_timeout: topology.ready_timeout,
			warnings,
		})
	}

	/// Every program the provider must be able to run.
	pub fn programs(&self) -> Vec<Program> {
		let mut programs = vec![self.node_program.clone()];
		for r in &self.replicas {
			if !programs.contains(&r.program) {
				programs.push(r.program.clone());
			}
		}
		programs
	}

	/// GPUs placed in all.
	pub fn gpus(&self) -> usize {
		self.replicas.iter().map(|r| r.gpus.len()).sum()
	}
}

/// Picks the binary or the image, as the provider can run them.
fn choose(
	provider: &str,
	caps: &Capabilities,
	what: &str,
	binary: Option<&PathBuf>,
	image: Option<&String>,
	problems: &mut Vec<String>,
) -> Option<Program> {
	match (binary, image) {
		(Some(b), _) if caps.runs_commands => Some(Program::Command(b.clone())),
		(_, Some(i)) if caps.runs_images => Some(Program::Image(i.clone())),
		(Some(_), None) => {
			problems.push(format!(
				"{what} gives a program path but the {provider} provider runs images: give \
				 `image:` (build one with `stagenet image build --binary <path> --tag <tag>`)"
			));
			None
		}
		(None, Some(_)) => {
			problems.push(format!(
				"{what} gives an image but the {provider} provider runs programs: give a \
				 program path (`binary:` or `command:`)"
			));
			None
		}
		(None, None) => {
			problems.push(format!("{what} gives neither a program nor an image"));
			None
		}
		(Some(_), Some(_)) => {
			problems.push(format!(
				"the {provider} provider runs neither programs nor images, as {what} gives"
			));
			None
		}
	}
}

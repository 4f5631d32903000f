//! Topology files: which nodes and workloads a network has.
//!
//! ```yaml
//! version: 1
//! chain: fork.spec.json          # a raw spec from `stagenet fork` (relative to this file),
//!                                # or `local` / `dev` (chains built into the node)
//! node:
//!   binary: ../../target/test-chain/stagenet-test-node   # local provider
//!   image: stagenet-test-node:latest                     # docker provider
//!   args: ["--state-pruning=archive"]                    # every node
//!   resources: { cpus: 1.5, memory: 2GiB }               # every node
//! validators: 3                  # dev authorities //Alice, //Bob, … in order
//! full-nodes: 0
//! rpc-nodes: 1
//! nodes:                         # per-node overrides, by node name
//!   alice: { args: [...], resources: { memory: 4GiB } }
//! ready-timeout: 180s
//! workloads:
//!   - name: miner
//!     command: ./miner.py        # local provider (relative to this file, or on PATH)
//!     image: my-miner:latest     # docker provider
//!     args: ["--netuid", "1"]
//!     env: { WALLET: alice }
//!     replicas: 2
//!     gpus: 1                    # per replica
//!     depends-on: rpc-1          # gets this node's RPC URL in STAGENET_RPC_URL
//! ```

use crate::exit::{Exit, ExitStatus};
pub use crate::parse::Problem;
use crate::parse::{render, show, Parser};
use serde::{Deserialize, Serialize};
use serde_yaml::Value;
use std::{
	collections::BTreeMap,
	num::NonZeroU32,
	path::{Path, PathBuf},
	time::Duration,
};

/// The topology format version this build reads.
pub const TOPOLOGY_VERSION: u32 = 1;

/// A validated topology. Paths are resolved against the topology file's directory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Topology {
	/// The file it was read from (for messages).
	pub file: PathBuf,
	/// Optional name, shown in `status`.
	pub name: Option<String>,
	/// The chain the nodes run.
	pub chain: Chain,
	/// How nodes are run.
	pub node: NodeDefaults,
	/// Number of validators (at least one).
	pub validators: NonZeroU32,
	/// Secret URIs of the validators, in order; default `//Alice` … `//Ferdie`, then
	/// `//Validator7` … (as `stagenet fork` assigns them).
	pub validator_uris: Option<Vec<String>>,
	/// Full nodes (no authoring, RPC for stagenet only).
	pub full_nodes: u32,
	/// RPC nodes (no authoring; their RPC is what users and workloads are given).
	pub rpc_nodes: u32,
	/// Per-node overrides, by node name (`alice`, `full-1`, `rpc-1`).
	pub nodes: BTreeMap<String, NodeOverride>,
	/// How long `up` waits for readiness.
	pub ready_timeout: Duration,
	/// Workloads (miners, validators of subnets, load generators).
	pub workloads: Vec<Workload>,
}

/// The chain of a topology.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Chain {
	/// A chain built into the node binary (`dev`, `local`).
	Builtin(String),
	/// A chain spec file (raw or plain).
	Spec(PathBuf),
}

/// Settings of every node.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct NodeDefaults {
	/// The node binary (local provider).
	pub binary: Option<PathBuf>,
	/// The node image (docker provider).
	pub image: Option<String>,
	/// Extra arguments of every node.
	pub args: Vec<String>,
	/// Limits of every node.
	pub resources: Resources,
}

/// Settings of one node, over [`NodeDefaults`].
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct NodeOverride {
	/// Extra arguments, after the defaults'.
	pub args: Vec<String>,
	/// Limits; each set field replaces the default's.
	pub resources: Resources,
}

/// CPU and memory limits.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Resources {
	/// CPU cores (fractions allowed), > 0.
	pub cpus: Option<f64>,
	/// Memory in bytes (`512MiB`, `2GiB`, `1G` in the file).
	pub memory: Option<u64>,
}

/// A named group of processes or containers beside the nodes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workload {
	/// Name; replicas are `<name>-0`, `<name>-1`, ….
	pub name: String,
	/// Program to run (local provider); a path relative to the file, or a name on `PATH`.
	pub command: Option<PathBuf>,
	/// Image to run (docker provider).
	pub image: Option<String>,
	/// Arguments.
	pub args: Vec<String>,
	/// Environment, on top of what stagenet sets (`STAGENET_RPC_URL`, `STAGENET_RUN`,
	/// `STAGENET_WORKLOAD`, `STAGENET_REPLICA`, and `CUDA_VISIBLE_DEVICES` for GPUs).
	pub env: BTreeMap<String, String>,
	/// Number of replicas (at least one).
	pub replicas: NonZeroU32,
	/// GPUs per replica.
	pub gpus: u32,
	/// The node whose RPC the workload gets, and which must answer before it starts;
	/// default: the first RPC node, else the first validator.
	pub depends_on: Option<String>,
	/// Limits.
	pub resources: Resources,
}

/// The kind of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
	/// Authors blocks and votes in GRANDPA.
	Validator,
	/// Follows the chain.
	Full,
	/// Follows the chain and serves RPC to users and workloads.
	Rpc,
}

/// One node a topology asks for, in start order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedNode {
	/// Name (`alice`, `validator-7`, `full-1`, `rpc-1`).
	pub name: String,
	/// Kind.
	pub role: Role,
	/// Secret URI of its authority keys (validators only).
	pub key_uri: Option<String>,
	/// Extra arguments (defaults, then the override's).
	pub args: Vec<String>,
	/// Limits (override over defaults).
	pub resources: Resources,
}


/// A topology file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TopologyError {
	/// The file cannot be read.
	#[error("{source}")]
	Read {
		/// The file.
		file: PathBuf,
		/// The cause: unreadable, not a regular file, or too large.
		#[source]
		source: crate::files::ReadError,
	},
	/// The file has problems; all of them are listed.
	#[error("topology `{file}` has {} problem(s):\n{}", problems.len(), render(problems))]
	Invalid {
		/// The file.
		file: PathBuf,
		/// Every problem found.
		problems: Vec<Problem>,
	},
}

/// A file that cannot be read or has problems is bad input.
impl ExitStatus for TopologyError {
	fn exit(&self) -> Exit {
		match self {
			TopologyError::Read { source, .. } => source.exit(),
			TopologyError::Invalid { .. } => Exit::BadInput,
		}
	}
}


/// Dev names of the first six validators, as their dev keys (`//Alice` → `alice`).
pub const DEV_NAMES: [&str; 6] = ["alice", "bob", "charlie", "dave", "eve", "ferdie"];

impl Topology {
	/// Reads, parses and validates a topology file. Unknown keys are returned as
	/// warnings (`strict` turns them into problems). Every problem is reported at once.
	pub fn load(file: &Path, strict: bool) -> Result<(Topology, Vec<Problem>), TopologyError> {
		let text = crate::files::read_text_bounded(file, "topology", crate::files::MAX_CONFIG_BYTES).map_err(|source| TopologyError::Read {
			file: file.to_path_buf(),
			source,
		})?;
		Self::parse(file, &text, strict)
	}

	/// Reads a topology for a network whose chain is already decided (the spec a scenario
	/// forks): the file's `chain` may be left out, and is replaced by `chain` if present.
	pub fn load_with_chain(
		file: &Path,
		strict: bool,
		chain: Chain,
	) -> Result<(Topology, Vec<Problem>), TopologyError> {
		let text = crate::files::read_text_bounded(file, "topology", crate::files::MAX_CONFIG_BYTES).map_err(|source| TopologyError::Read {
			file: file.to_path_buf(),
			source,
		})?;
		Self::parse_inner(file, &text, strict, Some(chain))
	}

	/// Parses and validates YAML text; `file` names it in messages and anchors relative
	/// paths (its directory).
	pub fn parse(
		file: &Path,
		text: &str,
		strict: bool,
	) -> Result<(Topology, Vec<Problem>), TopologyError> {
		Self::parse_inner(file, text, strict, None)
	}

	fn parse_inner(
		file: &Path,
		text: &str,
		strict: bool,
		chain: Option<Chain>,
	) -> Result<(Topology, Vec<Problem>), TopologyError> {
		let mut parser = Parser::new(file);
		parser.chain_override = chain;
		let topology = parser.topology(file, text);
		let Parser {
			mut problems,
			unknown,
			..
		} = parser;
		let warnings: Vec<Problem> = unknown.iter().map(|u| u.to_problem(strict)).collect();
		let invalid = |mut problems: Vec<Problem>| {
			if problems.is_empty() {
				problems.push(Problem {
					path: String::new(),
					message: "the topology could not be read, and no reason was recorded \
					          (hint: this is a bug of stagenet; please report it with the file)"
						.into(),
				});
			}
			TopologyError::Invalid {
				file: file.to_path_buf(),
				problems,
			}
		};
		match topology {
			Some(topology) if problems.is_empty() && (!strict || warnings.is_empty()) => {
				Ok((topology, warnings))
			}
			_ => {
				// Unknown keys are listed with the problems even when they are only warnings:
				// a misspelt key often explains a missing one.
				problems.extend(warnings);
				Err(invalid(problems))
			}
		}
	}

	/// The nodes in start order: validators, full nodes, RPC nodes.
	pub fn planned_nodes(&self) -> Vec<PlannedNode> {
		let mut planned = Vec::new();
		for index in 1..=self.validators.get() {
			let key_uri = self
				.validator_uris
				.as_ref()
				.and_then(|uris| uris.get(index as usize - 1))
				.cloned()
				.unwrap_or_else(|| default_key_uri(index));
			planned.push(self.plan(Role::Validator, index, Some(key_uri)));
		}
		for index in 1..=self.full_nodes {
			planned.push(self.plan(Role::Full, index, None));
		}
		for index in 1..=self.rpc_nodes {
			planned.push(self.plan(Role::Rpc, index, None));
		}
		planned
	}

	/// Total GPUs asked for (replicas × gpus).
	pub fn gpus_requested(&self) -> u32 {
		self.workloads
			.iter()
			.map(|w| w.replicas.get() * w.gpus)
			.sum()
	}
}

impl Topology {
	/// The planned node `index` (1-based) of `role`, with the defaults and its override.
	fn plan(&self, role: Role, index: u32, key_uri: Option<String>) -> PlannedNode {
		let name = node_name(role, index);
		let over = self.nodes.get(&name);
		let mut args = self.node.args.clone();
		if let Some(over) = over {
			args.extend(over.args.iter().cloned());
		}
		let defaults = self.node.resources;
		let resources = Resources {
			cpus: over.and_then(|o| o.resources.cpus).or(defaults.cpus),
			memory: over.and_then(|o| o.resources.memory).or(defaults.memory),
		};
		PlannedNode {
			name,
			role,
			key_uri,
			args,
			resources,
		}
	}
}

/// The name of node `index` (1-based) of `role`: `alice` … `ferdie`, `validator-7` …,
/// `full-1` …, `rpc-1` ….
fn node_name(role: Role, index: u32) -> String {
	match role {
		Role::Validator => match DEV_NAMES.get(index as usize - 1) {
			Some(dev) => (*dev).to_string(),
			None => format!("validator-{index}"),
		},
		Role::Full => format!("full-{index}"),
		Role::Rpc => format!("rpc-{index}"),
	}
}

/// The role and 1-based index a node name stands for, if it is one of the names
/// [`node_name`] gives.
fn parse_node_name(name: &str) -> Option<(Role, u32)> {
	if let Some(i) = DEV_NAMES.iter().position(|dev| *dev == name) {
		return Some((Role::Validator, i as u32 + 1));
	}
	let number = |digits: &str| -> Option<u32> {
		let canonical = !digits.is_empty()
			&& !digits.starts_with('0')
			&& digits.bytes().all(|b| b.is_ascii_digit());
		canonical.then(|| digits.parse().ok()).flatten()
	};
	if let Some(rest) = name.strip_prefix("validator-") {
		let index = number(rest)?;
		return (index > DEV_NAMES.len() as u32).then_some((Role::Validator, index));
	}
	if let Some(rest) = name.strip_prefix("full-") {
		return Some((Role::Full, number(rest)?));
	}
	if let Some(rest) = name.strip_prefix("rpc-") {
		return Some((Role::Rpc, number(rest)?));
	}
	None
}

/// `//Alice` … `//Ferdie`, then `//Validator7` …, as `stagenet fork` assigns them.
fn default_key_uri(index: u32) -> String {
	match DEV_NAMES.get(index as usize - 1) {
		Some(dev) => {
			let mut chars = dev.chars();
			let first = chars.next().map(|c| c.to_ascii_uppercase());
			format!(
				"//{}{}",
				first.map(String::from).unwrap_or_default(),
				chars.as_str()
			)
		}
		None => format!("//Validator{index}"),
	}
}

/// Keys of each section, for the hints of unknown keys.
const TOP_KEYS: &[&str] = &[
	"version",
	"name",
	"chain",
	"node",
	"validators",
	"validator-uris",
	"full-nodes",
	"rpc-nodes",
	"nodes",
	"ready-timeout",
	"workloads",
];
const NODE_KEYS: &[&str] = &["binary", "image", "args", "resources"];
const OVERRIDE_KEYS: &[&str] = &["args", "resources"];
pub(crate) const RESOURCE_KEYS: &[&str] = &["cpus", "memory"];
const WORKLOAD_KEYS: &[&str] = &[
	"name",
	"command",
	"image",
	"args",
	"env",
	"replicas",
	"gpus",
	"depends-on",
	"resources",
];

/// Readiness timeout when the file sets none.
const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(180);

/// Workload names whose replicas (`rpc-1` …) would be named like nodes.
const RESERVED_WORKLOAD_NAMES: &[&str] = &["validator", "full", "rpc"];

/// The top level: every section is kept as YAML and read on its own, so that a mistake
/// in one does not hide the others.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", expecting = "a mapping of topology keys")]
struct RawTopology {
	version: Option<Value>,
	name: Option<Value>,
	chain: Option<Value>,
	node: Option<Value>,
	validators: Option<Value>,
	validator_uris: Option<Value>,
	full_nodes: Option<Value>,
	rpc_nodes: Option<Value>,
	nodes: Option<Value>,
	ready_timeout: Option<Value>,
	workloads: Option<Value>,
}

#[derive(Deserialize)]
#[serde(
	rename_all = "kebab-case",
	expecting = "a mapping with `binary`, `image`, `args`, `resources`"
)]
struct RawNode {
	binary: Option<String>,
	image: Option<String>,
	#[serde(default)]
	args: Vec<Text>,
	resources: Option<RawResources>,
}

#[derive(Deserialize)]
#[serde(
	rename_all = "kebab-case",
	expecting = "a mapping with `args`, `resources`"
)]
struct RawOverride {
	#[serde(default)]
	args: Vec<Text>,
	resources: Option<RawResources>,
}

#[derive(Deserialize)]
#[serde(
	rename_all = "kebab-case",
	expecting = "a mapping with `cpus`, `memory`"
)]
struct RawResources {
	cpus: Option<f64>,
	/// Bytes, or a string with a unit; read by [`memory_bytes`].
	memory: Option<Value>,
}

#[derive(Deserialize)]
#[serde(
	rename_all = "kebab-case",
	expecting = "a workload mapping with `name` and `command` or `image`"
)]
struct RawWorkload {
	name: Option<String>,
	command: Option<String>,
	image: Option<String>,
	#[serde(default)]
	args: Vec<Text>,
	#[serde(default)]
	env: BTreeMap<String, Text>,
	replicas: Option<u32>,
	gpus: Option<u32>,
	depends_on: Option<String>,
	resources: Option<RawResources>,
}

/// A scalar taken as text, so that `args: ["--netuid", 1]` and `env: { PORT: 8080 }` read
/// as written.
struct Text(String);

impl<'de> Deserialize<'de> for Text {
	fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
		struct TextVisitor;

		impl serde::de::Visitor<'_> for TextVisitor {
			type Value = Text;

			fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
				f.write_str("a string, number or boolean")
			}
			fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text, E> {
				Ok(Text(v.to_string()))
			}
			fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Text, E> {
				Ok(Text(v))
			}
			fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Text, E> {
				Ok(Text(v.to_string()))
			}
			fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Text, E> {
				Ok(Text(v.to_string()))
			}
			fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Text, E> {
				Ok(Text(v.to_string()))
			}
			fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Text, E> {
				Ok(Text(v.to_string()))
			}
		}

		deserializer.deserialize_any(TextVisitor)
	}
}

fn texts(list: Vec<Text>) -> Vec<String> {
	list.into_iter().map(|Text(s)| s).collect()
}


/// Bytes of a memory size: `1000000`, `512MiB`, `1.5GiB`, `1G`, `500MB`; `None` when it is
/// not one or does not fit in 64 bits.
fn parse_memory(text: &str) -> Option<u64> {
	let text = text.trim();
	let split = text
		.find(|c: char| !(c.is_ascii_digit() || c == '.'))
		.unwrap_or(text.len());
	let (number, unit) = (&text[..split], text[split..].trim_start());
	let multiplier: u128 = match unit {
		"" | "B" => 1,
		"K" | "KB" => 1_000,
		"M" | "MB" => 1_000_000,
		"G" | "GB" => 1_000_000_000,
		"T" | "TB" => 1_000_000_000_000,
		"KiB" => 1 << 10,
		"MiB" => 1 << 20,
		"GiB" => 1 << 30,
		"TiB" => 1 << 40,
		_ => return None,
	};
	let (whole, fraction) = match number.split_once('.') {
		Some((whole, fraction)) => (whole, Some(fraction)),
		None => (number, None),
	};
	let digits = |s: &str| !s.is_empty() && s.len() <= 24 && s.bytes().all(|b| b.is_ascii_digit());
	if !digits(whole) || fraction.is_some_and(|f| !digits(f) || multiplier == 1) {
		return None;
	}
	let whole: u128 = whole.parse().ok()?;
	let mut bytes = whole.checked_mul(multiplier)?;
	if let Some(fraction) = fraction {
		let scale = 10u128.checked_pow(fraction.len() as u32)?;
		let fraction: u128 = fraction.parse().ok()?;
		bytes = bytes.checked_add(fraction.checked_mul(multiplier)? / scale)?;
	}
	u64::try_from(bytes).ok()
}

const MEMORY_FORMS: &str = "write bytes like `1000000`, or a number with a unit: `512MiB`, \
	`1.5GiB` (KiB, MiB, GiB, TiB: powers of 1024) or `1G`, `500MB` (K, M, G, T or KB, MB, GB, \
	TB: powers of 1000)";

/// How many nodes of each role the file asks for; `None` where the count itself is wrong,
/// so that names of that role are not judged.
struct Counts {
	validators: Option<u32>,
	full: Option<u32>,
	rpc: Option<u32>,
}

impl Counts {
	fn of(&self, role: Role) -> Option<u32> {
		match role {
			Role::Validator => self.validators,
			Role::Full => self.full,
			Role::Rpc => self.rpc,
		}
	}

	/// Whether `name` is a node of the topology (or may be, where a count is unknown).
	fn plans(&self, name: &str) -> bool {
		match parse_node_name(name) {
			Some((role, index)) => self.of(role).is_none_or(|count| index <= count),
			None => false,
		}
	}

	/// The planned names, shortened when there are many.
	fn names(&self) -> String {
		let mut names = Vec::new();
		for role in [Role::Validator, Role::Full, Role::Rpc] {
			let count = self.of(role).unwrap_or(0);
			if count <= 8 {
				names.extend((1..=count).map(|i| format!("`{}`", node_name(role, i))));
			} else {
				names.extend((1..=6).map(|i| format!("`{}`", node_name(role, i))));
				names.push("…".into());
				names.push(format!("`{}`", node_name(role, count)));
			}
		}
		if names.is_empty() {
			"none".into()
		} else {
			names.join(", ")
		}
	}
}

impl Parser {

	fn topology(&mut self, file: &Path, text: &str) -> Option<Topology> {
		let mut document: Value = match serde_yaml::from_str(text) {
			Ok(document) => document,
			Err(error) => {
				let message = match error.location() {
					Some(at) => format!(
						"malformed YAML at line {}, column {}: {error} (hint: {})",
						at.line(),
						at.column(),
						if error.to_string().contains("duplicate entry") {
							"write each key once per mapping"
						} else {
							"check the indentation and quoting there"
						}
					),
					None => format!("malformed YAML: {error}"),
				};
				self.problem("", message);
				return None;
			}
		};
		if let Err(error) = document.apply_merge() {
			self.problem(
				"",
				format!("cannot apply the YAML merge keys (`<<`): {error}"),
			);
			return None;
		}
		if !document.is_mapping() {
			let found = match &document {
				Value::Null => "an empty file".to_string(),
				other => show(other),
			};
			self.problem(
				"",
				format!(
					"expected a mapping of topology keys (`version`, `chain`, `node`, …), found \
					 {found} (hint: start the file with `version: {TOPOLOGY_VERSION}`)"
				),
			);
			return None;
		}
		let raw: RawTopology = self.take("", document, TOP_KEYS)?;

		self.version(raw.version);
		let name = raw.name.and_then(|v| self.take::<String>("name", v, &[]));
		let chain = self.chain(raw.chain);
		let node = self.node(raw.node);
		let validators = self.count("validators", raw.validators);
		let full_nodes = self.count("full-nodes", raw.full_nodes);
		let rpc_nodes = self.count("rpc-nodes", raw.rpc_nodes);
		let counts = Counts {
			validators: validators.flatten(),
			full: full_nodes.map(|n| n.unwrap_or(0)),
			rpc: rpc_nodes.map(|n| n.unwrap_or(0)),
		};
		let validators = match validators {
			Some(Some(0)) => {
				self.problem(
					"validators",
					"must be at least 1 (hint: a chain needs a validator to author blocks)",
				);
				None
			}
			Some(Some(n)) => NonZeroU32::new(n),
			None => None,
			Some(None) => {
				self.problem(
					"validators",
					"missing (hint: add `validators: 1` or more; they take the keys //Alice, \
					 //Bob … in order)",
				);
				None
			}
		};
		let validator_uris = self.validator_uris(raw.validator_uris, counts.validators);
		let nodes = self.overrides(raw.nodes, &counts);
		let ready_timeout = self.ready_timeout(raw.ready_timeout);
		let workloads = self.workloads(raw.workloads, &counts);

		let (Some(chain), Some(node), Some(validators)) = (chain, node, validators) else {
			return None;
		};
		if !self.problems.is_empty() {
			return None;
		}
		Some(Topology {
			file: file.to_path_buf(),
			name,
			chain,
			node,
			validators,
			validator_uris,
			full_nodes: full_nodes.flatten().unwrap_or(0),
			rpc_nodes: rpc_nodes.flatten().unwrap_or(0),
			nodes,
			ready_timeout,
			workloads,
		})
	}

	fn version(&mut self, value: Option<Value>) {
		match value {
			None => self.problem(
				"version",
				format!("missing (hint: start the file with `version: {TOPOLOGY_VERSION}`)"),
			),
			Some(value) if value.as_u64() == Some(u64::from(TOPOLOGY_VERSION)) => {}
			Some(value) => self.problem(
				"version",
				format!(
					"topology version `{}` is not supported: this build reads version \
					 {TOPOLOGY_VERSION} (hint: rewrite the file for version {TOPOLOGY_VERSION}, \
					 or use the stagenet release that wrote it)",
					show(&value)
				),
			),
		}
	}

	fn chain(&mut self, value: Option<Value>) -> Option<Chain> {
		if let Some(chain) = self.chain_override.clone() {
			return Some(chain);
		}
		let Some(value) = value else {
			self.problem(
				"chain",
				"missing (hint: `chain: dev` or `chain: local` for a chain built into the node, \
				 or the path of a spec written by `stagenet fork`)",
			);
			return None;
		};
		let written: String = self.take("chain", value, &[])?;
		match written.as_str() {
			"dev" | "local" => return Some(Chain::Builtin(written)),
			"" => {
				self.problem(
					"chain",
					"empty (hint: `dev`, `local`, or the path of a spec file)",
				);
				return None;
			}
			_ => {}
		}
		let spec = self.resolve(&written);
		if !spec.exists() {
			self.problem(
				"chain",
				format!(
					"spec file `{}` does not exist (hint: create it with `stagenet fork \
					 --snapshot <file.snap> --profile <profile.yaml> --out {}`; the chains \
					 built into the node are `dev` and `local`)",
					spec.display(),
					spec.display()
				),
			);
			return None;
		}
		if spec.is_dir() {
			self.problem(
				"chain",
				format!(
					"`{}` is a directory, not a chain spec file (hint: name the `.json` spec \
					 written by `stagenet fork`)",
					spec.display()
				),
			);
			return None;
		}
		Some(Chain::Spec(spec))
	}

	fn node(&mut self, value: Option<Value>) -> Option<NodeDefaults> {
		let Some(value) = value else {
			self.problem(
				"node",
				"missing (hint: set `node.binary` for the local provider or `node.image` for the \
				 docker provider)",
			);
			return None;
		};
		let raw: RawNode = self.take("node", value, NODE_KEYS)?;
		let binary = raw
			.binary
			.and_then(|b| self.non_empty("node.binary", b))
			.map(|b| self.resolve(&b));
		let image = raw.image.and_then(|i| self.non_empty("node.image", i));
		let resources = self.resources("node.resources", raw.resources);
		if binary.is_none() && image.is_none() {
			self.problem(
				"node",
				"needs `binary` (local provider) or `image` (docker provider), found neither \
				 (hint: `binary: path/to/node-subtensor` or `image: <repository>:<tag>`)",
			);
			return None;
		}
		Some(NodeDefaults {
			binary,
			image,
			args: texts(raw.args),
			resources: resources?,
		})
	}

	fn non_empty(&mut self, path: &str, text: String) -> Option<String> {
		if text.trim().is_empty() {
			self.problem(path, "empty (hint: remove the key, or give it a value)");
			None
		} else {
			Some(text)
		}
	}

	/// `Some(Some(n))`: read; `Some(None)`: absent (callers pick the default); `None`: wrong
	/// (a problem was recorded).
	fn count(&mut self, path: &str, value: Option<Value>) -> Option<Option<u32>> {
		match value {
			None => Some(None),
			Some(value) => self.take::<u32>(path, value, &[]).map(Some),
		}
	}

	fn validator_uris(
		&mut self,
		value: Option<Value>,
		validators: Option<u32>,
	) -> Option<Vec<String>> {
		let uris: Vec<String> = self.take("validator-uris", value?, &[])?;
		for (i, uri) in uris.iter().enumerate() {
			if uri.trim().is_empty() {
				self.problem(
					format!("validator-uris[{i}]"),
					"empty (hint: write a secret URI such as `//Alice`)",
				);
			}
		}
		if let Some(validators) = validators {
			if (uris.len() as u64) < u64::from(validators) {
				self.problem(
					"validator-uris",
					format!(
						"lists {} URI(s) but `validators` is {validators} (hint: give one URI per \
						 validator, or remove `validator-uris` to use //Alice, //Bob …)",
						uris.len()
					),
				);
			}
		}
		Some(uris)
	}

	fn overrides(
		&mut self,
		value: Option<Value>,
		counts: &Counts,
	) -> BTreeMap<String, NodeOverride> {
		let mut nodes = BTreeMap::new();
		let Some(value) = value else {
			return nodes;
		};
		let Some(raw) = self.take::<BTreeMap<String, Value>>("nodes", value, &[]) else {
			return nodes;
		};
		for (name, value) in raw {
			let path = format!("nodes.{name}");
			if !counts.plans(&name) {
				self.problem(
					&path,
					format!(
						"no node is named `{name}` in this topology (hint: the nodes are {})",
						counts.names()
					),
				);
			}
			let over = if value.is_null() {
				Some(RawOverride {
					args: Vec::new(),
					resources: None,
				})
			} else {
				self.take::<RawOverride>(&path, value, OVERRIDE_KEYS)
			};
			let Some(over) = over else {
				continue;
			};
			if let Some(resources) = self.resources(&format!("{path}.resources"), over.resources) {
				nodes.insert(
					name,
					NodeOverride {
						args: texts(over.args),
						resources,
					},
				);
			}
		}
		nodes
	}

	fn ready_timeout(&mut self, value: Option<Value>) -> Duration {
		let hint = "write a number with a unit, like `180s`, `5m` or `1h 30m`";
		match value {
			None | Some(Value::Null) => DEFAULT_READY_TIMEOUT,
			Some(Value::String(text)) => match humantime::parse_duration(&text) {
				Ok(d) if d.is_zero() => {
					self.problem(
						"ready-timeout",
						format!("must be more than zero (hint: {hint})"),
					);
					DEFAULT_READY_TIMEOUT
				}
				Ok(d) => d,
				Err(error) => {
					self.problem(
						"ready-timeout",
						format!("`{text}` is not a duration: {error} (hint: {hint})"),
					);
					DEFAULT_READY_TIMEOUT
				}
			},
			Some(other) => {
				self.problem(
					"ready-timeout",
					format!(
						"expected a duration, found `{}` (hint: {hint})",
						show(&other)
					),
				);
				DEFAULT_READY_TIMEOUT
			}
		}
	}

	/// `None` when a limit is wrong (a problem was recorded).
	fn resources(&mut self, path: &str, raw: Option<RawResources>) -> Option<Resources> {
		let Some(raw) = raw else {
			return Some(Resources::default());
		};
		let mut ok = true;
		if let Some(cpus) = raw.cpus {
			if !(cpus.is_finite() && cpus > 0.0) {
				self.problem(
					format!("{path}.cpus"),
					format!(
						"`{cpus}` is not a CPU count (hint: write a number above 0, like `1.5`)"
					),
				);
				ok = false;
			}
		}
		let memory = match raw.memory {
			None | Some(Value::Null) => None,
			Some(value) => {
				let bytes = match &value {
					Value::Number(n) => n.as_u64(),
					Value::String(s) => parse_memory(s),
					_ => None,
				};
				match bytes {
					Some(0) => {
						self.problem(
							format!("{path}.memory"),
							format!("must be more than zero (hint: {MEMORY_FORMS})"),
						);
						ok = false;
						None
					}
					Some(bytes) => Some(bytes),
					None => {
						self.problem(
							format!("{path}.memory"),
							format!(
								"`{}` is not a memory size (hint: {MEMORY_FORMS})",
								show(&value)
							),
						);
						ok = false;
						None
					}
				}
			}
		};
		ok.then_some(Resources {
			cpus: raw.cpus,
			memory,
		})
	}

	fn workloads(&mut self, value: Option<Value>, counts: &Counts) -> Vec<Workload> {
		let mut workloads = Vec::new();
		let Some(list) = value.and_then(|v| self.take::<Vec<Value>>("workloads", v, &[])) else {
			return workloads;
		};
		let mut seen: BTreeMap<String, usize> = BTreeMap::new();
		for (i, value) in list.into_iter().enumerate() {
			let path = format!("workloads[{i}]");
			let Some(raw) = self.take::<RawWorkload>(&path, value, WORKLOAD_KEYS) else {
				continue;
			};
			if let Some(workload) = self.workload(&path, i, raw, counts, &mut seen) {
				workloads.push(workload);
			}
		}
		// `Topology::gpus_requested` sums in `u32`.
		let gpus: u64 = workloads
			.iter()
			.map(|w| u64::from(w.replicas.get()) * u64::from(w.gpus))
			.sum();
		if gpus > u64::from(u32::MAX) {
			self.problem(
				"workloads",
				format!(
					"ask for {gpus} GPUs in all (`replicas` × `gpus`), more than any host has \
					 (hint: lower `gpus` or `replicas`)"
				),
			);
		}
		workloads
	}

	fn workload(
		&mut self,
		path: &str,
		index: usize,
		raw: RawWorkload,
		counts: &Counts,
		seen: &mut BTreeMap<String, usize>,
	) -> Option<Workload> {
		let before = self.problems.len();
		let name_path = format!("{path}.name");
		match &raw.name {
			None => self.problem(
				&name_path,
				"missing (hint: name the workload with lowercase letters, digits and `-`, like \
				 `miner`)",
			),
			Some(name) if !valid_workload_name(name) => self.problem(
				&name_path,
				format!(
					"`{name}` is not a valid workload name (hint: use lowercase letters, digits \
					 and `-`, starting with a letter or digit, like `miner`)"
				),
			),
			Some(name) if RESERVED_WORKLOAD_NAMES.contains(&name.as_str()) => self.problem(
				&name_path,
				format!(
					"`{name}` is reserved: its replicas would be named like nodes \
					 (`{name}-1` …) (hint: choose another name, like `{name}-client`)"
				),
			),
			Some(name) => {
				if let Some(first) = seen.get(name) {
					self.problem(
						&name_path,
						format!(
							"`{name}` is already the name of `workloads[{first}]` (hint: workload \
							 names must be unique)"
						),
					);
				} else {
					seen.insert(name.clone(), index);
				}
			}
		}
		let command = raw
			.command
			.and_then(|c| self.non_empty(&format!("{path}.command"), c))
			.map(|c| {
				if c.contains('/') {
					self.resolve(&c)
				} else {
					PathBuf::from(c)
				}
			});
		let image = raw
			.image
			.and_then(|i| self.non_empty(&format!("{path}.image"), i));
		if command.is_none() && image.is_none() {
			self.problem(
				path,
				"needs `command` (local provider) or `image` (docker provider), found neither \
				 (hint: `command: ./miner.py` or `image: <repository>:<tag>`)",
			);
		}
		let replicas = match raw.replicas {
			None => NonZeroU32::MIN,
			Some(n) => NonZeroU32::new(n).unwrap_or_else(|| {
				self.problem(
					format!("{path}.replicas"),
					"must be at least 1 (hint: remove the workload to run none of it)",
				);
				NonZeroU32::MIN
			}),
		};
		if let Some(node) = &raw.depends_on {
			if !counts.plans(node) {
				self.problem(
					format!("{path}.depends-on"),
					format!(
						"`{node}` is not a node of this topology (hint: the nodes are {})",
						counts.names()
					),
				);
			}
		}
		let mut env = BTreeMap::new();
		for (key, Text(value)) in raw.env {
			let key_path = format!("{path}.env.{key}");
			if !valid_env_name(&key) {
				self.problem(
					key_path,
					format!(
						"`{key}` is not an environment variable name (hint: use letters, digits \
						 and `_`, not starting with a digit)"
					),
				);
			} else if key.starts_with("STAGENET_") || key == "CUDA_VISIBLE_DEVICES" {
				self.problem(
					key_path,
					format!(
						"`{key}` is set by stagenet (hint: remove it; stagenet sets \
						 `STAGENET_RPC_URL`, `STAGENET_RUN`, `STAGENET_WORKLOAD`, \
						 `STAGENET_REPLICA`, and `CUDA_VISIBLE_DEVICES` from `gpus`)"
					),
				);
			} else {
				env.insert(key, value);
			}
		}
		let resources = self.resources(&format!("{path}.resources"), raw.resources);
		if self.problems.len() > before {
			return None;
		}
		Some(Workload {
			name: raw.name?,
			command,
			image,
			args: texts(raw.args),
			env,
			replicas,
			gpus: raw.gpus.unwrap_or(0),
			depends_on: raw.depends_on,
			resources: resources?,
		})
	}
}

/// `[a-z0-9-]+`, not starting with `-`.
fn valid_workload_name(name: &str) -> bool {
	!name.is_empty()
		&& !name.starts_with('-')
		&& name
			.bytes()
			.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `[A-Za-z_][A-Za-z0-9_]*`.
fn valid_env_name(name: &str) -> bool {
	let mut bytes = name.bytes();
	bytes
		.next()
		.is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
		&& bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests;

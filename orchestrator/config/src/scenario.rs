//! Scenario files: what `stagenet rehearse` does and which gates decide its verdict.
//!
//! ```yaml
//! version: 1
//! name: upgrade-ok
//! source:
//!   snapshot: ../../target/scenarios/traffic.snap   # a `.snap` file (relative to this file)
//!   # or: url: ws://127.0.0.1:9944  and optionally  block: 1200 | 0x…hash
//! fork:
//!   profile: ../profiles/test-chain.yaml
//!   warmup: 30                                      # optional (`stagenet fork --warmup`)
//! topology: ../topologies/rehearse-local.yaml      # its `chain` is replaced by the fork
//! steps:
//!   - wait-blocks: 3
//!   - upgrade: { wasm: ../../target/test-chain/runtimes/upgrade-ok.compact.compressed.wasm, via: sudo }
//!   - wait-blocks: { blocks: 10, timeout: 60s }
//!   - fault: { node: charlie, action: kill }
//!   - assert-storage: { name: stake-sum, sum: Subnets.Stake, equals: Subnets.TotalStake }
//!   # `equals` is a number, `Pallet.Item`, `sum(Pallet.Item)`, `count(Pallet.Item)` or a sum
//!   # of these: `equals: "count(SubtensorModule.Keys)"`, `equals: "Balances.TotalIssuance + 5"`
//!   - replay: { capture: ../../target/scenarios/window.db, rate: 2x, from: 120, to: 180 }
//!   # or: replay: ../../target/scenarios/window.db  (all of it, as captured)
//!   - stress: { profile: ../loads/test-chain/transfer-flood.yaml, duration: 30s, rate: 2000 }
//!   # or: stress: ../loads/test-chain/transfer-flood.yaml  (as the profile says)
//! gates:
//!   no-panic: true
//!   migration-weight: 50%          # of the maximum block weight, in the first block
//!   normal-weight: 75%             # every block
//!   block-time-p95: 1500ms
//!   finality-lag: 5                # blocks
//!   keeps-producing: 10            # blocks produced and finalized after the last upgrade
//!   replay-divergences: { max: 0, allow: [Subnets.set_weights] }   # or a number: the max
//!   stress-included-tps: 100       # every stress step includes at least this many tx/s
//! ```
//!
//! A replay's `rate` is `as-captured` (the default), `max` or a factor such as `2x`; `from` and
//! `to` are captured block numbers (default: the whole capture). A stress step's `duration` and
//! `rate` (tx/s, constant) override the profile's. Files are resolved against the scenario's
//! directory and must exist when the scenario is loaded, like `source.snapshot`: a test whose
//! fixture captures a window writes the capture before it loads the scenario.
//!
//! Steps and gates also accept snake_case keys (`wait_blocks`, `assert_storage`, …).

use crate::exit::{Exit, ExitStatus};
use crate::parse::{render, show, Parser, Problem};
use serde::{Deserialize, Serialize};
use serde_yaml::Value;
use std::{
	path::{Path, PathBuf},
	time::Duration,
};

/// The scenario format version this build reads.
pub const SCENARIO_VERSION: u32 = 1;

/// Blocks a `wait-blocks` step may take per block before it times out, unless it says.
const DEFAULT_SECONDS_PER_BLOCK: u64 = 6;
/// Blocks after `set_code` whose state is compared with the state before it.
const DEFAULT_DIFF_AFTER: u64 = 3;

/// A validated scenario. Paths are resolved against the scenario file's directory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
	/// The file it was read from.
	pub file: PathBuf,
	/// Its name (default: the file stem).
	pub name: String,
	/// Where the state comes from.
	pub source: Source,
	/// How it is forked.
	pub fork: ForkSettings,
	/// The topology file of the network.
	pub topology: PathBuf,
	/// What happens once the network is ready, in order.
	pub steps: Vec<Step>,
	/// What decides the verdict.
	pub gates: Gates,
}

/// Where a scenario's state comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub enum Source {
	/// A `.snap` file written by `stagenet snapshot`.
	Snapshot(PathBuf),
	/// A node to snapshot first, at a block (number or hash; default its finalized head).
	Rpc {
		/// WebSocket URL.
		url: String,
		/// Block number or hash.
		block: Option<String>,
	},
}

/// The fork of the scenario's state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForkSettings {
	/// The fork profile.
	pub profile: PathBuf,
	/// Warm-up W (`stagenet fork --warmup`), if set.
	pub warmup: Option<u64>,
}

/// How `set_code` is submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpgradeVia {
	/// `Sudo::sudo_unchecked_weight(System::set_code)`.
	Sudo,
	/// `Sudo::sudo(System::authorize_upgrade(hash))`, then `System::apply_authorized_upgrade`.
	Authorize,
}

impl UpgradeVia {
	/// `sudo` or `authorize`.
	pub fn as_str(self) -> &'static str {
		match self {
			UpgradeVia::Sudo => "sudo",
			UpgradeVia::Authorize => "authorize",
		}
	}
}

/// A fault a step injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultAction {
	/// Kill the node.
	Kill,
	/// Restart it (after a kill, or while it runs).
	Restart,
	/// Freeze it.
	Pause,
	/// Unfreeze it.
	Resume,
	/// Cut it off the network.
	Disconnect,
	/// Reconnect it.
	Reconnect,
}

impl std::fmt::Display for FaultAction {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.write_str(match self {
			FaultAction::Kill => "kill",
			FaultAction::Restart => "restart",
			FaultAction::Pause => "pause",
			FaultAction::Resume => "resume",
			FaultAction::Disconnect => "disconnect",
			FaultAction::Reconnect => "reconnect",
		})
	}
}

/// One side of a storage comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Operand {
	/// A storage value (`Pallet.Item`), read as an integer.
	Item(String),
	/// A literal integer.
	Number(u128),
	/// `sum(Pallet.Item)`: the sum of every value of a map.
	Sum(String),
	/// `count(Pallet.Item)`: the number of entries of a map.
	Count(String),
	/// `a + b + …`: the sum of several operands.
	Add(Vec<Operand>),
}

impl std::fmt::Display for Operand {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		match self {
			Operand::Item(i) => write!(f, "{i}"),
			Operand::Number(n) => write!(f, "{n}"),
			Operand::Sum(i) => write!(f, "sum({i})"),
			Operand::Count(i) => write!(f, "count({i})"),
			Operand::Add(terms) => {
				for (i, t) in terms.iter().enumerate() {
					if i > 0 {
						write!(f, " + ")?;
					}
					write!(f, "{t}")?;
				}
				Ok(())
			}
		}
	}
}

/// What an `assert-storage` step checks, at the best block when the step runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Check {
	/// The sum of every value of a map (`Pallet.Item`) equals `equals`.
	Sum {
		/// The map.
		item: String,
		/// What the sum must equal.
		equals: Operand,
	},
	/// A value (`Pallet.Item`) equals `equals`.
	Value {
		/// The storage value.
		item: String,
		/// What it must equal.
		equals: Operand,
	},
	/// The number of entries of a map is at least `at_least`.
	Count {
		/// The map.
		item: String,
		/// Minimum entries.
		at_least: u64,
	},
}

/// How fast captured blocks are replayed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum ReplayRate {
	/// Keep the captured time between blocks (from their `Timestamp.set`).
	AsCaptured,
	/// Each captured block as soon as the previous one is included.
	Max,
	/// The captured time between blocks divided by this factor (`2x` is twice as fast).
	Factor(f64),
}

/// A replay rate that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BadReplayRate {
	/// Neither a name nor a factor.
	#[error("expected `as-captured`, `max` or a factor like `2x`, saw `{0}`")]
	Unknown(String),
	/// A factor that is not a positive number.
	#[error("expected a positive factor before `x` (`2x`, `0.5x`), saw `{0}`")]
	BadFactor(String),
}

impl ReplayRate {
	/// Parses `as-captured`, `max`, `2x`, `2×`, `0.5x`.
	pub fn parse(text: &str) -> Result<ReplayRate, BadReplayRate> {
		let t = text.trim();
		match t {
			"as-captured" | "as_captured" | "1x" | "1×" => return Ok(ReplayRate::AsCaptured),
			"max" => return Ok(ReplayRate::Max),
			_ => {}
		}
		let number = t
			.strip_suffix('x')
			.or_else(|| t.strip_suffix('×'))
			.ok_or_else(|| BadReplayRate::Unknown(t.to_string()))?;
		match number.trim().parse::<f64>() {
			Ok(f) if f.is_finite() && f > 0.0 => Ok(ReplayRate::Factor(f)),
			_ => Err(BadReplayRate::BadFactor(t.to_string())),
		}
	}

	/// `as-captured`, `max` or `<f>x`.
	pub fn label(&self) -> String {
		match self {
			ReplayRate::AsCaptured => "as-captured".into(),
			ReplayRate::Max => "max".into(),
			ReplayRate::Factor(f) => format!("{f}x"),
		}
	}
}

/// One scenario step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Step {
	/// Wait until `blocks` more blocks are finalized (or the timeout passes).
	WaitBlocks {
		/// How many.
		blocks: u64,
		/// How long at most.
		timeout: Duration,
	},
	/// A runtime upgrade.
	Upgrade {
		/// The wasm file.
		wasm: PathBuf,
		/// How it is submitted.
		via: UpgradeVia,
		/// Blocks after the inclusion whose state is diffed against the state before it.
		diff_after: u64,
	},
	/// A fault on one node.
	Fault {
		/// Node name.
		node: String,
		/// What happens to it.
		action: FaultAction,
	},
	/// An invariant read over RPC; each becomes the gate `invariant:<name>`.
	AssertStorage {
		/// Name of the invariant.
		name: String,
		/// What it checks.
		check: Check,
	},
	/// Replay captured extrinsics (`stagenet replay`); judged by the `replay-divergences` gate.
	Replay {
		/// The capture database (`stagenet capture --out`).
		capture: PathBuf,
		/// How fast.
		rate: ReplayRate,
		/// First captured block (default: the capture's first).
		from: Option<u64>,
		/// Last captured block (default: the capture's last).
		to: Option<u64>,
	},
	/// A stress load (`stagenet stress`); judged by the `stress-included-tps` gate.
	Stress {
		/// The load profile.
		profile: PathBuf,
		/// Overrides the profile's duration.
		duration: Option<Duration>,
		/// Overrides the profile's rate (tx/s, constant).
		rate: Option<f64>,
	},
}

impl Step {
	/// `wait-blocks`, `upgrade`, `fault`, `assert-storage`.
	pub fn kind(&self) -> &'static str {
		match self {
			Step::WaitBlocks { .. } => "wait-blocks",
			Step::Upgrade { .. } => "upgrade",
			Step::Fault { .. } => "fault",
			Step::AssertStorage { .. } => "assert-storage",
			Step::Replay { .. } => "replay",
			Step::Stress { .. } => "stress",
		}
	}
}

/// The gates of a scenario. A gate that is `None` is not checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gates {
	/// No panic or wasm trap in any node's log.
	pub no_panic: bool,
	/// Migration weight at most this % of the maximum block weight.
	pub migration_weight_percent: Option<f64>,
	/// Normal-class weight at most this % of the maximum block weight, in every block.
	pub normal_weight_percent: Option<f64>,
	/// 95th percentile of the time between blocks at most this.
	pub block_time_p95: Option<Duration>,
	/// Finality lag at most this many blocks, at every block.
	pub finality_lag: Option<u64>,
	/// After the last upgrade, at least this many blocks produced and finalized.
	pub keeps_producing: Option<u64>,
	/// At most this many replay divergences (over every `replay` step), not counting calls in
	/// `replay_allowed_calls`.
	pub replay_max_divergences: Option<u64>,
	/// `Pallet.call`s whose divergences are expected (the release changes them on purpose).
	pub replay_allowed_calls: Vec<String>,
	/// Every `stress` step included at least this many transactions per second.
	pub stress_min_included_tps: Option<f64>,
}

impl Default for Gates {
	fn default() -> Self {
		Gates {
			no_panic: true,
			migration_weight_percent: None,
			normal_weight_percent: None,
			block_time_p95: None,
			finality_lag: None,
			keeps_producing: None,
			replay_max_divergences: None,
			replay_allowed_calls: Vec::new(),
			stress_min_included_tps: None,
		}
	}
}

/// A scenario file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
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
	#[error("scenario `{file}` has {} problem(s):\n{}", problems.len(), render(problems))]
	Invalid {
		/// The file.
		file: PathBuf,
		/// Every problem found.
		problems: Vec<Problem>,
	},
}

/// A file that cannot be read or has problems is bad input.
impl ExitStatus for ScenarioError {
	fn exit(&self) -> Exit {
		match self {
			ScenarioError::Read { source, .. } => source.exit(),
			ScenarioError::Invalid { .. } => Exit::BadInput,
		}
	}
}

const TOP_KEYS: &[&str] = &[
	"version", "name", "source", "fork", "topology", "steps", "gates",
];
const SOURCE_KEYS: &[&str] = &["snapshot", "url", "block"];
const FORK_KEYS: &[&str] = &["profile", "warmup"];
const STEP_KEYS: &[&str] = &[
	"wait-blocks",
	"upgrade",
	"fault",
	"assert-storage",
	"replay",
	"stress",
];
const WAIT_KEYS: &[&str] = &["blocks", "timeout"];
const UPGRADE_KEYS: &[&str] = &["wasm", "via", "diff-after"];
const FAULT_KEYS: &[&str] = &["node", "action"];
const ASSERT_KEYS: &[&str] = &["name", "sum", "value", "count", "equals", "at-least"];
const REPLAY_KEYS: &[&str] = &["capture", "rate", "from", "to"];
const STRESS_KEYS: &[&str] = &["profile", "duration", "rate"];
const DIVERGENCE_KEYS: &[&str] = &["max", "allow"];
const GATE_KEYS: &[&str] = &[
	"no-panic",
	"migration-weight",
	"normal-weight",
	"block-time-p95",
	"finality-lag",
	"keeps-producing",
	"replay-divergences",
	"stress-included-tps",
];

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", expecting = "a mapping of scenario keys")]
struct RawScenario {
	version: Option<Value>,
	name: Option<Value>,
	source: Option<Value>,
	fork: Option<Value>,
	topology: Option<Value>,
	steps: Option<Value>,
	gates: Option<Value>,
}

#[derive(Deserialize)]
#[serde(
	rename_all = "kebab-case",
	expecting = "a mapping with `snapshot`, or `url` and `block`"
)]
struct RawSource {
	snapshot: Option<String>,
	url: Option<String>,
	block: Option<Value>,
}

#[derive(Deserialize)]
#[serde(
	rename_all = "kebab-case",
	expecting = "a mapping with `profile`, `warmup`"
)]
struct RawFork {
	profile: Option<String>,
	warmup: Option<u64>,
}

#[derive(Deserialize)]
#[serde(
	rename_all = "kebab-case",
	expecting = "a mapping with `blocks`, `timeout`"
)]
struct RawWait {
	blocks: u64,
	timeout: Option<String>,
}

#[derive(Deserialize)]
#[serde(
	rename_all = "kebab-case",
	expecting = "a mapping with `wasm`, `via`, `diff-after`"
)]
struct RawUpgrade {
	wasm: String,
	via: Option<UpgradeVia>,
	#[serde(alias = "diff_after")]
	diff_after: Option<u64>,
}

#[derive(Deserialize)]
#[serde(
	rename_all = "kebab-case",
	expecting = "a mapping with `node`, `action`"
)]
struct RawFault {
	node: String,
	action: FaultAction,
}

#[derive(Deserialize)]
#[serde(
	rename_all = "kebab-case",
	expecting = "a mapping with `name` and one of `sum`, `value`, `count`"
)]
struct RawAssert {
	name: String,
	sum: Option<String>,
	value: Option<String>,
	count: Option<String>,
	equals: Option<Value>,
	#[serde(alias = "at_least")]
	at_least: Option<u64>,
}

#[derive(Deserialize)]
#[serde(
	rename_all = "kebab-case",
	expecting = "a capture file, or a mapping with `capture`, `rate`, `from`, `to`"
)]
struct RawReplay {
	capture: Option<String>,
	rate: Option<Value>,
	from: Option<u64>,
	to: Option<u64>,
}

#[derive(Deserialize)]
#[serde(
	rename_all = "kebab-case",
	expecting = "a load profile file, or a mapping with `profile`, `duration`, `rate`"
)]
struct RawStress {
	profile: Option<String>,
	duration: Option<Value>,
	rate: Option<Value>,
}

#[derive(Deserialize)]
#[serde(
	rename_all = "kebab-case",
	expecting = "a number, or a mapping with `max`, `allow`"
)]
struct RawDivergences {
	max: Option<u64>,
	#[serde(default)]
	allow: Vec<String>,
}

impl Scenario {
	/// Reads, parses and validates a scenario file. Unknown keys are returned as warnings
	/// (`strict` turns them into problems). Every problem is reported at once. Files it
	/// names are checked to exist; their contents are read later.
	pub fn load(file: &Path, strict: bool) -> Result<(Scenario, Vec<Problem>), ScenarioError> {
		let text = crate::files::read_text_bounded(file, "scenario", crate::files::MAX_CONFIG_BYTES).map_err(|source| ScenarioError::Read {
			file: file.to_path_buf(),
			source,
		})?;
		Self::parse(file, &text, strict)
	}

	/// Parses and validates YAML text; `file` names it and anchors relative paths.
	pub fn parse(
		file: &Path,
		text: &str,
		strict: bool,
	) -> Result<(Scenario, Vec<Problem>), ScenarioError> {
		let mut parser = Parser::new(file);
		let scenario = read(&mut parser, file, text);
		let warnings: Vec<Problem> = parser
			.unknown
			.iter()
			.map(|u| u.to_problem(strict))
			.collect();
		let mut problems = std::mem::take(&mut parser.problems);
		match scenario {
			Some(s) if problems.is_empty() && (!strict || warnings.is_empty()) => Ok((s, warnings)),
			_ => {
				problems.extend(warnings);
				if problems.is_empty() {
					problems.push(Problem {
						path: String::new(),
						message: "the scenario could not be read, and no reason was recorded \
						          (hint: this is a bug of stagenet; please report it with the file)"
							.into(),
					});
				}
				Err(ScenarioError::Invalid {
					file: file.to_path_buf(),
					problems,
				})
			}
		}
	}

	/// The upgrades of the scenario, in order.
	pub fn upgrades(&self) -> impl Iterator<Item = &Step> {
		self.steps
			.iter()
			.filter(|s| matches!(s, Step::Upgrade { .. }))
	}
}

fn read(p: &mut Parser, file: &Path, text: &str) -> Option<Scenario> {
	let document: Value = match serde_yaml::from_str(text) {
		Ok(d) => d,
		Err(error) => {
			let message = match error.location() {
				Some(at) => format!(
					"malformed YAML at line {}, column {}: {error} (hint: check the indentation \
					 and quoting there)",
					at.line(),
					at.column()
				),
				None => format!("malformed YAML: {error}"),
			};
			p.problem("", message);
			return None;
		}
	};
	if !document.is_mapping() {
		p.problem(
			"",
			format!(
				"expected a mapping of scenario keys (`version`, `source`, `fork`, `topology`, \
				 `steps`, `gates`), found {} (hint: start the file with `version: \
				 {SCENARIO_VERSION}`)",
				match &document {
					Value::Null => "an empty file".to_string(),
					other => show(other),
				}
			),
		);
		return None;
	}
	let raw: RawScenario = p.take("", document, TOP_KEYS)?;
	match raw.version {
		None => p.problem(
			"version",
			format!("missing (hint: start the file with `version: {SCENARIO_VERSION}`)"),
		),
		Some(v) if v.as_u64() == Some(u64::from(SCENARIO_VERSION)) => {}
		Some(v) => p.problem(
			"version",
			format!(
				"scenario version `{}` is not supported: this build reads version \
				 {SCENARIO_VERSION} (hint: rewrite the file for version {SCENARIO_VERSION}, or \
				 use the stagenet release that wrote it)",
				show(&v)
			),
		),
	}
	let name = match raw.name {
		Some(v) => p.take::<String>("name", v, &[]),
		None => Some(
			file.file_stem()
				.map(|s| s.to_string_lossy().into_owned())
				.unwrap_or_else(|| "scenario".into()),
		),
	};
	let source = source(p, raw.source);
	let fork = fork(p, raw.fork);
	let topology = match raw.topology {
		None => {
			p.problem(
				"topology",
				"missing (hint: name a topology file such as \
				 `fork-tests/topologies/rehearse-local.yaml`; its `chain` is replaced by the fork)",
			);
			None
		}
		Some(v) => p
			.take::<String>("topology", v, &[])
			.and_then(|t| existing_file(p, "topology", &t, "a topology file")),
	};
	let steps = steps(p, raw.steps);
	let gates = match raw.gates {
		Some(v) => gates(p, v),
		None => Some(Gates::default()),
	};
	if !p.problems.is_empty() {
		return None;
	}
	Some(Scenario {
		file: file.to_path_buf(),
		name: name?,
		source: source?,
		fork: fork?,
		topology: topology?,
		steps: steps?,
		gates: gates?,
	})
}

/// `written`, resolved, if it names an existing file; else a problem at `path`.
fn existing_file(p: &mut Parser, path: &str, written: &str, what: &str) -> Option<PathBuf> {
	let resolved = p.resolve(written);
	if resolved.is_file() {
		return Some(resolved);
	}
	let reason = match std::fs::metadata(&resolved) {
		Err(_) => "does not exist",
		Ok(m) if m.is_dir() => "is a directory, not a regular file",
		Ok(_) => "is not a regular file (a device, FIFO or socket)",
	};
	let hint = if reason != "does not exist" {
		" (hint: give the path of a file)"
	} else if written.contains("target/test-chain") {
		" (hint: `scripts/build-test-chain` builds the test chain's node and runtimes)"
	} else if written.ends_with(".snap") {
		" (hint: write it with `stagenet snapshot --url ws://… --out <file>`, or give \
		 `source: { url: ws://… }` to snapshot a node first)"
	} else if what == "capture" {
		" (hint: write it with `stagenet capture --url ws://… --from N --to M --out <file>`)"
	} else {
		""
	};
	p.problem(
		path,
		format!("{what} `{}` {reason}{hint}", resolved.display()),
	);
	None
}

fn source(p: &mut Parser, value: Option<Value>) -> Option<Source> {
	let Some(value) = value else {
		p.problem(
			"source",
			"missing (hint: `source: { snapshot: state.snap }` or `source: { url: ws://…, \
			 block: 1200 }`)",
		);
		return None;
	};
	let raw: RawSource = p.take("source", value, SOURCE_KEYS)?;
	match (raw.snapshot, raw.url) {
		(Some(_), Some(_)) => {
			p.problem(
				"source",
				"both `snapshot` and `url` (hint: keep one: a snapshot file, or a node to \
				 snapshot)",
			);
			None
		}
		(Some(snap), None) => {
			if raw.block.is_some() {
				p.problem(
					"source.block",
					"a block goes with `url`, not with `snapshot` (hint: a snapshot file is \
					 already of one block)",
				);
			}
			existing_file(p, "source.snapshot", &snap, "snapshot").map(Source::Snapshot)
		}
		(None, Some(url)) => {
			if !(url.starts_with("ws://") || url.starts_with("wss://")) {
				p.problem(
					"source.url",
					format!("`{url}` is not a WebSocket URL (hint: `ws://host:9944`)"),
				);
				return None;
			}
			let block = match raw.block {
				None => None,
				Some(Value::Number(n)) => Some(n.to_string()),
				Some(Value::String(s)) => Some(s),
				Some(other) => {
					p.problem(
						"source.block",
						format!("expected a block number or hash, found {}", show(&other)),
					);
					return None;
				}
			};
			Some(Source::Rpc { url, block })
		}
		(None, None) => {
			p.problem(
				"source",
				"neither `snapshot` nor `url` (hint: `snapshot: state.snap` or `url: ws://…`)",
			);
			None
		}
	}
}

fn fork(p: &mut Parser, value: Option<Value>) -> Option<ForkSettings> {
	let Some(value) = value else {
		p.problem(
			"fork",
			"missing (hint: `fork: { profile: ../profiles/test-chain.yaml }`)",
		);
		return None;
	};
	let raw: RawFork = p.take("fork", value, FORK_KEYS)?;
	let Some(profile) = raw.profile else {
		p.problem(
			"fork.profile",
			"missing (hint: name a fork profile such as `fork-tests/profiles/test-chain.yaml`)",
		);
		return None;
	};
	let profile = existing_file(p, "fork.profile", &profile, "fork profile")?;
	Some(ForkSettings {
		profile,
		warmup: raw.warmup,
	})
}

fn steps(p: &mut Parser, value: Option<Value>) -> Option<Vec<Step>> {
	let Some(value) = value else {
		return Some(Vec::new());
	};
	let Value::Sequence(list) = value else {
		p.problem(
			"steps",
			format!(
				"expected a list of steps, found {} (hint: `steps: [{{ wait-blocks: 3 }}]`)",
				show(&value)
			),
		);
		return None;
	};
	let mut steps = Vec::new();
	let mut ok = true;
	for (i, item) in list.into_iter().enumerate() {
		match step(p, &format!("steps[{i}]"), item) {
			Some(s) => steps.push(s),
			None => ok = false,
		}
	}
	ok.then_some(steps)
}

fn step(p: &mut Parser, path: &str, value: Value) -> Option<Step> {
	let Value::Mapping(map) = value else {
		p.problem(
			path,
			format!(
				"expected a step such as `wait-blocks: 3` or `upgrade: {{ wasm: … }}`, found {}",
				show(&value)
			),
		);
		return None;
	};
	if map.len() != 1 {
		p.problem(
			path,
			format!(
				"a step is one key of {}; found {} keys (hint: write each step as its own list \
				 item)",
				STEP_KEYS.join(", "),
				map.len()
			),
		);
		return None;
	}
	let (key, body) = map.into_iter().next()?;
	let key = match key {
		Value::String(k) => k.replace('_', "-"),
		other => {
			p.problem(
				path,
				format!("expected a step name, found {}", show(&other)),
			);
			return None;
		}
	};
	let at = format!("{path}.{key}");
	match key.as_str() {
		"wait-blocks" => {
			let raw: RawWait = match body {
				Value::Number(_) => RawWait {
					blocks: p.take(&at, body, &[])?,
					timeout: None,
				},
				other => p.take(&at, other, WAIT_KEYS)?,
			};
			if raw.blocks == 0 {
				p.problem(&at, "must wait at least 1 block");
				return None;
			}
			let timeout = match raw.timeout {
				None => {
					Duration::from_secs(raw.blocks.saturating_mul(DEFAULT_SECONDS_PER_BLOCK) + 30)
				}
				Some(t) => match humantime::parse_duration(&t) {
					Ok(d) => d,
					Err(e) => {
						p.problem(
							format!("{at}.timeout"),
							format!("`{t}` is not a duration: {e} (hint: `90s`, `5m`)"),
						);
						return None;
					}
				},
			};
			Some(Step::WaitBlocks {
				blocks: raw.blocks,
				timeout,
			})
		}
		"upgrade" => {
			let raw: RawUpgrade = p.take(&at, body, UPGRADE_KEYS)?;
			let wasm = existing_file(p, &format!("{at}.wasm"), &raw.wasm, "runtime")?;
			Some(Step::Upgrade {
				wasm,
				via: raw.via.unwrap_or(UpgradeVia::Sudo),
				diff_after: raw.diff_after.unwrap_or(DEFAULT_DIFF_AFTER).max(1),
			})
		}
		"fault" => {
			let raw: RawFault = p.take(&at, body, FAULT_KEYS)?;
			Some(Step::Fault {
				node: raw.node,
				action: raw.action,
			})
		}
		"assert-storage" => {
			let raw: RawAssert = p.take(&at, body, ASSERT_KEYS)?;
			assert_storage(p, &at, raw)
		}
		"replay" => replay(p, &at, body),
		"stress" => stress(p, &at, body),
		other => {
			p.problem(
				path,
				format!(
					"unknown step `{other}` (hint: the steps are {})",
					STEP_KEYS
						.iter()
						.map(|k| format!("`{k}`"))
						.collect::<Vec<_>>()
						.join(", ")
				),
			);
			None
		}
	}
}

fn replay(p: &mut Parser, at: &str, body: Value) -> Option<Step> {
	let raw: RawReplay = match body {
		// `replay: window.db`: the whole capture, as captured.
		Value::String(capture) => RawReplay {
			capture: Some(capture),
			rate: None,
			from: None,
			to: None,
		},
		other => p.take(at, other, REPLAY_KEYS)?,
	};
	let rate = match raw.rate {
		None => Some(ReplayRate::AsCaptured),
		Some(Value::String(text)) => match ReplayRate::parse(&text) {
			Ok(rate) => Some(rate),
			Err(e) => {
				p.problem(
					format!("{at}.rate"),
					format!("{e} (hint: `as-captured`, `max`, `2x`, `0.5x`)"),
				);
				None
			}
		},
		Some(Value::Number(n)) => {
			p.problem(
				format!("{at}.rate"),
				format!("`{n}` has no unit (hint: write `{n}x` for a factor of the captured pace)"),
			);
			None
		}
		Some(other) => {
			p.problem(
				format!("{at}.rate"),
				format!(
					"expected `as-captured`, `max` or a factor like `2x`, found {}",
					show(&other)
				),
			);
			None
		}
	};
	let ordered = match (raw.from, raw.to) {
		(Some(from), Some(to)) if from > to => {
			p.problem(
				at,
				format!(
					"`from` {from} is after `to` {to} (hint: both are captured block numbers, \
					 `from` the first)"
				),
			);
			false
		}
		_ => true,
	};
	let capture = match raw.capture {
		None => {
			p.problem(
				format!("{at}.capture"),
				"missing (hint: the database `stagenet capture --out` wrote)",
			);
			None
		}
		Some(c) => existing_file(p, &format!("{at}.capture"), &c, "capture"),
	};
	if !ordered {
		return None;
	}
	Some(Step::Replay {
		capture: capture?,
		rate: rate?,
		from: raw.from,
		to: raw.to,
	})
}

fn stress(p: &mut Parser, at: &str, body: Value) -> Option<Step> {
	let raw: RawStress = match body {
		// `stress: flood.yaml`: as the profile says.
		Value::String(profile) => RawStress {
			profile: Some(profile),
			duration: None,
			rate: None,
		},
		other => p.take(at, other, STRESS_KEYS)?,
	};
	let duration = match raw.duration {
		None => Some(None),
		Some(Value::String(t)) => match humantime::parse_duration(t.trim()) {
			Ok(d) if d.is_zero() => {
				p.problem(
					format!("{at}.duration"),
					"must be longer than 0s (hint: leave it out to keep the profile's)",
				);
				None
			}
			Ok(d) => Some(Some(d)),
			Err(e) => {
				p.problem(
					format!("{at}.duration"),
					format!("`{t}` is not a duration: {e} (hint: `30s`, `5m`)"),
				);
				None
			}
		},
		Some(other) => {
			p.problem(
				format!("{at}.duration"),
				format!(
					"expected a duration such as `30s`, found {} (hint: a number needs a unit, \
					 like `30s`)",
					show(&other)
				),
			);
			None
		}
	};
	let rate = match raw.rate {
		None => Some(None),
		Some(value) => match value.as_f64() {
			Some(r) if r.is_finite() && r > 0.0 => Some(Some(r)),
			_ => {
				p.problem(
					format!("{at}.rate"),
					format!(
						"expected a rate in transactions per second above 0, like `2000`, \
						 found {} (hint: ramps and steps are written in the profile)",
						show(&value)
					),
				);
				None
			}
		},
	};
	let profile = match raw.profile {
		None => {
			p.problem(
				format!("{at}.profile"),
				"missing (hint: a load profile such as \
				 `fork-tests/loads/test-chain/transfer-flood.yaml`)",
			);
			None
		}
		Some(f) => existing_file(p, &format!("{at}.profile"), &f, "load profile"),
	};
	Some(Step::Stress {
		profile: profile?,
		duration: duration?,
		rate: rate?,
	})
}

fn item_name(p: &mut Parser, path: &str, written: &str) -> Option<String> {
	match written.split_once('.') {
		Some((pallet, item)) if !pallet.is_empty() && !item.is_empty() && !item.contains('.') => {
			Some(written.to_string())
		}
		_ => {
			p.problem(
				path,
				format!("`{written}` is not a storage item (hint: write `Pallet.Item`, like `Subnets.TotalStake`)"),
			);
			None
		}
	}
}

fn operand(p: &mut Parser, path: &str, value: Option<Value>) -> Option<Operand> {
	match value {
		None => {
			p.problem(
				path,
				"missing (hint: `equals: Pallet.Item` or `equals: 1000`)",
			);
			None
		}
		Some(Value::Number(n)) => match n.as_u64() {
			Some(n) => Some(Operand::Number(u128::from(n))),
			None => {
				p.problem(path, format!("`{n}` is not a whole number ≥ 0"));
				None
			}
		},
		Some(Value::String(s)) => {
			let mut terms = Vec::new();
			for term in s.split('+').map(str::trim) {
				terms.push(operand_term(p, path, term)?);
			}
			if terms.len() == 1 {
				terms.pop()
			} else {
				Some(Operand::Add(terms))
			}
		}
		Some(other) => {
			p.problem(
				path,
				format!(
					"expected a number or `Pallet.Item`, found {} (hint: also `sum(Pallet.Item)`, \
					 `count(Pallet.Item)` and sums of these with `+`)",
					show(&other)
				),
			);
			None
		}
	}
}

/// One term of an operand: a number, `Pallet.Item`, `sum(Pallet.Item)` or `count(Pallet.Item)`.
fn operand_term(p: &mut Parser, path: &str, term: &str) -> Option<Operand> {
	if let Ok(n) = term.replace('_', "").parse::<u128>() {
		return Some(Operand::Number(n));
	}
	for (func, make) in [
		("sum(", Operand::Sum as fn(String) -> Operand),
		("count(", Operand::Count),
	] {
		if let Some(inner) = term.strip_prefix(func) {
			let Some(item) = inner.strip_suffix(')') else {
				p.problem(
					path,
					format!("`{term}` lacks its closing `)` (hint: `{func}Pallet.Item)`)"),
				);
				return None;
			};
			return item_name(p, path, item.trim()).map(make);
		}
	}
	item_name(p, path, term).map(Operand::Item)
}

fn assert_storage(p: &mut Parser, at: &str, raw: RawAssert) -> Option<Step> {
	let name = raw.name;
	let given = [raw.sum.is_some(), raw.value.is_some(), raw.count.is_some()]
		.iter()
		.filter(|b| **b)
		.count();
	if given != 1 {
		p.problem(
			at,
			format!(
				"`{name}`: give exactly one of `sum`, `value`, `count` (found {given}) (hint: \
				 `sum: Subnets.Stake` with `equals: Subnets.TotalStake`)"
			),
		);
		return None;
	}
	let check = if let Some(item) = raw.sum {
		Check::Sum {
			item: item_name(p, &format!("{at}.sum"), &item)?,
			equals: operand(p, &format!("{at}.equals"), raw.equals)?,
		}
	} else if let Some(item) = raw.value {
		Check::Value {
			item: item_name(p, &format!("{at}.value"), &item)?,
			equals: operand(p, &format!("{at}.equals"), raw.equals)?,
		}
	} else {
		let item = raw.count.unwrap_or_default();
		let Some(at_least) = raw.at_least else {
			p.problem(
				format!("{at}.at-least"),
				"missing (hint: `count: Pallet.Map` goes with `at-least: N`)",
			);
			return None;
		};
		Check::Count {
			item: item_name(p, &format!("{at}.count"), &item)?,
			at_least,
		}
	};
	Some(Step::AssertStorage { name, check })
}

fn percent(p: &mut Parser, path: &str, value: Value) -> Option<f64> {
	let number = match &value {
		Value::Number(n) => n.as_f64(),
		Value::String(s) => s.trim().trim_end_matches('%').trim().parse::<f64>().ok(),
		_ => None,
	};
	match number {
		Some(n) if n.is_finite() && n >= 0.0 => Some(n),
		_ => {
			p.problem(
				path,
				format!(
					"expected a percentage such as `50%`, found {}",
					show(&value)
				),
			);
			None
		}
	}
}

/// `replay-divergences`: a number (the maximum), or `{ max, allow: [Pallet.call] }`.
fn divergences(p: &mut Parser, path: &str, value: Value) -> Option<(u64, Vec<String>)> {
	let raw: RawDivergences = match value {
		Value::Number(_) => RawDivergences {
			max: Some(p.take(path, value, &[])?),
			allow: Vec::new(),
		},
		other => p.take(path, other, DIVERGENCE_KEYS)?,
	};
	let mut ok = true;
	for (i, call) in raw.allow.iter().enumerate() {
		let valid = match call.split_once('.') {
			Some((pallet, name)) => {
				let identifier = |s: &str| {
					!s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
				};
				identifier(pallet) && identifier(name)
			}
			None => false,
		};
		if !valid {
			ok = false;
			p.problem(
				format!("{path}.allow[{i}]"),
				format!(
					"`{call}` is not a call (hint: write `Pallet.call`, like \
					 `Subnets.set_weights`)"
				),
			);
		}
	}
	let Some(max) = raw.max else {
		p.problem(
			format!("{path}.max"),
			"missing (hint: `max: 0` allows no divergence besides the `allow`ed calls)",
		);
		return None;
	};
	ok.then_some((max, raw.allow))
}

fn gates(p: &mut Parser, value: Value) -> Option<Gates> {
	let Value::Mapping(map) = value else {
		p.problem(
			"gates",
			format!(
				"expected a mapping of gates, found {} (hint: `gates: {{ no-panic: true }}`)",
				show(&value)
			),
		);
		return None;
	};
	let mut gates = Gates::default();
	let mut ok = true;
	for (key, value) in map {
		let Value::String(key) = key else {
			p.problem("gates", "gate names are text");
			ok = false;
			continue;
		};
		let name = key.replace('_', "-");
		let path = format!("gates.{key}");
		let before = p.problems.len();
		match name.as_str() {
			"no-panic" => gates.no_panic = p.take(&path, value, &[]).unwrap_or(true),
			"migration-weight" => gates.migration_weight_percent = percent(p, &path, value),
			"normal-weight" => gates.normal_weight_percent = percent(p, &path, value),
			"block-time-p95" => {
				let text: Option<String> = match value {
					Value::String(s) => Some(s),
					other => {
						p.problem(
							&path,
							format!(
								"expected a duration such as `1500ms`, found {}",
								show(&other)
							),
						);
						None
					}
				};
				if let Some(t) = text {
					match humantime::parse_duration(&t) {
						Ok(d) => gates.block_time_p95 = Some(d),
						Err(e) => p.problem(
							&path,
							format!("`{t}` is not a duration: {e} (hint: `1500ms`, `2s`)"),
						),
					}
				}
			}
			"finality-lag" => gates.finality_lag = p.take(&path, value, &[]),
			"keeps-producing" => gates.keeps_producing = p.take(&path, value, &[]),
			"replay-divergences" => {
				if let Some((max, allow)) = divergences(p, &path, value) {
					gates.replay_max_divergences = Some(max);
					gates.replay_allowed_calls = allow;
				}
			}
			"stress-included-tps" => match value.as_f64() {
				Some(tps) if tps.is_finite() && tps > 0.0 => {
					gates.stress_min_included_tps = Some(tps)
				}
				_ => p.problem(
					&path,
					format!(
						"expected a rate in transactions per second above 0, like `100`, found \
						 {} (hint: the least every `stress` step must include)",
						show(&value)
					),
				),
			},
			other => {
				let hint = GATE_KEYS
					.iter()
					.map(|k| format!("`{k}`"))
					.collect::<Vec<_>>()
					.join(", ");
				p.problem(
					&path,
					format!("unknown gate `{other}` (hint: the gates are {hint}; each `assert-storage` step is a gate too)"),
				);
			}
		}
		ok &= p.problems.len() == before;
	}
	ok.then_some(gates)
}

#[cfg(test)]
mod tests;

//! The data model of a rehearsal. Pure data: serde only, no I/O.
//!
//! Times are Unix milliseconds (`i64`); weights are `ref_time` picoseconds (`u64`); block
//! numbers are `u64`. Every record belongs to one run (`run_id`).

use serde::{Deserialize, Serialize};

/// Version of [`RunReport`]'s JSON form. Raised on any incompatible change.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// One rehearsal (or one `up` watched by the monitor).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
	/// The run id (also the run directory's name).
	pub id: String,
	/// The scenario's name, if a scenario drove the run.
	pub scenario: Option<String>,
	/// The scenario file as given.
	pub scenario_file: Option<String>,
	/// Provider name (`local`, `docker`).
	pub provider: String,
	/// Chain name (`system_chain`) of the fork.
	pub chain: String,
	/// Genesis hash of the fork (`0x…`).
	pub genesis_hash: String,
	/// stagenet's version.
	pub tool_version: String,
	/// When the run started.
	pub started_at: i64,
	/// When the run finished (`None` while it runs).
	pub finished_at: Option<i64>,
	/// The verdict, once known.
	pub verdict: Option<Verdict>,
	/// Why the run could not be carried out (infrastructure or input failure), if so.
	pub error: Option<String>,
}

/// The outcome of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Verdict {
	/// Every gate passed (exit 0).
	Pass,
	/// At least one gate failed (exit 1).
	Fail,
	/// The input was bad (exit 2).
	BadInput,
	/// The infrastructure failed (exit 3).
	Infrastructure,
}

impl Verdict {
	/// The documented exit code of this verdict.
	pub fn exit_code(self) -> u8 {
		match self {
			Verdict::Pass => 0,
			Verdict::Fail => 1,
			Verdict::BadInput => 2,
			Verdict::Infrastructure => 3,
		}
	}

	/// Lowercase name (`pass`, `fail`, `bad-input`, `infrastructure`).
	pub fn as_str(self) -> &'static str {
		match self {
			Verdict::Pass => "pass",
			Verdict::Fail => "fail",
			Verdict::BadInput => "bad-input",
			Verdict::Infrastructure => "infrastructure",
		}
	}

	/// Parses [`Verdict::as_str`]'s names.
	pub fn parse(s: &str) -> Option<Self> {
		Some(match s {
			"pass" => Verdict::Pass,
			"fail" => Verdict::Fail,
			"bad-input" => Verdict::BadInput,
			"infrastructure" => Verdict::Infrastructure,
			_ => return None,
		})
	}
}

/// A node of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
	/// Node name (`alice`, `rpc-1`).
	pub name: String,
	/// `validator`, `full` or `rpc`.
	pub role: String,
	/// RPC URL as reachable from stagenet.
	pub rpc_url: String,
	/// Prometheus URL as reachable from stagenet, if any.
	pub prometheus_url: Option<String>,
	/// Path of its log file.
	pub log_file: String,
}

/// Heights of one node when the monitor recorded a block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeHeight {
	/// Node name.
	pub node: String,
	/// Best block number (`None` when the node did not answer).
	pub best: Option<u64>,
	/// Finalized block number (`None` when the node did not answer).
	pub finalized: Option<u64>,
}

/// `ref_time` per dispatch class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerClass {
	/// Normal class.
	pub normal: u64,
	/// Operational class.
	pub operational: u64,
	/// Mandatory class (inherents, `on_initialize`, migrations).
	pub mandatory: u64,
}

/// The limits a block is measured against, read from the runtime's metadata constants
/// (`System::BlockWeights`, `System::BlockLength`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockLimits {
	/// `BlockWeights.max_block.ref_time`.
	pub max_block: u64,
	/// `max_total.ref_time` per class (`u64::MAX` when the class has no limit).
	pub max_total: PerClass,
	/// `BlockLength.max` per class, bytes.
	pub max_length: PerClass,
}

/// One block of the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockRecord {
	/// Block number.
	pub number: u64,
	/// Block hash (`0x…`).
	pub hash: String,
	/// Parent hash (`0x…`).
	pub parent_hash: String,
	/// The validator (node name, or `authority #i` when unknown) that authored it.
	pub author: Option<String>,
	/// Spec version of the runtime that executed it.
	pub spec_version: u32,
	/// `Timestamp::Now` set in the block (ms).
	pub timestamp: Option<i64>,
	/// When the monitor first saw the block (ms).
	pub seen_at: i64,
	/// `System::BlockWeight` per class (`ref_time`).
	pub weight: PerClass,
	/// The limits of the runtime that executed the block.
	pub limits: BlockLimits,
	/// Encoded length of its extrinsics (bytes).
	pub length: u64,
	/// Extrinsic count.
	pub extrinsics: u32,
	/// Extrinsics whose dispatch failed.
	pub failed_extrinsics: u32,
	/// Event count.
	pub events: u32,
	/// Time to author the block on its author (ms, from the node's Prometheus metrics).
	pub authoring_ms: Option<f64>,
	/// Mean time to verify and import it on the other nodes (ms, Prometheus).
	pub import_ms: Option<f64>,
	/// Best and finalized heights of every node when the block was recorded.
	pub heights: Vec<NodeHeight>,
}

impl BlockRecord {
	/// Weight of `class` as a percentage of the maximum block weight.
	pub fn percent_of_block(&self, ref_time: u64) -> f64 {
		if self.limits.max_block == 0 {
			return 0.0;
		}
		ref_time as f64 * 100.0 / self.limits.max_block as f64
	}

	/// The finality lag at this block: its number minus the lowest finalized height any
	/// answering node reported.
	pub fn finality_lag(&self) -> Option<u64> {
		self.heights
			.iter()
			.filter_map(|h| h.finalized)
			.min()
			.map(|f| self.number.saturating_sub(f))
	}
}

/// One extrinsic's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtrinsicRecord {
	/// Block number.
	pub block: u64,
	/// Index in the block.
	pub index: u32,
	/// `Pallet.call`, when it decoded.
	pub call: Option<String>,
	/// Signer (SS58), if signed.
	pub signer: Option<String>,
	/// `Some(true)` success, `Some(false)` failed, `None` unknown.
	pub success: Option<bool>,
	/// Decoded dispatch error.
	pub error: Option<String>,
	/// Actual weight (`ref_time`) from its outcome event.
	pub weight: Option<u64>,
	/// Dispatch class (`Normal`, `Operational`, `Mandatory`).
	pub class: Option<String>,
}

/// One decoded event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
	/// Block number.
	pub block: u64,
	/// Index in the block's `System::Events`.
	pub index: u32,
	/// `initialization`, `finalization` or `extrinsic`.
	pub phase: String,
	/// Extrinsic index when `phase` is `extrinsic`.
	pub extrinsic: Option<u32>,
	/// Pallet name.
	pub pallet: String,
	/// Event variant.
	pub variant: String,
	/// Fields as JSON.
	pub fields: serde_json::Value,
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum FindingKind {
	/// A panic in the runtime or the node (`panicked at`, `Runtime panicked`).
	Panic,
	/// A wasm trap (`wasm trap`, `unreachable`, out of bounds).
	WasmTrap,
	/// An inherent that failed to be created or checked.
	FailedInherent,
	/// An Aura slot error (block not produced in its slot, slot mismatch).
	AuraSlot,
	/// A block that failed to import.
	ImportFailure,
	/// No new best block for two slots.
	ProductionStall,
	/// Finality lag beyond the gate.
	FinalityStall,
	/// A node process exited.
	NodeCrash,
	/// A node was restarted.
	NodeRestart,
}

impl FindingKind {
	/// Every kind, in a fixed order.
	pub const ALL: [FindingKind; 9] = [
		FindingKind::Panic,
		FindingKind::WasmTrap,
		FindingKind::FailedInherent,
		FindingKind::AuraSlot,
		FindingKind::ImportFailure,
		FindingKind::ProductionStall,
		FindingKind::FinalityStall,
		FindingKind::NodeCrash,
		FindingKind::NodeRestart,
	];

	/// Kebab-case name, as in JSON.
	pub fn as_str(self) -> &'static str {
		match self {
			FindingKind::Panic => "panic",
			FindingKind::WasmTrap => "wasm-trap",
			FindingKind::FailedInherent => "failed-inherent",
			FindingKind::AuraSlot => "aura-slot",
			FindingKind::ImportFailure => "import-failure",
			FindingKind::ProductionStall => "production-stall",
			FindingKind::FinalityStall => "finality-stall",
			FindingKind::NodeCrash => "node-crash",
			FindingKind::NodeRestart => "node-restart",
		}
	}

	/// Parses [`FindingKind::as_str`]'s names.
	pub fn parse(s: &str) -> Option<Self> {
		Self::ALL.into_iter().find(|k| k.as_str() == s)
	}

	/// Whether this kind counts for the `no-panic` gate.
	pub fn is_panic(self) -> bool {
		matches!(self, FindingKind::Panic | FindingKind::WasmTrap)
	}
}

/// Something wrong the monitor saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
	/// Order of recording within the run (0, 1, …).
	pub seq: u32,
	/// What it is.
	pub kind: FindingKind,
	/// The node it was seen on (`None` for network-wide findings such as a stall).
	pub node: Option<String>,
	/// The block it concerns, when known.
	pub block: Option<u64>,
	/// When it was seen (ms).
	pub at: i64,
	/// One line: the panic message, the stall's duration, ….
	pub message: String,
	/// The log lines around it (or the last states seen, for stalls).
	pub context: Vec<String>,
}

/// Keys and bytes of one pallet that an upgrade added, changed or removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PalletDiff {
	/// Pallet name (or a `0x…` prefix for keys no pallet declares, or `(well-known keys)`).
	pub pallet: String,
	/// Keys added.
	pub added_keys: u64,
	/// Bytes (key + value) added.
	pub added_bytes: u64,
	/// Keys whose value changed.
	pub changed_keys: u64,
	/// Bytes of the new values of changed keys.
	pub changed_bytes: u64,
	/// Keys removed.
	pub removed_keys: u64,
	/// Bytes (key + value) removed.
	pub removed_bytes: u64,
	/// Changed or added storage items by name (`Weights: 32 changed`), at most a few.
	pub items: Vec<String>,
}

/// A runtime upgrade and what it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpgradeRecord {
	/// Order within the run (0, 1, …).
	pub seq: u32,
	/// `sudo` or `authorize`.
	pub via: String,
	/// The wasm file as given.
	pub wasm: String,
	/// blake2-256 of the code (`0x…`).
	pub code_hash: String,
	/// Spec name and version before (`test-runtime 100`).
	pub old_version: String,
	/// Spec name and version after.
	pub new_version: Option<String>,
	/// Block that included `set_code` (or `apply_authorized_upgrade`).
	pub included_in: u64,
	/// Whether `System::CodeUpdated` was emitted there.
	pub code_updated: bool,
	/// `System::LastRuntimeUpgrade` after the upgrade (`test-runtime 101`).
	pub last_runtime_upgrade: Option<String>,
	/// First block executed by the new runtime (its migrations run there).
	pub first_block: Option<u64>,
	/// Mandatory-class weight of the first block.
	pub first_block_mandatory: Option<u64>,
	/// Mandatory-class weight of the block before it (old runtime, no migration).
	pub baseline_mandatory: Option<u64>,
	/// Weight attributed to the migrations: first block's mandatory minus the baseline.
	pub migration_weight: Option<u64>,
	/// `BlockWeights.max_block` of the new runtime.
	pub max_block: Option<u64>,
	/// Migration weight as a percentage of `max_block`.
	pub migration_percent: Option<f64>,
	/// Events of the first block (`Pallet.Variant`), in order.
	pub first_block_events: Vec<String>,
	/// Storage diff from this block (the one before `included_in`) …
	pub diff_from: Option<u64>,
	/// … to this block.
	pub diff_to: Option<u64>,
	/// Per pallet, sorted by name.
	pub diff: Vec<PalletDiff>,
	/// Why the upgrade (or part of its report) failed, if it did.
	pub error: Option<String>,
}

/// A scenario step as carried out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
	/// Position in the scenario (0, 1, …).
	pub index: u32,
	/// `wait-blocks`, `upgrade`, `fault`, `assert-storage`.
	pub kind: String,
	/// What the step was (`upgrade to runtimes/upgrade-ok.wasm via sudo`).
	pub description: String,
	/// When it started (ms).
	pub started_at: i64,
	/// When it ended (ms).
	pub finished_at: i64,
	/// Best block when it ended.
	pub block: Option<u64>,
	/// Whether it did what it should.
	pub ok: bool,
	/// What it saw (`TotalStake 4200 = sum(Stake) 4200`) or why it failed.
	pub outcome: String,
}

/// One gate with its measured value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
	/// Short name (`no-panic`, `migration-weight`, `normal-weight`, `block-time-p95`,
	/// `finality-lag`, `keeps-producing`, `invariant:<name>`).
	pub name: String,
	/// What it checks, with the threshold (`migration weight ≤ 50 % of the block`).
	pub description: String,
	/// The threshold as text (`≤ 50 %`).
	pub threshold: String,
	/// The measured value as text (`312.4 %`), or `not measured`.
	pub measured: String,
	/// Whether it passed.
	pub passed: bool,
	/// Where it failed or what backs the value (`block #42`, finding ids, …).
	pub detail: Option<String>,
}

/// Everything a report shows, as read back from the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
	/// [`REPORT_SCHEMA_VERSION`].
	pub schema_version: u32,
	/// The run.
	pub run: RunRecord,
	/// Its nodes.
	pub nodes: Vec<NodeRecord>,
	/// The ledger, by block number.
	pub blocks: Vec<BlockRecord>,
	/// Extrinsics whose dispatch failed (all of them), by block and index.
	pub failed_extrinsics: Vec<ExtrinsicRecord>,
	/// Findings, in order of recording.
	pub findings: Vec<Finding>,
	/// Upgrades, in order.
	pub upgrades: Vec<UpgradeRecord>,
	/// Scenario steps, in order.
	pub steps: Vec<StepRecord>,
	/// Gates, in the scenario's order.
	pub gates: Vec<GateResult>,
}

impl RunReport {
	/// The verdict: the stored one, else from the gates (fail if any failed).
	pub fn verdict(&self) -> Verdict {
		if let Some(v) = self.run.verdict {
			return v;
		}
		if self.gates.iter().all(|g| g.passed) {
			Verdict::Pass
		} else {
			Verdict::Fail
		}
	}

	/// Time between consecutive blocks (ms), from `Timestamp::Now`, as (block, ms) pairs.
	pub fn block_times(&self) -> Vec<(u64, i64)> {
		self.blocks
			.windows(2)
			.filter(|w| w[1].number == w[0].number + 1)
			.filter_map(|w| Some((w[1].number, w[1].timestamp? - w[0].timestamp?)))
			.collect()
	}
}

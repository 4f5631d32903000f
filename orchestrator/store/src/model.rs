//! The data model of a rehearsal. Pure data: serde only, no I/O.
//!
//! Times are Unix milliseconds (`i64`); weights are `ref_time` picoseconds (`u64`); block
//! numbers are `u64`. Every record belongs to one run (`run_id`).

use serde::{Deserialize, Serialize};
use stagenet_config::exit::{Exit, ExitStatus};

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
	/// The run was stopped by a signal (Ctrl-C, SIGTERM) before its verdict (exit 3): what
	/// was measured until then is kept, but nothing was judged.
	Interrupted,
}

impl Verdict {
	/// The documented exit code of this verdict ([`Verdict::exit`]'s code).
	pub fn exit_code(self) -> u8 {
		self.exit().code()
	}

	/// Lowercase name (`pass`, `fail`, `bad-input`, `infrastructure`, `interrupted`).
	pub fn as_str(self) -> &'static str {
		match self {
			Verdict::Pass => "pass",
			Verdict::Fail => "fail",
			Verdict::BadInput => "bad-input",
			Verdict::Infrastructure => "infrastructure",
			Verdict::Interrupted => "interrupted",
		}
	}

	/// Parses [`Verdict::as_str`]'s names.
	pub fn parse(s: &str) -> Option<Self> {
		Some(match s {
			"pass" => Verdict::Pass,
			"fail" => Verdict::Fail,
			"bad-input" => Verdict::BadInput,
			"infrastructure" => Verdict::Infrastructure,
			"interrupted" => Verdict::Interrupted,
			_ => return None,
		})
	}
}

/// An interrupted run ends as infrastructure: nothing was judged.
impl ExitStatus for Verdict {
	fn exit(&self) -> Exit {
		match self {
			Verdict::Pass => Exit::Pass,
			Verdict::Fail => Exit::Failed,
			Verdict::BadInput => Exit::BadInput,
			Verdict::Infrastructure | Verdict::Interrupted => Exit::Infrastructure,
		}
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

/// Why a replayed extrinsic's outcome on the fork differs from the captured one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DivergenceKind {
	/// Same call, same arguments, another outcome (success ↔ failure, or another error).
	LogicChange,
	/// The fork's metadata has no such pallet or call.
	MissingCall,
	/// The captured call does not decode (with the capture's metadata), or its arguments no
	/// longer fit the fork's types.
	DecodeFailure,
	/// The fork refused it with a rate-limit error where the capture did not (or the reverse):
	/// block timing differs on a fork.
	RateLimit,
	/// Anything else (the sudo wrapper refused, not included in time, pool rejection).
	Other,
}

impl DivergenceKind {
	/// `logic-change`, `missing-call`, `decode-failure`, `rate-limit`, `other`.
	pub fn as_str(self) -> &'static str {
		match self {
			DivergenceKind::LogicChange => "logic-change",
			DivergenceKind::MissingCall => "missing-call",
			DivergenceKind::DecodeFailure => "decode-failure",
			DivergenceKind::RateLimit => "rate-limit",
			DivergenceKind::Other => "other",
		}
	}
}

/// One replayed extrinsic whose fork outcome differs from the captured one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Divergence {
	/// Its class.
	pub kind: DivergenceKind,
	/// `Pallet.call` (as captured; `?` when it did not decode).
	pub call: String,
	/// Captured signer (SS58), if signed.
	pub signer: Option<String>,
	/// Captured block number.
	pub captured_block: u64,
	/// Index of the extrinsic in the captured block.
	pub captured_index: u32,
	/// The captured outcome: `success` or the error (`Subnets::NotOwner`).
	pub captured: String,
	/// The fork's outcome: `success`, the error, or what prevented the dispatch.
	pub fork: String,
	/// Fork block the replay landed in, if it did.
	pub fork_block: Option<u64>,
	/// One line explaining the difference.
	pub detail: String,
	/// One-line command that replays just this extrinsic.
	pub reproduce: String,
}

/// Replayed extrinsics per call, with how many diverged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallTally {
	/// `Pallet.call`.
	pub call: String,
	/// Replayed (dispatched through `sudo_as`).
	pub replayed: u64,
	/// Of those, with the captured outcome.
	pub matched: u64,
	/// Of those, diverged.
	pub diverged: u64,
}

/// A replay of captured extrinsics on the fork (`stagenet replay`, or a scenario's `replay`
/// step).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayRecord {
	/// Order within the run (0, 1, …).
	pub seq: u32,
	/// The capture database as given.
	pub capture: String,
	/// Chain name of the capture.
	pub capture_chain: String,
	/// First captured block replayed.
	pub from_block: u64,
	/// Last captured block replayed.
	pub to_block: u64,
	/// `as-captured`, `max` or `<x>x`.
	pub rate: String,
	/// When the replay started.
	pub started_at: i64,
	/// When it ended.
	pub finished_at: i64,
	/// Spec name and version of the fork's runtime (`stagenet-test 101`).
	pub fork_runtime: String,
	/// Captured blocks replayed.
	pub blocks: u64,
	/// First fork block that carried a replayed extrinsic.
	pub fork_from: Option<u64>,
	/// Last fork block that carried a replayed extrinsic.
	pub fork_to: Option<u64>,
	/// Signed extrinsics dispatched through `sudo_as`.
	pub replayed: u64,
	/// Of those, with the captured outcome.
	pub matched: u64,
	/// Unsigned extrinsics (not inherents) skipped.
	pub skipped_unsigned: u64,
	/// Inherents skipped (`Timestamp.set`, …).
	pub skipped_inherents: u64,
	/// Captured calls that do not decode or do not exist with the fork's metadata (each is
	/// also a divergence).
	pub undecodable: u64,
	/// Every divergence, in captured order.
	pub divergences: Vec<Divergence>,
	/// Per call, sorted by name.
	pub calls: Vec<CallTally>,
	/// How replay semantics differ from mainnet's (no fee, no nonce, …), to read divergences by.
	pub semantics: Vec<String>,
	/// Why the replay stopped early, if it did.
	pub error: Option<String>,
}

/// A count per reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonCount {
	/// The reason (`pool-full`, `Subnets::SettingWeightsTooFast`, …).
	pub reason: String,
	/// How many.
	pub count: u64,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
	/// Samples.
	pub count: u64,
	/// Median.
	pub p50: f64,
	/// 95th percentile.
	pub p95: f64,
	/// 99th percentile.
	pub p99: f64,
	/// Maximum.
	pub max: f64,
}

/// One block during a stress load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StressBlock {
	/// Block number.
	pub number: u64,
	/// `Timestamp::Now`, if read.
	pub timestamp: Option<i64>,
	/// Time since the previous block (ms), from the timestamps.
	pub block_time_ms: Option<i64>,
	/// Extrinsics in the block (all of them).
	pub extrinsics: u64,
	/// The load's own extrinsics in the block.
	pub ours: u64,
	/// Normal-class `ref_time`.
	pub normal_weight: u64,
	/// Normal-class `max_total.ref_time`.
	pub normal_limit: u64,
	/// Block length (bytes of the extrinsics).
	pub length: u64,
	/// Normal-class `max_length`.
	pub length_limit: u64,
	/// Best minus finalized block on the node watched, when the block was seen.
	pub finality_lag: Option<u64>,
	/// Transactions ready in the watched node's pool when the block was seen.
	pub pool_ready: Option<u64>,
}

/// Per call of the mix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StressCall {
	/// `Pallet.call`, or `rpc:<method>` for reads.
	pub call: String,
	/// Submitted (or requested).
	pub submitted: u64,
	/// Included in a block (or answered).
	pub included: u64,
	/// Included but failed (or read errors).
	pub failed: u64,
}

/// A stress load on the fork (`stagenet stress`, or a scenario's `stress` step).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StressRecord {
	/// Order within the run (0, 1, …).
	pub seq: u32,
	/// The profile's name.
	pub profile: String,
	/// The profile file as given.
	pub profile_file: String,
	/// When the load started (after signing and setup).
	pub started_at: i64,
	/// When measuring ended.
	pub finished_at: i64,
	/// The target: `2500 tx/s`, `ramp 100 → 3000 tx/s over 60s`.
	pub target: String,
	/// Load duration (ms).
	pub duration_ms: u64,
	/// Accounts signing.
	pub accounts: u64,
	/// RPC connections used.
	pub connections: u64,
	/// Transactions signed ahead of time.
	pub signed: u64,
	/// Time spent signing (ms).
	pub signing_ms: u64,
	/// Submitted to the pool.
	pub submitted: u64,
	/// Accepted by the pool.
	pub accepted: u64,
	/// Included in a block.
	pub included: u64,
	/// Included and failed at dispatch.
	pub failed: u64,
	/// Accepted but never included before the end (dropped from the pool, or still there).
	pub dropped: u64,
	/// Refused by the pool, per reason (`pool-full`, `priority-too-low`, `invalid`,
	/// `rate-limited`, `other`).
	pub rejected: Vec<ReasonCount>,
	/// Failed at dispatch, per error.
	pub failed_by: Vec<ReasonCount>,
	/// Achieved submission rate (tx/s).
	pub submit_rate: f64,
	/// Included transactions per second over the blocks of the load.
	pub included_tps: f64,
	/// Submission → first seen in a best block (ms).
	pub latency: Percentiles,
	/// RPC read latency (ms), when the mix has reads.
	pub read_latency: Option<Percentiles>,
	/// Theoretical maximum of the mix's main call per block, from the Normal-class limit and
	/// the call's weight (with the base extrinsic weight), if known.
	pub theoretical_per_block: Option<u64>,
	/// Which limit stopped growth: `weight`, `length`, `pool`, `rate-limit`, `generator`, or
	/// `none` (the target was met).
	pub limit: String,
	/// What backs that conclusion.
	pub limit_detail: String,
	/// Per call of the mix.
	pub calls: Vec<StressCall>,
	/// Blocks seen during the load, in order.
	pub blocks: Vec<StressBlock>,
	/// Why the load stopped early, if it did.
	pub error: Option<String>,
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
	/// Replays, in order.
	#[serde(default)]
	pub replays: Vec<ReplayRecord>,
	/// Stress loads, in order.
	#[serde(default)]
	pub stresses: Vec<StressRecord>,
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
		block_times(&self.blocks)
	}
}

/// Time between consecutive blocks of a ledger (ms), from `Timestamp::Now`, as (block, ms)
/// pairs: the one definition the block-time gate and every report use.
pub fn block_times(blocks: &[BlockRecord]) -> Vec<(u64, i64)> {
	blocks
		.windows(2)
		.filter(|w| w[1].number == w[0].number + 1)
		.filter_map(|w| Some((w[1].number, w[1].timestamp? - w[0].timestamp?)))
		.collect()
}

/// The nearest-rank `p`-th percentile (0 < p ≤ 100) of `values`, in any order: the smallest
/// value with at least p % of the values at or below it. `None` when there are none. The one
/// definition the gates, the stress loads and every report use.
pub fn percentile<T: Copy + PartialOrd>(values: &[T], p: f64) -> Option<T> {
	nearest_rank(&sorted(values), p)
}

/// `values` in increasing order (incomparable values, NaN, kept where they fall).
fn sorted<T: Copy + PartialOrd>(values: &[T]) -> Vec<T> {
	let mut sorted = values.to_vec();
	sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
	sorted
}

/// The nearest-rank `p`-th percentile of values already in increasing order.
fn nearest_rank<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
	let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
	sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
}

impl Percentiles {
	/// p50, p95, p99 and the maximum of `samples` ([`percentile`], sorted once); zeros when
	/// empty.
	pub fn of(samples: &[f64]) -> Percentiles {
		let sorted = sorted(samples);
		let at = |p| nearest_rank(&sorted, p).unwrap_or_default();
		Percentiles {
			count: samples.len() as u64,
			p50: at(50.0),
			p95: at(95.0),
			p99: at(99.0),
			max: at(100.0),
		}
	}
}

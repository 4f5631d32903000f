//! A realistic run record: 40 blocks, an upgrade whose first block is #20 with a 12 % migration,
//! a panic at #23 on two nodes followed by a production stall, one failed gate.

use stagenet_store::{
	BlockLimits, BlockRecord, CallTally, Divergence, DivergenceKind, ExtrinsicRecord, Finding,
	FindingKind, GateResult, NodeHeight, NodeRecord, PalletDiff, PerClass, Percentiles,
	ReasonCount, ReplayRecord, RunRecord, RunReport, StepRecord, StressBlock, StressCall,
	StressRecord, UpgradeRecord, Verdict, REPORT_SCHEMA_VERSION,
};

/// 2025-03-14 10:15:00 UTC.
pub const STARTED: i64 = 1_741_947_300_000;
/// `BlockWeights.max_block.ref_time`: 2 s.
pub const MAX_BLOCK: u64 = 2_000_000_000_000;

/// Milliseconds between block `n - 1` and block `n`.
fn block_time(n: u64) -> i64 {
	match n {
		24 => 24_000,
		7 | 17 | 27 | 37 => 12_400,
		_ => 12_000,
	}
}

fn timestamp(n: u64) -> i64 {
	STARTED + (1..=n).map(block_time).sum::<i64>()
}

fn hash(n: u64) -> String {
	format!("0x{:064x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

fn block(n: u64) -> BlockRecord {
	let lag = |node: &str| match (node, n) {
		("bob", 24 | 25) => 4,
		_ => 2,
	};
	let heights = ["alice", "bob", "rpc-1"]
		.into_iter()
		.map(|node| {
			if node == "rpc-1" && n == 30 {
				return NodeHeight {
					node: node.to_owned(),
					best: None,
					finalized: None,
				};
			}
			NodeHeight {
				node: node.to_owned(),
				best: Some(n),
				finalized: Some(n.saturating_sub(lag(node))),
			}
		})
		.collect();
	BlockRecord {
		number: n,
		hash: hash(n),
		parent_hash: hash(n - 1),
		author: Some(if n % 2 == 1 { "alice" } else { "bob" }.to_owned()),
		spec_version: if n < 20 { 100 } else { 101 },
		timestamp: Some(timestamp(n)),
		seen_at: timestamp(n) + 800,
		weight: PerClass {
			normal: (n % 7) * 9_000_000_000 + 2_000_000_000,
			operational: if n == 25 { 1_000_000_000 } else { 0 },
			mandatory: if n == 20 {
				245_000_000_000
			} else {
				5_000_000_000
			},
		},
		limits: BlockLimits {
			max_block: MAX_BLOCK,
			max_total: PerClass {
				normal: 1_500_000_000_000,
				operational: 1_750_000_000_000,
				mandatory: u64::MAX,
			},
			max_length: PerClass {
				normal: 3_932_160,
				operational: 5_242_880,
				mandatory: 5_242_880,
			},
		},
		length: 120 + n * 10,
		extrinsics: 2 + (n % 3) as u32,
		failed_extrinsics: u32::from(n == 22),
		events: 4 + (n % 5) as u32,
		authoring_ms: Some(if n == 20 {
			380.25
		} else {
			40.5 + (n % 5) as f64
		}),
		import_ms: Some(12.5),
		heights,
	}
}

fn node(name: &str, role: &str, port: u16) -> NodeRecord {
	NodeRecord {
		name: name.to_owned(),
		role: role.to_owned(),
		rpc_url: format!("ws://127.0.0.1:{port}"),
		prometheus_url: (role == "validator").then(|| format!("http://127.0.0.1:{}", port + 100)),
		log_file: format!("runs/20250314-101500-7f3a/{name}.log"),
	}
}

fn gate(
	name: &str,
	description: &str,
	threshold: &str,
	measured: &str,
	passed: bool,
	detail: Option<&str>,
) -> GateResult {
	GateResult {
		name: name.to_owned(),
		description: description.to_owned(),
		threshold: threshold.to_owned(),
		measured: measured.to_owned(),
		passed,
		detail: detail.map(str::to_owned),
	}
}

fn step(
	index: u32,
	kind: &str,
	description: &str,
	block: u64,
	outcome: &str,
	started: u64,
) -> StepRecord {
	StepRecord {
		index,
		kind: kind.to_owned(),
		description: description.to_owned(),
		started_at: timestamp(started),
		finished_at: timestamp(block) + 900,
		block: Some(block),
		ok: true,
		outcome: outcome.to_owned(),
	}
}

const PANIC: &str = "panicked at 'attempt to subtract with overflow', \
                     pallets/subtensor/src/staking/remove_stake.rs:88:5";

/// The fixture report.
pub fn report() -> RunReport {
	let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
	RunReport {
		schema_version: REPORT_SCHEMA_VERSION,
		run: RunRecord {
			id: "20250314-101500-7f3a".to_owned(),
			scenario: Some("upgrade-ok-with-panic".to_owned()),
			scenario_file: Some("scenarios/upgrade-ok-with-panic.yaml".to_owned()),
			provider: "local".to_owned(),
			chain: "stagenet-test".to_owned(),
			genesis_hash: "0x91b171bb158e2d3848fa23a9f1c25182fb8e20313b2c1eb49219da7a70ce90c3"
				.to_owned(),
			tool_version: "0.1.0".to_owned(),
			started_at: STARTED,
			finished_at: Some(STARTED + 500_000),
			verdict: Some(Verdict::Fail),
			error: None,
		},
		nodes: vec![
			node("alice", "validator", 9944),
			node("bob", "validator", 9945),
			node("rpc-1", "rpc", 9946),
		],
		blocks: (1..=40).map(block).collect(),
		failed_extrinsics: vec![ExtrinsicRecord {
			block: 22,
			index: 2,
			call: Some("SubtensorModule.add_stake".to_owned()),
			signer: Some("5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty".to_owned()),
			success: Some(false),
			error: Some("SubtensorModule.NotEnoughBalanceToStake".to_owned()),
			weight: Some(1_250_000_000),
			class: Some("Normal".to_owned()),
		}],
		findings: vec![
			Finding {
				seq: 0,
				kind: FindingKind::Panic,
				node: Some("alice".to_owned()),
				block: Some(23),
				at: timestamp(23) + 1_500,
				message: PANIC.to_owned(),
				context: strings(&[
					"2025-03-14 10:19:35.912  INFO tokio-runtime-worker substrate: 💤 Idle (2 peers), best: #22, finalized #20",
					"2025-03-14 10:19:36.004 \u{1b}[31mERROR\u{1b}[0m tokio-runtime-worker runtime: panicked at 'attempt to subtract with overflow', pallets/subtensor/src/staking/remove_stake.rs:88:5",
					"2025-03-14 10:19:36.005  WARN tokio-runtime-worker sc_basic_authorship: <wasm> proposal for #23 failed: Runtime panicked & aborted",
					"2025-03-14 10:19:36.006  INFO tokio-runtime-worker aura: 🔖 Pre-sealed block for proposal at 23",
				]),
			},
			Finding {
				seq: 1,
				kind: FindingKind::Panic,
				node: Some("bob".to_owned()),
				block: Some(23),
				at: timestamp(23) + 1_700,
				message: PANIC.to_owned(),
				context: strings(&[
					"2025-03-14 10:19:36.101 ERROR tokio-runtime-worker sc_service::client: Block import error: Runtime panicked",
					"2025-03-14 10:19:36.102 ERROR tokio-runtime-worker runtime: panicked at 'attempt to subtract with overflow', pallets/subtensor/src/staking/remove_stake.rs:88:5",
				]),
			},
			Finding {
				seq: 2,
				kind: FindingKind::ProductionStall,
				node: None,
				block: Some(24),
				at: timestamp(24) - 200,
				message: "no new best block for 24.0 s (two slots)".to_owned(),
				context: strings(&["alice best #23", "bob best #23", "rpc-1 best #23"]),
			},
		],
		upgrades: vec![UpgradeRecord {
			seq: 0,
			via: "sudo".to_owned(),
			wasm: "runtimes/upgrade-ok.compact.compressed.wasm".to_owned(),
			code_hash: "0x3c2a5b6f0e0b8f1b7b64d1c25d3ab0bb1e0f56d2b1ad4b4c1f4fd14a0c7e9d21"
				.to_owned(),
			old_version: "stagenet-test 100".to_owned(),
			new_version: Some("stagenet-test 101".to_owned()),
			included_in: 19,
			code_updated: true,
			last_runtime_upgrade: Some("stagenet-test 101".to_owned()),
			first_block: Some(20),
			first_block_mandatory: Some(245_000_000_000),
			baseline_mandatory: Some(5_000_000_000),
			migration_weight: Some(240_000_000_000),
			max_block: Some(MAX_BLOCK),
			migration_percent: Some(12.0),
			first_block_events: strings(&[
				"SubtensorModule.StakeMigrated",
				"System.ExtrinsicSuccess",
				"System.ExtrinsicSuccess",
			]),
			diff_from: Some(18),
			diff_to: Some(20),
			diff: vec![
				PalletDiff {
					pallet: "(well-known keys)".to_owned(),
					changed_keys: 1,
					changed_bytes: 1_258_291,
					items: strings(&[":code: 1 changed"]),
					..PalletDiff::default()
				},
				PalletDiff {
					pallet: "SubtensorModule".to_owned(),
					added_keys: 12,
					added_bytes: 1_536,
					changed_keys: 32,
					changed_bytes: 4_224,
					removed_keys: 3,
					removed_bytes: 198,
					items: strings(&[
						"Weights: 32 changed",
						"StakingHotkeys: 12 added",
						"TotalStake: 1 changed (4200 → 4312 | +112)",
					]),
				},
				PalletDiff {
					pallet: "System".to_owned(),
					changed_keys: 3,
					changed_bytes: 412,
					items: strings(&["Account: 2 changed", "LastRuntimeUpgrade: 1 changed"]),
					..PalletDiff::default()
				},
			],
			error: None,
		}],
		steps: vec![
			step(0, "wait-blocks", "wait until block #18", 18, "reached #18", 0),
			step(
				1,
				"upgrade",
				"upgrade to runtimes/upgrade-ok.compact.compressed.wasm via sudo",
				20,
				"stagenet-test 100 → 101, first block #20",
				18,
			),
			step(2, "wait-blocks", "wait 20 blocks", 40, "reached #40", 20),
			step(
				3,
				"assert-storage",
				"SubtensorModule::TotalStake == sum(Stake)",
				40,
				"TotalStake 4312 = sum(Stake) 4312",
				40,
			),
		],
		gates: vec![
			gate(
				"no-panic",
				"no panic or wasm trap on any node",
				"= 0",
				"2",
				false,
				Some("findings #0 (alice, #23), #1 (bob, #23)"),
			),
			gate(
				"migration-weight",
				"migration weight ≤ 50 % of the block",
				"≤ 50 %",
				"12.0 %",
				true,
				Some("block #20"),
			),
			gate(
				"normal-weight",
				"normal-class weight ≤ 75 % of the block in every block",
				"≤ 75 %",
				"2.8 %",
				true,
				Some("block #6"),
			),
			gate(
				"block-time-p95",
				"95th percentile of block time ≤ 18 s",
				"≤ 18 s",
				"12.4 s",
				true,
				None,
			),
			gate(
				"finality-lag",
				"finality lag ≤ 5 blocks",
				"≤ 5 blocks",
				"4 blocks",
				true,
				Some("block #24"),
			),
			gate(
				"keeps-producing",
				"blocks keep coming after the upgrade",
				"≥ 20 blocks",
				"21 blocks",
				true,
				Some("#20 – #40"),
			),
			gate(
				"invariant:total-stake",
				"TotalStake == sum(Stake) & no <orphan> stake",
				"equal",
				"4312 = 4312",
				true,
				None,
			),
		],
		replays: Vec::new(),
		stresses: Vec::new(),
	}
}

const ALICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

/// The fixture report with a replay of 30 captured mainnet blocks (two divergences of two
/// kinds) after the upgrade, and a stress load over blocks #30 – #34 that hit the weight limit.
pub fn report_with_replay_and_stress() -> RunReport {
	let mut r = report();
	r.replays.push(ReplayRecord {
		seq: 0,
		capture: "captures/finney-4520000.db".to_owned(),
		capture_chain: "Bittensor".to_owned(),
		from_block: 4_520_000,
		to_block: 4_520_029,
		rate: "as-captured".to_owned(),
		started_at: timestamp(21),
		finished_at: timestamp(29) + 500,
		fork_runtime: "stagenet-test 101".to_owned(),
		blocks: 30,
		fork_from: Some(21),
		fork_to: Some(29),
		replayed: 212,
		matched: 211,
		skipped_unsigned: 3,
		skipped_inherents: 30,
		undecodable: 1,
		divergences: vec![
			Divergence {
				kind: DivergenceKind::LogicChange,
				call: "SubtensorModule.remove_stake".to_owned(),
				signer: Some(ALICE.to_owned()),
				captured_block: 4_520_007,
				captured_index: 3,
				captured: "success".to_owned(),
				fork: "SubtensorModule::NotEnoughStakeToWithdraw".to_owned(),
				fork_block: Some(23),
				detail: "succeeded on mainnet, fails on the fork: stake | balance checks changed <in 101>"
					.to_owned(),
				reproduce: "stagenet replay --capture captures/finney-4520000.db --only 4520007-3 --fork ws://127.0.0.1:9944"
					.to_owned(),
			},
			Divergence {
				kind: DivergenceKind::MissingCall,
				call: "AdminUtils.sudo_set_tempo".to_owned(),
				signer: None,
				captured_block: 4_520_011,
				captured_index: 1,
				captured: "success".to_owned(),
				fork: "not dispatched".to_owned(),
				fork_block: None,
				detail: "the fork's metadata has no call `AdminUtils.sudo_set_tempo`".to_owned(),
				reproduce: String::new(),
			},
		],
		calls: vec![
			CallTally {
				call: "AdminUtils.sudo_set_tempo".to_owned(),
				replayed: 0,
				matched: 0,
				diverged: 1,
			},
			CallTally {
				call: "SubtensorModule.add_stake".to_owned(),
				replayed: 140,
				matched: 140,
				diverged: 0,
			},
			CallTally {
				call: "SubtensorModule.remove_stake".to_owned(),
				replayed: 72,
				matched: 71,
				diverged: 1,
			},
		],
		semantics: vec![
			"dispatched through `sudo_as`: no transaction fee is charged".to_owned(),
			"no nonce or mortality check".to_owned(),
		],
		error: None,
	});
	let stress_block = |n: u64, ours: u64| StressBlock {
		number: n,
		timestamp: Some(timestamp(n)),
		block_time_ms: Some(block_time(n)),
		extrinsics: ours + 2,
		ours,
		normal_weight: ours * 588_000_000 + 2_000_000_000,
		normal_limit: 1_500_000_000_000,
		length: ours * 140 + 120,
		length_limit: 3_932_160,
		finality_lag: Some(2),
		pool_ready: Some(4_000 - ours),
	};
	r.stresses.push(StressRecord {
		seq: 0,
		profile: "transfer-heavy".to_owned(),
		profile_file: "profiles/transfer-heavy.yaml".to_owned(),
		started_at: timestamp(29),
		finished_at: timestamp(34) + 800,
		target: "ramp 100 → 3000 tx/s over 60s".to_owned(),
		duration_ms: 60_000,
		accounts: 2_048,
		connections: 8,
		signed: 90_000,
		signing_ms: 4_250,
		submitted: 84_000,
		accepted: 80_500,
		included: 10_980,
		failed: 14,
		dropped: 69_520,
		rejected: vec![
			ReasonCount {
				reason: "pool-full".to_owned(),
				count: 3_400,
			},
			ReasonCount {
				reason: "priority-too-low".to_owned(),
				count: 100,
			},
		],
		failed_by: vec![ReasonCount {
			reason: "Balances::InsufficientBalance".to_owned(),
			count: 14,
		}],
		submit_rate: 1_400.0,
		included_tps: 183.0,
		latency: Percentiles {
			count: 10_980,
			p50: 9_120.0,
			p95: 23_800.5,
			p99: 35_900.0,
			max: 47_950.25,
		},
		read_latency: Some(Percentiles {
			count: 600,
			p50: 2.5,
			p95: 8.25,
			p99: 31.0,
			max: 140.75,
		}),
		theoretical_per_block: Some(2_540),
		limit: "weight".to_owned(),
		limit_detail: "normal-class weight ≥ 95 % of its limit in 4 of 5 blocks; the pool stayed \
		               full"
			.to_owned(),
		calls: vec![
			StressCall {
				call: "Balances.transfer_keep_alive".to_owned(),
				submitted: 83_400,
				included: 10_980,
				failed: 14,
			},
			StressCall {
				call: "rpc:state_getStorage".to_owned(),
				submitted: 600,
				included: 598,
				failed: 2,
			},
		],
		blocks: vec![
			stress_block(30, 1_250),
			stress_block(31, 2_430),
			stress_block(32, 2_450),
			stress_block(33, 2_440),
			stress_block(34, 2_410),
		],
		error: None,
	});
	r
}

/// A run that failed before any block: no blocks, gates, findings or upgrades.
pub fn empty_report() -> RunReport {
	let mut r = report();
	r.run.id = "20250314-110000-0b1c".to_owned();
	r.run.scenario = None;
	r.run.scenario_file = None;
	r.run.finished_at = Some(r.run.started_at + 31_000);
	r.run.verdict = Some(Verdict::Infrastructure);
	r.run.error = Some(
		"node `alice` did not answer on `ws://127.0.0.1:9944` within 30 s (hint: see \
		 runs/20250314-110000-0b1c/alice.log)"
			.to_owned(),
	);
	r.blocks.clear();
	r.failed_extrinsics.clear();
	r.findings.clear();
	r.upgrades.clear();
	r.steps.clear();
	r.gates.clear();
	r
}

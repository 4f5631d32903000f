//! Sample records: every field set, including `None`s, unicode and `u64::MAX`.

use serde_json::json;
use stagenet_store::{
	BlockLimits, BlockRecord, CallTally, Divergence, DivergenceKind, EventRecord, ExtrinsicRecord,
	Finding, FindingKind, GateResult, NodeHeight, NodeRecord, PalletDiff, PerClass, Percentiles,
	ReasonCount, ReplayRecord, RunRecord, StepRecord, StressBlock, StressCall, StressRecord,
	UpgradeRecord,
};

/// A run started at `started_at`, still running.
pub fn run(id: &str, started_at: i64) -> RunRecord {
	RunRecord {
		id: id.to_string(),
		scenario: Some("upgrade-ok".to_string()),
		scenario_file: Some("scenarios/upgrade ok ✓.yaml".to_string()),
		provider: "local".to_string(),
		chain: "Bittensor".to_string(),
		genesis_hash: "0x2f0555cc76fc2840a25a6ea3b9637146806f1f44b090c175ffde2a7e5ab36c03"
			.to_string(),
		tool_version: "0.1.0".to_string(),
		started_at,
		finished_at: None,
		verdict: None,
		error: None,
	}
}

/// Two nodes, one without Prometheus.
pub fn nodes() -> Vec<NodeRecord> {
	vec![
		NodeRecord {
			name: "alice".to_string(),
			role: "validator".to_string(),
			rpc_url: "ws://127.0.0.1:9944".to_string(),
			prometheus_url: Some("http://127.0.0.1:9615/metrics".to_string()),
			log_file: "/runs/r1/alice.log".to_string(),
		},
		NodeRecord {
			name: "rpc-1".to_string(),
			role: "rpc".to_string(),
			rpc_url: "ws://127.0.0.1:9945".to_string(),
			prometheus_url: None,
			log_file: "/runs/r1/rpc-1.log".to_string(),
		},
	]
}

/// Block `number`: realistic weights and limits (operational and mandatory unlimited).
pub fn block(number: u64) -> BlockRecord {
	BlockRecord {
		number,
		hash: format!("0x{:064x}", number.wrapping_add(0xab00)),
		parent_hash: format!("0x{:064x}", number.wrapping_sub(1).wrapping_add(0xab00)),
		author: if number % 2 == 0 {
			Some("alice".to_string())
		} else {
			None
		},
		spec_version: 101,
		timestamp: Some(1_700_000_000_000 + 12_000 * number as i64),
		seen_at: 1_700_000_000_500 + 12_000 * number as i64,
		weight: PerClass {
			normal: 1_250_000_000 + number,
			operational: 0,
			mandatory: 5_000_000_000,
		},
		limits: BlockLimits {
			max_block: 2_000_000_000_000,
			max_total: PerClass {
				normal: 1_500_000_000_000,
				operational: u64::MAX,
				mandatory: u64::MAX,
			},
			max_length: PerClass {
				normal: 3_932_160,
				operational: 5_242_880,
				mandatory: 5_242_880,
			},
		},
		length: 1_234,
		extrinsics: 3,
		failed_extrinsics: 1,
		events: 2,
		authoring_ms: Some(12.5),
		import_ms: if number % 2 == 0 { None } else { Some(3.25) },
		heights: vec![
			NodeHeight {
				node: "alice".to_string(),
				best: Some(number),
				finalized: Some(number.saturating_sub(2)),
			},
			NodeHeight {
				node: "rpc-1".to_string(),
				best: None,
				finalized: None,
			},
		],
	}
}

/// Three extrinsics of block `number`: success, failure, unknown.
pub fn extrinsics(number: u64) -> Vec<ExtrinsicRecord> {
	vec![
		ExtrinsicRecord {
			block: number,
			index: 0,
			call: Some("Timestamp.set".to_string()),
			signer: None,
			success: Some(true),
			error: None,
			weight: Some(10_000_000),
			class: Some("Mandatory".to_string()),
		},
		ExtrinsicRecord {
			block: number,
			index: 1,
			call: Some("SubtensorModule.add_stake".to_string()),
			signer: Some("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY".to_string()),
			success: Some(false),
			error: Some("SubtensorModule.NotEnoughBalanceToStake".to_string()),
			weight: Some(u64::MAX),
			class: Some("Normal".to_string()),
		},
		ExtrinsicRecord {
			block: number,
			index: 2,
			call: None,
			signer: None,
			success: None,
			error: None,
			weight: None,
			class: None,
		},
	]
}

/// Two events of block `number` with nested JSON fields.
pub fn events(number: u64) -> Vec<EventRecord> {
	vec![
		EventRecord {
			block: number,
			index: 0,
			phase: "initialization".to_string(),
			extrinsic: None,
			pallet: "System".to_string(),
			variant: "CodeUpdated".to_string(),
			fields: json!(null),
		},
		EventRecord {
			block: number,
			index: 1,
			phase: "extrinsic".to_string(),
			extrinsic: Some(1),
			pallet: "System".to_string(),
			variant: "ExtrinsicFailed".to_string(),
			fields: json!({
				"dispatch_error": {"Module": {"index": 7, "error": "0x0b000000"}},
				"dispatch_info": {"weight": {"ref_time": u64::MAX, "proof_size": 0}, "class": "Normal"},
				"note": "ünïcödé ✓",
				"ratio": 0.125,
				"list": [1, -2, true, null],
			}),
		},
	]
}

/// A finding numbered `seq`.
pub fn finding(seq: u32) -> Finding {
	Finding {
		seq,
		kind: FindingKind::ALL[seq as usize % FindingKind::ALL.len()],
		node: if seq % 2 == 0 {
			Some("alice".to_string())
		} else {
			None
		},
		block: if seq % 2 == 0 {
			Some(u64::from(seq) + 3)
		} else {
			None
		},
		at: 1_700_000_100_000 + i64::from(seq),
		message: format!("panicked at 'finding {seq}'"),
		context: vec![
			"2025-01-01 00:00:00 line before".to_string(),
			"thread 'tokio-runtime-worker' panicked at \"quoted\"".to_string(),
			String::new(),
		],
	}
}

/// Upgrade `seq`, complete (`done`) or as first recorded.
pub fn upgrade(seq: u32, done: bool) -> UpgradeRecord {
	UpgradeRecord {
		seq,
		via: "sudo".to_string(),
		wasm: "runtimes/upgrade-ok.wasm".to_string(),
		code_hash: "0x1234".to_string(),
		old_version: "test-runtime 100".to_string(),
		new_version: done.then(|| "test-runtime 101".to_string()),
		included_in: 5,
		code_updated: done,
		last_runtime_upgrade: done.then(|| "test-runtime 101".to_string()),
		first_block: done.then_some(6),
		first_block_mandatory: done.then_some(812_000_000_000),
		baseline_mandatory: done.then_some(5_000_000_000),
		migration_weight: done.then_some(807_000_000_000),
		max_block: done.then_some(2_000_000_000_000),
		migration_percent: done.then_some(40.35),
		first_block_events: if done {
			vec![
				"System.CodeUpdated".to_string(),
				"Scheduler.Dispatched".to_string(),
			]
		} else {
			Vec::new()
		},
		diff_from: done.then_some(4),
		diff_to: done.then_some(6),
		diff: if done {
			vec![
				PalletDiff {
					pallet: "SubtensorModule".to_string(),
					added_keys: 12,
					added_bytes: 1_024,
					changed_keys: 32,
					changed_bytes: u64::MAX,
					removed_keys: 0,
					removed_bytes: 0,
					items: vec!["Weights: 32 changed".to_string()],
				},
				PalletDiff {
					pallet: "(well-known keys)".to_string(),
					changed_keys: 1,
					changed_bytes: 1_300_000,
					..PalletDiff::default()
				},
			]
		} else {
			Vec::new()
		},
		error: (!done).then(|| "waiting for the first block".to_string()),
	}
}

/// Step `index`.
pub fn step(index: u32) -> StepRecord {
	StepRecord {
		index,
		kind: if index == 1 { "upgrade" } else { "wait-blocks" }.to_string(),
		description: format!("step {index}: wait 3 blocks"),
		started_at: 1_700_000_000_000 + i64::from(index) * 1_000,
		finished_at: 1_700_000_000_900 + i64::from(index) * 1_000,
		block: if index == 0 {
			None
		} else {
			Some(u64::from(index) * 3)
		},
		ok: index != 2,
		outcome: format!("TotalStake 4200 = sum(Stake) 4200 ({index})"),
	}
}

/// Three gates, one failed.
pub fn gates() -> Vec<GateResult> {
	vec![
		GateResult {
			name: "no-panic".to_string(),
			description: "no panic or wasm trap".to_string(),
			threshold: "0".to_string(),
			measured: "0".to_string(),
			passed: true,
			detail: None,
		},
		GateResult {
			name: "migration-weight".to_string(),
			description: "migration weight ≤ 50 % of the block".to_string(),
			threshold: "≤ 50 %".to_string(),
			measured: "40.35 %".to_string(),
			passed: true,
			detail: Some("block #6".to_string()),
		},
		GateResult {
			name: "finality-lag".to_string(),
			description: "finality lag ≤ 3 blocks".to_string(),
			threshold: "≤ 3".to_string(),
			measured: "not measured".to_string(),
			passed: false,
			detail: Some("finding #2".to_string()),
		},
	]
}

/// Replay `seq`, finished (`done`: three divergences of three kinds, tallies, fork blocks) or
/// as first recorded (nothing replayed yet, every option `None`).
pub fn replay(seq: u32, done: bool) -> ReplayRecord {
	let divergence = |kind, call: &str, index, fork: &str, fork_block| Divergence {
		kind,
		call: call.to_string(),
		signer: (index != 2)
			.then(|| "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY".to_string()),
		captured_block: 4_500_000 + u64::from(index),
		captured_index: index,
		captured: "success".to_string(),
		fork: fork.to_string(),
		fork_block,
		detail: format!("divergence {index}: \"quoted\" ünïcödé ✓"),
		reproduce: format!("stagenet replay --capture caps.db --only 4500000:{index}"),
	};
	ReplayRecord {
		seq,
		capture: "captures/mainnet 4.5M.db".to_string(),
		capture_chain: "Bittensor".to_string(),
		from_block: 4_500_000,
		to_block: 4_500_100,
		rate: "as-captured".to_string(),
		started_at: 1_700_000_200_000 + i64::from(seq),
		finished_at: 1_700_000_260_000 + i64::from(seq),
		fork_runtime: "node-subtensor 241".to_string(),
		blocks: if done { 101 } else { 0 },
		fork_from: done.then_some(812),
		fork_to: done.then_some(u64::MAX),
		replayed: if done { 340 } else { 0 },
		matched: if done { 337 } else { 0 },
		skipped_unsigned: if done { 2 } else { 0 },
		skipped_inherents: if done { 101 } else { 0 },
		undecodable: u64::from(done),
		divergences: if done {
			vec![
				divergence(
					DivergenceKind::LogicChange,
					"SubtensorModule.add_stake",
					0,
					"SubtensorModule::NotEnoughBalanceToStake",
					Some(815),
				),
				divergence(
					DivergenceKind::RateLimit,
					"SubtensorModule.set_weights",
					1,
					"SubtensorModule::SettingWeightsTooFast",
					Some(u64::MAX),
				),
				divergence(
					DivergenceKind::DecodeFailure,
					"?",
					2,
					"not dispatched",
					None,
				),
			]
		} else {
			Vec::new()
		},
		calls: if done {
			vec![
				CallTally {
					call: "SubtensorModule.add_stake".to_string(),
					replayed: 200,
					matched: 199,
					diverged: 1,
				},
				CallTally {
					call: "SubtensorModule.set_weights".to_string(),
					replayed: 140,
					matched: 138,
					diverged: u64::MAX,
				},
			]
		} else {
			Vec::new()
		},
		semantics: vec![
			"no transaction fee".to_string(),
			"no nonce check".to_string(),
		],
		error: (!done).then(|| "capture `caps.db` is still being read".to_string()),
	}
}

/// Stress load `seq`, finished (`done`: reasons, read latencies, three blocks, a known
/// theoretical maximum) or as first recorded (every option `None`, every list empty).
pub fn stress(seq: u32, done: bool) -> StressRecord {
	let block = |number: u64, ours: u64, first: bool| StressBlock {
		number,
		timestamp: (!first).then_some(1_700_000_300_000 + 12_000 * number as i64),
		block_time_ms: (!first).then_some(12_000),
		extrinsics: ours.saturating_add(2),
		ours,
		normal_weight: 900_000_000_000 + number,
		normal_limit: 1_500_000_000_000,
		length: 300_000,
		length_limit: 3_932_160,
		finality_lag: (!first).then_some(2),
		pool_ready: if first { None } else { Some(u64::MAX) },
	};
	StressRecord {
		seq,
		profile: "transfer-heavy".to_string(),
		profile_file: "profiles/transfer heavy ✓.yaml".to_string(),
		started_at: 1_700_000_300_000 + i64::from(seq),
		finished_at: 1_700_000_360_000 + i64::from(seq),
		target: "ramp 100 → 3000 tx/s over 60s".to_string(),
		duration_ms: 60_000,
		accounts: 4_096,
		connections: 16,
		signed: 180_000,
		signing_ms: 8_250,
		submitted: if done { 150_000 } else { 0 },
		accepted: if done { 140_000 } else { 0 },
		included: if done { 120_000 } else { 0 },
		failed: if done { 12 } else { 0 },
		dropped: if done { 20_000 } else { 0 },
		rejected: if done {
			vec![
				ReasonCount {
					reason: "pool-full".to_string(),
					count: 9_990,
				},
				ReasonCount {
					reason: "priority-too-low".to_string(),
					count: u64::MAX,
				},
			]
		} else {
			Vec::new()
		},
		failed_by: if done {
			vec![ReasonCount {
				reason: "Balances::InsufficientBalance".to_string(),
				count: 12,
			}]
		} else {
			Vec::new()
		},
		submit_rate: if done { 2_500.5 } else { 0.0 },
		included_tps: if done { 2_000.25 } else { 0.0 },
		latency: if done {
			Percentiles {
				count: 120_000,
				p50: 6_000.5,
				p95: 12_250.25,
				p99: 18_000.125,
				max: 36_001.0,
			}
		} else {
			Percentiles::default()
		},
		read_latency: done.then_some(Percentiles {
			count: 500,
			p50: 1.5,
			p95: 4.25,
			p99: 9.75,
			max: 120.0,
		}),
		theoretical_per_block: done.then_some(u64::MAX),
		limit: if done { "weight" } else { "none" }.to_string(),
		limit_detail: if done {
			"normal-class weight at 98.2 % of its limit in 4 of 5 blocks"
		} else {
			""
		}
		.to_string(),
		calls: if done {
			vec![
				StressCall {
					call: "Balances.transfer_keep_alive".to_string(),
					submitted: 149_500,
					included: 119_600,
					failed: 12,
				},
				StressCall {
					call: "rpc:state_getStorage".to_string(),
					submitted: 500,
					included: 500,
					failed: 0,
				},
			]
		} else {
			Vec::new()
		},
		blocks: if done {
			vec![
				block(900, 0, true),
				block(901, 2_400, false),
				block(902, u64::MAX, false),
			]
		} else {
			Vec::new()
		},
		error: (!done).then(|| "the load is still running".to_string()),
	}
}

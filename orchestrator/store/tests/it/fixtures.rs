//! Sample records: every field set, including `None`s, unicode and `u64::MAX`.

use serde_json::json;
use stagenet_store::{
	BlockLimits, BlockRecord, EventRecord, ExtrinsicRecord, Finding, FindingKind, GateResult,
	NodeHeight, NodeRecord, PalletDiff, PerClass, RunRecord, StepRecord, UpgradeRecord,
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

use super::*;
use stagenet_store::{BlockLimits, FindingKind, NodeHeight, PerClass};
use std::time::Duration;

fn block(number: u64, normal_percent: u64, ts: i64, finalized: u64) -> BlockRecord {
	BlockRecord {
		number,
		hash: format!("0x{number:064x}"),
		parent_hash: String::new(),
		author: Some("alice".into()),
		spec_version: 100,
		timestamp: Some(ts),
		seen_at: ts,
		weight: PerClass {
			normal: normal_percent * 10,
			operational: 0,
			mandatory: 5,
		},
		limits: BlockLimits {
			max_block: 1000,
			max_total: PerClass {
				normal: 750,
				operational: 1000,
				mandatory: u64::MAX,
			},
			max_length: PerClass::default(),
		},
		length: 0,
		extrinsics: 1,
		failed_extrinsics: 0,
		events: 2,
		authoring_ms: Some(3.0),
		import_ms: None,
		heights: vec![NodeHeight {
			node: "alice".into(),
			best: Some(number),
			finalized: Some(finalized),
		}],
	}
}

fn upgrade(percent: f64) -> UpgradeRecord {
	UpgradeRecord {
		seq: 0,
		via: "sudo".into(),
		wasm: "x.wasm".into(),
		code_hash: "0x".into(),
		old_version: "rt 100".into(),
		new_version: Some("rt 101".into()),
		included_in: 5,
		code_updated: true,
		last_runtime_upgrade: Some("rt 101".into()),
		first_block: Some(6),
		first_block_mandatory: Some(100),
		baseline_mandatory: Some(10),
		migration_weight: Some(90),
		max_block: Some(1000),
		migration_percent: Some(percent),
		first_block_events: vec![],
		diff_from: None,
		diff_to: None,
		diff: vec![],
		error: None,
	}
}

fn all_gates() -> Gates {
	Gates {
		no_panic: true,
		migration_weight_percent: Some(50.0),
		normal_weight_percent: Some(75.0),
		block_time_p95: Some(Duration::from_millis(1500)),
		finality_lag: Some(3),
		keeps_producing: Some(10),
		..Gates::default()
	}
}

fn divergence(call: &str, kind: stagenet_store::DivergenceKind) -> stagenet_store::Divergence {
	stagenet_store::Divergence {
		kind,
		call: call.into(),
		signer: Some("5Grw".into()),
		captured_block: 12,
		captured_index: 2,
		captured: "success".into(),
		fork: "Subnets::DuplicateUids".into(),
		fork_block: Some(40),
		detail: "outcome changed".into(),
		reproduce: "stagenet replay r --capture c.db --from 12 --to 12 --only 12:2".into(),
	}
}

fn replay_record(divergences: Vec<stagenet_store::Divergence>) -> stagenet_store::ReplayRecord {
	stagenet_store::ReplayRecord {
		seq: 0,
		capture: "c.db".into(),
		capture_chain: "Development".into(),
		from_block: 10,
		to_block: 20,
		rate: "max".into(),
		started_at: 0,
		finished_at: 1,
		fork_runtime: "stagenet-test 101".into(),
		blocks: 11,
		fork_from: Some(30),
		fork_to: Some(45),
		replayed: 20,
		matched: 20 - divergences.len() as u64,
		skipped_unsigned: 0,
		skipped_inherents: 11,
		undecodable: 0,
		divergences,
		calls: vec![],
		semantics: vec![],
		error: None,
	}
}

#[test]
fn replay_divergences_are_counted_except_allowed_calls() {
	use stagenet_store::DivergenceKind::*;
	let gates = Gates {
		no_panic: false,
		replay_max_divergences: Some(0),
		..Gates::default()
	};
	let replays = vec![replay_record(vec![
		divergence("Subnets.set_weights", LogicChange),
		divergence("Balances.transfer_keep_alive", RateLimit),
	])];
	let ev = |replays: &'static [stagenet_store::ReplayRecord]| Evidence {
		blocks: &[],
		findings: &[],
		upgrades: &[],
		replays,
		stresses: &[],
		steps: &[],
		best: 0,
		finalized: 0,
	};
	let replays: &'static [stagenet_store::ReplayRecord] = Box::leak(replays.into_boxed_slice());
	let out = evaluate(&gates, &ev(replays));
	assert_eq!(out.len(), 1);
	assert!(!out[0].passed);
	assert_eq!(out[0].measured, "2");
	assert!(out[0]
		.detail
		.as_deref()
		.is_some_and(|d| d.contains("--only 12:2")));

	let allowing = Gates {
		replay_allowed_calls: vec![
			"Subnets.set_weights".into(),
			"Balances.transfer_keep_alive".into(),
		],
		..gates.clone()
	};
	let out = evaluate(&allowing, &ev(replays));
	assert!(out[0].passed, "{:?}", out[0]);
	assert_eq!(out[0].measured, "0 (+2 allowed)");

	let out = evaluate(&gates, &ev(&[]));
	assert!(!out[0].passed);
	assert_eq!(out[0].measured, "not measured");
}

#[test]
fn the_stress_gate_takes_the_slowest_load() {
	let gates = Gates {
		no_panic: false,
		stress_min_included_tps: Some(100.0),
		..Gates::default()
	};
	let load = |tps: f64| stagenet_store::StressRecord {
		seq: 0,
		profile: "transfer-flood".into(),
		profile_file: "p.yaml".into(),
		started_at: 0,
		finished_at: 1,
		target: "200 tx/s".into(),
		duration_ms: 1000,
		accounts: 10,
		connections: 1,
		signed: 200,
		signing_ms: 10,
		submitted: 200,
		accepted: 200,
		included: 200,
		failed: 0,
		dropped: 0,
		rejected: vec![],
		failed_by: vec![],
		submit_rate: 200.0,
		included_tps: tps,
		latency: Default::default(),
		read_latency: None,
		theoretical_per_block: None,
		limit: "none".into(),
		limit_detail: "met".into(),
		calls: vec![],
		blocks: vec![],
		error: None,
	};
	let stresses: &'static [stagenet_store::StressRecord] =
		Box::leak(vec![load(150.0), load(90.5)].into_boxed_slice());
	let ev = Evidence {
		blocks: &[],
		findings: &[],
		upgrades: &[],
		replays: &[],
		stresses,
		steps: &[],
		best: 0,
		finalized: 0,
	};
	let out = evaluate(&gates, &ev);
	assert_eq!(out[0].name, "stress-included-tps");
	assert!(!out[0].passed);
	assert_eq!(out[0].measured, "90.5 tx/s");
}

#[test]
fn percentiles_use_the_nearest_rank() {
	let v: Vec<f64> = (1..=20).map(|x| x as f64).collect();
	assert_eq!(percentile(&v, 95.0), Some(19.0));
	assert_eq!(percentile(&v, 50.0), Some(10.0));
	assert_eq!(percentile(&[7.0], 95.0), Some(7.0));
	assert_eq!(percentile::<f64>(&[], 95.0), None);
}

#[test]
fn a_healthy_run_passes_every_gate_with_its_measured_value() {
	let blocks: Vec<_> = (1..=20)
		.map(|n| block(n, 10, n as i64 * 1000, n - 1))
		.collect();
	let steps = vec![StepRecord {
		index: 0,
		kind: "assert-storage".into(),
		description: "invariant stake-sum: sum(Subnets.Stake) = Subnets.TotalStake".into(),
		started_at: 0,
		finished_at: 0,
		block: Some(20),
		ok: true,
		outcome: "sum(Subnets.Stake) = 10 over 2 entries = Subnets.TotalStake = 10".into(),
	}];
	let upgrades = vec![upgrade(9.0)];
	let gates = evaluate(
		&all_gates(),
		&Evidence {
			blocks: &blocks,
			findings: &[],
			upgrades: &upgrades,
			replays: &[],
			stresses: &[],
			steps: &steps,
			best: 20,
			finalized: 19,
		},
	);
	let names: Vec<&str> = gates.iter().map(|g| g.name.as_str()).collect();
	assert_eq!(
		names,
		[
			"no-panic",
			"migration-weight",
			"normal-weight",
			"block-time-p95",
			"finality-lag",
			"keeps-producing",
			"invariant:stake-sum",
			"steps"
		]
	);
	assert!(gates.iter().all(|g| g.passed), "{gates:#?}");
	assert_eq!(gates[1].measured, "9.0 %");
	assert_eq!(gates[2].measured, "10.0 %");
	assert_eq!(gates[3].measured, "1000 ms");
	assert_eq!(gates[4].measured, "1 blocks");
	assert_eq!(gates[5].measured, "15 produced, 14 finalized");
}

#[test]
fn each_gate_fails_on_its_own_evidence() {
	let mut blocks: Vec<_> = (1..=20)
		.map(|n| block(n, 10, n as i64 * 1000, n - 1))
		.collect();
	blocks[7].weight.normal = 800; // 80 % of the block
	for b in blocks.iter_mut().skip(10) {
		b.timestamp = Some(10_000 + (b.number as i64 - 10) * 3000);
		b.heights[0].finalized = Some(9);
	}
	let findings = vec![Finding {
		seq: 0,
		kind: FindingKind::Panic,
		node: Some("bob".into()),
		block: Some(9),
		at: 0,
		message: "Runtime panicked: boom".into(),
		context: vec![],
	}];
	let upgrades = vec![upgrade(312.5)];
	let gates = evaluate(
		&all_gates(),
		&Evidence {
			blocks: &blocks,
			findings: &findings,
			upgrades: &upgrades,
			replays: &[],
			stresses: &[],
			steps: &[],
			best: 20,
			finalized: 9,
		},
	);
	for g in &gates {
		assert!(!g.passed, "{g:#?}");
	}
	assert_eq!(
		gates[0].detail.as_deref(),
		Some("panic on bob at block #9: Runtime panicked: boom")
	);
	assert_eq!(gates[1].measured, "312.5 %");
	assert_eq!(gates[2].measured, "80.0 %");
	assert_eq!(gates[3].measured, "3000 ms");
	assert_eq!(gates[4].measured, "11 blocks");
}

#[test]
fn a_gate_without_evidence_fails_as_not_measured() {
	let gates = evaluate(
		&all_gates(),
		&Evidence {
			blocks: &[],
			findings: &[],
			upgrades: &[],
			replays: &[],
			stresses: &[],
			steps: &[],
			best: 0,
			finalized: 0,
		},
	);
	let migration = gates
		.iter()
		.find(|g| g.name == "migration-weight")
		.expect("gate");
	assert!(
		!migration.passed && migration.measured == "not measured",
		"{migration:#?}"
	);
	let p95 = gates
		.iter()
		.find(|g| g.name == "block-time-p95")
		.expect("gate");
	assert!(!p95.passed && p95.measured == "not measured");
}

//! Subtensor for real, through the `stagenet` binary: a populated Subtensor chain (the real
//! raonet genesis, `node-subtensor` spec 204, brought to shape with real Subtensor extrinsics
//! by `stagenet_fork_tests::subtensor::subtensor_source`) is snapshotted, captured, forked,
//! brought up, loaded, upgraded to the real spec 218 and replayed. The runtimes are the real
//! ones in `../shared/subtensor/`, run by the bundled test node.

use super::{repo_root, run};
use stagenet_fork_tests::{
	chain::Chain,
	subtensor::{
		last_epoch_block, runtime, shared_subtensor_source, weights_row, SOURCE_NETUIDS,
		SOURCE_TEMPO,
	},
};
use stagenet_store::DivergenceKind;
use std::{collections::BTreeMap, ffi::OsStr, time::Duration};

/// The epoch rule of these runtimes: subnet `netuid` runs its epoch at block `b` when
/// `(b + netuid + 1) % (tempo + 1) == 0`.
fn is_epoch_block(b: u64, netuid: u16) -> bool {
	(b + u64::from(netuid) + 1) % (u64::from(SOURCE_TEMPO) + 1) == 0
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subtensor_release_rehearses_204_to_218_on_a_populated_fork_with_invariants_and_replay() {
	let source = shared_subtensor_source().await;
	let dir = super::rehearse::work("subtensor-upgrade");
	let db = dir.join("store.db");
	let r = super::rehearse::rehearse(
		&repo_root().join("fork-tests/scenarios/subtensor-upgrade.yaml"),
		&dir,
		&db.display().to_string(),
		&[],
	);
	assert_eq!(r.code, Some(0), "{}", r.context());
	let report = r.report();
	assert!(report.gates.iter().all(|g| g.passed), "{:#?}", report.gates);
	// The upgrade: the real 218 runtime, its migrations in the first block.
	let upgrade = report.upgrades.first().expect("one upgrade");
	assert!(upgrade.code_updated, "{upgrade:#?}");
	assert_eq!(upgrade.old_version, "node-subtensor 204");
	assert_eq!(upgrade.new_version.as_deref(), Some("node-subtensor 218"));
	assert_eq!(
		upgrade.last_runtime_upgrade.as_deref(),
		Some("node-subtensor 218")
	);
	let share = upgrade
		.migration_percent
		.expect("migration weight measured");
	assert!(share > 0.0 && share < 50.0, "migration share {share} %");
	let subtensor = upgrade
		.diff
		.iter()
		.find(|p| p.pallet == "SubtensorModule")
		.unwrap_or_else(|| panic!("no SubtensorModule in the diff: {:#?}", upgrade.diff));
	for item in ["Tempo", "HasMigrationRun", "TotalHotkeyShares"] {
		assert!(
			subtensor
				.items
				.iter()
				.any(|i| i.starts_with(&format!("{item}:"))),
			"`{item}` (written by 218's migrations) not in the diff: {subtensor:#?}"
		);
	}
	// Invariants, before and after.
	for name in [
		"neurons-keyed-before",
		"neurons-uids-before",
		"networks-before",
		"alpha-out-before",
		"neurons-keyed-after",
		"neurons-uids-after",
		"networks-after",
	] {
		let gate = r.gate(&format!("invariant:{name}"));
		assert!(gate.passed, "{gate:?}");
	}
	assert!(
		r.gate("invariant:neurons-keyed-before")
			.measured
			.contains("over 27 entries"),
		"3 populated subnets of 8 neurons, subnet 1's and the root's: {:?}",
		r.gate("invariant:neurons-keyed-before")
	);
	// Replay: on the same runtime every captured outcome is matched; after the upgrade each
	// divergence is named and classified with a way to reproduce it.
	assert_eq!(report.replays.len(), 2, "{}", r.context());
	let (before, after) = (&report.replays[0], &report.replays[1]);
	assert_eq!(before.replayed as usize, source.signed, "{before:#?}");
	assert!(before.divergences.is_empty(), "{:#?}", before.divergences);
	assert_eq!(before.fork_runtime, "node-subtensor 204");
	assert_eq!(after.fork_runtime, "node-subtensor 218");
	for d in &after.divergences {
		assert!(
			d.reproduce.contains("stagenet replay") && !d.call.is_empty(),
			"{d:#?}"
		);
		assert!(
			matches!(
				d.kind,
				DivergenceKind::LogicChange
					| DivergenceKind::MissingCall
					| DivergenceKind::DecodeFailure
					| DivergenceKind::RateLimit
					| DivergenceKind::Other
			),
			"{d:#?}"
		);
	}
	assert!(
		!report.findings.iter().any(|f| f.kind.is_panic()),
		"{:#?}",
		report.findings
	);
	super::rehearse::assert_no_nodes_left(&r.run_id);
}

/// `SubtensorModule.LastMechansimStepBlock` of every source subnet at the best block, until
/// `blocks` more blocks were seen: the epoch blocks seen per subnet.
async fn follow_epochs(chain: &Chain, blocks: u64) -> BTreeMap<u16, Vec<u64>> {
	let start = chain.best_number().await.expect("best block");
	let mut seen: BTreeMap<u16, Vec<u64>> = BTreeMap::new();
	let mut next = start;
	let deadline = std::time::Instant::now() + Duration::from_secs(10 * blocks + 30);
	while next <= start + blocks {
		assert!(
			std::time::Instant::now() < deadline,
			"the fork stopped before block #{next}"
		);
		let Ok(hash) = chain.wait_block_hash(next, Duration::from_secs(30)).await else {
			continue;
		};
		for n in SOURCE_NETUIDS {
			let b = last_epoch_block(chain, hash, n).await;
			let list = seen.entry(n).or_default();
			if !list.contains(&b) {
				list.push(b);
			}
		}
		next += 1;
	}
	seen
}

fn stress(
	fork: &super::replay::Fork,
	profile: &str,
	extra: &[&str],
) -> (Option<i32>, String, String) {
	let profile = repo_root().join(format!("fork-tests/loads/subtensor/{profile}.yaml"));
	let store = fork.store();
	let mut args: Vec<&OsStr> = vec![
		"stress".as_ref(),
		fork.run_id.as_ref(),
		"--profile".as_ref(),
		profile.as_os_str(),
		"--runs-dir".as_ref(),
		fork.runs.as_os_str(),
		"--database-url".as_ref(),
		store.as_os_str(),
	];
	args.extend(extra.iter().map(|a| OsStr::new(*a)));
	run(&args)
}

fn assert_refused_up_front(fork: &super::replay::Fork, version: u32) {
	let (code, stdout, stderr) = stress(fork, "staking-churn", &["--duration", "4s"]);
	assert_eq!(code, Some(2), "stdout:\n{stdout}\nstderr:\n{stderr}");
	for needle in [
		format!("does not fit runtime `node-subtensor {version}`"),
		"(it fits spec versions 425..)".to_string(),
		"`SubtensorModule.swap_stake`".to_string(),
		"`SubtensorModule.try_associate_hotkey`".to_string(),
		"nothing was sent".to_string(),
		"hint:".to_string(),
	] {
		assert!(stderr.contains(&needle), "`{needle}` not in:\n{stderr}");
	}
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subtensor_fork_keeps_the_epoch_phase_runs_loads_and_keeps_epochs_after_the_upgrade() {
	let source = shared_subtensor_source().await;
	let (fork, printed) = super::replay::Fork::start_from(
		"subtensor-epochs",
		&source.snapshot,
		&repo_root().join("fork-tests/profiles/subtensor-loads.yaml"),
	);
	// What spec 204 lacks of the profile is named, not written.
	assert!(
		printed.contains("optional item(s) this runtime does not have"),
		"{printed}"
	);
	assert!(printed.contains("MevShield.CurrentKey"), "{printed}");
	let chain = Chain::connect(&fork.rpc_url())
		.await
		.expect("connect to the fork");
	assert_eq!(chain.spec_version().await.expect("spec"), 204);

	// Epochs on the fork, on the source's schedule: fork block f is source block f − W + H.
	let h = source.from - 1;
	let w = stagenet_snapshot::fork::rebase::choose_warmup(h, 50, Some(361));
	let seen = follow_epochs(&chain, u64::from(SOURCE_TEMPO) + 2).await;
	for (n, source_epochs) in &source.epochs {
		assert!(
			source_epochs.len() >= 2,
			"epochs of subnet {n} on the source: {source_epochs:?}"
		);
		assert!(
			source_epochs.iter().all(|b| is_epoch_block(*b, *n)),
			"subnet {n}: source epochs {source_epochs:?} off the rule"
		);
		let fork_epochs = &seen[n];
		let new: Vec<u64> = fork_epochs.iter().copied().filter(|f| *f > w).collect();
		assert!(
			!new.is_empty(),
			"no epoch of subnet {n} on the fork after block W = {w}: {fork_epochs:?}"
		);
		for f in fork_epochs {
			let as_source = f + h - w;
			assert!(
				is_epoch_block(as_source, *n),
				"subnet {n}: fork epoch #{f} is source block #{as_source}, off the source's \
				 schedule (source epochs {source_epochs:?}, H {h}, W {w})"
			);
		}
	}

	// Loads on the real runtime: the transfer flood runs and names its limit; a load written
	// for later runtimes is refused before anything is sent.
	let (code, stdout, stderr) = stress(
		&fork,
		"transfer-flood",
		&["--duration", "6s", "--rate", "300", "--json"],
	);
	assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
	let record: stagenet_store::StressRecord = serde_json::from_str(&stdout).expect("json record");
	assert!(record.included > 0, "{record:#?}");
	assert_eq!(record.failed, 0, "{:?}", record.failed_by);
	assert!(!record.limit.is_empty(), "{record:#?}");
	assert_refused_up_front(&fork, 204);

	// The upgrade to 218: its migrations run, and epochs run on every block from then on.
	let wasm = runtime(218);
	let (code, stdout, stderr) = run(&[
		"upgrade".as_ref(),
		fork.run_id.as_ref(),
		"--wasm".as_ref(),
		wasm.as_os_str(),
		"--runs-dir".as_ref(),
		fork.runs.as_os_str(),
		"--diff-after".as_ref(),
		"1".as_ref(),
	]);
	assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
	assert!(stdout.contains("node-subtensor 218"), "{stdout}");
	let after = follow_epochs(&chain, 3).await;
	let best = chain.best_number().await.expect("best");
	for n in SOURCE_NETUIDS {
		let last = *after[&n].iter().max().expect("epochs");
		assert!(
			last + 2 >= best && after[&n].len() >= 3,
			"subnet {n}: epochs after the upgrade {:?}, best #{best}",
			after[&n]
		);
	}
	assert_refused_up_front(&fork, 218);
	fork.down();
}

/// The JSON events a workload replica printed (its log holds the node-style lines of the SDK
/// too: events are the lines that start with `{"event":`).
fn events_of(log: &std::path::Path) -> Vec<serde_json::Value> {
	std::fs::read_to_string(log)
		.unwrap_or_default()
		.lines()
		.filter(|l| l.starts_with("{\"event\":"))
		.filter_map(|l| serde_json::from_str(l).ok())
		.collect()
}

fn event<'a>(events: &'a [serde_json::Value], name: &str) -> Vec<&'a serde_json::Value> {
	events.iter().filter(|e| e["event"] == name).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bittensor_sdk_registers_serves_and_sets_weights_as_workloads_on_a_subtensor_fork() {
	let source = shared_subtensor_source().await;
	let venv = std::env::var_os("STAGENET_BITTENSOR_VENV")
		.map(std::path::PathBuf::from)
		.unwrap_or_else(|| {
			std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default())
				.join(".cache/stagenet/bittensor-venv")
		});
	assert!(
		venv.join("bin/python").exists(),
		"the Bittensor SDK venv `{}` is missing (hint: run `scripts/setup-bittensor`)",
		venv.display()
	);
	// The fork on the real spec-218 runtime (its runtime APIs are the ones SDK 9.0.0 reads),
	// where the shipped topology expects it.
	let spec = repo_root().join("target/scenarios/subtensor/fork-218.spec.json");
	let wasm = runtime(218);
	let (code, stdout, stderr) = run(&[
		"fork".as_ref(),
		"--snapshot".as_ref(),
		source.snapshot.as_os_str(),
		"--profile".as_ref(),
		repo_root()
			.join("fork-tests/profiles/subtensor.yaml")
			.as_os_str(),
		"--validators".as_ref(),
		"1".as_ref(),
		"--code".as_ref(),
		wasm.as_os_str(),
		"--out".as_ref(),
		spec.as_os_str(),
		"--force".as_ref(),
	]);
	assert_eq!(code, Some(0), "fork:\n{stdout}\n{stderr}");
	let dir = super::rehearse::work("subtensor-workloads");
	let fork = super::replay::Fork::up(
		"subtensor-workloads",
		dir,
		&repo_root().join("fork-tests/topologies/subtensor-workloads.yaml"),
		&[],
	);
	let run_dir = fork.run_dir();
	let log = |name: &str| run_dir.join(format!("{name}.log"));
	// The validator ends by itself after its rounds; the miners serve until stopped.
	let deadline = std::time::Instant::now() + Duration::from_secs(420);
	let validator = loop {
		let events = events_of(&log("validator-0"));
		if events
			.iter()
			.any(|e| e["event"] == "done" || e["event"] == "error")
		{
			break events;
		}
		assert!(
			std::time::Instant::now() < deadline,
			"the validator workload did not finish in 420 s; its events: {events:#?}\nlog:\n{}",
			std::fs::read_to_string(log("validator-0")).unwrap_or_default()
		);
		tokio::time::sleep(Duration::from_secs(2)).await;
	};
	let context = || {
		format!(
			"validator log:\n{}\nminer-0 log:\n{}",
			std::fs::read_to_string(log("validator-0")).unwrap_or_default(),
			std::fs::read_to_string(log("miner-0")).unwrap_or_default()
		)
	};
	assert!(event(&validator, "error").is_empty(), "{}", context());
	// Miners: registered through the SDK, axon served and listening.
	let mut miner_uids = Vec::new();
	for replica in 0..2 {
		let events = events_of(&log(&format!("miner-{replica}")));
		let registered = event(&events, "registered");
		let uid = registered
			.first()
			.and_then(|e| e["uid"].as_u64())
			.unwrap_or_else(|| panic!("miner-{replica} did not register: {events:#?}"));
		miner_uids.push(uid);
		assert!(
			!event(&events, "axon_listening").is_empty(),
			"miner-{replica}: {events:#?}"
		);
	}
	// The validator: registered, permitted, weights set twice and read back from chain storage,
	// each followed by an epoch.
	let vuid = event(&validator, "registered")
		.first()
		.and_then(|e| e["uid"].as_u64())
		.unwrap_or_else(|| panic!("the validator did not register\n{}", context()));
	assert!(
		!event(&validator, "validator_permit").is_empty(),
		"{}",
		context()
	);
	let sets = event(&validator, "set_weights");
	assert_eq!(sets.len(), 2, "{}", context());
	assert!(sets.iter().all(|s| s["success"] == true), "{sets:#?}");
	let readbacks = event(&validator, "weights_readback");
	assert!(
		readbacks.len() == 2 && readbacks.iter().all(|r| r["matches"] == true),
		"{readbacks:#?}"
	);
	let last_targets: Vec<u64> = sets[1]["uids"]
		.as_array()
		.map(|a| a.iter().filter_map(|u| u.as_u64()).collect())
		.unwrap_or_default();
	for uid in &miner_uids {
		assert!(
			last_targets.contains(uid),
			"the second round weights every miner: {last_targets:?} lacks {uid}"
		);
	}
	assert_eq!(event(&validator, "epoch").len(), 2, "{}", context());
	// The same weights, read by stagenet from the chain.
	let chain = Chain::connect(&fork.rpc_url())
		.await
		.expect("connect to the fork");
	assert_eq!(chain.spec_version().await.expect("spec"), 218);
	let best = chain.best_hash().await.expect("best");
	let row = weights_row(&chain, best, 2, vuid as u16).await;
	let sdk_row: Vec<(u16, u16)> = readbacks[1]["weights"]
		.as_array()
		.map(|a| {
			a.iter()
				.filter_map(|p| Some((p[0].as_u64()? as u16, p[1].as_u64()? as u16)))
				.collect()
		})
		.unwrap_or_default();
	assert_eq!(
		row, sdk_row,
		"Weights[2][{vuid}] on chain vs what the SDK read back"
	);
	fork.down();
}

//! Subtensor for real, through the `stagenet` binary: a populated Subtensor chain (the real
//! raonet genesis, `node-subtensor` spec 204, brought to shape with real Subtensor extrinsics
//! by `stagenet_fork_tests::subtensor::subtensor_source`) is snapshotted, captured, forked,
//! brought up, loaded, upgraded to the real spec 218 and replayed. The runtimes are the real
//! ones in `../shared/subtensor/`, run by the bundled test node.

use stagenet_test_support::OutputWithin;
use super::{repo_root, run};
use stagenet_chain::client::Chain;
use stagenet_fork_tests::{
	subtensor::{
		last_epoch_block, runtime, shared_subtensor_source, weights_row, SOURCE_NETUIDS,
		SOURCE_TEMPO,
	},
};
use stagenet_store::DivergenceKind;
use std::{collections::BTreeMap, ffi::OsStr, time::Duration};

/// The epoch rule of these runtimes (`blocks_until_next_epoch` is 0): subnet `netuid` runs its
/// epoch at block `b` when `(b + netuid + 1) % (tempo + 1) == tempo`. `b` may be a source block
/// number seen from the fork (negative before the fork's genesis).
fn is_epoch_block(b: i128, netuid: u16) -> bool {
	let period = i128::from(SOURCE_TEMPO) + 1;
	(b + i128::from(netuid) + 1).rem_euclid(period) == period - 1
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subtensor_release_rehearses_204_to_218_on_a_populated_fork_with_invariants_and_replay() {
	stagenet_test_support::require!(TestChain, Subtensor);
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
	// Items that only spec 218 has, written by its migration (`migrate_rao`) and coinbase.
	for item in ["TotalHotkeyShares", "HotkeyDividendsPerSubnet"] {
		assert!(
			subtensor
				.items
				.iter()
				.any(|i| i.starts_with(&format!("{item}:")) && i.contains("added")),
			"`{item}` (added by 218) not in the diff: {subtensor:#?}"
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
	let neurons = r.gate("invariant:neurons-keyed-before");
	assert!(
		neurons.measured.contains("= 25 over 5 entries"),
		"3 populated subnets of 8 neurons and subnet 1's owner, over the root and 4 subnets: \
		 {neurons:?}"
	);
	// Replay after the upgrade: every captured outcome compared; the one intended change of
	// 218 (stake to a hotkey that does not exist) is named, classified and reproducible.
	assert_eq!(report.replays.len(), 1, "{}", r.context());
	let replay = &report.replays[0];
	assert_eq!(replay.fork_runtime, "node-subtensor 218");
	assert_eq!(replay.replayed as usize, source.signed, "{replay:#?}");
	assert_eq!(replay.divergences.len(), 1, "{:#?}", replay.divergences);
	let d = &replay.divergences[0];
	assert_eq!(d.call, "SubtensorModule.add_stake", "{d:#?}");
	assert_eq!(d.kind, DivergenceKind::LogicChange, "{d:#?}");
	assert_eq!(d.captured, "success", "{d:#?}");
	assert!(d.fork.contains("HotKeyAccountNotExists"), "{d:#?}");
	assert!(
		d.reproduce.contains("stagenet replay") && d.reproduce.contains("--only"),
		"{d:#?}"
	);
	let gate = r.gate("replay-divergences");
	assert!(
		gate.passed && gate.measured.contains("(+1 allowed)"),
		"{gate:?}"
	);
	assert!(
		!report.findings.iter().any(|f| f.kind.is_panic()),
		"{:#?}",
		report.findings
	);
	super::rehearse::assert_no_nodes_left(&r.run_id);
}

/// `SubtensorModule.LastMechansimStepBlock` of every source subnet at each block from `from`
/// (`None`: the best block) until `blocks` more blocks were seen: the epoch blocks seen per
/// subnet, in order.
async fn follow_epochs(chain: &Chain, from: Option<u64>, blocks: u64) -> BTreeMap<u16, Vec<u64>> {
	let start = match from {
		Some(b) => b,
		None => chain.best_number().await.expect("best block"),
	};
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
	stagenet_test_support::require!(TestChain, Subtensor);
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

	// Epochs on the fork, on the source's schedule: fork block f stands for source block
	// f − W + H (W ≡ H modulo 361, and 19 divides 361).
	let h = i128::from(source.from - 1);
	let w = i128::from(stagenet_fork::rebase::choose_warmup(
		source.from - 1,
		50,
		Some(361),
	));
	let seen = follow_epochs(&chain, Some(1), u64::from(SOURCE_TEMPO) + 2).await;
	for (n, source_epochs) in &source.epochs {
		assert!(
			source_epochs.len() >= 2,
			"epochs of subnet {n} on the source: {source_epochs:?}"
		);
		assert!(
			source_epochs
				.iter()
				.all(|b| is_epoch_block(i128::from(*b), *n)),
			"subnet {n}: source epochs {source_epochs:?} off the rule"
		);
		// The snapshot's last epoch, rebased, then at least one the fork ran itself.
		let fork_epochs = &seen[n];
		let last_at_h = source_epochs
			.iter()
			.filter(|b| i128::from(**b) <= h)
			.max()
			.map(|b| i128::from(*b) - h + w);
		assert_eq!(
			fork_epochs.first().map(|f| i128::from(*f)),
			last_at_h,
			"subnet {n}: LastMechansimStepBlock on the fork is the source's last epoch rebased"
		);
		assert!(
			fork_epochs.len() >= 2,
			"no epoch of subnet {n} ran on the fork: {fork_epochs:?}"
		);
		for f in fork_epochs {
			let as_source = i128::from(*f) - w + h;
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

	// The captured window replayed on the same runtime: every outcome as captured.
	let (code, stdout, stderr) = run(&[
		"replay".as_ref(),
		fork.run_id.as_ref(),
		"--capture".as_ref(),
		source.capture.as_os_str(),
		"--runs-dir".as_ref(),
		fork.runs.as_os_str(),
		"--database-url".as_ref(),
		fork.store().as_os_str(),
		"--rate".as_ref(),
		"max".as_ref(),
		"--max-divergences".as_ref(),
		"0".as_ref(),
		"--json".as_ref(),
	]);
	assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
	let replay: stagenet_store::ReplayRecord =
		serde_json::from_str(&stdout).expect("replay --json record");
	assert_eq!(replay.fork_runtime, "node-subtensor 204");
	assert_eq!(replay.replayed as usize, source.signed, "{replay:#?}");
	assert_eq!(replay.matched, replay.replayed, "{replay:#?}");
	assert!(replay.divergences.is_empty(), "{:#?}", replay.divergences);

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
	let after = follow_epochs(&chain, None, 3).await;
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

/// Forks the Subtensor source onto the real spec-218 runtime (whose runtime APIs SDK 9.0.0
/// reads) where the shipped workload topologies expect it.
fn fork_onto_218(source: &stagenet_fork_tests::subtensor::SubtensorSource) {
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
}

/// Runs the shipped workload topology `topology` (`extra`: `up` arguments) until the SDK
/// validator has finished its rounds, and checks what the SDK did and what the chain holds:
/// the miners registered and served their axons, the validator registered, got its permit,
/// set weights twice (the second time over both miners), read them back, and saw an epoch
/// after each; the chain's `Weights` row equals the SDK's read-back.
async fn workloads_register_serve_and_set_weights(
	name: &str,
	topology: &str,
	extra: &[&str],
) -> String {
	let dir = super::rehearse::work(name);
	let fork = super::replay::Fork::up(
		name,
		dir,
		&repo_root().join("fork-tests/topologies").join(topology),
		extra,
	);
	let run_dir = fork.run_dir();
	let log = |name: &str| run_dir.join(format!("{name}.log"));
	// The validator ends by itself after its rounds; the miners serve until stopped.
	let deadline = std::time::Instant::now() + Duration::from_secs(420);
	let validator = loop {
		let events = events_of(&log("sdk-validator-0"));
		if events
			.iter()
			.any(|e| e["event"] == "done" || e["event"] == "error")
		{
			break events;
		}
		assert!(
			std::time::Instant::now() < deadline,
			"the validator workload did not finish in 420 s; its events: {events:#?}\nlog:\n{}",
			std::fs::read_to_string(log("sdk-validator-0")).unwrap_or_default()
		);
		tokio::time::sleep(Duration::from_secs(2)).await;
	};
	let context = || {
		format!(
			"validator log:\n{}\nminer-0 log:\n{}",
			std::fs::read_to_string(log("sdk-validator-0")).unwrap_or_default(),
			std::fs::read_to_string(log("sdk-miner-0")).unwrap_or_default()
		)
	};
	assert!(event(&validator, "error").is_empty(), "{}", context());
	// Miners: registered through the SDK (one of them after a nonce clash with the other, as
	// they share a coldkey), axon served and listening.
	let mut miner_uids = Vec::new();
	for replica in 0..2 {
		let events = events_of(&log(&format!("sdk-miner-{replica}")));
		let uid = event(&events, "registered")
			.first()
			.and_then(|e| e["uid"].as_u64())
			.unwrap_or_else(|| panic!("sdk-miner-{replica} did not register: {events:#?}"));
		miner_uids.push(uid);
		assert!(
			!event(&events, "axon_served").is_empty(),
			"sdk-miner-{replica}: {events:#?}"
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
	assert!(!row.is_empty());
	assert_eq!(
		row, sdk_row,
		"Weights[2][{vuid}] on chain vs what the SDK read back"
	);
	let run_id = fork.run_id.clone();
	fork.down();
	super::rehearse::assert_no_nodes_left(&run_id);
	run_id
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bittensor_sdk_registers_serves_and_sets_weights_as_workloads_on_a_subtensor_fork() {
	stagenet_test_support::require!(TestChain, Subtensor, BittensorSdk);
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
	fork_onto_218(&source);
	workloads_register_serve_and_set_weights(
		"subtensor-workloads",
		"subtensor-workloads.yaml",
		&[],
	)
	.await;
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_the_bittensor_sdk_workload_runs_from_its_image_beside_a_subtensor_fork() {
	stagenet_test_support::require!(TestChain, Docker, Subtensor, BittensorSdk);
	let source = shared_subtensor_source().await;
	fork_onto_218(&source);
	let (code, _, stderr) = run(&[
		"image".as_ref(),
		"build".as_ref(),
		"--binary".as_ref(),
		repo_root()
			.join("target/test-chain/stagenet-test-node")
			.as_os_str(),
		"--tag".as_ref(),
		"stagenet-test-node:local".as_ref(),
	]);
	assert_eq!(code, Some(0), "{stderr}");
	// The SDK's image, FROM scratch: the venv, its interpreter, the scripts.
	let out = std::process::Command::new(repo_root().join("scripts/build-bittensor-image"))
		.env("STAGENET", env!("CARGO_BIN_EXE_stagenet"))
		.output_within(stagenet_test_support::LIMIT)
		.expect("run scripts/build-bittensor-image");
	assert!(
		out.status.success(),
		"scripts/build-bittensor-image:\n{}\n{}",
		String::from_utf8_lossy(&out.stdout),
		String::from_utf8_lossy(&out.stderr)
	);
	let run_id = workloads_register_serve_and_set_weights(
		"subtensor-workloads-docker",
		"subtensor-workloads-docker.yaml",
		&["--provider", "docker"],
	)
	.await;
	let out = std::process::Command::new("docker")
		.args([
			"ps",
			"-aq",
			"--filter",
			&format!("label=stagenet.run={run_id}"),
		])
		.output_within(stagenet_test_support::LIMIT)
		.expect("docker ps");
	assert!(
		String::from_utf8_lossy(&out.stdout).trim().is_empty(),
		"containers of run {run_id} left"
	);
}

//! `stagenet stress` end to end on the bundled test chain: a transfer flood from 4096 funded
//! dev accounts against one real validator process through the `stress` step of a scenario
//! (fork, up, load, store, report), every shipped test-chain load in turn, and
//! `stagenet stress` against a run brought up by `stagenet up`.

use super::rehearse::{assert_no_nodes_left, rehearse, rendered, source, work};
use super::repo_root;

#[tokio::test(flavor = "multi_thread")]
async fn a_transfer_flood_fills_blocks_and_names_the_limit_that_is_not_the_generator() {
	stagenet_test_support::require!(TestChain);
	source().await;
	let dir = work("transfer-flood");
	let db = dir.join("store.db");
	let r = rehearse(
		&repo_root().join("fork-tests/scenarios/transfer-flood.yaml"),
		&dir,
		&db.display().to_string(),
		&[],
	);
	assert_eq!(r.code, Some(0), "{}", r.context());
	let report = r.report();
	assert_eq!(report.stresses.len(), 1, "{}", r.context());
	let s = &report.stresses[0];
	assert_eq!(s.profile, "transfer-flood");
	assert_eq!(s.accounts, 4096);
	assert!(s.signed > 0 && s.signed == s.submitted, "{s:#?}");
	assert!(s.accepted > 0 && s.included > 0, "{s:#?}");
	assert_eq!(
		s.failed, 0,
		"transfers between funded accounts fail: {:?}",
		s.failed_by
	);
	assert!(s.included <= s.accepted, "{s:#?}");
	assert!(s.included_tps > 100.0, "{s:#?}");
	assert!(
		s.latency.count == s.included && s.latency.p50 > 0.0,
		"{:?}",
		s.latency
	);
	assert!(s.latency.p50 <= s.latency.p95 && s.latency.p95 <= s.latency.p99);
	// The theoretical maximum comes from the transfer's weight and the block's normal limit.
	let theory = s
		.theoretical_per_block
		.expect("theoretical maximum per block");
	assert!(theory > 100, "{theory}");
	let loaded: Vec<_> = s.blocks.iter().filter(|b| b.ours > 0).collect();
	assert!(loaded.len() >= 5, "{:#?}", s.blocks);
	for b in &loaded {
		assert!(b.normal_limit > 0 && b.length_limit > 0, "{b:?}");
		assert!(b.normal_weight > 0 && b.length > 0, "{b:?}");
		assert!(
			b.ours <= theory,
			"block #{} holds {} > {theory}",
			b.number,
			b.ours
		);
	}
	// Which limit stopped growth: the chain's, never the generator's.
	assert_ne!(s.limit, "generator", "{}: {}", s.limit, s.limit_detail);
	assert!(
		["weight", "length", "pool", "authoring-time"].contains(&s.limit.as_str()),
		"{}: {}",
		s.limit,
		s.limit_detail
	);
	assert!(!s.limit_detail.is_empty());
	let gate = r.gate("stress-included-tps");
	assert!(gate.passed, "{gate:?}");
	assert!(r.stdout.contains("limit:"), "{}", r.context());

	// The report rebuilt from the store has the load, and the page draws its chart.
	let (code, json, stderr) = super::run(&[
		"report".as_ref(),
		r.run_id.as_ref(),
		"--format".as_ref(),
		"json".as_ref(),
		"--database-url".as_ref(),
		db.as_os_str(),
	]);
	assert_eq!(code, Some(0), "{stderr}");
	let rebuilt = stagenet_report::parse_json(&json).expect("json report");
	assert_eq!(rebuilt.stresses, report.stresses);
	let page = r.dir.join("reports/report.html");
	let dom = rendered(&page);
	assert!(dom.contains("data-rendered=\"ok\""), "{dom}");
	assert!(
		dom.contains("data-chart=\"stress-0\""),
		"no stress chart in {}",
		page.display()
	);
	assert_no_nodes_left(&r.run_id);
}

#[test]
fn stress_with_a_profile_that_does_not_parse_is_bad_input_and_sends_nothing() {
	let dir = work("stress-bad-profile");
	let profile = dir.join("bad.yaml");
	std::fs::write(
		&profile,
		"version: 1\nmix:\n  - call: Balances\n    weight: 0\nrate: -5\n",
	)
	.expect("write");
	let (code, _stdout, stderr) = super::run(&[
		"stress".as_ref(),
		"no-such-run".as_ref(),
		"--profile".as_ref(),
		profile.as_os_str(),
	]);
	assert_eq!(code, Some(2), "{stderr}");
	assert!(stderr.contains("mix[0].call"), "{stderr}");
	assert!(stderr.contains("rate"), "{stderr}");
	assert!(stderr.contains("duration"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_shipped_test_chain_load_runs_with_its_setup_and_names_its_limit() {
	stagenet_test_support::require!(TestChain);
	source().await;
	let dir = work("bittensor-loads");
	let db = dir.join("store.db");
	let r = rehearse(
		&repo_root().join("fork-tests/scenarios/bittensor-loads.yaml"),
		&dir,
		&db.display().to_string(),
		&[],
	);
	assert_eq!(r.code, Some(0), "{}", r.context());
	let report = r.report();
	let names: Vec<&str> = report.stresses.iter().map(|s| s.profile.as_str()).collect();
	assert_eq!(
		names,
		[
			"registration-rush",
			"staking-churn",
			"weight-storm",
			"axon-storm",
			"rpc-read-storm"
		]
	);
	for s in &report.stresses {
		assert!(s.included > 0, "{}: {s:#?}", s.profile);
		assert!(
			[
				"weight",
				"length",
				"pool",
				"rate-limit",
				"authoring-time",
				"none"
			]
			.contains(&s.limit.as_str()),
			"{}: {} — {}",
			s.profile,
			s.limit,
			s.limit_detail
		);
		assert_ne!(s.limit, "generator", "{}: {}", s.profile, s.limit_detail);
	}
	let by = |name: &str| {
		report
			.stresses
			.iter()
			.find(|s| s.profile == name)
			.unwrap_or_else(|| panic!("no load `{name}`"))
	};
	// A rush registers each account once; the later attempts are refused by the pallet.
	let rush = by("registration-rush");
	assert!(
		rush.failed_by
			.iter()
			.all(|f| f.reason == "Subnets::HotkeyAlreadyRegistered"),
		"{:?}",
		rush.failed_by
	);
	// Setup registered every account and switched the rate limits off: nothing fails.
	for name in ["staking-churn", "weight-storm", "axon-storm"] {
		let s = by(name);
		assert_eq!(s.failed, 0, "{name}: {:?}", s.failed_by);
		assert_eq!(s.limit, "weight", "{name}: {}", s.limit_detail);
	}
	let reads = by("rpc-read-storm");
	let read = reads.read_latency.expect("read latencies");
	assert!(read.count > 1000, "{read:?}");
	assert!(reads
		.calls
		.iter()
		.any(|c| c.call == "rpc:state_getStorage" && c.failed == 0));
	assert_no_nodes_left(&r.run_id);
}

#[tokio::test(flavor = "multi_thread")]
async fn stress_against_a_run_of_stagenet_up_stores_the_load_and_gates_on_included_tps() {
	stagenet_test_support::require!(TestChain);
	let source = stagenet_fork_tests::fixtures::shared_replay_source().await;
	let fork = super::replay::Fork::start("stress-cli", &source);
	let profile = repo_root().join("fork-tests/loads/test-chain/transfer-flood.yaml");
	let store = fork.store();
	let stress = |extra: &[&str]| {
		let mut args: Vec<&std::ffi::OsStr> = vec![
			"stress".as_ref(),
			fork.run_id.as_ref(),
			"--profile".as_ref(),
			profile.as_os_str(),
			"--runs-dir".as_ref(),
			fork.runs.as_os_str(),
			"--database-url".as_ref(),
			store.as_os_str(),
			"--duration".as_ref(),
			"4s".as_ref(),
		];
		args.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
		super::run(&args)
	};
	// Below capacity (595 per block): the target is met.
	let (code, stdout, stderr) = stress(&["--rate", "200"]);
	assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
	assert!(
		stdout.contains("stress `transfer-flood`: 200 tx/s"),
		"{stdout}"
	);
	assert!(stdout.contains("limit: none"), "{stdout}");
	assert!(stdout.contains("report: stagenet report"), "{stdout}");
	// A minimum the chain cannot reach fails the command with the limit named.
	let (code, stdout, stderr) =
		stress(&["--rate", "300", "--min-included-tps", "100000", "--json"]);
	assert_eq!(code, Some(1), "stdout:\n{stdout}\nstderr:\n{stderr}");
	assert!(
		stderr.contains("fewer than `--min-included-tps 100000`"),
		"{stderr}"
	);
	let record: stagenet_store::StressRecord = serde_json::from_str(&stdout).expect("json record");
	assert_eq!(record.seq, 1);
	assert_eq!(record.failed, 0, "{:?}", record.failed_by);
	assert!(record.included > 0 && record.included <= record.accepted);
	// Both loads are stored with the run (which `stagenet up` did not record itself).
	let (code, json, stderr) = super::run(&[
		"report".as_ref(),
		fork.run_id.as_ref(),
		"--format".as_ref(),
		"json".as_ref(),
		"--database-url".as_ref(),
		store.as_os_str(),
	]);
	assert_eq!(code, Some(0), "{stderr}");
	let report = stagenet_report::parse_json(&json).expect("json report");
	assert_eq!(report.stresses.len(), 2);
	assert_eq!(report.stresses[1], record);
	fork.down();
}

use super::*;

/// A directory with the files a scenario names.
fn dir() -> tempfile::TempDir {
	let d = tempfile::tempdir().expect("tempdir");
	for f in ["state.snap", "profile.yaml", "topology.yaml", "new.wasm"] {
		std::fs::write(d.path().join(f), b"x").expect("write");
	}
	d
}

fn parse(d: &tempfile::TempDir, text: &str) -> Result<(Scenario, Vec<Problem>), ScenarioError> {
	Scenario::parse(&d.path().join("s.yaml"), text, false)
}

#[test]
fn a_full_scenario_reads_into_typed_steps_and_gates() {
	let d = dir();
	let (s, warnings) = parse(
		&d,
		"version: 1\nsource: { snapshot: state.snap }\nfork: { profile: profile.yaml, warmup: 30 }\n\
		 topology: topology.yaml\nsteps:\n  - wait_blocks: 3\n  - upgrade: { wasm: new.wasm, via: authorize }\n\
		 \x20 - wait-blocks: { blocks: 10, timeout: 90s }\n  - fault: { node: charlie, action: kill }\n\
		 \x20 - assert_storage: { name: stake-sum, sum: Subnets.Stake, equals: Subnets.TotalStake }\n\
		 \x20 - assert-storage: { name: subnets, count: Subnets.Tempo, at-least: 2 }\n\
		 gates: { no-panic: true, migration-weight: 50%, normal_weight: 75, block-time-p95: 1500ms, finality-lag: 5, keeps-producing: 10 }\n",
	)
	.expect("valid");
	assert!(warnings.is_empty(), "{warnings:?}");
	assert_eq!(s.name, "s");
	assert_eq!(s.source, Source::Snapshot(d.path().join("state.snap")));
	assert_eq!(s.fork.warmup, Some(30));
	assert_eq!(s.steps.len(), 6);
	assert_eq!(
		s.steps[0],
		Step::WaitBlocks {
			blocks: 3,
			timeout: Duration::from_secs(48)
		}
	);
	assert_eq!(
		s.steps[1],
		Step::Upgrade {
			wasm: d.path().join("new.wasm"),
			via: UpgradeVia::Authorize,
			diff_after: 3
		}
	);
	assert_eq!(
		s.steps[4],
		Step::AssertStorage {
			name: "stake-sum".into(),
			check: Check::Sum {
				item: "Subnets.Stake".into(),
				equals: Operand::Item("Subnets.TotalStake".into())
			}
		}
	);
	assert_eq!(s.gates.migration_weight_percent, Some(50.0));
	assert_eq!(s.gates.normal_weight_percent, Some(75.0));
	assert_eq!(s.gates.block_time_p95, Some(Duration::from_millis(1500)));
	assert_eq!(s.gates.finality_lag, Some(5));
	assert_eq!(s.gates.keeps_producing, Some(10));
	assert_eq!(s.upgrades().count(), 1);
}

#[test]
fn every_problem_is_listed_with_its_path() {
	let d = dir();
	let err = parse(
		&d,
		"version: 2\nsource: { snapshot: missing.snap }\nfork: {}\ntopology: topology.yaml\n\
		 steps:\n  - wait-blocks: 0\n  - upgrade: { wasm: nope.wasm, via: magic }\n  - jump: 3\n\
		 \x20 - assert-storage: { name: x, sum: NotAnItem, equals: Subnets.TotalStake }\n\
		 gates: { migration-weight: lots, speed: 3 }\n",
	)
	.expect_err("invalid");
	let text = err.to_string();
	for path in [
		"`version`",
		"`source.snapshot`",
		"`fork.profile`",
		"`steps[0].wait-blocks`",
		"`steps[1].upgrade.via`",
		"`steps[2]`: unknown step `jump`",
		"`steps[3].assert-storage.sum`",
		"`gates.migration-weight`",
		"`gates.speed`",
	] {
		assert!(text.contains(path), "{path} missing from:\n{text}");
	}
	assert!(text.contains("hint:"), "{text}");
}

#[test]
fn unknown_keys_warn_and_strict_refuses() {
	let d = dir();
	let text = "version: 1\nsource: { snapshot: state.snap }\nfork: { profile: profile.yaml, warmpu: 3 }\ntopology: topology.yaml\n";
	let (_, warnings) = parse(&d, text).expect("valid with a warning");
	assert_eq!(warnings.len(), 1);
	assert!(
		warnings[0].message.contains("did you mean `warmup`?"),
		"{warnings:?}"
	);
	let strict = Scenario::parse(&d.path().join("s.yaml"), text, true).expect_err("strict");
	assert!(strict.to_string().contains("warmpu"), "{strict}");
}

#[test]
fn a_url_source_takes_a_block_number_or_hash() {
	let d = dir();
	let (s, _) = parse(
		&d,
		"version: 1\nsource: { url: ws://127.0.0.1:9944, block: 1200 }\nfork: { profile: profile.yaml }\ntopology: topology.yaml\n",
	)
	.expect("valid");
	assert_eq!(
		s.source,
		Source::Rpc {
			url: "ws://127.0.0.1:9944".into(),
			block: Some("1200".into())
		}
	);
	let err = parse(
		&d,
		"version: 1\nsource: { url: http://x, snapshot: state.snap }\nfork: { profile: profile.yaml }\ntopology: topology.yaml\n",
	)
	.expect_err("both");
	assert!(
		err.to_string().contains("both `snapshot` and `url`"),
		"{err}"
	);
}

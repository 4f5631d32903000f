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

/// A scenario of `dir()` with these steps and gates, and the files they name.
fn with_steps(d: &tempfile::TempDir, steps: &str, gates: &str) -> String {
	for f in ["window.db", "flood.yaml"] {
		std::fs::write(d.path().join(f), b"x").expect("write");
	}
	format!(
		"version: 1\nsource: {{ snapshot: state.snap }}\nfork: {{ profile: profile.yaml }}\n\
		 topology: topology.yaml\nsteps:\n{steps}gates: {{ {gates} }}\n"
	)
}

fn problems_of(result: Result<(Scenario, Vec<Problem>), ScenarioError>) -> Vec<Problem> {
	match result {
		Err(ScenarioError::Invalid { problems, .. }) => problems,
		other => panic!("expected an invalid scenario, got {other:?}"),
	}
}

fn problem_at<'a>(problems: &'a [Problem], path: &str) -> &'a Problem {
	problems
		.iter()
		.find(|p| p.path == path)
		.unwrap_or_else(|| panic!("no problem at `{path}` in {problems:#?}"))
}

#[test]
fn replay_and_stress_steps_and_their_gates_read_into_typed_values() {
	let d = dir();
	let text = with_steps(
		&d,
		"  - replay: { capture: window.db, rate: 2x, from: 120, to: 180 }\n\
		 \x20 - replay: { capture: ./window.db, rate: max }\n\
		 \x20 - stress: { profile: flood.yaml, duration: 45s, rate: 2000 }\n\
		 \x20 - stress: { profile: flood.yaml, rate: 12.5 }\n",
		"replay-divergences: { max: 2, allow: [Subnets.set_weights, Balances.transfer_keep_alive] }, \
		 stress_included_tps: 100.5",
	);
	let (s, warnings) = parse(&d, &text).expect("valid");
	assert!(warnings.is_empty(), "{warnings:?}");
	assert_eq!(
		s.steps[0],
		Step::Replay {
			capture: d.path().join("window.db"),
			rate: ReplayRate::Factor(2.0),
			from: Some(120),
			to: Some(180)
		}
	);
	assert_eq!(
		s.steps[1],
		Step::Replay {
			capture: d.path().join("window.db"),
			rate: ReplayRate::Max,
			from: None,
			to: None
		}
	);
	assert_eq!(
		s.steps[2],
		Step::Stress {
			profile: d.path().join("flood.yaml"),
			duration: Some(Duration::from_secs(45)),
			rate: Some(2000.0)
		}
	);
	assert_eq!(
		s.steps[3],
		Step::Stress {
			profile: d.path().join("flood.yaml"),
			duration: None,
			rate: Some(12.5)
		}
	);
	assert_eq!(
		s.steps.iter().map(Step::kind).collect::<Vec<_>>(),
		["replay", "replay", "stress", "stress"]
	);
	assert_eq!(s.gates.replay_max_divergences, Some(2));
	assert_eq!(
		s.gates.replay_allowed_calls,
		["Subnets.set_weights", "Balances.transfer_keep_alive"]
	);
	assert_eq!(s.gates.stress_min_included_tps, Some(100.5));
	assert!(s.gates.no_panic, "the default stays");
}

#[test]
fn short_forms_take_a_file_and_a_plain_number_gate() {
	let d = dir();
	let text = with_steps(
		&d,
		"  - replay: window.db\n  - stress: flood.yaml\n",
		"replay_divergences: 0",
	);
	let (s, warnings) = parse(&d, &text).expect("valid");
	assert!(warnings.is_empty(), "{warnings:?}");
	assert_eq!(
		s.steps,
		[
			Step::Replay {
				capture: d.path().join("window.db"),
				rate: ReplayRate::AsCaptured,
				from: None,
				to: None
			},
			Step::Stress {
				profile: d.path().join("flood.yaml"),
				duration: None,
				rate: None
			}
		]
	);
	assert_eq!(s.gates.replay_max_divergences, Some(0));
	assert!(s.gates.replay_allowed_calls.is_empty());
	assert_eq!(s.gates.stress_min_included_tps, None);
}

#[test]
fn bad_replay_and_stress_steps_and_gates_are_listed_with_their_paths() {
	let d = dir();
	let text = with_steps(
		&d,
		"  - replay: { capture: window.db, rate: fast }\n\
		 \x20 - replay: { capture: window.db, rate: 2 }\n\
		 \x20 - replay: { capture: missing.db, from: 9, to: 3 }\n\
		 \x20 - replay: { rate: max }\n\
		 \x20 - stress: { profile: flood.yaml, duration: 30, rate: -1 }\n\
		 \x20 - stress: { profile: nope.yaml, duration: 0s }\n\
		 \x20 - stres: flood.yaml\n",
		"stress-included-tps: -5, replay-divergences: { max: 1, allow: [set_weights] }",
	);
	let problems = problems_of(parse(&d, &text));
	let rate = problem_at(&problems, "steps[0].replay.rate");
	assert!(rate.message.contains("saw `fast`"), "{rate:?}");
	assert!(rate.message.contains("hint:"), "{rate:?}");
	assert!(problem_at(&problems, "steps[1].replay.rate")
		.message
		.contains("write `2x`"));
	assert!(problem_at(&problems, "steps[2].replay")
		.message
		.contains("`from` 9 is after `to` 3"));
	let missing = problem_at(&problems, "steps[2].replay.capture");
	assert!(missing.message.contains("does not exist"), "{missing:?}");
	assert!(missing.message.contains("stagenet capture"), "{missing:?}");
	problem_at(&problems, "steps[3].replay.capture");
	problem_at(&problems, "steps[4].stress.duration");
	problem_at(&problems, "steps[4].stress.rate");
	problem_at(&problems, "steps[5].stress.profile");
	problem_at(&problems, "steps[5].stress.duration");
	assert!(problem_at(&problems, "steps[6]")
		.message
		.contains("`stress`"));
	let tps = problem_at(&problems, "gates.stress-included-tps");
	assert!(
		tps.message.contains("`-5`") || tps.message.contains("-5"),
		"{tps:?}"
	);
	assert!(problem_at(&problems, "gates.replay-divergences.allow[0]")
		.message
		.contains("`Pallet.call`"));
}

#[test]
fn unknown_keys_of_replay_and_stress_steps_warn() {
	let d = dir();
	let text = with_steps(
		&d,
		"  - replay: { capture: window.db, rat: 2x }\n  - stress: { profile: flood.yaml, durration: 5s }\n",
		"replay-divergences: { max: 0, alow: [] }",
	);
	let (s, warnings) = parse(&d, &text).expect("valid with warnings");
	assert_eq!(
		s.steps[0],
		Step::Replay {
			capture: d.path().join("window.db"),
			rate: ReplayRate::AsCaptured,
			from: None,
			to: None
		}
	);
	assert_eq!(warnings.len(), 3, "{warnings:?}");
	for (path, key) in [
		("steps[0].replay.rat", "rate"),
		("steps[1].stress.durration", "duration"),
		("gates.replay-divergences.alow", "allow"),
	] {
		let w = problem_at(&warnings, path);
		assert!(
			w.message.contains(&format!("did you mean `{key}`?")),
			"{w:?}"
		);
	}
	let strict = Scenario::parse(&d.path().join("s.yaml"), &text, true).expect_err("strict");
	assert!(strict.to_string().contains("rat"), "{strict}");
}

#[test]
fn an_invariant_compares_sums_counts_and_their_sums() {
	let d = dir();
	let step = |equals: &str| {
		format!(
			"version: 1\nsource: {{ snapshot: state.snap }}\nfork: {{ profile: profile.yaml }}\n\
			 topology: topology.yaml\nsteps:\n  - assert-storage: {{ name: n, sum: \
			 SubtensorModule.SubnetworkN, equals: {equals} }}\n"
		)
	};
	let check = |equals: &str| match parse(&d, &step(equals)) {
		Ok((s, _)) => match &s.steps[0] {
			Step::AssertStorage {
				check: Check::Sum { equals, .. },
				..
			} => equals.clone(),
			other => panic!("{other:?}"),
		},
		Err(e) => panic!("{equals}: {e}"),
	};
	assert_eq!(
		check("\"count(SubtensorModule.Keys)\""),
		Operand::Count("SubtensorModule.Keys".into())
	);
	assert_eq!(
		check("\"sum(SubtensorModule.Alpha)\""),
		Operand::Sum("SubtensorModule.Alpha".into())
	);
	let sum = check("\"Balances.TotalIssuance + sum(SubtensorModule.SubnetLocked) + 1_000\"");
	assert_eq!(
		sum,
		Operand::Add(vec![
			Operand::Item("Balances.TotalIssuance".into()),
			Operand::Sum("SubtensorModule.SubnetLocked".into()),
			Operand::Number(1000),
		])
	);
	assert_eq!(
		sum.to_string(),
		"Balances.TotalIssuance + sum(SubtensorModule.SubnetLocked) + 1000"
	);
	for bad in [
		"\"count(SubtensorModule.Keys\"",
		"\"sum(Keys)\"",
		"\"1 + \"",
	] {
		let err = parse(&d, &step(bad)).expect_err(bad).to_string();
		assert!(
			err.contains("`steps[0].assert-storage.equals`"),
			"{bad}: {err}"
		);
	}
}

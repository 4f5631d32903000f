//! Tests of load profiles: parsing, every problem at once with its path, rates, placeholders,
//! and the profiles shipped in `fork-tests/loads/`.

use super::*;

fn parse(text: &str) -> Result<(StressProfile, Vec<Problem>), StressProfileError> {
	StressProfile::parse(Path::new("/loads/flood.yaml"), text, false)
}

fn problems(result: Result<(StressProfile, Vec<Problem>), StressProfileError>) -> Vec<Problem> {
	match result {
		Err(StressProfileError::Invalid { problems, .. }) => problems,
		other => panic!("expected an invalid profile, got {other:?}"),
	}
}

fn at<'a>(problems: &'a [Problem], path: &str) -> &'a Problem {
	problems
		.iter()
		.find(|p| p.path == path)
		.unwrap_or_else(|| panic!("no problem at `{path}` in {problems:#?}"))
}

/// A valid profile with `rate` replaced by `rate`.
fn with_rate(rate: &str) -> String {
	format!(
		"version: 1\naccounts: {{ uri: \"//stress//{{i}}\", count: 8 }}\n\
		 mix: [{{ call: Balances.transfer_keep_alive, args: {{ dest: {{ Id: \"{{peer}}\" }}, value: 1000 }} }}]\n\
		 rate: {rate}\nduration: 30s\n"
	)
}

#[test]
fn a_full_profile_reads_into_typed_fields() {
	let text = r#"
version: 1
name: weight-storm
description: Validators set weights as fast as the rate limit allows.
spec-name: stagenet-test
accounts: { uri: "//stress//{i}", count: 64, first: 100 }
setup:
  - { call: Subnets.sudo_set_weights_set_rate_limit, args: { netuid: 1, limit: 0 }, sudo: true }
  - { call: Subnets.burned_register, args: { netuid: 1, hotkey: "{signer}" }, each-account: true }
mix:
  - call: Subnets.set_weights
    weight: 3
    args: { netuid: 1, dests: [0, 1, "{rand:2..16}"], weights: [100, 200, 300] }
  - rpc: state_getStorage
    params: ["0x1234"]
rate: 250.5
duration: 1m30s
bounds: { max-transactions: 10000, max-in-flight: 500, drain: 5s }
connections: 8
"#;
	let (p, warnings) = parse(text).expect("valid");
	assert!(warnings.is_empty(), "{warnings:?}");
	assert_eq!(p.file, Path::new("/loads/flood.yaml"));
	assert_eq!(p.name, "weight-storm");
	assert_eq!(p.spec_name.as_deref(), Some("stagenet-test"));
	assert!(p
		.description
		.as_deref()
		.is_some_and(|d| d.starts_with("Validators")));
	assert_eq!(
		p.accounts,
		Accounts {
			uri: "//stress//{i}".into(),
			count: 64,
			first: 100
		}
	);
	assert_eq!(p.accounts.uri_of(0), "//stress//100");
	assert_eq!(p.accounts.uri_of(63), "//stress//163");
	assert_eq!(p.setup.len(), 2);
	assert!(p.setup[0].sudo && !p.setup[0].each_account);
	assert!(!p.setup[1].sudo && p.setup[1].each_account);
	assert_eq!(p.setup[1].call.name(), "Subnets.burned_register");
	assert_eq!(
		p.setup[1].call.args.get("hotkey"),
		Some(&Value::String("{signer}".into()))
	);
	assert_eq!(p.mix.len(), 2);
	assert_eq!(p.mix[0].weight, 3);
	let Action::Call(call) = &p.mix[0].action else {
		panic!("a call: {:?}", p.mix[0]);
	};
	assert_eq!(
		(call.pallet.as_str(), call.call.as_str()),
		("Subnets", "set_weights")
	);
	assert_eq!(
		call.args.keys().collect::<Vec<_>>(),
		["dests", "netuid", "weights"]
	);
	assert_eq!(
		p.mix[1],
		MixEntry {
			weight: 1,
			action: Action::Rpc {
				method: "state_getStorage".into(),
				params: vec![Value::String("0x1234".into())],
			},
		}
	);
	assert_eq!(p.calls().count(), 1);
	assert_eq!(p.rate, Rate::Constant(250.5));
	assert_eq!(p.duration, Duration::from_secs(90));
	assert_eq!(
		p.bounds,
		Bounds {
			max_transactions: Some(10_000),
			max_in_flight: 500,
			drain: Duration::from_secs(5)
		}
	);
	assert_eq!(p.connections, 8);
}

#[test]
fn defaults_and_snake_case_keys() {
	let text = "version: 1\naccounts: //Bob\nspec_name: node-subtensor\n\
	            setup: [{ call: Subnets.burned_register, args: { netuid: 1, hotkey: \"{signer}\" }, each_account: true }]\n\
	            mix: [{ call: Balances.transfer_keep_alive, args: { dest: { Id: \"{peer}\" }, value: 1 } }]\n\
	            rate: 10\nduration: 5s\nbounds: { max_in_flight: 7 }\n";
	let (p, warnings) = parse(text).expect("valid");
	assert!(warnings.is_empty(), "{warnings:?}");
	assert_eq!(p.name, "flood", "the file stem");
	assert_eq!(p.spec_name.as_deref(), Some("node-subtensor"));
	assert_eq!(
		p.accounts,
		Accounts {
			uri: "//Bob".into(),
			count: 1,
			first: 0
		}
	);
	assert!(p.setup[0].each_account);
	assert_eq!(
		p.bounds,
		Bounds {
			max_transactions: None,
			max_in_flight: 7,
			drain: Duration::from_secs(20)
		}
	);
	assert_eq!(p.connections, 4);
	assert_eq!(p.mix[0].weight, 1);

	// A read-only profile needs no accounts.
	let (p, _) = parse(
		"version: 1\nmix: [{ rpc: system_health }, { rpc: chain_getHeader, weight: 2 }]\nrate: 100\nduration: 10s\n",
	)
	.expect("reads only");
	assert_eq!(p.accounts.count, 1);
	assert_eq!(p.calls().count(), 0);
	assert_eq!(
		p.mix[0].action,
		Action::Rpc {
			method: "system_health".into(),
			params: Vec::new()
		}
	);
}

#[test]
fn every_problem_is_listed_with_its_path() {
	let text = r#"
version: 2
name: ""
accounts: { uri: "//stress", count: 0 }
setup:
  - { call: Subnets.burned_register, sudo: true, each-account: true }
  - { args: { netuid: 1 } }
  - { call: not-a-call }
mix:
  - { call: Balances.transfer_keep_alive, rpc: system_health }
  - { weight: 2 }
  - { call: Balances, args: [1, 2] }
  - { call: Balances.transfer_keep_alive, weight: 0, args: { dest: { Id: "{singer}" }, value: "{rand:9..3}" } }
  - { rpc: "state call", params: "0x" }
  - { rpc: system_health, args: { a: 1 } }
rate: -5
duration: 0s
bounds: { max-in-flight: 0, drain: soon }
connections: 65
"#;
	let problems = problems(parse(text));
	for path in [
		"version",
		"name",
		"accounts.count",
		"setup[0]",
		"setup[1].call",
		"setup[2].call",
		"mix[0]",
		"mix[1]",
		"mix[2].call",
		"mix[2].args",
		"mix[3].weight",
		"mix[3].args.dest.Id",
		"mix[3].args.value",
		"mix[4].rpc",
		"mix[5].args",
		"rate",
		"duration",
		"bounds.max-in-flight",
		"bounds.drain",
		"connections",
	] {
		at(&problems, path);
	}
	assert!(at(&problems, "version").message.contains("hint:"));
	assert!(at(&problems, "setup[0]")
		.message
		.contains("`sudo` and `each-account`"));
	assert!(at(&problems, "mix[0]")
		.message
		.contains("both `call` and `rpc`"));
	assert!(at(&problems, "mix[1]")
		.message
		.contains("neither `call` nor `rpc`"));
	assert!(at(&problems, "mix[3].args.dest.Id")
		.message
		.contains("unknown placeholder `{singer}`"));
	assert!(at(&problems, "mix[3].args.value")
		.message
		.contains("empty range"));
	assert!(at(&problems, "connections").message.contains("1 to 64"));
	let rendered = StressProfileError::Invalid {
		file: "flood.yaml".into(),
		problems: problems.clone(),
	}
	.to_string();
	assert!(
		rendered.starts_with(&format!(
			"load profile `flood.yaml` has {} problem(s)",
			problems.len()
		)),
		"{rendered}"
	);
}

#[test]
fn a_newer_version_is_refused_with_a_hint_and_a_missing_one_too() {
	let newer = problems(parse(&with_rate("10").replace("version: 1", "version: 7")));
	assert!(
		at(&newer, "version").message.contains("newer stagenet"),
		"{newer:?}"
	);
	let missing = problems(parse(&with_rate("10").replace("version: 1\n", "")));
	assert!(at(&missing, "version")
		.message
		.contains("start the file with `version: 1`"));
	let empty = problems(parse(""));
	assert!(empty[0].message.contains("an empty file"), "{empty:?}");
	let malformed = problems(parse("version: [1\n"));
	assert!(
		malformed[0].message.contains("malformed YAML"),
		"{malformed:?}"
	);
}

#[test]
fn accounts_must_be_secret_uris_with_an_index() {
	for (uri, count, wanted) in [
		("//stress", 4, "has no `{i}`"),
		(
			"5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
			1,
			"not a secret URI",
		),
		("alice{i}", 2, "not a secret URI"),
		("//stress//{n}", 1, "only `{i}`"),
		("//", 1, "no junction"),
	] {
		let text = with_rate("10").replace(
			"{ uri: \"//stress//{i}\", count: 8 }",
			&format!("{{ uri: \"{uri}\", count: {count} }}"),
		);
		let problems = problems(parse(&text));
		assert!(
			at(&problems, "accounts.uri").message.contains(wanted),
			"{uri}: {problems:?}"
		);
	}
	let phrase =
		"bottom drive obey lake curtain smoke basket hold race lonely fit walk//stress//{i}";
	let text = with_rate("10").replace("//stress//{i}", phrase);
	let (p, _) = parse(&text).expect("a phrase with junctions");
	assert_eq!(p.accounts.uri, phrase);
	let overflow = problems(parse(
		&with_rate("10").replace("count: 8 }", "count: 8, first: 4294967290 }"),
	));
	at(&overflow, "accounts");
	let missing = problems(parse(
		&with_rate("10").replace("accounts: { uri: \"//stress//{i}\", count: 8 }\n", ""),
	));
	assert!(at(&missing, "accounts").message.contains("hint:"));
}

#[test]
fn unknown_keys_warn_with_the_closest_key_and_strict_refuses() {
	let text = with_rate("10") + "conections: 8\nbounds: { drian: 5s }\n";
	let (p, warnings) = parse(&text).expect("valid with warnings");
	assert_eq!(p.connections, 4);
	assert_eq!(warnings.len(), 2, "{warnings:?}");
	let w = at(&warnings, "conections");
	assert!(w.message.contains("did you mean `connections`?"), "{w:?}");
	assert!(w.message.contains("ignored"), "{w:?}");
	let w = at(&warnings, "bounds.drian");
	assert!(w.message.contains("did you mean `drain`?"), "{w:?}");
	let strict = StressProfile::parse(Path::new("flood.yaml"), &text, true).expect_err("strict");
	let problems = match strict {
		StressProfileError::Invalid { problems, .. } => problems,
		other => panic!("{other:?}"),
	};
	assert!(!at(&problems, "conections").message.contains("ignored"));
	let nested = with_rate("{ ramp: { from: 1, to: 2, over: 3s, unit: tx } }");
	let (_, warnings) = parse(&nested).expect("valid with a warning");
	at(&warnings, "rate.ramp.unit");
}

#[test]
fn each_rate_form_reads_and_bad_ones_are_refused() {
	let (p, _) = parse(&with_rate("2000")).expect("constant");
	assert_eq!(p.rate, Rate::Constant(2000.0));
	let (p, _) = parse(&with_rate("{ ramp: { from: 0, to: 3000, over: 1m } }")).expect("ramp");
	assert_eq!(
		p.rate,
		Rate::Ramp {
			from: 0.0,
			to: 3000.0,
			over: Duration::from_secs(60)
		}
	);
	let (p, _) = parse(&with_rate(
		"{ steps: [{ rate: 500, for: 20s }, { rate: 0, for: 5s }, { rate: 1000.5, for: 20s }] }",
	))
	.expect("steps");
	assert_eq!(
		p.rate,
		Rate::Steps(vec![
			(500.0, Duration::from_secs(20)),
			(0.0, Duration::from_secs(5)),
			(1000.5, Duration::from_secs(20))
		])
	);
	for (rate, path, wanted) in [
		("0", "rate", "out of range"),
		("fast", "rate", "expected a number"),
		("\"2000\"", "rate", "expected a number"),
		(
			"{ ramp: { from: -1, to: 0, over: 0s } }",
			"rate.ramp.from",
			"out of range",
		),
		(
			"{ ramp: { from: 1, to: 0, over: 5s } }",
			"rate.ramp.to",
			"out of range",
		),
		(
			"{ ramp: { from: 1, to: 2, over: 0s } }",
			"rate.ramp.over",
			"longer than 0s",
		),
		("{ ramp: { from: 1, to: 2 } }", "rate.ramp.over", "missing"),
		(
			"{ ramp: { from: 1, to: 2, over: 60 } }",
			"rate.ramp.over",
			"no unit",
		),
		("{ steps: [] }", "rate.steps", "is empty"),
		(
			"{ steps: [{ rate: 0, for: 5s }] }",
			"rate.steps",
			"every step is 0",
		),
		("{ steps: [{ rate: 5 }] }", "rate.steps[0].for", "missing"),
		(
			"{ steps: [{ rate: -5, for: 5s }] }",
			"rate.steps[0].rate",
			"out of range",
		),
		(
			"{ ramp: { from: 1, to: 2, over: 5s }, steps: [] }",
			"rate",
			"both",
		),
		("{}", "rate", "neither"),
	] {
		let problems = problems(parse(&with_rate(rate)));
		assert!(
			at(&problems, path).message.contains(wanted),
			"{rate}: {problems:?}"
		);
	}
	let ramp = problems(parse(&with_rate("{ ramp: { from: -1, to: 0, over: 0s } }")));
	for path in ["rate.ramp.from", "rate.ramp.to", "rate.ramp.over"] {
		at(&ramp, path);
	}
}

#[test]
fn placeholders_are_checked_in_args_and_params() {
	let text = r#"
version: 1
accounts: { uri: "//stress//{i}", count: 2 }
mix:
  - call: Subnets.serve_axon
    args: { netuid: 1, version: "{seq}", ip: "{rand:2130706433..2130771967}", port: "{uid}", note: "from {signer} to {peer}", nested: [[{ x: "{rand:0..1}" }]] }
  - rpc: state_call
    params: ["SubnetInfoRuntimeApi_get_metagraph", "{rand:0..2}"]
rate: 1
duration: 1s
"#;
	parse(text).expect("known placeholders");
	for (arg, wanted) in [
		("\"{i}\"", "`{uid}`"),
		("\"{signer\"", "never closes"),
		("\"{rand:1..}\"", "not a range"),
		("\"{rand:a..b}\"", "not a range"),
		("\"{rand:5..5}\"", "empty range"),
		("\"x {nonce} y\"", "unknown placeholder `{nonce}`"),
		("[1, \"{who}\"]", "unknown placeholder"),
	] {
		let text = with_rate("1").replace("value: 1000", &format!("value: {arg}"));
		let problems = problems(parse(&text));
		let p = problems
			.iter()
			.find(|p| p.path.starts_with("mix[0].args.value"))
			.unwrap_or_else(|| panic!("{arg}: {problems:?}"));
		assert!(p.message.contains(wanted), "{arg}: {p:?}");
		assert!(p.message.contains("hint:"), "{arg}: {p:?}");
	}
	let rpc = problems(parse(
		"version: 1\nmix: [{ rpc: state_getStorage, params: [\"{key}\"] }]\nrate: 1\nduration: 1s\n",
	));
	at(&rpc, "mix[0].params[0]");
}

#[test]
fn rate_over_time_expected_sends_peak_and_label() {
	let constant = Rate::Constant(100.0);
	assert_eq!(constant.at(Duration::from_secs(7)), 100.0);
	assert!((constant.expected(Duration::from_secs(3)) - 300.0).abs() < 1e-6);
	assert_eq!(constant.peak(), 100.0);
	assert_eq!(constant.label(), "100 tx/s");

	let ramp = Rate::Ramp {
		from: 100.0,
		to: 300.0,
		over: Duration::from_secs(10),
	};
	assert_eq!(ramp.at(Duration::ZERO), 100.0);
	assert!((ramp.at(Duration::from_secs(5)) - 200.0).abs() < 1e-9);
	assert_eq!(ramp.at(Duration::from_secs(10)), 300.0);
	assert_eq!(ramp.at(Duration::from_secs(60)), 300.0);
	// 10 s averaging 200 tx/s, then 5 s at 300 tx/s.
	let sent = ramp.expected(Duration::from_secs(15));
	assert!((sent - 3500.0).abs() < 2.0, "{sent}");
	assert_eq!(ramp.peak(), 300.0);
	let down = Rate::Ramp {
		from: 500.0,
		to: 10.0,
		over: Duration::from_secs(1),
	};
	assert_eq!(down.peak(), 500.0);
	assert_eq!(ramp.label(), "ramp 100 → 300 tx/s over 10s");

	let steps = Rate::Steps(vec![
		(500.0, Duration::from_secs(2)),
		(1000.0, Duration::from_secs(2)),
		(250.0, Duration::from_secs(1)),
	]);
	assert_eq!(steps.at(Duration::from_millis(1999)), 500.0);
	assert_eq!(steps.at(Duration::from_secs(2)), 1000.0);
	assert_eq!(steps.at(Duration::from_secs(4)), 250.0);
	assert_eq!(steps.at(Duration::from_secs(100)), 250.0, "the last holds");
	assert!((steps.expected(Duration::from_secs(6)) - 3500.0).abs() < 1e-6);
	assert_eq!(steps.peak(), 1000.0);
	assert_eq!(
		steps.label(),
		"steps 500 for 2s, 1000 for 2s, 250 for 1s tx/s"
	);
	assert_eq!(Rate::Steps(Vec::new()).peak(), 0.0);
}

/// Every profile shipped in `fork-tests/loads/`, with the directory it is in.
fn shipped() -> Vec<PathBuf> {
	let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fork-tests/loads");
	let mut files = Vec::new();
	for dir in ["test-chain", "subtensor"] {
		let entries = std::fs::read_dir(root.join(dir))
			.unwrap_or_else(|e| panic!("read `{}`: {e}", root.join(dir).display()));
		for entry in entries {
			let path = entry.expect("directory entry").path();
			if path.extension().is_some_and(|e| e == "yaml") {
				files.push(path);
			}
		}
	}
	files.sort();
	files
}

#[test]
fn every_shipped_profile_loads_without_warnings() {
	let files = shipped();
	assert!(files.len() >= 13, "{files:?}");
	for file in files {
		let (p, warnings) = StressProfile::load(&file, true)
			.unwrap_or_else(|e| panic!("`{}`: {e}", file.display()));
		assert!(warnings.is_empty(), "`{}`: {warnings:?}", file.display());
		let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned());
		assert_eq!(Some(p.name.clone()), stem, "`{}`", file.display());
		assert!(
			p.description.is_some(),
			"`{}` says what it models",
			file.display()
		);
		let chain = file
			.parent()
			.and_then(|d| d.file_name())
			.map(|d| d.to_string_lossy().into_owned());
		let spec = match chain.as_deref() {
			Some("test-chain") => "stagenet-test",
			Some("subtensor") => "node-subtensor",
			other => panic!("unexpected directory {other:?}"),
		};
		assert_eq!(p.spec_name.as_deref(), Some(spec), "`{}`", file.display());
		if spec == "node-subtensor" {
			for call in p.calls().chain(p.setup.iter().map(|s| &s.call)) {
				assert!(
					[
						"SubtensorModule",
						"AdminUtils",
						"Balances",
						"Utility",
						"Sudo"
					]
					.contains(&call.pallet.as_str()),
					"`{}`: {}",
					file.display(),
					call.name()
				);
			}
		}
	}
}

#[test]
fn spec_versions_read_as_ranges_and_bad_ones_are_refused() {
	let with = |range: &str| {
		format!(
			"version: 1\nspec-versions: {range}\naccounts: //Bob\n\
			 mix: [{{ call: Balances.transfer_keep_alive, args: {{ dest: {{ Id: \"{{peer}}\" }}, value: 1 }} }}]\n\
			 rate: 10\nduration: 5s\n"
		)
	};
	for (text, min, max, shown) in [
		("\"204..=218\"", 204, Some(218), "204..=218"),
		("\"204..219\"", 204, Some(218), "204..=218"),
		("\"425..\"", 425, None, "425.."),
		("218", 218, Some(218), "218"),
		("\"1_000..\"", 1000, None, "1000.."),
	] {
		let (p, _) = parse(&with(text)).unwrap_or_else(|e| panic!("{text}: {e}"));
		let r = p
			.spec_versions
			.unwrap_or_else(|| panic!("{text}: no range"));
		assert_eq!((r.min, r.max), (min, max), "{text}");
		assert_eq!(r.to_string(), shown);
	}
	let r = SpecVersions {
		min: 204,
		max: Some(218),
	};
	assert!(r.contains(204) && r.contains(218) && !r.contains(203) && !r.contains(219));
	for bad in ["\"218..204\"", "\"abc\"", "\"204..=x\"", "[204]", "\"..0\""] {
		let problems = problems(parse(&with(bad)));
		let p = at(&problems, "spec-versions");
		assert!(p.message.contains("hint:"), "{bad}: {p:?}");
	}
}

#[test]
fn a_setup_call_may_be_optional() {
	let text = "version: 1\naccounts: { uri: \"//stress//{i}\", count: 2 }\n\
	            setup:\n  - { call: AdminUtils.sudo_set_admin_freeze_window, args: { window: 0 }, sudo: true, optional: true }\n  \
	            - { call: Subnets.burned_register, args: { netuid: 1, hotkey: \"{signer}\" }, each-account: true }\n\
	            mix: [{ call: Balances.transfer_keep_alive, args: { dest: { Id: \"{peer}\" }, value: 1 } }]\n\
	            rate: 10\nduration: 5s\n";
	let (p, warnings) = parse(text).expect("valid");
	assert!(warnings.is_empty(), "{warnings:?}");
	assert!(p.setup[0].optional && p.setup[0].sudo);
	assert!(!p.setup[1].optional);
	let problems = problems(parse(&text.replace("optional: true", "optional: maybe")));
	at(&problems, "setup[0].optional");
}

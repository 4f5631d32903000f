//! Tests of topology files: parsing, every problem at once, planned nodes.

use super::*;

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

/// A directory with a chain spec, where topology files are written.
fn dir_with_spec() -> tempfile::TempDir {
	let dir = tempfile::tempdir().expect("temporary directory");
	std::fs::write(dir.path().join("fork.spec.json"), "{}").expect("write the spec");
	dir
}

fn parse(dir: &Path, text: &str, strict: bool) -> Result<(Topology, Vec<Problem>), TopologyError> {
	Topology::parse(&dir.join("topology.yaml"), text, strict)
}

fn problems(result: Result<(Topology, Vec<Problem>), TopologyError>) -> Vec<Problem> {
	match result {
		Err(TopologyError::Invalid { problems, .. }) => problems,
		other => panic!("expected an invalid topology, got {other:?}"),
	}
}

fn at<'a>(problems: &'a [Problem], path: &str) -> &'a Problem {
	problems
		.iter()
		.find(|p| p.path == path)
		.unwrap_or_else(|| panic!("no problem at `{path}` in {problems:#?}"))
}

const MINIMAL: &str = "version: 1\nchain: dev\nnode: { binary: ./node }\nvalidators: 1\n";

#[test]
fn full_file_reads_into_the_expected_topology() {
	let dir = dir_with_spec();
	let d = dir.path();
	let text = r#"
version: 1
name: rehearsal
chain: ./fork.spec.json
node:
  binary: ../bin/node-subtensor
  image: subtensor:test
  args: ["--state-pruning=archive", "--rpc-max-connections", 500]
  resources: { cpus: 1.5, memory: 2GiB }
validators: 3
validator-uris: ["//A", "//B", "//C"]
full-nodes: 1
rpc-nodes: 1
nodes:
  alice: { args: ["--log=runtime=debug"], resources: { memory: 4GiB } }
  rpc-1:
    resources: { cpus: 2 }
ready-timeout: 5m
workloads:
  - name: miner
    command: ./miner.py
    image: my-miner:latest
    args: ["--netuid", 1]
    env: { WALLET: alice, PORT: 8080 }
    replicas: 2
    gpus: 1
    depends-on: rpc-1
    resources: { memory: 512MiB }
  - name: load
    command: python3
"#;
	let (topology, warnings) = parse(d, text, true).expect("a valid topology");
	assert!(warnings.is_empty(), "{warnings:?}");
	let expected = Topology {
		file: d.join("topology.yaml"),
		name: Some("rehearsal".into()),
		chain: Chain::Spec(d.join("fork.spec.json")),
		node: NodeDefaults {
			binary: Some(d.join("../bin/node-subtensor")),
			image: Some("subtensor:test".into()),
			args: vec![
				"--state-pruning=archive".into(),
				"--rpc-max-connections".into(),
				"500".into(),
			],
			resources: Resources {
				cpus: Some(1.5),
				memory: Some(2 * GIB),
			},
		},
		validators: NonZeroU32::new(3).expect("non-zero"),
		validator_uris: Some(vec!["//A".into(), "//B".into(), "//C".into()]),
		full_nodes: 1,
		rpc_nodes: 1,
		nodes: BTreeMap::from([
			(
				"alice".to_string(),
				NodeOverride {
					args: vec!["--log=runtime=debug".into()],
					resources: Resources {
						cpus: None,
						memory: Some(4 * GIB),
					},
				},
			),
			(
				"rpc-1".to_string(),
				NodeOverride {
					args: vec![],
					resources: Resources {
						cpus: Some(2.0),
						memory: None,
					},
				},
			),
		]),
		ready_timeout: Duration::from_secs(300),
		workloads: vec![
			Workload {
				name: "miner".into(),
				command: Some(d.join("miner.py")),
				image: Some("my-miner:latest".into()),
				args: vec!["--netuid".into(), "1".into()],
				env: BTreeMap::from([
					("PORT".to_string(), "8080".to_string()),
					("WALLET".to_string(), "alice".to_string()),
				]),
				replicas: NonZeroU32::new(2).expect("non-zero"),
				gpus: 1,
				depends_on: Some("rpc-1".into()),
				resources: Resources {
					cpus: None,
					memory: Some(512 * MIB),
				},
			},
			Workload {
				name: "load".into(),
				command: Some(PathBuf::from("python3")),
				image: None,
				args: vec![],
				env: BTreeMap::new(),
				replicas: NonZeroU32::MIN,
				gpus: 0,
				depends_on: None,
				resources: Resources::default(),
			},
		],
	};
	assert_eq!(topology, expected);
	assert_eq!(topology.gpus_requested(), 2);
}

#[test]
fn defaults_apply_to_a_minimal_file() {
	let dir = dir_with_spec();
	let (topology, warnings) = parse(dir.path(), MINIMAL, false).expect("valid");
	assert!(warnings.is_empty());
	assert_eq!(topology.chain, Chain::Builtin("dev".into()));
	assert_eq!(topology.full_nodes, 0);
	assert_eq!(topology.rpc_nodes, 0);
	assert_eq!(topology.ready_timeout, Duration::from_secs(180));
	assert!(topology.workloads.is_empty());
	assert!(topology.nodes.is_empty());
	assert_eq!(topology.node.binary, Some(dir.path().join("node")));
}

#[test]
fn every_mistake_is_reported_at_once_with_its_path() {
	let dir = dir_with_spec();
	let text = r#"
version: 2
chain: missing.spec.json
node:
  args: ["--x"]
  resources: { cpus: 0, memory: 2 lots }
validators: three
rpc-nodes: 1
nodes:
  zed: { args: [] }
ready-timeout: soon
workloads:
  - name: Miner!
    command: ./miner.py
    env: { STAGENET_RUN: x, "1BAD": y }
  - name: ok
    image: x:1
    gpus: -1
  - name: dup
    image: x:1
    depends-on: rpc-9
  - name: dup
    replicas: 0
"#;
	let problems = problems(parse(dir.path(), text, false));
	let expected = [
		"version",
		"chain",
		"node",
		"node.resources.cpus",
		"node.resources.memory",
		"validators",
		"nodes.zed",
		"ready-timeout",
		"workloads[0].name",
		"workloads[0].env.STAGENET_RUN",
		"workloads[0].env.1BAD",
		"workloads[1].gpus",
		"workloads[2].depends-on",
		"workloads[3].name",
		"workloads[3]",
		"workloads[3].replicas",
	];
	for path in expected {
		at(&problems, path);
	}
	assert_eq!(problems.len(), expected.len(), "{problems:#?}");

	assert!(at(&problems, "version").message.contains("`2`"));
	assert!(at(&problems, "version").message.contains("reads version 1"));
	assert!(at(&problems, "chain")
		.message
		.contains("missing.spec.json` does not exist (hint: create it with `stagenet fork"));
	assert!(at(&problems, "validators").message.contains("three"));
	assert!(at(&problems, "node.resources.memory")
		.message
		.contains("`2 lots` is not a memory size"));
	assert!(at(&problems, "nodes.zed").message.contains("`rpc-1`"));
	assert!(at(&problems, "workloads[1].gpus").message.contains("-1"));
	assert!(at(&problems, "workloads[2].depends-on")
		.message
		.contains("`rpc-9` is not a node"));
	assert!(at(&problems, "workloads[3].name")
		.message
		.contains("`workloads[2]`"));

	let error = Topology::parse(&dir.path().join("t.yaml"), text, false)
		.expect_err("invalid")
		.to_string();
	assert!(error.contains("has 16 problem(s)"), "{error}");
	assert!(error.contains("  - `workloads[1].gpus`: "), "{error}");
}

#[test]
fn missing_required_keys_are_problems() {
	let dir = dir_with_spec();
	let problems = problems(parse(dir.path(), "name: x\n", false));
	for path in ["version", "chain", "node", "validators"] {
		at(&problems, path);
	}
	assert_eq!(problems.len(), 4, "{problems:#?}");
}

#[test]
fn malformed_yaml_is_one_problem_with_line_and_column() {
	let dir = dir_with_spec();
	let text = "version: 1\nnode: { binary: ./node\nvalidators: 1\n";
	let problems = problems(parse(dir.path(), text, false));
	assert_eq!(problems.len(), 1, "{problems:#?}");
	assert_eq!(problems[0].path, "");
	assert!(
		problems[0].message.starts_with("malformed YAML at line "),
		"{problems:#?}"
	);
	assert!(problems[0].message.contains(", column "), "{problems:#?}");
}

#[test]
fn empty_and_non_mapping_files_are_problems() {
	let dir = dir_with_spec();
	for text in ["", "# only a comment\n", "- a\n- b\n", "just text"] {
		let problems = problems(parse(dir.path(), text, false));
		assert_eq!(problems.len(), 1, "{text:?}: {problems:#?}");
		assert!(
			problems[0]
				.message
				.contains("expected a mapping of topology keys"),
			"{problems:#?}"
		);
	}
}

#[test]
fn unknown_keys_are_warnings_and_errors_when_strict() {
	let dir = dir_with_spec();
	let text = format!(
		"{MINIMAL}full_nodes: 1\nworkloads:\n  - name: m\n    command: m\n    gpu: 1\n    \
		 resources: {{ memroy: 1G }}\nzzz: 1\n"
	);
	let (_, warnings) = parse(dir.path(), &text, false).expect("valid with warnings");
	let paths: Vec<&str> = warnings.iter().map(|w| w.path.as_str()).collect();
	assert_eq!(
		paths,
		[
			"full_nodes",
			"zzz",
			"workloads[0].gpu",
			"workloads[0].resources.memroy"
		]
	);
	assert_eq!(
		warnings[0].message,
		"unknown key `full_nodes` (ignored; hint: did you mean `full-nodes`?)"
	);
	assert!(warnings[1].message.contains("the keys here are `version`"));
	assert!(warnings[2].message.contains("did you mean `gpus`?"));
	assert!(warnings[3].message.contains("did you mean `memory`?"));

	let problems = problems(parse(dir.path(), &text, true));
	assert_eq!(problems.len(), 4, "{problems:#?}");
	assert_eq!(
		problems[0].message,
		"unknown key `full_nodes` (hint: did you mean `full-nodes`?)"
	);
}

#[test]
fn memory_sizes() {
	for (text, bytes) in [
		("1000000", 1_000_000),
		("512MiB", 512 * MIB),
		("2GiB", 2 * GIB),
		("1.5GiB", 3 * GIB / 2),
		("1G", 1_000_000_000),
		("1GB", 1_000_000_000),
		("500MB", 500_000_000),
		("64K", 64_000),
		("64KiB", 65_536),
		("1TiB", 1 << 40),
		("2 GiB", 2 * GIB),
		("  7B ", 7),
	] {
		assert_eq!(parse_memory(text), Some(bytes), "{text}");
	}
	for text in [
		"",
		"GiB",
		"1.5",
		"1.GiB",
		".5GiB",
		"-1G",
		"1 gib",
		"2 lots",
		"1e9",
		"1..2G",
		"99999999999999999999T",
	] {
		assert_eq!(parse_memory(text), None, "{text}");
	}

	let dir = dir_with_spec();
	let text = format!("{MINIMAL}nodes:\n  alice: {{ resources: {{ memory: 1073741824 }} }}\n");
	let (topology, _) = parse(dir.path(), &text, true).expect("valid");
	assert_eq!(topology.nodes["alice"].resources.memory, Some(GIB));
	let text = format!("{MINIMAL}nodes:\n  alice: {{ resources: {{ memory: 1.5 }} }}\n");
	let problems = problems(parse(dir.path(), &text, true));
	assert!(at(&problems, "nodes.alice.resources.memory")
		.message
		.contains("`512MiB`"));
}

#[test]
fn validator_uris_must_cover_every_validator() {
	let dir = dir_with_spec();
	let text = "version: 1\nchain: local\nnode: { image: n }\nvalidators: 3\n\
	            validator-uris: ['//A', '//B']\n";
	let problems = problems(parse(dir.path(), text, false));
	assert_eq!(problems.len(), 1);
	assert!(at(&problems, "validator-uris")
		.message
		.contains("lists 2 URI(s) but `validators` is 3"));
}

#[test]
fn zero_validators_and_bad_durations_are_problems() {
	let dir = dir_with_spec();
	let text = "version: 1\nchain: dev\nnode: { image: n }\nvalidators: 0\nready-timeout: 180\n";
	let problems = problems(parse(dir.path(), text, false));
	assert!(at(&problems, "validators")
		.message
		.starts_with("must be at least 1"));
	assert!(at(&problems, "ready-timeout").message.contains("`180s`"));
}

#[test]
fn planned_nodes_have_names_keys_and_overrides() {
	let dir = dir_with_spec();
	let text = "version: 1\nchain: dev\n\
	            node: { binary: n, args: [--a], resources: { cpus: 1, memory: 1GiB } }\n\
	            validators: 8\nfull-nodes: 1\nrpc-nodes: 2\n\
	            nodes:\n  validator-8: { args: [--b], resources: { memory: 3GiB } }\n\
	            \x20 rpc-2: { resources: { cpus: 4 } }\n";
	let (topology, _) = parse(dir.path(), text, true).expect("valid");
	let planned = topology.planned_nodes();
	let names: Vec<&str> = planned.iter().map(|n| n.name.as_str()).collect();
	assert_eq!(
		names,
		[
			"alice",
			"bob",
			"charlie",
			"dave",
			"eve",
			"ferdie",
			"validator-7",
			"validator-8",
			"full-1",
			"rpc-1",
			"rpc-2"
		]
	);
	let keys: Vec<Option<&str>> = planned.iter().map(|n| n.key_uri.as_deref()).collect();
	assert_eq!(
		keys,
		[
			Some("//Alice"),
			Some("//Bob"),
			Some("//Charlie"),
			Some("//Dave"),
			Some("//Eve"),
			Some("//Ferdie"),
			Some("//Validator7"),
			Some("//Validator8"),
			None,
			None,
			None
		]
	);
	let roles: Vec<Role> = planned.iter().map(|n| n.role).collect();
	assert_eq!(roles[7], Role::Validator);
	assert_eq!(roles[8], Role::Full);
	assert_eq!(roles[10], Role::Rpc);

	assert_eq!(planned[0].args, ["--a"]);
	assert_eq!(
		planned[0].resources,
		Resources {
			cpus: Some(1.0),
			memory: Some(GIB)
		}
	);
	assert_eq!(planned[7].args, ["--a", "--b"]);
	assert_eq!(
		planned[7].resources,
		Resources {
			cpus: Some(1.0),
			memory: Some(3 * GIB)
		}
	);
	assert_eq!(
		planned[10].resources,
		Resources {
			cpus: Some(4.0),
			memory: Some(GIB)
		}
	);
}

#[test]
fn validator_uris_replace_the_dev_keys() {
	let dir = dir_with_spec();
	let text = "version: 1\nchain: dev\nnode: { binary: n }\nvalidators: 2\n\
	            validator-uris: ['//One', '//Two', '//Spare']\n";
	let (topology, _) = parse(dir.path(), text, true).expect("valid");
	let keys: Vec<Option<String>> = topology
		.planned_nodes()
		.into_iter()
		.map(|n| n.key_uri)
		.collect();
	assert_eq!(keys, [Some("//One".into()), Some("//Two".into())]);
}

#[test]
fn node_names_are_judged_by_the_counts() {
	let counts = Counts {
		validators: Some(7),
		full: Some(0),
		rpc: None,
	};
	assert!(counts.plans("ferdie"));
	assert!(counts.plans("validator-7"));
	assert!(!counts.plans("validator-8"));
	assert!(!counts.plans("validator-2"));
	assert!(!counts.plans("full-1"));
	assert!(counts.plans("rpc-40"));
	assert!(!counts.plans("rpc-0"));
	assert!(!counts.plans("rpc-01"));
	assert!(!counts.plans("rpc-+1"));
	assert!(!counts.plans("zed"));
}

#[test]
fn load_reads_the_file_and_names_it_when_it_cannot() {
	let dir = dir_with_spec();
	let file = dir.path().join("t.yaml");
	std::fs::write(&file, MINIMAL).expect("write");
	let (topology, _) = Topology::load(&file, true).expect("valid");
	assert_eq!(topology.file, file);
	let missing = dir.path().join("absent.yaml");
	match Topology::load(&missing, false) {
		Err(TopologyError::Read { file, .. }) => assert_eq!(file, missing),
		other => panic!("expected a read error, got {other:?}"),
	}
}

#[test]
fn gpu_totals_must_fit() {
	let dir = dir_with_spec();
	let text =
		format!("{MINIMAL}workloads:\n  - {{ name: a, image: i, replicas: 65536, gpus: 65536 }}\n");
	let problems = problems(parse(dir.path(), &text, false));
	assert!(at(&problems, "workloads")
		.message
		.contains("4294967296 GPUs"));
}

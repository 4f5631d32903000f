//! The `stagenet` binary as users run it: arguments, exit codes, and `up` against the real
//! test chain (`scripts/build-test-chain` must have run).

use std::{path::PathBuf, process::Command};

fn stagenet() -> Command {
	Command::new(env!("CARGO_BIN_EXE_stagenet"))
}

fn repo_root() -> PathBuf {
	PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn up_with_a_validator_count_no_builtin_chain_has_is_bad_input() {
	let out = stagenet()
		.args(["up", "--validators", "2"])
		.output()
		.expect("run stagenet");
	let stderr = String::from_utf8_lossy(&out.stderr);
	assert_eq!(out.status.code(), Some(2), "stderr:\n{stderr}");
	assert!(
		stderr.contains("no built-in chain has 2 authorities"),
		"{stderr}"
	);
	assert!(stderr.contains("hint:"), "{stderr}");
}

#[test]
fn up_with_a_missing_node_binary_is_an_infrastructure_failure() {
	let dir = repo_root().join("target/test-runs/cli-missing-node");
	let out = stagenet()
		.args([
			"up",
			"--node",
			"/nonexistent/stagenet-test-node",
			"--base-dir",
		])
		.arg(&dir)
		.output()
		.expect("run stagenet");
	let stderr = String::from_utf8_lossy(&out.stderr);
	assert_eq!(out.status.code(), Some(3), "stderr:\n{stderr}");
	assert!(
		stderr.contains("/nonexistent/stagenet-test-node"),
		"{stderr}"
	);
	assert!(stderr.contains("scripts/build-test-chain"), "{stderr}");
}

/// Node processes started by any `stagenet up` (they carry `STAGENET_RUN=up-…`).
fn leftover_nodes() -> usize {
	std::fs::read_dir("/proc")
		.expect("/proc")
		.flatten()
		.filter(|e| {
			std::fs::read(e.path().join("environ"))
				.map(|env| {
					env.split(|b| *b == 0)
						.any(|kv| kv.starts_with(b"STAGENET_RUN=up-"))
						&& std::fs::read_link(e.path().join("exe"))
							.map(|exe| exe.ends_with("stagenet-test-node"))
							.unwrap_or(false)
				})
				.unwrap_or(false)
		})
		.count()
}

#[test]
fn up_interrupted_while_starting_stops_every_node() {
	let node = repo_root().join("target/test-chain/stagenet-test-node");
	assert!(node.exists(), "run `scripts/build-test-chain` first");
	let dir = repo_root().join("target/test-runs/cli-interrupt");
	let _ = std::fs::remove_dir_all(&dir);
	let child = stagenet()
		.args(["up", "--validators", "3", "--node"])
		.arg(&node)
		.arg("--base-dir")
		.arg(&dir)
		.stdout(std::process::Stdio::piped())
		.stderr(std::process::Stdio::piped())
		.spawn()
		.expect("run stagenet");
	// Interrupt before the network can be ready (readiness needs several blocks).
	std::thread::sleep(std::time::Duration::from_millis(1500));
	let kill = Command::new("kill")
		.args(["-INT", &child.id().to_string()])
		.status()
		.expect("kill");
	assert!(kill.success());
	let out = child.wait_with_output().expect("wait for stagenet");
	let stdout = String::from_utf8_lossy(&out.stdout);
	let stderr = String::from_utf8_lossy(&out.stderr);
	assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
	assert!(
		stdout.contains("interrupted before the network was ready"),
		"{stdout}"
	);
	assert_eq!(leftover_nodes(), 0, "node processes survived the interrupt");
}

#[test]
fn up_starts_three_validators_prints_endpoints_and_stops_them() {
	let node = repo_root().join("target/test-chain/stagenet-test-node");
	assert!(node.exists(), "run `scripts/build-test-chain` first");
	let dir = repo_root().join("target/test-runs/cli-up");
	let _ = std::fs::remove_dir_all(&dir);
	let out = stagenet()
		.args([
			"up",
			"--validators",
			"3",
			"--for",
			"3s",
			"--ready-timeout",
			"120s",
			"--node",
		])
		.arg(&node)
		.arg("--base-dir")
		.arg(&dir)
		.output()
		.expect("run stagenet");
	let stdout = String::from_utf8_lossy(&out.stdout);
	let stderr = String::from_utf8_lossy(&out.stderr);
	assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
	assert!(
		stdout.contains("is ready: blocks are produced and finalized"),
		"{stdout}"
	);
	for name in ["alice", "bob", "charlie"] {
		let line = stdout
			.lines()
			.find(|l| l.trim_start().starts_with(name) && l.contains("rpc ws://127.0.0.1:"))
			.unwrap_or_else(|| panic!("no endpoint line for {name}:\n{stdout}"));
		assert!(line.contains("metrics http://127.0.0.1:"), "{line}");
	}
	assert!(stdout.contains("stopping the network"), "{stdout}");
	// Every node process of the run is gone: they carry the run id in their environment.
	assert_eq!(
		leftover_nodes(),
		0,
		"node processes of `stagenet up` survived it"
	);
}

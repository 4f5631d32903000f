//! The node's command-line surface that stagenet drives.

use stagenet_test_support::OutputWithin;
use stagenet_fork_tests::harness::{node_binary, repo_root};
use std::process::Command;

#[test]
fn malformed_chain_spec_is_refused_with_a_clear_error() {
	stagenet_test_support::require!(TestChain);
	let dir = repo_root().join("target/test-runs/malformed-spec");
	std::fs::create_dir_all(&dir).expect("test dir");
	let spec = dir.join("broken.json");
	std::fs::write(&spec, "{ \"name\": \"broken\", \"genesis\": ").expect("write spec");
	let out = Command::new(node_binary())
		.args([
			"--chain",
			&spec.display().to_string(),
			"--base-path",
			&dir.join("db").display().to_string(),
			"--no-telemetry",
		])
		.output_within(stagenet_test_support::LIMIT)
		.expect("run node");
	let stderr = String::from_utf8_lossy(&out.stderr);
	assert_eq!(out.status.code(), Some(1), "exit status; stderr:\n{stderr}");
	assert!(
		stderr.contains("cannot load chain spec"),
		"stderr:\n{stderr}"
	);
	assert!(stderr.contains("hint:"), "stderr:\n{stderr}");
	assert!(
		!stderr.contains("panicked"),
		"a panic trace instead of an error:\n{stderr}"
	);
}

#[test]
fn build_spec_raw_holds_the_runtime_code() {
	stagenet_test_support::require!(TestChain);
	let out = Command::new(node_binary())
		.args([
			"build-spec",
			"--chain",
			"local",
			"--raw",
			"--disable-default-bootnode",
		])
		.output_within(stagenet_test_support::LIMIT)
		.expect("run node");
	assert!(
		out.status.success(),
		"{}",
		String::from_utf8_lossy(&out.stderr)
	);
	let spec: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json spec");
	let top = &spec["genesis"]["raw"]["top"];
	// `:code` is 0x3a636f6465.
	let code = top["0x3a636f6465"].as_str().expect("raw spec holds :code");
	// The node embeds the baseline runtime: its genesis code is the baseline wasm.
	let baseline = stagenet_fork_tests::harness::runtime_wasm("baseline");
	assert_eq!(
		code,
		format!("0x{}", hex::encode(&baseline)),
		"genesis :code is not the baseline runtime"
	);
	assert_eq!(spec["bootNodes"].as_array().map(|a| a.len()), Some(0));
}

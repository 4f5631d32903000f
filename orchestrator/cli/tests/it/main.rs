//! The `stagenet` binary as users run it: arguments, exit codes, and `up` against the real
//! test chain (`scripts/build-test-chain` must have run).

mod capture;
mod conformance;
mod docker;
mod fork;
mod lifecycle;
mod rehearse;
mod replay;
mod sealing;
mod stress;
mod subtensor;

use stagenet_test_support::OutputWithin;
use std::{path::PathBuf, process::Command};

fn stagenet() -> Command {
	Command::new(env!("CARGO_BIN_EXE_stagenet"))
}

/// Runs `stagenet` with `args`: exit code, stdout, stderr.
fn run(args: &[&std::ffi::OsStr]) -> (Option<i32>, String, String) {
	let out = stagenet().args(args).output_within(stagenet_test_support::LIMIT).expect("run stagenet");
	(
		out.status.code(),
		String::from_utf8_lossy(&out.stdout).into_owned(),
		String::from_utf8_lossy(&out.stderr).into_owned(),
	)
}

fn repo_root() -> PathBuf {
	PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn up_with_a_validator_count_no_builtin_chain_has_is_bad_input() {
	let out = stagenet()
		.args(["up", "--validators", "2"])
		.output_within(stagenet_test_support::LIMIT)
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
		.output_within(stagenet_test_support::LIMIT)
		.expect("run stagenet");
	let stderr = String::from_utf8_lossy(&out.stderr);
	assert_eq!(out.status.code(), Some(3), "stderr:\n{stderr}");
	assert!(
		stderr.contains("/nonexistent/stagenet-test-node"),
		"{stderr}"
	);
	assert!(stderr.contains("scripts/build-test-chain"), "{stderr}");
}

/// Test-chain node processes whose command line names `dir` (their base path lies below it):
/// the nodes of the runs of one test, whatever else runs beside it.
fn leftover_nodes(dir: &std::path::Path) -> usize {
	let names: Vec<String> = [Some(dir.to_path_buf()), std::fs::canonicalize(dir).ok()]
		.into_iter()
		.flatten()
		.map(|d| d.display().to_string())
		.collect();
	std::fs::read_dir("/proc")
		.expect("/proc")
		.flatten()
		.filter(|e| {
			let is_node = std::fs::read_link(e.path().join("exe"))
				.map(|exe| exe.ends_with("stagenet-test-node"))
				.unwrap_or(false);
			is_node
				&& std::fs::read(e.path().join("cmdline"))
					.map(|c| {
						let c = String::from_utf8_lossy(&c);
						names.iter().any(|n| c.contains(n.as_str()))
					})
					.unwrap_or(false)
		})
		.count()
}

#[test]
fn up_interrupted_while_starting_stops_every_node() {
	stagenet_test_support::require!(TestChain);
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
	// Interrupt once the first node runs, before the network can be ready (readiness needs
	// several blocks on every node).
	let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
	while leftover_nodes(&dir) == 0 {
		assert!(
			std::time::Instant::now() < deadline,
			"no node of the run started within 60 s"
		);
		std::thread::sleep(std::time::Duration::from_millis(20));
	}
	let kill = Command::new("kill")
		.args(["-INT", &child.id().to_string()])
		.status()
		.expect("kill");
	assert!(kill.success());
	let out = stagenet_test_support::wait_with_output_within(child, stagenet_test_support::LIMIT);
	let stdout = String::from_utf8_lossy(&out.stdout);
	let stderr = String::from_utf8_lossy(&out.stderr);
	assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
	assert!(
		stdout.contains("interrupted before the network was ready"),
		"{stdout}"
	);
	assert_eq!(leftover_nodes(&dir), 0, "node processes survived the interrupt");
}

#[test]
fn up_starts_three_validators_prints_endpoints_and_stops_them() {
	stagenet_test_support::require!(TestChain);
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
		.output_within(stagenet_test_support::LIMIT)
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
		leftover_nodes(&dir),
		0,
		"node processes of `stagenet up` survived it"
	);
}

/// `stagenet snapshot`, `inspect`, `verify` and `from-spec` as a user runs them, against a
/// real dev node with an archive database.
#[tokio::test]
async fn snapshot_inspect_and_verify_from_the_command_line() {
	stagenet_test_support::require!(TestChain);
	let node = stagenet_fork_tests::solo::SoloNode::start("cli-snapshot", &[]).await;
	let dir = repo_root().join("target/test-runs/cli-snapshot");
	let _ = std::fs::remove_dir_all(&dir);
	std::fs::create_dir_all(&dir).expect("create dir");
	let snap = dir.join("state.snap");
	let url = node.url();
	let (code, stdout, stderr) = run(&[
		"snapshot".as_ref(),
		"--url".as_ref(),
		url.as_ref(),
		"--out".as_ref(),
		snap.as_os_str(),
	]);
	assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
	assert!(
		stdout.contains("written to") && stdout.contains("verified"),
		"{stdout}"
	);

	let (code, stdout, stderr) = run(&["snapshot".as_ref(), "inspect".as_ref(), snap.as_os_str()]);
	assert_eq!(code, Some(0), "{stderr}");
	for want in [
		"chain      stagenet test chain (dev)",
		"verified against the block header",
		"System",
		"(well-known keys)",
		"Balances",
	] {
		assert!(stdout.contains(want), "`{want}` missing from:\n{stdout}");
	}
	let (code, stdout, _) = run(&[
		"snapshot".as_ref(),
		"inspect".as_ref(),
		"--json".as_ref(),
		snap.as_os_str(),
	]);
	assert_eq!(code, Some(0));
	let json: serde_json::Value =
		serde_json::from_str(&stdout).expect("inspect --json prints JSON");
	assert_eq!(json["header"]["verified"], serde_json::Value::Bool(true));
	assert!(json["pallets"]
		.as_array()
		.is_some_and(|p| p.iter().any(|p| p["name"] == "System")));

	let (code, stdout, stderr) = run(&["snapshot".as_ref(), "verify".as_ref(), snap.as_os_str()]);
	assert_eq!(code, Some(0), "{stderr}");
	assert!(stdout.starts_with("ok:"), "{stdout}");

	let (code, _, stderr) = run(&[
		"snapshot".as_ref(),
		"--url".as_ref(),
		url.as_ref(),
		"--out".as_ref(),
		snap.as_os_str(),
	]);
	assert_eq!(code, Some(2), "{stderr}");
	assert!(
		stderr.contains("already exists") && stderr.contains("--force"),
		"{stderr}"
	);

	// One flipped byte inside the last chunk: verify exits 1 and names the chunk.
	let chunks = stagenet_snapshot::reader::Reader::open(&snap)
		.expect("open")
		.chunks()
		.to_vec();
	let last = chunks.last().expect("a chunk");
	let mut bytes = std::fs::read(&snap).expect("read");
	bytes[last.offset as usize + 52 + last.comp_len as usize / 2] ^= 0x01;
	let bad = dir.join("bad.snap");
	std::fs::write(&bad, &bytes).expect("write");
	let (code, _, stderr) = run(&["snapshot".as_ref(), "verify".as_ref(), bad.as_os_str()]);
	assert_eq!(code, Some(1), "{stderr}");
	assert!(
		stderr.contains(&format!("corrupt in chunk {}", chunks.len() - 1)),
		"{stderr}"
	);

	let garbage = dir.join("garbage.json");
	std::fs::write(&garbage, b"{\"genesis\": [").expect("write");
	let (code, _, stderr) = run(&[
		"snapshot".as_ref(),
		"from-spec".as_ref(),
		garbage.as_os_str(),
		"--out".as_ref(),
		dir.join("g.snap").as_os_str(),
	]);
	assert_eq!(code, Some(2), "{stderr}");
	assert!(
		stderr.contains("not valid JSON") && stderr.contains("hint:"),
		"{stderr}"
	);

	let (code, _, stderr) = run(&["snapshot".as_ref(), "--out".as_ref(), snap.as_os_str()]);
	assert_eq!(code, Some(2), "{stderr}");
	assert!(stderr.contains("--url"), "{stderr}");
}

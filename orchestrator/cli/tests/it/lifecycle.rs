//! `stagenet up <topology>`, `status`, `logs`, `down` as users run them, from separate
//! processes; bad topology files; a node that exits at start-up; a crash of stagenet itself.

use stagenet_test_support::OutputWithin;
use crate::{repo_root, run, stagenet};
use stagenet_fork_tests::{fixtures::forked_test_chain_spec, harness::run_processes};
use std::{
	ffi::OsStr,
	path::{Path, PathBuf},
	process::{Child, Stdio},
	time::{Duration, Instant},
};

fn runs_dir(name: &str) -> PathBuf {
	let dir = repo_root().join("target/test-runs").join(name);
	let _ = std::fs::remove_dir_all(&dir);
	std::fs::create_dir_all(&dir).expect("runs dir");
	dir
}

/// Writes a topology of the test chain into `dir` and returns its path.
fn write_topology(dir: &Path, chain: &str, extra: &str) -> PathBuf {
	let node = repo_root().join("target/test-chain/stagenet-test-node");
	let file = dir.join("topology.yaml");
	std::fs::write(
		&file,
		format!(
			"version: 1\nchain: {chain}\nnode:\n  binary: {}\n{extra}",
			node.display()
		),
	)
	.expect("write topology");
	file
}

/// Kills the child (SIGKILL) when dropped, so a failing test leaves no `up` behind.
struct UpProcess(Child);

impl Drop for UpProcess {
	fn drop(&mut self) {
		let _ = self.0.kill();
		let _ = self.0.wait();
	}
}

/// Starts `stagenet up <file> --run-id <run_id> --runs-dir <runs> <extra…>` in the
/// background, output discarded.
fn spawn_up(file: &Path, run_id: &str, runs: &Path, extra: &[&str]) -> UpProcess {
	UpProcess(
		stagenet()
			.arg("up")
			.arg(file)
			.args(extra)
			.args(["--run-id", run_id, "--runs-dir"])
			.arg(runs)
			.stdout(Stdio::null())
			.stderr(Stdio::null())
			.spawn()
			.expect("spawn up"),
	)
}

fn status_json(run_id: &str, runs: &Path) -> serde_json::Value {
	let (code, out, err) = run(&[
		OsStr::new("status"),
		OsStr::new(run_id),
		OsStr::new("--runs-dir"),
		runs.as_os_str(),
		OsStr::new("--json"),
	]);
	assert_eq!(code, Some(0), "status failed: {err}");
	serde_json::from_str::<serde_json::Value>(&out)
		.unwrap_or_else(|e| panic!("status --json is not JSON ({e}):\n{out}"))[0]
		.clone()
}

fn wait_phase(run_id: &str, runs: &Path, phase: &str, timeout: Duration) -> serde_json::Value {
	let deadline = Instant::now() + timeout;
	loop {
		let path = runs.join(run_id).join("state.json");
		if path.exists() {
			let s = status_json(run_id, runs);
			if s["phase"] == phase {
				return s;
			}
			if Instant::now() > deadline {
				panic!("run {run_id} not `{phase}` after {timeout:?}; last status: {s:#}");
			}
		} else if Instant::now() > deadline {
			panic!("run {run_id} wrote no state file in {timeout:?}");
		}
		std::thread::sleep(Duration::from_millis(500));
	}
}

#[test]
fn up_with_a_bad_topology_lists_every_problem_with_its_path() {
	let dir = runs_dir("cli-bad-topology");
	let file = dir.join("bad.yaml");
	std::fs::write(
		&file,
		"version: 1\nchain: missing-spec.json\nnode: {}\nvalidators: 0\nrpc-nodes: many\n\
		 ready-timeout: soon\nworkloads:\n  - name: Miner!\n    replicas: 0\n    depends-on: nobody\n",
	)
	.expect("write");
	let (code, _, err) = run(&[OsStr::new("up"), file.as_os_str()]);
	assert_eq!(code, Some(2), "{err}");
	for path in [
		"`chain`",
		"`node`",
		"`validators`",
		"`rpc-nodes`",
		"`ready-timeout`",
		"`workloads[0].name`",
		"`workloads[0].replicas`",
		"`workloads[0]`",
	] {
		assert!(err.contains(path), "no problem at {path}:\n{err}");
	}
	assert!(err.contains("hint:"), "{err}");
	// Nothing was started.
	assert!(!dir.join(".stagenet").exists());
}

#[test]
fn a_node_that_exits_at_start_up_is_reported_with_its_last_log_lines() {
	stagenet_test_support::require!(TestChain);
	let dir = runs_dir("cli-node-exits");
	let file = write_topology(&dir, "local", "validators: 3\nready-timeout: 120s\n");
	// The node rejects an unknown flag and exits at once.
	let text = std::fs::read_to_string(&file).expect("read").replace(
		"node:\n",
		"node:\n  args: [\"--no-such-flag-for-the-node\"]\n",
	);
	std::fs::write(&file, text).expect("write");
	let started = Instant::now();
	let out = stagenet()
		.arg("up")
		.arg(&file)
		.arg("--runs-dir")
		.arg(dir.join("runs"))
		.output_within(stagenet_test_support::LIMIT)
		.expect("run stagenet");
	let err = String::from_utf8_lossy(&out.stderr);
	assert_eq!(out.status.code(), Some(3), "{err}");
	assert!(err.contains("exited"), "{err}");
	assert!(
		err.contains("--no-such-flag-for-the-node"),
		"the log tail is missing:\n{err}"
	);
	assert!(
		!err.contains("not ready after"),
		"reported as a timeout:\n{err}"
	);
	assert!(
		started.elapsed() < Duration::from_secs(100),
		"took {:?}: waited for the timeout",
		started.elapsed()
	);
}

#[test]
fn up_status_logs_and_down_work_from_other_shells_and_a_crash_leaves_nothing() {
	stagenet_test_support::require!(TestChain);
	let runtime = tokio::runtime::Runtime::new().expect("runtime");
	let spec = runtime.block_on(forked_test_chain_spec("cli-lifecycle-fork", 3));
	let dir = runs_dir("cli-lifecycle");
	let file = write_topology(
		&dir,
		&spec.display().to_string(),
		"validators: 3\nrpc-nodes: 1\n",
	);
	let runs = dir.join("runs");
	let run_id = format!("cli-life-{}", std::process::id());
	let up = spawn_up(&file, &run_id, &runs, &[]);
	let s = wait_phase(&run_id, &runs, "ready", Duration::from_secs(240));
	assert_eq!(s["provider"], "local");
	assert_eq!(s["owner_alive"], true);
	let members = s["members"].as_array().expect("members");
	assert_eq!(members.len(), 4);
	for m in members {
		let st = &m["status"];
		assert!(st["best"].as_u64().unwrap_or(0) > 0, "{m:#}");
		assert_eq!(st["peers"], 3, "{m:#}");
	}
	// Logs of one node, and of all nodes prefixed with their names.
	let (code, out, err) = run(&[
		OsStr::new("logs"),
		OsStr::new(&run_id),
		OsStr::new("alice"),
		OsStr::new("--runs-dir"),
		runs.as_os_str(),
	]);
	assert_eq!(code, Some(0), "{err}");
	assert!(out.contains("Local node identity is"), "{out}");
	let (_, out, _) = run(&[
		OsStr::new("logs"),
		OsStr::new(&run_id),
		OsStr::new("--tail"),
		OsStr::new("3"),
		OsStr::new("--runs-dir"),
		runs.as_os_str(),
	]);
	assert!(out.lines().any(|l| l.starts_with("rpc-1")), "{out}");
	assert_eq!(out.lines().count(), 12, "{out}");
	let (code, _, err) = run(&[
		OsStr::new("logs"),
		OsStr::new(&run_id),
		OsStr::new("nobody"),
		OsStr::new("--runs-dir"),
		runs.as_os_str(),
	]);
	assert_eq!(code, Some(2));
	assert!(err.contains("alice, bob, charlie, rpc-1"), "{err}");

	// `down` from another shell stops `up` (SIGTERM), which removes its network.
	let (code, out, err) = run(&[
		OsStr::new("down"),
		OsStr::new(&run_id),
		OsStr::new("--runs-dir"),
		runs.as_os_str(),
	]);
	assert_eq!(code, Some(0), "{err}");
	assert!(out.contains(&format!("run {run_id} is down")), "{out}");
	let mut up = up;
	let status = stagenet_test_support::wait_within(&mut up.0, stagenet_test_support::LIMIT);
	assert!(status.success(), "up exited with {status}");
	assert!(run_processes(&run_id).is_empty());
	assert_eq!(status_json(&run_id, &runs)["phase"], "down");

	// A crash of stagenet (SIGKILL, no clean-up code runs) leaves no node behind either:
	// the guards see their pipe close and kill their process groups.
	let crash_id = format!("cli-crash-{}", std::process::id());
	let mut up = spawn_up(&file, &crash_id, &runs, &[]);
	wait_phase(&crash_id, &runs, "ready", Duration::from_secs(240));
	assert_eq!(
		run_processes(&crash_id).len(),
		12,
		"4 nodes, their guards and the guards' pipe watchers"
	);
	up.0.kill().expect("SIGKILL stagenet");
	let _ = up.0.wait();
	let deadline = Instant::now() + Duration::from_secs(10);
	while !run_processes(&crash_id).is_empty() && Instant::now() < deadline {
		std::thread::sleep(Duration::from_millis(100));
	}
	assert!(
		run_processes(&crash_id).is_empty(),
		"nodes survived stagenet's crash: {:?}",
		run_processes(&crash_id)
	);
	let s = status_json(&crash_id, &runs);
	assert_eq!(s["owner_alive"], false);
	let (code, _, err) = run(&[
		OsStr::new("down"),
		OsStr::new("--all"),
		OsStr::new("--runs-dir"),
		runs.as_os_str(),
	]);
	assert_eq!(code, Some(0), "{err}");
}

/// A topology with one validator (`dev`) and a workload of `replicas` replicas asking for
/// `gpus` GPUs each; the workload prints what stagenet gave it and stays up.
fn gpu_topology(dir: &Path, replicas: u32, gpus: u32) -> PathBuf {
	write_topology(
		dir,
		"dev",
		&format!(
			"validators: 1\nworkloads:\n  - name: miner\n    command: /bin/sh\n    args: [\"-c\", \
			 \"echo gpus=$CUDA_VISIBLE_DEVICES rpc=$STAGENET_RPC_URL replica=$STAGENET_REPLICA; \
			 exec sleep 600\"]\n    replicas: {replicas}\n    gpus: {gpus}\n"
		),
	)
}

fn stand_in_smi() -> PathBuf {
	repo_root().join("fork-tests/stand-ins/nvidia-smi")
}

#[test]
fn workloads_get_the_fork_rpc_and_their_gpus_from_a_stand_in_inventory() {
	stagenet_test_support::require!(TestChain);
	let dir = runs_dir("cli-gpu-workloads");
	let runs = dir.join("runs");
	let run_id = format!("cli-gpu-{}", std::process::id());
	// Two replicas of one GPU each on a host with two GPUs (the stand-in inventory).
	let out = stagenet()
		.arg("up")
		.arg(gpu_topology(&dir, 2, 1))
		.args(["--run-id", &run_id, "--for", "3s", "--runs-dir"])
		.arg(&runs)
		.env("STAGENET_NVIDIA_SMI", stand_in_smi())
		.env("STAGENET_FAKE_GPUS", "2")
		.output_within(stagenet_test_support::LIMIT)
		.expect("run stagenet");
	let stdout = String::from_utf8_lossy(&out.stdout);
	assert_eq!(
		out.status.code(),
		Some(0),
		"{stdout}\n{}",
		String::from_utf8_lossy(&out.stderr)
	);
	let mut seen = Vec::new();
	for replica in ["miner-0", "miner-1"] {
		let log = std::fs::read_to_string(runs.join(&run_id).join(format!("{replica}.log")))
			.expect("replica log");
		let line = log.lines().next().unwrap_or_default().to_string();
		assert!(line.contains("rpc=ws://127.0.0.1:"), "{replica}: {line}");
		seen.push(line);
	}
	assert!(
		seen[0].starts_with("gpus=0 ") && seen[0].ends_with("replica=0"),
		"{seen:?}"
	);
	assert!(
		seen[1].starts_with("gpus=1 ") && seen[1].ends_with("replica=1"),
		"{seen:?}"
	);
	assert!(
		stdout.contains("miner-0") && stdout.contains("gpus 0"),
		"{stdout}"
	);
	assert!(run_processes(&run_id).is_empty(), "workloads outlived `up`");

	// Three GPUs asked of a two-GPU host: refused before anything starts.
	let refused_id = format!("cli-gpu-refused-{}", std::process::id());
	let out = stagenet()
		.arg("up")
		.arg(gpu_topology(&dir, 3, 1))
		.args(["--run-id", &refused_id, "--runs-dir"])
		.arg(&runs)
		.env("STAGENET_NVIDIA_SMI", stand_in_smi())
		.env("STAGENET_FAKE_GPUS", "2")
		.output_within(stagenet_test_support::LIMIT)
		.expect("run stagenet");
	let err = String::from_utf8_lossy(&out.stderr);
	assert_eq!(out.status.code(), Some(2), "{err}");
	assert!(err.contains("3 GPU(s)") && err.contains("has 2"), "{err}");
	assert!(err.contains("hint:"), "{err}");
	assert!(!runs.join(&refused_id).exists(), "something was started");

	// A host whose driver does not answer has no GPUs: the error says why.
	let out = stagenet()
		.arg("up")
		.arg(gpu_topology(&dir, 1, 1))
		.args(["--runs-dir"])
		.arg(&runs)
		.env("STAGENET_NVIDIA_SMI", stand_in_smi())
		.env("STAGENET_FAKE_GPU_DRIVER_FAIL", "1")
		.output_within(stagenet_test_support::LIMIT)
		.expect("run stagenet");
	let err = String::from_utf8_lossy(&out.stderr);
	assert_eq!(out.status.code(), Some(2), "{err}");
	assert!(
		err.contains("couldn't communicate with the NVIDIA driver"),
		"{err}"
	);
}

/// Names of every container, network and volume labelled with `run_id`, seen through the
/// `docker` command line (an independent view of the engine).
fn docker_labelled(run_id: &str) -> Vec<String> {
	let filter = format!("label=stagenet.run={run_id}");
	let mut found = Vec::new();
	for args in [
		vec!["ps", "-aq"],
		vec!["network", "ls", "-q"],
		vec!["volume", "ls", "-q"],
	] {
		let out = std::process::Command::new("docker")
			.args(&args)
			.args(["--filter", &filter])
			.output_within(stagenet_test_support::LIMIT)
			.expect("docker command line");
		found.extend(
			String::from_utf8_lossy(&out.stdout)
				.split_whitespace()
				.map(String::from),
		);
	}
	found
}

#[test]
fn docker_a_crashed_stagenet_leaves_orphans_that_up_reports_and_down_all_removes() {
	stagenet_test_support::require!(TestChain, Docker);
	let runtime = tokio::runtime::Runtime::new().expect("runtime");
	let spec = runtime.block_on(forked_test_chain_spec("cli-docker-fork", 3));
	let image = crate::conformance::NODE_IMAGE;
	let node = repo_root().join("target/test-chain/stagenet-test-node");
	let (code, _, err) = run(&[
		OsStr::new("image"),
		OsStr::new("build"),
		OsStr::new("--binary"),
		node.as_os_str(),
		OsStr::new("--tag"),
		OsStr::new(image),
	]);
	assert_eq!(code, Some(0), "{err}");
	let dir = runs_dir("cli-docker");
	let runs = dir.join("runs");
	let file = dir.join("docker.yaml");
	std::fs::write(
		&file,
		format!(
			"version: 1\nchain: {}\nnode:\n  image: {image}\nvalidators: 3\n",
			spec.display()
		),
	)
	.expect("write topology");
	let run_id = format!("cli-docker-{}", std::process::id());
	let mut up = spawn_up(&file, &run_id, &runs, &["--provider", "docker"]);
	let s = wait_phase(&run_id, &runs, "ready", Duration::from_secs(240));
	assert_eq!(s["provider"], "docker");
	for m in s["members"].as_array().expect("members") {
		assert_eq!(m["status"]["peers"], 2, "{m:#}");
		let url = m["rpc_url"].as_str().unwrap_or_default();
		assert!(
			url.starts_with("ws://127.0.0.1:"),
			"published on loopback only: {url}"
		);
	}
	// stagenet dies without cleaning up: its containers stay, owned by a dead pid.
	up.0.kill().expect("SIGKILL stagenet");
	let _ = up.0.wait();
	assert!(
		!docker_labelled(&run_id).is_empty(),
		"nothing left to orphan"
	);
	assert_eq!(status_json(&run_id, &runs)["owner_alive"], false);

	// The next `up` reports them before it starts; its own node exits at start-up, which is
	// reported with the node's last log lines, not as a timeout.
	std::fs::write(
		&file,
		format!(
			"version: 1\nchain: {}\nnode:\n  image: {image}\n  args: [\"--no-such-flag-for-the-node\"]\n\
			 validators: 3\nready-timeout: 120s\n",
			spec.display()
		),
	)
	.expect("write topology");
	let failing_id = format!("cli-docker-exits-{}", std::process::id());
	let out = stagenet()
		.arg("up")
		.arg(&file)
		.args([
			"--provider",
			"docker",
			"--run-id",
			&failing_id,
			"--runs-dir",
		])
		.arg(&runs)
		.output_within(stagenet_test_support::LIMIT)
		.expect("run stagenet");
	let err = String::from_utf8_lossy(&out.stderr);
	assert_eq!(out.status.code(), Some(3), "{err}");
	assert!(
		err.contains(&format!("orphans of an earlier run `{run_id}`")),
		"{err}"
	);
	assert!(err.contains("exited"), "{err}");
	assert!(
		err.contains("--no-such-flag-for-the-node"),
		"log tail missing:\n{err}"
	);
	assert!(!err.contains("not ready after"), "{err}");
	assert!(
		docker_labelled(&failing_id).is_empty(),
		"a failed start left resources"
	);

	let (code, out, err) = run(&[
		OsStr::new("down"),
		OsStr::new("--all"),
		OsStr::new("--runs-dir"),
		runs.as_os_str(),
	]);
	assert_eq!(code, Some(0), "{err}");
	assert!(out.contains("removed container"), "{out}");
	assert!(docker_labelled(&run_id).is_empty(), "{out}");
}

//! Run ids and runs directories: every id and path is checked before anything is written; a
//! run id that exists (in the runs directory or in the store) is refused before anything
//! starts; a live run cannot be taken over by a second `up`.

use crate::{files_below, repo_root, run, stagenet, tempdir, test_node};
use std::{
	path::{Path, PathBuf},
	process::{Child, Stdio},
	time::{Duration, Instant},
};

/// A scenario whose files exist but whose source is not a snapshot: it gets as far as reading
/// the snapshot, after the run was claimed and recorded.
fn scenario(dir: &Path) -> PathBuf {
	let snap = dir.join("not-a.snap");
	std::fs::write(&snap, b"this is not a snapshot").expect("write");
	let root = repo_root();
	let file = dir.join("scenario.yaml");
	std::fs::write(
		&file,
		format!(
			"version: 1\nname: probe\nsource: {{ snapshot: {} }}\nfork: {{ profile: {} }}\n\
			 topology: {}\nsteps:\n  - wait-blocks: 1\ngates:\n  no-panic: true\n",
			snap.display(),
			root.join("fork-tests/profiles/test-chain.yaml").display(),
			root.join("fork-tests/topologies/rehearse-local.yaml")
				.display(),
		),
	)
	.expect("write");
	file
}

fn rehearse(scenario: &Path, run_id: &str, runs: &Path, store: &Path) -> crate::Seen {
	run([
		"rehearse".as_ref(),
		scenario.as_os_str(),
		"--run-id".as_ref(),
		run_id.as_ref(),
		"--runs-dir".as_ref(),
		runs.as_os_str(),
		"--database-url".as_ref(),
		store.as_os_str(),
	])
}

#[test]
fn a_run_id_that_is_a_path_is_refused_before_anything_is_written() {
	let dir = tempdir();
	let file = scenario(dir.path());
	let runs = dir.path().join("a/b/runs");
	let store = dir.path().join("store.db");
	let before = files_below(dir.path());
	let outside = dir.path().join("abs-run");
	for id in ["../../x", outside.to_str().expect("utf-8"), "a/b", ".."] {
		rehearse(&file, id, &runs, &store).expect(2, &["run id", "hint:"]);
		run(["up", "--run-id", id, "--runs-dir"]
			.iter()
			.map(|s| s.as_ref())
			.chain([runs.as_os_str()]))
		.expect(2, &["run id", "hint:"]);
	}
	assert_eq!(
		files_below(dir.path()),
		before,
		"a refused run id wrote something (a spec, a run directory, a store)"
	);
}

#[test]
fn a_runs_dir_that_is_a_file_is_bad_input_for_every_command() {
	let dir = tempdir();
	let file = scenario(dir.path());
	let runs = dir.path().join("runs-file");
	std::fs::write(&runs, b"x").expect("write");
	rehearse(&file, "r1", &runs, &dir.path().join("s.db")).expect(2, &["is a file", "hint:"]);
	run([
		"up".as_ref(),
		"--run-id".as_ref(),
		"r1".as_ref(),
		"--runs-dir".as_ref(),
		runs.as_os_str(),
	])
	.expect(2, &["is a file", "hint:"]);
	run([
		"down".as_ref(),
		"--all".as_ref(),
		"--runs-dir".as_ref(),
		runs.as_os_str(),
	])
	.expect(2, &["is a file", "hint:"]);
	assert_eq!(std::fs::read(&runs).expect("read"), b"x");
	assert!(!dir.path().join("s.db").exists());
}

#[test]
fn a_run_id_that_exists_in_the_runs_dir_or_the_store_is_refused_before_anything_starts() {
	let dir = tempdir();
	let file = scenario(dir.path());
	let runs = dir.path().join("runs");
	let store = dir.path().join("store.db");
	// The first rehearsal is recorded, then fails on its source (not a snapshot).
	let first = rehearse(&file, "r1", &runs, &store);
	assert_eq!(first.code, Some(2), "{first:#?}");
	assert!(runs.join("r1").exists(), "{first:#?}");
	// Same runs directory, another store: the run directory (and its chain databases) exists.
	let other_store = dir.path().join("other.db");
	rehearse(&file, "r1", &runs, &other_store).expect(2, &["already exists", "r1", "hint:"]);
	// Another runs directory, same store: the store has the run.
	let other_runs = dir.path().join("other-runs");
	rehearse(&file, "r1", &other_runs, &store).expect(2, &["already exists in the store", "hint:"]);
	assert!(
		!other_runs.join("r1").exists(),
		"a refused run wrote its directory"
	);
	// The stored run is the first one, untouched.
	let report = run([
		"report".as_ref(),
		"r1".as_ref(),
		"--format".as_ref(),
		"json".as_ref(),
		"--database-url".as_ref(),
		store.as_os_str(),
	]);
	assert_eq!(report.code, Some(0), "{report:#?}");
	assert!(report.stdout.contains("bad-input"), "{report:#?}");
}

/// A `stagenet up` child (one validator of the dev chain), killed (and its nodes with it) when dropped.
pub struct Up(pub Child);

impl Drop for Up {
	fn drop(&mut self) {
		let _ = self.0.kill();
		let _ = self.0.wait();
	}
}

pub fn spawn_up(run_id: &str, runs: &Path) -> Up {
	Up(stagenet()
		.args(["up", "--validators", "1", "--node"])
		.arg(test_node())
		.args(["--run-id", run_id, "--runs-dir"])
		.arg(runs)
		.stdout(Stdio::null())
		.stderr(Stdio::null())
		.spawn()
		.expect("spawn up"))
}

/// Waits until the run's state file says `phase`.
pub fn wait_phase(runs: &Path, run_id: &str, phase: &str) -> serde_json::Value {
	let file = runs.join(run_id).join("state.json");
	let deadline = Instant::now() + Duration::from_secs(120);
	let mut last = String::from("(no state file)");
	while Instant::now() < deadline {
		if let Ok(text) = std::fs::read_to_string(&file) {
			if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
				if v["phase"] == phase {
					return v;
				}
				last = v["phase"].to_string();
			}
		}
		std::thread::sleep(Duration::from_millis(200));
	}
	panic!("run {run_id} did not reach phase {phase} in 120 s; last: {last}");
}

#[test]
fn a_second_up_of_a_live_run_is_refused_and_leaves_it_running_chain() {
	stagenet_test_support::require!(TestChain);
	let dir = tempdir();
	let runs = dir.path().join("runs");
	let mut first = spawn_up("live", &runs);
	let state = wait_phase(&runs, "live", "ready");
	let log = PathBuf::from(state["members"][0]["log"].as_str().expect("log"));
	let log_before = std::fs::metadata(&log).expect("log").len();
	let state_before = std::fs::read(runs.join("live/state.json")).expect("state");

	let second = run([
		"up".as_ref(),
		"--validators".as_ref(),
		"1".as_ref(),
		"--node".as_ref(),
		test_node().as_os_str(),
		"--run-id".as_ref(),
		"live".as_ref(),
		"--runs-dir".as_ref(),
		runs.as_os_str(),
		"--for".as_ref(),
		"1s".as_ref(),
	]);
	second.expect(
		2,
		&[
			"run `live` is in use",
			&format!("pid {}", first.0.id()),
			"hint:",
		],
	);
	// The first run is untouched: its process lives, its state and log were not rewritten.
	assert!(
		first.0.try_wait().expect("try_wait").is_none(),
		"the first up died"
	);
	assert_eq!(
		std::fs::read(runs.join("live/state.json")).expect("state"),
		state_before
	);
	std::thread::sleep(Duration::from_secs(2));
	assert!(
		std::fs::metadata(&log).expect("log").len() >= log_before,
		"the live node's log was truncated"
	);
	let status = run([
		"status".as_ref(),
		"live".as_ref(),
		"--json".as_ref(),
		"--runs-dir".as_ref(),
		runs.as_os_str(),
	]);
	assert_eq!(status.code, Some(0), "{status:#?}");
	assert!(status.stdout.contains("\"ready\""), "{status:#?}");

	// Once it is down, the id still names that run (its chain databases): refused.
	let down = run([
		"down".as_ref(),
		"live".as_ref(),
		"--runs-dir".as_ref(),
		runs.as_os_str(),
	]);
	assert_eq!(down.code, Some(0), "{down:#?}");
	let _ = first.0.wait();
	run([
		"up".as_ref(),
		"--validators".as_ref(),
		"1".as_ref(),
		"--node".as_ref(),
		test_node().as_os_str(),
		"--run-id".as_ref(),
		"live".as_ref(),
		"--runs-dir".as_ref(),
		runs.as_os_str(),
	])
	.expect(2, &["run `live` already exists", "hint:"]);
	drop(first);
}

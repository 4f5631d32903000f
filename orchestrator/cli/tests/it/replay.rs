//! `stagenet replay` end to end on the bundled test chain: a capture of mixed traffic (with
//! failures) replayed on a fork of the state it followed, brought up by `stagenet up` as real
//! processes: on the same runtime every outcome matches; after `stagenet upgrade` to
//! `upgrade-ok` exactly the calls whose behaviour the migration changes diverge, classified;
//! `--max-divergences`/`--allow` gate on them; bad input exits 2 before any network is asked.

use super::{repo_root, run, stagenet};
use stagenet_fork_tests::{
	fixtures::{shared_replay_source, ReplaySource},
	harness::run_processes,
};
use stagenet_store::{DivergenceKind, ReplayRecord};
use std::{
	ffi::{OsStr, OsString},
	path::{Path, PathBuf},
	process::{Child, Stdio},
	time::{Duration, Instant},
};

/// A fork of the replay source brought up by `stagenet up` (one validator and one RPC
/// node); `stagenet down` and a kill of `up` when dropped, so a failing test leaves nothing.
pub(crate) struct Fork {
	dir: PathBuf,
	pub(crate) runs: PathBuf,
	pub(crate) run_id: String,
	up: Option<Child>,
}

impl Fork {
	pub(crate) fn start(name: &str, source: &ReplaySource) -> Fork {
		Fork::start_from(
			name,
			&source.snapshot,
			&repo_root().join("fork-tests/profiles/test-chain.yaml"),
		)
		.0
	}

	/// A fork of `snapshot` made by `stagenet fork --profile <profile> --validators 1`, up
	/// with one validator and one RPC node; also returns what `stagenet fork` printed.
	pub(crate) fn start_from(name: &str, snapshot: &Path, profile: &Path) -> (Fork, String) {
		let dir = repo_root()
			.join("target/test-runs")
			.join(format!("replay-{name}"));
		let _ = std::fs::remove_dir_all(&dir);
		std::fs::create_dir_all(&dir).expect("create the test directory");
		let spec = dir.join("fork.spec.json");
		let (code, stdout, stderr) = run(&[
			"fork".as_ref(),
			"--snapshot".as_ref(),
			snapshot.as_os_str(),
			"--profile".as_ref(),
			profile.as_os_str(),
			"--out".as_ref(),
			spec.as_os_str(),
			"--validators".as_ref(),
			"1".as_ref(),
			"--force".as_ref(),
		]);
		assert_eq!(code, Some(0), "fork:\n{stdout}\n{stderr}");
		let topology = dir.join("topology.yaml");
		std::fs::write(
			&topology,
			format!(
				"version: 1\nname: replay-{name}\nchain: {}\nnode:\n  binary: {}\n  args: [\"--state-pruning=archive\"]\nvalidators: 1\nrpc-nodes: 1\nready-timeout: 180s\n",
				spec.display(),
				repo_root()
					.join("target/test-chain/stagenet-test-node")
					.display()
			),
		)
		.expect("write the topology");
		(Fork::up(name, dir, &topology, &[]), stdout)
	}

	/// `stagenet up <topology> <extra…>` in the background for the test `name` (runs under
	/// `dir/runs`), once it reports the run ready.
	pub(crate) fn up(name: &str, dir: PathBuf, topology: &Path, extra: &[&str]) -> Fork {
		let runs = dir.join("runs");
		let run_id = format!("replay-{name}-{}", std::process::id());
		let log = std::fs::File::create(dir.join("up.log")).expect("up log");
		let up = stagenet()
			.arg("up")
			.arg(topology)
			.args(["--run-id", &run_id, "--runs-dir"])
			.arg(&runs)
			.args(extra)
			.stdout(Stdio::from(log.try_clone().expect("log handle")))
			.stderr(Stdio::from(log))
			.spawn()
			.expect("spawn stagenet up");
		let mut fork = Fork {
			dir,
			runs,
			run_id,
			up: Some(up),
		};
		fork.wait_ready(Duration::from_secs(240));
		fork
	}

	/// The directory of the run (`<runs>/<run id>`): spec, keystores, logs.
	pub(crate) fn run_dir(&self) -> PathBuf {
		self.runs.join(&self.run_id)
	}

	/// `stagenet status <run> --runs-dir <runs> --json`: exit code, stdout, stderr.
	fn status(&self) -> (Option<i32>, String, String) {
		run(&[
			"status".as_ref(),
			self.run_id.as_ref(),
			"--runs-dir".as_ref(),
			self.runs.as_os_str(),
			"--json".as_ref(),
		])
	}

	/// The RPC URL of the run's RPC node, from `stagenet status --json`.
	pub(crate) fn rpc_url(&self) -> String {
		let (code, out, err) = self.status();
		assert_eq!(code, Some(0), "status: {err}");
		let s: serde_json::Value = serde_json::from_str(&out).expect("status --json");
		s[0]["members"]
			.as_array()
			.and_then(|nodes| {
				nodes
					.iter()
					.find(|n| n["name"] == "rpc-1")
					.and_then(|n| n["rpc_url"].as_str())
			})
			.unwrap_or_else(|| panic!("no RPC URL of rpc-1 in {s:#}"))
			.to_string()
	}

	fn wait_ready(&mut self, timeout: Duration) {
		let deadline = Instant::now() + timeout;
		let mut last = String::from("no state file yet");
		loop {
			if let Some(Ok(Some(status))) = self.up.as_mut().map(|c| c.try_wait()) {
				panic!(
					"`stagenet up` exited with {status} before the fork was ready:\n{}",
					std::fs::read_to_string(self.dir.join("up.log")).unwrap_or_default()
				);
			}
			if self.runs.join(&self.run_id).join("state.json").exists() {
				let (code, out, err) = self.status();
				if code == Some(0) {
					let s: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
					if s[0]["phase"] == "ready" {
						return;
					}
					last = format!("{:#}", s[0]);
				} else {
					last = err;
				}
			}
			if Instant::now() > deadline {
				panic!(
					"run {} not ready after {timeout:?}; last status: {last}\nup log:\n{}",
					self.run_id,
					std::fs::read_to_string(self.dir.join("up.log")).unwrap_or_default()
				);
			}
			std::thread::sleep(Duration::from_millis(500));
		}
	}

	/// `stagenet replay <run> --capture <capture> --runs-dir <runs> <extra…>`.
	fn replay(&self, source: &ReplaySource, extra: &[&OsStr]) -> (Option<i32>, String, String) {
		let mut args: Vec<&OsStr> = vec![
			"replay".as_ref(),
			self.run_id.as_ref(),
			"--capture".as_ref(),
			source.capture.as_os_str(),
			"--runs-dir".as_ref(),
			self.runs.as_os_str(),
		];
		args.extend_from_slice(extra);
		run(&args)
	}

	pub(crate) fn store(&self) -> PathBuf {
		self.dir.join("s.db")
	}

	/// Stops the network and checks that nothing of it is left.
	pub(crate) fn down(mut self) {
		self.teardown();
		let deadline = Instant::now() + Duration::from_secs(20);
		while !run_processes(&self.run_id).is_empty() && Instant::now() < deadline {
			std::thread::sleep(Duration::from_millis(200));
		}
		assert!(
			run_processes(&self.run_id).is_empty(),
			"processes of run {} left: {:?}",
			self.run_id,
			run_processes(&self.run_id)
		);
	}

	fn teardown(&mut self) {
		let Some(mut up) = self.up.take() else {
			return;
		};
		let _ = run(&[
			"down".as_ref(),
			self.run_id.as_ref(),
			"--runs-dir".as_ref(),
			self.runs.as_os_str(),
		]);
		let deadline = Instant::now() + Duration::from_secs(30);
		while Instant::now() < deadline {
			if let Ok(Some(_)) = up.try_wait() {
				return;
			}
			std::thread::sleep(Duration::from_millis(200));
		}
		let _ = up.kill();
		let _ = up.wait();
	}
}

impl Drop for Fork {
	fn drop(&mut self) {
		self.teardown();
	}
}

fn record_of(code: Option<i32>, stdout: &str, stderr: &str) -> ReplayRecord {
	serde_json::from_str(stdout).unwrap_or_else(|e| {
		panic!("`replay --json` printed no record ({e}); exit {code:?}\nstdout:\n{stdout}\nstderr:\n{stderr}")
	})
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_on_the_same_runtime_matches_every_captured_outcome_and_is_stored() {
	stagenet_test_support::require!(TestChain);
	let source = shared_replay_source().await;
	let fork = Fork::start("same", &source);
	let db = fork.store();
	let (code, stdout, stderr) = fork.replay(
		&source,
		&[
			"--rate".as_ref(),
			"max".as_ref(),
			"--database-url".as_ref(),
			db.as_os_str(),
			"--json".as_ref(),
		],
	);
	let record = record_of(code, &stdout, &stderr);
	assert_eq!(code, Some(0), "stderr:\n{stderr}");
	assert!(
		record.divergences.is_empty(),
		"{:#?}\nstderr:\n{stderr}",
		record.divergences
	);
	assert_eq!(
		record.replayed, source.replayed_signed as u64,
		"{record:#?}"
	);
	assert_eq!(record.matched, record.replayed, "{record:#?}");
	assert!(record.skipped_inherents > 0, "{record:#?}");
	assert_eq!(record.undecodable, 0);
	assert_eq!(record.error, None);
	assert_eq!(
		(record.from_block, record.to_block),
		(source.from, source.to)
	);
	assert_eq!(record.rate, "max");
	assert!(record.fork_runtime.ends_with(" 100"), "{record:#?}");
	assert!(record.fork_from.is_some() && record.fork_to >= record.fork_from);
	assert!(
		record
			.calls
			.iter()
			.any(|c| c.call == "Subnets.set_weights" && c.replayed >= 6),
		"{:#?}",
		record.calls
	);
	assert!(
		record.calls.windows(2).all(|w| w[0].call < w[1].call),
		"calls are sorted by name: {:#?}",
		record.calls
	);
	for word in ["fee", "nonce", "extension", "sudo_as"] {
		assert!(
			record.semantics.iter().any(|s| s.contains(word)),
			"semantics do not name `{word}`: {:#?}",
			record.semantics
		);
	}
	// The record is in the store, with a run record the replay created.
	let (code, stdout, stderr) = run(&[
		"report".as_ref(),
		fork.run_id.as_ref(),
		"--format".as_ref(),
		"json".as_ref(),
		"--database-url".as_ref(),
		db.as_os_str(),
	]);
	assert_eq!(code, Some(0), "{stderr}");
	let report = stagenet_report::parse_json(&stdout).expect("report JSON");
	assert_eq!(report.replays, vec![record], "{stdout}");
	fork.down();
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_after_upgrade_ok_reports_exactly_the_changed_calls_and_gates_on_them() {
	stagenet_test_support::require!(TestChain);
	let source = shared_replay_source().await;
	let fork = Fork::start("upgrade", &source);
	let db = fork.store();
	let wasm = repo_root().join("target/test-chain/runtimes/upgrade-ok.compact.compressed.wasm");
	let (code, stdout, stderr) = run(&[
		"upgrade".as_ref(),
		fork.run_id.as_ref(),
		"--wasm".as_ref(),
		wasm.as_os_str(),
		"--runs-dir".as_ref(),
		fork.runs.as_os_str(),
	]);
	assert_eq!(code, Some(0), "upgrade:\n{stdout}\n{stderr}");

	let (code, stdout, stderr) = fork.replay(
		&source,
		&[
			"--rate".as_ref(),
			"max".as_ref(),
			"--database-url".as_ref(),
			db.as_os_str(),
			"--json".as_ref(),
		],
	);
	let record = record_of(code, &stdout, &stderr);
	assert_eq!(code, Some(0), "stderr:\n{stderr}");
	assert!(record.fork_runtime.ends_with(" 101"), "{record:#?}");
	assert_eq!(record.replayed, source.replayed_signed as u64);
	assert_eq!(
		record.divergences.len(),
		source.expected_duplicate_dests,
		"{:#?}",
		record.divergences
	);
	assert_eq!(
		record.matched,
		record.replayed - source.expected_duplicate_dests as u64
	);
	for d in &record.divergences {
		assert_eq!(d.kind, DivergenceKind::LogicChange, "{d:#?}");
		assert_eq!(d.call, "Subnets.set_weights", "{d:#?}");
		assert_eq!(d.captured, "success", "{d:#?}");
		assert_eq!(d.fork, "Subnets::DuplicateUids", "{d:#?}");
		assert!(d.signer.is_some() && d.fork_block.is_some(), "{d:#?}");
		assert!(
			(source.from..=source.to).contains(&d.captured_block),
			"{d:#?}"
		);
		let only = format!("--only {}:{}", d.captured_block, d.captured_index);
		assert!(
			d.reproduce
				.starts_with(&format!("stagenet replay {} --capture ", fork.run_id))
				&& d.reproduce.contains(&only)
				&& !d.reproduce.contains('\n'),
			"{d:#?}"
		);
	}

	// The first reproduce line, as a user pastes it: it diverges again, so
	// `--max-divergences 0` fails the gate, unless the call is allowed.
	let line = record.divergences[0].reproduce.clone();
	let words: Vec<OsString> = line
		.split_whitespace()
		.skip(1)
		.map(OsString::from)
		.collect();
	let with = |extra: &[&str]| {
		let mut args: Vec<&OsStr> = words.iter().map(|w| w.as_os_str()).collect();
		args.push("--database-url".as_ref());
		args.push(db.as_os_str());
		for e in extra {
			args.push(e.as_ref());
		}
		run(&args)
	};
	let (code, stdout, stderr) = with(&["--max-divergences", "0"]);
	assert_eq!(
		code,
		Some(1),
		"{line}\nstdout:\n{stdout}\nstderr:\n{stderr}"
	);
	assert!(stderr.contains("--max-divergences 0"), "{stderr}");
	assert!(
		stdout.contains("logic-change (1)") && stdout.contains("Subnets::DuplicateUids"),
		"{stdout}"
	);
	assert!(stdout.contains("report: stagenet report"), "{stdout}");
	let (code, stdout, stderr) =
		with(&["--allow", "Subnets.set_weights", "--max-divergences", "0"]);
	assert_eq!(
		code,
		Some(0),
		"{line}\nstdout:\n{stdout}\nstderr:\n{stderr}"
	);
	assert!(stdout.contains("(allowed)"), "{stdout}");

	// Three replays of the run in the store, in order.
	let (code, stdout, stderr) = run(&[
		"report".as_ref(),
		fork.run_id.as_ref(),
		"--format".as_ref(),
		"json".as_ref(),
		"--database-url".as_ref(),
		db.as_os_str(),
	]);
	assert_eq!(code, Some(0), "{stderr}");
	let report = stagenet_report::parse_json(&stdout).expect("report JSON");
	let seqs: Vec<u32> = report.replays.iter().map(|r| r.seq).collect();
	assert_eq!(seqs, vec![0, 1, 2]);
	assert_eq!(report.replays[1].replayed, 1);
	assert_eq!(report.replays[1].divergences.len(), 1);
	fork.down();
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_with_a_range_outside_the_capture_or_a_file_that_is_not_one_is_bad_input() {
	stagenet_test_support::require!(TestChain);
	let source = shared_replay_source().await;
	let dir = repo_root().join("target/test-runs/replay-bad-input");
	let _ = std::fs::remove_dir_all(&dir);
	std::fs::create_dir_all(&dir).expect("create the test directory");
	let runs = dir.join("runs");
	let db = dir.join("s.db");
	let bad = |capture: &Path, extra: &[&str]| {
		let mut args: Vec<&OsStr> = vec![
			"replay".as_ref(),
			"no-such-run".as_ref(),
			"--capture".as_ref(),
			capture.as_os_str(),
			"--runs-dir".as_ref(),
			runs.as_os_str(),
			"--database-url".as_ref(),
			db.as_os_str(),
		];
		for e in extra {
			args.push(e.as_ref());
		}
		run(&args)
	};
	let past = (source.to + 50).to_string();
	let (code, _, stderr) = bad(&source.capture, &["--from", &past]);
	assert_eq!(code, Some(2), "{stderr}");
	assert!(
		stderr.contains(&format!("#{}..=#{}", source.from, source.to)) && stderr.contains("hint:"),
		"the hint names the capture's range: {stderr}"
	);
	let (code, _, stderr) = bad(&source.capture, &["--only", "nonsense"]);
	assert_eq!(code, Some(2), "{stderr}");
	let text = dir.join("notes.txt");
	std::fs::write(&text, "not a capture\n".repeat(100)).expect("write");
	for not_a_capture in [&text, &source.snapshot] {
		let (code, _, stderr) = bad(not_a_capture, &[]);
		assert_eq!(code, Some(2), "{}: {stderr}", not_a_capture.display());
		assert!(
			stderr.contains("cannot be replayed") && stderr.contains("hint:"),
			"{stderr}"
		);
	}
	let (code, _, stderr) = bad(&dir.join("missing.db"), &[]);
	assert_eq!(code, Some(2), "{stderr}");
	assert!(stderr.contains("stagenet capture"), "{stderr}");
	assert!(!db.exists(), "a store was written for bad input");
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_whose_fork_goes_down_stops_with_exit_3_the_last_state_and_a_stored_record() {
	stagenet_test_support::require!(TestChain);
	use std::io::{BufRead, BufReader};
	let source = shared_replay_source().await;
	let mut fork = Fork::start("down", &source);
	let db = fork.store();
	// At the captured pace, so that the network can go while the replay runs.
	let mut replay = stagenet()
		.arg("replay")
		.arg(&fork.run_id)
		.arg("--capture")
		.arg(&source.capture)
		.arg("--runs-dir")
		.arg(&fork.runs)
		.arg("--database-url")
		.arg(&db)
		.args(["--rate", "as-captured", "--block-timeout", "5s"])
		.stdout(Stdio::piped())
		.stderr(Stdio::piped())
		.spawn()
		.expect("spawn stagenet replay");
	let stdout = replay.stdout.take().expect("stdout");
	let mut lines = BufReader::new(stdout).lines();
	let mut seen = Vec::new();
	for line in lines.by_ref() {
		let line = line.expect("a line of output");
		let started = line.contains("replay: captured #");
		seen.push(line);
		if started {
			break;
		}
	}
	assert!(
		seen.last()
			.is_some_and(|l| l.contains("replay: captured #")),
		"the replay did not start: {seen:#?}"
	);
	fork.teardown();
	let rest: Vec<String> = lines.map_while(Result::ok).collect();
	let deadline = Instant::now() + Duration::from_secs(90);
	let status = loop {
		if let Some(status) = replay.try_wait().expect("wait for replay") {
			break status;
		}
		if Instant::now() > deadline {
			let _ = replay.kill();
			panic!("the replay did not stop after its fork went down: {rest:#?}");
		}
		std::thread::sleep(Duration::from_millis(200));
	};
	let mut stderr = String::new();
	if let Some(mut e) = replay.stderr.take() {
		let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
	}
	assert_eq!(status.code(), Some(3), "{rest:#?}\n{stderr}");
	assert!(
		stderr.contains("stopped early") && stderr.contains("state when it stopped"),
		"{stderr}"
	);
	let (code, stdout, stderr) = run(&[
		"report".as_ref(),
		fork.run_id.as_ref(),
		"--format".as_ref(),
		"json".as_ref(),
		"--database-url".as_ref(),
		db.as_os_str(),
	]);
	assert_eq!(code, Some(0), "{stderr}");
	let report = stagenet_report::parse_json(&stdout).expect("report JSON");
	assert!(
		report.replays.len() == 1 && report.replays[0].error.is_some(),
		"{:#?}",
		report.replays
	);
	fork.down();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_scenario_gates_on_divergences_with_the_upgrades_intended_change_allowed() {
	stagenet_test_support::require!(TestChain);
	stagenet_fork_tests::fixtures::shared_replay_source().await;
	let dir = super::rehearse::work("replay-window");
	let db = dir.join("store.db");
	let r = super::rehearse::rehearse(
		&repo_root().join("fork-tests/scenarios/replay-window.yaml"),
		&dir,
		&db.display().to_string(),
		&[],
	);
	assert_eq!(r.code, Some(0), "{}", r.context());
	let report = r.report();
	assert_eq!(report.replays.len(), 2, "{}", r.context());
	let (before, after) = (&report.replays[0], &report.replays[1]);
	assert!(before.replayed > 0, "{before:#?}");
	assert!(before.divergences.is_empty(), "{:#?}", before.divergences);
	assert_eq!(before.fork_runtime.split_whitespace().last(), Some("100"));
	assert_eq!(after.fork_runtime.split_whitespace().last(), Some("101"));
	assert!(!after.divergences.is_empty());
	assert!(
		after
			.divergences
			.iter()
			.all(|d| d.call == "Subnets.set_weights" && d.fork == "Subnets::DuplicateUids"),
		"{:#?}",
		after.divergences
	);
	let gate = r.gate("replay-divergences");
	assert!(gate.passed, "{gate:?}");
	assert!(gate.measured.contains("allowed"), "{gate:?}");
	super::rehearse::assert_no_nodes_left(&r.run_id);
}

//! Interrupts of `stagenet rehearse` (needs the test chain, `scripts/build-test-chain`): a
//! real rehearsal on real test-chain nodes, stopped by SIGINT (Ctrl-C) in the middle of a long
//! step or by SIGTERM while its network starts, ends as `interrupted` everywhere: exit 3, the
//! run state's phase, the store's verdict, and a partial report with what was measured until
//! then; no node is left. The hints `rehearse` gives name the topology's keys, which it has,
//! not `up`'s and `fork`'s flags, which it does not.

use stagenet_test_support::OutputWithin;
use crate::{processes_of, repo_root, stagenet, tempdir, test_node};
use stagenet_report::parse_json;
use stagenet_store::{RunReport, Verdict};
use std::{
	io::{BufRead as _, BufReader},
	path::{Path, PathBuf},
	process::{Child, Stdio},
	sync::mpsc,
	time::{Duration, Instant},
};

/// Chain tests of this module run one at a time (two CPU cores are shared).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A snapshot of a test-chain dev node, made once per test process.
async fn snapshot() -> PathBuf {
	test_node();
	static MADE: tokio::sync::OnceCell<PathBuf> = tokio::sync::OnceCell::const_new();
	MADE.get_or_init(|| async {
		let dir = repo_root().join("target/test-runs/reliability-interrupt");
		std::fs::create_dir_all(&dir).expect("create the snapshot directory");
		let out = dir.join("source.snap");
		let node = stagenet_fork_tests::solo::SoloNode::start("reliability-interrupt", &[]).await;
		node.wait_for_block(4, Duration::from_secs(120)).await;
		let quiet: std::sync::Arc<dyn Fn(&stagenet_snapshot::Progress) + Send + Sync> =
			std::sync::Arc::new(|_: &stagenet_snapshot::Progress| {});
		stagenet_snapshot::download(
			&stagenet_snapshot::DownloadOptions {
				force: true,
				retry_for: Duration::from_secs(5),
				..stagenet_snapshot::DownloadOptions::new(&node.url(), &out)
			},
			quiet,
		)
		.await
		.unwrap_or_else(|e| panic!("snapshot of the test chain: {e}"));
		drop(node);
		out
	})
	.await
	.clone()
}

/// A topology of one validator of the test chain (`binary` overrides the node binary).
fn topology(dir: &Path, binary: Option<&Path>, validators: u32) -> PathBuf {
	let file = dir.join("topology.yaml");
	let node = test_node();
	std::fs::write(
		&file,
		format!(
			"version: 1\nname: interrupt-local\nnode:\n  binary: {}\n  args: [\"--state-pruning=archive\"]\n\
			 validators: {validators}\nready-timeout: 180s\n",
			binary.unwrap_or(&node).display()
		),
	)
	.expect("write the topology");
	file
}

/// A scenario on `snap` with `steps`.
fn scenario(dir: &Path, snap: &Path, topology: &Path, steps: &str) -> PathBuf {
	let file = dir.join("scenario.yaml");
	std::fs::write(
		&file,
		format!(
			"version: 1\nname: interrupt\nsource: {{ snapshot: {} }}\nfork: {{ profile: {} }}\n\
			 topology: {}\nsteps:\n{steps}gates:\n  no-panic: true\n  keeps-producing: 10\n",
			snap.display(),
			repo_root()
				.join("fork-tests/profiles/test-chain.yaml")
				.display(),
			topology.display(),
		),
	)
	.expect("write the scenario");
	file
}

/// A `stagenet rehearse` child process; killed when dropped.
struct Rehearsal {
	child: Child,
	lines: mpsc::Receiver<String>,
	stdout: Vec<String>,
	run_id: String,
	runs: PathBuf,
	reports: PathBuf,
	store: PathBuf,
}

impl Rehearsal {
	fn start(dir: &Path, scenario: &Path, run_id: &str) -> Self {
		let runs = dir.join("runs");
		let reports = dir.join("reports");
		let store = dir.join("store.db");
		let mut child = stagenet()
			.arg("rehearse")
			.arg(scenario)
			.args(["--run-id", run_id, "--no-color"])
			.arg("--runs-dir")
			.arg(&runs)
			.arg("--report-dir")
			.arg(&reports)
			.arg("--database-url")
			.arg(&store)
			.stdout(Stdio::piped())
			.stderr(Stdio::piped())
			.spawn()
			.expect("start stagenet rehearse");
		let out = child.stdout.take().expect("stdout");
		let (tx, lines) = mpsc::channel();
		std::thread::spawn(move || {
			for line in BufReader::new(out).lines().map_while(Result::ok) {
				if tx.send(line).is_err() {
					break;
				}
			}
		});
		Self {
			child,
			lines,
			stdout: Vec::new(),
			run_id: run_id.to_string(),
			runs,
			reports,
			store,
		}
	}

	/// Waits until `done` holds (checked on each output line and every 200 ms), up to
	/// `timeout`; fails the test if the rehearsal ends first.
	fn wait_until(&mut self, what: &str, timeout: Duration, done: impl Fn(&Self) -> bool) {
		let deadline = Instant::now() + timeout;
		loop {
			while let Ok(line) = self.lines.try_recv() {
				self.stdout.push(line);
			}
			if done(self) {
				return;
			}
			if let Ok(Some(status)) = self.child.try_wait() {
				panic!(
					"rehearsal ended ({status}) before {what}; stdout:\n{}",
					self.stdout.join("\n")
				);
			}
			assert!(
				Instant::now() < deadline,
				"no {what} within {timeout:?}; stdout:\n{}",
				self.stdout.join("\n")
			);
			std::thread::sleep(Duration::from_millis(200));
		}
	}

	fn phase(&self) -> Option<String> {
		let text = std::fs::read_to_string(self.runs.join(&self.run_id).join("state.json")).ok()?;
		let state: serde_json::Value = serde_json::from_str(&text).ok()?;
		state["phase"].as_str().map(str::to_string)
	}

	fn signal(&self, name: &str) {
		let ok = std::process::Command::new("kill")
			.args([&format!("-{name}"), &self.child.id().to_string()])
			.status()
			.expect("run kill")
			.success();
		assert!(ok, "kill -{name} failed");
	}

	/// Waits for the exit (up to `timeout`): exit code and stderr.
	fn finish(&mut self, timeout: Duration) -> (Option<i32>, String) {
		let deadline = Instant::now() + timeout;
		let status = loop {
			if let Some(status) = self.child.try_wait().expect("wait") {
				break status;
			}
			assert!(
				Instant::now() < deadline,
				"rehearsal still running {timeout:?} after the signal; stdout:\n{}",
				self.stdout.join("\n")
			);
			std::thread::sleep(Duration::from_millis(200));
		};
		while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
			self.stdout.push(line);
		}
		let mut stderr = String::new();
		if let Some(mut e) = self.child.stderr.take() {
			let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
		}
		(status.code(), stderr)
	}

	/// The report as `stagenet report --format json` rebuilds it from the store.
	fn stored(&self) -> RunReport {
		let out = stagenet()
			.args(["report", &self.run_id, "--format", "json", "--database-url"])
			.arg(&self.store)
			.output_within(stagenet_test_support::LIMIT)
			.expect("run stagenet report");
		assert_eq!(out.status.code(), Some(0), "{out:#?}");
		parse_json(&String::from_utf8_lossy(&out.stdout)).expect("the stored report reads")
	}

	fn written(&self) -> RunReport {
		let text = std::fs::read_to_string(self.reports.join("report.json")).unwrap_or_else(|e| {
			panic!(
				"no partial report.json: {e}; stdout:\n{}",
				self.stdout.join("\n")
			)
		});
		parse_json(&text).expect("report.json reads")
	}
}

impl Drop for Rehearsal {
	fn drop(&mut self) {
		let _ = self.child.kill();
		let _ = self.child.wait();
	}
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_during_a_long_step_ends_the_run_interrupted_with_a_partial_report_chain() {
	stagenet_test_support::require!(TestChain);
	let _one = ONE_AT_A_TIME.lock().await;
	let snap = snapshot().await;
	let dir = tempdir();
	let topo = topology(dir.path(), None, 1);
	let file = scenario(
		dir.path(),
		&snap,
		&topo,
		"  - wait-blocks: 2\n  - wait-blocks: { blocks: 100000, timeout: 600s }\n",
	);
	let run_id = format!("interrupt-int-{}", std::process::id());
	let mut r = Rehearsal::start(dir.path(), &file, &run_id);
	r.wait_until("the first step passed", Duration::from_secs(400), |r| {
		r.stdout.iter().any(|l| l.contains("step 1/2 ok"))
	});
	assert_eq!(r.phase().as_deref(), Some("ready"));
	std::thread::sleep(Duration::from_secs(2));
	r.signal("INT");
	let (code, stderr) = r.finish(Duration::from_secs(120));
	let context = format!(
		"exit {code:?}\nstdout:\n{}\nstderr:\n{stderr}",
		r.stdout.join("\n")
	);
	assert_eq!(code, Some(3), "{context}");
	assert!(stderr.contains("interrupted"), "{context}");
	assert!(!stderr.contains("panicked"), "{context}");
	// The run state is not left `ready` (a ghost in `stagenet status`).
	assert_eq!(r.phase().as_deref(), Some("interrupted"), "{context}");
	// The store and the partial report say so, with what was measured.
	for report in [r.stored(), r.written()] {
		assert_eq!(report.verdict(), Verdict::Interrupted, "{context}");
		let error = report.run.error.clone().unwrap_or_default();
		assert!(
			error.contains("interrupted") && error.contains("1 of 2 step(s) had passed"),
			"{error}"
		);
		assert!(report.run.finished_at.is_some());
		assert_eq!(report.steps.len(), 2, "{:#?}", report.steps);
		assert!(report.steps[0].ok, "{:#?}", report.steps);
		assert!(
			!report.steps[1].ok && report.steps[1].outcome.contains("interrupted"),
			"{:#?}",
			report.steps
		);
		assert!(
			report.blocks.len() >= 2,
			"{} blocks measured",
			report.blocks.len()
		);
		assert!(
			!report.gates.is_empty(),
			"the gates on what was measured are kept"
		);
	}
	let md = std::fs::read_to_string(r.reports.join("report.md")).expect("report.md");
	assert!(md.contains("INTERRUPTED") && !md.contains("PASS"), "{md}");
	let xml = std::fs::read_to_string(r.reports.join("report.xml")).expect("report.xml");
	assert!(xml.contains("interrupted"), "{xml}");
	assert_eq!(processes_of(&run_id), Vec::<String>::new(), "nodes left");
	// `status` does not show a live run.
	let status = stagenet()
		.args(["status", "--runs-dir"])
		.arg(&r.runs)
		.output_within(stagenet_test_support::LIMIT)
		.expect("status");
	let shown = String::from_utf8_lossy(&status.stdout);
	assert!(
		shown.contains("interrupted") && !shown.contains("ready"),
		"{shown}"
	);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_while_the_network_starts_ends_the_run_interrupted_chain() {
	stagenet_test_support::require!(TestChain);
	let _one = ONE_AT_A_TIME.lock().await;
	let snap = snapshot().await;
	let dir = tempdir();
	let topo = topology(dir.path(), None, 1);
	let file = scenario(dir.path(), &snap, &topo, "  - wait-blocks: 5\n");
	let run_id = format!("interrupt-term-{}", std::process::id());
	let mut r = Rehearsal::start(dir.path(), &file, &run_id);
	r.wait_until("the state file", Duration::from_secs(300), |r| {
		r.phase().is_some()
	});
	r.signal("TERM");
	let (code, stderr) = r.finish(Duration::from_secs(120));
	let context = format!(
		"exit {code:?}\nstdout:\n{}\nstderr:\n{stderr}",
		r.stdout.join("\n")
	);
	assert_eq!(code, Some(3), "{context}");
	assert_eq!(r.phase().as_deref(), Some("interrupted"), "{context}");
	for report in [r.stored(), r.written()] {
		assert_eq!(report.verdict(), Verdict::Interrupted, "{context}");
	}
	assert_eq!(processes_of(&run_id), Vec::<String>::new(), "nodes left");
}

#[tokio::test(flavor = "multi_thread")]
async fn rehearse_hints_name_the_topology_keys_not_flags_it_lacks_chain() {
	stagenet_test_support::require!(TestChain);
	let _one = ONE_AT_A_TIME.lock().await;
	let snap = snapshot().await;
	let dir = tempdir();
	// A node binary that is not there.
	let missing = dir.path().join("no-such-node");
	let topo = topology(dir.path(), Some(&missing), 1);
	let file = scenario(dir.path(), &snap, &topo, "  - wait-blocks: 1\n");
	let run_id = format!("interrupt-hint-{}", std::process::id());
	let seen = crate::run([
		"rehearse".as_ref(),
		file.as_os_str(),
		"--run-id".as_ref(),
		run_id.as_ref(),
		"--runs-dir".as_ref(),
		dir.path().join("runs").as_os_str(),
		"--database-url".as_ref(),
		dir.path().join("store.db").as_os_str(),
	]);
	seen.expect(3, &["no-such-node", "`node.binary`", "hint:"]);
	assert!(!seen.stderr.contains("--node"), "{seen:#?}");
	// More validators than the runtime allows (the test chain's `MaxAuthorities` is 32).
	let topo = topology(dir.path(), None, 40);
	let file = scenario(dir.path(), &snap, &topo, "  - wait-blocks: 1\n");
	let seen = crate::run([
		"rehearse".as_ref(),
		file.as_os_str(),
		"--run-id".as_ref(),
		format!("{run_id}-v").as_ref(),
		"--runs-dir".as_ref(),
		dir.path().join("runs").as_os_str(),
		"--database-url".as_ref(),
		dir.path().join("store.db").as_os_str(),
	]);
	seen.expect(2, &["validators", "topology", "hint:"]);
	assert!(!seen.stderr.contains("--validators"), "{seen:#?}");
}

/// Cheap (no chain): a source node that accepts connections and never answers keeps the
/// rehearsal taking its snapshot; SIGINT then ends the run `interrupted` in the store and in
/// the reports, with exit 3.
#[test]
fn sigint_while_the_source_is_snapshotted_ends_the_run_interrupted() {
	let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
	let port = listener.local_addr().expect("local address").port();
	std::thread::spawn(move || {
		let mut held = Vec::new();
		for conn in listener.incoming().flatten() {
			held.push(conn);
		}
	});
	let dir = tempdir();
	let file = dir.path().join("scenario.yaml");
	std::fs::write(
		&file,
		format!(
			"version: 1\nname: interrupt\nsource: {{ url: \"ws://127.0.0.1:{port}\" }}\n\
			 fork: {{ profile: {} }}\ntopology: {}\nsteps:\n  - wait-blocks: 1\n\
			 gates:\n  no-panic: true\n",
			repo_root()
				.join("fork-tests/profiles/test-chain.yaml")
				.display(),
			repo_root()
				.join("fork-tests/topologies/rehearse-local.yaml")
				.display(),
		),
	)
	.expect("write the scenario");
	let run_id = format!("interrupt-source-{}", std::process::id());
	let mut r = Rehearsal::start(dir.path(), &file, &run_id);
	r.wait_until("the snapshot started", Duration::from_secs(30), |r| {
		r.stdout.iter().any(|l| l.contains("snapshot of"))
	});
	std::thread::sleep(Duration::from_millis(500));
	r.signal("INT");
	let (code, stderr) = r.finish(Duration::from_secs(30));
	let context = format!(
		"exit {code:?}\nstdout:\n{}\nstderr:\n{stderr}",
		r.stdout.join("\n")
	);
	assert_eq!(code, Some(3), "{context}");
	assert!(stderr.contains("interrupted"), "{context}");
	assert!(!stderr.contains("panicked"), "{context}");
	for report in [r.stored(), r.written()] {
		assert_eq!(report.verdict(), Verdict::Interrupted, "{context}");
		let error = report.run.error.clone().unwrap_or_default();
		assert!(error.contains("taking the source snapshot"), "{error}");
	}
	assert_eq!(r.phase(), None, "no network was started: {context}");
}

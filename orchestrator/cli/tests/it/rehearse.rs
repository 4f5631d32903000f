//! `stagenet rehearse` end to end on the bundled test chain: each shipped scenario
//! (`fork-tests/scenarios/<variant>.yaml`) from a snapshot of a test chain that ran with
//! traffic to its verdict, with real node processes (one run on Docker), a real SQLite store
//! and a real Postgres server, and the HTML report opened in a real headless Chromium.

use stagenet_test_support::OutputWithin;
use super::{repo_root, run};
use stagenet_fork_tests::fixtures::scenario_source;
use stagenet_store::{FindingKind, GateResult, RunReport};
use std::{
	path::{Path, PathBuf},
	process::Command,
};

/// A fresh directory for one test's runs, store and reports.
pub(crate) fn work(name: &str) -> PathBuf {
	let dir = repo_root()
		.join("target/test-runs")
		.join(format!("rehearse-{name}"));
	let _ = std::fs::remove_dir_all(&dir);
	std::fs::create_dir_all(&dir).expect("create the test directory");
	dir
}

fn scenario(variant: &str) -> PathBuf {
	repo_root().join(format!("fork-tests/scenarios/{variant}.yaml"))
}

/// What one `stagenet rehearse` left: exit code, output, and the JSON report it wrote.
pub(crate) struct Rehearsal {
	pub code: Option<i32>,
	pub stdout: String,
	pub stderr: String,
	pub report: Option<RunReport>,
	pub dir: PathBuf,
	pub run_id: String,
}

impl Rehearsal {
	pub fn report(&self) -> &RunReport {
		self.report.as_ref().unwrap_or_else(|| {
			panic!(
				"no report was written; stdout:\n{}\nstderr:\n{}",
				self.stdout, self.stderr
			)
		})
	}

	pub fn gate(&self, name: &str) -> &GateResult {
		self.report()
			.gates
			.iter()
			.find(|g| g.name == name)
			.unwrap_or_else(|| panic!("no gate `{name}` in {:#?}", self.report().gates))
	}

	pub fn context(&self) -> String {
		format!(
			"exit {:?}\nstdout:\n{}\nstderr:\n{}",
			self.code, self.stdout, self.stderr
		)
	}
}

pub(crate) fn rehearse(file: &Path, dir: &Path, database: &str, extra: &[&str]) -> Rehearsal {
	let run_id = format!(
		"{}-{}",
		file.file_stem()
			.map(|s| s.to_string_lossy().into_owned())
			.unwrap_or_default(),
		std::process::id()
	);
	let reports = dir.join("reports");
	let mut args: Vec<std::ffi::OsString> = vec!["rehearse".into(), file.into()];
	for a in [
		"--run-id",
		&run_id,
		"--database-url",
		database,
		"--runs-dir",
	] {
		args.push(a.into());
	}
	args.push(dir.join("runs").into());
	args.push("--report-dir".into());
	args.push(reports.clone().into());
	args.push("--no-color".into());
	for a in extra {
		args.push(a.into());
	}
	let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
	let (code, stdout, stderr) = run(&refs);
	let report = std::fs::read_to_string(reports.join("report.json"))
		.ok()
		.map(|t| stagenet_report::parse_json(&t).expect("report.json reads back"));
	Rehearsal {
		code,
		stdout,
		stderr,
		report,
		dir: dir.to_path_buf(),
		run_id,
	}
}

pub(crate) async fn source() {
	scenario_source().await;
}

/// No process of any test run is left.
pub(crate) fn assert_no_nodes_left(run_id: &str) {
	let left: Vec<String> = std::fs::read_dir("/proc")
		.expect("/proc")
		.flatten()
		.filter(|e| {
			std::fs::read(e.path().join("environ"))
				.map(|env| {
					env.split(|b| *b == 0)
						.any(|kv| kv == format!("STAGENET_RUN={run_id}").as_bytes())
				})
				.unwrap_or(false)
		})
		.map(|e| e.file_name().to_string_lossy().into_owned())
		.collect();
	assert!(left.is_empty(), "processes of run {run_id} left: {left:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rehearse_upgrade_ok_passes_with_migration_weight_and_the_rewritten_map_and_rebuilds_from_sqlite(
) {
	stagenet_test_support::require!(TestChain);
	source().await;
	let dir = work("upgrade-ok");
	let db = dir.join("store.db");
	let events_file = dir.join("events.jsonl");
	let r = rehearse(
		&scenario("upgrade-ok"),
		&dir,
		&db.display().to_string(),
		&["--events", &events_file.display().to_string()],
	);
	assert_eq!(r.code, Some(0), "{}", r.context());
	let report = r.report();
	the_event_stream_tells_the_stored_run(&events_file, report);
	assert!(report.gates.iter().all(|g| g.passed), "{:#?}", report.gates);
	assert!(r.stdout.contains("PASS"), "{}", r.context());
	let upgrade = report.upgrades.first().expect("one upgrade");
	assert!(upgrade.code_updated, "{upgrade:#?}");
	assert_eq!(
		upgrade.new_version.as_deref(),
		Some("stagenet-test 101"),
		"{upgrade:#?}"
	);
	assert_eq!(
		upgrade.last_runtime_upgrade.as_deref(),
		Some("stagenet-test 101")
	);
	let share = upgrade
		.migration_percent
		.expect("migration weight measured");
	assert!(share > 0.0 && share < 50.0, "migration share {share} %");
	assert!(
		upgrade
			.first_block_events
			.iter()
			.any(|e| e == "Subnets.MigrationApplied"),
		"{:?}",
		upgrade.first_block_events
	);
	let subnets = upgrade
		.diff
		.iter()
		.find(|p| p.pallet == "Subnets")
		.unwrap_or_else(|| panic!("no Subnets in the diff: {:#?}", upgrade.diff));
	assert!(subnets.changed_keys >= 32, "{subnets:#?}");
	assert!(
		subnets
			.items
			.iter()
			.any(|i| i.starts_with("Weights:") && i.contains("changed")),
		"the rewritten map is not named: {subnets:#?}"
	);
	// The ledger: every block with its weight, limits, author and heights of all 4 nodes.
	assert!(report.blocks.len() >= 15, "{} blocks", report.blocks.len());
	let b = report.blocks.last().expect("a block");
	assert!(
		b.limits.max_block > 0 && b.author.is_some() && b.heights.len() == 4,
		"{b:#?}"
	);
	assert!(
		report.blocks.iter().any(|b| b.authoring_ms.is_some()),
		"no authoring time from Prometheus"
	);
	assert!(
		!report.findings.iter().any(|f| f.kind.is_panic()),
		"{:#?}",
		report.findings
	);
	// The same report, rebuilt from the store alone.
	let (code, stdout, stderr) = run(&[
		"report".as_ref(),
		r.run_id.as_ref(),
		"--format".as_ref(),
		"json".as_ref(),
		"--database-url".as_ref(),
		db.as_os_str(),
	]);
	assert_eq!(code, Some(0), "{stderr}");
	let rebuilt = stagenet_report::parse_json(&stdout).expect("rebuilt report");
	assert_eq!(&rebuilt, report);
	// Every format is written; the HTML renders in Chromium with its charts and markers.
	for f in ["report.json", "report.xml", "report.md", "report.html"] {
		assert!(r.dir.join("reports").join(f).is_file(), "{f} missing");
	}
	let dom = rendered(&r.dir.join("reports/report.html"));
	assert!(
		dom.contains("data-rendered=\"ok\""),
		"the page did not render:\n{}",
		&dom[..dom.len().min(3000)]
	);
	let first = upgrade.first_block.unwrap_or_default();
	assert!(
		dom.split('<')
			.any(|element| element.contains("marker upgrade")
				&& element.contains(&format!("data-block=\"{first}\""))),
		"no upgrade marker at #{first} in the rendered page"
	);
	assert_no_nodes_left(&r.run_id);
}

/// The page as a headless Chromium renders it (after its scripts ran).
pub(crate) fn rendered(page: &Path) -> String {
	let exe = stagenet_test_support::chromium()
		.expect("no Chromium (hint: scripts/setup installs chromium-headless-shell)");
	let profile = tempfile::tempdir().expect("profile dir");
	let out = Command::new(exe)
		.args([
			"--headless",
			"--no-sandbox",
			"--disable-gpu",
			"--virtual-time-budget=5000",
		])
		.arg(format!("--user-data-dir={}", profile.path().display()))
		.arg("--dump-dom")
		.arg(format!("file://{}", page.display()))
		.output_within(stagenet_test_support::LIMIT)
		.expect("run chromium");
	String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn rehearse_panic_on_init_fails_with_the_panic_its_nodes_and_block() {
	stagenet_test_support::require!(TestChain);
	source().await;
	let dir = work("panic-on-init");
	let r = rehearse(
		&scenario("panic-on-init"),
		&dir,
		&dir.join("store.db").display().to_string(),
		&[],
	);
	assert_eq!(r.code, Some(1), "{}", r.context());
	let report = r.report();
	let upgrade = report.upgrades.first().expect("one upgrade");
	// The migration sets UpgradedAt to the first block of the new runtime; the panic comes
	// three blocks later.
	let first = upgrade.first_block.expect("first block");
	let panics: Vec<_> = report
		.findings
		.iter()
		.filter(|f| f.kind == FindingKind::Panic)
		.collect();
	assert!(!panics.is_empty(), "{:#?}", report.findings);
	let nodes: std::collections::BTreeSet<&str> =
		panics.iter().filter_map(|f| f.node.as_deref()).collect();
	assert!(
		nodes
			.iter()
			.any(|n| ["alice", "bob", "charlie"].contains(n)),
		"{nodes:?}"
	);
	for f in &panics {
		assert_eq!(f.block, Some(first + 3), "{f:#?}");
		assert!(f.message.contains("panicked"), "{f:#?}");
		assert!(f.context.len() > 1, "no surrounding log lines: {f:#?}");
	}
	assert!(
		report
			.findings
			.iter()
			.any(|f| f.kind == FindingKind::ProductionStall),
		"{:#?}",
		report.findings
	);
	let gate = r.gate("no-panic");
	assert!(!gate.passed, "{gate:#?}");
	assert!(
		gate.detail
			.as_deref()
			.unwrap_or("")
			.contains("on_initialize panicked"),
		"{gate:#?}"
	);
	assert!(!r.gate("keeps-producing").passed);
	assert!(r.stdout.contains("FAIL"), "{}", r.context());
	assert_no_nodes_left(&r.run_id);
}

#[tokio::test(flavor = "multi_thread")]
async fn rehearse_overweight_migration_fails_on_the_migration_weight_gate() {
	stagenet_test_support::require!(TestChain);
	source().await;
	let dir = work("overweight");
	let r = rehearse(
		&scenario("overweight-migration"),
		&dir,
		&dir.join("store.db").display().to_string(),
		&[],
	);
	assert_eq!(r.code, Some(1), "{}", r.context());
	let gate = r.gate("migration-weight");
	assert!(!gate.passed, "{gate:#?}");
	let share: f64 = gate
		.measured
		.trim_end_matches(" %")
		.parse()
		.expect("a share");
	assert!(share > 100.0, "{gate:#?}");
	assert!(r.gate("no-panic").passed);
	assert!(r.stderr.contains("migration-weight"), "{}", r.context());
}

#[tokio::test(flavor = "multi_thread")]
async fn rehearse_lossy_migration_fails_on_the_stake_invariant() {
	stagenet_test_support::require!(TestChain);
	source().await;
	let dir = work("lossy");
	let r = rehearse(
		&scenario("lossy-migration"),
		&dir,
		&dir.join("store.db").display().to_string(),
		&[],
	);
	assert_eq!(r.code, Some(1), "{}", r.context());
	assert!(
		r.gate("invariant:stake-before").passed,
		"{:#?}",
		r.report().gates
	);
	let gate = r.gate("invariant:stake-sum");
	assert!(!gate.passed, "{gate:#?}");
	assert!(gate.measured.contains('≠'), "{gate:#?}");
	assert!(r.gate("migration-weight").passed);
}

#[tokio::test(flavor = "multi_thread")]
async fn rehearse_slow_init_fails_on_block_time_with_authoring_far_above_its_declared_weight() {
	stagenet_test_support::require!(TestChain);
	source().await;
	let dir = work("slow-init");
	let r = rehearse(
		&scenario("slow-init"),
		&dir,
		&dir.join("store.db").display().to_string(),
		&[],
	);
	assert_eq!(r.code, Some(1), "{}", r.context());
	let gate = r.gate("block-time-p95");
	assert!(!gate.passed, "{gate:#?}");
	let detail = gate.detail.clone().unwrap_or_default();
	assert!(detail.contains("slowest authoring"), "{gate:#?}");
	let report = r.report();
	let first = report.upgrades[0].first_block.expect("first block");
	let slow = report
		.blocks
		.iter()
		.filter(|b| b.number > first)
		.filter_map(|b| Some((b.authoring_ms?, b.weight.mandatory as f64 / 1e9)))
		.max_by(|a, b| a.0.total_cmp(&b.0))
		.expect("authoring times after the upgrade");
	assert!(
		slow.0 > 10.0 * slow.1.max(1.0),
		"authoring {} ms vs declared {} ms",
		slow.0,
		slow.1
	);
}

#[test]
fn rehearse_with_a_bad_scenario_lists_every_problem_and_starts_nothing() {
	let dir = work("bad");
	let file = dir.join("bad.yaml");
	std::fs::write(
		&file,
		"version: 1\nsource: { snapshot: nope.snap }\nfork: { profile: nope.yaml }\ntopology: nope.yaml\nsteps: [ { upgrade: { wasm: nope.wasm, via: telepathy } } ]\ngates: { migration-weight: lots }\n",
	)
	.expect("write");
	let r = rehearse(
		&file,
		&dir,
		&dir.join("store.db").display().to_string(),
		&[],
	);
	assert_eq!(r.code, Some(2), "{}", r.context());
	for path in [
		"`source.snapshot`",
		"`fork.profile`",
		"`topology`",
		"`steps[0].upgrade.via`",
		"`gates.migration-weight`",
	] {
		assert!(r.stderr.contains(path), "{path}: {}", r.context());
	}
	assert!(!dir.join("runs").exists(), "a run was started");
}

/// A Postgres URL: `STAGENET_TEST_DATABASE_URL` (as `.ci/run` sets it), else a throwaway
/// server started with `scripts/postgres` and stopped when the guard drops.
struct Postgres {
	url: String,
	dir: Option<tempfile::TempDir>,
}

impl Postgres {
	fn get() -> Postgres {
		if let Ok(url) = std::env::var("STAGENET_TEST_DATABASE_URL") {
			return Postgres { url, dir: None };
		}
		let dir = tempfile::Builder::new()
			.prefix("stagenet-cli-postgres")
			.tempdir_in("/tmp")
			.expect("tempdir");
		let out = Command::new(repo_root().join("scripts/postgres"))
			.arg("start")
			.arg(dir.path())
			.output_within(stagenet_test_support::LIMIT)
			.expect("run scripts/postgres");
		assert!(
			out.status.success(),
			"scripts/postgres start failed (hint: scripts/setup installs PostgreSQL): {}",
			String::from_utf8_lossy(&out.stderr)
		);
		let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
		Postgres {
			url,
			dir: Some(dir),
		}
	}
}

impl Drop for Postgres {
	fn drop(&mut self) {
		if let Some(dir) = &self.dir {
			let _ = Command::new(repo_root().join("scripts/postgres"))
				.arg("stop")
				.arg(dir.path())
				.output_within(stagenet_test_support::LIMIT);
		}
	}
}

#[tokio::test(flavor = "multi_thread")]
async fn rehearse_into_a_real_postgres_store_and_rebuild_the_report_from_it() {
	stagenet_test_support::require!(TestChain, Postgres);
	source().await;
	let pg = Postgres::get();
	let dir = work("postgres");
	let r = rehearse(&scenario("lossy-migration"), &dir, &pg.url, &[]);
	assert_eq!(r.code, Some(1), "{}", r.context());
	assert!(!r.gate("invariant:stake-sum").passed);
	let (code, stdout, stderr) = run(&[
		"report".as_ref(),
		r.run_id.as_ref(),
		"--format".as_ref(),
		"json".as_ref(),
		"--database-url".as_ref(),
		pg.url.as_ref(),
		"--exit-code".as_ref(),
	]);
	assert_eq!(
		code,
		Some(1),
		"the rebuilt report carries the verdict: {stderr}"
	);
	let rebuilt = stagenet_report::parse_json(&stdout).expect("rebuilt report");
	assert_eq!(&rebuilt, r.report());
	let (code, junit, _) = run(&[
		"report".as_ref(),
		r.run_id.as_ref(),
		"--format".as_ref(),
		"junit".as_ref(),
		"--database-url".as_ref(),
		pg.url.as_ref(),
	]);
	assert_eq!(code, Some(0));
	assert!(
		junit.contains("invariant:stake-sum") && junit.contains("<failure"),
		"{junit}"
	);
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_rehearse_upgrade_ok_passes_on_the_docker_provider_and_leaves_nothing() {
	stagenet_test_support::require!(TestChain, Docker);
	source().await;
	let dir = work("docker");
	// The node image, built from the test chain's binary.
	let (code, _, stderr) = run(&[
		"image".as_ref(),
		"build".as_ref(),
		"--binary".as_ref(),
		repo_root()
			.join("target/test-chain/stagenet-test-node")
			.as_os_str(),
		"--tag".as_ref(),
		"stagenet-test-node:local".as_ref(),
	]);
	assert_eq!(code, Some(0), "{stderr}");
	// upgrade-ok with the Docker topology, paths made absolute.
	let text = std::fs::read_to_string(scenario("upgrade-ok")).expect("scenario");
	let root = repo_root();
	let text = text
		.replace(
			"../topologies/rehearse-local.yaml",
			&root
				.join("fork-tests/topologies/rehearse-docker.yaml")
				.display()
				.to_string(),
		)
		.replace(
			"../profiles/",
			&format!("{}/", root.join("fork-tests/profiles").display()),
		)
		.replace(
			"../../target/",
			&format!("{}/", root.join("target").display()),
		);
	let file = dir.join("upgrade-ok-docker.yaml");
	std::fs::write(&file, text).expect("write");
	let r = rehearse(
		&file,
		&dir,
		&dir.join("store.db").display().to_string(),
		&["--provider", "docker"],
	);
	assert_eq!(r.code, Some(0), "{}", r.context());
	assert_eq!(r.report().run.provider, "docker");
	assert!(r.report().upgrades[0].migration_percent.is_some());
	let out = Command::new("docker")
		.args([
			"ps",
			"-aq",
			"--filter",
			&format!("label=stagenet.run={}", r.run_id),
		])
		.output_within(stagenet_test_support::LIMIT)
		.expect("docker ps");
	assert!(
		String::from_utf8_lossy(&out.stdout).trim().is_empty(),
		"containers left"
	);
}

#[test]
fn the_shipped_ci_job_gates_on_stagenet_rehearse_and_uploads_the_reports() {
	stagenet_test_support::require!(TestChain);
	let text = std::fs::read_to_string(repo_root().join("deploy/ci/rehearse-release.yml"))
		.expect("deploy/ci/rehearse-release.yml");
	let job: serde_yaml::Value = serde_yaml::from_str(&text).expect("valid YAML");
	let steps = job["jobs"]["rehearse"]["steps"]
		.as_sequence()
		.expect("jobs.rehearse.steps");
	let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
	let gate = runs
		.iter()
		.find(|r| r.contains("stagenet rehearse"))
		.expect("a step runs `stagenet rehearse`");
	assert!(
		!gate.contains("|| true"),
		"the gate must fail the job: {gate}"
	);
	let upload = steps
		.iter()
		.find(|s| {
			s["uses"]
				.as_str()
				.is_some_and(|u| u.starts_with("actions/upload-artifact"))
		})
		.expect("an upload step");
	assert_eq!(
		upload["if"].as_str(),
		Some("always()"),
		"reports are uploaded on failure too"
	);
	assert!(upload["with"]["path"]
		.as_str()
		.unwrap_or("")
		.contains("reports"));
	// The scenario it writes reads as a scenario (paths aside).
	let scenario = runs
		.iter()
		.find_map(|r| r.split("cat > stagenet/release.yaml <<'YAML'\n").nth(1))
		.and_then(|r| r.split("YAML\n").next())
		.expect("the scenario the job writes");
	let doc: serde_yaml::Value = serde_yaml::from_str(scenario).expect("scenario YAML");
	assert_eq!(doc["version"].as_u64(), Some(1));
	assert!(doc["gates"]["no-panic"].as_bool().unwrap_or(false));
}

/// The `--events` file of a finished rehearsal tells the run as the store holds it: it starts
/// with the run, every stored step started and finished in order, every ledger block in
/// increasing order, each gate, the upgrade, and ends with the verdict; nothing was lost.
fn the_event_stream_tells_the_stored_run(file: &Path, report: &stagenet_store::RunReport) {
	let text = std::fs::read_to_string(file).expect("events file");
	let events: Vec<serde_json::Value> = text
		.lines()
		.map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
		.collect();
	let kind = |e: &serde_json::Value| e["event"].as_str().unwrap_or_default().to_owned();
	let kinds: Vec<String> = events.iter().map(kind).collect();
	assert_eq!(kinds.first().map(String::as_str), Some("run-started"), "{kinds:?}");
	assert_eq!(events[0]["run"], report.run.id.as_str());
	assert_eq!(kinds.last().map(String::as_str), Some("verdict"), "{kinds:?}");
	assert_eq!(events.last().expect("last")["verdict"], "pass");
	assert!(!kinds.iter().any(|k| k == "lagged"), "a subscriber lagged: {kinds:?}");
	for stage in ["forking the snapshot", "starting the network", "judging the gates"] {
		assert!(
			events.iter().any(|e| kind(e) == "stage" && e["stage"] == stage),
			"no stage `{stage}`: {kinds:?}"
		);
	}
	let ready = kinds.iter().position(|k| k == "network-ready").expect("network-ready");
	// Steps: started then finished, in scenario order, as stored.
	let started: Vec<u64> = events
		.iter()
		.filter(|e| kind(e) == "step-started")
		.filter_map(|e| e["index"].as_u64())
		.collect();
	let finished: Vec<&serde_json::Value> =
		events.iter().filter(|e| kind(e) == "step-finished").collect();
	assert_eq!(started, (0..report.steps.len() as u64).collect::<Vec<_>>());
	assert_eq!(finished.len(), report.steps.len());
	for (event, stored) in finished.iter().zip(&report.steps) {
		assert_eq!(event["step"]["description"], stored.description.as_str());
		assert_eq!(event["step"]["ok"], stored.ok);
	}
	// The ledger: every stored block was published once, in order, after readiness.
	let blocks: Vec<u64> = events
		.iter()
		.filter(|e| kind(e) == "block")
		.filter_map(|e| e["block"]["number"].as_u64())
		.collect();
	let stored: Vec<u64> = report.blocks.iter().map(|b| b.number).collect();
	assert_eq!(blocks, stored, "published blocks differ from the stored ledger");
	let first_block = kinds.iter().position(|k| k == "block").expect("a block");
	assert!(first_block > ready, "a block before the network was ready");
	let gates: Vec<&str> = events
		.iter()
		.filter(|e| kind(e) == "gate")
		.filter_map(|e| e["gate"]["name"].as_str())
		.collect();
	let stored_gates: Vec<&str> = report.gates.iter().map(|g| g.name.as_str()).collect();
	assert_eq!(gates, stored_gates);
	assert_eq!(
		kinds.iter().filter(|k| *k == "upgrade").count(),
		report.upgrades.len()
	);
	assert_eq!(
		kinds.iter().filter(|k| *k == "finding").count(),
		report.findings.len(),
		"published findings differ from the stored ones"
	);
}

//! The store URL: a server that accepts TCP but never answers the database protocol fails in
//! seconds (for `report` and for `rehearse`, which must fail before it starts or writes
//! anything), an unsupported scheme is bad input naming the supported forms, and a reader
//! (`report`) refuses an absent SQLite store in both its forms instead of creating it empty.
//! An upgrade runtime that is not one is bad input found before anything starts.

use crate::{files_below, processes_of, repo_root, run, tempdir, Seen};
use std::{
	net::{TcpListener, TcpStream},
	path::{Path, PathBuf},
	time::{Duration, Instant},
};

/// A stand-in "database" on a loopback port: it accepts every connection and never answers.
/// Its thread holds the connections until the test process ends.
fn silent_server() -> u16 {
	let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
	let port = listener.local_addr().expect("local address").port();
	std::thread::spawn(move || {
		let mut held: Vec<TcpStream> = Vec::new();
		for conn in listener.incoming().flatten() {
			held.push(conn);
		}
	});
	port
}

/// A scenario whose files exist (a snapshot that is never reached), with `steps`.
fn scenario(dir: &Path, steps: &str) -> PathBuf {
	let snap = dir.join("never-read.snap");
	std::fs::write(&snap, b"not reached").expect("write");
	let root = repo_root();
	let file = dir.join("scenario.yaml");
	std::fs::write(
		&file,
		format!(
			"version: 1\nname: store-probe\nsource: {{ snapshot: {} }}\nfork: {{ profile: {} }}\n\
			 topology: {}\nsteps:\n{steps}gates:\n  no-panic: true\n",
			snap.display(),
			root.join("fork-tests/profiles/test-chain.yaml").display(),
			root.join("fork-tests/topologies/rehearse-local.yaml")
				.display(),
		),
	)
	.expect("write");
	file
}

fn rehearse(scenario: &Path, dir: &Path, database: &str) -> Seen {
	run([
		"rehearse".as_ref(),
		scenario.as_os_str(),
		"--run-id".as_ref(),
		"store-probe".as_ref(),
		"--runs-dir".as_ref(),
		dir.join("runs").as_os_str(),
		"--report-dir".as_ref(),
		dir.join("reports").as_os_str(),
		"--database-url".as_ref(),
		database.as_ref(),
	])
}

#[test]
fn report_on_a_server_that_never_answers_fails_in_seconds_naming_the_handshake() {
	let port = silent_server();
	let url = format!("postgres://stagenet:s3cret@127.0.0.1:{port}/x");
	let started = Instant::now();
	let seen = run(["report", "--database-url", &url]);
	let took = started.elapsed();
	seen.expect(
		3,
		&[
			&format!("postgres://stagenet:***@127.0.0.1:{port}/x"),
			"did not answer within 10 s",
			"handshake",
			"hint:",
		],
	);
	assert!(!seen.stderr.contains("s3cret"), "password shown: {seen:#?}");
	assert!(took < Duration::from_secs(40), "took {took:?}");
	// The same with a run.
	run([
		"report",
		"some-run",
		"--format",
		"json",
		"--database-url",
		&url,
	])
	.expect(3, &["did not answer", "handshake"]);
}

#[test]
fn rehearse_on_a_server_that_never_answers_fails_before_anything_starts() {
	let port = silent_server();
	let dir = tempdir();
	let file = scenario(dir.path(), "  - wait-blocks: 1\n");
	let url = format!("postgres://127.0.0.1:{port}/x");
	let started = Instant::now();
	let seen = rehearse(&file, dir.path(), &url);
	let took = started.elapsed();
	seen.expect(
		3,
		&[&url, "did not answer within 10 s", "handshake", "hint:"],
	);
	assert!(took < Duration::from_secs(40), "took {took:?}");
	// Nothing of the run was written and no node started.
	assert_eq!(
		files_below(&dir.path().join("runs")),
		Vec::<PathBuf>::new(),
		"{seen:#?}"
	);
	assert!(!dir.path().join("reports").exists());
	assert!(!seen.stdout.contains("starting"), "{seen:#?}");
	assert_eq!(processes_of("store-probe"), Vec::<String>::new());
}

#[test]
fn an_unsupported_store_scheme_is_bad_input_naming_the_supported_forms() {
	let dir = tempdir();
	let file = scenario(dir.path(), "  - wait-blocks: 1\n");
	let supported = ["`mysql`", "plain path", "`sqlite://path`", "`postgres://"];
	for url in ["mysql://u@127.0.0.1:3306/db", "redis://127.0.0.1/0"] {
		let mut needles = supported.to_vec();
		if url.starts_with("redis") {
			needles[0] = "`redis`";
		}
		run(["report", "--database-url", url]).expect(2, &needles);
		rehearse(&file, dir.path(), url).expect(2, &needles);
	}
	assert_eq!(files_below(&dir.path().join("runs")), Vec::<PathBuf>::new());
}

#[test]
fn report_refuses_an_absent_store_in_both_forms_and_creates_nothing() {
	let dir = tempdir();
	let plain = dir.path().join("plain/none.db");
	let url = format!("sqlite://{}", dir.path().join("url/none.db").display());
	let before = files_below(dir.path());
	for target in [
		plain.display().to_string(),
		url.clone(),
		format!("sqlite:{}", plain.display()),
	] {
		run(["report", "--database-url", &target]).expect(2, &["no store at", "none.db", "hint:"]);
		run([
			"report",
			"r1",
			"--format",
			"json",
			"--database-url",
			&target,
		])
		.expect(2, &["no store at", "hint:"]);
	}
	assert_eq!(files_below(dir.path()), before, "a reader created files");
}

#[test]
fn an_upgrade_runtime_that_is_not_one_is_bad_input_before_anything_starts() {
	let dir = tempdir();
	let cases: [(&str, Vec<u8>, &str); 4] = [
		(
			"random.wasm",
			(0..4096u32)
				.map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
				.collect(),
			"is not a wasm runtime",
		),
		(
			"notes.txt",
			b"this is a text file, not a runtime\n".to_vec(),
			"is not a wasm runtime",
		),
		// A valid (empty) wasm module: no `runtime_version` section.
		(
			"empty.wasm",
			b"\0asm\x01\0\0\0".to_vec(),
			"`runtime_version`",
		),
		// Substrate's compressed-code prefix followed by bytes that are not zstd.
		(
			"broken.compact.compressed.wasm",
			[&[82, 188, 83, 118, 70, 219, 142, 5][..], b"garbage"].concat(),
			"does not decompress",
		),
	];
	let store = dir.path().join("store.db");
	for (name, bytes, needle) in cases {
		let wasm = dir.path().join(name);
		std::fs::write(&wasm, bytes).expect("write");
		let file = scenario(
			dir.path(),
			&format!(
				"  - wait-blocks: 1\n  - upgrade: {{ wasm: {}, via: sudo }}\n",
				wasm.display()
			),
		);
		let seen = rehearse(&file, dir.path(), &store.display().to_string());
		seen.expect(2, &[name, needle, "step 2 (upgrade)", "hint:"]);
		assert!(!seen.stdout.contains("starting"), "{seen:#?}");
	}
	// Found before the store, the runs directory or a report was written.
	assert!(!store.exists());
	assert_eq!(files_below(&dir.path().join("runs")), Vec::<PathBuf>::new());
	assert!(!dir.path().join("reports").exists());
}

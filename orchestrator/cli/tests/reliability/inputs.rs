//! Input files are read bounded and must be regular files; what can be checked about a
//! network before it starts (validators against the spec's authorities, nodes against this
//! machine) is checked before anything starts.

use crate::{files_below, run, tempdir};
use std::{
	path::Path,
	time::{Duration, Instant},
};

fn mkfifo(path: &Path) {
	let made = std::process::Command::new("mkfifo")
		.arg(path)
		.status()
		.expect("mkfifo");
	assert!(made.success());
}

#[test]
fn devices_fifos_and_directories_are_refused_as_config_files_at_once() {
	let dir = tempdir();
	let fifo = dir.path().join("topology.yaml");
	mkfifo(&fifo);
	let cases: Vec<(Vec<&std::ffi::OsStr>, &str)> = vec![
		(
			vec!["up".as_ref(), "/dev/zero".as_ref()],
			"character device",
		),
		(vec!["up".as_ref(), fifo.as_os_str()], "FIFO"),
		(
			vec!["rehearse".as_ref(), "/dev/zero".as_ref()],
			"character device",
		),
		(
			vec!["rehearse".as_ref(), dir.path().as_os_str()],
			"directory",
		),
	];
	for (args, what) in cases {
		let started = Instant::now();
		let seen = run(&args);
		seen.expect(2, &[what, "not a regular file", "hint:"]);
		// A hang guard, not a performance claim: the old behaviour read /dev/zero until
		// the kernel killed the process.
		assert!(
			started.elapsed() < Duration::from_secs(20),
			"{args:?} took {:?}",
			started.elapsed()
		);
	}
}

#[test]
fn a_config_file_larger_than_any_real_one_is_refused_without_reading_it() {
	let dir = tempdir();
	let big = dir.path().join("big.yaml");
	let file = std::fs::File::create(&big).expect("create");
	// Sparse: 17 MiB of size, no disk.
	file.set_len(17 * 1024 * 1024).expect("set_len");
	run(["up".as_ref(), big.as_os_str()]).expect(2, &["larger than", "hint:"]);
	run(["rehearse".as_ref(), big.as_os_str()]).expect(2, &["larger than", "hint:"]);
}

#[test]
fn a_scenario_naming_a_device_as_its_topology_is_refused_before_anything_is_written() {
	let dir = tempdir();
	let snap = dir.path().join("s.snap");
	std::fs::write(&snap, b"x").expect("write");
	let root = crate::repo_root();
	let scenario = dir.path().join("scenario.yaml");
	std::fs::write(
		&scenario,
		format!(
			"version: 1\nname: dev-zero\nsource: {{ snapshot: {} }}\nfork: {{ profile: {} }}\n\
			 topology: /dev/zero\nsteps:\n  - wait-blocks: 1\n",
			snap.display(),
			root.join("fork-tests/profiles/test-chain.yaml").display()
		),
	)
	.expect("write");
	let runs = dir.path().join("runs");
	let seen = run([
		"rehearse".as_ref(),
		scenario.as_os_str(),
		"--runs-dir".as_ref(),
		runs.as_os_str(),
		"--database-url".as_ref(),
		dir.path().join("s.db").as_os_str(),
	]);
	seen.expect(2, &["/dev/zero", "not a regular file", "hint:"]);
	assert!(
		files_below(&runs)
			.iter()
			.all(|p| !p.ends_with("fork.spec.json")),
		"{:?}",
		files_below(&runs)
	);
}

#[test]
fn more_validators_than_the_spec_has_authorities_are_refused_before_any_node_starts() {
	stagenet_test_support::require!(Subtensor);
	let spec = stagenet_test_support::subtensor_dir().join("raonet-genesis-spec204.json");
	let dir = tempdir();
	let started = Instant::now();
	run([
		"up".as_ref(),
		"--chain".as_ref(),
		spec.as_os_str(),
		"--validators".as_ref(),
		"3".as_ref(),
		"--node".as_ref(),
		"/bin/true".as_ref(),
		"--runs-dir".as_ref(),
		dir.path().as_os_str(),
	])
	.expect(
		2,
		&[
			"3 validators were asked for",
			"names 2 Aura authorities",
			"hint:",
		],
	);
	assert!(started.elapsed() < Duration::from_secs(20));
	assert!(
		files_below(dir.path())
			.iter()
			.all(|p| !p.to_string_lossy().ends_with(".log")),
		"a node was started: {:?}",
		files_below(dir.path())
	);
}

#[test]
fn more_nodes_than_this_machine_can_run_are_refused_before_any_starts() {
	let cores = std::thread::available_parallelism()
		.map(|n| n.get())
		.unwrap_or(1);
	let too_many = (cores * 8 + 1).to_string();
	let dir = tempdir();
	run([
		"up".as_ref(),
		"--validators".as_ref(),
		"1".as_ref(),
		"--full-nodes".as_ref(),
		too_many.as_ref(),
		"--node".as_ref(),
		"/bin/true".as_ref(),
		"--runs-dir".as_ref(),
		dir.path().as_os_str(),
	])
	.expect(2, &["CPU core", "hint:"]);
}

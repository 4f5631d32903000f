//! No command panics when its reader closes standard output (`stagenet … | head -1`).

use stagenet_test_support::OutputWithin;
use crate::{stagenet, tempdir};
use std::process::Stdio;

/// Runs `stagenet args` with a standard output whose reader is already gone (as `| head -1`
/// is once it has its line): every write gets EPIPE. Returns the exit status and stderr.
fn with_closed_stdout(args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
	let mut child = stagenet()
		.args(args)
		.stdout(Stdio::piped())
		.stderr(Stdio::piped())
		.spawn()
		.expect("spawn");
	drop(child.stdout.take());
	let out = stagenet_test_support::wait_with_output_within(child, stagenet_test_support::LIMIT);
	(
		out.status.code(),
		String::from_utf8_lossy(&out.stderr).into_owned(),
	)
}

#[test]
fn a_closed_stdout_ends_output_quietly_without_a_panic() {
	stagenet_test_support::require!(Subtensor);
	let spec = stagenet_test_support::subtensor_dir().join("raonet-genesis-spec204.json");
	let dir = tempdir();
	let snap = dir.path().join("genesis.snap");
	let made = stagenet()
		.args(["snapshot", "from-spec"])
		.arg(&spec)
		.arg("--out")
		.arg(&snap)
		.output_within(stagenet_test_support::LIMIT)
		.expect("from-spec");
	assert!(made.status.success(), "{made:?}");
	for args in [
		vec![
			"snapshot".as_ref(),
			"inspect".as_ref(),
			snap.as_os_str(),
			"--items".as_ref(),
		],
		vec![
			"snapshot".as_ref(),
			"inspect".as_ref(),
			snap.as_os_str(),
			"--json".as_ref(),
		],
		vec!["--help".as_ref()],
	] {
		let (code, stderr) = with_closed_stdout(&args);
		assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
		assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
		assert_eq!(code, Some(0), "{args:?}: {stderr}");
	}
}

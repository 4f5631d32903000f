//! `stagenet capture` as a user runs it: a range captured from a real dev node, an existing
//! output refused, `--resume`, and the exit codes of bad input and an unreachable node.

use stagenet_test_support::OutputWithin;
use super::{repo_root, stagenet};
use stagenet_fork_tests::solo::SoloNode;
use std::{ffi::OsStr, time::Duration};

/// Runs `stagenet capture <args>`: exit code, stdout, stderr.
fn capture(args: &[&OsStr]) -> (Option<i32>, String, String) {
	let out = stagenet()
		.arg("capture")
		.args(args)
		.output_within(stagenet_test_support::LIMIT)
		.expect("run stagenet");
	(
		out.status.code(),
		String::from_utf8_lossy(&out.stdout).into_owned(),
		String::from_utf8_lossy(&out.stderr).into_owned(),
	)
}

#[tokio::test]
async fn capture_from_the_command_line_refuses_an_existing_output_and_resumes() {
	stagenet_test_support::require!(TestChain);
	let node = SoloNode::start("cli-capture", &[]).await;
	node.wait_for_block(4, Duration::from_secs(60)).await;
	let dir = repo_root().join("target/test-runs/cli-capture");
	let _ = std::fs::remove_dir_all(&dir);
	std::fs::create_dir_all(&dir).expect("create dir");
	let out = dir.join("capture.db");
	let url = node.url();
	let range = |from: &'static str, to: &'static str| -> Vec<&OsStr> {
		vec![
			"--url".as_ref(),
			url.as_ref(),
			"--from".as_ref(),
			from.as_ref(),
			"--to".as_ref(),
			to.as_ref(),
			"--out".as_ref(),
			out.as_os_str(),
		]
	};

	let (code, stdout, stderr) = capture(&range("1", "3"));
	assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
	assert!(stdout.contains("captured blocks #1..=#3"), "{stdout}");
	assert!(
		stdout.contains("blocks 3 (3 written, 0 already there)"),
		"{stdout}"
	);
	assert!(stderr.contains("capture: 3/3 blocks"), "{stderr}");

	let (code, _, stderr) = capture(&range("1", "3"));
	assert_eq!(code, Some(2), "{stderr}");
	assert!(stderr.contains("already exists"), "{stderr}");
	assert!(
		stderr.contains("hint:") && stderr.contains("--resume"),
		"{stderr}"
	);

	let mut resume = range("1", "4");
	resume.push("--resume".as_ref());
	let (code, stdout, stderr) = capture(&resume);
	assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
	assert!(
		stdout.contains("blocks 4 (1 written, 3 already there)"),
		"{stdout}"
	);

	let mut force = range("2", "2");
	force.push("--force".as_ref());
	let (code, stdout, stderr) = capture(&force);
	assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
	assert!(
		stdout.contains("blocks 1 (1 written, 0 already there)"),
		"{stdout}"
	);

	let elsewhere = dir.join("other.db");
	let (code, _, stderr) = capture(&[
		"--url".as_ref(),
		url.as_ref(),
		"--from".as_ref(),
		"1".as_ref(),
		"--to".as_ref(),
		"100000000".as_ref(),
		"--out".as_ref(),
		elsewhere.as_os_str(),
	]);
	assert_eq!(code, Some(2), "{stderr}");
	assert!(
		stderr.contains("block #100000000 does not exist"),
		"{stderr}"
	);
	assert!(
		!elsewhere.exists(),
		"nothing written for a range the chain lacks"
	);
}

#[test]
fn capture_bad_input_exits_2_and_an_unreachable_node_exits_3() {
	stagenet_test_support::require!(TestChain);
	let out = repo_root().join("target/test-runs/cli-capture-bad/capture.db");
	let args = |url: &'static str, from: &'static str, to: &'static str| -> Vec<&OsStr> {
		vec![
			"--url".as_ref(),
			url.as_ref(),
			"--from".as_ref(),
			from.as_ref(),
			"--to".as_ref(),
			to.as_ref(),
			"--out".as_ref(),
			out.as_os_str(),
		]
	};
	let (code, _, stderr) = capture(&args("http://127.0.0.1:9933", "1", "2"));
	assert_eq!(code, Some(2), "{stderr}");
	assert!(stderr.contains("not a node's WebSocket URL"), "{stderr}");
	assert!(stderr.contains("hint:"), "{stderr}");

	let (code, _, stderr) = capture(&args("ws://127.0.0.1:9", "3", "1"));
	assert_eq!(code, Some(2), "{stderr}");
	assert!(stderr.contains("range #3..=#1 is empty"), "{stderr}");

	let (code, _, stderr) = capture(&args("ws://127.0.0.1:9", "1", "2"));
	assert_eq!(code, Some(3), "{stderr}");
	assert!(
		stderr.contains("cannot connect to `ws://127.0.0.1:9`"),
		"{stderr}"
	);
	assert!(stderr.contains("hint:"), "{stderr}");

	let (code, _, stderr) = capture(&args("ws://user:secret@127.0.0.1:9", "1", "2"));
	assert_eq!(code, Some(3), "{stderr}");
	assert!(
		!stderr.contains("secret"),
		"credentials must not be printed: {stderr}"
	);
}

//! `down --all` removes what its runs directory (and this user) owns and nothing else; the
//! machine-wide sweep is its own flag, and lists what it removes.

use crate::{
	run,
	runs::{spawn_up, wait_phase},
	tempdir,
};
use std::{
	process::Child,
	time::{Duration, Instant},
};

fn exits_within(child: &mut Child, limit: Duration) -> bool {
	let deadline = Instant::now() + limit;
	while Instant::now() < deadline {
		if child.try_wait().expect("try_wait").is_some() {
			return true;
		}
		std::thread::sleep(Duration::from_millis(200));
	}
	false
}

#[test]
fn down_all_is_scoped_to_its_runs_dir_and_the_machine_sweep_lists_first_chain() {
	stagenet_test_support::require!(TestChain);
	let dir = tempdir();
	let mine = dir.path().join("mine");
	let theirs = dir.path().join("theirs");
	let mut a = spawn_up("scoped-a", &mine);
	let mut b = spawn_up("scoped-b", &theirs);
	wait_phase(&mine, "scoped-a", "ready");
	wait_phase(&theirs, "scoped-b", "ready");

	let down = run([
		"down".as_ref(),
		"--all".as_ref(),
		"--runs-dir".as_ref(),
		mine.as_os_str(),
	]);
	assert_eq!(down.code, Some(0), "{down:#?}");
	assert!(down.stdout.contains("run scoped-a is down"), "{down:#?}");
	assert!(!down.stdout.contains("scoped-b"), "{down:#?}");
	assert!(down.stdout.contains("left alone:"), "{down:#?}");
	assert!(
		exits_within(&mut a.0, Duration::from_secs(60)),
		"run a still up"
	);
	// The other runs directory's run still runs, and still says ready.
	assert!(
		b.0.try_wait().expect("try_wait").is_none(),
		"down --all took run b down"
	);
	let status = run([
		"status".as_ref(),
		"scoped-b".as_ref(),
		"--json".as_ref(),
		"--runs-dir".as_ref(),
		theirs.as_os_str(),
	]);
	assert!(status.stdout.contains("\"ready\""), "{status:#?}");

	// The machine-wide sweep, as a dry run, lists run b's resources with their scope and
	// removes nothing.
	let sweep = run(["down", "--machine", "--dry-run"]);
	assert_eq!(sweep.code, Some(0), "{sweep:#?}");
	let theirs_abs = std::fs::canonicalize(&theirs).expect("canonical");
	assert!(
		sweep
			.stdout
			.lines()
			.any(|l| l.contains("would remove process")
				&& l.contains("run scoped-b")
				&& l.contains(&theirs_abs.display().to_string())),
		"{sweep:#?}"
	);
	assert!(
		b.0.try_wait().expect("try_wait").is_none(),
		"a dry run removed run b"
	);

	let down_b = run([
		"down".as_ref(),
		"--all".as_ref(),
		"--runs-dir".as_ref(),
		theirs.as_os_str(),
	]);
	assert_eq!(down_b.code, Some(0), "{down_b:#?}");
	assert!(
		exits_within(&mut b.0, Duration::from_secs(60)),
		"run b still up"
	);
}

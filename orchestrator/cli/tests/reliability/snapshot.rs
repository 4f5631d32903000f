//! Snapshots and captures own their output, and `inspect`/`verify` say precisely what is wrong
//! with a damaged file: real `.snap` files built from a real raw chain spec (Subtensor's raonet
//! genesis, `../shared/subtensor/`) with bytes damaged, and real concurrent processes.
//!
//! - Two writers of one `--out` (a `snapshot`, a `--resume` of it, a `capture`, a
//!   `from-spec`): the second is refused (exit 2) naming the process that holds it, and is
//!   not told that the live one was "interrupted" nor to `--resume`/`--force`; the first
//!   finishes and its output verifies.
//! - `inspect` says what it checked and what it did not (the header is shown as written); a
//!   flipped version byte is an unknown version naming the bytes seen; a damaged footer of a
//!   full-length file is damage, not truncation.

use super::{run, stagenet, tempdir, Seen};
use std::{
	io::Write as _,
	path::{Path, PathBuf},
	process::{Child, Stdio},
	time::{Duration, Instant},
};

/// The raw chain spec of Subtensor's raonet genesis (302 keys).
fn raonet_spec() -> PathBuf {
	let path = stagenet_test_support::subtensor_dir().join("raonet-genesis-spec204.json");
	assert!(path.exists(), "{} is missing", path.display());
	path
}

/// A snapshot of the raonet genesis at `dir/name`.
fn spec_snapshot(dir: &Path, name: &str) -> PathBuf {
	let out = dir.join(name);
	run([
		"snapshot".as_ref(),
		"from-spec".as_ref(),
		raonet_spec().as_os_str(),
		"--out".as_ref(),
		out.as_os_str(),
	])
	.expect(0, &[]);
	out
}

/// A copy of `snap` at `name` with `damage` applied to its bytes.
fn damaged(snap: &Path, name: &str, damage: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
	let mut bytes = std::fs::read(snap).expect("read snapshot");
	damage(&mut bytes);
	let out = snap.with_file_name(name);
	std::fs::write(&out, &bytes).expect("write damaged copy");
	out
}

fn inspect(file: &Path) -> Seen {
	run(["snapshot".as_ref(), "inspect".as_ref(), file.as_os_str()])
}

fn verify(file: &Path) -> Seen {
	run(["snapshot".as_ref(), "verify".as_ref(), file.as_os_str()])
}

/// A child process killed on drop.
struct Guard(Child);

impl Drop for Guard {
	fn drop(&mut self) {
		let _ = self.0.kill();
		let _ = self.0.wait();
	}
}

/// Waits until `path` exists.
fn wait_for_file(path: &Path, timeout: Duration) {
	let started = Instant::now();
	while !path.exists() {
		assert!(
			started.elapsed() < timeout,
			"`{}` did not appear within {timeout:?}",
			path.display()
		);
		std::thread::sleep(Duration::from_millis(20));
	}
}

/// Asserts that `seen` is a refusal because `pid` writes `out`, with nothing of the old
/// advice for an interrupted download.
#[track_caller]
fn expect_held(seen: &Seen, pid: u32) {
	seen.expect(
		2,
		&[
			"is being written by another stagenet process",
			&format!("pid {pid}"),
			"hint:",
		],
	);
	for wrong in ["interrupted", "`--resume`", "`--force`"] {
		assert!(!seen.stderr.contains(wrong), "says {wrong:?}; {seen:#?}");
	}
}

#[test]
fn a_second_writer_of_a_snapshot_being_written_is_refused_naming_the_holder() {
	stagenet_test_support::require!(Subtensor);
	let dir = tempdir();
	let out = dir.path().join("genesis.snap");
	let lock = dir.path().join("genesis.snap.lock");
	// The first writer reads its spec from a FIFO, so it holds `out` until we feed it.
	let fifo = dir.path().join("spec.fifo");
	let made = std::process::Command::new("mkfifo")
		.arg(&fifo)
		.status()
		.expect("mkfifo");
	assert!(made.success());
	let first = stagenet()
		.args(["snapshot", "from-spec"])
		.arg(&fifo)
		.arg("--out")
		.arg(&out)
		.stdout(Stdio::piped())
		.stderr(Stdio::piped())
		.spawn()
		.expect("start the first writer");
	let pid = first.id();
	let mut first = Guard(first);
	wait_for_file(&lock, Duration::from_secs(20));

	// A download resuming into the same `out`, a fresh download, a capture and another
	// from-spec: each refused while the first runs, none touching its files.
	let url = "ws://127.0.0.1:9";
	let out_s = out.display().to_string();
	for args in [
		vec!["snapshot", "--url", url, "--out", &out_s, "--resume"],
		vec!["snapshot", "--url", url, "--out", &out_s, "--force"],
		vec![
			"capture", "--url", url, "--from", "1", "--to", "2", "--out", &out_s,
		],
	] {
		expect_held(&run(&args), pid);
	}
	let spec = raonet_spec();
	expect_held(
		&run([
			"snapshot".as_ref(),
			"from-spec".as_ref(),
			spec.as_os_str(),
			"--out".as_ref(),
			out.as_os_str(),
			"--force".as_ref(),
		]),
		pid,
	);
	assert!(
		first.0.try_wait().expect("poll").is_none(),
		"the first writer ended early"
	);

	// Feed the first writer: it finishes, and what it wrote verifies.
	let text = std::fs::read(&spec).expect("read spec");
	let mut pipe = std::fs::OpenOptions::new()
		.write(true)
		.open(&fifo)
		.expect("open the FIFO");
	pipe.write_all(&text).expect("feed the spec");
	drop(pipe);
	let started = Instant::now();
	let status = loop {
		if let Some(s) = first.0.try_wait().expect("poll") {
			break s;
		}
		assert!(
			started.elapsed() < Duration::from_secs(120),
			"the first writer did not finish"
		);
		std::thread::sleep(Duration::from_millis(50));
	};
	assert!(status.success(), "the first writer failed: {status}");
	verify(&out).expect(0, &[]);
	assert!(!lock.exists(), "the lock file outlived its owner");
}

#[test]
fn inspect_says_what_it_checked_and_does_not_vouch_for_a_tampered_header() {
	stagenet_test_support::require!(Subtensor);
	let dir = tempdir();
	let snap = spec_snapshot(dir.path(), "genesis.snap");
	let seen = inspect(&snap);
	seen.expect(0, &[]);
	for want in [
		"checked    ",
		"unchecked  ",
		"shown as written",
		"snapshot verify",
	] {
		assert!(seen.stdout.contains(want), "lacks {want:?}; {seen:#?}");
	}

	// Claim in the header that the state was verified against a block header (same length,
	// so every offset still holds): only the whole-file checksum can tell.
	let tampered = damaged(&snap, "tampered.snap", |b| {
		let needle = b"\"verified\": false";
		let at = b
			.windows(needle.len())
			.position(|w| w == needle)
			.expect("the header says verified: false");
		b[at..at + needle.len()].copy_from_slice(b"\"verified\": true ");
	});
	let seen = inspect(&tampered);
	seen.expect(0, &[]);
	assert!(
		!seen.stdout.contains("(verified against the block header"),
		"inspect vouches for a header it did not check; {seen:#?}"
	);
	assert!(
		seen.stdout.contains("not re-checked by inspect"),
		"{seen:#?}"
	);
	verify(&tampered).expect(1, &["whole-file checksum does not match", "hint:"]);
}

#[test]
fn a_flipped_version_byte_is_an_unknown_version_naming_the_bytes_seen() {
	stagenet_test_support::require!(Subtensor);
	let dir = tempdir();
	let snap = spec_snapshot(dir.path(), "genesis.snap");
	for (name, byte, raw) in [
		("v0.snap", 0u8, "`0x00000000`"),
		("v3.snap", 3u8, "`0x03000000`"),
	] {
		let file = damaged(&snap, name, |b| b[8] = byte);
		for seen in [inspect(&file), verify(&file)] {
			seen.expect(
				1,
				&[
					"unknown format version",
					raw,
					"preamble is damaged",
					"hint:",
				],
			);
			assert!(
				!seen.stderr.contains("is a snapshot of format version"),
				"{seen:#?}"
			);
		}
	}
}

#[test]
fn a_damaged_footer_of_a_full_length_file_is_damage_not_truncation() {
	stagenet_test_support::require!(Subtensor);
	let dir = tempdir();
	let snap = spec_snapshot(dir.path(), "genesis.snap");
	let len = std::fs::metadata(&snap).expect("stat").len() as usize;
	let footer = len - 104;
	for (name, at, needle) in [
		(
			"end-magic.snap",
			len - 1,
			"footer (its last 104 bytes) is damaged",
		),
		(
			"footer-magic.snap",
			footer,
			"footer (its last 104 bytes) is damaged",
		),
		(
			"footer-version.snap",
			len - 8,
			"footer is damaged: its format version",
		),
		(
			"footer-offset.snap",
			footer + 8 + 7,
			"footer is damaged: its offsets",
		),
	] {
		let file = damaged(&snap, name, |b| b[at] ^= 0x5a);
		for seen in [inspect(&file), verify(&file)] {
			seen.expect(1, &[needle, "hint:"]);
			assert!(!seen.stderr.contains("is truncated"), "{name}: {seen:#?}");
		}
	}
	// A file that really is cut short is still called truncated.
	let cut = damaged(&snap, "cut.snap", |b| b.truncate(b.len() - 10));
	verify(&cut).expect(1, &["is truncated"]);
}

/// Two real downloads from a real node into one `--out`: the second (a `--resume`, as the
/// issue's probe did) is refused while the first runs, and the first's file verifies.
#[tokio::test]
async fn a_resume_while_the_download_runs_is_refused_chain() {
	stagenet_test_support::require!(TestChain);
	super::test_node();
	let node = stagenet_fork_tests::solo::SoloNode::start("rel-snapshot-lock", &[]).await;
	let url = node.url();
	let dir = tempdir();
	let out = dir.path().join("state.snap");
	let lock = dir.path().join("state.snap.lock");
	let mut refused = 0;
	for _ in 0..5 {
		let _ = std::fs::remove_file(&out);
		let first = stagenet()
			.args([
				"snapshot",
				"--url",
				&url,
				"--concurrency",
				"1",
				"--connections",
				"1",
			])
			.arg("--out")
			.arg(&out)
			.stdout(Stdio::piped())
			.stderr(Stdio::piped())
			.spawn()
			.expect("start the first download");
		let pid = first.id();
		let mut first = Guard(first);
		wait_for_file(&lock, Duration::from_secs(30));
		let second = run([
			"snapshot".as_ref(),
			"--url".as_ref(),
			url.as_ref() as &std::ffi::OsStr,
			"--out".as_ref(),
			out.as_os_str(),
			"--resume".as_ref(),
		]);
		let still_running = first.0.try_wait().expect("poll").is_none();
		if still_running || second.stderr.contains("being written by another") {
			expect_held(&second, pid);
			refused += 1;
		}
		let started = Instant::now();
		while first.0.try_wait().expect("poll").is_none() {
			assert!(
				started.elapsed() < Duration::from_secs(120),
				"the first download did not finish"
			);
			std::thread::sleep(Duration::from_millis(50));
		}
		let mut stderr = String::new();
		if let Some(mut e) = first.0.stderr.take() {
			let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
		}
		let seen = Seen {
			code: stagenet_test_support::wait_within(&mut first.0, stagenet_test_support::LIMIT)
				.code(),
			stdout: String::new(),
			stderr,
		};
		seen.expect(0, &[]);
		verify(&out).expect(0, &[]);
		if refused > 0 {
			break;
		}
	}
	assert!(
		refused > 0,
		"the first download never overlapped the second"
	);
}

/// A block number past the chain's block-number type (`u32`) is bad input, found by asking the
/// real node, and nothing is written.
#[tokio::test]
async fn an_at_past_the_block_number_type_is_bad_input_chain() {
	stagenet_test_support::require!(TestChain);
	super::test_node();
	let node = stagenet_fork_tests::solo::SoloNode::start("rel-snapshot-at", &[]).await;
	let url = node.url();
	let dir = tempdir();
	let out = dir.path().join("state.snap");
	let past = (u64::from(u32::MAX) + 1).to_string();
	let seen = run([
		"snapshot".as_ref(),
		"--url".as_ref(),
		url.as_ref() as &std::ffi::OsStr,
		"--at".as_ref(),
		past.as_ref(),
		"--out".as_ref(),
		out.as_os_str(),
	]);
	seen.expect(2, &["u32", "hint:"]);
	assert_eq!(crate::files_below(dir.path()), Vec::<PathBuf>::new());
}

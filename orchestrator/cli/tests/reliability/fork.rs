//! `stagenet fork` under bad input and concurrent use: it never writes over one of its own
//! inputs, owns its `--out` alone, reads profiles and runtimes only as bounded regular files,
//! refuses warm-ups and amounts its chain cannot hold with what was given and the limit, reports
//! every problem of a profile at once, and funds 200 000 accounts in one pass.
//!
//! The tests at the top need nothing but the binary: what they check is refused before the
//! snapshot is opened. `with_chain` forks a snapshot of a real test-chain node.

use super::{files_below, run, stagenet, tempdir, Seen};
use std::{
	path::{Path, PathBuf},
	process::{Child, Stdio},
	time::{Duration, Instant},
};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
	let p = dir.join(name);
	std::fs::write(&p, text).expect("write");
	p
}

/// `stagenet fork --snapshot S --profile P --out O extra…`.
fn fork_args(snap: &Path, profile: &Path, out: &Path, extra: &[&str]) -> Vec<std::ffi::OsString> {
	let mut args: Vec<std::ffi::OsString> = vec![
		"fork".into(),
		"--snapshot".into(),
		snap.into(),
		"--profile".into(),
		profile.into(),
		"--out".into(),
		out.into(),
	];
	args.extend(extra.iter().map(|s| s.into()));
	args
}

/// A process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
	fn drop(&mut self) {
		let _ = self.0.kill();
		let _ = self.0.wait();
	}
}

/// Runs `stagenet` and gives it `limit` to finish: the old behaviour of some cases is to read
/// `/dev/zero` until memory runs out.
fn run_within(args: &[std::ffi::OsString], limit: Duration) -> Seen {
	let dir = tempdir();
	let (out, err) = (dir.path().join("out"), dir.path().join("err"));
	let child = stagenet()
		.args(args)
		.stdout(std::fs::File::create(&out).expect("stdout file"))
		.stderr(std::fs::File::create(&err).expect("stderr file"))
		.spawn()
		.expect("spawn stagenet");
	let mut child = Killed(child);
	let started = Instant::now();
	let status = loop {
		if let Some(status) = child.0.try_wait().expect("wait") {
			break status;
		}
		assert!(
			started.elapsed() < limit,
			"`stagenet {args:?}` still runs after {limit:?}; stderr so far:\n{}",
			std::fs::read_to_string(&err).unwrap_or_default()
		);
		std::thread::sleep(Duration::from_millis(50));
	};
	Seen {
		code: status.code(),
		stdout: std::fs::read_to_string(&out).unwrap_or_default(),
		stderr: std::fs::read_to_string(&err).unwrap_or_default(),
	}
}

#[test]
fn an_output_that_is_one_of_the_inputs_is_refused_before_anything_is_written() {
	let dir = tempdir();
	let d = dir.path();
	let snap = write(d, "state.snap", "the snapshot's bytes");
	let base = write(
		d,
		"base.yaml",
		"version: 1\nauthorities: { validators: 1 }\n",
	);
	let profile = write(d, "fork.yaml", "version: 1\nextends: base.yaml\n");
	let code = write(d, "runtime.wasm", "the runtime's bytes");
	std::os::unix::fs::symlink(&snap, d.join("link.snap")).expect("symlink");
	std::fs::create_dir(d.join("sub")).expect("mkdir");
	let before: Vec<(PathBuf, Vec<u8>)> = files_below(d)
		.into_iter()
		.filter(|p| d.join(p).is_file())
		.map(|p| (p.clone(), std::fs::read(d.join(&p)).expect("read")))
		.collect();
	let code_arg = code.to_string_lossy().into_owned();
	for (out, what) in [
		(snap.clone(), "its snapshot"),
		(d.join("link.snap"), "its snapshot"),
		(d.join("sub/../state.snap"), "its snapshot"),
		(profile.clone(), "its profile"),
		(base.clone(), "its profile (extended)"),
		(code.clone(), "its runtime override"),
	] {
		let seen = run(fork_args(
			&snap,
			&profile,
			&out,
			&["--force", "--code", &code_arg],
		));
		seen.expect(2, &["is the same file as", what, "hint:"]);
		let after: Vec<(PathBuf, Vec<u8>)> = files_below(d)
			.into_iter()
			.filter(|p| d.join(p).is_file())
			.map(|p| (p.clone(), std::fs::read(d.join(&p)).expect("read")))
			.collect();
		assert_eq!(before, after, "`--out {}` changed the files", out.display());
	}
}

#[test]
fn devices_fifos_and_extends_of_them_are_refused_as_profiles_and_runtimes() {
	let dir = tempdir();
	let d = dir.path();
	let snap = write(d, "state.snap", "not read");
	let fifo = d.join("fifo.yaml");
	let made = std::process::Command::new("mkfifo")
		.arg(&fifo)
		.status()
		.expect("mkfifo");
	assert!(made.success());
	let extends_zero = write(d, "zero.yaml", "version: 1\nextends: /dev/zero\n");
	let extends_fifo = write(d, "fifo-parent.yaml", "version: 1\nextends: fifo.yaml\n");
	let fine = write(
		d,
		"fine.yaml",
		"version: 1\nauthorities: { validators: 1 }\n",
	);
	let out = d.join("fork.json");
	let limit = Duration::from_secs(60);
	run_within(&fork_args(&snap, Path::new("/dev/zero"), &out, &[]), limit).expect(
		2,
		&[
			"`/dev/zero`",
			"character device, not a regular file",
			"hint:",
		],
	);
	run_within(&fork_args(&snap, &extends_zero, &out, &[]), limit).expect(
		2,
		&[
			"zero.yaml: `extends`",
			"`/dev/zero` is a character device",
			"hint:",
		],
	);
	run_within(&fork_args(&snap, &extends_fifo, &out, &[]), limit)
		.expect(2, &["`extends`", "FIFO", "hint:"]);
	run_within(
		&fork_args(&snap, &fine, &out, &["--code", "/dev/zero"]),
		limit,
	)
	.expect(
		2,
		&[
			"runtime override `/dev/zero` is a character device",
			"hint:",
		],
	);
	assert!(!out.exists());
}

#[test]
fn every_wrong_type_in_a_profile_is_reported_at_once_with_its_path() {
	let dir = tempdir();
	let d = dir.path();
	let snap = write(d, "state.snap", "not read");
	let profile = write(
		d,
		"six.yaml",
		"version: 1
chain: { name: [not, a, name] }
authorities: { validators: three }
fund:
  accounts:
    - { account: //Alice, amount: 1 }
    - { account: //Bob, amount: 1, count: many }
set:
  - { item: System.Number }
  - { item: System.Number, value: 1, optional: sometimes }
rebase-block-numbers: { warmup: -3 }
",
	);
	let seen = run(fork_args(&snap, &profile, &d.join("fork.json"), &[]));
	seen.expect(
		2,
		&[
			"6 problem(s)",
			"`chain.name`",
			"`authorities.validators`",
			"`fund.accounts[1].count`",
			"`set[0]`",
			"`set[1].optional`",
			"`rebase-block-numbers.warmup`",
		],
	);
}

/// Forks of a snapshot of a real test-chain node (`scripts/build-test-chain`).
mod with_chain {
	use super::*;
	use crate::{repo_root, test_node};
	use std::sync::OnceLock;

	/// A snapshot of a dev node of the test chain at block 2 or later, taken once.
	fn snapshot() -> &'static Path {
		static SNAP: OnceLock<PathBuf> = OnceLock::new();
		SNAP.get_or_init(|| {
			test_node();
			let dir = repo_root().join("target/test-runs/reliability-fork");
			let _ = std::fs::remove_dir_all(&dir);
			std::fs::create_dir_all(&dir).expect("create dir");
			let snap = dir.join("state.snap");
			let rt = tokio::runtime::Runtime::new().expect("runtime");
			rt.block_on(async {
				let node =
					stagenet_fork_tests::solo::SoloNode::start("reliability-fork", &[]).await;
				let url = node.url();
				let snap_arg = snap.to_string_lossy().into_owned();
				let seen = run([
					"snapshot",
					"--url",
					url.as_str(),
					"--out",
					snap_arg.as_str(),
				]);
				assert_eq!(seen.code, Some(0), "{seen:#?}");
				drop(node);
			});
			snap
		})
	}

	fn test_chain_profile() -> PathBuf {
		repo_root().join("fork-tests/profiles/test-chain.yaml")
	}

	/// A profile extending the test chain's with `extra` YAML.
	fn extending(dir: &Path, name: &str, extra: &str) -> PathBuf {
		write(
			dir,
			name,
			&format!(
				"version: 1\nextends: {}\n{extra}",
				test_chain_profile().display()
			),
		)
	}

	#[test]
	fn fork_over_its_own_snapshot_is_refused_and_the_snapshot_stays_intact() {
		stagenet_test_support::require!(TestChain);
		let dir = tempdir();
		let snap = dir.path().join("state.snap");
		std::fs::copy(snapshot(), &snap).expect("copy snapshot");
		let bytes = std::fs::read(&snap).expect("read");
		std::os::unix::fs::symlink(&snap, dir.path().join("link.snap")).expect("symlink");
		for out in [snap.clone(), dir.path().join("link.snap")] {
			run(fork_args(&snap, &test_chain_profile(), &out, &["--force"]))
				.expect(2, &["same file as its snapshot"]);
			assert_eq!(std::fs::read(&snap).expect("read"), bytes);
		}
		let seen = run([
			std::ffi::OsStr::new("snapshot"),
			"verify".as_ref(),
			snap.as_os_str(),
		]);
		assert_eq!(seen.code, Some(0), "{seen:#?}");
	}

	#[test]
	fn a_second_fork_on_the_same_out_is_refused_naming_the_first() {
		stagenet_test_support::require!(TestChain);
		let dir = tempdir();
		let d = dir.path();
		// About a million accounts to derive keeps the first fork busy long enough.
		let slow = extending(
			d,
			"slow.yaml",
			"fund:\n  accounts:\n    - { account: \"//lock//{i}\", count: 1048576, amount: 1 }\n",
		);
		let out = d.join("fork.json");
		let first = stagenet()
			.args(fork_args(snapshot(), &slow, &out, &[]))
			.stdout(Stdio::null())
			.stderr(Stdio::null())
			.spawn()
			.expect("spawn the first fork");
		let mut first = Killed(first);
		let lock = stagenet_config::files::lock_path(&out);
		let started = Instant::now();
		while !lock.exists() {
			assert!(
				first.0.try_wait().expect("wait").is_none(),
				"the first fork ended early"
			);
			assert!(started.elapsed() < Duration::from_secs(60), "no lock file");
			std::thread::sleep(Duration::from_millis(20));
		}
		let second = run(fork_args(
			snapshot(),
			&test_chain_profile(),
			&out,
			&["--force"],
		));
		assert!(
			first.0.try_wait().expect("wait").is_none(),
			"the first fork ended before the second was refused"
		);
		second.expect(
			2,
			&[
				"being written by another stagenet process",
				&format!("pid {}", first.0.id()),
				"hint:",
			],
		);
		// Killed, the first leaves no lock behind that refuses the next fork.
		drop(first);
		run(fork_args(
			snapshot(),
			&test_chain_profile(),
			&out,
			&["--force"],
		))
		.expect(0, &[]);
		assert!(out.exists() && !lock.exists());
	}

	#[test]
	fn a_warmup_past_the_block_number_type_is_refused_with_the_limit() {
		stagenet_test_support::require!(TestChain);
		let dir = tempdir();
		let out = dir.path().join("fork.json");
		run(fork_args(
			snapshot(),
			&test_chain_profile(),
			&out,
			&["--warmup", "4294967296"],
		))
		.expect(
			2,
			&[
				"warm-up 4294967296",
				"`--warmup`",
				"`u32`",
				"4294967295",
				"hint:",
			],
		);
		let profile = extending(
			dir.path(),
			"warm.yaml",
			"rebase-block-numbers: { warmup: 99999999999 }\n",
		);
		run(fork_args(snapshot(), &profile, &out, &[])).expect(
			2,
			&[
				"warm-up 99999999999",
				"rebase-block-numbers.warmup",
				"`u32`",
				"hint:",
			],
		);
		assert!(!out.exists());
	}

	#[test]
	fn amounts_past_the_balance_type_name_amount_account_and_limit() {
		stagenet_test_support::require!(TestChain);
		let dir = tempdir();
		let d = dir.path();
		let out = d.join("fork.json");
		let past_u64 = extending(
			d,
			"u64.yaml",
			"fund:\n  accounts:\n    - { account: //Ferdie, amount: \"18446744073709551616\" }\n",
		);
		let seen = run(fork_args(snapshot(), &past_u64, &out, &[]));
		seen.expect(
			2,
			&[
				"`fund.accounts[0].amount`",
				"funding amount `18446744073709551616` of account `//Ferdie` does not fit the \
				 balance type `u64`",
				"18446744073709551615",
				"hint:",
			],
		);
		assert!(!seen.stderr.contains("rebased value"), "{seen:#?}");
		// Alice already holds a balance: the sum does not fit.
		let sum = extending(
			d,
			"sum.yaml",
			"fund:\n  accounts:\n    - { account: //Alice, amount: \"18446744073709551615\" }\n",
		);
		run(fork_args(snapshot(), &sum, &out, &[])).expect(
			2,
			&[
				"funding amount `18446744073709551615` of account `//Alice`",
				"its free balance in the snapshot is already",
				"hint:",
			],
		);
		let past_u128 = extending(
			d,
			"u128.yaml",
			"fund:\n  accounts:\n    - { account: //Ferdie, amount: \"340282366920938463463374607431768211456\" }\n",
		);
		let seen = run(fork_args(snapshot(), &past_u128, &out, &[]));
		seen.expect(
			2,
			&[
				"past 2^128 − 1",
				"saw the string `340282366920938463463374607431768211456`",
			],
		);
		assert!(
			!seen.stderr.contains("quote numbers past 2^64"),
			"{seen:#?}"
		);
		assert!(!out.exists());
	}

	#[test]
	fn two_hundred_thousand_accounts_are_each_funded_and_issuance_rises_by_their_sum() {
		stagenet_test_support::require!(TestChain);
		const N: u64 = 200_000;
		let dir = tempdir();
		let d = dir.path();
		let mut yaml = String::from("fund:\n  accounts:\n");
		for i in 0..N {
			yaml.push_str(&format!(
				"    - {{ account: //many//{i}, amount: {} }}\n",
				i + 1
			));
		}
		let profile = extending(d, "many.yaml", &yaml);
		let out = d.join("fork.json");
		let seen = run(fork_args(snapshot(), &profile, &out, &["--json"]));
		assert_eq!(seen.code, Some(0), "{}", seen.stderr);
		let summary: serde_json::Value = serde_json::from_str(&seen.stdout).expect("JSON");
		// Long work shows progress on stderr (stdout stays the JSON summary): the phases, and
		// a count every 2 s while the accounts are derived (that takes seconds here).
		assert!(
			seen.stderr.contains("funded account(s) from the snapshot"),
			"{}",
			seen.stderr
		);
		assert!(
			seen.stderr
				.contains("fork: deriving funded accounts: entry "),
			"{}",
			seen.stderr
		);
		let funded = summary["funded"].as_array().expect("funded");
		let mut sum: u128 = 0;
		let mut many = 0u64;
		for f in funded {
			let amount = f["amount"].as_u64().expect("amount") as u128;
			sum += amount;
			let given = f["given-as"].as_str().expect("given-as");
			if let Some(i) = given.strip_prefix("//many//") {
				let i: u64 = i.parse().expect("index");
				assert_eq!(amount, u128::from(i + 1), "{given}");
				many += 1;
			}
		}
		assert_eq!(many, N);
		let issuance = &summary["issuance"][0];
		let (before, after) = (
			issuance["before"].as_u64().expect("before") as u128,
			issuance["after"].as_u64().expect("after") as u128,
		);
		assert_eq!(after - before, sum);
		// Every account is in the spec with its amount as its free balance (new accounts):
		// `System.Account` keys end with the account id (`Blake2_128Concat`).
		let spec: serde_json::Value =
			serde_json::from_slice(&std::fs::read(&out).expect("spec")).expect("spec JSON");
		let top = spec["genesis"]["raw"]["top"].as_object().expect("top");
		let prefix = stagenet_chain::hash::storage_prefix("System", "Account").to_vec();
		let prefix = format!("0x{}", hex::encode(prefix));
		let mut free_of = std::collections::HashMap::new();
		for (k, v) in top {
			if k.starts_with(&prefix) && k.len() == prefix.len() + 2 * (16 + 32) {
				let bytes =
					hex::decode(v.as_str().expect("hex").trim_start_matches("0x")).expect("hex");
				// AccountInfo: nonce, consumers, providers, sufficients (u32), then free (u64).
				let free = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes"));
				free_of.insert(k[k.len() - 64..].to_string(), free);
			}
		}
		let mut deriver = stagenet_chain::keys::Deriver::default();
		for i in 0..N {
			let id = deriver.account(&format!("//many//{i}")).expect("id");
			assert_eq!(
				free_of.get(&hex::encode(id)).copied(),
				Some(i + 1),
				"the free balance of //many//{i}"
			);
		}
	}
}

//! `stagenet fork` as users run it, on a snapshot of a real dev node: the summary, and every
//! kind of bad input refused with exit code 2, a field path and a hint, leaving no spec behind.

use super::{repo_root, run};
use std::path::{Path, PathBuf};

fn fork(snap: &Path, profile: &Path, out: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
	let mut args: Vec<&std::ffi::OsStr> = vec![
		"fork".as_ref(),
		"--snapshot".as_ref(),
		snap.as_os_str(),
		"--profile".as_ref(),
		profile.as_os_str(),
		"--out".as_ref(),
		out.as_os_str(),
	];
	args.extend(extra.iter().map(|s| std::ffi::OsStr::new(*s)));
	run(&args)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
	let p = dir.join(name);
	std::fs::write(&p, text).expect("write profile");
	p
}

/// The baseline runtime with its `spec_name` changed (same length, so the wasm stays valid).
fn renamed_runtime(dir: &Path) -> PathBuf {
	let code = std::fs::read(
		repo_root().join("target/test-chain/runtimes/baseline.compact.compressed.wasm"),
	)
	.expect("baseline runtime (scripts/build-test-chain)");
	const PREFIX: [u8; 8] = [0x52, 0xbc, 0x53, 0x76, 0x46, 0xdb, 0x8e, 0x05];
	let mut wasm = zstd::bulk::decompress(&code[8..], 64 << 20).expect("decompress");
	assert_eq!(code[..8], PREFIX);
	let (from, to) = (b"stagenet-test", b"stagenet-tesX");
	let mut i = 0;
	let mut replaced = 0;
	while i + from.len() <= wasm.len() {
		if &wasm[i..i + from.len()] == from {
			wasm[i..i + from.len()].copy_from_slice(to);
			replaced += 1;
		}
		i += 1;
	}
	assert!(replaced > 0);
	let p = dir.join("renamed.wasm");
	std::fs::write(&p, wasm).expect("write wasm");
	p
}

#[tokio::test]
async fn fork_prints_its_summary_and_refuses_bad_input_with_paths_and_hints() {
	stagenet_test_support::require!(TestChain);
	let node = stagenet_fork_tests::solo::SoloNode::start("cli-fork", &[]).await;
	let dir = repo_root().join("target/test-runs/cli-fork");
	let _ = std::fs::remove_dir_all(&dir);
	std::fs::create_dir_all(&dir).expect("create dir");
	let snap = dir.join("state.snap");
	let url = node.url();
	let (code, stdout, stderr) = run(&[
		"snapshot".as_ref(),
		"--url".as_ref(),
		url.as_ref(),
		"--out".as_ref(),
		snap.as_os_str(),
	]);
	assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
	drop(node);

	let profile = repo_root().join("fork-tests/profiles/test-chain.yaml");
	let spec = dir.join("fork.json");
	let (code, stdout, stderr) = fork(&snap, &profile, &spec, &[]);
	assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
	for want in [
		"chain         stagenet fork of the test chain (id `stagenet_test_fork`",
		"genesis root  0x",
		"genesis hash  0x",
		"validator     //Alice aura 0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d grandpa 0x88dc3417d5058ec4b4503e0c12ea1a0a89be200fe98922423d4334014fa6b0ee",
		"validator     //Charlie",
		"sudo          5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
		"(new account)",
		"issuance      Balances.TotalIssuance",
		"Subnets.LastEpochBlock",
		"Grandpa",
		"(well-known keys)",
	] {
		assert!(stdout.contains(want), "`{want}` missing from:\n{stdout}");
	}
	// The spec exists; a second run refuses to overwrite it.
	let (code, _, stderr) = fork(&snap, &profile, &spec, &[]);
	assert_eq!(code, Some(2), "{stderr}");
	assert!(stderr.contains("--force"), "{stderr}");
	let (code, stdout, _) = fork(
		&snap,
		&profile,
		&spec,
		&["--force", "--json", "--validators", "1"],
	);
	assert_eq!(code, Some(0));
	let json: serde_json::Value = serde_json::from_str(&stdout).expect("--json prints JSON");
	assert_eq!(json["validators"].as_array().map(|v| v.len()), Some(1));

	// Every problem of a profile at once, each with its file, field path and a hint.
	let bad = write(
		&dir,
		"bad.yaml",
		r#"version: 1
extends: PROFILE
set:
  - { item: Subnets.LastUpdat, key: 1, value: [1] }
  - { item: Subnet.Tempo, key: 1, value: 5 }
  - { item: Subnets.Tempo, key: 1, value: fast }
  - { item: Subnets.Axons, key: [1, //Bob], value: { block: 1, version: 1 } }
delete:
  - Subnets.Keys
rebase-block-numbers:
  items:
    - { item: Subnets.Axons, value: blok }
    - { item: Subnets.Owner, key: 0 }
"#
		.replace("PROFILE", &profile.display().to_string())
		.as_str(),
	);
	let out = dir.join("bad.json");
	let (code, _, stderr) = fork(&snap, &bad, &out, &[]);
	assert_eq!(code, Some(2), "{stderr}");
	for want in [
		"`set[0].item`: pallet `Subnets` has no storage item `LastUpdat` (hint: did you mean `LastUpdate`",
		"`set[1].item`: the metadata has no pallet `Subnet` (hint: did you mean `Subnets`",
		"`set[2].value`: does not encode as `u16`: expected `u16`, saw the string `fast`",
		"`set[3].value.ip`",
		"`delete[0]`: `Subnets.Keys` is a map; `delete` needs its key (hint: use `delete-prefix`",
		"`rebase-block-numbers.items[0].value`: path `blok`",
		"no field `blok`",
		"`rebase-block-numbers.items[1].key`",
	] {
		assert!(stderr.contains(want), "`{want}` missing from:\n{stderr}");
	}
	assert!(!out.exists(), "no spec is written for a bad profile");

	// Malformed YAML and a wrong version.
	let (code, _, stderr) = fork(&snap, &write(&dir, "v2.yaml", "version: 2\n"), &out, &[]);
	assert_eq!(code, Some(2));
	assert!(
		stderr.contains("profile version 2 is not supported") && stderr.contains("hint:"),
		"{stderr}"
	);
	let (code, _, stderr) = fork(
		&snap,
		&write(&dir, "broken.yaml", "version: 1\nset: {item\n"),
		&out,
		&[],
	);
	assert_eq!(code, Some(2));
	assert!(stderr.contains("broken.yaml"), "{stderr}");
	let (code, _, stderr) = fork(
		&snap,
		&write(
			&dir,
			"typed.yaml",
			"version: 1\nauthorities: { validators: many }\n",
		),
		&out,
		&[],
	);
	assert_eq!(code, Some(2));
	assert!(stderr.contains("authorities.validators"), "{stderr}");

	// Unknown keys warn, and fail under --strict.
	let typo = write(
		&dir,
		"typo.yaml",
		&format!("version: 1\nextends: {}\nsudoo: //Bob\n", profile.display()),
	);
	let (code, stdout, stderr) = fork(&snap, &typo, &out, &[]);
	assert_eq!(code, Some(0), "{stderr}");
	assert!(
		stdout.contains("warning:") && stdout.contains("sudoo") && stdout.contains("unknown key"),
		"{stdout}"
	);
	let (code, _, stderr) = fork(&snap, &typo, &dir.join("strict.json"), &["--strict"]);
	assert_eq!(code, Some(2));
	assert!(stderr.contains("`sudoo`"), "{stderr}");

	// Too many validators for the runtime.
	let (code, _, stderr) = fork(
		&snap,
		&profile,
		&dir.join("many.json"),
		&["--validators", "33"],
	);
	assert_eq!(code, Some(2), "{stderr}");
	assert!(
		stderr.contains("at most 32") && stderr.contains("MaxAuthorities"),
		"{stderr}"
	);

	// A runtime override for another chain.
	let renamed = renamed_runtime(&dir);
	let renamed_arg = renamed.display().to_string();
	let (code, _, stderr) = fork(
		&snap,
		&profile,
		&dir.join("renamed.json"),
		&["--code", &renamed_arg],
	);
	assert_eq!(code, Some(2), "{stderr}");
	assert!(
		stderr.contains("`stagenet-tesX`")
			&& stderr.contains("`stagenet-test`")
			&& stderr.contains("--allow-spec-name-change"),
		"{stderr}"
	);
	let (code, stdout, stderr) = fork(
		&snap,
		&profile,
		&dir.join("renamed.json"),
		&["--code", &renamed_arg, "--allow-spec-name-change"],
	);
	assert_eq!(code, Some(0), "{stderr}");
	assert!(
		stdout.contains("stagenet-tesX v100") && stdout.contains("overridden"),
		"{stdout}"
	);
	let (code, _, stderr) = fork(
		&snap,
		&profile,
		&dir.join("nowasm.json"),
		&["--code", profile.to_str().unwrap_or("")],
	);
	assert_eq!(code, Some(2));
	assert!(stderr.contains("not a Substrate runtime"), "{stderr}");

	// A snapshot that fails verification: one byte flipped inside a chunk.
	let damaged = dir.join("damaged.snap");
	let mut bytes = std::fs::read(&snap).expect("read snapshot");
	let at = bytes.len() / 3;
	bytes[at] ^= 0x55;
	std::fs::write(&damaged, bytes).expect("write damaged");
	let (code, _, stderr) = fork(&damaged, &profile, &dir.join("damaged.json"), &[]);
	assert_eq!(code, Some(2), "{stderr}");
	assert!(stderr.contains("refusing to fork"), "{stderr}");
	assert!(!dir.join("damaged.json").exists());
}

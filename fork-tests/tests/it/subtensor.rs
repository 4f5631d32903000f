//! Subtensor for real: the real raonet genesis (`node-subtensor` spec 204) and the real runtimes
//! 205 and 218 from `../shared/subtensor/`, run by the bundled test node.
//!
//! Forks of every Subtensor era: the shipped `subtensor.yaml` forks the real spec-204 state,
//! and a state shaped like an early runtime's (no `Grandpa.Authorities`, no EVM chain id, no
//! scheduler, no `NetworkRegisteredAt`: the real genesis with those items taken out of its
//! metadata and state, as no earlier real runtime is at hand; a node cannot run it, since the
//! spec-204 runtime reads the authorities from the item) is forked too, with every absent item
//! named in the summary and nothing written for it.

use stagenet_fork_tests::{
	harness::repo_root,
	subtensor::{
		early_state, genesis_snapshot, item_prefix, metadata_without, raonet_genesis, Era,
	},
};
use stagenet_chain::keys;
use stagenet_fork::{fork, ForkOptions, ForkSummary};
use std::path::{Path, PathBuf};

fn out_dir(name: &str) -> PathBuf {
	let dir = repo_root()
		.join("target/test-runs")
		.join(format!("subtensor-{name}-{}", std::process::id()));
	let _ = std::fs::remove_dir_all(&dir);
	std::fs::create_dir_all(&dir).expect("create the test's output directory");
	dir
}

fn subtensor_profile() -> PathBuf {
	repo_root().join("fork-tests/profiles/subtensor.yaml")
}

fn fork_with(snapshot: &Path, out: &Path, validators: usize) -> ForkSummary {
	fork(
		&ForkOptions {
			snapshot: snapshot.to_path_buf(),
			profile: subtensor_profile(),
			out: out.to_path_buf(),
			validators: Some(validators),
			force: true,
			..Default::default()
		},
		|_| {},
	)
	.unwrap_or_else(|e| panic!("fork of `{}`: {e}", snapshot.display()))
}

/// The genesis top-trie pairs of a raw spec, keys and values as `0x` hex.
fn top_of(spec: &Path) -> serde_json::Map<String, serde_json::Value> {
	let text = std::fs::read_to_string(spec).expect("read the spec");
	let json: serde_json::Value = serde_json::from_str(&text).expect("the spec is JSON");
	json.pointer("/genesis/raw/top")
		.and_then(|t| t.as_object())
		.cloned()
		.expect("a raw spec")
}

fn hex_key(k: &[u8]) -> String {
	format!("0x{}", hex::encode(k))
}

/// `:grandpa_authorities` as the fork must write it: version 1, then each key with weight 1.
fn grandpa_well_known(uris: &[&str]) -> String {
	let mut v = vec![1u8, (uris.len() as u8) << 2];
	for uri in uris {
		v.extend_from_slice(&keys::ed25519_public(uri).expect("dev URI"));
		v.extend_from_slice(&1u64.to_le_bytes());
	}
	hex_key(&v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forks_of_every_subtensor_era_write_what_the_runtime_has_and_name_what_it_lacks() {
	stagenet_test_support::require!(TestChain, Subtensor);
	let dir = out_dir("eras");
	let genesis = raonet_genesis();

	// The real spec-204 state: every required item is there; the items of later runtimes
	// (optional in the profile) are skipped and named.
	let snap = dir.join("raonet.snap");
	let metadata = genesis_snapshot("subtensor-eras", &genesis, &snap).await;
	let spec = dir.join("raonet.fork.json");
	let s = fork_with(&snap, &spec, 2);
	assert_eq!(s.runtime.spec_name, "node-subtensor");
	assert_eq!(s.runtime.spec_version, 204);
	let skipped: Vec<&str> = s.skipped.iter().map(|k| k.item.as_str()).collect();
	for later in [
		"MevShield.CurrentKey",
		"SubtensorModule.VotingPowerDisableAtBlock",
	] {
		assert!(
			skipped.contains(&later),
			"`{later}` (absent at spec 204) not named as skipped: {skipped:?}"
		);
	}
	for present in [
		"Grandpa.Authorities",
		"EVMChainId.ChainId",
		"Scheduler.Agenda",
		"SubtensorModule.NetworkRegisteredAt",
	] {
		assert!(
			!skipped.contains(&present),
			"`{present}` exists at spec 204 but was skipped: {:?}",
			s.skipped
		);
	}
	for k in &s.skipped {
		assert!(
			k.reason.contains("has no"),
			"the reason for skipping `{}` does not say what the metadata lacks: {}",
			k.item,
			k.reason
		);
	}
	let top = top_of(&spec);
	let chain_id = top
		.get(&hex_key(&item_prefix("EVMChainId", "ChainId")))
		.and_then(|v| v.as_str());
	assert_eq!(
		chain_id,
		Some(hex_key(&945u64.to_le_bytes()).as_str()),
		"EVM chain id"
	);
	assert!(top.contains_key(&hex_key(&item_prefix("Grandpa", "Authorities"))));
	assert_eq!(
		top.get(&hex_key(b":grandpa_authorities"))
			.and_then(|v| v.as_str()),
		Some(grandpa_well_known(&["//Alice", "//Bob"]).as_str())
	);

	// An early runtime's shape.
	let era = Era {
		items: vec![
			("Grandpa", "Authorities"),
			("SubtensorModule", "NetworkRegisteredAt"),
		],
		pallets: vec!["EVMChainId", "Scheduler"],
	};
	let early_snap = dir.join("early.snap");
	early_state(&snap, &era, &metadata_without(&metadata, &era), &early_snap);
	let early_fork = dir.join("early.fork.json");
	let e = fork_with(&early_snap, &early_fork, 2);
	let find = |item: &str| {
		e.skipped
			.iter()
			.find(|k| k.item == item)
			.unwrap_or_else(|| panic!("`{item}` not named as skipped: {:?}", e.skipped))
	};
	let grandpa = find("Grandpa.Authorities");
	assert_eq!(grandpa.path, "authorities.grandpa");
	assert!(
		grandpa.reason.contains(":grandpa_authorities"),
		"the reason should say the well-known key holds the authorities: {}",
		grandpa.reason
	);
	assert!(find("EVMChainId.ChainId")
		.reason
		.contains("no pallet `EVMChainId`"));
	assert!(find("Scheduler.Agenda")
		.reason
		.contains("no pallet `Scheduler`"));
	assert!(find("SubtensorModule.NetworkRegisteredAt")
		.reason
		.contains("no storage item `NetworkRegisteredAt`"));
	let top = top_of(&early_fork);
	for (p, i) in [("Grandpa", "Authorities"), ("EVMChainId", "ChainId")] {
		assert!(
			!top.contains_key(&hex_key(&item_prefix(p, i))),
			"the early fork writes `{p}.{i}`, which its runtime does not have"
		);
	}
	assert_eq!(
		top.get(&hex_key(b":grandpa_authorities"))
			.and_then(|v| v.as_str()),
		Some(grandpa_well_known(&["//Alice", "//Bob"]).as_str()),
		"the early fork must hand GRANDPA its dev authorities through the well-known key"
	);
	assert!(top.contains_key(&hex_key(&item_prefix("Aura", "Authorities"))));
	// Everything else the profile asks for is done as on the real state.
	assert_eq!(e.validators.len(), 2);
	assert_eq!(e.issuance.len(), 2, "both issuance items raised");
	assert!(!e.rebased.is_empty());
}

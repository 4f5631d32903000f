//! Chains the tests start from: a sealed fork of a test chain, as `stagenet fork` makes it.

use crate::{harness::repo_root, solo::SoloNode};
use stagenet_snapshot::{
	download,
	fork::{fork, ForkOptions},
	DownloadOptions, Progress,
};
use std::{path::PathBuf, sync::Arc, time::Duration};

/// Starts a dev node of the test chain, lets it produce 6 blocks, snapshots its finalized
/// state, stops it, and forks the snapshot with `fork-tests/profiles/test-chain.yaml` for
/// `validators` dev validators. Returns the raw spec at
/// `target/test-runs/<name>/fork.spec.json`.
pub async fn forked_test_chain_spec(name: &str, validators: usize) -> PathBuf {
	let dir = repo_root().join("target/test-runs").join(name);
	let _ = std::fs::remove_dir_all(&dir);
	std::fs::create_dir_all(&dir)
		.unwrap_or_else(|e| panic!("cannot create `{}`: {e}", dir.display()));
	let source = SoloNode::start(&format!("{name}-source"), &[]).await;
	source.wait_for_block(6, Duration::from_secs(120)).await;
	let snap = dir.join("source.snap");
	let quiet: Arc<dyn Fn(&Progress) + Send + Sync> = Arc::new(|_: &Progress| {});
	download(
		&DownloadOptions {
			retry_for: Duration::from_secs(2),
			..DownloadOptions::new(&source.url(), &snap)
		},
		quiet,
	)
	.await
	.unwrap_or_else(|e| panic!("snapshot of `{}`: {e}", source.url()));
	drop(source);
	let out = dir.join("fork.spec.json");
	fork(
		&ForkOptions {
			snapshot: snap,
			profile: repo_root().join("fork-tests/profiles/test-chain.yaml"),
			out: out.clone(),
			validators: Some(validators),
			force: true,
			..Default::default()
		},
		|_| {},
	)
	.unwrap_or_else(|e| panic!("fork into `{}`: {e}", out.display()));
	out
}

/// Subnets and neurons per subnet that [`traffic_snapshot`] creates.
const TRAFFIC_SUBNETS: u16 = 2;
const TRAFFIC_NEURONS: u16 = 16;

/// The source of the rehearsal scenarios: a dev node of the test chain that ran with traffic
/// (subnets 2 and 3 populated by `sudo(Subnets::populate)` with neurons, stake, weights and
/// axons; transfers between dev accounts), snapshotted at its finalized head into `out`.
/// Returns the snapshot's block number.
pub async fn traffic_snapshot(out: &std::path::Path) -> u64 {
	use crate::chain::Chain;
	use subxt::dynamic::Value;
	use subxt_signer::sr25519::dev;
	let source = SoloNode::start("traffic-source", &[]).await;
	let chain = Chain::connect(&source.url())
		.await
		.unwrap_or_else(|e| panic!("connect to the traffic source: {e}"));
	chain
		.sudo(
			"Subnets",
			"populate",
			vec![
				Value::u128(2),
				Value::u128(TRAFFIC_SUBNETS as u128),
				Value::u128(TRAFFIC_NEURONS as u128),
				Value::u128(10),
			],
		)
		.await
		.unwrap_or_else(|e| panic!("sudo(Subnets::populate): {e}"));
	for (from, to) in [(dev::bob(), dev::dave()), (dev::charlie(), dev::eve())] {
		let outcome = chain
			.signed(
				&from,
				"Balances",
				"transfer_keep_alive",
				vec![
					Value::unnamed_variant("Id", [Value::from_bytes(to.public_key().0)]),
					Value::u128(1_000_000_000),
				],
			)
			.await
			.unwrap_or_else(|e| panic!("transfer: {e}"));
		assert!(outcome.succeeded(), "transfer failed: {:?}", outcome.error);
	}
	let best = chain
		.best_number()
		.await
		.unwrap_or_else(|e| panic!("best block: {e}"));
	source
		.wait_for_block(best + 3, Duration::from_secs(60))
		.await;
	let quiet: Arc<dyn Fn(&Progress) + Send + Sync> = Arc::new(|_: &Progress| {});
	if let Some(dir) = out.parent() {
		std::fs::create_dir_all(dir)
			.unwrap_or_else(|e| panic!("cannot create `{}`: {e}", dir.display()));
	}
	let summary = download(
		&DownloadOptions {
			force: true,
			retry_for: Duration::from_secs(5),
			..DownloadOptions::new(&source.url(), out)
		},
		quiet,
	)
	.await
	.unwrap_or_else(|e| panic!("snapshot of the traffic source: {e}"));
	drop(source);
	summary.header.block.map(|b| b.number).unwrap_or_default()
}

/// [`traffic_snapshot`] into `target/scenarios/traffic.snap`, made once per test process.
pub async fn scenario_source() -> PathBuf {
	static MADE: tokio::sync::OnceCell<PathBuf> = tokio::sync::OnceCell::const_new();
	MADE.get_or_init(|| async {
		let out = repo_root().join("target/scenarios/traffic.snap");
		traffic_snapshot(&out).await;
		out
	})
	.await
	.clone()
}

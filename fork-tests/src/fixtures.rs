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

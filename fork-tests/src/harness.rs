//! Paths of the built test chain, networks started for one test, and bounded waits.

use stagenet_network::{ChainSource, LocalNetwork, NetworkConfig};
use std::{
	future::Future,
	path::PathBuf,
	time::{Duration, Instant},
};

/// Root of the repository.
pub fn repo_root() -> PathBuf {
	PathBuf::from(env!("CARGO_MANIFEST_DIR"))
		.parent()
		.map(PathBuf::from)
		.unwrap_or_else(|| PathBuf::from("."))
}

/// Directory where `scripts/build-test-chain` places the node and the runtimes.
pub fn test_chain_dir() -> PathBuf {
	repo_root().join("target/test-chain")
}

/// The test chain's node binary. Panics with a hint when it was not built.
pub fn node_binary() -> PathBuf {
	let path = test_chain_dir().join("stagenet-test-node");
	assert!(
		path.exists(),
		"test chain node `{}` is missing (hint: run `scripts/build-test-chain` first)",
		path.display()
	);
	path
}

/// The wasm of a runtime variant (`baseline`, `upgrade-ok`, …).
pub fn runtime_wasm(variant: &str) -> Vec<u8> {
	let path = test_chain_dir().join(format!("runtimes/{variant}.compact.compressed.wasm"));
	std::fs::read(&path).unwrap_or_else(|e| {
		panic!(
			"runtime `{}` unreadable: {e} (hint: run `scripts/build-test-chain` first)",
			path.display()
		)
	})
}

/// Starts a network of the test chain for the test `name` and waits until it is ready.
/// One validator runs the `dev` chain, three run `local`.
pub async fn start_network(name: &str, validators: usize) -> LocalNetwork {
	let chain = if validators == 1 { "dev" } else { "local" };
	start(
		name,
		ChainSource::Builtin(chain.into()),
		validators,
		0,
		Duration::from_secs(180),
	)
	.await
}

/// Starts `validators` validators (`--alice`, `--bob` …) and `full` full nodes from a chain
/// spec file (a fork) and waits until the network is ready: every node peered, best block
/// advancing, a finalized block past genesis.
pub async fn start_network_from_spec(
	name: &str,
	spec: &std::path::Path,
	validators: usize,
	full: usize,
) -> LocalNetwork {
	let chain = ChainSource::SpecFile(spec.to_path_buf());
	start(name, chain, validators, full, Duration::from_secs(240)).await
}

async fn start(
	name: &str,
	chain: ChainSource,
	validators: usize,
	full_nodes: usize,
	ready_timeout: Duration,
) -> LocalNetwork {
	let run_id = format!("test-{name}-{}", std::process::id());
	let runs = repo_root().join("target/test-runs");
	// Logs of earlier runs of this test are kept until the test runs again.
	if let Ok(entries) = std::fs::read_dir(&runs) {
		for entry in entries.flatten() {
			if entry
				.file_name()
				.to_string_lossy()
				.starts_with(&format!("test-{name}-"))
			{
				let _ = std::fs::remove_dir_all(entry.path());
			}
		}
	}
	let what = format!("{chain:?}");
	let config = NetworkConfig {
		node_binary: node_binary(),
		chain,
		validators,
		full_nodes,
		base_dir: runs.join(&run_id),
		run_id,
		extra_args: vec![],
	};
	let mut network = match LocalNetwork::start(config).await {
		Ok(n) => n,
		Err(e) => panic!("network `{name}` ({what}) did not start: {e}"),
	};
	if let Err(e) = network.wait_ready(ready_timeout).await {
		panic!("network `{name}` ({what}) not ready: {e}");
	}
	network
}

/// Polls `probe` every `every` until it returns `Some`, for at most `timeout`. On timeout
/// panics with what was awaited and the last state `probe` reported.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, every: Duration, mut probe: F) -> T
where
	F: FnMut() -> Fut,
	Fut: Future<Output = Result<T, String>>,
{
	let deadline = Instant::now() + timeout;
	loop {
		let last = match probe().await {
			Ok(v) => return v,
			Err(state) => state,
		};
		if Instant::now() >= deadline {
			panic!("timed out after {timeout:?} waiting for {what}; last state seen: {last}");
		}
		tokio::time::sleep(every).await;
	}
}

/// `(block number, milliseconds)` of every "Prepared block for proposing" line of a log.
pub fn proposal_times(log: &str) -> Vec<(u64, u64)> {
	log.lines()
		.filter_map(|line| {
			let rest = line.split("Prepared block for proposing at ").nth(1)?;
			let mut parts = rest.split_whitespace();
			let number = parts.next()?.parse().ok()?;
			let ms = parts.next()?.trim_start_matches('(').parse().ok()?;
			Some((number, ms))
		})
		.collect()
}

#[cfg(test)]
mod tests {
	use super::proposal_times;

	#[test]
	fn proposal_times_are_read_from_node_logs() {
		let log = "2026-11-25 12:00:01 🎁 Prepared block for proposing at 12 (234 ms) hash: 0xab; parent_hash: 0xcd; end: NoMoreTransactions; extrinsics_count: 2\nother line\n2026 🎁 Prepared block for proposing at 13 (1 ms) hash: 0x01";
		assert_eq!(proposal_times(log), vec![(12, 234), (13, 1)]);
	}
}

//! Paths of the built test chain, networks started for one test, and bounded waits.

use stagenet_config::{Chain, NodeDefaults, Topology};
use stagenet_network::{provider::Provider as _, LocalProvider, Network, NetworkPlan};
use std::{
	collections::BTreeMap,
	future::Future,
	num::NonZeroU32,
	path::PathBuf,
	sync::Arc,
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
	let path = stagenet_test_support::test_node();
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
pub async fn start_network(name: &str, validators: u32) -> Network {
	let chain = if validators == 1 { "dev" } else { "local" };
	start(
		name,
		Chain::Builtin(chain.into()),
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
	validators: u32,
	full: u32,
) -> Network {
	let chain = Chain::Spec(spec.to_path_buf());
	start(name, chain, validators, full, Duration::from_secs(240)).await
}

async fn start(
	name: &str,
	chain: Chain,
	validators: u32,
	full_nodes: u32,
	ready_timeout: Duration,
) -> Network {
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
	let topology = topology(chain, validators, full_nodes, 0);
	let provider = LocalProvider::new();
	let plan = NetworkPlan::new(
		&topology,
		provider.name(),
		&provider.capabilities(),
		&run_id,
		runs.join(&run_id),
		None,
	)
	.unwrap_or_else(|e| panic!("network `{name}` ({what}) cannot be planned: {e}"));
	let mut network = match Network::start(Arc::new(provider), plan).await {
		Ok(n) => n,
		Err(e) => panic!("network `{name}` ({what}) did not start: {e}"),
	};
	if let Err(e) = network.wait_ready(ready_timeout).await {
		panic!("network `{name}` ({what}) not ready: {e}");
	}
	network
}

/// A topology of the test chain's node: `validators` validators (`//Alice` …), `full` full
/// nodes and `rpc` RPC nodes.
pub fn topology(chain: Chain, validators: u32, full: u32, rpc: u32) -> Topology {
	Topology {
		file: PathBuf::from("(test)"),
		name: None,
		chain,
		node: NodeDefaults {
			binary: Some(node_binary()),
			..Default::default()
		},
		validators: NonZeroU32::new(validators).unwrap_or(NonZeroU32::MIN),
		validator_uris: None,
		full_nodes: full,
		rpc_nodes: rpc,
		nodes: BTreeMap::new(),
		ready_timeout: Duration::from_secs(180),
		workloads: Vec::new(),
	}
}

/// Process ids whose environment carries `STAGENET_RUN=<run_id>` (nodes, their guards,
/// workloads).
pub fn run_processes(run_id: &str) -> Vec<u32> {
	let needle = format!("STAGENET_RUN={run_id}");
	let mut pids = Vec::new();
	for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
		let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
			continue;
		};
		let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
			continue;
		};
		if environ.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
			pids.push(pid);
		}
	}
	pids
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

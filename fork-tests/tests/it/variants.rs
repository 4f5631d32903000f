//! Runtime upgrades to each variant of the test chain, through `sudo(set_code)`, and the
//! fault each variant must show.

use stagenet_chain::client::Chain;
use stagenet_fork_tests::{
	harness::{proposal_times, runtime_wasm, start_network, wait_for},
};
use std::time::Duration;
use subxt::dynamic::Value;

const SECOND: Duration = Duration::from_secs(1);

/// Connects to the first node of a network.
async fn chain_of(net: &stagenet_network::Network) -> Chain {
	let url = net.nodes()[0].rpc_url.clone();
	Chain::connect(&url)
		.await
		.unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}

/// Hash of block `number`, which must exist.
async fn hash_of(chain: &Chain, number: u64) -> subxt::utils::H256 {
	match chain.block_hash(number).await {
		Ok(Some(hash)) => hash,
		Ok(None) => panic!("block #{number} does not exist"),
		Err(e) => panic!("hash of block #{number}: {e}"),
	}
}

/// `Subnets::MigrationApplied` events in block `hash`.
async fn migrations_applied(chain: &Chain, hash: subxt::utils::H256) -> usize {
	chain
		.events_named_at(hash, "Subnets", "MigrationApplied")
		.await
		.unwrap_or_else(|e| panic!("events of {hash:?}: {e}"))
}

/// Which head of the chain to wait on.
#[derive(Clone, Copy, Debug)]
enum Head {
	Best,
	Finalized,
}

/// Waits until the best or finalized block of `chain` reaches `target`.
async fn wait_for_block(chain: &Chain, head: Head, target: u64, timeout: Duration) {
	wait_for(
		&format!("{head:?} block #{target}"),
		timeout,
		SECOND,
		|| async {
			let n = match head {
				Head::Best => chain.best_number().await,
				Head::Finalized => chain.finalized_number().await,
			}
			.map_err(|e| e.to_string())?;
			if n >= target {
				Ok(())
			} else {
				Err(format!("{head:?} #{n}"))
			}
		},
	)
	.await;
}

/// Grows the fixture state: subnet 2 with `neurons` neurons (stake, weights, axons).
async fn populate(chain: &Chain, neurons: u16) {
	chain
		.sudo(
			"Subnets",
			"populate",
			vec![
				Value::u128(2),
				Value::u128(1),
				Value::u128(neurons as u128),
				Value::u128(0),
			],
		)
		.await
		.expect("sudo(populate)");
}

/// Upgrades to `variant` and waits until the node reports spec version 101.
async fn upgrade(chain: &Chain, variant: &str) -> u64 {
	assert_eq!(
		chain.spec_version().await.expect("spec version"),
		100,
		"baseline runs before the upgrade"
	);
	let included = chain
		.sudo_set_code(&runtime_wasm(variant))
		.await
		.expect("sudo(set_code)");
	wait_for(
		"spec version 101",
		Duration::from_secs(60),
		SECOND,
		|| async {
			let v = chain.spec_version().await.map_err(|e| e.to_string())?;
			if v == 101 {
				Ok(())
			} else {
				Err(format!("spec version {v}"))
			}
		},
	)
	.await;
	included.number
}

/// The block at which the fixture's migration ran (`Subnets::UpgradedAt`).
async fn upgraded_at(chain: &Chain) -> u64 {
	wait_for(
		"Subnets::UpgradedAt to be set",
		Duration::from_secs(60),
		SECOND,
		|| async {
			match chain
				.storage_value::<u64>("Subnets", "UpgradedAt", vec![])
				.await
			{
				Ok(Some(n)) => Ok(n),
				Ok(None) => Err("unset".into()),
				Err(e) => Err(e.to_string()),
			}
		},
	)
	.await
}

#[tokio::test(flavor = "multi_thread")]
async fn upgrade_ok_runs_its_migration_once_and_the_chain_goes_on() {
	stagenet_test_support::require!(TestChain);
	let net = start_network("upgrade-ok", 3).await;
	let chain = chain_of(&net).await;
	populate(&chain, 8).await;

	let set_code_block = upgrade(&chain, "upgrade-ok").await;
	let at = upgraded_at(&chain).await;
	assert!(
		at > set_code_block,
		"the migration runs in a block after set_code"
	);

	let name = Value::from_bytes(b"normalize_weights_v2");
	let flag = chain
		.storage_value::<bool>("Subnets", "HasMigrationRun", vec![name.clone()])
		.await;
	assert_eq!(
		flag.expect("read flag"),
		Some(true),
		"HasMigrationRun is set"
	);
	let at_hash = hash_of(&chain, at).await;
	assert_eq!(migrations_applied(&chain, at_hash).await, 1);

	// Later blocks do not repeat it, and blocks keep being produced and finalized.
	let target = at + 5;
	wait_for_block(&chain, Head::Finalized, target, Duration::from_secs(90)).await;
	for n in at + 1..=target {
		let hash = hash_of(&chain, n).await;
		assert_eq!(migrations_applied(&chain, hash).await, 0, "block #{n}");
	}
	let runs = chain
		.storage_value::<u32>("Subnets", "MigrationRunCount", vec![])
		.await
		.expect("read count");
	assert_eq!(runs, Some(1), "the migration body ran exactly once");
	for node in net.nodes() {
		let rpc = stagenet_network::ChainRpc::connect(&node.rpc_url)
			.await
			.expect("rpc");
		let s = rpc.status().await.expect("status");
		assert!(
			s.finalized >= target,
			"{} finalized only #{}",
			node.name,
			s.finalized
		);
	}
}

#[tokio::test(flavor = "multi_thread")]
async fn panic_on_init_stops_block_production_with_the_panic_in_the_log() {
	stagenet_test_support::require!(TestChain);
	let mut net = start_network("panic-on-init", 1).await;
	let chain = chain_of(&net).await;
	upgrade(&chain, "panic-on-init").await;
	let at = upgraded_at(&chain).await;

	// Production stops: the best block stays below at + 3 and does not move for 10 s.
	let last = std::cell::Cell::new((
		chain.best_number().await.expect("best"),
		std::time::Instant::now(),
	));
	wait_for(
		"block production to stop",
		Duration::from_secs(90),
		SECOND,
		|| async {
			let best = chain.best_number().await.map_err(|e| e.to_string())?;
			if best != last.get().0 {
				last.set((best, std::time::Instant::now()));
			}
			if last.get().1.elapsed() >= Duration::from_secs(10) {
				Ok(())
			} else {
				Err(format!("best #{best}"))
			}
		},
	)
	.await;
	let best = chain.best_number().await.expect("best");
	assert!(
		best < at + 3,
		"best #{best} reached the panicking block #{}",
		at + 3
	);
	let log = net.log_tail("alice", 400).expect("alice log");
	assert!(
		log.contains("on_initialize panicked"),
		"the panic message is not in the log:\n{log}"
	);
	net.check_alive()
		.await
		.expect("the node itself stays up while its runtime panics");
}

#[tokio::test(flavor = "multi_thread")]
async fn overweight_migration_exceeds_the_maximum_block_weight() {
	stagenet_test_support::require!(TestChain);
	let net = start_network("overweight", 1).await;
	let chain = chain_of(&net).await;
	upgrade(&chain, "overweight-migration").await;
	let at = upgraded_at(&chain).await;
	let hash = hash_of(&chain, at).await;
	let [normal, operational, mandatory] = chain.block_weight_at(hash).await.expect("block weight");
	let max = chain.max_block_ref_time().await.expect("max block weight");
	assert!(
		mandatory > max,
		"block #{at}: mandatory weight {mandatory} ps should exceed the max block weight {max} ps (normal {normal}, operational {operational})"
	);
	drop(net);
}

#[tokio::test(flavor = "multi_thread")]
async fn lossy_migration_breaks_the_stake_invariant() {
	stagenet_test_support::require!(TestChain);
	let net = start_network("lossy", 1).await;
	let chain = chain_of(&net).await;
	populate(&chain, 10).await;
	let total_before = chain
		.storage_value::<u64>("Subnets", "TotalStake", vec![])
		.await
		.expect("total")
		.unwrap_or(0);
	let (sum_before, count_before) = chain
		.storage_sum_u64("Subnets", "Stake")
		.await
		.expect("sum");
	assert_eq!(count_before, 10);
	assert_eq!(
		sum_before, total_before,
		"the invariant holds before the upgrade"
	);

	upgrade(&chain, "lossy-migration").await;
	upgraded_at(&chain).await;
	let total_after = chain
		.storage_value::<u64>("Subnets", "TotalStake", vec![])
		.await
		.expect("total")
		.unwrap_or(0);
	let (sum_after, count_after) = chain
		.storage_sum_u64("Subnets", "Stake")
		.await
		.expect("sum");
	assert_eq!(total_after, total_before, "TotalStake is untouched");
	assert!(
		count_after < count_before,
		"entries were dropped: {count_after} of {count_before} left"
	);
	assert_ne!(
		sum_after, total_after,
		"sum(Stake) = {sum_after} must differ from TotalStake = {total_after}"
	);
	drop(net);
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_init_takes_far_longer_than_it_declares() {
	stagenet_test_support::require!(TestChain);
	let net = start_network("slow-init", 1).await;
	let chain = chain_of(&net).await;
	upgrade(&chain, "slow-init").await;
	let at = upgraded_at(&chain).await;
	let target = at + 4;
	wait_for_block(&chain, Head::Best, target, Duration::from_secs(60)).await;
	let log = std::fs::read_to_string(&net.nodes()[0].log).expect("log");
	let times = proposal_times(&log);
	let mut checked = 0;
	for (number, ms) in times
		.iter()
		.copied()
		.filter(|(n, _)| *n > at && *n <= target)
	{
		let hash = hash_of(&chain, number).await;
		let weights = chain.block_weight_at(hash).await.expect("weight");
		let declared_ms = weights.iter().sum::<u128>() as f64 / 1e9;
		assert!(
			ms as f64 >= 10.0 * declared_ms.max(1.0),
			"block #{number}: authoring took {ms} ms, declared weight {declared_ms:.2} ms"
		);
		checked += 1;
	}
	assert!(
		checked >= 2,
		"too few authored blocks after the upgrade in the log: {times:?}"
	);
	// Before the upgrade the same blocks were quick.
	let before: Vec<u64> = times
		.iter()
		.filter(|(n, _)| *n < at)
		.map(|(_, ms)| *ms)
		.collect();
	assert!(
		before.iter().any(|ms| *ms < 50),
		"baseline authoring times: {before:?}"
	);
	drop(net);
}

//! A three-validator network of the test chain reaches itself, produces and finalizes.

use stagenet_fork_tests::harness::{run_processes, start_network, wait_for};
use stagenet_network::ChainRpc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn three_validators_peer_produce_and_finalize() {
	stagenet_test_support::require!(TestChain);
	let mut net = start_network("three-validators", 3).await;
	let nodes = net.nodes();
	assert_eq!(nodes.len(), 3);

	// Every node sees the two others and finality keeps advancing on each of them.
	let mut rpcs = Vec::new();
	for node in &nodes {
		rpcs.push(
			ChainRpc::connect(&node.rpc_url)
				.await
				.expect("rpc of a ready node"),
		);
	}
	let start: Vec<u64> = {
		let mut v = Vec::new();
		for rpc in &rpcs {
			v.push(rpc.status().await.expect("status").finalized);
		}
		v
	};
	for (i, rpc) in rpcs.iter().enumerate() {
		let target = start[i] + 3;
		let status = wait_for(
			&format!("{} to finalize #{target}", nodes[i].name),
			Duration::from_secs(60),
			Duration::from_millis(500),
			|| async {
				let s = rpc.status().await.map_err(|e| e.to_string())?;
				if s.finalized >= target {
					Ok(s)
				} else {
					Err(format!("{s:?}"))
				}
			},
		)
		.await;
		assert_eq!(
			status.peers, 2,
			"{} should peer with exactly the two other validators",
			nodes[i].name
		);
		assert!(status.best >= status.finalized);
	}

	// Blocks are authored by more than one validator: Aura rotates the slots.
	let mut authors = 0;
	for node in &nodes {
		let log = std::fs::read_to_string(&node.log).expect("node log");
		if log.contains("Prepared block for proposing") {
			authors += 1;
		}
		// The peer id stagenet computed from the node key is the one the node uses.
		assert!(
			log.contains(&format!("Local node identity is: {}", node.peer_id)),
			"{} log does not show peer id {}",
			node.name,
			node.peer_id
		);
	}
	assert!(authors >= 2, "only {authors} validator(s) authored blocks");
	let run = net.run_id().to_string();
	let pids = run_processes(&run);
	// Per node: the guard shell, its pipe watcher and the node itself.
	assert_eq!(pids.len(), 9, "processes of run {run}: {pids:?}");
	net.shutdown().await.expect("shutdown");
	let left = run_processes(&run);
	assert!(left.is_empty(), "processes survived shutdown: {left:?}");
}

//! One conformance suite, run against every provider: a forked test-chain spec brought up as
//! 3 validators + 1 RPC node, ready, logs, faults (kill and restart a validator: the chain
//! goes on and finality recovers; pause and resume; a partition where the provider can),
//! and a teardown that leaves nothing behind. Real node processes, a real Docker engine.

use stagenet_config::{Chain, Topology};
use stagenet_fork_tests::{
	fixtures::forked_test_chain_spec,
	harness::{node_binary, repo_root, run_processes, wait_for},
};
use stagenet_network::{
	provider::docker::{DockerOptions, DockerProvider},
	ChainRpc, DynProvider, Fault, LocalProvider, Network, NetworkPlan, NodeStatus,
};
use std::{path::PathBuf, sync::Arc, time::Duration};

/// The image the Docker runs use, built from the test chain's node by stagenet itself.
pub const NODE_IMAGE: &str = "stagenet-test-node:conformance";

/// A shipped topology (`fork-tests/topologies/<file>`) with its chain replaced by `spec`.
pub fn shipped_topology(file: &str, spec: &std::path::Path) -> Topology {
	let path = repo_root().join("fork-tests/topologies").join(file);
	let text = std::fs::read_to_string(&path)
		.unwrap_or_else(|e| panic!("cannot read `{}`: {e}", path.display()));
	let text = text.replace(
		"chain: ../../target/quickstart/fork.spec.json",
		&format!("chain: {}", spec.display()),
	);
	let text = text.replace(
		"image: stagenet-test-node:local",
		&format!("image: {NODE_IMAGE}"),
	);
	let (topology, warnings) = Topology::parse(&path, &text, true)
		.unwrap_or_else(|e| panic!("shipped topology `{file}` does not load: {e}"));
	assert!(warnings.is_empty(), "{warnings:?}");
	let mut topology = topology;
	if topology.node.binary.is_some() {
		topology.node.binary = Some(node_binary());
	}
	topology
}

/// The Docker provider, with `stagenet` itself as the relay, and the node image built.
pub async fn docker_provider() -> DynProvider {
	stagenet_network::image::build_image(&node_binary(), NODE_IMAGE)
		.await
		.unwrap_or_else(|e| panic!("building `{NODE_IMAGE}`: {e}"));
	let provider = DockerProvider::connect(DockerOptions {
		relay_binary: PathBuf::from(env!("CARGO_BIN_EXE_stagenet")),
	})
	.await
	.unwrap_or_else(|e| panic!("docker provider: {e}"));
	Arc::new(provider)
}

async fn status(url: &str) -> Result<NodeStatus, String> {
	let rpc = ChainRpc::connect(url).await.map_err(|e| e.to_string())?;
	rpc.status().await.map_err(|e| e.to_string())
}

/// What `provider` still holds labelled with `run_id`.
pub async fn resources_of(
	provider: &dyn stagenet_network::provider::Provider,
	run_id: &str,
) -> Vec<stagenet_network::provider::Resource> {
	provider
		.resources()
		.await
		.expect("resources")
		.into_iter()
		.filter(|r| r.run_id == run_id)
		.collect()
}

/// Waits until `node` (by RPC URL) reports `done(status)`.
async fn wait_node(
	what: &str,
	url: &str,
	timeout: Duration,
	done: impl Fn(&NodeStatus) -> bool,
) -> NodeStatus {
	wait_for(what, timeout, Duration::from_millis(500), || async {
		let s = status(url).await?;
		if done(&s) {
			Ok(s)
		} else {
			Err(format!("{s:?}"))
		}
	})
	.await
}

/// The suite. `name` names the run; `topology` must have 3 validators and 1 RPC node.
pub async fn conformance(name: &str, provider: DynProvider, topology: Topology) {
	let run_id = format!("conf-{name}-{}", std::process::id());
	let dir = repo_root().join("target/test-runs").join(&run_id);
	let caps = provider.capabilities();
	let plan = NetworkPlan::new(&topology, provider.name(), &caps, &run_id, dir, None)
		.unwrap_or_else(|e| panic!("plan: {e}"));
	let mut net = Network::start(provider.clone(), plan)
		.await
		.unwrap_or_else(|e| panic!("start: {e}"));
	net.wait_ready(Duration::from_secs(240))
		.await
		.unwrap_or_else(|e| panic!("ready: {e}"));
	let nodes = net.nodes();
	let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
	assert_eq!(names, ["alice", "bob", "charlie", "rpc-1"]);

	// The RPC node serves the chain and peers with all three validators; every log holds
	// the node's own peer id (computed by stagenet from the node key it was given).
	let rpc_node = &nodes[3];
	let s = status(&rpc_node.rpc_url).await.expect("rpc-1 answers");
	assert_eq!(s.peers, 3, "rpc-1 peers: {s:?}");
	for node in &nodes {
		let log = std::fs::read_to_string(&node.log).unwrap_or_default();
		assert!(
			log.contains(&format!("Local node identity is: {}", node.peer_id)),
			"{} log lacks its peer id:\n{}",
			node.name,
			net.log_tail(&node.name, 20).unwrap_or_default()
		);
		// The node's base path and keystore are the ones stagenet gave it.
		assert!(
			log.contains("Database: ParityDb"),
			"{} log:\n{log}",
			node.name
		);
	}
	let authored = |node: &str| {
		std::fs::read_to_string(&nodes.iter().find(|n| n.name == node).expect("node").log)
			.map(|l| l.matches("Prepared block for proposing").count())
			.unwrap_or(0)
	};

	// Kill a validator: blocks go on (2 of 3 Aura slots), finality needs all 3 of 3
	// GRANDPA votes and stops; restart it on its database: finality recovers everywhere.
	net.kill("charlie").await.expect("kill charlie");
	let before = status(&nodes[0].rpc_url).await.expect("alice");
	let after = wait_node(
		"alice's best block to advance by 4 with charlie down",
		&nodes[0].rpc_url,
		Duration::from_secs(60),
		|s| s.best >= before.best + 4,
	)
	.await;
	assert!(
		after.finalized <= before.finalized + 2,
		"finality went on without charlie's vote: {before:?} → {after:?}"
	);
	net.restart("charlie").await.expect("restart charlie");
	net.wait_ready(Duration::from_secs(180))
		.await
		.unwrap_or_else(|e| panic!("finality did not recover after charlie's restart: {e}"));
	// Finality catches up past everything built while charlie was down, on every node.
	for node in &nodes {
		wait_node(
			&format!("{} to finalize past #{}", node.name, after.best),
			&node.rpc_url,
			Duration::from_secs(90),
			|s| s.finalized > after.best,
		)
		.await;
	}
	assert!(authored("charlie") > 0, "charlie never authored");
	let events: Vec<Fault> = net.events().iter().map(|e| e.action).collect();
	assert_eq!(events, [Fault::Kill, Fault::Restart]);

	// Pause and resume (every provider here can): the paused node falls behind, then
	// catches up.
	assert!(caps.pause);
	net.pause("bob").await.expect("pause bob");
	let frozen = wait_node(
		"alice to go 3 blocks past a paused bob",
		&nodes[0].rpc_url,
		Duration::from_secs(60),
		|s| s.best >= after.best + 3,
	)
	.await;
	net.resume("bob").await.expect("resume bob");
	wait_node(
		"bob to catch up after resume",
		&nodes[1].rpc_url,
		Duration::from_secs(90),
		|s| s.best >= frozen.best,
	)
	.await;

	// A partition, where the provider can: rpc-1 cut off loses its peers, and finds them
	// again once reconnected.
	if caps.partition {
		net.disconnect("rpc-1").await.expect("disconnect rpc-1");
		wait_node(
			"alice to see rpc-1 gone (2 peers)",
			&nodes[0].rpc_url,
			Duration::from_secs(90),
			|s| s.peers == 2,
		)
		.await;
		net.reconnect("rpc-1").await.expect("reconnect rpc-1");
		net.wait_ready(Duration::from_secs(180))
			.await
			.unwrap_or_else(|e| panic!("not ready after the partition healed: {e}"));
	} else {
		let err = net
			.disconnect("rpc-1")
			.await
			.expect_err("no partition here");
		assert!(err.to_string().contains("hint:"), "{err}");
	}

	// Teardown leaves nothing: no resource labelled with the run, no process, no port.
	net.shutdown().await.expect("shutdown");
	let left = resources_of(provider.as_ref(), &run_id).await;
	assert!(left.is_empty(), "left behind: {left:?}");
	assert!(
		run_processes(&run_id).is_empty(),
		"processes of {run_id} left"
	);
	for node in &nodes {
		assert!(
			ChainRpc::connect(&node.rpc_url).await.is_err(),
			"{} still answers at {}",
			node.name,
			node.rpc_url
		);
	}
}

#[tokio::test(flavor = "multi_thread")]
async fn conformance_local_processes() {
	stagenet_test_support::require!(TestChain);
	let spec = forked_test_chain_spec("conformance-local-fork", 3).await;
	let topology = shipped_topology("local.yaml", &spec);
	assert_eq!(topology.chain, Chain::Spec(spec));
	conformance("local", Arc::new(LocalProvider::new()), topology).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn conformance_docker_engine() {
	stagenet_test_support::require!(TestChain, Docker);
	let spec = forked_test_chain_spec("conformance-docker-fork", 3).await;
	let topology = shipped_topology("docker.yaml", &spec);
	conformance("docker", docker_provider().await, topology).await;
}

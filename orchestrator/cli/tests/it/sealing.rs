//! Sealing of local networks: every socket of every node process is on loopback, and every
//! connection a node opened goes to an address it was given (another node's p2p port).

use crate::conformance::shipped_topology;
use stagenet_fork_tests::{
	fixtures::forked_test_chain_spec,
	harness::{repo_root, run_processes},
};
use stagenet_network::{provider::Provider as _, LocalProvider, Network, NetworkPlan};
use std::{collections::{BTreeMap, BTreeSet}, net::IpAddr, sync::Arc, time::Duration};

/// One TCP socket of `/proc/net/tcp{,6}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Socket {
	local: (IpAddr, u16),
	remote: (IpAddr, u16),
	/// Kernel state: 0A listen, 01 established, 02 syn-sent.
	state: String,
}

fn parse_addr(hex_addr: &str) -> Option<(IpAddr, u16)> {
	let (ip, port) = hex_addr.split_once(':')?;
	let port = u16::from_str_radix(port, 16).ok()?;
	let bytes = hex::decode(ip).ok()?;
	// The kernel prints each 32-bit word in host (little-endian) order.
	let mut fixed = Vec::with_capacity(bytes.len());
	for word in bytes.chunks(4) {
		fixed.extend(word.iter().rev());
	}
	let ip = match fixed.len() {
		4 => IpAddr::from(<[u8; 4]>::try_from(fixed.as_slice()).ok()?),
		16 => IpAddr::from(<[u8; 16]>::try_from(fixed.as_slice()).ok()?),
		_ => return None,
	};
	Some((ip, port))
}

/// Every TCP socket held by process `pid`.
fn sockets_of(pid: u32) -> Vec<Socket> {
	let mut inodes = BTreeSet::new();
	for fd in std::fs::read_dir(format!("/proc/{pid}/fd"))
		.into_iter()
		.flatten()
		.flatten()
	{
		if let Ok(target) = std::fs::read_link(fd.path()) {
			let t = target.to_string_lossy().into_owned();
			if let Some(inode) = t.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) {
				inodes.insert(inode.to_string());
			}
		}
	}
	let mut out = Vec::new();
	for table in ["tcp", "tcp6"] {
		let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
		for line in text.lines().skip(1) {
			let f: Vec<&str> = line.split_whitespace().collect();
			if f.len() < 10 || !inodes.contains(f[9]) {
				continue;
			}
			if let (Some(local), Some(remote)) = (parse_addr(f[1]), parse_addr(f[2])) {
				out.push(Socket {
					local,
					remote,
					state: f[3].to_string(),
				});
			}
		}
	}
	out
}

#[test]
fn proc_net_addresses_parse() {
	assert_eq!(
		parse_addr("0100007F:1F90"),
		Some(("127.0.0.1".parse().expect("ip"), 8080))
	);
	assert_eq!(
		parse_addr("00000000000000000000000001000000:0016"),
		Some(("::1".parse().expect("ip"), 22))
	);
}

#[tokio::test(flavor = "multi_thread")]
async fn local_nodes_use_loopback_only_and_dial_only_their_peers() {
	stagenet_test_support::require!(TestChain);
	let spec = forked_test_chain_spec("sealing-local-fork", 3).await;
	let topology = shipped_topology("local.yaml", &spec);
	let provider = LocalProvider::new();
	let run_id = format!("sealing-{}", std::process::id());
	let plan = NetworkPlan::new(
		&topology,
		provider.name(),
		&provider.capabilities(),
		&run_id,
		repo_root().join("target/test-runs").join(&run_id),
		None,
	)
	.expect("plan");
	let mut net = Network::start(Arc::new(provider), plan)
		.await
		.expect("start");
	net.wait_ready(Duration::from_secs(240))
		.await
		.expect("ready");
	let p2p_ports: BTreeSet<u16> = net
		.nodes()
		.iter()
		.filter_map(|n| n.p2p_addr.split('/').nth(4).and_then(|p| p.parse().ok()))
		.collect();
	assert_eq!(p2p_ports.len(), 4, "{:?}", net.nodes());
	// Let discovery run for a while and record every socket of every node process as it
	// comes and goes (sampled back to back for 10 s, not once at the end: a dial that fails
	// and closes before a single late look would leave no trace): a node that looked for
	// peers beyond those it was given would have dialled by now.
	let pids = run_processes(&run_id);
	let mut seen: BTreeMap<u32, BTreeSet<Socket>> = BTreeMap::new();
	let until = std::time::Instant::now() + Duration::from_secs(10);
	while std::time::Instant::now() < until {
		for pid in &pids {
			seen.entry(*pid).or_default().extend(sockets_of(*pid));
		}
		tokio::task::yield_now().await;
	}
	let mut listeners = 0;
	let mut dialled = BTreeSet::new();
	for (pid, sockets) in &seen {
		let own_listen: BTreeSet<u16> = sockets
			.iter()
			.filter(|s| s.state == "0A")
			.map(|s| s.local.1)
			.collect();
		for s in sockets {
			assert!(
				s.local.0.is_loopback(),
				"process {pid} has a socket on {:?} (state {}): not loopback",
				s.local,
				s.state
			);
			if s.state == "0A" {
				listeners += 1;
				continue;
			}
			assert!(
				s.remote.0.is_loopback(),
				"process {pid} is connected to {:?}",
				s.remote
			);
			// An outgoing connection from an ephemeral port (none of its listeners) must go
			// to a node's p2p port; libp2p may also dial from its own p2p port (port reuse),
			// and those connections join two p2p ports.
			if !own_listen.contains(&s.local.1) {
				assert!(
					p2p_ports.contains(&s.remote.1),
					"process {pid} dialled {:?}, which it was not given (p2p ports {p2p_ports:?})",
					s.remote
				);
				dialled.insert(s.remote.1);
			} else if p2p_ports.contains(&s.local.1) && p2p_ports.contains(&s.remote.1) {
				dialled.insert(s.remote.1);
			}
		}
	}
	// Each node listens for p2p, RPC (v4 and v6) and metrics; connections between them exist.
	assert!(listeners >= 12, "only {listeners} listening sockets");
	assert!(dialled.len() >= 2, "nodes dialled {dialled:?}");
	net.shutdown().await.expect("shutdown");
}

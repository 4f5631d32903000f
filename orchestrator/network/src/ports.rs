//! Free TCP ports on loopback.
//!
//! Ports are chosen below the kernel's ephemeral range (`net.ipv4.ip_local_port_range`, 32768
//! to 60999 by default): the kernel gives ports of that range to every outgoing connection, so a
//! port reserved there, released, and bound again by a node a moment later can meanwhile be the
//! local end of some connection. Substrate's RPC server then silently falls back to another
//! port on 127.0.0.1 while stagenet waits on the one it asked for. Below the range only
//! explicit binds compete.

use crate::{NetworkError, Result};
use std::{
	hash::{BuildHasher, Hasher},
	net::TcpListener,
};

/// Lowest port handed out (above the registered well-known services most hosts run).
const LOWEST: u16 = 10_000;
/// Candidates tried before giving up on the range below the ephemeral ports.
const ATTEMPTS: usize = 2_000;

/// Reserves `n` distinct free ports on 127.0.0.1 by binding them all at once, then releases
/// them for the nodes to bind. The window between release and bind is short, and the ports
/// lie below the ephemeral range (see the module documentation); should the range below it be
/// too small or full, ports come from the kernel (port 0) as a fallback.
pub(crate) fn free_ports(n: usize) -> Result<Vec<u16>> {
	let highest = ephemeral_start().saturating_sub(1);
	if highest > LOWEST {
		let span = u64::from(highest - LOWEST) + 1;
		let mut listeners: Vec<TcpListener> = Vec::with_capacity(n);
		for _ in 0..ATTEMPTS {
			if listeners.len() == n {
				break;
			}
			let port = LOWEST + (random() % span) as u16;
			if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
				listeners.push(l);
			}
		}
		if listeners.len() == n {
			return ports_of(&listeners);
		}
	}
	let listeners = (0..n)
		.map(|_| TcpListener::bind(("127.0.0.1", 0)))
		.collect::<std::io::Result<Vec<_>>>()
		.map_err(|source| NetworkError::NoFreePort { source })?;
	ports_of(&listeners)
}

fn ports_of(listeners: &[TcpListener]) -> Result<Vec<u16>> {
	listeners
		.iter()
		.map(|l| l.local_addr().map(|a| a.port()))
		.collect::<std::io::Result<Vec<_>>>()
		.map_err(|source| NetworkError::NoFreePort { source })
}

/// The first port of the kernel's ephemeral range (32768 when it cannot be read).
fn ephemeral_start() -> u16 {
	std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
		.ok()
		.and_then(|t| t.split_whitespace().next().and_then(|p| p.parse().ok()))
		.unwrap_or(32_768)
}

/// A random number from the standard library's per-process random hash keys.
fn random() -> u64 {
	let mut h = std::collections::hash_map::RandomState::new().build_hasher();
	h.write_u128(
		std::time::SystemTime::now()
			.duration_since(std::time::UNIX_EPOCH)
			.map(|d| d.as_nanos())
			.unwrap_or_default(),
	);
	h.finish()
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn ports_are_distinct_bindable_and_below_the_ephemeral_range() {
		let ports = free_ports(8).expect("free ports");
		let mut sorted = ports.clone();
		sorted.sort_unstable();
		sorted.dedup();
		assert_eq!(sorted.len(), 8, "{ports:?}");
		let start = ephemeral_start();
		for p in &ports {
			assert!(
				*p >= LOWEST && *p < start,
				"port {p} outside {LOWEST}..{start}"
			);
			TcpListener::bind(("127.0.0.1", *p)).expect("the released port binds again");
		}
	}
}

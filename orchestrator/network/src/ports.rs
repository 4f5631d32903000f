//! Free TCP ports on loopback.

use crate::{NetworkError, Result};
use std::net::TcpListener;

/// Reserves `n` distinct free ports on 127.0.0.1 by binding them all at once, then releases
/// them for the nodes to bind. The window between release and bind is short; a clash shows as
/// a node exiting with "address in use" and is reported as such.
pub(crate) fn free_ports(n: usize) -> Result<Vec<u16>> {
	let listeners = (0..n)
		.map(|_| TcpListener::bind(("127.0.0.1", 0)))
		.collect::<std::io::Result<Vec<_>>>()
		.map_err(|source| NetworkError::NoFreePort { source })?;
	listeners
		.iter()
		.map(|l| l.local_addr().map(|a| a.port()))
		.collect::<std::io::Result<Vec<_>>>()
		.map_err(|source| NetworkError::NoFreePort { source })
}

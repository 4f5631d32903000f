//! A TCP relay: listens on some ports and forwards every connection to a `host:port` target.
//!
//! The Docker provider runs it (`stagenet relay`) in a container beside each node whose RPC
//! the host must reach: nodes sit on an internal network, whose ports Docker does not
//! publish, and the relay, attached to that network and to an ordinary one, is published on
//! loopback instead. The target is resolved for every connection, so a node whose container
//! was restarted (or reconnected, with a new address) is found again.

use crate::{NetworkError, Result};
use std::{net::IpAddr, net::SocketAddr, time::Duration};
use tokio::net::{TcpListener, TcpStream};

/// Provider name used in errors.
const RELAY: &str = "relay";

/// How long a connection to a target may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Listeners bound and ready to forward.
#[derive(Debug)]
pub struct Relay {
	listeners: Vec<(TcpListener, String)>,
}

impl Relay {
	/// Binds `ip:<port>` for every `(port, target)` of `maps` (`target` is `host:port`).
	pub async fn bind(ip: IpAddr, maps: Vec<(u16, String)>) -> Result<Self> {
		let mut listeners = Vec::with_capacity(maps.len());
		for (port, target) in maps {
			let addr = SocketAddr::new(ip, port);
			let listener = TcpListener::bind(addr)
				.await
				.map_err(|e| NetworkError::Provider {
					provider: RELAY,
					action: format!("listen on `{addr}`"),
					message: e.to_string(),
					hint: None,
				})?;
			listeners.push((listener, target));
		}
		Ok(Self { listeners })
	}

	/// The addresses listened on, in the order of the maps.
	pub fn local_addrs(&self) -> Vec<SocketAddr> {
		self.listeners
			.iter()
			.filter_map(|(l, _)| l.local_addr().ok())
			.collect()
	}

	/// Forwards connections until the process ends.
	pub async fn serve(self) -> Result<()> {
		let loops = self
			.listeners
			.into_iter()
			.map(|(listener, target)| accept_loop(listener, target));
		futures_util::future::join_all(loops).await;
		Ok(())
	}
}

/// Listens on `0.0.0.0:<port>` for every `(port, target)` of `maps` and forwards each
/// accepted connection to its `host:port` target. Runs until the process ends.
pub async fn run(maps: Vec<(u16, String)>) -> Result<()> {
	let relay = Relay::bind(IpAddr::from([0, 0, 0, 0]), maps).await?;
	for (addr, (_, target)) in relay.local_addrs().iter().zip(&relay.listeners) {
		tracing::info!(listen = %addr, target = %target, "relay listening");
	}
	relay.serve().await
}

async fn accept_loop(listener: TcpListener, target: String) {
	loop {
		match listener.accept().await {
			Ok((client, peer)) => {
				let target = target.clone();
				tokio::spawn(async move { forward(client, peer, &target).await });
			}
			Err(e) => {
				// Out of descriptors and the like: wait a little rather than spin.
				tracing::warn!(target = %target, error = %e, "relay cannot accept");
				tokio::time::sleep(Duration::from_millis(100)).await;
			}
		}
	}
}

async fn forward(mut client: TcpStream, peer: SocketAddr, target: &str) {
	let upstream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target)).await;
	let mut upstream = match upstream {
		Ok(Ok(stream)) => stream,
		Ok(Err(e)) => {
			tracing::warn!(from = %peer, target = %target, error = %e, "relay cannot reach its target; connection closed");
			return;
		}
		Err(_) => {
			tracing::warn!(from = %peer, target = %target, "relay timed out reaching its target; connection closed");
			return;
		}
	};
	let _ = client.set_nodelay(true);
	let _ = upstream.set_nodelay(true);
	if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
		tracing::debug!(from = %peer, target = %target, error = %e, "relayed connection ended");
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use tokio::io::{AsyncReadExt, AsyncWriteExt};

	#[tokio::test]
	async fn relay_forwards_both_ways_and_closes_when_the_target_is_gone() {
		// The target: echoes what it reads, upper-cased, then closes.
		let target = TcpListener::bind("127.0.0.1:0").await.expect("bind target");
		let target_addr = target.local_addr().expect("addr");
		let server = tokio::spawn(async move {
			let (mut conn, _) = target.accept().await.expect("accept");
			let mut buf = [0u8; 5];
			conn.read_exact(&mut buf).await.expect("read");
			conn.write_all(&buf.to_ascii_uppercase())
				.await
				.expect("write");
		});
		// A port nothing listens on: bind one, note it, close it.
		let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
		let closed_addr = closed.local_addr().expect("addr");
		drop(closed);

		let relay = Relay::bind(
			IpAddr::from([127, 0, 0, 1]),
			vec![
				(0, format!("localhost:{}", target_addr.port())),
				(0, closed_addr.to_string()),
			],
		)
		.await
		.expect("bind relay");
		let addrs = relay.local_addrs();
		assert_eq!(addrs.len(), 2);
		let serving = tokio::spawn(relay.serve());

		let mut conn = TcpStream::connect(addrs[0]).await.expect("connect");
		conn.write_all(b"hello").await.expect("write");
		let mut reply = Vec::new();
		tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut reply))
			.await
			.expect("reply in time")
			.expect("read");
		assert_eq!(reply, b"HELLO");
		server.await.expect("server");

		// The second map's target is not there: the client side is closed without data.
		let mut conn = TcpStream::connect(addrs[1]).await.expect("connect");
		let mut rest = Vec::new();
		let read = tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut rest))
			.await
			.expect("closed in time");
		assert!(
			matches!(read, Ok(0)) || read.is_err(),
			"closed: {read:?} {rest:?}"
		);
		serving.abort();
	}
}

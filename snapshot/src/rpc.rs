//! A small pool of JSON-RPC (WebSocket) connections to one node, with reconnection and
//! backoff: a dropped connection is re-established and the call retried until the retry
//! window closes.

use jsonrpsee::{
	core::{client::ClientT, params::ArrayParams, ClientError},
	ws_client::{WsClient, WsClientBuilder},
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::{
	sync::{
		atomic::{AtomicUsize, Ordering},
		Arc,
	},
	time::{Duration, Instant},
};
use tokio::sync::Mutex;

/// JSON-RPC error code of a response over the server's size limit (jsonrpsee servers).
pub const OVERSIZED_RESPONSE_CODE: i32 = -32008;

/// Why a call failed.
#[derive(Debug, Clone)]
pub enum CallError {
	/// The node answered with an error.
	Node {
		/// JSON-RPC error code.
		code: i32,
		/// Its message (and data, if any).
		message: String,
	},
	/// The connection dropped (or timed out) and did not come back within the retry window.
	Lost {
		/// The last error seen.
		reason: String,
		/// How long we tried.
		tried_for: Duration,
	},
	/// The answer does not have the expected shape.
	Decode {
		/// What was wrong.
		reason: String,
	},
}

impl CallError {
	/// Why a first connection failed, without the retry wording.
	pub fn connect_reason(&self) -> String {
		match self {
			Self::Lost { reason, .. } => reason.clone(),
			other => other.to_string(),
		}
	}

	/// The node refused because the response would be too large.
	pub fn is_oversized(&self) -> bool {
		match self {
			Self::Node { code, message } => {
				*code == OVERSIZED_RESPONSE_CODE
					|| message.contains("too big")
					|| message.contains("exceeded max limit")
			}
			_ => false,
		}
	}

	/// The node no longer holds the state of the requested block.
	pub fn is_state_pruned(&self) -> bool {
		matches!(self, Self::Node { message, .. }
			if message.contains("State already discarded") || message.contains("state already discarded"))
	}

	/// The node does not know the requested block.
	pub fn is_unknown_block(&self) -> bool {
		matches!(self, Self::Node { message, .. }
			if message.contains("Unknown block") || message.contains("UnknownBlock") || message.contains("not found"))
	}
}

impl std::fmt::Display for CallError {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		match self {
			Self::Node { code, message } => write!(f, "the node answered error {code}: {message}"),
			Self::Lost { reason, tried_for } => write!(
				f,
				"the connection was lost and did not come back within {}: {reason}",
				humanize(*tried_for)
			),
			Self::Decode { reason } => write!(f, "unexpected answer: {reason}"),
		}
	}
}

fn humanize(d: Duration) -> String {
	format!("{:.1} s", d.as_secs_f64())
}

/// Removes `user:password@` from a URL so it can be shown and stored.
pub fn without_credentials(url: &str) -> String {
	match (url.find("://"), url.find('@')) {
		(Some(scheme_end), Some(at)) if at > scheme_end => {
			let host_start = scheme_end + 3;
			let path_start = url[host_start..].find('/').map(|p| p + host_start);
			if path_start.is_none_or(|p| at < p) {
				return format!("{}{}", &url[..host_start], &url[at + 1..]);
			}
			url.to_string()
		}
		_ => url.to_string(),
	}
}

/// Connection settings.
#[derive(Debug, Clone)]
pub struct NodeOptions {
	/// Connections kept open.
	pub connections: usize,
	/// How long a dropped connection is retried before giving up.
	pub retry_for: Duration,
	/// Per-request timeout.
	pub request_timeout: Duration,
}

/// A pool of connections to one node.
pub struct Node {
	url: String,
	shown: String,
	opts: NodeOptions,
	slots: Vec<Mutex<Option<Arc<WsClient>>>>,
	next: AtomicUsize,
}

impl Node {
	/// Connects the first connection (so a wrong URL fails at once); the others connect on
	/// first use.
	pub async fn connect(url: &str, opts: NodeOptions) -> Result<Self, CallError> {
		let n = opts.connections.max(1);
		let node = Self {
			url: url.to_string(),
			shown: without_credentials(url),
			opts,
			slots: (0..n).map(|_| Mutex::new(None)).collect(),
			next: AtomicUsize::new(0),
		};
		let client = node.build().await.map_err(|e| CallError::Lost {
			reason: e,
			tried_for: Duration::ZERO,
		})?;
		*node.slots[0].lock().await = Some(Arc::new(client));
		Ok(node)
	}

	/// The URL without credentials.
	pub fn shown_url(&self) -> &str {
		&self.shown
	}

	async fn build(&self) -> Result<WsClient, String> {
		WsClientBuilder::default()
			.max_response_size(u32::MAX)
			.max_request_size(64 << 20)
			.request_timeout(self.opts.request_timeout)
			.connection_timeout(Duration::from_secs(10))
			.max_concurrent_requests(1024)
			.build(&self.url)
			.await
			.map_err(|e| e.to_string())
	}

	async fn client(&self, slot: usize) -> Result<Arc<WsClient>, String> {
		let mut guard = self.slots[slot].lock().await;
		if let Some(c) = guard.as_ref() {
			if c.is_connected() {
				return Ok(c.clone());
			}
		}
		let c = Arc::new(self.build().await?);
		*guard = Some(c.clone());
		Ok(c)
	}

	async fn drop_client(&self, slot: usize) {
		*self.slots[slot].lock().await = None;
	}

	/// Calls `method` with positional `params`, retrying on lost connections and timeouts
	/// with backoff (100 ms doubling to 2 s) until `retry_for` has passed since the first
	/// failure.
	pub async fn call<T: DeserializeOwned>(
		&self,
		method: &str,
		params: &[Value],
	) -> Result<T, CallError> {
		let slot = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
		let mut first_failure: Option<Instant> = None;
		let mut backoff = Duration::from_millis(100);
		loop {
			let attempt = match self.client(slot).await {
				Ok(c) => {
					let mut p = ArrayParams::new();
					for v in params {
						p.insert(v).map_err(|e| CallError::Decode {
							reason: format!("cannot encode a parameter: {e}"),
						})?;
					}
					c.request::<T, _>(method, p).await
				}
				Err(e) => Err(ClientError::Custom(e)),
			};
			let reason = match attempt {
				Ok(v) => return Ok(v),
				Err(ClientError::Call(e)) => {
					let mut message = e.message().to_string();
					if let Some(data) = e.data() {
						message.push_str(": ");
						message.push_str(data.get());
					}
					return Err(CallError::Node {
						code: e.code(),
						message,
					});
				}
				Err(ClientError::ParseError(e)) => {
					return Err(CallError::Decode {
						reason: e.to_string(),
					})
				}
				Err(ClientError::RequestTimeout) => {
					format!("no answer within {}", humanize(self.opts.request_timeout))
				}
				Err(e) => {
					self.drop_client(slot).await;
					e.to_string()
				}
			};
			let started = *first_failure.get_or_insert_with(Instant::now);
			if started.elapsed() >= self.opts.retry_for {
				return Err(CallError::Lost {
					reason,
					tried_for: started.elapsed(),
				});
			}
			tracing::debug!(target: "stagenet::snapshot", %method, %reason, "retrying");
			tokio::time::sleep(backoff).await;
			backoff = (backoff * 2).min(Duration::from_secs(2));
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn credentials_are_removed_from_urls() {
		assert_eq!(
			without_credentials("wss://u:p@host:443/x"),
			"wss://host:443/x"
		);
		assert_eq!(
			without_credentials("ws://127.0.0.1:9944"),
			"ws://127.0.0.1:9944"
		);
		assert_eq!(without_credentials("ws://host/path@x"), "ws://host/path@x");
	}
}

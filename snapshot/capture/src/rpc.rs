//! The node's JSON-RPC, as a capture needs it: one WebSocket connection shared by every
//! request, reopened when it drops, each request retried with backoff on transport errors and
//! bounded by a timeout.

use super::error::{BoxError, CaptureError};
use serde::{de::DeserializeOwned, Deserialize};
use std::time::{Duration, Instant};
use subxt::ext::jsonrpsee::ws_client::WsClientBuilder;
use subxt_rpcs::{client::RpcParams, Error as RpcError, RpcClient};
use stagenet_chain::retry::{is_oversized, Backoff, Failure};
use tokio::sync::RwLock;

/// The largest response the client accepts. Far above any node's own limit (15 MiB by
/// default), so that an oversized response is refused by the node with a clear error rather
/// than cut by the client.
const MAX_RESPONSE_BYTES: u32 = 512 * 1024 * 1024;

/// How requests are retried.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
	/// Retries after the first attempt.
	pub retries: u32,
	/// Limit of one request (and of opening a connection).
	pub request_timeout: Duration,
}

/// A connection to the node, reopened on demand.
pub(crate) struct Source {
	/// The URL as given (it may carry credentials): only used to connect.
	url: String,
	/// The URL without credentials, for messages.
	shown: String,
	policy: RetryPolicy,
	/// The client and its generation (incremented at each reconnection), so that concurrent
	/// requests that saw the same connection drop reconnect only once.
	client: RwLock<(u64, RpcClient)>,
}

/// Version of a runtime, as `state_getRuntimeVersion` reports it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RuntimeVersion {
	/// `spec_name`.
	pub spec_name: String,
	/// `spec_version`.
	pub spec_version: u32,
	/// `impl_version`.
	#[serde(default)]
	pub impl_version: u32,
	/// `transaction_version`.
	#[serde(default)]
	pub transaction_version: u32,
}

/// A block as `chain_getBlock` returns it.
#[derive(Debug, Deserialize)]
pub(crate) struct SignedBlock {
	/// The block.
	pub block: Block,
}

/// Header and extrinsics of a block.
#[derive(Debug, Deserialize)]
pub(crate) struct Block {
	/// The header.
	pub header: Header,
	/// Each extrinsic, `0x`-hex of its SCALE encoding (with its length prefix).
	pub extrinsics: Vec<String>,
}

/// A block header, fields as hex strings.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Header {
	/// Parent hash.
	pub parent_hash: String,
	/// Block number (`0x…`).
	pub number: String,
	/// State root.
	pub state_root: String,
	/// Extrinsics root.
	pub extrinsics_root: String,
	/// Digest.
	pub digest: Digest,
}

/// The digest of a header.
#[derive(Debug, Deserialize)]
pub(crate) struct Digest {
	/// Each digest item, `0x`-hex of its SCALE encoding.
	pub logs: Vec<String>,
}

impl Source {
	/// Opens the connection. One attempt: an unreachable node at the start is the user's to
	/// fix, not something to wait for.
	pub async fn connect(url: &str, policy: RetryPolicy) -> Result<Self, CaptureError> {
		let shown = check_url(url)?;
		// The first connection is checked: an endpoint that is not a node (an HTML page,
		// garbage, silence) fails in seconds, not after every retry.
		let client =
			stagenet_snapshot::rpc::open_checked(builder(policy.request_timeout), url, policy.request_timeout)
				.await
				.map_err(|e| {
					let hint = e.hint().to_string();
					if e.is_not_json_rpc() {
						CaptureError::NotJsonRpc {
							url: shown.clone(),
							seen: e.to_string(),
							hint,
						}
					} else {
						CaptureError::Unreachable {
							url: shown.clone(),
							source: e.to_string().into(),
						}
					}
				})?;
		let client = RpcClient::new(client);
		Ok(Self {
			url: url.to_string(),
			shown,
			policy,
			client: RwLock::new((0, client)),
		})
	}

	/// The URL without credentials.
	pub fn shown_url(&self) -> &str {
		&self.shown
	}

	/// Calls `method` with `params` for the capture of block `block`, retrying transport
	/// failures (reconnecting in between) with backoff.
	pub async fn request<T: DeserializeOwned>(
		&self,
		method: &str,
		params: &[serde_json::Value],
		block: u64,
	) -> Result<T, CaptureError> {
		let mut rpc_params = RpcParams::new();
		for p in params {
			rpc_params.push(p).map_err(|e| CaptureError::Rpc {
				url: self.shown.clone(),
				method: method.to_string(),
				block,
				message: format!("cannot encode the parameters: {e}"),
			})?;
		}
		let started = Instant::now();
		let mut backoff = Backoff::RECONNECT.schedule();
		let mut attempt = 0u32;
		loop {
			attempt += 1;
			let (generation, client) = {
				let guard = self.client.read().await;
				(guard.0, guard.1.clone())
			};
			let mut last_error = match self.once::<T>(&client, method, rpc_params.clone()).await {
				Ok(value) => return Ok(value),
				Err(Failure::Transport(message)) => message,
				Err(Failure::Node { code, message }) => {
					return Err(if is_oversized(code, &message) {
						CaptureError::ResponseTooLarge {
							url: self.shown.clone(),
							method: method.to_string(),
							block,
							message,
						}
					} else {
						CaptureError::Rpc {
							url: self.shown.clone(),
							method: method.to_string(),
							block,
							message: format!("{message} (code {code})"),
						}
					});
				}
				Err(Failure::Malformed(reason)) => {
					return Err(CaptureError::Malformed {
						url: self.shown.clone(),
						block,
						reason: format!("`{method}`: {reason}"),
					});
				}
			};
			// Wait, reconnect, and only then try the request again; a failed reconnection
			// counts as an attempt.
			loop {
				if attempt > self.policy.retries {
					return Err(CaptureError::ConnectionLost {
						url: self.shown.clone(),
						method: method.to_string(),
						block,
						attempts: attempt,
						waited: started.elapsed(),
						last_error,
						done: 0,
					});
				}
				let pause = backoff.next().unwrap_or(Backoff::RECONNECT.max);
				tracing::warn!(
					target: "stagenet::capture",
					url = %self.shown,
					method,
					block,
					attempt,
					error = %last_error,
					"request failed; reconnecting in {pause:?}"
				);
				tokio::time::sleep(pause).await;
				match self.reconnect(generation).await {
					Ok(()) => break,
					Err(e) => {
						attempt += 1;
						last_error = format!("cannot reconnect: {e}");
					}
				}
			}
		}
	}

	/// One attempt of a request, bounded by the request timeout.
	async fn once<T: DeserializeOwned>(
		&self,
		client: &RpcClient,
		method: &str,
		params: RpcParams,
	) -> Result<T, Failure> {
		// The client enforces the same limit; this bound also covers a stuck transport.
		let limit = self.policy.request_timeout + Duration::from_secs(1);
		match tokio::time::timeout(limit, client.request::<T>(method, params)).await {
			Err(_) => Err(Failure::Transport(format!("no answer within {limit:?}"))),
			Ok(Ok(value)) => Ok(value),
			Ok(Err(RpcError::User(e))) => Err(Failure::Node {
				code: e.code,
				// The data often says more (`Exceeded max limit of 1048576`).
				message: match e.data {
					Some(data) => format!("{}: {}", e.message, data.get().trim_matches('"')),
					None => e.message,
				},
			}),
			Ok(Err(RpcError::Deserialization(e))) => Err(Failure::Malformed(e.to_string())),
			Ok(Err(RpcError::Decode(e))) => Err(Failure::Malformed(e.to_string())),
			Ok(Err(e)) => Err(Failure::Transport(e.to_string())),
		}
	}

	/// Opens a new connection unless another request already did since `seen` was current.
	async fn reconnect(&self, seen: u64) -> Result<(), BoxError> {
		let mut guard = self.client.write().await;
		if guard.0 != seen {
			return Ok(());
		}
		let client = open(&self.url, self.policy.request_timeout).await?;
		*guard = (seen + 1, client);
		tracing::info!(target: "stagenet::capture", url = %self.shown, "reconnected");
		Ok(())
	}
}

/// The client settings of every connection.
fn builder(timeout: Duration) -> WsClientBuilder {
	WsClientBuilder::default()
		.max_response_size(MAX_RESPONSE_BYTES)
		.request_timeout(timeout)
		.connection_timeout(timeout)
}

/// Opens a WebSocket JSON-RPC client.
async fn open(url: &str, timeout: Duration) -> Result<RpcClient, BoxError> {
	let build = builder(timeout).build(url);
	let client = tokio::time::timeout(timeout + Duration::from_secs(1), build)
		.await
		.map_err(|_| -> BoxError { format!("no connection within {timeout:?}").into() })??;
	Ok(RpcClient::new(client))
}

/// Checks that `url` is a `ws://` or `wss://` URL with a host; returns it without
/// credentials (user info and query string), for messages and the capture's metadata.
pub(crate) fn check_url(url: &str) -> Result<String, CaptureError> {
	let shown = stagenet_chain::url::redact(url);
	stagenet_snapshot::rpc::check_ws_url(url).map_err(|p| CaptureError::InvalidUrl {
		url: shown.clone(),
		reason: p.reason,
		hint: p.hint,
	})?;
	Ok(shown)
}

/// Parses `0x`-hex from the node.
pub(crate) fn from_hex(s: &str) -> Result<Vec<u8>, String> {
	hex::decode(s.trim_start_matches("0x")).map_err(|e| {
		let shown: String = s.chars().take(20).collect();
		format!("`{shown}…` is not hex: {e}")
	})
}

/// Parses a block number as nodes send it (`"0x1a"`).
pub(crate) fn parse_number(s: &str) -> Result<u64, String> {
	u64::from_str_radix(s.trim_start_matches("0x"), 16)
		.map_err(|e| format!("block number `{s}` is not a hex number: {e}"))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn only_websocket_urls_are_accepted() {
		assert!(check_url("ws://127.0.0.1:9944").is_ok());
		assert!(check_url("wss://entrypoint-finney.opentensor.ai:443").is_ok());
		assert!(check_url("ws://[::1]:9944").is_ok());
		for bad in [
			"http://127.0.0.1:9933",
			"127.0.0.1:9944",
			"ws://",
			"ws://:9944",
			"ws://host:port",
		] {
			let err = check_url(bad).expect_err(bad);
			assert!(err.is_bad_input(), "{bad}: {err}");
			assert!(err.to_string().contains("hint:"), "{err}");
		}
	}

	#[test]
	fn oversized_responses_are_recognised() {
		assert!(is_oversized(-32008, "Response is too big"));
		assert!(is_oversized(-32000, "Response is too big: max 1 MB"));
		assert!(!is_oversized(-32602, "Invalid params"));
	}

	#[test]
	fn numbers_and_hex_parse() {
		assert_eq!(parse_number("0x1a"), Ok(26));
		assert!(parse_number("zz").is_err());
		assert_eq!(from_hex("0x0102"), Ok(vec![1, 2]));
		assert!(from_hex("0xzz").is_err());
	}
}

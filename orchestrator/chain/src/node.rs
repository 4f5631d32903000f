//! The few JSON-RPC calls readiness and `stagenet status` need, over any Substrate node's
//! standard methods, and block numbers as nodes send them.

use crate::url::redact;
use serde::Deserialize;
use subxt_rpcs::{rpc_params, RpcClient};

/// A request to a node that failed.
#[derive(Debug, thiserror::Error)]
#[error("`{method}` on `{url}`: {reason}")]
pub struct NodeError {
	/// The node's endpoint (credentials hidden).
	pub url: String,
	/// The method, or `connect`.
	pub method: String,
	/// Why it failed.
	pub reason: String,
}

/// Result of this module.
pub type Result<T, E = NodeError> = std::result::Result<T, E>;

/// A block number that is not `0x`-hex.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("block number `{text}` is not a hex number: {reason}")]
pub struct BadNumber {
	/// What the node sent.
	pub text: String,
	/// Why it does not parse.
	pub reason: String,
}

/// A JSON-RPC connection to one node.
#[derive(Clone)]
pub struct ChainRpc {
	url: String,
	client: RpcClient,
}

/// What a node reports of itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
	/// Connected peers.
	pub peers: u64,
	/// Whether the node is major-syncing.
	pub is_syncing: bool,
	/// Best block number.
	pub best: u64,
	/// Finalized block number.
	pub finalized: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Health {
	peers: u64,
	is_syncing: bool,
}

#[derive(Deserialize)]
struct Header {
	number: String,
}

impl ChainRpc {
	/// Connects to `url` (`ws://…`).
	pub async fn connect(url: &str) -> Result<Self> {
		let client = RpcClient::from_insecure_url(url)
			.await
			.map_err(|e| NodeError {
				url: redact(url),
				method: "connect".into(),
				reason: e.to_string(),
			})?;
		Ok(Self {
			url: url.to_string(),
			client,
		})
	}

	/// The endpoint.
	pub fn url(&self) -> &str {
		&self.url
	}

	/// The underlying client, for other calls.
	pub fn client(&self) -> &RpcClient {
		&self.client
	}

	fn err(&self, method: &str, e: impl std::fmt::Display) -> NodeError {
		NodeError {
			url: redact(&self.url),
			method: method.into(),
			reason: e.to_string(),
		}
	}

	/// Peers, syncing, best and finalized block numbers.
	pub async fn status(&self) -> Result<NodeStatus> {
		let health: Health = self
			.client
			.request("system_health", rpc_params![])
			.await
			.map_err(|e| self.err("system_health", e))?;
		let best: Header = self
			.client
			.request("chain_getHeader", rpc_params![])
			.await
			.map_err(|e| self.err("chain_getHeader", e))?;
		let finalized_hash: String = self
			.client
			.request("chain_getFinalizedHead", rpc_params![])
			.await
			.map_err(|e| self.err("chain_getFinalizedHead", e))?;
		let finalized: Header = self
			.client
			.request("chain_getHeader", rpc_params![finalized_hash])
			.await
			.map_err(|e| self.err("chain_getHeader", e))?;
		Ok(NodeStatus {
			peers: health.peers,
			is_syncing: health.is_syncing,
			best: parse_block_number(&best.number).map_err(|e| self.err("chain_getHeader", e))?,
			finalized: parse_block_number(&finalized.number)
				.map_err(|e| self.err("chain_getHeader", e))?,
		})
	}
}

/// Parses a block number as nodes send it (`"0x1a"`).
pub fn parse_block_number(text: &str) -> std::result::Result<u64, BadNumber> {
	let digits = text.strip_prefix("0x").unwrap_or(text);
	u64::from_str_radix(digits, 16).map_err(|e| BadNumber {
		text: text.chars().take(40).collect(),
		reason: e.to_string(),
	})
}

#[cfg(test)]
mod tests {
	use super::parse_block_number;

	#[test]
	fn block_numbers_parse_from_hex() {
		assert_eq!(parse_block_number("0x1a"), Ok(26));
		assert_eq!(parse_block_number("0x0"), Ok(0));
		let err = parse_block_number("0xzz").expect_err("not hex");
		assert!(err.to_string().contains("0xzz"), "{err}");
	}
}

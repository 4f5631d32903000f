//! The few JSON-RPC calls readiness needs, over any Substrate node's standard methods.

use crate::{NetworkError, Result};
use serde::Deserialize;
use subxt_rpcs::{rpc_params, RpcClient};

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
			.map_err(|e| NetworkError::Rpc {
				url: url.to_string(),
				method: "connect".into(),
				message: e.to_string(),
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

	fn err(&self, method: &str, e: impl std::fmt::Display) -> NetworkError {
		NetworkError::Rpc {
			url: self.url.clone(),
			method: method.into(),
			message: e.to_string(),
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
			best: parse_number(&best.number).map_err(|e| self.err("chain_getHeader", e))?,
			finalized: parse_number(&finalized.number)
				.map_err(|e| self.err("chain_getHeader", e))?,
		})
	}
}

/// Parses a block number as nodes send it (`"0x1a"`).
fn parse_number(hex_number: &str) -> std::result::Result<u64, String> {
	let digits = hex_number.trim_start_matches("0x");
	u64::from_str_radix(digits, 16)
		.map_err(|e| format!("block number `{hex_number}` is not a hex number: {e}"))
}

#[cfg(test)]
mod tests {
	use super::parse_number;

	#[test]
	fn block_numbers_parse_from_hex() {
		assert_eq!(parse_number("0x1a"), Ok(26));
		assert_eq!(parse_number("0x0"), Ok(0));
		assert!(parse_number("0xzz").expect_err("not hex").contains("0xzz"));
	}
}

//! What a snapshot needs to know about the chain and the pinned block: hashes, header,
//! runtime version, metadata, and the storage prefixes the metadata declares.

use crate::{
	error::{Result, SnapshotError},
	format::{hex0x, unhex, BlockInfo, RuntimeInfo},
	rpc::{CallError, Node},
};
use serde_json::{json, Value};

/// A block asked for on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockRef {
	/// By number.
	Number(u64),
	/// By hash (0x hex, 32 bytes).
	Hash(String),
}

impl std::str::FromStr for BlockRef {
	type Err = String;

	fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
		if let Ok(n) = s.parse::<u64>() {
			return Ok(Self::Number(n));
		}
		match unhex(s) {
			Ok(b) if b.len() == 32 => Ok(Self::Hash(hex0x(&b))),
			_ => Err(format!(
				"`{s}` is neither a block number nor a 32-byte 0x hex block hash"
			)),
		}
	}
}

impl std::fmt::Display for BlockRef {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		match self {
			Self::Number(n) => write!(f, "#{n}"),
			Self::Hash(h) => write!(f, "`{h}`"),
		}
	}
}

/// Everything pinned about the block a snapshot is taken at.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Pinned {
	/// Chain name.
	pub chain: String,
	/// Genesis hash.
	pub genesis_hash: String,
	/// The block.
	pub block: BlockInfo,
	/// The block header's state root.
	pub state_root: String,
	/// Runtime version at the block.
	pub runtime: RuntimeInfo,
}

pub(crate) fn rpc_err(node: &Node, method: &str, e: CallError) -> SnapshotError {
	match e {
		CallError::Lost { reason, .. } => SnapshotError::Unreachable {
			url: node.shown_url().to_string(),
			reason,
			hint: "check that the node runs and the URL is right; an interrupted download \
			       continues with `--resume`"
				.into(),
		},
		other => SnapshotError::Rpc {
			url: node.shown_url().to_string(),
			method: method.to_string(),
			reason: other.to_string(),
		},
	}
}

async fn call<T: serde::de::DeserializeOwned>(
	node: &Node,
	method: &str,
	params: &[Value],
) -> Result<T> {
	node.call(method, params)
		.await
		.map_err(|e| rpc_err(node, method, e))
}

fn field<'a>(v: &'a Value, name: &str, method: &str, node: &Node) -> Result<&'a Value> {
	v.get(name).ok_or_else(|| SnapshotError::Rpc {
		url: node.shown_url().to_string(),
		method: method.to_string(),
		reason: format!("the answer has no `{name}` field: {v}"),
	})
}

fn hex_number(v: &Value) -> Option<u64> {
	match v {
		Value::String(s) => u64::from_str_radix(s.trim_start_matches("0x"), 16).ok(),
		Value::Number(n) => n.as_u64(),
		_ => None,
	}
}

/// The node's best block number.
pub async fn best_number(node: &Node) -> Result<u64> {
	let header: Value = call(node, "chain_getHeader", &[]).await?;
	hex_number(field(&header, "number", "chain_getHeader", node)?).ok_or_else(|| {
		SnapshotError::Rpc {
			url: node.shown_url().into(),
			method: "chain_getHeader".into(),
			reason: format!("the block number is not a number: {header}"),
		}
	})
}

/// The hash of block `n`, if the node has it.
pub async fn block_hash(node: &Node, n: u64) -> Result<Option<String>> {
	call(node, "chain_getBlockHash", &[json!(n)]).await
}

/// The hash of block `n` given by the user: a refusal of the number itself (past the
/// chain's block-number type, `u32` on Substrate nodes, which answer "`…` > u32::MAX, the max
/// block number is u32") is bad input, not a failure of the node.
async fn block_hash_of_input(node: &Node, n: u64) -> Result<Option<String>> {
	match node.call("chain_getBlockHash", &[json!(n)]).await {
		Ok(h) => Ok(h),
		Err(CallError::Node { code, message }) => Err(SnapshotError::InvalidInput {
			reason: format!(
				"block #{n} cannot be asked of the node at `{}`: it refused the number \
				 ({message}, code {code})",
				node.shown_url()
			),
			hint: if message.contains("u32") {
				format!(
					"this chain numbers its blocks with u32: pass an `--at` of at most {}; its best \
					 block is #{}",
					u32::MAX,
					best_number(node)
						.await
						.map(|b| b.to_string())
						.unwrap_or_else(|_| "unknown".into())
				)
			} else {
				"pass an `--at` the node knows: a block number up to its best block, or a block \
				 hash"
					.into()
			},
		}),
		Err(e) => Err(rpc_err(node, "chain_getBlockHash", e)),
	}
}

/// Resolves the block to pin (the finalized head when `at` is `None`) and reads its header.
pub async fn resolve_block(node: &Node, at: Option<&BlockRef>) -> Result<BlockInfo> {
	let hash = match at {
		None => call::<String>(node, "chain_getFinalizedHead", &[]).await?,
		Some(BlockRef::Hash(h)) => h.clone(),
		Some(BlockRef::Number(n)) => match block_hash_of_input(node, *n).await? {
			Some(h) => h,
			None => {
				return Err(SnapshotError::UnknownBlock {
					at: format!("#{n}"),
					url: node.shown_url().into(),
					best: best_number(node).await.ok(),
				})
			}
		},
	};
	let header: Option<Value> = call(node, "chain_getHeader", &[json!(hash)]).await?;
	let Some(header) = header else {
		return Err(SnapshotError::UnknownBlock {
			at: format!("`{hash}`"),
			url: node.shown_url().into(),
			best: best_number(node).await.ok(),
		});
	};
	let number = hex_number(field(&header, "number", "chain_getHeader", node)?).unwrap_or_default();
	let parent_hash = field(&header, "parentHash", "chain_getHeader", node)?
		.as_str()
		.unwrap_or_default()
		.to_string();
	Ok(BlockInfo {
		number,
		hash,
		parent_hash,
	})
}

/// The state root in a block's header.
pub async fn state_root(node: &Node, hash: &str) -> Result<String> {
	let header: Value = call(node, "chain_getHeader", &[json!(hash)]).await?;
	Ok(field(&header, "stateRoot", "chain_getHeader", node)?
		.as_str()
		.unwrap_or_default()
		.to_string())
}

/// Fails with [`SnapshotError::StatePruned`] (naming the oldest block whose state the node
/// still holds) when the node cannot serve the state of `block`.
pub async fn check_state_available(node: &Node, block: &BlockInfo) -> Result<()> {
	match state_available(node, &block.hash).await {
		Ok(true) => Ok(()),
		Ok(false) => Err(SnapshotError::StatePruned {
			url: node.shown_url().into(),
			block: block.number,
			hash: block.hash.clone(),
			oldest: oldest_available(node, block.number).await,
		}),
		Err(e) => Err(rpc_err(node, "state_getStorage", e)),
	}
}

async fn state_available(node: &Node, hash: &str) -> std::result::Result<bool, CallError> {
	match node
		.call::<Option<String>>("state_getStorage", &[json!(hex0x(b":code")), json!(hash)])
		.await
	{
		Ok(_) => Ok(true),
		Err(e) if e.is_state_pruned() => Ok(false),
		Err(e) => Err(e),
	}
}

/// Binary search for the oldest block (after `below`) whose state the node still holds.
async fn oldest_available(node: &Node, below: u64) -> Option<u64> {
	let best = best_number(node).await.ok()?;
	let hash_of = |n: u64| async move { block_hash(node, n).await.ok().flatten() };
	let best_hash = hash_of(best).await?;
	if !state_available(node, &best_hash).await.ok()? {
		return None;
	}
	let (mut lo, mut hi) = (below, best);
	while lo + 1 < hi {
		let mid = lo + (hi - lo) / 2;
		let h = hash_of(mid).await?;
		if state_available(node, &h).await.ok()? {
			hi = mid;
		} else {
			lo = mid;
		}
	}
	Some(hi)
}

/// Chain name, genesis hash, state root and runtime version of the pinned block.
pub async fn pin(node: &Node, block: BlockInfo) -> Result<Pinned> {
	let chain: String = call(node, "system_chain", &[]).await?;
	let genesis_hash = block_hash(node, 0).await?.unwrap_or_default();
	let state_root = state_root(node, &block.hash).await?;
	let rv: Value = call(node, "state_getRuntimeVersion", &[json!(block.hash)]).await?;
	let num = |name: &str| rv.get(name).and_then(Value::as_u64).unwrap_or_default() as u32;
	let text = |name: &str| {
		rv.get(name)
			.and_then(Value::as_str)
			.unwrap_or_default()
			.to_string()
	};
	let state_version = rv
		.get("stateVersion")
		.or_else(|| rv.get("systemVersion"))
		.and_then(Value::as_u64)
		.unwrap_or_default() as u8;
	Ok(Pinned {
		chain,
		genesis_hash,
		state_root,
		runtime: RuntimeInfo {
			spec_name: text("specName"),
			impl_name: text("implName"),
			spec_version: num("specVersion"),
			impl_version: num("implVersion"),
			transaction_version: num("transactionVersion"),
			state_version,
		},
		block,
	})
}

/// The SCALE metadata (`RuntimeMetadataPrefixed`) at `hash`: the newest version the runtime
/// offers through `Metadata_metadata_at_version` (16, 15), else `state_getMetadata`.
pub async fn metadata(node: &Node, hash: &str) -> Result<Vec<u8>> {
	for version in [16u32, 15] {
		let arg = hex0x(&version.to_le_bytes());
		let res: std::result::Result<String, _> = node
			.call(
				"state_call",
				&[
					json!("Metadata_metadata_at_version"),
					json!(arg),
					json!(hash),
				],
			)
			.await;
		if let Ok(hexed) = res {
			let bytes = unhex(&hexed).map_err(|e| SnapshotError::Metadata {
				reason: format!("`state_call` answered non-hex: {e}"),
			})?;
			let opt: Option<Vec<u8>> = parity_scale_codec::Decode::decode(&mut &bytes[..])
				.map_err(|e| SnapshotError::Metadata {
					reason: format!(
						"`Metadata_metadata_at_version({version})` is not an Option<Vec<u8>>: {e}"
					),
				})?;
			if let Some(m) = opt {
				if subxt::metadata::Metadata::decode_from(&m).is_ok() {
					return Ok(m);
				}
			}
		}
	}
	let hexed: String = call(node, "state_getMetadata", &[json!(hash)]).await?;
	unhex(&hexed).map_err(|e| SnapshotError::Metadata {
		reason: format!("`state_getMetadata` answered non-hex: {e}"),
	})
}

/// Connects to `url` and fetches the metadata of its finalized block.
pub async fn metadata_of_node(url: &str) -> Result<Vec<u8>> {
	let node = Node::connect(
		url,
		crate::rpc::NodeOptions {
			connections: 1,
			retry_for: std::time::Duration::from_secs(10),
			request_timeout: std::time::Duration::from_secs(60),
		},
	)
	.await?;
	let hash: String = call(&node, "chain_getFinalizedHead", &[]).await?;
	metadata(&node, &hash).await
}

/// A storage item declared by the metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageItem {
	/// Pallet storage prefix (usually the pallet name).
	pub pallet: String,
	/// Item name.
	pub item: String,
	/// `twox128(pallet) ++ twox128(item)`.
	pub prefix: [u8; 32],
}

/// Every storage item the metadata declares, sorted by key prefix.
pub fn storage_items(metadata: &[u8]) -> Result<Vec<StorageItem>> {
	let md =
		subxt::metadata::Metadata::decode_from(metadata).map_err(|e| SnapshotError::Metadata {
			reason: e.to_string(),
		})?;
	let mut items = Vec::new();
	for pallet in md.pallets() {
		let Some(storage) = pallet.storage() else {
			continue;
		};
		for entry in storage.entries() {
			let prefix = stagenet_chain::hash::storage_prefix(storage.prefix(), entry.name());
			items.push(StorageItem {
				pallet: storage.prefix().to_string(),
				item: entry.name().to_string(),
				prefix,
			});
		}
	}
	items.sort_by_key(|a| a.prefix);
	items.dedup_by(|a, b| a.prefix == b.prefix);
	Ok(items)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn block_refs_parse() {
		assert_eq!("12".parse::<BlockRef>(), Ok(BlockRef::Number(12)));
		let h = format!("0x{}", "ab".repeat(32));
		assert_eq!(h.parse::<BlockRef>(), Ok(BlockRef::Hash(h.clone())));
		assert!("0x1234".parse::<BlockRef>().is_err());
		assert!("latest".parse::<BlockRef>().is_err());
	}
}

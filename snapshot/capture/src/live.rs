//! One block at a time, decoded as `capture` decodes it, for a monitor that follows a running
//! chain: the same requests, the same decoding, plus the limits the block is measured against
//! (`System::BlockWeights` and `System::BlockLength` of the runtime that executed it), the
//! block's timestamp and its Aura slot.

use super::{
	decode::{CapturedBlock, Runtime},
	fetch_block,
	rpc::{RetryPolicy, Source},
	CaptureError, Runtimes,
};
use parity_scale_codec::Decode;
use std::{sync::Arc, time::Duration};
use subxt::ext::scale_value::{scale::decode_as_type, At, Value};

/// `max_total` of a class without a limit.
pub const NO_LIMIT: u64 = u64::MAX;

/// The limits of a runtime, from its metadata constants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
	/// `BlockWeights.max_block.ref_time`.
	pub max_block: u64,
	/// `BlockWeights.per_class.{normal,operational,mandatory}.max_total.ref_time`
	/// ([`NO_LIMIT`] where `None`).
	pub max_total: [u64; 3],
	/// `BlockLength.max.{normal,operational,mandatory}`.
	pub max_length: [u64; 3],
	/// `BlockWeights.per_class.normal.base_extrinsic.ref_time`: what every extrinsic costs
	/// besides its call.
	pub base_extrinsic: u64,
}

/// One extrinsic's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveExtrinsic {
	/// Index in the block.
	pub index: u32,
	/// blake2-256 of its encoding, `0x`-hex (what `author_submitExtrinsic` returns).
	pub hash: String,
	/// Its encoded length (bytes).
	pub length: u64,
	/// `Pallet.call`.
	pub call: Option<String>,
	/// SS58 of the signer.
	pub signer: Option<String>,
	/// Success, failure, or unknown.
	pub success: Option<bool>,
	/// The decoded dispatch error.
	pub error: Option<String>,
	/// Actual `ref_time` from the outcome event.
	pub weight: Option<u64>,
	/// Dispatch class.
	pub class: Option<String>,
	/// Call arguments as JSON text.
	pub args: Option<String>,
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEvent {
	/// Index in `System::Events`.
	pub index: u32,
	/// `initialization`, `apply_extrinsic` or `finalization`.
	pub phase: &'static str,
	/// The extrinsic, in the `apply_extrinsic` phase.
	pub extrinsic: Option<u32>,
	/// Pallet name.
	pub pallet: String,
	/// Variant name.
	pub variant: String,
	/// Fields as JSON text.
	pub fields: String,
}

/// A block, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveBlock {
	/// Number.
	pub number: u64,
	/// Hash.
	pub hash: String,
	/// Parent hash.
	pub parent_hash: String,
	/// Spec version of the runtime that executed it.
	pub spec_version: u32,
	/// Spec name of that runtime.
	pub spec_name: String,
	/// `System::BlockWeight` `ref_time` per class: normal, operational, mandatory.
	pub weight: [u64; 3],
	/// The limits of that runtime.
	pub limits: Limits,
	/// Encoded length of its extrinsics.
	pub length: u64,
	/// `Timestamp::set`'s `now` (ms), if the block has one.
	pub timestamp: Option<u64>,
	/// The Aura slot of its pre-runtime digest.
	pub aura_slot: Option<u64>,
	/// Extrinsics.
	pub extrinsics: Vec<LiveExtrinsic>,
	/// Events (empty when they did not decode: see `events_error`).
	pub events: Vec<LiveEvent>,
	/// Why the events did not decode.
	pub events_error: Option<String>,
}

/// A connection that reads blocks of a running chain.
pub struct BlockReader {
	source: Source,
	runtimes: Runtimes,
}

impl BlockReader {
	/// Connects to `url`; each request is retried `retries` times within `request_timeout`.
	pub async fn connect(
		url: &str,
		request_timeout: Duration,
		retries: u32,
	) -> Result<Self, CaptureError> {
		let source = Source::connect(
			url,
			RetryPolicy {
				retries,
				request_timeout,
			},
		)
		.await?;
		Ok(Self {
			source,
			runtimes: Runtimes::default(),
		})
	}

	/// Block `number` of the node's best chain, decoded.
	pub async fn block(&self, number: u64) -> Result<LiveBlock, CaptureError> {
		let (block, runtime) = fetch_block(&self.source, &self.runtimes, number, number).await?;
		let limits = limits(&runtime).map_err(|reason| CaptureError::Metadata {
			spec_version: runtime.version.spec_version,
			block: number,
			reason,
		})?;
		Ok(live(block, &runtime, limits))
	}
}

fn live(block: CapturedBlock, runtime: &Arc<Runtime>, limits: Limits) -> LiveBlock {
	let timestamp = block
		.extrinsics
		.iter()
		.find(|x| x.pallet.as_deref() == Some("Timestamp") && x.call.as_deref() == Some("set"))
		.and_then(|x| x.args.as_deref())
		.and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok())
		.and_then(|v| v.get("now").and_then(json_u64));
	let aura_slot = block.digest.iter().find_map(|d| aura_slot(d));
	LiveBlock {
		number: block.number,
		hash: block.hash,
		parent_hash: block.parent_hash,
		spec_version: block.spec_version,
		spec_name: runtime.version.spec_name.clone(),
		weight: [
			block.weight.normal.ref_time,
			block.weight.operational.ref_time,
			block.weight.mandatory.ref_time,
		],
		limits,
		length: block.length,
		timestamp,
		aura_slot,
		extrinsics: block
			.extrinsics
			.into_iter()
			.map(|x| LiveExtrinsic {
				index: x.index,
				length: x.raw.len() as u64,
				hash: x.hash,
				call: x.pallet.zip(x.call).map(|(p, c)| format!("{p}.{c}")),
				signer: x.signer,
				success: x.success,
				error: x.error,
				weight: x.weight.map(|w| w.ref_time),
				class: x.class,
				args: x.args,
			})
			.collect(),
		events: block
			.events
			.into_iter()
			.map(|e| LiveEvent {
				index: e.index,
				phase: e.phase,
				extrinsic: e.extrinsic_index,
				pallet: e.pallet,
				variant: e.name,
				fields: e.fields,
			})
			.collect(),
		events_error: block.decode_error,
	}
}

/// A JSON number, or a number written as a string (large integers are strings in our JSON).
fn json_u64(v: &serde_json::Value) -> Option<u64> {
	v.as_u64()
		.or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// The slot of an Aura pre-runtime digest item (`0x06 'aura' <compact len> <u64 slot>`).
fn aura_slot(item_hex: &str) -> Option<u64> {
	let bytes = hex::decode(item_hex.trim_start_matches("0x")).ok()?;
	let (kind, rest) = bytes.split_first()?;
	if *kind != 6 || rest.get(..4)? != b"aura" {
		return None;
	}
	let mut cursor = &rest[4..];
	let payload = Vec::<u8>::decode(&mut cursor).ok()?;
	u64::decode(&mut &payload[..]).ok()
}

/// Reads `System::BlockWeights` and `System::BlockLength` from the runtime's metadata.
fn limits(runtime: &Runtime) -> Result<Limits, String> {
	let constant = |name: &str| -> Result<Value<u32>, String> {
		let system = runtime
			.metadata
			.pallet_by_name("System")
			.ok_or("the metadata has no `System` pallet")?;
		let c = system
			.constant_by_name(name)
			.ok_or_else(|| format!("the metadata has no constant `System::{name}`"))?;
		decode_as_type(&mut c.value(), c.ty(), runtime.metadata.types())
			.map_err(|e| format!("constant `System::{name}`: {e}"))
	};
	let number = |v: Option<&Value<u32>>| {
		v.and_then(|v| v.as_u128())
			.map(|n| n.min(u64::MAX as u128) as u64)
	};
	let weights = constant("BlockWeights")?;
	let length = constant("BlockLength")?;
	let max_block = number(weights.at("max_block").at("ref_time"))
		.ok_or_else(|| format!("`System::BlockWeights` has no `max_block.ref_time`: {weights}"))?;
	let mut max_total = [NO_LIMIT; 3];
	let mut max_length = [0u64; 3];
	for (i, class) in ["normal", "operational", "mandatory"]
		.into_iter()
		.enumerate()
	{
		// `max_total: Option<Weight>`: `Some(w)` or `None`.
		max_total[i] = number(
			weights
				.at("per_class")
				.at(class)
				.at("max_total")
				.at(0)
				.at("ref_time"),
		)
		.unwrap_or(NO_LIMIT);
		max_length[i] = number(length.at("max").at(class)).unwrap_or(0);
	}
	let base_extrinsic = number(
		weights
			.at("per_class")
			.at("normal")
			.at("base_extrinsic")
			.at("ref_time"),
	)
	.unwrap_or(0);
	Ok(Limits {
		max_block,
		max_total,
		max_length,
		base_extrinsic,
	})
}

#[cfg(test)]
mod tests {
	use super::aura_slot;
	use parity_scale_codec::Encode;

	#[test]
	fn the_aura_slot_is_read_from_its_pre_runtime_digest() {
		let mut item = vec![6u8];
		item.extend_from_slice(b"aura");
		item.extend(42_123_456u64.encode().encode());
		assert_eq!(
			aura_slot(&format!("0x{}", hex::encode(&item))),
			Some(42_123_456)
		);
		item[1] = b'B';
		assert_eq!(aura_slot(&format!("0x{}", hex::encode(&item))), None);
		assert_eq!(aura_slot("0xzz"), None);
	}
}

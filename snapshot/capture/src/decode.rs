//! Decoding a block's extrinsics, events and weight with the metadata of the runtime that
//! executed it. Nothing here talks to the node: it turns bytes into rows.
//!
//! What cannot be decoded is kept, not dropped: an extrinsic whose call is unknown to the
//! metadata keeps its raw bytes, hash and length with `decode_error` set; a block whose
//! `System::Events` does not decode keeps the raw events with `decode_error` set.

use super::{
	json::{fields_json, flat_bytes, to_json},
	rpc::RuntimeVersion,
};
use stagenet_chain::{client::dispatch_error_name, hash::blake2_256_hex};
use parity_scale_codec::{Compact, Decode};
use subxt::{
	ext::{
		frame_decode::{
			extrinsics::{decode_extrinsic, ExtrinsicType},
			storage::StorageTypeInfo,
		},
		scale_type_resolver::{visitor, TypeResolver},
		scale_value::{scale::decode_as_type, At, Composite, Primitive, Value, ValueDef},
	},
	utils::{AccountId32, Era},
	Metadata,
};

/// A runtime: its version and metadata.
pub(crate) struct Runtime {
	/// Its version.
	pub version: RuntimeVersion,
	/// Its metadata, decoded.
	pub metadata: Metadata,
	/// Its metadata as the node sent it (SCALE `RuntimeMetadataPrefixed`).
	pub encoded: Vec<u8>,
}

impl Runtime {
	/// Decodes metadata bytes (`RuntimeMetadataPrefixed`, V14 or later).
	pub fn new(version: RuntimeVersion, encoded: Vec<u8>) -> Result<Self, String> {
		let metadata = Metadata::decode_from(&encoded).map_err(|e| e.to_string())?;
		Ok(Self {
			version,
			metadata,
			encoded,
		})
	}
}

/// `ref_time` and `proof_size` of a weight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Weight {
	/// Picoseconds of execution.
	pub ref_time: u64,
	/// Bytes of proof.
	pub proof_size: u64,
}

/// `System::BlockWeight`: the weight consumed per dispatch class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassWeights {
	/// `Normal` class.
	pub normal: Weight,
	/// `Operational` class.
	pub operational: Weight,
	/// `Mandatory` class (inherents, `on_initialize`).
	pub mandatory: Weight,
}

/// What the node returned for one block.
pub(crate) struct RawBlock {
	pub number: u64,
	pub hash: String,
	pub parent_hash: String,
	pub state_root: String,
	pub extrinsics_root: String,
	pub digest: Vec<String>,
	/// Each extrinsic's SCALE encoding (with its length prefix).
	pub extrinsics: Vec<Vec<u8>>,
	/// `System::Events` at the block, `None` when absent.
	pub events: Option<Vec<u8>>,
	/// `System::BlockWeight` at the block, `None` when absent.
	pub weight: Option<Vec<u8>>,
}

/// A block ready to be stored.
pub(crate) struct CapturedBlock {
	pub number: u64,
	pub hash: String,
	pub parent_hash: String,
	pub state_root: String,
	pub extrinsics_root: String,
	pub digest: Vec<String>,
	/// Spec version of the runtime that executed the block (the one in its parent's state).
	pub spec_version: u32,
	/// Sum of the encoded lengths of its extrinsics.
	pub length: u64,
	pub weight: ClassWeights,
	pub extrinsics: Vec<CapturedExtrinsic>,
	pub events: Vec<CapturedEvent>,
	/// Why the events did not decode (they are then kept raw in `events_raw`).
	pub decode_error: Option<String>,
	pub events_raw: Option<Vec<u8>>,
}

/// One extrinsic, decoded as far as the metadata allows.
pub(crate) struct CapturedExtrinsic {
	pub index: u32,
	/// `0x`-hex blake2-256 of the encoded extrinsic.
	pub hash: String,
	pub raw: Vec<u8>,
	/// Format version (4 or 5), `None` if not even that decodes.
	pub version: Option<u8>,
	/// `bare`, `signed` or `general`.
	pub kind: Option<&'static str>,
	pub pallet: Option<String>,
	pub call: Option<String>,
	/// Call arguments as JSON.
	pub args: Option<String>,
	/// SS58 (prefix 42) of the signer's account, or `0x`-hex of another address kind.
	pub signer: Option<String>,
	pub nonce: Option<u64>,
	/// `immortal` or `mortal(period, phase)`.
	pub era: Option<String>,
	/// Tip, decimal.
	pub tip: Option<String>,
	/// `Some(true)` after `System::ExtrinsicSuccess`, `Some(false)` after
	/// `System::ExtrinsicFailed`, `None` without either.
	pub success: Option<bool>,
	/// The dispatch error: `Pallet::Error` for a module error, else `Variant` or
	/// `Variant::Inner` (e.g. `BadOrigin`, `Token::FundsUnavailable`).
	pub error: Option<String>,
	/// Dispatch info of the outcome event.
	pub weight: Option<Weight>,
	pub class: Option<String>,
	pub pays_fee: Option<bool>,
	/// Events emitted while applying it.
	pub event_count: u32,
	pub decode_error: Option<String>,
}

/// One event record.
pub(crate) struct CapturedEvent {
	pub index: u32,
	/// `initialization`, `apply_extrinsic` or `finalization`.
	pub phase: &'static str,
	pub extrinsic_index: Option<u32>,
	pub pallet: String,
	pub name: String,
	/// Fields as JSON.
	pub fields: String,
	/// SCALE encoding of the whole record (phase, event, topics).
	pub raw: Vec<u8>,
}

/// Decodes a block fetched from the node with the runtime that executed it.
pub(crate) fn decode_block(raw: RawBlock, runtime: &Runtime) -> Result<CapturedBlock, String> {
	let weight = match &raw.weight {
		Some(bytes) => decode_block_weight(bytes, &runtime.metadata)?,
		None => default_block_weight(&runtime.metadata)?,
	};
	let length = raw.extrinsics.iter().map(|x| x.len() as u64).sum();
	let mut extrinsics: Vec<CapturedExtrinsic> = raw
		.extrinsics
		.into_iter()
		.enumerate()
		.map(|(i, bytes)| decode_one_extrinsic(i as u32, bytes, &runtime.metadata))
		.collect();
	let events_bytes = raw.events.unwrap_or_default();
	let (events, decode_error, events_raw) = match decode_events(&events_bytes, &runtime.metadata) {
		Ok(events) => (events, None, None),
		Err(e) => (Vec::new(), Some(e), Some(events_bytes)),
	};
	for event in &events {
		let Some(i) = event.extrinsic_index else {
			continue;
		};
		if let Some(x) = extrinsics.get_mut(i as usize) {
			x.event_count += 1;
		}
	}
	apply_outcomes(&events, &mut extrinsics, &runtime.metadata);
	Ok(CapturedBlock {
		number: raw.number,
		hash: raw.hash,
		parent_hash: raw.parent_hash,
		state_root: raw.state_root,
		extrinsics_root: raw.extrinsics_root,
		digest: raw.digest,
		spec_version: runtime.version.spec_version,
		length,
		weight,
		extrinsics,
		events,
		decode_error,
		events_raw,
	})
}

fn decode_one_extrinsic(index: u32, raw: Vec<u8>, metadata: &Metadata) -> CapturedExtrinsic {
	let mut x = CapturedExtrinsic {
		index,
		hash: blake2_256_hex(&raw),
		version: None,
		kind: None,
		pallet: None,
		call: None,
		args: None,
		signer: None,
		nonce: None,
		era: None,
		tip: None,
		success: None,
		error: None,
		weight: None,
		class: None,
		pays_fee: None,
		event_count: 0,
		decode_error: None,
		raw,
	};
	// The version byte follows the compact length prefix.
	let mut cursor = &x.raw[..];
	if Compact::<u32>::decode(&mut cursor).is_ok() {
		x.version = cursor.first().map(|b| b & 0b0011_1111);
	}
	if let Err(e) = fill_extrinsic(&mut x, metadata) {
		x.decode_error = Some(e);
	}
	x
}

fn fill_extrinsic(x: &mut CapturedExtrinsic, metadata: &Metadata) -> Result<(), String> {
	let types = metadata.types();
	let bytes = &x.raw[..];
	let mut cursor = bytes;
	let ext = decode_extrinsic(&mut cursor, metadata, types).map_err(|e| e.to_string())?;
	if !cursor.is_empty() {
		return Err(format!("{} bytes left after the extrinsic", cursor.len()));
	}
	x.version = Some(ext.version());
	x.kind = Some(match ext.ty() {
		ExtrinsicType::Bare => "bare",
		ExtrinsicType::Signed => "signed",
		ExtrinsicType::General => "general",
	});
	x.pallet = Some(ext.pallet_name().to_string());
	x.call = Some(ext.call_name().to_string());

	let mut args = serde_json::Map::new();
	for arg in ext.call_data() {
		let value = decode_as_type(&mut &bytes[arg.range()], *arg.ty(), types)
			.map_err(|e| format!("argument `{}`: {e}", arg.name()))?;
		args.insert(arg.name().to_string(), to_json(&value, types));
	}
	x.args = Some(serde_json::Value::Object(args).to_string());

	if let Some(sig) = ext.signature_payload() {
		let address = &bytes[sig.address_range()];
		x.signer = Some(
			decode_as_type(&mut &address[..], *sig.address_type(), types)
				.ok()
				.and_then(|v| account_of(&v))
				.unwrap_or_else(|| format!("0x{}", hex::encode(address))),
		);
	}
	if let Some(extensions) = ext.transaction_extension_payload() {
		for e in extensions.iter() {
			let ext_bytes = &bytes[e.range()];
			let name = e.name();
			if name == "CheckMortality" || name == "CheckEra" {
				x.era = Some(match Era::decode(&mut &ext_bytes[..]) {
					Ok(Era::Immortal) => "immortal".to_string(),
					Ok(Era::Mortal { period, phase }) => format!("mortal({period}, {phase})"),
					Err(e) => return Err(format!("extension `{name}`: {e}")),
				});
				continue;
			}
			let is_nonce = name.contains("CheckNonce");
			let is_tip = name.contains("ChargeTransactionPayment")
				|| name.contains("ChargeAssetTxPayment")
				|| name.contains("ChargeTxPayment");
			let is_signature = name == "VerifySignature";
			if !(is_nonce || is_tip || is_signature) {
				continue;
			}
			let value = decode_as_type(&mut &ext_bytes[..], *e.ty(), types)
				.map_err(|err| format!("extension `{name}`: {err}"))?;
			if is_nonce {
				x.nonce = first_number(&value).and_then(|n| u64::try_from(n).ok());
			} else if is_tip {
				let tip = value
					.at("tip")
					.and_then(first_number)
					.or_else(|| first_number(&value));
				x.tip = tip.map(|t| t.to_string());
			} else if let ValueDef::Variant(v) = &value.value {
				// v5 general transactions carry their signer in `VerifySignature::Signed`.
				if v.name == "Signed" {
					x.signer = v.values.at("account").and_then(account_of);
				}
			}
		}
	}
	Ok(())
}

/// SS58 of an address holding an `AccountId32` (`MultiAddress::Id` or a bare account).
fn account_of(value: &Value<u32>) -> Option<String> {
	let composite = match &value.value {
		ValueDef::Variant(v) if v.name == "Id" => &v.values,
		ValueDef::Composite(c) => c,
		_ => return None,
	};
	let bytes = flat_bytes(composite)?;
	let id = <[u8; 32]>::try_from(bytes).ok()?;
	Some(AccountId32::from(id).to_string())
}

/// The first integer in a value (a `Compact<u32>` nonce, a tip wrapped in a tuple struct).
fn first_number(value: &Value<u32>) -> Option<u128> {
	match &value.value {
		ValueDef::Primitive(Primitive::U128(n)) => Some(*n),
		ValueDef::Composite(c) => c.values().next().and_then(first_number),
		_ => None,
	}
}

/// The element type of the `Vec<EventRecord>` stored in `System::Events`.
fn event_record_type(metadata: &Metadata) -> Result<u32, String> {
	let info = metadata
		.storage_info("System", "Events")
		.map_err(|e| format!("no `System::Events` in the metadata: {e}"))?;
	let v = visitor::new((), |_, _| None).visit_sequence(|_, _, inner| Some(inner));
	metadata
		.types()
		.resolve_type(info.value_id, v)
		.ok()
		.flatten()
		.ok_or_else(|| "`System::Events` is not a sequence".to_string())
}

/// Decodes `System::Events`, record by record (so each keeps its raw bytes).
fn decode_events(bytes: &[u8], metadata: &Metadata) -> Result<Vec<CapturedEvent>, String> {
	if bytes.is_empty() {
		return Ok(Vec::new());
	}
	let types = metadata.types();
	let record_type = event_record_type(metadata)?;
	let mut cursor = bytes;
	let count = Compact::<u32>::decode(&mut cursor)
		.map_err(|e| format!("event count: {e}"))?
		.0;
	let mut events = Vec::with_capacity(count.min(10_000) as usize);
	for index in 0..count {
		let before = cursor;
		let record = decode_as_type(&mut cursor, record_type, types)
			.map_err(|e| format!("event {index}: {e}"))?;
		let raw = before[..before.len() - cursor.len()].to_vec();
		let (phase, extrinsic_index) = match record.at("phase").map(|p| &p.value) {
			Some(ValueDef::Variant(v)) if v.name == "ApplyExtrinsic" => (
				"apply_extrinsic",
				v.values
					.values()
					.next()
					.and_then(|n| n.as_u128())
					.and_then(|n| u32::try_from(n).ok()),
			),
			Some(ValueDef::Variant(v)) if v.name == "Finalization" => ("finalization", None),
			Some(ValueDef::Variant(v)) if v.name == "Initialization" => ("initialization", None),
			other => return Err(format!("event {index}: unknown phase {other:?}")),
		};
		let Some(ValueDef::Variant(outer)) = record.at("event").map(|e| &e.value) else {
			return Err(format!("event {index}: no `event` variant"));
		};
		let Some(ValueDef::Variant(inner)) = outer.values.values().next().map(|e| &e.value) else {
			return Err(format!(
				"event {index}: `{}` holds no event variant",
				outer.name
			));
		};
		events.push(CapturedEvent {
			index,
			phase,
			extrinsic_index,
			pallet: outer.name.clone(),
			name: inner.name.clone(),
			fields: fields_json(&inner.values, types).to_string(),
			raw,
		});
	}
	if !cursor.is_empty() {
		return Err(format!("{} bytes left after {count} events", cursor.len()));
	}
	Ok(events)
}

/// Sets each extrinsic's outcome from its `System::ExtrinsicSuccess`/`ExtrinsicFailed`.
fn apply_outcomes(
	events: &[CapturedEvent],
	extrinsics: &mut [CapturedExtrinsic],
	metadata: &Metadata,
) {
	for event in events {
		if event.pallet != "System" {
			continue;
		}
		let success = match event.name.as_str() {
			"ExtrinsicSuccess" => true,
			"ExtrinsicFailed" => false,
			_ => continue,
		};
		let Some(x) = event
			.extrinsic_index
			.and_then(|i| extrinsics.get_mut(i as usize))
		else {
			continue;
		};
		x.success = Some(success);
		// Decode again from the raw record: the JSON form lost the types.
		let Ok(fields) = outcome_fields(&event.raw, metadata) else {
			continue;
		};
		if let Some(info) = fields.at("dispatch_info") {
			let weight = info.at("weight");
			x.weight = Some(Weight {
				ref_time: weight.at("ref_time").and_then(as_u64).unwrap_or_default(),
				proof_size: weight.at("proof_size").and_then(as_u64).unwrap_or_default(),
			});
			x.class = variant_name(info.at("class")).map(|c| c.to_ascii_lowercase());
			x.pays_fee = variant_name(info.at("pays_fee")).map(|p| p == "Yes");
		}
		if !success {
			x.error = fields
				.at("dispatch_error")
				.map(|e| dispatch_error_name(e, metadata));
		}
	}
}

/// The fields of an outcome event, from its raw record.
fn outcome_fields(raw: &[u8], metadata: &Metadata) -> Result<Composite<u32>, String> {
	let record = decode_as_type(
		&mut &raw[..],
		event_record_type(metadata)?,
		metadata.types(),
	)
	.map_err(|e| e.to_string())?;
	let Some(ValueDef::Variant(outer)) = record.at("event").map(|e| &e.value) else {
		return Err("no event".into());
	};
	let fields = match outer.values.values().next().map(|e| &e.value) {
		Some(ValueDef::Variant(inner)) => Ok(inner.values.clone()),
		_ => Err("no event variant".into()),
	};
	fields
}

fn variant_name(value: Option<&Value<u32>>) -> Option<String> {
	match value.map(|v| &v.value) {
		Some(ValueDef::Variant(v)) => Some(v.name.clone()),
		_ => None,
	}
}

fn as_u64(value: &Value<u32>) -> Option<u64> {
	value.as_u128().and_then(|n| u64::try_from(n).ok())
}

fn decode_block_weight(bytes: &[u8], metadata: &Metadata) -> Result<ClassWeights, String> {
	let info = metadata
		.storage_info("System", "BlockWeight")
		.map_err(|e| format!("no `System::BlockWeight` in the metadata: {e}"))?;
	let mut cursor = bytes;
	let value = decode_as_type(&mut cursor, info.value_id, metadata.types())
		.map_err(|e| format!("`System::BlockWeight`: {e}"))?;
	let class = |name: &str| -> Result<Weight, String> {
		let w = value.at(name);
		let part = |p: &str| {
			w.at(p)
				.and_then(as_u64)
				.ok_or_else(|| format!("`System::BlockWeight` has no `{name}.{p}`: {value}"))
		};
		Ok(Weight {
			ref_time: part("ref_time")?,
			proof_size: part("proof_size")?,
		})
	};
	Ok(ClassWeights {
		normal: class("normal")?,
		operational: class("operational")?,
		mandatory: class("mandatory")?,
	})
}

/// `System::BlockWeight` when the block left it absent: the item's default.
fn default_block_weight(metadata: &Metadata) -> Result<ClassWeights, String> {
	let info = metadata
		.storage_info("System", "BlockWeight")
		.map_err(|e| format!("no `System::BlockWeight` in the metadata: {e}"))?;
	match info.default_value {
		Some(bytes) => {
			let bytes = bytes.to_vec();
			decode_block_weight(&bytes, metadata)
		}
		None => Ok(ClassWeights::default()),
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn extrinsic_hashes_are_blake2_256() {
		// blake2-256 of the empty input.
		assert_eq!(
			blake2_256_hex(&[]),
			"0x0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"
		);
	}
}

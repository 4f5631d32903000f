//! The snapshot's metadata as the fork needs it: storage items by `Pallet.Item` name (prefix,
//! key hashers and types, value type, default), readable type names for error messages,
//! closest-name hints, and constants.

use stagenet_chain::hash::{blake2_128, blake2_256, storage_prefix, twox128, twox256, twox64};
use parity_scale_codec::Decode;
use scale_info::{form::PortableForm, PortableRegistry, Type, TypeDef, TypeDefPrimitive};
use subxt::{ext::frame_decode::storage::StorageHasher, Metadata};

/// One key of a storage map.
#[derive(Debug, Clone, Copy)]
pub struct KeyPart {
	/// Its hasher.
	pub hasher: StorageHasher,
	/// Its type id.
	pub ty: u32,
}

/// A storage item resolved through metadata.
#[derive(Debug, Clone)]
pub struct Item {
	/// Pallet name.
	pub pallet: String,
	/// Item name.
	pub name: String,
	/// `twox128(pallet) ++ twox128(item)`.
	pub prefix: [u8; 32],
	/// The keys of a map, in order (empty for a plain value).
	pub keys: Vec<KeyPart>,
	/// Value type id.
	pub value_ty: u32,
	/// The default value (SCALE), for `ValueQuery` items.
	pub default: Option<Vec<u8>>,
}

impl Item {
	/// `Pallet.Item`.
	pub fn label(&self) -> String {
		format!("{}.{}", self.pallet, self.name)
	}
}

/// Decoded metadata.
pub struct Meta {
	md: Metadata,
}

/// Hashes a SCALE-encoded key part with `hasher`.
pub fn hash_key(hasher: StorageHasher, encoded: &[u8]) -> Vec<u8> {
	match hasher {
		StorageHasher::Identity => encoded.to_vec(),
		StorageHasher::Twox64Concat => {
			let mut out = twox64(encoded).to_vec();
			out.extend_from_slice(encoded);
			out
		}
		StorageHasher::Twox128 => twox128(encoded).to_vec(),
		StorageHasher::Twox256 => twox256(encoded).to_vec(),
		StorageHasher::Blake2_128 => blake2_128(encoded).to_vec(),
		StorageHasher::Blake2_128Concat => {
			let mut out = blake2_128(encoded).to_vec();
			out.extend_from_slice(encoded);
			out
		}
		StorageHasher::Blake2_256 => blake2_256(encoded).to_vec(),
	}
}

/// Names in `candidates` closest to `name` (edit distance), best first, at most three.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<String> {
	let lower = name.to_lowercase();
	let mut scored: Vec<(f64, &str)> = candidates
		.into_iter()
		.map(|c| (strsim::jaro_winkler(&lower, &c.to_lowercase()), c))
		.filter(|(s, _)| *s > 0.7)
		.collect();
	scored.sort_by(|a, b| b.0.total_cmp(&a.0));
	scored
		.into_iter()
		.take(3)
		.map(|(_, c)| c.to_string())
		.collect()
}

fn did_you_mean(names: &[String]) -> String {
	if names.is_empty() {
		String::new()
	} else {
		format!(
			" (hint: did you mean {}?)",
			names
				.iter()
				.map(|n| format!("`{n}`"))
				.collect::<Vec<_>>()
				.join(", ")
		)
	}
}

impl Meta {
	/// Decodes `RuntimeMetadataPrefixed` bytes.
	pub(crate) fn decode(bytes: &[u8]) -> Result<Self, String> {
		let md = Metadata::decode_from(bytes).map_err(|e| e.to_string())?;
		Ok(Self { md })
	}

	/// The type registry.
	pub fn types(&self) -> &PortableRegistry {
		self.md.types()
	}

	/// The storage item `Pallet.Item`; an unknown name gets the closest names as a hint.
	pub(crate) fn item(&self, path: &str) -> Result<Item, String> {
		let Some((pallet, name)) = path.split_once('.') else {
			return Err(format!(
				"`{path}` is not `Pallet.Item` (hint: write e.g. `System.Account`)"
			));
		};
		let Some(p) = self.md.pallet_by_name(pallet) else {
			let names: Vec<String> = self.md.pallets().map(|p| p.name().to_string()).collect();
			let near = closest(pallet, names.iter().map(String::as_str));
			return Err(format!(
				"the metadata has no pallet `{pallet}`{}",
				did_you_mean(&near)
			));
		};
		let storage = p.storage();
		let Some(entry) = storage.and_then(|s| s.entry_by_name(name)) else {
			let names: Vec<String> = storage
				.map(|s| s.entries().iter().map(|e| e.name().to_string()).collect())
				.unwrap_or_default();
			let near = closest(name, names.iter().map(String::as_str));
			let hint = if near.is_empty() && names.is_empty() {
				format!(" (hint: pallet `{pallet}` has no storage)")
			} else {
				did_you_mean(&near)
			};
			return Err(format!(
				"pallet `{pallet}` has no storage item `{name}`{hint}"
			));
		};
		let prefix_name = storage.map(|s| s.prefix()).unwrap_or(pallet);
		let prefix = storage_prefix(prefix_name, entry.name());
		Ok(Item {
			pallet: pallet.to_string(),
			name: entry.name().to_string(),
			prefix,
			keys: entry
				.keys()
				.map(|k| KeyPart {
					hasher: k.hasher,
					ty: k.key_id,
				})
				.collect(),
			value_ty: entry.value_ty(),
			default: entry.default_value().map(<[u8]>::to_vec),
		})
	}

	/// Every storage item, for attributing keys to pallets.
	pub fn all_items(&self) -> Vec<Item> {
		let mut out = Vec::new();
		for p in self.md.pallets() {
			if let Some(s) = p.storage() {
				for e in s.entries() {
					if let Ok(item) = self.item(&format!("{}.{}", p.name(), e.name())) {
						out.push(item);
					}
				}
			}
		}
		out
	}

	/// A constant decoded as an unsigned integer (`u8`…`u64`), if the pallet declares it.
	pub fn constant_uint(&self, pallet: &str, name: &str) -> Option<u64> {
		let c = self.md.pallet_by_name(pallet)?.constant_by_name(name)?;
		let ty = self.types().resolve(c.ty())?;
		let mut bytes = c.value();
		match unwrap_newtype(self.types(), ty) {
			TypeDef::Primitive(TypeDefPrimitive::U8) => u8::decode(&mut bytes).ok().map(u64::from),
			TypeDef::Primitive(TypeDefPrimitive::U16) => {
				u16::decode(&mut bytes).ok().map(u64::from)
			}
			TypeDef::Primitive(TypeDefPrimitive::U32) => {
				u32::decode(&mut bytes).ok().map(u64::from)
			}
			TypeDef::Primitive(TypeDefPrimitive::U64) => u64::decode(&mut bytes).ok(),
			_ => None,
		}
	}

	/// A readable name of a type: `u64`, `Vec<u64>`, `AxonInfo { block: u64, … }`,
	/// `AccountId32`, `Option<u32>`.
	pub fn describe(&self, ty: u32) -> String {
		describe(self.types(), ty, 2)
	}
}

/// A short name of a type for error messages (`u64`, `Vec<u64>`, `AxonInfo`, `AccountId32`).
pub fn short_name(types: &PortableRegistry, ty: u32) -> String {
	describe(types, ty, 0)
}

/// The definition under single-field composites (`struct Foo(u64)`).
pub fn unwrap_newtype<'a>(
	types: &'a PortableRegistry,
	mut ty: &'a Type<PortableForm>,
) -> &'a TypeDef<PortableForm> {
	for _ in 0..16 {
		match &ty.type_def {
			TypeDef::Composite(c) if c.fields.len() == 1 => {
				match types.resolve(c.fields[0].ty.id) {
					Some(inner) => ty = inner,
					None => break,
				}
			}
			_ => break,
		}
	}
	&ty.type_def
}

fn describe(types: &PortableRegistry, id: u32, depth: usize) -> String {
	let Some(ty) = types.resolve(id) else {
		return format!("<type #{id}>");
	};
	let name = ty.path.segments.last().cloned();
	let params = || {
		let ps: Vec<String> = ty
			.type_params
			.iter()
			.filter_map(|p| p.ty.map(|t| describe(types, t.id, depth.saturating_sub(1))))
			.collect();
		if ps.is_empty() {
			String::new()
		} else {
			format!("<{}>", ps.join(", "))
		}
	};
	match &ty.type_def {
		TypeDef::Primitive(p) => primitive_name(p).to_string(),
		TypeDef::Compact(c) => format!("Compact<{}>", describe(types, c.type_param.id, depth)),
		TypeDef::Sequence(s) => match name.as_deref() {
			Some(n) if n != "Vec" => format!("{n}<{}>", describe(types, s.type_param.id, depth)),
			_ => format!("Vec<{}>", describe(types, s.type_param.id, depth)),
		},
		TypeDef::Array(a) => format!("[{}; {}]", describe(types, a.type_param.id, depth), a.len),
		TypeDef::Tuple(t) => format!(
			"({})",
			t.fields
				.iter()
				.map(|f| describe(types, f.id, depth))
				.collect::<Vec<_>>()
				.join(", ")
		),
		TypeDef::BitSequence(_) => "BitVec".to_string(),
		TypeDef::Variant(v) => {
			let n = name.unwrap_or_else(|| "enum".to_string());
			if n == "Option" {
				return format!("Option{}", params());
			}
			if depth == 0 {
				return n;
			}
			let vs: Vec<&str> = v.variants.iter().map(|v| v.name.as_str()).take(6).collect();
			let more = if v.variants.len() > 6 { " | …" } else { "" };
			format!("{n} ({}{more})", vs.join(" | "))
		}
		TypeDef::Composite(c) => {
			let n = name.unwrap_or_default();
			if matches!(
				n.as_str(),
				"AccountId32" | "BoundedVec" | "WeakBoundedVec" | "Perbill"
			) || c.fields.len() == 1 && c.fields[0].name.is_none()
			{
				if n == "AccountId32" {
					return n;
				}
				if let Some(f) = c.fields.first() {
					let inner = describe(types, f.ty.id, depth);
					return if n.is_empty() {
						inner
					} else {
						format!("{n}({inner})")
					};
				}
			}
			if depth == 0 || c.fields.is_empty() {
				return format!("{n}{}", params());
			}
			let fields: Vec<String> = c
				.fields
				.iter()
				.take(8)
				.map(|f| match &f.name {
					Some(fname) => format!("{fname}: {}", describe(types, f.ty.id, depth - 1)),
					None => describe(types, f.ty.id, depth - 1),
				})
				.collect();
			let more = if c.fields.len() > 8 { ", …" } else { "" };
			if c.fields[0].name.is_some() {
				format!("{n} {{ {}{more} }}", fields.join(", "))
			} else {
				format!("{n}({}{more})", fields.join(", "))
			}
		}
	}
}

/// The Rust name of a primitive.
pub fn primitive_name(p: &TypeDefPrimitive) -> &'static str {
	match p {
		TypeDefPrimitive::Bool => "bool",
		TypeDefPrimitive::Char => "char",
		TypeDefPrimitive::Str => "String",
		TypeDefPrimitive::U8 => "u8",
		TypeDefPrimitive::U16 => "u16",
		TypeDefPrimitive::U32 => "u32",
		TypeDefPrimitive::U64 => "u64",
		TypeDefPrimitive::U128 => "u128",
		TypeDefPrimitive::U256 => "u256",
		TypeDefPrimitive::I8 => "i8",
		TypeDefPrimitive::I16 => "i16",
		TypeDefPrimitive::I32 => "i32",
		TypeDefPrimitive::I64 => "i64",
		TypeDefPrimitive::I128 => "i128",
		TypeDefPrimitive::I256 => "i256",
	}
}

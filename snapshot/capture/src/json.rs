//! Decoded SCALE values as JSON, for the `args` of extrinsics and the `fields` of events.
//!
//! The shape follows the types: structs are objects, tuples and lists arrays, byte strings
//! (`Vec<u8>`, `[u8; N]`) `0x`-hex, `AccountId32` SS58 (prefix 42), enum variants `"Name"` or
//! `{"Name": fields}`, single-field tuple structs their field. Integers above `u64` (or below
//! `i64`) are decimal strings, since JSON readers lose precision beyond 2^53 anyway.

use serde_json::{Map, Value as Json};
use subxt::{
	ext::{
		scale_type_resolver::{visitor, Primitive as PrimitiveType, TypeResolver},
		scale_value::{BitSequence, Composite, Primitive, Value, ValueDef},
	},
	utils::AccountId32,
};

/// How a type is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
	/// A sequence or array of `u8`: hex.
	Bytes,
	/// Another sequence or array: a JSON array, even of one element.
	List,
	/// `AccountId32`: SS58.
	AccountId32,
	/// Anything else.
	Other,
}

/// The JSON form of `value`, whose contexts are type ids of `types`.
pub(crate) fn to_json<R: TypeResolver<TypeId = u32>>(value: &Value<u32>, types: &R) -> Json {
	match &value.value {
		ValueDef::Composite(composite) => composite_json(composite, value.context, types),
		ValueDef::Variant(variant) => {
			if variant.values.is_empty() {
				Json::String(variant.name.clone())
			} else {
				let mut map = Map::new();
				map.insert(variant.name.clone(), fields_json(&variant.values, types));
				Json::Object(map)
			}
		}
		ValueDef::Primitive(p) => primitive_json(p),
		ValueDef::BitSequence(bits) => bits_json(bits),
	}
}

/// The fields of a variant (or of an event): an object when named, the value itself when
/// there is one unnamed field, an array otherwise.
pub(crate) fn fields_json<R: TypeResolver<TypeId = u32>>(
	fields: &Composite<u32>,
	types: &R,
) -> Json {
	match fields {
		Composite::Named(named) => Json::Object(
			named
				.iter()
				.map(|(name, v)| (name.clone(), to_json(v, types)))
				.collect(),
		),
		Composite::Unnamed(values) if values.len() == 1 => to_json(&values[0], types),
		Composite::Unnamed(values) => {
			Json::Array(values.iter().map(|v| to_json(v, types)).collect())
		}
	}
}

fn composite_json<R: TypeResolver<TypeId = u32>>(
	composite: &Composite<u32>,
	type_id: u32,
	types: &R,
) -> Json {
	match kind(types, type_id) {
		Kind::Bytes => match bytes_of(composite) {
			Some(bytes) => Json::String(format!("0x{}", hex::encode(bytes))),
			None => list_json(composite, types),
		},
		Kind::List => list_json(composite, types),
		Kind::AccountId32 => match flat_bytes(composite).and_then(|b| <[u8; 32]>::try_from(b).ok())
		{
			Some(id) => Json::String(AccountId32::from(id).to_string()),
			None => fields_json(composite, types),
		},
		Kind::Other => fields_json(composite, types),
	}
}

fn list_json<R: TypeResolver<TypeId = u32>>(composite: &Composite<u32>, types: &R) -> Json {
	Json::Array(composite.values().map(|v| to_json(v, types)).collect())
}

fn primitive_json(p: &Primitive) -> Json {
	match p {
		Primitive::Bool(b) => Json::Bool(*b),
		Primitive::Char(c) => Json::String(c.to_string()),
		Primitive::String(s) => Json::String(s.clone()),
		Primitive::U128(n) => match u64::try_from(*n) {
			Ok(small) => Json::from(small),
			Err(_) => Json::String(n.to_string()),
		},
		Primitive::I128(n) => match i64::try_from(*n) {
			Ok(small) => Json::from(small),
			Err(_) => Json::String(n.to_string()),
		},
		Primitive::U256(bytes) | Primitive::I256(bytes) => {
			Json::String(format!("0x{}", hex::encode(bytes)))
		}
	}
}

fn bits_json(bits: &BitSequence) -> Json {
	Json::String(bits.iter().map(|b| if b { '1' } else { '0' }).collect())
}

/// The bytes of a composite whose values are all `u8`-sized integers.
fn bytes_of(composite: &Composite<u32>) -> Option<Vec<u8>> {
	composite
		.values()
		.map(|v| match &v.value {
			ValueDef::Primitive(Primitive::U128(n)) => u8::try_from(*n).ok(),
			_ => None,
		})
		.collect()
}

/// Like [`bytes_of`], looking through single-field wrappers (`AccountId32([u8; 32])`).
pub(crate) fn flat_bytes(composite: &Composite<u32>) -> Option<Vec<u8>> {
	if let Some(bytes) = bytes_of(composite) {
		if composite.len() > 1 {
			return Some(bytes);
		}
	}
	let mut values = composite.values();
	match (values.next(), values.next()) {
		(Some(only), None) => match &only.value {
			ValueDef::Composite(inner) => flat_bytes(inner),
			_ => None,
		},
		_ => None,
	}
}

fn kind<R: TypeResolver<TypeId = u32>>(types: &R, id: u32) -> Kind {
	let v = visitor::new((), |_, _| Kind::Other)
		.visit_sequence(|_, _, inner| {
			if is_u8(types, inner) {
				Kind::Bytes
			} else {
				Kind::List
			}
		})
		.visit_array(|_, inner, _| {
			if is_u8(types, inner) {
				Kind::Bytes
			} else {
				Kind::List
			}
		})
		.visit_composite(|_, path, _| {
			if path.last() == Some("AccountId32") {
				Kind::AccountId32
			} else {
				Kind::Other
			}
		});
	types.resolve_type(id, v).unwrap_or(Kind::Other)
}

fn is_u8<R: TypeResolver<TypeId = u32>>(types: &R, id: u32) -> bool {
	let v = visitor::new((), |_, _| false).visit_primitive(|_, p| p == PrimitiveType::U8);
	types.resolve_type(id, v).unwrap_or(false)
}

//! YAML values of a fork profile encoded to SCALE, directed by a type of the snapshot's
//! metadata. An error names the path inside the value, the type expected there and what was
//! seen, so `value: abc` for a `u64` item reads "expected `u64`, saw the string `abc`".
//!
//! Accepted forms: integers as YAML numbers or strings (`"1_000_000_000_000"` for values past
//! `u64`); byte vectors and arrays as `0x` hex (a plain string for `Vec<u8>` is its UTF-8);
//! accounts and public keys as secret URIs (`//Alice`, ed25519 keys derived as ed25519),
//! SS58 addresses or hex; structs as maps; tuples and sequences as lists; `Option` as `null`
//! or the value; enums as `Name` or `{ Name: fields }`.

use super::{keys, meta::primitive_name};
use parity_scale_codec::{Compact, Encode};
use scale_info::{form::PortableForm, PortableRegistry, Type, TypeDef, TypeDefPrimitive};
use serde_yaml::Value as Yaml;

/// A value that does not fit its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError {
	/// Where inside the value (`.data.free`, `[2]`), empty for the value itself.
	pub path: String,
	/// The type expected there.
	pub expected: String,
	/// What was found.
	pub seen: String,
}

impl std::fmt::Display for EncodeError {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		let at = if self.path.is_empty() {
			String::new()
		} else {
			format!(" at `{}`", self.path)
		};
		write!(f, "expected `{}`{at}, saw {}", self.expected, self.seen)
	}
}

/// Describes a YAML value for an error message.
pub fn seen(v: &Yaml) -> String {
	let short = |s: String| {
		if s.chars().count() > 60 {
			format!("{}…", s.chars().take(57).collect::<String>())
		} else {
			s
		}
	};
	match v {
		Yaml::Null => "nothing (null)".into(),
		Yaml::Bool(b) => format!("the boolean `{b}`"),
		Yaml::Number(n) => format!("the number `{n}`"),
		Yaml::String(s) => format!("the string `{}`", short(s.clone())),
		Yaml::Sequence(s) => format!("a list of {} items", s.len()),
		Yaml::Mapping(m) => format!(
			"a map with keys {}",
			short(
				m.keys()
					.map(|k| format!("`{}`", yaml_key(k)))
					.collect::<Vec<_>>()
					.join(", ")
			)
		),
		Yaml::Tagged(t) => format!("a value tagged `{}`", t.tag),
	}
}

fn yaml_key(k: &Yaml) -> String {
	match k {
		Yaml::String(s) => s.clone(),
		other => serde_yaml::to_string(other)
			.unwrap_or_default()
			.trim()
			.to_string(),
	}
}

/// Encodes `value` as type `ty`.
pub fn encode(types: &PortableRegistry, ty: u32, value: &Yaml) -> Result<Vec<u8>, EncodeError> {
	let mut out = Vec::new();
	Encoder { types }.encode(ty, value, "", &mut out)?;
	Ok(out)
}

struct Encoder<'a> {
	types: &'a PortableRegistry,
}

/// Parses an unsigned integer from a YAML number or string (underscores allowed).
pub fn yaml_u128(v: &Yaml) -> Option<u128> {
	match v {
		Yaml::Number(n) => n.as_u64().map(u128::from),
		Yaml::String(s) => s.replace('_', "").trim().parse().ok(),
		_ => None,
	}
}

fn yaml_i128(v: &Yaml) -> Option<i128> {
	match v {
		Yaml::Number(n) => n.as_i64().map(i128::from),
		Yaml::String(s) => s.replace('_', "").trim().parse().ok(),
		_ => None,
	}
}

fn is_ed25519(ty: &Type<PortableForm>) -> bool {
	ty.path
		.segments
		.iter()
		.any(|s| s.contains("ed25519") || s.contains("grandpa"))
}

impl Encoder<'_> {
	fn resolve(&self, ty: u32, path: &str) -> Result<&Type<PortableForm>, EncodeError> {
		self.types.resolve(ty).ok_or_else(|| EncodeError {
			path: path.to_string(),
			expected: format!("<type #{ty}>"),
			seen: "a type missing from the metadata".into(),
		})
	}

	fn describe(&self, ty: u32) -> String {
		super::meta::short_name(self.types, ty)
	}

	fn err_because(&self, path: &str, ty: u32, v: &Yaml, reason: &str) -> EncodeError {
		EncodeError {
			path: path.to_string(),
			expected: self.describe(ty),
			seen: format!("{} ({reason})", seen(v)),
		}
	}

	fn err(&self, path: &str, ty: u32, v: &Yaml) -> EncodeError {
		EncodeError {
			path: path.to_string(),
			expected: self.describe(ty),
			seen: seen(v),
		}
	}

	fn encode(&self, ty: u32, v: &Yaml, path: &str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
		let t = self.resolve(ty, path)?;
		if let Yaml::Tagged(tagged) = v {
			return self.encode(ty, &tagged.value, path, out);
		}
		match &t.type_def {
			TypeDef::Primitive(p) => self.primitive(p, ty, v, path, out),
			TypeDef::Compact(c) => {
				let n = yaml_u128(v).ok_or_else(|| self.err(path, ty, v))?;
				let inner = self.resolve(c.type_param.id, path)?;
				let max = match super::meta::unwrap_newtype(self.types, inner) {
					TypeDef::Primitive(TypeDefPrimitive::U8) => u8::MAX as u128,
					TypeDef::Primitive(TypeDefPrimitive::U16) => u16::MAX as u128,
					TypeDef::Primitive(TypeDefPrimitive::U32) => u32::MAX as u128,
					TypeDef::Primitive(TypeDefPrimitive::U64) => u64::MAX as u128,
					_ => u128::MAX,
				};
				if n > max {
					return Err(self.err(path, ty, v));
				}
				Compact(n).encode_to(out);
				Ok(())
			}
			TypeDef::Sequence(s) => {
				let elem = s.type_param.id;
				if self.is_u8(elem) {
					if let Some(bytes) = self.bytes(v) {
						Compact(bytes.len() as u32).encode_to(out);
						out.extend_from_slice(&bytes);
						return Ok(());
					}
				}
				let Yaml::Sequence(items) = v else {
					return Err(self.err(path, ty, v));
				};
				Compact(items.len() as u32).encode_to(out);
				for (i, item) in items.iter().enumerate() {
					self.encode(elem, item, &format!("{path}[{i}]"), out)?;
				}
				Ok(())
			}
			TypeDef::Array(a) => {
				let elem = a.type_param.id;
				if self.is_u8(elem) {
					if let Yaml::String(s) = v {
						let bytes = self
							.array_bytes(t, s, a.len as usize)
							.map_err(|reason| self.err_because(path, ty, v, &reason))?;
						out.extend_from_slice(&bytes);
						return Ok(());
					}
				}
				let Yaml::Sequence(items) = v else {
					return Err(self.err(path, ty, v));
				};
				if items.len() != a.len as usize {
					return Err(EncodeError {
						path: path.to_string(),
						expected: self.describe(ty),
						seen: format!("a list of {} items", items.len()),
					});
				}
				for (i, item) in items.iter().enumerate() {
					self.encode(elem, item, &format!("{path}[{i}]"), out)?;
				}
				Ok(())
			}
			TypeDef::Tuple(tu) => {
				if tu.fields.is_empty() {
					return Ok(());
				}
				let Yaml::Sequence(items) = v else {
					return Err(self.err(path, ty, v));
				};
				if items.len() != tu.fields.len() {
					return Err(EncodeError {
						path: path.to_string(),
						expected: self.describe(ty),
						seen: format!("a list of {} items", items.len()),
					});
				}
				for (i, (f, item)) in tu.fields.iter().zip(items).enumerate() {
					self.encode(f.id, item, &format!("{path}[{i}]"), out)?;
				}
				Ok(())
			}
			TypeDef::Composite(c) => {
				// Accounts and keys (`AccountId32([u8; 32])`, `Public([u8; 32])`) from a string.
				if c.fields.len() == 1 {
					if let (Yaml::String(s), Some(TypeDef::Array(a))) = (
						v,
						self.types.resolve(c.fields[0].ty.id).map(|t| &t.type_def),
					) {
						if self.is_u8(a.type_param.id) {
							let bytes = self
								.array_bytes(t, s, a.len as usize)
								.map_err(|reason| self.err_because(path, ty, v, &reason))?;
							out.extend_from_slice(&bytes);
							return Ok(());
						}
					}
				}
				if c.fields.len() == 1 && !matches!(v, Yaml::Mapping(_)) {
					return self.encode(c.fields[0].ty.id, v, path, out);
				}
				if c.fields.is_empty() {
					return match v {
						Yaml::Null => Ok(()),
						Yaml::Mapping(m) if m.is_empty() => Ok(()),
						_ => Err(self.err(path, ty, v)),
					};
				}
				if c.fields.iter().all(|f| f.name.is_some()) {
					let Yaml::Mapping(m) = v else {
						return Err(self.err(path, ty, v));
					};
					let names: Vec<&str> =
						c.fields.iter().filter_map(|f| f.name.as_deref()).collect();
					for k in m.keys() {
						let k = yaml_key(k);
						if !names.contains(&k.as_str()) {
							return Err(EncodeError {
								path: format!("{path}.{k}"),
								expected: format!(
									"one of the fields of `{}`: {}",
									self.describe(ty),
									names.join(", ")
								),
								seen: format!("the unknown field `{k}`"),
							});
						}
					}
					for f in &c.fields {
						let name = f.name.as_deref().unwrap_or_default();
						let fv = m.get(name).ok_or_else(|| EncodeError {
							path: format!("{path}.{name}"),
							expected: self.describe(f.ty.id),
							seen: "nothing (the field is missing)".into(),
						})?;
						self.encode(f.ty.id, fv, &format!("{path}.{name}"), out)?;
					}
					Ok(())
				} else {
					let Yaml::Sequence(items) = v else {
						return Err(self.err(path, ty, v));
					};
					if items.len() != c.fields.len() {
						return Err(self.err(path, ty, v));
					}
					for (i, (f, item)) in c.fields.iter().zip(items).enumerate() {
						self.encode(f.ty.id, item, &format!("{path}[{i}]"), out)?;
					}
					Ok(())
				}
			}
			TypeDef::Variant(var) => {
				let is_option = t.path.segments.last().map(String::as_str) == Some("Option");
				if is_option {
					let some = var.variants.iter().find(|x| x.name == "Some");
					return match (v, some) {
						(Yaml::Null, _) => {
							out.push(0);
							Ok(())
						}
						(_, Some(s)) if s.fields.len() == 1 => {
							out.push(s.index);
							self.encode(s.fields[0].ty.id, v, path, out)
						}
						_ => Err(self.err(path, ty, v)),
					};
				}
				let names = || {
					var.variants
						.iter()
						.map(|x| x.name.as_str())
						.collect::<Vec<_>>()
						.join(" | ")
				};
				let (name, fields) = match v {
					Yaml::String(s) => (s.clone(), None),
					Yaml::Mapping(m) if m.len() == 1 => match m.iter().next() {
						Some((k, fv)) => (yaml_key(k), Some(fv)),
						None => return Err(self.err(path, ty, v)),
					},
					_ => {
						return Err(EncodeError {
							path: path.to_string(),
							expected: format!("`{}`: one of {}", self.describe(ty), names()),
							seen: seen(v),
						})
					}
				};
				let Some(variant) = var.variants.iter().find(|x| x.name == name) else {
					return Err(EncodeError {
						path: path.to_string(),
						expected: format!("`{}`: one of {}", self.describe(ty), names()),
						seen: format!("the variant `{name}`"),
					});
				};
				out.push(variant.index);
				let sub = format!("{path}.{name}");
				match (fields, variant.fields.len()) {
					(None, 0) => Ok(()),
					(Some(Yaml::Null), 0) => Ok(()),
					(Some(fv), 1) => self.encode(variant.fields[0].ty.id, fv, &sub, out),
					(Some(Yaml::Mapping(m)), _)
						if variant.fields.iter().all(|f| f.name.is_some()) =>
					{
						for f in &variant.fields {
							let fname = f.name.as_deref().unwrap_or_default();
							let fv = m.get(fname).ok_or_else(|| EncodeError {
								path: format!("{sub}.{fname}"),
								expected: self.describe(f.ty.id),
								seen: "nothing (the field is missing)".into(),
							})?;
							self.encode(f.ty.id, fv, &format!("{sub}.{fname}"), out)?;
						}
						Ok(())
					}
					(Some(Yaml::Sequence(items)), n) if items.len() == n => {
						for (i, (f, item)) in variant.fields.iter().zip(items).enumerate() {
							self.encode(f.ty.id, item, &format!("{sub}[{i}]"), out)?;
						}
						Ok(())
					}
					(other, n) => Err(EncodeError {
						path: sub,
						expected: format!("the {n} field(s) of variant `{name}`"),
						seen: other.map(seen).unwrap_or_else(|| "no fields".into()),
					}),
				}
			}
			TypeDef::BitSequence(_) => Err(EncodeError {
				path: path.to_string(),
				expected: "a bit sequence (not supported in profiles)".into(),
				seen: seen(v),
			}),
		}
	}

	fn is_u8(&self, ty: u32) -> bool {
		matches!(
			self.types.resolve(ty).map(|t| &t.type_def),
			Some(TypeDef::Primitive(TypeDefPrimitive::U8))
		)
	}

	/// Bytes of a `Vec<u8>`: `0x` hex, else the string's UTF-8; or a list of numbers (handled
	/// by the caller as a sequence).
	fn bytes(&self, v: &Yaml) -> Option<Vec<u8>> {
		match v {
			Yaml::String(s) => match s.strip_prefix("0x") {
				Some(h) => hex::decode(h).ok(),
				None => Some(s.as_bytes().to_vec()),
			},
			_ => None,
		}
	}

	/// A fixed-size byte array from a string: hex of exactly `len` bytes, or for 32 bytes an
	/// account or key (secret URI, SS58).
	fn array_bytes(&self, t: &Type<PortableForm>, s: &str, len: usize) -> Result<Vec<u8>, String> {
		if let Some(h) = s.strip_prefix("0x") {
			let b = hex::decode(h).map_err(|e| format!("not hex: {e}"))?;
			if b.len() != len {
				return Err(format!("{} bytes, not {len}", b.len()));
			}
			return Ok(b);
		}
		if len != 32 {
			return Err(format!("give {len} bytes as 0x hex"));
		}
		if is_ed25519(t) && (s.starts_with('/') || s.contains(' ')) {
			return keys::ed25519_public(s)
				.map(|k| k.to_vec())
				.map_err(|e| e.to_string());
		}
		keys::account(s)
			.map(|k| k.to_vec())
			.map_err(|e| e.to_string())
	}

	fn primitive(
		&self,
		p: &TypeDefPrimitive,
		ty: u32,
		v: &Yaml,
		path: &str,
		out: &mut Vec<u8>,
	) -> Result<(), EncodeError> {
		let bad = || self.err(path, ty, v);
		macro_rules! uint {
			($t:ty) => {{
				let n = yaml_u128(v).ok_or_else(bad)?;
				let n = <$t>::try_from(n).map_err(|_| EncodeError {
					path: path.to_string(),
					expected: format!("`{}` (at most {})", primitive_name(p), <$t>::MAX),
					seen: seen(v),
				})?;
				n.encode_to(out);
			}};
		}
		macro_rules! int {
			($t:ty) => {{
				let n = yaml_i128(v).ok_or_else(bad)?;
				let n = <$t>::try_from(n).map_err(|_| bad())?;
				n.encode_to(out);
			}};
		}
		match p {
			TypeDefPrimitive::Bool => match v {
				Yaml::Bool(b) => b.encode_to(out),
				_ => return Err(bad()),
			},
			TypeDefPrimitive::Char => match v {
				Yaml::String(s) if s.chars().count() == 1 => {
					(s.chars().next().unwrap_or_default() as u32).encode_to(out)
				}
				_ => return Err(bad()),
			},
			TypeDefPrimitive::Str => match v {
				Yaml::String(s) => s.encode_to(out),
				_ => return Err(bad()),
			},
			TypeDefPrimitive::U8 => uint!(u8),
			TypeDefPrimitive::U16 => uint!(u16),
			TypeDefPrimitive::U32 => uint!(u32),
			TypeDefPrimitive::U64 => uint!(u64),
			TypeDefPrimitive::U128 => uint!(u128),
			TypeDefPrimitive::I8 => int!(i8),
			TypeDefPrimitive::I16 => int!(i16),
			TypeDefPrimitive::I32 => int!(i32),
			TypeDefPrimitive::I64 => int!(i64),
			TypeDefPrimitive::I128 => int!(i128),
			TypeDefPrimitive::U256 | TypeDefPrimitive::I256 => match v {
				Yaml::String(s) if s.starts_with("0x") && s.len() == 66 => {
					let b = hex::decode(&s[2..]).map_err(|_| bad())?;
					out.extend_from_slice(&b);
				}
				_ => {
					return Err(EncodeError {
						path: path.to_string(),
						expected: format!("`{}` as 0x hex of 32 bytes", primitive_name(p)),
						seen: seen(v),
					})
				}
			},
		}
		Ok(())
	}
}

#[cfg(test)]
pub(crate) mod tests {
	use super::*;
	use parity_scale_codec::Decode;
	use scale_info::{build::Fields, MetaType, Path, Registry, TypeInfo};

	/// `AxonInfo { block: u64, port: u16 }`, as a runtime's metadata would describe it.
	pub struct Axon;
	impl TypeInfo for Axon {
		type Identity = Self;
		fn type_info() -> scale_info::Type {
			scale_info::Type::builder()
				.path(Path::new("AxonInfo", "pallet_subnets"))
				.composite(
					Fields::named()
						.field(|f| f.ty::<u64>().name("block").type_name("u64"))
						.field(|f| f.ty::<u16>().name("port").type_name("u16")),
				)
		}
	}

	/// A registry of a few types; returns it and the ids of `types`.
	pub fn registry(types: &[MetaType]) -> (PortableRegistry, Vec<u32>) {
		let mut r = Registry::new();
		let ids = types.iter().map(|t| r.register_type(t).id).collect();
		(r.into(), ids)
	}

	fn yaml(s: &str) -> Yaml {
		serde_yaml::from_str(s).expect("yaml")
	}

	#[test]
	fn numbers_structs_lists_options_and_accounts() {
		let (reg, ids) = registry(&[
			MetaType::new::<u64>(),
			MetaType::new::<Axon>(),
			MetaType::new::<Vec<u64>>(),
			MetaType::new::<Option<u32>>(),
			MetaType::new::<[u8; 32]>(),
			MetaType::new::<Vec<(u16, u16)>>(),
			MetaType::new::<u16>(),
		]);
		let enc = |i: usize, s: &str| encode(&reg, ids[i], &yaml(s));
		assert_eq!(enc(0, "7").unwrap(), 7u64.encode());
		assert_eq!(enc(0, "\"1_000_000\"").unwrap(), 1_000_000u64.encode());
		assert_eq!(
			enc(1, "{ block: 5, port: 8091 }").unwrap(),
			(5u64, 8091u16).encode()
		);
		assert_eq!(enc(2, "[1, 2, 3]").unwrap(), vec![1u64, 2, 3].encode());
		assert_eq!(enc(3, "~").unwrap(), None::<u32>.encode());
		assert_eq!(enc(3, "9").unwrap(), Some(9u32).encode());
		assert_eq!(
			enc(5, "[[1, 2], [3, 4]]").unwrap(),
			vec![(1u16, 2u16), (3, 4)].encode()
		);
		let alice = keys::sr25519_public("//Alice").unwrap();
		assert_eq!(enc(4, "//Alice").unwrap(), alice.to_vec());
		assert_eq!(
			<[u8; 32]>::decode(&mut &enc(4, &format!("\"0x{}\"", hex::encode(alice))).unwrap()[..])
				.unwrap(),
			alice
		);
	}

	#[test]
	fn errors_say_where_what_was_expected_and_what_was_seen() {
		let (reg, ids) = registry(&[
			MetaType::new::<u64>(),
			MetaType::new::<Axon>(),
			MetaType::new::<u16>(),
		]);
		let e = encode(&reg, ids[0], &yaml("abc")).unwrap_err();
		assert_eq!(e.to_string(), "expected `u64`, saw the string `abc`");
		let e = encode(&reg, ids[1], &yaml("{ block: 5 }")).unwrap_err();
		assert_eq!(e.path, ".port");
		assert!(e.to_string().contains("the field is missing"), "{e}");
		let e = encode(&reg, ids[1], &yaml("{ block: 5, port: 1, extra: 2 }")).unwrap_err();
		assert!(
			e.to_string().contains("unknown field `extra`")
				&& e.to_string().contains("block, port"),
			"{e}"
		);
		let e = encode(&reg, ids[2], &yaml("70000")).unwrap_err();
		assert!(e.to_string().contains("at most 65535"), "{e}");
		let e = encode(&reg, ids[1], &yaml("{ block: -1, port: 1 }")).unwrap_err();
		assert_eq!(e.path, ".block");
	}
}

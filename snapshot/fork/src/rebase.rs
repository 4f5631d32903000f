//! Rebasing block numbers. A fork restarts at block 1 while storage holds the source's block
//! numbers; with a warm-up of `W` blocks and the snapshot at block `H`, every block number `v`
//! listed by the profile becomes `v − H + W`. At fork block `W` every age up to `W` blocks and
//! every future deadline is what it was at the source block. Older ages (`v < H − W`) cannot
//! exist on a chain `W` blocks tall: they are clipped to 0 and counted. `0` (Substrate's
//! "never") and the type's maximum ("forever") are kept as they are.

use super::meta::{hash_key, unwrap_newtype, Item};
use scale_info::{form::PortableForm, PortableRegistry, TypeDef, TypeDefPrimitive};
use subxt::ext::scale_value::{self, Composite, Primitive, Value, ValueDef};

/// One step of a path into a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
	/// A named field.
	Field(String),
	/// An element of a tuple, unnamed struct or sequence.
	Index(usize),
	/// Every element of a sequence or array.
	All,
}

/// Parses `data.free`, `[*]`, `[*].1`, `block`; the empty string is the whole value.
pub(crate) fn parse_path(text: &str) -> Result<Vec<Seg>, String> {
	let mut segs = Vec::new();
	let mut rest = text.trim();
	while !rest.is_empty() {
		if let Some(r) = rest.strip_prefix('[') {
			let end = r
				.find(']')
				.ok_or_else(|| format!("`{text}`: `[` without `]`"))?;
			let inner = r[..end].trim();
			segs.push(if inner == "*" {
				Seg::All
			} else {
				Seg::Index(
					inner.parse().map_err(|_| {
						format!("`{text}`: `[{inner}]` is neither `[*]` nor an index")
					})?,
				)
			});
			rest = &r[end + 1..];
		} else {
			let r = rest.strip_prefix('.').unwrap_or(rest);
			let end = r.find(['.', '[']).unwrap_or(r.len());
			let name = &r[..end];
			if name.is_empty() {
				return Err(format!("`{text}`: an empty field name"));
			}
			segs.push(match name.parse::<usize>() {
				Ok(i) => Seg::Index(i),
				Err(_) => Seg::Field(name.to_string()),
			});
			rest = &r[end..];
		}
	}
	Ok(segs)
}

/// Checks a path against a type; returns the largest value of the unsigned integer it ends
/// at (a block number), or says what is there instead.
pub(crate) fn check_path(types: &PortableRegistry, ty: u32, path: &[Seg]) -> Result<u128, String> {
	let mut id = ty;
	let mut i = 0;
	for _ in 0..64 {
		let t = types
			.resolve(id)
			.ok_or_else(|| format!("type #{id} is missing"))?;
		// See through `Option`, newtypes and `Compact`.
		match &t.type_def {
			TypeDef::Variant(v) if t.path.segments.last().map(String::as_str) == Some("Option") => {
				let some = v
					.variants
					.iter()
					.find(|x| x.name == "Some" && x.fields.len() == 1);
				if let Some(s) = some {
					id = s.fields[0].ty.id;
					continue;
				}
			}
			TypeDef::Compact(c) => {
				id = c.type_param.id;
				continue;
			}
			TypeDef::Composite(c)
				if c.fields.len() == 1
					&& (c.fields[0].name.is_none() || i >= path.len())
					&& !matches!(path.get(i), Some(Seg::Index(0))) =>
			{
				id = c.fields[0].ty.id;
				continue;
			}
			_ => {}
		}
		let Some(seg) = path.get(i) else {
			return match &t.type_def {
				TypeDef::Primitive(p) => match p {
					TypeDefPrimitive::U16 => Ok(u16::MAX as u128),
					TypeDefPrimitive::U32 => Ok(u32::MAX as u128),
					TypeDefPrimitive::U64 => Ok(u64::MAX as u128),
					TypeDefPrimitive::U128 => Ok(u128::MAX),
					other => Err(format!(
						"it ends at `{}`, not an unsigned integer wide enough for a block number",
						super::meta::primitive_name(other)
					)),
				},
				_ => Err(format!(
					"it ends at `{}`, not a block number (hint: add the field or `[*]` that \
					 leads to the number)",
					super::meta::short_name(types, id)
				)),
			};
		};
		i += 1;
		id = match (&t.type_def, seg) {
			(TypeDef::Composite(c), Seg::Field(name)) => c
				.fields
				.iter()
				.find(|f| f.name.as_deref() == Some(name))
				.map(|f| f.ty.id)
				.ok_or_else(|| {
					let names: Vec<&str> =
						c.fields.iter().filter_map(|f| f.name.as_deref()).collect();
					format!(
						"`{}` has no field `{name}` (its fields: {})",
						super::meta::short_name(types, id),
						names.join(", ")
					)
				})?,
			(TypeDef::Composite(c), Seg::Index(n)) => {
				c.fields.get(*n).map(|f| f.ty.id).ok_or_else(|| {
					format!("`{}` has no field {n}", super::meta::short_name(types, id))
				})?
			}
			(TypeDef::Tuple(tu), Seg::Index(n)) => {
				tu.fields.get(*n).map(|f| f.id).ok_or_else(|| {
					format!(
						"the tuple `{}` has no element {n}",
						super::meta::short_name(types, id)
					)
				})?
			}
			(TypeDef::Sequence(s), Seg::All | Seg::Index(_)) => s.type_param.id,
			(TypeDef::Array(a), Seg::All | Seg::Index(_)) => a.type_param.id,
			(_, seg) => {
				return Err(format!(
					"`{}` cannot be entered with `{}`",
					super::meta::short_name(types, id),
					match seg {
						Seg::Field(f) => format!(".{f}"),
						Seg::Index(n) => format!("[{n}]"),
						Seg::All => "[*]".into(),
					}
				))
			}
		};
	}
	Err("the path is too deep".into())
}

/// The warm-up: the least `w ≥ warmup` with `w ≡ h (mod period)`, `u64::MAX` when that
/// number does not fit a `u64` (see [`try_choose_warmup`]).
pub fn choose_warmup(h: u64, warmup: u64, period: Option<u64>) -> u64 {
	try_choose_warmup(h, warmup, period).unwrap_or(u64::MAX)
}

/// The warm-up: the least `w ≥ warmup` with `w ≡ h (mod period)`; `None` when that number
/// does not fit a `u64`.
pub fn try_choose_warmup(h: u64, warmup: u64, period: Option<u64>) -> Option<u64> {
	match period {
		Some(p) if p > 1 => {
			let want = h % p;
			let base = (warmup - warmup % p).checked_add(want)?;
			if base >= warmup {
				Some(base)
			} else {
				base.checked_add(p)
			}
		}
		_ => Some(warmup),
	}
}

/// How one item's block numbers were rebased.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct RebaseStats {
	/// `Pallet.Item`.
	pub item: String,
	/// Entries of the item seen.
	pub entries: u64,
	/// Block numbers moved to `v − H + W`.
	pub rebased: u64,
	/// Older than the warm-up: clipped to 0.
	pub clipped: u64,
	/// The largest age (in source blocks, `H − v`) lost by clipping.
	pub max_age_lost: u64,
	/// `0` or the type's maximum, kept.
	pub kept: u64,
	/// Moved past the type's maximum (a deadline further ahead than the type can count from
	/// the warm-up): capped at the maximum, which the chain reads as "never".
	pub capped: u64,
}

/// The rebase of numbers: `v → v − H + W`.
#[derive(Debug, Clone, Copy)]
pub struct Shift {
	/// The snapshot block `H`.
	pub h: u64,
	/// The warm-up `W`.
	pub w: u64,
}

impl Shift {
	/// Rebases one number whose type's maximum is `max`, counting into `stats`.
	pub fn apply(&self, v: u128, max: u128, stats: &mut RebaseStats) -> u128 {
		if v == 0 || v == max {
			stats.kept += 1;
			return v;
		}
		let (h, w) = (self.h as u128, self.w as u128);
		if v.saturating_add(w) < h {
			stats.clipped += 1;
			stats.max_age_lost = stats.max_age_lost.max((h - v) as u64);
			return 0;
		}
		// `v < max ≤ u128::MAX` and `w` < 2^64: `v + w` cannot wrap in `u128` unless `v` is
		// within 2^64 of it; checked all the same, and a result past the type's maximum is
		// counted, not silently clipped.
		match v.checked_add(w).map(|x| x - h) {
			Some(x) if x <= max => {
				stats.rebased += 1;
				x
			}
			_ => {
				stats.capped += 1;
				max
			}
		}
	}
}

/// A compiled rebase rule for one item.
#[derive(Debug, Clone)]
pub struct Rule {
	/// The item.
	pub item: Item,
	/// Paths in the value, each with the maximum of its integer type.
	pub value_paths: Vec<(Vec<Seg>, u128)>,
	/// The key part that is a block number, with its type's maximum.
	pub key: Option<(usize, u128)>,
	/// Counts.
	pub stats: RebaseStats,
}

/// Follows `path` through a decoded value and its type together (the same rules as
/// [`check_path`]: through `Option`, `Compact` and newtypes), calling `f` on each number found.
fn walk(
	types: &PortableRegistry,
	ty: u32,
	v: &mut Value<u32>,
	path: &[Seg],
	f: &mut dyn FnMut(&mut u128),
) -> Result<(), String> {
	let t = types
		.resolve(ty)
		.ok_or_else(|| format!("type #{ty} is missing"))?;
	match &t.type_def {
		TypeDef::Variant(var) if t.path.segments.last().map(String::as_str) == Some("Option") => {
			let some = var
				.variants
				.iter()
				.find(|x| x.name == "Some" && x.fields.len() == 1);
			return match (&mut v.value, some) {
				(ValueDef::Variant(x), _) if x.name == "None" => Ok(()),
				(ValueDef::Variant(x), Some(s)) if x.name == "Some" => {
					let inner = match &mut x.values {
						Composite::Unnamed(vals) => vals.first_mut(),
						Composite::Named(vals) => vals.first_mut().map(|(_, v)| v),
					};
					match inner {
						Some(inner) => walk(types, s.fields[0].ty.id, inner, path, f),
						None => Err("an empty `Some`".into()),
					}
				}
				_ => Err("expected an `Option` value".into()),
			};
		}
		TypeDef::Compact(c) => return walk(types, c.type_param.id, v, path, f),
		TypeDef::Composite(c)
			if c.fields.len() == 1
				&& (c.fields[0].name.is_none() || path.is_empty())
				&& !matches!(path.first(), Some(Seg::Index(0))) =>
		{
			let inner = match &mut v.value {
				ValueDef::Composite(Composite::Unnamed(vals)) => vals.first_mut(),
				ValueDef::Composite(Composite::Named(vals)) => vals.first_mut().map(|(_, v)| v),
				_ => None,
			};
			return match inner {
				Some(inner) => walk(types, c.fields[0].ty.id, inner, path, f),
				None => Err("expected a one-field value".into()),
			};
		}
		_ => {}
	}
	let Some((seg, rest)) = path.split_first() else {
		return match &mut v.value {
			ValueDef::Primitive(Primitive::U128(n)) => {
				f(n);
				Ok(())
			}
			_ => Err("expected a number".into()),
		};
	};
	match (&t.type_def, &mut v.value, seg) {
		(
			TypeDef::Composite(c),
			ValueDef::Composite(Composite::Named(fields)),
			Seg::Field(name),
		) => {
			let fty = c
				.fields
				.iter()
				.find(|f| f.name.as_deref() == Some(name))
				.map(|f| f.ty.id);
			let fv = fields.iter_mut().find(|(n, _)| n == name).map(|(_, v)| v);
			match (fty, fv) {
				(Some(fty), Some(fv)) => walk(types, fty, fv, rest, f),
				_ => Err(format!("no field `{name}`")),
			}
		}
		(TypeDef::Composite(c), ValueDef::Composite(comp), Seg::Index(i)) => {
			let fty = c.fields.get(*i).map(|f| f.ty.id);
			let fv = match comp {
				Composite::Named(fields) => fields.get_mut(*i).map(|(_, v)| v),
				Composite::Unnamed(vals) => vals.get_mut(*i),
			};
			match (fty, fv) {
				(Some(fty), Some(fv)) => walk(types, fty, fv, rest, f),
				_ => Err(format!("no field {i}")),
			}
		}
		(TypeDef::Tuple(tu), ValueDef::Composite(Composite::Unnamed(vals)), Seg::Index(i)) => {
			match (tu.fields.get(*i), vals.get_mut(*i)) {
				(Some(fty), Some(fv)) => walk(types, fty.id, fv, rest, f),
				_ => Err(format!("no element {i}")),
			}
		}
		(TypeDef::Sequence(_) | TypeDef::Array(_), ValueDef::Composite(comp), seg) => {
			let elem = match &t.type_def {
				TypeDef::Sequence(s) => s.type_param.id,
				TypeDef::Array(a) => a.type_param.id,
				_ => return Err("unreachable".into()),
			};
			let vals: Vec<&mut Value<u32>> = match comp {
				Composite::Unnamed(vals) => vals.iter_mut().collect(),
				Composite::Named(vals) => vals.iter_mut().map(|(_, v)| v).collect(),
			};
			match seg {
				Seg::All => {
					for x in vals {
						walk(types, elem, x, rest, f)?;
					}
					Ok(())
				}
				// A sequence shorter than the index: nothing there to rebase.
				Seg::Index(i) => match vals.into_iter().nth(*i) {
					Some(x) => walk(types, elem, x, rest, f),
					None => Ok(()),
				},
				Seg::Field(name) => Err(format!("a sequence has no field `{name}`")),
			}
		}
		(_, _, seg) => Err(format!("the value cannot be entered with {seg:?}")),
	}
}

/// Applies `f` to every number at the paths of a SCALE value of type `ty`; returns the new
/// encoding.
pub(crate) fn map_value(
	types: &PortableRegistry,
	ty: u32,
	bytes: &[u8],
	paths: &[(Vec<Seg>, u128)],
	mut f: impl FnMut(u128, u128) -> u128,
) -> Result<Vec<u8>, String> {
	let mut input = bytes;
	let mut value = scale_value::scale::decode_as_type(&mut input, ty, types)
		.map_err(|e| format!("the value does not decode as its type: {e}"))?;
	if !input.is_empty() {
		return Err(format!(
			"{} bytes are left after decoding the value",
			input.len()
		));
	}
	for (path, max) in paths {
		let max = *max;
		walk(types, ty, &mut value, path, &mut |n| *n = f(*n, max))?;
	}
	let mut out = Vec::with_capacity(bytes.len());
	scale_value::scale::encode_as_type(&value, ty, types, &mut out)
		.map_err(|e| format!("the rebased value does not encode: {e}"))?;
	Ok(out)
}

/// The byte range of key part `index` (hash and key) within `key` (after the 32-byte prefix),
/// and the range of the encoded key inside it.
fn key_part_range(
	types: &PortableRegistry,
	item: &Item,
	key: &[u8],
	index: usize,
) -> Result<(usize, usize, usize), String> {
	let mut pos = 32usize;
	for (j, part) in item.keys.iter().enumerate() {
		let hash_len = part.hasher.len_excluding_key();
		let start = pos;
		pos += hash_len;
		if pos > key.len() {
			return Err("the key is shorter than its hashers".into());
		}
		let mut enc_len = 0;
		if part.hasher.ends_with_key() {
			let mut input = &key[pos..];
			let before = input.len();
			scale_value::scale::decode_as_type(&mut input, part.ty, types)
				.map_err(|e| format!("key part {j} does not decode: {e}"))?;
			enc_len = before - input.len();
		}
		if j == index {
			return Ok((start, pos, pos + enc_len));
		}
		pos += enc_len;
	}
	Err(format!("the item has no key part {index}"))
}

/// Rebases key part `index` of a full storage key; returns the new key.
pub(crate) fn map_key(
	types: &PortableRegistry,
	item: &Item,
	key: &[u8],
	index: usize,
	f: impl FnOnce(u128) -> u128,
) -> Result<Vec<u8>, String> {
	let (start, enc_start, enc_end) = key_part_range(types, item, key, index)?;
	let part = item.keys[index];
	let mut input = &key[enc_start..enc_end];
	let mut value = scale_value::scale::decode_as_type(&mut input, part.ty, types)
		.map_err(|e| format!("key part {index} does not decode: {e}"))?;
	let mut f = Some(f);
	walk(types, part.ty, &mut value, &[], &mut |n| {
		if let Some(f) = f.take() {
			*n = f(*n)
		}
	})?;
	let mut enc = Vec::new();
	scale_value::scale::encode_as_type(&value, part.ty, types, &mut enc)
		.map_err(|e| format!("the rebased key does not encode: {e}"))?;
	let mut out = key[..start].to_vec();
	out.extend_from_slice(&hash_key(part.hasher, &enc));
	out.extend_from_slice(&key[enc_end..]);
	Ok(out)
}

/// Checks that key part `index` of `item` can be rebased: it exists, its hasher keeps the key
/// and its type is an unsigned integer. Returns the type's maximum.
pub(crate) fn check_key(types: &PortableRegistry, item: &Item, index: usize) -> Result<u128, String> {
	let part = item.keys.get(index).ok_or_else(|| {
		format!(
			"`{}` has {} key(s); there is no key {index}",
			item.label(),
			item.keys.len()
		)
	})?;
	if !part.hasher.ends_with_key() {
		return Err(format!(
			"key {index} of `{}` is hashed with `{:?}`, which does not keep the key, so it \
			 cannot be rewritten",
			item.label(),
			part.hasher
		));
	}
	check_path(types, part.ty, &[]).map_err(|e| format!("key {index} of `{}`: {e}", item.label()))
}

/// The unsigned integer definition at the end of newtypes, if any (for plain values).
pub fn is_uint(types: &PortableRegistry, ty: u32) -> bool {
	types
		.resolve(ty)
		.map(|t| {
			matches!(
				unwrap_newtype(types, t),
				TypeDef::<PortableForm>::Primitive(
					TypeDefPrimitive::U8
						| TypeDefPrimitive::U16
						| TypeDefPrimitive::U32
						| TypeDefPrimitive::U64
						| TypeDefPrimitive::U128
				)
			)
		})
		.unwrap_or(false)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn paths_parse() {
		assert_eq!(parse_path("").unwrap(), vec![]);
		assert_eq!(
			parse_path("data.free").unwrap(),
			vec![Seg::Field("data".into()), Seg::Field("free".into())]
		);
		assert_eq!(parse_path("[*].1").unwrap(), vec![Seg::All, Seg::Index(1)]);
		assert_eq!(parse_path("[2]").unwrap(), vec![Seg::Index(2)]);
		assert!(parse_path("[x]").is_err());
		assert!(parse_path("a..b").is_err());
	}

	#[test]
	fn warmup_congruence() {
		assert_eq!(choose_warmup(7_000_000, 100, None), 100);
		let w = choose_warmup(7_000_000, 100, Some(361));
		assert!(w >= 100 && w < 100 + 361);
		assert_eq!(w % 361, 7_000_000 % 361);
		assert_eq!(choose_warmup(5, 10, Some(4)), 13);
		// Past the end of `u64`: no wrap, no panic.
		assert_eq!(try_choose_warmup(5, u64::MAX - 1, Some(4)), None);
		assert_eq!(try_choose_warmup(3, 10, Some(u64::MAX)), None);
	}

	#[test]
	fn shift_keeps_ages_and_deadlines() {
		let s = Shift { h: 1000, w: 50 };
		let mut st = RebaseStats::default();
		// 10 blocks ago → 10 blocks before W.
		assert_eq!(s.apply(990, u64::MAX as u128, &mut st), 40);
		// 40 blocks ahead → W + 40.
		assert_eq!(s.apply(1040, u64::MAX as u128, &mut st), 90);
		// Exactly W ago → 0.
		assert_eq!(s.apply(950, u64::MAX as u128, &mut st), 0);
		assert_eq!((st.rebased, st.clipped), (3, 0));
		// Older than W: clipped, largest age counted.
		assert_eq!(s.apply(100, u64::MAX as u128, &mut st), 0);
		assert_eq!(s.apply(900, u64::MAX as u128, &mut st), 0);
		assert_eq!((st.clipped, st.max_age_lost), (2, 900));
		// Sentinels.
		assert_eq!(s.apply(0, u64::MAX as u128, &mut st), 0);
		assert_eq!(
			s.apply(u32::MAX as u128, u32::MAX as u128, &mut st),
			u32::MAX as u128
		);
		assert_eq!(st.kept, 2);
		// A deadline pushed past the type's maximum is capped and counted.
		let s = Shift { h: 10, w: 1000 };
		let mut st = RebaseStats::default();
		assert_eq!(
			s.apply(u32::MAX as u128 - 5, u32::MAX as u128, &mut st),
			u32::MAX as u128
		);
		assert_eq!((st.rebased, st.capped), (0, 1));
	}
}

#[cfg(test)]
mod value_tests {
	use super::*;
	use crate::encode::tests::{registry, Axon};
	use parity_scale_codec::Encode;
	use scale_info::MetaType;

	#[test]
	fn numbers_inside_values_are_rebased_at_their_paths() {
		let (reg, ids) = registry(&[
			MetaType::new::<Vec<u64>>(),
			MetaType::new::<Axon>(),
			MetaType::new::<Option<u32>>(),
			MetaType::new::<Vec<(u16, u64)>>(),
		]);
		let shift = |n: u128, _max: u128| n + 1000;
		let path = |s: &str| (parse_path(s).unwrap(), u64::MAX as u128);
		assert_eq!(
			map_value(&reg, ids[0], &vec![1u64, 2].encode(), &[path("[*]")], shift).unwrap(),
			vec![1001u64, 1002].encode()
		);
		assert_eq!(
			map_value(
				&reg,
				ids[1],
				&(5u64, 8091u16).encode(),
				&[path("block")],
				shift
			)
			.unwrap(),
			(1005u64, 8091u16).encode()
		);
		assert_eq!(
			map_value(&reg, ids[2], &Some(7u32).encode(), &[path("")], shift).unwrap(),
			Some(1007u32).encode()
		);
		assert_eq!(
			map_value(&reg, ids[2], &None::<u32>.encode(), &[path("")], shift).unwrap(),
			None::<u32>.encode()
		);
		assert_eq!(
			map_value(
				&reg,
				ids[3],
				&vec![(3u16, 9u64)].encode(),
				&[path("[*].1")],
				shift
			)
			.unwrap(),
			vec![(3u16, 1009u64)].encode()
		);
		// Paths are checked against the type, with the maximum of the number found.
		assert_eq!(
			check_path(&reg, ids[1], &parse_path("block").unwrap()),
			Ok(u64::MAX as u128)
		);
		let e = check_path(&reg, ids[1], &parse_path("blok").unwrap()).unwrap_err();
		assert!(
			e.contains("no field `blok`") && e.contains("block, port"),
			"{e}"
		);
		assert!(check_path(&reg, ids[1], &[])
			.unwrap_err()
			.contains("not a block number"));
		assert_eq!(check_path(&reg, ids[2], &[]), Ok(u32::MAX as u128));
	}
}

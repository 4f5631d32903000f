//! A profile's calls encoded through the runtime's metadata: arguments by field name, YAML
//! values with placeholders replaced per transaction, encoded by the fork encoder's
//! type-directed YAML → SCALE encoder.

use serde_yaml::Value as Yaml;
use stagenet_config::CallSpec;
use stagenet_fork::{encode, meta::closest};
use subxt::{
	ext::scale_encode::{self, EncodeAsFields, FieldIter, TypeResolver},
	transactions::Payload,
	Metadata,
};

/// What one transaction's placeholders stand for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slots<'a> {
	/// The signer's account id.
	pub signer: &'a [u8; 32],
	/// Another account of the set.
	pub peer: &'a [u8; 32],
	/// The transaction's number.
	pub seq: u64,
	/// The signer's index in the set.
	pub uid: u64,
	/// A pseudo-random number for `{rand:A..B}`.
	pub random: u64,
}

/// A call resolved against the metadata: its fields in order.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedCall {
	pub pallet: String,
	pub call: String,
	/// `(name, type id, value)` in the call's field order.
	fields: Vec<(String, u32, Yaml)>,
	/// Whether any value holds a placeholder (otherwise the encoding is reused).
	templated: bool,
	/// The encoding when not templated.
	fixed: Option<Vec<u8>>,
}

impl ResolvedCall {
	/// Resolves `spec` in `metadata`; the error says what is missing and what is close.
	pub fn resolve(spec: &CallSpec, metadata: &Metadata) -> Result<ResolvedCall, String> {
		let name = spec.name();
		let pallet = metadata.pallet_by_name(&spec.pallet).ok_or_else(|| {
			let names: Vec<&str> = metadata.pallets().map(|p| p.name()).collect();
			format!(
				"the runtime has no pallet `{}`{} (hint: call names are `Pallet.call` as in the \
				 runtime's metadata)",
				spec.pallet,
				suggestion(&spec.pallet, names)
			)
		})?;
		let variant = pallet.call_variant_by_name(&spec.call).ok_or_else(|| {
			let names: Vec<&str> = pallet
				.call_variants()
				.map(|v| v.iter().map(|v| v.name.as_str()).collect())
				.unwrap_or_default();
			format!(
				"pallet `{}` has no call `{}`{}",
				spec.pallet,
				spec.call,
				suggestion(&spec.call, names)
			)
		})?;
		let mut fields = Vec::new();
		let mut templated = false;
		for f in &variant.fields {
			let field = f.name.clone().unwrap_or_default();
			let value = spec.args.get(&field).cloned().ok_or_else(|| {
				format!(
					"`{name}` needs the argument `{field}` (of type `{}`) (hint: its arguments are {})",
					stagenet_fork::meta::short_name(metadata.types(), f.ty.id),
					variant
						.fields
						.iter()
						.map(|f| format!("`{}`", f.name.clone().unwrap_or_default()))
						.collect::<Vec<_>>()
						.join(", ")
				)
			})?;
			templated |= has_placeholder(&value);
			fields.push((field, f.ty.id, value));
		}
		for given in spec.args.keys() {
			if !variant
				.fields
				.iter()
				.any(|f| f.name.as_deref() == Some(given.as_str()))
			{
				return Err(format!(
					"`{name}` has no argument `{given}`{}",
					suggestion(
						given,
						variant.fields.iter().filter_map(|f| f.name.as_deref())
					)
				));
			}
		}
		let mut resolved = ResolvedCall {
			pallet: spec.pallet.clone(),
			call: spec.call.clone(),
			fields,
			templated,
			fixed: None,
		};
		if !templated {
			let zero = [0u8; 32];
			let bytes = resolved.encode_args(
				metadata,
				Slots {
					signer: &zero,
					peer: &zero,
					seq: 0,
					uid: 0,
					random: 0,
				},
			)?;
			resolved.fixed = Some(bytes);
		}
		Ok(resolved)
	}

	/// `Pallet.call`.
	pub fn name(&self) -> String {
		format!("{}.{}", self.pallet, self.call)
	}

	/// The call's arguments, SCALE-encoded in field order, with `slots` filled in.
	pub fn encode_args(&self, metadata: &Metadata, slots: Slots<'_>) -> Result<Vec<u8>, String> {
		if let Some(fixed) = &self.fixed {
			return Ok(fixed.clone());
		}
		let mut out = Vec::new();
		for (field, ty, value) in &self.fields {
			let value = if self.templated {
				fill(value, &slots)
			} else {
				value.clone()
			};
			let bytes = encode::encode(metadata.types(), *ty, &value)
				.map_err(|e| format!("`{}` argument `{field}`: {e}", self.name()))?;
			out.extend_from_slice(&bytes);
		}
		Ok(out)
	}

	/// A payload of this call with `args` (from [`Self::encode_args`]).
	pub fn payload(&self, args: Vec<u8>) -> RawPayload {
		RawPayload {
			pallet: self.pallet.clone(),
			call: self.call.clone(),
			args: RawArgs(args),
		}
	}
}

fn suggestion<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
	let close = closest(name, candidates);
	if close.is_empty() {
		String::new()
	} else {
		format!(
			" (did you mean {}?)",
			close
				.iter()
				.map(|c| format!("`{c}`"))
				.collect::<Vec<_>>()
				.join(", ")
		)
	}
}

/// The placeholders a string may hold.
const PLACEHOLDERS: [&str; 4] = ["{signer}", "{peer}", "{seq}", "{uid}"];

fn has_placeholder(v: &Yaml) -> bool {
	match v {
		Yaml::String(s) => PLACEHOLDERS.iter().any(|p| s.contains(p)) || s.contains("{rand:"),
		Yaml::Sequence(items) => items.iter().any(has_placeholder),
		Yaml::Mapping(m) => m
			.iter()
			.any(|(k, v)| has_placeholder(k) || has_placeholder(v)),
		Yaml::Tagged(t) => has_placeholder(&t.value),
		_ => false,
	}
}

/// `v` with its placeholders replaced; a string that is only a number placeholder becomes a
/// number.
pub(crate) fn fill(v: &Yaml, slots: &Slots<'_>) -> Yaml {
	match v {
		Yaml::String(s) => fill_string(s, slots),
		Yaml::Sequence(items) => Yaml::Sequence(items.iter().map(|i| fill(i, slots)).collect()),
		Yaml::Mapping(m) => {
			Yaml::Mapping(m.iter().map(|(k, v)| (k.clone(), fill(v, slots))).collect())
		}
		other => other.clone(),
	}
}

fn fill_string(s: &str, slots: &Slots<'_>) -> Yaml {
	match s {
		"{seq}" => return Yaml::Number(slots.seq.into()),
		"{uid}" => return Yaml::Number(slots.uid.into()),
		_ => {}
	}
	if let Some(n) = rand_range(s).map(|(a, b)| a + slots.random % (b - a).max(1)) {
		if s.starts_with("{rand:") && s.ends_with('}') && s.matches('{').count() == 1 {
			return Yaml::Number(n.into());
		}
	}
	let mut out = s
		.replace("{signer}", &format!("0x{}", hex::encode(slots.signer)))
		.replace("{peer}", &format!("0x{}", hex::encode(slots.peer)))
		.replace("{seq}", &slots.seq.to_string())
		.replace("{uid}", &slots.uid.to_string());
	while let Some(start) = out.find("{rand:") {
		let Some(len) = out[start..].find('}') else {
			break;
		};
		let inner = &out[start..start + len + 1];
		let n = rand_range(inner)
			.map(|(a, b)| a + slots.random % (b - a).max(1))
			.unwrap_or(0);
		out = format!("{}{n}{}", &out[..start], &out[start + len + 1..]);
	}
	Yaml::String(out)
}

/// `{rand:A..B}` → `(A, B)`.
fn rand_range(s: &str) -> Option<(u64, u64)> {
	let start = s.find("{rand:")?;
	let rest = &s[start + 6..];
	let end = rest.find('}')?;
	let (a, b) = rest[..end].split_once("..")?;
	let a: u64 = a.trim().replace('_', "").parse().ok()?;
	let b: u64 = b.trim().replace('_', "").parse().ok()?;
	(a < b).then_some((a, b))
}

/// Call arguments already encoded, written as they are.
#[derive(Debug, Clone)]
pub(crate) struct RawArgs(pub Vec<u8>);

impl EncodeAsFields for RawArgs {
	fn encode_as_fields_to<R: TypeResolver>(
		&self,
		_fields: &mut dyn FieldIter<'_, R::TypeId>,
		_types: &R,
		out: &mut Vec<u8>,
	) -> Result<(), scale_encode::Error> {
		out.extend_from_slice(&self.0);
		Ok(())
	}
}

/// A call by pallet and call name with pre-encoded arguments.
#[derive(Debug, Clone)]
pub(crate) struct RawPayload {
	pallet: String,
	call: String,
	args: RawArgs,
}

impl RawPayload {
	/// A payload of `pallet::call` whose single argument is an already encoded call
	/// (`Sudo.sudo { call }`).
	pub fn wrapping(pallet: &str, call: &str, inner: Vec<u8>) -> RawPayload {
		RawPayload {
			pallet: pallet.into(),
			call: call.into(),
			args: RawArgs(inner),
		}
	}
}

impl Payload for RawPayload {
	type CallData = RawArgs;

	fn pallet_name(&self) -> &str {
		&self.pallet
	}

	fn call_name(&self) -> &str {
		&self.call
	}

	fn call_data(&self) -> &RawArgs {
		&self.args
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn placeholders_are_filled_per_transaction() {
		let signer = [1u8; 32];
		let peer = [2u8; 32];
		let slots = Slots {
			signer: &signer,
			peer: &peer,
			seq: 7,
			uid: 3,
			random: 12,
		};
		assert_eq!(fill_string("{seq}", &slots), Yaml::Number(7u64.into()));
		assert_eq!(fill_string("{uid}", &slots), Yaml::Number(3u64.into()));
		assert_eq!(
			fill_string("{rand:10..15}", &slots),
			Yaml::Number((10 + 12 % 5u64).into())
		);
		assert_eq!(
			fill_string("{signer}", &slots),
			Yaml::String(format!("0x{}", hex::encode(signer)))
		);
		assert_eq!(
			fill_string("n{seq}-{rand:0..2}", &slots),
			Yaml::String("n7-0".into())
		);
		let map: Yaml = serde_yaml::from_str("{ Id: \"{peer}\" }").expect("yaml");
		let filled = fill(&map, &slots);
		assert_eq!(
			filled.get("Id"),
			Some(&Yaml::String(format!("0x{}", hex::encode(peer))))
		);
		assert!(has_placeholder(&map));
		assert!(!has_placeholder(&Yaml::String("plain".into())));
	}
}

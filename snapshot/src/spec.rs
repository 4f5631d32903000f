//! `stagenet snapshot from-spec`: a snapshot of a raw chain spec's genesis state (as written
//! by a node's `export-state` or `build-spec --raw`). The JSON is parsed as a stream and the
//! pairs go through an external sort, so specs of several GB are read in bounded memory.

use crate::{
	error::{Result, SnapshotError},
	format::{self, hex0x, Header, RuntimeInfo, Source, CHILD_STORAGE_PREFIX},
	sort::{Sorted, Sorter},
	trie::{RootBuilder, StateVersion},
	writer::Writer,
};
use parity_scale_codec::{Compact, Decode};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::{
	collections::BTreeMap,
	fmt,
	fs::File,
	io::BufReader,
	path::{Path, PathBuf},
};

/// Memory budget of the external sort.
pub const SORT_BUDGET: usize = 128 << 20;

/// Options of `from-spec`.
#[derive(Debug, Clone)]
pub struct FromSpecOptions {
	/// The raw chain spec.
	pub spec: PathBuf,
	/// Output file.
	pub out: PathBuf,
	/// Replace an existing output.
	pub force: bool,
	/// Trie layout when `:code` does not say (it normally does).
	pub state_version: Option<StateVersion>,
	/// Runtime metadata to store in the snapshot (a spec cannot provide it).
	pub metadata: Option<Vec<u8>>,
}

/// What `from-spec` produced.
#[derive(Debug, Clone)]
pub struct FromSpecSummary {
	/// The header written.
	pub header: Header,
	/// File size.
	pub file_bytes: u64,
}

struct Collect {
	name: Option<String>,
	top: Sorter,
	children: Sorter,
	saw_raw: bool,
	saw_plain: bool,
}

/// Child records sort by (child storage key, key): the child key is escaped (0x00 → 0x00 0x01)
/// and terminated by 0x00 0x00 so that byte order of the records equals that order.
fn child_record_key(child: &[u8], key: &[u8]) -> Vec<u8> {
	let mut out = Vec::with_capacity(child.len() + key.len() + 4);
	for &b in child {
		out.push(b);
		if b == 0 {
			out.push(1);
		}
	}
	out.extend_from_slice(&[0, 0]);
	out.extend_from_slice(key);
	out
}

fn split_child_record(rec: &[u8]) -> Option<(Vec<u8>, &[u8])> {
	let mut child = Vec::new();
	let mut i = 0;
	while i < rec.len() {
		if rec[i] == 0 {
			match rec.get(i + 1) {
				Some(0) => return Some((child, &rec[i + 2..])),
				Some(1) => {
					child.push(0);
					i += 2;
				}
				_ => return None,
			}
		} else {
			child.push(rec[i]);
			i += 1;
		}
	}
	None
}

struct RootSeed<'a>(&'a mut Collect);

impl<'de> DeserializeSeed<'de> for RootSeed<'_> {
	type Value = ();
	fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
		d.deserialize_map(self)
	}
}

impl<'de> Visitor<'de> for RootSeed<'_> {
	type Value = ();
	fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
		f.write_str("a chain spec object")
	}
	fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
		while let Some(key) = map.next_key::<String>()? {
			match key.as_str() {
				"name" => self.0.name = Some(map.next_value()?),
				"genesis" => map.next_value_seed(GenesisSeed(&mut *self.0))?,
				_ => {
					map.next_value::<IgnoredAny>()?;
				}
			}
		}
		Ok(())
	}
}

struct GenesisSeed<'a>(&'a mut Collect);

impl<'de> DeserializeSeed<'de> for GenesisSeed<'_> {
	type Value = ();
	fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
		d.deserialize_map(self)
	}
}

impl<'de> Visitor<'de> for GenesisSeed<'_> {
	type Value = ();
	fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
		f.write_str("a `genesis` object")
	}
	fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
		while let Some(key) = map.next_key::<String>()? {
			if key == "raw" {
				self.0.saw_raw = true;
				map.next_value_seed(RawSeed(&mut *self.0))?;
			} else {
				self.0.saw_plain = true;
				map.next_value::<IgnoredAny>()?;
			}
		}
		Ok(())
	}
}

struct RawSeed<'a>(&'a mut Collect);

impl<'de> DeserializeSeed<'de> for RawSeed<'_> {
	type Value = ();
	fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
		d.deserialize_map(self)
	}
}

impl<'de> Visitor<'de> for RawSeed<'_> {
	type Value = ();
	fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
		f.write_str("a `genesis.raw` object")
	}
	fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
		while let Some(key) = map.next_key::<String>()? {
			match key.as_str() {
				"top" => map.next_value_seed(PairsSeed {
					c: &mut *self.0,
					child: None,
				})?,
				"childrenDefault" => map.next_value_seed(ChildrenSeed(&mut *self.0))?,
				_ => {
					map.next_value::<IgnoredAny>()?;
				}
			}
		}
		Ok(())
	}
}

struct ChildrenSeed<'a>(&'a mut Collect);

impl<'de> DeserializeSeed<'de> for ChildrenSeed<'_> {
	type Value = ();
	fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
		d.deserialize_map(self)
	}
}

impl<'de> Visitor<'de> for ChildrenSeed<'_> {
	type Value = ();
	fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
		f.write_str("a `childrenDefault` object of child tries")
	}
	fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
		while let Some(key) = map.next_key::<String>()? {
			let child = format::unhex(&key).map_err(|e| {
				serde::de::Error::custom(format!("child trie key `{key}` is not hex: {e}"))
			})?;
			// Either the storage key itself or the full `:child_storage:default:` key.
			let child = child
				.strip_prefix(CHILD_STORAGE_PREFIX)
				.map(<[u8]>::to_vec)
				.unwrap_or(child);
			map.next_value_seed(PairsSeed {
				c: &mut *self.0,
				child: Some(child),
			})?;
		}
		Ok(())
	}
}

struct PairsSeed<'a> {
	c: &'a mut Collect,
	child: Option<Vec<u8>>,
}

impl<'de> DeserializeSeed<'de> for PairsSeed<'_> {
	type Value = ();
	fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
		d.deserialize_map(self)
	}
}

impl<'de> Visitor<'de> for PairsSeed<'_> {
	type Value = ();
	fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
		f.write_str("an object of hex keys to hex values")
	}
	fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
		use serde::de::Error;
		while let Some((k, v)) =
			map.next_entry::<std::borrow::Cow<'de, str>, std::borrow::Cow<'de, str>>()?
		{
			let key = format::unhex(&k)
				.map_err(|e| A::Error::custom(format!("key `{k}` is not hex: {e}")))?;
			let value = format::unhex(&v)
				.map_err(|e| A::Error::custom(format!("value of `{k}` is not hex: {e}")))?;
			let res = match &self.child {
				None => self.c.top.push(key, value),
				Some(ch) => self.c.children.push(child_record_key(ch, &key), value),
			};
			res.map_err(|e| A::Error::custom(e.to_string()))?;
		}
		Ok(())
	}
}

/// The runtime version embedded in a runtime's wasm (`runtime_version` custom section),
/// from a `:code` value (zstd-compressed with Substrate's prefix, or plain wasm).
pub fn runtime_version_of_code(code: &[u8]) -> Option<RuntimeInfo> {
	const ZSTD_PREFIX: [u8; 8] = [0x52, 0xbc, 0x53, 0x76, 0x46, 0xdb, 0x8e, 0x05];
	let wasm;
	let bytes = if let Some(c) = code.strip_prefix(&ZSTD_PREFIX) {
		wasm = zstd::bulk::decompress(c, 256 << 20).ok()?;
		&wasm[..]
	} else {
		code
	};
	let section = custom_section(bytes, b"runtime_version")?;
	let mut input = section;
	let spec_name = String::decode(&mut input).ok()?;
	let impl_name = String::decode(&mut input).ok()?;
	let _authoring = u32::decode(&mut input).ok()?;
	let spec_version = u32::decode(&mut input).ok()?;
	let impl_version = u32::decode(&mut input).ok()?;
	let apis = Compact::<u32>::decode(&mut input).ok()?.0 as usize;
	let skip = apis.checked_mul(12)?;
	input = input.get(skip..)?;
	let transaction_version = u32::decode(&mut input).unwrap_or(1);
	let state_version = u8::decode(&mut input).unwrap_or(0);
	Some(RuntimeInfo {
		spec_name,
		impl_name,
		spec_version,
		impl_version,
		transaction_version,
		state_version,
	})
}

fn leb128(bytes: &[u8], pos: &mut usize) -> Option<u32> {
	let mut result = 0u32;
	for shift in (0..35).step_by(7) {
		let b = *bytes.get(*pos)?;
		*pos += 1;
		result |= ((b & 0x7f) as u32) << shift;
		if b & 0x80 == 0 {
			return Some(result);
		}
	}
	None
}

fn custom_section<'a>(wasm: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
	if wasm.get(..4)? != b"\0asm" {
		return None;
	}
	let mut pos = 8;
	while pos < wasm.len() {
		let id = wasm[pos];
		pos += 1;
		let size = leb128(wasm, &mut pos)? as usize;
		let end = pos.checked_add(size)?;
		let body = wasm.get(pos..end)?;
		if id == 0 {
			let mut p = 0;
			let nlen = leb128(body, &mut p)? as usize;
			let n = body.get(p..p + nlen)?;
			if n == name {
				return body.get(p + nlen..);
			}
		}
		pos = end;
	}
	None
}

/// Reads a raw chain spec into a snapshot.
pub fn from_spec(opts: &FromSpecOptions) -> Result<FromSpecSummary> {
	// Own `out` (and its `.sort` work directory) before looking at it.
	if let Some(dir) = opts.out.parent().filter(|d| !d.as_os_str().is_empty()) {
		std::fs::create_dir_all(dir).map_err(|e| SnapshotError::io("create", dir, e))?;
	}
	let _lock = stagenet_config::files::OutputLock::acquire(&opts.out)
		.map_err(|source| SnapshotError::Locked { source })?;
	if opts.out.exists() && !opts.force {
		return Err(SnapshotError::OutputExists {
			path: opts.out.clone(),
		});
	}
	let spec_err = |reason: String, hint: &str| SnapshotError::Spec {
		path: opts.spec.clone(),
		reason,
		hint: hint.into(),
	};
	let file = File::open(&opts.spec).map_err(|e| SnapshotError::io("open", &opts.spec, e))?;
	let tmp_dir = tempdir_beside(&opts.out)?;
	let mut c = Collect {
		name: None,
		top: Sorter::new(&tmp_dir, "top", SORT_BUDGET),
		children: Sorter::new(&tmp_dir, "children", SORT_BUDGET / 4),
		saw_raw: false,
		saw_plain: false,
	};
	let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(1 << 20, file));
	let parsed = RootSeed(&mut c).deserialize(&mut de).and_then(|_| de.end());
	let result = (|| {
		parsed.map_err(|e| {
			spec_err(
				format!("not valid JSON or not a chain spec: {e}"),
				"pass a raw chain spec, as written by `<node> export-state` or `<node> build-spec --raw`",
			)
		})?;
		if !c.saw_raw {
			let hint = if c.saw_plain {
				"this spec holds a runtime genesis config, not raw storage: convert it with `<node> build-spec --chain <spec> --raw`"
			} else {
				"pass a raw chain spec, as written by `<node> export-state` or `<node> build-spec --raw`"
			};
			return Err(spec_err("it has no `genesis.raw` storage".into(), hint));
		}
		let name = c.name.take().unwrap_or_default();
		let top = std::mem::replace(&mut c.top, Sorter::new(&tmp_dir, "x", 0)).finish()?;
		let children =
			std::mem::replace(&mut c.children, Sorter::new(&tmp_dir, "y", 0)).finish()?;
		let out = write_snapshot(opts, &name, &top, &children, &tmp_dir);
		top.remove();
		children.remove();
		out
	})();
	let _ = std::fs::remove_dir_all(&tmp_dir);
	result
}

fn tempdir_beside(out: &Path) -> Result<PathBuf> {
	let mut name = out
		.file_name()
		.map(|n| n.to_os_string())
		.unwrap_or_default();
	name.push(".sort");
	let dir = out.with_file_name(name);
	std::fs::create_dir_all(&dir).map_err(|e| SnapshotError::io("create", &dir, e))?;
	Ok(dir)
}

fn write_snapshot(
	opts: &FromSpecOptions,
	name: &str,
	top: &Sorted,
	children: &Sorted,
	tmp_dir: &Path,
) -> Result<FromSpecSummary> {
	// The runtime (and so the trie layout) comes from `:code`.
	let mut runtime: Option<RuntimeInfo> = None;
	top.for_each(|k, v| {
		if k == b":code" {
			runtime = runtime_version_of_code(v);
		}
		Ok(())
	})?;
	let version =
		match (&runtime, opts.state_version) {
			(_, Some(v)) => v,
			(Some(r), None) => {
				StateVersion::from_u8(r.state_version).ok_or_else(|| SnapshotError::Spec {
					path: opts.spec.clone(),
					reason: format!(
						"the runtime in `:code` declares state version {}",
						r.state_version
					),
					hint: "pass `--state-version 0` or `1`".into(),
				})?
			}
			(None, None) => return Err(SnapshotError::Spec {
				path: opts.spec.clone(),
				reason:
					"no runtime version could be read from `:code`, so the trie layout is unknown"
						.into(),
				hint: "pass `--state-version 0` or `1`".into(),
			}),
		};
	// Pass 1: child roots, which the top trie holds under `:child_storage:default:<key>`.
	let mut child_roots: BTreeMap<Vec<u8>, [u8; 32]> = BTreeMap::new();
	let mut current: Option<(Vec<u8>, RootBuilder)> = None;
	let finish_child = |cur: Option<(Vec<u8>, RootBuilder)>,
	                    roots: &mut BTreeMap<Vec<u8>, [u8; 32]>| {
		if let Some((ck, b)) = cur {
			roots.insert(ck, b.finish());
		}
	};
	children.for_each(|rec, v| {
		let (ck, key) = split_child_record(rec).ok_or_else(|| SnapshotError::InvalidInput {
			reason: "a sorted child record lost its framing".into(),
			hint: "this is a bug in stagenet".into(),
		})?;
		if current.as_ref().map(|c| &c.0) != Some(&ck) {
			finish_child(current.take(), &mut child_roots);
			current = Some((ck, RootBuilder::new(version)));
		}
		if let Some((_, b)) = current.as_mut() {
			b.push(key, v).map_err(|e| SnapshotError::InvalidInput {
				reason: format!("child key order broken at `{}`", hex0x(&e.key)),
				hint: "this is a bug in stagenet".into(),
			})?;
		}
		Ok(())
	})?;
	finish_child(current.take(), &mut child_roots);

	let tmp = tmp_dir.join("out.snap");
	let source_name = opts
		.spec
		.file_name()
		.map(|n| n.to_string_lossy().into_owned())
		.unwrap_or_default();
	let mut writer = Writer::create(&tmp, version, format!("spec `{source_name}`"))?;
	writer.begin_trie(None)?;
	// Pass 2: the top trie, with the child roots merged in at their key positions.
	let mut pending: Vec<(Vec<u8>, [u8; 32])> = child_roots
		.iter()
		.map(|(ck, r)| ([CHILD_STORAGE_PREFIX, ck].concat(), *r))
		.collect();
	pending.reverse();
	top.for_each(|k, v| {
		while pending.last().is_some_and(|(ck, _)| ck.as_slice() < k) {
			if let Some((ck, r)) = pending.pop() {
				writer.push(&ck, &r)?;
			}
		}
		if pending.last().is_some_and(|(ck, _)| ck.as_slice() == k) {
			if let Some((ck, r)) = pending.pop() {
				if v != r {
					return Err(SnapshotError::Spec {
						path: opts.spec.clone(),
						reason: format!(
							"the top entry `{}` holds `{}`, but its child trie hashes to `{}`",
							hex0x(&ck),
							hex0x(v),
							hex0x(&r)
						),
						hint: "the spec's child trie and its root entry disagree; fix the file"
							.into(),
					});
				}
			}
		}
		writer.push(k, v)
	})?;
	while let Some((ck, r)) = pending.pop() {
		writer.push(&ck, &r)?;
	}
	// Pass 3: each child trie.
	let mut open: Option<Vec<u8>> = None;
	children.for_each(|rec, v| {
		let Some((ck, key)) = split_child_record(rec) else {
			return Ok(());
		};
		if open.as_ref() != Some(&ck) {
			writer.begin_trie(Some(ck.clone()))?;
			open = Some(ck);
		}
		writer.push(key, v)
	})?;
	let tries = writer.close_tries()?;
	let top_root = tries.first().map(|t| t.root.clone()).unwrap_or_default();
	let header = Header {
		format_version: format::FORMAT_VERSION,
		chain: name.to_string(),
		genesis_hash: None,
		block: None,
		state_root: top_root,
		state_version: version.as_u8(),
		runtime,
		tries: Vec::new(),
		key_count: 0,
		bytes: 0,
		source: Source::Spec { file: source_name },
		tool: format::tool_name(),
		verified: false,
	};
	let written = writer.finish(header.clone(), opts.metadata.as_deref())?;
	std::fs::rename(&tmp, &opts.out).map_err(|e| SnapshotError::io("rename", &tmp, e))?;
	Ok(FromSpecSummary {
		header: Header {
			tries: written.tries,
			key_count: written.key_count,
			bytes: written.bytes,
			..header
		},
		file_bytes: written.file_bytes,
	})
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn child_records_sort_by_child_then_key() {
		let a = child_record_key(&[1, 0], &[9]);
		let b = child_record_key(&[1, 0, 0], &[0]);
		let c = child_record_key(&[1, 1], &[0]);
		assert!(
			a < b && b < c,
			"[1,0] < [1,0,0] < [1,1] must hold for the records too"
		);
		assert_eq!(split_child_record(&b), Some((vec![1, 0, 0], &[0u8][..])));
	}

	#[test]
	fn a_plain_spec_is_refused_with_a_hint() {
		let dir = tempfile::tempdir().expect("temp dir");
		let spec = dir.path().join("plain.json");
		std::fs::write(
			&spec,
			br#"{"name":"x","genesis":{"runtimeGenesis":{"code":"0x00"}}}"#,
		)
		.expect("write");
		let err = from_spec(&FromSpecOptions {
			spec,
			out: dir.path().join("x.snap"),
			force: false,
			state_version: None,
			metadata: None,
		})
		.expect_err("plain spec");
		assert!(
			err.to_string().contains("build-spec --chain <spec> --raw"),
			"{err}"
		);
		assert!(!dir.path().join("x.snap").exists());
	}

	#[test]
	fn malformed_json_names_the_position() {
		let dir = tempfile::tempdir().expect("temp dir");
		let spec = dir.path().join("bad.json");
		std::fs::write(
			&spec,
			b"{\"name\":\"x\",\"genesis\":{\"raw\":{\"top\":{\"0x00\":}}}}",
		)
		.expect("write");
		let err = from_spec(&FromSpecOptions {
			spec,
			out: dir.path().join("x.snap"),
			force: false,
			state_version: Some(StateVersion::V1),
			metadata: None,
		})
		.expect_err("bad json");
		assert!(err.to_string().contains("line 1 column"), "{err}");
	}
}

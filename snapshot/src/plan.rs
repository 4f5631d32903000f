//! The partition of the key space into ranges that are downloaded independently, and the
//! checkpoint that records how far each one got.
//!
//! The top trie is cut at every storage-item prefix the metadata declares: one range per
//! item (all keys starting with its 32-byte prefix) and one "gap" range between consecutive
//! items (keys no item declares: well-known keys like `:code`, removed pallets' leftovers),
//! so the ranges cover every possible key exactly once. A big map (its first page full) is
//! split further by the first byte after its prefix, where hashed keys spread evenly. Each
//! child trie is one range.

use crate::{
	chain::Pinned,
	error::{Result, SnapshotError},
	format::{hex0x, unhex},
};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Checkpoint format version.
pub const CHECKPOINT_VERSION: u32 = 1;

/// Hex-serialised bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
	fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
		s.serialize_str(&hex0x(&self.0))
	}
}

impl<'de> Deserialize<'de> for Bytes {
	fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
		let s = String::deserialize(d)?;
		unhex(&s).map(Bytes).map_err(serde::de::Error::custom)
	}
}

/// One range of keys of one trie.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Range {
	/// Id (names its part file).
	pub id: u32,
	/// `None` for the top trie, else the child trie's storage key.
	pub child: Option<Bytes>,
	/// First key of the range (inclusive).
	pub start: Bytes,
	/// End of the range (exclusive); `None` for the end of the key space.
	pub end: Option<Bytes>,
	/// Prefix passed to `getKeysPaged`: every key in the range starts with it.
	pub query_prefix: Bytes,
	/// The query prefix the range was created with (a split narrows `query_prefix`; a range
	/// split before any of it was written starts again from this one).
	pub origin_prefix: Bytes,
	/// Last key written to the part file; paging continues after it.
	pub after: Option<Bytes>,
	/// Bytes of the part file that are complete.
	pub file_len: u64,
	/// Pairs in the part file.
	pub keys: u64,
	/// Bytes of keys and values in the part file.
	pub bytes: u64,
	/// Whether the whole range is in the part file.
	pub done: bool,
	/// How many times the range was split (its first page was full).
	pub splits: u8,
	/// The range this one was split off (for progress estimates).
	pub parent: Option<u32>,
}

impl Range {
	/// A range covering all keys with `prefix` (of the top trie unless `child`).
	pub fn prefix(id: u32, child: Option<Vec<u8>>, prefix: Vec<u8>, parent: Option<u32>) -> Self {
		Self {
			id,
			child: child.map(Bytes),
			end: increment(&prefix).map(Bytes),
			query_prefix: Bytes(prefix.clone()),
			origin_prefix: Bytes(prefix.clone()),
			start: Bytes(prefix),
			after: None,
			file_len: 0,
			keys: 0,
			bytes: 0,
			done: false,
			splits: 0,
			parent,
		}
	}

	/// A range `[start, end)` of the top trie whose keys all start with `prefix`.
	pub fn within(
		id: u32,
		prefix: Vec<u8>,
		start: Vec<u8>,
		end: Option<Vec<u8>>,
		parent: Option<u32>,
	) -> Self {
		let mut r = Self::between(id, start, end);
		r.query_prefix = Bytes(prefix.clone());
		r.origin_prefix = Bytes(prefix);
		r.parent = parent;
		r
	}

	/// A range `[start, end)` of the top trie.
	pub fn between(id: u32, start: Vec<u8>, end: Option<Vec<u8>>) -> Self {
		let query_prefix = match &end {
			Some(e) => common_prefix(&start, e).to_vec(),
			None => Vec::new(),
		};
		Self {
			id,
			child: None,
			start: Bytes(start),
			end: end.map(Bytes),
			origin_prefix: Bytes(query_prefix.clone()),
			query_prefix: Bytes(query_prefix),
			after: None,
			file_len: 0,
			keys: 0,
			bytes: 0,
			done: false,
			splits: 0,
			parent: None,
		}
	}

	/// Whether `key` lies before the end of the range.
	pub fn before_end(&self, key: &[u8]) -> bool {
		self.end.as_ref().is_none_or(|e| key < e.0.as_slice())
	}

	/// Sort key: child tries after the top trie, then by start key.
	pub fn order(&self) -> (Option<&[u8]>, &[u8]) {
		(
			self.child.as_ref().map(|c| c.0.as_slice()),
			self.start.0.as_slice(),
		)
	}
}

/// The smallest byte string greater than every string starting with `prefix`; `None` when
/// there is none (`prefix` is empty or all `0xff`).
pub fn increment(prefix: &[u8]) -> Option<Vec<u8>> {
	let mut v = prefix.to_vec();
	while let Some(last) = v.pop() {
		if last != 0xff {
			v.push(last + 1);
			return Some(v);
		}
	}
	None
}

/// The longest common prefix of two byte strings.
pub fn common_prefix<'a>(a: &'a [u8], b: &[u8]) -> &'a [u8] {
	let n = a.iter().zip(b).take_while(|(x, y)| x == y).count();
	&a[..n]
}

/// Ranges covering the whole top key space, cut at the given sorted, distinct prefixes
/// (none a prefix of another).
pub fn top_ranges(prefixes: &[[u8; 32]]) -> Vec<Range> {
	let mut ranges = Vec::new();
	let mut cursor: Option<Vec<u8>> = Some(Vec::new());
	let mut id = 0u32;
	for p in prefixes {
		let Some(c) = cursor.clone() else { break };
		if c.as_slice() < p.as_slice() {
			ranges.push(Range::between(id, c, Some(p.to_vec())));
			id += 1;
		}
		ranges.push(Range::prefix(id, None, p.to_vec(), None));
		id += 1;
		cursor = increment(p);
	}
	if let Some(c) = cursor {
		ranges.push(Range::between(id, c, None));
	}
	ranges
}

/// The checkpoint of a download in progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Checkpoint {
	/// Checkpoint format version.
	pub version: u32,
	/// The source URL (without credentials).
	pub url: String,
	/// The pinned block and its chain.
	pub pinned: Pinned,
	/// Every range.
	pub ranges: Vec<Range>,
}

impl Checkpoint {
	/// Reads a checkpoint.
	pub fn load(path: &Path) -> Result<Self> {
		let bytes = std::fs::read(path).map_err(|e| SnapshotError::io("read", path, e))?;
		let cp: Self = serde_json::from_slice(&bytes).map_err(|e| SnapshotError::Resume {
			reason: format!("the checkpoint `{}` does not parse: {e}", path.display()),
			hint: "start over with `--force`".into(),
		})?;
		if cp.version != CHECKPOINT_VERSION {
			return Err(SnapshotError::Resume {
				reason: format!(
					"the checkpoint `{}` is of version {}, this stagenet writes {CHECKPOINT_VERSION}",
					path.display(),
					cp.version
				),
				hint: "start over with `--force`".into(),
			});
		}
		Ok(cp)
	}

	/// Writes the checkpoint atomically (temporary file, then rename).
	pub fn save(&self, path: &Path) -> Result<()> {
		let tmp = path.with_extension("json.tmp");
		let bytes = serde_json::to_vec(self)
			.map_err(|e| SnapshotError::io("encode", path, std::io::Error::other(e)))?;
		std::fs::write(&tmp, bytes).map_err(|e| SnapshotError::io("write", &tmp, e))?;
		std::fs::rename(&tmp, path).map_err(|e| SnapshotError::io("rename", &tmp, e))
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn increment_carries_and_ends() {
		assert_eq!(increment(&[1, 2]), Some(vec![1, 3]));
		assert_eq!(increment(&[1, 0xff]), Some(vec![2]));
		assert_eq!(increment(&[0xff, 0xff]), None);
		assert_eq!(increment(&[]), None);
	}

	#[test]
	fn top_ranges_cover_the_key_space_without_overlap() {
		let mut a = [0x10u8; 32];
		let b = [0x20u8; 32];
		let c = [0xffu8; 32];
		a[31] = 0xff;
		let ranges = top_ranges(&[a, b, c]);
		// gap, a, gap, b, gap, c (c is all 0xff: nothing after it)
		assert_eq!(ranges.len(), 6);
		assert_eq!(ranges[0].start.0, Vec::<u8>::new());
		for w in ranges.windows(2) {
			assert_eq!(
				w[0].end.as_ref().map(|e| e.0.clone()),
				Some(w[1].start.0.clone())
			);
		}
		assert_eq!(ranges[5].end, None);
		let probe = |k: &[u8]| {
			ranges
				.iter()
				.filter(|r| r.start.0.as_slice() <= k && r.before_end(k))
				.count()
		};
		for k in [
			&b""[..],
			&[0x00],
			&a[..],
			&[0x10; 40],
			&b[..],
			&[0x20; 33],
			&c[..],
			&[0xff; 40],
			b":code",
		] {
			assert_eq!(probe(k), 1, "key {k:?} must lie in exactly one range");
		}
		// every key in a range starts with its query prefix
		for r in &ranges {
			assert!(r.start.0.starts_with(&r.query_prefix.0));
		}
	}
}

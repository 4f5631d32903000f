//! Streaming state-root calculator for Substrate tries.
//!
//! Substrate keeps its state in a base-16 Patricia–Merkle trie without extension nodes, hashed
//! with blake2-256 (`sp-trie`'s `LayoutV0` and `LayoutV1`). [`RootBuilder`] computes that trie's
//! root from key/value pairs fed in strictly increasing key order. It never holds the pairs: it
//! keeps the previous key and value, and the branches that are still open along that key's path
//! (at most one per nibble of the key), and turns every node into its 32-byte reference (or its
//! inline encoding) as soon as the node can no longer change.
//!
//! # Node encoding
//!
//! Every node starts with a header: a kind prefix in the high bits of the first byte and the
//! number of nibbles of its partial key in the remaining bits. When the count does not fit, the
//! low bits are all ones and the rest of the count follows in bytes of 255 ended by one byte
//! below 255.
//!
//! | kind                          | prefix      | bits for the count |
//! |-------------------------------|-------------|--------------------|
//! | empty trie                    | `0000_0000` | none               |
//! | leaf                          | `01`        | 6                  |
//! | branch without value          | `10`        | 6                  |
//! | branch with value             | `11`        | 6                  |
//! | leaf with hashed value        | `001`       | 5                  |
//! | branch with hashed value      | `0001`      | 4                  |
//!
//! The partial key follows, two nibbles per byte, an odd nibble count padding the *first* byte
//! with a zero high nibble. A branch then holds its children bitmap (`u16`, little-endian, bit
//! `i` for child nibble `i`), its value if any, and each present child in nibble order as
//! SCALE-encoded bytes: the child's encoding itself when it is shorter than 32 bytes, otherwise
//! its blake2-256 hash. Inline values are SCALE-encoded bytes (compact length, then the bytes);
//! with [`StateVersion::V1`] a value of 33 bytes or more is replaced by its 32-byte hash
//! (without a length) and the node uses a hashed-value prefix. The root is always hashed, however
//! short its encoding.

use std::mem;

use stagenet_chain::hash::blake2_256;

/// Header of the empty trie (its only byte).
const EMPTY_TRIE: u8 = 0;
/// Header prefix of a leaf with an inline value.
const LEAF: Prefix = Prefix {
	bits: 0b01 << 6,
	width: 2,
};
/// Header prefix of a branch without a value.
const BRANCH_NO_VALUE: Prefix = Prefix {
	bits: 0b10 << 6,
	width: 2,
};
/// Header prefix of a branch with an inline value.
const BRANCH_WITH_VALUE: Prefix = Prefix {
	bits: 0b11 << 6,
	width: 2,
};
/// Header prefix of a leaf whose value is stored as its hash (V1 only).
const HASHED_VALUE_LEAF: Prefix = Prefix {
	bits: 0b001 << 5,
	width: 3,
};
/// Header prefix of a branch whose value is stored as its hash (V1 only).
const HASHED_VALUE_BRANCH: Prefix = Prefix {
	bits: 0b0001 << 4,
	width: 4,
};
/// With V1, values at least this long are stored as their hash (`TRIE_VALUE_NODE_THRESHOLD`).
const VALUE_NODE_THRESHOLD: usize = 33;
/// Child encodings at least this long are referenced by their hash instead of inlined.
const HASH_LEN: usize = 32;

/// Trie layout version of the runtime (`RuntimeVersion::state_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StateVersion {
	/// Every value is stored inline in its node (`LayoutV0`).
	V0,
	/// Values of 33 bytes or more are stored as their blake2-256 hash (`LayoutV1`).
	V1,
}

impl StateVersion {
	/// The version for the runtime's `state_version` byte; `None` for an unknown version.
	pub fn from_u8(v: u8) -> Option<Self> {
		match v {
			0 => Some(Self::V0),
			1 => Some(Self::V1),
			_ => None,
		}
	}

	/// The runtime's `state_version` byte for this version.
	pub fn as_u8(self) -> u8 {
		match self {
			Self::V0 => 0,
			Self::V1 => 1,
		}
	}

	/// Whether a value of `len` bytes is stored as its hash rather than inline.
	fn hashes_value(self, len: usize) -> bool {
		self == Self::V1 && len >= VALUE_NODE_THRESHOLD
	}
}

/// Error: keys not strictly increasing.
#[derive(Debug, thiserror::Error)]
#[error(
	"state key `0x{}` does not sort after the previous key `0x{}` (hint: pairs must be fed in strictly increasing key order, without duplicates)",
	hex::encode(.key),
	hex::encode(.previous)
)]
pub struct OrderError {
	/// The key pushed before.
	pub previous: Vec<u8>,
	/// The rejected key: equal to or lower than `previous`.
	pub key: Vec<u8>,
}

/// Computes the Merkle root of a Substrate base-16 Patricia trie (sp-trie `LayoutV0`/`LayoutV1`,
/// no extension nodes, blake2-256) from key/value pairs fed in strictly increasing key order,
/// holding only O(key length) nodes in memory (never the whole set of pairs).
///
/// ```
/// use stagenet_snapshot::trie::{RootBuilder, StateVersion};
///
/// let mut builder = RootBuilder::new(StateVersion::V1);
/// builder.push(b":code", b"\0asm").unwrap();
/// builder.push(b":heappages", &8u64.to_le_bytes()).unwrap();
/// assert!(builder.push(b":code", b"").is_err());
/// assert_eq!(builder.count(), 2);
/// let root: [u8; 32] = builder.finish();
/// ```
#[derive(Debug, Clone)]
pub struct RootBuilder {
	version: StateVersion,
	count: u64,
	/// The last key pushed: its leaf is written once the next key (or the end) tells where it
	/// hangs.
	key: Vec<u8>,
	/// The last value pushed.
	value: Vec<u8>,
	/// Open branches along `key`'s path, by increasing depth; entries from `open` on are spare
	/// (kept so that their buffers are reused).
	branches: Vec<Branch>,
	/// Number of open branches in `branches`.
	open: usize,
	/// Scratch buffer holding the last encoded node.
	node: Vec<u8>,
}

/// A branch whose subtree is still being fed.
#[derive(Debug, Clone)]
struct Branch {
	/// Nibble index, in the keys below it, of the nibble that selects the child: the branch
	/// sits at the key made of the first `depth` nibbles.
	depth: usize,
	/// Whether a key ends exactly at this branch; its value is then in `value`.
	has_value: bool,
	value: Vec<u8>,
	/// Bit `i` set when child `i` is present in `children`.
	bitmap: u16,
	children: [ChildRef; 16],
}

/// How a parent refers to a finished node: its encoding when shorter than 32 bytes, its hash
/// otherwise.
#[derive(Debug, Clone, Copy)]
struct ChildRef {
	len: u8,
	data: [u8; HASH_LEN],
}

/// Kind bits of a node header and how many high bits of the first byte they take.
#[derive(Debug, Clone, Copy)]
struct Prefix {
	bits: u8,
	width: u32,
}

impl RootBuilder {
	/// An empty builder for tries of the given layout version.
	pub fn new(version: StateVersion) -> Self {
		Self {
			version,
			count: 0,
			key: Vec::with_capacity(128),
			value: Vec::with_capacity(128),
			branches: Vec::new(),
			open: 0,
			node: Vec::with_capacity(1024),
		}
	}

	/// Adds a pair; `key` must sort strictly after the previously pushed key. An empty value is
	/// a value like any other (it is not a deletion).
	pub fn push(&mut self, key: &[u8], value: &[u8]) -> Result<(), OrderError> {
		if self.count > 0 {
			let common = common_prefix_len(&self.key, key);
			if common == key.len() || (common < self.key.len() && key[common] < self.key[common]) {
				return Err(OrderError {
					previous: self.key.clone(),
					key: key.to_vec(),
				});
			}
			if common == self.key.len() {
				// The previous key is a prefix of this one: it ends at a branch that this key
				// (and maybe later ones) hangs below.
				let depth = 2 * common;
				self.open_branch(depth);
				let top = self.open - 1;
				let branch = &mut self.branches[top];
				branch.has_value = true;
				mem::swap(&mut branch.value, &mut self.value);
			} else {
				let same_high_nibble = (self.key[common] >> 4) == (key[common] >> 4);
				let divergence = 2 * common + usize::from(same_high_nibble);
				self.settle(Some(divergence));
			}
		}
		self.key.clear();
		self.key.extend_from_slice(key);
		self.value.clear();
		self.value.extend_from_slice(value);
		self.count += 1;
		Ok(())
	}

	/// Number of pairs pushed so far.
	pub fn count(&self) -> u64 {
		self.count
	}

	/// The root of the trie made of every pair pushed.
	pub fn finish(mut self) -> [u8; 32] {
		if self.count == 0 {
			return empty_root();
		}
		self.settle(None);
		blake2_256(&self.node)
	}

	/// Depth of the innermost open branch.
	fn top_depth(&self) -> Option<usize> {
		self.open.checked_sub(1).map(|top| self.branches[top].depth)
	}

	/// Opens a branch without value or children at `depth`, reusing a spare entry if any.
	fn open_branch(&mut self, depth: usize) {
		if self.open == self.branches.len() {
			self.branches.push(Branch {
				depth,
				has_value: false,
				value: Vec::new(),
				bitmap: 0,
				children: [ChildRef::EMPTY; 16],
			});
		} else {
			let branch = &mut self.branches[self.open];
			branch.depth = depth;
			branch.has_value = false;
			branch.bitmap = 0;
		}
		self.open += 1;
	}

	/// Writes the leaf of the pending key and closes every open branch deeper than
	/// `divergence`, the nibble at which the pending key and the next one part (`None` at the
	/// end: every branch closes). The innermost remaining branch is then at `divergence`
	/// (opened if needed) and refers to the closed subtree; at the end, `node` holds the
	/// encoded root node instead.
	fn settle(&mut self, divergence: Option<usize>) {
		let mut parent = self.top_depth().max(divergence);
		encode_leaf(
			self.version,
			&self.key,
			parent.map_or(0, |depth| depth + 1),
			&self.value,
			&mut self.node,
		);
		while let Some(depth) = parent {
			let child = ChildRef::of(&self.node);
			if self.top_depth() != Some(depth) {
				// Only the divergence point can lack its branch: both keys hang below it.
				self.open_branch(depth);
			}
			let top = self.open - 1;
			self.branches[top].set_child(nibble_at(&self.key, depth), child);
			if Some(depth) == divergence {
				return;
			}
			// Deeper than the divergence: nothing more can arrive below this branch.
			self.open = top;
			parent = self.top_depth().max(divergence);
			encode_branch(
				self.version,
				&self.branches[top],
				&self.key,
				parent.map_or(0, |depth| depth + 1),
				&mut self.node,
			);
		}
	}
}

impl Branch {
	fn set_child(&mut self, nibble: u8, child: ChildRef) {
		self.bitmap |= 1 << nibble;
		self.children[usize::from(nibble)] = child;
	}
}

impl ChildRef {
	const EMPTY: Self = Self {
		len: 0,
		data: [0; HASH_LEN],
	};

	fn of(encoded: &[u8]) -> Self {
		let mut data = [0; HASH_LEN];
		if encoded.len() < HASH_LEN {
			data[..encoded.len()].copy_from_slice(encoded);
			Self {
				// Below 32, so it fits.
				len: encoded.len() as u8,
				data,
			}
		} else {
			Self {
				len: HASH_LEN as u8,
				data: blake2_256(encoded),
			}
		}
	}

	fn as_bytes(&self) -> &[u8] {
		&self.data[..usize::from(self.len)]
	}
}

/// Encodes into `out` the leaf for `key`, whose partial key starts at nibble `start`.
fn encode_leaf(version: StateVersion, key: &[u8], start: usize, value: &[u8], out: &mut Vec<u8>) {
	out.clear();
	let end = 2 * key.len();
	let hashed = version.hashes_value(value.len());
	let prefix = if hashed { HASHED_VALUE_LEAF } else { LEAF };
	encode_header(prefix, end - start, out);
	encode_partial(key, start, end, out);
	encode_value(hashed, value, out);
}

/// Encodes into `out` a closed branch on `key`'s path, whose partial key starts at nibble
/// `start`.
fn encode_branch(
	version: StateVersion,
	branch: &Branch,
	key: &[u8],
	start: usize,
	out: &mut Vec<u8>,
) {
	out.clear();
	let hashed = branch.has_value && version.hashes_value(branch.value.len());
	let prefix = match (branch.has_value, hashed) {
		(false, _) => BRANCH_NO_VALUE,
		(true, false) => BRANCH_WITH_VALUE,
		(true, true) => HASHED_VALUE_BRANCH,
	};
	encode_header(prefix, branch.depth - start, out);
	encode_partial(key, start, branch.depth, out);
	out.extend_from_slice(&branch.bitmap.to_le_bytes());
	if branch.has_value {
		encode_value(hashed, &branch.value, out);
	}
	for (nibble, child) in branch.children.iter().enumerate() {
		if branch.bitmap & (1 << nibble) != 0 {
			let bytes = child.as_bytes();
			encode_compact(bytes.len() as u64, out);
			out.extend_from_slice(bytes);
		}
	}
}

/// Writes a node header: the kind prefix and the partial key's nibble count.
fn encode_header(prefix: Prefix, nibbles: usize, out: &mut Vec<u8>) {
	let max = usize::from(u8::MAX >> prefix.width);
	if nibbles < max {
		// Below `max`, so it fits in the low bits.
		out.push(prefix.bits | nibbles as u8);
		return;
	}
	out.push(prefix.bits | max as u8);
	let mut rest = nibbles - max;
	while rest >= 255 {
		out.push(255);
		rest -= 255;
	}
	out.push(rest as u8);
}

/// Writes nibbles `start..end` of `key`, two per byte, an odd count leaving the first byte's
/// high nibble zero.
fn encode_partial(key: &[u8], start: usize, end: usize, out: &mut Vec<u8>) {
	let mut at = start;
	if (end - start) % 2 == 1 {
		out.push(nibble_at(key, at));
		at += 1;
	}
	if at.is_multiple_of(2) {
		// Byte-aligned (and `end` is too): copy.
		out.extend_from_slice(&key[at / 2..end / 2]);
	} else {
		// Straddling bytes: each output byte is a low nibble and the next high nibble.
		let bytes = &key[at / 2..end.div_ceil(2)];
		out.extend(bytes.windows(2).map(|pair| (pair[0] << 4) | (pair[1] >> 4)));
	}
}

/// Writes a node's value: inline as SCALE bytes, or as its hash.
fn encode_value(hashed: bool, value: &[u8], out: &mut Vec<u8>) {
	if hashed {
		out.extend_from_slice(&blake2_256(value));
	} else {
		encode_compact(value.len() as u64, out);
		out.extend_from_slice(value);
	}
}

/// Writes `v` in SCALE compact encoding.
fn encode_compact(v: u64, out: &mut Vec<u8>) {
	if v < 1 << 6 {
		out.push((v as u8) << 2);
	} else if v < 1 << 14 {
		out.extend_from_slice(&(((v as u16) << 2) | 0b01).to_le_bytes());
	} else if v < 1 << 30 {
		out.extend_from_slice(&(((v as u32) << 2) | 0b10).to_le_bytes());
	} else {
		let len = (u64::BITS - v.leading_zeros()).div_ceil(8) as usize;
		out.push((((len - 4) as u8) << 2) | 0b11);
		out.extend_from_slice(&v.to_le_bytes()[..len]);
	}
}

/// Nibble `index` of `key` (high nibble first).
fn nibble_at(key: &[u8], index: usize) -> u8 {
	let byte = key[index / 2];
	if index.is_multiple_of(2) {
		byte >> 4
	} else {
		byte & 0x0f
	}
}

/// Length of the longest common prefix of `a` and `b`, in bytes.
fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
	let len = a.len().min(b.len());
	let (a, b) = (&a[..len], &b[..len]);
	let mut done = 0;
	for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
		let diff = u64::from_be_bytes(chunk8(x)) ^ u64::from_be_bytes(chunk8(y));
		if diff != 0 {
			return done + (diff.leading_zeros() / 8) as usize;
		}
		done += 8;
	}
	done + a[done..]
		.iter()
		.zip(&b[done..])
		.take_while(|(x, y)| x == y)
		.count()
}

/// The eight bytes of a chunk from `chunks_exact(8)`.
fn chunk8(chunk: &[u8]) -> [u8; 8] {
	let mut out = [0; 8];
	out.copy_from_slice(chunk);
	out
}

/// Root of the empty trie (blake2_256 of the encoded empty node).
pub fn empty_root() -> [u8; 32] {
	blake2_256(&[EMPTY_TRIE])
}

/// Convenience: root of an iterator of sorted pairs.
pub fn root_of<K: AsRef<[u8]>, V: AsRef<[u8]>>(
	version: StateVersion,
	pairs: impl IntoIterator<Item = (K, V)>,
) -> Result<[u8; 32], OrderError> {
	let mut builder = RootBuilder::new(version);
	for (key, value) in pairs {
		builder.push(key.as_ref(), value.as_ref())?;
	}
	Ok(builder.finish())
}


#[cfg(test)]
mod tests {
	use std::collections::BTreeMap;

	use super::*;

	type Pairs = BTreeMap<Vec<u8>, Vec<u8>>;

	/// Roots as computed by polkadot-sdk's sp-trie 47.0.0 (`LayoutV0<Blake2Hasher>::trie_root`
	/// and `LayoutV1<Blake2Hasher>::trie_root`, cross-checked there against `TrieDBMutBuilder`
	/// inserts) for the pairs of [`all_cases`]: name, V0 root, V1 root.
	const VECTORS: &[(&str, &str, &str)] = &[
		(
			"empty",
			"03170a2e7597b7b7e3d84c05391d139a62b157e78786d8c082f29dcf4c111314",
			"03170a2e7597b7b7e3d84c05391d139a62b157e78786d8c082f29dcf4c111314",
		),
		(
			"one_short",
			"4f217fb5a0fafe888fb351038138130fe655302aab8e21baba8dc6ce3071fd4f",
			"4f217fb5a0fafe888fb351038138130fe655302aab8e21baba8dc6ce3071fd4f",
		),
		(
			"one_empty_key",
			"f70382d7ded4afdc90449117bcad01659c56288d547dbabd7967e5a833479d06",
			"f70382d7ded4afdc90449117bcad01659c56288d547dbabd7967e5a833479d06",
		),
		(
			"one_empty_value",
			"c75ced9359a5030ce2df64cf252c001ed91375f46090b3ddd103d30d92ab7118",
			"c75ced9359a5030ce2df64cf252c001ed91375f46090b3ddd103d30d92ab7118",
		),
		(
			"value_32",
			"f0233122d07eac156faf2f4558d85b0f83d86c8e1e097d12df2e5241b6c7f453",
			"f0233122d07eac156faf2f4558d85b0f83d86c8e1e097d12df2e5241b6c7f453",
		),
		(
			"value_33",
			"a07848330bbbaeb0a4518f5360a2a698b76cc2be11900c4c6caaadc29c32164d",
			"91cf7e89009c9d816161a2f240fc1d75f4a78cb0c514e64130b211cb05d6c9ab",
		),
		(
			"prefixes",
			"cdec9e417db3634a3da4c1223d846ae13d00eb9a54997e65e9670d31355ddad7",
			"cdec9e417db3634a3da4c1223d846ae13d00eb9a54997e65e9670d31355ddad7",
		),
		(
			"prefixes_long_values",
			"e8b569ec6b0bfa06634678ac9aad81084fab555a6ff348d6c7e878c0dbfd91e3",
			"f61d6e6810e66a30357f4b2fb551ea28a4eea286e1aedfd5a5286688e1aaafd0",
		),
		(
			"empty_values",
			"8c13495b71bd04614d6bd5cf77b757b1cafb2ad8ae9e9630a2e6eba29f91d358",
			"8c13495b71bd04614d6bd5cf77b757b1cafb2ad8ae9e9630a2e6eba29f91d358",
		),
		(
			"value_sizes",
			"2edb266ad94b55466ad6c3001801beec3b60003d0c6aa85ae96362f4fd9ac3b1",
			"7806e2a2276e3fa6526a8cd45cf13be07ac4eebb5b4df856bf8fc6579205cdcd",
		),
		(
			"sixteen",
			"8d29e870d0399562e369b69d4fe8db8795e197e568c2c2a8ebedea272660ccb4",
			"8d29e870d0399562e369b69d4fe8db8795e197e568c2c2a8ebedea272660ccb4",
		),
		(
			"sixteen_nested",
			"3fcfdd76cd19ff20ad4fee10eecff6222b8ca4d1ed06b9425a814a390d33f951",
			"d0020b8be6ae115692ef25eeccd4f4a088f0a82ae3aebfd17d0065d636e48a7c",
		),
		(
			"long_prefix_7_short",
			"84138bfcc274d3b4fba96e869f47ccf1fcf617a9bf6a5d802dad701168a8d23b",
			"84138bfcc274d3b4fba96e869f47ccf1fcf617a9bf6a5d802dad701168a8d23b",
		),
		(
			"long_prefix_7_long",
			"96ac8ef316dd841c2965214ff4f5428d2ff8f05e82ef367dc9162e405138de06",
			"6c35a45146bc0e981148efbc5467372751b0cf831a22a09c4a61970465f6fad4",
		),
		(
			"long_prefix_15_short",
			"ab54b30cb1cd0bad57780e95387d6d14a534118edae22adb56c0ab48baa2575f",
			"ab54b30cb1cd0bad57780e95387d6d14a534118edae22adb56c0ab48baa2575f",
		),
		(
			"long_prefix_15_long",
			"35eae8bf498e12f401cd0def5ade15740bec3b3e9e1c639c282cfa4fd47a56dc",
			"1c9f03e9cfeab7cc5cc8fbe94cc194fcf9916ea3632954769714dcbccaa659eb",
		),
		(
			"long_prefix_16_short",
			"6936e6af36bc57e38527344726f92626606793a09cce5fa63a10af86c237456d",
			"6936e6af36bc57e38527344726f92626606793a09cce5fa63a10af86c237456d",
		),
		(
			"long_prefix_16_long",
			"5f223059cd42100a5c983b6e4ee06f4666d1a4d7224be7e35a04429f4d4a5723",
			"f1db5d7205d4e63bbab00949fd0da1a402a2da32f11c08e17556d20717d209f4",
		),
		(
			"long_prefix_30_short",
			"95b9691cc497add9fd4d2a2025e61065dcf4308a27568541fe68e58648905e48",
			"95b9691cc497add9fd4d2a2025e61065dcf4308a27568541fe68e58648905e48",
		),
		(
			"long_prefix_30_long",
			"a5430cbe47224b766ff21325606278b58baee852d39fa4b735e31ecbffc0701a",
			"a07ec15a8e8792e4617bab62fa025ab6c08c5a30b33c8c63bb4f36626084cda7",
		),
		(
			"long_prefix_31_short",
			"505b32a2f210a2a237afe44879073a82e65a63ab9e5805782475b7bcb4ad6223",
			"505b32a2f210a2a237afe44879073a82e65a63ab9e5805782475b7bcb4ad6223",
		),
		(
			"long_prefix_31_long",
			"a7773df071e67df2f2083f6a9675de1cdcb83b1828de3c25a92df9b8a373721e",
			"c1ccb53bb85ed159e4efb62fd189a657789b49707630796130ce0a21dd91c915",
		),
		(
			"long_prefix_32_short",
			"1e188ffa833d5fab35a8c5c60fcab566e25733a2a1d9943041a7d608c752e264",
			"1e188ffa833d5fab35a8c5c60fcab566e25733a2a1d9943041a7d608c752e264",
		),
		(
			"long_prefix_32_long",
			"6f2f4343810c4d025bbbea6614f2960fa9748cbcd5f9dacd1f96df1468a6d289",
			"c1df1ff099acdf92f5036ee6d48be96fa94c24c625d531d50c4b36aa354106af",
		),
		(
			"long_prefix_62_short",
			"d3f299db3ad912ab32a917181261fe685b2375ecb0514f006b223dc57a0bb458",
			"d3f299db3ad912ab32a917181261fe685b2375ecb0514f006b223dc57a0bb458",
		),
		(
			"long_prefix_62_long",
			"5f6fa204f704537509e96f921e4010aa099f23664d896ef0bf70fe669aa78e70",
			"223536a0431ff9c809d033950013364efa2dcaa760f46d3afac4071c6aed06cf",
		),
		(
			"long_prefix_63_short",
			"5209a16a75daf1ea2aaf2953b187320b92aaf5610a1d9ad0ff4ce3b0fbc867d3",
			"5209a16a75daf1ea2aaf2953b187320b92aaf5610a1d9ad0ff4ce3b0fbc867d3",
		),
		(
			"long_prefix_63_long",
			"4daff96a66d71aa470469541ea656334f506e8e50e4771645e20dd465e329eaa",
			"9dff755312d13ee599534394b0579a98f788c46ded6619defea7e5f4ae6500c1",
		),
		(
			"long_prefix_64_short",
			"0148bd8aa5ed20fde214969e90cebe52bd8951b110097c183a39c8f4f126f222",
			"0148bd8aa5ed20fde214969e90cebe52bd8951b110097c183a39c8f4f126f222",
		),
		(
			"long_prefix_64_long",
			"c5820abb82f5d7a3547631d892a06e62383cbe3ff12b11b28f2e989120420441",
			"012d0ddd0cd381da76561cd1e5907a2ce9b3070ae2b43f2119f03a41d6d8fae7",
		),
		(
			"long_prefix_159_short",
			"ac65f9c28a7bac6615982c80d02328f7566e8a18feb68f6a9504f78c12fe8f04",
			"ac65f9c28a7bac6615982c80d02328f7566e8a18feb68f6a9504f78c12fe8f04",
		),
		(
			"long_prefix_159_long",
			"2218a74deaa335302ac7adc9ca16b9ae2a8010d29e1413fde8253fe16c7447a2",
			"61da34b8a80c9cf57e733375cc0f2ddbe56a27c800a78e0a8f93659ded78c7eb",
		),
		(
			"long_prefix_160_short",
			"dd5e106f9675ab42a99f91fec5400c7701a5e82a46cc551ffcea53838606db49",
			"dd5e106f9675ab42a99f91fec5400c7701a5e82a46cc551ffcea53838606db49",
		),
		(
			"long_prefix_160_long",
			"359bbfcc79626021cc1c384d14f2f192576763e9d721a92eb1aaafe208457822",
			"e5ceffd3e30fb046a57122a60fe9dda2cf873f6407174e041047b5866f5cfa94",
		),
		(
			"long_prefix_200_short",
			"db46bb33de8579adc5cae5842f69463523caec2933f82579d2fc9a0a1149dd20",
			"db46bb33de8579adc5cae5842f69463523caec2933f82579d2fc9a0a1149dd20",
		),
		(
			"long_prefix_200_long",
			"4a03ebd57a0f5f51983c7b8c74fcc1c5afcdae88d4988b78aeb37789f9227ecf",
			"a2eb487e1a95fe6ff94d576a97a27ae086eb5641636f36631407b1df675d1854",
		),
		(
			"long_prefix_290_short",
			"257f159d1d52ea9031af646ad19a2224536ebdd8d9f1a9195215a0a6c942893f",
			"257f159d1d52ea9031af646ad19a2224536ebdd8d9f1a9195215a0a6c942893f",
		),
		(
			"long_prefix_290_long",
			"75306a3c8b7c84aee31ecafe3b3e06b2596b30ffddadcc01ed9630e2b4d67cfe",
			"37316cdb18a1c54324341760d3def383521765fb987af2ffbb1de63d9f7e6031",
		),
		(
			"single_long_key",
			"2b94659a84d06409c3519b45b3fc0ec2084202f9a9a88f6986881beb2e5e3da5",
			"2b94659a84d06409c3519b45b3fc0ec2084202f9a9a88f6986881beb2e5e3da5",
		),
		(
			"single_long_key_long_value",
			"129e7be3f483462108da2f6780d1d2c4069e32e2a5d6b42e4d4a802289ce039d",
			"67658f4e475c469b470296aee5e8030d4efc78889ad8f3bdb5406912eaa248e7",
		),
		(
			"random_uniform",
			"639149bc81ed1c38689c6a07d3c95367f4a9de8d95177b8d81c1095370418e1f",
			"fa73d24d91ae46d50174b4a13787c94290bb76658f7a6a47dc4a802914c8920e",
		),
		(
			"random_clustered",
			"b7ffd365b9f69c4c771a7b83bb13a8cd6db78252a107fb02b302db94bb5e447f",
			"33a8f1805f5d1811fb6b50a1e6ed45834ea7bb4a165c30879d4bff04848b1451",
		),
	];

	/// splitmix64: a small deterministic generator, duplicated in the reference program.
	struct Rng(u64);

	impl Rng {
		fn next(&mut self) -> u64 {
			self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
			let mut z = self.0;
			z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
			z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
			z ^ (z >> 31)
		}

		fn below(&mut self, n: u64) -> usize {
			(self.next() % n) as usize
		}

		fn bytes(&mut self, len: usize) -> Vec<u8> {
			(0..len).map(|_| self.next() as u8).collect()
		}
	}

	fn map<const N: usize>(pairs: [(&[u8], &[u8]); N]) -> Pairs {
		pairs
			.iter()
			.map(|(k, v)| (k.to_vec(), v.to_vec()))
			.collect()
	}

	/// `n` draws of a key of 1 to 80 random bytes and a value of 0 to 99 (first draw wins).
	fn random_uniform(seed: u64, n: usize) -> Pairs {
		let mut rng = Rng(seed);
		let mut out = Pairs::new();
		for _ in 0..n {
			let key_len = 1 + rng.below(80);
			let key = rng.bytes(key_len);
			let value_len = rng.below(100);
			let value = rng.bytes(value_len);
			out.entry(key).or_insert(value);
		}
		out
	}

	/// Keys made of one of 8 random prefixes (0 to 149 bytes) and up to 5 bytes from a small
	/// alphabet: deep shared paths, keys that are prefixes of others, odd divergences.
	fn random_clustered(seed: u64, n: usize) -> Pairs {
		const ALPHABET: [u8; 5] = [0x00, 0x01, 0x0f, 0xf0, 0xff];
		let mut rng = Rng(seed);
		let prefixes: Vec<Vec<u8>> = (0..8)
			.map(|_| {
				let len = rng.below(150);
				rng.bytes(len)
			})
			.collect();
		let mut out = Pairs::new();
		for _ in 0..n {
			let mut key = prefixes[rng.below(8)].clone();
			let suffix_len = rng.below(6);
			for _ in 0..suffix_len {
				key.push(ALPHABET[rng.below(5)]);
			}
			let value_len = rng.below(100);
			let value = rng.bytes(value_len);
			out.entry(key).or_insert(value);
		}
		out
	}

	/// A branch with a value under an `l`-byte common prefix, leaves and branches below it with
	/// even and odd partial keys of about `2 * l` nibbles.
	fn long_prefix(l: usize, value_len: usize) -> Pairs {
		let p = vec![0x5a; l];
		let v = vec![0x99; value_len];
		let cat = |parts: &[&[u8]]| parts.concat();
		let mut out = Pairs::new();
		out.insert(p.clone(), v.clone());
		out.insert(cat(&[&p, &[0x13], &vec![0x77; l]]), v.clone());
		out.insert(cat(&[&p, &[0x14]]), v.clone());
		out.insert(cat(&[&p, &[0x25], &vec![0x66; l]]), v.clone());
		out.insert(cat(&[&p, &[0x30], &vec![0x44; l], &[0x01]]), v.clone());
		out.insert(cat(&[&p, &[0x30], &vec![0x44; l], &[0x02]]), v.clone());
		out.insert(cat(&[&p, &[0x40], &vec![0x44; l], &[0x10]]), v.clone());
		out.insert(cat(&[&p, &[0x40], &vec![0x44; l], &[0x20]]), v.clone());
		out
	}

	fn all_cases() -> Vec<(String, Pairs)> {
		let mut cases: Vec<(String, Pairs)> = vec![
			("empty".into(), Pairs::new()),
			("one_short".into(), map([(b"abc", b"xyz")])),
			("one_empty_key".into(), map([(b"", b"v")])),
			("one_empty_value".into(), map([(b"k", b"")])),
			("value_32".into(), map([(b"key", &[0x11; 32])])),
			("value_33".into(), map([(b"key", &[0x22; 33])])),
			(
				"prefixes".into(),
				map([
					(b"", b"root"),
					(b"a", b"1"),
					(b"ab", b"2"),
					(b"abc", b"3"),
					(b"abd", b"4"),
					(b"b", b""),
				]),
			),
			(
				"prefixes_long_values".into(),
				map([
					(b"", &[1; 40]),
					(b"a", &[2; 33]),
					(b"ab", &[3; 32]),
					(b"abc", &[4; 100]),
					(b"abd", &[5; 33]),
					(b"b", &[6; 1]),
				]),
			),
			(
				"empty_values".into(),
				map([
					(b"", b""),
					(b"a", b""),
					(b"aa", b""),
					(b"ab", b""),
					(b"b", b""),
				]),
			),
		];
		let sizes = [
			0usize, 1, 31, 32, 33, 34, 63, 64, 65, 255, 256, 16383, 16384, 70000,
		];
		cases.push((
			"value_sizes".into(),
			sizes
				.iter()
				.enumerate()
				.map(|(i, &len)| (vec![0xaa, i as u8], (0..len).map(|b| b as u8).collect()))
				.collect(),
		));
		cases.push((
			"sixteen".into(),
			(0u8..16).map(|n| (vec![n << 4], vec![n])).collect(),
		));
		let mut nested: Pairs = (0u8..16)
			.map(|n| (vec![0x12, (n << 4) | n], vec![n; n as usize * 3]))
			.collect();
		nested.insert(vec![0x12], b"branch".to_vec());
		nested.insert(vec![0x13], b"sibling".to_vec());
		cases.push(("sixteen_nested".into(), nested));
		for l in [7usize, 15, 16, 30, 31, 32, 62, 63, 64, 159, 160, 200, 290] {
			cases.push((format!("long_prefix_{l}_short"), long_prefix(l, 1)));
			cases.push((format!("long_prefix_{l}_long"), long_prefix(l, 40)));
		}
		cases.push(("single_long_key".into(), map([(&[0xcd; 200], b"x")])));
		cases.push((
			"single_long_key_long_value".into(),
			map([(&[0xcd; 200], &[7; 50])]),
		));
		cases.push(("random_uniform".into(), random_uniform(1, 2000)));
		cases.push(("random_clustered".into(), random_clustered(2, 2000)));
		cases
	}

	#[test]
	fn roots_match_sp_trie() {
		let cases = all_cases();
		assert_eq!(cases.len(), VECTORS.len());
		for ((name, pairs), (expected_name, v0, v1)) in cases.iter().zip(VECTORS) {
			assert_eq!(name, expected_name);
			for (version, expected) in [(StateVersion::V0, v0), (StateVersion::V1, v1)] {
				let root = root_of(version, pairs).expect("a map iterates in order");
				assert_eq!(hex::encode(root), *expected, "case `{name}`, {version:?}");
			}
		}
	}

	#[test]
	fn values_of_32_and_33_bytes_differ_only_from_33_in_v1() {
		let short = map([(b"key", &[0x11; 32])]);
		let long = map([(b"key", &[0x22; 33])]);
		let root = |version, pairs: &Pairs| root_of(version, pairs).expect("sorted");
		assert_ne!(root(StateVersion::V0, &long), root(StateVersion::V1, &long));
		assert_eq!(
			root(StateVersion::V0, &short),
			root(StateVersion::V1, &short)
		);
	}

	#[test]
	fn empty_root_is_substrates() {
		assert_eq!(
			hex::encode(empty_root()),
			"03170a2e7597b7b7e3d84c05391d139a62b157e78786d8c082f29dcf4c111314"
		);
		assert_eq!(RootBuilder::new(StateVersion::V1).finish(), empty_root());
	}

	#[test]
	fn rejects_keys_out_of_order() {
		let mut builder = RootBuilder::new(StateVersion::V1);
		builder.push(b"abc", b"1").expect("first key");
		for bad in [&b"abc"[..], b"abb", b"ab", b"", b"ab\x00", b"\x00\xff"] {
			let err = builder.push(bad, b"2").expect_err("not after `abc`");
			assert_eq!(err.previous, b"abc");
			assert_eq!(err.key, bad);
		}
		let err = builder.push(b"abc", b"").expect_err("equal key");
		assert_eq!(
			err.to_string(),
			"state key `0x616263` does not sort after the previous key `0x616263` (hint: pairs must be fed in strictly increasing key order, without duplicates)"
		);
		// A rejected pair leaves the builder as it was.
		builder.push(b"abd", b"2").expect("after `abc`");
		assert_eq!(builder.count(), 2);
		let expected = root_of(StateVersion::V1, [(b"abc", b"1"), (b"abd", b"2")]).expect("sorted");
		assert_eq!(builder.finish(), expected);
	}

	#[test]
	fn counts_pairs() {
		let mut builder = RootBuilder::new(StateVersion::V0);
		assert_eq!(builder.count(), 0);
		for (key, value) in random_uniform(7, 100) {
			builder.push(&key, &value).expect("sorted");
		}
		assert_eq!(builder.count(), random_uniform(7, 100).len() as u64);
	}

	#[test]
	fn header_spills_long_nibble_counts() {
		let header = |prefix, nibbles| {
			let mut out = Vec::new();
			encode_header(prefix, nibbles, &mut out);
			out
		};
		assert_eq!(header(LEAF, 62), [0x7e]);
		assert_eq!(header(LEAF, 63), [0x7f, 0]);
		assert_eq!(header(LEAF, 317), [0x7f, 254]);
		assert_eq!(header(LEAF, 318), [0x7f, 255, 0]);
		assert_eq!(header(BRANCH_NO_VALUE, 0), [0x80]);
		assert_eq!(header(BRANCH_WITH_VALUE, 64), [0xff, 1]);
		assert_eq!(header(HASHED_VALUE_LEAF, 31), [0x3f, 0]);
		assert_eq!(header(HASHED_VALUE_BRANCH, 14), [0x1e]);
		assert_eq!(header(HASHED_VALUE_BRANCH, 15 + 255 + 3), [0x1f, 255, 3]);
	}

	#[test]
	fn compact_lengths() {
		let compact = |v| {
			let mut out = Vec::new();
			encode_compact(v, &mut out);
			out
		};
		assert_eq!(compact(0), [0]);
		assert_eq!(compact(63), [0xfc]);
		assert_eq!(compact(64), [0x01, 0x01]);
		assert_eq!(compact(16383), [0xfd, 0xff]);
		assert_eq!(compact(16384), [0x02, 0x00, 0x01, 0x00]);
		assert_eq!(compact(1 << 30), [0x03, 0x00, 0x00, 0x00, 0x40]);
		assert_eq!(compact(1 << 32), [0x07, 0x00, 0x00, 0x00, 0x00, 0x01]);
	}

	#[test]
	fn partial_keys_pack_from_any_nibble() {
		let partial = |start, end| {
			let mut out = Vec::new();
			encode_partial(&[0x12, 0x34, 0x56], start, end, &mut out);
			out
		};
		assert_eq!(partial(0, 6), [0x12, 0x34, 0x56]);
		assert_eq!(partial(1, 6), [0x02, 0x34, 0x56]);
		assert_eq!(partial(1, 5), [0x23, 0x45]);
		assert_eq!(partial(0, 5), [0x01, 0x23, 0x45]);
		assert_eq!(partial(3, 3), [] as [u8; 0]);
		assert_eq!(partial(2, 3), [0x03]);
	}

	#[test]
	fn common_prefix_in_bytes() {
		let a = b"0123456789abcdefXYZ";
		assert_eq!(common_prefix_len(a, a), a.len());
		assert_eq!(common_prefix_len(a, b"0123456789abcdefXY"), 18);
		assert_eq!(common_prefix_len(a, b"0123456789"), 10);
		assert_eq!(common_prefix_len(a, b"01234567x9"), 8);
		assert_eq!(common_prefix_len(a, b"0123456789abcdeg"), 15);
		assert_eq!(common_prefix_len(a, b"1"), 0);
		assert_eq!(common_prefix_len(a, b""), 0);
	}

	#[test]
	fn state_version_bytes() {
		for version in [StateVersion::V0, StateVersion::V1] {
			assert_eq!(StateVersion::from_u8(version.as_u8()), Some(version));
		}
		assert_eq!(StateVersion::from_u8(2), None);
	}
}

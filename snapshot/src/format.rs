//! The `.snap` file format, version 1.
//!
//! ```text
//! preamble   "STAGESNP" | format version u32 LE | 0u32
//! chunks     "CHNK" | trie u32 | pairs u32 | raw length u32 | compressed length u32
//!            | sha-256 of the compressed bytes [32] | zstd(pairs)
//!            pairs = (key length u32 LE, key, value length u32 LE, value)*, keys strictly
//!            increasing; the top trie's chunks first, then each child trie's in the order
//!            of their storage keys
//! header     JSON (`Header`): chain, genesis, block, roots, runtime, counts, source, tool
//! metadata   zstd(SCALE `RuntimeMetadataPrefixed`), may be empty
//! index      JSON (`Index`): per chunk its trie, offset, counts, checksum, first and last key
//! footer     "STGNSNPF" | header offset, length | metadata offset, length, raw length
//!            | index offset, length (u64 LE each) | sha-256 of every byte before the footer
//!            | format version u32 | "END!"
//! ```
//!
//! The header sits after the chunks (as in a zip file) because counts and roots are known
//! only once every pair has streamed through. Each chunk carries its own framing, so a
//! truncated file can still be walked and the damage named by chunk.

use serde::{Deserialize, Serialize};

/// Magic bytes opening every snapshot.
pub const MAGIC: &[u8; 8] = b"STAGESNP";
/// Magic bytes opening the footer.
pub const FOOTER_MAGIC: &[u8; 8] = b"STGNSNPF";
/// Magic bytes closing the file.
pub const END_MAGIC: &[u8; 4] = b"END!";
/// Magic bytes opening every chunk.
pub const CHUNK_MAGIC: &[u8; 4] = b"CHNK";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Length of the preamble.
pub const PREAMBLE_LEN: u64 = 16;
/// Length of a chunk's framing before its compressed bytes.
pub const CHUNK_HEADER_LEN: u64 = 52;
/// Length of the footer.
pub const FOOTER_LEN: u64 = 8 + 7 * 8 + 32 + 4 + 4;
/// A chunk is closed once its uncompressed pairs reach this many bytes.
pub const CHUNK_TARGET_BYTES: usize = 256 * 1024;
/// zstd level of chunks.
pub const ZSTD_LEVEL: i32 = 3;

/// Well-known prefix of the top-trie keys that hold a default child trie's root.
pub const CHILD_STORAGE_PREFIX: &[u8] = b":child_storage:default:";

/// The block a snapshot was taken at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct BlockInfo {
	/// Block number.
	pub number: u64,
	/// Block hash (0x hex).
	pub hash: String,
	/// Parent hash (0x hex).
	pub parent_hash: String,
}

/// The runtime the state belongs to (`state_getRuntimeVersion`, or the `runtime_version`
/// section of the wasm in `:code`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RuntimeInfo {
	/// `spec_name`.
	pub spec_name: String,
	/// `impl_name`.
	pub impl_name: String,
	/// `spec_version`.
	pub spec_version: u32,
	/// `impl_version`.
	pub impl_version: u32,
	/// `transaction_version`.
	pub transaction_version: u32,
	/// `state_version` (trie layout).
	pub state_version: u8,
}

/// One trie in the snapshot: the top trie (id 0) or a default child trie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct TrieInfo {
	/// Its id (the `trie` field of its chunks).
	pub id: u32,
	/// For a child trie, its storage key (0x hex, without `:child_storage:default:`).
	pub child: Option<String>,
	/// Number of pairs.
	pub keys: u64,
	/// Bytes of keys and values.
	pub bytes: u64,
	/// Root recomputed from the pairs (0x hex).
	pub root: String,
}

/// Where the state came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Source {
	/// Downloaded over JSON-RPC.
	Rpc {
		/// The node URL, without credentials.
		url: String,
	},
	/// Read from a raw chain spec's genesis.
	Spec {
		/// The spec file name.
		file: String,
	},
}

/// The snapshot header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Header {
	/// Format version (also in the preamble and footer).
	pub format_version: u32,
	/// Chain name (`system_chain`, or the spec's `name`).
	pub chain: String,
	/// Genesis hash (0x hex), when known.
	pub genesis_hash: Option<String>,
	/// The block, when the state is a block's (not for a spec's genesis).
	pub block: Option<BlockInfo>,
	/// The state root the pairs must hash to: the block header's, or for a spec the root
	/// computed when it was read (then `verified` is false: there is nothing to check against).
	pub state_root: String,
	/// Trie layout used to compute roots.
	pub state_version: u8,
	/// The runtime, when known.
	pub runtime: Option<RuntimeInfo>,
	/// Every trie with its counts and recomputed root; the top trie first.
	pub tries: Vec<TrieInfo>,
	/// Pairs in all tries.
	pub key_count: u64,
	/// Bytes of keys and values in all tries.
	pub bytes: u64,
	/// Where the state came from.
	pub source: Source,
	/// The tool that wrote it (`stagenet <version>`).
	pub tool: String,
	/// True when the recomputed top root equals an independent state root (a block header's)
	/// and every child root equals its entry in the top trie.
	pub verified: bool,
}

/// One chunk in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ChunkEntry {
	/// The trie it belongs to.
	pub trie: u32,
	/// Offset of its framing in the file.
	pub offset: u64,
	/// Number of pairs.
	pub pairs: u32,
	/// Uncompressed length.
	pub raw_len: u32,
	/// Compressed length.
	pub comp_len: u32,
	/// sha-256 of the compressed bytes (0x hex).
	pub checksum: String,
	/// First key (0x hex).
	pub first_key: String,
	/// Last key (0x hex).
	pub last_key: String,
}

/// The index: every chunk in file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub struct Index {
	/// The chunks.
	pub chunks: Vec<ChunkEntry>,
}

/// The fixed-size footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footer {
	/// Header offset.
	pub header_off: u64,
	/// Header length.
	pub header_len: u64,
	/// Metadata offset.
	pub metadata_off: u64,
	/// Metadata length (compressed).
	pub metadata_len: u64,
	/// Metadata length (uncompressed).
	pub metadata_raw_len: u64,
	/// Index offset.
	pub index_off: u64,
	/// Index length.
	pub index_len: u64,
	/// sha-256 of every byte before the footer.
	pub file_checksum: [u8; 32],
	/// Format version.
	pub version: u32,
}

impl Footer {
	/// Encodes the footer.
	pub fn encode(&self) -> Vec<u8> {
		let mut out = Vec::with_capacity(FOOTER_LEN as usize);
		out.extend_from_slice(FOOTER_MAGIC);
		for v in [
			self.header_off,
			self.header_len,
			self.metadata_off,
			self.metadata_len,
			self.metadata_raw_len,
			self.index_off,
			self.index_len,
		] {
			out.extend_from_slice(&v.to_le_bytes());
		}
		out.extend_from_slice(&self.file_checksum);
		out.extend_from_slice(&self.version.to_le_bytes());
		out.extend_from_slice(END_MAGIC);
		out
	}

	/// Decodes a footer; `None` when the magic bytes are not there.
	pub fn decode(bytes: &[u8]) -> Option<Self> {
		if bytes.len() != FOOTER_LEN as usize
			|| &bytes[..8] != FOOTER_MAGIC
			|| &bytes[bytes.len() - 4..] != END_MAGIC
		{
			return None;
		}
		let u64_at = |i: usize| {
			let mut b = [0u8; 8];
			b.copy_from_slice(&bytes[8 + i * 8..16 + i * 8]);
			u64::from_le_bytes(b)
		};
		let mut file_checksum = [0u8; 32];
		file_checksum.copy_from_slice(&bytes[64..96]);
		let mut v = [0u8; 4];
		v.copy_from_slice(&bytes[96..100]);
		Some(Self {
			header_off: u64_at(0),
			header_len: u64_at(1),
			metadata_off: u64_at(2),
			metadata_len: u64_at(3),
			metadata_raw_len: u64_at(4),
			index_off: u64_at(5),
			index_len: u64_at(6),
			file_checksum,
			version: u32::from_le_bytes(v),
		})
	}
}

/// The framing of one chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkHeader {
	/// Trie id.
	pub trie: u32,
	/// Pairs.
	pub pairs: u32,
	/// Uncompressed length.
	pub raw_len: u32,
	/// Compressed length.
	pub comp_len: u32,
	/// sha-256 of the compressed bytes.
	pub checksum: [u8; 32],
}

impl ChunkHeader {
	/// Encodes the framing.
	pub fn encode(&self) -> [u8; CHUNK_HEADER_LEN as usize] {
		let mut out = [0u8; CHUNK_HEADER_LEN as usize];
		out[..4].copy_from_slice(CHUNK_MAGIC);
		out[4..8].copy_from_slice(&self.trie.to_le_bytes());
		out[8..12].copy_from_slice(&self.pairs.to_le_bytes());
		out[12..16].copy_from_slice(&self.raw_len.to_le_bytes());
		out[16..20].copy_from_slice(&self.comp_len.to_le_bytes());
		out[20..52].copy_from_slice(&self.checksum);
		out
	}

	/// Decodes a framing; `None` when the magic bytes are not there.
	pub fn decode(bytes: &[u8; CHUNK_HEADER_LEN as usize]) -> Option<Self> {
		if &bytes[..4] != CHUNK_MAGIC {
			return None;
		}
		let u32_at = |i: usize| {
			let mut b = [0u8; 4];
			b.copy_from_slice(&bytes[i..i + 4]);
			u32::from_le_bytes(b)
		};
		let mut checksum = [0u8; 32];
		checksum.copy_from_slice(&bytes[20..52]);
		Some(Self {
			trie: u32_at(4),
			pairs: u32_at(8),
			raw_len: u32_at(12),
			comp_len: u32_at(16),
			checksum,
		})
	}
}

/// Appends one pair to an uncompressed chunk body.
pub fn encode_pair(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
	out.extend_from_slice(&(key.len() as u32).to_le_bytes());
	out.extend_from_slice(key);
	out.extend_from_slice(&(value.len() as u32).to_le_bytes());
	out.extend_from_slice(value);
}

/// Iterates the pairs of an uncompressed chunk body.
pub struct Pairs<'a> {
	raw: &'a [u8],
	pos: usize,
}

/// The pairs of an uncompressed chunk body.
pub fn pairs(raw: &[u8]) -> Pairs<'_> {
	Pairs { raw, pos: 0 }
}

impl<'a> Pairs<'a> {
	fn take(&mut self) -> Option<&'a [u8]> {
		let len_end = self.pos.checked_add(4)?;
		let len_bytes: [u8; 4] = self.raw.get(self.pos..len_end)?.try_into().ok()?;
		let len = u32::from_le_bytes(len_bytes) as usize;
		let end = len_end.checked_add(len)?;
		let item = self.raw.get(len_end..end)?;
		self.pos = end;
		Some(item)
	}
}

impl<'a> Iterator for Pairs<'a> {
	/// A pair, or `Err(offset)` where the body stops making sense.
	type Item = Result<(&'a [u8], &'a [u8]), usize>;

	fn next(&mut self) -> Option<Self::Item> {
		if self.pos >= self.raw.len() {
			return None;
		}
		let at = self.pos;
		let pair = self.take().and_then(|k| self.take().map(|v| (k, v)));
		match pair {
			Some(p) => Some(Ok(p)),
			None => {
				self.pos = self.raw.len();
				Some(Err(at))
			}
		}
	}
}

/// `0x`-prefixed lowercase hex.
pub fn hex0x(bytes: &[u8]) -> String {
	format!("0x{}", hex::encode(bytes))
}

/// Parses `0x`-prefixed (or bare) hex.
pub fn unhex(s: &str) -> Result<Vec<u8>, hex::FromHexError> {
	hex::decode(s.strip_prefix("0x").unwrap_or(s))
}

/// The tool name written into headers.
pub fn tool_name() -> String {
	format!("stagenet {}", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn footer_round_trips_and_rejects_bad_magic() {
		let f = Footer {
			header_off: 1,
			header_len: 2,
			metadata_off: 3,
			metadata_len: 4,
			metadata_raw_len: 5,
			index_off: 6,
			index_len: 7,
			file_checksum: [9; 32],
			version: FORMAT_VERSION,
		};
		let bytes = f.encode();
		assert_eq!(bytes.len() as u64, FOOTER_LEN);
		assert_eq!(Footer::decode(&bytes), Some(f));
		let mut bad = bytes.clone();
		bad[0] ^= 1;
		assert_eq!(Footer::decode(&bad), None);
	}

	#[test]
	fn pairs_round_trip_and_report_a_torn_body() {
		let mut raw = Vec::new();
		encode_pair(&mut raw, b"a", b"");
		encode_pair(&mut raw, b"bc", b"value");
		let got: Vec<_> = pairs(&raw).collect();
		assert_eq!(
			got,
			vec![Ok((&b"a"[..], &b""[..])), Ok((&b"bc"[..], &b"value"[..]))]
		);
		let torn = &raw[..raw.len() - 2];
		let got: Vec<_> = pairs(torn).collect();
		assert_eq!(got.len(), 2);
		assert_eq!(got[1], Err(9));
	}
}

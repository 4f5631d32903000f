//! Streaming `.snap` writer: pairs (or ready chunks) in, one file out; counts, checksums and
//! state roots are computed on the way through, so memory stays at one chunk plus one trie
//! path whatever the state size.

use crate::{
	error::{Result, SnapshotError},
	format::{
		self, encode_pair, hex0x, ChunkEntry, ChunkHeader, Footer, Header, Index, TrieInfo,
		CHUNK_HEADER_LEN, CHUNK_TARGET_BYTES, FORMAT_VERSION, MAGIC, ZSTD_LEVEL,
	},
	trie::{RootBuilder, StateVersion},
};
use sha2::{Digest, Sha256};
use std::{
	fs::File,
	io::{BufWriter, Write},
	path::{Path, PathBuf},
};

struct OpenTrie {
	id: u32,
	child: Option<Vec<u8>>,
	keys: u64,
	bytes: u64,
	root: RootBuilder,
}

/// What a finished writer produced.
#[derive(Debug, Clone)]
pub struct Written {
	/// Every trie with its counts and recomputed root.
	pub tries: Vec<TrieInfo>,
	/// Pairs in all tries.
	pub key_count: u64,
	/// Bytes of keys and values.
	pub bytes: u64,
	/// File size.
	pub file_bytes: u64,
	/// Chunks written.
	pub chunks: usize,
}

/// Writes a snapshot file. Open a trie with [`Writer::begin_trie`] (the top trie first, then
/// child tries in the order of their storage keys), then push its pairs in strictly
/// increasing key order.
pub struct Writer {
	path: PathBuf,
	/// Who produced the pairs, for error messages (a URL or a spec file).
	source: String,
	out: BufWriter<File>,
	hasher: Sha256,
	offset: u64,
	version: StateVersion,
	index: Index,
	finished_tries: Vec<TrieInfo>,
	current: Option<OpenTrie>,
	buf: Vec<u8>,
	buf_pairs: u32,
	buf_first: Vec<u8>,
	buf_last: Vec<u8>,
	compressor: zstd::bulk::Compressor<'static>,
}

impl Writer {
	/// Creates (truncates) `path` and writes the preamble. `source` names where the pairs come
	/// from in error messages.
	pub fn create(path: &Path, version: StateVersion, source: impl Into<String>) -> Result<Self> {
		let file = File::create(path).map_err(|e| SnapshotError::io("create", path, e))?;
		let compressor = zstd::bulk::Compressor::new(ZSTD_LEVEL)
			.map_err(|e| SnapshotError::io("start compressing", path, e))?;
		let mut w = Self {
			path: path.to_path_buf(),
			source: source.into(),
			out: BufWriter::with_capacity(1 << 20, file),
			hasher: Sha256::new(),
			offset: 0,
			version,
			index: Index::default(),
			finished_tries: Vec::new(),
			current: None,
			buf: Vec::with_capacity(CHUNK_TARGET_BYTES + 4096),
			buf_pairs: 0,
			buf_first: Vec::new(),
			buf_last: Vec::new(),
			compressor,
		};
		let mut preamble = Vec::with_capacity(16);
		preamble.extend_from_slice(MAGIC);
		preamble.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
		preamble.extend_from_slice(&0u32.to_le_bytes());
		w.write_all(&preamble)?;
		Ok(w)
	}

	fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
		self.out
			.write_all(bytes)
			.map_err(|e| SnapshotError::io("write", &self.path, e))?;
		self.hasher.update(bytes);
		self.offset += bytes.len() as u64;
		Ok(())
	}

	/// Closes the current trie (if any) and opens the next one: `None` for the top trie,
	/// `Some(storage key)` for a default child trie. Returns its id.
	pub fn begin_trie(&mut self, child: Option<Vec<u8>>) -> Result<u32> {
		self.end_trie()?;
		if child.is_none() && !self.finished_tries.is_empty() {
			return Err(SnapshotError::InvalidInput {
				reason: "the top trie must come first in a snapshot".into(),
				hint: "this is a bug in the caller of the snapshot writer".into(),
			});
		}
		if let (Some(new), Some(prev)) = (
			child.as_ref(),
			self.finished_tries.last().and_then(|t| t.child.as_ref()),
		) {
			if format::unhex(prev).ok().as_deref() >= Some(new.as_slice()) {
				return Err(SnapshotError::Inconsistent {
					url: self.source.clone(),
					reason: format!(
						"child trie `{}` comes after `{prev}`, not in key order",
						hex0x(new)
					),
				});
			}
		}
		let id = self.finished_tries.len() as u32;
		self.current = Some(OpenTrie {
			id,
			child,
			keys: 0,
			bytes: 0,
			root: RootBuilder::new(self.version),
		});
		Ok(id)
	}

	fn open_trie(&mut self) -> Result<&mut OpenTrie> {
		self.current
			.as_mut()
			.ok_or_else(|| SnapshotError::InvalidInput {
				reason: "a pair was written before any trie was opened".into(),
				hint: "this is a bug in the caller of the snapshot writer".into(),
			})
	}

	fn account(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
		let source = self.source.clone();
		let trie = self.open_trie()?;
		trie.root
			.push(key, value)
			.map_err(|e| SnapshotError::Inconsistent {
				url: source,
				reason: format!(
					"key `{}` does not come after `{}` (trie {})",
					hex0x(&e.key),
					hex0x(&e.previous),
					trie.id
				),
			})?;
		trie.keys += 1;
		trie.bytes += (key.len() + value.len()) as u64;
		Ok(())
	}

	/// Writes one pair into the open trie.
	pub fn push(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
		self.account(key, value)?;
		if self.buf_pairs == 0 {
			self.buf_first.clear();
			self.buf_first.extend_from_slice(key);
		}
		encode_pair(&mut self.buf, key, value);
		self.buf_pairs += 1;
		self.buf_last.clear();
		self.buf_last.extend_from_slice(key);
		if self.buf.len() >= CHUNK_TARGET_BYTES {
			self.flush_chunk()?;
		}
		Ok(())
	}

	/// Closes the chunk being filled, if any.
	pub fn flush_chunk(&mut self) -> Result<()> {
		if self.buf_pairs == 0 {
			return Ok(());
		}
		let trie = self.open_trie()?.id;
		let compressed = self
			.compressor
			.compress(&self.buf)
			.map_err(|e| SnapshotError::io("compress a chunk for", &self.path, e))?;
		let header = ChunkHeader {
			trie,
			pairs: self.buf_pairs,
			raw_len: self.buf.len() as u32,
			comp_len: compressed.len() as u32,
			checksum: Sha256::digest(&compressed).into(),
		};
		let first = std::mem::take(&mut self.buf_first);
		let last = std::mem::take(&mut self.buf_last);
		self.append_framed(header, &compressed, &first, &last)?;
		self.buf_first = first;
		self.buf_last = last;
		self.buf.clear();
		self.buf_pairs = 0;
		Ok(())
	}

	fn append_framed(
		&mut self,
		header: ChunkHeader,
		compressed: &[u8],
		first: &[u8],
		last: &[u8],
	) -> Result<()> {
		self.index.chunks.push(ChunkEntry {
			trie: header.trie,
			offset: self.offset,
			pairs: header.pairs,
			raw_len: header.raw_len,
			comp_len: header.comp_len,
			checksum: hex0x(&header.checksum),
			first_key: hex0x(first),
			last_key: hex0x(last),
		});
		self.write_all(&header.encode())?;
		self.write_all(compressed)
	}

	/// Copies a chunk that was already encoded (by [`encode_chunk`]) into the open trie;
	/// `raw` is its uncompressed body, whose pairs are counted and hashed into the root.
	pub fn push_chunk(&mut self, framed: &EncodedChunk, raw: &[u8]) -> Result<()> {
		self.flush_chunk()?;
		let trie = self.open_trie()?.id;
		let mut first: Option<&[u8]> = None;
		let mut last: &[u8] = &[];
		let mut n = 0u32;
		for pair in format::pairs(raw) {
			let (k, v) = pair.map_err(|at| SnapshotError::Corrupt {
				path: self.path.clone(),
				chunk: None,
				reason: format!("a chunk body to copy is torn at byte {at}"),
			})?;
			self.account(k, v)?;
			first.get_or_insert(k);
			last = k;
			n += 1;
		}
		let header = ChunkHeader {
			trie,
			pairs: n,
			raw_len: raw.len() as u32,
			comp_len: framed.compressed.len() as u32,
			checksum: framed.checksum,
		};
		self.append_framed(header, &framed.compressed, first.unwrap_or_default(), last)
	}

	fn end_trie(&mut self) -> Result<()> {
		self.flush_chunk()?;
		if let Some(t) = self.current.take() {
			let root = t.root.finish();
			self.finished_tries.push(TrieInfo {
				id: t.id,
				child: t.child.as_deref().map(hex0x),
				keys: t.keys,
				bytes: t.bytes,
				root: hex0x(&root),
			});
		}
		Ok(())
	}

	/// The tries closed so far (after [`Writer::begin_trie`] of the next one), with roots.
	pub fn finished_tries(&self) -> &[TrieInfo] {
		&self.finished_tries
	}

	/// Closes the last trie and returns every trie's counts and root, without writing the
	/// trailer yet (so that the caller can decide `verified` from the roots).
	pub fn close_tries(&mut self) -> Result<Vec<TrieInfo>> {
		self.end_trie()?;
		Ok(self.finished_tries.clone())
	}

	/// Writes header, metadata, index and footer, and syncs the file. `header.tries`,
	/// `key_count` and `bytes` are filled in from what was written.
	pub fn finish(mut self, mut header: Header, metadata: Option<&[u8]>) -> Result<Written> {
		self.end_trie()?;
		header.format_version = FORMAT_VERSION;
		header.tries = self.finished_tries.clone();
		header.key_count = header.tries.iter().map(|t| t.keys).sum();
		header.bytes = header.tries.iter().map(|t| t.bytes).sum();
		let header_json = serde_json::to_vec_pretty(&header).map_err(|e| {
			SnapshotError::io("encode the header of", &self.path, std::io::Error::other(e))
		})?;
		let header_off = self.offset;
		self.write_all(&header_json)?;
		let metadata_off = self.offset;
		let (metadata_len, metadata_raw_len) = match metadata {
			Some(m) if !m.is_empty() => {
				let c = self
					.compressor
					.compress(m)
					.map_err(|e| SnapshotError::io("compress the metadata for", &self.path, e))?;
				self.write_all(&c)?;
				(c.len() as u64, m.len() as u64)
			}
			_ => (0, 0),
		};
		let index_json = serde_json::to_vec(&self.index).map_err(|e| {
			SnapshotError::io("encode the index of", &self.path, std::io::Error::other(e))
		})?;
		let index_off = self.offset;
		self.write_all(&index_json)?;
		let footer = Footer {
			header_off,
			header_len: header_json.len() as u64,
			metadata_off,
			metadata_len,
			metadata_raw_len,
			index_off,
			index_len: index_json.len() as u64,
			file_checksum: self.hasher.clone().finalize().into(),
			version: FORMAT_VERSION,
		};
		let footer_bytes = footer.encode();
		self.out
			.write_all(&footer_bytes)
			.map_err(|e| SnapshotError::io("write", &self.path, e))?;
		let file_bytes = self.offset + footer_bytes.len() as u64;
		let file = self
			.out
			.into_inner()
			.map_err(|e| SnapshotError::io("write", &self.path, e.into_error()))?;
		file.sync_all()
			.map_err(|e| SnapshotError::io("sync", &self.path, e))?;
		Ok(Written {
			key_count: header.key_count,
			bytes: header.bytes,
			tries: header.tries,
			file_bytes,
			chunks: self.index.chunks.len(),
		})
	}
}

/// A compressed chunk body with its checksum, as stored in a download's part files.
#[derive(Debug, Clone)]
pub struct EncodedChunk {
	/// zstd bytes.
	pub compressed: Vec<u8>,
	/// sha-256 of `compressed`.
	pub checksum: [u8; 32],
}

/// Compresses an uncompressed chunk body.
pub fn encode_chunk(raw: &[u8]) -> std::io::Result<EncodedChunk> {
	let compressed = zstd::bulk::compress(raw, ZSTD_LEVEL)?;
	let checksum = Sha256::digest(&compressed).into();
	Ok(EncodedChunk {
		compressed,
		checksum,
	})
}

/// Length of a framed chunk on disk.
pub fn framed_len(comp_len: u32) -> u64 {
	CHUNK_HEADER_LEN + comp_len as u64
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::{
		format::{Source, CHILD_STORAGE_PREFIX},
		reader::Reader,
		trie::{root_of, StateVersion},
	};

	fn header(state_root: String) -> Header {
		Header {
			format_version: FORMAT_VERSION,
			chain: "test".into(),
			genesis_hash: None,
			block: None,
			state_root,
			state_version: 1,
			runtime: None,
			tries: Vec::new(),
			key_count: 0,
			bytes: 0,
			source: Source::Spec {
				file: "unit".into(),
			},
			tool: format::tool_name(),
			verified: false,
		}
	}

	/// Writes a top trie of `n` pairs plus one child trie whose root the top trie holds.
	fn write(path: &Path, n: u32, state_root: Option<String>) -> (Written, [u8; 32]) {
		let child_pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..50u32)
			.map(|i| (i.to_be_bytes().to_vec(), vec![7; 40]))
			.collect();
		let child_root = root_of(StateVersion::V1, child_pairs.clone()).expect("sorted");
		let mut top: Vec<(Vec<u8>, Vec<u8>)> = (0..n)
			.map(|i| {
				(
					format!("key-{i:08}").into_bytes(),
					vec![(i % 251) as u8; (i % 70) as usize],
				)
			})
			.collect();
		top.push(([CHILD_STORAGE_PREFIX, b"kid"].concat(), child_root.to_vec()));
		top.sort();
		let top_root = root_of(StateVersion::V1, top.clone()).expect("sorted");
		let mut w = Writer::create(path, StateVersion::V1, "unit").expect("create");
		w.begin_trie(None).expect("top");
		for (k, v) in &top {
			w.push(k, v).expect("push");
		}
		w.begin_trie(Some(b"kid".to_vec())).expect("child");
		for (k, v) in &child_pairs {
			w.push(k, v).expect("push");
		}
		let root = state_root.unwrap_or_else(|| hex0x(&top_root));
		(
			w.finish(header(root), Some(b"metadata bytes"))
				.expect("finish"),
			top_root,
		)
	}

	#[test]
	fn written_snapshots_read_back_and_verify() {
		let dir = tempfile::tempdir().expect("temp dir");
		let path = dir.path().join("a.snap");
		let (written, top_root) = write(&path, 20_000, None);
		assert!(written.chunks > 2, "several chunks: {}", written.chunks);
		assert_eq!(written.key_count, 20_000 + 1 + 50);
		let mut r = Reader::open(&path).expect("open");
		assert_eq!(
			r.metadata().expect("metadata").as_deref(),
			Some(&b"metadata bytes"[..])
		);
		assert_eq!(r.header().tries.len(), 2);
		let report = r.verify(|_, _| {}).expect("verify");
		assert_eq!(report.top_root, hex0x(&top_root));
		assert_eq!(report.child_tries, 1);
		assert_eq!(report.keys, written.key_count);
	}

	#[test]
	fn a_header_root_that_the_pairs_do_not_hash_to_fails_verification() {
		let dir = tempfile::tempdir().expect("temp dir");
		let path = dir.path().join("b.snap");
		write(&path, 100, Some(hex0x(&[1u8; 32])));
		let err = Reader::open(&path)
			.expect("open")
			.verify(|_, _| {})
			.expect_err("mismatch");
		assert!(matches!(err, SnapshotError::RootMismatch { .. }), "{err}");
		assert!(err.is_verification_failure());
	}

	#[test]
	fn keys_out_of_order_are_refused() {
		let dir = tempfile::tempdir().expect("temp dir");
		let mut w =
			Writer::create(&dir.path().join("c.snap"), StateVersion::V1, "unit").expect("create");
		w.begin_trie(None).expect("top");
		w.push(b"b", b"1").expect("push");
		let err = w.push(b"a", b"2").expect_err("out of order");
		assert!(err.to_string().contains("does not come after"), "{err}");
	}
}

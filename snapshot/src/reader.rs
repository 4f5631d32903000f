//! Streaming `.snap` reader and verifier.

use crate::{
	error::{Result, SnapshotError},
	format::{
		self, hex0x, unhex, ChunkEntry, ChunkHeader, Footer, Header, Index, CHILD_STORAGE_PREFIX,
		CHUNK_HEADER_LEN, END_MAGIC, FOOTER_LEN, FOOTER_MAGIC, FORMAT_VERSION, MAGIC, PREAMBLE_LEN,
	},
	trie::{RootBuilder, StateVersion},
};
use sha2::{Digest, Sha256};
use std::{
	collections::BTreeMap,
	fs::File,
	io::{Read, Seek, SeekFrom},
	path::{Path, PathBuf},
};

/// An open snapshot: header and index read, chunks read on demand.
pub struct Reader {
	path: PathBuf,
	file: File,
	len: u64,
	footer: Footer,
	header: Header,
	index: Index,
}

/// What `verify` checked.
#[derive(Debug, Clone)]
pub struct VerifyReport {
	/// Chunks whose checksum and framing were checked.
	pub chunks: usize,
	/// Pairs read.
	pub keys: u64,
	/// The recomputed top root.
	pub top_root: String,
	/// The root the header says the state must hash to.
	pub state_root: String,
	/// Child tries whose root matched their entry in the top trie.
	pub child_tries: usize,
	/// True when the state root comes from an independent source (a block header).
	pub independent: bool,
}

fn read_exact_at(file: &mut File, path: &Path, off: u64, buf: &mut [u8]) -> Result<()> {
	file.seek(SeekFrom::Start(off))
		.map_err(|e| SnapshotError::io("seek in", path, e))?;
	file.read_exact(buf)
		.map_err(|e| SnapshotError::io("read", path, e))
}

impl Reader {
	/// Opens a snapshot: checks the preamble, the footer and the format version, and reads
	/// header and index. Does not check chunk contents (see [`Reader::verify`]).
	pub fn open(path: &Path) -> Result<Self> {
		let mut file = File::open(path).map_err(|e| SnapshotError::io("open", path, e))?;
		let len = file
			.metadata()
			.map_err(|e| SnapshotError::io("stat", path, e))?
			.len();
		if len < PREAMBLE_LEN {
			return Err(SnapshotError::NotASnapshot {
				path: path.into(),
				reason: format!("it holds only {len} bytes"),
			});
		}
		let mut pre = [0u8; PREAMBLE_LEN as usize];
		read_exact_at(&mut file, path, 0, &mut pre)?;
		if &pre[..8] != MAGIC {
			return Err(SnapshotError::NotASnapshot {
				path: path.into(),
				reason: format!("it starts with `{}`, not `STAGESNP`", hex0x(&pre[..8])),
			});
		}
		let version = u32::from_le_bytes([pre[8], pre[9], pre[10], pre[11]]);
		let mut tail = vec![0u8; FOOTER_LEN as usize];
		let footer = if len >= PREAMBLE_LEN + FOOTER_LEN {
			read_exact_at(&mut file, path, len - FOOTER_LEN, &mut tail)?;
			Footer::decode(&tail)
		} else {
			None
		};
		if version != FORMAT_VERSION {
			return Err(SnapshotError::WrongVersion {
				path: path.into(),
				found: version,
				raw: hex0x(&pre[8..12]),
				footer: footer.map(|f| f.version),
				supported: FORMAT_VERSION,
			});
		}
		let Some(footer) = footer else {
			// One magic of the footer in place and the other not: the footer is damaged, the
			// file has its full length.
			let magic_at_start = len >= PREAMBLE_LEN + FOOTER_LEN && &tail[..8] == FOOTER_MAGIC;
			let magic_at_end =
				len >= PREAMBLE_LEN + FOOTER_LEN && &tail[tail.len() - 4..] == END_MAGIC;
			if magic_at_start || magic_at_end {
				return Err(SnapshotError::Corrupt {
					path: path.into(),
					chunk: None,
					reason: format!(
						"the footer (its last {FOOTER_LEN} bytes) is damaged: it {} but {} (the \
						 file has its full length: it was damaged, not cut short)",
						if magic_at_start {
							"starts with `STGNSNPF`"
						} else {
							"ends with `END!`"
						},
						if magic_at_start {
							format!("ends with `{}`, not `END!`", hex0x(&tail[tail.len() - 4..]))
						} else {
							format!("starts with `{}`, not `STGNSNPF`", hex0x(&tail[..8]))
						}
					),
				});
			}
			let reason = describe_truncation(&mut file, path, len)?;
			return Err(SnapshotError::Truncated {
				path: path.into(),
				reason,
			});
		};
		if footer.version != FORMAT_VERSION {
			return Err(SnapshotError::Corrupt {
				path: path.into(),
				chunk: None,
				reason: format!(
					"the footer is damaged: its format version reads `{}` ({}) where the preamble \
					 says {FORMAT_VERSION}",
					hex0x(&footer.version.to_le_bytes()),
					footer.version
				),
			});
		}
		let body_end = len - FOOTER_LEN;
		let section_ok = |off: u64, l: u64| off.checked_add(l).is_some_and(|e| e <= body_end);
		if !section_ok(footer.header_off, footer.header_len)
			|| !section_ok(footer.metadata_off, footer.metadata_len)
			|| !section_ok(footer.index_off, footer.index_len)
			|| footer.header_len > 64 << 20
			|| footer.index_len > 1 << 32
		{
			return Err(SnapshotError::Corrupt {
				path: path.into(),
				chunk: None,
				reason: "the footer is damaged: its offsets point outside the file".into(),
			});
		}
		let mut hb = vec![0u8; footer.header_len as usize];
		read_exact_at(&mut file, path, footer.header_off, &mut hb)?;
		let header: Header = serde_json::from_slice(&hb).map_err(|e| SnapshotError::Corrupt {
			path: path.into(),
			chunk: None,
			reason: format!(
				"the header does not parse (it or the footer's offsets are damaged): {e}"
			),
		})?;
		let mut ib = vec![0u8; footer.index_len as usize];
		read_exact_at(&mut file, path, footer.index_off, &mut ib)?;
		let index: Index = serde_json::from_slice(&ib).map_err(|e| SnapshotError::Corrupt {
			path: path.into(),
			chunk: None,
			reason: format!(
				"the index does not parse (it or the footer's offsets are damaged): {e}"
			),
		})?;
		Ok(Self {
			path: path.into(),
			file,
			len,
			footer,
			header,
			index,
		})
	}

	/// The header.
	pub fn path(&self) -> &std::path::Path {
		&self.path
	}

	/// The header.
	pub fn header(&self) -> &Header {
		&self.header
	}

	/// The chunks, in file order.
	pub fn chunks(&self) -> &[ChunkEntry] {
		&self.index.chunks
	}

	/// File size.
	pub fn file_len(&self) -> u64 {
		self.len
	}

	/// The SCALE runtime metadata, if the snapshot holds it.
	pub fn metadata(&mut self) -> Result<Option<Vec<u8>>> {
		if self.footer.metadata_len == 0 {
			return Ok(None);
		}
		let mut buf = vec![0u8; self.footer.metadata_len as usize];
		read_exact_at(
			&mut self.file,
			&self.path,
			self.footer.metadata_off,
			&mut buf,
		)?;
		let raw =
			zstd::bulk::decompress(&buf, self.footer.metadata_raw_len as usize).map_err(|e| {
				SnapshotError::Corrupt {
					path: self.path.clone(),
					chunk: None,
					reason: format!("the metadata section does not decompress: {e}"),
				}
			})?;
		Ok(Some(raw))
	}

	/// Reads chunk `i`, checks its framing against the index and its checksum, and returns
	/// its uncompressed body (see [`format::pairs`]).
	pub fn read_chunk(&mut self, i: usize) -> Result<Vec<u8>> {
		let (raw, _) = self.read_chunk_framed(i)?;
		Ok(raw)
	}

	/// Like [`Reader::read_chunk`], also returning the compressed bytes.
	pub fn read_chunk_framed(&mut self, i: usize) -> Result<(Vec<u8>, Vec<u8>)> {
		let entry =
			self.index
				.chunks
				.get(i)
				.cloned()
				.ok_or_else(|| SnapshotError::InvalidInput {
					reason: format!(
						"chunk {i} does not exist (the snapshot has {})",
						self.index.chunks.len()
					),
					hint: "this is a bug in the caller".into(),
				})?;
		let corrupt = |reason: String| SnapshotError::Corrupt {
			path: self.path.clone(),
			chunk: Some(i as u64),
			reason,
		};
		if entry
			.offset
			.saturating_add(CHUNK_HEADER_LEN + entry.comp_len as u64)
			> self.footer.header_off
		{
			return Err(corrupt("the index places it outside the chunk area".into()));
		}
		let mut hb = [0u8; CHUNK_HEADER_LEN as usize];
		read_exact_at(&mut self.file, &self.path, entry.offset, &mut hb)?;
		let h = ChunkHeader::decode(&hb)
			.ok_or_else(|| corrupt(format!("no chunk framing at byte {}", entry.offset)))?;
		if h.trie != entry.trie
			|| h.pairs != entry.pairs
			|| h.raw_len != entry.raw_len
			|| h.comp_len != entry.comp_len
			|| hex0x(&h.checksum) != entry.checksum
		{
			return Err(corrupt(format!(
				"its framing at byte {} disagrees with the index",
				entry.offset
			)));
		}
		let mut comp = vec![0u8; h.comp_len as usize];
		read_exact_at(
			&mut self.file,
			&self.path,
			entry.offset + CHUNK_HEADER_LEN,
			&mut comp,
		)?;
		let sum: [u8; 32] = Sha256::digest(&comp).into();
		if sum != h.checksum {
			return Err(corrupt(format!(
				"checksum mismatch (bytes {}..{}, trie {}, keys `{}`..`{}`)",
				entry.offset,
				entry.offset + CHUNK_HEADER_LEN + h.comp_len as u64,
				entry.trie,
				short(&entry.first_key),
				short(&entry.last_key)
			)));
		}
		let raw = zstd::bulk::decompress(&comp, h.raw_len as usize)
			.map_err(|e| corrupt(format!("it does not decompress: {e}")))?;
		if raw.len() != h.raw_len as usize {
			return Err(corrupt(format!(
				"it decompresses to {} bytes, not {}",
				raw.len(),
				h.raw_len
			)));
		}
		Ok((raw, comp))
	}

	/// Calls `f(trie, key, value)` for every pair, chunk by chunk, checking each chunk.
	pub fn for_each_pair(
		&mut self,
		mut f: impl FnMut(u32, &[u8], &[u8]) -> Result<()>,
	) -> Result<()> {
		for i in 0..self.index.chunks.len() {
			let trie = self.index.chunks[i].trie;
			let raw = self.read_chunk(i)?;
			for pair in format::pairs(&raw) {
				let (k, v) = pair.map_err(|at| SnapshotError::Corrupt {
					path: self.path.clone(),
					chunk: Some(i as u64),
					reason: format!("its pairs are torn at byte {at}"),
				})?;
				f(trie, k, v)?;
			}
		}
		Ok(())
	}

	/// Checks everything: each chunk's framing and checksum, pair counts and key order, the
	/// whole-file checksum, each child trie's root against its entry in the top trie, and
	/// the top root against the header's state root. The first failure is returned, naming
	/// the chunk where there is one.
	pub fn verify(&mut self, mut progress: impl FnMut(usize, usize)) -> Result<VerifyReport> {
		let version = StateVersion::from_u8(self.header.state_version).ok_or_else(|| {
			SnapshotError::Corrupt {
				path: self.path.clone(),
				chunk: None,
				reason: format!("unknown state version {}", self.header.state_version),
			}
		})?;
		let n = self.index.chunks.len();
		let mut roots: BTreeMap<u32, (RootBuilder, u64)> = BTreeMap::new();
		let mut child_roots_in_top: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
		let mut keys = 0u64;
		let mut expected_off = PREAMBLE_LEN;
		for i in 0..n {
			let entry = self.index.chunks[i].clone();
			if entry.offset != expected_off {
				return Err(SnapshotError::Corrupt {
					path: self.path.clone(),
					chunk: Some(i as u64),
					reason: format!(
						"the index places it at byte {}, the previous chunk ends at {expected_off}",
						entry.offset
					),
				});
			}
			expected_off = entry.offset + CHUNK_HEADER_LEN + entry.comp_len as u64;
			let raw = self.read_chunk(i)?;
			let (builder, count) = roots
				.entry(entry.trie)
				.or_insert_with(|| (RootBuilder::new(version), 0));
			let mut pairs_here = 0u32;
			for pair in format::pairs(&raw) {
				let corrupt = |reason: String| SnapshotError::Corrupt {
					path: self.path.clone(),
					chunk: Some(i as u64),
					reason,
				};
				let (k, v) =
					pair.map_err(|at| corrupt(format!("its pairs are torn at byte {at}")))?;
				builder.push(k, v).map_err(|e| {
					corrupt(format!(
						"key `{}` does not come after `{}`",
						hex0x(&e.key),
						hex0x(&e.previous)
					))
				})?;
				if entry.trie == 0 {
					if let Some(child) = k.strip_prefix(CHILD_STORAGE_PREFIX) {
						child_roots_in_top.insert(child.to_vec(), v.to_vec());
					}
				}
				pairs_here += 1;
			}
			if pairs_here != entry.pairs {
				return Err(SnapshotError::Corrupt {
					path: self.path.clone(),
					chunk: Some(i as u64),
					reason: format!(
						"it holds {pairs_here} pairs, its framing says {}",
						entry.pairs
					),
				});
			}
			*count += pairs_here as u64;
			keys += pairs_here as u64;
			progress(i + 1, n);
		}
		if expected_off != self.footer.header_off {
			return Err(SnapshotError::Corrupt {
				path: self.path.clone(),
				chunk: None,
				reason: format!(
					"the chunks end at byte {expected_off}, the header starts at {}",
					self.footer.header_off
				),
			});
		}
		self.check_file_checksum()?;
		let mut top_root = hex0x(&crate::trie::empty_root());
		let mut child_tries = 0usize;
		for t in self.header.tries.clone() {
			let (computed, count) = match roots.remove(&t.id) {
				Some((b, c)) => (hex0x(&b.finish()), c),
				None => (hex0x(&crate::trie::empty_root()), 0),
			};
			if count != t.keys || computed != t.root {
				return Err(SnapshotError::RootMismatch {
					what: format!("trie {} of `{}`", t.id, self.path.display()),
					expected: t.root.clone(),
					computed,
					keys: count,
					hint: "the file's pairs are not the ones it was written with; take the \
					       snapshot again"
						.into(),
				});
			}
			match &t.child {
				None => top_root = computed,
				Some(child) => {
					let key = unhex(child).unwrap_or_default();
					let in_top = child_roots_in_top.get(&key).map(|r| hex0x(r));
					if in_top.as_deref() != Some(computed.as_str()) {
						return Err(SnapshotError::RootMismatch {
							what: format!("child trie `{child}`"),
							expected: in_top.unwrap_or_else(|| "(no entry in the top trie)".into()),
							computed,
							keys: count,
							hint: "the child trie's pairs are incomplete or altered; take the \
							       snapshot again"
								.into(),
						});
					}
					child_tries += 1;
				}
			}
		}
		if let Some((id, _)) = roots.into_iter().next() {
			return Err(SnapshotError::Corrupt {
				path: self.path.clone(),
				chunk: None,
				reason: format!("chunks of trie {id} exist but the header does not list it"),
			});
		}
		if top_root != self.header.state_root {
			return Err(SnapshotError::RootMismatch {
				what: self
					.header
					.block
					.as_ref()
					.map(|b| format!("block #{} ({})", b.number, b.hash))
					.unwrap_or_else(|| "the snapshot".into()),
				expected: self.header.state_root.clone(),
				computed: top_root,
				keys,
				hint: "the snapshot is incomplete or altered; take it again".into(),
			});
		}
		Ok(VerifyReport {
			chunks: n,
			keys,
			top_root,
			state_root: self.header.state_root.clone(),
			child_tries,
			independent: self.header.verified,
		})
	}

	fn check_file_checksum(&mut self) -> Result<()> {
		let end = self.len - FOOTER_LEN;
		self.file
			.seek(SeekFrom::Start(0))
			.map_err(|e| SnapshotError::io("seek in", &self.path, e))?;
		let mut hasher = Sha256::new();
		let mut left = end;
		let mut buf = vec![0u8; 1 << 20];
		while left > 0 {
			let n = left.min(buf.len() as u64) as usize;
			self.file
				.read_exact(&mut buf[..n])
				.map_err(|e| SnapshotError::io("read", &self.path, e))?;
			hasher.update(&buf[..n]);
			left -= n as u64;
		}
		let sum: [u8; 32] = hasher.finalize().into();
		if sum != self.footer.file_checksum {
			return Err(SnapshotError::Corrupt {
				path: self.path.clone(),
				chunk: None,
				reason: "the whole-file checksum does not match (the damage lies outside the \
				         chunks: in the header, the metadata, the index, or the checksum in the \
				         footer)"
					.into(),
			});
		}
		Ok(())
	}
}

fn short(hex: &str) -> String {
	if hex.len() > 24 {
		format!("{}…", &hex[..24])
	} else {
		hex.to_string()
	}
}

/// Walks the chunk framing of a file without a footer and says where it stops.
fn describe_truncation(file: &mut File, path: &Path, len: u64) -> Result<String> {
	let mut off = PREAMBLE_LEN;
	let mut complete = 0u64;
	loop {
		if off == len {
			return Ok(format!(
				"it ends after chunk {} ({complete} complete chunks, {len} bytes) with no header, \
				 index or footer",
				complete.saturating_sub(1)
			));
		}
		if off + CHUNK_HEADER_LEN > len {
			return Ok(format!(
				"it ends inside the framing of chunk {complete} at byte {len}"
			));
		}
		let mut hb = [0u8; CHUNK_HEADER_LEN as usize];
		read_exact_at(file, path, off, &mut hb)?;
		let Some(h) = ChunkHeader::decode(&hb) else {
			return Ok(format!(
				"no footer, and chunk {complete} at byte {off} has no framing ({complete} chunks \
				 before it are intact)"
			));
		};
		let end = off + CHUNK_HEADER_LEN + h.comp_len as u64;
		if end > len {
			return Ok(format!(
				"it ends inside chunk {complete} (byte {len} of {end}); {complete} chunks before \
				 it are complete"
			));
		}
		off = end;
		complete += 1;
	}
}

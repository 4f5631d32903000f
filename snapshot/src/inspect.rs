//! `stagenet snapshot inspect`: what a snapshot holds, per pallet and storage item (names
//! from the snapshot's own metadata; prefixes it does not declare shown as hex).

use crate::{
	chain::storage_items,
	error::Result,
	format::{hex0x, Header, TrieInfo},
	reader::Reader,
};
use serde::Serialize;
use std::{collections::HashMap, path::Path};

/// Keys and bytes of one storage item.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct ItemUsage {
	/// Item name, or the hex of its 16-byte hash when the metadata does not declare it.
	pub name: String,
	/// Pairs.
	pub keys: u64,
	/// Bytes of keys and values.
	pub bytes: u64,
}

/// Keys and bytes of one pallet.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct PalletUsage {
	/// Pallet name; the hex of its 16-byte prefix when unknown; `(well-known keys)` for keys
	/// starting with `:`.
	pub name: String,
	/// Pairs.
	pub keys: u64,
	/// Bytes of keys and values.
	pub bytes: u64,
	/// Items, largest first.
	pub items: Vec<ItemUsage>,
}

/// The result of an inspection.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Inspection {
	/// The header.
	pub header: Header,
	/// File size.
	pub file_bytes: u64,
	/// Chunks.
	pub chunks: usize,
	/// Whether metadata was available to name pallets.
	pub has_metadata: bool,
	/// Top-trie usage per pallet, largest first.
	pub pallets: Vec<PalletUsage>,
	/// Child tries.
	pub child_tries: Vec<TrieInfo>,
	/// What `inspect` checked.
	pub checked: &'static str,
	/// What it did not check (`stagenet snapshot verify` does).
	pub not_checked: &'static str,
}

/// What `inspect` checks: the chunks it reads to count pairs.
pub const CHECKED: &str = "the preamble, the footer, and each chunk's framing and checksum (while \
                           counting its pairs)";
/// What `inspect` does not check: the header's fields are shown as written.
pub const NOT_CHECKED: &str = "the whole-file checksum (which covers the header, metadata and \
                               index) and the state root: the header's fields (chain, genesis, \
                               block, state root, runtime) are shown as written";

/// Keys and bytes per storage item (by its 32-byte prefix, or the whole key for others).
type Usage = HashMap<Vec<u8>, (u64, u64)>;

/// Reads every pair of the top trie and sums keys and bytes per pallet and item.
pub fn inspect(path: &Path) -> Result<Inspection> {
	let mut reader = Reader::open(path)?;
	let metadata = reader.metadata()?;
	let mut pallet_names: HashMap<[u8; 16], String> = HashMap::new();
	let mut item_names: HashMap<[u8; 32], String> = HashMap::new();
	if let Some(m) = &metadata {
		for item in storage_items(m)? {
			let mut p = [0u8; 16];
			p.copy_from_slice(&item.prefix[..16]);
			pallet_names.insert(p, item.pallet.clone());
			item_names.insert(item.prefix, item.item.clone());
		}
	}
	// (pallet key, item key) → (keys, bytes); well-known keys are grouped by their own name.
	let mut usage: HashMap<Vec<u8>, Usage> = HashMap::new();
	reader.for_each_pair(|trie, k, v| {
		if trie != 0 {
			return Ok(());
		}
		let n = (k.len() + v.len()) as u64;
		let (p, i): (&[u8], &[u8]) = if k.first() == Some(&b':') {
			(b":", k)
		} else if k.len() >= 32 {
			(&k[..16], &k[..32])
		} else {
			(&k[..k.len().min(16)], k)
		};
		let e = usage
			.entry(p.to_vec())
			.or_default()
			.entry(i.to_vec())
			.or_default();
		e.0 += 1;
		e.1 += n;
		Ok(())
	})?;
	let mut pallets: Vec<PalletUsage> = usage
		.into_iter()
		.map(|(p, items)| {
			let name = if p == b":" {
				"(well-known keys)".to_string()
			} else {
				<[u8; 16]>::try_from(p.as_slice())
					.ok()
					.and_then(|a| pallet_names.get(&a).cloned())
					.unwrap_or_else(|| hex0x(&p))
			};
			let mut items: Vec<ItemUsage> = items
				.into_iter()
				.map(|(i, (keys, bytes))| ItemUsage {
					name: if p == b":" {
						String::from_utf8(i.clone()).unwrap_or_else(|_| hex0x(&i))
					} else {
						<[u8; 32]>::try_from(i.as_slice())
							.ok()
							.and_then(|a| item_names.get(&a).cloned())
							.unwrap_or_else(|| hex0x(i.get(16..).unwrap_or_default()))
					},
					keys,
					bytes,
				})
				.collect();
			items.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
			PalletUsage {
				name,
				keys: items.iter().map(|i| i.keys).sum(),
				bytes: items.iter().map(|i| i.bytes).sum(),
				items,
			}
		})
		.collect();
	pallets.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
	let header = reader.header().clone();
	Ok(Inspection {
		child_tries: header
			.tries
			.iter()
			.filter(|t| t.child.is_some())
			.cloned()
			.collect(),
		file_bytes: reader.file_len(),
		chunks: reader.chunks().len(),
		has_metadata: metadata.is_some(),
		header,
		pallets,
		checked: CHECKED,
		not_checked: NOT_CHECKED,
	})
}

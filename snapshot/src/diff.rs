//! The difference between two snapshots of one chain, per pallet and storage item: keys and
//! bytes added, changed and removed. Both files are read as sorted streams, chunk by chunk,
//! so memory stays bounded whatever the state size. The top trie is compared; a child trie
//! that changed shows as a changed `:child_storage:` root under `(well-known keys)`.

use crate::{
	chain::storage_items,
	error::{Result, SnapshotError},
	format::{self, hex0x},
	reader::Reader,
};
use std::{
	collections::{BTreeMap, HashMap},
	path::Path,
};

/// Counts of one storage item (or of a whole pallet).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Change {
	/// Keys only in the second snapshot.
	pub added_keys: u64,
	/// Their bytes (key + value).
	pub added_bytes: u64,
	/// Keys in both, with different values.
	pub changed_keys: u64,
	/// Bytes of the new values of changed keys.
	pub changed_bytes: u64,
	/// Keys only in the first snapshot.
	pub removed_keys: u64,
	/// Their bytes (key + value).
	pub removed_bytes: u64,
}

impl Change {
	fn add(&mut self, other: &Change) {
		self.added_keys += other.added_keys;
		self.added_bytes += other.added_bytes;
		self.changed_keys += other.changed_keys;
		self.changed_bytes += other.changed_bytes;
		self.removed_keys += other.removed_keys;
		self.removed_bytes += other.removed_bytes;
	}

	/// Whether anything differs.
	pub fn is_empty(&self) -> bool {
		self.added_keys + self.changed_keys + self.removed_keys == 0
	}
}

/// The changes of one pallet.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PalletChange {
	/// Pallet name (`0x…` prefix when the metadata does not declare it, `(well-known keys)`).
	pub pallet: String,
	/// Totals of the pallet.
	pub total: Change,
	/// Per item that changed, by name.
	pub items: BTreeMap<String, Change>,
}

/// Reads the top-trie pairs of a snapshot in key order, one chunk in memory at a time.
struct Cursor {
	reader: Reader,
	chunk: usize,
	pairs: Vec<(Vec<u8>, Vec<u8>)>,
	pos: usize,
}

impl Cursor {
	fn open(path: &Path) -> Result<Self> {
		Ok(Self {
			reader: Reader::open(path)?,
			chunk: 0,
			pairs: Vec::new(),
			pos: 0,
		})
	}

	fn next(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
		loop {
			if self.pos < self.pairs.len() {
				let pair = std::mem::take(&mut self.pairs[self.pos]);
				self.pos += 1;
				return Ok(Some(pair));
			}
			let Some(entry) = self.reader.chunks().get(self.chunk) else {
				return Ok(None);
			};
			let (trie, i) = (entry.trie, self.chunk);
			self.chunk += 1;
			if trie != 0 {
				continue;
			}
			let raw = self.reader.read_chunk(i)?;
			self.pairs.clear();
			self.pos = 0;
			for pair in format::pairs(&raw) {
				let (k, v) = pair.map_err(|at| SnapshotError::Corrupt {
					path: self.reader.path().to_path_buf(),
					chunk: Some(i as u64),
					reason: format!("its pairs are torn at byte {at}"),
				})?;
				self.pairs.push((k.to_vec(), v.to_vec()));
			}
		}
	}
}

/// Compares `before` with `after` (two snapshots of the same chain) and returns the pallets
/// that changed, sorted by name. Names come from `after`'s metadata (else `before`'s).
pub fn diff(before: &Path, after: &Path) -> Result<Vec<PalletChange>> {
	let mut a = Cursor::open(before)?;
	let mut b = Cursor::open(after)?;
	let metadata = match b.reader.metadata()? {
		Some(m) => Some(m),
		None => a.reader.metadata()?,
	};
	let mut pallet_names: HashMap<[u8; 16], String> = HashMap::new();
	let mut item_names: HashMap<[u8; 32], (String, String)> = HashMap::new();
	if let Some(m) = &metadata {
		for item in storage_items(m)? {
			let mut p = [0u8; 16];
			p.copy_from_slice(&item.prefix[..16]);
			pallet_names.insert(p, item.pallet.clone());
			item_names.insert(item.prefix, (item.pallet.clone(), item.item.clone()));
		}
	}
	let name_of = |key: &[u8]| -> (String, String) {
		if key.first() == Some(&b':') {
			let name = String::from_utf8_lossy(key);
			let item = if name.starts_with(":child_storage:") {
				":child_storage: roots".to_string()
			} else {
				name.chars().take(32).collect()
			};
			return ("(well-known keys)".into(), item);
		}
		if let Some(item) = <[u8; 32]>::try_from(key.get(..32).unwrap_or_default())
			.ok()
			.and_then(|p| item_names.get(&p))
		{
			return item.clone();
		}
		let pallet = <[u8; 16]>::try_from(key.get(..16).unwrap_or_default())
			.ok()
			.and_then(|p| pallet_names.get(&p).cloned())
			.unwrap_or_else(|| hex0x(&key[..key.len().min(16)]));
		(pallet, hex0x(key.get(16..32).unwrap_or_default()))
	};
	let mut items: BTreeMap<(String, String), Change> = BTreeMap::new();
	let mut x = a.next()?;
	let mut y = b.next()?;
	loop {
		match (&x, &y) {
			(None, None) => break,
			(Some((k, v)), None) => {
				let c = items.entry(name_of(k)).or_default();
				c.removed_keys += 1;
				c.removed_bytes += (k.len() + v.len()) as u64;
				x = a.next()?;
			}
			(None, Some((k, v))) => {
				let c = items.entry(name_of(k)).or_default();
				c.added_keys += 1;
				c.added_bytes += (k.len() + v.len()) as u64;
				y = b.next()?;
			}
			(Some((ka, va)), Some((kb, vb))) => match ka.cmp(kb) {
				std::cmp::Ordering::Less => {
					let c = items.entry(name_of(ka)).or_default();
					c.removed_keys += 1;
					c.removed_bytes += (ka.len() + va.len()) as u64;
					x = a.next()?;
				}
				std::cmp::Ordering::Greater => {
					let c = items.entry(name_of(kb)).or_default();
					c.added_keys += 1;
					c.added_bytes += (kb.len() + vb.len()) as u64;
					y = b.next()?;
				}
				std::cmp::Ordering::Equal => {
					if va != vb {
						let c = items.entry(name_of(ka)).or_default();
						c.changed_keys += 1;
						c.changed_bytes += vb.len() as u64;
					}
					x = a.next()?;
					y = b.next()?;
				}
			},
		}
	}
	let mut pallets: BTreeMap<String, PalletChange> = BTreeMap::new();
	for ((pallet, item), change) in items {
		if change.is_empty() {
			continue;
		}
		let p = pallets
			.entry(pallet.clone())
			.or_insert_with(|| PalletChange {
				pallet,
				total: Change::default(),
				items: BTreeMap::new(),
			});
		p.total.add(&change);
		p.items.insert(item, change);
	}
	Ok(pallets.into_values().collect())
}

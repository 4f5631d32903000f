//! An external sort of key/value pairs with a memory budget: pairs are buffered, sorted runs
//! spill to temporary files when the budget is reached, and a k-way merge streams them back
//! in key order. Used for chain specs, whose JSON maps are not guaranteed to be sorted.

use crate::error::{Result, SnapshotError};
use std::{
	cmp::Reverse,
	collections::BinaryHeap,
	fs::File,
	io::{BufReader, BufWriter, Read, Write},
	path::{Path, PathBuf},
};

/// Buffers pairs and spills sorted runs to `dir`.
pub struct Sorter {
	dir: PathBuf,
	name: String,
	budget: usize,
	buf: Vec<(Vec<u8>, Vec<u8>)>,
	buf_bytes: usize,
	runs: Vec<PathBuf>,
	count: u64,
}

impl Sorter {
	/// A sorter holding at most about `budget` bytes in memory; runs are named `name-N.run`.
	pub fn new(dir: &Path, name: &str, budget: usize) -> Self {
		Self {
			dir: dir.to_path_buf(),
			name: name.to_string(),
			budget,
			buf: Vec::new(),
			buf_bytes: 0,
			runs: Vec::new(),
			count: 0,
		}
	}

	/// Pairs pushed.
	pub fn count(&self) -> u64 {
		self.count
	}

	/// Adds a pair.
	pub fn push(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<()> {
		// Per-pair overhead of two Vecs and the tuple.
		self.buf_bytes += key.len() + value.len() + 64;
		self.buf.push((key, value));
		self.count += 1;
		if self.buf_bytes >= self.budget {
			self.spill()?;
		}
		Ok(())
	}

	fn spill(&mut self) -> Result<()> {
		if self.buf.is_empty() {
			return Ok(());
		}
		self.buf.sort_unstable_by(|a, b| a.0.cmp(&b.0));
		let path = self
			.dir
			.join(format!("{}-{}.run", self.name, self.runs.len()));
		let file = File::create(&path).map_err(|e| SnapshotError::io("create", &path, e))?;
		let mut w = BufWriter::with_capacity(1 << 20, file);
		for (k, v) in self.buf.drain(..) {
			write_item(&mut w, &k)
				.and_then(|_| write_item(&mut w, &v))
				.map_err(|e| SnapshotError::io("write", &path, e))?;
		}
		w.flush()
			.map_err(|e| SnapshotError::io("write", &path, e))?;
		self.buf_bytes = 0;
		self.runs.push(path);
		Ok(())
	}

	/// Ends input. With everything in memory, nothing touches the disk.
	pub fn finish(mut self) -> Result<Sorted> {
		if self.runs.is_empty() {
			self.buf.sort_unstable_by(|a, b| a.0.cmp(&b.0));
			return Ok(Sorted {
				mem: self.buf,
				runs: Vec::new(),
			});
		}
		self.spill()?;
		Ok(Sorted {
			mem: Vec::new(),
			runs: self.runs,
		})
	}
}

fn write_item(w: &mut impl Write, b: &[u8]) -> std::io::Result<()> {
	w.write_all(&(b.len() as u32).to_le_bytes())?;
	w.write_all(b)
}

fn read_item(r: &mut impl Read) -> std::io::Result<Option<Vec<u8>>> {
	let mut len = [0u8; 4];
	match r.read_exact(&mut len) {
		Ok(()) => {}
		Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
		Err(e) => return Err(e),
	}
	let mut b = vec![0u8; u32::from_le_bytes(len) as usize];
	r.read_exact(&mut b)?;
	Ok(Some(b))
}

/// Sorted pairs, in memory or in runs on disk; can be walked more than once.
pub struct Sorted {
	mem: Vec<(Vec<u8>, Vec<u8>)>,
	runs: Vec<PathBuf>,
}

impl Sorted {
	/// Calls `f` for every pair in key order. Two equal keys are an error naming the key.
	pub fn for_each(&self, mut f: impl FnMut(&[u8], &[u8]) -> Result<()>) -> Result<()> {
		let mut prev: Option<Vec<u8>> = None;
		let mut check = |k: &[u8]| -> Result<()> {
			if prev.as_deref() == Some(k) {
				return Err(SnapshotError::InvalidInput {
					reason: format!("key `{}` appears twice", crate::format::hex0x(k)),
					hint: "a chain spec holds each key once; fix the file".into(),
				});
			}
			prev = Some(k.to_vec());
			Ok(())
		};
		if self.runs.is_empty() {
			for (k, v) in &self.mem {
				check(k)?;
				f(k, v)?;
			}
			return Ok(());
		}
		let mut readers = Vec::with_capacity(self.runs.len());
		for p in &self.runs {
			let file = File::open(p).map_err(|e| SnapshotError::io("open", p, e))?;
			readers.push((BufReader::with_capacity(256 << 10, file), p));
		}
		let mut heap = BinaryHeap::new();
		let next = |i: usize,
		            readers: &mut Vec<(BufReader<File>, &PathBuf)>|
		 -> Result<Option<(Vec<u8>, Vec<u8>)>> {
			let (r, p) = &mut readers[i];
			let k = read_item(r).map_err(|e| SnapshotError::io("read", p.as_path(), e))?;
			match k {
				None => Ok(None),
				Some(k) => {
					let v = read_item(r)
						.map_err(|e| SnapshotError::io("read", p.as_path(), e))?
						.ok_or_else(|| {
							SnapshotError::io(
								"read",
								p.as_path(),
								std::io::ErrorKind::UnexpectedEof.into(),
							)
						})?;
					Ok(Some((k, v)))
				}
			}
		};
		for i in 0..readers.len() {
			if let Some((k, v)) = next(i, &mut readers)? {
				heap.push(Reverse((k, i, v)));
			}
		}
		while let Some(Reverse((k, i, v))) = heap.pop() {
			check(&k)?;
			f(&k, &v)?;
			if let Some((k, v)) = next(i, &mut readers)? {
				heap.push(Reverse((k, i, v)));
			}
		}
		Ok(())
	}

	/// Removes the run files.
	pub fn remove(self) {
		for p in self.runs {
			let _ = std::fs::remove_file(p);
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn spilled_runs_merge_in_order_and_duplicates_are_refused() {
		let dir = tempfile::tempdir().expect("temp dir");
		let mut s = Sorter::new(dir.path(), "t", 200);
		let mut want = Vec::new();
		let mut x: u32 = 7;
		for i in 0..500u32 {
			x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
			let k = x.to_be_bytes().to_vec();
			want.push((k.clone(), i.to_le_bytes().to_vec()));
			s.push(k, i.to_le_bytes().to_vec()).expect("push");
		}
		want.sort();
		want.dedup_by(|a, b| a.0 == b.0);
		let sorted = s.finish().expect("finish");
		assert!(sorted.runs.len() > 1, "the budget must have forced spills");
		let mut got = Vec::new();
		sorted
			.for_each(|k, v| {
				got.push((k.to_vec(), v.to_vec()));
				Ok(())
			})
			.expect("merge");
		assert_eq!(got, want);

		let mut s = Sorter::new(dir.path(), "d", 1 << 20);
		s.push(vec![1], vec![1]).expect("push");
		s.push(vec![1], vec![2]).expect("push");
		let err = s
			.finish()
			.expect("finish")
			.for_each(|_, _| Ok(()))
			.expect_err("duplicate");
		assert!(err.to_string().contains("appears twice"), "{err}");
	}
}

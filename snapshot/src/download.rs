//! `stagenet snapshot`: download every key and value of a block's state over standard
//! JSON-RPC, in parallel ranges written to part files with a checkpoint, then assemble them
//! into one `.snap` whose recomputed state root must equal the block header's.

use crate::{
	chain::{self, rpc_err, BlockRef, Pinned},
	error::{Result, SnapshotError},
	format::{
		self, hex0x, ChunkHeader, Header, Source, CHILD_STORAGE_PREFIX, CHUNK_HEADER_LEN,
		CHUNK_TARGET_BYTES,
	},
	plan::{self, Bytes, Checkpoint, Range, CHECKPOINT_VERSION},
	rpc::{CallError, Node, NodeOptions},
	trie::StateVersion,
	writer::{encode_chunk, Writer},
};
use serde_json::{json, Value};
use std::{
	collections::{BTreeMap, VecDeque},
	fs::{File, OpenOptions},
	io::{Read, Seek, SeekFrom, Write},
	path::{Path, PathBuf},
	sync::{
		atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
		Arc, Mutex,
	},
	time::{Duration, Instant},
};

/// Keys per `getKeysPaged` call (the node's maximum).
pub const PAGE_SIZE: usize = 1000;

/// Options of a download.
#[derive(Debug, Clone)]
pub struct DownloadOptions {
	/// Node URL (`ws://` or `wss://`).
	pub url: String,
	/// Block to pin; the finalized head when `None`.
	pub at: Option<BlockRef>,
	/// Output file.
	pub out: PathBuf,
	/// Replace an existing output or interrupted download.
	pub force: bool,
	/// Continue an interrupted download.
	pub resume: bool,
	/// Ranges downloaded at once.
	pub concurrency: usize,
	/// WebSocket connections to the node.
	pub connections: usize,
	/// How long a dropped connection is retried.
	pub retry_for: Duration,
	/// Per-request timeout.
	pub request_timeout: Duration,
}

impl DownloadOptions {
	/// Defaults for `url` and `out`.
	pub fn new(url: impl Into<String>, out: impl Into<PathBuf>) -> Self {
		Self {
			url: url.into(),
			at: None,
			out: out.into(),
			force: false,
			resume: false,
			concurrency: 4,
			connections: 4,
			retry_for: Duration::from_secs(60),
			request_timeout: Duration::from_secs(60),
		}
	}
}

/// The stage a download is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
	/// Reading block, runtime and metadata; planning ranges.
	Planning,
	/// Fetching keys and values.
	Downloading,
	/// Writing the final file and recomputing roots.
	Assembling,
}

/// A progress report.
#[derive(Debug, Clone)]
pub struct Progress {
	/// Stage.
	pub phase: Phase,
	/// Pairs downloaded (or assembled).
	pub keys: u64,
	/// Bytes of keys and values.
	pub bytes: u64,
	/// Estimated total pairs (grows as big maps are discovered).
	pub estimated_keys: u64,
	/// Ranges finished.
	pub ranges_done: usize,
	/// Ranges known.
	pub ranges_total: usize,
	/// Since the start of this run.
	pub elapsed: Duration,
}

/// What a finished download produced.
#[derive(Debug, Clone)]
pub struct DownloadSummary {
	/// The header written.
	pub header: Header,
	/// File size.
	pub file_bytes: u64,
	/// Chunks.
	pub chunks: usize,
	/// Wall time of this run.
	pub elapsed: Duration,
	/// Whether this run continued an interrupted one.
	pub resumed: bool,
	/// RPC calls made by this run.
	pub calls: u64,
}

/// The work directory of a download into `out`.
pub fn work_dir(out: &Path) -> PathBuf {
	let mut name = out
		.file_name()
		.map(|n| n.to_os_string())
		.unwrap_or_default();
	name.push(".partial");
	out.with_file_name(name)
}

struct Shared {
	node: Node,
	at: String,
	work: PathBuf,
	ranges: Mutex<Vec<Range>>,
	queue: Mutex<VecDeque<u32>>,
	keys: AtomicU64,
	bytes: AtomicU64,
	calls: AtomicU64,
	value_batch: AtomicUsize,
	workers: usize,
	stop: AtomicBool,
	dirty: AtomicBool,
	checkpoint: Mutex<Checkpoint>,
}

impl Shared {
	fn part_path(&self, id: u32) -> PathBuf {
		self.work.join(format!("range-{id:06}.part"))
	}

	fn checkpoint_path(&self) -> PathBuf {
		self.work.join("checkpoint.json")
	}

	fn save_checkpoint(&self) -> Result<()> {
		let ranges = lock(&self.ranges).clone();
		let mut cp = lock(&self.checkpoint);
		cp.ranges = ranges;
		cp.save(&self.checkpoint_path())
	}

	fn update(&self, range: &Range) {
		let mut ranges = lock(&self.ranges);
		if let Some(r) = ranges.iter_mut().find(|r| r.id == range.id) {
			*r = range.clone();
		}
		self.dirty.store(true, Ordering::Relaxed);
	}

	async fn call<T: serde::de::DeserializeOwned>(
		&self,
		method: &str,
		params: &[Value],
	) -> Result<T, CallError> {
		self.calls.fetch_add(1, Ordering::Relaxed);
		self.node.call(method, params).await
	}

	fn err(&self, method: &str, e: CallError) -> SnapshotError {
		rpc_err(&self.node, method, e)
	}

	fn progress(&self, phase: Phase, started: Instant) -> Progress {
		let ranges = lock(&self.ranges);
		let done = ranges.iter().filter(|r| r.done).count();
		Progress {
			phase,
			keys: self.keys.load(Ordering::Relaxed),
			bytes: self.bytes.load(Ordering::Relaxed),
			estimated_keys: estimate(&ranges),
			ranges_done: done,
			ranges_total: ranges.len(),
			elapsed: started.elapsed(),
		}
	}
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
	m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Estimated total keys: finished ranges count as they are; an unfinished range split off
/// a big map counts as the mean of its finished siblings (they share a hash space).
fn estimate(ranges: &[Range]) -> u64 {
	let mut sibling: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
	for r in ranges.iter().filter(|r| r.done) {
		if let Some(p) = r.parent {
			let e = sibling.entry(p).or_default();
			e.0 += r.keys;
			e.1 += 1;
		}
	}
	ranges
		.iter()
		.map(|r| match (r.done, r.parent.and_then(|p| sibling.get(&p))) {
			(false, Some((sum, n))) if *n > 0 => r.keys.max(sum / n),
			_ => r.keys,
		})
		.sum()
}

/// Downloads the state of a block into a verified `.snap` file. `progress` is called about
/// once a second and at each phase change.
pub async fn download(
	opts: &DownloadOptions,
	progress: Arc<dyn Fn(&Progress) + Send + Sync>,
) -> Result<DownloadSummary> {
	let started = Instant::now();
	let work = work_dir(&opts.out);
	crate::rpc::check_ws_url(&opts.url).map_err(|p| SnapshotError::InvalidInput {
		reason: format!(
			"`--url {}` is not a node's WebSocket URL: {}",
			stagenet_chain::url::redact(&opts.url),
			p.reason
		),
		hint: p.hint,
	})?;
	// Own `out` and its work directory before looking at them: a second download into the
	// same `out` (a `--resume` while this one runs) is refused, naming this process, instead
	// of mixing its parts with ours.
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
	let resuming = opts.resume && work.join("checkpoint.json").exists();
	if opts.resume && !resuming {
		return Err(SnapshotError::Resume {
			reason: format!(
				"no interrupted download of `{}` (no `{}`)",
				opts.out.display(),
				work.display()
			),
			hint: "run the command without `--resume`".into(),
		});
	}
	if work.exists() && !resuming {
		if !opts.force {
			return Err(SnapshotError::InterruptedDownloadExists {
				path: opts.out.clone(),
				work,
			});
		}
		std::fs::remove_dir_all(&work).map_err(|e| SnapshotError::io("remove", &work, e))?;
	}
	let node = Node::connect(
		&opts.url,
		NodeOptions {
			connections: opts.connections,
			retry_for: opts.retry_for,
			request_timeout: opts.request_timeout,
		},
	)
	.await?;

	let (checkpoint, metadata) = if resuming {
		let cp = Checkpoint::load(&work.join("checkpoint.json"))?;
		let genesis = chain::block_hash(&node, 0).await?.unwrap_or_default();
		if genesis != cp.pinned.genesis_hash {
			return Err(SnapshotError::Resume {
				reason: format!(
					"the interrupted download is of chain `{}` (genesis `{}`); `{}` serves genesis `{genesis}`",
					cp.pinned.chain, cp.pinned.genesis_hash, node.shown_url()
				),
				hint: "point `--url` at a node of the same chain, or start over with `--force`"
					.into(),
			});
		}
		if let Some(at) = &opts.at {
			let same = match at {
				BlockRef::Number(n) => *n == cp.pinned.block.number,
				BlockRef::Hash(h) => h.eq_ignore_ascii_case(&cp.pinned.block.hash),
			};
			if !same {
				return Err(SnapshotError::Resume {
					reason: format!(
						"the interrupted download is pinned at block #{} ({}), not {at}",
						cp.pinned.block.number, cp.pinned.block.hash
					),
					hint: "drop `--at` to continue it, or start over with `--force`".into(),
				});
			}
		}
		chain::check_state_available(&node, &cp.pinned.block).await?;
		let mpath = work.join("metadata.scale");
		let metadata = std::fs::read(&mpath).map_err(|e| SnapshotError::io("read", &mpath, e))?;
		(cp, metadata)
	} else {
		let block = chain::resolve_block(&node, opts.at.as_ref()).await?;
		chain::check_state_available(&node, &block).await?;
		let pinned = chain::pin(&node, block).await?;
		let metadata = chain::metadata(&node, &pinned.block.hash).await?;
		std::fs::create_dir_all(&work).map_err(|e| SnapshotError::io("create", &work, e))?;
		let mpath = work.join("metadata.scale");
		std::fs::write(&mpath, &metadata).map_err(|e| SnapshotError::io("write", &mpath, e))?;
		let items = chain::storage_items(&metadata)?;
		let prefixes: Vec<[u8; 32]> = items.iter().map(|i| i.prefix).collect();
		let mut ranges = plan::top_ranges(&prefixes);
		let children = list_child_tries(&node, &pinned.block.hash).await?;
		for child in children {
			let id = ranges.len() as u32;
			ranges.push(Range::prefix(id, Some(child), Vec::new(), None));
		}
		let cp = Checkpoint {
			version: CHECKPOINT_VERSION,
			url: stagenet_chain::url::redact(&opts.url),
			pinned,
			ranges,
		};
		cp.save(&work.join("checkpoint.json"))?;
		(cp, metadata)
	};
	let version =
		StateVersion::from_u8(checkpoint.pinned.runtime.state_version).ok_or_else(|| {
			SnapshotError::InvalidInput {
				reason: format!(
					"the runtime declares state version {}",
					checkpoint.pinned.runtime.state_version
				),
				hint: "only state versions 0 and 1 exist; is this a Substrate node?".into(),
			}
		})?;
	tracing::info!(
		target: "stagenet::snapshot",
		block = checkpoint.pinned.block.number,
		hash = %checkpoint.pinned.block.hash,
		ranges = checkpoint.ranges.len(),
		resumed = resuming,
		"pinned"
	);

	let pinned = checkpoint.pinned.clone();
	let ranges = checkpoint.ranges.clone();
	let queue: VecDeque<u32> = ranges.iter().filter(|r| !r.done).map(|r| r.id).collect();
	let shared = Arc::new(Shared {
		node,
		at: pinned.block.hash.clone(),
		work: work.clone(),
		keys: AtomicU64::new(ranges.iter().map(|r| r.keys).sum()),
		bytes: AtomicU64::new(ranges.iter().map(|r| r.bytes).sum()),
		ranges: Mutex::new(ranges),
		queue: Mutex::new(queue),
		calls: AtomicU64::new(0),
		value_batch: AtomicUsize::new(PAGE_SIZE),
		workers: opts.concurrency.max(1),
		stop: AtomicBool::new(false),
		dirty: AtomicBool::new(false),
		checkpoint: Mutex::new(checkpoint),
	});
	progress(&shared.progress(Phase::Downloading, started));

	let ticker = {
		let shared = shared.clone();
		let progress = progress.clone();
		tokio::spawn(async move {
			loop {
				tokio::time::sleep(Duration::from_secs(1)).await;
				if shared.dirty.swap(false, Ordering::Relaxed) {
					if let Err(e) = shared.save_checkpoint() {
						tracing::warn!(target: "stagenet::snapshot", "cannot save the checkpoint: {e}");
					}
				}
				progress(&shared.progress(Phase::Downloading, started));
			}
		})
	};
	let mut workers = Vec::new();
	for _ in 0..shared.workers {
		let shared = shared.clone();
		workers.push(tokio::spawn(async move { worker(shared).await }));
	}
	let mut first_err: Option<SnapshotError> = None;
	for w in workers {
		let res = match w.await {
			Ok(r) => r,
			Err(e) => Err(SnapshotError::io(
				"run a download worker for",
				&work,
				std::io::Error::other(e),
			)),
		};
		if let Err(e) = res {
			shared.stop.store(true, Ordering::Relaxed);
			first_err.get_or_insert(e);
		}
	}
	ticker.abort();
	shared.save_checkpoint()?;
	if let Some(e) = first_err {
		return Err(e);
	}

	progress(&shared.progress(Phase::Assembling, started));
	let ranges = lock(&shared.ranges).clone();
	let metadata_ref = &metadata;
	let (header, written) =
		match assemble(&shared, &pinned, version, ranges, metadata_ref, &opts.out) {
			Ok(done) => done,
			Err(e) => {
				if matches!(e, SnapshotError::RootMismatch { .. }) {
					// Pairs that do not hash to the block's root cannot be trusted: resuming
					// them would only assemble the same wrong state again.
					let _ = std::fs::remove_dir_all(&work);
				}
				return Err(e);
			}
		};
	let calls = shared.calls.load(Ordering::Relaxed);
	std::fs::remove_dir_all(&work).map_err(|e| SnapshotError::io("remove", &work, e))?;
	Ok(DownloadSummary {
		header,
		file_bytes: written.0,
		chunks: written.1,
		elapsed: started.elapsed(),
		resumed: resuming,
		calls,
	})
}

/// The storage keys (without prefix) of every default child trie at `at`.
async fn list_child_tries(node: &Node, at: &str) -> Result<Vec<Vec<u8>>> {
	let mut out = Vec::new();
	let mut start: Option<String> = None;
	loop {
		let page: Vec<String> = node
			.call(
				"state_getKeysPaged",
				&[
					json!(hex0x(CHILD_STORAGE_PREFIX)),
					json!(PAGE_SIZE),
					json!(start),
					json!(at),
				],
			)
			.await
			.map_err(|e| rpc_err(node, "state_getKeysPaged", e))?;
		for k in &page {
			let key = format::unhex(k).map_err(|e| SnapshotError::Inconsistent {
				url: node.shown_url().into(),
				reason: format!("a listed key is not hex: {e}"),
			})?;
			if let Some(child) = key.strip_prefix(CHILD_STORAGE_PREFIX) {
				out.push(child.to_vec());
			}
		}
		if page.len() < PAGE_SIZE {
			break;
		}
		start = page.last().cloned();
	}
	Ok(out)
}

async fn worker(shared: Arc<Shared>) -> Result<()> {
	loop {
		if shared.stop.load(Ordering::Relaxed) {
			return Ok(());
		}
		let next = lock(&shared.queue).pop_front();
		let Some(id) = next else { return Ok(()) };
		let range = lock(&shared.ranges).iter().find(|r| r.id == id).cloned();
		if let Some(range) = range {
			fetch_range(&shared, range).await?;
		}
	}
}

fn parse_keys(shared: &Shared, page: Vec<String>) -> Result<Vec<Vec<u8>>> {
	page.iter()
		.map(|k| {
			format::unhex(k).map_err(|e| SnapshotError::Inconsistent {
				url: shared.node.shown_url().into(),
				reason: format!("listed key `{k}` is not hex: {e}"),
			})
		})
		.collect()
}

async fn keys_page(
	shared: &Shared,
	range: &Range,
	query_prefix: &[u8],
	after: Option<&[u8]>,
) -> Result<Vec<Vec<u8>>> {
	let prefix = json!(hex0x(query_prefix));
	let start = json!(after.map(hex0x));
	let (method, page): (&str, Result<Vec<String>, CallError>) = match &range.child {
		None => {
			let m = "state_getKeysPaged";
			(
				m,
				shared
					.call(m, &[prefix, json!(PAGE_SIZE), start, json!(shared.at)])
					.await,
			)
		}
		Some(child) => {
			let m = "childstate_getKeysPaged";
			let ck = [CHILD_STORAGE_PREFIX, child.0.as_slice()].concat();
			(
				m,
				shared
					.call(
						m,
						&[
							json!(hex0x(&ck)),
							prefix,
							json!(PAGE_SIZE),
							start,
							json!(shared.at),
						],
					)
					.await,
			)
		}
	};
	let page = page.map_err(|e| pruned_or(shared, method, e))?;
	let keys = parse_keys(shared, page)?;
	let mut prev = after;
	for k in &keys {
		if prev.is_some_and(|p| k.as_slice() <= p) || !k.starts_with(query_prefix) {
			return Err(SnapshotError::Inconsistent {
				url: shared.node.shown_url().into(),
				reason: format!(
					"`{method}` returned key `{}` after `{}` for prefix `{}`",
					hex0x(k),
					prev.map(hex0x).unwrap_or_default(),
					hex0x(query_prefix)
				),
			});
		}
		prev = Some(k);
	}
	Ok(keys)
}

fn pruned_or(shared: &Shared, method: &str, e: CallError) -> SnapshotError {
	if e.is_state_pruned() {
		let cp = lock(&shared.checkpoint);
		return SnapshotError::StatePruned {
			url: shared.node.shown_url().into(),
			block: cp.pinned.block.number,
			hash: cp.pinned.block.hash.clone(),
			oldest: None,
		};
	}
	shared.err(method, e)
}

/// Values of `keys`, in the same order, in batches that shrink when the node says a response
/// is too large.
async fn values(shared: &Shared, child: Option<&Bytes>, keys: &[Vec<u8>]) -> Result<Vec<Vec<u8>>> {
	let mut out: Vec<Vec<u8>> = Vec::with_capacity(keys.len());
	let mut i = 0;
	while i < keys.len() {
		let batch = shared
			.value_batch
			.load(Ordering::Relaxed)
			.max(1)
			.min(keys.len() - i);
		let slice = &keys[i..i + batch];
		let hexed: Vec<String> = slice.iter().map(|k| hex0x(k)).collect();
		let res = match child {
			None => fetch_top_values(shared, &hexed).await,
			Some(c) => fetch_child_values(shared, c, &hexed).await,
		};
		match res {
			Ok(vals) => {
				if vals.len() != slice.len() {
					return Err(SnapshotError::Inconsistent {
						url: shared.node.shown_url().into(),
						reason: format!("asked for {} values, got {}", slice.len(), vals.len()),
					});
				}
				for (k, v) in slice.iter().zip(vals) {
					let Some(v) = v else {
						return Err(SnapshotError::Inconsistent {
							url: shared.node.shown_url().into(),
							reason: format!("key `{}` was listed but has no value", hex0x(k)),
						});
					};
					out.push(v);
				}
				i += batch;
			}
			Err((method, e)) if e.is_oversized() => {
				if batch == 1 {
					return Err(SnapshotError::ResponseTooLarge {
						url: shared.node.shown_url().into(),
						key: hex0x(&slice[0]),
						reason: e.to_string(),
					});
				}
				let smaller = (batch / 2).max(1);
				shared.value_batch.fetch_min(smaller, Ordering::Relaxed);
				tracing::debug!(target: "stagenet::snapshot", %method, batch = smaller, "response too large, smaller batches");
			}
			Err((method, e)) => return Err(pruned_or(shared, method, e)),
		}
	}
	Ok(out)
}

type ValuesResult = std::result::Result<Vec<Option<Vec<u8>>>, (&'static str, CallError)>;

async fn fetch_top_values(shared: &Shared, keys: &[String]) -> ValuesResult {
	let m = "state_queryStorageAt";
	let sets: Vec<Value> = shared
		.call(m, &[json!(keys), json!(shared.at)])
		.await
		.map_err(|e| (m, e))?;
	let decode_err = |reason: String| (m, CallError::Decode { reason });
	let changes = sets
		.first()
		.and_then(|s| s.get("changes"))
		.and_then(Value::as_array)
		.ok_or_else(|| decode_err("no `changes` in the answer".into()))?;
	let mut by_key: Vec<(&str, Option<&str>)> = Vec::with_capacity(changes.len());
	for c in changes {
		let k = c
			.get(0)
			.and_then(Value::as_str)
			.ok_or_else(|| decode_err(format!("bad change {c}")))?;
		by_key.push((k, c.get(1).and_then(Value::as_str)));
	}
	// Nodes answer in the order asked; fall back to a lookup if one does not.
	let in_order =
		by_key.len() == keys.len() && by_key.iter().zip(keys).all(|((k, _), want)| k == want);
	let lookup: BTreeMap<&str, Option<&str>> = if in_order {
		BTreeMap::new()
	} else {
		by_key.iter().copied().collect()
	};
	let mut out = Vec::with_capacity(keys.len());
	for (i, want) in keys.iter().enumerate() {
		let v = if in_order {
			by_key[i].1
		} else {
			lookup.get(want.as_str()).copied().flatten()
		};
		out.push(match v {
			Some(h) => Some(
				format::unhex(h)
					.map_err(|e| decode_err(format!("value of `{want}` is not hex: {e}")))?,
			),
			None => None,
		});
	}
	Ok(out)
}

async fn fetch_child_values(shared: &Shared, child: &Bytes, keys: &[String]) -> ValuesResult {
	let m = "childstate_getStorageEntries";
	let ck = [CHILD_STORAGE_PREFIX, child.0.as_slice()].concat();
	let vals: Vec<Option<String>> = shared
		.call(m, &[json!(hex0x(&ck)), json!(keys), json!(shared.at)])
		.await
		.map_err(|e| (m, e))?;
	vals.into_iter()
		.map(|v| {
			v.map(|h| format::unhex(&h)).transpose().map_err(|e| {
				(
					m,
					CallError::Decode {
						reason: format!("a value is not hex: {e}"),
					},
				)
			})
		})
		.collect()
}

/// A part file being appended to: framed, compressed chunks of one range.
struct Part {
	file: File,
	path: PathBuf,
	buf: Vec<u8>,
	pairs: u32,
	last: Vec<u8>,
	keys: u64,
	bytes: u64,
}

impl Part {
	fn open(path: PathBuf, keep: u64) -> Result<Self> {
		let file = OpenOptions::new()
			.create(true)
			.truncate(false)
			.read(true)
			.write(true)
			.open(&path)
			.map_err(|e| SnapshotError::io("open", &path, e))?;
		file.set_len(keep)
			.map_err(|e| SnapshotError::io("truncate", &path, e))?;
		let mut p = Self {
			file,
			path,
			buf: Vec::with_capacity(CHUNK_TARGET_BYTES + 4096),
			pairs: 0,
			last: Vec::new(),
			keys: 0,
			bytes: 0,
		};
		p.file
			.seek(SeekFrom::Start(keep))
			.map_err(|e| SnapshotError::io("seek in", &p.path, e))?;
		Ok(p)
	}

	/// Adds a pair; returns true when a chunk was written (the range's checkpoint moves).
	fn push(&mut self, key: &[u8], value: &[u8]) -> Result<bool> {
		format::encode_pair(&mut self.buf, key, value);
		self.pairs += 1;
		self.keys += 1;
		self.bytes += (key.len() + value.len()) as u64;
		self.last.clear();
		self.last.extend_from_slice(key);
		if self.buf.len() >= CHUNK_TARGET_BYTES {
			self.flush()?;
			return Ok(true);
		}
		Ok(false)
	}

	fn flush(&mut self) -> Result<()> {
		if self.pairs == 0 {
			return Ok(());
		}
		let enc = encode_chunk(&self.buf)
			.map_err(|e| SnapshotError::io("compress a chunk of", &self.path, e))?;
		let header = ChunkHeader {
			trie: 0,
			pairs: self.pairs,
			raw_len: self.buf.len() as u32,
			comp_len: enc.compressed.len() as u32,
			checksum: enc.checksum,
		};
		self.file
			.write_all(&header.encode())
			.and_then(|_| self.file.write_all(&enc.compressed))
			.map_err(|e| SnapshotError::io("write", &self.path, e))?;
		self.buf.clear();
		self.pairs = 0;
		Ok(())
	}

	fn len(&mut self) -> Result<u64> {
		self.file
			.stream_position()
			.map_err(|e| SnapshotError::io("seek in", &self.path, e))
	}
}

async fn fetch_range(shared: &Shared, mut range: Range) -> Result<()> {
	let mut part = Part::open(shared.part_path(range.id), range.file_len)?;
	let first_call = range.after.is_none();
	let mut pending: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
	let mut cursor: Option<Vec<u8>> = range.after.as_ref().map(|b| b.0.clone());
	if first_call && range.start.0 != range.origin_prefix.0 {
		// Paging is exclusive of its start key: fetch the start key itself first.
		let start = hex0x(&range.start.0);
		let v: Option<String> = shared
			.call("state_getStorage", &[json!(start), json!(shared.at)])
			.await
			.map_err(|e| pruned_or(shared, "state_getStorage", e))?;
		if let Some(v) = v {
			let v = format::unhex(&v).map_err(|e| SnapshotError::Inconsistent {
				url: shared.node.shown_url().into(),
				reason: format!("value of `{start}` is not hex: {e}"),
			})?;
			pending.push((range.start.0.clone(), v));
		}
		cursor = Some(range.start.0.clone());
	}
	// A range split before any of it was written starts again from the prefix it was created
	// with (its end already stops at the part it kept).
	let first_prefix = if first_call {
		range.origin_prefix.0.clone()
	} else {
		range.query_prefix.0.clone()
	};
	let mut page = keys_page(shared, &range, &first_prefix, cursor.as_deref()).await?;
	let mut first_page = first_call;
	loop {
		if shared.stop.load(Ordering::Relaxed) {
			return Ok(());
		}
		let full = page.len() == PAGE_SIZE;
		let in_range = page.iter().take_while(|k| range.before_end(k)).count();
		let reached_end = in_range < page.len();
		page.truncate(in_range);
		if first_page && full && !reached_end {
			maybe_split(shared, &mut range, &page);
		}
		first_page = false;
		let more = full && !reached_end;
		let next_after = page.last().cloned();
		let (vals, next) = tokio::join!(values(shared, range.child.as_ref(), &page), async {
			match (&next_after, more) {
				(Some(after), true) => {
					keys_page(shared, &range, &range.query_prefix.0, Some(after))
						.await
						.map(Some)
				}
				_ => Ok(None),
			}
		});
		let vals = vals?;
		let next = next?;
		for (k, v) in pending.drain(..).chain(page.into_iter().zip(vals)) {
			shared.keys.fetch_add(1, Ordering::Relaxed);
			shared
				.bytes
				.fetch_add((k.len() + v.len()) as u64, Ordering::Relaxed);
			if part.push(&k, &v)? {
				range.after = Some(Bytes(k));
				range.file_len = part.len()?;
				range.keys += part.keys;
				range.bytes += part.bytes;
				part.keys = 0;
				part.bytes = 0;
				shared.update(&range);
			}
		}
		match next {
			Some(p) => page = p,
			None => break,
		}
	}
	part.flush()?;
	if part.keys > 0 {
		range.after = Some(Bytes(part.last.clone()));
	}
	range.file_len = part.len()?;
	range.keys += part.keys;
	range.bytes += part.bytes;
	part.file
		.sync_data()
		.map_err(|e| SnapshotError::io("sync", &part.path, e))?;
	range.done = true;
	shared.update(&range);
	Ok(())
}

/// Keys a range split off a big map aims at (a few pages: enough to keep the per-range
/// overhead small, small enough to spread a map over the workers).
pub const TARGET_RANGE_KEYS: usize = 5 * PAGE_SIZE;

/// Splits a top-trie range inside a storage map whose first page came back full. Keys of a
/// map are hashed, so the next key byte `x` after the range's prefix spreads them evenly: the
/// first page covering bytes `lo..=x` estimates how many keys the rest holds, and the bytes
/// after `x` are cut into as many ranges (of about [`TARGET_RANGE_KEYS`]) for other workers.
/// A range already split off is split again only when workers would otherwise idle.
fn maybe_split(shared: &Shared, range: &mut Range, page: &[Vec<u8>]) {
	let Some(last) = page.last() else { return };
	let q = range.query_prefix.0.clone();
	let depth = q.len();
	if range.child.is_some() || !(32..=34).contains(&depth) || last.len() <= depth {
		return;
	}
	let second = range.splits > 0 || range.parent.is_some();
	if second && lock(&shared.queue).len() >= shared.workers {
		return;
	}
	let byte_of = |k: &[u8]| {
		k.strip_prefix(q.as_slice())
			.and_then(|rest| rest.first().copied())
	};
	let lo = byte_of(&range.start.0).unwrap_or(0) as usize;
	let hi = match range.end.as_ref().and_then(|e| byte_of(&e.0)) {
		Some(0) => return,
		Some(e) => e as usize - 1,
		None => 255,
	};
	let x = last[depth] as usize;
	if x >= hi {
		return;
	}
	let per_byte = page.len() as f64 / (x - lo + 1) as f64;
	let rest = per_byte * (hi - x) as f64;
	let k = ((rest / TARGET_RANGE_KEYS as f64).ceil() as usize).min(hi - x);
	if k < 2 {
		return;
	}
	let mut ranges = lock(&shared.ranges);
	let mut queue = lock(&shared.queue);
	let first_id = ranges.iter().map(|r| r.id).max().unwrap_or(0) + 1;
	let with_byte = |b: usize| {
		let mut p = q.clone();
		p.push(b as u8);
		p
	};
	let bytes = hi - x;
	for (g, next_id) in (0..k).zip(first_id..) {
		let a = x + 1 + g * bytes / k;
		let b = x + (g + 1) * bytes / k; // inclusive
		let end = if b == hi {
			range.end.as_ref().map(|e| e.0.clone())
		} else {
			Some(with_byte(b + 1))
		};
		let new = if a == b && b < 255 {
			Range::prefix(next_id, None, with_byte(a), Some(range.id))
		} else {
			Range::within(next_id, q.clone(), with_byte(a), end, Some(range.id))
		};
		ranges.push(new);
		queue.push_back(next_id);
	}
	let own = with_byte(x);
	range.end = Some(Bytes(with_byte(x + 1).into_iter().collect())).filter(|_| x < 255);
	range.query_prefix = Bytes(own);
	range.splits += 1;
	if let Some(r) = ranges.iter_mut().find(|r| r.id == range.id) {
		*r = range.clone();
	}
	shared.dirty.store(true, Ordering::Relaxed);
}

/// Reads a part file's chunks in order and hands each uncompressed body, with its encoded
/// form, to `f`.
fn read_part(
	path: &Path,
	len: u64,
	mut f: impl FnMut(&crate::writer::EncodedChunk, &[u8]) -> Result<()>,
) -> Result<()> {
	let mut file = File::open(path).map_err(|e| SnapshotError::io("open", path, e))?;
	let mut off = 0u64;
	let mut n = 0u64;
	while off < len {
		let mut hb = [0u8; CHUNK_HEADER_LEN as usize];
		file.read_exact(&mut hb)
			.map_err(|e| SnapshotError::io("read", path, e))?;
		let corrupt = |reason: String| SnapshotError::Corrupt {
			path: path.into(),
			chunk: Some(n),
			reason,
		};
		let h = ChunkHeader::decode(&hb)
			.ok_or_else(|| corrupt(format!("no chunk framing at byte {off}")))?;
		let mut comp = vec![0u8; h.comp_len as usize];
		file.read_exact(&mut comp)
			.map_err(|e| SnapshotError::io("read", path, e))?;
		let enc = crate::writer::EncodedChunk {
			checksum: h.checksum,
			compressed: comp,
		};
		let sum: [u8; 32] = sha2::Digest::finalize(
			<sha2::Sha256 as sha2::Digest>::new_with_prefix(&enc.compressed),
		)
		.into();
		if sum != h.checksum {
			return Err(corrupt("checksum mismatch in a part file".into()));
		}
		let raw = zstd::bulk::decompress(&enc.compressed, h.raw_len as usize)
			.map_err(|e| corrupt(format!("it does not decompress: {e}")))?;
		f(&enc, &raw)?;
		off += CHUNK_HEADER_LEN + h.comp_len as u64;
		n += 1;
	}
	Ok(())
}

/// Streams every range's pairs, in key order, into the final file; recomputes the roots and
/// checks them against the block header and the top trie's child-root entries. On a
/// mismatch nothing is written to `out`.
fn assemble(
	shared: &Shared,
	pinned: &Pinned,
	version: StateVersion,
	mut ranges: Vec<Range>,
	metadata: &[u8],
	out: &Path,
) -> Result<(Header, (u64, usize))> {
	ranges.sort_by(|a, b| a.order().cmp(&b.order()));
	let tmp = shared.work.join("assembled.snap");
	let source = lock(&shared.checkpoint).url.clone();
	let mut writer = Writer::create(&tmp, version, source.clone())?;
	let mut child_roots: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
	let mut current_child: Option<Option<Vec<u8>>> = None;
	for r in &ranges {
		let trie = r.child.as_ref().map(|c| c.0.clone());
		if current_child.as_ref() != Some(&trie) {
			writer.begin_trie(trie.clone())?;
			current_child = Some(trie.clone());
		}
		read_part(&shared.part_path(r.id), r.file_len, |_enc, raw| {
			// Re-chunk pair by pair: the final file does not depend on how the key space was
			// cut or where a resumed download restarted.
			for pair in format::pairs(raw) {
				let (k, v) = pair.map_err(|at| SnapshotError::Corrupt {
					path: shared.part_path(r.id),
					chunk: None,
					reason: format!("a part file's pairs are torn at byte {at}"),
				})?;
				if trie.is_none() {
					if let Some(c) = k.strip_prefix(CHILD_STORAGE_PREFIX) {
						child_roots.insert(c.to_vec(), v.to_vec());
					}
				}
				writer.push(k, v)?;
			}
			Ok(())
		})?;
	}
	if current_child.is_none() {
		writer.begin_trie(None)?;
	}
	let tries = writer.close_tries()?;
	let mut mismatch: Option<SnapshotError> = None;
	for t in &tries {
		match &t.child {
			None if t.root != pinned.state_root => {
				mismatch.get_or_insert(SnapshotError::RootMismatch {
					what: format!("block #{} ({})", pinned.block.number, pinned.block.hash),
					expected: pinned.state_root.clone(),
					computed: t.root.clone(),
					keys: t.keys,
					hint: root_hint(version),
				});
			}
			Some(c) => {
				let key = format::unhex(c).unwrap_or_default();
				let want = child_roots.get(&key).map(|r| hex0x(r));
				if want.as_deref() != Some(t.root.as_str()) {
					mismatch.get_or_insert(SnapshotError::RootMismatch {
						what: format!("child trie `{c}` at block #{}", pinned.block.number),
						expected: want.unwrap_or_else(|| "(no entry in the top trie)".into()),
						computed: t.root.clone(),
						keys: t.keys,
						hint: root_hint(version),
					});
				}
			}
			_ => {}
		}
	}
	if let Some(e) = mismatch {
		drop(writer);
		let _ = std::fs::remove_file(&tmp);
		return Err(e);
	}
	let header = Header {
		format_version: format::FORMAT_VERSION,
		chain: pinned.chain.clone(),
		genesis_hash: Some(pinned.genesis_hash.clone()),
		block: Some(pinned.block.clone()),
		state_root: pinned.state_root.clone(),
		state_version: version.as_u8(),
		runtime: Some(pinned.runtime.clone()),
		tries: Vec::new(),
		key_count: 0,
		bytes: 0,
		source: Source::Rpc { url: source },
		tool: format::tool_name(),
		verified: true,
	};
	let written = writer.finish(header.clone(), Some(metadata))?;
	std::fs::rename(&tmp, out).map_err(|e| SnapshotError::io("rename", &tmp, e))?;
	let header = Header {
		tries: written.tries.clone(),
		key_count: written.key_count,
		bytes: written.bytes,
		..header
	};
	Ok((header, (written.file_bytes, written.chunks)))
}

fn root_hint(version: StateVersion) -> String {
	let mut h = String::from(
		"the node served incomplete or inconsistent state; take the snapshot again, from another \
		 node if it persists",
	);
	if version == StateVersion::V1 {
		h.push_str(
			". A chain whose trie was only partly migrated from state version 0 cannot be verified \
			 from its pairs alone",
		);
	}
	h
}

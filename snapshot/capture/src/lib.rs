//! `stagenet capture`: every block of a range, as the chain executed it, into a SQLite
//! database: header, each extrinsic (raw bytes, pallet and call, signer, nonce, era, tip) with
//! its outcome (success, or the dispatch error decoded to `Pallet::Error`), the events of each
//! extrinsic, `System::BlockWeight` per class and the block's length.
//!
//! Everything comes from the node's standard JSON-RPC (`chain_getBlockHash`, `chain_getBlock`,
//! `state_getRuntimeVersion`, `state_call` of `Metadata_metadata_at_version`,
//! `state_getStorage`) and is decoded with the metadata of the runtime that executed each block:
//! the one in its parent's state (they differ at the block that runs `System::set_code`).
//! Metadata is fetched once per spec version and stored beside the blocks, so the capture can
//! be decoded again offline.
//!
//! Several blocks are fetched and decoded at once (`concurrency`); one writer stores each block
//! with its rows in one transaction. An interrupted capture (Ctrl-C, dropped connection, full
//! disk) leaves only complete blocks, and `resume` skips them. Transport failures are retried
//! with backoff over a new connection before the capture gives up with an error that says
//! `--resume` continues.

mod decode;
mod error;
mod json;
mod live;
mod read;
mod rpc;
mod store;

pub use decode::{ClassWeights, Weight};
pub use error::CaptureError;
pub use live::{BlockReader, Limits, LiveBlock, LiveEvent, LiveExtrinsic, NO_LIMIT};
pub use read::{
	read_capture, read_runtimes, Capture, StoredBlock, StoredEvent, StoredExtrinsic, StoredRuntime,
};
pub use store::CaptureMeta;

use decode::{decode_block, CapturedBlock, RawBlock, Runtime};
use parity_scale_codec::Decode;
use rpc::{from_hex, parse_number, RetryPolicy, RuntimeVersion, SignedBlock, Source};
use serde_json::json;
use std::{
	collections::HashMap,
	path::{Path, PathBuf},
	sync::Arc,
	time::{Duration, Instant},
};
use store::{CaptureMeta as Meta, Store};
use subxt::ext::{
	frame_decode::storage::encode_storage_key_prefix,
	futures::{stream, StreamExt},
};

/// Version of stagenet written into each capture.
const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Metadata version asked of `Metadata_metadata_at_version`.
const METADATA_VERSION: u32 = 15;

/// What to capture, from where, into what.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
	/// The node's WebSocket JSON-RPC endpoint (`ws://…` or `wss://…`); it must hold the state
	/// of every block of the range (an archive node for old blocks).
	pub url: String,
	/// First block.
	pub from: u64,
	/// Last block (inclusive).
	pub to: u64,
	/// The SQLite database to write.
	pub out: PathBuf,
	/// Replace `out` if it exists.
	pub force: bool,
	/// Continue the capture in `out` (of the same chain), skipping its complete blocks.
	pub resume: bool,
	/// Blocks fetched and decoded at once.
	pub concurrency: usize,
	/// Limit of one request, and of opening a connection.
	pub request_timeout: Duration,
	/// Retries of a request whose connection failed, each after a new connection, with
	/// backoff from 0.5 s doubling up to 8 s.
	pub retries: u32,
}

impl CaptureOptions {
	/// Options with the defaults: no `force` or `resume`, 8 blocks at once, 30 s per request,
	/// 6 retries (about 40 s of a node being away before the capture stops).
	pub fn new(url: impl Into<String>, from: u64, to: u64, out: impl Into<PathBuf>) -> Self {
		Self {
			url: url.into(),
			from,
			to,
			out: out.into(),
			force: false,
			resume: false,
			concurrency: 8,
			request_timeout: Duration::from_secs(30),
			retries: 6,
		}
	}
}

/// Where a capture stands; reported after every block written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CaptureProgress {
	/// Blocks of the range complete in the database (skipped and written).
	pub done: u64,
	/// Blocks in the range.
	pub total: u64,
	/// Blocks written by this run.
	pub written: u64,
	/// Blocks already complete when this run started (`resume`).
	pub skipped: u64,
	/// The block written last.
	pub last_block: Option<u64>,
	/// Time since the capture started.
	pub elapsed: Duration,
}

impl CaptureProgress {
	/// Blocks written per second by this run.
	pub fn rate(&self) -> f64 {
		let secs = self.elapsed.as_secs_f64();
		if secs > 0.0 {
			self.written as f64 / secs
		} else {
			0.0
		}
	}
}

/// What a finished capture holds over its range.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureSummary {
	/// Chain name.
	pub chain: String,
	/// Genesis hash.
	pub genesis_hash: String,
	/// Blocks of the range in the database.
	pub blocks: u64,
	/// Blocks written by this run.
	pub written: u64,
	/// Blocks already complete when this run started.
	pub skipped: u64,
	/// Extrinsics of those blocks.
	pub extrinsics: u64,
	/// Events of those blocks.
	pub events: u64,
	/// Extrinsics whose dispatch failed.
	pub failed_extrinsics: u64,
	/// Duration of this run.
	pub elapsed: Duration,
}

/// Captures blocks `opts.from..=opts.to` into `opts.out`, calling `progress` after each block
/// written. See the module documentation.
pub async fn capture(
	opts: &CaptureOptions,
	progress: &dyn Fn(CaptureProgress),
) -> Result<CaptureSummary, CaptureError> {
	let started = Instant::now();
	validate(opts)?;
	// Own the database before looking at it: a second capture into the same `out` is
	// refused, naming this process.
	if let Some(dir) = opts.out.parent().filter(|d| !d.as_os_str().is_empty()) {
		std::fs::create_dir_all(dir).map_err(|source| CaptureError::Io {
			path: dir.to_path_buf(),
			operation: "create the directory".into(),
			source,
		})?;
	}
	let _lock = stagenet_config::files::OutputLock::acquire(&opts.out)
		.map_err(|source| CaptureError::Locked { source })?;
	let exists = output_exists(&opts.out)?;
	if exists && !opts.force && !opts.resume {
		return Err(CaptureError::OutputExists {
			path: opts.out.clone(),
		});
	}
	let policy = RetryPolicy {
		retries: opts.retries,
		request_timeout: opts.request_timeout,
	};
	let source = Source::connect(&opts.url, policy).await?;
	let url = source.shown_url().to_string();
	let genesis_hash: String = source
		.request::<Option<String>>("chain_getBlockHash", &[json!(0)], 0)
		.await?
		.ok_or_else(|| CaptureError::Malformed {
			url: url.clone(),
			block: 0,
			reason: "the node knows no genesis block".into(),
		})?;
	let chain: String = source.request("system_chain", &[], 0).await?;
	let best_header: rpc::Header = source.request("chain_getHeader", &[], 0).await?;
	let best = parse_number(&best_header.number).map_err(|reason| CaptureError::Malformed {
		url: url.clone(),
		block: 0,
		reason,
	})?;
	if opts.to > best {
		return Err(CaptureError::BlockNotFound {
			url,
			block: opts.to,
			best,
		});
	}

	// The old output goes only now that the node has answered (its directory was created
	// before the lock was taken).
	if exists && opts.force {
		remove_output(&opts.out)?;
	}
	let mut store = Store::open(&opts.out, true).await?;
	let (range_from, range_to) = match store.meta().await? {
		Some(m) if m.genesis_hash != genesis_hash => {
			return Err(CaptureError::OtherChain {
				path: opts.out.clone(),
				url,
				expected_genesis: genesis_hash,
				found_chain: m.chain,
				found_genesis: m.genesis_hash,
			});
		}
		Some(m) => (m.range_from.min(opts.from), m.range_to.max(opts.to)),
		None => (opts.from, opts.to),
	};
	store
		.set_meta(&Meta {
			chain: chain.clone(),
			genesis_hash: genesis_hash.clone(),
			url: url.clone(),
			range_from,
			range_to,
			tool_version: TOOL_VERSION.to_string(),
		})
		.await?;
	let complete = store.complete_blocks(opts.from, opts.to).await?;
	let total = opts.to - opts.from + 1;
	let skipped = complete.len() as u64;
	let todo: Vec<u64> = (opts.from..=opts.to)
		.filter(|n| !complete.contains(n))
		.collect();
	drop(complete);
	tracing::info!(
		target: "stagenet::capture",
		%url, chain, from = opts.from, to = opts.to, skipped, "capture starts"
	);
	progress(CaptureProgress {
		done: skipped,
		total,
		written: 0,
		skipped,
		last_block: None,
		elapsed: started.elapsed(),
	});

	let runtimes = Runtimes::default();
	let mut written = 0u64;
	let outcome = {
		let (tx, mut rx) = tokio::sync::mpsc::channel(opts.concurrency);
		let source = &source;
		let runtimes = &runtimes;
		let producer = async move {
			let mut blocks = stream::iter(todo)
				.map(|n| fetch_block(source, runtimes, n, best))
				.buffered(opts.concurrency);
			while let Some(item) = blocks.next().await {
				let failed = item.is_err();
				if tx.send(item).await.is_err() || failed {
					break;
				}
			}
		};
		let store = &mut store;
		let written = &mut written;
		let consumer = async move {
			while let Some(item) = rx.recv().await {
				let (block, runtime): (CapturedBlock, Arc<Runtime>) = item?;
				store
					.write_block(&block, &runtime.version, &runtime.encoded)
					.await?;
				*written += 1;
				tracing::debug!(
					target: "stagenet::capture",
					block = block.number,
					extrinsics = block.extrinsics.len(),
					events = block.events.len(),
					"block written"
				);
				progress(CaptureProgress {
					done: skipped + *written,
					total,
					written: *written,
					skipped,
					last_block: Some(block.number),
					elapsed: started.elapsed(),
				});
			}
			Ok::<(), CaptureError>(())
		};
		tokio::pin!(producer);
		tokio::pin!(consumer);
		tokio::select! {
			result = &mut consumer => result,
			() = &mut producer => consumer.await,
		}
	};
	if let Err(mut e) = outcome {
		if let CaptureError::ConnectionLost { done, .. } = &mut e {
			*done = skipped + written;
		}
		// Leave the database as a single consistent file; the error that stopped the capture
		// matters more than one in closing.
		if let Err(close) = store.close().await {
			tracing::warn!(target: "stagenet::capture", error = %close, "closing the capture database failed");
		}
		return Err(e);
	}
	let totals = store.totals(opts.from, opts.to).await?;
	store.close().await?;
	Ok(CaptureSummary {
		chain,
		genesis_hash,
		blocks: totals.blocks,
		written,
		skipped,
		extrinsics: totals.extrinsics,
		events: totals.events,
		failed_extrinsics: totals.failed_extrinsics,
		elapsed: started.elapsed(),
	})
}

/// Rejects options no capture can run with.
fn validate(opts: &CaptureOptions) -> Result<(), CaptureError> {
	let invalid = |reason: String, hint: &str| {
		Err(CaptureError::InvalidOptions {
			reason,
			hint: hint.to_string(),
		})
	};
	if opts.from > opts.to {
		return invalid(
			format!("the range #{}..=#{} is empty", opts.from, opts.to),
			"`--from` must not be above `--to`",
		);
	}
	if opts.force && opts.resume {
		return invalid(
			"`--force` and `--resume` together".into(),
			"pass `--resume` to continue the capture, or `--force` to start it again",
		);
	}
	if opts.concurrency == 0 {
		return invalid(
			"a concurrency of 0".into(),
			"pass `--concurrency 1` or more",
		);
	}
	if opts.request_timeout.is_zero() {
		return invalid(
			"a request timeout of 0".into(),
			"pass a `--request-timeout` such as `30s`",
		);
	}
	rpc::check_url(&opts.url)?;
	Ok(())
}

/// Whether the output exists; an error if it exists but is not a file.
fn output_exists(path: &Path) -> Result<bool, CaptureError> {
	match std::fs::metadata(path) {
		Ok(m) if m.is_file() => Ok(true),
		Ok(_) => Err(CaptureError::OutputUnusable {
			path: path.to_path_buf(),
			reason: "it is not a file".into(),
			hint: "pass the path of a file to `--out`".into(),
		}),
		Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
		Err(source) => Err(CaptureError::Io {
			path: path.to_path_buf(),
			operation: "inspect".into(),
			source,
		}),
	}
}

/// Removes the output and SQLite's files beside it.
fn remove_output(path: &Path) -> Result<(), CaptureError> {
	let mut paths = vec![path.to_path_buf()];
	for suffix in ["-wal", "-shm", "-journal"] {
		let mut side = path.as_os_str().to_owned();
		side.push(suffix);
		paths.push(PathBuf::from(side));
	}
	for p in paths {
		match std::fs::remove_file(&p) {
			Ok(()) => {}
			Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
			Err(source) => {
				return Err(CaptureError::Io {
					path: p,
					operation: "remove (`--force`)".into(),
					source,
				})
			}
		}
	}
	Ok(())
}

/// Runtimes met so far, by spec version.
#[derive(Default)]
struct Runtimes {
	cache: tokio::sync::Mutex<HashMap<u32, Arc<Runtime>>>,
}

impl Runtimes {
	/// The runtime of `version`, whose state is at block hash `at` (fetched once; concurrent
	/// callers wait for the first).
	async fn get(
		&self,
		source: &Source,
		version: RuntimeVersion,
		at: &str,
		block: u64,
	) -> Result<Arc<Runtime>, CaptureError> {
		let mut cache = self.cache.lock().await;
		if let Some(runtime) = cache.get(&version.spec_version) {
			return Ok(runtime.clone());
		}
		let spec_version = version.spec_version;
		let encoded = fetch_metadata(source, at, block, spec_version).await?;
		let runtime = Runtime::new(version, encoded).map_err(|reason| CaptureError::Metadata {
			spec_version,
			block,
			reason,
		})?;
		tracing::info!(target: "stagenet::capture", spec_version, block, "runtime metadata fetched");
		let runtime = Arc::new(runtime);
		cache.insert(spec_version, runtime.clone());
		Ok(runtime)
	}
}

/// The metadata of the runtime in the state of block `at`: V15 through the `Metadata` runtime
/// API, else whatever `state_getMetadata` gives.
async fn fetch_metadata(
	source: &Source,
	at: &str,
	block: u64,
	spec_version: u32,
) -> Result<Vec<u8>, CaptureError> {
	let malformed = |reason: String| CaptureError::Metadata {
		spec_version,
		block,
		reason,
	};
	let argument = format!("0x{}", hex::encode(METADATA_VERSION.to_le_bytes()));
	let versioned = source
		.request::<String>(
			"state_call",
			&[
				json!("Metadata_metadata_at_version"),
				json!(argument),
				json!(at),
			],
			block,
		)
		.await;
	match versioned {
		Ok(answer) => {
			let bytes = from_hex(&answer).map_err(malformed)?;
			let metadata = Option::<Vec<u8>>::decode(&mut &bytes[..])
				.map_err(|e| malformed(format!("`Metadata_metadata_at_version` answer: {e}")))?;
			if let Some(metadata) = metadata {
				return Ok(metadata);
			}
		}
		// An old runtime without the versioned API: fall back below.
		Err(CaptureError::Rpc { .. }) => {}
		Err(e) => return Err(e),
	}
	let answer: String = source
		.request("state_getMetadata", &[json!(at)], block)
		.await?;
	from_hex(&answer).map_err(malformed)
}

/// Fetches block `number` (hash, body, runtime, events, weight) and decodes it.
async fn fetch_block(
	source: &Source,
	runtimes: &Runtimes,
	number: u64,
	best: u64,
) -> Result<(CapturedBlock, Arc<Runtime>), CaptureError> {
	let url = source.shown_url();
	let malformed = |reason: String| CaptureError::Malformed {
		url: url.to_string(),
		block: number,
		reason,
	};
	let hash = source
		.request::<Option<String>>("chain_getBlockHash", &[json!(number)], number)
		.await?
		.ok_or_else(|| CaptureError::BlockNotFound {
			url: url.to_string(),
			block: number,
			best,
		})?;
	let block = source
		.request::<Option<SignedBlock>>("chain_getBlock", &[json!(hash)], number)
		.await?
		.ok_or_else(|| malformed(format!("block `{hash}` vanished (reorganised away?)")))?
		.block;
	let header = block.header;
	// The block was executed by the runtime in its parent's state.
	let executed_by = if number == 0 {
		hash.clone()
	} else {
		header.parent_hash.clone()
	};
	let events_key = format!(
		"0x{}",
		hex::encode(encode_storage_key_prefix("System", "Events"))
	);
	let weight_key = format!(
		"0x{}",
		hex::encode(encode_storage_key_prefix("System", "BlockWeight"))
	);
	let version_params = [json!(executed_by)];
	let events_params = [json!(events_key), json!(hash)];
	let weight_params = [json!(weight_key), json!(hash)];
	let (version, events, weight) = tokio::join!(
		source.request::<RuntimeVersion>("state_getRuntimeVersion", &version_params, number),
		source.request::<Option<String>>("state_getStorage", &events_params, number),
		source.request::<Option<String>>("state_getStorage", &weight_params, number),
	);
	let (version, events, weight) = (
		pruned(version, url, number)?,
		pruned(events, url, number)?,
		pruned(weight, url, number)?,
	);
	let runtime = runtimes.get(source, version, &executed_by, number).await?;
	let extrinsics = block
		.extrinsics
		.iter()
		.map(|x| from_hex(x))
		.collect::<Result<Vec<_>, _>>()
		.map_err(&malformed)?;
	let raw = RawBlock {
		number,
		hash,
		parent_hash: header.parent_hash,
		state_root: header.state_root,
		extrinsics_root: header.extrinsics_root,
		digest: header.digest.logs,
		extrinsics,
		events: events
			.as_deref()
			.map(from_hex)
			.transpose()
			.map_err(&malformed)?,
		weight: weight
			.as_deref()
			.map(from_hex)
			.transpose()
			.map_err(&malformed)?,
	};
	let decoded = decode_block(raw, &runtime).map_err(&malformed)?;
	Ok((decoded, runtime))
}

/// Turns a node's "state discarded" answer into [`CaptureError::StatePruned`].
fn pruned<T>(result: Result<T, CaptureError>, url: &str, block: u64) -> Result<T, CaptureError> {
	match result {
		Err(CaptureError::Rpc { message, .. })
			if message.contains("discarded") || message.contains("pruned") =>
		{
			Err(CaptureError::StatePruned {
				url: url.to_string(),
				block,
				message,
			})
		}
		other => other,
	}
}

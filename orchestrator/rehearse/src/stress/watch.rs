//! Follows the node's best chain block by block while a load runs: which of the load's
//! transactions each block holds (by hash) with their dispatch outcome, and the block's
//! weight, length, limits, time, finality lag and the pool's ready count.

use stagenet_chain::client::Chain;
use stagenet_capture::BlockReader;
use stagenet_store::StressBlock;
use std::{
	collections::{BTreeMap, HashMap},
	sync::{
		atomic::{AtomicBool, AtomicU64, Ordering},
		Arc, Mutex, OnceLock, RwLock,
	},
	time::{Duration, Instant},
};

/// Where a transaction was first seen.
#[derive(Debug, Clone)]
pub(crate) struct Inclusion {
	/// Block number.
	#[allow(dead_code)]
	pub block: u64,
	/// When (ms since the load's start).
	pub seen_ms: f64,
	/// The dispatch error, if it failed.
	pub error: Option<String>,
}

/// Counts per reason.
type Counts = BTreeMap<String, u64>;

/// Shared between the watcher and the load.
#[derive(Default)]
pub(crate) struct Tracker {
	expected: RwLock<HashMap<[u8; 32], usize>>,
	included: Mutex<HashMap<usize, Inclusion>>,
	setup: Mutex<HashMap<[u8; 32], Option<Option<String>>>>,
	origin: OnceLock<Instant>,
	last_block: AtomicU64,
	base_extrinsic: AtomicU64,
	/// The proposer's end reasons when the load started, and at the last scrape.
	proposals: Mutex<(Option<Counts>, Option<Counts>)>,
}

impl Tracker {
	/// The load's transactions, by hash → send index.
	pub fn expect(&self, hashes: HashMap<[u8; 32], usize>) {
		if let Ok(mut e) = self.expected.write() {
			*e = hashes;
		}
	}

	/// Setup transactions to look for.
	pub fn expect_setup(&self, hashes: &[[u8; 32]]) {
		if let Ok(mut s) = self.setup.lock() {
			for h in hashes {
				s.entry(*h).or_insert(None);
			}
		}
	}

	/// How many of `hashes` are included, and the failures by error.
	pub fn setup_status(&self, hashes: &[[u8; 32]]) -> (usize, BTreeMap<String, u64>) {
		let mut included = 0;
		let mut failed = BTreeMap::new();
		if let Ok(s) = self.setup.lock() {
			for h in hashes {
				if let Some(Some(outcome)) = s.get(h) {
					included += 1;
					if let Some(e) = outcome {
						*failed.entry(e.clone()).or_default() += 1;
					}
				}
			}
		}
		(included, failed)
	}

	/// Sets the load's start.
	pub fn set_origin(&self, at: Instant) {
		let _ = self.origin.set(at);
		if let Ok(mut p) = self.proposals.lock() {
			p.0 = p.1.clone();
		}
	}

	/// Why the loaded node's proposer ended its proposals since the load started (counts per
	/// reason), when its metrics were read.
	pub fn proposal_ends(&self) -> BTreeMap<String, u64> {
		let Ok(p) = self.proposals.lock() else {
			return BTreeMap::new();
		};
		let (Some(start), Some(last)) = (&p.0, &p.1) else {
			return BTreeMap::new();
		};
		last.iter()
			.map(|(k, v)| {
				(
					k.clone(),
					v.saturating_sub(start.get(k).copied().unwrap_or(0)),
				)
			})
			.filter(|(_, v)| *v > 0)
			.collect()
	}

	/// Where send `i` was included.
	pub fn included(&self, i: usize) -> Option<Inclusion> {
		self.included.lock().ok()?.get(&i).cloned()
	}

	/// The last block processed.
	pub fn last_block(&self) -> u64 {
		self.last_block.load(Ordering::Relaxed)
	}

	/// `base_extrinsic` ref time of the runtime last seen.
	pub fn base_extrinsic(&self) -> u64 {
		self.base_extrinsic.load(Ordering::Relaxed)
	}

	fn record(&self, block: &stagenet_capture::LiveBlock, seen: Instant) -> u64 {
		let seen_ms = self
			.origin
			.get()
			.map(|o| seen.saturating_duration_since(*o).as_secs_f64() * 1000.0)
			.unwrap_or(0.0);
		let mut ours = 0;
		let expected = self.expected.read().ok();
		let mut included = self.included.lock().ok();
		let mut setup = self.setup.lock().ok();
		for x in &block.extrinsics {
			let Some(hash) = parse_hash(&x.hash) else {
				continue;
			};
			let error = (x.success == Some(false))
				.then(|| x.error.clone().unwrap_or_else(|| "failed".into()));
			if let Some(i) = expected.as_ref().and_then(|e| e.get(&hash)) {
				ours += 1;
				if let Some(inc) = included.as_mut() {
					inc.entry(*i).or_insert(Inclusion {
						block: block.number,
						seen_ms,
						error: error.clone(),
					});
				}
			}
			if let Some(slot) = setup.as_mut().and_then(|s| s.get_mut(&hash)) {
				if slot.is_none() {
					*slot = Some(error);
				}
			}
		}
		ours
	}
}

fn parse_hash(text: &str) -> Option<[u8; 32]> {
	let bytes = hex::decode(text.trim_start_matches("0x")).ok()?;
	<[u8; 32]>::try_from(bytes.as_slice()).ok()
}

/// The running follower.
pub(crate) struct Watcher {
	stop: Arc<AtomicBool>,
	tracker: Arc<Tracker>,
	task: tokio::task::JoinHandle<Vec<StressBlock>>,
}

impl Watcher {
	/// Starts following from block `from`.
	pub fn start(
		reader: BlockReader,
		chain: Chain,
		prometheus: Option<String>,
		tracker: Arc<Tracker>,
		from: u64,
	) -> Watcher {
		let stop = Arc::new(AtomicBool::new(false));
		let task = tokio::spawn(follow(
			reader,
			chain,
			prometheus,
			tracker.clone(),
			from,
			stop.clone(),
		));
		Watcher {
			stop,
			tracker,
			task,
		}
	}

	/// Waits (at most `timeout`) until block `n` is processed.
	pub async fn wait_for(&self, n: u64, timeout: Duration) {
		let deadline = Instant::now() + timeout;
		while self.tracker.last_block() < n && Instant::now() < deadline {
			tokio::time::sleep(Duration::from_millis(100)).await;
		}
		if self.tracker.last_block() < n {
			tracing::warn!(
				target: "stagenet::stress",
				"block #{n} not processed within {timeout:?}; last processed #{}",
				self.tracker.last_block()
			);
		}
	}

	/// Stops following; the blocks seen.
	pub async fn stop(self) -> Vec<StressBlock> {
		self.stop.store(true, Ordering::Relaxed);
		self.task.await.unwrap_or_default()
	}
}

async fn follow(
	reader: BlockReader,
	chain: Chain,
	prometheus: Option<String>,
	tracker: Arc<Tracker>,
	from: u64,
	stop: Arc<AtomicBool>,
) -> Vec<StressBlock> {
	let mut blocks: Vec<StressBlock> = Vec::new();
	let mut next = from;
	let mut last_timestamp: Option<(u64, i64)> = None;
	while !stop.load(Ordering::Relaxed) {
		let best = chain.best_number().await.ok();
		let finalized = chain.finalized_number().await.ok();
		let metrics = match &prometheus {
			Some(url) => crate::prometheus::scrape(url, Duration::from_secs(2))
				.await
				.ok(),
			None => None,
		};
		let pool_ready = metrics.as_ref().and_then(|m| m.pool_ready);
		if let Some(m) = metrics {
			if let Ok(mut p) = tracker.proposals.lock() {
				p.1 = Some(m.end_proposal);
			}
		}
		if let Some(best) = best {
			while next <= best && !stop.load(Ordering::Relaxed) {
				let block = match reader.block(next).await {
					Ok(b) => b,
					Err(e) => {
						tracing::warn!(target: "stagenet::stress", "block #{next}: {e}");
						break;
					}
				};
				let seen = Instant::now();
				let ours = tracker.record(&block, seen);
				tracker
					.base_extrinsic
					.store(block.limits.base_extrinsic, Ordering::Relaxed);
				let timestamp = block.timestamp.map(|t| t as i64);
				let block_time_ms = match (last_timestamp, timestamp) {
					(Some((n, prev)), Some(t)) if n + 1 == block.number => Some(t - prev),
					_ => None,
				};
				if let Some(t) = timestamp {
					last_timestamp = Some((block.number, t));
				}
				blocks.push(StressBlock {
					number: block.number,
					timestamp,
					block_time_ms,
					extrinsics: block.extrinsics.len() as u64,
					ours,
					normal_weight: block.weight[0],
					normal_limit: block.limits.max_total[0],
					length: block.length,
					length_limit: block.limits.max_length[0],
					finality_lag: finalized.map(|f| best.saturating_sub(f)),
					pool_ready,
				});
				tracker.last_block.store(block.number, Ordering::Relaxed);
				next += 1;
			}
		}
		tokio::time::sleep(Duration::from_millis(100)).await;
	}
	blocks
}

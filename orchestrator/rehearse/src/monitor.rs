//! The monitor: for the whole run, on every node, the block ledger (weight per class against
//! the limits, length, extrinsics and their outcomes, events, authoring and import times,
//! heights of every node) and the findings (panics and traps in any log, failed inherents,
//! Aura slot errors, import failures, production and finality stalls, crashes and restarts).
//!
//! One task polls every `poll`: it scrapes each node's Prometheus metrics (heights, authoring
//! and import histograms), reads what each log gained, and records every new block of the
//! best chain as the ledger node (an RPC node, else the first) serves it. Everything goes to
//! the store as it is seen, and is kept in memory for the gates.

use crate::{logscan::LogFollower, prometheus, prometheus::Histogram};
use stagenet_capture::{BlockReader, LiveBlock};
use crate::events::{EventBus, RunEvent};
use stagenet_store::{
	BlockLimits, BlockRecord, EventRecord, ExtrinsicRecord, Finding, FindingKind, NodeHeight,
	PerClass, Store,
};
use std::{
	collections::BTreeMap,
	path::PathBuf,
	sync::{Arc, Mutex, MutexGuard},
	time::{Duration, Instant},
};
use tokio::{sync::watch, task::JoinHandle};

/// How long one scrape may take.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(2);
/// Timeout of one ledger request.
const LEDGER_TIMEOUT: Duration = Duration::from_secs(10);
/// Blocks the ledger reads per poll at most (it catches up over the next polls).
const LEDGER_BATCH: u64 = 50;

/// A node as the monitor sees it.
#[derive(Debug, Clone)]
pub struct WatchedNode {
	/// Name.
	pub name: String,
	/// RPC URL.
	pub rpc_url: String,
	/// Prometheus URL.
	pub prometheus_url: Option<String>,
	/// Log file.
	pub log: PathBuf,
}

/// How the monitor runs.
#[derive(Debug, Clone)]
pub struct MonitorOptions {
	/// The run's id in the store.
	pub run_id: String,
	/// Node names of the authorities, in the order of `Aura::Authorities` (slot % n).
	pub authorities: Vec<String>,
	/// The node whose RPC serves the ledger.
	pub ledger_node: String,
	/// The Aura slot duration.
	pub slot: Duration,
	/// Finality lag (blocks) above which a finality stall is recorded.
	pub finality_lag_limit: u64,
	/// Time between two polls.
	pub poll: Duration,
	/// The first block to record (blocks before it are skipped).
	pub from_block: u64,
	/// Where each ledger block and finding is published once stored (`None`: nowhere).
	pub events: Option<EventBus>,
}

/// What the monitor saw so far.
#[derive(Debug, Clone, Default)]
pub struct Observed {
	/// The ledger, by number.
	pub blocks: Vec<BlockRecord>,
	/// Findings, in order.
	pub findings: Vec<Finding>,
	/// Last heights of every node.
	pub heights: BTreeMap<String, NodeHeight>,
	/// The last error of the ledger or the store, if the last poll had one.
	pub last_error: Option<String>,
}

impl Observed {
	/// The highest best block any node reports.
	pub fn best(&self) -> u64 {
		self.heights
			.values()
			.filter_map(|h| h.best)
			.max()
			.unwrap_or(0)
	}

	/// The highest finalized block any node reports.
	pub fn finalized(&self) -> u64 {
		self.heights
			.values()
			.filter_map(|h| h.finalized)
			.max()
			.unwrap_or(0)
	}
}

/// A running monitor.
pub struct Monitor {
	shared: Arc<Mutex<Observed>>,
	store: Arc<Store>,
	run_id: String,
	events: Option<EventBus>,
	stop: watch::Sender<bool>,
	task: JoinHandle<()>,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
	std::time::SystemTime::now()
		.duration_since(std::time::UNIX_EPOCH)
		.map(|d| d.as_millis() as i64)
		.unwrap_or_default()
}

fn lock(shared: &Mutex<Observed>) -> MutexGuard<'_, Observed> {
	// A panic while holding the lock leaves plain data behind: keep using it.
	shared.lock().unwrap_or_else(|e| e.into_inner())
}

impl Monitor {
	/// Starts watching `nodes`, writing into `store`.
	pub fn start(store: Arc<Store>, nodes: Vec<WatchedNode>, opts: MonitorOptions) -> Monitor {
		let shared = Arc::new(Mutex::new(Observed::default()));
		let (stop, stopped) = watch::channel(false);
		let task = tokio::spawn(run(
			store.clone(),
			nodes,
			opts.clone(),
			shared.clone(),
			stopped,
		));
		Monitor {
			shared,
			store,
			events: opts.events,
			run_id: opts.run_id,
			stop,
			task,
		}
	}

	/// A copy of what was seen so far.
	pub fn observed(&self) -> Observed {
		lock(&self.shared).clone()
	}

	/// Records a finding seen outside the monitor (a crash, a restart).
	pub async fn record(
		&self,
		kind: FindingKind,
		node: Option<String>,
		block: Option<u64>,
		message: String,
		context: Vec<String>,
	) {
		record(
			&self.store,
			&self.run_id,
			&self.shared,
			self.events.as_ref(),
			kind,
			node,
			block,
			message,
			context,
		)
		.await;
	}

	/// Waits until a block at or above `number` is in the ledger, up to `timeout`.
	pub(crate) async fn wait_for_block(&self, number: u64, timeout: Duration) -> Result<(), String> {
		let deadline = Instant::now() + timeout;
		loop {
			let (recorded, observed) = {
				let o = lock(&self.shared);
				(
					o.blocks.last().map(|b| b.number).unwrap_or(0),
					format!(
						"best #{}, finalized #{}{}",
						o.best(),
						o.finalized(),
						o.last_error
							.as_ref()
							.map(|e| format!("; last error: {e}"))
							.unwrap_or_default()
					),
				)
			};
			if recorded >= number {
				return Ok(());
			}
			if Instant::now() >= deadline {
				return Err(format!(
					"block #{number} not in the ledger after {timeout:?} (last recorded #{recorded}; {observed})"
				));
			}
			tokio::time::sleep(Duration::from_millis(200)).await;
		}
	}

	/// Stops the monitor after a last poll (so that the last log lines are read).
	pub async fn stop(self) -> Observed {
		let _ = self.stop.send(true);
		if let Err(e) = self.task.await {
			tracing::warn!(target: "stagenet::monitor", error = %e, "the monitor task ended abnormally");
		}
		lock(&self.shared).clone()
	}
}

#[allow(clippy::too_many_arguments)]
async fn record(
	store: &Store,
	run_id: &str,
	shared: &Mutex<Observed>,
	events: Option<&EventBus>,
	kind: FindingKind,
	node: Option<String>,
	block: Option<u64>,
	message: String,
	context: Vec<String>,
) {
	let finding = {
		let mut o = lock(shared);
		let finding = Finding {
			seq: o.findings.len() as u32,
			kind,
			node,
			block,
			at: now_ms(),
			message,
			context,
		};
		o.findings.push(finding.clone());
		finding
	};
	tracing::warn!(
		target: "stagenet::monitor",
		kind = finding.kind.as_str(),
		node = finding.node.as_deref().unwrap_or("-"),
		block = finding.block,
		"finding: {}",
		finding.message
	);
	if let Err(e) = store.add_finding(run_id, &finding).await {
		lock(shared).last_error = Some(format!("store: {e}"));
	}
	if let Some(events) = events {
		events.publish(RunEvent::Finding {
			finding: Box::new(finding),
		});
	}
}

/// Per node state between polls.
struct NodeState {
	node: WatchedNode,
	log: LogFollower,
	metrics: Option<prometheus::NodeMetrics>,
	/// Authoring histogram when this node's last block was recorded.
	authoring_seen: Histogram,
	/// Import histogram when the last block was recorded.
	import_seen: Histogram,
}

async fn run(
	store: Arc<Store>,
	nodes: Vec<WatchedNode>,
	opts: MonitorOptions,
	shared: Arc<Mutex<Observed>>,
	mut stopped: watch::Receiver<bool>,
) {
	let mut states: Vec<NodeState> = nodes
		.into_iter()
		.map(|node| NodeState {
			log: LogFollower::new(&node.log),
			node,
			metrics: None,
			authoring_seen: Histogram::default(),
			import_seen: Histogram::default(),
		})
		.collect();
	// The ledger node first, then the others: when it stops answering (killed by a fault
	// step, crashed), the ledger goes on from the next node.
	let mut ledger_nodes: Vec<(String, String)> = states
		.iter()
		.map(|s| (s.node.name.clone(), s.node.rpc_url.clone()))
		.collect();
	ledger_nodes.sort_by_key(|(name, _)| *name != opts.ledger_node);
	let mut ledger_at = 0usize;
	let mut reader: Option<BlockReader> = None;
	let mut next_block = opts.from_block.max(1);
	let mut last_best = (0u64, Instant::now());
	let mut producing_stalled = false;
	let mut finality_stalled = false;
	loop {
		let last = *stopped.borrow();
		// 1. Metrics of every node.
		let scrapes = futures_util::future::join_all(states.iter().map(|s| {
			let url = s.node.prometheus_url.clone();
			async move {
				match url {
					Some(u) => prometheus::scrape(&u, SCRAPE_TIMEOUT).await.ok(),
					None => None,
				}
			}
		}))
		.await;
		for (s, m) in states.iter_mut().zip(scrapes) {
			if s.metrics.is_none() {
				if let Some(m) = &m {
					s.authoring_seen = m.authoring;
					s.import_seen = m.import;
				}
			}
			let height = NodeHeight {
				node: s.node.name.clone(),
				best: m.as_ref().and_then(|m| m.best),
				finalized: m.as_ref().and_then(|m| m.finalized),
			};
			lock(&shared).heights.insert(s.node.name.clone(), height);
			if m.is_some() {
				s.metrics = m;
			}
		}
		// 2. Logs.
		for i in 0..states.len() {
			let matches = states[i].log.poll(last);
			let name = states[i].node.name.clone();
			let best = lock(&shared)
				.heights
				.get(&name)
				.and_then(|h| h.best)
				.unwrap_or(0);
			for m in matches {
				let block = m.block.or(Some(match m.kind {
					FindingKind::AuraSlot => best,
					_ => best + 1,
				}));
				record(
					&store,
					&opts.run_id,
					&shared,
					opts.events.as_ref(),
					m.kind,
					Some(name.clone()),
					block,
					m.line.trim().to_string(),
					m.context,
				)
				.await;
			}
		}
		// 3. Ledger.
		let (ledger_name, ledger_url) = ledger_nodes
			.get(ledger_at % ledger_nodes.len().max(1))
			.cloned()
			.unwrap_or_default();
		let ledger_best = {
			let o = lock(&shared);
			o.heights
				.get(&ledger_name)
				.and_then(|h| h.best)
				.unwrap_or_else(|| o.best())
		};
		if reader.is_none() && !ledger_url.is_empty() {
			match BlockReader::connect(&ledger_url, LEDGER_TIMEOUT, 1).await {
				Ok(r) => reader = Some(r),
				Err(e) => {
					lock(&shared).last_error = Some(format!("ledger from {ledger_name}: {e}"));
					ledger_at += 1;
				}
			}
		}
		if let Some(r) = &reader {
			let until = ledger_best.min(next_block + LEDGER_BATCH - 1);
			while next_block <= until {
				match r.block(next_block).await {
					Ok(block) => {
						let (record, extrinsics, events) =
							ledger_entry(block, &mut states, &opts, &shared);
						if let Err(e) = store
							.add_block(&opts.run_id, &record, &extrinsics, &events)
							.await
						{
							lock(&shared).last_error = Some(format!("store: {e}"));
						}
						if let Some(events) = &opts.events {
							events.publish(RunEvent::Block {
								block: Box::new(record.clone()),
							});
						}
						lock(&shared).blocks.push(record);
						next_block += 1;
					}
					Err(e) => {
						lock(&shared).last_error = Some(format!("ledger from {ledger_name}: {e}"));
						reader = None;
						ledger_at += 1;
						break;
					}
				}
			}
		}
		// 4. Stalls.
		let (best, min_finalized, heights) = {
			let o = lock(&shared);
			let min_f = o.heights.values().filter_map(|h| h.finalized).min();
			let heights: Vec<String> = o
				.heights
				.values()
				.map(|h| {
					format!(
						"{}: best {}, finalized {}",
						h.node,
						h.best
							.map(|b| format!("#{b}"))
							.unwrap_or_else(|| "?".into()),
						h.finalized
							.map(|b| format!("#{b}"))
							.unwrap_or_else(|| "?".into())
					)
				})
				.collect();
			(o.best(), min_f, heights)
		};
		if best > last_best.0 {
			last_best = (best, Instant::now());
			producing_stalled = false;
		} else if best > 0 && !producing_stalled && last_best.1.elapsed() > opts.slot * 5 / 2 {
			// Two whole slots without a block: a single missed slot leaves a gap of two slots,
			// which is not a stall (half a slot of margin for the polling).
			producing_stalled = true;
			record(
				&store,
				&opts.run_id,
				&shared,
				opts.events.as_ref(),
				FindingKind::ProductionStall,
				None,
				Some(best + 1),
				format!(
					"no new best block for {:.1} s (more than 2 slots of {:.1} s); best is #{best}",
					last_best.1.elapsed().as_secs_f64(),
					opts.slot.as_secs_f64()
				),
				heights.clone(),
			)
			.await;
		}
		if let Some(f) = min_finalized {
			let lag = best.saturating_sub(f);
			if lag > opts.finality_lag_limit && !finality_stalled {
				finality_stalled = true;
				record(
					&store,
					&opts.run_id,
					&shared,
					opts.events.as_ref(),
					FindingKind::FinalityStall,
					None,
					Some(f + 1),
					format!(
						"finality lags {lag} blocks behind the best block #{best} (limit {}); finalized #{f} on the slowest node",
						opts.finality_lag_limit
					),
					heights,
				)
				.await;
			} else if lag <= opts.finality_lag_limit {
				finality_stalled = false;
			}
		}
		if last {
			return;
		}
		tokio::select! {
			_ = tokio::time::sleep(opts.poll) => {}
			_ = stopped.changed() => {}
		}
	}
}

/// Turns a decoded block into its ledger rows.
fn ledger_entry(
	block: LiveBlock,
	states: &mut [NodeState],
	opts: &MonitorOptions,
	shared: &Mutex<Observed>,
) -> (BlockRecord, Vec<ExtrinsicRecord>, Vec<EventRecord>) {
	let author = match (block.aura_slot, opts.authorities.len()) {
		(Some(slot), n) if n > 0 => opts.authorities.get((slot % n as u64) as usize).cloned(),
		_ => None,
	};
	let mut authoring_ms = None;
	let mut import_times = Vec::new();
	for s in states.iter_mut() {
		let Some(m) = &s.metrics else { continue };
		if Some(&s.node.name) == author.as_ref() {
			authoring_ms = m.authoring.mean_ms_since(&s.authoring_seen);
			s.authoring_seen = m.authoring;
		} else if let Some(ms) = m.import.mean_ms_since(&s.import_seen) {
			import_times.push(ms);
			s.import_seen = m.import;
		}
	}
	let import_ms = (!import_times.is_empty())
		.then(|| import_times.iter().sum::<f64>() / import_times.len() as f64);
	let heights: Vec<NodeHeight> = lock(shared).heights.values().cloned().collect();
	let failed = block
		.extrinsics
		.iter()
		.filter(|x| x.success == Some(false))
		.count() as u32;
	let record = BlockRecord {
		number: block.number,
		hash: block.hash,
		parent_hash: block.parent_hash,
		author,
		spec_version: block.spec_version,
		timestamp: block.timestamp.map(|t| t as i64),
		seen_at: now_ms(),
		weight: PerClass {
			normal: block.weight[0],
			operational: block.weight[1],
			mandatory: block.weight[2],
		},
		limits: BlockLimits {
			max_block: block.limits.max_block,
			max_total: PerClass {
				normal: block.limits.max_total[0],
				operational: block.limits.max_total[1],
				mandatory: block.limits.max_total[2],
			},
			max_length: PerClass {
				normal: block.limits.max_length[0],
				operational: block.limits.max_length[1],
				mandatory: block.limits.max_length[2],
			},
		},
		length: block.length,
		extrinsics: block.extrinsics.len() as u32,
		failed_extrinsics: failed,
		events: block.events.len() as u32,
		authoring_ms,
		import_ms,
		heights,
	};
	let extrinsics = block
		.extrinsics
		.iter()
		.map(|x| ExtrinsicRecord {
			block: block.number,
			index: x.index,
			call: x.call.clone(),
			signer: x.signer.clone(),
			success: x.success,
			error: x.error.clone(),
			weight: x.weight,
			class: x.class.clone(),
		})
		.collect();
	let events = block
		.events
		.iter()
		.map(|e| EventRecord {
			block: block.number,
			index: e.index,
			phase: match e.phase {
				"apply_extrinsic" => "extrinsic".to_string(),
				other => other.to_string(),
			},
			extrinsic: e.extrinsic,
			pallet: e.pallet.clone(),
			variant: e.variant.clone(),
			fields: serde_json::from_str(&e.fields).unwrap_or(serde_json::Value::Null),
		})
		.collect();
	(record, extrinsics, events)
}
